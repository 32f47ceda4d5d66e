"""What the commands print, built without click (verify.text, recheck.text), and options ->
Settings (config.settings_from_options): the option over the config file, --out over both."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import pytest

from archiver.config import settings_from_options
from archiver.errors import InputError
from archiver.recheck.check import RecheckSummary
from archiver.recheck.text import summary_json, summary_text
from archiver.verify.fixity import Problem, VerifyReport
from archiver.verify.text import report_lines


def _report(*problems: Problem) -> VerifyReport:
    note = Problem("a.warc.gz", "a note")
    return VerifyReport("news", False, 1, 4, 2, list(problems), [note])


def test_verify_prints_each_problem_then_the_verdict() -> None:
    damaged = Problem("a.warc.gz", "payload digest differs", 120, "http://a.example/x.jpg")
    lines = report_lines(_report(damaged), notes=False, totals=True)
    assert lines == [
        "a.warc.gz @120: payload digest differs [http://a.example/x.jpg]",
        "news: 1 WARC files, 4 records, 2 manifest entries checked: 1 problem(s)",
    ]


def test_verify_notes_only_with_v_and_no_totals_with_q() -> None:
    assert report_lines(_report(), notes=True, totals=False) == ["note: a.warc.gz: a note"]
    assert report_lines(_report(), notes=False, totals=True)[-1].endswith("checked: OK")


def test_recheck_summary_counts_and_reasons() -> None:
    summary = RecheckSummary("news", 3, Counter({"live": 2, "not live": 1}), Counter(moved=1))
    assert summary_text(summary) == (
        "news: checked 3 links: 2 live, 1 not live (why: moved 1); captured 0"
    )
    assert summary_json(summary)["reasons"] == {"moved": 1}
    nothing = RecheckSummary("news")
    assert summary_text(nothing) == "news: checked 0 links: nothing due; captured 0"


def test_an_option_wins_over_the_config_file_and_out_over_both(tmp_path: Path) -> None:
    config = tmp_path / "c.toml"
    config.write_text('retries = 5\ndelay = "2s"\nout = "from-file"\n', encoding="utf-8")
    settings = settings_from_options(
        {"retries": 1, "collection": "news", "delay": None}, str(config), str(tmp_path / "o")
    )
    assert (settings.retries, settings.delay) == (1, 2.0)
    assert settings.out == tmp_path / "o"
    assert settings_from_options({"collection": "news"}).retries == 3


def test_a_bad_config_file_is_input_error_naming_it(tmp_path: Path) -> None:
    config = tmp_path / "c.toml"
    config.write_text("retries = -1\n", encoding="utf-8")
    with pytest.raises(InputError, match=r"c\.toml: retries"):
        settings_from_options({}, str(config))
