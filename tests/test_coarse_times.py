"""Coarse times everywhere (issue 9, point 7; promise 1): after a whole case life, no stored time on the
reporter side is finer than the hour, on SQLite and PostgreSQL.

The life is scripted the way it happens: a check-in that meets an unreachable Bot API and is retried
with backoff; then the real bot on the local emulator (tests.bot_world): an officer links a phone, a
reporter makes a report through the whole conversation and types a wrong receipt code, the team writes
and the reporter reads and replies, a check-in is answered (worse, retaliation: escalation and notices),
the acknowledgement deadline is warned and then overdue (escalation), the case is closed, the
after-closure check-in is sent and the contact handle is shredded a week later. The clock starts off
the hour and every jump lands off the hour, so an exact time cannot pass for a coarse one by luck.

Then every column of a date-time type in every table (from the models' metadata, so a new column is
seen) is read, and so is every time written as text in every JSON column. Each date-time column must be
classified below: reporter side (must be on the hour) or officer side (allowed exact, with the reason).
An unclassified column fails the test until someone decides which it is. The one exception on the
reporter side is documented in storage.outbox: an entry still waiting (pending or claimed) keeps its
exact due time and lease, because a jittered send time or a retry seconds away cannot be an hour.

Also: the rule on one entry (columns and JSON detail), and migration 0009 coarsening rows older code wrote.
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import sqlalchemy as sa
from sqlmodel import SQLModel
from telegram import Bot

import storage.models  # noqa: F401  (every table on the metadata)
from bot.catalogue import Catalogue
from bot.emulator import TelegramEmulator
from bot.followup import Dispatcher
from candour.app import database_config
from candour.settings import Settings
from storage import cases, casework, links, migrate, outbox, receipts
from storage.clock import ManualClock
from storage.db import Database
from storage.models import Case, ContactHandle, OutboxEntry
from storage.officers import UnlockedOfficer
from storage.vault import Vault
from tests.bot_world import TOKEN, BotWorld, wait_for
from tests.test_bot_report import make_report
from tests.test_followup import entries, entry, press

START = datetime(2026, 1, 5, 10, 17, 23, 456789, tzinfo=UTC)  # a Monday morning, off the hour
ODD = timedelta(minutes=13, seconds=27, microseconds=123457)
T = Catalogue().for_language("en")
OTHER_CHAT = 7_200_002

# Every date-time column of the schema, with why it may or may not be exact. Reporter side: its value
# can be set off by, derived from or ordered against something a reporter did; it must be on the hour.
REPORTER_SIDE = {
    "cases.received_at": "submission",
    "cases.updated_at": "any change, reporter additions included",
    "cases.acknowledged_at": "an officer's act, but shown to the reporter and ordered against theirs",
    "cases.closed_at": "as acknowledged_at",
    "cases.purged_at": "retention, counted from closure",
    "cases.ack_due_at": "derived from submission",
    "cases.feedback_due_at": "derived from submission",
    "case_queues.added_at": "routing at submission, or escalation from a check-in answer",
    "case_keys.granted_at": "wraps made at submission",
    "case_items.created_at": "the report, evidence, replies, check-in answers",
    "drafts.updated_at": "the reporter typing",
    "drafts.expires_at": "derived from updated_at",
    "receipt_attempts.window_start": "a wrong receipt code typed",
    "handled_updates.handled_hour": "a Telegram update handled: the reporter using the bot",
    "outbox.due_at": "when a phone is pinged (exact only while waiting: storage.outbox)",
    "outbox.created_at": "scheduled by submission, answers, messages",
    "outbox.done_at": "when a phone was pinged",
    "outbox.lease_until": "a claim of a reporter's entry (exact only while claimed)",
    "audit_log.at": "reporter events sit between officer events in one chain (storage.clock.coarsen)",
    "case_assignments.assigned_at": "casework on a case, ordered against the reporter's events",
    "officer_links.linked_at": "a notice's recipient, linked; coarsened like every audit time",
    "policy_versions.published_at": "decides which policy routed a submission",
    "officers.created_at": "officer directory; coarse at creation",
    "desk_accounts.password_set_at": "officer side, but written coarse by storage.desk_accounts",
    # Officer side too, but the audit chain orders the acts that wrote them against the reporters' (a
    # sign-in either side of a submission): exact, two of them would bracket it (tests/test_signin_times).
    "desk_accounts.enrolment_expires_at": "a reset's time plus a constant: rounded up to the hour",
    "desk_signin_attempts.last_at": "a sign-in attempt; only drives purging",
    "desk_devices.expires_at": "a sign-in's time plus a constant",
}
# Officer side, exact only while a live window needs it, then forgotten by the desk's sweep (desk.app
# forget_passed); tests/test_signin_times checks that none is left once the windows have passed.
OFFICER_SIDE = {
    "link_codes.expires_at": "a one-time code an officer types within minutes; deleted once passed",
    "desk_signin_attempts.blocked_until": "a running back-off's end; cleared once passed",
}
# Statuses in which an outbox entry still waits, and the columns it may keep exact meanwhile.
WAITING_EXACT = {"due_at", "lease_until"}
ISO_TIME = re.compile(r"\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}")


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock(current=START)


def date_time_columns() -> Iterator[tuple[sa.Table, sa.Column[Any]]]:
    for table in SQLModel.metadata.sorted_tables:
        for column in table.columns:
            kind = column.type
            impl = getattr(kind, "impl_instance", kind)
            if isinstance(impl, sa.DateTime):
                yield table, column


def json_columns() -> Iterator[tuple[sa.Table, sa.Column[Any]]]:
    for table in SQLModel.metadata.sorted_tables:
        for column in table.columns:
            if isinstance(column.type, sa.JSON):
                yield table, column


def fine(moment: datetime) -> bool:
    return (moment.minute, moment.second, moment.microsecond) != (0, 0, 0)


def times_in(value: Any) -> Iterator[datetime]:
    """Every time written as ISO 8601 text anywhere in a JSON value."""
    if isinstance(value, dict):
        for item in value.values():
            yield from times_in(item)
    elif isinstance(value, list):
        for item in value:
            yield from times_in(item)
    elif isinstance(value, str) and ISO_TIME.match(value):
        try:
            yield datetime.fromisoformat(value)
        except ValueError:
            return


async def finer_than_the_hour(vault: Vault) -> tuple[list[str], dict[str, int]]:
    """(every reporter-side time finer than the hour, how many values each column held)."""
    found: list[str] = []
    seen: dict[str, int] = {}
    async with vault.db.reading() as session:
        for table, column in date_time_columns():
            name = f"{table.name}.{column.name}"
            if name in OFFICER_SIDE:
                continue
            status = table.c.status if table.name == "outbox" else sa.literal(None)
            rows = (await session.exec(sa.select(column, status))).all()  # type: ignore[call-overload]
            seen[name] = sum(1 for value, _ in rows if value is not None)
            for value, entry_status in rows:
                if value is None or not fine(value):
                    continue
                if entry_status in outbox.WAITING and column.name in WAITING_EXACT:
                    continue  # the documented exception: still waiting for its moment
                found.append(f"{name} = {value.isoformat()} ({entry_status or 'row'})")
        for table, column in json_columns():
            name = f"{table.name}.{column.name}"
            for (value,) in (await session.exec(sa.select(column))).all():  # type: ignore[call-overload]
                found += [f"{name} holds {t.isoformat()}" for t in times_in(value) if fine(t)]
    return found, seen


def test_every_date_time_column_is_classified() -> None:
    """A new date-time column fails here until someone decides whether it is reporter side."""
    names = {f"{table.name}.{column.name}" for table, column in date_time_columns()}
    unclassified = names - set(REPORTER_SIDE) - set(OFFICER_SIDE)
    assert not unclassified, f"classify these in REPORTER_SIDE or OFFICER_SIDE: {sorted(unclassified)}"
    assert not set(REPORTER_SIDE) & set(OFFICER_SIDE)
    assert not (set(REPORTER_SIDE) | set(OFFICER_SIDE)) - names, "a classified column no longer exists"


def test_times_in_a_finished_entry_and_its_detail_are_coarsened() -> None:
    """The rule itself: an entry that stops waiting loses its exact times, in its columns and its detail."""
    exact = START + timedelta(days=7, minutes=41)
    entry = OutboxEntry(
        kind=outbox.CHECKIN,
        due_at=exact,
        created_at=START,
        status="claimed",
        lease_owner="worker",
        lease_until=exact + timedelta(minutes=2),
        detail={"planned": True, "tried": [exact.isoformat()], "at": {"first": exact.isoformat()}},
    )
    outbox.coarsen_settled(entry)
    assert entry.due_at == exact, "a claimed entry keeps its exact time"
    entry.status, entry.done_at = "sent", exact
    outbox.coarsen_settled(entry)
    assert not any(fine(t) for t in (entry.due_at, entry.created_at, entry.done_at))
    assert entry.lease_until is None and entry.lease_owner is None
    assert not any(fine(t) for t in times_in(entry.detail)) and entry.detail["planned"] is True


async def eventually(check: Any, timeout: float = 30) -> Any:
    deadline = asyncio.get_running_loop().time() + timeout
    while not (value := await check()):
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError("condition not met in time")
        await asyncio.sleep(0.02)
    return value


def checkins_in(world: BotWorld, chat: int) -> list[dict[str, Any]]:
    return [m for m in world.emu.bot_messages(chat) if m.get("text") == T("checkin.notice")]


async def checkin_arrives(world: BotWorld, clock: ManualClock, chat: int, case_id: str) -> dict[str, Any]:
    """Move the clock to the case's next check-in day (off the hour), let the dispatcher draw its send
    time, then move to just after that time, and return the check-in message."""
    pending = [e for e in await entries(world.vault, case_id, outbox.CHECKIN) if e.status == "pending"]
    before = len(checkins_in(world, chat))
    clock.current = max(clock.current, pending[0].due_at + ODD)

    async def planned() -> OutboxEntry | None:
        found = await entry(world.vault, pending[0].id)
        return found if found.detail.get("planned") and found.status == "pending" else None

    plan = await eventually(planned)
    clock.current = max(clock.current, plan.due_at + timedelta(seconds=1, microseconds=250))
    await wait_for(lambda: len(checkins_in(world, chat)) > before, timeout=30)

    async def recorded() -> bool:
        return (await entry(world.vault, pending[0].id)).status == "sent"

    await eventually(recorded)
    return checkins_in(world, chat)[-1]


async def retried_on_an_unreachable_api(vault: Vault, clock: ManualClock) -> tuple[str, int]:
    """A check-in planned, then tried twice against a Bot API that does not answer: put back each time
    with a growing wait. Returns (case id, entry id), the entry pending and due for its next try."""
    other = await cases.submit(
        vault,
        report=cases.ReportSubmission(
            categories=("bullying",),
            narrative="My sergeant mocks me in every briefing.",
            checkin_consent=True,
        ),
        contact=str(OTHER_CHAT),
    )
    first = (await entries(vault, other.case_id, outbox.CHECKIN))[0]
    bot = Bot("1:unreachable", base_url="http://127.0.0.1:9/bot")  # nothing listens on the discard port
    failing = Dispatcher(vault=vault, bot=bot, catalogue=Catalogue(), owner="unreachable")
    clock.current = first.due_at + ODD
    await failing.dispatch_due()  # draws the send time
    for _ in range(2):
        clock.current = (await entry(vault, first.id)).due_at + timedelta(seconds=2, microseconds=7)
        await failing.dispatch_due()
        tried = await entry(vault, first.id)
        assert tried.status == "pending" and (tried.last_error or "").startswith("network")
        assert fine(tried.due_at), "a retry seconds away keeps its exact time while it waits"
    return other.case_id, int(first.id or 0)


async def whole_case_life(world: BotWorld, clock: ManualClock, alice: UnlockedOfficer) -> str:
    vault = world.vault
    other_case, retried = await retried_on_an_unreachable_api(vault, clock)

    # The retried check-in goes out through the running bot, and its reporter answers "worse".
    other = world.user(OTHER_CHAT)
    clock.current = (await entry(vault, retried)).due_at + timedelta(seconds=1)
    await wait_for(lambda: bool(checkins_in(world, OTHER_CHAT)), timeout=30)
    press(world, other, checkins_in(world, OTHER_CHAT)[-1], "worse")
    await world.settle()
    assert (await entry(vault, retried)).status == "sent"

    # An officer links a phone for notices; a reporter makes a report and mistypes a receipt code.
    phone = world.user(7_200_010)
    await world.say(phone, f"/link {await links.create_code(vault, officer_id=alice.id)}")
    assert world.last(phone.user_id) == T("link.done", login="alice")
    clock.advance(ODD)
    reporter = world.user(7_200_001)
    code = await make_report(world, reporter)
    view = await cases.reporter_view(vault, code=code)
    await world.say(reporter, "/status")
    await world.say(reporter, receipts.generate())
    assert world.last(reporter.user_id) == T("status.unknown")

    # The team writes; the reporter reads and replies.
    clock.advance(ODD)
    await casework.message_reporter(vault, officer=alice, reference=view.reference, text="Which room?")

    async def notified() -> bool:
        waiting = await entries(vault, view.case_id, outbox.REPORTER_MESSAGE)
        return bool(waiting) and waiting[-1].status == "notified"

    await eventually(notified)
    await world.tap(reporter, "Read")
    await world.tap(reporter, "Reply")
    await world.say(reporter, "Room 2B, after the morning parade.")

    # Nobody acknowledges: the deadline is warned, then overdue (escalation), each noticed on the phone.
    async with vault.db.reading() as session:
        case = await session.get(Case, view.case_id)
        assert case is not None
    warning = (await entries(vault, view.case_id, outbox.DEADLINE_WARNING))[0]  # acknowledgement's
    for moment, words in ((warning.due_at, "acknowledgement due"), (case.ack_due_at, "overdue")):
        clock.current = max(clock.current, moment + ODD)
        await wait_for(
            lambda w=words: any(w in (m.get("text") or "") for m in world.emu.bot_messages(phone.user_id)),
            timeout=30,
        )

    # A check-in is answered: retaliation (escalation, notices).
    message = await checkin_arrives(world, clock, reporter.user_id, view.case_id)
    press(world, reporter, message, "retaliation")
    await world.settle()
    assert world.last(reporter.user_id).startswith(T("checkin.retaliation.thanks"))

    # Closed; the status notices go out; the after-closure check-in is sent; a week on, the contact goes.
    clock.advance(ODD)
    await casework.change_status(vault, officer=alice, reference=view.reference, status="acknowledged")
    await casework.change_status(
        vault, officer=alice, reference=view.reference, status="closed", outcome="Advice given."
    )

    async def notices_out() -> bool:
        waiting = await entries(vault, view.case_id, outbox.REPORTER_MESSAGE)
        return all(e.status not in outbox.WAITING for e in waiting)

    await eventually(notices_out)
    await checkin_arrives(world, clock, reporter.user_id, view.case_id)
    clock.advance(timedelta(days=8) + ODD)

    async def contact_gone() -> bool:
        async with vault.db.reading() as session:
            return await session.get(ContactHandle, view.case_id) is None

    await eventually(contact_gone)
    assert other_case
    return view.case_id


async def test_after_a_whole_case_life_no_reporter_side_time_is_finer_than_the_hour(
    vault: Vault, clock: ManualClock, alice: UnlockedOfficer
) -> None:
    async with TelegramEmulator(now=clock.now) as emu:
        emu.add_bot(TOKEN)
        world = BotWorld(emu=emu, vault=vault, catalogue=Catalogue())
        await world.start()
        try:
            case_id = await whole_case_life(world, clock, alice)
        finally:
            await world.stop()

    found, seen = await finer_than_the_hour(vault)
    assert found == []
    # The scan saw the life it is about: sent, retried, finished and still waiting entries, a receipt
    # window, a draft, answers, a shredding done.
    for name in (
        "outbox.done_at",
        "receipt_attempts.window_start",
        "case_items.created_at",
        "cases.closed_at",
        "audit_log.at",
    ):
        assert seen.get(name), f"nothing was stored in {name}: the life cycle did not reach it"
    shred = await entries(vault, case_id, "contact-shred")
    assert shred and all(e.status == "done" for e in shred)
    sent = [e for e in await entries(vault, case_id, outbox.CHECKIN) if e.status == "sent"]
    assert len(sent) >= 2 and all(e.detail.get("planned") for e in sent), "jittered check-ins were sent"


async def test_migration_0009_coarsens_what_was_stored_before(settings: Settings) -> None:
    """Rows written by older code: finished entries and pending shreddings become coarse; a check-in that
    still waits keeps its exact time."""
    settings.data_dir.mkdir(parents=True)
    db = Database(database_config(settings))
    try:
        await migrate.upgrade(db.engine, "0008")
        exact = START + timedelta(days=7)
        table = OutboxEntry.__table__  # type: ignore[attr-defined]
        rows = [
            {"kind": "checkin", "status": "sent", "done_at": exact, "lease_until": exact, "lease_owner": "w"},
            {
                "kind": "contact-shred",
                "status": "pending",
                "done_at": None,
                "lease_until": None,
                "lease_owner": None,
            },
            {
                "kind": "checkin",
                "status": "pending",
                "done_at": None,
                "lease_until": None,
                "lease_owner": None,
            },
        ]
        async with db.engine.begin() as connection:
            for row in rows:
                await connection.execute(
                    table.insert().values(
                        case_id=None, due_at=exact, created_at=START, attempts=1, detail={}, **row
                    )
                )
        await migrate.upgrade(db.engine)
        async with db.engine.connect() as connection:
            stored = (
                await connection.execute(
                    sa.select(
                        table.c.kind,
                        table.c.status,
                        table.c.due_at,
                        table.c.created_at,
                        table.c.done_at,
                        table.c.lease_until,
                    ).order_by(table.c.id)
                )
            ).all()
    finally:
        await db.dispose()
    sent, shred, waiting = stored
    assert not any(fine(t) for t in (sent.due_at, sent.created_at, sent.done_at)) and sent.lease_until is None
    assert not fine(shred.due_at) and not fine(shred.created_at)
    assert waiting.due_at == exact, "a waiting check-in keeps its exact send time"
