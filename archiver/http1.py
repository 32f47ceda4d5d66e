"""HTTP/1.1 responses read as browsers read them (RFC 9112, with the leniency browsers apply).

Interface shared by the transport and the fetcher:

- `ProtocolViolation`: the server broke HTTP in a way no reader can recover from (a status line
  that is not HTTP or out of range, a header block over the limit, impossible framing). It is
  its own error class (`protocol`), not a dropped connection (`disconnect`).
- `response.extensions["raw_head"]`: the status line and header lines exactly as received,
  ending with the blank line (bytes).
- `response.extensions["trailers"]`: a list of (name, value) byte pairs, filled with the
  chunked trailer fields once the body has been read to its end.
"""

from __future__ import annotations

import httpx


class ProtocolViolation(httpx.RemoteProtocolError):
    """A response that breaks HTTP/1.1 beyond what browsers tolerate; the message says how."""
