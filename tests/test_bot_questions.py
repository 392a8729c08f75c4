"""Questions a person can answer (issue 11, section 2), through the real bot polling the Bot API emulator:

- the role buttons are the catalogue's words, one "Don't know", and the typed name is not spliced into
  the question;
- what a reporter knows that the buttons don't offer is kept as a sealed note about the person, never as
  a role or unit (routing facts), and the buttons are shown again;
- typed words that name a button ("Professional Standards", "DS", "chief constable", in English or the
  chat's language) are met with "Do you mean …?" and that button, and the report is routed as the
  button routes it (promise 3: never to the subject's own unit);
- typed text at a buttons-only question is not told to use /cancel (which deletes the draft);
- a typed "when" made only of plain present-tense words that it is still going on (with a "since"/"from"
  date or "every day", in English or Welsh) sets `ongoing`; any other (an end date, past tense, doubt,
  negation, a "nope" after it) is asked about with buttons.
"""

from __future__ import annotations

from typing import Any

import pytest
from sqlmodel import select

from bot import questions
from bot.catalogue import Catalogue
from bot.emulator.state import FakeUser
from storage import cases, casework, policy_store
from storage.errors import NotEntitledError
from storage.models import Case, CaseQueue
from storage.officers import UnlockedOfficer
from storage.vault import Vault
from tests.bot_world import BotWorld
from tests.test_bot_inputs import draft, refused

T = Catalogue().for_language("en")
GROUP = "A sergeant and several PCs on my team"


@pytest.fixture
def engine_name() -> str:
    """SQLite only: the questions do not depend on the engine."""
    return "sqlite"


async def to_when(world: BotWorld, user: FakeUser) -> None:
    await world.say(user, "/report")
    await world.tap(user, "Bullying")
    await world.tap(user, "Done")
    await world.say(user, "They freeze me out of every briefing.")
    await world.tap(user, "Done")


async def to_people(world: BotWorld, user: FakeUser) -> None:
    await to_when(world, user)
    await world.tap(user, "It is still going on")
    await world.tap(user, "North")


async def from_witnesses_submit(world: BotWorld, user: FakeUser) -> str:
    """Skip witnesses and files, answer the rest, submit; the receipt code."""
    await world.tap(user, "Skip")  # witnesses
    await world.tap(user, "Skip")  # files
    for answer in ("No", "Yes", "No"):
        await world.tap(user, answer)
    await world.tap(user, "Submit")
    receipt = next(t for t in world.texts(user.user_id) if "Your receipt code" in t)
    return receipt.split("Your receipt code:\n")[1].split("\n")[0]


async def sealed_report(vault: Vault, officer: UnlockedOfficer, code: str) -> casework.OpenedCase:
    view = await cases.reporter_view(vault, code=code)
    return await casework.open_case(vault, officer=officer, reference=view.reference)


def labels_of_last(world: BotWorld, chat: int) -> list[str]:
    last = world.emu.bot_messages(chat)[-1]["message_id"]
    return [label for message_id, label, _data in world.buttons(chat) if message_id == last]


async def press_exactly(world: BotWorld, user: FakeUser, label: str) -> None:
    """Press the newest button labelled exactly `label` ("No" is not "Not sure")."""
    message_id, _label, data = [b for b in world.buttons(user.user_id) if b[1] == label][-1]
    world.emu.press_button(user, message_id, data)
    await world.settle()


async def test_role_buttons_are_words_with_one_dont_know(world: BotWorld, vault: Vault) -> None:
    user = world.user(6300001)
    chat = user.user_id
    await to_people(world, user)
    await world.say(user, GROUP)
    question = world.last(chat)
    assert question == T("report.person.role", name=GROUP)
    assert question.splitlines()[-1] == f"Person: {GROUP}", "the name stands apart from the question"
    assert f"{GROUP}'s" not in question
    async with vault.db.transaction() as session:
        policy = (await policy_store.active(session)).document
    labels = labels_of_last(world, chat)
    expected = [T(f"role.{r}") for r in policy.subject_roles if r != "unknown"] + [T("button.dont_know")]
    assert labels == expected
    assert labels.count(T("button.dont_know")) == 1
    assert not [label for label in labels if label in policy.subject_roles], "no raw ids"
    assert "Superintendent or above" in labels and "PCSO (community support officer)" in labels


