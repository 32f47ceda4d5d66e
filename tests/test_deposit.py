"""`archiver deposit`, in process: which links are due, how SPN2's answers are read, keys
that never show, deposits.jsonl read back with its checks, and one API call through the fetch
stack against the local stand-in (429 with Retry-After honoured, a POST not sent twice)."""

from __future__ import annotations

import asyncio
import json
import time
from pathlib import Path
from typing import Any

import pytest

from archiver.config import Settings, settings_from_options
from archiver.deposit.run import deposit, deposit_line, plan
from archiver.deposit.spn2 import NO_KEYS, find_keys, read_reply
from archiver.errors import InputError
from archiver.fetch.api import Caller, call
from archiver.fetch.client import build_client
from archiver.models import Role
from archiver.store.collection import Collection
from archiver.store.readlines import read_deposits
from tests.spn2 import ACCESS, SECRET, StandIn, running_spn2

KEYS = {"SAVEPAGENOW_ACCESS_KEY": ACCESS, "SAVEPAGENOW_SECRET_KEY": SECRET}


def link_line(url: str, role: str = "source", status: str = "archived") -> dict[str, Any]:
    """A links.jsonl line as `archive` writes one (the WARC fields of a capture)."""
    line: dict[str, Any] = {"url": url, "role": role, "documents": ["a.md"], "status": status}
    if status == "archived":
        line |= {
            "final_url": url,
            "warc_file": "warcs/news/news-1.warc.gz",
            "warc_offset": 0,
            "warc_length": 10,
            "record_id": "<urn:uuid:0>",
            "fetched_at": "2026-01-01T00:00:00Z",
        }
    return line


def make_collection(root: Path, lines: list[dict[str, Any]]) -> Path:
    """A collection `news` under `root` whose links.jsonl holds `lines`; its manifest folder."""
    folder = root / "manifests" / "news"
    folder.mkdir(parents=True)
    text = "".join(json.dumps(line) + "\n" for line in lines)
    (folder / "links.jsonl").write_text(text, encoding="utf-8")
    return folder


def test_the_live_links_of_the_deposit_roles_are_due_and_successes_are_not(
    tmp_path: Path,
) -> None:
    folder = make_collection(
        tmp_path,
        [
            link_line("https://a.example/"),
            link_line("https://b.example/i.png", "image"),
            link_line("https://c.example/", "link"),  # not a deposit role
            link_line("https://d.example/", status="dead"),  # not live
            link_line("https://e.example/", "related"),
            link_line("https://f.example/"),
        ],
    )
    at = "2026-01-01T00:00:00Z"
    earlier = [
        deposit_line("https://a.example/", "success", at, job_id="j1", capture_url="x")
        | {"timestamp": "20260101000000", "finished_at": at},
        deposit_line("https://e.example/", "pending", at, job_id="j2"),
        deposit_line("https://f.example/", "error", at, error="error:not-found: gone")
        | {"finished_at": at},
    ]
    (folder / "deposits.jsonl").write_text("".join(json.dumps(x) + "\n" for x in earlier))
    settings = Settings(out=tmp_path, collection="news")
    submit, pending, before = plan(Collection.existing(settings), settings)
    assert submit == ["https://b.example/i.png"]
    assert [line.job_id for line in pending] == ["j2"]  # polled again, never submitted again
    assert before == 1
    again = Settings(out=tmp_path, collection="news", retry_errors=True)
    assert plan(Collection.existing(again), again)[0] == [
        "https://b.example/i.png",
        "https://f.example/",
    ]
    only = Settings(out=tmp_path, collection="news", deposit_roles=frozenset({Role.LINK}))
    assert plan(Collection.existing(only), only)[0] == ["https://c.example/"]


def test_bad_deposit_lines_are_reported_with_file_and_line_and_skipped(tmp_path: Path) -> None:
    folder = make_collection(tmp_path, [])
    at = "2026-01-01T00:00:00Z"
    lines = [
        json.dumps(deposit_line("https://a.example/", "pending", at, job_id="j1")),
        json.dumps(deposit_line("https://a.example/", "done", at, job_id="j1")),
        json.dumps(deposit_line("https://a.example/", "success", at, job_id="j1", finished_at=at)),
        json.dumps(deposit_line("https://a.example/", "pending", "yesterday", job_id="j1")),
        json.dumps(
            deposit_line("https://a.example/", "success", at, job_id="j1", capture_url="u")
            | {"timestamp": "2026", "finished_at": at}
        ),
        "not json",
        json.dumps(deposit_line("https://b.example/", "error", at, error="e", finished_at=at)),
    ]
    path = folder / "deposits.jsonl"
    path.write_text("\n".join(lines) + "\n")
    found, problems = read_deposits(path)
    assert [(line.url, line.status) for line in found] == [
        ("https://a.example/", "pending"),
        ("https://b.example/", "error"),
    ]
    assert [problem.split(": ", 1)[0] for problem in problems] == [
        f"{path}:{n}" for n in (2, 3, 4, 5, 6)
    ]
    assert "status 'done' is not one of error, pending, success" in problems[0]
    assert "capture_url is null" in problems[1]
    assert "submitted_at 'yesterday' is not an RFC 3339 time" in problems[2]
    assert "timestamp '2026' is not 14 digits" in problems[3]
    assert all(problem.endswith("; line skipped") for problem in problems)


