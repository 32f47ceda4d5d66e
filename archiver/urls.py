"""IRI -> canonical URI, and unwrapping of image proxies. Pure: no I/O.

`canonicalize` turns whatever a document wrote (entities, full-width spaces, protocol-relative or
relative references, Unicode hosts and paths) into one percent-encoded ASCII form used for
de-duplication and as the WARC-Target-URI. It is idempotent, and raises `UnfetchableURL` with a
short reason (`empty`, `scheme`, `relative`, `host`, `port`, `length`) for what cannot be fetched,
and nothing else: whatever it returns, httpx can make a request of. A URL is parsed and resolved as
the WHATWG URL Standard does (by ada, its reference-tested implementation): ASCII tab and newline
removed anywhere, C0 controls and spaces stripped at the ends, backslashes read as slashes and
`http:host` or `http:///host` read as `http://host/` in the special schemes, `%2e` segments as dot
segments, hosts mapped by UTS 46. Archiver's form is then written over it: every byte outside RFC
3986's unreserved and sub-delims percent-encoded, escapes of unreserved characters decoded, and the
fragment dropped. Hosts follow the WHATWG URL standard: a host ending in a number is an IPv4 address
in any of the forms `inet_aton` reads (`127.1`, `0x7f.1`, `2130706433`), written back
dotted-decimal, and refused if it is not one (`1.2.3.256`); an `xn--` label must be a valid IDNA
2008 A-label; a URL longer than httpx takes (65536 characters) is refused as `length`.
"""

from __future__ import annotations

import functools
import html
import ipaddress
import re
import unicodedata
from urllib.parse import parse_qs, unquote_to_bytes, urljoin, urlsplit

import ada_url

from archiver.addresses import whatwg_ipv4
from archiver.errors import UnfetchableURL

DEFAULT_PORTS = {"http": 80, "https": 443}
_SCHEME = re.compile(r"([A-Za-z][A-Za-z0-9+.-]*):")
_ENTITY = re.compile(r"&(?:#[0-9]{1,8}|#[xX][0-9a-fA-F]{1,8}|[A-Za-z][A-Za-z0-9]{0,31});")
_ASCII_HOST = re.compile(r"[a-z0-9_-]{1,63}(?:\.[a-z0-9_-]{1,63})*\.?")
_NUMERIC_LABEL = re.compile(r"[0-9]+|0x[0-9a-f]*")
_EDGE_JUNK = "\u200b\u200c\u200d\u2060\ufeff"
_C0_OR_SPACE = "".join(map(chr, range(0x21)))  # stripped at both ends (URL Standard)
_TAB_OR_NEWLINE = re.compile(r"[\t\n\r]")  # removed anywhere (URL Standard)
_NON_ASCII_BYTE = re.compile(rb"[\x80-\xff]")
_UNRESERVED = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~")
# Characters to percent-encode (or a %XX escape to normalise), by URL part.
_PATH_UNSAFE = re.compile(r"%[0-9A-Fa-f]{2}|[^A-Za-z0-9\-._~!$&'()*+,;=:@/]")
_QUERY_UNSAFE = re.compile(r"%[0-9A-Fa-f]{2}|[^A-Za-z0-9\-._~!$&'()*+,;=:@/?]")
_USER_UNSAFE = re.compile(r"%[0-9A-Fa-f]{2}|[^A-Za-z0-9\-._~!$&'()*+,;=:]")
MAX_URL_LENGTH = 65536  # characters, as httpx allows
MAX_ENTITY_LEVELS = 8  # documents escaped twice or thrice are common; eight is plenty
CACHE_SIZE = 8192  # canonical forms remembered: mirrors repeat their menus in every document
# What the URL Standard's serializer already writes in archiver's canonical form (most URLs):
# a lower-case host of ASCII labels, no userinfo, a port that is not the default, and a path
# and a non-empty query of characters that `_quote` keeps, with no escape to normalise.
_CANONICAL_REST = re.compile(
    r"//([a-z0-9_-]{1,63}(?:\.[a-z0-9_-]{1,63})*)(?::[1-9][0-9]{0,4})?"
    r"(?:/[A-Za-z0-9\-._~!$&'()*+,;=:@/]*)(?:\?[A-Za-z0-9\-._~!$&'()*+,;=:@/?]+)?"
)


