"""A hostile review of recheck and of the commands that read checks.jsonl: times edited by hand
that every command must read the same way (a time without an offset, one that is no UTC moment
Python can hold), never with a traceback."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.conftest import run_cli
from tests.origin import Origin, body

pytestmark = pytest.mark.slow  # end-to-end: leave out with -m 'not slow'

JPEG = b"\xff\xd8\xff\xe0" + bytes(range(256)) * 4
COMMANDS = (
    ("verify", "-c", "c"),
    ("report", "-c", "c", "--format", "json"),
    ("report", "-c", "c", "-o", "r.html"),
    ("export", "-c", "c", "--wacz", "c.wacz"),
    ("recheck", "-c", "c", "--allow-private", "--older-than", "1"),
    ("archive", "d.md", "-c", "c", "--allow-private"),
)


def archived(root: Path, origin: Origin) -> str:
    url = origin.url("/a.jpg")
    origin.routes["/a.jpg"] = body(JPEG, "image/jpeg")
    (root / "d.md").write_text(f"![a]({url})\n", encoding="utf-8")
    assert run_cli("archive", "d.md", "-c", "c", "--allow-private", cwd=root).code == 0
    return url


@pytest.mark.parametrize("when", ["2024-01-01T00:00:00", "2024-01-01"])
def test_a_check_time_without_an_offset_is_utc_to_every_command(
    tmp_path: Path, origin: Origin, when: str
) -> None:
    """recheck --older-than compared it with an aware time and stopped with a TypeError
    traceback; report read the same line as UTC."""
    url = archived(tmp_path, origin)
    line = {"url": url, "checked_at": when, "live": True, "changed": False}
    (tmp_path / "manifests/c/checks.jsonl").write_text(json.dumps(line) + "\n")
    for command in COMMANDS:
        ran = run_cli(*command, cwd=tmp_path)
        assert (ran.code, "Traceback" in ran.err) == (0, False), (command, ran.err)
        (tmp_path / "c.wacz").unlink(missing_ok=True)
    checks = (tmp_path / "manifests/c/checks.jsonl").read_text().splitlines()
    assert len(checks) == 2, "checked in 2024: due again"


def test_a_links_time_without_an_offset_is_utc_to_recheck(tmp_path: Path, origin: Origin) -> None:
    url = archived(tmp_path, origin)
    path = tmp_path / "manifests/c/links.jsonl"
    [row] = [json.loads(line) for line in path.read_text().splitlines()]
    path.write_text(json.dumps(row | {"fetched_at": "2024-01-01T00:00:00"}) + "\n")
    ran = run_cli(
        "recheck", "-c", "c", "--allow-private", "--older-than", "1", "--json", cwd=tmp_path
    )
    assert ran.code == 0, ran.err
    assert json.loads(ran.out)["checked"] == 1
    text = (tmp_path / "manifests/c/checks.jsonl").read_text()
    [check] = [json.loads(line) for line in text.splitlines()]
    assert (check["url"], check["live"]) == (url, True)


@pytest.mark.parametrize("when", ["9999-12-31T23:59:59-01:00", "0001-01-01T00:00:00+01:00"])
def test_a_check_time_no_utc_moment_can_hold_is_a_finding_not_a_traceback(
    tmp_path: Path, origin: Origin, when: str
) -> None:
    """Every reader took it for a time, and `report` then stopped with an OverflowError
    traceback turning it into UTC."""
    url = archived(tmp_path, origin)
    line = {"url": url, "checked_at": when, "live": False, "error": "http-404: gone"}
    (tmp_path / "manifests/c/checks.jsonl").write_text(json.dumps(line) + "\n")
    for command in COMMANDS:
        ran = run_cli(*command, cwd=tmp_path)
        assert "Traceback" not in ran.err, (command, ran.err)
        assert ran.code in (0, 1), (command, ran.code, ran.err)
        (tmp_path / "c.wacz").unlink(missing_ok=True)
    verified = run_cli("verify", "-c", "c", cwd=tmp_path)
    assert verified.code == 1 and "checked_at" in verified.out + verified.err
    ran = run_cli("report", "-c", "c", "--format", "json", cwd=tmp_path)
    assert ran.code == 0 and json.loads(ran.out)["totals"]["lost_at_origin"] == 0
    assert "checks.jsonl" in ran.err
