"""Markdown links, images and reference definitions as CommonMark reads them. Pure.

The parser is markdown-it-py (`commonmark` preset): escapes, entities, `<...>` targets, titles,
nested brackets, reference definitions and uses (`[t][ref]`, `[ref]`, `![alt][ref]`), autolinks,
code spans and fences (no links in them). Raw HTML is off, so Markdown inside embedded HTML is
still read (`archiver.extract.html` reads the HTML); indented code is off (mirrored pages indent
their HTML). Targets are taken as written once unescaped: not encoded, no scheme refused.

markdown-it-py is Python (30-60 microseconds a link, 20 a character on a run of `[`), too slow
to read every document whole (the dev corpus took 670 ms against 15 ms for the patterns). So
the linear-time patterns below (the reading before this module) read the whole document, and
markdown-it-py re-reads only the chunks (stretches between blank lines) around each place
where its reading can differ (`_Triggers`): a backslash, a backtick, a tilde, reference
syntax, a `](` the patterns do not cover, a construct holding `<`, an entity or a link in its
label. Their pattern hits are dropped for its hits. All those chunks go to one parse, so that
a definition anywhere serves a use anywhere (an autolink of another scheme than http(s) is read
only in such a chunk). A chunk larger than `MAX_CHUNK_CHARS`, and every chunk once
`MAX_PARSED_CHARS` have been parsed, is read by the patterns: markdown-it-py is linear on the
pathological inputs tried (tests/test_markdown.py), and the bounds keep a document's parse to
a few seconds whatever it holds.

Positions: markdown-it maps blocks to lines only. Its inline link rules are wrapped to note
where each construct starts and ends in its block's inline text, whose lines are found in their
source lines (less container markers and indentation): that gives the construct's span in the
document (for bare-URL scanning to skip) and the hit's position (after `](`, else the
construct's start). A definition's position is its `]:`.
"""

from __future__ import annotations

import bisect
import functools
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from markdown_it import MarkdownIt
from markdown_it.rules_core import StateCore
from markdown_it.rules_inline import StateInline
from markdown_it.token import Token

from archiver.extract.roles import Hit, iter_all
from archiver.models import Role

MAX_CHUNK_CHARS = 64 * 1024
MAX_PARSED_CHARS = 256 * 1024
# Possessive quantifiers and atomic groups (Python 3.11) leave one way to match each stretch,
# and every open stretch stops at a bracket or a line end: a failed attempt costs the length of
# its own construct, never an exponential or quadratic search.
_MD_URL = (
    r"(<[^<>\n]*+>|[^\s()<>]*+(?:\([^\s()]*+\)[^\s()<>]*+)*+)"
    r"(?>\s++(?:\"[^\"\n]*+\"|'[^'\n]*+'))?\s*+\)"
)
_MD_IMAGE = re.compile(r"!\[[^\[\]\n]*+\]\(\s*+" + _MD_URL)
_MD_LINK = re.compile(
    r"\[(?:[^\[\]\n!]++|!(?!\[)|(?>!?\[[^\[\]\n]*+\](?:\([^()\s]*+\))?))*+\]\(\s*+" + _MD_URL
)
_MD_REF = re.compile(r"[ \t]{0,3}\[[^\]\n]++\]:[ \t]*+<?([^\s<>\[]++)>?")
_AUTOLINK = re.compile(r"<(https?://[^<>\s]++)>", re.IGNORECASE)
_PATTERNS: tuple[tuple[re.Pattern[str], str, str], ...] = (  # pattern, found_as, kind
    (_MD_IMAGE, "md-image", Role.IMAGE),
    (_MD_LINK, "md-link", ""),
    (_MD_REF, "md-ref", ""),
    (_AUTOLINK, "md-link", ""),
)
_BLANK_LINE = re.compile(r"\n[ \t\r]*+\n")
_ENTITY = re.compile(r"&(?:#[0-9]{1,7}|#[xX][0-9a-fA-F]{1,6}|[A-Za-z][A-Za-z0-9]{1,31});")
_LINK_LABEL = re.compile(r"\[([^\n]*)\]\(")
_SEPARATOR = "\n\n"

