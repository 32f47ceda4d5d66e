"""Every default in one place, and the `Settings` object components are built from.

The CLI only turns options (and an optional TOML file) into `Settings`; the library never reads
options itself.
"""

from __future__ import annotations

import ssl
import tomllib
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from archiver import __version__
from archiver.errors import InputError
from archiver.files import read_named
from archiver.models import DEFAULT_ROLES, Role
from archiver.schema import SCHEMA, option_name, parse_roles, parse_setting

CONCURRENCY = 32
PER_HOST = 2
DELAY = 0.0
RETRIES = 3
TIMEOUT = 30.0
TOTAL_TIME = 600.0
MAX_SIZE = 1024 * 1024 * 1024
MAX_REDIRECTS = 10
MAX_RETRY_AFTER = 600.0
WARC_SIZE = 1024 * 1024 * 1024
COMPRESS_LEVEL = 6
SAVE_PAGE_NOW = "https://web.archive.org"  # Save Page Now 2: BASE/save, BASE/save/status/JOB
DEPOSIT_ROLES: frozenset[Role] = frozenset({Role.SOURCE, Role.RELATED, Role.IMAGE})
DEPOSIT_RATE = 4  # submissions per minute: under the 7 (once 12) SPN2 allows a logged-in user
POLL_INTERVAL = 10.0
POLL_TIME = 600.0  # SPN2 ends a capture within 2 minutes, after a queue of a few when busy
BUSY_PAUSE = 60.0  # after "too many sessions": SPN2 counts captures per minute
RECOVER_OLDER_THAN = 30  # days before a link no web archive gave is asked about again
BATCH_SIZE = 50  # links of one host per broker message (archiver.distributed)
RECOVER_DELAY = 1.0  # seconds between raw replays from one web archive (Wayback: ~1/s)
# Web archives asked for captures of lost links, in order. The Wayback Machine's CDX API is
# documented, says each capture's archived HTTP status (so 404s and redirects are told apart
# before anything is fetched) and serves raw bytes at `id_` URLs; its Availability API
# (archive.org/wayback/available) is not used: it is unreliable, often answering "no capture"
# for URLs the CDX API lists. Then one public Memento aggregator (RFC 7089 TimeMaps over many
# archives): MemGator at Old Dominion University; Los Alamos's Time Travel has shut down.
ARCHIVES = ("wayback=https://web.archive.org", "memento=https://memgator.cs.odu.edu")
PRODUCT = f"archiver/{__version__}"


@dataclass(frozen=True)
class Settings:
    """All knobs of a run. Every field can be set from the CLI or a TOML file. `out` and
    `collection` name the collection: archiver.store.collection checks the name and resolves
    its folders."""

    out: Path = Path()
    collection: str = ""
    concurrency: int = CONCURRENCY
    per_host: int = PER_HOST
    delay: float = DELAY
    retries: int = RETRIES
    timeout: float = TIMEOUT
    total_time: float = TOTAL_TIME
    max_size: int = MAX_SIZE
    max_redirects: int = MAX_REDIRECTS
    max_retry_after: float = MAX_RETRY_AFTER
    roles: frozenset[Role] = DEFAULT_ROLES
    user_agent: str | None = None
    contact: str | None = None
    robots: str = "obey"
    allow_private: bool = False
    allow_networks: tuple[str, ...] = ()
    proxy: str | None = None
    ca_bundle: Path | None = None
    trust_store: str | None = None  # certifi or system; None: SSL_CERT_FILE/DIR, else certifi
    tls_verify: str = "strict"  # or record: capture what fails verification, and say so
    warc_size: int = WARC_SIZE
    compress_level: int = COMPRESS_LEVEL
    workers: int = 0
    retry_failed: bool = False
    refresh: bool = False
    backoff_base: float = 1.0
    deposit_roles: frozenset[Role] = DEPOSIT_ROLES
    save_page_now: str = SAVE_PAGE_NOW
    if_not_archived_within: int | None = None  # days
    deposit_rate: int = DEPOSIT_RATE
    poll_interval: float = POLL_INTERVAL
    poll_time: float = POLL_TIME
    retry_errors: bool = False
    busy_pause: float = BUSY_PAUSE
    savepagenow_access_key: str | None = field(default=None, repr=False)
    savepagenow_secret_key: str | None = field(default=None, repr=False)
    recover: bool = False  # archive: recover the links the run found dead (archiver.recover)
    recover_all: bool = False  # recover: also links never captured for other reasons
    recover_older_than: int = RECOVER_OLDER_THAN
    recover_delay: float = RECOVER_DELAY
    archives: tuple[str, ...] = ARCHIVES  # `kind=BASE` items, see schema.parse_archive
    broker: str | None = None  # redis://HOST:PORT/DB: archive through workers (distributed/)
    batch_size: int = BATCH_SIZE  # links of one host per message on the broker

    @property
    def agent(self) -> str:
        """--user-agent as given, else the tool and version with the operator's --contact."""
        if self.user_agent:
            return self.user_agent
        if self.contact:
            return f"{PRODUCT} (+{self.contact})"
        return f"{PRODUCT} (web archiving; no --contact given)"


