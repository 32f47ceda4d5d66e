"""Bare URLs in running text: where one starts, and where it ends inside Chinese prose. Pure.

A candidate is anchored on `://` or `www.`, skipped when it sits inside an HTML tag, an HTML
comment or a Markdown link construct (those passes report it), and cut where the URL ends:

- at the first non-ASCII character of the path (`https://bit.ly/3jIj2sn美国` ends before 美),
  unless the run, less trailing full-width punctuation, ends like a file name: then the path
  really holds Chinese (`.../【720评论】...作用（1）-428311.html`) and is kept whole;
- in the host, at full-width punctuation after an ASCII name (`http://www.rfa.org。`); a host
  that starts with non-ASCII text is kept to its end, so `http://美国务卿：...` is reported as
  a bad host rather than silently shortened;
- before trailing `.,;:!?*'_` and an unbalanced `)` or `]`;
- at a character reference that the text means as what ends a URL: the run is read as the
  decoded text a reader sees (HTML Standard, character references; CommonMark does the same), so
  `&lt;http://host/a.jpg&gt;` holds `http://host/a.jpg`, and `&quot;`, `&nbsp;`, `&#10;` end a
  URL as `"`, a no-break space or a line break would; `&amp;` stays part of it.
"""

from __future__ import annotations

import heapq
import html
import re
from collections.abc import Iterator

from archiver.extract.roles import Hit, Spans, iter_all

_BRACKET = re.compile(r"[<>]")
_SEP = re.compile(r"[/?#]")
_RUN = re.compile(r"[^\s<>\"'`\\]+")
_ENDS_RUN = re.compile(r"[\s<>\"'`\\]")  # what `_RUN` stops at, decoded
# A character reference as the HTML Standard reads one in text (legacy names without `;` too).
_REFERENCE = re.compile(r"&(?:#[0-9]{1,8};?|#[xX][0-9a-fA-F]{1,8};?|[A-Za-z][A-Za-z0-9]{0,31};?)")
_NON_ASCII = re.compile(r"[^\x00-\x7f]")
_FILE_END = re.compile(r"\.[A-Za-z0-9]{2,5}$")
_SCHEME_CHARS = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+.-")
_URL_NEIGHBOURS = _SCHEME_CHARS | frozenset("/@_")
_TAG_START = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz!/?")
_TRAILING = ".,;:!?*'_"
_CLOSERS = {")": "(", "]": "["}
_TRAILING_OR_CLOSER = frozenset(_TRAILING + ")]")
FULLWIDTH_PUNCT = "，。；：）」』》】、！？…“”‘’（「『《【·～　"
MAX_SCHEME = 32


def bare_hits(text: str, markdown: list[tuple[int, int]]) -> list[Hit]:
    """URLs written as plain text, outside tags, comments and the Markdown spans given."""
    return list(iter_bare_hits(text, markdown))


def iter_bare_hits(text: str, markdown: list[tuple[int, int]]) -> Iterator[Hit]:
    """`bare_hits` one at a time, in document order.

    Linear in the length of `text`: each candidate costs the length of the URL it yields (or of
    the stretch it skips), and every scan of the text moves forward only.
    """
    covered = Spans(markdown + comment_spans(text))
    tags = _Tags(text)
    runs = _Runs(text)
    done = 0
    for pos, scheme in _anchors(text):
        start = _start(text, pos, scheme)
        if start is None or start < done or start in covered or tags.inside(start):
            continue
        end = runs.end(start)
        if end == start:
            continue
        url = trim_bare_url(_before_ending_reference(runs.candidate(start, end)))
        done = start + max(len(url), 1)
        if ("://" in url and url.split("://", 1)[1]) or url[:4].lower() == "www.":
            yield Hit(start, url, "text")


def comment_spans(text: str) -> list[tuple[int, int]]:
    """`<!-- ... -->` spans, found with forward searches only (an unclosed one is no comment)."""
    spans: list[tuple[int, int]] = []
    pos = text.find("<!--")
    while pos != -1:
        end = text.find("-->", pos + 4)
        if end == -1:
            break
        spans.append((pos, end + 3))
        pos = text.find("<!--", end + 3)
    return spans