@functools.lru_cache(maxsize=CACHE_SIZE)
def canonicalize(raw: str, base: str | None = None) -> str:
    """Return the canonical, percent-encoded ASCII form of `raw`, resolved against `base`.

    `raw` may hold HTML entities (decoded first, as a document's reader sees them) and the
    Unicode spaces and zero-width characters documents leave around URLs (stripped at the ends,
    beyond the URL Standard's C0 controls and spaces). A reference without a scheme needs
    `base`, itself canonicalised; `//host` without one takes https. Raises `UnfetchableURL`."""
    text = url_text(_unescape(raw)).split("#", 1)[0]
    if not text:
        raise UnfetchableURL(raw, "empty")
    match = _SCHEME.match(text)
    if match is None:
        base_url = _canonical_base(raw, base, text)
    elif match.group(1).lower() not in DEFAULT_PORTS:
        raise UnfetchableURL(raw, "scheme")
    else:
        base_url = _canonical_base(raw, base, text) if base else None
    try:
        href = ada_url.join_url(base_url, text) if base_url else ada_url.normalize_url(text)
    except (ValueError, UnicodeError):
        raise UnfetchableURL(raw, _why_not(raw, text, base_url)) from None
    scheme, _, rest = href.split("#", 1)[0].partition(":")
    if scheme not in DEFAULT_PORTS:
        raise UnfetchableURL(raw, "scheme")
    if _already_canonical(rest):
        url = f"{scheme}:{rest}"
        return _protect_entities(url) if "&" in url else url
    return _build(raw, scheme, rest)


def _already_canonical(rest: str) -> bool:
    """Whether `_build` would give `rest` back unchanged (the URL Standard's serializer has
    removed dot segments and default ports): a shortcut, never a different answer."""
    found = _CANONICAL_REST.fullmatch(rest)
    if found is None or "/." in rest or len(rest) > MAX_URL_LENGTH - 8:
        return False
    host = found.group(1)
    return (
        len(host) <= 253
        and "xn--" not in host
        and not _NUMERIC_LABEL.fullmatch(host.rpartition(".")[2])
    )


def url_text(raw: str) -> str:
    """`raw` as the URL Standard's parser starts reading it: C0 controls and spaces stripped
    at both ends (and the Unicode spaces and zero-width characters documents leave around
    URLs), ASCII tab and newline removed anywhere, and the slashes or backslashes it starts
    with written as slashes (every base archiver resolves against is http(s), a special
    scheme). Entities are not decoded here."""
    text = raw.strip().strip(_EDGE_JUNK).strip().strip(_C0_OR_SPACE)
    if "\t" in text or "\n" in text or "\r" in text:
        text = _TAB_OR_NEWLINE.sub("", text)
    slashes = len(text) - len(text.lstrip("/\\"))
    if "\\" in text[:slashes]:
        text = "/" * slashes + text[slashes:]
    return text


def _canonical_base(raw: str, base: str | None, text: str) -> str | None:
    """The canonical base to resolve `text` against; a reference without a scheme and without
    a usable base is `relative` (`//host` without one takes https: documents mean the web)."""
    if base:
        try:
            return canonicalize(base)
        except UnfetchableURL as exc:
            if _SCHEME.match(text) is None and not _scheme_relative(text):
                raise UnfetchableURL(raw, "relative") from exc
    if _SCHEME.match(text) is None:
        if not _scheme_relative(text):
            raise UnfetchableURL(raw, "relative")
        return "https://localhost/"
    return None


