"""End to end: the standards team's follow-up reaches the reporter through the real bot (issue 3, points 4
and 9; brief "Follow-up and deadlines" and promise 1, Anonymity).

The real python-telegram-bot Application polls the local Bot API emulator over HTTP (tests.bot_world), on
a real vault over SQLite and PostgreSQL; reports are made through the whole conversation (make_report).

- Push, not pull: an officer's message (or an acknowledgement) is pushed as a discreet notice with a Read
  button; Read shows it in place of the notice and destroys the outbox copy; Reply seals the answer into
  the case. A forged Read button from another chat shows nothing and consumes nothing.
- /status with the receipt code (deleted at once): status, timeline and the team's words; reply and add a
  file; typo, unknown and throttled codes, and the throttle's hour.
- A reporter who blocked the bot: the delivery fails with a reason, the bot carries on, the officer still
  sees the message.
- Afterwards the database (SQLite file with its -wal; every PostgreSQL table as text), the data directory
  and every captured log record hold none of the test users' ids, usernames or names. Logging is as in
  production (candour.app.configure_logging keeps httpx/telegram at WARNING: at DEBUG python-telegram-bot
  logs every API call with its parameters) with Candour's own loggers at DEBUG and SQLAlchemy's engine
  logger at DEBUG (SQL, parameters and result rows).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from datetime import timedelta
from types import SimpleNamespace
from typing import Any

import pytest
from sqlmodel import col, select

from bot import delivery
from bot import state as chat_state
from bot.catalogue import Catalogue
from bot.emulator import TelegramEmulator
from bot.emulator.state import FakeUser
from candour.app import configure_logging
from candour.settings import Settings
from storage import cases, casework, outbox, receipts
from storage.clock import ManualClock
from storage.models import OutboxEntry
from storage.officers import UnlockedOfficer
from storage.vault import Vault
from tests.bot_world import TOKEN, BotWorld
from tests.test_anonymity import FakeTelegramUser, log_surfaces, needles_for, scan, storage_surfaces
from tests.test_bot_report import make_report

# Distinctive identities (ids under 2**52), so any trace of them in storage or logs is unmistakable.
REPORTER = FakeTelegramUser(
    4503599627370421, "QvxWhistleHandle", "Ysolde", "Brackenridge-Tuvalu", "yq-zx", "+447700900135"
)
FORGER = FakeTelegramUser(
    4503599627370387, "ZebulonForgeryAlt", "Perpetua", "Mbekiwe-Lindqvorst", "xk-vq", "+447700900246"
)
USERS = (REPORTER, FORGER)

QUESTION = "Thank you. Which briefing room was it, and who else was present?"
ANSWER = "Room 2B at Northgate; PC Lee and two others were there."
LATER_ANSWER = "It happened again on Monday, after the 7am parade."
ROSTER = b"Duty roster excerpt: 12 Nov, 19 Nov.\n"

EN = Catalogue().for_language("en")
NOTICE = EN("push.notice")
ACKNOWLEDGED = casework.REPORTER_NOTICES["acknowledged"]


# --- fixtures -------------------------------------------------------------------------------------


@pytest.fixture
def captured_logs(caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Every log record at DEBUG as production would emit it, reaching caplog.

    Library loggers get the levels candour.app.configure_logging gives them (found by comparing levels
    before and after calling it, so a library it stops quieting is noticed); everything else is at DEBUG,
    SQLAlchemy's engine logger included.
    """
    before = {
        name: logger.level
        for name, logger in logging.root.manager.loggerDict.items()
        if isinstance(logger, logging.Logger)
    }
    monkeypatch.setattr(logging, "basicConfig", lambda **_kwargs: None)  # no stderr handler on root
    configure_logging(logging.DEBUG)
    quieted = {
        name: logger.level
        for name, logger in logging.root.manager.loggerDict.items()
        if isinstance(logger, logging.Logger) and before.get(name, logging.NOTSET) != logger.level
    }
    assert {"telegram", "httpx"} <= set(quieted), quieted
    caplog.set_level(logging.DEBUG)
    caplog.set_level(logging.DEBUG, logger="sqlalchemy.engine")
    attached: list[logging.Logger] = []
    for _name, logger in list(logging.root.manager.loggerDict.items()):
        if not isinstance(logger, logging.Logger):
            continue
        monkeypatch.setattr(logger, "disabled", False)
        if not logger.propagate:
            logger.addHandler(caplog.handler)
            attached.append(logger)
    yield
    for logger in attached:
        logger.removeHandler(caplog.handler)
    for name in quieted:
        logging.getLogger(name).setLevel(before.get(name, logging.NOTSET))


