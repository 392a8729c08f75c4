"""The test's own unpacker, independent of bot.evidence: every decompressed piece of a file, recursively.

Zip entries (Office, ODF), PDF streams decoded by pikepdf with every string of every object, PNG
zTXt/iTXt/iCCP inflated, Ogg packets re-joined across pages, and JPEGs carried inside other bytes (cover
art, thumbnails) cut out so exiftool can read them as files.
"""

from __future__ import annotations

import io
import struct
import zipfile
import zlib
from collections.abc import Iterator
from dataclasses import dataclass

import pikepdf

MAX_DEPTH = 6
MAX_CARVED = 8


@dataclass(frozen=True)
class Piece:
    """Some bytes of the file, and where they came from."""

    where: str
    data: bytes


def kind(data: bytes) -> str:
    """A file type from magic bytes, or "" for bytes that are not a file (the witness reads only files)."""
    head = data[:16]
    magics = (
        (b"\xff\xd8\xff", ".jpg"),
        (b"\x89PNG", ".png"),
        (b"GIF8", ".gif"),
        (b"II*\x00", ".tif"),
        (b"MM\x00*", ".tif"),
        (b"%PDF", ".pdf"),
        (b"PK\x03\x04", ".zip"),
        (b"OggS", ".ogg"),
        (b"fLaC", ".flac"),
        (b"ID3", ".mp3"),
        (b"\x1a\x45\xdf\xa3", ".webm"),
    )
    for magic, suffix in magics:
        if head.startswith(magic):
            return suffix
    if head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        return ".webp"
    if head[4:8] == b"ftyp":
        return ".heic" if head[8:12] in (b"heic", b"mif1", b"heix") else ".mp4"
    return ""


def pieces(data: bytes, where: str = "the file") -> list[Piece]:
    """The bytes, then every piece inside them, opened, recursively; each distinct piece once."""
    out: list[Piece] = []
    seen: set[bytes] = set()
    for piece in _walk(data, where, 0):
        if piece.data not in seen or not piece.data:
            seen.add(piece.data)
            out.append(piece)
    return out


def _walk(data: bytes, where: str, depth: int) -> Iterator[Piece]:
    yield Piece(where, data)
    if depth >= MAX_DEPTH:
        return
    inner: list[Piece] = []
    suffix = kind(data)
    try:
        if suffix == ".zip":
            inner = list(_zip(data, where))
        elif suffix == ".pdf":
            inner = list(_pdf(data, where))
        elif suffix == ".png":
            inner = list(_png(data, where))
        elif suffix == ".ogg":
            inner = list(_ogg(data, where))
    except Exception as error:  # a piece we cannot open is still searched raw, and said so
        inner = [Piece(f"{where} (could not be opened: {type(error).__name__})", b"")]
    inner += list(_carved(data, where))
    for piece in inner:
        yield from _walk(piece.data, piece.where, depth + 1)


def _zip(data: bytes, where: str) -> Iterator[Piece]:
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        for info in archive.infolist():
            yield Piece(f"{where} > zip entry {info.filename}", archive.read(info))
            if info.comment:
                yield Piece(f"{where} > zip entry comment {info.filename}", info.comment)
        if archive.comment:
            yield Piece(f"{where} > zip comment", archive.comment)


def _strings(value: object, out: list[bytes], seen: set[int]) -> None:
    if isinstance(value, pikepdf.String):
        out.append(bytes(value))
    elif isinstance(value, pikepdf.Name):
        out.append(str(value).encode("utf-8", "replace"))
    elif isinstance(value, pikepdf.Array):
        for item in value:
            _strings(item, out, seen)
    elif isinstance(value, (pikepdf.Dictionary, pikepdf.Stream)):
        if value.is_indirect:
            if value.objgen in seen:
                return
            seen.add(value.objgen)
        for key in value.keys():  # noqa: SIM118 - pikepdf dictionaries iterate by key this way
            out.append(key.encode("utf-8", "replace"))
            _strings(value[key], out, seen)


def _pdf(data: bytes, where: str) -> Iterator[Piece]:
    with pikepdf.open(io.BytesIO(data)) as pdf:
        texts: list[bytes] = []
        seen: set[int] = set()
        for obj in pdf.objects:
            _strings(obj, texts, seen)
            if isinstance(obj, pikepdf.Stream):
                try:
                    body = obj.read_bytes()
                except pikepdf.PdfError:
                    body = obj.read_raw_bytes()
                yield Piece(f"{where} > PDF stream {obj.objgen[0]} {obj.objgen[1]} R", body)
        _strings(pdf.trailer, texts, seen)
        yield Piece(f"{where} > PDF strings of every object", b"\n".join(texts))


def _png(data: bytes, where: str) -> Iterator[Piece]:
    pos = 8
    while pos + 8 <= len(data):
        (length,) = struct.unpack(">I", data[pos : pos + 4])
        chunk, body = data[pos + 4 : pos + 8], data[pos + 8 : pos + 8 + length]
        pos += 12 + length
        if chunk in (b"zTXt", b"iCCP"):
            name, _, rest = body.partition(b"\0")
            yield Piece(f"{where} > PNG {chunk.decode()} {name[:20]!r} inflated", zlib.decompress(rest[1:]))
        elif chunk == b"iTXt":
            name, _, rest = body.partition(b"\0")
            if rest[:1] == b"\x01":
                _, _, text = rest[2:].partition(b"\0")
                _, _, text = text.partition(b"\0")
                yield Piece(f"{where} > PNG iTXt inflated", zlib.decompress(text))


def _ogg(data: bytes, where: str) -> Iterator[Piece]:
    bodies, pos = [], 0
    while data.startswith(b"OggS", pos):
        count = data[pos + 26]
        lacing = data[pos + 27 : pos + 27 + count]
        start = pos + 27 + count
        bodies.append(data[start : start + sum(lacing)])
        pos = start + sum(lacing)
    yield Piece(f"{where} > Ogg packets joined", b"".join(bodies))


def _carved(data: bytes, where: str) -> Iterator[Piece]:
    """JPEGs inside other bytes (cover art, thumbnails, PDF image streams), cut out to their end marker."""
    start, carved = 1, 0
    while carved < MAX_CARVED:
        at = data.find(b"\xff\xd8\xff", start)
        if at < 0:
            return
        end = data.find(b"\xff\xd9", at)
        if data[at + 3 : at + 4] in (b"\xe0", b"\xe1", b"\xdb", b"\xfe", b"\xe2", b"\xed"):
            carved += 1
            yield Piece(f"{where} > JPEG carved at byte {at}", data[at : end + 2 if end > 0 else len(data)])
        start = at + 3
