"""The one place that joins the stages: documents -> links -> fetches -> WARC -> manifest."""

from __future__ import annotations

import contextlib
import json
import os
import time
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from dataclasses import fields
from typing import Any, Protocol

from archiver.config import Settings
from archiver.errors import InputError
from archiver.extract.cache import ExtractCache
from archiver.extract.documents import check_document, find_inputs
from archiver.fetch.client import check_network
from archiver.models import PlannedDocument, RunSummary, Status, Target
from archiver.run.decide import Settle
from archiver.run.fetchloop import Dispatch, GroupResult, Slot, fetch_group
from archiver.run.plan import Plan, plan_documents
from archiver.run.resume import Resumed, resume
from archiver.run.workers import partition, run_workers, worker_count
from archiver.store.collection import Collection
from archiver.store.lines import DOCUMENTS, RECOVERIES
from archiver.store.lock import CollectionLock
from archiver.store.manifest import Manifest
from archiver.store.readlines import read_documents, read_recoveries, warned
from archiver.store.state import CollectionState


class Progress(Protocol):
    """What the pipeline tells a progress display; the CLI chooses the display."""

    def start(self, documents: int, total: int) -> None:
        """The run begins: `documents` read, `total` links to fetch."""

    def advance(self, status: Status, size: int, url: str, error: str | None) -> None:
        """One link ended: its status, bytes stored, URL, and error ("kind: message")."""

    def finish(self) -> None:
        """Every link has ended: take the display down."""


class NoProgress:
    """The Progress that shows nothing (`--quiet`, and library callers that pass none)."""

    def start(self, documents: int, total: int) -> None:
        """Show nothing."""

    def advance(self, status: Status, size: int, url: str, error: str | None) -> None:
        """Show nothing."""

    def finish(self) -> None:
        """Show nothing."""


def document_record(document: PlannedDocument) -> dict[str, Any]:
    """The documents.jsonl line: every field of the planned document; for a file of a walked
    folder that is no document, its path and why it was `skipped`."""
    if document.skipped is not None:
        return {"path": document.path, "skipped": document.skipped}
    record = {field.name: getattr(document, field.name) for field in fields(PlannedDocument)}
    del record["skipped"]
    return record


def _identity(record: Mapping[str, Any]) -> tuple[str, str]:
    """A documents.jsonl line as one file's state, however its path was spelled."""
    rest = {key: value for key, value in record.items() if key != "path"}
    return os.path.realpath(str(record.get("path"))), json.dumps(rest, sort_keys=True)


def archive(
    paths: Sequence[str],
    settings: Settings,
    progress: Progress | None = None,
    on_lost: Callable[[str], object] | None = None,
    dispatch: Dispatch | None = None,
) -> RunSummary:
    """Archive every selected link of the documents under `paths` into the collection, which
    is created when it does not exist. `on_lost` is told the URL of each link this run finds
    dead or failed (`archive --recover` then looks them up in web archives). `dispatch`, when
    given, fetches the links elsewhere (archiver.distributed) instead of here. Raises
    InputError for a bad collection name, a missing path or a binary file named, before
    anything is written; CollectionLocked when another live process writes the collection;
    StorageError when a write fails."""
    collection = Collection.named(settings)
    for path, named in find_inputs(paths):  # a missing path or a binary file named on the
        if named:  # command line is an error before anything is touched
            check_document(path)
    check_network(settings)  # so is a proxy or CA file that cannot be used
    created = not collection.manifest_dir.exists()
    try:
        with CollectionLock(collection.manifest_dir, collection.name):
            state = CollectionState(collection.manifest_dir)
            try:
                plan = plan_documents(paths, ExtractCache(state.db))
                run = _Run(plan, state, settings, progress or NoProgress(), on_lost, dispatch)
                return run.run()
            finally:
                state.close()
    except InputError:
        if created:  # a named file changed under us: leave no collection behind
            _remove_new_collection(collection)
        raise


def _remove_new_collection(collection: Collection) -> None:
    """Remove the lock and state files a refused first run created, and the folders if empty."""
    for name in (".lock", ".state.sqlite", ".state.sqlite-wal", ".state.sqlite-shm"):
        (collection.manifest_dir / name).unlink(missing_ok=True)
    for folder in (collection.manifest_dir, collection.manifest_dir.parent):
        with contextlib.suppress(OSError):
            folder.rmdir()


