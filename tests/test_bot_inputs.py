"""End to end: every odd thing a reporter can send gets a clear answer and changes nothing (issue 3, point 6;
brief promise 5, "Clear answers to bad input", and promise 4 for drafts and restarts).

The real python-telegram-bot Application polls the local Bot API emulator over HTTP (tests.bot_world) on a
real vault. For each bad input the test checks both halves of the promise:

- the reply: exactly one message (or a button's pop-up answer) whose text is the English catalogue's
  (read from bot/locales through Catalogue, so a reworded .po does not break the tests);
- nothing changed: the chat's sealed draft is the same as before (its `trail`, the message ids /wipe will
  delete, aside) and no case exists.

Covered: stickers, locations, contacts, polls, forwarded and edited messages, unknown commands, /help and
/privacy, text where a button is expected, text over the limits, files before the evidence step,
unsupported, unreadable and oversized files, stale and forged buttons, at every step of the report; then
/report, /start and /status mid-flow (Continue / Start again), /cancel, group chats (the bot leaves), /wipe
of messages older than Telegram's 48 hours, a restart mid-report, the bot's command list, and a database
outage (the SQLite file made unopenable under the running bot; an unreachable PostgreSQL server).

SQLite only (PostgreSQL changes nothing in how the bot answers), except the restart test, which also runs on
PostgreSQL.
"""

from __future__ import annotations

import asyncio
import contextlib
import io
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from PIL import Image
from sqlmodel import select

from bot import evidence
from bot import state as chat_state
from bot.application import build_application, start_services
from bot.catalogue import Catalogue
from bot.emulator.state import FakeUser
from bot.handlers import COMMANDS
from storage import cases, casework
from storage.db import Database, DatabaseConfig, sqlite_path
from storage.models import Case
from storage.officers import UnlockedOfficer
from storage.vault import Vault
from tests.bot_world import BotWorld, wait_for
from tests.test_bot_report import photo_with_gps

T = Catalogue().for_language("en")
STALE = T("button.stale")
NARRATIVE = "In every briefing my sergeant makes jokes about my accent."


@pytest.fixture
def engine_name() -> str:
    """SQLite only in this module (the restart test parametrises both engines itself)."""
    return "sqlite"


# --- observing the bot ----------------------------------------------------------------------------------


async def draft(vault: Vault, chat_id: int) -> dict[str, Any]:
    """The chat's state as the vault holds it, without the bookkeeping (message ids to wipe, last touched)."""
    data = (await chat_state.load(vault, chat_id)).to_json()
    for bookkeeping in ("trail", "trail_since", "touched"):
        data.pop(bookkeeping)
    return data


async def case_count(vault: Vault) -> int:
    async with vault.db.transaction() as session:
        return len((await session.exec(select(Case.id))).all())


def sent_count(world: BotWorld, chat_id: int) -> int:
    return len(world.emu.bot_messages(chat_id, include_deleted=True))


async def replies(world: BotWorld, chat_id: int, act: Callable[[], object]) -> list[str]:
    """Do a user action; the texts of the messages the bot sent in answer."""
    before = sent_count(world, chat_id)
    act()
    await world.settle()
    return [m.get("text") or "" for m in world.emu.bot_messages(chat_id, include_deleted=True)[before:]]


async def refused(
    world: BotWorld, user: FakeUser, act: Callable[[], object], expected: str, label: str = ""
) -> None:
    """The bot answers `act` with exactly `expected`, and the draft and the cases are as they were."""
    vault, chat = world.vault, user.user_id
    state_before, cases_before = await draft(vault, chat), await case_count(vault)
    assert await replies(world, chat, act) == [expected], label
    assert await draft(vault, chat) == state_before, f"{label}: the draft changed"
    assert await case_count(vault) == cases_before, f"{label}: a case was created"


async def press(world: BotWorld, user: FakeUser, data: str, *, message_id: int | None = None) -> str | None:
    """Press a (forged) button on a bot message (the newest by default); the text of its pop-up answer."""
    chat = user.user_id
    if message_id is None:
        message_id = world.emu.bot_messages(chat)[-1]["message_id"]
    query_id = world.emu.press_button(user, message_id, data, forged=True)
    await world.settle()
    answer = world.emu.callback_answers[query_id]
    return answer.get("text") if answer else None


