"""A real redis-server on 127.0.0.1 with an ephemeral port, for the distributed runs' tests.

Tests that need one take the `redis_url` fixture (tests/conftest.py); where Debian's
`redis-server` is missing they are skipped, saying so (`.ci/run` installs it).
"""

from __future__ import annotations

import shutil
import socket
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
import redis

MISSING = "redis-server is not installed (Debian: apt-get install redis-server; .ci/run does)"
START_SECONDS = 10.0


def free_port() -> int:
    """A TCP port on 127.0.0.1 that was free a moment ago."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextmanager
def redis_server(folder: Path) -> Iterator[str]:
    """Start redis-server on 127.0.0.1 (no persistence, its files in `folder`); yield its URL
    (`redis://127.0.0.1:PORT/0`); stop it afterwards. Skips the test where it is missing."""
    binary = shutil.which("redis-server")
    if binary is None:
        pytest.skip(MISSING)
    folder.mkdir(parents=True, exist_ok=True)
    port = free_port()
    args = [binary, "--bind", "127.0.0.1", "--port", str(port), "--save", ""]
    args += ["--appendonly", "no", "--dir", str(folder), "--protected-mode", "yes"]
    server = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    url = f"redis://127.0.0.1:{port}/0"
    try:
        _wait_ready(url, server)
        yield url
    finally:
        server.terminate()
        try:
            server.wait(timeout=10)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait()


def _wait_ready(url: str, server: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + START_SECONDS
    client = redis.Redis.from_url(url)
    try:
        while True:
            try:
                if client.ping():
                    return
            except redis.ConnectionError:
                if server.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError(f"redis-server did not start on {url}") from None
                time.sleep(0.05)
    finally:
        client.close()