@pytest.fixture
async def world(vault: Vault, clock: ManualClock, captured_logs: None) -> AsyncIterator[BotWorld]:
    async with TelegramEmulator(now=clock.now) as emu:
        emu.add_bot(TOKEN)
        bot_world = BotWorld(emu=emu, vault=vault, catalogue=Catalogue())
        await bot_world.start()
        try:
            yield bot_world
        finally:
            await bot_world.stop()


@pytest.fixture
async def carol(make_officer) -> UnlockedOfficer:
    """A member of psd-conduct, where the bullying reports of make_report are routed."""
    return await make_officer("carol", queues=("psd-conduct",), unit="professional-standards")


# --- helpers --------------------------------------------------------------------------------------


def join(world: BotWorld, person: FakeTelegramUser) -> FakeUser:
    return world.user(
        person.user_id,
        first_name=person.first_name,
        last_name=person.last_name,
        username=person.username,
        language_code=person.language_code,
    )


async def eventually(check: Callable[[], Awaitable[bool]], timeout: float = 10) -> None:
    """Poll an async condition (work done by the bot's delivery job)."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while not await check():
        if loop.time() > deadline:
            raise TimeoutError("condition not met in time")
        await asyncio.sleep(0.02)


async def messages_for_reporter(vault: Vault, case_id: str) -> list[OutboxEntry]:
    """The case's outbox entries that carry a message to the reporter, oldest first."""
    async with vault.db.transaction() as session:
        rows = await session.exec(
            select(OutboxEntry)
            .where(OutboxEntry.case_id == case_id, OutboxEntry.kind == outbox.REPORTER_MESSAGE)
            .order_by(col(OutboxEntry.id))
        )
        return list(rows.all())


async def pushed(world: BotWorld, vault: Vault, case_id: str, number: int) -> tuple[OutboxEntry, int]:
    """Wait until the case's `number`-th message for the reporter is notified; (entry, notice message id)."""

    async def notified() -> bool:
        entries = await messages_for_reporter(vault, case_id)
        return len(entries) >= number and entries[number - 1].status == "notified"

    await eventually(notified)
    entry = (await messages_for_reporter(vault, case_id))[number - 1]
    read = f"x|read|{entry.id}"
    [notice] = [m for m in world.emu.bot_messages(REPORTER.user_id) if read in buttons_of(m)]
    return entry, notice["message_id"]


def buttons_of(message: dict[str, Any]) -> list[str]:
    markup = message.get("reply_markup") or {}
    return [b.get("callback_data", "") for row in markup.get("inline_keyboard", []) for b in row]


def bot_message(world: BotWorld, chat_id: int, message_id: int) -> dict[str, Any]:
    return next(m for m in world.emu.bot_messages(chat_id) if m["message_id"] == message_id)


async def entry(vault: Vault, entry_id: int | None) -> OutboxEntry:
    assert entry_id is not None
    found = await outbox.get(vault, entry_id=entry_id)
    assert found is not None
    return found


async def items_of(vault: Vault, officer: UnlockedOfficer, reference: str, kind: str) -> list[Any]:
    opened = await casework.open_case(vault, officer=officer, reference=reference)
    return [item for item in opened.items if item.kind == kind]


