"""One schema for settings: the command line and the config file take the same names, types,
ranges and units (sizes like `1GB`, durations like `30s`); a bad value is one line naming the
setting (and the file), exit 2, before the collection is touched."""

from __future__ import annotations

import json
from pathlib import Path

import click
import pytest

from archiver.cli import cli
from archiver.config import load_config
from archiver.errors import InputError
from archiver.units import parse_duration, parse_size
from tests.conftest import run_cli
from tests.origin import body, random_bytes, running_origin

pytestmark = pytest.mark.slow  # end-to-end: leave out with -m 'not slow'


@pytest.mark.parametrize(
    ("text", "size"),
    [
        ("4096", 4096),
        ("1GB", 10**9),
        ("1 gb", 10**9),
        ("500MiB", 500 * 2**20),
        ("1.5kB", 1500),
        ("2KiB", 2048),
        ("10B", 10),
        ("1TiB", 2**40),
    ],
)
def test_sizes_are_bytes_or_a_number_with_an_si_or_iec_unit(text: str, size: int) -> None:
    assert parse_size(text) == size


@pytest.mark.parametrize("text", ["", "GB", "1XB", "-1GB", "1e9", "0.5B", "1.2.3MB", "1 G B"])
def test_a_size_that_is_not_one_is_refused(text: str) -> None:
    with pytest.raises(ValueError):
        parse_size(text)


@pytest.mark.parametrize(
    ("text", "seconds"),
    [("30", 30.0), ("2.5", 2.5), ("30s", 30.0), ("2m", 120.0), ("1h30m", 5400.0), ("500ms", 0.5)],
)
def test_durations_are_seconds_or_go_style_parts(text: str, seconds: float) -> None:
    assert parse_duration(text) == seconds


@pytest.mark.parametrize("text", ["", "s", "x", "-5s", "5 parsecs", "inf", "nan", "1e3", "2d"])
def test_a_duration_that_is_not_one_is_refused(text: str) -> None:
    with pytest.raises(ValueError):
        parse_duration(text)


SAME_WAY = [
    ("max-size", "1GB", 10**9),
    ("max-size", "500MiB", 500 * 2**20),
    ("max-size", "4096", 4096),
    ("max-size", "1XB", None),
    ("max-size", "0", None),
    ("warc-size", "5", None),
    ("warc-size", "1MB", 10**6),
    ("timeout", "30s", 30.0),
    ("timeout", "2m", 120.0),
    ("timeout", "2.5", 2.5),
    ("timeout", "0", None),
    ("timeout", "x", None),
    ("total-time", "1h30m", 5400.0),
    ("delay", "500ms", 0.5),
    ("delay", "soon", None),
    ("retries", "20", 20),
    ("retries", "21", None),
    ("retries", "-1", None),
    ("workers", "1000", None),
    ("workers", "0", None),
    ("concurrency", "lots", None),
    ("per-host", "65", None),
    ("robots", "ignore", "ignore"),
    ("robots", "sometimes", None),
    ("tls-verify", "lenient", None),
    ("user-agent", "a\nb", None),
    ("allow-network", "10.0.0.300/8", None),
]


def _from_command_line(name: str, text: str) -> object:
    option = next(p for p in cli.commands["archive"].params if f"--{name}" in p.opts)
    try:
        value = option.type.convert(text, option, None)
    except click.BadParameter:
        return None
    return value


def _from_file(tmp_path: Path, name: str, text: str) -> object:
    config = tmp_path / "c.toml"
    config.write_text(f"{name} = {json.dumps(text)}\n", encoding="utf-8")
    try:
        return load_config(config)[name.replace("-", "_").replace("network", "networks")]
    except InputError as exc:
        assert str(exc).startswith(f"{config}: {name} must be "), exc
        return None


@pytest.mark.parametrize(("name", "text", "expected"), SAME_WAY)
def test_the_command_line_and_the_file_read_a_value_the_same_way(
    tmp_path: Path, name: str, text: str, expected: object
) -> None:
    assert _from_command_line(name, text) == expected
    assert _from_file(tmp_path, name, text) == expected


@pytest.mark.parametrize(
    ("line", "field", "value"),
    [
        ("max-size = 1000", "max_size", 1000),
        ("timeout = 2.5", "timeout", 2.5),
        ("delay = 1", "delay", 1.0),
        ('retries = "3"', "retries", 3),  # the command line's text is taken in the file too
        ('allow-network = "10.0.0.0/8"', "allow_networks", ("10.0.0.0/8",)),
    ],
)
def test_the_file_takes_toml_numbers_and_the_command_line_text(
    tmp_path: Path, line: str, field: str, value: object
) -> None:
    (tmp_path / "c.toml").write_text(line + "\n", encoding="utf-8")
    assert load_config(tmp_path / "c.toml")[field] == value


