"""PDF on pikepdf (qpdf): document information, XMP anywhere, private data, comment authors, scripts,
the file identifier, pictures inside (cleaned by the picture's own format, inline ones and those whose
dictionary lies too), colour profiles' text, attached files (cleaned by theirs, or removed and named), and
every other text value outside an allow-list (bot.evidence.pdf_strings: signatures, links to the writer's
files, custom keys...). Pages, text, comments' text, web links, bookmarks and form fields are kept: they
are evidence.
"""

from __future__ import annotations

import io
from collections.abc import Callable, Iterator
from typing import ClassVar

import pikepdf
from pikepdf import Array, Dictionary, Name, Stream, sanitize
from PIL import Image

from bot.evidence import limits, names, pdf_hidden, pdf_icc, pdf_parts, pdf_strings, sniff
from bot.evidence import types as t
from bot.evidence.model import (
    NOT_CLEANED,
    TOO_COMPLEX,
    EvidenceError,
    Finding,
    Format,
    Inspection,
    Nested,
    Rewrite,
    Verbatim,
    prefixed,
)
from bot.evidence.pdf_open import open_pdf
from bot.evidence.pdf_read import read

DROPPED = Finding("other", "a file attached to it that Candour cannot check (removed)")
_UNUSABLE_FILTERS = {Name.DCTDecode, Name.JPXDecode, Name.JBIG2Decode, Name.CCITTFaxDecode}
_PRIVATE_KEYS = ("/Metadata", "/PieceInfo", "/LastModified", "/SpiderInfo", "/AA", "/OpenAction", "/JS")


class Pdf(Format):
    """A PDF document, read and rewritten with pikepdf."""

    media_types: ClassVar[tuple[str, ...]] = (t.PDF,)
    cannot_clean: ClassVar[tuple[str, ...]] = (
        "names, dates and pictures that are part of the pages themselves",
        "the text of comments, form field names and entries, bookmarks, layer names and web links in it",
        "details inside JPEG 2000 pictures in it",
        "the data of forms built with XFA",
        "words an app stored as PDF names rather than text, outside the catalogue, pages and trailer",
        "comments an app wrote into a page's drawing instructions",
        "the names of the places inside it that links jump to, and the tags and alternative texts that "
        "make it readable aloud",
    )
    body_text: ClassVar[bool] = True

    def inspect(self, content: bytes, nested: Nested) -> Inspection:
        with open_pdf(content) as pdf:
            return read(pdf, nested)

    def clean(self, content: bytes, nested: Nested) -> Rewrite:
        with open_pdf(content) as pdf:
            return _rewrite(pdf, nested)

    def inspect_and_clean(
        self, content: bytes, nested: Nested, inspected: Callable[[Inspection], None]
    ) -> Rewrite:
        """One opening of the original, read out first (reading changes nothing), then rewritten."""
        with open_pdf(content) as pdf:
            inspected(read(pdf, nested))
            return _rewrite(pdf, nested)

    def read_back(self, content: bytes, nested: Nested) -> tuple[Inspection, list[bytes]]:
        """One opening of the result for its read-out and, when that finds nothing, its streams."""
        with open_pdf(content) as pdf:
            found = read(pdf, nested)
            return found, [] if found.findings else list(_streams(pdf))

    def streams(self, content: bytes) -> Iterator[bytes]:
        """Every stream decoded where pikepdf can (Flate, LZW...); pictures as the file they hold."""
        with open_pdf(content) as pdf:
            yield from _streams(pdf)


def _rewrite(pdf: pikepdf.Pdf, nested: Nested) -> Rewrite:
    """The open PDF cleaned and saved afresh, without an identifier of its own and unencrypted."""
    dropped = _clean_embedded(pdf, nested)
    _clean_pictures(pdf, nested)
    pdf_hidden.clean_stream_files(pdf, nested)
    pdf_hidden.clean_inline_pictures(pdf, nested)
    pdf_icc.clean(pdf)
    _clean_parts(pdf)
    out = io.BytesIO()
    pdf.save(
        out,
        static_id=True,
        compress_streams=True,
        fix_metadata_version=False,
        preserve_pdfa=False,
        encryption=False,
    )
    return Rewrite(out.getvalue(), tuple(dropped))


