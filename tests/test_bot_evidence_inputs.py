"""Evidence inputs and the words about them (issue 10, review): a file with hundreds of findings is asked
about in one message Telegram accepts; a file refused at submission can be taken out without losing the
report; the advice fits the kind of file (no screenshot of a recording); audio files, videos, round video
notes and animations are taken as evidence, their type read from the bytes.

The real bot polls the Bot API emulator over HTTP (tests.bot_world) on a real vault, with the real
cleaner in its worker process. The emulator's user actions send photos, documents and voice notes; for
audio, video, video-note and animation messages it has no action, so `send_media` stores the file as the
emulator stores any upload and sends the message through the emulator's own user path (what is missing
from the emulator is said there). What was sealed is read back by an officer opening the case.
"""

from __future__ import annotations

import io
import struct
import zipfile
from typing import Any

import pytest
from telegram import Message

from bot import evidence, files, finding_words
from bot import state as chat_state
from bot.catalogue import Catalogue
from bot.emulator.state import FakeUser
from bot.evidence.types import DOCX, MP3, MP4
from bot.state import EvidenceAnswer
from storage import cases
from storage.officers import UnlockedOfficer
from storage.vault import Vault
from tests import office_fixtures
from tests.bot_world import BotWorld
from tests.test_bot_evidence_told import (
    mp4_with_place,
    receipt_text,
    sealed_files,
    status_file_step,
    to_review_and_submit,
)
from tests.test_bot_inputs import case_count, draft, reach, refused, replies, submit, submitted_report
from tests.test_bot_report import photo_with_gps
from tests.test_evidence_media import make

T = Catalogue().for_language("en")
NAME = "Wendeline Okonkwo"
AUTHORS = 150


@pytest.fixture
def engine_name() -> str:
    """SQLite only: what the bot says does not depend on the database engine."""
    return "sqlite"


# --- files made here -------------------------------------------------------------------------------------


def docx_with_many_authors(count: int = AUTHORS) -> bytes:
    """The review's file: a DOCX whose comments have `count` different authors (hundreds of findings)."""
    comments = "".join(
        f'<w:comment w:id="{i + 10}" w:author="Officer Number {i:03d} Smithfield" w:initials="O{i}">'
        "<w:p><w:r><w:t>x</w:t></w:r></w:p></w:comment>"
        for i in range(count)
    )
    source = zipfile.ZipFile(io.BytesIO(office_fixtures.docx()))
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as target:
        for info in source.infolist():
            data = source.read(info.filename)
            if info.filename == "word/comments.xml":
                data = data.replace(b"</w:comments>", comments.encode() + b"</w:comments>")
            target.writestr(info, data)
    return out.getvalue()


def unzipped(content: bytes) -> bytes:
    with zipfile.ZipFile(io.BytesIO(content)) as archive:
        return b"".join(archive.read(name) for name in archive.namelist())


def mp3_with_artist() -> bytes:
    return make("mp3", None, "libmp3lame", {"artist": NAME}, rate=44100)


def silent_mp4() -> bytes:
    return make("mp4", "libx264", None, {"artist": NAME})


AMR = b"#!AMR\n" + bytes([0x3C]) + bytes(31)  # an AMR recording's header and one frame: no cleaner for it


def send_media(
    world: BotWorld, user: FakeUser, field: str, data: bytes, *, mime_type: str | None = None, **extra: Any
) -> dict[str, Any]:
    """Send an audio, video, video_note or animation message as Telegram shapes it (an animation also
    carries `document`, as Telegram sets both). The emulator has no user action for these kinds
    (bot/emulator/control.py and state.py send only photos, documents and voice notes), so the file is
    stored as the emulator stores an upload, and the message goes through its own user path."""
    bot = world.emu.bot_state()
    stored = bot._new_file("document", data, mime_type=mime_type, file_name=extra.pop("file_name", None))
    item: dict[str, Any] = {
        "file_id": stored.file_id,
        "file_unique_id": stored.file_unique_id,
        "file_size": stored.size,
        "duration": 1,
        **extra,
    }
    if mime_type is not None and field != "video_note":
        item["mime_type"] = mime_type
    content: dict[str, Any] = {field: item}
    if field == "animation":
        content["document"] = {k: v for k, v in item.items() if k not in ("duration", "width", "height")}
    return bot._from_user(user, content)


