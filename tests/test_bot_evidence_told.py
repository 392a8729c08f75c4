"""Told exactly (issue 10, point 4): the reporter sees, per file, what was found and what was removed; a
file Candour cannot clean is named as such, with the choice of a screenshot instead or the original kept
after a warning; a refusal is told and changes nothing; a "voice message" is handled as what its bytes are.

The real bot polls the Bot API emulator over HTTP (tests.bot_world) on a real vault; files are examined
and cleaned by the real cleaner in its worker process. What the bot says is checked against what the
evidence package itself finds in the same bytes (so the wording of a finding may change freely), and what
was sealed is read back by an officer opening the case, with exiftool as an outside witness for GPS.

Covered: a photo with GPS (listed, removed, named in the receipt; or kept as evidence); a plain file and a
real voice note (checked, nothing found); an archive (type not supported: told, kept after the warning, or
dropped for a screenshot); a photo whose cleaning fails the check (told apart, with what it carries);
damaged files (the refusal's sentence, draft unchanged); a file refused at submission (which file, nothing
submitted); "voice messages" that are a PNG or an MP4; files added to an existing report.
"""

from __future__ import annotations

import dataclasses
import io
import json
import subprocess
import zipfile
from collections.abc import Callable
from pathlib import Path

import pytest
from PIL import Image, PngImagePlugin
from sqlmodel import select

from bot import evidence, files
from bot import state as chat_state
from bot.catalogue import Catalogue
from bot.cleaner import Cleaner
from bot.emulator.state import FakeUser
from bot.evidence import names
from bot.evidence.types import MP4
from bot.state import CANNOT_CLEAN_UNSAFE, EvidenceAnswer
from storage import cases, casework
from storage.models import Draft
from storage.officers import UnlockedOfficer
from storage.vault import Vault
from tests.bot_world import BotWorld
from tests.test_bot_inputs import case_count, draft, reach, refused, replies, submit, submitted_report
from tests.test_bot_report import photo_with_gps
from tests.test_cleaner_process import launcher
from tests.test_cleaner_wire import FAKE_WORKER
from tests.test_evidence_media import PLACE, make, voice_note

T = Catalogue().for_language("en")
EXIFTOOL = Path("/usr/bin/exiftool")
PHOTO_NAME = "IMG_20261101_221405.jpg"


@pytest.fixture
def engine_name() -> str:
    """SQLite only: how the bot tells the reporter does not depend on the database engine."""
    return "sqlite"


# --- files made here -------------------------------------------------------------------------------------


def png_with_author() -> bytes:
    info = PngImagePlugin.PngInfo()
    info.add_text("Author", "Wendeline Okonkwo")
    out = io.BytesIO()
    Image.new("RGB", (24, 16), (30, 30, 200)).save(out, format="PNG", pnginfo=info)
    return out.getvalue()


def zip_of_minutes() -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as archive:
        archive.writestr("minutes.txt", "Meeting of 3 November: the rota was changed again.\n")
    return out.getvalue()


def found(data: bytes, filename: str, media_type: str) -> list[str]:
    """What the evidence package itself finds in these bytes (the worker runs the same code)."""
    return [f.summary for f in evidence.inspect(data, filename=filename, media_type=media_type)]


def removed(data: bytes, filename: str, media_type: str) -> list[str]:
    return [f.summary for f in evidence.clean(data, filename=filename, media_type=media_type).removed]


def gps_tags(data: bytes, tmp_path: Path) -> dict[str, object]:
    """Every GPS tag exiftool reads in the file (an outside witness, not Candour's code)."""
    path = tmp_path / "witness.jpg"
    path.write_bytes(data)
    result = subprocess.run(
        [str(EXIFTOOL), "-j", "-a", "-G1", "-gps:all", "-xmp:all", str(path)],
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    )
    tags = json.loads(result.stdout)[0]
    return {k: v for k, v in tags.items() if "GPS" in k}


# --- walking the report ----------------------------------------------------------------------------------


async def to_review_and_submit(world: BotWorld, user: FakeUser) -> str:
    """From the evidence step: Done, the three answers, Submit; the receipt code."""
    await world.tap(user, "Done")
    await world.tap(user, "No")
    await world.tap(user, "Yes")
    await world.tap(user, "Yes")
    assert (await chat_state.load(world.vault, user.user_id)).step == "review"
    return await submit(world, user)