def _streams(pdf: pikepdf.Pdf) -> Iterator[bytes]:
    """Every stream of the open PDF decoded where pikepdf can; pictures as the file they hold.

    Why not an image's raw pixel samples: they hold no text, and a scanned page decodes to some 26 MB,
    so a document of scans would pass the decoded-size limit for no gain. Why a picture with no other
    filter is Verbatim: in a file that is not encrypted, a stream's stored bytes are one run of the
    file's own bytes, so the byte search, which reads the file, has read them already.
    """
    total = 0
    plain = not pdf.is_encrypted
    for obj in pdf.objects:
        if not isinstance(obj, Stream):
            continue
        if pdf_parts.picture_filter(obj) is not None:
            data = pdf_parts.picture_bytes(pdf, obj)
            if plain and len(pdf_parts.filters(obj)) == 1:
                data = Verbatim(data)
        elif set(pdf_parts.filters(obj)) & _UNUSABLE_FILTERS:
            continue
        elif obj.get("/Subtype") == Name.Image:
            # Pixel samples are skipped, unless the bytes are a file (a photo whose dictionary
            # was damaged or crafted to hide what it is): that is searched like any other.
            data = obj.read_bytes()
            if sniff.by_magic(data) is None:
                continue
        else:
            data = obj.read_bytes()
        total += len(data)
        if total > limits.MAX_UNZIPPED:
            raise EvidenceError(TOO_COMPLEX)
        yield data


def _clean_parts(pdf: pikepdf.Pdf) -> None:
    """Remove document information, every XMP packet, private data, comment authors and dates, scripts
    and self-running actions, thumbnails and web-capture data.

    Why the library's sanitizers first and sweeps after: pikepdf knows where scripts and private data
    are meant to live; the sweep of every dictionary removes them wherever a file put them instead, and
    the last removes every text value outside bot.evidence.pdf_strings' allow-list (it says why).
    Objects left unreferenced are not written by qpdf, so nothing removed survives as an orphan.
    """
    for key in ("/Info", "/ID"):  # qpdf keeps an original /ID's first half unless the /ID is gone
        if key in pdf.trailer:
            del pdf.trailer[key]
    sanitizer = sanitize.Sanitizer().remove_javascript().remove_private_app_data()
    sanitizer.remove_thumbnails().remove_web_capture().apply(pdf)
    names_tree = pdf.Root.get("/Names")
    if isinstance(names_tree, Dictionary) and "/JavaScript" in names_tree:
        del names_tree["/JavaScript"]
    for item in list(pdf_parts.dictionaries(pdf)):
        for key in _PRIVATE_KEYS:
            if key in item:
                del item[key]
        if item.get("/S") == Name.JavaScript:
            del item["/S"]
        if pdf_parts.is_annotation(item):
            for key in ("/T", *pdf_parts.ANNOTATION_DATES):
                if key in item:
                    del item[key]
    pdf_strings.remove(pdf)


def _clean_pictures(pdf: pikepdf.Pdf, nested: Nested) -> None:
    """Every JPEG (and JPEG 2000 Candour can clean) inside is replaced by its own format's cleaned copy.

    Why / threat: a photo pasted into a document keeps its EXIF (GPS, owner, serial number), XMP and
    IPTC inside the PDF. The page places the picture with its own matrix, so the cleaned picture must
    keep its width, height and colours; if cleaning changed them (a photo turned upright from its EXIF
    orientation), the page would show it distorted, so the file is refused instead.
    """
    for obj in list(pdf.objects):
        if not isinstance(obj, Stream):
            continue
        kind = pdf_parts.picture_filter(obj)
        if kind is None:
            continue
        original = pdf_parts.picture_bytes(pdf, obj)
        rewrite = nested.clean(original, keep_orientation=True)
        if rewrite is None:
            if kind == Name.DCTDecode:
                raise EvidenceError(NOT_CLEANED)
            continue  # JPEG 2000 Candour cannot clean: named in cannot_clean
        if _shape(original) != _shape(rewrite.content):
            raise EvidenceError(NOT_CLEANED)
        obj.write(rewrite.content, filter=kind)
        if "/DecodeParms" in obj:
            del obj["/DecodeParms"]