KINDS: dict[str, dict[str, Any]] = {
    "audio": {"mime_type": "audio/mpeg", "file_name": "Okonkwo interview.mp3", "title": "Interview"},
    "video": {"mime_type": "video/mp4", "width": 64, "height": 48, "file_name": "VID_2026.mp4"},
    "video_note": {"length": 64},
    "animation": {"mime_type": "video/mp4", "width": 64, "height": 48, "file_name": "giphy.mp4"},
}


# --- 1. a file with hundreds of findings -------------------------------------------------------------------


async def test_a_file_with_hundreds_of_findings_is_asked_about_in_one_message_telegram_accepts(
    world: BotWorld, vault: Vault, alice: UnlockedOfficer
) -> None:
    user = world.user(6300001)
    await reach(world, user, "evidence")
    document = docx_with_many_authors()
    findings = evidence.inspect(document, filename="notes.docx", media_type=DOCX)
    assert len(findings) >= 300, "the premise: hundreds of findings (the cleaner lists at most 300)"
    assert sum(len(f.summary) + 3 for f in findings) > 4096, "listed whole they would not fit"

    answer = await replies(
        world,
        user.user_id,
        lambda: world.emu.send_document(user, document, filename="notes.docx", mime_type=DOCX),
    )
    assert world.emu.errors == [], "Telegram refused nothing the bot sent"
    (question,) = answer
    assert files.telegram_length(question) <= files.MESSAGE_ROOM < 4096
    assert question.startswith(T("report.evidence.metadata", findings="", parts="").split("\n")[0])
    assert T("report.evidence.more", count=1).split("1")[0] in question, "the rest is counted, not dropped"
    pending = (await chat_state.load(vault, user.user_id)).pending_evidence
    assert pending is not None
    assert len(pending.findings) <= files.MAX_FINDINGS and len(pending.parts) <= files.MAX_PARTS
    for kind in set(pending.finding_kinds):
        assert pending.finding_kinds.count(kind) <= files.PER_KIND
    shown = len(pending.findings) + sum(pending.findings_more.values())
    assert shown == len({(f.kind, f.summary) for f in findings}), "every distinct finding is shown or counted"
    for summary in pending.findings:
        assert f"- {finding_words.told(T, summary)}" in question

    await world.tap(user, "Remove the hidden details")
    assert world.last(user.user_id) == T("report.evidence.added.removing", count=1)
    code = await to_review_and_submit(world, user)
    receipt = receipt_text(world, user)
    assert files.telegram_length(receipt) < 4096
    (sealed,) = await sealed_files(vault, alice, code)
    assert b"Smithfield" in unzipped(document) and b"Smithfield" not in unzipped(sealed.body)
    assert world.emu.errors == []


async def test_a_file_with_hundreds_of_findings_added_later_is_told_in_one_message(world: BotWorld) -> None:
    user = world.user(6300002)
    await status_file_step(world, user)
    await world.send_document(user, docx_with_many_authors(), "notes.docx", DOCX)
    assert files.telegram_length(world.last(user.user_id)) <= files.MESSAGE_ROOM
    await world.tap(user, "Remove the hidden details")
    told, confirmed = world.texts(user.user_id)[-2:]
    assert told.startswith(T("status.evidence.removed", removed="").strip())
    assert files.telegram_length(told) <= files.MESSAGE_ROOM
    assert T("report.evidence.more", count=1).split("1")[0] in told
    assert confirmed == T("status.evidence.sent")
    assert world.emu.errors == []


