"""End to end: a reporter makes a full report through the real bot over HTTP, and officers read it."""

from __future__ import annotations

import io

import pytest
from PIL import Image

from storage import cases, casework
from storage.errors import NotEntitledError
from storage.vault import Vault
from tests.bot_world import BotWorld


def photo_with_gps() -> bytes:
    image = Image.new("RGB", (60, 40), (200, 30, 30))
    exif = Image.Exif()
    exif[0x010F] = "Apple"  # Make
    exif[0x0110] = "iPhone 15"  # Model
    exif[0x0132] = "2026:11:01 22:14:05"
    gps = {1: "N", 2: (51.0, 30.0, 26.0), 3: "W", 4: (0.0, 7.0, 39.0)}
    exif[0x8825] = gps
    out = io.BytesIO()
    image.save(out, format="JPEG", exif=exif)
    return out.getvalue()


async def make_report(
    world: BotWorld, user, *, subject_unit: str | None = None, keep_photo_metadata=False
) -> str:
    """Drive the whole report conversation; returns the receipt code shown."""
    chat = user.user_id
    await world.say(user, "/start")
    assert "not end-to-end encrypted" in world.last(chat)
    await world.tap(user, "Make a report")
    await world.tap(user, "Bullying")
    await world.tap(user, "Racism")
    await world.tap(user, "Done")
    await world.say(user, "In every briefing my sergeant makes jokes about my accent.")
    await world.say(user, "Others laugh along; it has happened for months.")
    await world.tap(user, "Done")
    await world.tap(user, "It is still going on")
    await world.tap(user, "North")
    await world.say(user, "Sgt Harris 4471")
    await world.tap(user, "Sergeant")
    if subject_unit:
        await world.tap(user, subject_unit)
    else:
        await world.tap(user, "Don't know")
    await world.tap(user, "Done")
    await world.say(user, "PC Lee saw it")
    await world.send_document(user, photo_with_gps(), "IMG_20261101_221405.jpg", "image/jpeg")
    assert "hidden details" in world.last(chat) and "where the photo was taken" in world.last(chat)
    await world.tap(user, "Keep them" if keep_photo_metadata else "Remove the hidden details")
    await world.send_document(user, b"Rota notes: 3 Nov, 9 Nov.\n", "notes.txt", "text/plain")
    assert "File 2 received" in world.last(chat)
    await world.tap(user, "Done")
    await world.tap(user, "No")  # risk of harm
    await world.tap(user, "Yes")  # reported before
    await world.tap(user, "Yes")  # check-ins
    review = world.last(chat)
    assert "Please check your report" in review and "accent" in review and "Files: 2 files" in review
    await world.tap(user, "Submit")
    receipt = next(t for t in world.texts(chat) if "Your receipt code" in t)
    return receipt.split("Your receipt code:\n")[1].split("\n")[0]


async def test_full_report_reaches_routed_queue_only(world: BotWorld, vault: Vault, make_officer) -> None:
    conduct = await make_officer("carol", queues=("psd-conduct",), unit="professional-standards")
    corruption = await make_officer("dave", queues=("psd-counter-corruption",), unit="professional-standards")
    user = world.user(7368201945, first_name="Wendeline", last_name="Okonkwo", username="zqx_reporter")
    code = await make_report(world, user)

    case_id = await cases.case_for_receipt(vault, code=code)
    view = await cases.reporter_view(vault, code=code)
    opened = await casework.open_case(vault, officer=conduct, reference=view.reference)
    report = opened.first(cases.REPORT).meta
    assert (
        "accent" in report["narrative"]
        and report["when"] == "ongoing"
        and report["location_unit"] == "north-bcu"
    )
    assert report["subjects"][0]["staff_number"] == "4471" and report["subjects"][0]["role"] == "sergeant"
    assert report["checkin_consent"] is True and report["reported_before"] is True
    assert "iopc-referral-assessment" in opened.flags
    photo, notes = [i for i in opened.items if i.kind == cases.EVIDENCE]
    with Image.open(io.BytesIO(photo.body)) as image:
        exif = image.getexif()
        assert not exif.get_ifd(0x8825) and 0x0110 not in exif, "GPS and phone model are gone"
    assert photo.meta["filename"] == "photo.jpg" and photo.meta["metadata_kept"] is False
    assert notes.body == b"Rota notes: 3 Nov, 9 Nov.\n"
    with pytest.raises(NotEntitledError):
        await casework.open_case(vault, officer=corruption, reference=view.reference)
    assert case_id == opened.id

    # Leave no trace: the flow's messages are gone; the receipt stays until the reporter deletes it.
    live = world.texts(user.user_id)
    assert any("Your receipt code" in t for t in live)
    assert not any("accent" in t for t in live)
    user_messages = [m for m in world.emu.chat(user.user_id) if not m["from_bot"] and not m["deleted"]]
    assert user_messages == []
    await world.tap(user, "I have saved my code")
    assert not any("Your receipt code" in t for t in world.texts(user.user_id))


async def test_kept_metadata_is_sealed_as_sent(world: BotWorld, vault: Vault, alice) -> None:
    user = world.user(5550001)
    code = await make_report(world, user, keep_photo_metadata=True)
    view = await cases.reporter_view(vault, code=code)
    opened = await casework.open_case(vault, officer=alice, reference=view.reference)
    photo = next(i for i in opened.items if i.kind == cases.EVIDENCE)
    assert photo.body == photo_with_gps() or photo.meta["metadata_kept"] is True
    with Image.open(io.BytesIO(photo.body)) as image:
        assert image.getexif().get_ifd(0x8825), "the reporter kept the location as evidence"


async def test_report_about_standards_unit_reaches_independent_queue_only(
    world: BotWorld, vault: Vault, make_officer, alice
) -> None:
    reviewer = await make_officer("ivy", queues=("independent-review",))
    user = world.user(5550002)
    code = await make_report(world, user, subject_unit="Professional Standards")
    view = await cases.reporter_view(vault, code=code)
    opened = await casework.open_case(vault, officer=reviewer, reference=view.reference)
    assert opened.queues == ("independent-review",)
    with pytest.raises(NotEntitledError):
        await casework.open_case(vault, officer=alice, reference=view.reference)


async def test_file_added_later_is_asked_about_and_cleaned(world: BotWorld, vault: Vault, alice) -> None:
    user = world.user(5550003)
    code = await make_report(world, user)
    await world.say(user, "/status")
    await world.say(user, code)
    await world.tap(user, "Add a file")
    await world.send_document(user, photo_with_gps(), "later.jpg", "image/jpeg")
    assert "hidden details" in world.last(user.user_id)
    await world.tap(user, "Remove the hidden details")
    assert world.last(user.user_id) == "The file was added to your report."
    view = await cases.reporter_view(vault, code=code)
    opened = await casework.open_case(vault, officer=alice, reference=view.reference)
    later = [i for i in opened.items if i.kind == cases.EVIDENCE][-1]
    with Image.open(io.BytesIO(later.body)) as image:
        assert not image.getexif().get_ifd(0x8825)