def _scheme_relative(text: str) -> bool:
    return text[:2] in ("//", "\\\\", "/\\", "\\/")


def _why_not(raw: str, text: str, base: str | None) -> str:
    """The reason a URL the URL Standard refuses cannot be fetched, told by the RFC 3986
    reading (`host`, `port`, ...); `host` where that reading would take it."""
    if _scheme_relative(text):
        text = f"{_base_scheme(base)}:{text}"
    try:
        joined = urljoin(base, text) if base and _SCHEME.match(text) is None else text
        match = _SCHEME.match(joined)
        if match is not None:
            _build(raw, match.group(1).lower(), joined[match.end() :])
    except UnfetchableURL as exc:
        return exc.reason
    except ValueError:
        pass
    return "host"


def _unescape(text: str) -> str:
    """Decode complete HTML entities (`&amp;`, `&#25105;`) until none is left, at most
    `MAX_ENTITY_LEVELS` times over (`&amp;amp;...` decodes one level a pass: unbounded, a long
    chain would take quadratic time; what is left is kept escaped by `_protect_entities`)."""
    for _ in range(MAX_ENTITY_LEVELS):
        decoded = _ENTITY.sub(lambda m: html.unescape(m.group(0)), text)
        if decoded == text:
            break
        text = decoded
    return text


def _base_scheme(base: str | None) -> str:
    if base:
        match = _SCHEME.match(base)
        if match and match.group(1).lower() in DEFAULT_PORTS:
            return match.group(1).lower()
    return "https"


def _build(raw: str, scheme: str, rest: str) -> str:
    if not rest.startswith("//"):
        raise UnfetchableURL(raw, "host")
    rest = rest[2:]
    end = len(rest)
    for sep in "/?":
        pos = rest.find(sep)
        if pos != -1:
            end = min(end, pos)
    authority, tail = rest[:end], rest[end:]
    path, _, query = tail.partition("?")
    netloc = _authority(raw, scheme, authority)
    path = _remove_dot_segments(_quote(path, _PATH_UNSAFE)) or "/"
    query = _quote(query, _QUERY_UNSAFE)
    url = _protect_entities(f"{scheme}://{netloc}{path}" + (f"?{query}" if query else ""))
    if len(url) > MAX_URL_LENGTH:
        raise UnfetchableURL(raw, "length")
    return url


def _authority(raw: str, scheme: str, authority: str) -> str:
    userinfo, at, hostport = authority.rpartition("@")
    host, port = _split_port(hostport)
    netloc = _host(raw, host)
    if port:
        if not port.isascii() or not port.isdigit() or not 0 < int(port) < 65536:
            raise UnfetchableURL(raw, "port")
        if int(port) != DEFAULT_PORTS[scheme]:
            netloc = f"{netloc}:{int(port)}"
    if at:
        netloc = f"{_quote(userinfo, _USER_UNSAFE)}@{netloc}"
    return netloc


def _split_port(hostport: str) -> tuple[str, str]:
    if hostport.startswith("["):
        host, bracket, port = hostport.partition("]")
        return host + bracket, port[1:] if port.startswith(":") else port
    host, _, port = hostport.partition(":")
    return host, port


def _host(raw: str, host: str) -> str:
    """Lowercase and IDNA-encode a host; refuse what cannot be one."""
    if host.startswith("["):
        try:
            if not host.endswith("]"):
                raise ValueError("no closing bracket")
            return f"[{ipaddress.IPv6Address(host[1:-1]).compressed}]"
        except ValueError as exc:
            raise UnfetchableURL(raw, "host") from exc
    if "%" in host:
        host = _percent_decoded_host(raw, host)
    host = host.lower()
    if not host.isascii():
        host = _idna(raw, host)
    if len(host) > 253 or not _ASCII_HOST.fullmatch(host):
        raise UnfetchableURL(raw, "host")
    labels = host.split(".")
    if labels[-1] == "":
        labels.pop()
    if _NUMERIC_LABEL.fullmatch(labels[-1]):
        return _ipv4(raw, labels)
    if "xn--" in host:
        _check_a_labels(raw, labels)
    return host


