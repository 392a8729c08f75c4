"""Files a PDF holds where its dictionaries do not say so: pictures written inside the drawing instructions
(inline images, BI ... ID ... EI), and streams whose bytes are a whole file, whatever their dictionary says.

Why / threat: a JPEG drawn inline keeps its EXIF (GPS, owner, serial number) in the page's own instructions,
where no image dictionary points to it; and a photo's stream with a damaged /Subtype or /Filter is still a
photo to anyone who extracts it. Both are read and cleaned by the file's own format, like any picture.
"""

from __future__ import annotations

import io
import zlib
from collections.abc import Iterator
from dataclasses import dataclass

import pikepdf
from pikepdf import Array, ContentStreamInlineImage, Dictionary, Name, Stream
from PIL import Image

from bot.evidence import pdf_parts, sniff
from bot.evidence.model import NOT_CLEANED, EvidenceError, Nested

_UNDECODABLE = {Name.JBIG2Decode, Name.CCITTFaxDecode}
_PICTURES = {Name.DCTDecode, Name.JPXDecode}
_SNIFF_BYTES = 4096


# ---------------------------------------------------------------------------------------------------------
# Streams that are files


@dataclass(frozen=True)
class StreamFile:
    """A stream whose bytes are a file: the stream, the picture filter to write it back with, the file."""

    stream: Stream
    kind: Name | None
    content: bytes


def stream_files(pdf: pikepdf.Pdf) -> Iterator[StreamFile]:
    """Every stream, other than a picture or an attached file (read where they are named), whose bytes
    are a file of a type the sniffer knows.

    Why only a few bytes decoded first: most streams are drawing instructions, fonts and pixel samples;
    a scanned page decodes to some 26 MB, so only a stream whose first bytes name a file is decoded whole.
    """
    attached = _attached(pdf)
    for obj in pdf.objects:
        if not isinstance(obj, Stream) or obj.objgen in attached or pdf_parts.picture_filter(obj) is not None:
            continue
        chain = pdf_parts.filters(obj)
        if set(chain) & _UNDECODABLE:
            continue
        if chain and chain[-1] in _PICTURES:  # a picture whose /Subtype was lost
            content = pdf_parts.picture_bytes(pdf, obj)
            kind: Name | None = chain[-1]
        elif sniff.by_magic(_head(obj, chain)) is None:
            continue
        else:
            content, kind = obj.read_bytes(), None
        if sniff.by_magic(content) is not None:
            yield StreamFile(obj, kind, content)


def _attached(pdf: pikepdf.Pdf) -> set[tuple[int, int]]:
    return {
        stream.objgen
        for item in pdf_parts.dictionaries(pdf)
        if "/EF" in item
        for _, stream in pdf_parts.embedded_streams(item)
    }


def _head(stream: Stream, chain: list[Name]) -> bytes:
    """The first decoded bytes of a stream, cheaply where it is plain or only Flate-compressed."""
    if not chain:
        return stream.read_raw_bytes()[:_SNIFF_BYTES]
    if chain == [Name.FlateDecode] and "/DecodeParms" not in stream:
        try:
            return zlib.decompressobj().decompress(stream.read_raw_bytes(), _SNIFF_BYTES)
        except zlib.error:
            pass
    return stream.read_bytes()


def clean_stream_files(pdf: pikepdf.Pdf, nested: Nested) -> None:
    """Each such stream replaced by its own format's cleaned copy (kept as it is when Candour cannot clean
    that type: the independent check has nothing to say about it either)."""
    for found in list(stream_files(pdf)):
        rewrite = nested.clean(found.content, keep_orientation=True)
        if rewrite is None:
            if found.kind == Name.DCTDecode:
                raise EvidenceError(NOT_CLEANED)
            continue
        if found.kind is not None:
            found.stream.write(rewrite.content, filter=found.kind)
        else:
            found.stream.write(rewrite.content)


# ---------------------------------------------------------------------------------------------------------
# Inline images


@dataclass(frozen=True)
class Inline:
    """A picture drawn inline: the file it holds, or None when its filters hide it from Candour."""

    content: bytes | None
    simple: bool  # only DCT, or no filter at all: can be written back in place


