"""Deciding, for every URL of a run's plan, what the run does with it: fetch it, keep its line,
bring its line up to date (new citing documents, a new role), or note it skipped.

It walks the collection's state once and the plan once, and reads a whole manifest line only
for the few links whose line changes, so a resumed run over a million links starts in seconds.
"""

from __future__ import annotations

import json
from collections import Counter
from functools import cache

from archiver.config import Settings
from archiver.manifest import Manifest
from archiver.models import ErrorInfo, Role, Status
from archiver.outcome import carried_forward, needs_fetch, skipped_entry, with_time
from archiver.plan import Plan, Target, interleave_by_host
from archiver.state import CollectionState, LinkState


def _documents_json(documents: tuple[str, ...]) -> str:
    """As the state stores a line's `documents`."""
    return json.dumps(list(documents), ensure_ascii=False)


def _not_selected(role: Role) -> ErrorInfo:
    return ErrorInfo("role", f"role {role} not selected")


class Settle:
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

    def run(self, counts: Counter[str]) -> list[Target]:
        """Append the lines of links not fetched this run; return the targets to fetch."""
        seen: set[str] = set()
        for before in self.state.rows():
            if before.url in self.plan:
                seen.add(before.url)
                self._one(before.url, before)
        for url in self.plan.urls():
            if url not in seen:
                self._one(url, None)
        counts.update(self.counts)
        return interleave_by_host(self.to_fetch)

    def _one(self, url: str, before: LinkState | None) -> None:
        role, selected = self._decide(self.plan.roles(url))
        documents = self.plan.documents_of(url)
        if not selected:
            error = _not_selected(role)
            if not self._same_skip(before, role, error, documents):
                target = self.plan.target(url)
                self.manifest.append_link(with_time(skipped_entry(target, role, error)))
            self.counts[Status.SKIPPED.value] += 1
        elif before is not None and not needs_fetch({"status": before.status}, self.settings):
            if before.role != role.value or not self._cites_all(before, documents):
                line = self.state.line(before)
                updated = carried_forward(line, self.plan.target(url), role)
                if updated is not None:
                    self.manifest.append_link(updated)
            self.counts[before.status] += 1
        else:
            self.to_fetch.append(self.plan.target(url))

    @staticmethod
    def _same_skip(
        before: LinkState | None, role: Role, error: ErrorInfo, documents: tuple[str, ...]
    ) -> bool:
        """True when a skipped line would repeat the current one (nothing worth appending)."""
        return (
            before is not None
            and before.status == Status.SKIPPED.value
            and before.error == str(error)
            and before.role == role.value
            and before.documents == _documents_json(documents)
        )

    @staticmethod
    def _cites_all(before: LinkState, documents: tuple[str, ...]) -> bool:
        if before.documents == _documents_json(documents):
            return True
        listed = set(before.document_list())
        return all(document in listed for document in documents)