MAX_CONFIG_BYTES = 1024 * 1024
MAX_CA_BUNDLE_BYTES = 64 * 1024 * 1024


def load_config(path: Path) -> dict[str, Any]:
    """Read a TOML file of option values (names as on the command line, `-` or `_`), each read
    by `parse_setting` as the command line reads it: `allow-private = "no"` is refused, not
    read as true; `max-size = "1GB"` is 10**9 bytes. Only a regular file of at most
    MAX_CONFIG_BYTES is read: a FIFO or a device named as the config is refused, never waited
    on. Returns Settings field -> value. Raises InputError naming the file and the setting."""
    try:
        data = tomllib.loads(read_small_file(path, MAX_CONFIG_BYTES).decode("utf-8"))
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
        raise InputError(f"cannot read config {path}: {exc}", str(path)) from exc
    values: dict[str, Any] = {}
    for key, value in data.items():
        name = _field_name(key)
        if name not in SCHEMA:
            raise InputError(f"{path}: unknown setting {key!r}", str(path))
        if name in values:
            raise InputError(f"{path}: {option_name(name)} is given twice", str(path))
        try:
            values[name] = parse_setting(name, value)
        except ValueError as exc:
            raise InputError(f"{path}: {option_name(name)} {exc}", str(path)) from exc
    return values


def _field_name(key: str) -> str:
    """A TOML key as its setting: `max-size` or `max_size`; `allow-network` as on the command
    line (repeatable there, a list here) is `allow_networks`."""
    name = key.replace("-", "_")
    return "allow_networks" if name == "allow_network" else name


def read_small_file(path: Path, limit: int) -> bytes:
    """The bytes of a regular file the user named, at most `limit` of them; OSError for a
    FIFO, device or folder (never read) and for a larger file."""
    data = read_named(path, limit)
    if len(data) > limit:
        raise OSError(f"larger than {limit} bytes")
    return data


def check_ca_bundle(path: Path, name: str = "--ca-bundle") -> None:
    """Refuse a CA bundle (--ca-bundle, or SSL_CERT_FILE as `name`) that is not a small regular
    file of certificates OpenSSL can load: found only at the first https request, a bad bundle
    would make every https link `dead` (`tls`), and dead links are not fetched again. Raises
    InputError."""
    try:
        data = read_small_file(path, MAX_CA_BUNDLE_BYTES)
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
        context.load_verify_locations(cadata=data.decode("ascii"))
        if not context.cert_store_stats()["x509"]:
            raise ValueError("no certificate in it")
    except (OSError, UnicodeDecodeError, ssl.SSLError, ValueError) as exc:
        message = f"{name} {path}: no certificates could be read from it ({exc})"
        raise InputError(message, str(path)) from exc


def build_settings(base: Settings, values: dict[str, Any]) -> Settings:
    """Apply option values, each already read by `parse_setting` (the command line's option
    types and load_config both do), over `base`; None leaves a setting as it is. A CA bundle
    is read and checked here. Raises InputError."""
    given = {key: value for key, value in values.items() if value is not None}
    for key in ("roles", "deposit_roles"):
        if isinstance(given.get(key), str):
            given[key] = parse_roles(given[key])
    for key in ("out", "ca_bundle"):
        if key in given:
            given[key] = Path(given[key])
    for key in ("allow_networks", "archives"):
        if key in given:
            given[key] = tuple(given[key])
    settings = replace(base, **given)
    if settings.ca_bundle is not None:
        check_ca_bundle(settings.ca_bundle)
    return settings


def settings_from_options(
    options: dict[str, Any], config: str | None = None, out: str | None = None
) -> Settings:
    """Settings from the command line's option values (Settings field -> value, each read by
    `parse_setting`; None or () for an option not given) over the TOML file `config`, with
    `out` (the output root) over both. Raises InputError for a bad file or value."""
    base = load_config(Path(config)) if config else {}
    given = {key: value for key, value in options.items() if value not in (None, ())}
    merged = base | given
    if out:
        merged["out"] = out
    return build_settings(Settings(), merged)
