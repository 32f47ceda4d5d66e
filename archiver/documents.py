"""Find input documents and read them into `Document`s: decoded, hashed, template recognised.

Decoding order: a byte-order mark, then strict UTF-8, then the best of the Chinese legacy
encodings (GB18030 decodes almost any byte string, so GB18030 and Big5 are both tried and the one
whose text holds more common Chinese characters wins), then charset-normalizer's guess.
"""

from __future__ import annotations

import codecs
import hashlib
import os
import stat
from collections.abc import Sequence
from pathlib import Path

from archiver.errors import InputError
from archiver.models import Document
from archiver.templates import recognise

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
    """The documents named by `paths`: files as given, folders walked for document suffixes."""
    found: list[str] = []
    for given in paths:
        try:
            mode = Path(given).stat().st_mode
        except OSError as exc:
            raise InputError(f"{given}: no such file or directory", path=given) from exc
        if stat.S_ISREG(mode):
            found.append(given)
        elif stat.S_ISDIR(mode):
            found.extend(_walk(given))
        else:
            raise InputError(f"{given}: not a regular file or directory", path=given)
    return list(dict.fromkeys(found))


def _walk(folder: str) -> list[str]:
    prefix = folder if folder.endswith(os.sep) else folder + os.sep
    found: list[tuple[tuple[str, ...], str]] = []
    for root, dirs, files in os.walk(folder):
        dirs[:] = sorted(d for d in dirs if not d.startswith("."))
        rel_root = os.path.relpath(root, folder)
        parts = () if rel_root == os.curdir else tuple(Path(rel_root).parts)
        for name in files:
            if name.lower().endswith(DOCUMENT_SUFFIXES) and not name.startswith("."):
                found.append(((*parts, name), prefix + "/".join((*parts, name))))
    if not found:
        suffixes = ", ".join(DOCUMENT_SUFFIXES)
        raise InputError(f"{folder}: no documents ({suffixes}) in this folder", path=folder)
    return [path for _, path in sorted(found)]


def read_document(path: str) -> Document:
    """Read, check and decode one document; raise `InputError` with one clear line if unfit."""
    data = _read_bytes(path)
    decoded = _decode_bom(data)
    if decoded is None:
        if _looks_binary(data[:SNIFF_BYTES]):
            raise InputError(f"{path}: not a text document (binary content)", path=path)
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
    try:
        with Path(path).open("rb") as handle:
            size = os.fstat(handle.fileno()).st_size
            data = handle.read(min(size, MAX_DOCUMENT_BYTES) + 1)
    except OSError as exc:
        reason = exc.strerror or type(exc).__name__
        raise InputError(f"{path}: cannot read: {reason}", path=path) from exc
    if len(data) > MAX_DOCUMENT_BYTES:
        raise InputError(
            f"{path}: larger than the {MAX_DOCUMENT_BYTES // (1024 * 1024)} MiB document limit",
            path=path,
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