def content_streams(pdf: pikepdf.Pdf) -> Iterator[Stream]:
    """Every stream of drawing instructions: pages, forms (comments' looks too), tiling patterns, glyphs."""
    seen: set[tuple[int, int]] = set()
    for page in pdf.pages:
        contents = page.obj.get("/Contents")
        for stream in contents if isinstance(contents, Array) else [contents]:
            if isinstance(stream, Stream) and stream.objgen not in seen:
                seen.add(stream.objgen)
                yield stream
    for obj in pdf.objects:
        drawn = isinstance(obj, Stream) and (obj.get("/Subtype") == Name.Form or obj.get("/PatternType") == 1)
        if drawn and obj.objgen not in seen:
            seen.add(obj.objgen)
            yield obj
        procs = obj.get("/CharProcs") if isinstance(obj, Dictionary) else None
        if isinstance(procs, Dictionary):
            for _, glyph in procs.items():
                if isinstance(glyph, Stream) and glyph.objgen not in seen:
                    seen.add(glyph.objgen)
                    yield glyph


def instructions(stream: Stream) -> list[object]:
    """The stream's instructions, or none when it holds no inline image (or cannot be read as drawing)."""
    try:
        if b"ID" not in stream.read_bytes():
            return []
        return list(pikepdf.parse_content_stream(stream))
    except pikepdf.PdfError:
        return []


def inline_picture(instruction: ContentStreamInlineImage) -> Inline:
    """What an inline image holds: the file behind its filters (a JPEG), or its raw bytes when unfiltered."""
    image = instruction.iimage
    chain = [str(name) for name in image.filters]
    raw = image.read_raw_bytes()
    if chain == ["/DCTDecode"]:
        return Inline(_trimmed(raw), True)
    if not chain:
        return Inline(raw, True)
    if chain[-1] != "/DCTDecode":
        return Inline(None, False)
    with pikepdf.new() as scratch:
        outer = Stream(scratch, raw)
        outer.Filter = Array([Name(name) for name in chain[:-1]])
        try:
            return Inline(_trimmed(outer.read_bytes()), False)
        except pikepdf.PdfError:
            return Inline(None, False)


def _trimmed(jpeg: bytes) -> bytes:
    """A JPEG without the white space the instructions put between its end and EI (not part of it)."""
    trimmed = jpeg.rstrip(b"\x00\t\n\x0c\r ")
    return trimmed if trimmed.endswith(b"\xff\xd9") else jpeg


def inline_pictures(pdf: pikepdf.Pdf) -> Iterator[bytes]:
    """The file each inline image holds, where its bytes are one."""
    for stream in content_streams(pdf):
        for instruction in instructions(stream):
            if isinstance(instruction, ContentStreamInlineImage):
                found = inline_picture(instruction)
                if found.content is not None and sniff.by_magic(found.content) is not None:
                    yield found.content


def clean_inline_pictures(pdf: pikepdf.Pdf, nested: Nested) -> None:
    """Every inline JPEG (or other file) replaced in its instructions by its own format's cleaned copy.

    Why refuse one that carries details but cannot be rewritten in place (behind other filters, or with a
    stated /Length): it would leave the camera's details in the file. One that carries nothing is kept.
    """
    for stream in list(content_streams(pdf)):
        parts: list[bytes] = []
        changed = False
        for instruction in instructions(stream):
            written = None
            if isinstance(instruction, ContentStreamInlineImage):
                written = _cleaned_inline(instruction, nested)
                changed = changed or written is not None
            parts.append(written or pikepdf.unparse_content_stream([instruction]))
        if changed:
            stream.write(b"\n".join(parts))


def _cleaned_inline(instruction: ContentStreamInlineImage, nested: Nested) -> bytes | None:
    """The instruction written again around the cleaned picture, or None when it carries nothing."""
    found = inline_picture(instruction)
    if found.content is None or sniff.by_magic(found.content) is None:
        return None
    if not nested.inspect(found.content).findings:
        return None
    image = instruction.iimage
    if not found.simple or "/L" in image.obj or "/Length" in image.obj:
        raise EvidenceError(NOT_CLEANED)
    rewrite = nested.clean(found.content, keep_orientation=True)
    if rewrite is None or _shape(found.content) != _shape(rewrite.content):
        raise EvidenceError(NOT_CLEANED)
    written = image.unparse()
    header = written[: written.index(b"\nID\n")]
    return header + b"\nID\n" + rewrite.content + b"\nEI"


def _shape(picture: bytes) -> tuple[tuple[int, int], str] | None:
    """A picture's size and colour mode, read from its header (None when Pillow cannot read it)."""
    try:
        with Image.open(io.BytesIO(picture)) as image:
            return image.size, image.mode
    except (OSError, ValueError):
        return None