async def button_refused(
    world: BotWorld,
    user: FakeUser,
    data: str,
    *,
    message_id: int | None = None,
    expected: str = STALE,
    label: str = "",
) -> None:
    """A stale or forged button gets a pop-up answer, sends nothing, and changes nothing."""
    vault, chat = world.vault, user.user_id
    state_before, cases_before, sent_before = (
        await draft(vault, chat),
        await case_count(vault),
        sent_count(world, chat),
    )
    assert await press(world, user, data, message_id=message_id) == expected, f"{label} {data!r}"
    assert sent_count(world, chat) == sent_before, f"{label} {data!r}: the bot sent a message"
    assert await draft(vault, chat) == state_before, f"{label} {data!r}: the draft changed"
    assert await case_count(vault) == cases_before


def small_jpeg() -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (8, 8), (10, 120, 10)).save(out, format="JPEG")
    return out.getvalue()


# --- the report, step by step ---------------------------------------------------------------------------

Action = Callable[[BotWorld, FakeUser], Awaitable[object]]


def tap(label: str) -> Action:
    return lambda world, user: world.tap(user, label)


def say(text: str) -> Action:
    return lambda world, user: world.say(user, text)


def send_file(data: Callable[[], bytes], filename: str, mime_type: str) -> Action:
    return lambda world, user: world.send_document(user, data(), filename, mime_type)


# Each step of the report as (step, kind of answer it expects, how the reporter answers it).
SCRIPT: list[tuple[str, str, list[Action]]] = [
    ("categories", "buttons", [tap("Bullying"), tap("Racism"), tap("Done")]),
    ("narrative", "text", [say(NARRATIVE), tap("Done")]),
    ("when", "short text", [tap("It is still going on")]),
    ("where", "short text", [tap("North")]),
    ("people", "short text", [say("Sgt Harris 4471")]),
    ("person_role", "note", [tap("Sergeant")]),
    ("person_unit", "note", [tap("Don't know")]),
    ("person_more", "buttons", [tap("Done")]),
    ("witnesses", "short text", [say("PC Lee saw it")]),
    ("evidence", "files", [send_file(photo_with_gps, "IMG_20261101_221405.jpg", "image/jpeg")]),
    ("evidence_metadata", "buttons", [tap("Remove the hidden details"), tap("Done")]),
    ("risk", "buttons", [tap("No")]),
    ("reported_before", "buttons", [tap("Yes")]),
    ("checkins", "buttons", [tap("Yes")]),
    ("review", "buttons", []),
]
BEFORE_EVIDENCE = [step for step, _kind, _actions in SCRIPT[: [s[0] for s in SCRIPT].index("evidence")]]


async def reach(world: BotWorld, user: FakeUser, target: str) -> dict[str, Any]:
    """Start a report with /report and answer every step before `target`; returns the /report message."""
    command = await world.say(user, "/report")
    for step, _kind, actions in SCRIPT:
        if step == target:
            break
        for action in actions:
            await action(world, user)
    assert (await chat_state.load(world.vault, user.user_id)).step == target
    return command


async def submit(world: BotWorld, user: FakeUser) -> str:
    """Submit from the review step; the receipt code shown."""
    await world.tap(user, "Submit")
    receipt = next(t for t in world.texts(user.user_id) if "Your receipt code" in t)
    return receipt.split("Your receipt code:\n")[1].split("\n")[0]


async def submitted_report(vault: Vault, officer: UnlockedOfficer, code: str) -> casework.OpenedCase:
    view = await cases.reporter_view(vault, code=code)
    return await casework.open_case(vault, officer=officer, reference=view.reference)


def assert_script_answers(opened: casework.OpenedCase) -> None:
    """The submitted report holds the script's answers and nothing from the bad inputs."""
    report = opened.first(cases.REPORT).meta
    assert report["narrative"] == NARRATIVE
    assert report["when"] == "ongoing" and report["location_unit"] == "north-bcu"
    assert [(s["name"], s["staff_number"], s["role"]) for s in report["subjects"]] == [
        ("Sgt Harris", "4471", "sergeant")
    ]
    assert report["witnesses"] == "PC Lee saw it"
    assert report["risk_of_harm"] is False and report["reported_before"] is True
    assert report["checkin_consent"] is True
    assert len([i for i in opened.items if i.kind == cases.EVIDENCE]) == 1


