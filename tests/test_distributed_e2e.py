"""Three workers stand for three machines (two `archiver worker`, one Dramatiq's own command on
the actor module): `archive --broker` plans and enqueues, the workers
fetch from an origin on 20 loopback addresses, one worker is killed mid-fetch (SIGKILL, its
whole process group: the machine lost) and started again, and `merge` brings the parts in.
Every link is there once, no host saw more than --per-host requests at a time or two starts
closer than --delay, a 429's Retry-After held the host for every worker, robots.txt was
asked once per host, `verify` passes, and pywb replays a capture from each worker's WARC."""

from __future__ import annotations

import itertools
import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path

import httpx
import pytest
from warcio.archiveiterator import ArchiveIterator

from tests.origin import Origin, OriginHandler, body, random_bytes, running_origin
from tests.replay import pywb

pytestmark = pytest.mark.slow

HOSTS = [f"127.0.0.{n}" for n in range(2, 22)]
PER_HOST_LINKS = 6
PER_HOST = 2
DELAY = 0.3
LATENCY = 0.12
RETRY_AFTER = 2
BUSY = 3  # the host whose first image answers 429 with Retry-After
STAMP_SLACK = 0.01  # the origin stamps a request after reading it, in a thread of its own
RUN_SECONDS = 180


def slow(data: bytes) -> object:
    """A body sent after LATENCY seconds, so that requests overlap."""
    send = body(data, "image/jpeg")

    def handle(request: OriginHandler) -> None:
        time.sleep(LATENCY)
        send(request)

    return handle


def busy_first(data: bytes) -> object:
    """429 with Retry-After the first time, then the body."""
    asked: list[float] = []
    send = slow(data)
    refuse = body(b"busy\n", "text/plain", 429, {"Retry-After": str(RETRY_AFTER)})

    def handle(request: OriginHandler) -> None:
        asked.append(time.monotonic())
        (refuse if len(asked) == 1 else send)(request)  # type: ignore[operator]

    return handle


@contextmanager
def origins() -> Iterator[list[Origin]]:
    with ExitStack() as stack:
        found = [stack.enter_context(running_origin(host)) for host in HOSTS]
        for number, origin in enumerate(found):
            for n in range(PER_HOST_LINKS):
                data = random_bytes(3000 + n, number * 100 + n)
                handler = busy_first(data) if (number, n) == (BUSY, 0) else slow(data)
                origin.routes[f"/img/{n}.jpg"] = handler  # type: ignore[assignment]
        yield found


def start_worker(
    broker: str, out: Path, log: Path, *, plain: bool = False
) -> subprocess.Popen[bytes]:
    """`archiver worker`, or (`plain`) Dramatiq's own command on the actor module."""
    env = dict(os.environ)
    if plain:
        args = [sys.executable, "-m", "dramatiq", "archiver.distributed.actors"]
        args += ["--processes", "1", "--threads", "4"]
        env |= {"ARCHIVER_BROKER": broker, "ARCHIVER_HEARTBEAT": "2"}
        env["ARCHIVER_WORKER_SETTINGS"] = json.dumps({"out": str(out), "allow_private": True})
    else:
        args = [sys.executable, "-m", "archiver", "worker", "--broker", broker]
        args += ["--out", str(out), "--processes", "1", "--threads", "4"]
        args += ["--heartbeat-timeout", "2", "--allow-private"]  # the origin is on 127.0.0.x
    with log.open("ab") as sink:
        return subprocess.Popen(args, stdout=sink, stderr=sink, start_new_session=True, env=env)


def stop(worker: subprocess.Popen[bytes], sig: int = signal.SIGTERM) -> None:
    """SIGTERM to the worker's main process (it passes it on to its processes: one signal
    each, a graceful stop), or SIGKILL to the whole group (the machine lost)."""
    try:
        if sig == signal.SIGKILL:
            os.killpg(worker.pid, sig)
        else:
            worker.send_signal(sig)
    except ProcessLookupError:
        return
    try:
        worker.wait(timeout=60)
    except subprocess.TimeoutExpired:
        os.killpg(worker.pid, signal.SIGKILL)
        worker.wait()


def stop_all(workers: list[subprocess.Popen[bytes]]) -> None:
    for worker in workers:
        stop(worker)


def cli(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "archiver", *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=RUN_SECONDS,
        check=False,
    )


def gaps(times: list[float]) -> list[float]:
    ordered = sorted(times)
    return [b - a for a, b in itertools.pairwise(ordered)]


