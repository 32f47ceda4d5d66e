"""`archiver deposit`: a second copy of the collection's live links at the Internet Archive,
through Save Page Now 2 (archiver.deposit.spn2), each submission and outcome a line of
manifests/NAME/deposits.jsonl (checked by store.lines.check_deposit, read back as
store.linetypes.DepositLine):

    url, status (pending | success | error), job_id, capture_url, timestamp (the Wayback
    Machine's YYYYMMDDhhmmss), error ("status_ext: message"), message (what the service
    said), submitted_at, finished_at (RFC 3339 UTC)

Which links: the current links.jsonl lines that are `archived` (live when captured) and of
`deposit_roles`. The last deposits.jsonl line of a URL decides: `success` is never submitted
again, `pending` (a job a killed or timed-out run left) is polled again, never submitted again,
`error` is submitted again with `retry_errors` only.

Limits: at most `deposit_rate` submissions a minute for the whole run; 429 and its Retry-After
honoured by the fetch stack (archiver.fetch.api); a refusal for now (too many sessions, an
overloaded service) pauses submissions `busy_pause` seconds, and BUSY_LIMIT of them in a row
stop the run; the account's daily limit stops it at once. Jobs already accepted are still
polled, every `poll_interval` seconds, for at most `poll_time` seconds each.

A line is appended as soon as the service answers, the pending line before any poll: a kill at
any moment loses at most the answer to a submission in flight (SPN2's `if_not_archived_within`
then spares the service a second capture).
"""

from __future__ import annotations

import asyncio
import os
import time
from collections import Counter
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from typing import Any
from urllib.parse import quote, urlsplit

from archiver.config import Settings
from archiver.deposit.spn2 import Keys, Reply, capture_url, find_keys, read_reply, save_form
from archiver.errors import InputError
from archiver.fetch.api import UNACTED_ERRORS, ApiAnswer, Caller, call
from archiver.fetch.client import build_client, check_network, proxy_in_use
from archiver.fetch.loop import new_event_loop
from archiver.models import Status
from archiver.store.collection import Collection
from archiver.store.lines import DEPOSITS
from archiver.store.linetypes import DepositLine
from archiver.store.lock import CollectionLock
from archiver.store.manifest import Manifest
from archiver.store.readlines import current_links, read_deposits, warned

BUSY_LIMIT = 5  # refusals for now in a row before the run stops
OnLine = Callable[[dict[str, Any]], object]


@dataclass
class DepositSummary:
    """What one deposit run did. `due`: links submitted or to be (new, and errors again with
    retry_errors); `polled`: jobs of earlier runs polled again; `before`: links an earlier run
    deposited, not submitted again; `submitted`: capture requests the service accepted or
    answered; `counts`: outcomes (success, error, pending: left for the next run); `waits`:
    pauses the service asked for; `stopped`: why the run stopped early (None: it did not);
    `refused`: the service refused the keys (the command then exits 1)."""

    collection: str
    due: int = 0
    polled: int = 0
    before: int = 0
    submitted: int = 0
    counts: Counter[str] = field(default_factory=Counter)
    waits: int = 0
    stopped: str | None = None
    refused: bool = False


def now_text() -> str:
    """The current time as the manifest writes it (RFC 3339 UTC, microseconds)."""
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def deposit_line(url: str, status: str, submitted_at: str, **fields: str | None) -> dict[str, Any]:
    """A deposits.jsonl line (fields in the module docstring; those not given are null)."""
    line: dict[str, Any] = {"url": url, "status": status, "job_id": None}
    line |= {"capture_url": None, "timestamp": None, "error": None, "message": None}
    line |= {"submitted_at": submitted_at, "finished_at": None}
    return line | fields


def plan(collection: Collection, settings: Settings) -> tuple[list[str], list[DepositLine], int]:
    """(URLs to submit, in manifest order; pending lines to poll again; links deposited
    before), from links.jsonl and deposits.jsonl, bad lines warned and skipped."""
    last: dict[str, DepositLine] = {}
    for line in warned(read_deposits(collection.manifest_dir / DEPOSITS)):
        last[line.url] = line
    submit: list[str] = []
    before = 0
    for url, link in current_links(collection.manifest_dir).items():
        if link.status != Status.ARCHIVED or link.role not in settings.deposit_roles:
            continue
        done = last.get(url)
        if done is None or (done.status == "error" and settings.retry_errors):
            submit.append(url)
        elif done.status == "success":
            before += 1
    pending = [line for line in last.values() if line.status == "pending"]
    return submit, pending, before


def check_service(base: str) -> str:
    """The Save Page Now base URL without its trailing slash. Raises InputError for one that
    is not an http:// or https:// URL with a host."""
    parts = urlsplit(base)
    if parts.scheme not in ("http", "https") or not parts.hostname or parts.query:
        raise InputError(f"--save-page-now {base!r} is not an http:// or https:// base URL")
    return base.rstrip("/")


def deposit(
    settings: Settings, on_line: OnLine | None = None, environ: Mapping[str, str] | None = None
) -> DepositSummary:
    """Deposit the due links of `settings.collection` (see `plan`), appending to
    deposits.jsonl (each line also passed to `on_line`). Keys come from `environ` (default
    os.environ) or the settings. Raises InputError, before anything is written, for missing
    keys, a bad collection or service URL or network setting; CollectionLocked when another
    process holds the collection; StorageError when deposits.jsonl cannot be written."""
    collection = Collection.existing(settings)
    keys = find_keys(settings, os.environ if environ is None else environ)
    base = check_service(settings.save_page_now)
    check_network(settings)
    with CollectionLock(collection.manifest_dir, collection.name):
        submit, pending, before = plan(collection, settings)
        run = _Deposit(settings, keys, base, Manifest(collection.manifest_dir), on_line)
        run.summary.before = before
        with asyncio.Runner(loop_factory=new_event_loop) as runner:
            runner.run(run.all(submit, pending))
        return run.summary


