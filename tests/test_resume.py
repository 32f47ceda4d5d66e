"""A run killed with SIGKILL is resumed by running it again: nothing archived is lost or
fetched twice, the `.open` WARC is repaired, and the collection verifies."""

from __future__ import annotations

import json
import os
import random
import resource
import signal
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from warcio.archiveiterator import ArchiveIterator

from archiver.config import Settings
from archiver.verify.fixity import verify
from tests.conftest import run_cli
from tests.origin import Handler, Origin, OriginHandler, body, random_bytes, redirect
from tests.replay import clean_env

pytestmark = pytest.mark.slow  # end-to-end: leave out with -m 'not slow'

COUNT = 30
ARCHIVE = [sys.executable, "-m", "archiver", "archive", "d.md", "-c", "k", "--allow-private"]


def slow_image(data: bytes, pause: float) -> Handler:
    serve = body(data, "image/jpeg")

    def handle(request: OriginHandler) -> None:
        time.sleep(pause)
        serve(request)

    return handle


def manifest_lines(root: Path) -> list[dict[str, Any]]:
    path = root / "manifests/k/links.jsonl"
    if not path.exists():
        return []
    return [json.loads(line) for line in path.read_text().splitlines() if line.endswith("}")]


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_sigkill_then_rerun_loses_nothing(tmp_path: Path, origin: Origin, seed: int) -> None:
    rng = random.Random(seed)
    images = {f"/img/{n}.jpg": random_bytes(20_000 + n, n) for n in range(COUNT)}
    for path, data in images.items():
        origin.routes[path] = slow_image(data, 0.05)
    (tmp_path / "d.md").write_text(
        "".join(f"![x]({origin.url(p)})\n" for p in images), encoding="utf-8"
    )
    command = [
        *ARCHIVE,
        "--per-host",
        "2",
        "-q",
    ]
    env = clean_env() | {"PYTHONPATH": str(Path(__file__).resolve().parents[1])}
    process = subprocess.Popen(command, cwd=tmp_path, env=env)
    wanted = rng.randint(3, COUNT - 10)
    deadline = time.monotonic() + 60
    while len(manifest_lines(tmp_path)) < wanted and time.monotonic() < deadline:
        time.sleep(0.01)
    os.kill(process.pid, signal.SIGKILL)
    process.wait()
    before = {row["url"] for row in manifest_lines(tmp_path) if row["status"] == "archived"}
    assert before, "the run was killed after some captures"
    assert list((tmp_path / "warcs/k").glob("*.open")), "the kill left an unfinished WARC"

    ran = run_cli("archive", "d.md", "-c", "k", "--allow-private", "--json", cwd=tmp_path)
    assert ran.code == 0, ran.err
    assert json.loads(ran.out)["repaired"]

    current = {row["url"]: row for row in manifest_lines(tmp_path)}
    assert {row["status"] for row in current.values()} == {"archived"}
    assert len(current) == COUNT
    hits = Counter(path for path, _ in origin.requests)
    for url in before:
        assert hits[url.removeprefix(origin.base)] == 1, f"{url} was fetched again"
    assert not list((tmp_path / "warcs/k").glob("*.open"))
    report = verify(Settings(out=tmp_path, collection="k"))
    assert report.ok, report.problems
    for warc in (tmp_path / "warcs/k").glob("*.warc.gz"):
        with warc.open("rb") as handle:
            for record in ArchiveIterator(handle, check_digests=True):
                record.content_stream().read()
                assert record.digest_checker.passed is not False


def _limit_file_size(limit: int) -> Callable[[], None]:
    def apply() -> None:
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # a write past the limit fails (EFBIG)
        resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit))

    return apply


@pytest.mark.parametrize("workers", ["1", "2"])
def test_a_full_disk_stops_the_run_with_one_message_and_loses_nothing(
    tmp_path: Path, origin: Origin, workers: str
) -> None:
    images = {f"/img/{n}.jpg": random_bytes(40_000 + n, n) for n in range(3 * COUNT)}
    for path, data in images.items():
        origin.routes[path] = body(data, "image/jpeg")
    doc = "".join(f"![x]({origin.url(p)})\n" for p in images)
    (tmp_path / "d.md").write_text(doc, encoding="utf-8")
    command = [
        *ARCHIVE,
        "--workers",
        workers,
    ]
    env = clean_env() | {"PYTHONPATH": str(Path(__file__).resolve().parents[1])}
    full = subprocess.run(
        command,
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        check=False,
        preexec_fn=_limit_file_size(1_500_000),
    )
    assert full.returncode == 1, full.stderr
    assert "Traceback" not in full.stderr
    [message] = full.stderr.strip().splitlines()
    assert "cannot write" in message and "File too large" in message
    kept = {row["url"] for row in manifest_lines(tmp_path) if row["status"] == "archived"}
    assert kept, "what was archived before the disk filled is kept"

    again = subprocess.run(
        [*command, "--json"], cwd=tmp_path, env=env, capture_output=True, text=True, check=False
    )
    assert again.returncode == 0, again.stderr
    current = {row["url"]: row for row in manifest_lines(tmp_path)}
    assert {row["status"] for row in current.values()} == {"archived"}
    assert len(current) == len(images)
    hits = Counter(path for path, _ in origin.requests)
    assert all(hits[url.removeprefix(origin.base)] == 1 for url in kept)
    assert verify(Settings(out=tmp_path, collection="k")).ok