def _percent_decoded_host(raw: str, host: str) -> str:
    """A host with %XX escapes read as the URL Standard reads it (host parsing, step 4): the
    escapes decoded and the bytes read as UTF-8; not UTF-8 is no host."""
    try:
        return unquote_to_bytes(host).decode("utf-8")
    except UnicodeDecodeError as exc:
        raise UnfetchableURL(raw, "host") from exc


def _ipv4(raw: str, labels: list[str]) -> str:
    """A host ending in a number is an IPv4 address as the URL Standard reads it, written back
    dotted-decimal; anything else is no host at all."""
    address = whatwg_ipv4(".".join(labels))
    if address is None:
        raise UnfetchableURL(raw, "host")
    return str(address)


def _check_a_labels(raw: str, labels: list[str]) -> None:
    """Refuse an `xn--` label that does not decode under IDNA 2008 (as httpx reads it)."""
    import idna  # only hosts with an A-label need it

    for label in labels:
        if label.startswith("xn--"):
            try:
                idna.decode(label)
            except ValueError as exc:  # idna.IDNAError is a UnicodeError
                raise UnfetchableURL(raw, "host") from exc


def _idna(raw: str, host: str) -> str:
    labels = host.split(".")
    for label in labels:
        if not all(ch == "-" or unicodedata.category(ch)[0] in "LNM" for ch in label):
            raise UnfetchableURL(raw, "host")
    try:
        return ".".join(label.encode("idna").decode("ascii") for label in labels)
    except (UnicodeError, ValueError) as exc:
        raise UnfetchableURL(raw, "host") from exc


def resolve_location(base: str, location: str | bytes) -> str:
    """The canonical URL that a `Location` value (or any reference from a server or a file)
    names, resolved against the canonical URL `base` (RFC 9110 section 10.2.2, RFC 3986 section
    5.2). A header value is given as the bytes received and read as browsers read it
    (`header_url`); text is percent-encoded as UTF-8. Raises `UnfetchableURL` for whatever
    cannot be parsed or fetched (`http://[x/`, a port past 65535, a control character in the
    host), and never anything else."""
    if isinstance(location, bytes):
        location = header_url(location)
    try:
        joined = urljoin(base, location.strip())
    except ValueError as exc:
        raise UnfetchableURL(location, "host") from exc
    return canonicalize(joined)


def header_url(value: bytes) -> str:
    """A URL from a header's bytes as received (Location, Content-Location, Link, Refresh):
    every byte past ASCII percent-encoded as it is (`\xe6\x96\xb0` -> `%E6%96%B0`), so UTF-8,
    Latin-1 and GBK bytes reach the server exactly as it sent them, as browsers send them; never
    decoded and re-encoded in a guessed charset. A host so escaped is read as UTF-8 (IDNA)."""
    if value.isascii():
        return value.decode("ascii")
    return _NON_ASCII_BYTE.sub(lambda m: b"%%%02X" % m.group(0)[0], value).decode("ascii")


def _quote(text: str, unsafe: re.Pattern[str]) -> str:
    """Percent-encode what `unsafe` matches; keep valid escapes, decode unreserved ones."""
    return unsafe.sub(_encode, text)


def _encode(match: re.Match[str]) -> str:
    found = match.group(0)
    if len(found) == 3:
        byte = chr(int(found[1:], 16))
        return byte if byte in _UNRESERVED else found.upper()
    return "".join(f"%{b:02X}" for b in found.encode("utf-8", "surrogatepass"))