InlineRule = Callable[[StateInline, bool], bool]


@dataclass
class MarkdownRead:
    """Hits (offsets into the document) and the spans their constructs cover."""

    hits: list[Hit] = field(default_factory=list)
    spans: list[tuple[int, int]] = field(default_factory=list)


def read_markdown(text: str) -> MarkdownRead:
    """Read `text`'s Markdown links, images and definitions as CommonMark does (see module).

    Hits are `md-image` (kind image), `md-link` and `md-ref` (kind ""), in no set order.
    Linear in the length of `text`; at most `MAX_PARSED_CHARS` characters are parsed by
    markdown-it-py.
    """
    read = MarkdownRead()
    links, definitions = pattern_read(text, read)
    chunks: list[tuple[int, int]] = []
    parsed = floor = 0
    triggers = _Triggers(text, links, definitions)
    while parsed < MAX_PARSED_CHARS and (trigger := triggers.first(floor)) != -1:
        start = _chunk_start(text, trigger, floor)
        blank = _BLANK_LINE.search(text, trigger)
        floor = blank.start() + 1 if blank else len(text)
        if floor - start <= MAX_CHUNK_CHARS and parsed + floor - start <= MAX_PARSED_CHARS:
            chunks.append((start, floor))
            parsed += floor - start
    if chunks:
        starts = [start for start, _ in chunks]
        kept = [
            index for index, hit in enumerate(read.hits) if not _inside(chunks, starts, hit.pos)
        ]
        read.hits = [read.hits[index] for index in kept]
        read.spans = [read.spans[index] for index in kept]
        _commonmark_read(text, chunks, read)
    return read


def _inside(chunks: list[tuple[int, int]], starts: list[int], pos: int) -> bool:
    index = bisect.bisect_right(starts, pos) - 1
    return index >= 0 and pos < chunks[index][1]


class _Triggers:
    """Offsets where CommonMark may read `text` otherwise than the patterns: a backslash, a
    backtick, a tilde (fences), reference syntax (`][`, `]:`; every `]` when `references`, as
    a use may come before its definition), a `](` no pattern covers (a label over lines,
    nested parentheses), a construct holding `<`, an entity or a link in its label.

    `first(pos)` is the first at or after `pos`; asked with increasing `pos`, each source
    remembers where it stands, so all the asking is one pass (one-character finds are fast).
    """

    def __init__(self, text: str, links: list[re.Match[str]], references: bool) -> None:
        self.text = text
        self.references = references
        self.covered: set[int] = set()
        flagged: list[int] = []
        for match in links:
            construct, start = match.group(0), match.start()
            if "<" in construct or ("&" in construct and _ENTITY.search(construct)):
                flagged.append(start)  # an angle target or an entity
            if construct.count("[") == 1:  # no bracket in the label: its one `](` ends it
                self.covered.add(start + construct.find("]("))
                continue
            label = _LINK_LABEL.match(construct)
            inner = label.group(1) if label else ""
            if inner.count("[") != inner.count("!["):
                flagged.append(start)  # a link in a link's label
            self.covered.add(start + (label.end() - 2 if label else 0))
            self.covered.update(start + 1 + at for at in iter_all(inner, "]("))
        self.flagged = sorted(flagged)
        self.next = dict.fromkeys(("\\", "`", "~", "]"), -2)  # -2: not looked for yet

    def first(self, pos: int) -> int:
        """The first trigger at or after `pos`, or -1."""
        index = bisect.bisect_left(self.flagged, pos)
        found = [self.flagged[index]] if index < len(self.flagged) else []
        for mark in self.next:
            at = self.next[mark]
            if at == -2 or -1 < at < pos:
                at = self._bracket(pos) if mark == "]" else self.text.find(mark, pos)
                self.next[mark] = at
            if at != -1:
                found.append(at)
        return min(found, default=-1)

    def _bracket(self, pos: int) -> int:
        text = self.text
        at = text.find("]", pos)
        while at != -1 and not (
            self.references
            or text.startswith(("[", ":"), at + 1)
            or (text.startswith("(", at + 1) and at not in self.covered)
        ):
            at = text.find("]", at + 1)
        return at


