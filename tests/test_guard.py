"""The judging functions of the private-address guard, without any connection: every spelling of
an IPv4 address, IPv6 addresses that embed IPv4 ones, zone ids, and the special-purpose ranges."""

from __future__ import annotations

import asyncio
import ipaddress
import socket

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from archiver.addresses import (
    is_public,
    parse_networks,
    refuse_literal,
    whatwg_ipv4,
)
from archiver.fetch.guard import Guard, PrivateAddress

LOOPBACK_SPELLINGS = [
    "127.1",
    "2130706433",
    "0x7f.1",
    "0X7F.0.0.1",
    "0177.0.0.1",
    "0177.1",
    "017700000001",
    "0x7f000001",
    "127.0.1",
    "127.0.0.1.",
    "127.0.0.0x1",
    "127.0.0.%31",  # percent-encoded, read as the URL Standard's host parser reads it
    "%31%32%37.0.0.1",
    "１２７.０.０.１",  # full-width digits
    "127。0。0。1",  # ideographic full stops
    "127．0．0．1",
]
NON_PUBLIC_IPV4 = [
    "0.0.0.0",
    "0",
    "10.1",  # 10.0.0.1
    "167772161",  # 10.0.0.1
    "192.168.1",
    "0xc0.0xa8.0x1.0x1",
    "2852039166",  # 169.254.169.254, the cloud metadata address
    "100.64.0.1",  # shared address space
    "100.127.255.254",
    "172.16.0.1",
    "192.0.0.9",
    "192.0.0.170",
    "192.0.2.1",
    "198.18.0.1",
    "198.19.255.255",
    "198.51.100.7",
    "203.0.113.9",
    "010.0.0.1",  # 8.0.0.1 as octal, 10.0.0.1 to parsers that read it as decimal
    "224.0.0.1",
    "239.255.255.250",
    "240.0.0.1",
    "255.255.255.255",
    "4294967295",
]
EMBEDDING_PRIVATE_IPV4 = [
    "[::ffff:127.0.0.1]",  # IPv4-mapped
    "[::ffff:7f00:1]",
    "[::127.0.0.1]",  # IPv4-compatible
    "[::ffff:0:127.0.0.1]",  # SIIT translated
    "[64:ff9b::127.0.0.1]",  # NAT64 well-known prefix
    "[64:ff9b::a9fe:a9fe]",  # NAT64 to 169.254.169.254
    "[64:ff9b:1::7f00:1]",  # local-use NAT64
    "[2002:7f00:1::1]",  # 6to4 of 127.0.0.1
    "[2002:c0a8:101::1]",  # 6to4 of 192.168.1.1
    "[2001:0:4136:e378:8000:63bf:80ff:fffe]",  # Teredo, client 127.0.0.1 (XORed)
    "[2001:0:7f00:1::1]",  # Teredo, server 127.0.0.1
    "[2001:4860::5efe:10.0.0.1]",  # ISATAP
    "[2001:4860::200:5efe:192.168.0.1]",
]
NON_PUBLIC_IPV6 = [
    "[::]",
    "[::1]",
    "[0:0:0:0:0:0:0:1]",
    "[fe80::1]",
    "[fe80::1%25eth0]",  # with a zone id, as a URL writes it
    "[fe80::1%eth0]",
    "[fc00::1]",
    "[fd12:3456::1]",
    "[fec0::1]",
    "[ff02::1]",
    "[2001:db8::1]",
    "[3fff::1]",
    "[100::1]",
    "[5f00::1]",
    "[4000::1]",  # outside global unicast
]
PUBLIC = [
    "8.8.8.8",
    "134744072",  # 8.8.8.8
    "0x8.0x8.0x8.0x8",
    "1.1.1.1",
    "[2606:4700:4700::1111]",
    "[::ffff:8.8.8.8]",
    "[64:ff9b::8.8.8.8]",
    "[2002:808:808::1]",
    "[2001:0:808:808:8000:63bf:f7f7:f7f7]",  # Teredo: server and client 8.8.8.8
    "[2001:4860::200:5efe:8.8.8.8]",
]


@pytest.mark.parametrize("host", LOOPBACK_SPELLINGS + NON_PUBLIC_IPV4)
def test_every_spelling_of_a_non_public_ipv4_address_is_refused(host: str) -> None:
    assert refuse_literal(host) is not None


@pytest.mark.parametrize("host", EMBEDDING_PRIVATE_IPV4)
def test_ipv6_embedding_a_private_ipv4_address_is_refused(host: str) -> None:
    reason = refuse_literal(host)
    assert reason is not None and "embeds" in reason
    assert not is_public(ipaddress.IPv6Address(host.strip("[]")))