# --- bad input at every step ----------------------------------------------------------------------------


def odd_messages(
    world: BotWorld, user: FakeUser, edit_target: int
) -> list[tuple[str, Callable[[], object], str]]:
    """Messages that are wrong at any step of a report, with the catalogue text that answers each."""
    emu = world.emu
    return [
        ("sticker", lambda: emu.send_sticker(user), T("input.unsupported")),
        ("location", lambda: emu.send_location(user, 51.5072, -0.1276), T("input.unsupported")),
        ("contact", lambda: emu.send_contact(user, "+447700900999", "Pat"), T("input.unsupported")),
        ("poll", lambda: emu.send_poll(user, "Who saw it?", ["Me", "Nobody"]), T("input.unsupported")),
        (
            "forwarded",
            lambda: emu.send_forwarded(user, "lol look at this", origin_name="PC Moss"),
            T("input.forwarded"),
        ),
        ("edited", lambda: emu.edit_text(user, edit_target, "changed my mind"), T("input.edited")),
    ]


def commands_mid_flow(world: BotWorld, user: FakeUser) -> list[tuple[str, Callable[[], object], str]]:
    """Commands that answer without touching the report in progress."""
    emu = world.emu
    return [
        ("unknown command", lambda: emu.send_text(user, "/frobnicate now"), T("input.unknown_command")),
        ("/help", lambda: emu.send_text(user, "/help"), T("help.text")),
        ("/privacy", lambda: emu.send_text(user, "/privacy"), T("privacy.notice")),
        ("/report", lambda: emu.send_text(user, "/report"), T("flow.in_progress")),
        ("/start", lambda: emu.send_text(user, "/start"), T("flow.in_progress")),
        ("/status", lambda: emu.send_text(user, "/status"), T("flow.in_progress")),
    ]


FORGED = ("not-a-button", "AAAAAA|done|", "AAAAAA|cancel|", "x|nope|1", "x|lang|klingon", "a|b", "|||")


async def bad_inputs_at(world: BotWorld, user: FakeUser, step: str, kind: str, edit_target: int) -> None:
    """The bad inputs that apply at `step`, each answered and changing nothing."""
    emu, vault = world.emu, world.vault
    for label, act, expected in odd_messages(world, user, edit_target):
        await refused(world, user, act, expected, f"{label} at {step}")
    # Why two commands per step, in turn: each still meets most steps, and the test stays quick (the bot is
    # limited to 30 messages a second).
    commands = commands_mid_flow(world, user)
    index = [s for s, _k, _a in SCRIPT].index(step)
    for label, act, expected in (commands[(2 * index) % 6], commands[(2 * index + 1) % 6]):
        await refused(world, user, act, expected, f"{label} at {step}")
    if kind in ("buttons", "files"):
        text = lambda: emu.send_text(user, "I'd rather type it")  # noqa: E731
        await refused(world, user, text, T("input.use_buttons"), f"text at {step}")
    if kind in ("short text", "note"):  # a note: what the reporter knows that the buttons don't offer
        too_long = lambda: emu.send_text(user, "x" * 301)  # noqa: E731
        await refused(world, user, too_long, T("input.too_long"), f"long text at {step}")
    if step in BEFORE_EVIDENCE:
        for label, act in (
            ("photo", lambda: emu.send_photo(user, small_jpeg())),
            (
                "document",
                lambda: emu.send_document(user, b"notes\n", filename="n.txt", mime_type="text/plain"),
            ),
            ("voice", lambda: emu.send_voice(user, b"OggS\x00\x02" + bytes(40))),
        ):
            await refused(world, user, act, T("input.file_not_expected"), f"{label} at {step}")
    if step == "evidence":
        oversized = lambda: emu.send_document(  # noqa: E731
            user, bytes(20 * 1024 * 1024 + 1), filename="bodycam.mp4", mime_type="video/mp4"
        )
        await refused(world, user, oversized, T("report.evidence.too_big"), "a file over 20 MB")
        damaged = lambda: emu.send_document(  # noqa: E731
            user, b"\xff\xd8\xff\xe0" + b"not really a jpeg" * 20, filename="x.jpg", mime_type="image/jpeg"
        )
        await refused(
            world, user, damaged, T("report.evidence.unreadable", reason=evidence.DAMAGED), "a damaged JPEG"
        )
        # A file the bot cannot check: it asks, and "Don't send it" leaves the report as it was.
        state_before = await draft(vault, user.user_id)
        unknown = lambda: emu.send_document(  # noqa: E731
            user, b"\x00\x01binary\x02" * 30, filename="a.bin", mime_type="x/y"
        )
        assert await replies(world, user.user_id, unknown) == [T("report.evidence.cannot_check")]
        await world.tap(user, "Don't send it")
        assert world.last(user.user_id) == T("report.evidence")
        assert await draft(vault, user.user_id) == state_before
    for data in FORGED:
        await button_refused(world, user, data, label=f"forged at {step}")


