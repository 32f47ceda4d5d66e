"""Which addresses a link may reach: public ones, and private networks the user allowed.

Pure functions over IP addresses and host names (no I/O); the network guard (guard.py) and the
settings (config.py) use them.

A host is judged as every reader of it would read it: the URL Standard's host parser (browsers,
and proxies built on it: percent-decoding, UTS #46 mapping of full-width digits and ideographic
full stops, the IPv4 parser that takes `127.1`, `2130706433`, `0x7f.1`, `0177.0.0.1` and a
trailing dot), the C resolver's `inet_aton`, whose spellings are a subset of those, and parsers
that read `0127.0.0.1` as decimal. A host is refused if any of its readings is.
An address is public only if it is global unicast and not in IANA's special-purpose registries
(RFC 6890 and its updates); an IPv6 address that embeds an IPv4 one (mapped, compatible, SIIT,
NAT64 RFC 6052, 6to4 RFC 3056, Teredo RFC 4380, ISATAP RFC 5214) is public only if every IPv4
address it embeds is.
"""

from __future__ import annotations

import ipaddress
import unicodedata
from urllib.parse import unquote

import idna

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network

_V4 = ipaddress.IPv4Network
_V6 = ipaddress.IPv6Network
NOT_PUBLIC_V4 = tuple(
    _V4(text)
    for text in (
        "0.0.0.0/8",  # "this network"; 0.0.0.0 reaches the local host
        "10.0.0.0/8",
        "100.64.0.0/10",  # shared address space (carrier-grade NAT)
        "127.0.0.0/8",
        "169.254.0.0/16",
        "172.16.0.0/12",
        "192.0.0.0/24",  # IETF protocol assignments
        "192.0.2.0/24",
        "192.88.99.0/24",  # 6to4 relay anycast, deprecated
        "192.168.0.0/16",
        "198.18.0.0/15",  # benchmarking
        "198.51.100.0/24",
        "203.0.113.0/24",
        "224.0.0.0/4",  # multicast
        "240.0.0.0/4",  # reserved, and 255.255.255.255 broadcast
    )
)
GLOBAL_UNICAST_V6 = _V6("2000::/3")
NOT_PUBLIC_V6 = tuple(
    _V6(text)
    for text in (
        "::/96",  # unspecified, loopback, deprecated IPv4-compatible
        "64:ff9b:1::/48",  # local-use NAT64: a network's own translator
        "100::/64",  # discard-only
        "2001::/23",  # IETF protocol assignments (Teredo is judged by what it embeds)
        "2001:db8::/32",
        "3fff::/20",  # documentation
        "5f00::/16",  # SRv6 SIDs
        "fc00::/7",
        "fe80::/10",
        "fec0::/10",  # site-local, deprecated
        "ff00::/8",  # multicast
    )
)
COMPATIBLE = _V6("::/96")
MAPPED = _V6("::ffff:0:0/96")
TRANSLATED = _V6("::ffff:0:0:0/96")  # SIIT, RFC 2765
NAT64 = _V6("64:ff9b::/96")
LOCAL_NAT64 = _V6("64:ff9b:1::/48")  # RFC 8215; judged by its /96 reading, and never public
SIX_TO_FOUR = _V6("2002::/16")
TEREDO = _V6("2001::/32")
ISATAP_MASK = 0xFCFF_FFFF  # the interface identifier's top 32 bits, u/g bits ignored
ISATAP_MARK = 0x0000_5EFE
LABEL_DOTS = str.maketrans({"\u3002": ".", "\uff0e": ".", "\uff61": "."})


def embedded_ipv4(address: ipaddress.IPv6Address) -> tuple[ipaddress.IPv4Address, ...]:
    """The IPv4 addresses an IPv6 address carries by a standard embedding (maybe none)."""
    value = int(address)
    low32 = ipaddress.IPv4Address(value & 0xFFFF_FFFF)
    if any(address in net for net in (COMPATIBLE, MAPPED, TRANSLATED, NAT64, LOCAL_NAT64)):
        return (low32,)
    if address in SIX_TO_FOUR:
        return (ipaddress.IPv4Address((value >> 80) & 0xFFFF_FFFF),)
    if address in TEREDO:
        server = ipaddress.IPv4Address((value >> 64) & 0xFFFF_FFFF)
        return server, ipaddress.IPv4Address(~value & 0xFFFF_FFFF)
    if (value >> 32) & ISATAP_MASK == ISATAP_MARK:
        return (low32,)
    return ()


def _why_not_public_v4(address: ipaddress.IPv4Address) -> str | None:
    if any(address in network for network in NOT_PUBLIC_V4) or not address.is_global:
        return f"{address} is a non-public address"
    return None


def why_not_public(address: IPAddress) -> str | None:
    """Why `address` is not a public unicast address (loopback, private, link-local, shared,
    reserved, multicast, documentation, or embedding such an IPv4 address), or None."""
    if isinstance(address, ipaddress.IPv4Address):
        return _why_not_public_v4(address)
    for inner in embedded_ipv4(address):
        if _why_not_public_v4(inner) is not None:
            return f"{address} embeds the non-public address {inner}"
    bare = ipaddress.IPv6Address(int(address))  # without a zone id
    if any(bare in network for network in (MAPPED, TRANSLATED, NAT64, SIX_TO_FOUR, TEREDO)):
        return None  # a translation prefix: what it reaches is the IPv4 address judged above
    if (
        bare not in GLOBAL_UNICAST_V6
        or any(bare in network for network in NOT_PUBLIC_V6)
        or not bare.is_global
    ):
        return f"{address} is a non-public address"
    return None


