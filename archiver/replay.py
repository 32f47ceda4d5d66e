"""A pywb collection of a collection's WARCs, kept up to date, served on 127.0.0.1.

    <out>/replay/collections/NAME/archive/   symbolic links to the closed WARC files
    <out>/replay/collections/NAME/indexes/   the CDXJ index pywb builds (`wb-manager index`)

Closed WARCs are linked (not copied) and indexed as they appear, so a replay started while an
archive run goes on picks up each file the run closes. pywb runs without the proxy variables:
its own warcserver is reached over HTTP, and an inherited proxy makes every capture answer 500.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from archiver.config import Settings
from archiver.errors import ArchiverError, InputError
from archiver.files import is_regular
from archiver.models import Status
from archiver.store.collection import Collection
from archiver.store.lines import DOCUMENTS, WARCS
from archiver.store.readlines import current_links, read_documents, read_warc_sums, warned

REPLAY_DIR = "replay"
PROXY_VARIABLES = frozenset({"http_proxy", "https_proxy", "all_proxy", "no_proxy"})
SHOWN_ROLES = ("source", "image", "media", "related")
SYNC_SECONDS = 2.0


@dataclass(frozen=True)
class ReplayLink:
    """One capture `archiver replay` lists: the citing document (its path and title), the
    link's role and URL, and where pywb replays it (BASE/NAME/TIMESTAMP/URL)."""

    document: str
    title: str | None
    role: str
    url: str
    replay_url: str


def pywb_tool(name: str) -> str:
    """The path of pywb's `wayback` or `wb-manager`: beside this Python, else in a pywb
    environment inside this one (`{sys.prefix}/pywb/bin`: pywb pins redis 2.10, which the
    Redis broker cannot use, so it gets a virtual environment of its own), else on PATH
    (`pipx install pywb`). Raises InputError saying how to install it."""
    for folder in (Path(sys.executable).parent, Path(sys.prefix) / "pywb" / "bin"):
        if (folder / name).exists():
            return str(folder / name)
    found = shutil.which(name)
    if not found:
        raise InputError(
            f"{name} (pywb) is not installed: pipx install pywb, or python3 -m venv "
            f"{Path(sys.prefix) / 'pywb'} && {Path(sys.prefix) / 'pywb' / 'bin' / 'pip'} "
            "install pywb"
        )
    return found


def clean_env() -> dict[str, str]:
    """This process's environment without the proxy variables, for pywb (module docstring)."""
    return {k: v for k, v in os.environ.items() if k.lower() not in PROXY_VARIABLES}


def replay_root(settings: Settings) -> Path:
    """OUT/replay: the folder pywb runs in (its collections/ and config)."""
    return settings.out / REPLAY_DIR


def _manager(settings: Settings, *args: str) -> None:
    done = subprocess.run(
        [pywb_tool("wb-manager"), *args],
        cwd=replay_root(settings),
        env=clean_env(),
        capture_output=True,
        text=True,
        check=False,
    )
    if done.returncode != 0:
        said = (done.stdout + done.stderr).strip().splitlines()
        last = said[-1] if said else f"exit code {done.returncode}"
        raise ArchiverError(f"wb-manager {args[0]}: {last}")


def sync_collection(settings: Settings) -> list[str]:
    """Link and index every closed WARC not yet in the pywb collection; return their names.
    Raises InputError for a bad collection name or a collection that does not exist (before
    anything is created), ArchiverError when wb-manager fails."""
    found = Collection.existing(settings)
    name = found.name
    collection = replay_root(settings) / "collections" / name
    if not collection.is_dir():
        replay_root(settings).mkdir(parents=True, exist_ok=True)
        _manager(settings, "init", name)
    archive = collection / "archive"
    new = []
    for rel in sorted(read_warc_sums(found.manifest_dir / WARCS)):
        listed = settings.out / rel
        if not is_regular(listed):
            continue  # a link out of the collection, a FIFO: never served (verify reports it)
        source = listed.parent.resolve() / listed.name
        link = archive / source.name
        if link.is_symlink() and link.readlink() != source:
            link.unlink()  # a link this code did not make (it may lead out of the collection)
        if not (link.is_symlink() or link.exists()):
            link.symlink_to(source)
            new.append(source.name)
    if new:
        relative = (f"collections/{name}/archive/{file}" for file in new)
        _manager(settings, "index", name, *relative)
    return new


def replay_links(settings: Settings, base: str) -> list[ReplayLink]:
    """For each document, the replay URL (`base`/NAME/TIMESTAMP/URL) of its archived source,
    images, media and related links, by document, then role, then URL (none for a collection
    that does not exist). Raises InputError for a bad collection name."""
    collection = Collection.named(settings)
    documents = warned(read_documents(collection.manifest_dir / DOCUMENTS))
    titles = {document.path: document.title for document in documents}
    current = current_links(collection.manifest_dir)
    found = []
    for line in current.values():
        if line.status != Status.ARCHIVED or line.role not in SHOWN_ROLES:
            continue
        stamp = "".join(ch for ch in str(line.fetched_at) if ch.isdigit())[:14]
        replay_url = f"{base}/{collection.name}/{stamp}/{line.url}"
        for document in line.documents:
            found.append(
                ReplayLink(document, titles.get(document), line.role.value, line.url, replay_url)
            )
    order = {role: n for n, role in enumerate(SHOWN_ROLES)}
    return sorted(found, key=lambda link: (link.document, order[link.role], link.url))


def keep_in_sync(settings: Settings, server: subprocess.Popen[bytes]) -> int:
    """Add the collection's newly closed WARC files to pywb's collection every SYNC_SECONDS
    while `server` runs; its exit code when it stops."""
    while server.poll() is None:
        time.sleep(SYNC_SECONDS)
        sync_collection(settings)
    return server.returncode


@contextmanager
def wayback(settings: Settings, port: int) -> Iterator[subprocess.Popen[bytes]]:
    """pywb's server on 127.0.0.1:port with auto-indexing, from the replay directory; stopped
    (SIGTERM, then waited for) when the block ends, unless it ended on its own."""
    server = subprocess.Popen(
        [pywb_tool("wayback"), "-b", "127.0.0.1", "-p", str(port), "--autoindex"],
        cwd=replay_root(settings),
        env=clean_env(),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        yield server
    finally:
        if server.poll() is None:
            server.terminate()
            server.wait()
