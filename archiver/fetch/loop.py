"""The event loop every run uses: uvloop where it exists (Linux, macOS), asyncio's otherwise."""

from __future__ import annotations

try:
    from uvloop import new_event_loop
except ImportError:  # uvloop has no Windows build; asyncio's own loop is slower, not wrong
    from asyncio import new_event_loop  # type: ignore[assignment]

__all__ = ["new_event_loop"]
