"""Small structural reads, for inspection only, of the places Pillow reads past without exposing.

Why these exist at all: Pillow keeps a PNG's iCCP profile but throws its free-text name away, skips
sPLT palettes (and their names), tIME and private chunks, keeps only the last GIF application extension,
and says nothing about bytes appended after a picture (a motion photo's video). An inspection that cannot
see those would call a file clean that still names its owner. None of this is used to write a file:
cleaning always decodes and re-encodes through the library (bot.evidence.images).
"""

from __future__ import annotations

import io
import re
import zlib
from collections.abc import Iterator
from dataclasses import dataclass, field

from PIL import PngImagePlugin

MAX_TEXT = 1 << 20
MAX_PIECES = 100_000  # chunks or blocks read out of one file; more than this is not a real picture

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
# Chunks that only draw the picture, its colour or its animation, with the length each may have (exact,
# or at most): what Pillow's writer emits (IHDR, PLTE, IDAT, IEND, tRNS, acTL, fcTL, fdAT; iCCP is read
# as a profile) and the fixed-size numeric colour and physical-size chunks a phone or editor adds (gAMA,
# cHRM, sRGB, pHYs, sBIT, bKGD, cICP, cLLI, mDCV, hIST). Why those are not findings though cleaning drops
# them: a handful of numbers of a fixed size cannot name anyone. Apple's iDOT is not drawing data (it
# tells only that an Apple device saved the file): a finding. Text, eXIf, tIME, sPLT, iCCP are read out
# by name; any other chunk, or a drawing chunk of the wrong size, is "other hidden data".
PNG_DRAWING: dict[bytes, tuple[int, int]] = {
    b"IHDR": (13, 13), b"PLTE": (3, 768), b"IDAT": (0, 1 << 31), b"IEND": (0, 0), b"tRNS": (1, 256),
    b"acTL": (8, 8), b"fcTL": (26, 26), b"fdAT": (4, 1 << 31), b"gAMA": (4, 4), b"cHRM": (32, 32),
    b"sRGB": (1, 1), b"pHYs": (9, 9), b"sBIT": (1, 4), b"bKGD": (1, 6), b"cICP": (4, 4), b"cLLI": (8, 8),
    b"mDCV": (24, 24), b"hIST": (2, 512),
}  # fmt: skip


def png_drawing(kind: bytes, data: bytes) -> bool:
    """Whether a PNG chunk is drawing data of the size its kind has."""
    low, high = PNG_DRAWING.get(kind, (1, 0))
    return low <= len(data) <= high


GIF_DRAWING_APPS = (b"NETSCAPE2.0", b"ANIMEXTS1.0")  # the loop count: sub-block 1 and a 16-bit number


def inflate(data: bytes) -> bytes:
    """zlib data opened up to MAX_TEXT bytes (a bomb stops there); b'' when it is not zlib."""
    try:
        return zlib.decompressobj().decompress(data, MAX_TEXT)
    except zlib.error:
        return b""


# ---------------------------------------------------------------------------------------------------------
# PNG


@dataclass
class PngChunks:
    """Each chunk's type and data, in order, and the offset just after IEND."""

    chunks: list[tuple[bytes, bytes]] = field(default_factory=list)
    end: int = 0


def png_chunks(content: bytes) -> PngChunks:
    """The PNG's chunks, read with Pillow's own chunk reader (which refuses a malformed chunk type)."""
    out = PngChunks()
    fp = io.BytesIO(content)
    fp.seek(len(PNG_SIGNATURE))
    stream = PngImagePlugin.ChunkStream(fp)
    while len(out.chunks) < MAX_PIECES:
        kind, pos, length = stream.read()
        if pos + length + 4 > len(content):
            raise ValueError("a chunk runs past the end of the file")
        out.chunks.append((kind, content[pos : pos + length]))
        fp.seek(pos + length + 4)
        if kind == b"IEND":
            out.end = fp.tell()
            return out
    raise ValueError("too many chunks")


def iccp_name(data: bytes) -> str:
    """The free-text name an iCCP chunk gives its profile."""
    return data.partition(b"\x00")[0].decode("latin-1")


def iccp_profile(data: bytes) -> bytes:
    """The ICC profile an iCCP chunk holds, decompressed."""
    return inflate(data.partition(b"\x00")[2][1:])


def splt_name(data: bytes) -> str:
    """The free-text name an sPLT chunk gives its suggested palette."""
    return data.partition(b"\x00")[0].decode("latin-1")


def png_text_pieces(kind: bytes, data: bytes) -> bytes:
    """A zTXt or iTXt chunk's text, decompressed (b'' for one that is not compressed)."""
    _, _, rest = data.partition(b"\x00")
    if kind == b"zTXt":
        return inflate(rest[1:])
    if kind == b"iTXt" and rest[:1] == b"\x01":
        return inflate(rest[2:].split(b"\x00", 2)[-1])
    return b""


