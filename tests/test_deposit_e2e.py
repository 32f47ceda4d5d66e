"""`archiver deposit` end to end: the command line in a subprocess against the local SPN2
stand-in (tests/spn2.py). The rate is kept (the stand-in's log has the times), a kill loses
nothing and the next run resubmits nothing, an error job is recorded, the service's busy and
daily refusals are honoured, and the keys show nowhere: not on stdout, stderr, or in a file."""

from __future__ import annotations

import itertools
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from archiver.store.readlines import read_deposits
from tests.conftest import Ran
from tests.replay import clean_env
from tests.spn2 import ACCESS, SECRET, StandIn, running_spn2
from tests.test_deposit import KEYS, link_line, make_collection

pytestmark = pytest.mark.slow

URLS = [f"https://site{n}.example/page" for n in range(5)]
GONE = "https://site2.example/page"  # the stand-in ends this one's job in an error


def command(root: Path, base: str, *more: str) -> list[str]:
    """The deposit command line for collection `news` under `root`, against `base`."""
    return [
        sys.executable,
        "-m",
        "archiver",
        "deposit",
        "-c",
        "news",
        "--out",
        str(root),
        "--save-page-now",
        base,
        "--allow-private",
        "--poll-interval",
        "0.2",
        *more,
    ]


def environment(keys: dict[str, str] | None = None) -> dict[str, str]:
    path = {"PYTHONPATH": str(Path(__file__).resolve().parents[1])}
    return clean_env() | path | (KEYS if keys is None else keys)