def _state(root: Path) -> tuple[dict[str, tuple[object, ...]], Counter[str]]:
    """Per URL what the manifest says, and how many response/revisit records each URI has."""
    rows = {str(row["url"]): row for row in manifest_lines(root)}
    summary: dict[str, tuple[object, ...]] = {
        url: (
            row["status"],
            row["http_status"],
            row["sha256"],
            row["final_url"],
            len(row["redirects"]),
        )
        for url, row in rows.items()
    }
    records: Counter[str] = Counter()
    for warc in (root / "warcs/k").glob("*.warc.gz"):
        with warc.open("rb") as handle:
            for record in ArchiveIterator(handle, check_digests=True):
                record.content_stream().read()
                assert record.digest_checker.passed is not False
                if record.rec_type in ("response", "revisit"):
                    records[record.rec_headers.get_header("WARC-Target-URI")] += 1
    return summary, records


def test_twenty_kills_end_as_an_uninterrupted_run(tmp_path: Path, origin: Origin) -> None:
    # 200 links at 0.12 s, 2 at a time: a run needs 12 s, and a run killed within 0.7 s of
    # its start gets through at most a dozen, so all 20 kills land in unfinished work.
    rng = random.Random(20)
    shared = random_bytes(25_000, 1)
    for n in range(200):
        data = shared if n % 10 == 0 else random_bytes(20_000 + n, 100 + n)
        origin.routes[f"/img/{n}.jpg"] = slow_image(data, 0.12)
    origin.routes["/img/moved.jpg"] = redirect("/img/1.jpg")
    links = [f"/img/{n}.jpg" for n in range(200)] + ["/img/moved.jpg", "/img/missing.jpg"]
    env = clean_env() | {"PYTHONPATH": str(Path(__file__).resolve().parents[1])}
    for name in ("clean", "killed"):
        (tmp_path / name).mkdir()
        (tmp_path / name / "d.md").write_text(
            "".join(f"![x]({origin.url(p)})\n" for p in links), encoding="utf-8"
        )
    command = [
        *ARCHIVE,
        "-q",
    ]
    clean = subprocess.run(command, cwd=tmp_path / "clean", env=env, check=False)
    assert clean.returncode == 0

    kills = 0
    while kills < 20:
        process = subprocess.Popen(command, cwd=tmp_path / "killed", env=env)
        time.sleep(rng.uniform(0.3, 0.7))
        if process.poll() is not None:
            break  # finished before this kill: nothing left to interrupt
        os.kill(process.pid, signal.SIGKILL)
        process.wait()
        kills += 1
    assert kills == 20, "every one of the 20 kills interrupted a run"
    final = subprocess.run(command, cwd=tmp_path / "killed", env=env, check=False)
    assert final.returncode == 0

    expected, expected_records = _state(tmp_path / "clean")
    got, got_records = _state(tmp_path / "killed")
    assert got == expected
    assert got_records == expected_records, "no capture was made twice"
    assert not list((tmp_path / "killed/warcs/k").glob("*.open"))
    report = verify(Settings(out=tmp_path / "killed", collection="k"))
    assert report.ok, report.problems


def test_torn_manifest_line_is_reported_and_ignored(tmp_path: Path, origin: Origin) -> None:
    origin.routes["/a.jpg"] = body(random_bytes(5_000, 1), "image/jpeg")
    origin.routes["/b.jpg"] = body(random_bytes(5_000, 2), "image/jpeg")
    (tmp_path / "d.md").write_text(f"![a]({origin.url('/a.jpg')})\n", encoding="utf-8")
    assert run_cli("archive", "d.md", "-c", "k", "--allow-private", cwd=tmp_path).code == 0
    links = tmp_path / "manifests/k/links.jsonl"
    links.write_bytes(links.read_bytes() + b'{"url": "http://torn.test/x", "sta')
    (tmp_path / "d.md").write_text(
        f"![a]({origin.url('/a.jpg')})\n![b]({origin.url('/b.jpg')})\n", encoding="utf-8"
    )
    ran = run_cli("archive", "d.md", "-c", "k", "--allow-private", "--json", cwd=tmp_path)
    assert ran.code == 0
    assert "torn last line cut off and ignored (34 bytes)" in ran.err
    assert json.loads(ran.out)["fetched"] == 1, "only the new document's new link is fetched"
    assert [path for path, _ in origin.requests].count("/a.jpg") == 1
    assert all(line.endswith("}") for line in links.read_text().splitlines())
    assert verify(Settings(out=tmp_path, collection="k")).ok


