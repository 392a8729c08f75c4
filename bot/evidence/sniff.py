"""A file's real type, from its first bytes, never from its name or the type Telegram was told.

Why / threat: Telegram passes on the sender's own claim of type. A file declared as text but really a
JPEG must be cleaned as a JPEG, or its GPS would pass through as "nothing to clean"; a "voice message"
whose bytes are an MP4 must be cleaned as video. So magic bytes decide; the declared type is used only
when the bytes match nothing we know and it names a type we do not clean (so a false claim can never
route a file around a cleaner).
"""

from __future__ import annotations

import io
import re
import zipfile
from collections.abc import Container

from bot.evidence import types as t

MAX_TEXT = 1 << 20
# Unicode's control characters (category Cc: C0, DEL and C1) other than tab, line feed, form feed and
# carriage return; one pattern search instead of a look-up per character (20 MB of text in milliseconds).
_CONTROL = re.compile("[\x00-\x08\x0b\x0e-\x1f\x7f-\x9f]")
_MEDIA_TYPE = re.compile(r"[a-z0-9][a-z0-9!#$&^_.+-]{0,63}/[a-z0-9][a-z0-9!#$&^_.+-]{0,126}")

# The main part's content type in [Content_Types].xml (lower case) decides which Office document a zip is.
_OOXML_MAIN = {
    "wordprocessingml.document.main+xml": t.DOCX,
    "spreadsheetml.sheet.main+xml": t.XLSX,
    "presentationml.presentation.main+xml": t.PPTX,
    "ms-word.document.macroenabled.main+xml": t.DOCM,
    "ms-excel.sheet.macroenabled.main+xml": t.XLSM,
    "ms-powerpoint.presentation.macroenabled.main+xml": t.PPTM,
}
_OTHER_MAGIC: tuple[tuple[bytes, str], ...] = (
    (b"fLaC", t.FLAC),
    (b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1", "application/x-ole-storage"),
    (b"{\\rtf", "application/rtf"),
    (b"7z\xbc\xaf\x27\x1c", "application/x-7z-compressed"),
    (b"Rar!\x1a\x07", "application/vnd.rar"),
    (b"\x1f\x8b", "application/gzip"),
    (b"%!PS", "application/postscript"),
    (b"BM", "image/bmp"),
)
_HEIF_BRANDS = (b"heic", b"heix", b"hevc", b"hevx", b"heim", b"heis", b"mif1", b"msf1")


def normalise_type(media_type: str) -> str:
    """A declared media type in lower case without parameters, or "" when it is not one."""
    value = media_type.split(";", 1)[0].strip().lower()
    return value if _MEDIA_TYPE.fullmatch(value) else ""


def extension(filename: str) -> str:
    """The file name's extension in lower case with its dot, or ""."""
    base = re.split(r"[\\/]", filename or "")[-1]
    stem, dot, ext = base.rpartition(".")
    return f".{ext.lower()}" if dot and stem else ""


def sniff(content: bytes, filename: str, declared: str | None, cleanable: Container[str]) -> str:
    """The file's real media type, from its first bytes (see the module's note on why)."""
    known = by_magic(content)
    if known is not None:
        return known
    hint = normalise_type(declared or "")
    ext = extension(filename)
    # Why text only when the sender said so, by type or name: with no claim at all, bytes that decode as
    # text may be a track of GPS positions (GPX), a drawing with its author (SVG), a contact card or an
    # e-mail with its headers; "nothing hidden" would then be untrue.
    wants_text = hint in t.TEXT_TYPES or ext in (".txt", ".csv", ".md", ".log")
    if wants_text and is_text(content):
        structured = structured_text(content)
        if structured is not None:
            return structured
        if hint in t.TEXT_TYPES:
            return hint
        return {".csv": "text/csv", ".md": "text/markdown"}.get(ext, "text/plain")
    if hint and hint not in cleanable:
        return hint
    return t.OCTET_STREAM


# An e-mail as saved from a mail program: header lines first, among them one naming the sender or route.
_HEADER_LINES = re.compile(rb"(?:[A-Za-z][A-Za-z0-9-]*:[^\n]*\r?\n){2,}")
_SENDER_HEADER = re.compile(rb"^(?:from|received|return-path|message-id|sender|reply-to):", re.I | re.M)


def structured_text(content: bytes) -> str | None:
    """The type of text that carries fields of its own (markup, a contact card, a calendar, an e-mail),
    which plain-text cleaning would pass through whole; None for plain prose or a table."""
    start = content[:4096].lstrip(b"\xef\xbb\xbf\xff\xfe\x00 \t\r\n")
    lower = start.lower()
    if lower.startswith(b"<"):
        if b"<svg" in lower:
            return "image/svg+xml"
        if b"<gpx" in lower:
            return "application/gpx+xml"
        if lower.startswith((b"<!doctype html", b"<html")):
            return "text/html"
        return "application/xml"
    if lower.startswith(b"begin:vcard"):
        return "text/vcard"
    if lower.startswith(b"begin:vcalendar"):
        return "text/calendar"
    headers = _HEADER_LINES.match(start)
    if headers and _SENDER_HEADER.search(headers.group()):
        return "message/rfc822"
    return None


def by_magic(content: bytes) -> str | None:
    """The type the file's first bytes prove, or None when they prove none (text, or unknown)."""
    head = content[:64]
    if head.startswith(b"\xff\xd8\xff"):
        return t.JPEG
    if head.startswith(b"\x89PNG\r\n\x1a\n"):
        return t.PNG
    if head[:6] in (b"GIF87a", b"GIF89a"):
        return t.GIF
    if head[:4] == b"RIFF":
        return {b"WEBP": t.WEBP, b"WAVE": t.WAV, b"AVI ": "video/x-msvideo"}.get(head[8:12], t.OCTET_STREAM)
    if head[:4] in (b"II*\x00", b"MM\x00*", b"II+\x00", b"MM\x00+"):  # classic TIFF and BigTIFF
        return t.TIFF
    if head.startswith(b"%PDF-"):
        return t.PDF
    if head.startswith(b"PK\x03\x04"):
        return _sniff_zip(content)
    if head.startswith(b"OggS"):
        return _sniff_ogg(head)
    if head[4:8] == b"ftyp":
        return _sniff_iso_media(head)
    if head.startswith(b"\x1a\x45\xdf\xa3"):
        return t.WEBM if b"webm" in content[:4096] else t.MKV
    if head.startswith(b"ID3") and len(head) >= 10:
        # An ID3 tag can stand in front of any audio; what follows it says which (FLAC or MPEG).
        size = 10 + _synchsafe(head[6:10])
        size += 10 if head[5] & 0x10 else 0
        return t.FLAC if content[size : size + 4] == b"fLaC" else t.MP3
    for magic, media_type in _OTHER_MAGIC:
        if head.startswith(magic):
            return media_type
    if _mpeg_audio_frames(content):
        return t.MP3  # MPEG audio frames with no ID3 tag in front
    return None


def _synchsafe(four: bytes) -> int:
    """An ID3 size: four bytes of seven bits each."""
    value = 0
    for byte in four:
        value = (value << 7) | (byte & 0x7F)
    return value


_BITRATES = {  # kbit/s by MPEG version (1, or 2 and 2.5) for Layer III, index 1 to 14
    3: (32, 40, 48, 56, 64, 80, 96, 112, 128, 160, 192, 224, 256, 320),
    2: (8, 16, 24, 32, 40, 48, 56, 64, 80, 96, 112, 128, 144, 160),
}
_SAMPLE_RATES = {3: (44100, 48000, 32000), 2: (22050, 24000, 16000), 0: (11025, 12000, 8000)}


def _frame_length(header: bytes) -> int:
    """The length of the MPEG-1/2/2.5 Layer III frame this 4-byte header starts, or 0 if it is none."""
    if len(header) < 4 or header[0] != 0xFF or header[1] & 0xE0 != 0xE0:
        return 0
    version, layer = (header[1] >> 3) & 3, (header[1] >> 1) & 3
    bitrate_index, rate_index = header[2] >> 4, (header[2] >> 2) & 3
    if version == 1 or layer != 1 or bitrate_index in (0, 15) or rate_index == 3:
        return 0
    bitrate = _BITRATES[3 if version == 3 else 2][bitrate_index - 1] * 1000
    rate = _SAMPLE_RATES[version][rate_index]
    per_frame = 144 if version == 3 else 72
    return per_frame * bitrate // rate + ((header[2] >> 1) & 1)


def _mpeg_audio_frames(content: bytes) -> bool:
    """Two Layer III frame headers in a row, the second where the first frame ends.

    Why two: a single header is two bytes of pattern that white pixels (0xFF 0xFF) or any binary data
    can match; a second at the computed distance is what MP3 files have and noise does not.
    """
    first = _frame_length(content[:4])
    return first > 4 and _frame_length(content[first : first + 4]) > 0


def is_text(content: bytes) -> bool:
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
    return _CONTROL.search(text) is None


def _sniff_zip(content: bytes) -> str:
    """An Office document (by its main part's content type), an ODF/EPUB (by its mimetype entry), or a zip."""
    try:
        with zipfile.ZipFile(io.BytesIO(content)) as archive:
            names = {info.filename: info for info in archive.infolist()}
            types = names.get("[Content_Types].xml")
            if types is not None and types.file_size <= MAX_TEXT:
                declared = archive.read(types).decode("utf-8", "replace").lower()
                for marker, media_type in _OOXML_MAIN.items():
                    if marker in declared:
                        return media_type
            mimetype = names.get("mimetype")
            if mimetype is not None and mimetype.file_size <= 200:
                value = normalise_type(archive.read(mimetype).decode("ascii", "replace"))
                if value:
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
        return t.OGG_AUDIO
    return "application/ogg"


def _sniff_iso_media(head: bytes) -> str:
    brand = head[8:12]
    brands = head[8:64]
    if brand in (b"avif", b"avis") or (brand in _HEIF_BRANDS and b"avif" in brands):
        return t.AVIF
    if brand in (b"heic", b"heix", b"hevc", b"hevx", b"heim", b"heis"):
        return t.HEIC
    if brand in (b"mif1", b"msf1"):
        return t.HEIC if b"heic" in brands or b"heix" in brands else t.HEIF
    if brand == b"qt  ":
        return t.MOV
    if brand in (b"M4A ", b"M4B "):
        return t.M4A
    if brand.startswith(b"3g"):
        return t.THREE_GP
    return t.MP4
