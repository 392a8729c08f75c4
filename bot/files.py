"""Evidence files from Telegram: what the reporter sent, its size limit, fetching it, and cleaning it.

Threat: a photo or document carries its author's name, phone model or the place it was taken. Why
fetch twice (once to inspect, once at submission): the draft holds only Telegram's file id, so no file
bytes sit in the database before the report is sealed.
"""

from __future__ import annotations

import asyncio

from telegram import Bot, Message
from telegram.error import TelegramError

from bot import evidence
from bot.state import EvidenceAnswer
from storage import text as text_rules
from storage.cases import Evidence

MAX_FILE_BYTES = 20 * 1024 * 1024


class FileRefused(Exception):
    """A file the bot will not take; the message key says why."""

    def __init__(self, key: str, **values: object) -> None:
        super().__init__(key)
        self.key, self.values = key, values


def describe(message: Message) -> EvidenceAnswer | None:
    """The evidence a message carries, with its caption, or None if it carries no file the bot accepts.

    Why keep the caption: what a reporter writes under a file ("the rota he changed") is part of the
    evidence; dropped silently it would be lost without their knowing. It is sealed with the file.
    """
    answer = _file_of(message)
    if answer is not None:
        answer.caption = text_rules.answer(message.caption)
    return answer


def _file_of(message: Message) -> EvidenceAnswer | None:
    if message.photo:
        photo = message.photo[-1]
        return EvidenceAnswer(photo.file_id, "photo", "photo.jpg", "image/jpeg", photo.file_size or 0)
    if message.document:
        doc = message.document
        return EvidenceAnswer(
            doc.file_id,
            "document",
            doc.file_name or "document",
            doc.mime_type or "application/octet-stream",
            doc.file_size or 0,
        )
    if message.voice:
        voice = message.voice
        return EvidenceAnswer(
            voice.file_id, "voice", "voice.ogg", voice.mime_type or "audio/ogg", voice.file_size or 0
        )
    return None


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


async def examine(bot: Bot, answer: EvidenceAnswer) -> EvidenceAnswer:
    """Fetch and inspect a new file: its real type, whether we can clean it, what it reveals."""
    data = await fetch(bot, answer)
    try:
        media_type = evidence.sniff_media_type(data, answer.filename, answer.media_type)
        cleanable = evidence.can_clean(media_type)
        findings = (
            await asyncio.to_thread(evidence.inspect, data, filename=answer.filename, media_type=media_type)
            if cleanable
            else ()
        )
    except evidence.EvidenceError as exc:
        raise FileRefused("report.evidence.unreadable", reason=str(exc)) from None
    answer.media_type, answer.cleanable = media_type, cleanable
    answer.size = len(data)
    answer.findings = [finding.summary for finding in findings]
    return answer


async def prepare(bot: Bot, answer: EvidenceAnswer) -> Evidence:
    """Fetch a file again at submission and clean it unless the reporter chose to keep its details."""
    data = await fetch(bot, answer)
    if answer.cleanable and not answer.keep_metadata:
        try:
            cleaned = await asyncio.to_thread(
                evidence.clean, data, filename=answer.filename, media_type=answer.media_type
            )
        except evidence.EvidenceError as exc:
            raise FileRefused("report.evidence.unreadable", reason=str(exc)) from None
        return Evidence(
            filename=cleaned.filename,
            media_type=cleaned.media_type,
            content=cleaned.content,
            metadata_kept=not cleaned.cleaned,
            caption=answer.caption,
        )
    # Kept as sent: the reporter chose to keep the details, or the type cannot be checked (they were told).
    return Evidence(
        filename=answer.filename,
        media_type=answer.media_type,
        content=data,
        metadata_kept=True,
        caption=answer.caption,
    )
