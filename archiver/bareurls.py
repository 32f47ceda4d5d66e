"""Bare URLs in running text: where one starts, and where it ends inside Chinese prose. Pure.

A candidate is anchored on `://` or `www.`, skipped when it sits inside an HTML tag, an HTML
comment or a Markdown link construct (those passes report it), and cut where the URL ends:

- at the first non-ASCII character of the path (`https://bit.ly/3jIj2sn美国` ends before 美),
  unless the run, less trailing full-width punctuation, ends like a file name: then the path
  really holds Chinese (`.../【720评论】...作用（1）-428311.html`) and is kept whole;
- in the host, at full-width punctuation after an ASCII name (`http://www.rfa.org。`); a host
  that starts with non-ASCII text is kept to its end, so `http://美国务卿：...` is reported as
  a bad host rather than silently shortened;
- before trailing `.,;:!?*'_` and an unbalanced `)` or `]`.
"""

from __future__ import annotations

import bisect
import re
from collections.abc import Iterator

from archiver.roles import Hit, find_all

_COMMENT = re.compile(r"<!--.*?-->", re.DOTALL)
_RUN = re.compile(r"[^\s<>\"'`\\]+")
_NON_ASCII = re.compile(r"[^\x00-\x7f]")
_FILE_END = re.compile(r"\.[A-Za-z0-9]{2,5}$")
_SCHEME_CHARS = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+.-")
_URL_NEIGHBOURS = _SCHEME_CHARS | frozenset("/@_")
_TAG_START = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz!/?")
_TRAILING = ".,;:!?*'_"
_CLOSERS = {")": "(", "]": "["}
FULLWIDTH_PUNCT = "，。；：）」』》】、！？…“”‘’（「『《【·～　"
MAX_SCHEME = 32


class Covered:
    """Sorted, merged spans of text that another pass already reads (Markdown links)."""

    def __init__(self, spans: list[tuple[int, int]]) -> None:
        merged: list[tuple[int, int]] = []
        for start, end in sorted(spans):
            if merged and start <= merged[-1][1]:
                merged[-1] = (merged[-1][0], max(end, merged[-1][1]))
            else:
                merged.append((start, end))
        self._starts = [start for start, _ in merged]
        self._spans = merged

    def __contains__(self, pos: int) -> bool:
        index = bisect.bisect_right(self._starts, pos) - 1
        return index >= 0 and pos < self._spans[index][1]


def bare_hits(text: str, markdown: list[tuple[int, int]]) -> list[Hit]:
    """URLs written as plain text, outside tags, comments and the Markdown spans given."""
    comments = [m.span() for m in _COMMENT.finditer(text)] if "<!--" in text else []
    covered = Covered(markdown + comments)
    hits: list[Hit] = []
    done = 0
    for pos, scheme in _anchors(text):
        start = _start(text, pos, scheme)
        if start is None or start < done or start in covered or _in_tag(text, start):
            continue
        run = _RUN.match(text, start)
        if run is None:
            continue
        url = trim_bare_url(run.group(0))
        done = start + max(len(url), 1)
        if ("://" in url and url.split("://", 1)[1]) or url[:4].lower() == "www.":
            hits.append(Hit(start, url, "text"))
    return hits


def _anchors(text: str) -> Iterator[tuple[int, bool]]:
    """Offsets of every `://` (True) and `www.` (False), in order; str.find is fast on MBs."""
    found = [(pos, True) for pos in find_all(text, "://")]
    found += [(pos, False) for needle in ("www.", "WWW.") for pos in find_all(text, needle)]
    return iter(sorted(found))


def _start(text: str, pos: int, scheme: bool) -> int | None:
    """Where a bare URL around `pos` (its `://` or its `www.`) begins, or None."""
    start = pos
    if scheme:
        while start > 0 and pos - start < MAX_SCHEME and text[start - 1] in _SCHEME_CHARS:
            start -= 1
        while start < pos and not text[start].isalpha():
            start += 1
        if start == pos:
            return None
    if start > 0 and text[start - 1] in _URL_NEIGHBOURS:
        return None
    return start


def _in_tag(text: str, pos: int) -> bool:
    """True between a tag's `<` and `>`."""
    opening = text.rfind("<", 0, pos)
    if opening == -1 or text[opening + 1 : opening + 2] not in _TAG_START:
        return False
    if text.rfind(">", opening, pos) != -1:
        return False
    closing = text.find(">", pos)
    following = text.find("<", pos)
    return closing != -1 and (following == -1 or closing < following)


def trim_bare_url(run: str) -> str:
    """The URL at the start of `run`, a whitespace-free stretch of text (see module doc)."""
    while True:
        trimmed = _cut_non_ascii(run)
        while trimmed and (trimmed[-1] in _TRAILING or _unbalanced_closer(trimmed)):
            trimmed = trimmed[:-1]
        if trimmed == run:
            return run
        run = trimmed


def _unbalanced_closer(run: str) -> bool:
    opener = _CLOSERS.get(run[-1])
    return opener is not None and run.count(run[-1]) > run.count(opener)


def _cut_non_ascii(run: str) -> str:
    non_ascii = _NON_ASCII.search(run)
    if non_ascii is None:
        return run
    cut = non_ascii.start()
    host_start = run.find("://") + 3 if "://" in run[:cut] else 0
    ends = [pos for pos in (run.find(sep, host_start) for sep in "/?#") if pos != -1]
    host_end = min(ends, default=len(run))
    if host_start < cut < host_end:
        return run[:cut]
    tail = _path_part(run[host_end:])
    return run[:host_end] + tail if tail else run[:host_end].rstrip(FULLWIDTH_PUNCT)


def _path_part(tail: str) -> str:
    """Path, query and fragment: cut at the first non-ASCII unless it ends like a file name."""
    non_ascii = _NON_ASCII.search(tail)
    if non_ascii is None:
        return tail
    stripped = tail.rstrip(FULLWIDTH_PUNCT)
    if _FILE_END.search(stripped):
        return stripped
    return tail[: non_ascii.start()]
