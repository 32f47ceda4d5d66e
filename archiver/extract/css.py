"""URLs in CSS, read as CSS Syntax Level 3 tokenizes them (tinycss2). Pure.

A URL is the value of a `url()` token (unquoted, with CSS escapes such as `\\28` or `\\ `
decoded), the string of a `url("...")` or `src("...")` function, a bare string given to
`image-set()` / `-webkit-image-set()` / `image()` (`image-set("a.png" 1x, url(b.png) 2x)`), or
the string after `@import`. Each comes with its context, the declaration's property
(`background-image`) or `@import`, so the caller can say what role it implies.

tinycss2 tokenizes in one forward pass and builds nested blocks without recursion; the walk here
keeps its own stack, so `((((...` a million deep costs its length and no Python frames.
Comments are skipped. CSS without `url(`, `image` or `@import` in it (case-insensitive) is not
tokenized at all: most `style` attributes are colours and sizes.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

import tinycss2  # type: ignore[import-untyped]

_MAYBE_URL = re.compile(r"url\(|image|@import|src\(|\\", re.IGNORECASE)
_STRING_URL_FUNCTIONS = frozenset({"url", "src", "image-set", "-webkit-image-set", "image"})
_BLOCKS = frozenset({"() block", "[] block", "{} block"})

CssUrl = tuple[str, str]  # (URL as CSS reads it, context: property name, "@import" or "")


def css_urls(css: str) -> list[CssUrl]:
    """(URL, context) for every URL in `css`, a style sheet or a `style` attribute's
    declarations, in source order. The context is the lowercased property the URL is a value
    of, `@import`, or "" (outside any declaration). Never raises on any text; linear in its
    length (tinycss2 tokenizes in one forward pass)."""
    if not _MAYBE_URL.search(css):
        return []
    found: list[CssUrl] = []
    context = ident = ""
    for token, function in _walk(tinycss2.parse_component_value_list(css, skip_comments=True)):
        kind = token.type
        if kind == "url" or (
            kind == "string" and (function in _STRING_URL_FUNCTIONS or context == "@import")
        ):
            found.append((token.value, context))
        elif kind == "ident":
            ident = token.lower_value
        elif kind == "literal" and token.value == ":" and ident and not function:
            context, ident = ident, ""
        elif kind in ("{} block", "end of {} block") or (kind == "literal" and token.value == ";"):
            context = ident = ""
        elif kind == "at-keyword":
            context = "@" + token.lower_value
    return found


class _End:
    """Marks where a `{}` block closes, so a declaration's context ends with it."""

    type = "end of {} block"
    value = "}"


def _walk(tokens: list[Any]) -> Iterator[tuple[Any, str]]:
    """(token, name of the innermost enclosing function or "") depth first, in source order,
    with an explicit stack (no recursion however deep the nesting)."""
    stack: list[tuple[Iterator[Any], str]] = [(iter(tokens), "")]
    while stack:
        level, function = stack[-1]
        token = next(level, None)
        if token is None:
            stack.pop()
            continue
        yield token, function
        kind = token.type
        if kind == "function":
            stack.append((iter(token.arguments), token.lower_name))
        elif kind in _BLOCKS:
            inner = function if kind == "() block" else ""
            content = token.content
            stack.append((iter([*content, _End()] if kind == "{} block" else content), inner))
