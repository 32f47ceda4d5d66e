"""One writer per collection, and the live progress display."""

from __future__ import annotations

import io
import os
import subprocess
import sys
from pathlib import Path

import pytest
from rich.console import Console

from archiver.models import Status
from archiver.progress import LiveProgress
from archiver.store.lock import CollectionLock
from tests.conftest import run_cli

pytestmark = pytest.mark.slow  # end-to-end: leave out with -m 'not slow'


def test_second_writer_is_refused_naming_the_holder(tmp_path: Path) -> None:
    (tmp_path / "d.md").write_text("![x](http://127.0.0.1:9/a.jpg)\n", encoding="utf-8")
    with CollectionLock(tmp_path / "manifests/c", "c"):
        ran = run_cli("archive", "d.md", "-c", "c", cwd=tmp_path)
    assert ran.code == 1
    assert f"process {os.getpid()}" in ran.err
    assert "Traceback" not in ran.err
    assert not (tmp_path / "manifests/c/links.jsonl").exists()


def test_lock_left_by_a_dead_process_is_taken_over(tmp_path: Path) -> None:
    lock_dir = tmp_path / "manifests/c"
    lock_dir.mkdir(parents=True)
    (lock_dir / ".lock").write_text("999999999\n")
    (tmp_path / "d.md").write_text("![x](http://127.0.0.1:9/a.jpg)\n", encoding="utf-8")
    ran = run_cli("archive", "d.md", "-c", "c", "--retries", "0", cwd=tmp_path)
    assert ran.code == 0, ran.err
    assert (lock_dir / "links.jsonl").exists()


HOLDER = """
import fcntl, os, sys, time
fd = os.open(sys.argv[1], os.O_RDWR | os.O_CREAT)
fcntl.flock(fd, fcntl.LOCK_EX)
os.write(fd, b"999999999\\n")
print("held", flush=True)
time.sleep(1.0)
open(sys.argv[2], "w").close()
"""


def test_a_killed_runs_workers_are_waited_for_not_refused(tmp_path: Path) -> None:
    """The main process of the run that holds the lock is dead, but a worker it forked still
    holds the lock while it closes its files: the new run waits for it, then runs."""
    lock_dir = tmp_path / "manifests/c"
    lock_dir.mkdir(parents=True)
    gone = tmp_path / "worker-gone"
    holder = subprocess.Popen(
        [sys.executable, "-c", HOLDER, str(lock_dir / ".lock"), str(gone)],
        stdout=subprocess.PIPE,
        text=True,
    )
    assert holder.stdout is not None and holder.stdout.readline() == "held\n"
    (tmp_path / "d.md").write_text("![x](http://127.0.0.1:9/a.jpg)\n", encoding="utf-8")
    ran = run_cli("archive", "d.md", "-c", "c", "--retries", "0", cwd=tmp_path)
    holder.communicate()
    assert ran.code == 0, ran.err
    links = lock_dir / "links.jsonl"
    assert gone.exists() and links.exists()
    assert links.stat().st_mtime_ns >= gone.stat().st_mtime_ns, "it wrote only after the wait"


def test_live_progress_shows_counts_bytes_and_total() -> None:
    screen = io.StringIO()
    console = Console(file=screen, force_terminal=True, width=160)
    progress = LiveProgress(console)
    progress.start(documents=5, total=3)
    progress.advance(Status.ARCHIVED, 2_500_000)
    progress.advance(Status.DEAD, 0)
    progress._progress.refresh()
    text = screen.getvalue()
    progress.finish()
    assert "5 documents" in text
    assert "2/3" in text
    assert "archived 1" in text and "dead 1" in text and "failed 0" in text
    assert "2.5 MB" in text
