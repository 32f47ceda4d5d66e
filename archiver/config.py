"""Every default in one place, and the `Settings` object components are built from.

The CLI only turns options (and an optional TOML file) into `Settings`; the library never reads
options itself.
"""

from __future__ import annotations

import re
import tomllib
from dataclasses import dataclass, field, fields, replace
from pathlib import Path
from typing import Any

from archiver import __version__
from archiver.addresses import parse_networks
from archiver.errors import InputError
from archiver.models import DEFAULT_ROLES, Role

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


def load_config(path: Path) -> dict[str, Any]:
    """Read a TOML file of option values (names as on the command line, `-` or `_`)."""
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
        raise InputError(f"cannot read config {path}: {exc}", str(path)) from exc
    known = {f.name for f in fields(Settings)}
    values = {key.replace("-", "_"): value for key, value in data.items()}
    unknown = sorted(set(values) - known)
    if unknown:
        raise InputError(f"{path}: unknown setting(s): {', '.join(unknown)}", str(path))
    return values


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
    if settings.robots not in {"obey", "ignore"}:
        raise InputError(f"--robots must be 'obey' or 'ignore', not {settings.robots!r}")
    total = settings.total_time
    if isinstance(total, bool) or not isinstance(total, int | float) or not total > 0:
        raise InputError(f"total-time must be a positive number of seconds, not {total!r}")
    if settings.concurrency < 1 or settings.per_host < 1:
        raise InputError("--concurrency and --per-host must be at least 1")
    return settings