@pytest.mark.parametrize("line", ["max-size = 1.5", "timeout = true", "workers = 2.0"])
def test_numbers_of_the_wrong_kind_are_refused_in_the_file(tmp_path: Path, line: str) -> None:
    (tmp_path / "c.toml").write_text(line + "\n", encoding="utf-8")
    with pytest.raises(InputError, match=line.split(maxsplit=1)[0]):
        load_config(tmp_path / "c.toml")


def test_a_setting_given_twice_in_the_file_is_refused(tmp_path: Path) -> None:
    (tmp_path / "c.toml").write_text("max-size = 10\nmax_size = 20\n", encoding="utf-8")
    with pytest.raises(InputError, match="max-size is given twice"):
        load_config(tmp_path / "c.toml")


@pytest.mark.parametrize("where", ["file", "command line"])
def test_a_size_with_a_unit_is_taken_and_used(tmp_path: Path, where: str) -> None:
    """`max-size = "1GB"` made every link fail with a TypeError; `--max-size 1GB` was refused.
    `1kB` is 1000 bytes: a 5000-byte body is cut there and marked truncated."""
    with running_origin() as origin:
        origin.routes["/a.jpg"] = body(random_bytes(5000, 1), "image/jpeg")
        origin.routes["/b.jpg"] = body(random_bytes(5000, 2), "image/jpeg")
        (tmp_path / "d.md").write_text(f"![x]({origin.url('/a.jpg')})\n", encoding="utf-8")
        (tmp_path / "e.md").write_text(f"![x]({origin.url('/b.jpg')})\n", encoding="utf-8")
        args = ["--allow-private", "--json"]
        if where == "file":
            (tmp_path / "c.toml").write_text('max-size = "1GB"\ntimeout = "30s"\n')
            (tmp_path / "k.toml").write_text('max-size = "1kB"\n')
            whole = run_cli("archive", "d.md", "-c", "x", "--config", "c.toml", *args, cwd=tmp_path)
            cut = run_cli("archive", "e.md", "-c", "y", "--config", "k.toml", *args, cwd=tmp_path)
        else:
            sizes = ["--max-size", "1GB", "--timeout", "30s"]
            whole = run_cli("archive", "d.md", "-c", "x", *sizes, *args, cwd=tmp_path)
            cut = run_cli("archive", "e.md", "-c", "y", "--max-size", "1kB", *args, cwd=tmp_path)
    assert whole.code == 0 and cut.code == 0, (whole.err, cut.err)
    assert json.loads(whole.out)["counts"] == {"archived": 1}
    row = json.loads((tmp_path / "manifests/x/links.jsonl").read_text())
    assert row["size"] == 5000
    row = json.loads((tmp_path / "manifests/y/links.jsonl").read_text())
    assert row["size"] == 1000 and row.get("truncated"), row


@pytest.mark.parametrize(
    ("command", "proxy"),
    [
        ("archive", "127.0.0.1:3128"),
        ("archive", "ftp://127.0.0.1:21"),
        ("recheck", "127.0.0.1:3128"),
        ("recheck", "ftp://127.0.0.1:21"),
        ("recheck", "http://"),
    ],
)
@pytest.mark.parametrize("where", ["file", "command line"])
def test_a_proxy_that_names_no_proxy_is_refused_before_the_collection_is_touched(
    tmp_path: Path, command: str, proxy: str, where: str
) -> None:
    (tmp_path / "d.md").write_text("![x](http://127.0.0.1:9/a.jpg)\n", encoding="utf-8")
    assert run_cli("archive", "d.md", "-c", "x", cwd=tmp_path).code == 0
    folder = tmp_path / "manifests/x"
    before = {path.name: path.read_bytes() for path in folder.iterdir() if path.is_file()}
    args = ["d.md"] if command == "archive" else []
    if where == "file":
        (tmp_path / "c.toml").write_text(f"proxy = {json.dumps(proxy)}\n", encoding="utf-8")
        args += ["--config", "c.toml"]
    else:
        args += ["--proxy", proxy]
    ran = run_cli(command, *args, "-c", "x", cwd=tmp_path)
    assert ran.code == 2 and "Traceback" not in ran.err, ran.err
    assert len(ran.err.strip().splitlines()) == 1 and "proxy" in ran.err, ran.err
    after = {path.name: path.read_bytes() for path in folder.iterdir() if path.is_file()}
    assert after == before