async def typed_code(world: BotWorld, user: FakeUser, code: str) -> str:
    """Type a receipt code; assert the bot deleted that message at once; return the bot's answer."""
    sent = await world.say(user, code)
    assert sent["message_id"] in world.emu.deleted_ids(user.user_id), "the typed code is still in the chat"
    return world.last(user.user_id)


async def filed_case(vault: Vault, chat_id: int) -> cases.SubmitResult:
    """A case filed as the bot files one (contact = the chat id), for tests about what comes after."""
    report = cases.ReportSubmission(
        categories=("bullying",),
        narrative="My sergeant mocks my accent in every briefing.",
        when="ongoing",
        ongoing=True,
    )
    return await cases.submit(vault, report=report, contact=str(chat_id))


async def assert_no_identifier_anywhere(
    vault: Vault, settings: Settings, caplog: pytest.LogCaptureFixture, *, reference: str
) -> None:
    """Promise 1 over the database, the data directory and every log record of the test so far."""
    needles: dict[str, bytes] = {}
    for person in USERS:
        needles.update({f"{person.first_name}: {k}": v for k, v in needles_for(person).items()})
    stored = await storage_surfaces(vault, settings)
    assert scan(stored, {"case reference": reference.encode()}), "the storage scan does not see the cases"
    assert scan(stored, needles) == []
    records = caplog.get_records("setup") + caplog.records
    assert any(r.name.startswith("sqlalchemy.engine") for r in records), "SQL was not captured"
    assert scan(log_surfaces(records), needles) == []
    errors = [(r.name, r.getMessage()) for r in records if r.levelno >= logging.ERROR]
    assert errors == []


# --- 1. push, not pull ----------------------------------------------------------------------------


async def test_team_message_is_pushed_read_and_answered(
    world: BotWorld,
    vault: Vault,
    settings: Settings,
    carol: UnlockedOfficer,
    alice: UnlockedOfficer,
    caplog: pytest.LogCaptureFixture,
) -> None:
    user = join(world, REPORTER)
    chat = user.user_id
    code = await make_report(world, user)
    view = await cases.reporter_view(vault, code=code)

    await casework.message_reporter(vault, officer=carol, reference=view.reference, text=QUESTION)
    first, notice_id = await pushed(world, vault, view.case_id, 1)
    notice = bot_message(world, chat, notice_id)
    assert notice["text"] == NOTICE and QUESTION not in notice["text"], "the lock screen shows only a notice"
    assert [b[1:] for b in world.buttons(chat) if b[0] == notice_id] == [("Read", f"x|read|{first.id}")]
    assert first.sealed_payload is not None, "the sealed copy waits for the reporter to tap Read"

    # Someone else forges the Read button for this entry from their own chat: nothing shown, nothing used.
    forger = join(world, FORGER)
    world.emu.press_button(forger, notice_id, f"x|read|{first.id}", forged=True)
    await world.settle()
    seen = [m.get("text") or "" for m in world.emu.chat(forger.user_id)]
    answers = [a for a in world.emu.callback_answers.values() if a]
    assert not any(QUESTION in text for text in seen) and not any(QUESTION in str(a) for a in answers)
    assert bot_message(world, chat, notice_id)["text"] == NOTICE
    still = await entry(vault, first.id)
    assert still.status == "notified" and still.sealed_payload is not None, "a forged press used it up"

    # The reporter taps Read: the message replaces the notice, with a Reply button; the copy is destroyed.
    await world.tap(user, "Read")
    shown = bot_message(world, chat, notice_id)
    assert shown["text"] == EN("push.message", text=QUESTION)
    assert buttons_of(shown) == [f"x|reply|{first.id}"]
    done = await entry(vault, first.id)
    assert done.status == "sent" and done.sealed_payload is None and done.key_id is None
    assert done.done_at is not None

    await world.tap(user, "Reply")
    assert world.last(chat) == EN("status.reply.prompt")
    await world.say(user, ANSWER)
    assert world.last(chat) == EN("status.reply.sent")
    answers_seen = await items_of(vault, carol, view.reference, cases.REPORTER_MESSAGE)
    assert [item.meta["text"] for item in answers_seen] == [ANSWER]
    assert answers_seen[0].author == "reporter"

    # An acknowledgement is pushed the same way.
    await casework.change_status(vault, officer=alice, reference=view.reference, status="acknowledged")
    second, ack_notice_id = await pushed(world, vault, view.case_id, 2)
    assert ack_notice_id != notice_id
    assert bot_message(world, chat, ack_notice_id)["text"] == NOTICE
    await world.tap(user, "Read")
    assert bot_message(world, chat, ack_notice_id)["text"] == EN("push.message", text=ACKNOWLEDGED)
    read = await entry(vault, second.id)
    assert read.status == "sent" and read.sealed_payload is None

    await assert_no_identifier_anywhere(vault, settings, caplog, reference=view.reference)