def _chunk_start(text: str, pos: int, floor: int) -> int:
    """The start of the line after the last blank line before `pos` (not before `floor`)."""
    line_end = text.rfind("\n", floor, pos)
    while line_end != -1:
        line_start = text.rfind("\n", floor, line_end)
        first = line_start + 1 if line_start != -1 else floor
        if not text[first:line_end].strip(" \t\r"):
            return line_end + 1
        line_end = line_start
    return floor


def pattern_read(text: str, read: MarkdownRead) -> tuple[list[re.Match[str]], bool]:
    """Add the hits of the linear-time patterns in `text` to `read` (the reading before
    CommonMark's: no escapes, entities or reference uses); (the link matches, whether any
    reference definition was seen)."""
    links: list[re.Match[str]] = []
    definitions = False
    has_links = "](" in text
    for pattern, found_as, kind in _PATTERNS:
        if pattern is _MD_REF:
            matches: Iterable[re.Match[str]] = _ref_matches(text)
        elif pattern is _AUTOLINK or has_links:
            matches = pattern.finditer(text)
        else:
            continue
        for match in matches:
            definitions = definitions or pattern is _MD_REF
            if pattern is _MD_LINK:
                links.append(match)
                if match.start() and text[match.start() - 1] == "!":
                    continue
            read.hits.append(Hit(match.start(1), _md_target(match.group(1)), found_as, kind))
            read.spans.append(match.span())
    return links, definitions


def _ref_matches(text: str) -> list[re.Match[str]]:
    """Reference definitions, tried only at the start of lines holding `]:` (fast on MBs)."""
    return [m for m in (_MD_REF.match(text, line) for line in line_starts(text, "]:")) if m]


def line_starts(text: str, needle: str) -> list[int]:
    """The start of every line holding `needle`, once each, in one pass over `text`."""
    starts: list[int] = []
    line = scanned = 0
    pos = text.find(needle)
    while pos != -1:
        newline = text.rfind("\n", scanned, pos)
        if newline != -1:
            line = newline + 1
        scanned = pos
        if not starts or starts[-1] != line:
            starts.append(line)
        pos = text.find(needle, pos + 1)
    return starts


def _md_target(target: str) -> str:
    return target[1:-1] if target.startswith("<") and target.endswith(">") else target


def _commonmark_read(text: str, chunks: list[tuple[int, int]], read: MarkdownRead) -> None:
    """Parse `chunks` of `text` as one CommonMark document; add their hits to `read`."""
    joined = _SEPARATOR.join(text[start:end] for start, end in chunks)
    joined = joined.replace("\r", " ").replace("\0", "\ufffd")  # as parsed, same offsets
    places = _Places(joined, chunks)
    env: dict[str, Any] = {"archiver_found": []}
    _parser().parse(joined, env)
    for block, start, end, href, found_as in env["archiver_found"]:
        first, last = places.inline(block, start), places.inline(block, end)
        target = block.content.rfind("](", start, end)
        pos = places.inline(block, target + 2) if target != -1 else first
        kind = Role.IMAGE if found_as == "md-image" else ""
        read.hits.append(Hit(pos, href, found_as, kind))
        read.spans.append((first, last))
    definitions = list(env.get("references", {}).values()) + env.get("duplicate_refs", [])
    for definition in definitions:
        first, last = places.lines(definition["map"])
        colon = joined.find("]:", places.joined_line(definition["map"][0]))
        pos = places.text_of(colon + 2) if colon != -1 else first
        read.hits.append(Hit(pos, definition["href"], "md-ref"))
        read.spans.append((first, last))


