"""Finding a lost link's captures in web archives: the --archives setting, the CDX and TimeMap
answers read as the archives write them (Hypothesis: any bytes give mementos or the documented
error, in bounded time), and the capture chosen for the citing document's date. Lookups end to
end are in test_archives_lookup.py."""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
import time
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from archiver.archives import (
    ArchiveSource,
    GarbledAnswer,
    archive_sources,
    choose,
    choose_redirect,
    document_moment,
    parse_cdx,
    parse_timemap,
    ranked,
    raw_memento_url,
    redirect_target,
)
from archiver.config import ARCHIVES, Settings, load_config
from archiver.errors import InputError
from archiver.fetch.politeness import HostGate
from archiver.models import Memento
from archiver.schema import parse_setting

WAYBACK = ArchiveSource("wayback", "https://web.archive.org")
MEMGATOR = ArchiveSource("memento", "https://memgator.cs.odu.edu")

# The Wayback Machine's CDX answer for example.com, as it writes it (one row per line; a
# port in `original`; a redirect; a revisit, statuscode `-`)
CDX_ANSWER = b"\n".join(
    [
        b'[["urlkey","timestamp","original","mimetype","statuscode","digest","length"],',
        b'["com,example)/", "20020120142510", "http://example.com:80/", "text/html", "200", '
        b'"HT2DYGA5UKZCPBSFVCV3JOBXGW2G5UUA", "1792"],',
        b'["com,example)/", "20020328012821", "http://www.example.com:80/", "text/html", "200", '
        b'"UY6BTJJNNUPQAXHY2ULXJGDVTCNV6O4A", "491"],',
        b'["com,example)/", "20020926105604", "http://example.com/", "text/html", "302", '
        b'"3I42H3S6NNFQ2MSVX7XZKYAYSCX5QBYJ", "385"],',
        b'["com,example)/", "20021001234050", "http://example.com/", "warc/revisit", "-", '
        b'"UY6BTJJNNUPQAXHY2ULXJGDVTCNV6O4A", "555"],',
        b'["com,example)/", "20030401000000", "http://example.com/", "text/html", "404", '
        b'"Z5S3V7FJ3JBGQ3GU7WW7XHE7GFKTHOLC", "300"]]',
        b"",
    ]
)

# A MemGator TimeMap: mementos from several archives, rel lists, a comma inside a URI-M
TIMEMAP_ANSWER = b",\n".join(
    [
        b'<http://example.com/>; rel="original"',
        b'<https://memgator.cs.odu.edu/timemap/link/http://example.com/>; rel="self"; '
        b'type="application/link-format"',
        b"<https://web.archive.org/web/20020120142510/http://example.com:80/>; "
        b'rel="first memento"; datetime="Sun, 20 Jan 2002 14:25:10 GMT"',
        b'<https://arquivo.pt/wayback/20150101120000/http://example.com/>; rel="memento"; '
        b'datetime="Thu, 01 Jan 2015 12:00:00 GMT"',
        b'<https://example.org/memento/abc?x=1,2>; rel="memento"; '
        b'datetime="Fri, 01 Jan 2016 00:00:00 GMT"',
        b'<ftp://example.net/20170101000000/http://example.com/>; rel="memento"; '
        b'datetime="Sun, 01 Jan 2017 00:00:00 GMT"',
        b'<https://web.archive.org/web/20210101000000/http://example.com/>; rel="last memento"; '
        b'datetime="Fri, 01 Jan 2021 00:00:00 GMT"',
        b'<https://memgator.cs.odu.edu/timegate/http://example.com/>; rel="timegate"\n',
    ]
)


def memento(when: str, status: int | None = 200, uri_r: str = "http://example.com/") -> Memento:
    """A memento captured at `when` (14 digits) on the Wayback Machine."""
    iso = f"{when[:4]}-{when[4:6]}-{when[6:8]}T{when[8:10]}:{when[10:12]}:{when[12:14]}Z"
    base = "https://web.archive.org/web"
    return Memento(
        WAYBACK.name, uri_r, f"{base}/{when}/{uri_r}", f"{base}/{when}id_/{uri_r}", iso, status
    )