async def test_bad_input_at_every_step_gets_a_clear_answer_and_changes_nothing(
    world: BotWorld, vault: Vault, alice: UnlockedOfficer
) -> None:
    """Six reporters walk the report concurrently (as the bot serves many chats), each over a few of the
    steps, trying every bad input at each; then the one at the review step submits, twice in a row: one
    case, holding only the real answers."""
    steps = [step for step, _kind, _actions in SCRIPT]
    starts = ["categories", "where", "person_unit", "evidence", "risk", "checkins"]

    async def walk(index: int, start: str) -> FakeUser:
        user = world.user(6100100 + index)
        command = await reach(world, user, start)
        end = starts[index + 1] if index + 1 < len(starts) else None
        for step, kind, actions in SCRIPT[steps.index(start) : steps.index(end) if end else None]:
            assert (await chat_state.load(vault, user.user_id)).step == step
            await bad_inputs_at(world, user, step, kind, command["message_id"])
            for action in actions:
                await action(world, user)
        return user

    outcomes = await asyncio.gather(
        *(walk(i, start) for i, start in enumerate(starts)), return_exceptions=True
    )
    failures = [o for o in outcomes if isinstance(o, BaseException)]
    if failures:
        raise failures[0]
    assert await case_count(vault) == 0

    reviewer = outcomes[-1]
    assert isinstance(reviewer, FakeUser)
    message_id, _label, submit_data = next(
        b for b in world.buttons(reviewer.user_id) if b[1].startswith("Submit")
    )
    first = world.emu.press_button(reviewer, message_id, submit_data)
    second = world.emu.press_button(reviewer, message_id, submit_data)  # a double tap, before the bot answers
    await world.settle()
    assert (world.emu.callback_answers[second] or {}).get("text") == STALE
    assert world.emu.callback_answers[first] is not None
    assert world.emu.callback_answers[first]["text"] is None  # answered, with no pop-up
    receipts = [t for t in world.texts(reviewer.user_id) if "Your receipt code" in t]
    assert len(receipts) == 1 and await case_count(vault) == 1
    code = receipts[0].split("Your receipt code:\n")[1].split("\n")[0]
    assert_script_answers(await submitted_report(vault, alice, code))
    assert world.emu.errors == [], "every request the bot made was valid"


async def test_narrative_over_the_limit_is_refused_and_the_rest_kept(world: BotWorld, vault: Vault) -> None:
    user = world.user(6100002)
    await reach(world, user, "narrative")
    part = "It happened again. " * 210  # 3990 characters: under Telegram's 4096 per message
    for _ in range(5):
        await world.say(user, part)
    await refused(
        world,
        user,
        lambda: world.emu.send_text(user, part + "and then some more."),
        T("report.narrative.too_long", limit=20_000),
        "the sixth part",
    )
    state = await chat_state.load(vault, user.user_id)
    assert [len(p) for p in state.narrative] == [len(part.strip())] * 5


async def test_a_file_after_the_evidence_step_is_not_told_files_come_later(world: BotWorld) -> None:
    user = world.user(6100004)
    await reach(world, user, "evidence_metadata")
    problems = []
    for step in ("evidence_metadata", "risk"):
        if step == "risk":
            await world.tap(user, "Remove the hidden details")
            await world.tap(user, "Done")
        state_before = await draft(world.vault, user.user_id)
        answer = await replies(world, user.user_id, lambda: world.emu.send_photo(user, small_jpeg()))
        assert await draft(world.vault, user.user_id) == state_before
        if len(answer) != 1 or "Files come later" in answer[0]:
            problems.append((step, answer))
    assert problems == []