def receipt_text(world: BotWorld, user: FakeUser) -> str:
    return next(t for t in world.texts(user.user_id) if "Your receipt code" in t)


async def sealed_files(vault: Vault, officer: UnlockedOfficer, code: str) -> list[casework.OpenedItem]:
    opened = await submitted_report(vault, officer, code)
    return [item for item in opened.items if item.kind == cases.EVIDENCE]


# --- a photo with GPS ------------------------------------------------------------------------------------


async def test_a_photo_with_gps_is_listed_plainly_and_the_receipt_names_what_was_removed(
    world: BotWorld, vault: Vault, alice: UnlockedOfficer, tmp_path: Path
) -> None:
    user = world.user(6200001)
    await reach(world, user, "evidence")
    photo = photo_with_gps()
    assert gps_tags(photo, tmp_path), "the witness sees the planted GPS position"
    await world.send_document(user, photo, PHOTO_NAME, "image/jpeg")

    question = world.last(user.user_id)
    findings = found(photo, PHOTO_NAME, "image/jpeg")
    assert any(s.startswith("where the photo was taken") for s in findings)
    for summary in findings:
        if summary.startswith(names.NAME_FINDING):
            # Replaced whatever is chosen, so not asked about (the receipt shows the sealed name).
            assert summary not in question
            continue
        assert f"- {summary}" in question, "every finding is listed, as the cleaner worded it"
    assert question.startswith(T("report.evidence.metadata", findings="", parts="").split("\n")[0])
    # The draft holds the summaries sealed: not in the database in clear.
    async with vault.db.reading() as session:
        stored = (await session.exec(select(Draft.sealed))).all()
    assert stored and not any(b"where the photo" in blob for blob in stored)

    await world.tap(user, "Remove the hidden details")
    assert world.last(user.user_id) == T("report.evidence.added.removing", count=1)
    code = await to_review_and_submit(world, user)

    receipt = receipt_text(world, user)
    assert T("report.sealed.removed", number=1, name="photo.jpg", removed="") in receipt
    expected = removed(photo, PHOTO_NAME, "image/jpeg")
    assert expected, "cleaning removes something from this photo"
    for summary in expected:
        assert f"- {summary}" in receipt, "the receipt names each thing removed, from the clean's result"
    (sealed,) = await sealed_files(vault, alice, code)
    assert sealed.meta["metadata_kept"] is False and sealed.meta["filename"] == "photo.jpg"
    assert gps_tags(sealed.body, tmp_path) == {}, "exiftool finds no GPS in what was sealed"
    with Image.open(io.BytesIO(sealed.body)) as image:
        assert not image.getexif().get_ifd(0x8825) and 0x0110 not in image.getexif()


async def test_a_photo_kept_as_evidence_is_told_as_kept(
    world: BotWorld, vault: Vault, alice: UnlockedOfficer, tmp_path: Path
) -> None:
    user = world.user(6200002)
    await reach(world, user, "evidence")
    photo = photo_with_gps()
    await world.send_document(user, photo, PHOTO_NAME, "image/jpeg")
    await world.tap(user, "Keep them")
    renamed = T("report.evidence.renamed.device", name="photo.jpg")  # its name is replaced all the same
    assert world.last(user.user_id) == T("report.evidence.added.kept", count=1, renamed=renamed)
    code = await to_review_and_submit(world, user)
    # The details inside are kept as evidence; the phone's name with the moment is not (names.py).
    assert T("report.sealed.kept", number=1, name="photo.jpg") in receipt_text(world, user)
    (sealed,) = await sealed_files(vault, alice, code)
    assert sealed.body == photo and sealed.meta["metadata_kept"] is True
    assert gps_tags(sealed.body, tmp_path), "the place the reporter kept as evidence is there"


# --- nothing to find -------------------------------------------------------------------------------------