def is_public(address: IPAddress) -> bool:
    """True for globally routable unicast addresses (see `why_not_public`)."""
    return why_not_public(address) is None


def whatwg_ipv4(text: str) -> ipaddress.IPv4Address | None:
    """The URL Standard's IPv4 parser (host parsing, 'IPv4 parser'): `127.1`, `0x7f.1`,
    `0177.0.0.1`, `2130706433`, `127.0.0.1.` -> 127.0.0.1; None if `text` is not one."""
    parts = text.split(".")
    if parts[-1] == "" and len(parts) > 1:
        parts.pop()
    if len(parts) > 4:
        return None
    numbers = [_ipv4_number(part) for part in parts]
    if any(number is None for number in numbers):
        return None
    values = [number for number in numbers if number is not None]
    if any(value > 255 for value in values[:-1]) or values[-1] >= 256 ** (5 - len(values)):
        return None
    total = values[-1]
    for index, value in enumerate(values[:-1]):
        total += value * 256 ** (3 - index)
    return ipaddress.IPv4Address(total)


def _ipv4_number(part: str) -> int | None:
    if not part or not part.isascii():
        return None
    radix = 10
    if len(part) >= 2 and part[:2] in ("0x", "0X"):
        part, radix = part[2:], 16
    elif len(part) >= 2 and part[0] == "0":
        part, radix = part[1:], 8
    if not part:
        return 0
    digits = "0123456789abcdef"[:radix]
    if any(ch not in digits for ch in part.lower()):
        return None
    return int(part, radix)


def host_forms(host: str) -> tuple[str, ...]:
    """`host` as written, lowercased, and as the URL Standard's host parser would read it
    (percent-decoded, UTS #46 mapped), without IPv6 brackets."""
    forms = [host.strip("[]").lower()]
    decoded = unquote(forms[0], errors="replace")
    forms.append(decoded)
    try:
        forms.append(idna.uts46_remap(decoded, std3_rules=False, transitional=False))
    except (idna.IDNAError, ValueError):
        forms.append(unicodedata.normalize("NFKC", decoded).lower())
    return tuple(dict.fromkeys(form.translate(LABEL_DOTS) for form in forms))


def host_addresses(host: str) -> tuple[IPAddress, ...]:
    """Every address that some reader takes `host` (a URL's host, brackets allowed) to be:
    empty for a name that only DNS can answer."""
    found: list[IPAddress] = []
    for form in host_forms(host):
        texts = (form, form.partition("%")[0]) if ":" in form else (form,)  # fe80::1%eth0
        for text in texts:
            try:
                found.append(ipaddress.ip_address(text))
            except ValueError:
                found.extend(v4 for v4 in (whatwg_ipv4(text), _decimal_quad(text)) if v4)
    return tuple(dict.fromkeys(found))


def _decimal_quad(text: str) -> ipaddress.IPv4Address | None:
    """`0127.0.0.1` read with leading zeros as decimal, as some parsers do (Go before 1.17)."""
    parts = text.removesuffix(".").split(".")
    if len(parts) != 4 or not all(p.isascii() and p.isdigit() and int(p) < 256 for p in parts):
        return None
    return ipaddress.IPv4Address(".".join(str(int(part)) for part in parts))


def is_loopback_name(host: str) -> bool:
    """`localhost`, `localhost.` and names under `.localhost` (RFC 6761), in any spelling."""
    for form in host_forms(host):
        name = form.rstrip(".")
        if name == "localhost" or name.endswith(".localhost"):
            return True
    return False


def parse_networks(texts: tuple[str, ...]) -> tuple[IPNetwork, ...]:
    """`127.0.0.2/32`, `10.1.0.0/16`, `fd00::/8` -> networks; a bad one is ValueError."""
    return tuple(ipaddress.ip_network(text, strict=False) for text in texts)


def permitted(address: IPAddress, networks: tuple[IPNetwork, ...]) -> bool:
    """Public, or inside a network the user allowed with --allow-network (an IPv4-mapped IPv6
    address counts as the IPv4 address it maps)."""
    if is_public(address):
        return True
    candidates: list[IPAddress] = [address]
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        candidates.append(address.ipv4_mapped)
    return any(candidate in network for candidate in candidates for network in networks)


def refuse_literal(
    host: str, networks: tuple[IPNetwork, ...] = (), *, names: bool = True
) -> str | None:
    """The reason to refuse `host` without resolving it, or None: an IP literal in any spelling
    that is not permitted, or (if `names`) a `localhost` name."""
    if names and is_loopback_name(host):
        return f"{host} is a loopback name"
    for address in host_addresses(host):
        if not permitted(address, networks):
            reason = why_not_public(address) or f"{address} is a non-public address"
            if str(address) == host.strip("[]"):
                return reason
            return f"{host} reads as {address}; {reason}"
    return None