# --- 2. /status with the receipt code -------------------------------------------------------------


async def test_status_shows_the_case_and_takes_a_reply_and_a_file(
    world: BotWorld,
    vault: Vault,
    settings: Settings,
    clock: ManualClock,
    alice: UnlockedOfficer,
    caplog: pytest.LogCaptureFixture,
) -> None:
    user = join(world, REPORTER)
    chat = user.user_id
    code = await make_report(world, user)
    reference = (await cases.reporter_view(vault, code=code)).reference
    case_id = await cases.case_for_receipt(vault, code=code)
    await casework.message_reporter(vault, officer=alice, reference=reference, text=QUESTION)
    await casework.change_status(vault, officer=alice, reference=reference, status="acknowledged")
    # Why wait: the pushes go out first, so this test is about /status alone (see the race test below).
    await pushed(world, vault, case_id, 2)

    await world.say(user, "/status")
    assert world.last(chat) == EN("status.ask_code")
    view = await typed_code(world, user, code)
    assert f"Report {reference}" in view and "Status: acknowledged, being looked at" in view
    assert f"from the team: {QUESTION}" in view and f"from the team: {ACKNOWLEDGED}" in view

    await world.tap(user, "Add a file")
    assert world.last(chat) == EN("status.evidence.prompt")
    await world.send_document(user, ROSTER, "roster.txt", "text/plain")
    assert world.last(chat) == EN("status.evidence.sent")
    evidence = await items_of(vault, alice, reference, cases.EVIDENCE)
    assert evidence[-1].body == ROSTER and evidence[-1].author == "reporter"

    await world.say(user, "/status")
    view = await typed_code(world, user, code)
    assert "you added: a file" in view
    await world.tap(user, "Reply")
    await world.say(user, LATER_ANSWER)
    assert world.last(chat) == EN("status.reply.sent")
    said = await items_of(vault, alice, reference, cases.REPORTER_MESSAGE)
    assert [item.meta["text"] for item in said] == [LATER_ANSWER]

    # Wrong codes: a typo is told apart and not counted; five unknown codes in the hour throttle the chat.
    await world.say(user, "/status")
    first = code[0]
    typo = receipts.ALPHABET[(receipts.ALPHABET.index(first) + 1) % len(receipts.ALPHABET)] + code[1:]
    assert (await typed_code(world, user, typo)).startswith("That code has a typo")
    for _ in range(5):
        assert await typed_code(world, user, receipts.generate()) == EN("status.unknown")
    assert await typed_code(world, user, code) == EN("status.throttled"), "the sixth, though right"
    clock.advance(timedelta(hours=1))
    assert f"Report {reference}" in await typed_code(world, user, code)

    await assert_no_identifier_anywhere(vault, settings, caplog, reference=reference)