async def test_a_plain_file_is_told_checked_with_nothing_found(
    world: BotWorld, vault: Vault, alice: UnlockedOfficer
) -> None:
    user = world.user(6200003)
    await reach(world, user, "evidence")
    notes = b"Rota notes: 3 Nov, 9 Nov.\n"
    assert found(notes, "notes.txt", "text/plain") == []
    answer = await replies(
        world,
        user.user_id,
        lambda: world.emu.send_document(user, notes, filename="notes.txt", mime_type="text/plain"),
    )
    assert answer == [T("report.evidence.added", count=1)]
    assert "checked it and found no hidden details" in answer[0]
    code = await to_review_and_submit(world, user)
    assert T("report.sealed.checked", number=1, name="notes.txt") in receipt_text(world, user)
    (sealed,) = await sealed_files(vault, alice, code)
    assert sealed.body == notes and sealed.meta["metadata_kept"] is False


# --- a type Candour cannot clean -------------------------------------------------------------------------


async def test_an_archive_is_told_uncleanable_and_kept_after_the_warning(
    world: BotWorld, vault: Vault, alice: UnlockedOfficer
) -> None:
    user = world.user(6200004)
    await reach(world, user, "evidence")
    archive = zip_of_minutes()
    warning = await replies(
        world,
        user.user_id,
        lambda: world.emu.send_document(user, archive, filename="minutes.zip", mime_type="application/zip"),
    )
    assert warning == [T("report.evidence.cannot_check")]
    assert "screenshot" in warning[0] and "where or when" in warning[0]
    labels = [label for _m, label, _d in world.buttons(user.user_id)]
    assert labels[-2:] == [T("button.dont_send"), T("button.send_anyway")]
    pending = (await chat_state.load(vault, user.user_id)).pending_evidence
    assert pending is not None and not pending.cleanable and pending.cannot_clean == "type"

    await world.tap(user, T("button.send_anyway"))
    assert world.last(user.user_id) == T("report.evidence.added.unchecked", count=1, renamed="")
    code = await to_review_and_submit(world, user)
    assert T("report.sealed.kept", number=1, name="minutes.zip") in receipt_text(world, user)
    (sealed,) = await sealed_files(vault, alice, code)
    assert sealed.body == archive and sealed.meta["metadata_kept"] is True


async def test_an_archive_dropped_for_a_screenshot_stores_nothing(
    world: BotWorld, vault: Vault, alice: UnlockedOfficer
) -> None:
    user = world.user(6200005)
    await reach(world, user, "evidence")
    before = await draft(vault, user.user_id)
    world.emu.send_document(user, zip_of_minutes(), filename="minutes.zip", mime_type="application/zip")
    await world.settle()
    await world.tap(user, T("button.dont_send"))
    assert world.last(user.user_id) == T("report.evidence")
    assert await draft(vault, user.user_id) == before
    code = await to_review_and_submit(world, user)
    assert "Your files, as sealed" not in receipt_text(world, user)
    assert await sealed_files(vault, alice, code) == []


def photo_by_jfif() -> bytes:
    """A photo whose photographer is named "JFIF": the cleaned JPEG's own header holds that word, so the
    independent check cannot tell it from a survivor and cleaning fails closed (NOT_CLEANED)."""
    exif = Image.Exif()
    exif[0x013B] = "JFIF"  # Artist
    out = io.BytesIO()
    Image.new("RGB", (16, 16), (1, 2, 3)).save(out, format="JPEG", exif=exif)
    return out.getvalue()


async def test_a_photo_that_cannot_be_cleaned_safely_is_told_and_may_be_kept(
    world: BotWorld, vault: Vault, alice: UnlockedOfficer
) -> None:
    user = world.user(6200011)
    await reach(world, user, "evidence")
    photo = photo_by_jfif()
    with pytest.raises(evidence.EvidenceError, match="could not remove"):
        evidence.clean(photo, filename="a.jpg", media_type="image/jpeg")  # the premise of this test
    findings = found(photo, "a.jpg", "image/jpeg")
    world.emu.send_document(user, photo, filename="a.jpg", mime_type="image/jpeg")
    await world.settle()
    question = world.last(user.user_id)
    assert "could not remove the hidden details from this file safely" in question
    assert question != T("report.evidence.cannot_check")
    for summary in findings:
        if summary.startswith(names.NAME_FINDING):
            continue  # replaced whatever is chosen: not asked about
        assert f"- {summary}" in question, "what it carries is said"
    pending = (await chat_state.load(vault, user.user_id)).pending_evidence
    assert pending is not None and pending.cannot_clean == CANNOT_CLEAN_UNSAFE
    await world.tap(user, T("button.send_anyway"))
    code = await to_review_and_submit(world, user)
    assert T("report.sealed.kept", number=1, name="photo.jpg") in receipt_text(world, user)
    (sealed,) = await sealed_files(vault, alice, code)
    assert sealed.body == photo and sealed.meta["metadata_kept"] is True
    assert sealed.meta["filename"] == "photo.jpg"