async def test_idle_chat_answers_odd_messages_and_stores_no_report(world: BotWorld, vault: Vault) -> None:
    user = world.user(6100005)
    emu = world.emu
    await refused(world, user, lambda: emu.send_text(user, "hello?"), T("input.idle"), "text when idle")
    await refused(world, user, lambda: emu.send_sticker(user), T("input.unsupported"), "sticker when idle")
    await refused(
        world, user, lambda: emu.send_text(user, "/cancel"), T("flow.nothing_to_cancel"), "/cancel idle"
    )
    await button_refused(world, user, "AAAAAA|done|", label="a button of no flow")
    assert (await chat_state.load(vault, user.user_id)).flow == "idle"


# --- stale and forged buttons ---------------------------------------------------------------------------


async def test_buttons_of_a_question_answered_by_typing_are_stale(world: BotWorld) -> None:
    """The reporter typed the date instead of tapping; the date buttons, still on screen, do nothing now."""
    user = world.user(6100010)
    await reach(world, user, "when")
    when_prompt = world.emu.bot_messages(user.user_id)[-1]
    await world.say(user, "March 2026")
    today = next(
        b[2] for b in world.buttons(user.user_id) if b[0] == when_prompt["message_id"] and b[1] == "Today"
    )
    await button_refused(world, user, today, message_id=when_prompt["message_id"], label="the date buttons")
    state = await draft(world.vault, user.user_id)
    assert state["when"] == "March 2026" and state["step"] == "when_ongoing"  # then: still going on?


async def test_an_earlier_done_button_does_not_skip_a_later_step(world: BotWorld) -> None:
    user = world.user(6100011)
    await reach(world, user, "narrative")
    await world.say(user, "First part.")
    first_added = world.emu.bot_messages(user.user_id)[-1]["message_id"]
    await world.say(user, "Second part.")
    await world.tap(user, "Done")  # on the newest "Added" message; the first one keeps its Done button
    for action in [tap("It is still going on"), tap("North"), say("Sgt Harris 4471"), tap("Sergeant")]:
        await action(world, user)
    await world.tap(user, "Don't know")
    await world.tap(user, "Done")
    await world.say(user, "PC Lee")
    assert (await chat_state.load(world.vault, user.user_id)).step == "evidence"
    done = next(b[2] for b in world.buttons(user.user_id) if b[0] == first_added)
    await button_refused(world, user, done, message_id=first_added, label="the narrative's old Done")


async def test_a_forged_role_is_refused(world: BotWorld) -> None:
    user = world.user(6100012)
    await reach(world, user, "person_role")
    token = (await chat_state.load(world.vault, user.user_id)).token
    await button_refused(world, user, f"{token}|role|Chief Constable", label="forged role")


async def test_a_forged_yes_no_answer_is_refused(world: BotWorld) -> None:
    user = world.user(6100013)
    await reach(world, user, "risk")
    token = (await chat_state.load(world.vault, user.user_id)).token
    await button_refused(world, user, f"{token}|yn|maybe", label="forged yes/no")


async def test_a_forged_edit_section_is_refused(world: BotWorld) -> None:
    user = world.user(6100014)
    await reach(world, user, "review")
    token = (await chat_state.load(world.vault, user.user_id)).token
    review = world.emu.bot_messages(user.user_id)[-1]
    await button_refused(world, user, f"{token}|edit|everything", label="forged edit")
    assert world.emu.bot_messages(user.user_id)[-1].get("reply_markup") == review.get("reply_markup")


async def test_forged_global_buttons_change_nothing(world: BotWorld) -> None:
    user = world.user(6100015)
    await reach(world, user, "when")
    await button_refused(world, user, "x|read|999999", expected=T("push.gone"), label="another's message")
    await button_refused(world, user, "x|reply|999999", label="reply to nothing")
    await button_refused(world, user, "x|lang|", label="no language")
    # The start menu's "Make a report" mid-report asks, as /report does.
    state_before = await draft(world.vault, user.user_id)
    before = sent_count(world, user.user_id)
    assert await press(world, user, "x|go|report") is None
    assert (
        world.texts(user.user_id)[-1] == T("flow.in_progress")
        and sent_count(world, user.user_id) == before + 1
    )
    assert await draft(world.vault, user.user_id) == state_before
    assert await case_count(world.vault) == 0


