"""The web archives a recovery asks, as the user names them (`--archives`): each a Wayback
server (`wayback=BASE`: the CDX API, raw `id_` replay) or a Memento TimeMap service
(`memento=BASE`, RFC 7089), with the conservative limits the tool keeps to at its host."""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import urlsplit

from archiver.addresses import parse_networks, refuse_literal
from archiver.config import Settings
from archiver.errors import InputError
from archiver.schema import parse_archive

WAYBACK = "wayback"
MEMENTO = "memento"
# Requests in flight and seconds between their starts at an archive's host. The Wayback
# Machine's CDX API now allows 30 requests a minute (the `wayback` package's 0.5.1 release
# notes, 2026-06-19), and a client that keeps asking through 429s is blocked at its firewall
# for an hour, then longer: one request every 2.5 s stays under it. A Memento aggregator asks
# many archives for each TimeMap, so it gets no more than one a second.
ARCHIVE_PER_HOST = 1
ARCHIVE_DELAY = 1.0
WAYBACK_DELAY = 2.5


@dataclass(frozen=True)
class ArchiveSource:
    """One web archive to ask: `kind` `wayback` or `memento`, `base` its URL without a
    trailing `/`; `per_host` requests in flight and `delay` seconds between their starts at
    its host (and at the hosts of the mementos it lists), over the run's own limits."""

    kind: str
    base: str
    per_host: int = ARCHIVE_PER_HOST
    delay: float = ARCHIVE_DELAY

    @classmethod
    def parse(cls, item: str) -> ArchiveSource:
        """`wayback=BASE` or `memento=BASE` (schema.parse_archive) as a source with the
        default limits of its kind (WAYBACK_DELAY, ARCHIVE_DELAY). InputError naming the item
        when it is neither."""
        try:
            kind, base = parse_archive(item)
        except ValueError as exc:
            raise InputError(f"--archives: {exc}") from None
        return cls(kind, base, delay=WAYBACK_DELAY if kind == WAYBACK else ARCHIVE_DELAY)

    @property
    def name(self) -> str:
        """The source as the user writes it, `kind=BASE` (Memento.archive holds it)."""
        return f"{self.kind}={self.base}"

    @property
    def host(self) -> str:
        """The authority of `base` (`web.archive.org`, `127.0.0.1:8080`): the host gate's key."""
        return urlsplit(self.base).netloc


def archive_sources(settings: Settings) -> tuple[ArchiveSource, ...]:
    """The archives of `settings.archives`, in order. InputError (exit 2) for an item that is
    not `wayback=BASE` or `memento=BASE`, and, unless --allow-private, for a BASE whose host
    is written as a loopback, private, link-local or reserved address or a `localhost` name
    (outside --allow-network): asking it would be refused for every link. A name that
    resolves to such an address is refused by the fetch guard at the first request."""
    sources = tuple(ArchiveSource.parse(item) for item in settings.archives)
    if not sources:
        raise InputError("--archives: no archive given")
    if settings.allow_private:
        return sources
    networks = parse_networks(settings.allow_networks)
    for source in sources:
        refused = refuse_literal(urlsplit(source.base).hostname or "", networks)
        if refused is not None:
            message = f"--archives: {source.name} is refused: {refused} (see --allow-private)"
            raise InputError(message)
    return sources
