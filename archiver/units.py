"""Sizes and durations as a user writes them, on the command line or in the config file.

    parse_size("1GB") == 1_000_000_000       parse_size("500MiB") == 524_288_000
    parse_size("4096") == 4096               plain numbers are bytes
    parse_duration("2m") == 120.0            parse_duration("1h30m") == 5400.0
    parse_duration("2.5") == 2.5             plain numbers are seconds

Size units are SI (kB, MB, GB, TB: powers of 1000) and IEC 80000-13 (KiB, MiB, GiB, TiB: powers
of 1024), with `B` for bytes; letter case is not significant and a space may stand between the
number and the unit. A size with a fraction must come to whole bytes (`1.5kB`, not `0.5B`).
Durations are Go's time.ParseDuration form without a sign: one or more decimal numbers, each with
a unit of ms, s, m or h (`300ms`, `1.5h`, `2h45m`). Anything else raises ValueError.
"""

from __future__ import annotations

import re
from decimal import Decimal

SIZE_UNITS = {
    "": 1,
    "b": 1,
    "kb": 1000,
    "mb": 1000**2,
    "gb": 1000**3,
    "tb": 1000**4,
    "kib": 1024,
    "mib": 1024**2,
    "gib": 1024**3,
    "tib": 1024**4,
}
DURATION_UNITS = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0}
_NUMBER = r"[0-9]+(?:\.[0-9]+)?"
_SIZE = re.compile(rf"({_NUMBER}) ?([a-z]*)")
_PART = re.compile(rf"({_NUMBER})(ms|s|m|h)")
_PARTS = re.compile(rf"(?:{_NUMBER}(?:ms|s|m|h))+")


def parse_size(text: str) -> int:
    """Bytes in `text` ("1GB", "500 MiB", "4096"); ValueError for anything else."""
    found = _SIZE.fullmatch(text.strip().lower())
    if found is None or found.group(2) not in SIZE_UNITS:
        raise ValueError(f"not a size: {text!r}")
    value = Decimal(found.group(1)) * SIZE_UNITS[found.group(2)]
    if value != value.to_integral_value():
        raise ValueError(f"not a whole number of bytes: {text!r}")
    return int(value)


def parse_duration(text: str) -> float:
    """Seconds in `text` ("30s", "2m", "1h30m", "500ms", "2.5"); ValueError for anything else."""
    spelled = text.strip().lower()
    if re.fullmatch(_NUMBER, spelled):
        return float(spelled)
    if not _PARTS.fullmatch(spelled):
        raise ValueError(f"not a duration: {text!r}")
    return sum(float(number) * DURATION_UNITS[unit] for number, unit in _PART.findall(spelled))


def show_size(size: int) -> str:
    """A size as it can be written back: `1GiB`, `1kB`, or plain bytes."""
    for unit in ("TiB", "GiB", "MiB", "KiB", "TB", "GB", "MB", "kB"):
        scale = SIZE_UNITS[unit.lower()]
        if size >= scale and size % scale == 0:
            return f"{size // scale}{unit}"
    return "1 byte" if size == 1 else f"{size} bytes"