# --- commands in the middle of a flow -------------------------------------------------------------------


async def test_report_mid_flow_offers_continue_and_start_again(world: BotWorld, vault: Vault) -> None:
    user = world.user(6100020)
    chat = user.user_id
    await reach(world, user, "person_role")
    for command in ("/report", "/start", "/status"):
        await refused(
            world, user, lambda c=command: world.emu.send_text(user, c), T("flow.in_progress"), command
        )

    # Continue: the question of the step is asked again; every answer is kept.
    state_before = await draft(vault, chat)
    await world.tap(user, "Continue my report")
    assert world.last(chat) == T("report.person.role", name="Sgt Harris, 4471")
    assert await draft(vault, chat) == state_before
    old_role_prompt = world.emu.bot_messages(chat)[-1]

    # Start again: a fresh report; the old report's buttons are stale.
    await refused(world, user, lambda: world.emu.send_text(user, "/report"), T("flow.in_progress"), "/report")
    await world.tap(user, "Start again")
    assert world.last(chat) == T("report.categories")
    fresh = await draft(vault, chat)
    assert fresh["flow"] == "report" and fresh["step"] == "categories"
    assert fresh["categories"] == [] and fresh["narrative"] == [] and fresh["people"] == []
    assert fresh["person"] is None and fresh["token"] != state_before["token"]
    sergeant = next(
        b["callback_data"] for row in old_role_prompt["reply_markup"]["inline_keyboard"] for b in row
    )
    await button_refused(
        world, user, sergeant, message_id=old_role_prompt["message_id"], label="old report's role button"
    )
    assert await case_count(vault) == 0


async def test_cancel_mid_flow_discards_the_answers(world: BotWorld, vault: Vault) -> None:
    user = world.user(6100021)
    chat = user.user_id
    await reach(world, user, "witnesses")
    witnesses_prompt = world.emu.bot_messages(chat)[-1]
    said = await replies(world, chat, lambda: world.emu.send_text(user, "/cancel"))
    assert len(said) == 1 and said[0].startswith(T("flow.cancelled") + "\n\n")
    assert witnesses_prompt["message_id"] in world.emu.deleted_ids(chat), "the report's messages went"
    state = await draft(vault, chat)
    assert state["flow"] == "idle" and state["step"] == ""
    for answer in ("categories", "narrative", "people", "evidence"):
        assert state[answer] == [], answer
    assert state["when"] == "" and state["location_unit"] is None and state["person"] is None
    assert await case_count(vault) == 0
    skip = witnesses_prompt["reply_markup"]["inline_keyboard"][0][0]["callback_data"]
    await button_refused(world, user, skip, message_id=witnesses_prompt["message_id"], label="cancelled flow")
    await refused(
        world, user, lambda: world.emu.send_text(user, "/cancel"), T("flow.nothing_to_cancel"), "again"
    )
    # A new report starts empty, not where the cancelled one was.
    await world.say(user, "/report")
    assert world.last(chat) == T("report.categories")
    assert (await draft(vault, chat))["categories"] == []


# --- groups, commands, wiping ---------------------------------------------------------------------------


async def test_in_a_group_the_bot_says_it_works_in_private_and_leaves(world: BotWorld, vault: Vault) -> None:
    user = world.user(6100030)
    group = -1001234567
    world.emu.send_in_group(user, group, "/report")
    await world.settle()
    group_texts = [m.get("text") for m in world.emu.bot_messages(group)]
    assert group_texts == [T("group.private_only")]
    assert group in world.emu.left_chats
    world.emu.send_in_group(user, group, "hello?")  # after leaving the bot no longer sees the group
    await world.settle()
    assert [m.get("text") for m in world.emu.bot_messages(group)] == group_texts
    assert world.emu.bot_messages(user.user_id) == []
    assert await draft(vault, group) == await draft(vault, user.user_id) == idle()
    assert await case_count(vault) == 0


def idle() -> dict[str, Any]:
    data = chat_state.ChatState().to_json()
    for bookkeeping in ("trail", "trail_since", "touched"):
        data.pop(bookkeeping)
    return data