def png_streams(content: bytes) -> Iterator[bytes]:
    """Compressed text and profiles of a PNG, opened, for the byte search."""
    for kind, data in png_chunks(content).chunks:
        if kind in (b"zTXt", b"iTXt"):
            yield png_text_pieces(kind, data)
        elif kind == b"iCCP":
            yield iccp_profile(data)


# ---------------------------------------------------------------------------------------------------------
# GIF


@dataclass
class GifBlocks:
    """Comments, application extensions (id and data), other extensions (label and data), where it ends."""

    comments: list[bytes] = field(default_factory=list)
    apps: list[tuple[bytes, bytes]] = field(default_factory=list)
    others: list[tuple[int, bytes]] = field(default_factory=list)
    end: int = 0


def _sub_blocks(content: bytes, pos: int) -> tuple[bytes, int]:
    data = bytearray()
    while True:
        if pos >= len(content):
            raise ValueError("a GIF block runs past the end of the file")
        length = content[pos]
        if length == 0:
            return bytes(data[:MAX_TEXT]), pos + 1
        if len(data) <= MAX_TEXT:
            data += content[pos + 1 : pos + 1 + length]
        pos += 1 + length


def gif_blocks(content: bytes) -> GifBlocks:
    """Walk a GIF's blocks from the header to the trailer, keeping what is not pixels."""
    out = GifBlocks()
    if len(content) < 13:
        raise ValueError("too short for a GIF")
    packed, pos = content[10], 13
    if packed & 0x80:
        pos += 3 << ((packed & 7) + 1)
    for _ in range(MAX_PIECES):
        if pos >= len(content):
            out.end = len(content)
            return out
        introducer = content[pos]
        if introducer == 0x3B:
            out.end = pos + 1
            return out
        if introducer == 0x2C:
            if pos + 10 > len(content):
                raise ValueError("an image block runs past the end of the file")
            packed = content[pos + 9]
            pos += 10 + ((3 << ((packed & 7) + 1)) if packed & 0x80 else 0) + 1
            _, pos = _sub_blocks(content, pos)
        elif introducer == 0x21 and pos + 1 < len(content):
            label = content[pos + 1]
            start = pos + 2
            data, pos = _sub_blocks(content, start)
            if label == 0xFE:
                out.comments.append(data)
            elif label == 0xFF and data[:11] == b"XMP DataXMP":
                # XMP is written raw, not in sub-blocks: its own bytes serve as the lengths, which a magic
                # trailer then walks down to zero. So the packet is the raw bytes after the identifier.
                out.apps.append((data[:11], content[start + 12 : pos][:MAX_TEXT]))
            elif label == 0xFF:
                out.apps.append((data[:11], data[11:]))
            elif label != 0xF9 or len(data) != 4:  # a graphic control block is four bytes of timing
                out.others.append((label, data))
        else:
            raise ValueError("not a GIF block")
    raise ValueError("too many blocks")


# ---------------------------------------------------------------------------------------------------------
# WebP


@dataclass
class WebpChunks:
    """Top-level RIFF chunk types (and each animation frame's image type), and where the RIFF ends."""

    kinds: list[bytes] = field(default_factory=list)
    frame_kinds: list[bytes] = field(default_factory=list)
    end: int = 0
    data: list[bytes] = field(default_factory=list)  # each top-level chunk's data, beside its type


def webp_chunks(content: bytes) -> WebpChunks:
    """The WebP's top-level chunk types, from the RIFF header's length."""
    out = WebpChunks()
    end = min(8 + int.from_bytes(content[4:8], "little"), len(content))
    pos = 12
    while pos + 8 <= end and len(out.kinds) < MAX_PIECES:
        kind, size = content[pos : pos + 4], int.from_bytes(content[pos + 4 : pos + 8], "little")
        out.kinds.append(kind)
        out.data.append(content[pos + 8 : pos + 8 + size])
        if kind == b"ANMF":
            inner = content[pos + 24 : pos + 28]
            if inner == b"ALPH":  # alpha comes first; the image chunk follows it
                alpha = int.from_bytes(content[pos + 28 : pos + 32], "little")
                inner = content[pos + 32 + alpha + (alpha & 1) : pos + 36 + alpha + (alpha & 1)]
            out.frame_kinds.append(inner)
        pos += 8 + size + (size & 1)
    out.end = end
    return out


