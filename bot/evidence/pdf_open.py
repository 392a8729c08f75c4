"""Opening a PDF from a reporter with pikepdf, refusing one too complex or locked before it costs much.

Why / threat (promise 5): qpdf reads the cross-reference data whole when it opens a file, and a 700 KB
file can declare a hundred million objects in a compressed cross-reference stream, which costs a gigabyte
before the first page is read. So the bytes are scanned first for what the file declares (its object
count, its object streams, its object headers), qpdf's own decoding limits are set, and only then is the
file opened; the objects qpdf found are counted once more after opening.
"""

from __future__ import annotations

import io
import re
from collections.abc import Iterator
from functools import cache

import pikepdf
from pikepdf import settings

from bot.evidence import limits
from bot.evidence.model import DAMAGED, PDF_LOCKED, TOO_COMPLEX, EvidenceError

# What one decoded stream may cost: the largest picture Candour accepts, uncompressed, with room to spare.
MAX_STREAM_MEMORY = 4 * limits.MAX_PIXELS + (16 << 20)
MAX_WARNINGS = 1_000


def _name_pattern(name: str) -> bytes:
    """A PDF name as written in a file: any character may be spelled #xx (so /S#69ze is /Size)."""
    parts = [b"/"]
    for char in name:
        code = ord(char)
        parts.append(b"(?:%s|#%02x|#%02X)" % (re.escape(char.encode()), code, code))
    return b"".join(parts)


_WS = rb"[\x00\t\n\x0c\r ]"
# A number, unless it starts a reference ("/N 12 0 R" names object 12; it counts nothing).
_NUMBER = _WS + rb"+(\d++)(?!" + _WS + rb"*\d+" + _WS + rb"+R)"
_SIZE = re.compile(_name_pattern("Size") + _NUMBER)
_COUNT = re.compile(_name_pattern("N") + _NUMBER)
_OBJECT_HEADER = re.compile(rb"\d+" + _WS + rb"+\d+" + _WS + rb"+obj")
_INDEX = re.compile(rb"\[([\d\x00\t\n\x0c\r ]*)\]")
_INDEX_KEY = re.compile(_name_pattern("Index") + _WS + b"*")
_XREF = re.compile(_name_pattern("Type") + _WS + b"*" + _name_pattern("XRef"))
_OBJECT_STREAM = re.compile(_name_pattern("Type") + _WS + b"*" + _name_pattern("ObjStm"))
_STREAM_DICT = re.compile(rb"obj" + _WS + rb"*<<")
_TRAILER = re.compile(rb"trailer")
# How far a cross-reference dictionary may reach; qpdf's and every writer's are a few hundred bytes.
_DICT_REACH = 8192


def _stream_dicts(content: bytes) -> Iterator[bytes]:
    """The text of every dictionary that opens an object and is followed by a stream, up to `stream`."""
    for match in _STREAM_DICT.finditer(content):
        end = content.find(b"stream", match.end(), match.end() + _DICT_REACH)
        if end > 0:
            yield content[match.end() : end]


def declared_objects(content: bytes) -> Iterator[int]:
    """Every object count the raw bytes declare, and the number of object headers themselves (what qpdf
    finds when it rebuilds a damaged file): the trailers' and cross-reference streams' /Size and /Index,
    and the sum of the object streams' /N.

    Why only in those dictionaries: /Size also gives an attached file's length in bytes.
    """
    # Why count "obj" first: every header holds it, so its count bounds theirs, and counting bytes is a
    # hundred times faster than the pattern over a 20 MB file; the pattern runs only past the limit.
    rough = content.count(b"obj")
    yield rough if rough <= limits.MAX_PDF_OBJECTS else len(_OBJECT_HEADER.findall(content))
    packed = 0
    for text in _stream_dicts(content):
        if _XREF.search(text):
            yield from _counts(text)
        elif _OBJECT_STREAM.search(text):
            packed += sum(int(match[1]) for match in _COUNT.finditer(text))
    yield packed
    for match in _TRAILER.finditer(content):
        end = content.find(b"startxref", match.end(), match.end() + _DICT_REACH)
        yield from _counts(content[match.end() : end if end > 0 else match.end() + _DICT_REACH])


def _counts(text: bytes) -> Iterator[int]:
    for match in _SIZE.finditer(text):
        yield int(match[1])
    for match in _INDEX_KEY.finditer(text):
        index = _INDEX.match(text, match.end())
        if index:
            numbers = [int(number) for number in index[1].split()]
            yield sum(numbers[1::2])


def refuse_too_complex(content: bytes) -> None:
    """Refuse a PDF that declares more objects than Candour will read, before qpdf reads any of them."""
    if any(count > limits.MAX_PDF_OBJECTS for count in declared_objects(content)):
        raise EvidenceError(TOO_COMPLEX)


def set_qpdf_limits() -> None:
    """Bound what decoding one stream may cost (qpdf's defaults are unlimited).

    Why / threat: a Flate stream of zeros shrinks a thousandfold, so a 20 MB file could decode to 20 GB.
    These settings are process-wide; evidence runs in its own worker process (bot/cleaner.py), which is
    the only user of pikepdf there, so setting them on every open is safe and keeps them in force.
    """
    settings.set_qpdf_limits(
        doc_max_warnings=MAX_WARNINGS,
        parser_max_container_size=limits.MAX_PDF_OBJECTS,
        flate_max_memory=MAX_STREAM_MEMORY,
        png_max_memory=MAX_STREAM_MEMORY,
        tiff_max_memory=MAX_STREAM_MEMORY,
        run_length_max_memory=MAX_STREAM_MEMORY,
        dct_max_memory=MAX_STREAM_MEMORY,
    )


def open_pdf(content: bytes) -> pikepdf.Pdf:
    """The PDF opened with pikepdf, or EvidenceError: too complex, locked with a password, or damaged.

    Why / threat: a file with only an owner password (no password needed to read it) opens and is saved
    without encryption; one that needs a password to read cannot be checked, so it is refused.
    """
    refuse_too_complex(content)
    set_qpdf_limits()
    try:
        pdf = pikepdf.open(io.BytesIO(content))
    except pikepdf.PasswordError as error:
        raise EvidenceError(PDF_LOCKED) from error
    except MemoryError as error:
        raise EvidenceError(TOO_COMPLEX) from error
    except pikepdf.PdfError as error:
        raise EvidenceError(DAMAGED) from error
    if len(pdf.objects) > limits.MAX_PDF_OBJECTS:
        pdf.close()
        raise EvidenceError(TOO_COMPLEX)
    return pdf


@cache
def static_id() -> bytes:
    """The fixed identifier qpdf writes when asked for no identifier of the file's own (static_id)."""
    blank = pikepdf.new()
    blank.add_blank_page()
    out = io.BytesIO()
    blank.save(out, static_id=True)
    with pikepdf.open(io.BytesIO(out.getvalue())) as saved:
        return bytes(saved.trailer.ID[0])