@pytest.mark.parametrize("engine_name", ["sqlite"])
async def test_status_view_offers_its_actions_again_after_a_reply(
    world: BotWorld, vault: Vault, alice: UnlockedOfficer
) -> None:
    user = join(world, REPORTER)
    filed = await filed_case(vault, user.user_id)
    await world.say(user, "/status")
    await typed_code(world, user, filed.receipt_code)
    await world.tap(user, "Reply")
    await world.say(user, ANSWER)
    assert world.last(user.user_id) == EN("status.reply.sent")
    await world.tap(user, "Add a file")
    await world.send_document(user, ROSTER, "roster.txt", "text/plain")
    evidence = await items_of(vault, alice, filed.reference, cases.EVIDENCE)
    assert [item.body for item in evidence] == [ROSTER]


@pytest.mark.parametrize("engine_name", ["sqlite"])
async def test_a_push_going_out_does_not_undo_what_the_reporter_just_did(
    world: BotWorld, vault: Vault, alice: UnlockedOfficer, monkeypatch: pytest.MonkeyPatch
) -> None:
    user = join(world, REPORTER)
    filed = await filed_case(vault, user.user_id)
    await world.say(user, "/start")
    interleaved: list[bool] = []

    async def load_then_let_the_reporter_act(vault_: Vault, chat_id: int) -> chat_state.ChatState:
        loaded = await chat_state.load(vault_, chat_id)
        if not interleaved:
            interleaved.append(True)
            # The reporter acts while the delivery holds the state it loaded; the bot must take the
            # update only after the delivery is done with the chat (not wait here: it holds the turn).
            world.emu.send_text(user, "/status")
            await asyncio.sleep(0.3)
        return loaded

    monkeypatch.setattr(
        delivery, "state", SimpleNamespace(load=load_then_let_the_reporter_act, save=chat_state.save)
    )
    await casework.message_reporter(vault, officer=alice, reference=filed.reference, text=QUESTION)
    await pushed(world, vault, filed.case_id, 1)
    assert interleaved
    await world.settle()
    sent = await world.say(user, filed.receipt_code)
    assert sent["message_id"] in world.emu.deleted_ids(user.user_id), "the receipt code is left in the chat"
    assert f"Report {filed.reference}" in world.last(user.user_id)


# --- 3. a reporter who blocked the bot ------------------------------------------------------------


async def test_blocked_bot_fails_the_delivery_with_a_reason_and_carries_on(
    world: BotWorld,
    vault: Vault,
    settings: Settings,
    carol: UnlockedOfficer,
    caplog: pytest.LogCaptureFixture,
) -> None:
    user = join(world, REPORTER)
    chat = user.user_id
    code = await make_report(world, user)
    view = await cases.reporter_view(vault, code=code)
    before = len(world.emu.bot_messages(chat))

    world.emu.block_bot(user)
    await casework.message_reporter(vault, officer=carol, reference=view.reference, text=QUESTION)

    async def failed() -> bool:
        entries = await messages_for_reporter(vault, view.case_id)
        return bool(entries) and entries[0].status == "failed"

    await eventually(failed)
    [failure] = await messages_for_reporter(vault, view.case_id)
    assert failure.last_error and failure.done_at is not None
    assert failure.sealed_payload is None, "a copy nobody will fetch is not kept"
    assert len(world.emu.bot_messages(chat)) == before
    officer_view = await items_of(vault, carol, view.reference, cases.OFFICER_MESSAGE)
    assert [item.meta["text"] for item in officer_view] == [QUESTION]
    assert QUESTION in [e.text for e in (await cases.reporter_view(vault, code=code)).timeline]

    # The bot carries on: the reporter comes back (writing to the bot unblocks it) and the next message
    # from the team is pushed as usual.
    await world.say(user, "/start")
    assert "not end-to-end encrypted" in world.last(chat)
    await casework.message_reporter(vault, officer=carol, reference=view.reference, text=LATER_ANSWER)
    await pushed(world, vault, view.case_id, 2)
    await world.tap(user, "Read")
    assert world.last(chat) == EN("push.message", text=LATER_ANSWER)
    assert not any(QUESTION in t for t in world.texts(chat))

    await assert_no_identifier_anywhere(vault, settings, caplog, reference=view.reference)
