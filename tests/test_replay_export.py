"""`archiver replay` serves the collection in a real pywb; `archiver export` writes a WACZ that
validates and loads in pywb with `wb-manager add --unpack-wacz`."""

from __future__ import annotations

import json
import re
import signal
import subprocess
import sys
import time
import zipfile
from pathlib import Path
from typing import Any

import httpx
import pytest

from archiver.replay import pywb_tool
from tests.conftest import run_cli
from tests.origin import Origin, body, random_bytes
from tests.replay import clean_env, free_port, serve

pytestmark = pytest.mark.slow  # end-to-end: leave out with -m 'not slow'

PHOTO = random_bytes(30_000, 41)
SOURCE = "<html><title>原文</title><body>原文</body></html>".encode()


@pytest.fixture
def collection(tmp_path: Path, origin: Origin) -> Path:
    origin.routes["/img/photo.jpg"] = body(PHOTO, "image/jpeg")
    origin.routes["/post/1"] = body(SOURCE, "text/html; charset=utf-8")
    (tmp_path / "doc.md").write_text(
        f"### 标题\n\n<img src='{origin.url('/img/photo.jpg')}'/>\n\n"
        f"原文地址（需翻墙访问）：{origin.url('/post/1')}\n",
        encoding="utf-8",
    )
    ran = run_cli("archive", "doc.md", "-c", "r", "--allow-private", cwd=tmp_path)
    assert ran.code == 0, ran.err
    return tmp_path


def id_url(replay_url: str) -> str:
    """The raw-capture form of a replay URL: /COLL/TIMESTAMP/URL -> /COLL/TIMESTAMPid_/URL."""
    return re.sub(r"/(\d{14})/", r"/\1id_/", replay_url, count=1)


def test_replay_serves_every_document_capture(collection: Path, origin: Origin) -> None:
    port = free_port()
    env = clean_env() | {"PYTHONPATH": str(Path(__file__).resolve().parents[1])}
    process = subprocess.Popen(
        [sys.executable, "-m", "archiver", "replay", "-c", "r", "--port", str(port), "--json"],
        cwd=collection,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert process.stdout is not None
        links = [json.loads(process.stdout.readline()) for _ in range(2)]
        assert {(link["role"], link["url"]) for link in links} == {
            ("source", origin.url("/post/1")),
            ("image", origin.url("/img/photo.jpg")),
        }
        assert all(link["title"] == "标题" and link["document"] == "doc.md" for link in links)
        expected = {origin.url("/post/1"): SOURCE, origin.url("/img/photo.jpg"): PHOTO}
        for link in links:
            answer = _get_when_up(id_url(link["replay_url"]))
            assert answer.content == expected[link["url"]]
            assert f'<{link["url"]}>; rel="original"' in answer.headers["link"]
    finally:
        process.send_signal(signal.SIGTERM)
        _, err = process.communicate(timeout=30)
    assert process.returncode == 0, err
    assert "replay stopped" in err
    with pytest.raises(httpx.ConnectError):
        httpx.get(f"http://127.0.0.1:{port}/", trust_env=False, timeout=2)


def _get_when_up(url: str) -> httpx.Response:
    deadline = time.monotonic() + 60
    while True:
        try:
            answer = httpx.get(url, trust_env=False, timeout=10)
            if answer.status_code == 200 or time.monotonic() > deadline:
                return answer
        except httpx.ConnectError:
            if time.monotonic() > deadline:
                raise
        time.sleep(0.3)


def test_export_wacz_validates_and_replays_in_pywb(
    collection: Path, origin: Origin, tmp_path_factory: Any
) -> None:
    ran = run_cli("export", "-c", "r", "--wacz", "r.wacz", "--json", cwd=collection)
    assert ran.code == 0, ran.err
    assert json.loads(ran.out) == {"wacz": "r.wacz", "pages": 1}
    wacz = collection / "r.wacz"
    bin_dir = Path(sys.executable).parent
    check = subprocess.run(
        [str(bin_dir / "wacz"), "validate", "-f", str(wacz)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert check.returncode == 0 and "WACZ is valid" in check.stdout, check.stdout
    with zipfile.ZipFile(wacz) as package:
        listed = package.read("pages/pages.jsonl").decode().splitlines()
    page = json.loads(listed[1])
    assert page["url"] == origin.url("/post/1") and page["title"] == "标题"

    root = tmp_path_factory.mktemp("unpacked")
    subprocess.run(
        [pywb_tool("wb-manager"), "init", "w"],
        cwd=root,
        check=True,
        capture_output=True,
        env=clean_env(),
    )
    subprocess.run(
        [pywb_tool("wb-manager"), "add", "--unpack-wacz", "w", str(wacz)],
        cwd=root,
        check=True,
        capture_output=True,
        env=clean_env(),
    )
    row = json.loads((collection / "manifests/r/links.jsonl").read_text().splitlines()[-1])
    with serve(root) as base:
        stamp = "".join(ch for ch in row["fetched_at"] if ch.isdigit())[:14]
        answer = httpx.get(f"{base}/w/{stamp}id_/{row['url']}", trust_env=False, timeout=30)
        assert answer.status_code == 200
        assert answer.content in (PHOTO, SOURCE)
