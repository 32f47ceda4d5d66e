"""Which addresses a link may reach: public ones, and private networks the user allowed.

Pure functions over IP addresses and host names (no I/O); the network guard (guard.py) and the
settings (config.py) use them.
"""

from __future__ import annotations

import ipaddress

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network


def is_public(address: IPAddress) -> bool:
    """True for globally routable unicast addresses (IPv4-mapped IPv6 judged as IPv4)."""
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        address = address.ipv4_mapped
    return address.is_global and not address.is_multicast


def parse_ip(host: str) -> IPAddress | None:
    """The address named by an IP literal host (brackets allowed), else None."""
    try:
        return ipaddress.ip_address(host.strip("[]"))
    except ValueError:
        return None


def parse_networks(texts: tuple[str, ...]) -> tuple[IPNetwork, ...]:
    """`127.0.0.2/32`, `10.1.0.0/16`, `fd00::/8` -> networks; a bad one is ValueError."""
    return tuple(ipaddress.ip_network(text, strict=False) for text in texts)


def permitted(address: IPAddress, networks: tuple[IPNetwork, ...]) -> bool:
    """Public, or inside a network the user allowed with --allow-network."""
    return is_public(address) or any(address in network for network in networks)


def refuse_literal(host: str, networks: tuple[IPNetwork, ...] = ()) -> str | None:
    """The reason to refuse `host` without resolving it (IP literal or localhost), or None."""
    name = host.lower().rstrip(".")
    if name == "localhost" or name.endswith(".localhost"):
        return f"{host} is a loopback name"
    address = parse_ip(name)
    if address is not None and not permitted(address, networks):
        return f"{host} is a non-public address"
    return None