def run(root: Path, base: str, *more: str, keys: dict[str, str] | None = None) -> Ran:
    done = subprocess.run(
        command(root, base, *more),
        env=environment(keys),
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    return Ran(done.returncode, done.stdout, done.stderr)


@pytest.fixture
def root(tmp_path: Path) -> Path:
    lines = [link_line(url) for url in URLS]
    lines += [
        link_line("https://nav.example/", "navigation"),
        link_line("https://x.example/", status="dead"),
    ]
    make_collection(tmp_path, lines)
    return tmp_path


def deposits(root: Path) -> list[Any]:
    found, problems = read_deposits(root / "manifests" / "news" / "deposits.jsonl")
    assert problems == []
    return found


def last_lines(root: Path) -> dict[str, Any]:
    return {line.url: line for line in deposits(root)}


def assert_keys_nowhere(root: Path, *outputs: str) -> None:
    for text in outputs:
        assert SECRET not in text and ACCESS not in text
    for path in root.rglob("*"):
        if path.is_file():
            data = path.read_bytes()
            assert SECRET.encode() not in data and ACCESS.encode() not in data, path


def test_every_live_link_is_deposited_at_the_rate_and_an_error_job_is_recorded(
    root: Path,
) -> None:
    with running_spn2(StandIn(polls_pending=2, error_urls=frozenset({GONE}))) as spn2:
        ran = run(root, spn2.base, "--deposit-rate", "120", "--json")
        again = run(root, spn2.base, "--deposit-rate", "120")
    assert ran.code == 0, ran.err
    summary = json.loads(ran.out)
    assert summary["counts"] == {"success": 4, "error": 1, "pending": 0}
    assert summary["submitted"] == 5 and summary["stopped"] is None
    posts = spn2.posts()
    assert sorted(entry.url or "" for entry in posts) == URLS  # not the navigation, not dead
    gaps = [b.at - a.at for a, b in itertools.pairwise(posts)]
    assert min(gaps) >= 0.45  # 120 a minute: one each half second
    final = last_lines(root)
    for url in URLS:
        line = final[url]
        if url == GONE:
            assert line.status == "error" and line.error.startswith("error:not-found")
        else:
            assert line.status == "success"
            assert line.capture_url == f"{spn2.base}/web/{line.timestamp}/{url}"
            assert line.finished_at and line.job_id
    assert [line.status for line in deposits(root)].count("pending") == 5
    assert again.code == 0 and len(spn2.posts()) == 5  # nothing resubmitted
    assert "4 deposited before" in again.out
    assert_keys_nowhere(root, ran.out, ran.err, again.out, again.err)


def test_a_429_with_retry_after_is_honoured(root: Path) -> None:
    with running_spn2(StandIn(min_interval=1.0, polls_pending=0)) as spn2:
        ran = run(root, spn2.base, "--deposit-rate", "120")
    assert ran.code == 0, ran.err
    refused = [entry for entry in spn2.posts(None) if entry.status == 429]
    assert refused, "the stand-in never had to say 429: the test proves nothing"
    accepted = spn2.posts()
    assert len(accepted) == len(URLS)
    gaps = [b.at - a.at for a, b in itertools.pairwise(accepted)]
    assert min(gaps) >= 0.95  # Retry-After: 1, never sooner
    assert all(line.status == "success" for line in last_lines(root).values())


def test_a_killed_run_resumes_without_resubmitting(root: Path) -> None:
    with running_spn2(StandIn(polls_pending=15)) as spn2:
        process = subprocess.Popen(
            command(root, spn2.base, "--deposit-rate", "120"),
            env=environment(),
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        path = root / "manifests" / "news" / "deposits.jsonl"
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            written = path.read_text().count("\n") if path.exists() else 0
            if written >= 3 and written == len(spn2.posts()):
                break
            time.sleep(0.01)
        os.kill(process.pid, signal.SIGKILL)
        process.wait()
        assert not any(line.status == "success" for line in deposits(root))  # mid-run
        killed_jobs = {line.job_id for line in deposits(root)}
        ran = run(root, spn2.base, "--deposit-rate", "120")
    assert ran.code == 0, ran.err
    submitted = [entry.url or "" for entry in spn2.posts(None)]
    assert sorted(submitted) == URLS  # each once: none again after the kill
    lines = deposits(root)
    for url in URLS:
        ends = [line for line in lines if line.url == url and line.status == "success"]
        assert len(ends) == 1
    polled = {entry.path.rsplit("/", 1)[1] for entry in spn2.log if entry.method == "GET"}
    assert killed_jobs <= polled  # the killed run's jobs were asked for, not submitted again


def test_busy_then_daily_limit_stop_politely_and_the_next_run_goes_on(root: Path) -> None:
    config = root / "deposit.toml"
    config.write_text("busy-pause = 0.1\n")
    with running_spn2(StandIn(busy_first=2, daily_after=3, polls_pending=0)) as spn2:
        ran = run(root, spn2.base, "--deposit-rate", "120", "--config", str(config))
        spn2.daily_after = None  # the next day
        again = run(root, spn2.base, "--deposit-rate", "120", "--config", str(config))
    assert ran.code == 0, ran.err
    assert "stopped: the account's daily limit is reached" in ran.out
    assert "asked to wait 2 times" in ran.out
    statuses = [entry.status for entry in spn2.posts(None)]
    assert statuses[:6] == [200] * 6  # 2 busy, 3 accepted, 1 daily limit: then no more
    assert len(spn2.jobs) == 5  # the rest on the next day, each once
    assert sorted(entry.url or "" for entry in spn2.posts(None)[6:]) == sorted(
        set(URLS) - {spn2.jobs[f"spn2-{n:04d}"]["url"] for n in (1, 2, 3)}
    )
    assert again.code == 0 and "stopped" not in again.out
    assert all(line.status == "success" for line in last_lines(root).values())


def test_no_keys_is_one_line_and_exit_2_before_anything_is_written(root: Path) -> None:
    folder = root / "manifests" / "news"
    before = sorted(path.name for path in folder.iterdir())
    with running_spn2() as spn2:
        ran = run(root, spn2.base, keys={})
    assert ran.code == 2
    assert ran.err.count("\n") == 1 and "SAVEPAGENOW_ACCESS_KEY" in ran.err
    assert sorted(path.name for path in folder.iterdir()) == before
    assert spn2.log == []


def test_keys_the_service_refuses_stop_the_run_with_exit_1_and_show_nowhere(root: Path) -> None:
    config = root / "keys.toml"
    config.write_text(f'savepagenow-access-key = "{ACCESS}"\nsavepagenow-secret-key = "nope"\n')
    with running_spn2() as spn2:
        ran = run(root, spn2.base, "--config", str(config), "-v", keys={})
    assert ran.code == 1
    assert "stopped: the service refused the keys (HTTP 401)" in ran.out
    assert len(spn2.posts(None)) == 1
    assert "nope" not in ran.out + ran.err
    assert not (root / "manifests" / "news" / "deposits.jsonl").exists()
