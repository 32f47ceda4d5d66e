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


class ResolveFailed(Exception):
    """The name does not resolve: the link is dead with error `dns`."""

    def __init__(self, host: str, message: str) -> None:
        super().__init__(f"{host}: {message}")
        self.host = host
        self.message = message


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
        if key not in self._cache:
            self._cache[key] = await self._lookup(host, port)
        found = self._cache[key]
        if isinstance(found, ResolveFailed):
            raise ResolveFailed(found.host, found.message)
        return found

    async def _lookup(self, host: str, port: int) -> list[str] | ResolveFailed:
        """Addresses of `host`, or the failure (cached too: a run asks each name once)."""
        loop = asyncio.get_running_loop()
        try:
            infos = await loop.getaddrinfo(host, port, type=socket.SOCK_STREAM)
        except (socket.gaierror, UnicodeError) as exc:
            return ResolveFailed(host, str(exc))
        return list(dict.fromkeys(str(info[4][0]) for info in infos))

    def _allowed(self, host: str, addresses: list[str]) -> list[str]:
        if self._allow_private:
            return addresses
        allowed = [a for a in addresses if permitted(ipaddress.ip_address(a), self._networks)]
        if not allowed:
            raise PrivateAddress(host, addresses[0] if addresses else "?")
        return allowed