def webp_lossless(content: bytes) -> bool:
    """Whether every image in the WebP is VP8L (lossless), so the rewrite may be lossless too."""
    chunks = webp_chunks(content)
    images = [kind for kind in chunks.kinds if kind in (b"VP8 ", b"VP8L")] + chunks.frame_kinds
    return bool(images) and all(kind == b"VP8L" for kind in images)


# ---------------------------------------------------------------------------------------------------------
# JPEG


# A marker inside entropy-coded data: 0xFF followed by anything but a stuffed zero or a restart number.
# Why a pattern: a 12-megapixel photo has some 20,000 of the others, each a turn of a Python loop.
_MARKER = re.compile(rb"\xff[^\x00\xd0-\xd7]")


def jpeg_end(content: bytes) -> int:
    """The offset just after the first complete JPEG's end-of-image marker, or len(content) if none."""
    pos, size = 2, len(content)
    for _ in range(MAX_PIECES):
        while pos < size and content[pos] == 0xFF:
            pos += 1
        if pos >= size:
            return size
        marker = content[pos]
        pos += 1
        if marker == 0xD9:
            return pos
        if marker == 0x01 or 0xD0 <= marker <= 0xD7:
            continue
        if pos + 2 > size:
            return size
        pos += int.from_bytes(content[pos : pos + 2], "big")
        if marker == 0xDA:  # entropy-coded data runs to the next marker that is not a stuffed zero or restart
            found = _MARKER.search(content, pos)
            if found is None:
                return size
            pos = found.start()
        if pos < size and content[pos] != 0xFF:
            return size
    return size


_TEXT_RUN = re.compile(rb"[\x20-\x7e]{6,200}")
MAX_RUNS = 50


def text_runs(data: object) -> list[str]:
    """Readable words (runs of six or more printable ASCII characters) in data Candour cannot interpret.

    Why: data nobody models (a private chunk, an app's segment) may still spell a name; its words go to
    the byte search, so the check would see one that survived cleaning.
    """
    if isinstance(data, str):
        data = data.encode("utf-8", "replace")
    if not isinstance(data, (bytes, bytearray)):
        data = repr(data).encode("ascii", "replace")
    runs = (match.group().decode("ascii").strip() for match in _TEXT_RUN.finditer(bytes(data)[:MAX_TEXT]))
    return [run for run in runs if any(ch.isalpha() for ch in run)][:MAX_RUNS]


def trailing(content: bytes, end: int) -> bool:
    """Whether anything but zero padding follows the picture's end."""
    return bool(content[end:].strip(b"\x00"))


# ---------------------------------------------------------------------------------------------------------
# ICC colour profiles

ICC_TEXT_TYPES = (b"text", b"desc", b"mluc")
MAX_ICC_TAGS = 200


@dataclass
class IccTag:
    """One tag of a colour profile: its signature, its type, and its text when the type holds text."""

    signature: str
    kind: bytes
    text: str | None
    data: bytes = b""


def _icc_text(kind: bytes, data: bytes) -> str:
    if kind == b"text":
        return data[8:].split(b"\x00", 1)[0].decode("latin-1")
    if kind == b"desc":
        length = int.from_bytes(data[8:12], "big")
        return data[12 : 12 + length].split(b"\x00", 1)[0].decode("latin-1")
    texts = []  # mluc: one record per language, each UTF-16BE
    count, size = int.from_bytes(data[8:12], "big"), int.from_bytes(data[12:16], "big")
    for index in range(min(count, 50)):
        record = data[16 + index * size : 16 + (index + 1) * size]
        length, offset = int.from_bytes(record[4:8], "big"), int.from_bytes(record[8:12], "big")
        texts.append(data[offset : offset + length].decode("utf-16-be", "replace").rstrip("\x00"))
    return " / ".join(dict.fromkeys(text for text in texts if text.strip()))


def icc_tags(icc: bytes) -> list[IccTag]:
    """The profile's tag table read straight from its bytes, with every text-typed tag's text.

    Why not LittleCMS alone: it reads the few tags it knows by name (description, copyright, maker,
    model) and says nothing of others, such as Apple's 'mmod' (the screen's model and serial number)
    or an app's private text tag.
    """
    count = int.from_bytes(icc[128:132], "big")
    if len(icc) < 132 or count > MAX_ICC_TAGS or 132 + 12 * count > len(icc):
        raise ValueError("not a colour profile's tag table")
    out = []
    for index in range(count):
        entry = icc[132 + 12 * index : 144 + 12 * index]
        offset, size = int.from_bytes(entry[4:8], "big"), int.from_bytes(entry[8:12], "big")
        data = icc[offset : offset + size]
        kind = data[:4]
        text = _icc_text(kind, data) if kind in ICC_TEXT_TYPES else None
        out.append(IccTag(entry[:4].decode("latin-1"), kind, text, data))
    return out
