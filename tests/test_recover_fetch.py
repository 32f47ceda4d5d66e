"""How recover reaches a web archive: through archiver.fetch, so the private-address guard,
retries and Retry-After hold for the archive as for any origin."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest

from archiver.recover.command import recover
from archiver.store.readlines import current_links
from tests.origin import Origin, body, sequence
from tests.test_recover import AT, GONE, archive_server, lost_collection
from tests.wayback_replay import memento, raw_path

__all__ = ["archive_server"]  # the fixture this module uses
pytestmark = pytest.mark.slow  # whole runs against local servers


def test_the_guard_refuses_an_archive_at_a_private_address(
    tmp_path: Path, origin: Origin, archive_server: Origin
) -> None:
    settings, lookup, _ = lost_collection(tmp_path, origin, archive_server)
    summary = recover(replace(settings, allow_private=False), lookup)
    assert summary.recovered == 0
    assert summary.reasons == {"private-address": 2, "timeout": 1}
    assert not archive_server.requests, "nothing was sent to 127.0.0.1"


def test_a_429_with_retry_after_is_waited_out(
    tmp_path: Path, origin: Origin, archive_server: Origin
) -> None:
    settings, lookup, urls = lost_collection(tmp_path, origin, archive_server)
    path = raw_path(AT, urls["gone"])
    slow_down = body(b"slow down", "text/plain", 429, {"Retry-After": "1"})
    archive_server.routes[path] = sequence(slow_down, memento(urls["gone"], AT, GONE, "image/jpeg"))
    recover(replace(settings, retries=1), lookup)
    hits = archive_server.hits(path)
    assert len(hits) == 2 and hits[1] - hits[0] >= 0.9, "asked again after Retry-After"
    assert current_links(tmp_path / "manifests/c")[urls["gone"]].recovered is not None