def test_three_workers_one_killed_merge_verify_replay(tmp_path: Path, redis_url: str) -> None:
    docs = tmp_path / "docs"
    docs.mkdir()
    root = tmp_path / "root"
    outs = [tmp_path / f"machine{n}" for n in range(3)]
    with origins() as sites, ExitStack() as stack:
        urls = [site.url(f"/img/{n}.jpg") for site in sites for n in range(PER_HOST_LINKS)]
        (docs / "a.md").write_text("".join(f'<img src="{u}">\n' for u in urls), encoding="utf-8")
        logs = [tmp_path / f"worker{n}.log" for n in range(3)]
        workers = [
            start_worker(redis_url, out, log, plain=n == 2)
            for n, (out, log) in enumerate(zip(outs, logs, strict=True))
        ]
        stack.callback(stop_all, workers)
        coordinator = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "archiver",
                "archive",
                str(docs),
                "-c",
                "news",
                "--out",
                str(root),
                "--broker",
                redis_url,
                "--per-host",
                str(PER_HOST),
                "--delay",
                str(DELAY),
                "--allow-private",
                "--batch-size",
                "3",
                "--json",
            ],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        stack.callback(coordinator.kill)
        deadline = time.monotonic() + 60
        while sum(len(s.requests) for s in sites) < 30:  # kill worker 0 mid-fetch
            assert time.monotonic() < deadline, "the workers never started fetching"
            time.sleep(0.02)
        stop(workers[0], signal.SIGKILL)
        killed_open = sorted(outs[0].glob("warcs/news/*.open"))
        workers[0] = start_worker(redis_url, outs[0], logs[0])  # the machine comes back
        said, errors = coordinator.communicate(timeout=RUN_SECONDS)
        assert coordinator.returncode == 0, errors
        for worker in workers:
            stop(worker)
    summary = json.loads(said)
    assert summary["urls"] == len(urls)

    # the killed worker's .open file was repaired when it started again
    assert killed_open, "worker 0 had no WARC open when killed: kill it later"
    assert not list(outs[0].glob("warcs/news/*.open"))
    assert "repaired" in logs[0].read_text()

    # politeness held across the three workers
    for site in sites:
        assert site.max_in_flight <= PER_HOST, site.base
        assert min(gaps([when for _path, when in site.requests])) >= DELAY - STAMP_SLACK
        assert len(site.hits("/robots.txt")) == 1, site.base
    busy = sites[BUSY]
    refused_at = busy.hits("/img/0.jpg")[0]
    later = [when for _path, when in busy.requests if when > refused_at]
    assert later and min(later) >= refused_at + RETRY_AFTER - STAMP_SLACK

    # merge, then the collection is like any other
    warcs_by_machine = {
        n: {p.name for p in out.glob("warcs/news/*.warc.gz")} for n, out in enumerate(outs)
    }
    sources = [arg for out in outs for arg in ("--from", str(out))]
    merged = cli("merge", "-c", "news", "--out", str(root), *sources, cwd=tmp_path)
    assert merged.returncode == 0, merged.stderr
    verified = cli("verify", "-c", "news", "--out", str(root), cwd=tmp_path)
    assert verified.returncode == 0, verified.stdout + verified.stderr
    current: dict[str, dict[str, object]] = {}
    for line in (root / "manifests/news/links.jsonl").read_text().splitlines():
        entry = json.loads(line)
        current[entry["url"]] = entry
    assert set(current) == set(urls)
    assert {entry["status"] for entry in current.values()} == {"archived"}
    for path in (root / "warcs/news").glob("*.warc.gz"):
        with path.open("rb") as stream:
            assert sum(1 for _ in ArchiveIterator(stream)) > 0

    # pywb replays a capture from each worker's WARC
    warcs = sorted((root / "warcs/news").glob("*.warc.gz"))
    (tmp_path / "pywb").mkdir()
    with pywb(tmp_path / "pywb", "news", warcs) as replay:
        for machine, names in warcs_by_machine.items():
            entry = next(e for e in current.values() if Path(str(e["warc_file"])).name in names)
            stamp = "".join(ch for ch in str(entry["fetched_at"]) if ch.isdigit())[:14]
            answer = httpx.get(f"{replay}/{stamp}id_/{entry['url']}", timeout=30, trust_env=False)
            assert answer.status_code == 200, machine
            assert answer.headers.get("content-type") == "image/jpeg"
