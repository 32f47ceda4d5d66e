"""Find input documents and read them into `Document`s: decoded, hashed, template recognised.

Decoding order: a byte-order mark, then strict UTF-8, then the best of the Chinese legacy
encodings (GB18030 decodes almost any byte string, so GB18030 and Big5 are both tried and the one
whose text holds more common Chinese characters wins), then charset-normalizer's guess.
"""

from __future__ import annotations

import codecs
import hashlib
import logging
import os
import stat
from collections.abc import Sequence
from pathlib import Path

from archiver.errors import InputError
from archiver.extract.templates import recognise
from archiver.files import NotRegular, read_named
from archiver.models import Document

_LOG = logging.getLogger("archiver")
_WARNED: set[str] = set()
DOCUMENT_SUFFIXES = (".md", ".markdown", ".html", ".htm", ".txt")
MAX_DOCUMENT_BYTES = 20 * 1024 * 1024
SNIFF_BYTES = 8192
_BOMS = (
    (codecs.BOM_UTF8, "utf-8-sig"),
    (codecs.BOM_UTF32_LE, "utf-32"),
    (codecs.BOM_UTF32_BE, "utf-32"),
    (codecs.BOM_UTF16_LE, "utf-16"),
    (codecs.BOM_UTF16_BE, "utf-16"),
)
_CONTROL_BYTES = bytes(b for b in range(32) if b not in b"\t\n\r\f\x1b")
_CHINESE_CANDIDATES = ("gb18030", "big5", "big5hkscs")
# Frequent characters in both simplified and traditional news text; mojibake rarely has them.
_COMMON_HANZI = frozenset(
    "的一是不了在人有我他这這个個们們中来來上大为為和国國地到以说說时時要就出会會可也你对對"
    "生能而子那得于於着著下自之年过過发發后後作里裡用道行所然家种種事成方多经經么麼去法学學"
    "如都同现現当當没沒动動面起看定天分还還进進好小部其些主样樣理心她本前开開但因只从從想实實"
    "日军軍者意无無力它与與长長把机機十民第公此已工使情明性知全三又关關点點正业業外将將两兩高"
    "间間由问問很最重并並物手应應战戰向头頭文体體政美相见見被利什二等产產或新己制身果加西斯月"
    "话話合回特代内內信表化老给給世位次度门門任常先海通教儿兒原东東声聲提立及比员員解水名真论"
    "論处處走义義各入几幾口认認条條平系气氣题題活尔爾更别別打女变變四神总總何电電数數安少报報"
    "才结結反受目太量再感建务務做接必场場件计計管期市直德资資命山金指克许許统統区區保至队隊形"
    "社便空决決治展马馬科司五基眼书書非则則听聽白却卻界达達光放强強即像难難且权權思王象完设設"
)


def find_documents(paths: Sequence[str]) -> list[str]:
    """The documents named by `paths` (see find_inputs), without saying which were named."""
    return [path for path, _ in find_inputs(paths)]


def find_inputs(paths: Sequence[str]) -> list[tuple[str, bool]]:
    """(path, named) for each document of `paths`: files as given (named: True), folders
    walked for document suffixes (named: False). One file is one document however its path is
    spelled (`examples/a.md`, `./examples/a.md`, an absolute path, a link to it): the first
    spelling is kept. A path given explicitly may be a symlink to a regular file (the user
    named it); anything else that is not a regular file or a folder, or a name that is not
    UTF-8, raises `InputError`. Walks follow the rules of `_walk`; what they skip is reported
    by `warn`."""
    found: dict[str, tuple[str, bool]] = {}
    for given in paths:
        try:
            mode = Path(given).stat().st_mode
        except OSError as exc:
            raise InputError(f"{shown(given)}: no such file or directory", path=given) from exc
        if not _utf8(given):
            raise InputError(f"{shown(given)}: file name is not UTF-8; rename it", path=given)
        if stat.S_ISREG(mode):
            first = found.get(os.path.realpath(given), (given, True))[0]
            found[os.path.realpath(given)] = (first, True)  # named: refused if no document
        elif stat.S_ISDIR(mode):
            for path in _walk(given):
                found.setdefault(os.path.realpath(path), (path, False))
        else:
            raise InputError(f"{shown(given)}: not a regular file or directory", path=given)
    return list(found.values())


def shown(path: str) -> str:
    """`path` as it can be printed: undecodable bytes of a file name as `\\xNN` escapes."""
    return path.encode("utf-8", "surrogateescape").decode("utf-8", "backslashreplace")


def warn(message: str) -> None:
    """Report a skipped file once per process, on the `archiver` logger (stderr by default)."""
    if message not in _WARNED:
        _WARNED.add(message)
        _LOG.warning("%s", message)


def _utf8(name: str) -> bool:
    try:
        name.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def _walk(folder: str) -> list[str]:
    """Documents under `folder`, sorted by their path parts, found without recursion.

    Hidden names are skipped. Folder symlinks are never followed (no loops); a file symlink is
    kept only when it leads to a regular file inside `folder`. Names that are not UTF-8, FIFOs,
    devices and files over the size limit are skipped with a warning.
    """
    prefix = folder if folder.endswith(os.sep) else folder + os.sep
    inside = os.path.realpath(folder)
    found: list[tuple[tuple[str, ...], str]] = []
    stack: list[tuple[str, ...]] = [()]
    while stack:
        parts = stack.pop()
        for entry in _entries(prefix + "/".join(parts)):
            if entry.name.startswith("."):
                continue
            path = prefix + "/".join((*parts, entry.name))
            if not _utf8(entry.name):
                warn(f"{shown(path)}: skipped: file name is not UTF-8")
            elif entry.is_dir(follow_symlinks=False):
                stack.append((*parts, entry.name))
            elif entry.name.lower().endswith(DOCUMENT_SUFFIXES) and _walkable(path, inside):
                found.append(((*parts, entry.name), path))
    if not found:
        suffixes = ", ".join(DOCUMENT_SUFFIXES)
        raise InputError(f"{folder}: no documents ({suffixes}) in this folder", path=folder)
    return [path for _, path in sorted(found)]