@pytest.mark.parametrize(
    ("status", "data", "state"),
    [
        (200, {"url": "u", "job_id": "j"}, "pending"),
        (200, {"status": "pending", "job_id": "j"}, "pending"),
        (200, {"status": "success", "timestamp": "20260101000000", "original_url": "u"}, "success"),
        (200, {"status": "error", "status_ext": "error:not-found", "message": "x"}, "error"),
        (200, {"status": "error", "status_ext": "error:user-session-limit"}, "busy"),
        (
            200,
            {"status": "error", "message": "You cannot make more than 5 captures per day"},
            "daily",
        ),
        (200, {"status": "error", "status_ext": "error:too-many-daily-captures"}, "error"),
        (401, {"message": "bad keys"}, "refused"),
        (429, None, "busy"),
        (503, None, "busy"),
        (502, {"message": "Bad Gateway"}, "busy"),
        (400, {"status": "error", "status_ext": "error:invalid-url-syntax"}, "error"),
        (200, None, "unknown"),
    ],
)
def test_spn2_answers_are_read_as_the_api_documents_them(
    status: int, data: Any, state: str
) -> None:
    assert read_reply(status, data).state == state


def test_an_error_keeps_the_service_words() -> None:
    data = {"status": "error", "status_ext": "error:not-found", "message": "Target URL not found"}
    assert read_reply(200, data).error == "error:not-found: Target URL not found"


def test_keys_come_from_the_environment_then_the_config_and_never_show(tmp_path: Path) -> None:
    config = tmp_path / "a.toml"
    config.write_text('savepagenow-access-key = "file-access"\nsavepagenow-secret-key = "hush"\n')
    settings = settings_from_options({}, str(config))
    assert "hush" not in repr(settings)
    keys = find_keys(settings, {})
    assert keys.headers()["Authorization"] == "LOW file-access:hush"
    assert "hush" not in repr(keys)
    assert find_keys(settings, KEYS).headers()["Authorization"] == f"LOW {ACCESS}:{SECRET}"
    with pytest.raises(InputError) as refused:
        find_keys(Settings(), {"SAVEPAGENOW_ACCESS_KEY": "only-one"})
    assert str(refused.value) == NO_KEYS
    assert "\n" not in NO_KEYS and "SAVEPAGENOW_SECRET_KEY" in NO_KEYS


def test_a_bad_secret_in_the_config_is_refused_without_showing_it(tmp_path: Path) -> None:
    config = tmp_path / "a.toml"
    config.write_text('savepagenow-secret-key = "leak\\u0007me"\n')
    with pytest.raises(InputError) as refused:
        settings_from_options({}, str(config))
    assert "leak" not in str(refused.value)


def test_no_keys_refuses_before_anything_is_written(tmp_path: Path) -> None:
    folder = make_collection(tmp_path, [link_line("https://a.example/")])
    before = sorted(path.name for path in folder.iterdir())
    with pytest.raises(InputError, match="SAVEPAGENOW_ACCESS_KEY"):
        deposit(Settings(out=tmp_path, collection="news"), environ={})
    assert sorted(path.name for path in folder.iterdir()) == before


def _caller_call(settings: Settings, method: str, url: str, form: dict[str, str] | None) -> Any:
    async def go() -> Any:
        async with build_client(settings) as client:
            caller = Caller.from_settings(settings, client)
            auth = {"Authorization": f"LOW {ACCESS}:{SECRET}"}
            return await call(caller, method, url, headers=auth, form=form)

    return asyncio.run(go())


def test_a_429_is_waited_out_as_retry_after_says_and_the_post_sent_again() -> None:
    with running_spn2(StandIn(min_interval=1.0)) as spn2:
        settings = Settings(allow_private=True)
        first = _caller_call(settings, "POST", f"{spn2.base}/save", {"url": "https://a.example/"})
        started = time.monotonic()
        second = _caller_call(settings, "POST", f"{spn2.base}/save", {"url": "https://b.example/"})
        waited = time.monotonic() - started
    assert first.json()["job_id"] and second.json()["job_id"]
    assert second.tries == 2 and waited >= 0.9  # Retry-After: 1
    assert [entry.status for entry in spn2.posts(None)] == [200, 429, 200]


def test_a_post_the_service_may_have_acted_on_is_not_sent_again() -> None:
    with running_spn2() as spn2:
        settings = Settings(allow_private=True)
        answer = _caller_call(settings, "POST", f"{spn2.base}/nowhere", {"url": "u"})
    assert answer.status == 404 and answer.tries == 1


def test_the_private_address_guard_holds_for_api_calls() -> None:
    with running_spn2() as spn2:
        answer = _caller_call(Settings(), "GET", f"{spn2.base}/save/status/x", None)
    assert answer.status is None and answer.error is not None
    assert answer.error.kind == "private-address"
    assert spn2.log == []
