"""The work as it travels on the broker: one message is a `Job`, a batch of one host's links
with the run's settings, as JSON (Dramatiq's default encoding).

    {"version": "0.1.0", "run": "<uuid4 hex>", "batch": 7, "collection": "NAME",
     "settings": {"per_host": 2, "delay": 0.5, "roles": ["image", ...], ...},
     "targets": [{"url": "...", "roles": ["image"], "documents": ["a.md"]}, ...]}

The run's settings travel with the work (RUN_SETTINGS: politeness, retries, limits, roles,
robots, the private-address rule, WARC options); how a worker reaches the network and where it
writes stay the worker's own (WORKER_SETTINGS: --out, --proxy, --ca-bundle, --trust-store,
--concurrency). A message is read as untrusted input: every setting is checked by
schema.parse_setting as a config file's would be, every target URL must be canonical, and a
message of another project version is refused before anything else is read (WrongVersion).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from archiver import __version__
from archiver.config import Settings, build_settings
from archiver.errors import ArchiverError, InputError
from archiver.models import Role, Target
from archiver.schema import parse_setting
from archiver.store.collection import check_collection
from archiver.urls import canonicalize

RUN_SETTINGS = (
    "per_host",
    "delay",
    "retries",
    "timeout",
    "total_time",
    "max_size",
    "max_redirects",
    "max_retry_after",
    "backoff_base",
    "roles",
    "user_agent",
    "contact",
    "robots",
    "allow_private",
    "allow_networks",
    "tls_verify",
    "warc_size",
    "compress_level",
)
GRANTS = ("allow_private", "allow_networks", "tls_verify")  # a message can only narrow them
WORKER_SETTINGS = ("out", "proxy", "ca_bundle", "trust_store", "concurrency", *GRANTS)
MAX_TARGETS = 10_000  # schema's bound on --batch-size


class WrongVersion(ArchiverError):
    """A message made by another version of the project: this worker refuses it."""


class BadJob(ArchiverError):
    """A message that is not a job this project makes (a field missing, of the wrong type,
    out of range): it is dropped, never retried."""


@dataclass(frozen=True)
class Job:
    """One message: `targets` (one host's links, at most MAX_TARGETS) of run `run` into
    collection `collection`, batch number `batch` of the run, with the run's `settings`
    (RUN_SETTINGS only, as schema values)."""

    run: str
    batch: int
    collection: str
    settings: dict[str, Any]
    targets: tuple[Target, ...]
    version: str = __version__

    def to_message(self) -> dict[str, Any]:
        """The JSON object sent on the broker (module docstring)."""
        return {
            "version": self.version,
            "run": self.run,
            "batch": self.batch,
            "collection": self.collection,
            "settings": self.settings,
            "targets": [
                {
                    "url": t.url,
                    "roles": sorted(r.value for r in t.roles),
                    "documents": list(t.documents),
                }
                for t in self.targets
            ],
        }

    def settings_for(self, worker: Settings) -> Settings:
        """The settings a worker fetches this job with: the run's RUN_SETTINGS over the
        worker's own (WORKER_SETTINGS and the rest), in the job's collection; except where a
        worker may connect and what it may trust (GRANTS), which a message can only narrow:
        a private address is allowed only when the worker's own options allow it too, and a
        certificate that fails verification is recorded only when the worker says so too."""
        given = {"collection": self.collection, **self.settings}
        ran = build_settings(worker, given)
        networks = (
            worker.allow_networks
            if ran.allow_private
            else tuple(net for net in worker.allow_networks if net in ran.allow_networks)
        )
        return build_settings(
            ran,
            {
                "allow_private": ran.allow_private and worker.allow_private,
                "allow_networks": networks,
                "tls_verify": "record"
                if "strict" not in (ran.tls_verify, worker.tls_verify)
                else "strict",
            },
        )


def run_settings(settings: Settings) -> dict[str, Any]:
    """The RUN_SETTINGS of `settings` as JSON values that schema.parse_setting reads back."""
    found: dict[str, Any] = {}
    for name in RUN_SETTINGS:
        value = getattr(settings, name)
        if name == "roles":
            value = sorted(role.value for role in value)
        elif isinstance(value, tuple):
            value = list(value)
        if value is not None:
            found[name] = value
    return found


def read_job(message: object) -> Job:
    """The Job in a message's JSON object. Raises WrongVersion for a message of another
    project version (checked first: its other fields may differ), BadJob for anything else
    that is not a job of this version."""
    if not isinstance(message, dict):
        raise BadJob("a message is not a JSON object")
    version = message.get("version")
    if version != __version__:
        raise WrongVersion(
            f"this worker runs archiver {__version__}; the run was planned by archiver "
            f"{version!s}: run a worker of the same version"
        )
    try:
        return _read(message)
    except (KeyError, TypeError, ValueError, InputError) as exc:
        raise BadJob(f"a message is not a job of archiver {__version__}: {exc}") from None


def _read(message: dict[str, Any]) -> Job:
    run, batch = message["run"], message["batch"]
    if not isinstance(run, str) or not run.isalnum() or len(run) > 64:
        raise ValueError(f"run {run!r}")
    if not isinstance(batch, int) or isinstance(batch, bool) or batch < 0:
        raise ValueError(f"batch {batch!r}")
    settings = message["settings"]
    if not isinstance(settings, dict) or not set(settings) <= set(RUN_SETTINGS):
        raise ValueError("settings")
    parsed = {name: _setting(name, value) for name, value in settings.items()}
    raw = message["targets"]
    if not isinstance(raw, list) or not 0 < len(raw) <= MAX_TARGETS:
        raise ValueError("targets")
    targets = tuple(_target(item) for item in raw)
    return Job(run, batch, check_collection(str(message["collection"])), parsed, targets)


def _setting(name: str, value: object) -> Any:
    try:
        return parse_setting(name, value)
    except ValueError as exc:
        raise ValueError(f"setting {name} {exc}") from None


def _target(item: object) -> Target:
    if not isinstance(item, dict):
        raise TypeError("a target is not an object")
    url, roles, documents = item["url"], item["roles"], item["documents"]
    if not isinstance(url, str) or canonicalize(url) != url:
        raise ValueError(f"target URL {url!r} is not canonical")
    if not isinstance(roles, list) or not roles:
        raise ValueError("target roles")
    if not isinstance(documents, list) or not all(isinstance(d, str) for d in documents):
        raise ValueError("target documents")
    return Target(url, frozenset(Role(role) for role in roles), tuple(documents))
