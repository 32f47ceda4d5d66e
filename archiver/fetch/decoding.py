"""Undoing HTTP content codings (RFC 9110 section 8.4) within a bound, as the bytes arrive.

A few kilobytes of `Content-Encoding: gzip, gzip` can stand for gigabytes; every stage here
produces its output in pieces of at most `PIECE` bytes and stops at its cap, so memory stays
within the caller's limit plus a small constant whatever the input. Pure: no I/O.
"""

from __future__ import annotations

import zlib

MAX_CODINGS = 3
PIECE = 64 * 1024
DEFLATE_WBITS = {"gzip": 16 + zlib.MAX_WBITS, "x-gzip": 16 + zlib.MAX_WBITS}


class DecodingError(Exception):
    """A content coding that cannot be undone: unknown, stacked too deep, or corrupt."""


class _Stage:
    """One coding to undo: gzip, deflate (zlib-wrapped, or raw as some servers send it), or
    identity. `push` hands it input; `pull` returns up to `PIECE` bytes of output, b"" when it
    needs more input."""

    def __init__(self, coding: str) -> None:
        self.coding = coding
        self.pending = b""
        self.produced = 0
        self._started = False
        self._inflater: zlib._Decompress | None = None
        if coding in DEFLATE_WBITS:
            self._inflater = zlib.decompressobj(DEFLATE_WBITS[coding])
        elif coding == "deflate":
            self._inflater = zlib.decompressobj(zlib.MAX_WBITS)
        elif coding != "identity":
            raise DecodingError(f"unsupported content coding {coding!r}")

    @property
    def ended(self) -> bool:
        return self._inflater is not None and self._inflater.eof

    def push(self, data: bytes) -> None:
        self.pending += data

    def pull(self) -> bytes:
        if self._inflater is None:
            out, self.pending = self.pending[:PIECE], self.pending[PIECE:]
        elif self._inflater.eof:
            out, self.pending = b"", b""  # bytes after the end of the stream are ignored
        else:
            out = self._inflate()
        self.produced += len(out)
        return out

    def _inflate(self) -> bytes:
        assert self._inflater is not None
        data = self.pending
        try:
            out = self._inflater.decompress(data, PIECE)
        except zlib.error as exc:
            if self.coding != "deflate" or self._started:
                raise DecodingError(f"{self.coding}: {exc}") from exc
            self._inflater = zlib.decompressobj(-zlib.MAX_WBITS)  # raw deflate, no zlib header
            try:
                out = self._inflater.decompress(data, PIECE)
            except zlib.error as again:
                raise DecodingError(f"{self.coding}: {again}") from again
        self._started = True
        self.pending = self._inflater.unconsumed_tail
        return out


def parse_codings(header_values: list[str]) -> list[str]:
    """The codings named by Content-Encoding header values, in the order they were applied;
    DecodingError if more than `MAX_CODINGS` are stacked."""
    codings = [
        coding.strip().lower()
        for value in header_values
        for coding in value.split(",")
        if coding.strip() and coding.strip().lower() != "identity"
    ]
    if len(codings) > MAX_CODINGS:
        raise DecodingError(f"{len(codings)} stacked content codings (at most {MAX_CODINGS})")
    return codings


class BoundedDecoder:
    """Undoes `codings` (as applied, first to last) and keeps at most `limit` bytes of the
    decoded body; every intermediate stage is capped at `2 * limit + PIECE` bytes, so the work
    per body is bounded too. Feed it the raw body with `feed`; `full` says it wants no more.
    Raises DecodingError on an unknown or corrupt coding."""

    def __init__(self, codings: list[str], limit: int) -> None:
        self._stages = [_Stage(coding) for coding in reversed(codings)] or [_Stage("identity")]
        self._limit = limit
        self._cap = 2 * limit + PIECE
        self._taken = 0
        self.body = bytearray()
        self.truncated = False

    @property
    def full(self) -> bool:
        """No more input is wanted: the limit or a cap was reached, or the outer stream ended."""
        return self.truncated or self._stages[0].ended

    def feed(self, data: bytes) -> None:
        """Decode the next raw bytes into `body` (within the limit)."""
        if self.full:
            return
        self._taken += len(data)
        if self._taken > self._cap:
            data = data[: len(data) - (self._taken - self._cap)]
            self.truncated = True
        self._run(0, data)

    def _run(self, index: int, data: bytes) -> None:
        stage = self._stages[index]
        stage.push(data)
        while not self.truncated:
            piece = stage.pull()
            if not piece:
                return
            if index + 1 < len(self._stages):
                if stage.produced > self._cap:
                    self.truncated = True
                self._run(index + 1, piece)
            else:
                room = self._limit - len(self.body)
                self.body += piece[:room]
                if len(piece) >= room:
                    self.truncated = len(piece) > room or self._limit == len(self.body)