def _shape(picture: bytes) -> tuple[tuple[int, int], str]:
    """A picture's size and colour mode, read from its header."""
    with Image.open(io.BytesIO(picture)) as image:
        return image.size, image.mode


def _clean_embedded(pdf: pikepdf.Pdf, nested: Nested) -> list[Finding]:
    """Every attached file cleaned by its own format and written back, or removed when Candour cannot.

    Why / threat: an attached photo would otherwise reach the vault byte for byte, GPS and all. The
    dates and checksum stored beside it describe the original, so they go; its name is kept unless the
    camera gave it (then it becomes "photo.jpg").
    """
    dropped: list[Finding] = []
    for spec in list(pdf_parts.dictionaries(pdf)):
        if "/EF" not in spec:
            continue
        label = pdf_parts.embedded_name(spec)
        done: dict[tuple[int, int], bytes | None] = {}
        media_type = ""
        for _, stream in pdf_parts.embedded_streams(spec):
            if stream.objgen in done:
                continue
            content = stream.read_bytes()
            media_type = nested.media_type(content)
            rewrite = nested.clean(content)
            done[stream.objgen] = None if rewrite is None else rewrite.content
            if rewrite is not None:
                dropped.extend(prefixed(rewrite.dropped, "in a file inside: "))
                _write_embedded(stream, rewrite.content)
        if any(value is None for value in done.values()):
            del spec["/EF"]
            dropped.append(DROPPED)
        elif label:
            safe = names.safe(label, media_type, neutral=bool(names.findings(label, media_type)))
            for key in ("/F", "/UF"):
                if key in spec:
                    spec[key] = pikepdf.String(safe)
    _unlink_removed(pdf)
    _rekey_renamed(pdf)
    return dropped


def _write_embedded(stream: Stream, content: bytes) -> None:
    stream.write(content)
    for key in ("/DL", "/DecodeParms"):
        if key in stream:
            del stream[key]
    stream.Params = Dictionary(Size=len(content))


def _unlink_removed(pdf: pikepdf.Pdf) -> None:
    """Drop every reference to a file specification whose file was removed: the attachment list,
    associated-file arrays and file-attachment comments (whose note is kept)."""
    for key in list(pdf.attachments.keys()):
        if "/EF" not in pdf.attachments[key].obj:
            del pdf.attachments[key]
    for item in list(pdf_parts.dictionaries(pdf)):
        related = item.get("/AF")
        if isinstance(related, Array):
            kept = [spec for spec in related if not _removed(spec)]
            if len(kept) != len(related):
                item.AF = Array(kept)
        elif related is not None and _removed(related):
            del item["/AF"]
        spec = item.get("/FS")
        if item.get("/Subtype") == Name.FileAttachment and spec is not None and _removed(spec):
            del item["/FS"]


def _rekey_renamed(pdf: pikepdf.Pdf) -> None:
    """The attachment list names each file again: a renamed file is listed under its new name."""
    names_tree = pdf.Root.get("/Names")
    if not isinstance(names_tree, Dictionary) or not isinstance(names_tree.get("/EmbeddedFiles"), Dictionary):
        return
    tree = pikepdf.NameTree(names_tree.EmbeddedFiles)
    for key in list(tree.keys()):
        spec = tree[key]
        name = pdf_parts.embedded_name(spec) if isinstance(spec, Dictionary) else ""
        if name and name != key:
            del tree[key]
            unique, number = name, 1
            while unique in tree:
                number += 1
                unique = f"{number}-{name}"
            tree[unique] = spec


def _removed(spec: object) -> bool:
    return isinstance(spec, Dictionary) and "/EF" not in spec and ("/F" in spec or "/UF" in spec)


FORMATS: tuple[Format, ...] = (Pdf(),)
