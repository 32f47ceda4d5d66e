"""Finding and reading documents: encodings, limits, refusals, walk order."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from archiver.errors import InputError
from archiver.extract import documents
from archiver.extract.documents import find_documents, read_document

CHINESE = (
    "### 马云陷风暴 美媒曝北京争夺敏感资料\n\n"
    "【希望之声2021年1月5日】中国的金融监管机构正在试图让他分享数据。\n"
)
TRADITIONAL = (
    "### 為何水務署這麼涼薄\n\n香港市民要豪花九十多萬公帑？他們在節目中提到的隨機抽樣方式。\n"
)


def write(tmp_path: Path, name: str, data: bytes) -> str:
    path = tmp_path / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    return str(path)


def test_utf8_document_fields(tmp_path: Path) -> None:
    text = CHINESE + "原文地址（需翻墙访问）：https://www.soundofhope.org/post/460922\n"
    doc = read_document(write(tmp_path, "a.md", text.encode()))
    assert doc.encoding == "utf-8"
    assert doc.text == text
    assert doc.size == len(text.encode())
    assert len(doc.sha256) == 64
    assert doc.title == "马云陷风暴 美媒曝北京争夺敏感资料"
    assert doc.date == "2021-01-05"
    assert doc.source_url == "https://www.soundofhope.org/post/460922"


@pytest.mark.parametrize(
    ("text", "codec", "accepted"),
    [
        (CHINESE, "gbk", {"gb18030"}),
        (CHINESE, "gb18030", {"gb18030"}),
        (TRADITIONAL, "big5", {"big5", "big5hkscs"}),
    ],
)
def test_legacy_chinese_encodings(
    tmp_path: Path, text: str, codec: str, accepted: set[str]
) -> None:
    doc = read_document(write(tmp_path, "a.txt", text.encode(codec)))
    assert doc.text == text
    assert doc.encoding in accepted


@pytest.mark.parametrize(("bom", "codec"), [("utf-8-sig", "utf-8"), ("utf-16", "utf-16")])
def test_byte_order_marks(tmp_path: Path, bom: str, codec: str) -> None:
    doc = read_document(write(tmp_path, "a.md", CHINESE.encode(bom)))
    assert doc.text == CHINESE
    assert doc.encoding == codec


def test_crlf_normalised(tmp_path: Path) -> None:
    doc = read_document(write(tmp_path, "a.md", b"line one\r\nline two\r\n"))
    assert doc.text == "line one\nline two\n"
    assert doc.size == 20


@pytest.mark.parametrize("data", [b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR", bytes(range(32)) * 40])
def test_binary_rejected(tmp_path: Path, data: bytes) -> None:
    path = write(tmp_path, "image.md", data)
    with pytest.raises(InputError, match="not a text document"):
        read_document(path)


def test_too_large_rejected(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(documents, "MAX_DOCUMENT_BYTES", 10)
    with pytest.raises(InputError, match="limit"):
        read_document(write(tmp_path, "big.md", b"x" * 11))


def test_unreadable_file(tmp_path: Path) -> None:
    # a dangling symlink cannot be read even by root (permission bits do not stop root)
    link = tmp_path / "secret.md"
    link.symlink_to(tmp_path / "gone.md")
    with pytest.raises(InputError, match="cannot read"):
        read_document(str(link))


def test_reading_a_directory_is_an_input_error(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="cannot read"):
        read_document(str(tmp_path))


def test_walk_order_suffixes_and_hidden(tmp_path: Path) -> None:
    for name in [
        "b.md",
        "a.HTML",
        "notes.pdf",
        "sub/z.txt",
        "sub/a.markdown",
        ".git/x.md",
        "c.htm",
    ]:
        write(tmp_path, name, b"text")
    base = str(tmp_path)
    assert find_documents([base]) == [
        f"{base}/a.HTML",
        f"{base}/b.md",
        f"{base}/c.htm",
        f"{base}/sub/a.markdown",
        f"{base}/sub/z.txt",
    ]
    assert find_documents([base + "/"])[0] == f"{base}/a.HTML"


def test_files_taken_whatever_their_suffix(tmp_path: Path) -> None:
    path = write(tmp_path, "notes.pdf", b"text")
    assert find_documents([path, path]) == [path]


def test_user_spelling_kept(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    write(tmp_path, "examples/000_x.txt", b"text")
    monkeypatch.chdir(tmp_path)
    assert find_documents(["examples/"]) == ["examples/000_x.txt"]
    assert find_documents(["examples"]) == ["examples/000_x.txt"]


def test_missing_path(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="no such file") as info:
        find_documents([str(tmp_path / "nope")])
    assert "\n" not in str(info.value)


def test_empty_folder(tmp_path: Path) -> None:
    write(tmp_path, "only.pdf", b"x")
    with pytest.raises(InputError, match="no documents"):
        find_documents([str(tmp_path)])


def test_neither_file_nor_directory(tmp_path: Path) -> None:
    fifo = tmp_path / "pipe"
    os.mkfifo(fifo)
    with pytest.raises(InputError, match="not a regular file"):
        find_documents([str(fifo)])
