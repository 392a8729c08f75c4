"""Evidence cleaning: remove identifying metadata from a reporter's file before it is sealed.

Why (promise 1): a photo or document carries more than it shows. EXIF holds where a photo was taken, the
phone that took it and sometimes its owner's name; PDFs and Office files carry their author and whoever last
saved them. Any of these could identify the reporter to whoever reads the evidence, so every file passes
through `clean` before it is encrypted. When the reporter says the metadata is itself evidence (a photo's
time and place), the bot shows them `inspect`'s findings and may keep the original; that choice is the
bot's, this module only says what is there and removes it.

Threat: a reader of the evidence (an officer entitled to the case, or anyone a copy later reaches) learns
nothing about the reporter from the file's hidden parts. Out of reach here: what the evidence visibly shows
(faces, names on screen, a voice), traces in the pixels themselves (a camera's sensor noise), and names
inside a document's body (tracked changes, comment authors).

How, per type:
- JPEG: decoded, turned upright per its EXIF orientation, re-encoded with the original's quantisation
  tables and only the ICC profile kept. Nothing but pixels is written, so EXIF, GPS, maker notes, XMP, IPTC,
  comments, hidden second images and appended motion-photo video are all gone.
- PNG, GIF, WebP: rewritten chunk by chunk keeping only an allowlist of chunks needed to draw the image, so
  pixels and animation stay byte-for-byte the original's. A still image that its metadata rotates is
  decoded and saved upright instead.
- TIFF: decoded and re-saved losslessly with no tags beyond those describing the pixels.
- PDF: document information, XMP metadata, applications' private data and annotation authors removed;
  file identifier dropped; pages kept.
- Word, Excel, PowerPoint (OOXML): author, last editor, company, manager and template blanked, custom
  properties removed, pictures and packages inside cleaned the same way, zip entry times normalised;
  everything else kept byte for byte.
- Plain text: nothing hidden. Telegram voice notes (Ogg Opus or Vorbis): only the comment header can hold
  tags (artist, date, place); any there are removed.
- Anything else (HEIC, video, archives, unknown): not cleaned; content returned unchanged with cleaned=False,
  so the bot can tell the reporter it cannot check that type.

Fail closed: after cleaning, the result is inspected again; if anything identifying is still found, or any
step fails, EvidenceError is raised and nothing is handed on as cleaned. Pure: no Telegram, no database,
no network, and no logging of its own (a log line about a file could itself help identify a reporter).
"""

from __future__ import annotations

import html
import io
import re
import struct
import unicodedata
import zipfile
import zlib
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any, TypeVar

import pypdf
from PIL import Image, JpegImagePlugin
from pypdf.generic import ArrayObject, DictionaryObject, IndirectObject, PdfObject, StreamObject

MAX_BYTES = 20 * 1024 * 1024
MAX_PIXELS = 60_000_000
MAX_FRAMES = 1_000
MAX_TOTAL_PIXELS = 250_000_000
MAX_SUMMARY = 80
KINDS = ("location", "person", "device", "time", "software", "other")

# Why global: Pillow's own check guards every Pillow use in this process. 60 MP is more than the photos
# phones save by default (12 to 50 MP) and an A4 page scanned at 600 dpi (35 MP), yet caps one decoded
# image near 240 MB. Pillow refuses outright only at twice this; `_check_pixels` refuses at once.
Image.MAX_IMAGE_PIXELS = MAX_PIXELS

_MAX_UNZIPPED = 200 * 1024 * 1024
_MAX_ZIP_ENTRIES = 5_000
_MAX_PACKAGE_DEPTH = 2
_MAX_TEXT = 1 << 20

TOO_LARGE = "This file is larger than 20 MB, the most Candour accepts. Please send a smaller copy."
DAMAGED = "This file could not be read. It may be damaged or only partly sent. Please try sending it again."
TOO_MANY_PIXELS = (
    "This picture is too large to check safely (over 60 megapixels). Please send a smaller copy."
)
TOO_COMPLEX = "This file has too many parts to check safely. Please send a simpler copy, or a screenshot."
PDF_LOCKED = "This PDF is protected by a password, so it cannot be checked. Please send a copy without one."
NOT_CLEANED = (
    "Candour could not remove the hidden details from this file, so it has not been used. "
    "Please send a screenshot of it instead."
)

JPEG = "image/jpeg"
PNG = "image/png"
GIF = "image/gif"
WEBP = "image/webp"
TIFF = "image/tiff"
PDF = "application/pdf"
OGG_AUDIO = "audio/ogg"
TEXT_TYPES = ("text/plain", "text/csv", "text/markdown")
DOCX = "application/vnd.openxmlformats-officedocument.wordprocessingml.document"
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
PPTX = "application/vnd.openxmlformats-officedocument.presentationml.presentation"
DOCM = "application/vnd.ms-word.document.macroenabled.12"
XLSM = "application/vnd.ms-excel.sheet.macroenabled.12"
PPTM = "application/vnd.ms-powerpoint.presentation.macroenabled.12"
OCTET_STREAM = "application/octet-stream"

# The main part's content type in [Content_Types].xml (lower case) decides which Office document a zip is.
_OOXML_MAIN = {
    "wordprocessingml.document.main+xml": DOCX,
    "spreadsheetml.sheet.main+xml": XLSX,
    "presentationml.presentation.main+xml": PPTX,
    "ms-word.document.macroenabled.main+xml": DOCM,
    "ms-excel.sheet.macroenabled.main+xml": XLSM,
    "ms-powerpoint.presentation.macroenabled.main+xml": PPTM,
}

_EXTENSIONS: dict[str, tuple[str, ...]] = {
    JPEG: (".jpg", ".jpeg", ".jpe", ".jfif"),
    PNG: (".png",),
    GIF: (".gif",),
    WEBP: (".webp",),
    TIFF: (".tif", ".tiff"),
    PDF: (".pdf",),
    OGG_AUDIO: (".ogg", ".oga", ".opus"),
    "text/plain": (".txt", ".text", ".log"),
    "text/csv": (".csv",),
    "text/markdown": (".md", ".markdown"),
    DOCX: (".docx",),
    XLSX: (".xlsx",),
    PPTX: (".pptx",),
    DOCM: (".docm",),
    XLSM: (".xlsm",),
    PPTM: (".pptm",),
}
_KNOWN_EXTENSIONS = frozenset(ext for exts in _EXTENSIONS.values() for ext in exts) | {
    ".heic", ".heif", ".mp4", ".mov", ".zip", ".bin", ".doc", ".xls", ".ppt", ".bmp",
}  # fmt: skip
_IMAGE_TYPES = (JPEG, PNG, GIF, WEBP, TIFF)
_T = TypeVar("_T")


class EvidenceError(Exception):
    """A file that cannot be read or will not be processed; str(error) is a plain sentence for the reporter."""


class _Unsupported(Exception):
    """A variant of a cleanable type this module cannot rewrite safely: handed back unchanged, cleaned=False."""


@dataclass(frozen=True)
class Finding:
    """One identifying detail a file carries, described for the reporter's own phone screen."""

    kind: str
    summary: str

    def __post_init__(self) -> None:
        if self.kind not in KINDS:
            raise ValueError(f"unknown finding kind {self.kind!r}")
        if not self.summary or len(self.summary) > MAX_SUMMARY:
            raise ValueError("a finding's summary must be 1 to 80 characters")


@dataclass(frozen=True)
class Cleaned:
    """The file to seal: cleaned content, its real media type, a safe file name, and what was removed."""

    content: bytes
    media_type: str
    filename: str
    removed: tuple[Finding, ...]
    cleaned: bool


@dataclass(frozen=True)
class _Handler:
    inspect: Callable[[bytes], list[Finding]]
    clean: Callable[[bytes], bytes]


# ---------------------------------------------------------------------------------------------------------
# Public API


def can_clean(media_type: str) -> bool:
    """Whether `clean` knows how to remove metadata from this media type."""
    return _normalise_type(media_type) in _HANDLERS


def sniff_media_type(content: bytes, filename: str, declared: str | None) -> str:
    """The file's real media type, from its first bytes.

    Why / threat: Telegram passes on the sender's own claim of type. A file declared as text but really a
    JPEG must be cleaned as a JPEG, or its GPS would pass through as "nothing to clean". So magic bytes
    decide; the declared type is used only when the bytes match nothing we know and it names a type we do
    not clean (so a false claim can never route a file around a cleaner).
    """
    head = content[:64]
    if head.startswith(b"\xff\xd8\xff"):
        return JPEG
    if head.startswith(b"\x89PNG\r\n\x1a\n"):
        return PNG
    if head[:6] in (b"GIF87a", b"GIF89a"):
        return GIF
    if head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        return WEBP
    if head[:4] in (b"II*\x00", b"MM\x00*", b"II+\x00", b"MM\x00+"):  # classic TIFF and BigTIFF
        return TIFF
    if head.startswith(b"%PDF-"):
        return PDF
    if head.startswith(b"PK\x03\x04"):
        return _sniff_zip(content)
    if head.startswith(b"OggS"):
        return _sniff_ogg(head)
    if head[4:8] == b"ftyp":
        return _sniff_iso_media(head)
    for magic, media_type in _OTHER_MAGIC:
        if head.startswith(magic):
            return media_type
    if head[:4] == b"RIFF":
        return {b"WAVE": "audio/wav", b"AVI ": "video/x-msvideo"}.get(head[8:12], OCTET_STREAM)
    hint = _normalise_type(declared or "")
    extension = _extension(filename)
    wants_text = (
        hint in TEXT_TYPES or hint in ("", OCTET_STREAM) or extension in (".txt", ".csv", ".md", ".log")
    )
    if wants_text and _is_text(content):
        if hint in TEXT_TYPES:
            return hint
        return {".csv": "text/csv", ".md": "text/markdown"}.get(extension, "text/plain")
    if hint and hint not in _HANDLERS:
        return hint
    return OCTET_STREAM