def test_listing_is_bounded_per_kind_and_fits_with_a_long_translation() -> None:
    """The bound holds whatever the wording: a catalogue whose sentence is long still gives a message
    under the room, by showing fewer of each kind."""
    many = [
        evidence.Finding(kind, "a name", f"{kind} detail {i:03d} " + "x" * 50)
        for kind in evidence.KINDS
        for i in range(40)
    ]
    summaries, kinds, more = files.bounded(many, files.MAX_FINDINGS)
    assert len(summaries) == files.MAX_FINDINGS and sum(more.values()) == len(many) - files.MAX_FINDINGS
    answer = EvidenceAnswer("f", "document", "a.docx", DOCX, 10)
    answer.findings, answer.finding_kinds, answer.findings_more = summaries, kinds, more
    embedded = [
        evidence.Finding("other", "an embedded object Candour cannot check", f"{i}", removed=True)
        for i in range(30)
    ]
    answer.parts, answer.part_kinds, answer.parts_more = files.bounded(embedded, files.MAX_PARTS)

    text = files.question(T, answer)
    assert files.telegram_length(text) <= files.MESSAGE_ROOM
    assert text.count("- a name (location detail") == files.PER_KIND and "more of the same kind" in text

    def wordy(key: str, /, **values: object) -> str:
        long = key == "report.evidence.metadata"
        return T(key, **values) + (" (translated at length)" * 100 if long else "")

    text = files.question(wordy, answer)  # type: ignore[arg-type]
    assert files.telegram_length(text) <= files.MESSAGE_ROOM
    assert 0 < text.count("- a name (location detail") < files.PER_KIND, "fewer of each kind, to fit"
    assert "more of the same kind" in text


# --- 2. a file refused at submission -----------------------------------------------------------------------


def last_labels(world: BotWorld, user: FakeUser) -> list[str]:
    """The labels of the buttons under the bot's newest message."""
    newest = world.emu.bot_messages(user.user_id)[-1]["message_id"]
    return [label for message_id, label, _data in world.buttons(user.user_id) if message_id == newest]


async def two_files_then_damage_the_second(world: BotWorld, user: FakeUser) -> None:
    await reach(world, user, "evidence")
    await world.send_document(user, b"Rota notes.\n", "notes.txt", "text/plain")
    await world.send_document(user, photo_with_gps(), "IMG_1.jpg", "image/jpeg")
    await world.tap(user, "Remove the hidden details")
    for label in ("Done", "No", "Yes", "Yes"):
        await world.tap(user, label)
    stored = next(f for f in world.emu.bot_state().files.values() if f.file_name == "IMG_1.jpg")
    stored.data = b"\xff\xd8\xff\xe0" + b"now damaged" * 20
    await world.tap(user, "Submit")
    told = T("report.submit.file_refused", number=2, reason=T("evidence.reason.damaged"))
    assert world.last(user.user_id) == told
    assert last_labels(world, user) == [T("button.remove_and_submit", number=2), T("button.back_to_files")]
    assert await case_count(world.vault) == 0


async def test_a_file_refused_at_submission_can_be_taken_out_and_the_rest_submitted(
    world: BotWorld, vault: Vault, alice: UnlockedOfficer
) -> None:
    user = world.user(6300010)
    await two_files_then_damage_the_second(world, user)
    answers = (await draft(vault, user.user_id))["categories"]
    await world.tap(user, T("button.remove_and_submit", number=2))
    receipt = receipt_text(world, user)
    assert T("report.sealed.checked", number=1, name="notes.txt") in receipt
    assert "File 2" not in receipt
    code = receipt.split("Your receipt code:\n")[1].split("\n")[0]
    (sealed,) = await sealed_files(vault, alice, code)
    assert sealed.body == b"Rota notes.\n"
    assert await case_count(vault) == 1
    report = (await submitted_report(vault, alice, code)).first(cases.REPORT).meta
    assert list(report["categories"]) == answers, "the rest of the draft went in as answered"


