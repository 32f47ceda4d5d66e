"""What a distributed run must never do to data or to where it connects: a plain `archive`
repairs no `.open` file a live worker still writes (shared filesystem), a WARC writer whose
write failed writes nothing after the torn record, and a message can only narrow where a
worker may connect and what it trusts."""

from __future__ import annotations

import errno
import hashlib
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from archiver.config import Settings
from archiver.distributed.parts import create_part
from archiver.distributed.wire import Job, run_settings
from archiver.errors import StorageError
from archiver.exchange import BodySpool, Exchange
from archiver.models import Role, Target
from archiver.store.writer import WarcWriter
from tests.conftest import run_cli


def exchange(url: str) -> Exchange:
    spool = BodySpool()
    spool.write(hashlib.sha256(url.encode()).digest() * 50)
    request = b"GET / HTTP/1.1\r\nHost: a.test\r\n\r\n"
    headers = [(b"Content-Type", b"image/jpeg")]
    return Exchange(url, datetime.now(UTC), request, "HTTP/1.1", 200, "OK", headers, spool)


def write(warcs: WarcWriter, url: str) -> None:
    made = exchange(url)
    try:
        warcs.write_exchange(made)
    finally:
        made.close()


def writer(folder: Path, tag: str = "") -> WarcWriter:
    return WarcWriter(
        folder / "warcs" / "news",
        folder,
        "news",
        max_size=1 << 30,
        level=6,
        info={},
        on_close=lambda closed: None,
        tag=tag,
    )


def test_a_writer_whose_write_failed_writes_nothing_more(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Old code went on appending records after a torn one; repair keeps only what comes
    before the damage, so those captures (their manifest lines written) were lost."""
    warcs = writer(tmp_path)
    write(warcs, "https://a.test/1")
    handle: Any = warcs._file

    def full(data: bytes) -> int:
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(handle, "write", full)
    with pytest.raises(StorageError):
        write(warcs, "https://a.test/2")
    monkeypatch.undo()  # space again: still nothing may follow the torn record
    with pytest.raises(StorageError, match="earlier write"):
        write(warcs, "https://a.test/3")
    warcs.close()  # left `.open`, for repair to cut after the first record
    assert [p.suffix for p in (tmp_path / "warcs" / "news").iterdir()] == [".open"]


def test_archive_leaves_a_live_workers_open_file_alone(tmp_path: Path) -> None:
    """Old code's resume cut, renamed and listed every `.open` file of the collection's WARC
    folder: on a shared filesystem, a running worker's file too."""
    part, lock = create_part(tmp_path, "news", "r1", "123x00aa")
    holder = subprocess.Popen(  # the worker: another live process holds the part's lock
        [
            sys.executable,
            "-c",
            "import fcntl,sys,time; f=open(sys.argv[1]); "
            "fcntl.flock(f, fcntl.LOCK_EX); print('held', flush=True); time.sleep(60)",
            str(part.path / ".lock"),
        ],
        stdout=subprocess.PIPE,
    )
    lock.release()
    try:
        assert holder.stdout is not None and holder.stdout.readline() == b"held\n"
        live = writer(tmp_path, tag="123x00aa")
        write(live, "https://a.test/1")
        live.close()
        (closed,) = (tmp_path / "warcs" / "news").glob("*.warc.gz")
        open_file = closed.rename(closed.with_name(closed.name + ".open"))  # still written
        assert open_file.name.endswith(f"-{part.name}.warc.gz.open")
        size = open_file.stat().st_size
        (tmp_path / "a.md").write_text("no links here\n", encoding="utf-8")
        ran = run_cli("archive", str(tmp_path / "a.md"), "-c", "news", "--out", str(tmp_path))
        assert ran.code == 0, ran.err
        assert open_file.exists() and open_file.stat().st_size == size
        listed = tmp_path / "manifests/news/warcs.sha256"
        assert not listed.exists() or "warcs/news" not in listed.read_text()
    finally:
        holder.kill()
        holder.wait()
        if holder.stdout is not None:
            holder.stdout.close()
    ran = run_cli("archive", str(tmp_path / "a.md"), "-c", "news", "--out", str(tmp_path))
    assert ran.code == 0 and not open_file.exists()  # its worker gone: repaired now


def job(**run: Any) -> Job:
    target = Target("https://a.example/1.jpg", frozenset({Role.IMAGE}), ("a.md",))
    return Job("r1", 0, "news", run_settings(Settings(**run)), (target,))


@pytest.mark.parametrize(
    ("run", "worker", "private", "networks", "tls"),
    [
        ({"allow_private": True}, {}, False, (), "strict"),  # the run cannot open the LAN
        ({"allow_networks": ("169.254.0.0/16",)}, {}, False, (), "strict"),
        ({"tls_verify": "record"}, {}, False, (), "strict"),
        ({}, {"allow_private": True, "tls_verify": "record"}, False, (), "strict"),
        ({"allow_private": True}, {"allow_private": True}, True, (), "strict"),
        (
            {"allow_networks": ("10.1.0.0/16", "10.9.0.0/16")},
            {"allow_networks": ("10.1.0.0/16",)},
            False,
            ("10.1.0.0/16",),
            "strict",
        ),
        ({"tls_verify": "record"}, {"tls_verify": "record"}, False, (), "record"),
    ],
)
def test_a_message_only_narrows_where_a_worker_connects(
    run: dict[str, Any],
    worker: dict[str, Any],
    private: bool,
    networks: tuple[str, ...],
    tls: str,
) -> None:
    used = job(**run).settings_for(Settings(**worker))
    assert (used.allow_private, tuple(used.allow_networks), used.tls_verify) == (
        private,
        networks,
        tls,
    )
