"""pywb replays a capture recovered from a web archive at the original URL, with the capture's
datetime as Memento-Datetime, beside the collection's own capture of the dead link (its 404);
a recovered redirect capture replays as the redirect to its target."""

from __future__ import annotations

from email.utils import parsedate_to_datetime
from pathlib import Path

import httpx
import pytest

from archiver.recover.command import recover
from archiver.store.readlines import current_links
from tests.origin import Origin
from tests.replay import pywb
from tests.test_recover import AT, GONE, MOVED_AT, archive_server, lost_collection
from tests.wayback_replay import stamp

pytestmark = pytest.mark.slow  # pywb
__all__ = ["archive_server"]  # the fixture this module uses


def test_pywb_replays_the_recovered_capture_at_the_original_url(
    tmp_path: Path,
    tmp_path_factory: pytest.TempPathFactory,
    origin: Origin,
    archive_server: Origin,
) -> None:
    settings, lookup, urls = lost_collection(tmp_path, origin, archive_server)
    assert recover(settings, lookup).recovered == 2
    lines = current_links(tmp_path / "manifests/c")
    assert lines[urls["gone"]].recovered is not None
    warcs = sorted((tmp_path / "warcs/c").glob("*.warc.gz"))
    with (
        pywb(tmp_path_factory.mktemp("pywb"), "r", warcs) as replay,
        httpx.Client(trust_env=False, timeout=30, follow_redirects=False) as http,
    ):
        got = http.get(f"{replay}/{stamp(AT)}id_/{urls['gone']}")
        moved = http.get(f"{replay}/{stamp(MOVED_AT)}id_/{urls['moved']}")
    assert (got.status_code, got.content) == (200, GONE), "the original bytes"
    assert f'<{urls["gone"]}>; rel="original"' in got.headers["link"]
    assert parsedate_to_datetime(got.headers["memento-datetime"]) == AT
    assert got.headers["content-type"] == "image/jpeg"
    assert moved.status_code == 301
    assert moved.headers["location"].endswith(urls["new"]), "the original Location, replayed"
    assert parsedate_to_datetime(moved.headers["memento-datetime"]) == MOVED_AT