def test_retry_failed_fetches_failed_links_again_and_only_with_the_flag(
    tmp_path: Path, origin: Origin
) -> None:
    busy = body(b"busy", "text/plain", status=503)
    origin.routes["/a.jpg"] = busy
    origin.routes["/gone.jpg"] = body(b"gone", "text/plain", status=404)
    (tmp_path / "d.md").write_text(
        f"![a]({origin.url('/a.jpg')})\n![g]({origin.url('/gone.jpg')})\n", encoding="utf-8"
    )
    args = ["archive", "d.md", "-c", "k", "--allow-private", "--retries", "0", "--json"]
    first = json.loads(run_cli(*args, cwd=tmp_path).out)
    assert first["counts"] == {"failed": 1, "dead": 1}
    assert json.loads(run_cli(*args, cwd=tmp_path).out)["fetched"] == 0
    origin.routes["/a.jpg"] = body(random_bytes(5_000, 3), "image/jpeg")
    retried = json.loads(run_cli(*args, "--retry-failed", cwd=tmp_path).out)
    assert retried["fetched"] == 1, "failed is fetched again; dead is not"
    assert retried["counts"] == {"archived": 1, "dead": 1}


def archive_three_images(tmp_path: Path, origin: Origin) -> None:
    for n in range(3):
        origin.routes[f"/{n}.jpg"] = body(random_bytes(9_000, n), "image/jpeg")
    (tmp_path / "d.md").write_text(
        "".join(f"![x]({origin.url(f'/{n}.jpg')})\n" for n in range(3)), encoding="utf-8"
    )
    assert run_cli(*ARCHIVE[3:], cwd=tmp_path).code == 0


def test_a_capture_in_a_closed_file_of_an_unfinished_run_is_adopted(
    tmp_path: Path, origin: Origin
) -> None:
    """A file can close (rotation, or a repair just before another kill) before the manifest
    line of its last capture is written; the run's list of files still names it."""
    archive_three_images(tmp_path, origin)
    links = tmp_path / "manifests/k/links.jsonl"
    lines = links.read_text().splitlines()
    lost = json.loads(lines[-1])
    links.write_text("\n".join(lines[:-1]) + "\n")  # the line a kill kept from being written
    (tmp_path / "manifests/k/.inflight").write_text(lost["warc_file"] + "\n")
    before = len(origin.requests)
    ran = run_cli(*ARCHIVE[3:], "--json", cwd=tmp_path)
    assert ran.code == 0, ran.err
    assert json.loads(ran.out)["fetched"] == 0 and len(origin.requests) == before
    adopted = json.loads(links.read_text().splitlines()[-1])
    assert adopted["url"] == lost["url"] and adopted["record_id"] == lost["record_id"]
    assert not (tmp_path / "manifests/k/.inflight").exists(), "a clean run clears the list"
    assert verify(Settings(out=tmp_path, collection="k")).ok


def test_a_file_closed_but_never_listed_by_an_unfinished_run_is_listed(
    tmp_path: Path, origin: Origin
) -> None:
    """A kill can land between a WARC's rename (which closes it) and its line in warcs.sha256;
    the next run lists it, so verify finds every file accounted for."""
    archive_three_images(tmp_path, origin)
    manifest = tmp_path / "manifests/k"
    sums = (manifest / "warcs.sha256").read_text()
    sizes = (manifest / "warcs.jsonl").read_text()
    [warc] = [line.split("  ", 1)[1] for line in sums.splitlines()]
    (manifest / "warcs.sha256").write_text("")  # what the kill kept from being written
    (manifest / "warcs.jsonl").write_text("")
    (manifest / ".inflight").write_text(warc + "\n")
    assert not verify(Settings(out=tmp_path, collection="k")).ok
    ran = run_cli(*ARCHIVE[3:], "--json", cwd=tmp_path)
    assert ran.code == 0, ran.err
    assert json.loads(ran.out)["repaired"] == [f"{warc} (closed but never listed; listed now)"]
    assert (manifest / "warcs.sha256").read_text() == sums
    assert json.loads((manifest / "warcs.jsonl").read_text())["size"] == json.loads(sizes)["size"]
    assert verify(Settings(out=tmp_path, collection="k")).ok
    again = run_cli(*ARCHIVE[3:], "--json", cwd=tmp_path)
    assert json.loads(again.out)["repaired"] == [], "listed once, not at every run"
