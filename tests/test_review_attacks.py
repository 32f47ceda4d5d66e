"""Attacks found by a hostile review of the guard, the per-link isolation, the deadlines and
`verify`: each test is one way a document, a server or a file got past a promise."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from archiver.fetch.retry import parse_retry_after
from tests.origin import Origin, OriginHandler, body, random_bytes, sequence
from tests.replay import clean_env

pytestmark = pytest.mark.slow  # end-to-end: leave out with -m 'not slow'

IMAGE = random_bytes(3_000, 5)
ROOT = Path(__file__).resolve().parents[1]


def raw(head: bytes) -> Any:
    """A handler answering `head` (status line and headers, without the blank line) and an
    empty body."""

    def handle(request: OriginHandler) -> None:
        request.wfile.write(head + b"\r\nContent-Length: 0\r\n\r\n")
        request.wfile.flush()

    return handle


def archive_in_subprocess(tmp_path: Path, urls: list[str], config: str, limit: float) -> float:
    """Run `archiver archive` on a document citing `urls`; the seconds it took (it must end
    within `limit`, or the test fails rather than hangs)."""
    (tmp_path / "d.md").write_text("".join(f"![x]({url})\n" for url in urls), encoding="utf-8")
    (tmp_path / "c.toml").write_text(config, encoding="utf-8")
    command = [sys.executable, "-m", "archiver", "archive", "d.md", "-c", "a", "-q"]
    command += ["--config", "c.toml", "--allow-private", "--robots", "ignore"]
    env = clean_env() | {"PYTHONPATH": str(ROOT)}
    started = time.monotonic()
    done = subprocess.run(
        command, cwd=tmp_path, env=env, timeout=limit, capture_output=True, check=False
    )
    assert done.returncode == 0, done.stderr.decode()
    assert b"Traceback" not in done.stderr
    return time.monotonic() - started


def rows(tmp_path: Path) -> dict[str, dict[str, Any]]:
    lines = (tmp_path / "manifests/a/links.jsonl").read_text().splitlines()
    return {row["url"]: row for row in map(json.loads, lines)}


def test_a_retry_after_past_the_cap_does_not_hold_back_the_hosts_other_links(
    tmp_path: Path, origin: Origin
) -> None:
    """The link told to wait too long gives up; the pause it asked for must not be applied to
    the host either (tenacity computes the wait before it asks whether to stop), or one 429
    with `Retry-After: 100000` holds every other link of the host for a day."""
    origin.routes["/limited.jpg"] = raw(b"HTTP/1.1 429 Slow\r\nRetry-After: 100000")
    origin.routes["/b.jpg"] = body(IMAGE, "image/jpeg")
    urls = [origin.url("/limited.jpg"), origin.url("/b.jpg")]
    took = archive_in_subprocess(tmp_path, urls, "max_retry_after = 5.0\nper_host = 1\n", 60)
    assert took < 30
    found = rows(tmp_path)
    assert (found[urls[0]]["status"], found[urls[0]]["http_status"]) == ("failed", 429)
    assert found[urls[1]]["status"] == "archived"


def test_retry_after_in_non_ascii_digits_is_no_delay_and_the_link_is_retried(
    tmp_path: Path, origin: Origin
) -> None:
    """`Retry-After: \\xb2` reads as `²` (Latin-1), a digit to str.isdigit and not to float():
    the 503 was lost and the link ended with a ValueError instead of being tried again."""
    assert parse_retry_after("\u00b2") is None
    assert parse_retry_after("\u0663") is None  # Arabic-Indic three
    unavailable = raw(b"HTTP/1.1 503 Busy\r\nRetry-After: \xb2")
    origin.routes["/a.jpg"] = sequence(unavailable, body(IMAGE, "image/jpeg"))
    archive_in_subprocess(tmp_path, [origin.url("/a.jpg")], "backoff_base = 0.05\n", 60)
    row = rows(tmp_path)[origin.url("/a.jpg")]
    assert (row["status"], row["attempts"]) == ("archived", 2), row


def test_repair_never_deletes_whole_records_that_follow_a_damaged_member(
    tmp_path: Path, origin: Origin
) -> None:
    """A `.open` WARC whose first gzip member (the warcinfo) took one flipped byte: repair cut
    the file at the first damage, so the whole file (every capture in it) was deleted. A torn
    tail is cut; records that are whole after damage are never thrown away."""
    from archiver.config import Settings
    from archiver.run.archive import archive
    from archiver.store.reader import Record, read_warc_file
    from archiver.store.repair import repair_open_warcs

    for n in range(3):
        origin.routes[f"/{n}.jpg"] = body(random_bytes(2_000, n), "image/jpeg")
    doc = tmp_path / "d.md"
    doc.write_text("".join(f"![x]({origin.url(f'/{n}.jpg')})\n" for n in range(3)))
    archive([str(doc)], Settings(out=tmp_path, collection="r", allow_private=True))
    [closed] = list((tmp_path / "warcs/r").glob("*.warc.gz"))
    data = bytearray(closed.read_bytes())
    members = [part for part in read_warc_file(closed) if isinstance(part, Record)]
    first = members[0]
    data[first.offset + first.length // 2] ^= 0xFF  # inside the warcinfo's deflate data
    torn = tmp_path / "torn/warcs/r"
    torn.mkdir(parents=True)
    (torn / (closed.name + ".open")).write_bytes(bytes(data) + b"\x1f\x8b\x08\x00torn")
    listed: list[Any] = []
    repair_open_warcs(torn, tmp_path / "torn", listed.append)

    rest = bytes(data[members[1].offset : members[-1].offset + members[-1].length])
    kept = b"".join(path.read_bytes() for path in torn.iterdir())
    assert rest in kept, "whole records after the damaged member were thrown away"
    assert not list(torn.glob("*.open")), "the .open file is dealt with, not left for ever"


def test_a_no_proxy_entry_httpx_cannot_read_is_a_clear_error(tmp_path: Path) -> None:
    """`NO_PROXY=a:b:c` ended `archive` in a traceback from deep inside httpx."""
    (tmp_path / "d.md").write_text("![x](http://127.0.0.1:9/a.jpg)\n", encoding="utf-8")
    env = clean_env() | {"PYTHONPATH": str(ROOT), "HTTP_PROXY": "http://127.0.0.1:9"}
    command = [sys.executable, "-m", "archiver", "archive", "d.md", "-c", "p"]
    done = subprocess.run(
        command, cwd=tmp_path, env=env | {"NO_PROXY": "a:b:c"}, capture_output=True, check=False
    )
    assert done.returncode == 2, done.stderr.decode()
    assert b"Traceback" not in done.stderr
    assert b"NO_PROXY" in done.stderr


@pytest.mark.timeout(60)  # with the slot left taken, the later links wait forever
def test_a_cookie_the_jar_cannot_read_costs_nothing_but_the_cookie(
    tmp_path: Path, origin: Origin, monkeypatch: Any
) -> None:
    """The jar is read between a response's head and its body: if reading it raised, the link
    would fail and its connection slot stay taken, stalling every later link to the host."""
    import http.cookiejar

    from archiver.config import Settings
    from archiver.run.archive import archive

    def unreadable(*_: object) -> None:
        raise ValueError("a cookie no parser can read")

    monkeypatch.setattr(http.cookiejar.CookieJar, "extract_cookies", unreadable)
    cookie = {"Set-Cookie": "id=1; Expires=Thu, 99 Foo 99999 99:99:99 GMT"}
    paths = [f"/{n}.jpg" for n in range(4)]
    for path in paths:
        origin.routes[path] = body(IMAGE, "image/jpeg", headers=cookie)
    doc = tmp_path / "d.md"
    doc.write_text("".join(f"![x]({origin.url(p)})\n" for p in paths), encoding="utf-8")
    settings = Settings(
        out=tmp_path, collection="c", allow_private=True, robots="ignore", per_host=1, timeout=5
    )
    summary = archive([str(doc)], settings)
    lines = (tmp_path / "manifests/c/links.jsonl").read_text().splitlines()
    assert {json.loads(line)["status"] for line in lines} == {"archived"}
    assert summary.counts.get("archived") == len(paths)
