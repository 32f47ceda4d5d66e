"""One HTTP request and its response, with the body spooled to disk and hashed as it arrived."""

from __future__ import annotations

import hashlib
import tempfile
from dataclasses import dataclass
from datetime import datetime
from typing import IO

SPOOL_IN_MEMORY = 1024 * 1024
DROPPED_HEADERS = frozenset({b"transfer-encoding", b"content-length"})


class BodySpool:
    """A body being received: written to a temporary file (small ones stay in memory), hashed."""

    def __init__(self) -> None:
        self.file = tempfile.SpooledTemporaryFile(max_size=SPOOL_IN_MEMORY)  # noqa: SIM115
        self._sha256 = hashlib.sha256()
        self.size = 0

    def write(self, chunk: bytes) -> None:
        self.file.write(chunk)
        self._sha256.update(chunk)
        self.size += len(chunk)

    @property
    def sha256(self) -> str:
        return self._sha256.hexdigest()

    def rewind(self) -> IO[bytes]:
        """The spooled body, positioned at its start for reading."""
        self.file.seek(0)
        return self.file

    def close(self) -> None:
        self.file.close()


@dataclass
class Exchange:
    """A request/response pair ready to be written as WARC request and response records.

    `headers` are the response headers as received; `response_head()` rebuilds the head that is
    stored, without Transfer-Encoding (the body is stored de-chunked) and with the true
    Content-Length of the stored body.
    """

    url: str
    date: datetime
    request_head: bytes
    http_version: str
    status: int
    reason: str
    headers: list[tuple[bytes, bytes]]
    body: BodySpool
    ip_address: str | None = None
    truncated: str | None = None

    def header(self, name: str) -> str | None:
        wanted = name.lower().encode("ascii")
        for key, value in self.headers:
            if key.lower() == wanted:
                return value.decode("latin-1")
        return None

    @property
    def content_type(self) -> str | None:
        return self.header("content-type")

    def response_head(self) -> bytes:
        version = self.http_version if self.http_version.startswith("HTTP/") else "HTTP/1.1"
        lines = [f"{version} {self.status} {self.reason}".rstrip().encode("latin-1")]
        lines.extend(
            key + b": " + value for key, value in self.headers if key.lower() not in DROPPED_HEADERS
        )
        lines.append(b"Content-Length: " + str(self.body.size).encode("ascii"))
        return b"\r\n".join(lines) + b"\r\n\r\n"

    def close(self) -> None:
        self.body.close()
