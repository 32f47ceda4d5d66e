"""Deciding what a run does with each URL of its plan (run.decide), without a network: a plan
made by hand, a collection whose links.jsonl holds earlier lines, and the lines and targets
the decision gives. The end-to-end tests (test_resume.py, test_archive_e2e.py) reach the same
rules through whole runs; these name each rule on its own."""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import pytest

from archiver.config import Settings
from archiver.models import (
    DEFAULT_ROLES,
    ErrorInfo,
    ErrorKind,
    Extracted,
    ManifestEntry,
    PlannedDocument,
    Role,
    Status,
    Target,
)
from archiver.run.decide import Settle, carried_forward, kept_statuses, needs_fetch
from archiver.run.plan import make_plan
from archiver.store.collection import Collection
from archiver.store.entries import with_time
from archiver.store.lines import LINKS
from archiver.store.linetypes import LinkLine
from archiver.store.manifest import Manifest
from archiver.store.state import CollectionState

IMG = "http://a.example/1.jpg"
PAGE = "http://a.example/story.html"
NAV = "http://b.example/menu.html"


@pytest.mark.parametrize(
    ("status", "flags", "fetched"),
    [
        (None, {}, True),  # never seen
        ("archived", {}, False),
        ("dead", {}, False),
        ("failed", {}, False),
        ("failed", {"retry_failed": True}, True),
        ("skipped", {}, True),  # skipped for its role, now selected
        ("archived", {"refresh": True}, True),
        ("dead", {"refresh": True}, True),
    ],
)
def test_which_current_statuses_are_fetched_again(
    status: str | None, flags: dict[str, bool], fetched: bool
) -> None:
    settings = Settings(**flags)  # type: ignore[arg-type]
    assert needs_fetch(status, settings) is fetched
    if status in ("archived", "dead", "failed"):
        assert (status in kept_statuses(settings)) is not fetched


def archived(url: str, role: Role, documents: tuple[str, ...]) -> ManifestEntry:
    """An archived entry with the WARC fields the manifest contract asks of one."""
    return ManifestEntry(
        url,
        role,
        documents,
        Status.ARCHIVED,
        http_status=200,
        final_url=url,
        sha256="0" * 64,
        payload_digest="sha1:" + "A" * 32,
        size=1,
        content_type="image/jpeg",
        warc_file="warcs/c/c-00000.warc.gz",
        warc_offset=0,
        warc_length=100,
        record_id="<urn:uuid:00000000-0000-4000-8000-000000000000>",
        fetched_at="2026-01-02T03:04:05Z",
    )


def _line() -> LinkLine:
    entry = archived(IMG, Role.IMAGE, ("a.md",))
    return LinkLine.from_json(with_time(entry) | {"future_field": 1}, "c")


def test_a_line_cited_as_before_is_not_carried_forward() -> None:
    assert (
        carried_forward(_line(), Target(IMG, frozenset({Role.IMAGE}), ("a.md",)), Role.IMAGE)
        is None
    )


def test_a_new_citing_document_is_added_and_unknown_fields_are_kept_in_place() -> None:
    line = _line()
    updated = carried_forward(line, Target(IMG, frozenset({Role.IMAGE}), ("b.md",)), Role.IMAGE)
    assert updated is not None
    assert updated["documents"] == ["a.md", "b.md"]
    assert list(updated) == list(line.as_read)  # same fields, same order
    assert updated["future_field"] == 1


def test_a_new_role_is_carried_forward() -> None:
    updated = carried_forward(
        _line(), Target(IMG, frozenset({Role.SOURCE}), ("a.md",)), Role.SOURCE
    )
    assert updated is not None and updated["role"] == "source"


def _extracted(path: str, links: list[tuple[str, Role]]) -> Extracted:
    counts = dict(Counter(role.value for _, role in links))
    return Extracted(
        PlannedDocument(path, "0" * 64, 1, "utf-8", "plain", None, None, None, counts), links
    )


@pytest.fixture
def collection(tmp_path: Path) -> Iterator[tuple[Settings, Manifest, CollectionState]]:
    settings = Settings(out=tmp_path, collection="c", roles=DEFAULT_ROLES)
    manifest_dir = Collection.named(settings).manifest_dir
    manifest_dir.mkdir(parents=True)
    manifest = Manifest(manifest_dir)
    state = CollectionState(manifest_dir)
    try:
        yield settings, manifest, state
    finally:
        manifest.close()
        state.close()


def _lines(settings: Settings) -> list[dict[str, object]]:
    path = Collection.named(settings).manifest_dir / LINKS
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]


