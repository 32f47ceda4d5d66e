"""The public API (archiver/__init__.py): `__all__` names only what exists, `import archiver`
stays light, and the library archives, verifies and reports from Python without click."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import archiver
from tests.origin import Origin, body, random_bytes
from tests.replay import clean_env

PHOTO = random_bytes(5_000, 3)

WITHOUT_CLICK = """
import json, sys
from pathlib import Path
sys.modules["click"] = None  # any import of click now fails
import archiver

settings = archiver.Settings(out=Path(sys.argv[1]), collection="api", allow_private=True)
summary = archiver.archive([sys.argv[2]], settings)
checked = archiver.verify_collection(settings)
report = json.loads(archiver.render_report(archiver.load_report(settings), "json"))
print(json.dumps({"counts": summary.counts, "ok": checked.ok, "records": checked.records,
                  "links": [(l["url"], l["status"]) for l in report["links"]]}))
"""


def test_all_names_only_what_the_package_holds() -> None:
    assert len(set(archiver.__all__)) == len(archiver.__all__)
    missing = [name for name in archiver.__all__ if not hasattr(archiver, name)]
    assert not missing
    assert issubclass(archiver.InputError, archiver.ArchiverError)
    assert callable(archiver.archive)
    assert archiver.verify_collection.__module__ == "archiver.verify.fixity"
    assert archiver.render_report.__module__ == "archiver.report.formats"


def test_an_unknown_name_is_an_attribute_error() -> None:
    assert not hasattr(archiver, "no_such_entry_point")


def test_importing_the_package_leaves_the_network_and_the_cli_unloaded() -> None:
    code = (
        "import sys, archiver; print(sorted({'click', 'httpx', 'lxml', 'wacz'} & set(sys.modules)))"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=60
    )
    assert done.stdout.strip() == "[]"


def test_the_library_archives_verifies_and_reports_without_click(
    tmp_path: Path, origin: Origin
) -> None:
    origin.routes["/photo.jpg"] = body(PHOTO, "image/jpeg")
    document = tmp_path / "d.md"
    document.write_text(f"![a photo]({origin.url('/photo.jpg')})\n", encoding="utf-8")
    done = subprocess.run(
        [sys.executable, "-c", WITHOUT_CLICK, str(tmp_path / "out"), str(document)],
        env=clean_env() | {"PYTHONPATH": str(Path(__file__).resolve().parents[1])},
        capture_output=True,
        text=True,
        check=False,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    said = json.loads(done.stdout)
    assert said["counts"].get("archived") == 1
    assert said["ok"] is True
    assert said["records"] >= 2  # warcinfo and the photo's response (and its request)
    assert said["links"] == [[origin.url("/photo.jpg"), "archived"]]
    assert origin.hits("/photo.jpg")
