"""A local stand-in for Save Page Now 2 on 127.0.0.1 (an ephemeral port), answering as the
SPN2 Public API documents: `POST /save` (form `url`) -> {"url", "job_id"}, `GET
/save/status/JOB` -> pending, then success with `timestamp` and `original_url`, or error with
`status_ext` and `message`. It checks `Authorization: LOW key:secret` (401 otherwise),
answers 429 with Retry-After to submissions that come faster than `min_interval`, can refuse
for now (`error:user-session-limit`) or for the day (the account's daily limit), and logs
every request for the tests' assertions.
"""

from __future__ import annotations

import json
import math
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs

ACCESS = "stand-in-access-7f3a"
SECRET = "stand-in-secret-c91e"
Answer = tuple[int, dict[str, str], dict[str, Any]]  # status, headers, JSON body
DAILY_MESSAGE = "You cannot make more than (3,) captures per day."


@dataclass(frozen=True)
class Logged:
    """One request the stand-in received: when (time.monotonic()), method, path, the form's
    `url` (POST) and the status it answered."""

    at: float
    method: str
    path: str
    url: str | None
    status: int


@dataclass
class StandIn:
    """The service's state and behaviour (see the module docstring)."""

    min_interval: float = 0.0
    polls_pending: int = 1
    error_urls: frozenset[str] = frozenset()
    busy_first: int = 0  # the first N submissions are refused for now
    daily_after: int | None = None  # accepted submissions before the daily limit
    log: list[Logged] = field(default_factory=list)
    jobs: dict[str, dict[str, Any]] = field(default_factory=dict)
    base: str = ""
    lock: threading.Lock = field(default_factory=threading.Lock)
    last_accepted: float = -math.inf

    def posts(self, status: int | None = 200) -> list[Logged]:
        """The submissions logged (those answered `status`; every one for None)."""
        return [e for e in self.log if e.method == "POST" and status in (None, e.status)]

    def answer(self, method: str, path: str, auth: str | None, form: dict[str, str]) -> Answer:
        """(status, headers, JSON body) of one request; logged."""
        with self.lock:
            status, headers, data = self._answer(method, path, auth, form)
            self.log.append(Logged(time.monotonic(), method, path, form.get("url"), status))
            return status, headers, data

    def _answer(self, method: str, path: str, auth: str | None, form: dict[str, str]) -> Answer:
        if auth != f"LOW {ACCESS}:{SECRET}":
            return 401, {}, {"message": "Your archive.org access key and/or secret is not valid"}
        if method == "POST" and path == "/save":
            return self._submit(form)
        if method == "GET" and path.startswith("/save/status/"):
            return self._status(path.removeprefix("/save/status/"))
        return 404, {}, {"message": "no such endpoint"}

    def _submit(self, form: dict[str, str]) -> Answer:
        now = time.monotonic()
        wait = self.last_accepted + self.min_interval - now
        if wait > 0:
            return 429, {"Retry-After": str(math.ceil(wait))}, {"message": "Too Many Requests"}
        if self.busy_first > 0:
            self.busy_first -= 1
            refusal = "You have already reached the limit of active sessions."
            return 200, {}, _error("error:user-session-limit", refusal)
        if self.daily_after is not None and len(self.jobs) >= self.daily_after:
            return 200, {}, {"status": "error", "message": DAILY_MESSAGE}
        self.last_accepted = now
        job_id = f"spn2-{len(self.jobs) + 1:04d}"
        self.jobs[job_id] = {"url": form["url"], "polls": 0}
        return 200, {}, {"url": form["url"], "job_id": job_id}

    def _status(self, job_id: str) -> Answer:
        job = self.jobs.get(job_id)
        if job is None:
            return 200, {}, _error("error:unknown-job", "job not found") | {"job_id": job_id}
        job["polls"] += 1
        if job["polls"] <= self.polls_pending:
            return 200, {}, {"status": "pending", "job_id": job_id, "resources": []}
        if job["url"] in self.error_urls:
            return 200, {}, _error("error:not-found", "Target URL not found") | {"job_id": job_id}
        stamp = job.setdefault("timestamp", datetime.now(UTC).strftime("%Y%m%d%H%M%S"))
        return (
            200,
            {},
            {
                "status": "success",
                "job_id": job_id,
                "original_url": job["url"],
                "timestamp": stamp,
                "duration_sec": 0.1,
            },
        )


def _error(kind: str, message: str) -> dict[str, Any]:
    return {"status": "error", "status_ext": kind, "message": message}


class _Handler(BaseHTTPRequestHandler):
    server: _Server

    def log_message(self, format: str, *args: Any) -> None:
        return

    def _reply(self, method: str, form: dict[str, str]) -> None:
        state = self.server.state
        auth = self.headers.get("Authorization")
        status, headers, data = state.answer(method, self.path.split("?")[0], auth, form)
        body = json.dumps(data).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        for key, value in headers.items():
            self.send_header(key, value)
        self.end_headers()
        self.wfile.write(body)

    def do_GET(self) -> None:
        self._reply("GET", {})

    def do_POST(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        fields = parse_qs(self.rfile.read(length).decode("utf-8"))
        self._reply("POST", {key: values[0] for key, values in fields.items()})


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    state: StandIn


@contextmanager
def running_spn2(state: StandIn | None = None) -> Iterator[StandIn]:
    """Serve a stand-in on 127.0.0.1 for the block; yields its state, `base` set."""
    server = _Server(("127.0.0.1", 0), _Handler)
    server.state = state or StandIn()
    server.state.base = f"http://127.0.0.1:{server.server_address[1]}"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield server.state
    finally:
        server.shutdown()
        server.server_close()