async def test_what_the_buttons_dont_offer_is_a_note_not_a_routing_fact(
    world: BotWorld, vault: Vault, alice: UnlockedOfficer
) -> None:
    user = world.user(6300002)
    chat = user.user_id
    await to_people(world, user)
    await world.say(user, "Sgt Harris 4471")
    roles = labels_of_last(world, chat)
    await world.say(user, "acting up this month")  # a role the buttons don't offer
    # Kept as a note, and the buttons asked again: only a pressed button is a role.
    assert world.last(chat) == T("report.person.role.noted")
    assert labels_of_last(world, chat) == roles
    await world.tap(user, "Don't know")
    assert world.last(chat) == T("report.person.unit", name="Sgt Harris, 4471")
    units = labels_of_last(world, chat)
    await world.say(user, "the response team at the old station")  # a unit the buttons don't offer
    assert world.last(chat) == T("report.person.unit.noted")
    assert labels_of_last(world, chat) == units and units[-1] == T("button.dont_know")
    await world.tap(user, "Don't know")
    assert world.last(chat) == T("report.person.added", name="Sgt Harris, 4471")
    state = await draft(vault, chat)
    assert state["people"][0]["role"] == "unknown" and state["people"][0]["unit"] is None
    await world.tap(user, "Done")
    code = await from_witnesses_submit(world, user)
    case = await sealed_report(vault, alice, code)
    subject = case.first(cases.REPORT).meta["subjects"][0]
    assert subject["role"] == "unknown" and subject["unit"] is None, "free text is no routing fact"
    assert subject["description"] == "role: acting up this month; unit: the response team at the old station"


async def queues_of(vault: Vault, code: str) -> list[str]:
    """The queues a reporter's case went to."""
    reference = (await cases.reporter_view(vault, code=code)).reference
    async with vault.db.transaction() as session:
        case = (await session.exec(select(Case).where(Case.reference == reference))).one()
        rows = await session.exec(select(CaseQueue.queue_id).where(CaseQueue.case_id == case.id))
        return sorted(rows.all())


async def psd_officer_report(world: BotWorld, user: FakeUser, *, typed: bool) -> str:
    """A report about a PSD sergeant, the unit tapped or typed; its receipt code."""
    chat = user.user_id
    await to_people(world, user)
    await world.say(user, "Dave Price")
    await world.tap(user, "Sergeant")
    if typed:
        await world.say(user, "Professional Standards")
        psd = "Professional Standards Department (PSD)"
        assert world.last(chat) == T("report.person.unit.match", match=psd)
        labels = labels_of_last(world, chat)
        assert labels[0] == psd and labels.count(psd) == 1, "the match first, once"
        assert T("button.dont_know") in labels and len(labels) > 2, "the other buttons are still there"
        assert [b[1] for b in world.buttons(chat)].count(psd) == 1, "one set of buttons on screen"
    await world.tap(user, "Professional Standards")
    assert world.last(chat) == T("report.person.added", name="Dave Price")
    await world.tap(user, "Done")
    return await from_witnesses_submit(world, user)


async def test_a_typed_unit_is_routed_as_its_button_would_be(
    world: BotWorld, vault: Vault, alice: UnlockedOfficer, make_officer: Any
) -> None:
    """Promise 3 through typed words: "Professional Standards" typed at "Which unit…" keeps the report
    away from PSD, exactly as the PSD button does (alice is a PSD officer, ivy an independent reviewer)."""
    ivy = await make_officer("ivy", queues=("independent-review",), unit="training")
    tapped = await psd_officer_report(world, world.user(6300011), typed=False)
    typed = await psd_officer_report(world, world.user(6300012), typed=True)
    assert await queues_of(vault, typed) == await queues_of(vault, tapped) == ["independent-review"]
    for code in (typed, tapped):
        with pytest.raises(NotEntitledError):
            await sealed_report(vault, alice, code)
        assert (await sealed_report(vault, ivy, code)).reference


@pytest.mark.parametrize(
    ("typed", "role"),
    [
        ("DS", "sergeant"),
        ("he is a PC", "constable"),
        ("chief constable", "chief-officer"),
        ("ACC", "chief-officer"),
        ("Special constable", "special-constable"),
        ("acting up this month", None),
    ],
)
async def test_a_typed_role_offers_its_button(
    world: BotWorld, vault: Vault, alice: UnlockedOfficer, typed: str, role: str | None
) -> None:
    user = world.user(6300013)
    chat = user.user_id
    await to_people(world, user)
    await world.say(user, "Pat")
    await world.say(user, typed)
    if role is None:
        assert world.last(chat) == T("report.person.role.noted")
        return
    label = T(f"role.{role}")
    assert world.last(chat) == T("report.person.role.match", match=label)
    assert labels_of_last(world, chat)[0] == label
    await press_exactly(world, user, label)
    assert world.last(chat) == T("report.person.unit", name="Pat")
    assert (await draft(vault, chat))["person"]["role"] == role


