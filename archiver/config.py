"""Every default in one place, and the `Settings` object components are built from.

The CLI only turns options (and an optional TOML file) into `Settings`; the library never reads
options itself.
"""

from __future__ import annotations

import math
import re
import ssl
import tomllib
from dataclasses import dataclass, field, fields, replace
from pathlib import Path
from typing import Any

from archiver import __version__
from archiver.addresses import parse_networks
from archiver.errors import InputError
from archiver.models import DEFAULT_ROLES, Role
from archiver.ownfiles import read_named

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
PRODUCT = f"archiver/{__version__}"

COLLECTION_NAME = re.compile(r"[A-Za-z0-9._-]+")


@dataclass(frozen=True)
class Settings:
    """All knobs of a run. Every field can be set from the CLI or a TOML file."""

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
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def agent(self) -> str:
        """--user-agent as given, else the tool and version with the operator's --contact."""
        if self.user_agent:
            return self.user_agent
        if self.contact:
            return f"{PRODUCT} (+{self.contact})"
        return f"{PRODUCT} (web archiving; no --contact given)"

    @property
    def warc_dir(self) -> Path:
        return self.out / "warcs" / self.collection

    @property
    def manifest_dir(self) -> Path:
        return self.out / "manifests" / self.collection


def check_collection(name: str) -> str:
    """Refuse collection names that could escape the output folders."""
    if not COLLECTION_NAME.fullmatch(name) or name.startswith("."):
        raise InputError(
            f"invalid collection name {name!r}: use letters, digits, '.', '_' and '-', "
            "not starting with a dot"
        )
    return name


def parse_roles(text: str) -> frozenset[Role]:
    """`image,media` -> {Role.IMAGE, Role.MEDIA}; unknown names are refused."""
    names = [part.strip() for part in text.split(",") if part.strip()]
    known = {role.value for role in Role}
    unknown = [name for name in names if name not in known]
    if unknown or not names:
        listed = ", ".join(unknown) or "(none)"
        raise InputError(f"unknown role(s) {listed}; known: {', '.join(sorted(known))}")
    return frozenset(Role(name) for name in names)


MAX_CONFIG_BYTES = 1024 * 1024
MAX_CA_BUNDLE_BYTES = 64 * 1024 * 1024


def load_config(path: Path) -> dict[str, Any]:
    """Read a TOML file of option values (names as on the command line, `-` or `_`), each
    checked against the type of its setting as the command line checks it (`allow-private =
    "no"` is refused, not read as true). Only a regular file of at most MAX_CONFIG_BYTES is
    read: a FIFO or a device named as the config is refused, never waited on. Raises
    InputError naming the file and the setting."""
    try:
        data = tomllib.loads(read_small_file(path, MAX_CONFIG_BYTES).decode("utf-8"))
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
        raise InputError(f"cannot read config {path}: {exc}", str(path)) from exc
    known = {f.name for f in fields(Settings)} - {"extra"}
    values = {_field_name(key): value for key, value in data.items()}
    unknown = sorted(set(values) - known)
    if unknown:
        raise InputError(f"{path}: unknown setting(s): {', '.join(unknown)}", str(path))
    for key, value in values.items():
        expected = _config_type(key)
        if not _is_of(value, expected):
            name = "allow-network" if key == "allow_networks" else key.replace("_", "-")
            raise InputError(f"{path}: {name} must be {expected}, not {value!r}", str(path))
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


_CONFIG_TYPES = {
    bool: "true or false",
    int: "a whole number of at least 0",
    float: "a number of at least 0",
    str: "text",
}
_LISTS = frozenset({"roles", "allow_networks"})
_TEXT_OR_PATH = frozenset({"out", "ca_bundle", "user_agent", "contact", "proxy", "trust_store"})
CHOICES = {
    "robots": ("obey", "ignore"),
    "trust_store": ("certifi", "system"),
    "tls_verify": ("strict", "record"),
}


def _config_type(key: str) -> str:
    if key in _LISTS:
        return "text or a list of text"
    if key in _TEXT_OR_PATH:
        return _CONFIG_TYPES[str]
    default = next(f.default for f in fields(Settings) if f.name == key)
    return _CONFIG_TYPES[type(default)]


def _is_of(value: object, expected: str) -> bool:
    if expected == _CONFIG_TYPES[bool]:
        return isinstance(value, bool)
    if expected == _CONFIG_TYPES[int]:
        return isinstance(value, int) and not isinstance(value, bool) and value >= 0
    if expected == _CONFIG_TYPES[float]:
        if isinstance(value, bool) or not isinstance(value, int | float):
            return False
        return math.isfinite(value) and value >= 0
    if expected == _CONFIG_TYPES[str]:
        return isinstance(value, str)
    items = value if isinstance(value, list) else [value]
    return all(isinstance(item, str) for item in items)


def build_settings(base: Settings, values: dict[str, Any]) -> Settings:
    """Apply option values over `base`, converting the few that are not plain scalars."""
    converted: dict[str, Any] = {}
    for key, value in values.items():
        if value is None:
            continue
        if key == "roles":
            converted[key] = parse_roles(value if isinstance(value, str) else ",".join(value))
        elif key == "allow_networks":
            converted[key] = tuple([value] if isinstance(value, str) else value)
        elif key in {"out", "ca_bundle"}:
            converted[key] = Path(value)
        else:
            converted[key] = value
    settings = replace(base, **converted)
    try:
        parse_networks(settings.allow_networks)
    except ValueError as exc:
        raise InputError(f"--allow-network: {exc}") from exc
    if settings.ca_bundle is not None:
        check_ca_bundle(settings.ca_bundle)
    for key, allowed in CHOICES.items():
        value = getattr(settings, key)
        if value not in allowed and not (key == "trust_store" and value is None):
            listed = " or ".join(repr(choice) for choice in allowed)
            raise InputError(f"--{key.replace('_', '-')} must be {listed}, not {value!r}")
    total = settings.total_time
    if isinstance(total, bool) or not isinstance(total, int | float) or not total > 0:
        raise InputError(f"total-time must be a positive number of seconds, not {total!r}")
    if settings.concurrency < 1 or settings.per_host < 1:
        raise InputError("--concurrency and --per-host must be at least 1")
    return settings