async def test_back_to_files_lists_them_with_remove_buttons_and_keeps_the_rest(
    world: BotWorld, vault: Vault, alice: UnlockedOfficer
) -> None:
    user = world.user(6300011)
    await two_files_then_damage_the_second(world, user)
    refusal = world.emu.bot_messages(user.user_id)[-1]
    old_remove = next(b[2] for b in world.buttons(user.user_id) if b[1].startswith("Remove file 2"))
    await world.tap(user, T("button.back_to_files"))
    listing = world.last(user.user_id)
    assert listing.startswith(T("report.evidence"))
    assert "1. notes.txt: " + T("report.evidence.list.checked") in listing
    assert "2. IMG_1.jpg: " + T("report.evidence.list.removing") in listing
    expected = [T("button.remove_file", number=1), T("button.remove_file", number=2), T("button.done")]
    assert last_labels(world, user) == expected
    before = await draft(vault, user.user_id)

    await world.tap(user, T("button.remove_file", number=2))
    after = await draft(vault, user.user_id)
    assert [f["filename"] for f in after["evidence"]] == ["notes.txt"]
    assert {k: v for k, v in after.items() if k != "evidence"} == {
        k: v for k, v in before.items() if k != "evidence"
    }
    shown = world.last(user.user_id)
    assert shown.startswith(T("report.evidence.file_removed", number=2, name="IMG_1.jpg"))
    assert "1. notes.txt" in shown and "2. " not in shown.split("\n\n", 1)[1]

    # The refusal's old button now names no file of the draft: refused, nothing changes.
    world.emu.press_button(user, refusal["message_id"], old_remove, forged=True)
    await world.settle()
    assert await draft(vault, user.user_id) == after

    await world.tap(user, T("button.done"))
    assert (await chat_state.load(vault, user.user_id)).step == "review"
    code = await submit(world, user)
    (sealed,) = await sealed_files(vault, alice, code)
    assert sealed.body == b"Rota notes.\n"


async def test_a_remove_button_of_an_earlier_list_does_not_remove_another_file(world: BotWorld) -> None:
    user = world.user(6300012)
    await reach(world, user, "evidence")
    for name in ("a.txt", "b.txt", "c.txt"):
        await world.send_document(user, f"{name}\n".encode(), name, "text/plain")
    await world.tap(user, "Done")
    for label in ("No", "Yes", "Yes"):
        await world.tap(user, label)
    await world.tap(user, T("button.edit_evidence"))
    first_list = world.emu.bot_messages(user.user_id)[-1]["message_id"]
    remove_1 = next(b[2] for b in world.buttons(user.user_id) if b[1] == T("button.remove_file", number=1))
    await world.tap(user, T("button.remove_file", number=1))
    assert [f["filename"] for f in (await draft(world.vault, user.user_id))["evidence"]] == ["b.txt", "c.txt"]
    before = await draft(world.vault, user.user_id)
    # The same press again (a double tap, or an old message): number 1 is now another file.
    world.emu.press_button(user, first_list, remove_1, forged=True)
    await world.settle()
    assert await draft(world.vault, user.user_id) == before


# --- 3. advice that fits the kind of file ------------------------------------------------------------------


async def test_a_recording_candour_cannot_check_is_not_told_to_send_a_screenshot(world: BotWorld) -> None:
    user = world.user(6300020)
    await reach(world, user, "evidence")
    warning = await replies(
        world,
        user.user_id,
        lambda: send_media(world, user, "audio", AMR, mime_type="audio/amr", file_name="a.amr"),
    )
    assert warning == [T("report.evidence.cannot_check.audio")]
    assert "screenshot" not in warning[0] and "voice message" in warning[0]
    labels = [label for _m, label, _d in world.buttons(user.user_id)]
    assert labels[-2:] == [T("button.dont_send"), T("button.send_anyway")]
    await world.tap(user, T("button.dont_send"))
    assert world.last(user.user_id) == T("report.evidence")


