"""A real pywb: `wb-manager init/add`, then `wayback` on 127.0.0.1, stopped afterwards."""

from __future__ import annotations

import os
import socket
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx

from archiver.replay import pywb_tool

PROXY_VARIABLES = {"http_proxy", "https_proxy", "all_proxy", "no_proxy"}


def clean_env() -> dict[str, str]:
    """The environment without proxy settings (pywb's warcserver is reached over HTTP)."""
    return {k: v for k, v in os.environ.items() if k.lower() not in PROXY_VARIABLES}


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextmanager
def pywb(root: Path, collection: str, warcs: list[Path]) -> Iterator[str]:
    """Serve `warcs` from a fresh pywb collection; yields the base URL of the collection."""
    manager = pywb_tool("wb-manager")
    for args in (["init", collection], ["add", collection, *map(str, warcs)]):
        subprocess.run([manager, *args], cwd=root, env=clean_env(), check=True, capture_output=True)
    with serve(root) as base:
        yield f"{base}/{collection}"


@contextmanager
def serve(root: Path) -> Iterator[str]:
    """`wayback` on 127.0.0.1 over the collections under `root`; yields its base URL."""
    env = clean_env()
    port = free_port()
    process = subprocess.Popen(
        [pywb_tool("wayback"), "-b", "127.0.0.1", "-p", str(port)],
        cwd=root,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        _wait_until_up(base, process)
        yield base
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        if process.stderr is not None:
            process.stderr.close()


def _wait_until_up(base: str, process: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if process.poll() is not None:
            err = process.stderr.read().decode() if process.stderr else ""
            raise RuntimeError(f"wayback exited with {process.returncode}: {err[-2000:]}")
        try:
            httpx.get(base + "/", timeout=1, trust_env=False)
            return
        except httpx.HTTPError:
            time.sleep(0.2)
    raise RuntimeError("wayback did not start within 60 s")