# --- the setting ------------------------------------------------------------------------


def test_the_default_archives_are_the_wayback_cdx_api_then_memgator() -> None:
    assert Settings().archives == ARCHIVES
    assert [s.name for s in archive_sources(Settings())] == [
        "wayback=https://web.archive.org",
        "memento=https://memgator.cs.odu.edu",
    ]


def test_archives_read_the_same_from_the_command_line_and_the_config_file(tmp_path: Path) -> None:
    given_text = parse_setting("archives", "wayback=http://a.example/, memento=https://b.example/m")
    config = tmp_path / "c.toml"
    config.write_text('archives = ["wayback=http://a.example/", "memento=https://b.example/m"]\n')
    assert load_config(config)["archives"] == given_text
    assert given_text == ("wayback=http://a.example", "memento=https://b.example/m")


@pytest.mark.parametrize(
    "item",
    ["web.archive.org", "timetravel=http://x.example", "wayback=ftp://x.example", "wayback=",
     "memento=http://x.example/?q=1", "wayback=http://user:pw@x.example", ""],
)  # fmt: skip
def test_a_bad_archives_item_is_one_line_naming_the_setting(tmp_path: Path, item: str) -> None:
    config = tmp_path / "c.toml"
    config.write_text(f'archives = "{item}"\n')
    with pytest.raises(InputError) as caught:
        load_config(config)
    message = str(caught.value)
    assert "\n" not in message
    assert "archives" in message
    assert "wayback=BASE or memento=BASE" in message


@pytest.mark.parametrize(
    "base", ["http://127.0.0.1:8080", "http://localhost:8080", "http://[::1]", "http://10.1.2.3"]
)
def test_an_archive_at_a_private_address_is_refused_unless_allowed(base: str) -> None:
    chosen = Settings(archives=(f"wayback={base}",))
    with pytest.raises(InputError, match="allow-private"):
        archive_sources(chosen)
    allowed = archive_sources(Settings(archives=chosen.archives, allow_private=True))
    assert allowed[0].base == base


def test_an_archive_in_an_allowed_network_is_asked() -> None:
    chosen = Settings(archives=("wayback=http://10.1.2.3",), allow_networks=("10.1.2.0/24",))
    assert archive_sources(chosen)[0].host == "10.1.2.3"


# --- CDX answers --------------------------------------------------------------------------


def test_a_cdx_answer_lists_each_capture_with_its_raw_url_and_status() -> None:
    found = parse_cdx(CDX_ANSWER, WAYBACK)
    assert [m.datetime for m in found] == [
        "2002-01-20T14:25:10Z",
        "2002-03-28T01:28:21Z",
        "2002-09-26T10:56:04Z",
        "2002-10-01T23:40:50Z",
        "2003-04-01T00:00:00Z",
    ]
    assert [m.http_status for m in found] == [
        200,
        200,
        302,
        200,
        404,
    ]  # the revisit's from its digest
    first = found[0]
    assert first.raw_url == "https://web.archive.org/web/20020120142510id_/http://example.com:80/"
    assert first.uri_m == "https://web.archive.org/web/20020120142510/http://example.com:80/"
    assert (first.uri_r, first.mime, first.archive) == (
        "http://example.com:80/",
        "text/html",
        "wayback=https://web.archive.org",
    )
    assert first.digest == "HT2DYGA5UKZCPBSFVCV3JOBXGW2G5UUA"


@pytest.mark.parametrize("body", [b"", b"[]", b"[]\n", b" \n"])
def test_an_empty_cdx_answer_means_no_captures(body: bytes) -> None:
    assert parse_cdx(body, WAYBACK) == []