@pytest.mark.parametrize("host", NON_PUBLIC_IPV6)
def test_non_public_ipv6_addresses_are_refused(host: str) -> None:
    assert refuse_literal(host) is not None


@pytest.mark.parametrize("host", [*PUBLIC, "example.com", "1.2.3.256", "127.0.0.1.example"])
def test_public_addresses_and_names_are_not_refused_without_resolving(host: str) -> None:
    assert refuse_literal(host) is None


@pytest.mark.parametrize("host", ["localhost", "LOCALHOST.", "a.b.localhost", "ｌｏｃａｌｈｏｓｔ"])
def test_localhost_names_are_refused_behind_a_proxy(host: str) -> None:
    assert refuse_literal(host) is not None
    assert refuse_literal(host, names=False) is None  # the resolver judges them when direct


def test_an_allowed_network_admits_its_addresses_in_any_spelling_and_no_others() -> None:
    networks = parse_networks(("127.0.0.2/32",))
    for host in ("127.0.0.2", "2130706434", "127.2", "[::ffff:127.0.0.2]"):
        assert refuse_literal(host, networks) is None, host
    for host in ("127.1", "127.0.0.1", "[::1]"):
        assert refuse_literal(host, networks) is not None, host


def test_the_reason_names_the_address_the_host_reads_as() -> None:
    reason = refuse_literal("2130706433") or ""
    assert "2130706433" in reason and "127.0.0.1" in reason


def _spelling(value: int, parts: int, radixes: list[int], pad: list[int]) -> str:
    """`value` written as inet_aton reads it: 1-4 parts, each in decimal, octal or hex."""
    sizes = [1] * (parts - 1) + [5 - parts]
    numbers, rest = [], value
    for size in reversed(sizes):
        numbers.append(rest % 256**size)
        rest //= 256**size
    numbers.reverse()
    out = []
    for number, radix, zeros in zip(numbers, radixes, pad, strict=False):
        if radix == 16:
            out.append("0x" + "0" * zeros + format(number, "x"))
        elif radix == 8:
            out.append("0" + "0" * zeros + format(number, "o"))
        else:
            out.append(str(number))
    return ".".join(out)


@settings(max_examples=300, deadline=None)
@given(
    value=st.one_of(
        st.integers(0, 2**32 - 1),
        st.sampled_from([0x7F000001, 0x0A000001, 0xA9FEA9FE, 0xC0A80101, 0x64400001, 0]),
    ),
    parts=st.integers(1, 4),
    radixes=st.lists(st.sampled_from([8, 10, 16]), min_size=4, max_size=4),
    pad=st.lists(st.integers(0, 3), min_size=4, max_size=4),
)
def test_every_spelling_inet_aton_accepts_is_judged_as_inet_aton_reads_it(
    value: int, parts: int, radixes: list[int], pad: list[int]
) -> None:
    host = _spelling(value, parts, radixes, pad)
    read = ipaddress.IPv4Address(socket.inet_aton(host))
    assert read == ipaddress.IPv4Address(value)
    assert whatwg_ipv4(host) == read
    if not is_public(read):
        assert refuse_literal(host) is not None, host


@settings(max_examples=300, deadline=None)
@given(st.text(alphabet="0123456789abcdefxX.", min_size=1, max_size=20))
def test_whatwg_reading_agrees_with_inet_aton_whenever_inet_aton_accepts(host: str) -> None:
    try:
        read = ipaddress.IPv4Address(socket.inet_aton(host))
    except OSError:
        return
    assert whatwg_ipv4(host) == read
    if not is_public(read):
        assert refuse_literal(host) is not None


@pytest.mark.parametrize("host", ["127.1", "0x7f.1", "127.0.0.1.", "64:ff9b::7f00:1", "::1"])
def test_the_direct_guard_refuses_every_spelling_before_resolving(host: str) -> None:
    with pytest.raises(PrivateAddress):
        asyncio.run(Guard(False).addresses(host, 80))


def test_the_proxy_guard_refuses_what_the_proxy_would_read_as_private() -> None:
    guard = Guard(False, parse_networks(("127.0.0.2/32",)))
    for host in ("127.1", "2130706433", "localhost", "fe80::1%25eth0"):
        with pytest.raises(PrivateAddress):
            guard.check_host(host)
    guard.check_host("127.0.0.2")
    guard.check_host("example.com")
    Guard(True).check_host("127.1")  # --allow-private