async def test_a_video_candour_cannot_check_is_not_told_to_send_a_screenshot(world: BotWorld) -> None:
    user = world.user(6300021)
    await reach(world, user, "evidence")
    riff = b"RIFF" + (100).to_bytes(4, "little") + b"AVI LIST" + bytes(88)
    warning = await replies(
        world,
        user.user_id,
        lambda: send_media(world, user, "video", riff, mime_type="video/x-msvideo", width=8, height=8),
    )
    assert warning == [T("report.evidence.cannot_check.video")]
    assert "screenshot" not in warning[0] and "describe" in warning[0]


def test_refusal_sentences_are_the_catalogues_and_fit_the_kind_of_file() -> None:
    for sentence, key in files.REASON_KEYS.items():
        assert key in Catalogue().message_ids()
        assert T(key) == sentence, "the English meaning is bot.evidence's sentence"
    for kind in ("audio", "video"):
        for sentence in (evidence.NOT_CLEANED, evidence.TOO_COMPLEX):
            text = files.reason_text(T, sentence, kind)
            assert "screenshot" not in text and "describe" in text.lower(), (kind, sentence)
    for kind in ("picture", "document"):
        assert files.reason_text(T, evidence.NOT_CLEANED, kind) == evidence.NOT_CLEANED
    unsafe = EvidenceAnswer("f", "audio", "audio", MP3, 10, cleanable=False, cannot_clean="unsafe")
    unsafe.findings, unsafe.finding_kinds = ["the artist's name (X)"], ["person"]
    text = files.cannot_clean(T, unsafe)
    assert "screenshot" not in text and "- the artist's name (X)" in text


async def test_a_recording_refused_at_submission_is_not_told_to_send_a_screenshot(world: BotWorld) -> None:
    user = world.user(6300022)
    await reach(world, user, "evidence")
    send_media(world, user, "audio", mp3_with_artist(), **KINDS["audio"])
    await world.settle()
    await world.tap(user, "Remove the hidden details")
    for label in ("Done", "No", "Yes", "Yes"):
        await world.tap(user, label)
    stored = next(f for f in world.emu.bot_state().files.values() if f.file_name == "Okonkwo interview.mp3")
    stored.data = b"ID3\x04\x00\x00\x00\x00\x00\x10" + bytes(64)
    await world.tap(user, "Submit")
    told = world.last(user.user_id)
    assert told.startswith(T("report.submit.file_refused", number=1, reason="").split(" file 1")[0])
    assert "screenshot" not in told
    await world.tap(user, T("button.remove_and_submit", number=1))
    assert "Your receipt code" in receipt_text(world, user)
    assert await case_count(world.vault) == 1


# --- 4. audio, video, video notes and animations -----------------------------------------------------------


@pytest.mark.parametrize(
    ("field", "content", "media_type", "draft_name", "sealed_name"),
    [
        ("audio", mp3_with_artist, MP3, "audio", "recording.mp3"),
        ("video", mp4_with_place, MP4, "video.mp4", "video.mp4"),
        ("animation", silent_mp4, MP4, "animation.mp4", "video.mp4"),
        ("video_note", silent_mp4, MP4, "video-note.mp4", "video.mp4"),
    ],
)
async def test_audio_video_and_animations_are_evidence_typed_by_their_bytes(
    world: BotWorld,
    vault: Vault,
    alice: UnlockedOfficer,
    field: str,
    content: Any,
    media_type: str,
    draft_name: str,
    sealed_name: str,
) -> None:
    user = world.user(6300030 + list(KINDS).index(field))
    await reach(world, user, "evidence")
    data = content()
    neutral = {"audio": "audio", "video": "video.mp4", "animation": "animation.mp4"}.get(
        field, "video-note.mp4"
    )
    inspected = evidence.inspect(data, filename=neutral, media_type="application/octet-stream")
    findings = [f.summary for f in inspected]
    assert findings, "the file carries a name the package finds"
    question = await replies(
        world, user.user_id, lambda: send_media(world, user, field, data, **KINDS[field])
    )
    assert len(question) == 1
    for summary in findings:
        assert f"- {summary}" in question[0]
    pending = (await chat_state.load(vault, user.user_id)).pending_evidence
    assert pending is not None and pending.kind == field and pending.media_type == media_type
    assert pending.filename == draft_name, "a neutral name by kind, not the sender's name"
    await world.tap(user, "Remove the hidden details")
    code = await to_review_and_submit(world, user)
    (sealed,) = await sealed_files(vault, alice, code)
    assert sealed.meta["media_type"] == media_type
    assert sealed.meta["filename"] == sealed_name, "named by bot.evidence for the real type"
    assert NAME.encode() in data and NAME.encode() not in sealed.body
    assert sealed.meta["metadata_kept"] is False


