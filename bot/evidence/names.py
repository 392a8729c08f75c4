"""File names: a photo's, video's or recording's name is replaced by a neutral one; any name is made safe."""

from __future__ import annotations

import re
import unicodedata

from bot.evidence import phrases
from bot.evidence import types as t
from bot.evidence.model import Finding, finding

# Names phones and apps give: IMG_1234, PXL_20240512_031522, DSC01234, RPReplay_Final1715483722.
_CAMERA_NAME = re.compile(
    r"^(?:img|pxl|dsc[fn]?|mvimg|pano|vid|burst|rpreplay|screenrecording|screenshot|signal|whatsapp|ptt|aud)",
    re.IGNORECASE,
)
# A date (2024-05-12, 20240512, 05-12-2024, 12 May 2024), a clock time (03.15.22, 03-15-22, 031522 after a
# date) or a Unix timestamp in seconds or milliseconds (1715483722, 1715483722123).
_TIME_IN_NAME = re.compile(
    r"(?:19|20)\d{2}[-_. ]?(?:0[1-9]|1[0-2])[-_. ]?(?:0[1-9]|[12]\d|3[01])"
    r"|(?:0[1-9]|[12]\d|3[01])[-_. ](?:0[1-9]|1[0-2])[-_. ](?:19|20)\d{2}"
    r"|(?:0[1-9]|1[0-2])[-_. ](?:0[1-9]|[12]\d|3[01])[-_. ](?:19|20)\d{2}"
    r"|\d{1,2} ?(?:jan|feb|mar|apr|may|jun|jul|aug|sep|oct|nov|dec)[a-z]* ?(?:19|20)\d{2}"
    r"|(?<!\d)[0-2]\d[.:\-][0-5]\d(?:[.:\-][0-5]\d)?(?!\d)"
    r"|(?<!\d)1\d{9}(?:\d{3})?(?!\d)",
    re.IGNORECASE,
)
# Names that say nothing: the ones this module gives, and the ones the bot gives what Telegram sends unnamed
# (bot/files.py: "video-note.mp4", "animation.mp4"). Why listed whole: "video-note" starts like a camera's
# "VID_" name, and a name the bot chose is no finding about the reporter.
NEUTRAL_STEMS = frozenset(
    {"photo", "video", "video-note", "animation", "recording", "voice", "audio", "document", "evidence", ""}
)
# Every media type bot.evidence has a cleaner for (its registry's keys; tests/test_evidence_names.py holds
# them equal). Why here, as plain names: the bot tells a known type that could not be cleaned in this one
# file apart from a type Candour does not know, and must not import the parsers to do so.
CLEANED_TYPES = frozenset(
    {*t.IMAGE_TYPES, t.PDF, *t.OOXML_TYPES, *t.ODF_TYPES, t.OGG_AUDIO, t.MP3, t.FLAC, t.WAV, t.M4A}
    | {*t.VIDEO_TYPES, *t.TEXT_TYPES}
)


def device_named(media_type: str) -> bool:
    """Whether files of this type are named by the device or app that made them, not by a person.

    Why / threat: a phone, camera, screen recorder or messaging app names a photo, video or recording
    after the moment it was made ("PXL_20240512_031522", "RPReplay_Final1715483722", "WhatsApp Image
    2024-05-12 at 03.15.22"), or after the device. Such a name holds no evidence, and the many patterns
    apps use cannot all be known, so these names are always replaced (cost: a name the reporter typed
    for a photo is lost too). Documents keep their names: a person chose them, and they describe the
    content, which is evidence.
    """
    return media_type in t.IMAGE_TYPES or media_type in t.VIDEO_TYPES or media_type.startswith("audio/")


def _stem(filename: str) -> str:
    base = re.split(r"[\\/]", filename or "")[-1]
    stem, dot, _ = base.rpartition(".")
    return (stem if dot else base).strip()


def findings(filename: str, media_type: str) -> list[Finding]:
    """The file name of a photo, video or recording when it is not already neutral (it will be replaced)."""
    if not device_named(media_type):
        return []
    stem = _stem(filename)
    if stem.casefold() in NEUTRAL_STEMS:
        return []
    if _TIME_IN_NAME.search(stem):
        return [finding("time", f"{NAME_FINDING}, which shows the date", stem)]
    if _CAMERA_NAME.match(stem):
        return [finding("device", f"{NAME_FINDING} the camera gave it", stem)]
    return [finding("other", NAME_FINDING, stem)]


NAME_FINDING = "the file name"
NAME_PHRASES = frozenset(
    phrases.ID_OF[text]
    for text in (NAME_FINDING, f"{NAME_FINDING}, which shows the date", f"{NAME_FINDING} the camera gave it")
)


def about_the_name(found: Finding) -> bool:
    """Whether a finding is about the file's name, which is replaced whatever the reporter chooses, so it
    is no reason to ask them whether to keep the file's details."""
    return found.phrase in NAME_PHRASES


def neutral_stem(media_type: str) -> str:
    """The name a photo, video or recording is stored under."""
    if media_type in t.VIDEO_TYPES:
        return "video"
    if media_type.startswith("audio/"):
        return "recording"
    return "photo"


def safe(filename: str, media_type: str, *, neutral: bool | None = None) -> str:
    """A file name safe to store and show: no folders, no control characters, the extension of the real type.

    `neutral` None means: neutral for the types a device names (`device_named`), the person's own name
    otherwise. Why: the name is shown to officers and saved to their disks; a path or a right-to-left
    override could mislead, and an extension that contradicts the content could open the file in the
    wrong program.
    """
    if neutral is None:
        neutral = device_named(media_type)
    base = re.split(r"[\\/]", filename or "")[-1]
    base = "".join(" " if unicodedata.category(ch)[0] in "CZ" else ch for ch in base)
    base = " ".join(base.split()).strip(" .")
    stem, dot, ext = base.rpartition(".")
    if not dot or not stem:
        stem, ext = base, ""
    extension = f".{ext.lower()}" if ext else ""
    allowed = t.EXTENSIONS.get(media_type)
    if allowed and extension not in allowed:
        if extension and extension not in t.KNOWN_EXTENSIONS:
            stem = f"{stem}{extension}"
        extension = allowed[0]
    elif extension:
        extension = f".{ext}"[:17]
    if neutral:
        stem = neutral_stem(media_type)
        extension = extension.lower()
    stem = stem[:100].strip(" .") or "evidence"
    return f"{stem}{extension}"