def test_a_file_that_could_not_be_cleaned_safely_says_so_and_what_it_carries() -> None:
    """The other reason a file cannot be cleaned (its cleaning failed the check): told apart from an
    unsupported type, with what it was found to carry."""
    answer = EvidenceAnswer("f", "document", "a.pdf", "application/pdf", 10, cleanable=False)
    answer.cannot_clean, answer.findings = CANNOT_CLEAN_UNSAFE, ["the author's name (Jane Smith)"]
    text = files.cannot_clean(T, answer)
    assert text != T("report.evidence.cannot_check")
    assert "could not remove the hidden details from this file safely" in text
    assert "- the author's name (Jane Smith)" in text and "screenshot" in text


# --- refusals --------------------------------------------------------------------------------------------


async def test_a_damaged_file_gets_the_refusal_sentence_and_the_draft_is_unchanged(world: BotWorld) -> None:
    user = world.user(6200006)
    await reach(world, user, "evidence")
    whole = png_with_author()
    for name, data, media_type in (
        ("x.jpg", b"\xff\xd8\xff\xe0" + b"not really a jpeg" * 20, "image/jpeg"),
        ("cut.png", whole[: len(whole) // 2], "image/png"),
    ):
        act = lambda d=data, n=name, m=media_type: world.emu.send_document(  # noqa: E731
            user, d, filename=n, mime_type=m
        )
        await refused(world, user, act, T("report.evidence.unreadable", reason=evidence.DAMAGED), name)
    assert (await chat_state.load(world.vault, user.user_id)).evidence == []


async def test_a_file_refused_at_submission_is_named_and_nothing_is_submitted(world: BotWorld) -> None:
    """Telegram serves the file again at submission; if the cleaner refuses it then, the reporter is told
    which file and why, and the draft stays at review with both files."""
    user = world.user(6200010)
    await reach(world, user, "evidence")
    await world.send_document(user, b"Rota notes.\n", "notes.txt", "text/plain")
    await world.send_document(user, photo_with_gps(), PHOTO_NAME, "image/jpeg")
    await world.tap(user, "Remove the hidden details")
    for label in ("Done", "No", "Yes", "Yes"):
        await world.tap(user, label)
    stored = next(f for f in world.emu.bot_state().files.values() if f.file_name == PHOTO_NAME)
    stored.data = b"\xff\xd8\xff\xe0" + b"now damaged" * 20
    before = await draft(world.vault, user.user_id)
    await world.tap(user, "Submit")
    told = T("report.submit.file_refused", number=2, reason=evidence.DAMAGED)
    assert world.last(user.user_id) == told
    assert await draft(world.vault, user.user_id) == before
    assert not any("Your receipt code" in text for text in world.texts(user.user_id))
    assert await case_count(world.vault) == 0


# --- a voice message that is not one ---------------------------------------------------------------------


def mp4_with_place() -> bytes:
    return make("mp4", "libx264", "aac", {"location": PLACE, "artist": "Wendeline Okonkwo"})


@pytest.mark.parametrize(
    ("real", "media_type", "suffix", "planted"),
    [(png_with_author, evidence.PNG, ".png", b"Okonkwo"), (mp4_with_place, MP4, ".mp4", b"Okonkwo")],
)
async def test_a_voice_message_that_is_another_type_is_handled_as_that_type(
    world: BotWorld,
    vault: Vault,
    alice: UnlockedOfficer,
    real: Callable[[], bytes],
    media_type: str,
    suffix: str,
    planted: bytes,
) -> None:
    """The issue's defect: a "voice message" whose bytes are a picture or a video was stored unchecked."""
    user = world.user(6200007)
    await reach(world, user, "evidence")
    content = real()
    findings = found(content, "voice.ogg", "audio/ogg")
    assert findings, "the package reads what the file carries"
    world.emu.send_voice(user, content)
    await world.settle()
    question = world.last(user.user_id)
    for summary in findings:
        assert f"- {summary}" in question
    pending = (await chat_state.load(vault, user.user_id)).pending_evidence
    assert pending is not None and pending.media_type == media_type
    await world.tap(user, "Remove the hidden details")
    code = await to_review_and_submit(world, user)
    (sealed,) = await sealed_files(vault, alice, code)
    # Named by bot.evidence for the real type, never "voice.ogg": a neutral name ending in `suffix`.
    assert sealed.meta["media_type"] == media_type
    assert sealed.meta["filename"] == names.safe("voice.ogg", media_type, neutral=True)
    assert sealed.meta["filename"].endswith(suffix)
    assert planted in content and planted not in sealed.body
    assert sealed.meta["metadata_kept"] is False
    assert found(sealed.body, sealed.meta["filename"], media_type) == []


async def test_a_real_voice_note_is_checked_not_waved_through(
    world: BotWorld, vault: Vault, alice: UnlockedOfficer
) -> None:
    user = world.user(6200009)
    await reach(world, user, "evidence")
    note = voice_note()
    answer = await replies(world, user.user_id, lambda: world.emu.send_voice(user, note))
    assert answer == [T("report.evidence.added", count=1)]
    code = await to_review_and_submit(world, user)
    (sealed,) = await sealed_files(vault, alice, code)
    assert sealed.meta["media_type"] == evidence.OGG_AUDIO and sealed.body == note


# --- a file added to an existing report ------------------------------------------------------------------


async def status_file_step(world: BotWorld, user: FakeUser) -> None:
    submitted = await cases.submit(
        world.vault,
        report=cases.ReportSubmission(categories=("bullying",), narrative="Shouted at, every shift."),
        contact=str(user.user_id),
    )
    await world.say(user, "/status")
    await world.say(user, submitted.receipt_code)
    await world.tap(user, T("button.add_evidence"))


async def test_a_file_added_later_is_told_what_was_removed(world: BotWorld, alice: UnlockedOfficer) -> None:
    user = world.user(6200008)
    await status_file_step(world, user)
    photo = photo_with_gps()
    await world.send_document(user, photo, "later.jpg", "image/jpeg")
    assert "where the photo was taken" in world.last(user.user_id)
    await world.tap(user, "Remove the hidden details")
    told, confirmed = world.texts(user.user_id)[-2:]
    assert told.startswith(T("status.evidence.removed", removed="").strip())
    for summary in removed(photo, "later.jpg", "image/jpeg"):
        assert f"- {summary}" in told
    assert confirmed == T("status.evidence.sent")

    await world.tap(user, T("button.add_evidence"))
    await world.send_document(user, b"rota\n", "rota.txt", "text/plain")
    told, confirmed = world.texts(user.user_id)[-2:]
    assert (told, confirmed) == (T("status.evidence.checked"), T("status.evidence.sent"))


# --- the machine, not the file ---------------------------------------------------------------------------


async def test_a_worker_refused_its_isolation_after_start_up_is_told_could_not_check_just_now(
    world: BotWorld, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """A later worker whose namespaces the kernel refused, with require_isolation: the reporter is told to
    try again in a few minutes (the machine is at fault), nothing about the file is logged, and the draft
    is unchanged."""
    assert world.app is not None
    services = world.app.bot_data["services"]
    python = launcher(tmp_path, "fake_worker", FAKE_WORKER, "not_isolated")
    strict = Cleaner(python=python)
    await strict.start()  # started unconfined (allowed then); the setting now forbids it
    strict.require_isolation = True
    world.app.bot_data["services"] = dataclasses.replace(services, cleaner=strict)
    try:
        user = world.user(6200012)
        await reach(world, user, "evidence")
        expected = T("report.evidence.unreadable", reason=T("evidence.reason.unavailable"))
        act = lambda: world.emu.send_document(  # noqa: E731
            user, png_with_author(), filename="Wendeline.png", mime_type="image/png"
        )
        with caplog.at_level("DEBUG"):
            await refused(world, user, act, expected, "isolation refused")
        ours = [r for r in caplog.records if r.name.split(".")[0] in ("bot", "candour", "storage")]
        assert not any("Wendeline" in r.getMessage() or r.exc_info for r in ours)
    finally:
        world.app.bot_data["services"] = services
        await strict.close()