class _Deposit:
    def __init__(
        self, settings: Settings, keys: Keys, base: str, manifest: Manifest, on_line: OnLine | None
    ) -> None:
        self.settings = settings
        self.headers = keys.headers()
        self.base = base
        self.manifest = manifest
        self.on_line = on_line
        self.summary = DepositSummary(settings.collection)
        self.next_turn = 0.0

    async def all(self, submit: list[str], pending: list[DepositLine]) -> None:
        """Poll the `pending` jobs and submit the `submit` URLs, then wait for every job."""
        self.summary.due, self.summary.polled = len(submit), len(pending)
        proxied = proxy_in_use(self.settings) is not None
        try:
            async with build_client(self.settings) as client:
                caller = Caller.from_settings(self.settings, client, proxied=proxied)
                async with asyncio.TaskGroup() as tasks:
                    for line in pending:
                        job = line.job_id or ""
                        tasks.create_task(self._poll(caller, line.url, job, line.submitted_at))
                    await self._submit_all(caller, submit, tasks)
        finally:
            self.manifest.close()

    async def _submit_all(self, caller: Caller, urls: list[str], tasks: asyncio.TaskGroup) -> None:
        busy = 0
        index = 0
        while index < len(urls) and self.summary.stopped is None:
            url = urls[index]
            await self._turn()
            submitted_at = now_text()
            form = save_form(url, self.settings.if_not_archived_within)
            answer = await call(
                caller, "POST", f"{self.base}/save", headers=self.headers, form=form
            )
            reply = _reply(answer)
            if reply.state in ("busy", "unknown"):
                busy += 1
                self.summary.waits += 1
                if busy >= BUSY_LIMIT:
                    self._stop(f"the service stayed busy ({reply.error or reply.message})")
                else:
                    await asyncio.sleep(self.settings.busy_pause)
                continue
            busy = 0
            if reply.state == "daily":
                self._stop(
                    f"the account's daily limit is reached ({reply.error}); run again tomorrow"
                )
            elif reply.state == "refused":
                self.summary.refused = True
                self._stop(f"the service refused the keys ({reply.message})")
            else:
                self.summary.submitted += 1
                index += 1
                self._answered(url, submitted_at, reply)
                if reply.state == "pending" and reply.job_id:
                    tasks.create_task(self._poll(caller, url, reply.job_id, submitted_at))

    async def _turn(self) -> None:
        """Wait for the next submission's turn: 60 / deposit_rate seconds after the last."""
        wait = self.next_turn - time.monotonic()
        if wait > 0:
            await asyncio.sleep(wait)
        self.next_turn = time.monotonic() + 60.0 / self.settings.deposit_rate

    def _stop(self, why: str) -> None:
        self.summary.stopped = why

    def _answered(self, url: str, submitted_at: str, reply: Reply) -> None:
        """Append the line of an answer: pending, success or error."""
        if reply.state == "pending":
            self._append(deposit_line(url, "pending", submitted_at, job_id=reply.job_id))
            return
        self._finish(url, submitted_at, reply)

    def _finish(self, url: str, submitted_at: str, reply: Reply) -> None:
        ended = {"job_id": reply.job_id, "message": reply.message, "finished_at": now_text()}
        if reply.state == "success" and reply.timestamp:
            where = capture_url(self.base, reply.timestamp, reply.original_url or url)
            success = {"capture_url": where, "timestamp": reply.timestamp}
            self._append(deposit_line(url, "success", submitted_at, **ended, **success))
            self.summary.counts["success"] += 1
        else:
            error = reply.error or f"error:unknown: {reply.message or 'no answer'}"
            self._append(deposit_line(url, "error", submitted_at, **ended, error=error))
            self.summary.counts["error"] += 1

    async def _poll(self, caller: Caller, url: str, job: str, submitted_at: str) -> None:
        """Ask for job `job`'s status every poll_interval until it ends or poll_time passes
        (the job is then left pending, for the next run to poll again)."""
        deadline = time.monotonic() + self.settings.poll_time
        where = f"{self.base}/save/status/{quote(job, safe='')}"
        while True:
            await asyncio.sleep(self.settings.poll_interval)
            answer = await call(caller, "GET", where, headers=self.headers)
            reply = _reply(answer) if answer.status is not None else Reply("unknown")
            if reply.state in ("success", "error", "daily"):
                self._finish(url, submitted_at, replace(reply, job_id=job))
                return
            if reply.state == "refused" or time.monotonic() >= deadline:
                self.summary.counts["pending"] += 1
                return

    def _append(self, line: dict[str, Any]) -> None:
        self.manifest.append_deposit(line)
        if self.on_line is not None:
            self.on_line(line)


def _reply(answer: ApiAnswer) -> Reply:
    """The Reply of a call's answer; a request that never reached the service is busy (try
    again), one whose fate is unknown an error of that class."""
    if answer.error is not None and answer.status is None:
        said = f"{answer.error.kind}: {answer.error.message}"
        if answer.error.kind in UNACTED_ERRORS:
            return Reply("busy", error=said)
        return Reply("error", error=said)
    return read_reply(answer.status, answer.json())