class _Places:
    """Offsets in the parsed text (`joined`) and the document, for lines and inline text."""

    def __init__(self, joined: str, chunks: list[tuple[int, int]]) -> None:
        self.joined = joined
        self.line_starts = [0, *(m.end() for m in re.finditer("\n", joined))]
        self.chunk_joined: list[int] = []
        self.chunk_text: list[int] = []
        offset = 0
        for start, end in chunks:
            self.chunk_joined.append(offset)
            self.chunk_text.append(start)
            offset += end - start + len(_SEPARATOR)
        self._inline_lines: dict[int, tuple[list[int], list[int]]] = {}

    def text_of(self, joined_pos: int) -> int:
        """The document offset of an offset in the parsed text."""
        index = max(bisect.bisect_right(self.chunk_joined, joined_pos) - 1, 0)
        return self.chunk_text[index] + joined_pos - self.chunk_joined[index]

    def joined_line(self, line: int) -> int:
        return self.line_starts[min(line, len(self.line_starts) - 1)]

    def lines(self, line_map: list[int]) -> tuple[int, int]:
        """The document span of lines [first, last)."""
        end = self.joined_line(line_map[1]) - 1 if line_map[1] < len(self.line_starts) else None
        return self.text_of(self.joined_line(line_map[0])), self.text_of(
            len(self.joined) if end is None else max(end, 0)
        )

    def inline(self, block: Token, pos: int) -> int:
        """The document offset of `pos` in `block.content` (an inline token's text)."""
        if id(block) not in self._inline_lines:
            self._inline_lines[id(block)] = self._line_offsets(block)
        content_starts, joined_starts = self._inline_lines[id(block)]
        index = bisect.bisect_right(content_starts, pos) - 1
        return self.text_of(joined_starts[index] + pos - content_starts[index])

    def _line_offsets(self, block: Token) -> tuple[list[int], list[int]]:
        """Where each line of `block.content` starts there and in the parsed text."""
        first_line = block.map[0] if block.map else 0
        content_starts: list[int] = []
        joined_starts: list[int] = []
        content_start = 0
        for index, line in enumerate(block.content.split("\n")):
            line_start = self.joined_line(first_line + index)
            line_end = self.joined.find("\n", line_start)
            found = self.joined.find(line, line_start, line_end if line_end >= 0 else None)
            content_starts.append(content_start)
            joined_starts.append(found if found != -1 else line_start)
            content_start += len(line) + 1
        return content_starts, joined_starts


@functools.cache
def _parser() -> MarkdownIt:
    md = MarkdownIt("commonmark", {"html": False})
    md.disable(["code", "emphasis", "newline", "text_join"])
    md.normalizeLink = lambda url: url  # type: ignore[method-assign]
    md.validateLink = lambda url: True  # type: ignore[method-assign]
    md.core.ruler.at("inline", _inline_with_blocks)
    for name, found_as in (("link", "md-link"), ("image", "md-image"), ("autolink", "md-link")):
        rule = md.inline.ruler.__rules__[md.inline.ruler.__find__(name)].fn
        md.inline.ruler.at(name, _noting(rule, found_as))
    return md


def _inline_with_blocks(state: StateCore) -> None:
    """markdown-it's core `inline` rule, telling the wrapped rules which block they are in."""
    for token in state.tokens:
        if token.type == "inline":
            token.children = token.children or []
            state.env["archiver_block"] = token
            state.md.inline.parse(token.content, state.md, state.env, token.children)


def _noting(rule: InlineRule, found_as: str) -> InlineRule:
    """`rule`, noting each construct it reads: (block, start, end, target, found_as)."""

    def noted(state: StateInline, silent: bool) -> bool:
        start, count = state.pos, len(state.tokens)
        read = rule(state, silent)
        if not read or silent:
            return read
        for token in state.tokens[count:]:
            target = token.attrGet("src" if token.type == "image" else "href")
            if token.type in ("link_open", "image") and isinstance(target, str):
                if token.info == "auto" and target.startswith("mailto:"):
                    break  # an e-mail autolink: no URL was written
                found = (state.env["archiver_block"], start, state.pos, target, found_as)
                state.env["archiver_found"].append(found)
                break
        return True

    return noted
