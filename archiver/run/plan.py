"""Documents -> the set of canonical URLs to consider, each with its role and citing documents."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import replace
from typing import TYPE_CHECKING

from archiver.errors import InputError
from archiver.extract.documents import find_inputs, read_document, shown, unfit_reason, warn
from archiver.extract.links import extract_document
from archiver.models import Document, Extracted, PlannedDocument, Role, Target

if TYPE_CHECKING:
    from archiver.extract.cache import ExtractCache

_BITS = {role: 1 << n for n, role in enumerate(Role)}
_ROLES_OF: dict[int, frozenset[Role]] = {}


def _roles(bits: int) -> frozenset[Role]:
    found = _ROLES_OF.get(bits)
    if found is None:
        found = _ROLES_OF[bits] = frozenset(role for role in Role if bits & _BITS[role])
    return found


class Plan:
    """The documents of a run and every canonical URL they cite, each with its roles and
    citing documents. Kept compact (a million URLs fit in a few hundred MB): a URL maps to a
    bit set of roles and its documents; `Target`s are made when asked for."""

    def __init__(self) -> None:
        self.documents: list[PlannedDocument] = []
        self.skipped: list[PlannedDocument] = []  # files of walked folders that are no documents
        self.links_found = 0
        self._index: dict[str, tuple[int, tuple[str, ...] | dict[str, None]]] = {}

    def add(self, extracted: Extracted) -> None:
        """Take in one document's part: a skipped file is kept aside; a document's links are
        indexed by URL, each URL once with every role and citing document it has."""
        document = extracted.document
        if document.skipped is not None:
            self.skipped.append(document)
            return
        self.documents.append(document)
        self.links_found += sum(document.links.values())
        alone = (document.path,)
        index = self._index
        for url, role in extracted.links:
            bit = _BITS[role]
            found = index.get(url)
            if found is None:
                index[url] = (bit, alone)
                continue
            bits, cited = found
            if cited is alone or (isinstance(cited, dict) and document.path in cited):
                if not bits & bit:
                    index[url] = (bits | bit, cited)
                continue
            if isinstance(cited, tuple):
                cited = dict.fromkeys(cited)
            cited[document.path] = None
            index[url] = (bits | bit, cited)

    def __len__(self) -> int:
        return len(self._index)

    def urls(self) -> Iterator[str]:
        """Every canonical URL of the plan, in the order first cited."""
        return iter(self._index)

    def entries(self) -> dict[str, tuple[int, tuple[str, ...] | dict[str, None]]]:
        """url -> (role bits, citing documents), for loops over a million URLs."""
        return self._index

    @staticmethod
    def roles_of(bits: int) -> frozenset[Role]:
        """The roles of a role bit set, as `entries` gives them."""
        return _roles(bits)

    def roles(self, url: str) -> frozenset[Role]:
        """Every role `url` was found with. Raises KeyError for a URL not in the plan."""
        return _roles(self._index[url][0])

    def cited(self, url: str) -> tuple[frozenset[Role], tuple[str, ...]]:
        """The roles of `url` and the documents that cite it."""
        bits, cited = self._index[url]
        return _roles(bits), cited if isinstance(cited, tuple) else tuple(cited)

    def documents_of(self, url: str) -> tuple[str, ...]:
        """The paths of the documents citing `url`, in the order they were read."""
        cited = self._index[url][1]
        return cited if isinstance(cited, tuple) else tuple(cited)

    def target(self, url: str) -> Target:
        """`url` as a Target (roles and citing documents). Raises KeyError when not planned."""
        return Target(url, self.roles(url), self.documents_of(url))

    def get(self, url: str) -> Target | None:
        """`url` as a Target, or None when the plan does not hold it."""
        return self.target(url) if url in self._index else None

    def targets(self) -> Iterator[Target]:
        """Every URL of the plan as a Target, made as it is asked for."""
        return (self.target(url) for url in self._index)


def load_documents(paths: Sequence[str]) -> list[Document]:
    """Find and read every document; a file named in `paths` that is no text document raises
    InputError before anything is written, one found in a walked folder is warned about and
    left out."""
    documents = []
    for path, named in find_inputs(paths):
        try:
            documents.append(read_document(path))
        except InputError as exc:
            if named:
                raise
            warn(f"{shown(path)}: skipped: {unfit_reason(exc, path)}")
    return documents


def make_plan(extracted: Iterable[Extracted]) -> Plan:
    """The plan of every document part in `extracted`, in order."""
    plan = Plan()
    for one in extracted:
        plan.add(one)
    return plan


def plan_documents(paths: Sequence[str], cache: ExtractCache | None = None) -> Plan:
    """Find, read and extract every document (from `cache` when it is unchanged). A file named
    in `paths` that is no text document raises InputError; one found in a walked folder is
    kept in `Plan.skipped` with its reason, and the run goes on."""
    inputs = find_inputs(paths)
    named = {path for path, was_named in inputs if was_named}

    def one(path: str) -> Extracted:
        try:
            return extract_document(read_document(path))
        except InputError as exc:
            if path in named:
                raise
            skipped = PlannedDocument(path, "", 0, "", "", None, None, None, {})
            return Extracted(replace(skipped, skipped=unfit_reason(exc, path)), [])

    found = [path for path, _ in inputs]
    if cache is None:
        return make_plan(one(path) for path in found)
    return make_plan(cache.extracted(found, one))


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
