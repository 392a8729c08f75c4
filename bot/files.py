"""Evidence files from Telegram: what the reporter sent, its size limit, fetching it, and having it cleaned.

Threat: a photo or document carries its author's name, phone model or the place it was taken. Why
fetch twice (once to examine, once at submission): the draft holds only Telegram's file id, so no file
bytes sit in the database before the report is sealed. Why the cleaner (bot.cleaner) and never
bot.evidence here: the parsers that read a file run in a worker process that holds no keys.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, replace

from telegram import Bot, Message
from telegram.error import TelegramError

from bot import evidence, finding_words, words
from bot.catalogue import Translator
from bot.cleaner import UNAVAILABLE, Cleaner, IsolationError
from bot.evidence import KINDS, Finding, names, phrases
from bot.state import CANNOT_CLEAN_TYPE, CANNOT_CLEAN_UNSAFE, EvidenceAnswer
from storage import text as text_rules
from storage.cases import Evidence

MAX_FILE_BYTES = 20 * 1024 * 1024


class FileRefused(Exception):
    """A file the bot will not take; the message key says why, with the cleaner's refusal if it gave one.

    `reason` is one of bot.evidence's refusal sentences (never a file detail); `family` is what kind of
    file it is ("picture", "document", "audio", "video"), so the advice can fit it (see `reason_text`).
    """

    def __init__(self, key: str, *, reason: str = "", family: str = "document") -> None:
        super().__init__(key)
        self.key, self.reason, self.family = key, reason, family


@dataclass(frozen=True)
class Prepared:
    """A file ready to seal, and what was done to it, for telling the reporter.

    Why built here, from the cleaner's answer at submission (not from the earlier examination): what the
    reporter is told was removed must be what was removed from the bytes that are sealed.
    """

    evidence: Evidence
    removed: tuple[str, ...]  # what cleaning took out, encoded (bot.finding_words; empty: nothing found)
    kept: bool  # sealed as sent, because the reporter chose so
    removed_kinds: tuple[str, ...] = ()  # the kind of each of `removed`, for grouping them when told


def describe(message: Message) -> EvidenceAnswer | None:
    """The evidence a message carries, with its caption, or None if it carries no file the bot accepts.

    Why keep the caption: what a reporter writes under a file ("the rota he changed") is part of the
    evidence; dropped silently it would be lost without their knowing. It is sealed with the file.
    """
    answer = _file_of(message)
    if answer is not None:
        answer.caption = text_rules.answer(message.caption)
    return answer


# Telegram's media messages that carry one file, besides photos and documents: (attribute of the message,
# kind kept in the draft, the neutral name it is given, Telegram's default type). Why neutral names: an
# audio file's name is often its title or the recorder's label; the real type (and extension) comes from
# the bytes. Why the animation before the document: Telegram sets both for a GIF or silent MP4.
_MEDIA = (
    ("animation", "animation", "animation.mp4", "video/mp4"),
    ("voice", "voice", "voice.ogg", "audio/ogg"),
    ("audio", "audio", "audio", "application/octet-stream"),
    ("video", "video", "video.mp4", "video/mp4"),
    ("video_note", "video_note", "video-note.mp4", "video/mp4"),
)


def _file_of(message: Message) -> EvidenceAnswer | None:
    # The types given here are Telegram's claims; the cleaner reads the real type from the bytes.
    if message.photo:
        photo = message.photo[-1]
        return EvidenceAnswer(photo.file_id, "photo", "photo.jpg", "image/jpeg", photo.file_size or 0)
    for attribute, kind, name, default_type in _MEDIA:
        item = getattr(message, attribute, None)
        if item is not None:
            media_type = getattr(item, "mime_type", None) or default_type
            return EvidenceAnswer(item.file_id, kind, name, media_type, item.file_size or 0)
    if message.document:
        doc = message.document
        return EvidenceAnswer(
            doc.file_id,
            "document",
            doc.file_name or "document",
            doc.mime_type or "application/octet-stream",
            doc.file_size or 0,
        )
    return None


def family(answer: EvidenceAnswer) -> str:
    """What kind of file this is, for advice that fits it: "picture", "document", "audio" or "video".

    The real type (read from the bytes) decides; Telegram's kind only when the type is one Candour does not
    know (an unknown recording is still a recording, and a screenshot of it shows nothing).
    """
    major = answer.media_type.partition("/")[0]
    if major == "image":
        return "picture"
    if major in ("audio", "video"):
        return major
    if answer.media_type == "application/octet-stream":
        if answer.kind in ("voice", "audio"):
            return "audio"
        if answer.kind in ("video", "video_note", "animation"):
            return "video"
    return "document"


async def fetch(bot: Bot, answer: EvidenceAnswer) -> bytes:
    """Download a file from Telegram."""
    if answer.size > MAX_FILE_BYTES:
        raise FileRefused("report.evidence.too_big")
    try:
        file = await bot.get_file(answer.file_id)
        data = bytes(await file.download_as_bytearray())
    except TelegramError:
        raise FileRefused("report.evidence.download_failed") from None
    if len(data) > MAX_FILE_BYTES:
        raise FileRefused("report.evidence.too_big")
    if not data:
        # Why refuse: an empty file is no evidence, and sealing it would tell the team a file was given.
        raise FileRefused("report.evidence.empty")
    return data


async def examine(bot: Bot, cleaner: Cleaner, answer: EvidenceAnswer) -> EvidenceAnswer:
    """Fetch a new file and have the cleaner examine it: its real type, what it reveals, what cleaning
    would remove, and whether cleaning would work; raises FileRefused with the refusal's sentence.

    Why a trial clean now: the reporter is to be told the truth before choosing ("nothing hidden was
    found" only when cleaning worked), not find out at submission.
    """
    data = await fetch(bot, answer)
    try:
        examined = await cleaner.examine(data, filename=answer.filename, media_type=answer.media_type)
    except evidence.EvidenceError as exc:
        raise FileRefused("report.evidence.unreadable", reason=str(exc), family=family(answer)) from None
    except IsolationError:
        raise _unavailable(answer) from None
    answer.media_type, answer.size = examined.media_type, len(data)
    # The name is replaced whether the details are kept or removed (bot/evidence/names.py), so it is not
    # asked about; the receipt shows the name the file is sealed under.
    shown = {f for f in distinct([*examined.findings, *examined.removed]) if not names.about_the_name(f)}
    findings = [f for f in examined.findings if f in shown]
    answer.findings, answer.finding_kinds, answer.findings_more = bounded(findings, MAX_FINDINGS)
    seen = set(findings)
    parts = [f for f in examined.removed if f in shown and f not in seen]
    answer.parts, answer.part_kinds, answer.parts_more = bounded(parts, MAX_PARTS)
    answer.cleanable = examined.cleanable and examined.problem is None
    if not examined.cleanable and examined.media_type not in names.CLEANED_TYPES:
        answer.cannot_clean = CANNOT_CLEAN_TYPE
    elif not examined.cleanable:
        # Why "could not be cleaned safely", with what it carries: a known format in a variant its cleaner
        # cannot write (an MP4 the muxer refuses, a locked ODF) is not an unknown kind, and what the
        # inspection did read (a place, a name) is what the reporter must weigh before keeping it.
        answer.cannot_clean = CANNOT_CLEAN_UNSAFE
    elif examined.problem is not None:
        answer.cannot_clean = CANNOT_CLEAN_UNSAFE
    else:
        answer.cannot_clean = ""
    return answer


async def prepare(bot: Bot, cleaner: Cleaner, answer: EvidenceAnswer) -> Prepared:
    """Fetch a file again at submission and clean it unless the reporter chose to keep it as sent."""
    data = await fetch(bot, answer)
    if answer.cleanable and not answer.keep_metadata:
        try:
            cleaned = await cleaner.clean(data, filename=answer.filename, media_type=answer.media_type)
        except evidence.EvidenceError as exc:
            raise FileRefused("report.evidence.unreadable", reason=str(exc), family=family(answer)) from None
        except IsolationError:
            raise _unavailable(answer) from None
        if not cleaned.cleaned:
            # Why refuse: the reporter was told this file would be cleaned and never agreed to keep its
            # details; sealing it as sent would make that untrue. Fail closed.
            raise FileRefused(
                "report.evidence.unreadable", reason=evidence.NOT_CLEANED, family=family(answer)
            )
        stored = Evidence(
            filename=cleaned.filename,
            media_type=cleaned.media_type,
            content=cleaned.content,
            metadata_kept=False,
            caption=answer.caption,
        )
        told = distinct(cleaned.removed)
        summaries = tuple(finding_words.encode(found) for found in told)
        kinds = tuple(found.kind for found in told)
        return Prepared(stored, summaries, kept=False, removed_kinds=kinds)
    # Kept as sent: the reporter chose to keep the details, or to keep a file Candour cannot clean after
    # being told. Why a safe name of the real type: a voice note that is really a video is not "voice.ogg".
    # Why neutral for a photo, video or recording even here: its name is the device's (names.device_named),
    # a moment or a phone model that is no evidence; the details kept are the ones inside the file.
    stored = Evidence(
        filename=names.safe(answer.filename, answer.media_type),
        media_type=answer.media_type,
        content=data,
        metadata_kept=True,
        caption=answer.caption,
    )
    return Prepared(stored, (), kept=True)


def _unavailable(answer: EvidenceAnswer) -> FileRefused:
    """A worker refused its isolation after start-up: "could not check this file just now".

    Why / threat: the machine, not the file, is at fault (require_isolation forbids running a parser
    unconfined), so the reporter may try again later; nothing about the file is logged or said.
    """
    return FileRefused("report.evidence.unreadable", reason=UNAVAILABLE, family=family(answer))


# --- telling the reporter -------------------------------------------------------------------------------
# Why every sentence is built from the cleaner's answers: the reporter decides what to send, and whether
# to keep a photo's place and time, on what they are told; it must be what the system found and did.

# Room left in the receipt message (Telegram allows 4096 characters) for what was done with the files.
_RECEIPT_ROOM = 3300
_NAME_SHOWN = 40
# Threat: a file with hundreds of findings (a document with 150 comment authors) makes a message Telegram
# refuses, so the reporter sees an error and the file can never be added. Why a few per kind plus a count:
# the reporter learns what kinds of detail the file carries and how many, on one phone screen; the list is
# bounded where it is made (the draft holds no more) and again where it is shown (`_fitted`).
PER_KIND = 5
MAX_FINDINGS = 16  # findings kept and listed for one file, all kinds together
MAX_PARTS = 8  # parts removed whole, listed for one file
MESSAGE_ROOM = 3500  # what a message about one file may take, well under Telegram's 4096
_FALLBACK_PER_KIND = (PER_KIND, 2, 1)


def bounded(found: Iterable[Finding], total: int) -> tuple[list[str], list[str], dict[str, int]]:
    """At most PER_KIND distinct findings of each kind, `total` in all, in the order of KINDS: the
    findings encoded for the draft (bot.finding_words), the kind of each, and per kind how many were left
    out."""
    by_kind: dict[str, list[str]] = {}
    for item in found:
        group = by_kind.setdefault(item.kind, [])
        if finding_words.encode(item) not in group:
            group.append(finding_words.encode(item))
    summaries: list[str] = []
    kinds: list[str] = []
    more: dict[str, int] = {}
    for kind in sorted(by_kind, key=_kind_order):
        room = max(0, min(PER_KIND, total - len(summaries)))
        shown = by_kind[kind][:room]
        summaries.extend(shown)
        kinds.extend([kind] * len(shown))
        if len(by_kind[kind]) > len(shown):
            more[kind] = len(by_kind[kind]) - len(shown)
    return summaries, kinds, more


_GENERIC = phrases.ID_OF["a detail saved in the file"]


def distinct(found: Iterable[Finding]) -> list[Finding]:
    """The findings without the ones another already says: "X" beside "X (removed)" keeps "X", and "a
    detail saved in the file (V)" goes when another entry already shows V (a MOV's model, twice)."""
    items = list(dict.fromkeys(found))
    present = set(items)
    shown = {item.value for item in items if item.phrase != _GENERIC and item.value}
    kept: list[Finding] = []
    for item in items:
        if item.removed and replace(item, removed=False) in present:
            continue
        if item.phrase == _GENERIC and item.value and item.value in shown:
            continue
        kept.append(item)
    return kept


def _kind_order(kind: str) -> int:
    return KINDS.index(kind) if kind in KINDS else len(KINDS)


def _listed(
    t: Translator,
    summaries: list[str] | tuple[str, ...],
    kinds: list[str] | tuple[str, ...] = (),
    more: dict[str, int] | None = None,
    *,
    per_kind: int = PER_KIND,
) -> str:
    """One line per summary, grouped by kind, at most `per_kind` of each, and "and N more" for the rest."""
    groups: dict[str, list[str]] = {}
    for index, summary in enumerate(summaries):
        kind = kinds[index] if index < len(kinds) else "other"  # a draft written before kinds were kept
        groups.setdefault(kind, []).append(summary)
    for kind in more or {}:
        groups.setdefault(kind, [])
    lines: list[str] = []
    for kind in sorted(groups, key=_kind_order):
        shown = groups[kind][:per_kind]
        lines.extend(f"- {finding_words.told(t, summary)}" for summary in shown)
        hidden = len(groups[kind]) - len(shown) + (more or {}).get(kind, 0)
        if hidden:
            key = "report.evidence.more" if shown else "report.evidence.more.other"
            lines.append(t(key, count=hidden))
    return "\n".join(lines)


def telegram_length(text: str) -> int:
    """The length Telegram counts: UTF-16 code units (an emoji in a metadata value counts twice)."""
    return len(text.encode("utf-16-le")) // 2


def _fitted(render: Callable[[int], str]) -> str:
    """The text rendered with as many of each kind as fit in MESSAGE_ROOM (a long translation included)."""
    text = ""
    for per_kind in _FALLBACK_PER_KIND:
        text = render(per_kind)
        if telegram_length(text) <= MESSAGE_ROOM:
            return text
    return text


def question(t: Translator, answer: EvidenceAnswer) -> str:
    """The keep-or-remove question: what the file carries, and what "Remove" will take out."""

    def render(per_kind: int) -> str:
        parts_list = _listed(t, answer.parts, answer.part_kinds, answer.parts_more, per_kind=per_kind)
        if not answer.findings and not answer.findings_more:
            return t("report.evidence.metadata.parts_only", parts=parts_list)
        found = _listed(t, answer.findings, answer.finding_kinds, answer.findings_more, per_kind=per_kind)
        parts = t("report.evidence.metadata.parts", parts=parts_list) if parts_list else ""
        return t("report.evidence.metadata", findings=found, parts=parts)

    return _fitted(render)


def cannot_clean(t: Translator, answer: EvidenceAnswer) -> str:
    """The question for a file Candour cannot clean: why, what it may reveal, and the safest choice for
    its kind (a screenshot shows a picture or a page; it shows nothing of a recording or a video)."""
    kind = family(answer)
    # A known type is "could not be cleaned safely" (also in a draft saved before that was told apart).
    if answer.cannot_clean != CANNOT_CLEAN_UNSAFE and answer.media_type not in names.CLEANED_TYPES:
        if kind == "audio":
            return t("report.evidence.cannot_check.audio")
        if kind == "video":
            return t("report.evidence.cannot_check.video")
        return t("report.evidence.cannot_check")

    def render(per_kind: int) -> str:
        found = _listed(t, answer.findings, answer.finding_kinds, answer.findings_more, per_kind=per_kind)
        carries = t("report.evidence.cannot_clean.carries", findings=found) if found else ""
        if kind == "audio":
            return t("report.evidence.cannot_clean.audio", carries=carries)
        if kind == "video":
            return t("report.evidence.cannot_clean.video", carries=carries)
        return t("report.evidence.cannot_clean", carries=carries)

    return _fitted(render)


# The refusal sentences of bot.evidence (and the cleaner), as catalogue keys: the same meaning, in the
# reporter's language. Why per kind for two of them: their English advises a screenshot, which shows
# nothing of a recording or a video.
REASON_KEYS: dict[str, str] = {
    evidence.DAMAGED: "evidence.reason.damaged",
    evidence.TOO_COMPLEX: "evidence.reason.too_complex",
    evidence.TOO_MANY_PIXELS: "evidence.reason.too_many_pixels",
    evidence.NOT_CLEANED: "evidence.reason.not_cleaned",
    evidence.PDF_LOCKED: "evidence.reason.pdf_locked",
    evidence.TOO_LARGE: "evidence.reason.too_large",
    evidence.TOO_SLOW: "evidence.reason.too_slow",
    UNAVAILABLE: "evidence.reason.unavailable",
}
_BY_FAMILY = {"evidence.reason.not_cleaned", "evidence.reason.too_complex"}


def reason_text(t: Translator, reason: str, kind: str) -> str:
    """A refusal sentence in the reporter's language, its advice fitting the kind of file."""
    key = REASON_KEYS.get(reason)
    if key is None:
        return reason  # a sentence this table does not know yet: shown as bot.evidence wrote it
    if key in _BY_FAMILY and kind in ("audio", "video"):
        key = f"{key}.{kind}"
    return t(key)


def refusal(t: Translator, refused: FileRefused) -> str:
    """What the reporter is told when a file is refused as it comes in."""
    if refused.reason:
        return t(refused.key, reason=reason_text(t, refused.reason, refused.family))
    return t(refused.key)


def refusal_reason(t: Translator, refused: FileRefused) -> str:
    """Why a file was refused, in one or two sentences (for the message naming which file it was)."""
    if refused.reason:
        return reason_text(t, refused.reason, refused.family)
    return t(refused.key)


def accepted(t: Translator, answer: EvidenceAnswer, count: int) -> str:
    """A file taken into the draft: what will happen to it at submission, as chosen."""
    captioned = bool(answer.caption)
    if not answer.cleanable or answer.keep_metadata:
        # Kept as sent, bar the name (see words.name_change): said as it will be stored.
        key = "report.evidence.added.unchecked" if not answer.cleanable else "report.evidence.added.kept"
        renamed = words.name_change(t, answer.filename, answer.media_type)
        return t(f"{key}.caption" if captioned else key, count=count, renamed=renamed)
    if answer.findings or answer.findings_more or answer.parts or answer.parts_more:
        if captioned:
            return t("report.evidence.added.removing.caption", count=count)
        return t("report.evidence.added.removing", count=count)
    # Only here, with cleaning shown to work on this file and nothing found by it: "checked".
    if captioned:
        return t("report.evidence.added.caption", count=count)
    return t("report.evidence.added", count=count)


def shown_name(answer: EvidenceAnswer) -> str:
    """A file's name as the bot shows it back: safe (see names.safe) and short."""
    name = names.safe(answer.filename, answer.media_type, neutral=False)
    return name if len(name) <= _NAME_SHOWN else name[: _NAME_SHOWN - 1] + "…"


def draft_line(t: Translator, number: int, answer: EvidenceAnswer) -> str:
    """One file of the draft, numbered, with what will happen to it at submission."""
    if not answer.cleanable:
        what = t("report.evidence.list.unchecked")
    elif answer.keep_metadata:
        what = t("report.evidence.list.kept")
    elif answer.findings or answer.findings_more or answer.parts or answer.parts_more:
        what = t("report.evidence.list.removing")
    else:
        what = t("report.evidence.list.checked")
    return t("report.evidence.list.item", number=number, name=shown_name(answer), what=what)


def sealed_one(t: Translator, prepared: Prepared) -> str:
    """What was done to one file just sealed into a case (a file added later)."""
    if prepared.kept:
        return t("status.evidence.kept", name=prepared.evidence.filename)
    if prepared.removed:
        return _fitted(
            lambda per_kind: t(
                "status.evidence.removed",
                removed=_listed(t, prepared.removed, prepared.removed_kinds, per_kind=per_kind),
            )
        )
    return t("status.evidence.checked")


def sealed_all(t: Translator, prepared: tuple[Prepared, ...]) -> str:
    """What was done to each file of a submitted report, short enough to sit under the receipt code.

    Why shorten rather than split: the receipt is the one message kept after the wipe, and deleting it
    ("I have saved my code") must leave nothing of the report behind on the phone.
    """
    if not prepared:
        return ""
    full = [_sealed_line(t, number, item, compact=False) for number, item in enumerate(prepared, 1)]
    lines = full
    if sum(telegram_length(line) + 1 for line in full) > _RECEIPT_ROOM:
        lines = [_sealed_line(t, number, item, compact=True) for number, item in enumerate(prepared, 1)]
    return t("report.submitted.files", files="\n".join(lines))


def _sealed_line(t: Translator, number: int, item: Prepared, *, compact: bool) -> str:
    name = item.evidence.filename
    if len(name) > _NAME_SHOWN:
        name = name[: _NAME_SHOWN - 1] + "…"
    if item.kept:
        return t("report.sealed.kept", number=number, name=name)
    if not item.removed:
        return t("report.sealed.checked", number=number, name=name)
    if compact:
        return t("report.sealed.removed.count", number=number, name=name, count=len(item.removed))
    removed = _listed(t, item.removed, item.removed_kinds)
    return t("report.sealed.removed", number=number, name=name, removed=removed)
