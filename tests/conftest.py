"""Shared fixtures: a real origin server on 127.0.0.1, a clean environment, the CLI runner."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import trustme

from tests.origin import Origin, running_origin
from tests.redis_server import redis_server
from tests.replay import clean_env


@dataclass(frozen=True)
class Ran:
    code: int
    out: str
    err: str


def run_cli(*args: str, cwd: Path | None = None) -> Ran:
    """Run `python -m archiver ARGS` in a subprocess, as a user would, without proxy settings."""
    done = subprocess.run(
        [sys.executable, "-m", "archiver", *args],
        cwd=cwd,
        env=clean_env() | {"PYTHONPATH": str(Path(__file__).resolve().parents[1])},
        capture_output=True,
        text=True,
        timeout=240,
        check=False,
    )
    return Ran(done.returncode, done.stdout, done.stderr)


@pytest.fixture
def ca() -> trustme.CA:
    """A certificate authority of the test's own, trusted by nothing until a test says so."""
    return trustme.CA()


@pytest.fixture
def origin() -> Iterator[Origin]:
    with running_origin() as server:
        yield server


@pytest.fixture(autouse=True)
def _no_proxy_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in list(os.environ):
        if name.lower() in {"http_proxy", "https_proxy", "all_proxy", "no_proxy"}:
            monkeypatch.delenv(name)
    for name in ("SSL_CERT_FILE", "SSL_CERT_DIR"):  # the CAs a test trusts are its own choice
        monkeypatch.delenv(name, raising=False)


@pytest.fixture
def redis_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A fresh redis-server of this test's own on 127.0.0.1 (tests/redis_server.py): its URL.
    Skipped, saying why, where redis-server is not installed."""
    with redis_server(tmp_path_factory.mktemp("redis")) as url:
        yield url