@pytest.mark.parametrize(
    "body",
    [
        b"<html><body>Wayback Machine is down for maintenance</body></html>",
        b'{"error": "rate limited"}',
        b'[["urlkey","digest"],["com,example)/","X"]]',  # no timestamp, no original
        b"[[1, 2], [3, 4]]",
        b"\xff\xfe[",
        b"[" * 100000,
    ],
)
def test_a_garbled_cdx_answer_is_a_garbled_answer_error(body: bytes) -> None:
    with pytest.raises(GarbledAnswer, match="garbled CDX answer"):
        parse_cdx(body, WAYBACK)


def test_a_cdx_answer_cut_at_the_limit_keeps_its_whole_rows() -> None:
    cut = CDX_ANSWER[: CDX_ANSWER.index(b"20021001234050") + 5]
    found = parse_cdx(cut, WAYBACK, cut=True)
    assert [m.datetime[:10] for m in found] == ["2002-01-20", "2002-03-28", "2002-09-26"]


def test_rows_that_are_no_capture_of_a_web_url_are_skipped() -> None:
    body = b"""[["timestamp","original","statuscode"],
["2019013", "http://example.com/", "200"],
["20191332000000", "http://example.com/", "200"],
["20190101000000", "dns:example.com", "200"],
["20190102000000", "http://example.com/a b#c", "200"]]"""
    found = parse_cdx(body, WAYBACK)
    assert [m.raw_url for m in found] == [
        "https://web.archive.org/web/20190102000000id_/http://example.com/a%20b%23c"
    ]


# --- TimeMaps -----------------------------------------------------------------------------


def test_a_timemap_lists_its_mementos_with_raw_urls_where_the_archive_has_them() -> None:
    url = "https://memgator.cs.odu.edu/timemap/link/http://example.com/"
    found = parse_timemap(TIMEMAP_ANSWER, MEMGATOR, url, "http://example.com/")
    assert [(m.datetime, m.raw_url) for m in found] == [
        (
            "2002-01-20T14:25:10Z",
            "https://web.archive.org/web/20020120142510id_/http://example.com:80/",
        ),
        (
            "2015-01-01T12:00:00Z",
            "https://arquivo.pt/wayback/20150101120000id_/http://example.com/",
        ),
        ("2016-01-01T00:00:00Z", "https://example.org/memento/abc?x=1,2"),  # not Wayback-form
        (
            "2021-01-01T00:00:00Z",
            "https://web.archive.org/web/20210101000000id_/http://example.com/",
        ),
    ]
    assert {m.uri_r for m in found} == {"http://example.com/"}
    assert {m.http_status for m in found} == {None}  # a TimeMap does not say
    assert {m.archive for m in found} == {"memento=https://memgator.cs.odu.edu"}


def test_timemap_entries_may_be_relative_and_spread_over_lines_and_attributes() -> None:
    body = (
        b'</web/20190101000000/http://e.example/> ;rel = "memento" ; '
        b'datetime="Tue, 01 Jan 2019 00:00:00 GMT" , <http://e.example/>;rel=original'
    )
    found = parse_timemap(body, MEMGATOR, "http://tm.example/timemap/link/x", "http://x/")
    assert [(m.uri_r, m.uri_m) for m in found] == [
        ("http://e.example/", "http://tm.example/web/20190101000000/http://e.example/")
    ]


@pytest.mark.parametrize(
    "body",
    [b"<html>no TimeMap here</html>", b'<http://a>; rel="memento', b"<http://a", b"\x80abc"],
)
def test_a_garbled_timemap_is_a_garbled_answer_error(body: bytes) -> None:
    with pytest.raises(GarbledAnswer, match="garbled TimeMap answer"):
        parse_timemap(body, MEMGATOR, "http://tm.example/", "http://x/")


