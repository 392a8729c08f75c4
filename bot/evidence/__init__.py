"""Evidence cleaning: remove identifying metadata from a reporter's file before it is sealed.

Why (promise 1): a photo or document carries more than it shows. EXIF holds where a photo was taken, the
phone that took it and sometimes its owner's name; PDFs and Office files carry their author and whoever
last saved them; a video carries the phone model and where it was filmed. Any of these could identify
the reporter to whoever reads the evidence, so every file passes through `clean` before it is encrypted.
When the reporter says the metadata is itself evidence (a photo's time and place), the bot shows them
`inspect`'s findings and may keep the original; that choice is the bot's.

One small module per family of formats (images, pdf, office, odf, audio, video, text), each built on the
library that knows the format, behind one interface (`bot.evidence.model.Format`); `dispatch` picks the
format from the file's bytes and checks every result independently. docs/evidence.md lists, per type,
what is removed and what is not.

Pure: no Telegram, no database, no network, and no logging (a log line about a file could itself help
identify a reporter). The bot never calls this in its own process: bot/cleaner.py runs it in a worker
process that holds no keys (bot.evidence.worker).
"""

from typing import Any

from bot.evidence.limits import MAX_BYTES
from bot.evidence.model import (
    DAMAGED,
    KINDS,
    MAX_SUMMARY,
    NOT_CLEANED,
    PDF_LOCKED,
    TOO_COMPLEX,
    TOO_LARGE,
    TOO_MANY_PIXELS,
    TOO_SLOW,
    Cleaned,
    EvidenceError,
    Examination,
    Finding,
)
from bot.evidence.types import (
    DOCX,
    GIF,
    JPEG,
    OCTET_STREAM,
    OGG_AUDIO,
    PDF,
    PNG,
    PPTX,
    TEXT_TYPES,
    TIFF,
    WEBP,
    XLSX,
)

_DISPATCH = frozenset({"can_clean", "clean", "examine", "inspect", "sniff_media_type"})


def __getattr__(name: str) -> Any:
    """The cleaning functions, imported on first use.

    Why lazily: the bot imports this package for its findings and refusals only; cleaning runs in the
    worker process (bot/cleaner.py). Loading every format's parser (Pillow's plugins, qpdf, FFmpeg, lxml)
    into the bot would cost it some 60 MB and put parsers of hostile formats in the process that holds
    the relay key, where nothing calls them.
    """
    if name in _DISPATCH:
        from bot.evidence import dispatch

        return getattr(dispatch, name)
    raise AttributeError(f"module 'bot.evidence' has no attribute {name!r}")


__all__ = [
    "DAMAGED",
    "DOCX",
    "GIF",
    "JPEG",
    "KINDS",
    "MAX_BYTES",
    "MAX_SUMMARY",
    "NOT_CLEANED",
    "OCTET_STREAM",
    "OGG_AUDIO",
    "PDF",
    "PDF_LOCKED",
    "PNG",
    "PPTX",
    "TEXT_TYPES",
    "TIFF",
    "TOO_COMPLEX",
    "TOO_LARGE",
    "TOO_MANY_PIXELS",
    "TOO_SLOW",
    "WEBP",
    "XLSX",
    "Cleaned",
    "EvidenceError",
    "Examination",
    "Finding",
    "can_clean",
    "clean",
    "examine",
    "inspect",
    "sniff_media_type",
]
