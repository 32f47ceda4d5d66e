"""Output a user names that cannot be written (a missing folder, a path under a regular file, a
folder, a read-only folder, a full standard output): one line and exit 1 from every command."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import run_cli
from tests.origin import body, random_bytes, running_origin
from tests.replay import clean_env

pytestmark = pytest.mark.slow  # end-to-end: leave out with -m 'not slow'


@pytest.fixture(scope="module")
def collection(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("out")
    with running_origin() as origin:
        origin.routes["/a.jpg"] = body(random_bytes(3000, 1), "image/jpeg")
        (root / "d.md").write_text(f"![x]({origin.url('/a.jpg')})\n", encoding="utf-8")
        assert run_cli("archive", "d.md", "-c", "x", "--allow-private", cwd=root).code == 0
    (root / "plain").write_text("a regular file\n", encoding="utf-8")
    (root / "folder").mkdir()
    return root


TARGETS = ["missing/out", "plain/out", "folder"]
WRITERS = {
    "report": ["report", "-c", "x", "-o"],
    "report csv": ["report", "-c", "x", "--format", "csv", "-o"],
    "export": ["export", "-c", "x", "--wacz"],
    "archive": ["archive", "d.md", "-c", "y", "--out"],
}


def _one_line_exit_1(ran_code: int, err: str) -> None:
    assert ran_code == 1, err
    assert len(err.strip().splitlines()) == 1 and "Traceback" not in err, err
    assert err.startswith("archiver: error: "), err


@pytest.mark.parametrize("target", TARGETS)
@pytest.mark.parametrize("command", sorted(WRITERS))
def test_an_output_that_cannot_be_written_is_one_line_and_exit_1(
    collection: Path, command: str, target: str
) -> None:
    if command == "archive" and target != "plain/out":
        pytest.skip("--out names a root, made when missing; an existing folder is a fine one")
    ran = run_cli(*WRITERS[command], target + (".x" if target != "folder" else ""), cwd=collection)
    _one_line_exit_1(ran.code, ran.err)
    assert not (collection / "missing").exists()


@pytest.mark.skipif(os.geteuid() == 0, reason="root writes into read-only folders")
@pytest.mark.parametrize("command", sorted(WRITERS))
def test_a_read_only_folder_is_one_line_and_exit_1(collection: Path, command: str) -> None:
    folder = collection / "readonly"
    folder.mkdir(exist_ok=True)
    folder.chmod(0o555)
    try:
        ran = run_cli(*WRITERS[command], "readonly/out.x", cwd=collection)
    finally:
        folder.chmod(0o755)
    _one_line_exit_1(ran.code, ran.err)


@pytest.mark.skipif(not Path("/dev/full").exists(), reason="needs /dev/full")
@pytest.mark.parametrize(
    "args",
    [["report", "-c", "x"], ["verify", "-c", "x", "--json"], ["links", "d.md"]],
)
def test_a_full_standard_output_is_one_line_and_exit_1(collection: Path, args: list[str]) -> None:
    with Path("/dev/full").open("w") as full:
        done = subprocess.run(
            [sys.executable, "-m", "archiver", *args],
            cwd=collection,
            env=clean_env() | {"PYTHONPATH": str(Path(__file__).resolve().parents[1])},
            stdout=full,
            stderr=subprocess.PIPE,
            text=True,
            timeout=120,
            check=False,
        )
    _one_line_exit_1(done.returncode, done.stderr)
    assert "No space left" in done.stderr