def inspect(content: bytes, *, filename: str, media_type: str) -> tuple[Finding, ...]:
    """What identifying metadata the file carries, for the bot's 'keep or remove' question.

    Empty for types we cannot clean (we do not know) and for files with nothing to remove.
    Raises EvidenceError for a file too large, damaged, or a decompression bomb.
    """
    _check_size(content)
    actual = sniff_media_type(content, filename, media_type)
    handler = _HANDLERS.get(actual)
    if handler is None:
        return ()
    try:
        found = _guarded(handler.inspect, content)
    except _Unsupported:
        return ()
    return _tidy([*found, *_filename_findings(filename, actual)])


def clean(content: bytes, *, filename: str, media_type: str) -> Cleaned:
    """The file with identifying metadata removed, or unchanged with cleaned=False for types we cannot clean.

    Why / threat: fail closed. The cleaned result is inspected again and must show nothing identifying;
    any failure raises EvidenceError, so a file is never handed on as clean when it is not.
    """
    _check_size(content)
    actual = sniff_media_type(content, filename, media_type)
    handler = _HANDLERS.get(actual)
    if handler is None:
        return Cleaned(content, actual, _safe_filename(filename, actual, neutral=False), (), cleaned=False)
    try:
        found = _guarded(handler.inspect, content)
        output = _guarded(handler.clean, content)
    except _Unsupported:
        return Cleaned(content, actual, _safe_filename(filename, actual, neutral=False), (), cleaned=False)
    name_findings = _filename_findings(filename, actual)
    new_name = _safe_filename(filename, actual, neutral=bool(name_findings))
    try:
        left = _guarded(handler.inspect, output) + _filename_findings(new_name, actual)
    except _Unsupported as error:
        raise EvidenceError(NOT_CLEANED) from error
    if left or sniff_media_type(output, new_name, actual) != actual:
        raise EvidenceError(NOT_CLEANED)
    if len(output) > MAX_BYTES:
        raise EvidenceError(TOO_LARGE)  # re-encoding can grow a file; the vault takes no more than this
    return Cleaned(output, actual, new_name, _tidy([*found, *name_findings]), cleaned=True)


# ---------------------------------------------------------------------------------------------------------
# Shared helpers


def _check_size(content: bytes) -> None:
    if len(content) > MAX_BYTES:
        raise EvidenceError(TOO_LARGE)


def _guarded(function: Callable[[bytes], _T], content: bytes) -> _T:
    """Run a parser over untrusted bytes, turning any failure into a plain EvidenceError.

    Why / threat: promise 5 (nothing crashes) and fail closed. Pillow, pypdf and zipfile raise a wide and
    changing range of exceptions on hostile input; every one of them means "we could not read this file",
    and none may let the file through as cleaned.
    """
    try:
        return function(content)
    except (EvidenceError, _Unsupported):
        raise
    except Image.DecompressionBombError as error:
        raise EvidenceError(TOO_MANY_PIXELS) from error
    except MemoryError as error:
        raise EvidenceError(TOO_MANY_PIXELS) from error
    except Exception as error:
        raise EvidenceError(DAMAGED) from error


def _damaged() -> EvidenceError:
    return EvidenceError(DAMAGED)


def _normalise_type(media_type: str) -> str:
    value = media_type.split(";", 1)[0].strip().lower()
    return value if _MEDIA_TYPE.fullmatch(value) else ""


_MEDIA_TYPE = re.compile(r"[a-z0-9][a-z0-9!#$&^_.+-]{0,63}/[a-z0-9][a-z0-9!#$&^_.+-]{0,126}")


def _extension(filename: str) -> str:
    base = re.split(r"[\\/]", filename or "")[-1]
    stem, dot, ext = base.rpartition(".")
    return f".{ext.lower()}" if dot and stem else ""


def _is_text(content: bytes) -> bool:
    """Plain text: decodes as UTF-8 (or UTF-16 with a byte-order mark) and holds no binary control bytes."""
    if content.startswith((b"\xff\xfe", b"\xfe\xff")):
        try:
            text = content.decode("utf-16")
        except UnicodeDecodeError:
            return False
    else:
        try:
            text = content.decode("utf-8-sig")
        except UnicodeDecodeError:
            return False
    return not any(unicodedata.category(ch) == "Cc" and ch not in "\t\n\r\f" for ch in text)


def _display(value: object, limit: int) -> str:
    """A metadata value made safe and short for a chat message.

    Why / threat: values come from the file, so they may hold control or bidirectional-override characters
    that would garble or disguise the bot's message; those become spaces, and long values are cut.
    """
    if isinstance(value, bytes):
        value = value.decode("utf-8", "replace")
    text = "".join(" " if unicodedata.category(ch)[0] in "CZ" else ch for ch in str(value)[:500])
    text = " ".join(text.split())
    if len(text) > limit:
        text = text[: max(limit - 1, 0)].rstrip() + "…"
    return text


def _finding(kind: str, what: str, value: object = None) -> Finding:
    """A finding whose summary shows a short value when there is room: the reporter's own screen."""
    room = MAX_SUMMARY - len(what) - 3
    shown = _display(value, room) if value is not None and room >= 4 else ""
    return Finding(kind, f"{what} ({shown})" if shown else what[:MAX_SUMMARY])


def _tidy(findings: list[Finding]) -> tuple[Finding, ...]:
    """Unique findings, grouped in a fixed order of kinds (place and people first: they matter most)."""
    unique = list(dict.fromkeys(findings))
    return tuple(sorted(unique, key=lambda finding: KINDS.index(finding.kind)))


def _prefixed(findings: list[Finding], prefix: str) -> list[Finding]:
    """Findings from a part inside a document, said to be inside (once, however deep the nesting)."""
    out = []
    for found in findings:
        summary = prefix + re.sub(r"^in a (?:picture|file) inside: ", "", found.summary)
        if len(summary) > MAX_SUMMARY:
            summary = summary[: MAX_SUMMARY - 1].rstrip() + "…"
        out.append(Finding(found.kind, summary))
    return out


def _when(value: object) -> str:
    """An EXIF-style or PDF-style date shown as YYYY-MM-DD HH:MM; anything else as given."""
    text = value.decode("ascii", "replace") if isinstance(value, bytes) else str(value)
    match = re.search(r"(\d{4})[:\-]?(\d{2})[:\-]?(\d{2})[ T]?(\d{2}):?(\d{2})", text)
    return f"{match[1]}-{match[2]}-{match[3]} {match[4]}:{match[5]}" if match else text


def _u32le(data: bytes, offset: int) -> int:
    if offset + 4 > len(data):
        raise _damaged()
    return int.from_bytes(data[offset : offset + 4], "little")


# ---------------------------------------------------------------------------------------------------------
# File names


# Names phones and apps give photos: IMG_1234, PXL_20240512_031522, DSC01234, Screenshot_20240512-031522.
_CAMERA_NAME = re.compile(r"^(?:img|pxl|dsc[fn]?|mvimg|pano|vid|burst)[_-]?e?\d{3}", re.IGNORECASE)
_DATE_IN_NAME = re.compile(r"(?:19|20)\d{2}[-_.]?(?:0[1-9]|1[0-2])[-_.]?(?:0[1-9]|[12]\d|3[01])")


def _filename_findings(filename: str, media_type: str) -> list[Finding]:
    """A picture's name that the camera or app gave it reveals when it was taken or what took it.

    Why only pictures: a document's name was usually chosen by a person and describes its content, which
    is evidence; a photo's name is the camera's, and carries only time and device.
    """
    if media_type not in _IMAGE_TYPES:
        return []
    stem = re.split(r"[\\/]", filename or "")[-1].rpartition(".")[0] or filename
    if _DATE_IN_NAME.search(stem):
        return [_finding("time", "the file name, which shows the date", stem)]
    if _CAMERA_NAME.match(stem):
        return [_finding("device", "the file name the camera gave it", stem)]
    return []


