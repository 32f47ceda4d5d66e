"""Runs split over worker processes: every link still lands once, hosts stay whole, duplicate
payloads across workers still become revisits, and a killed run resumes."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Iterator
from contextlib import ExitStack
from pathlib import Path

import pytest
from warcio.archiveiterator import ArchiveIterator

from archiver.config import Settings
from archiver.models import Target
from archiver.run.archive import archive
from archiver.run.workers import partition
from archiver.verify.fixity import verify
from tests.origin import Origin, body, drip, random_bytes, running_origin
from tests.replay import clean_env

pytestmark = pytest.mark.slow  # end-to-end: leave out with -m 'not slow'

SHARED = random_bytes(30_000, 99)
PER_HOST = 60


@pytest.fixture
def sites() -> Iterator[list[Origin]]:
    with ExitStack() as stack:
        origins = [stack.enter_context(running_origin(f"127.0.0.{n}")) for n in range(1, 5)]
        for number, origin in enumerate(origins):
            for n in range(PER_HOST):
                origin.routes[f"/{n}.jpg"] = body(random_bytes(4_000 + n, number * 1000 + n))
            origin.routes["/shared.jpg"] = body(SHARED, "image/jpeg")
        yield origins


def write_doc(tmp_path: Path, origins: list[Origin]) -> Path:
    doc = tmp_path / "doc.md"
    lines = [f"![x]({o.url(f'/{n}.jpg')})" for o in origins for n in range(PER_HOST)]
    lines += [f"![x]({o.url('/shared.jpg')})" for o in origins]
    doc.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return doc


def lines(root: Path) -> list[dict[str, object]]:
    text = (root / "manifests/w/links.jsonl").read_text()
    return [json.loads(line) for line in text.splitlines()]


def test_partition_keeps_hosts_whole_and_balances() -> None:
    targets = [
        Target(f"http://h{h}.test/{n}", frozenset(), ("d",))
        for h in range(5)
        for n in range(10 * (h + 1))
    ]
    groups = partition(targets, 2)
    hosts = [{t.host for t in group} for group in groups]
    assert not hosts[0] & hosts[1]
    assert sorted(len(group) for group in groups) == [70, 80]


def test_two_workers_archive_everything_once(tmp_path: Path, sites: list[Origin]) -> None:
    doc = write_doc(tmp_path, sites)
    settings = Settings(out=tmp_path, collection="w", allow_private=True, workers=2, per_host=2)
    summary = archive([str(doc)], settings)
    assert summary.counts == {"archived": 4 * PER_HOST + 4}
    rows = lines(tmp_path)
    assert len(rows) == len({row["url"] for row in rows}) == 4 * PER_HOST + 4
    assert len({row["warc_file"] for row in rows}) == 2, "one WARC file per worker"
    shared = [row for row in rows if str(row["url"]).endswith("/shared.jpg")]
    originals = [row for row in shared if row["revisit_of"] is None]
    assert len(originals) == 1, "the same payload is stored once across workers"
    assert {row["revisit_of"] for row in shared} - {None} == {originals[0]["record_id"]}
    for origin in sites:
        assert origin.max_in_flight <= 2
        assert Counter(path for path, _ in origin.requests)["/robots.txt"] == 1
    assert verify(Settings(out=tmp_path, collection="w")).ok


def test_killed_parent_stops_its_workers_and_the_run_resumes(
    tmp_path: Path, sites: list[Origin]
) -> None:
    for origin in sites:
        for n in range(PER_HOST):
            origin.routes[f"/{n}.jpg"] = drip(200, 0.0005)
    write_doc(tmp_path, sites)
    command = [
        sys.executable,
        "-m",
        "archiver",
        "archive",
        "doc.md",
        "-c",
        "w",
        "--allow-private",
        "--workers",
        "2",
        "-q",
    ]
    env = clean_env() | {"PYTHONPATH": str(Path(__file__).resolve().parents[1])}
    said = tmp_path / "stderr.txt"
    with said.open("wb") as stderr:
        process = subprocess.Popen(
            command, cwd=tmp_path, env=env, start_new_session=True, stderr=stderr
        )
    _wait_for_lines(tmp_path, 40)
    os.kill(process.pid, signal.SIGKILL)
    process.wait()
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline and _group_alive(process.pid):
        time.sleep(0.1)
    assert not _group_alive(process.pid), "workers stop when their parent dies"
    assert b"Traceback" not in said.read_bytes(), "orphaned workers stop without a word"
    ran = subprocess.run(
        [*command[:-1], "--json"],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    assert ran.returncode == 0, ran.stderr
    current = {row["url"]: row for row in lines(tmp_path)}
    assert {row["status"] for row in current.values()} == {"archived"}
    assert len(current) == 4 * PER_HOST + 4
    assert verify(Settings(out=tmp_path, collection="w")).ok
    for warc in (tmp_path / "warcs/w").glob("*.warc.gz"):
        with warc.open("rb") as handle:
            for record in ArchiveIterator(handle, check_digests=True):
                record.content_stream().read()
                assert record.digest_checker.passed is not False


def _wait_for_lines(root: Path, count: int) -> None:
    deadline = time.monotonic() + 60
    path = root / "manifests/w/links.jsonl"
    while time.monotonic() < deadline:
        if path.exists() and path.read_text().count("\n") >= count:
            return
        time.sleep(0.01)


def test_ctrl_c_stops_the_workers_in_one_line_and_keeps_what_was_written(
    tmp_path: Path, sites: list[Origin]
) -> None:
    """Ctrl-C reaches every process of the terminal's group: the workers printed about 30
    lines of tracebacks before `archiver: interrupted`. One line, exit 130, and the next run
    finishes the collection."""
    for origin in sites:
        for n in range(PER_HOST):
            origin.routes[f"/{n}.jpg"] = drip(200, 0.0005)
    write_doc(tmp_path, sites)
    command = [sys.executable, "-m", "archiver", "archive", "doc.md", "-c", "w"]
    command += ["--allow-private", "--workers", "2"]
    env = clean_env() | {"PYTHONPATH": str(Path(__file__).resolve().parents[1])}
    process = subprocess.Popen(
        command,
        cwd=tmp_path,
        env=env,
        start_new_session=True,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    _wait_for_lines(tmp_path, 40)
    os.killpg(process.pid, signal.SIGINT)  # as a terminal sends it: to the whole group
    _, stderr = process.communicate(timeout=60)
    said = [line for line in stderr.decode().splitlines() if line.strip()]
    assert process.returncode == 130, said
    assert len(said) == 1 and said[0].startswith("archiver: interrupted"), said
    assert not _group_alive(process.pid), "no worker outlives the run"
    ran = subprocess.run(command, cwd=tmp_path, env=env, capture_output=True, check=False)
    assert ran.returncode == 0, ran.stderr
    assert {row["status"] for row in lines(tmp_path)} == {"archived"}
    assert verify(Settings(out=tmp_path, collection="w")).ok


def _group_alive(pgid: int) -> bool:
    try:
        os.killpg(pgid, 0)
    except ProcessLookupError:
        return False
    return True
