"""What TLS trusts: --ca-bundle, SSL_CERT_FILE / SSL_CERT_DIR as httpx reads them, certifi, the
operating system's store; and bad trust settings refused before the collection is touched.
A real local HTTPS origin whose certificate comes from a private CA (trustme)."""

from __future__ import annotations

import json
import ssl
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import trustme

from archiver.config import Settings
from archiver.fetch.trust import verifying_context
from archiver.run.archive import archive
from tests.origin import Origin, body, hashed_directory, random_bytes, trusted_by
from tests.replay import clean_env

pytestmark = pytest.mark.slow  # end-to-end: leave out with -m 'not slow'

IMAGE = random_bytes(8_000, 41)
ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture
def https_origin(ca: trustme.CA) -> Iterator[Origin]:
    with trusted_by(ca) as origin:
        origin.routes["/a.jpg"] = body(IMAGE, "image/jpeg")
        yield origin


def https_url(origin: Origin) -> str:
    return f"https://127.0.0.1:{origin.server_address[1]}/a.jpg"


def run(tmp_path: Path, url: str, **options: Any) -> dict[str, Any]:
    doc = tmp_path / "doc.md"
    doc.write_text(f"![x]({url})\n", encoding="utf-8")
    settings = Settings(
        out=tmp_path, collection="t", allow_private=True, retries=0, robots="ignore", **options
    )
    archive([str(doc)], settings)
    row: dict[str, Any] = json.loads(
        (tmp_path / "manifests/t/links.jsonl").read_text().splitlines()[-1]
    )
    return row


