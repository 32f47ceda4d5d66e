"""Error classes that decide a link's fate: a server breaking HTTP (`protocol`) is not a
dropped connection (`disconnect`), and a resolver that cannot answer now (`dns-temporary`,
failed) is not a name that does not exist (`dns`, dead)."""

from __future__ import annotations

import asyncio
import socket
from pathlib import Path
from typing import Any

import httpx
import pytest

from archiver.fetch import guard
from archiver.fetch.classify import classify, status_for
from archiver.fetch.guard import Guard, ResolveFailed, resolve_failure
from archiver.fetch.retry import retry_limit, should_retry
from archiver.messages import IncompleteMessage, ProtocolViolation
from archiver.models import Status
from tests.conftest import run_cli
from tests.origin import Handler, Origin, OriginHandler, body, hang_up, random_bytes
from tests.proxies import http_proxy
from tests.test_fetch import run

IMAGE = random_bytes(4_000, 5)


def raw_answer(data: bytes) -> Handler:
    def handle(request: OriginHandler) -> None:
        request.wfile.write(data)
        request.wfile.flush()
        request.close_connection = True

    return handle


BROKEN = {  # servers breaking HTTP in ways no reader recovers from
    "status out of range": b"HTTP/1.1 099 Odd\r\nContent-Length: 0\r\n\r\n",
    "not a status line": b"HTTP/1.1 2000 OK\r\nContent-Length: 0\r\n\r\n",
    "lengths that differ": b"HTTP/1.1 200 OK\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\nab",
    "a head over 100 KiB": b"HTTP/1.1 200 OK\r\n" + b"X-Pad: y\r\n" * 13_000 + b"\r\n",
    "bad chunk size": b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\nab\r\n",
}


def test_protocol_classes_from_the_transports() -> None:
    assert classify(ProtocolViolation("header block over 100 KiB")).kind == "protocol"
    wrapped = httpx.RemoteProtocolError("x")
    wrapped.__cause__ = ProtocolViolation("status line is not HTTP")
    assert classify(wrapped).kind == "protocol"
    assert classify(IncompleteMessage("closed in the middle of the head")).kind == "disconnect"


def test_protocol_is_failed_and_retried_once_disconnect_up_to_the_retries() -> None:
    assert status_for(None, classify(ProtocolViolation("x"))) == Status.FAILED
    assert should_retry(None, "protocol") and should_retry(None, "disconnect")
    assert retry_limit("protocol", 3) == 1 and retry_limit("protocol", 0) == 0
    assert retry_limit("disconnect", 3) == 3


def test_a_server_breaking_http_is_protocol_and_asked_twice(tmp_path: Path, origin: Origin) -> None:
    """Old code called these `disconnect` and asked four times."""
    for name, answer in BROKEN.items():
        origin.routes[f"/{name}.jpg".replace(" ", "-")] = raw_answer(answer)
    origin.routes["/hangs-up.jpg"] = hang_up
    urls = [origin.url(path) for path in origin.routes]
    rows = run(tmp_path, urls, robots="ignore")
    for path in origin.routes:
        row = rows[origin.url(path)]
        expected = ("disconnect", 4) if path == "/hangs-up.jpg" else ("protocol", 2)
        assert (row["error"].split(":")[0], row["attempts"]) == expected, path
        assert row["status"] == "failed"
        assert len(origin.hits(path)) == expected[1]
    assert_the_tool_reads_it(tmp_path, "protocol")


def assert_the_tool_reads_it(root: Path, kind: str) -> None:
    """`report` and `verify` take the new error class as any other (collection `f`)."""
    shown = run_cli("report", "-c", "f", "--json", cwd=root)
    assert shown.code == 0 and not shown.err, shown.err
    assert kind in shown.out
    checked = run_cli("verify", "-c", "f", cwd=root)
    assert checked.code == 0, checked.out + checked.err


def test_through_a_proxy_a_broken_status_line_is_protocol(tmp_path: Path, origin: Origin) -> None:
    origin.routes["/odd.jpg"] = raw_answer(BROKEN["status out of range"])
    with http_proxy() as proxy:
        row = run(tmp_path, [origin.url("/odd.jpg")], proxy=proxy.url, robots="ignore")[
            origin.url("/odd.jpg")
        ]
    assert row["status"] == "failed" and row["error"].startswith("protocol")
    assert row["attempts"] == 2


def gaierror(name: str, text: str) -> socket.gaierror:
    return socket.gaierror(getattr(socket, name), text)


