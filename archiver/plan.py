"""Documents -> the set of canonical URLs to consider, each with its role and citing documents."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from urllib.parse import urlsplit

from archiver.documents import find_documents, read_document
from archiver.extract import extract_links
from archiver.models import Document, Link, Role

ROLE_PRIORITY = (
    Role.SOURCE,
    Role.RELATED,
    Role.IMAGE,
    Role.MEDIA,
    Role.LINK,
    Role.NAVIGATION,
    Role.TRACKER,
)


@dataclass(frozen=True)
class Target:
    """One canonical URL of the run: every role it was found with, and who cites it."""

    url: str
    roles: frozenset[Role]
    documents: tuple[str, ...]

    def role_for(self, selected: frozenset[Role]) -> Role:
        """The role that selects this URL, or its most telling role when none does."""
        chosen = [role for role in ROLE_PRIORITY if role in self.roles and role in selected]
        if chosen:
            return chosen[0]
        return next(role for role in ROLE_PRIORITY if role in self.roles)

    def selected(self, selected: frozenset[Role]) -> bool:
        return bool(self.roles & selected)

    @property
    def host(self) -> str:
        return urlsplit(self.url).netloc


@dataclass(frozen=True)
class Plan:
    documents: tuple[Document, ...]
    links: tuple[Link, ...]
    targets: tuple[Target, ...]


def load_documents(paths: Sequence[str]) -> list[Document]:
    """Find and read every document; bad input raises InputError before anything is written."""
    return [read_document(path) for path in find_documents(paths)]


def make_plan(documents: Sequence[Document]) -> Plan:
    links: list[Link] = []
    roles: dict[str, set[Role]] = defaultdict(set)
    cited: dict[str, dict[str, None]] = defaultdict(dict)
    for document in documents:
        for link in extract_links(document):
            links.append(link)
            if link.url is None:
                continue
            roles[link.url].add(link.role)
            cited[link.url][document.path] = None
    targets = tuple(Target(url, frozenset(roles[url]), tuple(cited[url])) for url in roles)
    return Plan(tuple(documents), tuple(links), targets)


def interleave_by_host(targets: Sequence[Target]) -> list[Target]:
    """Order targets round-robin over hosts, so that busy hosts do not hold every worker."""
    by_host: dict[str, list[Target]] = defaultdict(list)
    for target in targets:
        by_host[target.host].append(target)
    ordered: list[Target] = []
    queues = list(by_host.values())
    depth = 0
    while queues:
        queues = [queue for queue in queues if depth < len(queue)]
        ordered.extend(queue[depth] for queue in queues)
        depth += 1
    return ordered