class _Run:
    """The parent's part of a run: repair, decide what to fetch, fetch, then sum up."""

    def __init__(
        self,
        plan: Plan,
        state: CollectionState,
        settings: Settings,
        progress: Progress,
        on_lost: Callable[[str], object] | None = None,
        dispatch: Dispatch | None = None,
    ) -> None:
        self.plan = plan
        self.on_lost = on_lost
        self.dispatch = dispatch
        self.state = state
        self.settings = settings
        self.collection = Collection.named(settings)
        self.progress = progress
        self.manifest = Manifest(self.collection.manifest_dir)
        self.counts: Counter[str] = Counter()
        self.skipped_reasons: Counter[str] = Counter()

    def run(self) -> RunSummary:
        started = time.monotonic()
        resumed = resume(self.plan, self.state, self.settings, self.manifest)
        to_fetch = Settle(self.plan, self.state, self.settings, self.manifest).run(self.counts)
        not_selected = self.counts[Status.SKIPPED.value]
        self.progress.start(len(self.plan.documents), len(to_fetch))
        results: list[GroupResult] = []
        recovered = self._recovered(to_fetch)
        try:
            results = self._fetch(to_fetch)
            self.state.sync()
            self._keep_recovered(recovered)
            self.manifest.clear_inflight()
        finally:
            self._list_documents()
            self.manifest.close()
            self.progress.finish()
        self.state.sync()
        for result in results:
            self.counts.update(result.counts)
        return self._summary(started, results, resumed, not_selected)

    def _summary(
        self,
        started: float,
        results: list[GroupResult],
        resumed: Resumed,
        not_selected: int,
    ) -> RunSummary:
        return RunSummary(
            collection=self.settings.collection,
            documents=len(self.plan.documents),
            links_found=self.plan.links_found,
            links_selected=len(self.plan) - not_selected,
            urls=len(self.plan),
            not_selected=not_selected,
            roles=tuple(sorted(role.value for role in self.settings.roles)),
            skipped_reasons=dict(self.skipped_reasons),
            counts=dict(self.counts),
            fetched=sum(result.fetched for result in results),
            bytes_fetched=sum(result.bytes_fetched for result in results),
            seconds=round(time.monotonic() - started, 3),
            warc_files=tuple(sorted(f for result in results for f in result.warc_files)),
            repaired=resumed.lines(),
            warnings=tuple(self.manifest.repairs + self.state.problems)
            + tuple(f"{d.path}: skipped: {d.skipped}" for d in self.plan.skipped),
        )

    def _recovered(self, targets: list[Target]) -> dict[str, Any]:
        """url -> the `recovered` capture (archiver.recover) of each target about to be
        fetched again (--retry-failed, --refresh) whose current line has one. Only the links
        recoveries.jsonl says were ever recovered have their line read."""
        path = self.collection.manifest_dir / RECOVERIES
        ever = {line.url for line in warned(read_recoveries(path)) if line.recovered}
        found = {}
        for target in targets:
            before = self.state.get(target.url) if target.url in ever else None
            line = self.state.line(before) if before is not None else None
            if line is not None and line.recovered is not None:
                found[target.url] = line.as_read["recovered"]
        return found

    def _keep_recovered(self, recovered: dict[str, Any]) -> None:
        """A link fetched again keeps its recovered capture: its new line (caught up in the
        state) is written again with the `recovered` its line had, so verify and report
        still know the record."""
        for url, kept in recovered.items():
            now = self.state.get(url)
            line = self.state.line(now) if now is not None else None
            if line is not None and line.recovered is None:
                self.manifest.append_link(dict(line.as_read) | {"recovered": kept})

    def _list_documents(self) -> None:
        """A documents.jsonl line for each document (and skipped file) whose line would say
        something new: a re-run over unchanged documents adds none."""
        lines = warned(read_documents(self.collection.manifest_dir / DOCUMENTS))
        known = {_identity(line.as_read) for line in lines}
        for document in [*self.plan.documents, *self.plan.skipped]:
            record = document_record(document)
            if _identity(record) not in known:
                known.add(_identity(record))
                self.manifest.append_document(record)

    def _fetch(self, targets: list[Target]) -> list[GroupResult]:
        if not targets:
            return []
        if self.dispatch is not None:
            return self.dispatch(targets, self.settings, self._advance)
        count = worker_count(self.settings, len(targets))
        if count == 1:
            return [fetch_group(targets, self.settings, Slot(), self._advance)]
        groups = partition(targets, count)
        return run_workers(groups, self.settings, self._advance, self.state.sync)

    def _advance(self, status: Status, size: int, url: str, error: str | None) -> None:
        """A link ended: tally why a selected link was skipped, and tell the display."""
        if status == Status.SKIPPED:
            self.skipped_reasons[(error or "unknown").split(":", 1)[0]] += 1
        elif status in (Status.DEAD, Status.FAILED) and self.on_lost is not None:
            self.on_lost(url)
        self.progress.advance(status, size, url, error)
