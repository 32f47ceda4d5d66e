"""Web archives: finding the captures (mementos) of a lost link in Wayback CDX servers and
Memento TimeMaps (RFC 7089), and choosing the one to recover.

    sources   --archives items -> ArchiveSource (kind, BASE, limits)
    cdx       the CDX API query and its JSON answer -> Memento
    timemap   link-format TimeMaps -> Memento
    choose    the capture closest to the citing document's date; where a redirect leads
    lookup    one archive asked through the fetch stack -> Lookup (mementos, or why not)
"""

from __future__ import annotations

from archiver.archives.answers import GarbledAnswer
from archiver.archives.cdx import cdx_query, parse_cdx
from archiver.archives.choose import (
    choose,
    choose_redirect,
    document_moment,
    ranked,
    redirect_target,
)
from archiver.archives.lookup import Lookup, lookup, query_url
from archiver.archives.sources import ArchiveSource, archive_sources
from archiver.archives.timemap import parse_timemap, raw_memento_url, timemap_url

__all__ = [
    "ArchiveSource",
    "GarbledAnswer",
    "Lookup",
    "archive_sources",
    "cdx_query",
    "choose",
    "choose_redirect",
    "document_moment",
    "lookup",
    "parse_cdx",
    "parse_timemap",
    "query_url",
    "ranked",
    "raw_memento_url",
    "redirect_target",
    "timemap_url",
]