@pytest.mark.parametrize("field", list(KINDS))
def test_each_media_message_is_described_with_a_neutral_name(field: str) -> None:
    """files.describe on the message as Telegram sends it (also the round video note, which the bot's
    handler table does not route yet): Telegram's id of the file, a name that says nothing but the kind."""
    extra = dict(KINDS[field])
    extra.pop("file_name", None)
    item = {"file_id": "F-" + field, "file_unique_id": "U", "file_size": 7, "duration": 1, **extra}
    payload: dict[str, Any] = {
        "message_id": 1,
        "date": 0,
        "chat": {"id": 5, "type": "private"},
        field: item,
        "caption": " the rota ",
    }
    if field == "animation":
        payload["document"] = {"file_id": "F-" + field, "file_unique_id": "U", "file_name": "giphy.mp4"}
    answer = files.describe(Message.de_json(payload, None))
    names = {
        "audio": "audio",
        "video": "video.mp4",
        "video_note": "video-note.mp4",
        "animation": "animation.mp4",
    }
    assert answer is not None and answer.file_id == "F-" + field and answer.kind == field
    assert answer.filename == names[field] and answer.size == 7 and answer.caption == "the rota"


async def test_stickers_contacts_locations_and_polls_at_the_evidence_step_change_nothing(
    world: BotWorld,
) -> None:
    user = world.user(6300040)
    await reach(world, user, "evidence")
    emu = world.emu
    for label, act in (
        ("sticker", lambda: emu.send_sticker(user)),
        ("contact", lambda: emu.send_contact(user, "+447700900999", "Pat")),
        ("location", lambda: emu.send_location(user, 51.5072, -0.1276)),
        ("poll", lambda: emu.send_poll(user, "Who saw it?", ["Me", "Nobody"])),
    ):
        await refused(world, user, act, T("input.unsupported"), f"{label} at the evidence step")


# --- 5. the words for what was found (review 2) ------------------------------------------------------------


def plain_mp4() -> bytes:
    return make("mp4", "libx264", None)


@pytest.mark.parametrize("field", ["video_note", "animation"])
async def test_a_video_note_or_gif_with_nothing_hidden_is_checked_not_told_of_a_camera_name(
    world: BotWorld, field: str
) -> None:
    """The bot names these "video-note.mp4" and "animation.mp4" itself: no finding about the reporter."""
    user = world.user(6300050 + ["video_note", "animation"].index(field))
    await reach(world, user, "evidence")
    extra = {k: v for k, v in KINDS[field].items() if k != "file_name"}
    told = await replies(world, user.user_id, lambda: send_media(world, user, field, plain_mp4(), **extra))
    assert told == [T("report.evidence.added", count=1)]


def _boxes(data: bytes) -> list[tuple[bytes, bytes]]:
    out, index = [], 0
    while index + 8 <= len(data):
        size, kind = struct.unpack(">I4s", data[index : index + 8])
        out.append((kind, data[index : index + size]))
        index += size
    return out


def _box(kind: bytes, payload: bytes) -> bytes:
    return struct.pack(">I", len(payload) + 8) + kind + payload


