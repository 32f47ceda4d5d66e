"""One bad link never stops a run, and a run never wedges a collection: a URL or `Location`
that cannot be parsed or sent ends its own link `failed`, with its reason, and nothing else."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from archiver.config import Settings
from archiver.exchange import Exchange
from archiver.fetch.client import build_client
from archiver.fetch.fetcher import Fetcher
from archiver.models import Status, WarcRecordRef
from archiver.run.archive import archive
from tests.conftest import run_cli
from tests.origin import Origin, OriginHandler, body, random_bytes
from tests.replay import clean_env

pytestmark = pytest.mark.slow  # end-to-end: leave out with -m 'not slow'

IMAGE = random_bytes(4_000, 11)
BAD_LOCATIONS = {
    "/bracket.jpg": b"http://[x/",
    "/port.jpg": b"http://example.org:99999/a.jpg",
    "/ipv4.jpg": b"http://1.2.3.256/a.jpg",
    "/bytes.jpg": b"http://[\xff\xfe/",
    "/control.jpg": b"http://a\x01b.org/",
}


def raw_redirect(location: bytes) -> Any:
    def handle(request: OriginHandler) -> None:
        request.wfile.write(b"HTTP/1.1 302 Found\r\nLocation: " + location)
        request.wfile.write(b"\r\nContent-Length: 0\r\n\r\n")
        request.wfile.flush()

    return handle


def current(root: Path, collection: str) -> dict[str, dict[str, Any]]:
    lines = (root / f"manifests/{collection}/links.jsonl").read_text().splitlines()
    return {row["url"]: row for row in map(json.loads, lines)}


def serve_bad_and_good(origin: Origin, good: int = 3) -> list[str]:
    for path, location in BAD_LOCATIONS.items():
        origin.routes[path] = raw_redirect(location)
    for n in range(good):
        origin.routes[f"/good/{n}.jpg"] = body(IMAGE, "image/jpeg")
    return [origin.url(p) for p in BAD_LOCATIONS] + [
        origin.url(f"/good/{n}.jpg") for n in range(good)
    ]


def test_bad_links_fail_alone_and_the_next_run_goes_on(tmp_path: Path, origin: Origin) -> None:
    urls = serve_bad_and_good(origin)
    doc = "".join(f"![x]({url})\n" for url in ["http://1.2.3.256/a.jpg", *urls])
    (tmp_path / "d.md").write_text(doc, encoding="utf-8")
    ran = run_cli("archive", "d.md", "-c", "b", "--allow-private", "--json", cwd=tmp_path)
    assert ran.code == 0, ran.err
    assert "Traceback" not in ran.err
    rows = current(tmp_path, "b")
    assert "http://1.2.3.256/a.jpg" not in rows, "an invalid host is no target"
    for n in range(3):
        assert rows[origin.url(f"/good/{n}.jpg")]["status"] == "archived"
    for path in BAD_LOCATIONS:
        row = rows[origin.url(path)]
        assert (row["status"], row["http_status"]) == ("failed", 302), row
        assert row["error"].startswith("redirect: cannot follow Location"), row
        assert row["warc_file"] and row["record_id"], "the 3xx itself is stored"

    again = run_cli("archive", "d.md", "-c", "b", "--allow-private", "--json", cwd=tmp_path)
    assert again.code == 0, again.err
    assert json.loads(again.out)["fetched"] == 0
    assert run_cli("verify", "-c", "b", cwd=tmp_path).code == 0


def fetch_one(tmp_path: Path, url: str) -> Any:
    async def main() -> Any:
        settings = Settings(out=tmp_path, collection="u", allow_private=True)

        async def store(exchange: Exchange) -> WarcRecordRef:
            return WarcRecordRef("", 0, 0, "", "")

        async with build_client(settings) as client:
            return await Fetcher(settings, client, store, proxied=False).fetch(url)

    return asyncio.run(main())


@pytest.mark.parametrize(
    "url",
    ["http://1.2.3.256/a.jpg", "http://0300.0.0.1/", "http://xn--zz/", "http://[x/"],
)
def test_a_url_no_request_can_be_made_of_is_a_failed_value(tmp_path: Path, url: str) -> None:
    """URLs from older manifests or other tools reach the fetcher without canonicalize."""
    result = fetch_one(tmp_path, url)
    assert result.status is Status.FAILED
    assert result.error is not None and result.error.kind == "url"


def test_recheck_of_a_listed_url_no_request_can_be_made_of(tmp_path: Path, origin: Origin) -> None:
    origin.routes["/a.jpg"] = body(IMAGE, "image/jpeg")
    (tmp_path / "d.md").write_text(f"![a]({origin.url('/a.jpg')})\n", encoding="utf-8")
    assert run_cli("archive", "d.md", "-c", "r", "--allow-private", cwd=tmp_path).code == 0
    links = tmp_path / "manifests/r/links.jsonl"
    row = json.loads(links.read_text().splitlines()[-1])
    bad = row | {"url": "http://1.2.3.256/a.jpg", "final_url": "http://1.2.3.256/a.jpg"}
    with links.open("a") as handle:
        handle.write(json.dumps(bad) + "\n")
    ran = run_cli("recheck", "-c", "r", "--allow-private", "--json", cwd=tmp_path)
    assert ran.code == 0, ran.err
    text = (tmp_path / "manifests/r/checks.jsonl").read_text()
    checks = [json.loads(line) for line in text.splitlines()]
    by_url = {line["url"]: line for line in checks}
    assert by_url[origin.url("/a.jpg")]["live"] is True
    assert by_url["http://1.2.3.256/a.jpg"]["error"].startswith("url:")


def test_a_surprise_below_the_fetcher_fails_only_its_link(
    tmp_path: Path, origin: Origin, monkeypatch: pytest.MonkeyPatch
) -> None:
    for n in range(4):
        origin.routes[f"/{n}.jpg"] = body(IMAGE, "image/jpeg")
    receive = Fetcher._receive

    async def surprising(self: Fetcher, url: str, *args: Any) -> Any:
        if url.endswith("/2.jpg"):
            raise RuntimeError("nobody foresaw this")
        return await receive(self, url, *args)

    monkeypatch.setattr(Fetcher, "_receive", surprising)
    (tmp_path / "d.md").write_text(
        "".join(f"![x]({origin.url(f'/{n}.jpg')})\n" for n in range(4)), encoding="utf-8"
    )
    archive([str(tmp_path / "d.md")], Settings(out=tmp_path, collection="s", allow_private=True))
    rows = current(tmp_path, "s")
    assert rows[origin.url("/2.jpg")]["status"] == "failed"
    assert rows[origin.url("/2.jpg")]["error"] == "error: RuntimeError: nobody foresaw this"
    assert [rows[origin.url(f"/{n}.jpg")]["status"] for n in (0, 1, 3)] == ["archived"] * 3


def slow(data: bytes, pause: float) -> Any:
    serve = body(data, "image/jpeg")

    def handle(request: OriginHandler) -> None:
        time.sleep(pause)
        serve(request)

    return handle


def test_a_killed_run_with_an_unfollowable_redirect_in_its_warc_does_not_wedge(
    tmp_path: Path, origin: Origin
) -> None:
    """Adoption replays what a killed run stored but did not list: here the kill fell between
    the 3xx records and their manifest lines, and adoption meets the same Locations."""
    bad = [origin.url(p) for p in BAD_LOCATIONS]
    for path, location in BAD_LOCATIONS.items():
        origin.routes[path] = raw_redirect(location)
    slow_urls = [origin.url(f"/slow/{n}.jpg") for n in range(20)]
    for n in range(20):
        origin.routes[f"/slow/{n}.jpg"] = slow(IMAGE, 0.1)
    (tmp_path / "d.md").write_text(
        "".join(f"![x]({url})\n" for url in [*bad, *slow_urls]), encoding="utf-8"
    )
    command = [sys.executable, "-m", "archiver", "archive", "d.md", "-c", "k", "--allow-private"]
    env = clean_env() | {"PYTHONPATH": str(Path(__file__).resolve().parents[1])}
    process = subprocess.Popen([*command, "--per-host", "1", "-q"], cwd=tmp_path, env=env)
    links = tmp_path / "manifests/k/links.jsonl"
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        text = links.read_text() if links.exists() else ""
        if all(url in text for url in bad) and text.count("/slow/") >= 2:
            break
        time.sleep(0.01)
    os.kill(process.pid, signal.SIGKILL)
    process.wait()
    assert list((tmp_path / "warcs/k").glob("*.open")), "the kill left an unfinished WARC"
    kept = [line for line in links.read_text().splitlines() if not any(u in line for u in bad)]
    links.write_text("".join(line + "\n" for line in kept))
    (tmp_path / "manifests/k/.state.sqlite").unlink()

    ran = run_cli("archive", "d.md", "-c", "k", "--allow-private", "--json", cwd=tmp_path)
    assert ran.code == 0, ran.err
    assert "Traceback" not in ran.err
    rows = current(tmp_path, "k")
    for url in bad:
        assert rows[url]["status"] == "failed", rows[url]
        assert rows[url]["error"].startswith("redirect: cannot follow Location")
    bad_paths = {url.removeprefix(origin.base) for url in bad}
    assert all(origin.requests.count((p, t)) <= 1 for p, t in origin.requests if p in bad_paths)
    assert len([p for p, _ in origin.requests if p in bad_paths]) == len(bad), (
        "adopted, not refetched"
    )
    assert {rows[url]["status"] for url in slow_urls} == {"archived"}
    again = run_cli("archive", "d.md", "-c", "k", "--allow-private", "--json", cwd=tmp_path)
    assert again.code == 0, again.err
    assert run_cli("verify", "-c", "k", cwd=tmp_path).code == 0