def _safe_filename(filename: str, media_type: str, *, neutral: bool) -> str:
    """A file name safe to store and show: no folders, no control characters, the extension of the real type.

    Why: the name is shown to officers and saved to their disks; a path or a right-to-left override could
    mislead, and an extension that contradicts the content could open the file in the wrong program.
    """
    base = re.split(r"[\\/]", filename or "")[-1]
    base = "".join(" " if unicodedata.category(ch)[0] in "CZ" else ch for ch in base)
    base = " ".join(base.split()).strip(" .")
    stem, dot, ext = base.rpartition(".")
    if not dot or not stem:
        stem, ext = base, ""
    extension = f".{ext.lower()}" if ext else ""
    allowed = _EXTENSIONS.get(media_type)
    if allowed and extension not in allowed:
        if extension and extension not in _KNOWN_EXTENSIONS:
            stem = f"{stem}{extension}"
        extension = allowed[0]
    elif extension:
        extension = f".{ext}"[:17]
    if neutral:
        stem = "photo"
    stem = stem[:100].strip(" .") or "evidence"
    return f"{stem}{extension}"


# ---------------------------------------------------------------------------------------------------------
# Sniffing containers


_OTHER_MAGIC: tuple[tuple[bytes, str], ...] = (
    (b"\x1a\x45\xdf\xa3", "video/x-matroska"),
    (b"ID3", "audio/mpeg"),
    (b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1", "application/x-ole-storage"),
    (b"{\\rtf", "application/rtf"),
    (b"7z\xbc\xaf\x27\x1c", "application/x-7z-compressed"),
    (b"Rar!\x1a\x07", "application/vnd.rar"),
    (b"\x1f\x8b", "application/gzip"),
    (b"%!PS", "application/postscript"),
    (b"fLaC", "audio/flac"),
)


def _sniff_zip(content: bytes) -> str:
    """An Office document (by its main part's content type), an ODF/EPUB (by its mimetype entry), or a zip."""
    try:
        with zipfile.ZipFile(io.BytesIO(content)) as archive:
            names = {info.filename: info for info in archive.infolist()}
            types = names.get("[Content_Types].xml")
            if types is not None and types.file_size <= _MAX_TEXT:
                declared = archive.read(types).decode("utf-8", "replace").lower()
                for marker, media_type in _OOXML_MAIN.items():
                    if marker in declared:
                        return media_type
            mimetype = names.get("mimetype")
            if mimetype is not None and mimetype.file_size <= 200:
                value = _normalise_type(archive.read(mimetype).decode("ascii", "replace"))
                if value and value not in _HANDLERS:
                    return value
    except Exception:  # noqa: S110 - a damaged zip is simply "a zip" here; we do not clean it
        pass
    return "application/zip"


def _sniff_ogg(head: bytes) -> str:
    """Ogg whose first packet is Opus or Vorbis audio (a Telegram voice note); any other Ogg is not cleaned."""
    if len(head) < 28:
        return "application/ogg"
    body = head[27 + head[26] :]
    if body.startswith((b"OpusHead", b"\x01vorbis")):
        return OGG_AUDIO
    return "application/ogg"


def _sniff_iso_media(head: bytes) -> str:
    brand = head[8:12]
    if brand in (b"heic", b"heix", b"hevc", b"hevx", b"heim", b"heis", b"mif1", b"msf1"):
        return "image/avif" if b"avif" in head[8:40] else "image/heic"
    if brand in (b"avif", b"avis"):
        return "image/avif"
    if brand == b"qt  ":
        return "video/quicktime"
    if brand in (b"M4A ", b"M4B "):
        return "audio/mp4"
    if brand.startswith(b"3g"):
        return "video/3gpp"
    return "video/mp4"


# ---------------------------------------------------------------------------------------------------------
# EXIF and XMP findings


_GPS_IFD = 0x8825
_EXIF_IFD = 0x8769
_ORIENTATION = 0x0112

# Tags that describe the pixels or the file's structure, not who or where: removed, never reported.
_TECHNICAL_TAGS = frozenset({
    254, 255, 256, 257, 258, 259, 262, 263, 266, 273, 274, 277, 278, 279, 280, 281, 282, 283, 284, 292, 293, 296,
    297, 317, 318, 319, 320, 322, 323, 324, 325, 338, 339, 340, 341, 347, 529, 530, 531, 532, 34675, 36864, 37121,
    40960, 40961, 40962, 40963, 40965, _EXIF_IFD, _GPS_IFD,
})  # fmt: skip

_DEVICE_TAGS = {
    42033: "the camera's serial number",
    42037: "the lens serial number",
    316: "the computer's name",
    37500: "the camera maker's private notes (can hold serial numbers)",
}
_PERSON_TAGS = {
    315: "the photographer's name",
    42032: "the camera owner's name",
    33432: "a copyright notice",
    40093: "the author's name",
}
_TIME_TAGS = {
    36867: "when the photo was taken",
    36868: "when the photo was taken",
    306: "when it was last changed",
}
_OTHER_TAGS = {
    270: "a description",
    37510: "a comment",
    40092: "a comment",
    40091: "a title",
    40094: "keywords",
    40095: "a subject",
    269: "the document's name",
    285: "the page's name",
    42016: "a unique id for this photo",
}
_XP_TAGS = frozenset({40091, 40092, 40093, 40094, 40095})


def _tag_text(tag: int, value: object) -> str:
    if tag in _XP_TAGS:
        raw = bytes(value) if isinstance(value, (bytes, tuple, list)) else str(value).encode()
        return raw.decode("utf-16-le", "replace").rstrip("\x00")
    if tag == 37510 and isinstance(value, bytes):
        return value[8:].decode("utf-8", "replace").rstrip("\x00") if len(value) > 8 else ""
    if isinstance(value, bytes):
        return value.decode("utf-8", "replace").rstrip("\x00")
    return str(value).rstrip("\x00")


def _gps_position(gps: Mapping[int, Any]) -> str | None:
    def degrees(value: Any, ref: Any) -> float:
        d, m, s = (float(part) for part in value)
        result = d + m / 60 + s / 3600
        return -result if str(ref).strip("\x00b'") in ("S", "W") else result

    try:
        return f"GPS {degrees(gps[2], gps.get(1)):.5f}, {degrees(gps[4], gps.get(3)):.5f}"
    except (KeyError, TypeError, ValueError, ZeroDivisionError):
        return None


def _exif_findings(exif: Image.Exif, *, tiff: bool = False) -> list[Finding]:
    """Findings from an EXIF block: its main directory, the Exif sub-directory and the GPS directory.

    In EXIF a second directory holds a preview picture; in a TIFF it is the next page, checked on its own.
    """
    found: list[Finding] = []
    tags: dict[int, Any] = dict(exif)
    try:
        tags.update(exif.get_ifd(_EXIF_IFD))
    except Exception:
        found.append(Finding("other", "camera details (EXIF)"))
    try:
        gps = dict(exif.get_ifd(_GPS_IFD))
    except Exception:
        gps = {0: 1, 1: "?"}
    if set(gps) - {0}:
        position = _gps_position(gps)
        found.append(_finding("location", "where the photo was taken", position or "GPS position"))
    make, model = _tag_text(271, tags.get(271, "")).strip(), _tag_text(272, tags.get(272, "")).strip()
    if make or model:
        shown = model if model.lower().startswith(make.lower()) else f"{make} {model}".strip()
        found.append(_finding("device", "the phone or camera model", shown))
    if 42035 in tags or 42036 in tags:
        lens = f"{_tag_text(42035, tags.get(42035, ''))} {_tag_text(42036, tags.get(42036, ''))}"
        found.append(_finding("device", "the lens model", lens.strip() or None))
    for tag, what in _DEVICE_TAGS.items():
        if tag in tags:
            found.append(
                _finding("device", what, None if tag in (42033, 42037, 37500) else _tag_text(tag, tags[tag]))
            )
    for tag, what in _PERSON_TAGS.items():
        if tag in tags and _tag_text(tag, tags[tag]).strip():
            found.append(_finding("person", what, _tag_text(tag, tags[tag])))
    for tag, what in _TIME_TAGS.items():
        if tag in tags:
            found.append(_finding("time", what, _when(tags[tag])))
    if 305 in tags:
        found.append(_finding("software", "the app that saved or edited it", _tag_text(305, tags[305])))
    for tag, what in _OTHER_TAGS.items():
        if tag in tags and _tag_text(tag, tags[tag]).strip():
            found.append(_finding("other", what, None if tag == 42016 else _tag_text(tag, tags[tag])))
    if 700 in tags:
        found.extend(_xmp_findings(tags[700]))
    if 33723 in tags or 34377 in tags:
        found.append(Finding("other", "IPTC details (can hold names, places and captions)"))
    try:
        if not tiff and exif.get_ifd(-1):
            found.append(Finding("other", "a small preview picture (may show the photo before editing)"))
    except Exception:
        found.append(Finding("other", "a small preview picture (may show the photo before editing)"))
    handled = {271, 272, 305, 700, 33723, 34377, 42035, 42036}
    handled |= set(_DEVICE_TAGS) | set(_PERSON_TAGS) | set(_TIME_TAGS) | set(_OTHER_TAGS)
    if set(tags) - handled - _TECHNICAL_TAGS:
        found.append(Finding("other", "other camera details (settings such as exposure and lens)"))
    return found


def _exif_bytes_findings(data: bytes) -> list[Finding]:
    exif = Image.Exif()
    try:
        exif.load(data)
    except Exception:
        return [Finding("other", "camera details (EXIF)")]
    return _exif_findings(exif)


def _exif_orientation(data: bytes) -> int:
    exif = Image.Exif()
    try:
        exif.load(data)
        return int(exif.get(_ORIENTATION, 1))
    except Exception:
        return 1


_XMP_HINTS: tuple[tuple[str, str, re.Pattern[bytes]], ...] = (
    (
        "location",
        "a place (in XMP details)",
        re.compile(rb"GPSLatitude|GPSLongitude|photoshop:City|Location"),
    ),
    (
        "person",
        "names of people (in XMP details)",
        re.compile(rb"dc:creator|xmpRights:Owner|CreatorContactInfo"),
    ),
    (
        "time",
        "dates and times (in XMP details)",
        re.compile(rb"CreateDate|DateTimeOriginal|ModifyDate|DateCreated"),
    ),
    ("device", "the device details (in XMP details)", re.compile(rb"tiff:Make|tiff:Model|SerialNumber")),
    ("software", "the app used (in XMP details)", re.compile(rb"CreatorTool|pdf:Producer|softwareAgent")),
)


def _xmp_findings(xmp: object) -> list[Finding]:
    """XMP is free-form XML: report it as a whole, plus the kinds of detail it visibly names."""
    data = xmp if isinstance(xmp, bytes) else str(xmp).encode("utf-8", "replace")
    found = [Finding("other", "hidden XMP details (can hold names, places and edit history)")]
    found.extend(Finding(kind, summary) for kind, summary, pattern in _XMP_HINTS if pattern.search(data))
    return found


# ---------------------------------------------------------------------------------------------------------
# Pillow


def _check_pixels(size: tuple[int, int]) -> None:
    width, height = size
    if width <= 0 or height <= 0:
        raise _damaged()
    if width * height > MAX_PIXELS:
        raise EvidenceError(TOO_MANY_PIXELS)


@contextmanager
def _open_image(content: bytes, formats: tuple[str, ...]) -> Iterator[Image.Image]:
    """Open with Pillow restricted to the sniffed format, refusing oversize images before any decoding.

    Why / threat: a small file can declare a huge canvas (a decompression bomb); the header is checked
    before pixels are decoded. Restricting formats keeps Pillow from guessing another decoder.
    """
    with Image.open(io.BytesIO(content), formats=formats) as image:
        _check_pixels(image.size)
        yield image


def _decode_check(content: bytes, formats: tuple[str, ...]) -> None:
    """Decode the first frame fully, so a damaged file is caught here and not by an officer later."""
    with _open_image(content, formats) as image:
        image.load()


_TRANSPOSE = {
    2: Image.Transpose.FLIP_LEFT_RIGHT,
    3: Image.Transpose.ROTATE_180,
    4: Image.Transpose.FLIP_TOP_BOTTOM,
    5: Image.Transpose.TRANSPOSE,
    6: Image.Transpose.ROTATE_270,
    7: Image.Transpose.TRANSVERSE,
    8: Image.Transpose.ROTATE_90,
}


def _bare(image: Image.Image, orientation: int) -> Image.Image:
    """A new image holding only the pixels (and palette), turned upright; no info, EXIF or tags.

    Why: Pillow's writers fall back to what the source image carries (a JPEG comment, a TIFF's original
    tags); a fresh image has nothing to fall back to.
    """
    method = _TRANSPOSE.get(orientation)
    bare = image.transpose(method) if method is not None else image.copy()
    bare.info = {}
    return bare


def _resave_upright(content: bytes, fmt: str, orientation: int) -> bytes:
    """A still PNG or WebP that metadata rotates: decode, turn upright, save with pixels and colour only."""
    with _open_image(content, (fmt,)) as image:
        image.load()
        transparency = image.info.get("transparency")
        icc = image.info.get("icc_profile")
        bare = _bare(image, orientation)
    options: dict[str, Any] = {}
    if icc:
        options["icc_profile"] = icc
    if fmt == "PNG" and transparency is not None:
        options["transparency"] = transparency
    if fmt == "WEBP":
        if b"VP8L" in content[12:64]:
            options.update(lossless=True, exact=True)
        else:
            options["quality"] = 95
    out = io.BytesIO()
    bare.save(out, fmt, **options)
    return out.getvalue()


# ---------------------------------------------------------------------------------------------------------
# JPEG


def _jpeg_segments(content: bytes) -> tuple[list[tuple[int, bytes]], int]:
    """Split a JPEG into (marker, bytes) pieces from SOI to EOI, and the offset just after EOI.

    Scan pieces carry their entropy-coded data; fill bytes are dropped.
    """
    if not content.startswith(b"\xff\xd8"):
        raise _damaged()
    pieces: list[tuple[int, bytes]] = [(0xD8, b"\xff\xd8")]
    pos, size = 2, len(content)
    while True:
        if pos >= size or content[pos] != 0xFF:
            raise _damaged()
        while pos < size and content[pos] == 0xFF:
            pos += 1
        if pos >= size:
            raise _damaged()
        marker = content[pos]
        pos += 1
        if marker == 0xD9:
            pieces.append((marker, b"\xff\xd9"))
            return pieces, pos
        if marker == 0x01 or 0xD0 <= marker <= 0xD7:
            pieces.append((marker, bytes((0xFF, marker))))
            continue
        if pos + 2 > size:
            raise _damaged()
        length = int.from_bytes(content[pos : pos + 2], "big")
        if length < 2 or pos + length > size:
            raise _damaged()
        start, pos = pos, pos + length
        if marker == 0xDA:
            # Entropy-coded data runs to the next marker that is neither a stuffed zero nor a restart.
            while True:
                pos = content.find(b"\xff", pos)
                if pos < 0 or pos + 1 >= size:
                    raise _damaged()
                following = content[pos + 1]
                if following == 0x00 or 0xD0 <= following <= 0xD7:
                    pos += 2
                    continue
                break
        pieces.append((marker, bytes((0xFF, marker)) + content[start:pos]))


def _jpeg_findings(content: bytes) -> list[Finding]:
    pieces, end = _jpeg_segments(content)
    found: list[Finding] = []
    for marker, piece in pieces:
        payload = piece[4:]
        if marker == 0xE1 and payload.startswith(b"Exif\x00"):
            found.extend(_exif_bytes_findings(payload))
        elif marker == 0xE1 and payload.startswith(b"http://ns.adobe.com/"):
            found.extend(_xmp_findings(payload))
        elif marker == 0xED:
            found.append(Finding("other", "IPTC details (can hold names, places and captions)"))
        elif marker == 0xE2 and payload.startswith(b"MPF\x00"):
            found.append(Finding("other", "a second hidden picture (such as a depth map or preview)"))
        elif marker == 0xFE:
            found.append(_finding("other", "a comment hidden in the file", payload))
        elif 0xE0 <= marker <= 0xEF and not _jpeg_keep(marker, piece):
            found.append(Finding("other", "other hidden data saved by the camera or app"))
    if content[end:].strip(b"\x00"):
        found.append(Finding("other", "extra data hidden after the picture (such as a motion-photo video)"))
    return found


def _jpeg_keep(marker: int, piece: bytes) -> bool:
    """JFIF header, ICC colour profile and Adobe colour transform describe the pixels; other APPn and COM go."""
    if marker == 0xFE:
        return False
    if not 0xE0 <= marker <= 0xEF:
        return True
    payload = piece[4:]
    return (
        (marker == 0xE0 and payload.startswith(b"JFIF\x00"))
        or (marker == 0xE2 and payload.startswith(b"ICC_PROFILE\x00"))
        or (marker == 0xEE and payload.startswith(b"Adobe"))
    )


def _inspect_jpeg(content: bytes) -> list[Finding]:
    with _open_image(content, ("JPEG", "MPO")):
        pass
    return _jpeg_findings(content)


def _clean_jpeg(content: bytes) -> bytes:
    """Decode, turn upright, re-encode with only pixels and the ICC profile.

    Why re-encode rather than cut segments: it also drops what segment cutting can miss, such as a
    motion-photo video or second image appended after the picture, and an orientation kept only in EXIF.
    The original's quantisation tables and chroma subsampling are reused (quality 95 if it has none), so
    the picture keeps its look and roughly its file size: a 20 MB photo must still fit the 20 MB limit.
    """
    with _open_image(content, ("JPEG", "MPO")) as image:
        orientation = int(image.getexif().get(_ORIENTATION, 1))
        icc = image.info.get("icc_profile")
        sampling = JpegImagePlugin.get_sampling(image)
        tables = getattr(image, "quantization", None)
        image.load()
        bare = _bare(image, orientation)
    options: dict[str, Any] = {"qtables": tables} if tables else {"quality": 95}
    if sampling in (0, 1, 2):
        options["subsampling"] = sampling
    if icc:
        options["icc_profile"] = icc
    out = io.BytesIO()
    bare.save(out, "JPEG", **options)
    return out.getvalue()


def _strip_jpeg(content: bytes) -> bytes:
    """Lossless: drop metadata segments and anything after the picture, keep every pixel's bytes.

    Used for pictures inside documents, where the document's layout was made for these exact bytes. A
    rotation in EXIF is kept as a minimal EXIF holding only the orientation, so the picture looks the same.
    """
    pieces, _ = _jpeg_segments(content)
    orientation = 1
    for marker, piece in pieces:
        if marker == 0xE1 and piece[4:].startswith(b"Exif\x00"):
            orientation = _exif_orientation(piece[4:])
    kept = [piece for marker, piece in pieces if _jpeg_keep(marker, piece)]
    if orientation in _TRANSPOSE:
        exif = Image.Exif()
        exif[_ORIENTATION] = orientation
        data = exif.tobytes()
        kept.insert(1, b"\xff\xe1" + (len(data) + 2).to_bytes(2, "big") + data)
    return b"".join(kept)


# ---------------------------------------------------------------------------------------------------------
# PNG

_PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
# Chunks needed to draw the image, its colour and its animation; all else (text, eXIf, tIME, private) goes.
_PNG_KEEP = frozenset({
    b"IHDR", b"PLTE", b"IDAT", b"IEND", b"tRNS", b"cHRM", b"gAMA", b"iCCP", b"sBIT", b"sRGB", b"cICP", b"mDCV",
    b"cLLI", b"bKGD", b"hIST", b"pHYs", b"sPLT", b"acTL", b"fcTL", b"fdAT",
})  # fmt: skip
# Dropped without a word: harmless to the reporter. (Apple's iDOT indexes IDAT offsets, which our
# rewrite would make stale, so it must go.)
_PNG_SILENT = frozenset({b"iDOT"})
_PNG_TEXT_KINDS = {
    "author": ("person", "the author's name"),
    "copyright": ("person", "a copyright notice"),
    "software": ("software", "the app that saved it"),
    "creation time": ("time", "when it was made"),
    "source": ("device", "the device that made it"),
}


def _png_chunks(content: bytes) -> tuple[list[tuple[bytes, bytes, bytes]], int]:
    """(type, whole chunk, data) from IHDR to IEND; the offset after IEND. CRCs are checked by the caller."""
    if not content.startswith(_PNG_SIGNATURE):
        raise _damaged()
    chunks: list[tuple[bytes, bytes, bytes]] = []
    pos, size = len(_PNG_SIGNATURE), len(content)
    while True:
        if pos + 12 > size:
            raise _damaged()
        length = int.from_bytes(content[pos : pos + 4], "big")
        kind = content[pos + 4 : pos + 8]
        end = pos + 12 + length
        if length > 0x7FFFFFFF or end > size:
            raise _damaged()
        chunks.append((kind, content[pos:end], content[pos + 8 : pos + 8 + length]))
        pos = end
        if kind == b"IEND":
            break
    if chunks[0][0] != b"IHDR":
        raise _damaged()
    return chunks, pos


def _inflate(data: bytes) -> bytes:
    try:
        return zlib.decompressobj().decompress(data, _MAX_TEXT)
    except zlib.error:
        return b""


def _png_text(kind: bytes, data: bytes) -> tuple[str, bytes]:
    keyword, _, rest = data.partition(b"\x00")
    if kind == b"zTXt":
        rest = _inflate(rest[1:])
    elif kind == b"iTXt":
        compressed = rest[:1] == b"\x01"
        rest = rest[2:].split(b"\x00", 2)[-1]
        rest = _inflate(rest) if compressed else rest
    elif kind == b"tEXt":
        rest = rest.decode("latin-1").encode("utf-8")
    return keyword.decode("latin-1"), rest


def _png_text_findings(keyword: str, text: bytes) -> list[Finding]:
    key = keyword.lower()
    if key == "xml:com.adobe.xmp":
        return _xmp_findings(text)
    if key.startswith("raw profile type"):
        lines = text.split(b"\n")
        try:
            raw = bytes.fromhex("".join(part.decode("ascii") for part in lines[3:]))
        except ValueError:
            raw = b""
        if key.endswith("exif") and raw:
            return _exif_bytes_findings(raw)
        if key.endswith("xmp") or b"x:xmpmeta" in raw:
            return _xmp_findings(raw)
        return [Finding("other", "hidden profile data saved by an app")]
    if key in _PNG_TEXT_KINDS:
        kind, what = _PNG_TEXT_KINDS[key]
        return [_finding(kind, what, _when(text) if kind == "time" else text)]
    return [_finding("other", "a text note in the file", f"{keyword}: {text.decode('utf-8', 'replace')}")]


def _png_orientation(chunks: list[tuple[bytes, bytes, bytes]]) -> int:
    if any(kind == b"acTL" for kind, _, _ in chunks):
        return 1  # animated: pixels are kept as they are
    for kind, _, data in chunks:
        if kind == b"eXIf":
            return _exif_orientation(data)
    return 1


def _inspect_png(content: bytes) -> list[Finding]:
    with _open_image(content, ("PNG",)):
        pass
    return _png_findings(content)


def _png_findings(content: bytes) -> list[Finding]:
    chunks, end = _png_chunks(content)
    found: list[Finding] = []
    for kind, _, data in chunks:
        if kind in (b"tEXt", b"zTXt", b"iTXt"):
            found.extend(_png_text_findings(*_png_text(kind, data)))
        elif kind == b"eXIf":
            found.extend(_exif_bytes_findings(data))
        elif kind == b"tIME" and len(data) == 7:
            year, month, day, hour, minute, _second = struct.unpack(">HBBBBB", data)
            found.append(
                _finding(
                    "time",
                    "when the file was last changed",
                    f"{year}-{month:02}-{day:02} {hour:02}:{minute:02}",
                )
            )
        elif kind == b"caBX":
            found.append(Finding("person", "content credentials (can name who made or edited it)"))
        elif kind not in _PNG_KEEP and kind not in _PNG_SILENT:
            found.append(Finding("other", "other hidden data saved by the app that made it"))
    if content[end:].strip(b"\x00"):
        found.append(Finding("other", "extra data hidden after the picture"))
    return found


def _strip_png(content: bytes) -> bytes:
    """Lossless: keep only allowlisted chunks (checking their CRCs), drop anything after IEND."""
    chunks, _ = _png_chunks(content)
    kept = []
    for kind, whole, data in chunks:
        if kind in _PNG_KEEP:
            if zlib.crc32(kind + data) != int.from_bytes(whole[-4:], "big"):
                raise _damaged()
            kept.append(whole)
    return _PNG_SIGNATURE + b"".join(kept)


def _clean_png(content: bytes) -> bytes:
    """Chunk rewrite, so pixels stay lossless at any bit depth; or, if metadata rotates a still image, upright."""
    orientation = _png_orientation(_png_chunks(content)[0])
    if orientation in _TRANSPOSE:
        return _resave_upright(content, "PNG", orientation)
    out = _strip_png(content)
    _decode_check(out, ("PNG",))
    return out


# ---------------------------------------------------------------------------------------------------------
# GIF

# Application extensions that drive animation or colour; every other one (XMP among them) goes.
_GIF_KEEP_APPS = (b"NETSCAPE2.0", b"ANIMEXTS1.0", b"ICCRGBG1012")


@dataclass
class _GifFile:
    header: bytes
    blocks: list[tuple[int, bytes]] = field(default_factory=list)  # (0x2C or extension label, whole block)
    end: int = 0


def _gif_sub_blocks(content: bytes, pos: int) -> int:
    while True:
        if pos >= len(content):
            raise _damaged()
        length = content[pos]
        pos += 1
        if length == 0:
            return pos
        pos += length


def _gif_parse(content: bytes) -> _GifFile:
    """Header, then image and extension blocks up to the trailer (a missing trailer is tolerated)."""
    if len(content) < 13 or content[:6] not in (b"GIF87a", b"GIF89a"):
        raise _damaged()
    packed, pos, size = content[10], 13, len(content)
    if packed & 0x80:
        pos += 3 << ((packed & 7) + 1)
    if pos > size:
        raise _damaged()
    gif = _GifFile(content[:pos])
    frames = 0
    while pos < size:
        introducer = content[pos]
        if introducer == 0x3B:
            pos += 1
            break
        if introducer == 0x2C:
            if pos + 11 > size:
                raise _damaged()
            width, height = struct.unpack("<HH", content[pos + 5 : pos + 9])
            _check_pixels((max(width, 1), max(height, 1)))
            frames += 1
            if frames > MAX_FRAMES:
                raise EvidenceError(TOO_COMPLEX)
            packed = content[pos + 9]
            start = pos + 10 + ((3 << ((packed & 7) + 1)) if packed & 0x80 else 0) + 1
            end = _gif_sub_blocks(content, start)
            gif.blocks.append((0x2C, content[pos:end]))
        elif introducer == 0x21:
            if pos + 2 > size:
                raise _damaged()
            end = _gif_sub_blocks(content, pos + 2)
            gif.blocks.append((content[pos + 1], content[pos:end]))
        else:
            raise _damaged()
        pos = end
    if frames == 0:
        raise _damaged()
    gif.end = pos
    return gif


def _gif_app(block: bytes) -> bytes:
    return block[3:14] if len(block) >= 14 and block[2] == 11 else b""


def _gif_findings(content: bytes) -> list[Finding]:
    gif = _gif_parse(content)
    found: list[Finding] = []
    for label, block in gif.blocks:
        if label == 0xFE:
            found.append(_finding("other", "a comment hidden in the file", _gif_data(block)))
        elif label == 0xFF and _gif_app(block) == b"XMP DataXMP":
            found.extend(_xmp_findings(block[14:]))
        elif (label == 0xFF and _gif_app(block) not in _GIF_KEEP_APPS) or label not in (
            0x2C,
            0xF9,
            0x01,
            0xFF,
        ):
            found.append(Finding("other", "other hidden data saved by the app that made it"))
    if content[gif.end :].strip(b"\x00"):
        found.append(Finding("other", "extra data hidden after the picture"))
    return found


def _gif_data(block: bytes) -> bytes:
    data, pos = bytearray(), 2
    while pos < len(block) and block[pos]:
        data += block[pos + 1 : pos + 1 + block[pos]]
        pos += 1 + block[pos]
    return bytes(data[:_MAX_TEXT])


def _inspect_gif(content: bytes) -> list[Finding]:
    with _open_image(content, ("GIF",)):
        pass
    return _gif_findings(content)


def _strip_gif(content: bytes) -> bytes:
    """Lossless: keep frames, frame timing, looping and colour; drop comments and other apps' data."""
    gif = _gif_parse(content)
    kept = [
        block
        for label, block in gif.blocks
        if label in (0x2C, 0xF9, 0x01) or (label == 0xFF and _gif_app(block) in _GIF_KEEP_APPS)
    ]
    return gif.header + b"".join(kept) + b"\x3b"


def _clean_gif(content: bytes) -> bytes:
    out = _strip_gif(content)
    _decode_check(out, ("GIF",))
    return out


# ---------------------------------------------------------------------------------------------------------
# WebP

_WEBP_KEEP = frozenset({b"VP8 ", b"VP8L", b"VP8X", b"ALPH", b"ANIM", b"ANMF", b"ICCP"})
_VP8X_EXIF, _VP8X_XMP, _VP8X_ANIMATION = 0x08, 0x04, 0x02


def _webp_chunks(content: bytes) -> tuple[list[tuple[bytes, bytes]], int]:
    """(fourcc, payload) for each top-level chunk, and the offset where the RIFF container ends."""
    if len(content) < 12 or content[:4] != b"RIFF" or content[8:12] != b"WEBP":
        raise _damaged()
    end = 8 + _u32le(content, 4)
    if end > len(content) or end < 12:
        raise _damaged()
    chunks, pos = [], 12
    while pos < end:
        if pos + 8 > end:
            raise _damaged()
        fourcc, size = content[pos : pos + 4], _u32le(content, pos + 4)
        if pos + 8 + size > end:
            raise _damaged()
        chunks.append((fourcc, content[pos + 8 : pos + 8 + size]))
        pos += 8 + size + (size & 1)
    if not chunks:
        raise _damaged()
    return chunks, end


def _webp_findings(content: bytes) -> list[Finding]:
    chunks, end = _webp_chunks(content)
    found: list[Finding] = []
    for fourcc, payload in chunks:
        if fourcc == b"EXIF":
            found.extend(_exif_bytes_findings(payload))
        elif fourcc == b"XMP ":
            found.extend(_xmp_findings(payload))
        elif fourcc not in _WEBP_KEEP:
            found.append(Finding("other", "other hidden data saved by the app that made it"))
    if content[end:].strip(b"\x00"):
        found.append(Finding("other", "extra data hidden after the picture"))
    return found


def _inspect_webp(content: bytes) -> list[Finding]:
    with _open_image(content, ("WEBP",)):
        pass
    return _webp_findings(content)


def _strip_webp(content: bytes) -> bytes:
    """Lossless: keep image, alpha, animation and ICC chunks; clear the EXIF and XMP flags in VP8X."""
    chunks, _ = _webp_chunks(content)
    body = bytearray(b"WEBP")
    for fourcc, payload in chunks:
        if fourcc not in _WEBP_KEEP:
            continue
        if fourcc == b"VP8X" and payload:
            payload = bytes((payload[0] & ~(_VP8X_EXIF | _VP8X_XMP),)) + payload[1:]
        body += fourcc + len(payload).to_bytes(4, "little") + payload + (b"\x00" if len(payload) & 1 else b"")
    return b"RIFF" + len(body).to_bytes(4, "little") + bytes(body)


def _clean_webp(content: bytes) -> bytes:
    chunks, _ = _webp_chunks(content)
    animated = any(f == b"ANIM" or (f == b"VP8X" and p[:1] and p[0] & _VP8X_ANIMATION) for f, p in chunks)
    exif = next((payload for fourcc, payload in chunks if fourcc == b"EXIF"), None)
    orientation = _exif_orientation(exif) if exif and not animated else 1
    if orientation in _TRANSPOSE:
        return _resave_upright(content, "WEBP", orientation)
    out = _strip_webp(content)
    _decode_check(out, ("WEBP",))
    return out


# ---------------------------------------------------------------------------------------------------------
# TIFF


def _inspect_tiff(content: bytes) -> list[Finding]:
    with _open_image(content, ("TIFF",)) as image:
        found = _exif_findings(image.getexif(), tiff=True)
        pages = getattr(image, "n_frames", 1)
        if pages > MAX_FRAMES:
            raise EvidenceError(TOO_COMPLEX)
        for index in range(1, pages):
            image.seek(index)
            _check_pixels(image.size)
            tags = dict(image.tag_v2)  # type: ignore[attr-defined]
            if _GPS_IFD in tags:
                found.append(Finding("location", "where the photo was taken (GPS position)"))
            exif = Image.Exif()
            exif.update({tag: value for tag, value in tags.items() if tag not in (_GPS_IFD, _EXIF_IFD)})
            found.extend(_exif_findings(exif, tiff=True))
    return found


def _clean_tiff(content: bytes) -> bytes:
    """Decode every page, turn each upright, re-save losslessly (LZW) with no tags beyond the pixels'."""
    frames: list[Image.Image] = []
    total = 0
    with _open_image(content, ("TIFF",)) as image:
        pages = getattr(image, "n_frames", 1)
        if pages > MAX_FRAMES:
            raise EvidenceError(TOO_COMPLEX)
        icc = image.info.get("icc_profile")
        dpi = image.info.get("dpi")
        for index in range(pages):
            image.seek(index)
            _check_pixels(image.size)
            total += image.size[0] * image.size[1]
            if total > MAX_TOTAL_PIXELS:
                raise EvidenceError(TOO_MANY_PIXELS)
            image.load()
            orientation = int(image.tag_v2.get(_ORIENTATION, 1))  # type: ignore[attr-defined]
            frames.append(_bare(image, orientation))
    options: dict[str, Any] = {"compression": "tiff_lzw"}
    if icc:
        options["icc_profile"] = icc
    if dpi:
        options["dpi"] = dpi
    out = io.BytesIO()
    frames[0].save(out, "TIFF", save_all=True, append_images=frames[1:], **options)
    return out.getvalue()


# ---------------------------------------------------------------------------------------------------------
# PDF

_PDF_INFO = {
    "/Author": ("person", "the author's name"),
    "/Creator": ("software", "the app that made it"),
    "/Producer": ("software", "the app that made the PDF"),
    "/CreationDate": ("time", "when it was made"),
    "/ModDate": ("time", "when it was last changed"),
    "/Title": ("other", "the document's title"),
    "/Subject": ("other", "the document's subject"),
    "/Keywords": ("other", "keywords"),
}


def _pdf_open(content: bytes) -> pypdf.PdfReader:
    reader = pypdf.PdfReader(io.BytesIO(content), strict=False)
    if reader.is_encrypted:
        # Only an owner password (no password needed to open) can be handled; a user password cannot.
        try:
            opened = reader.decrypt("")
        except Exception as error:
            raise EvidenceError(PDF_LOCKED) from error
        if not opened:
            raise EvidenceError(PDF_LOCKED)
    _ = len(reader.pages)
    return reader


def _pdf_dicts(root: PdfObject) -> Iterator[DictionaryObject]:
    """Every dictionary reachable from `root`, each once; the caller may delete keys from the one yielded."""
    seen: set[int] = set()
    stack: list[Any] = [root]
    while stack:
        item = stack.pop()
        if isinstance(item, IndirectObject):
            item = item.get_object()
        if not isinstance(item, (DictionaryObject, ArrayObject)) or id(item) in seen:
            continue
        seen.add(id(item))
        if isinstance(item, DictionaryObject):
            yield item
            stack.extend(item.values())
        else:
            stack.extend(item)


def _is_markup_with_author(item: DictionaryObject) -> bool:
    """An annotation (it has a /Rect) other than a form widget, whose /T is then the author's name."""
    return "/T" in item and "/Rect" in item and item.get("/Subtype") != "/Widget"


def _inspect_pdf(content: bytes) -> list[Finding]:
    reader = _pdf_open(content)
    found: list[Finding] = []
    info = reader.metadata or {}
    for key in info:
        text = str(info[key]).strip()
        if not text:
            continue
        kind, what = _PDF_INFO.get(key, ("other", "other document details"))
        shown = _when(text) if kind == "time" else (text if key in _PDF_INFO else key.lstrip("/"))
        found.append(_finding(kind, what, shown))
    for item in _pdf_dicts(reader.trailer["/Root"]):
        if "/Metadata" in item:
            stream = item["/Metadata"]
            data = stream.get_data()[: 4 * _MAX_TEXT] if isinstance(stream, StreamObject) else b""
            found.extend(_xmp_findings(data))
        if "/PieceInfo" in item:
            found.append(Finding("other", "private data saved by the app that made it"))
        if _is_markup_with_author(item):
            found.append(_finding("person", "names on comments or highlights", item["/T"]))
    return found


def _clean_pdf(content: bytes) -> bytes:
    """Remove /Info, XMP streams, /PieceInfo and annotation authors, then copy only what is still reachable.

    Why two passes: deleting a key leaves its object in the file as an orphan that a text search would
    still find; cloning the result copies only objects reachable from the catalogue, so orphans vanish.
    The trailer /ID is dropped too: it was made on the reporter's machine and links this copy to it.
    """
    writer = pypdf.PdfWriter(clone_from=_pdf_open(content))
    writer.metadata = None
    for item in _pdf_dicts(writer.root_object):
        for key in ("/Metadata", "/PieceInfo"):
            if key in item:
                del item[key]
        if _is_markup_with_author(item):
            del item["/T"]
    first = io.BytesIO()
    writer.write(first)
    final = pypdf.PdfWriter(clone_from=pypdf.PdfReader(io.BytesIO(first.getvalue()), strict=False))
    final.metadata = None
    final._ID = None  # no public API drops the identifier; pypdf writes none when this is None
    out = io.BytesIO()
    final.write(out)
    return out.getvalue()


# ---------------------------------------------------------------------------------------------------------
# Office documents (OOXML)

_CORE_FIELDS = (("creator", "person", "the author's name"), ("lastModifiedBy", "person", "who last saved it"))
_APP_FIELDS = (
    ("Company", "other", "the organisation's name"),
    ("Manager", "person", "a manager's name"),
    ("Template", "other", "the template it was made from"),
)
_CUSTOM_PART = "docprops/custom.xml"
_CUSTOM_OVERRIDE = re.compile(
    rb"<Override\b[^>]*PartName=[\"']/docProps/custom\.xml[\"'][^>]*/>", re.IGNORECASE
)
_CUSTOM_RELATIONSHIP = re.compile(
    rb"<Relationship\b[^>]*Target=[\"']/?docProps/custom\.xml[\"'][^>]*/>", re.IGNORECASE
)


def _xml_field(name: str) -> re.Pattern[str]:
    """An element by local name with any prefix, e.g. <dc:creator>...</dc:creator> or <Company/>."""
    return re.compile(
        rf"<(?P<tag>(?:[A-Za-z_][\w.-]*:)?{name})(?P<attrs>\s[^>]*?)?(?:/>|>(?P<value>.*?)</(?P=tag)\s*>)",
        re.DOTALL,
    )


_FIELD_PATTERNS = {name: _xml_field(name) for name, _, _ in (*_CORE_FIELDS, *_APP_FIELDS)}


def _xml_decode(data: bytes) -> tuple[str, str]:
    if data.startswith((b"\xff\xfe", b"\xfe\xff")):
        return data.decode("utf-16"), "utf-16"
    return data.decode("utf-8-sig"), "utf-8"


def _field_value(match: re.Match[str]) -> str:
    value = match["value"] or ""
    value = re.sub(r"<!\[CDATA\[(.*?)\]\]>", r"\1", value, flags=re.DOTALL)
    return html.unescape(re.sub(r"<[^>]*>", "", value)).strip()


def _xml_fields_findings(data: bytes, fields: tuple[tuple[str, str, str], ...]) -> list[Finding]:
    text, _ = _xml_decode(data)
    found = []
    for name, kind, what in fields:
        for match in _FIELD_PATTERNS[name].finditer(text):
            value = _field_value(match)
            if value:
                found.append(_finding(kind, what, value))
    return found


def _xml_fields_blank(data: bytes, fields: tuple[tuple[str, str, str], ...]) -> bytes:
    text, encoding = _xml_decode(data)
    for name, _, _ in fields:
        text = _FIELD_PATTERNS[name].sub(
            lambda match: (
                f"<{match['tag']}{match['attrs'] or ''}></{match['tag']}>"
                if _field_value(match)
                else match[0]
            ),
            text,
        )
    return text.encode(encoding)


def _read_package(content: bytes, depth: int) -> list[tuple[zipfile.ZipInfo, bytes]]:
    """Every entry of an Office zip, bounded in count and unpacked size (a quarter as much when nested).

    Why / threat: a zip bomb (a small file that unpacks to gigabytes) is refused from the sizes the
    archive declares, which zipfile then holds each entry to; duplicate names are refused because readers
    disagree on which copy counts, so a cleaned copy could hide an uncleaned one.
    """
    with zipfile.ZipFile(io.BytesIO(content)) as archive:
        infos = archive.infolist()
        if len(infos) > _MAX_ZIP_ENTRIES:
            raise EvidenceError(TOO_COMPLEX)
        if len({info.filename.lower() for info in infos}) != len(infos):
            raise _damaged()
        if sum(info.file_size for info in infos) > _MAX_UNZIPPED >> (2 * depth):
            raise EvidenceError(TOO_COMPLEX)
        return [(info, archive.read(info)) for info in infos]


_PACKAGE = "package"  # an Office document inside an Office document (an embedded sheet or slide deck)


def _deeper(depth: int) -> int:
    """One level further into documents inside documents; past the limit the file is refused, not passed."""
    if depth >= _MAX_PACKAGE_DEPTH:
        raise EvidenceError(TOO_COMPLEX)
    return depth + 1


def _embedded_kind(data: bytes) -> str | None:
    head = data[:16]
    if head.startswith(b"\xff\xd8\xff"):
        return JPEG
    if head.startswith(_PNG_SIGNATURE):
        return PNG
    if head[:6] in (b"GIF87a", b"GIF89a"):
        return GIF
    if head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        return WEBP
    if head.startswith(b"PK\x03\x04") and _sniff_zip(data) in _OOXML_TYPES:
        return _PACKAGE
    return None


_EMBEDDED_FINDINGS: dict[str, Callable[[bytes], list[Finding]]] = {
    JPEG: _jpeg_findings,
    PNG: _png_findings,
    GIF: _gif_findings,
    WEBP: _webp_findings,
}
_EMBEDDED_STRIP: dict[str, Callable[[bytes], bytes]] = {
    JPEG: _strip_jpeg,
    PNG: _strip_png,
    GIF: _strip_gif,
    WEBP: _strip_webp,
}


def _ooxml_findings(content: bytes, depth: int = 0) -> list[Finding]:
    found: list[Finding] = []
    for info, data in _read_package(content, depth):
        name = info.filename.lower()
        if name == "docprops/core.xml":
            found.extend(_xml_fields_findings(data, _CORE_FIELDS))
        elif name == "docprops/app.xml":
            found.extend(_xml_fields_findings(data, _APP_FIELDS))
        elif name == _CUSTOM_PART:
            found.append(Finding("other", "custom document properties (can hold names or ids)"))
        elif (kind := _embedded_kind(data)) == _PACKAGE:
            found.extend(_prefixed(_ooxml_findings(data, _deeper(depth)), "in a file inside: "))
        elif kind is not None:
            found.extend(_prefixed(_EMBEDDED_FINDINGS[kind](data), "in a picture inside: "))
    return found


def _clean_ooxml(content: bytes, depth: int = 0) -> bytes:
    """Blank the named properties, drop custom properties, clean embedded pictures; all else byte for byte.

    Entry times are set to 1980-01-01 (as Word itself writes them) and zip extra fields are not copied:
    both can carry when and on what machine the file was last saved.
    """
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as archive:
        for info, data in _read_package(content, depth):
            name = info.filename.lower()
            if name == _CUSTOM_PART:
                continue
            if name == "docprops/core.xml":
                data = _xml_fields_blank(data, _CORE_FIELDS)
            elif name == "docprops/app.xml":
                data = _xml_fields_blank(data, _APP_FIELDS)
            elif name == "[content_types].xml":
                data = _CUSTOM_OVERRIDE.sub(b"", data)
            elif name == "_rels/.rels":
                data = _CUSTOM_RELATIONSHIP.sub(b"", data)
            elif (kind := _embedded_kind(data)) == _PACKAGE:
                data = _clean_ooxml(data, _deeper(depth))
            elif kind is not None:
                data = _EMBEDDED_STRIP[kind](data)
            entry = zipfile.ZipInfo(info.filename, date_time=(1980, 1, 1, 0, 0, 0))
            entry.compress_type = (
                zipfile.ZIP_STORED if info.compress_type == zipfile.ZIP_STORED else zipfile.ZIP_DEFLATED
            )
            archive.writestr(entry, data)
    return out.getvalue()


# ---------------------------------------------------------------------------------------------------------
# Ogg voice notes

_OGG_HEADER = struct.Struct("<4sBBqIIIB")
_BIT_REVERSED = bytes(int(f"{value:08b}"[::-1], 2) for value in range(256))
_OGG_PERSON = frozenset({"ARTIST", "PERFORMER", "AUTHOR", "COMPOSER", "CONTACT", "COPYRIGHT", "ORGANIZATION"})


def _ogg_crc(data: bytes) -> int:
    """Ogg's CRC-32 (polynomial 0x04C11DB7, not reflected, initial 0) at C speed via zlib's reflected CRC.

    A reflected CRC over bit-reversed bytes is the bit reversal of the plain CRC; zlib.crc32 with start
    0xFFFFFFFF runs from register 0 and returns the register inverted.
    """
    reflected = zlib.crc32(data.translate(_BIT_REVERSED), 0xFFFFFFFF) ^ 0xFFFFFFFF
    return int(f"{reflected:032b}"[::-1], 2)


@dataclass
class _OggPage:
    flags: int
    granule: int
    serial: int
    sequence: int
    lacing: bytes
    body: bytes

    def to_bytes(self) -> bytes:
        head = _OGG_HEADER.pack(
            b"OggS", 0, self.flags, self.granule, self.serial, self.sequence, 0, len(self.lacing)
        )
        page = head + self.lacing + self.body
        return page[:22] + _ogg_crc(page).to_bytes(4, "little") + page[26:]


def _ogg_pages(content: bytes) -> list[_OggPage]:
    pages, pos, size = [], 0, len(content)
    while pos < size:
        if pos + 27 > size:
            raise _damaged()
        magic, version, flags, granule, serial, sequence, crc, count = _OGG_HEADER.unpack_from(content, pos)
        if magic != b"OggS" or version != 0:
            raise _damaged()
        lacing = content[pos + 27 : pos + 27 + count]
        end = pos + 27 + count + sum(lacing)
        if len(lacing) != count or end > size:
            raise _damaged()
        page = content[pos:end]
        if _ogg_crc(page[:22] + b"\x00\x00\x00\x00" + page[26:]) != crc:
            raise _damaged()
        pages.append(_OggPage(flags, granule, serial, sequence, lacing, content[pos + 27 + count : end]))
        pos = end
    if not pages:
        raise _damaged()
    return pages


@dataclass(frozen=True)
class _OggHeaders:
    codec: str
    packets: list[bytes]
    last_page: int  # index of the page on which the header packets end


def _ogg_headers(pages: list[_OggPage]) -> _OggHeaders:
    """The header packets (Opus: 2, Vorbis: 3). Both codecs put the first alone on page 0 and start audio on
    a fresh page, which is what lets the comment header be rewritten without touching audio pages."""
    if any(page.serial != pages[0].serial for page in pages):
        raise _Unsupported("more than one logical stream")
    packets: list[bytes] = []
    current = bytearray()
    needed = 0
    for index, page in enumerate(pages):
        offset = 0
        for position, lace in enumerate(page.lacing):
            current += page.body[offset : offset + lace]
            offset += lace
            if lace == 255:
                continue
            packets.append(bytes(current))
            current = bytearray()
            if len(packets) == 1:
                needed = (
                    2
                    if packets[0].startswith(b"OpusHead")
                    else 3
                    if packets[0].startswith(b"\x01vorbis")
                    else 0
                )
                if needed == 0:
                    raise _Unsupported("not Opus or Vorbis")
            ends_page = position == len(page.lacing) - 1
            if (len(packets) == 1 and (index != 0 or not ends_page)) or (
                len(packets) == needed and not ends_page
            ):
                raise _Unsupported("headers share a page with other packets")
            if len(packets) == needed:
                return _OggHeaders("opus" if needed == 2 else "vorbis", packets, index)
    raise _damaged()


def _ogg_comments(headers: _OggHeaders) -> tuple[bytes, bytes, list[bytes]]:
    """(magic, vendor, comments) of the comment header."""
    packet = headers.packets[1]
    magic = b"OpusTags" if headers.codec == "opus" else b"\x03vorbis"
    if not packet.startswith(magic):
        raise _damaged()
    pos = len(magic)
    vendor_length = _u32le(packet, pos)
    vendor = packet[pos + 4 : pos + 4 + vendor_length]
    pos += 4 + vendor_length
    count = _u32le(packet, pos)
    pos += 4
    if count > len(packet):
        raise _damaged()
    comments = []
    for _ in range(count):
        length = _u32le(packet, pos)
        comments.append(packet[pos + 4 : pos + 4 + length])
        pos += 4 + length
    if pos > len(packet):
        raise _damaged()
    return magic, vendor, comments


def _ogg_findings(content: bytes) -> list[Finding]:
    _, _, comments = _ogg_comments(_ogg_headers(_ogg_pages(content)))
    found = []
    for comment in comments:
        key, _, value = comment.decode("utf-8", "replace").partition("=")
        key = key.upper()
        if key in _OGG_PERSON:
            found.append(_finding("person", "a name", f"{key.lower()}: {value}"))
        elif key == "LOCATION":
            found.append(_finding("location", "a place", value))
        elif key == "DATE":
            found.append(_finding("time", "a date", value))
        elif key == "ENCODER":
            found.append(_finding("software", "the app that recorded it", value))
        elif key == "METADATA_BLOCK_PICTURE":
            found.append(Finding("other", "a picture attached to the recording"))
        else:
            found.append(_finding("other", "a text note in the file", f"{key.lower()}: {value}"))
    return found


def _clean_ogg(content: bytes) -> bytes:
    """Replace the comment header with one holding no comments; renumber and re-checksum later pages."""
    pages = _ogg_pages(content)
    headers = _ogg_headers(pages)
    magic, vendor, comments = _ogg_comments(headers)
    if not comments:
        return content
    packet = magic + len(vendor).to_bytes(4, "little") + vendor + bytes(4)
    if headers.codec == "vorbis":
        packet += b"\x01"  # Vorbis framing bit
    new_pages = _ogg_paginate([packet, *headers.packets[2:]], pages[0].serial, 1)
    rest = pages[headers.last_page + 1 :]
    for offset, page in enumerate(rest):
        page.sequence = 1 + len(new_pages) + offset
    return b"".join([pages[0].to_bytes(), *(page.to_bytes() for page in new_pages + rest)])


def _ogg_paginate(packets: list[bytes], serial: int, sequence: int) -> list[_OggPage]:
    segments: list[tuple[bytes, bool]] = []
    for packet in packets:
        full = len(packet) // 255
        segments.extend((packet[i * 255 : (i + 1) * 255], False) for i in range(full))
        segments.append((packet[full * 255 :], True))
    pages, continued = [], False
    for start in range(0, len(segments), 255):
        chunk = segments[start : start + 255]
        granule = 0 if any(ends for _, ends in chunk) else -1
        lacing = bytes(len(segment) for segment, _ in chunk)
        pages.append(
            _OggPage(1 if continued else 0, granule, serial, sequence, lacing, b"".join(s for s, _ in chunk))
        )
        sequence += 1
        continued = not chunk[-1][1]
    return pages


# ---------------------------------------------------------------------------------------------------------
# Dispatch


def _nothing(_content: bytes) -> list[Finding]:
    return []


def _unchanged(content: bytes) -> bytes:
    return content


_OOXML_TYPES = frozenset(_OOXML_MAIN.values())
_HANDLERS: dict[str, _Handler] = {
    JPEG: _Handler(_inspect_jpeg, _clean_jpeg),
    PNG: _Handler(_inspect_png, _clean_png),
    GIF: _Handler(_inspect_gif, _clean_gif),
    WEBP: _Handler(_inspect_webp, _clean_webp),
    TIFF: _Handler(_inspect_tiff, _clean_tiff),
    PDF: _Handler(_inspect_pdf, _clean_pdf),
    OGG_AUDIO: _Handler(_ogg_findings, _clean_ogg),
    **{media_type: _Handler(_nothing, _unchanged) for media_type in TEXT_TYPES},
    **{media_type: _Handler(_ooxml_findings, _clean_ooxml) for media_type in _OOXML_TYPES},
}