class _Tags:
    """Whether an offset sits between a tag's `<` and `>`: the nearest bracket before it is a
    `<` opening a tag, and the nearest one after it is a `>`. Offsets are asked in (nearly)
    increasing order, so each search resumes where the last one stopped."""

    def __init__(self, text: str) -> None:
        self.text = text
        self.cursor = 0  # brackets before the cursor are known
        self.last = -1  # offset of the last bracket before the cursor
        self.ahead = (len(text) + 1, -1)  # (asked from, first bracket at or after it)

    def inside(self, pos: int) -> bool:
        """True between a tag's `<` and `>`."""
        before = self._before(pos)
        if before == -1 or self.text[before] != "<":
            return False
        if self.text[before + 1 : before + 2] not in _TAG_START:
            return False
        after = self._after(pos)
        return after != -1 and self.text[after] == ">"

    def _before(self, pos: int) -> int:
        if pos < self.cursor:
            if self.last < pos:
                return self.last
            return max(self.text.rfind("<", 0, pos), self.text.rfind(">", 0, pos))
        found = max(self.text.rfind("<", self.cursor, pos), self.text.rfind(">", self.cursor, pos))
        if found != -1:
            self.last = found
        self.cursor = pos
        return self.last

    def _after(self, pos: int) -> int:
        asked, found = self.ahead
        if not (asked <= pos and (found == -1 or pos <= found)):
            match = _BRACKET.search(self.text, pos)
            found = match.start() if match else -1
        self.ahead = (pos, found)
        return found


class _Runs:
    """The whitespace-free stretches URLs are cut from, each measured once."""

    def __init__(self, text: str) -> None:
        self.text = text
        self.span = (0, 0)
        self.stripped = 0  # the run's end less trailing full-width punctuation
        self.file_end = False  # whether the run so stripped ends like a file name

    def end(self, start: int) -> int:
        """Where the run holding `start` ends (`start` itself if none begins there)."""
        first, last = self.span
        if not first <= start < last:
            match = _RUN.match(self.text, start)
            if match is None:
                return start
            self.span = match.span()
            stripped = match.group(0).rstrip(FULLWIDTH_PUNCT)
            self.stripped = match.start() + len(stripped)
            self.file_end = _FILE_END.search(stripped[-6:]) is not None
        return self.span[1]

    def candidate(self, start: int, end: int) -> str:
        """`_cut_non_ascii(text[start:end])`, reading no further than the URL it yields
        (or, when it yields the rest of the run, than the run)."""
        text = self.text
        non_ascii = _NON_ASCII.search(text, start, end)
        if non_ascii is None:
            return text[start:end]
        cut = non_ascii.start()
        scheme = text.find("://", start, cut)
        host_start = scheme + 3 if scheme != -1 else start
        if host_start < cut:
            sep = _SEP.search(text, host_start, cut)
            if sep is None:
                return text[start:cut]  # cut inside the host
        else:
            sep = _SEP.search(text, host_start, end)
            if sep is None:
                return text[start:end].rstrip(FULLWIDTH_PUNCT)
            if _NON_ASCII.search(text, sep.start(), end) is None:
                return text[start:end]
        if self.file_end:
            return text[start : self.stripped]
        return text[start : max(cut, _first_non_ascii(text, sep.start(), end))]


def _before_ending_reference(run: str) -> str:
    """`run` up to its first character reference that decodes to what ends a URL (`&gt;`,
    `&quot;`, `&nbsp;`); the whole run if none does. Linear: each reference is decoded once."""
    amp = run.find("&")
    while amp != -1:
        reference = _REFERENCE.match(run, amp)
        if reference is not None and _ENDS_RUN.match(html.unescape(reference.group(0))):
            return run[:amp]
        amp = run.find("&", amp + 1)
    return run


def _first_non_ascii(text: str, start: int, end: int) -> int:
    found = _NON_ASCII.search(text, start, end)
    return found.start() if found else end


def _anchors(text: str) -> Iterator[tuple[int, bool]]:
    """Offsets of every `://` (True) and `www.` (False), in order, found lazily."""
    return heapq.merge(
        ((pos, True) for pos in iter_all(text, "://")),
        ((pos, False) for pos in iter_all(text, "www.")),
        ((pos, False) for pos in iter_all(text, "WWW.")),
    )


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


def trim_bare_url(run: str) -> str:
    """The URL at the start of `run`, a whitespace-free stretch of text (see module doc)."""
    if run.isascii() and run[-1:] not in _TRAILING_OR_CLOSER:
        return run  # the common case, decided at C speed
    while True:
        trimmed = _trim_end(_cut_non_ascii(run))
        if trimmed == run:
            return run
        run = trimmed


def _trim_end(run: str) -> str:
    """`run` less trailing punctuation and unbalanced closers, counting brackets once."""
    counts = {char: run.count(char) for char in "()[]"}
    end = len(run)
    while end:
        char = run[end - 1]
        opener = _CLOSERS.get(char)
        if char in _TRAILING or (opener is not None and counts[char] > counts[opener]):
            if char in counts:
                counts[char] -= 1
            end -= 1
        else:
            break
    return run[:end]


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
