"""A collection: its name, checked, and its two folders under the output root.

    OUT/warcs/NAME/       the WARC files (DESIGN.md, "Output layout")
    OUT/manifests/NAME/   links.jsonl, documents.jsonl, checks.jsonl, warcs.sha256, warcs.jsonl

Every command resolves its collection here, and nowhere else: `Collection.named` checks the
name (the untrusted-input rule: `[A-Za-z0-9._-]+`, not starting with a dot, so a name never
leads out of the folders: `..`, `a/b` and the empty name are refused); `Collection.existing`
refuses, too, a collection that is not there. `archive` alone creates one (named, then
written); every other command opens an existing one and creates nothing. Both refusals are
InputError (exit 2), with one message each, the same for every command.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from archiver.config import Settings
from archiver.errors import InputError

NAME = re.compile(r"[A-Za-z0-9._-]+")
WARC_FOLDER = "warcs"
MANIFEST_FOLDER = "manifests"
PARTS_FOLDER = "parts"


def check_collection(name: str) -> str:
    """`name` when it is a collection name (`[A-Za-z0-9._-]+`, not starting with a dot: it
    can never escape the output folders). Raises InputError saying what a name may hold."""
    if not NAME.fullmatch(name) or name.startswith("."):
        raise InputError(
            f"invalid collection name {name!r}: use letters, digits, '.', '_' and '-', "
            "not starting with a dot"
        )
    return name


@dataclass(frozen=True)
class Collection:
    """One collection of the output root `out` (a path as given: relative paths stay
    relative), by a name that `check_collection` accepted. Holds no open file."""

    out: Path
    name: str

    @classmethod
    def named(cls, settings: Settings) -> Collection:
        """The collection `settings.collection` under `settings.out`, whether or not it
        exists yet (for `archive`, which creates it). Raises InputError for a bad name."""
        return cls(settings.out, check_collection(settings.collection))

    @classmethod
    def existing(cls, settings: Settings) -> Collection:
        """The collection `settings.collection` under `settings.out`, which must exist (its
        manifest folder is a folder). Raises InputError for a bad name, then for a missing
        collection (`no collection 'NAME' under /ABS/OUT`); touches nothing on disk."""
        collection = cls.named(settings)
        if not collection.manifest_dir.is_dir():
            raise InputError(f"no collection {collection.name!r} under {settings.out.resolve()}")
        return collection

    @property
    def warc_dir(self) -> Path:
        """OUT/warcs/NAME: the collection's WARC files."""
        return self.out / WARC_FOLDER / self.name

    @property
    def parts_dir(self) -> Path:
        """OUT/parts/NAME: the parts distributed workers write (archiver.distributed.parts)."""
        return self.out / PARTS_FOLDER / self.name

    @property
    def manifest_dir(self) -> Path:
        """OUT/manifests/NAME: the collection's manifest files, lock and state."""
        return self.out / MANIFEST_FOLDER / self.name
