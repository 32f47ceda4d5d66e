"""The trust variables as OpenSSL reads them, for every source that reads them: SSL_CERT_DIR as
a `:`-separated list of directories, and SSL_CERT_FILE / SSL_CERT_DIR under
`--trust-store system` (OpenSSL's default locations on Linux), where a FIFO hung the run at the
first https request. A real local HTTPS origin with a private CA (trustme); the CLI in a
subprocess with a timeout."""

from __future__ import annotations

import json
import os
import ssl
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
import trustme

from tests.origin import Origin, body, hashed_directory, running_origin
from tests.replay import clean_env

pytestmark = pytest.mark.slow  # end-to-end: leave out with -m 'not slow'

ROOT = Path(__file__).resolve().parents[1]
FLAGS = ("--allow-private", "--robots", "ignore", "--retries", "0")
LINUX = pytest.mark.skipif(sys.platform in ("darwin", "win32"), reason="OpenSSL is not the store")


@pytest.fixture
def ca() -> trustme.CA:
    return trustme.CA()


@pytest.fixture
def https_origin(ca: trustme.CA) -> Iterator[Origin]:
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ca.issue_cert("127.0.0.1").configure_cert(context)
    with running_origin(tls=context) as origin:
        origin.routes["/a.jpg"] = body(b"\xff\xd8" + bytes(3000), "image/jpeg")
        yield origin


def archive(tmp_path: Path, origin: Origin, env: dict[str, str], *options: str) -> tuple[int, str]:
    """`archiver archive` of one https link of `origin` with only `env` for trust; (exit code,
    stderr). Raises subprocess.TimeoutExpired if it hangs."""
    url = f"https://127.0.0.1:{origin.server_address[1]}/a.jpg"
    (tmp_path / "d.md").write_text(f"![x]({url})\n", encoding="utf-8")
    base = {k: v for k, v in clean_env().items() if not k.startswith(("SSL_CERT_", "NIX_SSL"))}
    done = subprocess.run(
        [sys.executable, "-m", "archiver", "archive", "d.md", "-c", "t", *options, *FLAGS],
        cwd=tmp_path,
        env=base | {"PYTHONPATH": str(ROOT)} | env,
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )
    return done.returncode, done.stderr


def status(tmp_path: Path) -> str:
    row = json.loads((tmp_path / "manifests/t/links.jsonl").read_text().splitlines()[-1])
    return str(row["status"])


def test_ssl_cert_dir_may_list_directories_as_openssl_reads_it(
    tmp_path: Path, https_origin: Origin, ca: trustme.CA
) -> None:
    """`SSL_CERT_DIR=/etc/ssl/certs:/corp/certs` works for OpenSSL, curl and httpx; archiver
    called it `not a directory of certificates` and refused to run."""
    listed = f"{tmp_path / 'missing'}{os.pathsep}{hashed_directory(tmp_path, ca)}"
    code, err = archive(tmp_path, https_origin, {"SSL_CERT_DIR": listed})
    assert code == 0, err
    assert status(tmp_path) == "archived"


def test_ssl_cert_dir_listing_no_directory_is_refused(tmp_path: Path, https_origin: Origin) -> None:
    listed = f"{tmp_path / 'a'}{os.pathsep}{tmp_path / 'b'}"
    code, err = archive(tmp_path, https_origin, {"SSL_CERT_DIR": listed})
    assert code == 2 and "SSL_CERT_DIR" in err and len(err.strip().splitlines()) == 1
    assert not (tmp_path / "manifests").exists()


@LINUX
@pytest.mark.parametrize("kind", ["fifo", "device", "not-pem"])
def test_the_system_store_refuses_an_ssl_cert_file_openssl_cannot_use(
    tmp_path: Path, https_origin: Origin, kind: str
) -> None:
    """With --trust-store system OpenSSL reads SSL_CERT_FILE itself, at the first https
    request: a FIFO there hung the whole run for ever, /dev/zero made every https link dead."""
    bad = tmp_path / "ca.pem"
    if kind == "fifo":
        os.mkfifo(bad)
    elif kind == "not-pem":
        bad.write_text("hello\n")
    path = "/dev/zero" if kind == "device" else str(bad)
    code, err = archive(tmp_path, https_origin, {"SSL_CERT_FILE": path}, "--trust-store", "system")
    assert code == 2, err
    assert "SSL_CERT_FILE" in err and len(err.strip().splitlines()) == 1 and "Traceback" not in err
    assert not (tmp_path / "manifests").exists()


@LINUX
def test_the_system_store_takes_the_environments_certificates(
    tmp_path: Path, https_origin: Origin, ca: trustme.CA
) -> None:
    """What the module says of the system store on Linux: SSL_CERT_FILE and SSL_CERT_DIR
    override it, and a variable naming nothing is skipped, as OpenSSL skips it."""
    pem = tmp_path / "corporate.pem"
    ca.cert_pem.write_to_path(str(pem))
    env = {"SSL_CERT_FILE": str(pem), "SSL_CERT_DIR": str(tmp_path / "missing")}
    code, err = archive(tmp_path, https_origin, env, "--trust-store", "system")
    assert code == 0, err
    assert status(tmp_path) == "archived"
