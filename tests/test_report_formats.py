"""One registry of report formats (report/formats.py): each format renders a collection's
report, and `archiver report --format` offers exactly the registered names."""

from __future__ import annotations

import csv
import io
import json

import click
import pytest

from archiver.cli import cli
from archiver.errors import InputError
from archiver.models import Role, Status
from archiver.report.build import build_report
from archiver.report.formats import FORMATS, render
from archiver.report.model import ReportData
from archiver.store.linetypes import DocumentLine, LinkLine

KEPT = "http://kept.example/a.jpg"
GONE = "http://gone.example/b.jpg"


def _small() -> ReportData:
    links = [
        LinkLine(KEPT, Role.IMAGE, ("d.md",), Status.ARCHIVED, 200,
                 fetched_at="2026-01-02T03:04:05Z"),
        LinkLine(GONE, Role.IMAGE, ("d.md",), Status.DEAD, 404, "http-404: not found"),
    ]  # fmt: skip
    return build_report("news", links, [DocumentLine("d.md", "A title", None)], [])


@pytest.mark.parametrize("name", list(FORMATS))
def test_every_registered_format_renders_what_the_collection_lost(name: str) -> None:
    text = render(_small(), name)
    assert GONE in text
    assert "http-404" in text
    assert text.endswith("\n")
    assert FORMATS[name].name == name


def test_the_machine_formats_parse_as_what_their_media_type_says() -> None:
    data = _small()
    assert FORMATS["json"].media_type == "application/json"
    parsed = json.loads(render(data, "json"))
    assert [link["url"] for link in parsed["links"]] == [KEPT, GONE]
    assert FORMATS["csv"].media_type.startswith("text/csv")
    rows = list(csv.DictReader(io.StringIO(render(data, "csv"))))
    assert [(row["url"], row["status"]) for row in rows] == [(KEPT, "archived"), (GONE, "dead")]


def test_each_format_has_its_own_file_suffix() -> None:
    suffixes = [spec.suffix for spec in FORMATS.values()]
    assert len(set(suffixes)) == len(suffixes)
    assert all(suffix.isalnum() for suffix in suffixes)


def test_the_command_line_offers_exactly_the_registered_formats() -> None:
    option = next(p for p in cli.commands["report"].params if "--format" in p.opts)
    assert isinstance(option.type, click.Choice)
    assert list(option.type.choices) == list(FORMATS)
    assert option.default == "html"


def test_an_unknown_format_is_refused_naming_the_known_ones() -> None:
    with pytest.raises(InputError, match="html, md, csv, json"):
        render(_small(), "pdf")
