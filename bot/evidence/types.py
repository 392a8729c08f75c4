"""Media types Candour knows by name, and the file extensions that go with them."""

from __future__ import annotations

JPEG = "image/jpeg"
PNG = "image/png"
GIF = "image/gif"
WEBP = "image/webp"
TIFF = "image/tiff"
HEIC = "image/heic"
HEIF = "image/heif"
AVIF = "image/avif"
PDF = "application/pdf"
OGG_AUDIO = "audio/ogg"
MP3 = "audio/mpeg"
FLAC = "audio/flac"
WAV = "audio/wav"
M4A = "audio/mp4"
MP4 = "video/mp4"
MOV = "video/quicktime"
THREE_GP = "video/3gpp"
WEBM = "video/webm"
MKV = "video/x-matroska"
TEXT_TYPES = ("text/plain", "text/csv", "text/markdown")
DOCX = "application/vnd.openxmlformats-officedocument.wordprocessingml.document"
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
PPTX = "application/vnd.openxmlformats-officedocument.presentationml.presentation"
DOCM = "application/vnd.ms-word.document.macroenabled.12"
XLSM = "application/vnd.ms-excel.sheet.macroenabled.12"
PPTM = "application/vnd.ms-powerpoint.presentation.macroenabled.12"
ODT = "application/vnd.oasis.opendocument.text"
ODS = "application/vnd.oasis.opendocument.spreadsheet"
ODP = "application/vnd.oasis.opendocument.presentation"
ODG = "application/vnd.oasis.opendocument.graphics"
OCTET_STREAM = "application/octet-stream"

IMAGE_TYPES = (JPEG, PNG, GIF, WEBP, TIFF, HEIC, HEIF, AVIF)
OOXML_TYPES = (DOCX, XLSX, PPTX, DOCM, XLSM, PPTM)
ODF_TYPES = (ODT, ODS, ODP, ODG)
VIDEO_TYPES = (MP4, MOV, THREE_GP, WEBM, MKV)

EXTENSIONS: dict[str, tuple[str, ...]] = {
    JPEG: (".jpg", ".jpeg", ".jpe", ".jfif"),
    PNG: (".png",),
    GIF: (".gif",),
    WEBP: (".webp",),
    TIFF: (".tif", ".tiff"),
    HEIC: (".heic",),
    HEIF: (".heif", ".hif"),
    AVIF: (".avif",),
    PDF: (".pdf",),
    OGG_AUDIO: (".ogg", ".oga", ".opus"),
    MP3: (".mp3",),
    FLAC: (".flac",),
    WAV: (".wav",),
    M4A: (".m4a", ".m4b"),
    MP4: (".mp4", ".m4v"),
    MOV: (".mov", ".qt"),
    THREE_GP: (".3gp", ".3g2"),
    WEBM: (".webm",),
    MKV: (".mkv",),
    "text/plain": (".txt", ".text", ".log"),
    "text/csv": (".csv",),
    "text/markdown": (".md", ".markdown"),
    DOCX: (".docx",),
    XLSX: (".xlsx",),
    PPTX: (".pptx",),
    DOCM: (".docm",),
    XLSM: (".xlsm",),
    PPTM: (".pptm",),
    ODT: (".odt",),
    ODS: (".ods",),
    ODP: (".odp",),
    ODG: (".odg",),
}
KNOWN_EXTENSIONS = frozenset(ext for exts in EXTENSIONS.values() for ext in exts) | {
    ".zip", ".bin", ".doc", ".xls", ".ppt", ".bmp", ".avi", ".rtf",
}  # fmt: skip
