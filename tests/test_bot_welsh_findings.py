"""Welsh as an equal, for what a file carries and where people work: a Welsh reporter reads in Welsh what
the cleaner found in a photo and what it removed, and the starter policy's unit names in Welsh.

The real bot polls the Bot API emulator over HTTP (tests.bot_world) on a real vault; the photo is
examined and cleaned by the real cleaner in its worker process, which sends phrase ids, never sentences.
What the bot says is checked against what the evidence package itself finds in the same bytes, rendered
from the Welsh catalogue.
"""

from __future__ import annotations

import pytest

from bot import evidence, finding_words
from bot.catalogue import Catalogue
from bot.emulator.state import FakeUser
from bot.evidence import names
from policies.loader import starter_policy
from storage import cases
from storage.officers import UnlockedOfficer
from storage.vault import Vault
from tests.bot_world import BotWorld
from tests.test_bot_inputs import reach, submitted_report
from tests.test_bot_report import photo_with_gps

CY = Catalogue().for_language("cy")
EN = Catalogue().for_language("en")
PHOTO_NAME = "IMG_20261101_221405.jpg"


@pytest.fixture
def engine_name() -> str:
    """SQLite only: the words do not depend on the database engine."""
    return "sqlite"


def said_in(translator, data: bytes, *, cleaned: bool) -> list[str]:
    """What the evidence package finds in (or removes from) these bytes, in one language."""
    if cleaned:
        items = evidence.clean(data, filename=PHOTO_NAME, media_type="image/jpeg").removed
    else:
        items = evidence.inspect(data, filename=PHOTO_NAME, media_type="image/jpeg")
    return [finding_words.render(translator, f) for f in items if not names.about_the_name(f)]


async def welsh_to_evidence(world: BotWorld, user: FakeUser) -> None:
    """A Welsh report up to the files, naming a starter unit (by its Welsh button) twice on the way."""
    chat = user.user_id
    await world.say(user, "/start")
    assert world.last(chat) == CY("start.intro"), "Telegram's language picks Welsh"
    await world.tap(user, CY("button.report"))
    await world.tap(user, CY("category.bullying"))
    await world.tap(user, CY("button.done"))
    await world.say(user, "Mae fy rhingyll yn gwneud jôcs am fy acen ym mhob briffio.")
    await world.tap(user, CY("button.done"))
    await world.tap(user, CY("when.ongoing"))
    assert world.last(chat) == CY("report.where")
    labels = [label for _id, label, _data in world.buttons(chat)]
    for unit in starter_policy().units:
        assert CY(f"unit.{unit.id}") in labels, unit.id
        assert unit.name not in labels, f"{unit.id} is offered in Welsh, not by its English name"
    await world.tap(user, CY("unit.north-bcu"))
    assert world.last(chat) == CY("report.people")
    await world.say(user, "Rhingyll Harris 4471")
    await world.tap(user, CY("role.sergeant"))
    assert world.last(chat).startswith(CY("report.person.unit", name="x").split("\n")[0])
    await world.tap(user, CY("unit.cid"))
    await world.tap(user, CY("button.done"))
    await world.say(user, "Gwelodd PC Lee y cyfan")
    assert world.last(chat) == CY("report.evidence")


async def test_a_welsh_reporter_reads_in_welsh_what_a_photo_carries_and_what_was_removed(
    world: BotWorld, vault: Vault, alice: UnlockedOfficer
) -> None:
    user = world.user(7201, language_code="cy")
    chat = user.user_id
    await welsh_to_evidence(world, user)
    photo = photo_with_gps()
    await world.send_document(user, photo, PHOTO_NAME, "image/jpeg")

    question = world.last(chat)
    assert question.startswith(CY("report.evidence.metadata", findings="", parts="").split("\n")[0])
    welsh = said_in(CY, photo, cleaned=False)
    gps = next(line for line in welsh if line.startswith("ble tynnwyd y llun ("))
    assert "51.50722, -0.12750" in gps, "the shown value travels with the phrase id"
    for line in welsh:
        assert f"- {line}" in question, "every finding is listed, in Welsh"
    for english in said_in(EN, photo, cleaned=False):
        assert english.split(" (")[0] not in question, f"no English phrase: {english}"

    await world.tap(user, CY("button.remove_metadata"))
    assert world.last(chat) == CY("report.evidence.added.removing", count=1)
    await world.tap(user, CY("button.done"))
    await world.tap(user, CY("button.no"))
    await world.tap(user, CY("button.yes"))
    await world.tap(user, CY("button.yes"))
    review = world.last(chat)
    assert CY("review.where", value=CY("unit.north-bcu")) in review, "the unit chosen, in Welsh"
    assert CY("unit.cid") in review and "Criminal Investigation" not in review
    await world.tap(user, CY("button.submit"))

    receipt = next(t for t in world.texts(chat) if "Cod eich derbynneb" in t)
    gone = said_in(CY, photo, cleaned=True)
    assert any(line.startswith("ble tynnwyd y llun") for line in gone), "the clean removes the place"
    for line in gone:
        assert f"- {line}" in receipt, "the receipt names each thing removed, in Welsh"
    assert "where the photo was taken" not in receipt

    code = receipt.split("Cod eich derbynneb:\n")[1].split("\n")[0]
    report = (await submitted_report(vault, alice, code)).first(cases.REPORT).meta
    assert report["location_unit"] == "north-bcu", "the Welsh button routes by the policy's id"
    assert [s["unit"] for s in report["subjects"]] == ["cid"]


async def test_an_english_reporter_sees_the_policys_own_unit_names(world: BotWorld) -> None:
    user = world.user(7202, language_code="en")
    await reach(world, user, "where")
    labels = {label for _id, label, _data in world.buttons(user.user_id)}
    assert {u.name for u in starter_policy().units} <= labels
    assert CY("unit.north-bcu") not in labels


async def test_a_welsh_reporter_adding_a_photo_in_status_reads_what_was_removed_in_welsh(
    world: BotWorld,
) -> None:
    user = world.user(7203, language_code="cy")
    chat = user.user_id
    submitted = await cases.submit(
        world.vault,
        report=cases.ReportSubmission(categories=("bullying",), narrative="Gweiddi arna i, bob shifft."),
        contact=str(chat),
    )
    await world.say(user, "/status")
    await world.say(user, submitted.receipt_code)
    await world.tap(user, CY("button.add_evidence"))
    photo = photo_with_gps()
    await world.send_document(user, photo, "wedyn.jpg", "image/jpeg")
    assert "- ble tynnwyd y llun (51.50722, -0.12750)" in world.last(chat)
    await world.tap(user, CY("button.remove_metadata"))
    told, confirmed = world.texts(chat)[-2:]
    assert told.startswith(CY("status.evidence.removed", removed="").strip())
    for line in said_in(CY, photo, cleaned=True):
        assert f"- {line}" in told
    assert "where the photo" not in told and confirmed == CY("status.evidence.sent")


async def test_a_welsh_reporter_is_told_in_welsh_why_a_damaged_file_was_refused(world: BotWorld) -> None:
    user = world.user(7204, language_code="cy")
    await welsh_to_evidence(world, user)
    await world.send_document(user, b"\xff\xd8\xff\xe0" + b"nid jpeg go iawn" * 20, "x.jpg", "image/jpeg")
    told = world.last(user.user_id)
    assert told == CY("report.evidence.unreadable", reason=CY("evidence.reason.damaged"))
    assert evidence.DAMAGED not in told, "the worker names the refusal; the bot says it in Welsh"