async def test_dont_know_is_the_policys_unknown_role(
    world: BotWorld, vault: Vault, alice: UnlockedOfficer
) -> None:
    user = world.user(6300003)
    await to_people(world, user)
    await world.say(user, "PC Moss")
    await world.tap(user, "Don't know")  # role
    await world.tap(user, "Don't know")  # unit
    await world.tap(user, "Done")
    code = await from_witnesses_submit(world, user)
    subject = (await sealed_report(vault, alice, code)).first(cases.REPORT).meta["subjects"][0]
    assert subject["role"] == "unknown" and subject["unit"] is None


async def test_text_at_a_buttons_only_question_is_not_pointed_at_cancel(world: BotWorld) -> None:
    user = world.user(6300004)
    await to_people(world, user)
    await world.tap(user, "Skip")  # people
    await world.tap(user, "Skip")  # witnesses
    await world.tap(user, "Skip")  # files: now "Is anyone at risk of harm now?"
    text = lambda: world.emu.send_text(user, "hard to say")  # noqa: E731
    await refused(world, user, text, T("input.use_buttons"), "text at risk")
    assert "/cancel" not in T("input.use_buttons")


@pytest.mark.parametrize(
    ("typed", "asked", "tap", "ongoing"),
    [
        ("since March 2023, still going on", False, None, True),
        ("March 2023 and it is ongoing", False, None, True),
        ("March 2023", True, "Yes", True),
        ("Last spring; it stopped, it is not still going on", True, "No", False),
        ("Some time last year", True, "Not sure", None),
        ("It's still happening every week", False, None, True),
        ("from May 2024 to this day", False, None, True),
        # Past tense, doubt or negation beside words of "going on": asked, whichever way it is answered.
        ("it was ongoing for 2 years until he left in May", True, "No", False),
        ("ongoing until he retired in 2022", True, "No", False),
        ("I don't know if it is still going on", True, "Not sure", None),
        ("unsure whether ongoing", True, "Yes", True),
        ("maybe still going on", True, "Yes", True),
        ("it doesn't happen any more, it was continuing for years", True, "No", False),
    ],
)
async def test_a_typed_when_sets_ongoing_or_asks(
    world: BotWorld,
    vault: Vault,
    alice: UnlockedOfficer,
    typed: str,
    asked: bool,
    tap: str | None,
    ongoing: bool | None,
) -> None:
    user = world.user(6300005)
    chat = user.user_id
    await to_when(world, user)
    await world.say(user, typed)
    if asked:
        assert world.last(chat) == T("report.when.ongoing", when=typed)
        assert labels_of_last(world, chat) == [T("button.yes"), T("button.no"), T("button.not_sure")]
        assert tap is not None
        await press_exactly(world, user, tap)
    assert world.last(chat) == T("report.where")
    await world.tap(user, "North")
    await world.tap(user, "Skip")  # people
    code = await from_witnesses_submit(world, user)
    report = (await sealed_report(vault, alice, code)).first(cases.REPORT).meta
    assert report["when"] == typed and report["ongoing"] is ongoing


# Answers that say or hint that it stopped (issue 11, B1): each once set `ongoing`, a routing fact.
STOPPED = [
    "ongoing from 2023 to 2024",
    "ongoing up to last week",
    "ongoing through to June",
    "ongoing since January, it halted last week",
    "still ongoing, nope, it quit",
    "still ongoing: nope",
    "ongoing 'til May",
    "ongoing untill may",
    "still going on thru may",
    "the harassment halted in May; still going on is false",
    "ongoing from 2023 to 2024, it halted last week",
    "ongoing since 2023, 2024",
    "every day last year",
    "it was still going on",
    "roedd yn parhau tan fis Mai",
    "mae wedi stopio, dim yn dal i ddigwydd",
    "parhaus tan 2024",
]
# Plain present-tense words (with a "since"/"from" date, a frequency), in English and in Welsh.
GOING_ON = [
    "still going on",
    "it's still happening",
    "It\u2019s still going on.",
    "ongoing",
    "it hasn't stopped",
    "every day",
    "ongoing since January",
    "from last summer, ongoing",
    "since 2022 and it's still happening",
    "yn dal i ddigwydd",
    "parhaus",
    "ers mis Mawrth 2023, mae'n dal i ddigwydd",
    "mae'n digwydd bob wythnos",
    "dyw e ddim wedi stopio",
]


