"""recheck against an origin whose answers change between checks: 200, then 404, then 200
with different bytes; the history lands in checks.jsonl and in the report."""

from __future__ import annotations

import json
from pathlib import Path

from tests.conftest import run_cli
from tests.origin import Origin, body, random_bytes

FIRST = random_bytes(8_000, 61)
SECOND = random_bytes(8_000, 62)


def checks(root: Path) -> list[dict[str, object]]:
    text = (root / "manifests/c/checks.jsonl").read_text()
    return [json.loads(line) for line in text.splitlines()]


def test_recheck_follows_a_link_through_death_and_change(tmp_path: Path, origin: Origin) -> None:
    url = origin.url("/a.jpg")
    origin.routes["/a.jpg"] = body(FIRST, "image/jpeg")
    origin.routes["/b.jpg"] = body(random_bytes(5_000, 63), "image/jpeg")
    (tmp_path / "d.md").write_text(f"![a]({url})\n![b]({origin.url('/b.jpg')})\n", encoding="utf-8")
    assert run_cli("archive", "d.md", "-c", "c", "--allow-private", cwd=tmp_path).code == 0
    args = ["recheck", "-c", "c", "--allow-private", "--json"]

    first = run_cli(*args, cwd=tmp_path)
    assert first.code == 0, first.err
    assert json.loads(first.out)["checked"] == 2
    origin.routes["/a.jpg"] = body(b"gone", "text/plain", status=404)
    run_cli(*args, "--role", "image", cwd=tmp_path)
    origin.routes["/a.jpg"] = body(SECOND, "image/jpeg")
    third = run_cli(*args, "--capture-changes", cwd=tmp_path)
    assert json.loads(third.out)["captured"] == 1

    history = [line for line in checks(tmp_path) if line["url"] == url]
    assert [(h["live"], h["http_status"], h["changed"]) for h in history] == [
        (True, 200, False),
        (False, 404, None),
        (True, 200, True),
    ]
    assert str(history[1]["error"]).startswith("http-404")
    rows = [
        json.loads(line) for line in (tmp_path / "manifests/c/links.jsonl").read_text().splitlines()
    ]
    latest = [row for row in rows if row["url"] == url][-1]
    assert latest["status"] == "archived" and latest["size"] == len(SECOND)
    assert run_cli("verify", "-c", "c", cwd=tmp_path).code == 0

    hits_before = len(origin.requests)
    nothing = run_cli(*args, "--older-than", "1", cwd=tmp_path)
    assert json.loads(nothing.out)["checked"] == 0, "every link was checked within a day"
    assert len(origin.requests) == hits_before, "nothing due, nothing asked"


def test_report_shows_a_link_lost_at_the_origin(tmp_path: Path, origin: Origin) -> None:
    url = origin.url("/a.jpg")
    origin.routes["/a.jpg"] = body(FIRST, "image/jpeg")
    (tmp_path / "d.md").write_text(f"### 标题\n\n![a]({url})\n", encoding="utf-8")
    assert run_cli("archive", "d.md", "-c", "c", "--allow-private", cwd=tmp_path).code == 0
    origin.routes["/a.jpg"] = body(b"gone", "text/plain", status=410)
    assert run_cli("recheck", "-c", "c", "--allow-private", cwd=tmp_path).code == 0
    ran = run_cli("report", "-c", "c", "--format", "json", cwd=tmp_path)
    assert ran.code == 0, ran.err
    data = json.loads(ran.out)
    assert data["totals"]["lost_at_origin"] == 1
    ran = run_cli("report", "-c", "c", "-o", "r.html", cwd=tmp_path)
    assert ran.code == 0
    page = (tmp_path / "r.html").read_text(encoding="utf-8")
    assert "标题" in page and url in page and "<svg" in page