def _remove_dot_segments(path: str) -> str:
    """RFC 3986 section 5.2.4, on a path that starts with `/` (or is empty)."""
    if "." not in path:
        return path
    output: list[str] = []
    segments = path.split("/")[1:]
    for index, segment in enumerate(segments):
        last = index == len(segments) - 1
        if segment == "..":
            if output:
                output.pop()
            if last:
                output.append("")
        elif segment == ".":
            if last:
                output.append("")
        else:
            output.append(segment)
    return "/" + "/".join(output)


def _protect_entities(url: str) -> str:
    """Escape an `&` that would read as an entity, so a second pass decodes nothing."""
    return _ENTITY.sub(
        lambda m: "%26" + m.group(0)[1:] if html.unescape(m.group(0)) != m.group(0) else m.group(0),
        url,
    )


@functools.lru_cache(maxsize=CACHE_SIZE)
def host_of(url: str) -> str:
    """The lowercase host of a canonical URL, without user, port or IPv6 brackets (what
    urlsplit's `hostname` gives, in a fifth of the time: every extracted link asks)."""
    _, found, rest = url.partition("://")
    if not found:
        return ""
    for end in "/?#":
        rest = rest.partition(end)[0]
    host = rest.rpartition("@")[2]
    if host.startswith("["):
        close = host.find("]")
        return host[1:close].lower() if close > 0 else ""
    return host.partition(":")[0].lower()


def is_ip_literal(host: str) -> bool:
    """True for an IPv4 or IPv6 address (brackets allowed) rather than a name."""
    try:
        ipaddress.ip_address(host.strip("[]"))
    except ValueError:
        return False
    return True


_WAYBACK = re.compile(r"/web/\d{1,14}(?:[a-z]{2}_)?/(.+)", re.DOTALL)
_PHOTON_HOSTS = frozenset({"i0.wp.com", "i1.wp.com", "i2.wp.com", "i3.wp.com"})
_WESERV_HOSTS = frozenset({"images.weserv.nl", "wsrv.nl"})
_PROXY_MARKERS = ("weserv.nl", "wsrv.nl", "web.archive.org", ".wp.com", "googleusercontent.com")


@functools.lru_cache(maxsize=CACHE_SIZE)
def unwrap_proxy(url: str) -> str | None:
    """The canonical origin URL behind an image proxy or a Wayback capture, else None.

    weserv's `url` parameter usually lacks a scheme; weserv itself then fetches over http, and
    only an `ssl:` prefix or an explicit `https://` means https, so that is what is returned.
    Photon (i0-i3.wp.com) likewise uses http unless the query says `ssl=1`.
    """
    if not any(marker in url for marker in _PROXY_MARKERS):
        return None
    try:
        parts = urlsplit(url)
        host = (parts.hostname or "").lower()
        if host in _WESERV_HOSTS:
            return _weserv_origin(parts.query)
        if host == "web.archive.org":
            match = _WAYBACK.fullmatch(parts.path)
            origin = match.group(1) if match else None
            if origin and parts.query:
                origin = f"{origin}?{parts.query}"
            return _with_scheme(origin, "http") if origin else None
        if host in _PHOTON_HOSTS and parts.path.count("/") >= 2:
            scheme = "https" if "1" in parse_qs(parts.query).get("ssl", []) else "http"
            return _with_scheme(parts.path[1:], scheme)
        if host.endswith("googleusercontent.com") and parts.path == "/gadgets/proxy":
            return _weserv_origin(parts.query)
    except (ValueError, UnfetchableURL):
        return None
    return None


def _weserv_origin(query: str) -> str | None:
    values = parse_qs(query).get("url")
    if not values:
        return None
    target = values[0]
    if target.startswith("ssl:"):
        return _with_scheme(target[4:], "https")
    return _with_scheme(target, "http")


def _with_scheme(target: str, scheme: str) -> str:
    target = re.sub(r"^(https?):/+", r"\1://", target, flags=re.IGNORECASE)
    if not re.match(r"https?://", target, re.IGNORECASE):
        target = f"{scheme}://{target.lstrip('/')}"
    return canonicalize(target)