def test_a_timemap_cut_at_the_limit_keeps_its_whole_lines() -> None:
    cut = TIMEMAP_ANSWER[: TIMEMAP_ANSWER.index(b"example.org/memento") + 5]
    found = parse_timemap(cut, MEMGATOR, "http://tm.example/", "http://x/", cut=True)
    assert [m.datetime[:4] for m in found] == ["2002", "2015"]


@pytest.mark.parametrize(
    ("uri_m", "raw"),
    [
        ("http://w.example/web/20200101000000/http://a/b", "http://w.example/web/20200101000000id_/http://a/b"),
        ("http://w.example/20200101000000/http://a/", "http://w.example/20200101000000id_/http://a/"),
        ("http://w.example/web/20200101000000im_/http://a/", "http://w.example/web/20200101000000im_/http://a/"),
        ("http://w.example/m/123", "http://w.example/m/123"),
        ("http://w.example/?t=20200101000000/x", "http://w.example/?t=20200101000000/x"),
    ],
)  # fmt: skip
def test_the_raw_url_of_a_memento_inserts_id_into_the_wayback_form_only(
    uri_m: str, raw: str
) -> None:
    assert raw_memento_url(uri_m) == raw


# --- arbitrary bytes: only the documented error, in bounded time ---------------------------

LINKISH = st.text(alphabet='<>;,="\\ \n\tremntoiagdlhp:/0123456789GMT', max_size=300)


@settings(max_examples=300, deadline=1000)
@given(st.binary(max_size=2000))
def test_any_bytes_as_a_cdx_answer_give_mementos_or_a_garbled_answer(data: bytes) -> None:
    for cut in (False, True):
        with contextlib.suppress(GarbledAnswer):
            parse_cdx(data, WAYBACK, cut=cut)


@settings(max_examples=300, deadline=1000)
@given(st.lists(st.lists(st.text(max_size=20), max_size=8), max_size=6))
def test_any_json_rows_as_a_cdx_answer_give_mementos_or_a_garbled_answer(
    rows: list[list[str]],
) -> None:
    try:
        found = parse_cdx(json.dumps(rows).encode(), WAYBACK)
    except GarbledAnswer:
        return
    assert all(m.raw_url.startswith("https://web.archive.org/web/") for m in found)


@settings(max_examples=300, deadline=1000)
@given(st.one_of(st.binary(max_size=2000), LINKISH.map(str.encode)))
def test_any_bytes_as_a_timemap_give_mementos_or_a_garbled_answer(data: bytes) -> None:
    for cut in (False, True):
        try:
            found = parse_timemap(data, MEMGATOR, "http://tm.example/t/", "http://x/", cut=cut)
        except GarbledAnswer:
            continue
        assert all(m.raw_url.startswith(("http://", "https://")) for m in found)


def test_a_long_hostile_timemap_is_read_in_linear_time() -> None:
    """Quadratic work on this (backtracking, rescanning) would take minutes."""
    body = b'<http://a>; rel="' + b'\\"' * 100_000 + b'"' + b", <x>; a=b" * 20_000
    started = time.monotonic()
    with contextlib.suppress(GarbledAnswer):
        parse_timemap(body, MEMGATOR, "http://tm.example/", "http://x/")
    assert time.monotonic() - started < 5


@settings(max_examples=200, deadline=1000)
@given(st.text(max_size=40), st.lists(st.tuples(st.binary(max_size=30), st.binary(max_size=60))))
def test_document_dates_and_redirect_headers_never_raise(
    date: str, headers: list[tuple[bytes, bytes]]
) -> None:
    document_moment(date)
    target = redirect_target(memento("20200101000000", 302), headers)
    assert target is None or target.startswith(("http://", "https://"))


# --- choosing -----------------------------------------------------------------------------

CAPTURES = [
    memento("20180301000000"),
    memento("20190615120000"),
    memento("20200102000000", 404),
    memento("20200110000000", 301),
    memento("20200301000000"),
    memento("20210505000000", 503),
    memento("20220101000000"),
]


