"""The command line: bad input gets one clear line and exit 2; every command has help."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from archiver.cli import cli
from tests.conftest import Ran, run_cli

pytestmark = pytest.mark.slow  # end-to-end: leave out with -m 'not slow'

COMMANDS = sorted(cli.commands)


def assert_refused(ran: Ran, *words: str) -> None:
    assert ran.code == 2, (ran.code, ran.out, ran.err)
    assert "Traceback" not in ran.err
    lines = ran.err.strip().splitlines()
    assert len(lines) == 1, ran.err
    for word in words:
        assert word in lines[0], lines[0]


@pytest.mark.parametrize("command", COMMANDS)
def test_every_command_has_help_with_an_example(command: str) -> None:
    ran = run_cli(command, "--help")
    assert ran.code == 0
    assert "archiver " + command in ran.out or command in ran.out
    assert len(ran.out.splitlines()) > 5


def test_missing_path(tmp_path: Path) -> None:
    assert_refused(run_cli("links", "nowhere.md", cwd=tmp_path), "nowhere.md")
    assert_refused(run_cli("archive", "nowhere.md", "-c", "x", cwd=tmp_path), "nowhere.md")
    assert not (tmp_path / "manifests").exists()


def test_binary_file(tmp_path: Path) -> None:
    (tmp_path / "photo.md").write_bytes(b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" + bytes(range(256)))
    assert_refused(run_cli("archive", "photo.md", "-c", "x", cwd=tmp_path), "photo.md")


def test_unreadable_file(tmp_path: Path) -> None:
    (tmp_path / "link.md").symlink_to(tmp_path / "gone.md")
    assert_refused(run_cli("links", "link.md", cwd=tmp_path), "link.md")


def test_empty_folder(tmp_path: Path) -> None:
    (tmp_path / "empty").mkdir()
    assert_refused(run_cli("archive", "empty", "-c", "x", cwd=tmp_path), "empty")


def test_unknown_option(tmp_path: Path) -> None:
    assert_refused(
        run_cli("archive", "x.md", "-c", "x", "--frobnicate", cwd=tmp_path), "--frobnicate"
    )


@pytest.mark.parametrize("name", ["../up", ".hidden", "a/b", "名字", ""])
def test_bad_collection_names(tmp_path: Path, name: str) -> None:
    (tmp_path / "d.md").write_text("![x](https://example.org/a.jpg)\n", encoding="utf-8")
    assert_refused(run_cli("archive", "d.md", "-c", name, cwd=tmp_path), "collection")
    assert not (tmp_path / "manifests").exists()


def test_verify_unknown_collection(tmp_path: Path) -> None:
    assert_refused(run_cli("verify", "-c", "nothing", cwd=tmp_path), "nothing")


def test_bad_roles(tmp_path: Path) -> None:
    (tmp_path / "d.md").write_text("![x](https://example.org/a.jpg)\n", encoding="utf-8")
    assert_refused(
        run_cli("archive", "d.md", "-c", "x", "--roles", "images", cwd=tmp_path), "images"
    )


def test_links_lists_every_link_with_its_role(tmp_path: Path) -> None:
    (tmp_path / "d.md").write_text(
        "![图](https://example.org/图片.jpg)\n[home](../../README.md)\n", encoding="utf-8"
    )
    ran = run_cli("links", "d.md", cwd=tmp_path)
    assert ran.code == 0, ran.err
    rows = [json.loads(line) for line in ran.out.splitlines()]
    image = next(r for r in rows if r["role"] == "image")
    assert image == image | {
        "document": "d.md",
        "url": "https://example.org/%E5%9B%BE%E7%89%87.jpg",
        "raw": "https://example.org/图片.jpg",
        "found_as": "md-image",
        "archive": True,
    }
    mirror = next(r for r in rows if r["raw"] == "../../README.md")
    assert mirror["role"] == "navigation" and mirror["archive"] is False


def test_config_file_supplies_options(tmp_path: Path) -> None:
    (tmp_path / "d.md").write_text("![x](http://127.0.0.1:9/a.jpg)\n", encoding="utf-8")
    (tmp_path / "archiver.toml").write_text('roles = "source"\nretries = 0\n', encoding="utf-8")
    ran = run_cli("archive", "d.md", "-c", "x", "--config", "archiver.toml", "--json", cwd=tmp_path)
    assert ran.code == 0, ran.err
    assert json.loads(ran.out)["counts"] == {"skipped": 1}
    (tmp_path / "bad.toml").write_text("retries = \n", encoding="utf-8")
    assert_refused(
        run_cli("archive", "d.md", "-c", "x", "--config", "bad.toml", cwd=tmp_path), "bad.toml"
    )


def test_verify_exit_codes_through_the_command_line(tmp_path: Path) -> None:
    from tests.origin import body, random_bytes, running_origin

    with running_origin() as origin:
        origin.routes["/a.jpg"] = body(random_bytes(5000, 1), "image/jpeg")
        (tmp_path / "d.md").write_text(f"![x]({origin.url('/a.jpg')})\n", encoding="utf-8")
        ran = run_cli("archive", "d.md", "-c", "x", "--allow-private", cwd=tmp_path)
    assert ran.code == 0, ran.err
    assert run_cli("verify", "-c", "x", cwd=tmp_path).code == 0
    [warc] = list((tmp_path / "warcs/x").glob("*.warc.gz"))
    data = bytearray(warc.read_bytes())
    data[-100] ^= 0xFF
    warc.write_bytes(bytes(data))
    ran = run_cli("verify", "-c", "x", "--json", cwd=tmp_path)
    assert ran.code == 1
    report = json.loads(ran.out)
    assert report["ok"] is False
    assert {p["url"] for p in report["problems"] if p["url"]} == {origin.url("/a.jpg")}


@pytest.mark.parametrize(
    "line",
    [
        'allow-private = "no"',  # a string is true to Python: private fetching would be on
        "allow-private = 0",
        "retries = -1",
        "workers = 1000",
        'concurrency = "lots"',
        'timeout = "x"',
        'max-size = "1XB"',
        "warc-size = 5",
        "retries = true",
        "delay = -0.5",
        "delay = nan",
        "timeout = inf",
        "roles = 3",
        "allow-network = [1]",
        "proxy = 8080",
        "refresh = []",
        "extra = {a = 1}",
    ],
)
def test_config_values_are_checked_as_the_command_line_checks_them(
    tmp_path: Path, line: str
) -> None:
    (tmp_path / "d.md").write_text("![x](http://127.0.0.1:9/a.jpg)\n", encoding="utf-8")
    (tmp_path / "c.toml").write_text(line + "\n", encoding="utf-8")
    ran = run_cli("archive", "d.md", "-c", "x", "--config", "c.toml", cwd=tmp_path)
    assert_refused(ran, "c.toml")
    assert line.split(" ", maxsplit=1)[0] in ran.err
    assert not (tmp_path / "manifests/x/links.jsonl").exists(), "refused before anything ran"


@pytest.mark.timeout(60)
@pytest.mark.parametrize("kind", ["fifo", "device", "huge"])
def test_a_config_that_is_not_a_small_regular_file_is_refused_without_waiting(
    tmp_path: Path, kind: str
) -> None:
    (tmp_path / "d.md").write_text("![x](http://127.0.0.1:9/a.jpg)\n", encoding="utf-8")
    config = tmp_path / "c.toml"
    if kind == "fifo":
        os.mkfifo(config)
    elif kind == "device":
        config.symlink_to("/dev/zero")
    else:
        config.write_text("# padding\n" * 200_000, encoding="utf-8")
    ran = run_cli("archive", "d.md", "-c", "x", "--config", "c.toml", cwd=tmp_path)
    assert_refused(ran, "c.toml")


def test_config_values_of_the_right_types_are_taken(tmp_path: Path) -> None:
    (tmp_path / "d.md").write_text("![x](http://127.0.0.1:9/a.jpg)\n", encoding="utf-8")
    (tmp_path / "c.toml").write_text(
        'allow-private = false\nallow-network = ["10.0.0.0/8"]\nretries = 0\ndelay = 0\n'
        'timeout = 2.5\nroles = ["image", "source"]\n',
        encoding="utf-8",
    )
    ran = run_cli("archive", "d.md", "-c", "x", "--config", "c.toml", "--json", cwd=tmp_path)
    assert ran.code == 0, ran.err
    line = json.loads((tmp_path / "manifests/x/links.jsonl").read_text())
    assert (line["status"], line["error"].split(":")[0]) == ("skipped", "private-address")


@pytest.mark.timeout(60)
@pytest.mark.parametrize("kind", ["fifo", "device", "empty", "not-pem", "broken-pem", "binary"])
def test_a_ca_bundle_without_certificates_is_refused_before_any_link_is_judged(
    tmp_path: Path, kind: str
) -> None:
    """Found only at the first https request, a bad bundle would make every https link
    `dead` (tls), and dead links are never fetched again."""
    (tmp_path / "d.md").write_text("![x](https://127.0.0.1:9/a.jpg)\n", encoding="utf-8")
    bundle = tmp_path / "ca.pem"
    contents = {
        "empty": b"",
        "not-pem": b"hello\n",
        "broken-pem": b"-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n",
        "binary": bytes(range(256)),
    }
    if kind == "fifo":
        os.mkfifo(bundle)
    elif kind == "device":
        bundle.symlink_to("/dev/zero")
    else:
        bundle.write_bytes(contents[kind])
    ran = run_cli("archive", "d.md", "-c", "x", "--ca-bundle", "ca.pem", cwd=tmp_path)
    assert_refused(ran, "--ca-bundle", "ca.pem")
    assert not (tmp_path / "manifests/x/links.jsonl").exists()
