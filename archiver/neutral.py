"""Untrusted text made harmless where it is shown: on a terminal and in a spreadsheet cell.

A URL, title, header, path or error message can come from a stranger's document or server.
Printed raw, `ESC [` sequences rewrite the terminal (ECMA-48 control functions), a C1 byte
such as U+009B is a CSI on some terminals, U+202E reverses what follows (Unicode UAX #9, the
"Trojan Source" attack), and a lone surrogate (an undecodable file name) makes printing raise.
In a CSV cell, text starting `=`, `+`, `-` or `@` is a formula to a spreadsheet (OWASP "CSV
Injection": prefix such a cell with `'`).

    for_terminal(text)       control, bidi and surrogate characters as visible escapes (\\x1b)
    json_for_terminal(text)  the same characters inside JSON text as \\uXXXX (still valid JSON)
    csv_cell(text)           for_terminal, then a `'` before a formula-leading cell
"""

from __future__ import annotations

import re

# C0, DEL and C1 controls; Arabic letter mark, LRM, RLM, line and paragraph separators, the
# bidi embeddings and overrides (U+202A..U+202E) and isolates (U+2066..U+2069); surrogates.
UNSAFE = re.compile("[\x00-\x1f\x7f-\x9f\u061c\u200e\u200f\u2028-\u202e\u2066-\u2069\ud800-\udfff]")
# JSON already escapes C0 controls (RFC 8259 requires it); the others pass through raw.
JSON_UNSAFE = re.compile("[\x7f-\x9f\u061c\u200e\u200f\u2028-\u202e\u2066-\u2069\ud800-\udfff]")
FORMULA_LEAD = frozenset("=+-@\t\r")
CSV_PREFIX = "'"


def _escaped(char: str) -> str:
    code = ord(char)
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"


def for_terminal(text: str, keep: str = "") -> str:
    """`text` with every character in UNSAFE written as a visible escape (`\\x1b`, `\\u202e`);
    the characters of `keep` (say "\\n" for a multi-line message) stay as they are. Total:
    any str, including lone surrogates, gives printable text."""
    if not UNSAFE.search(text):
        return text
    return UNSAFE.sub(lambda m: m[0] if m[0] in keep else _escaped(m[0]), text)


def json_for_terminal(text: str) -> str:
    """JSON text (as json.dumps makes it, ensure_ascii=False) with DEL, C1, bidi and surrogate
    characters written as \\uXXXX escapes: the same JSON value, safe on a terminal. These
    characters can only occur inside JSON strings, where the escape means the same."""
    return JSON_UNSAFE.sub(lambda m: f"\\u{ord(m[0]):04x}", text)


def csv_cell(text: str) -> str:
    """One CSV cell: control characters escaped (for_terminal), and a cell that a spreadsheet
    would read as a formula (leading `=`, `+`, `-`, `@`, tab or CR, also after spaces) prefixed
    with `'`, as OWASP advises."""
    cell = for_terminal(text)
    if cell.lstrip(" ")[:1] in FORMULA_LEAD or text[:1] in FORMULA_LEAD:
        return CSV_PREFIX + cell
    return cell