def mp4_the_muxer_refuses() -> bytes:
    """An MP4 (the review's) whose place and artist sit in a `udta` box the remuxer cannot write back:
    inspection reads both, cleaning hands it back unchanged (cleanable False)."""
    boxes = _boxes(make("mp4", "mpeg4", "aac"))
    moov = next(data for kind, data in boxes if kind == b"moov")
    place = _box(b"\xa9xyz", struct.pack(">HH", 18, 0) + b"+51.5074-000.1275/")
    artist = _box(b"\xa9ART", struct.pack(">HH", len(NAME), 0) + NAME.encode())
    moov = _box(b"moov", moov[8:] + _box(b"udta", place + artist))
    return boxes[0][1] + moov + b"".join(data for kind, data in boxes if kind != b"ftyp")


async def test_a_known_type_that_cannot_be_cleaned_says_so_with_what_it_carries_and_drops_the_name(
    world: BotWorld, vault: Vault, alice: UnlockedOfficer
) -> None:
    user = world.user(6300052)
    await reach(world, user, "evidence")
    video = mp4_the_muxer_refuses()
    assert not evidence.clean(video, filename="v.mp4", media_type=MP4).cleaned, "the premise"
    findings = [f.summary for f in evidence.inspect(video, filename="video.mp4", media_type=MP4)]
    assert any(NAME in s for s in findings) and any("where it was filmed" in s for s in findings)
    extra = {**KINDS["video"], "file_name": "PXL_20240512_031522.mp4"}
    (question,) = await replies(world, user.user_id, lambda: send_media(world, user, "video", video, **extra))
    assert question != T("report.evidence.cannot_check.video")
    assert "could not remove the hidden details from this video safely" in question
    for summary in findings:
        assert f"- {summary}" in question
    await world.tap(user, T("button.send_anyway"))
    code = await to_review_and_submit(world, user)
    (sealed,) = await sealed_files(vault, alice, code)
    assert sealed.body == video and sealed.meta["metadata_kept"] is True
    assert sealed.meta["filename"] == "video.mp4"


def mov_from_an_iphone() -> bytes:
    """The review's MOV: Apple's keys, each read by FFmpeg twice (as Apple's key and as a plain tag)."""
    tags = {
        "creation_time": "2024-05-12T03:15:22.000000Z",
        "com.apple.quicktime.model": "iPhone 15",
        "com.apple.quicktime.location.ISO6709": "+51.5074-000.1275/",
    }
    return make("mov", "mpeg4", "aac", tags, muxer_options={"movflags": "use_metadata_tags"})


async def test_a_detail_is_listed_once_even_when_the_file_holds_it_twice(world: BotWorld) -> None:
    user = world.user(6300053)
    await reach(world, user, "evidence")
    mov = mov_from_an_iphone()
    found = [f.summary for f in evidence.inspect(mov, filename="clip.mov", media_type="video/quicktime")]
    assert "a detail saved in the file (iPhone 15)" in found, "the premise: the package reads it twice"
    await world.send_document(user, mov, "clip.mov", "video/quicktime")
    question = world.last(user.user_id)
    assert "- the phone or camera that made it (iPhone 15)" in question
    assert "(iPhone 15)" not in question.replace("- the phone or camera that made it (iPhone 15)", "")
    assert "+51.5074-000.1275/" in question and question.count("+51.5074-000.1275/") == 1
    await world.tap(user, "Remove the hidden details")
    await to_review_and_submit(world, user)
    receipt = receipt_text(world, user)
    assert receipt.count("iPhone 15") == 1 and receipt.count("+51.5074-000.1275/") == 1


def test_an_entry_is_not_listed_beside_itself_marked_removed() -> None:
    from bot.evidence import Finding

    listed = files.distinct(
        [
            Finding("other", "an embedded object Candour cannot check"),
            Finding("other", "an embedded object Candour cannot check (removed)"),
            Finding("device", "the phone or camera that made it (iPhone 15)"),
            Finding("other", "a detail saved in the file (iPhone 15)"),
            Finding("other", "a detail saved in the file (Jane)"),
        ]
    )
    assert [f.summary for f in listed] == [
        "an embedded object Candour cannot check",
        "the phone or camera that made it (iPhone 15)",
        "a detail saved in the file (Jane)",
    ]
