"""The private-address guard: documents are untrusted, so links never reach private networks.

Without a proxy, the tool resolves names itself and connects to the checked address, so a DNS
answer cannot change between the check and the connection. Behind a proxy the proxy resolves
names; then only IP literals (in every spelling, see `addresses.host_addresses`) and `localhost`
names can be judged (`Guard.check_host`). Every request the tool makes goes through one of the
two (client.py builds every route of the client that way).
"""

from __future__ import annotations

import asyncio
import ipaddress
import socket

from archiver.addresses import IPNetwork, host_addresses, permitted, refuse_literal

# getaddrinfo's answers that say the name has no address (glibc: NXDOMAIN is EAI_NONAME, a
# name without A/AAAA records EAI_NODATA or EAI_ADDRFAMILY). Every other code says the lookup
# could not be made now: EAI_AGAIN (SERVFAIL, no answer before the resolver's timeout, no
# network), EAI_FAIL (glibc's NO_RECOVERY: the server answered REFUSED, FORMERR or NOTIMP, which
# is the resolver's trouble and says nothing of the name), EAI_SYSTEM, EAI_MEMORY.
DEFINITE_CODES = frozenset(
    getattr(socket, name)
    for name in ("EAI_NONAME", "EAI_NODATA", "EAI_ADDRFAMILY")
    if hasattr(socket, name)
)


class ResolveFailed(Exception):
    """The name does not resolve: `temporary` False when it has no address (the link is dead
    with error `dns`), True when the resolver could not answer now (`failed`, `dns-temporary`)."""

    def __init__(self, host: str, message: str, temporary: bool = False) -> None:
        super().__init__(f"{host}: {message}")
        self.host = host
        self.message = message
        self.temporary = temporary


def resolve_failure(host: str, exc: OSError | UnicodeError) -> ResolveFailed:
    """Judge a failed lookup of `host`: a `socket.gaierror` whose code (`errno`) is in
    DEFINITE_CODES, or a name that cannot be written in DNS (UnicodeError), is definite; any
    other failure is temporary (see DEFINITE_CODES for the getaddrinfo codes)."""
    if isinstance(exc, UnicodeError):
        return ResolveFailed(host, str(exc))
    temporary = not isinstance(exc, socket.gaierror) or exc.errno not in DEFINITE_CODES
    return ResolveFailed(host, str(exc), temporary)


async def getaddrinfo(host: str, port: int) -> list[str]:
    """The addresses of `host` from the system resolver, in its order, without duplicates.
    Raises socket.gaierror (or UnicodeError for a name that is not valid IDNA)."""
    loop = asyncio.get_running_loop()
    infos = await loop.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    return list(dict.fromkeys(str(info[4][0]) for info in infos))


class PrivateAddress(Exception):
    """Every address of the host is private, loopback, link-local, multicast or reserved."""

    def __init__(self, host: str, address: str, reason: str | None = None) -> None:
        super().__init__(reason or f"{host} resolves to non-public address {address}")
        self.host = host
        self.address = address


class Guard:
    """Resolves names (each once a run), keeps the addresses a link may reach, and judges the
    address a connection actually reached."""

    def __init__(self, allow_private: bool, networks: tuple[IPNetwork, ...] = ()) -> None:
        self._allow_private = allow_private
        self._networks = networks
        self._cache: dict[tuple[str, int], list[str] | ResolveFailed] = {}

    async def addresses(self, host: str, port: int) -> list[str]:
        """The addresses of `host` to connect to; ResolveFailed or PrivateAddress if none.
        An IP literal in any spelling is refused if any reading of it is not permitted."""
        return self._allowed(host, await self._resolve(host, port))

    def check_host(self, host: str) -> None:
        """For a request a proxy will resolve: raise PrivateAddress if `host` is, in any
        spelling, an address that is not permitted, or a `localhost` name."""
        if self._allow_private:
            return
        reason = refuse_literal(host, self._networks)
        if reason is not None:
            raise PrivateAddress(host, host, reason)

    def check_peer(self, host: str, address: str) -> None:
        """Raise PrivateAddress unless the connected `address` is one a link may reach."""
        self._allowed(host, [address])

    async def _resolve(self, host: str, port: int) -> list[str]:
        literals = host_addresses(host)
        if literals:
            reason = refuse_literal(host, self._networks, names=False)
            if reason is not None and not self._allow_private:
                raise PrivateAddress(host, str(literals[0]), reason)
            return [str(literals[0])]
        key = (host.lower(), port)  # `Example.com.` stays apart: a search domain may apply
        found = self._cache.get(key)
        if found is None:
            found = await self._lookup(host, port)
            if not isinstance(found, ResolveFailed) or not found.temporary:
                self._cache[key] = found
        if isinstance(found, ResolveFailed):
            raise ResolveFailed(found.host, found.message, found.temporary)
        return found

    async def _lookup(self, host: str, port: int) -> list[str] | ResolveFailed:
        """Addresses of `host`, or the failure. The answer and a definite failure are cached
        (a run asks each name once); a temporary one is not, so a retry asks again."""
        try:
            return await getaddrinfo(host, port)
        except (socket.gaierror, UnicodeError) as exc:
            return resolve_failure(host, exc)

    def _allowed(self, host: str, addresses: list[str]) -> list[str]:
        if self._allow_private:
            return addresses
        allowed = [a for a in addresses if permitted(ipaddress.ip_address(a), self._networks)]
        if not allowed:
            raise PrivateAddress(host, addresses[0] if addresses else "?")
        return allowed