@pytest.mark.parametrize(
    ("date", "chosen"),
    [
        ("2020-01-05", "2019-06-15T12:00:00Z"),  # the latest 2xx before it, not the 404 or 301
        ("2020-03-01", "2020-03-01T00:00:00Z"),  # a date is its whole day
        ("2020-03-01T00:00:00Z", "2020-03-01T00:00:00Z"),
        ("2020-02-29T23:59:59+00:00", "2019-06-15T12:00:00Z"),
        ("2020-03-01T07:00:00+08:00", "2019-06-15T12:00:00Z"),  # 23:00 UTC the day before
        ("2017-05-01", "2018-03-01T00:00:00Z"),  # none before it: the earliest after
        ("2023-01-01", "2022-01-01T00:00:00Z"),
        (None, "2022-01-01T00:00:00Z"),  # undated: the latest
        ("", "2022-01-01T00:00:00Z"),
        ("not a date", "2022-01-01T00:00:00Z"),
    ],
)
def test_the_capture_chosen_is_the_2xx_one_closest_before_the_documents_date(
    date: str | None, chosen: str
) -> None:
    best = choose(CAPTURES, date)
    assert best is not None
    assert best.datetime == chosen


def test_the_captures_are_ranked_for_a_caller_that_finds_one_unusable() -> None:
    order = [m.datetime[:10] for m in ranked(CAPTURES, "2020-06-01")]
    assert order == ["2020-03-01", "2019-06-15", "2018-03-01", "2022-01-01"]


def test_a_capture_of_unknown_status_counts_and_one_of_a_404_does_not() -> None:
    unknown = memento("20200101000000", None)
    assert choose([memento("20190101000000"), unknown], "2020-06-01") == unknown
    assert choose([memento("20200101000000", 404)], "2020-06-01") is None


def test_a_redirect_capture_is_kept_aside_for_when_there_is_no_2xx_one() -> None:
    only = [memento("20190101000000", 404), memento("20200101000000", 302)]
    assert choose(only, "2020-06-01") is None
    redirect = choose_redirect(only, "2020-06-01")
    assert redirect is not None
    assert redirect.datetime == "2020-01-01T00:00:00Z"


@pytest.mark.parametrize(
    ("headers", "target"),
    [
        ([(b"X-Archive-Orig-Location", b"/new")], "http://example.com/new"),
        (
            [(b"Location", b"https://web.archive.org/web/20200101000000id_/https://example.com/b")],
            "https://example.com/b",
        ),
        ([(b"location", b"/web/20200101000000/http://example.com/c")], "http://example.com/c"),
        ([(b"Location", b"https://example.com/d")], "https://example.com/d"),
        ([(b"Content-Type", b"text/html")], None),
        ([(b"Location", b"http://[bad/")], None),
    ],
)
def test_a_redirect_capture_leads_to_the_original_url_to_look_up_next(
    headers: list[tuple[bytes, bytes]], target: str | None
) -> None:
    assert redirect_target(memento("20200101000000", 302), headers) == target


# --- an archive's own limits at the host gate ----------------------------------------------


def test_an_archives_host_is_held_to_its_own_gap_while_other_hosts_are_not() -> None:
    gate = HostGate(per_host=4, delay=0.0, total=32)
    gate.limit("archive.example", per_host=1, delay=0.2)
    starts: dict[str, list[float]] = {"archive.example": [], "origin.example": []}

    async def one(host: str) -> None:
        async with gate.slot(host):
            starts[host].append(time.monotonic())

    async def main() -> None:
        await asyncio.gather(*(one(host) for host in starts for _ in range(3)))

    asyncio.run(main())
    archive, origin = starts["archive.example"], starts["origin.example"]
    assert min(b - a for a, b in itertools.pairwise(archive)) >= 0.2
    assert max(origin) - min(origin) < 0.1  # the run's own limits elsewhere