def cli(tmp_path: Path, *args: str, env: dict[str, str] | None = None) -> tuple[int, str]:
    """`archiver ARGS` in a subprocess with `env` added; (exit code, stderr)."""
    done = subprocess.run(
        [sys.executable, "-m", "archiver", *args],
        cwd=tmp_path,
        env=clean_env() | {"PYTHONPATH": str(ROOT)} | (env or {}),
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    return done.returncode, done.stderr


def test_ssl_cert_file_names_the_trusted_cas(
    tmp_path: Path, https_origin: Origin, ca: trustme.CA, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Users behind a TLS-inspecting proxy name its CA in SSL_CERT_FILE, as for curl, wget,
    requests and httpx; archiver read only certifi, and every https link ended dead."""
    bundle = tmp_path / "corporate.pem"
    ca.cert_pem.write_to_path(str(bundle))
    monkeypatch.setenv("SSL_CERT_FILE", str(bundle))
    row = run(tmp_path, https_url(https_origin))
    assert row["status"] == "archived" and row["size"] == len(IMAGE)


def test_ssl_cert_dir_names_a_directory_of_hashed_certificates(
    tmp_path: Path, https_origin: Origin, ca: trustme.CA, monkeypatch: pytest.MonkeyPatch
) -> None:
    directory = hashed_directory(tmp_path, ca)
    monkeypatch.setenv("SSL_CERT_DIR", str(directory))
    row = run(tmp_path, https_url(https_origin))
    assert row["status"] == "archived"


def test_ssl_cert_file_comes_before_ssl_cert_dir_as_in_httpx(
    tmp_path: Path, https_origin: Origin, monkeypatch: pytest.MonkeyPatch
) -> None:
    other = tmp_path / "other.pem"
    trustme.CA().cert_pem.write_to_path(str(other))
    monkeypatch.setenv("SSL_CERT_FILE", str(other))
    monkeypatch.setenv("SSL_CERT_DIR", str(tmp_path))
    row = run(tmp_path, https_url(https_origin))
    assert row["status"] == "dead" and row["error"].startswith("tls")


def test_ca_bundle_comes_before_the_environment(
    tmp_path: Path, https_origin: Origin, ca: trustme.CA, monkeypatch: pytest.MonkeyPatch
) -> None:
    bundle, other = tmp_path / "ca.pem", tmp_path / "other.pem"
    ca.cert_pem.write_to_path(str(bundle))
    trustme.CA().cert_pem.write_to_path(str(other))
    monkeypatch.setenv("SSL_CERT_FILE", str(other))
    row = run(tmp_path, https_url(https_origin), ca_bundle=bundle)
    assert row["status"] == "archived"


def test_trust_store_certifi_is_used_whatever_the_environment_says(
    tmp_path: Path, https_origin: Origin, ca: trustme.CA, monkeypatch: pytest.MonkeyPatch
) -> None:
    bundle = tmp_path / "ca.pem"
    ca.cert_pem.write_to_path(str(bundle))
    monkeypatch.setenv("SSL_CERT_FILE", str(bundle))
    row = run(tmp_path, https_url(https_origin), trust_store="certifi")
    assert row["status"] == "dead" and row["error"].startswith("tls")


def test_the_system_store_does_not_know_a_private_ca(tmp_path: Path, https_origin: Origin) -> None:
    row = run(tmp_path, https_url(https_origin), trust_store="system")
    assert row["status"] == "dead" and row["error"].startswith("tls")


def test_the_system_store_is_the_operating_systems() -> None:
    import truststore

    context = verifying_context(Settings(trust_store="system"))
    assert isinstance(context, truststore.SSLContext)
    assert context.verify_mode == ssl.CERT_REQUIRED and context.check_hostname


@pytest.mark.parametrize("kind", ["missing", "not-pem", "empty", "directory"])
def test_a_bad_ssl_cert_file_is_a_one_line_error_before_anything_is_written(
    tmp_path: Path, kind: str
) -> None:
    (tmp_path / "d.md").write_text("![x](https://127.0.0.1:9/a.jpg)\n", encoding="utf-8")
    bad = tmp_path / "ca.pem"
    if kind == "not-pem":
        bad.write_text("hello\n")
    elif kind == "empty":
        bad.write_bytes(b"")
    elif kind == "directory":
        bad.mkdir()
    code, err = cli(tmp_path, "archive", "d.md", "-c", "x", env={"SSL_CERT_FILE": str(bad)})
    assert code == 2, err
    assert "Traceback" not in err and len(err.strip().splitlines()) == 1
    assert "SSL_CERT_FILE" in err and str(bad) in err
    assert not (tmp_path / "manifests").exists()


def test_an_ssl_cert_dir_that_is_not_a_directory_is_refused(tmp_path: Path) -> None:
    (tmp_path / "d.md").write_text("![x](https://127.0.0.1:9/a.jpg)\n", encoding="utf-8")
    missing = str(tmp_path / "nowhere")
    code, err = cli(tmp_path, "archive", "d.md", "-c", "x", env={"SSL_CERT_DIR": missing})
    assert code == 2 and "SSL_CERT_DIR" in err and "Traceback" not in err
    assert not (tmp_path / "manifests").exists()


@pytest.mark.parametrize(
    ("line", "refused"),
    [
        ('trust-store = "system"', False),
        ('tls-verify = "record"', False),
        ('trust_store = "os"', True),
        ('tls-verify = "maybe"', True),
        ("tls-verify = true", True),
    ],
)
def test_config_file_keys_are_checked_as_the_options(
    tmp_path: Path, line: str, refused: bool
) -> None:
    (tmp_path / "d.md").write_text("no links\n", encoding="utf-8")
    (tmp_path / "c.toml").write_text(line + "\n", encoding="utf-8")
    code, err = cli(tmp_path, "archive", "d.md", "-c", "x", "--config", "c.toml")
    assert (code == 2) == refused, err
    assert "Traceback" not in err
    if refused:
        assert "trust-store" in err or "tls-verify" in err


def test_the_options_are_offered_on_the_command_line(tmp_path: Path) -> None:
    code, err = cli(tmp_path, "archive", "d.md", "-c", "x", "--tls-verify", "sometimes")
    assert code == 2 and "--tls-verify" in err
    assert not (tmp_path / "manifests").exists()