def _entries(folder: str) -> list[os.DirEntry[str]]:
    try:
        with os.scandir(folder) as entries:
            return list(entries)
    except OSError as exc:
        warn(f"{shown(folder)}: skipped: {exc.strerror or type(exc).__name__}")
        return []


def _walkable(path: str, inside: str) -> bool:
    """True for a regular file, or a symlink to one inside `inside`, within the size limit."""
    try:
        st = os.lstat(path)
        if stat.S_ISLNK(st.st_mode):
            target = os.path.realpath(path)
            if os.path.commonpath([inside, target]) != inside:
                warn(f"{shown(path)}: skipped: a symlink to a file outside the folder")
                return False
            st = Path(target).stat()
    except (OSError, ValueError) as exc:
        warn(f"{shown(path)}: skipped: {getattr(exc, 'strerror', None) or 'cannot read'}")
        return False
    if not stat.S_ISREG(st.st_mode):
        warn(f"{shown(path)}: skipped: not a regular file")
        return False
    if st.st_size > MAX_DOCUMENT_BYTES:
        warn(f"{shown(path)}: skipped: larger than the {_limit_mib()} MiB document limit")
        return False
    return True


def _limit_mib() -> int:
    return MAX_DOCUMENT_BYTES // (1024 * 1024)


def check_document(path: str) -> None:
    """Raise `InputError` as read_document would for a file that is no text document (binary,
    unreadable, too large, not a regular file), without decoding it: a run checks the files
    named on its command line so before it touches the collection."""
    data = _read_bytes(path)
    if _decode_bom(data) is None:
        _refuse_binary(path, data)


def unfit_reason(error: InputError, path: str) -> str:
    """Why a document was refused, without its path: `not a text document (binary content)`."""
    return str(error).removeprefix(f"{shown(path)}: ")


def _refuse_binary(path: str, data: bytes) -> None:
    if _looks_binary(data[:SNIFF_BYTES]):
        raise InputError(f"{shown(path)}: not a text document (binary content)", path=path)


def read_document(path: str) -> Document:
    """Read, check and decode one document; raise `InputError` with one clear line if unfit."""
    data = _read_bytes(path)
    decoded = _decode_bom(data)
    if decoded is None:
        _refuse_binary(path, data)
        decoded = _decode(data)
    text, encoding = decoded
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    info = recognise(text)
    return Document(
        path=path,
        sha256=hashlib.sha256(data).hexdigest(),
        size=len(data),
        encoding=encoding,
        text=text,
        template=info.name,
        source_url=info.source_url,
        title=info.title,
        date=info.date,
    )


def _read_bytes(path: str) -> bytes:
    """At most the size limit (plus one byte to tell) of a regular file; never blocks on a
    FIFO or device (opened non-blocking, refused after fstat)."""
    try:
        data = read_named(Path(path), MAX_DOCUMENT_BYTES)
    except NotRegular as exc:
        raise InputError(f"{shown(path)}: not a regular file", path=path) from exc
    except OSError as exc:
        reason = exc.strerror or type(exc).__name__
        raise InputError(f"{shown(path)}: cannot read: {reason}", path=path) from exc
    if len(data) > MAX_DOCUMENT_BYTES:
        raise InputError(
            f"{shown(path)}: larger than the {_limit_mib()} MiB document limit", path=path
        )
    return data


def _looks_binary(head: bytes) -> bool:
    if b"\x00" in head:
        return True
    controls = len(head) - len(head.translate(None, _CONTROL_BYTES))
    return controls > max(8, len(head) // 50)


def _decode_bom(data: bytes) -> tuple[str, str] | None:
    for bom, encoding in _BOMS:
        if data.startswith(bom):
            try:
                return data.decode(encoding), encoding.removesuffix("-sig")
            except UnicodeDecodeError:
                return None
    return None


def _decode(data: bytes) -> tuple[str, str]:
    try:
        return data.decode("utf-8"), "utf-8"
    except UnicodeDecodeError:
        pass
    chinese = _best_chinese(data)
    if chinese is not None:
        return chinese
    from charset_normalizer import from_bytes  # rarely needed; costs 13 ms to import

    best = from_bytes(data).best()
    if best is not None:
        return str(best), best.encoding
    return data.decode("utf-8", "replace"), "utf-8"


def _best_chinese(data: bytes) -> tuple[str, str] | None:
    """Decode with GB18030 and Big5, keep the one that reads most like Chinese text."""
    scored: list[tuple[float, str, str]] = []
    for encoding in _CHINESE_CANDIDATES:
        try:
            text = data.decode(encoding)
        except UnicodeDecodeError:
            continue
        hanzi = [ch for ch in text if "\u3400" <= ch <= "\u9fff"]
        if hanzi:
            score = sum(ch in _COMMON_HANZI for ch in hanzi) / len(hanzi)
            scored.append((score, encoding, text))
    if not scored:
        return None
    score, encoding, text = max(scored, key=lambda item: item[0])
    return (text, encoding) if score >= 0.05 else None
