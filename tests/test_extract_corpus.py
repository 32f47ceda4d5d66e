"""Extraction on real mirrored documents, against expected links reviewed by hand.

tests/data/corpus/ holds copies of dev-corpus documents and the dev corpus's SOURCES.tsv (where
each of its 74 documents comes from and which template it follows). tests/data/expected/ has,
per document, `<file>.tsv`: every link the document holds as `role<TAB>url[<TAB>via]`, with
`!reason raw` for what cannot be fetched. Each expected file was checked against the document
by reading it; its `# NOTE:` lines record the debatable calls.
"""

from __future__ import annotations

import csv
from collections import Counter
from pathlib import Path

import pytest

from archiver.extract.documents import read_document
from archiver.extract.links import extract_links
from archiver.models import Link

DATA = Path(__file__).resolve().parent / "data"
CORPUS = DATA / "corpus"
EXPECTED = DATA / "expected"
DOCUMENTS = sorted(path.name.removesuffix(".tsv") for path in EXPECTED.glob("*.tsv"))
Row = tuple[str, ...]


def row_of(link: Link) -> Row:
    target = (
        link.url if link.url is not None else f"!{link.reason} " + " ".join(link.raw.split())[:80]
    )
    return (link.role.value, target, *([link.via] if link.via else []))


def expected_rows(name: str) -> list[Row]:
    lines = (EXPECTED / f"{name}.tsv").read_text(encoding="utf-8").splitlines()
    return [tuple(line.split("\t")) for line in lines if line and not line.startswith("#")]


def templates() -> dict[str, str]:
    with (CORPUS / "SOURCES.tsv").open(encoding="utf-8", newline="") as handle:
        return {row["file"]: row["template"] for row in csv.DictReader(handle, delimiter="\t")}


@pytest.mark.parametrize("name", DOCUMENTS)
def test_links_match_the_reviewed_list_exactly(name: str) -> None:
    links = extract_links(read_document(str(CORPUS / name)))
    got = Counter(row_of(link) for link in links)
    want = Counter(expected_rows(name))
    assert got - want == Counter(), "found but not expected"
    assert want - got == Counter(), "expected but not found"


def test_expected_lists_cover_every_template_of_the_corpus() -> None:
    known = templates()
    assert len(DOCUMENTS) >= 25
    assert set(DOCUMENTS) <= set(known)
    assert len(set(known.values())) == 22
    assert {known[name] for name in DOCUMENTS} == set(known.values())


def test_every_expected_file_names_its_document_and_template() -> None:
    known = templates()
    for name in DOCUMENTS:
        head = (EXPECTED / f"{name}.tsv").read_text(encoding="utf-8").splitlines()[:2]
        assert head == [f"# {name}", f"# template (SOURCES.tsv): {known[name]}"]
