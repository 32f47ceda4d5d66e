"""The one place that joins the stages: documents -> links -> fetches -> WARC -> manifest."""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Sequence
from typing import Any, Protocol

from archiver.adopt import adopt
from archiver.config import Settings, check_collection
from archiver.dedup import INDEX_NAME, PayloadIndex, dangling_revisits
from archiver.group import GroupResult, Slot, fetch_group
from archiver.lock import CollectionLock
from archiver.manifest import Manifest
from archiver.models import Document, ErrorInfo, RunSummary, Status
from archiver.outcome import carried_forward, needs_fetch, same_state, skipped_entry, with_time
from archiver.plan import Plan, Target, interleave_by_host, load_documents, make_plan
from archiver.repair import capture_lost, repair_open_warcs
from archiver.workers import partition, run_workers, worker_count


class Progress(Protocol):
    """What the pipeline tells a progress display; the CLI chooses the display."""

    def start(self, documents: int, total: int) -> None: ...

    def advance(self, status: Status, size: int) -> None: ...

    def finish(self) -> None: ...


class NoProgress:
    def start(self, documents: int, total: int) -> None:
        return None

    def advance(self, status: Status, size: int) -> None:
        return None

    def finish(self) -> None:
        return None


def document_record(document: Document, plan: Plan) -> dict[str, Any]:
    counts = Counter(link.role.value for link in plan.links if link.document == document.path)
    return {
        "path": document.path,
        "sha256": document.sha256,
        "size": document.size,
        "encoding": document.encoding,
        "template": document.template,
        "source_url": document.source_url,
        "title": document.title,
        "date": document.date,
        "links": dict(sorted(counts.items())),
    }


def archive(
    paths: Sequence[str], settings: Settings, progress: Progress | None = None
) -> RunSummary:
    """Archive every selected link of the documents under `paths` into the collection."""
    check_collection(settings.collection)
    plan = make_plan(load_documents(paths))
    with CollectionLock(settings.manifest_dir, settings.collection):
        return _Run(plan, settings, progress or NoProgress()).run()


class _Run:
    """The parent's part of a run: repair, decide what to fetch, fetch, then sum up."""

    def __init__(self, plan: Plan, settings: Settings, progress: Progress) -> None:
        self.plan = plan
        self.settings = settings
        self.progress = progress
        self.manifest = Manifest(settings.manifest_dir)
        self.counts: Counter[str] = Counter()

    def run(self) -> RunSummary:
        started = time.monotonic()
        unfinished = self.manifest.inflight()
        repaired = repair_open_warcs(
            self.settings.warc_dir, self.settings.out, self.manifest.append_warc
        )
        by_path = {fixed.path: fixed for fixed in repaired}
        previous, problems = self.manifest.current_links()
        previous = {url: row for url, row in previous.items() if not capture_lost(row, by_path)}
        self._adopt(unfinished, previous)
        for url in dangling_revisits(
            previous, self.manifest.link_history, lambda row: capture_lost(row, by_path)
        ):
            del previous[url]
        PayloadIndex.rebuild(self.settings.manifest_dir / INDEX_NAME, previous.values())
        to_fetch = self._settle_unfetched(previous)
        self.progress.start(len(self.plan.documents), len(to_fetch))
        results: list[GroupResult] = []
        try:
            results = self._fetch(to_fetch)
            self.manifest.clear_inflight()
        finally:
            for document in self.plan.documents:
                self.manifest.append_document(document_record(document, self.plan))
            self.manifest.close()
            self.progress.finish()
        for result in results:
            self.counts.update(result.counts)
        return RunSummary(
            collection=self.settings.collection,
            documents=len(self.plan.documents),
            links_found=len(self.plan.links),
            links_selected=sum(t.selected(self.settings.roles) for t in self.plan.targets),
            counts=dict(self.counts),
            fetched=sum(result.fetched for result in results),
            bytes_fetched=sum(result.bytes_fetched for result in results),
            seconds=round(time.monotonic() - started, 3),
            warc_files=tuple(sorted(f for result in results for f in result.warc_files)),
            repaired=tuple(
                f"{fixed.path} (kept {fixed.kept} bytes, cut {fixed.cut})" for fixed in repaired
            ),
            warnings=tuple(problems),
        )

    def _adopt(self, unfinished: list[str], previous: dict[str, dict[str, Any]]) -> None:
        """List the captures that runs which did not finish wrote but had not listed yet: in
        every file they wrote, closed or repaired, since a file can close (rotation, repair)
        before the manifest line of its last records is written."""
        out = self.settings.out
        warc_files = sorted({rel for rel in unfinished if (out / rel).exists()})
        if not warc_files:
            return
        found = adopt(
            self.settings.out, warc_files, self.plan.targets, previous, self.settings.roles
        )
        for entry in found:
            line = with_time(entry)
            self.manifest.append_link(line)
            previous[entry.url] = line

    def _fetch(self, targets: list[Target]) -> list[GroupResult]:
        if not targets:
            return []
        count = worker_count(self.settings, len(targets))
        if count == 1:
            return [fetch_group(targets, self.settings, Slot(), self.progress.advance)]
        return run_workers(partition(targets, count), self.settings, self.progress.advance)

    def _settle_unfetched(self, previous: dict[str, dict[str, Any]]) -> list[Target]:
        """Write lines for links not fetched this run; return the targets to fetch."""
        to_fetch: list[Target] = []
        roles = self.settings.roles
        for target in self.plan.targets:
            role = target.role_for(roles)
            before = previous.get(target.url)
            if not target.selected(roles):
                entry = skipped_entry(target, role, ErrorInfo("role", f"role {role} not selected"))
                if not same_state(before, entry):
                    self.manifest.append_link(with_time(entry))
                self.counts[Status.SKIPPED.value] += 1
            elif before is not None and not needs_fetch(before, self.settings):
                updated = carried_forward(before, target, role)
                if updated is not None:
                    self.manifest.append_link(updated)
                self.counts[str(before.get("status"))] += 1
            else:
                to_fetch.append(target)
        return interleave_by_host(to_fetch)
