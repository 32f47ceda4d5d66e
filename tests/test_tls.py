"""HTTPS against a local origin whose certificate comes from a private CA (trustme)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
import trustme

from archiver.config import Settings
from archiver.run.archive import archive
from tests.origin import Origin, body, random_bytes, trusted_by

pytestmark = pytest.mark.slow  # end-to-end: leave out with -m 'not slow'

IMAGE = random_bytes(9_000, 21)


@pytest.fixture
def https_origin(ca: trustme.CA) -> Iterator[Origin]:
    with trusted_by(ca) as origin:
        origin.routes["/a.jpg"] = body(IMAGE, "image/jpeg")
        yield origin


def run(tmp_path: Path, url: str, ca_bundle: Path | None = None) -> dict[str, object]:
    doc = tmp_path / "doc.md"
    doc.write_text(f"![x]({url})\n", encoding="utf-8")
    settings = Settings(
        out=tmp_path, collection="t", allow_private=True, retries=0, ca_bundle=ca_bundle
    )
    archive([str(doc)], settings)
    row: dict[str, object] = json.loads(
        (tmp_path / "manifests/t/links.jsonl").read_text().splitlines()[-1]
    )
    return row


def test_unknown_ca_is_dead_with_a_tls_error(tmp_path: Path, https_origin: Origin) -> None:
    url = https_origin.base.replace("http://", "https://") + "/a.jpg"
    row = run(tmp_path, url)
    assert row["status"] == "dead"
    assert str(row["error"]).startswith("tls")
    assert row["attempts"] == 1, "a certificate that cannot be valid is not retried"


def test_ca_bundle_makes_the_certificate_valid(
    tmp_path: Path, https_origin: Origin, ca: trustme.CA
) -> None:
    bundle = tmp_path / "ca.pem"
    ca.cert_pem.write_to_path(str(bundle))
    url = https_origin.base.replace("http://", "https://") + "/a.jpg"
    row = run(tmp_path, url, ca_bundle=bundle)
    assert row["status"] == "archived"
    assert row["size"] == len(IMAGE)