def _settle(
    settings: Settings, manifest: Manifest, state: CollectionState, docs: list[Extracted]
) -> tuple[list[Target], Counter[str]]:
    state.sync()
    counts: Counter[str] = Counter()
    targets = Settle(make_plan(docs), state, settings, manifest).run(counts)
    return targets, counts


def test_a_first_run_fetches_every_selected_url_and_notes_the_rest_skipped(
    collection: tuple[Settings, Manifest, CollectionState],
) -> None:
    settings, manifest, state = collection
    docs = [_extracted("a.md", [(IMG, Role.IMAGE), (PAGE, Role.SOURCE), (NAV, Role.NAVIGATION)])]
    targets, counts = _settle(settings, manifest, state, docs)
    assert sorted(t.url for t in targets) == sorted([IMG, PAGE])
    (skipped,) = _lines(settings)
    assert (skipped["url"], skipped["status"], skipped["role"]) == (NAV, "skipped", "navigation")
    assert skipped["error"] == f"{ErrorKind.ROLE}: role navigation not selected"
    assert counts == Counter({"skipped": 1})


def test_a_re_run_keeps_what_is_done_and_appends_nothing(
    collection: tuple[Settings, Manifest, CollectionState],
) -> None:
    settings, manifest, state = collection
    docs = [_extracted("a.md", [(IMG, Role.IMAGE), (PAGE, Role.SOURCE), (NAV, Role.NAVIGATION)])]
    manifest.append_link(with_time(archived(IMG, Role.IMAGE, ("a.md",))))
    dead = ManifestEntry(PAGE, Role.SOURCE, ("a.md",), Status.DEAD, 404, "http-404: Not Found")
    manifest.append_link(with_time(dead))
    _settle(settings, manifest, state, docs)  # notes NAV skipped
    before = _lines(settings)
    targets, counts = _settle(settings, manifest, state, docs)
    assert targets == []
    assert _lines(settings) == before
    assert counts == Counter({"archived": 1, "dead": 1, "skipped": 1})


def test_a_failed_link_is_fetched_again_only_when_asked(
    collection: tuple[Settings, Manifest, CollectionState],
) -> None:
    settings, manifest, state = collection
    error = str(ErrorInfo(ErrorKind.TIMEOUT, "read timed out"))
    manifest.append_link(
        with_time(ManifestEntry(IMG, Role.IMAGE, ("a.md",), Status.FAILED, error=error))
    )
    docs = [_extracted("a.md", [(IMG, Role.IMAGE)])]
    assert _settle(settings, manifest, state, docs)[0] == []
    again = replace(settings, retry_failed=True)
    assert [t.url for t in _settle(again, manifest, state, docs)[0]] == [IMG]


def test_a_done_link_cited_by_a_new_document_gets_one_new_line_and_no_fetch(
    collection: tuple[Settings, Manifest, CollectionState],
) -> None:
    settings, manifest, state = collection
    manifest.append_link(with_time(archived(IMG, Role.IMAGE, ("a.md",))))
    docs = [_extracted("a.md", [(IMG, Role.IMAGE)]), _extracted("b.md", [(IMG, Role.IMAGE)])]
    targets, _ = _settle(settings, manifest, state, docs)
    assert targets == []
    last = _lines(settings)[-1]
    assert (last["url"], last["status"], last["documents"]) == (IMG, "archived", ["a.md", "b.md"])
    count = len(_lines(settings))
    _settle(settings, manifest, state, docs)
    assert len(_lines(settings)) == count  # said once


def test_a_link_skipped_for_its_role_is_fetched_once_its_role_is_selected(
    collection: tuple[Settings, Manifest, CollectionState],
) -> None:
    settings, manifest, state = collection
    docs = [_extracted("a.md", [(NAV, Role.NAVIGATION)])]
    assert _settle(settings, manifest, state, docs)[0] == []
    wider = replace(settings, roles=DEFAULT_ROLES | {Role.NAVIGATION})
    assert [t.url for t in _settle(wider, manifest, state, docs)[0]] == [NAV]


def test_targets_are_interleaved_by_host_so_one_busy_host_does_not_hold_every_worker(
    collection: tuple[Settings, Manifest, CollectionState],
) -> None:
    settings, manifest, state = collection
    many = [(f"http://busy.example/{n}.jpg", Role.IMAGE) for n in range(4)]
    docs = [_extracted("a.md", [*many, ("http://quiet.example/1.jpg", Role.IMAGE)])]
    hosts = [t.host for t in _settle(settings, manifest, state, docs)[0]]
    assert hosts[:2] == ["busy.example", "quiet.example"] or hosts[:2] == [
        "quiet.example",
        "busy.example",
    ]
