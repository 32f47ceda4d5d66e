"""Deciding, for every URL of a run's plan, what the run does with it: fetch it, keep its line,
bring its line up to date (new citing documents, a new role), or note it skipped.

It walks the collection's state once and the plan once, and reads a whole manifest line only
for the few links whose line changes, so a resumed run over a million links starts in seconds.
"""

from __future__ import annotations

import json
from collections import Counter
from functools import cache
from typing import Any

from archiver.config import Settings
from archiver.models import ErrorInfo, ErrorKind, Role, Status, Target
from archiver.run.plan import Plan, interleave_by_host
from archiver.store.entries import skipped_entry, with_time
from archiver.store.linetypes import LinkLine
from archiver.store.manifest import Manifest
from archiver.store.state import CollectionState, LinkState

SKIPPED = Status.SKIPPED.value

DONE = frozenset({Status.ARCHIVED.value, Status.DEAD.value})


def needs_fetch(status: str | None, settings: Settings) -> bool:
    """Whether this run fetches a link whose current line has `status` (None: no line yet):
    archived and dead are kept; failed only with --retry-failed; --refresh fetches all."""
    if status is None or settings.refresh:
        return True
    if status in DONE:
        return False
    if status == Status.FAILED.value:
        return settings.retry_failed
    return True


def carried_forward(previous: LinkLine, target: Target, role: Role) -> dict[str, Any] | None:
    """The JSON object of `previous` (a current line, as it was read: fields this version does
    not know kept, in their order) with the run's documents added and `role`, if either
    changed; else None."""
    documents = list(dict.fromkeys([*previous.documents, *target.documents]))
    if documents == list(previous.documents) and previous.role == role:
        return None
    return dict(previous.as_read) | {"documents": documents, "role": role.value}


def kept_statuses(settings: Settings) -> frozenset[str]:
    """The statuses whose links this run does not fetch again (see needs_fetch)."""
    return frozenset(
        status.value
        for status in (Status.ARCHIVED, Status.DEAD, Status.FAILED)
        if not needs_fetch(status.value, settings)
    )


def _not_selected(role: Role) -> ErrorInfo:
    return ErrorInfo(ErrorKind.ROLE, f"role {role} not selected")


class Settle:
    """Decides, once per run, what happens to each URL of `plan` given the collection's
    `state` (caught up with links.jsonl): lines that change are appended to `manifest`, the
    targets to fetch are returned by `run`, and `counts` tallies the kept links by status."""

    def __init__(
        self, plan: Plan, state: CollectionState, settings: Settings, manifest: Manifest
    ) -> None:
        self.plan = plan
        self.state = state
        self.settings = settings
        self.manifest = manifest
        self.to_fetch: list[Target] = []
        self.counts: Counter[str] = Counter()

        @cache
        def decide(roles: frozenset[Role]) -> tuple[Role, bool]:
            chosen = Target("", roles, ()).role_for(settings.roles)
            return chosen, bool(roles & settings.roles)

        self._decide = decide
        self._as_json: dict[tuple[str, ...], str] = {}
        self._skip_error = cache(lambda role: str(_not_selected(role)))

    def _json(self, documents: tuple[str, ...] | dict[str, None]) -> str:
        """`documents` as the state stores a line's (most documents cite many links)."""
        if isinstance(documents, dict):
            return json.dumps(list(documents), ensure_ascii=False)
        found = self._as_json.get(documents)
        if found is None:
            found = self._as_json[documents] = json.dumps(list(documents), ensure_ascii=False)
        return found

    def run(self, counts: Counter[str]) -> list[Target]:
        """Append the lines of links not fetched this run; return the targets to fetch."""
        seen: set[str] = set()
        entries = self.plan.entries()
        kept = kept_statuses(self.settings)
        tally = self.counts
        by_bits: dict[int, tuple[Role, bool]] = {}
        for before in self.state.rows():
            url, status, role, documents = before[:4]
            entry = entries.get(url)
            if entry is None:
                continue
            seen.add(url)
            bits, cited = entry
            decided = by_bits.get(bits)
            if decided is None:
                decided = by_bits[bits] = self._decide(self.plan.roles_of(bits))
            chosen, selected = decided
            # The common cases: a link done before, or skipped before for its role, and cited
            # as before; its line stays as it is.
            if role == chosen and documents == self._json(cited):
                if selected and status in kept:
                    tally[status] += 1
                    continue
                if not selected and status == SKIPPED and before[4] == self._skip_error(chosen):
                    tally[status] += 1
                    continue
            self._one(url, LinkState._make(before))
        for url in self.plan.urls():
            if url not in seen:
                self._one(url, None)
        counts.update(self.counts)
        return interleave_by_host(self.to_fetch)

    def _one(self, url: str, before: LinkState | None) -> None:
        roles, documents = self.plan.cited(url)
        role, selected = self._decide(roles)
        if not selected:
            error = _not_selected(role)
            if not self._same_skip(before, role, error, documents):
                target = self.plan.target(url)
                self.manifest.append_link(with_time(skipped_entry(target, role, error)))
            self.counts[Status.SKIPPED.value] += 1
        elif before is not None and not needs_fetch(before.status, self.settings):
            if before.role != role.value or not self._cites_all(before, documents):
                line = self.state.line(before)
                updated = (
                    None if line is None else carried_forward(line, self.plan.target(url), role)
                )
                if updated is not None:
                    self.manifest.append_link(updated)
            self.counts[before.status] += 1
        else:
            self.to_fetch.append(self.plan.target(url))

    def _same_skip(
        self, before: LinkState | None, role: Role, error: ErrorInfo, documents: tuple[str, ...]
    ) -> bool:
        """True when a skipped line would repeat the current one (nothing worth appending)."""
        return (
            before is not None
            and before.status == Status.SKIPPED.value
            and before.error == str(error)
            and before.role == role.value
            and before.documents == self._json(documents)
        )

    def _cites_all(self, before: LinkState, documents: tuple[str, ...]) -> bool:
        if before.documents == self._json(documents):
            return True
        listed = set(before.document_list())
        return all(document in listed for document in documents)