async def test_the_eight_commands_are_registered(world: BotWorld) -> None:
    """The command menu: set at start (setMyCommands), and what Telegram then gives back (getMyCommands)."""
    expected = [(name, T(f"command.{name}")) for name in COMMANDS]
    assert len(expected) == 8
    set_calls = [
        params
        for method, params in world.emu.calls
        if method == "setMyCommands" and not params.get("language_code")
    ]  # the default (English) menu; each other language's is set with its code (tests/test_bot_welsh.py)
    assert [(c["command"], c["description"]) for c in set_calls[-1]["commands"]] == expected
    assert world.app is not None
    registered = await world.app.bot.get_my_commands()
    assert [(c.command, c.description) for c in registered] == expected


async def test_wipe_deletes_the_flow_messages(world: BotWorld) -> None:
    user = world.user(6100040)
    chat = user.user_id
    await reach(world, user, "when")
    ids = {m["message_id"] for m in world.emu.chat(chat)}
    calls_before = len(world.emu.calls)
    answer = await replies(world, chat, lambda: world.emu.send_text(user, "/wipe"))
    assert answer == [T("wipe.done", count=len(ids) + 1)]  # and the /wipe command itself
    live = [m for m in world.emu.chat(chat) if not m["deleted"]]
    assert [m.get("text") for m in live] == answer
    # Every message is younger than 48 hours, so one deleteMessages call does it (none one by one).
    methods = [method for method, _params in world.emu.calls[calls_before:]]
    assert methods.count("deleteMessages") == 1 and "deleteMessage" not in methods


async def test_an_answered_question_turns_into_the_next_one(world: BotWorld) -> None:
    """A button pressed on the newest message: the message becomes the next question (one edit, nothing new
    to leave on the phone); pressed on an older message, the next question comes as a new message and the
    old one loses its buttons."""
    user = world.user(6100045)
    chat = user.user_id
    await reach(world, user, "when")
    question = world.emu.bot_messages(chat)[-1]
    count, calls = len(world.emu.bot_messages(chat, include_deleted=True)), len(world.emu.calls)
    await world.tap(user, T("when.month"))
    assert len(world.emu.bot_messages(chat, include_deleted=True)) == count
    now = next(m for m in world.emu.bot_messages(chat) if m["message_id"] == question["message_id"])
    assert now["text"] == T("report.where")
    methods = [method for method, _params in world.emu.calls[calls:] if method != "getUpdates"]
    assert methods == ["editMessageText", "answerCallbackQuery"]

    await world.say(user, "/help")  # a message after the question: it is no longer the newest
    count = len(world.emu.bot_messages(chat, include_deleted=True))
    await world.tap(user, "North")
    messages = world.emu.bot_messages(chat, include_deleted=True)
    assert len(messages) == count + 1 and messages[-1]["text"] == T("report.people")
    old = next(m for m in messages if m["message_id"] == question["message_id"])
    assert old["text"] == T("report.where") and not old.get("reply_markup")


async def test_wipe_says_plainly_what_it_could_not_delete(world: BotWorld, clock) -> None:
    """Telegram lets a bot delete messages for 48 hours only: the older ones stay, and the reporter is told."""
    user = world.user(6100041)
    chat = user.user_id
    await reach(world, user, "narrative")
    old = {m["message_id"] for m in world.emu.chat(chat)}
    clock.advance(timedelta(hours=24))
    await world.say(user, NARRATIVE)  # keeps the draft (24 hours) alive
    clock.advance(timedelta(hours=24, minutes=30))
    before = {m["message_id"] for m in world.emu.chat(chat)}
    answer = await replies(world, chat, lambda: world.emu.send_text(user, "/wipe"))
    new = before - old
    assert answer == [T("wipe.done", count=len(new) + 1) + "\n\n" + T("wipe.partial", count=len(old))]
    deleted = world.emu.deleted_ids(chat)
    assert deleted >= new and not deleted & old


async def test_wipe_after_two_idle_days_says_what_is_left(world: BotWorld, clock) -> None:
    user = world.user(6100042)
    chat = user.user_id
    await reach(world, user, "when")
    old = {m["message_id"] for m in world.emu.chat(chat)}
    clock.advance(timedelta(hours=49))
    answer = await replies(world, chat, lambda: world.emu.send_text(user, "/wipe"))
    assert answer == [T("wipe.done", count=1) + "\n\n" + T("wipe.partial", count=len(old))]


