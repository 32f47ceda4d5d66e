"""The private-address guard: documents are untrusted, so links never reach private networks.

Without a proxy, the tool resolves names itself and connects to the checked address, so a DNS
answer cannot change between the check and the connection. Behind a proxy the proxy resolves
names; then only IP literals and `localhost` names can be judged (see `refuse_literal`).
"""

from __future__ import annotations

import asyncio
import ipaddress
import socket

from archiver.addresses import IPNetwork, parse_ip, permitted


class ResolveFailed(Exception):
    """The name does not resolve: the link is dead with error `dns`."""

    def __init__(self, host: str, message: str) -> None:
        super().__init__(f"{host}: {message}")
        self.host = host
        self.message = message


class PrivateAddress(Exception):
    """Every address of the host is private, loopback, link-local, multicast or reserved."""

    def __init__(self, host: str, address: str) -> None:
        super().__init__(f"{host} resolves to non-public address {address}")
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
        """The addresses of `host` to connect to; ResolveFailed or PrivateAddress if none."""
        return self._allowed(host, await self._resolve(host, port))

    def check_peer(self, host: str, address: str) -> None:
        """Raise PrivateAddress unless the connected `address` is one a link may reach."""
        self._allowed(host, [address])

    async def _resolve(self, host: str, port: int) -> list[str]:
        literal = parse_ip(host)
        if literal is not None:
            return [str(literal)]
        key = (host, port)
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