@pytest.mark.parametrize(
    ("failure", "temporary"),
    [
        (gaierror("EAI_NONAME", "Name or service not known"), False),  # NXDOMAIN
        (gaierror("EAI_NODATA", "No address associated with hostname"), False),
        (gaierror("EAI_AGAIN", "Temporary failure in name resolution"), True),  # SERVFAIL
        (gaierror("EAI_FAIL", "Non-recoverable failure in name resolution"), True),
        (gaierror("EAI_SYSTEM", "System error"), True),
        (gaierror("EAI_MEMORY", "Memory allocation failure"), True),
        (UnicodeError("label empty or too long"), False),  # no such name can exist
    ],
)
def test_the_resolver_failure_is_judged(failure: OSError | UnicodeError, temporary: bool) -> None:
    judged = resolve_failure("news.example", failure)
    assert judged.temporary is temporary
    error = classify(_caused_by(judged))
    assert error.kind == ("dns-temporary" if temporary else "dns")
    assert status_for(None, error) == (Status.FAILED if temporary else Status.DEAD)
    assert should_retry(None, error.kind) is temporary


def _caused_by(cause: BaseException) -> httpx.ConnectError:
    error = httpx.ConnectError("connecting failed")
    error.__cause__ = cause
    return error


def test_a_proxys_word_on_a_name_keeps_its_meaning() -> None:
    said = {
        "Temporary failure in name resolution": "dns-temporary",
        "DNS lookup answered SERVFAIL": "dns-temporary",
        "Name or service not known": "dns",
        "502 Bad Gateway": "proxy",
    }
    for message, kind in said.items():
        assert classify(httpx.ProxyError(message)).kind == kind, message


class FakeResolver:
    """getaddrinfo for the guard: fails with `failure` while `failing`, then answers."""

    def __init__(self, failure: socket.gaierror) -> None:
        self.failure = failure
        self.failing = True
        self.asked = 0

    async def __call__(self, host: str, port: int) -> list[str]:
        self.asked += 1
        if self.failing:
            raise self.failure
        return ["127.0.0.1"]


async def _resolve_twice(fake: FakeResolver) -> list[Any]:
    outcomes: list[Any] = []
    checker = Guard(allow_private=True)
    for _ in range(2):
        try:
            outcomes.append(await checker.addresses("news.example", 80))
        except ResolveFailed as exc:
            outcomes.append(exc.temporary)
    return outcomes


def test_only_definite_failures_are_remembered(monkeypatch: pytest.MonkeyPatch) -> None:
    temporary = FakeResolver(gaierror("EAI_AGAIN", "Temporary failure in name resolution"))
    monkeypatch.setattr(guard, "getaddrinfo", temporary)
    assert asyncio.run(_resolve_twice(temporary)) == [True, True]
    assert temporary.asked == 2, "a temporary failure is asked again"
    definite = FakeResolver(gaierror("EAI_NONAME", "Name or service not known"))
    monkeypatch.setattr(guard, "getaddrinfo", definite)
    assert asyncio.run(_resolve_twice(definite)) == [False, False]
    assert definite.asked == 1, "a name that does not exist is asked once a run"


def test_a_temporary_resolver_failure_is_failed_then_captured_with_retry_failed(
    tmp_path: Path, origin: Origin, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Old code: `dead`/`dns` for ever, and `--retry-failed` never asked again."""
    origin.routes["/a.jpg"] = body(IMAGE, "image/jpeg")
    resolver = FakeResolver(gaierror("EAI_AGAIN", "Temporary failure in name resolution"))
    monkeypatch.setattr(guard, "getaddrinfo", resolver)
    url = f"http://news.example:{origin.server_address[1]}/a.jpg"
    row = run(tmp_path, [url], robots="ignore")[url]
    assert row["status"] == "failed" and row["error"].startswith("dns-temporary")
    assert row["attempts"] == 4 and resolver.asked == 4, "retried within the run"
    assert origin.hits("/a.jpg") == []
    assert_the_tool_reads_it(tmp_path, "dns-temporary")
    resolver.failing = False
    row = run(tmp_path, [url], robots="ignore")[url]
    assert row["status"] == "failed", "without --retry-failed a failed link waits"
    row = run(tmp_path, [url], robots="ignore", retry_failed=True)[url]
    assert row["status"] == "archived" and row["size"] == len(IMAGE)
    assert len(origin.hits("/a.jpg")) == 1


def test_a_name_that_does_not_exist_stays_dead(
    tmp_path: Path, origin: Origin, monkeypatch: pytest.MonkeyPatch
) -> None:
    resolver = FakeResolver(gaierror("EAI_NONAME", "Name or service not known"))
    monkeypatch.setattr(guard, "getaddrinfo", resolver)
    url = f"http://gone.example:{origin.server_address[1]}/a.jpg"
    row = run(tmp_path, [url], robots="ignore")[url]
    assert (row["status"], row["error"].split(":")[0], row["attempts"]) == ("dead", "dns", 1)