# --- restart and outage ---------------------------------------------------------------------------------


@pytest.mark.parametrize("engine_name", ["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
async def test_a_restart_resumes_where_the_reporter_was(
    world: BotWorld, vault: Vault, alice: UnlockedOfficer, engine_name: str
) -> None:
    user = world.user(6100050)
    await reach(world, user, "witnesses")
    before = await draft(vault, user.user_id)
    await world.stop()
    await world.start()
    assert await draft(vault, user.user_id) == before
    started = False
    for step, _kind, actions in SCRIPT:
        started = started or step == "witnesses"
        if started:
            for action in actions:
                await action(world, user)
    code = await submit(world, user)
    assert_script_answers(await submitted_report(vault, alice, code))


@contextlib.asynccontextmanager
async def sqlite_file_gone(vault: Vault) -> AsyncIterator[None]:
    """A real outage under the running bot: the SQLite file (and its -wal, -shm) moved away and a folder put
    in its place, so no connection can open it; everything is put back afterwards."""
    path = sqlite_path(vault.db.config.url)
    assert path is not None
    await vault.db.dispose()
    moved: list[tuple[Path, Path]] = []
    for suffix in ("", "-wal", "-shm"):
        original = Path(f"{path}{suffix}")
        if original.exists():
            away = original.with_name(original.name + ".away")
            original.rename(away)
            moved.append((away, original))
    path.mkdir()
    try:
        yield
    finally:
        await vault.db.dispose()
        path.rmdir()
        for away, original in moved:
            away.rename(original)


async def test_database_outage_is_told_and_the_draft_kept(world: BotWorld, vault: Vault) -> None:
    user = world.user(6100060)
    chat = user.user_id
    await reach(world, user, "when")
    state_before = await draft(vault, chat)
    message_id, _label, today = next(b for b in world.buttons(chat) if b[1] == "Today")
    async with sqlite_file_gone(vault):
        assert await replies(world, chat, lambda: world.emu.send_text(user, "March 2026")) == [
            T("error.database")
        ]
        assert await replies(world, chat, lambda: world.emu.send_sticker(user)) == [T("error.database")]
        tapped = lambda: world.emu.press_button(user, message_id, today)  # noqa: E731
        assert await replies(world, chat, tapped) == [T("error.database")]
    assert await draft(vault, chat) == state_before
    assert await case_count(vault) == 0
    # Back up: the same answer now goes through, on top of the kept draft.
    await world.say(user, "March 2026")
    after = await draft(vault, chat)
    assert after["when"] == "March 2026" and after["step"] == "when_ongoing"
    assert (
        after["narrative"] == state_before["narrative"] and after["categories"] == state_before["categories"]
    )


async def test_an_unreachable_database_server_is_told(world: BotWorld, vault: Vault, clock) -> None:
    """A bot whose PostgreSQL server refuses connections (port 1) tells the reporter to try again shortly."""
    token = "999:DOWN"
    world.emu.add_bot(token)
    down = Vault(
        db=Database(DatabaseConfig(url="postgresql://nobody@127.0.0.1:1/x")),
        keys=vault.keys,
        kdf=vault.kdf,
        clock=clock,
    )
    app = build_application(
        token=token, vault=down, catalogue=Catalogue(), api_url=world.emu.root_url, delivery_interval=0.2
    )
    await app.initialize()
    await start_services(app)
    await app.start()
    assert app.updater is not None
    await app.updater.start_polling(poll_interval=0, timeout=1)
    try:
        bot = world.emu.bot_state(token)
        user = world.user(6100061)
        bot.send_text(user, "/report")
        await wait_for(lambda: bot.bot_message_count(user.user_id) >= 1)
        bot.send_text(user, "Sgt Harris keeps mocking my accent")
        await wait_for(lambda: bot.bot_message_count(user.user_id) >= 2)
        assert [m.get("text") for m in bot.bot_messages(user.user_id)] == [T("error.database")] * 2
    finally:
        await app.updater.stop()
        await app.stop()
        await app.shutdown()
        await down.db.dispose()
    assert await case_count(vault) == 0