@pytest.mark.parametrize("typed", STOPPED)
def test_words_that_may_say_it_stopped_are_not_read_as_ongoing(typed: str) -> None:
    assert questions.says_ongoing(typed) is False


@pytest.mark.parametrize("typed", GOING_ON)
def test_plain_words_that_it_goes_on_are_read_as_ongoing(typed: str) -> None:
    assert questions.says_ongoing(typed) is True


@pytest.mark.parametrize("typed", STOPPED[:11])
async def test_a_when_that_may_have_stopped_is_asked_about(world: BotWorld, vault: Vault, typed: str) -> None:
    """Through the bot: the question with its buttons, and nothing stored as ongoing until one is pressed."""
    user = world.user(6300021)
    chat = user.user_id
    await to_when(world, user)
    await world.say(user, typed)
    assert world.last(chat) == T("report.when.ongoing", when=typed)
    assert labels_of_last(world, chat) == [T("button.yes"), T("button.no"), T("button.not_sure")]
    state = await draft(vault, chat)
    assert (state["step"], state["when"], state["ongoing"]) == ("when_ongoing", typed, None)
    await press_exactly(world, user, T("button.no"))
    assert world.last(chat) == T("report.where")
    assert (await draft(vault, chat))["ongoing"] is False


@pytest.mark.parametrize("typed", GOING_ON[:9])
async def test_a_when_that_plainly_goes_on_moves_on(world: BotWorld, vault: Vault, typed: str) -> None:
    user = world.user(6300022)
    chat = user.user_id
    await to_when(world, user)
    await world.say(user, typed)
    assert world.last(chat) == T("report.where")
    state = await draft(vault, chat)
    assert (state["step"], state["when"], state["ongoing"]) == ("where", typed, True)


async def test_a_welsh_when_sets_ongoing_or_is_asked_in_welsh(world: BotWorld, vault: Vault) -> None:
    cy = Catalogue().for_language("cy")
    for user_id, typed, ongoing in (
        (6300023, "ers mis Mawrth, mae'n dal i ddigwydd", True),
        (6300024, "roedd yn parhau tan fis Mai", None),
    ):
        user = world.user(user_id, language_code="cy")
        chat = user.user_id
        await world.say(user, "/report")
        await world.tap(user, cy("category.bullying"))
        await world.tap(user, cy("button.done"))
        await world.say(user, "Mae'n gweiddi arna i.")
        await world.tap(user, cy("button.done"))
        await world.say(user, typed)
        asked = cy("report.when.ongoing", when=typed)
        assert world.last(chat) == (cy("report.where") if ongoing else asked)
        assert (await draft(vault, chat))["ongoing"] is ongoing


async def test_the_review_says_whether_it_is_still_going_on(world: BotWorld) -> None:
    user = world.user(6300006)
    await to_when(world, user)
    await world.say(user, "March 2023")
    await world.tap(user, "Yes")
    await world.tap(user, "North")
    await world.tap(user, "Skip")  # people
    await world.tap(user, "Skip")  # witnesses
    await world.tap(user, "Skip")  # files
    for answer in ("No", "Yes", "No"):
        await world.tap(user, answer)
    review = world.last(user.user_id)
    assert T("review.when", value=T("review.when.ongoing", value="March 2023")) in review


async def test_a_role_typed_in_welsh_offers_its_button_in_welsh(world: BotWorld, vault: Vault) -> None:
    """The role labels are matched in the chat's language too: "rhingyll" at the Welsh role question."""
    cy = Catalogue().for_language("cy")
    user = world.user(6300014, language_code="cy")
    chat = user.user_id
    await world.say(user, "/report")
    await world.tap(user, cy("category.bullying"))
    await world.tap(user, cy("button.done"))
    await world.say(user, "Mae'n gweiddi arna i.")
    await world.tap(user, cy("button.done"))
    await world.tap(user, cy("when.ongoing"))
    await world.tap(user, cy("button.something_else"))
    await world.say(user, "Harris")
    await world.say(user, "rhingyll")
    assert world.last(chat) == cy("report.person.role.match", match=cy("role.sergeant"))
    await press_exactly(world, user, cy("role.sergeant"))
    assert (await draft(vault, chat))["person"]["role"] == "sergeant"
