"""`archiver recover` and `archive --recover` on the command line (in this process, with the
stand-in look-up in place of the web archives): the summary as text and JSON, one line per
link with -v, the options from the config file, and a collection that does not exist refused."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

import archiver.cli
from archiver.cli import main
from archiver.config import Settings
from archiver.recover.text import link_text, summary_text
from archiver.store.readlines import current_links
from tests.conftest import Ran
from tests.origin import Origin
from tests.test_recover import AT, GONE, NEW, archive_server, lost_collection
from tests.wayback_replay import StandInLookup, memento, raw_path

__all__ = ["archive_server"]  # the fixture this module uses
pytestmark = pytest.mark.slow  # whole runs against local servers


def run(capsys: pytest.CaptureFixture[str], *args: str) -> Ran:
    code: int | str | None = None
    try:
        main(list(args))
    except SystemExit as done:
        code = done.code
    out, err = capsys.readouterr()
    return Ran(int(code or 0), out, err)


def use(monkeypatch: pytest.MonkeyPatch, lookup: StandInLookup) -> None:
    monkeypatch.setattr(archiver.cli, "_memento_lookup", lambda settings: lookup)


def test_recover_says_what_it_recovered(
    tmp_path: Path,
    origin: Origin,
    archive_server: Origin,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    _, lookup, urls = lost_collection(tmp_path, origin, archive_server)
    use(monkeypatch, lookup)
    (tmp_path / "c.toml").write_text("recover-delay = 0\nrecover-older-than = 7\n")
    out = str(tmp_path)
    ran = run(capsys, "recover", "-c", "c", "--out", out, "--allow-private", "--config",
              str(tmp_path / "c.toml"), "-v")  # fmt: skip
    assert ran.code == 0, ran.err
    wayback = f"wayback={archive_server.base}"
    assert ran.out.strip() == (
        f"c: asked about 4 lost links: 2 recovered (2 from {wayback}), 1 in no archive, "
        f"1 failed (why: timeout 1); stored {len(GONE) + len(NEW)} bytes"
    )
    said = ran.err.splitlines()
    assert f"recovered     {urls['gone']}  {wayback} 2021-02-01T03:04:05.000000Z" in said
    assert any(line.startswith(f"not recovered {urls['never']}  not-found") for line in said)

    again = run(capsys, "recover", "-c", "c", "--out", out, "--allow-private", "--json",
                "--older-than", "0", "--recover-delay", "0")  # fmt: skip
    assert again.code == 0, again.err
    summary = json.loads(again.out)
    assert (summary["asked"], summary["recovered"], summary["not_found"]) == (2, 0, 1)
    assert summary["reasons"] == {"timeout": 1}
    waited = run(capsys, "recover", "-c", "c", "--out", out, "--allow-private")
    assert waited.out.strip() == "c: no lost link is due for recovery"


def test_archive_recover_looks_up_the_links_the_run_found_dead(
    tmp_path: Path,
    origin: Origin,
    archive_server: Origin,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    url = origin.url("/gone.jpg")
    archive_server.routes[raw_path(AT, url)] = memento(url, AT, b"jpeg bytes", "image/jpeg")
    lookup = StandInLookup()
    lookup.add(archive_server, url, AT)
    use(monkeypatch, lookup)
    (tmp_path / "d.md").write_text(f"![a]({url})\n", encoding="utf-8")
    (tmp_path / "c.toml").write_text("recover = true\nrecover-delay = 0\n")
    ran = run(capsys, "archive", str(tmp_path / "d.md"), "-c", "c", "--out", str(tmp_path),
              "--allow-private", "--config", str(tmp_path / "c.toml"), "--json")  # fmt: skip
    assert ran.code == 0, ran.err
    said = json.loads(ran.out)["recover"]
    assert said["recovered"] == 1 and said["archives"] == {f"wayback={archive_server.base}": 1}
    line = current_links(tmp_path / "manifests/c")[url]
    assert line.status.value == "dead" and line.recovered is not None
    assert lookup.asked == [(url, None)], "no document date: the latest capture"
    plain = run(capsys, "archive", str(tmp_path / "d.md"), "-c", "c", "--out", str(tmp_path),
                "--allow-private", "--recover")  # fmt: skip
    assert "recover" not in plain.out and len(lookup.asked) == 1, "nothing found dead this run"


def test_recover_refuses_a_collection_that_does_not_exist(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    use(monkeypatch, StandInLookup())
    ran = run(capsys, "recover", "-c", "nope", "--out", str(tmp_path))
    assert ran.code == 2 and "no collection 'nope'" in ran.err
    assert run(capsys, "recover", "-c", "c", "--older-than", "soon").code == 2


def test_the_texts_neutralise_what_an_archive_said() -> None:
    line = {"url": "http://e.test/\x1b[31m", "recovered": False, "error": "http-500: \x07"}
    shown = link_text(line)
    assert "\x1b" not in shown and "\x07" not in shown
    from archiver.recover.command import RecoverSummary

    assert summary_text(RecoverSummary("c")) == "c: no lost link is due for recovery"
    assert Settings().recover_older_than == 30
