"""Follow-up through the running bot, on an injected clock: check-ins (jitter, quiet hours, each answer),
deadline warnings and escalation, retention, officers' notices by /link, and sends that fail."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st
from sqlmodel import col, select
from telegram import Bot

from bot.catalogue import Catalogue
from bot.emulator import TelegramEmulator
from bot.followup import Dispatcher
from policies.schedule import in_quiet_hours, send_time
from policies.schema import QuietHours
from storage import cases, casework, followup, links, outbox
from storage.clock import ManualClock
from storage.models import AuditEntry, Case, CaseQueue, ContactHandle, OutboxEntry
from storage.officers import UnlockedOfficer
from storage.vault import Vault
from tests.bot_world import TOKEN as BOT_TOKEN
from tests.bot_world import BotWorld, wait_for

T = Catalogue().for_language("en")
LONDON = QuietHours()
JITTER = timedelta(minutes=180)  # the starter policy's default


def report(**overrides: Any) -> cases.ReportSubmission:
    values: dict[str, Any] = {
        "categories": ("bullying",),
        "narrative": "My sergeant humiliates me in briefings.",
        "checkin_consent": True,
    }
    values.update(overrides)
    return cases.ReportSubmission(**values)


async def entries(vault: Vault, case_id: str, kind: str) -> list[OutboxEntry]:
    async with vault.db.reading() as session:
        rows = await session.exec(
            select(OutboxEntry)
            .where(OutboxEntry.case_id == case_id, OutboxEntry.kind == kind)
            .order_by(col(OutboxEntry.due_at), col(OutboxEntry.id))
        )
        return list(rows.all())


async def entry(vault: Vault, entry_id: int | None) -> OutboxEntry:
    async with vault.db.reading() as session:
        found = await session.get(OutboxEntry, entry_id)
        assert found is not None
        return found


async def queue_ids(vault: Vault, case_id: str) -> list[str]:
    """The queues a case is in now."""
    async with vault.db.reading() as session:
        rows = await session.exec(select(CaseQueue.queue_id).where(CaseQueue.case_id == case_id))
        return sorted(rows.all())


async def the_case(vault: Vault, case_id: str) -> Case:
    async with vault.db.reading() as session:
        case = await session.get(Case, case_id)
        assert case is not None
        return case


async def eventually(check: Any, timeout: float = 30) -> Any:
    """Poll an async condition until it gives something truthy (the dispatcher runs every 0.2 s; the
    timeout is for a loaded machine)."""
    deadline = asyncio.get_running_loop().time() + timeout
    while True:
        value = await check()
        if value:
            return value
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError("condition not met in time")
        await asyncio.sleep(0.02)


def checkins_in(world: BotWorld, chat: int) -> list[dict[str, Any]]:
    return [m for m in world.emu.bot_messages(chat) if m.get("text") == T("checkin.notice")]


async def planned(vault: Vault, entry_id: int | None) -> OutboxEntry:
    async def check() -> OutboxEntry | None:
        found = await entry(vault, entry_id)
        return found if found.detail.get("planned") and found.status == "pending" else None

    return await eventually(check)


async def next_checkin(world: BotWorld, clock: ManualClock, chat: int, case_id: str) -> dict[str, Any]:
    """Move the clock to the next check-in's day, let the dispatcher plan it, then to its send time."""
    pending = [e for e in await entries(world.vault, case_id, outbox.CHECKIN) if e.status == "pending"]
    before = len(checkins_in(world, chat))
    clock.current = max(clock.current, pending[0].due_at)
    plan = await planned(world.vault, pending[0].id)
    clock.current = max(clock.current, plan.due_at)
    await wait_for(lambda: len(checkins_in(world, chat)) > before, timeout=30)

    # The message reaches the phone before the dispatcher records it as sent; a test that moves the clock
    # on must wait for that record, or the times derived from the sending (the contact's shredding) move too.
    async def recorded() -> bool:
        return (await entry(world.vault, pending[0].id)).status == "sent"

    await eventually(recorded)
    return checkins_in(world, chat)[-1]


def press(world: BotWorld, user: Any, message: dict[str, Any], answer: str) -> str:
    data = next(
        b["callback_data"]
        for row in message["reply_markup"]["inline_keyboard"]
        for b in row
        if b["callback_data"].endswith("." + answer)
    )
    world.emu.press_button(user, message["message_id"], data)
    return data


async def submit_for(world: BotWorld, chat: int, **overrides: Any) -> cases.SubmitResult:
    return await cases.submit(world.vault, report=report(**overrides), contact=str(chat))


# --- quiet hours and jitter (pure) ------------------------------------------------------------------------


@given(
    due=st.datetimes(
        min_value=datetime(2026, 1, 1), max_value=datetime(2027, 12, 31), timezones=st.just(UTC)
    ),
    draw=st.floats(min_value=0, max_value=0.999999),
)
def test_a_send_time_is_never_early_never_quiet_and_within_the_jitter(due: datetime, draw: float) -> None:
    moment = send_time(due, LONDON, jitter=JITTER, draw=draw)
    assert moment >= due
    assert not in_quiet_hours(moment, LONDON)
    if not in_quiet_hours(due, LONDON):
        assert moment - due <= JITTER
    else:
        assert moment - due <= timedelta(hours=11) + JITTER  # at most the quiet night, then the jitter


def test_quiet_hours_are_read_in_london_time() -> None:
    summer_late = datetime(2026, 7, 1, 20, 30, tzinfo=UTC)  # 21:30 in London (BST)
    winter_late = datetime(2026, 1, 5, 20, 30, tzinfo=UTC)  # 20:30 in London (GMT)
    assert in_quiet_hours(summer_late, LONDON) and not in_quiet_hours(winter_late, LONDON)
    moved = send_time(datetime(2026, 1, 5, 23, 0, tzinfo=UTC), LONDON, jitter=JITTER, draw=0.0)
    assert moved == datetime(2026, 1, 6, 8, 0, tzinfo=UTC)


# --- check-ins through the bot -----------------------------------------------------------------------------


async def test_a_checkin_arrives_on_its_day_and_an_answer_is_sealed_to_the_case(
    world: BotWorld, clock: ManualClock, alice: UnlockedOfficer
) -> None:
    user = world.user(7100001)
    result = await submit_for(world, user.user_id)
    nominal = [e.due_at for e in await entries(world.vault, result.case_id, outbox.CHECKIN)]
    assert [d - nominal[0] for d in nominal] == [timedelta(0), timedelta(days=23), timedelta(days=83)]

    clock.current = nominal[0] - timedelta(hours=1)
    await asyncio.sleep(0.5)
    assert not checkins_in(world, user.user_id), "nothing before the day"
    message = await next_checkin(world, clock, user.user_id, result.case_id)
    sent_at = clock.now()
    assert nominal[0] <= sent_at <= nominal[0] + JITTER + timedelta(hours=11)
    assert not in_quiet_hours(sent_at, LONDON)
    assert "misconduct" not in message["text"].lower() and "report" not in message["text"].lower()
    labels = [b["text"] for row in message["reply_markup"]["inline_keyboard"] for b in row]
    assert labels == [T(f"checkin.answer.{a}") for a in ("better", "same", "worse", "retaliation", "stop")]

    press(world, user, message, "better")
    await world.settle()
    assert world.last(user.user_id) == T("checkin.thanks")
    opened = await casework.open_case(world.vault, officer=alice, reference=result.reference)
    answers = [i for i in opened.items if i.kind == cases.CHECKIN_ANSWER]
    assert [a.meta["answer"] for a in answers] == ["better"]

    # The same check-in cannot be answered twice (a replayed or forged press changes nothing).
    world.emu.press_button(user, message["message_id"], f"x|ci|{entry_of(message)}.worse", forged=True)
    await world.settle()
    opened = await casework.open_case(world.vault, officer=alice, reference=result.reference)
    assert len([i for i in opened.items if i.kind == cases.CHECKIN_ANSWER]) == 1


def entry_of(message: dict[str, Any]) -> str:
    """The outbox entry a check-in message's buttons name (as first sent)."""
    return str(message["reply_markup"]["inline_keyboard"][0][0]["callback_data"]).split("|")[2].split(".")[0]


async def test_a_checkin_answer_from_another_chat_is_refused(world: BotWorld, clock: ManualClock) -> None:
    reporter, other = world.user(7100002), world.user(7100003)
    result = await submit_for(world, reporter.user_id)
    message = await next_checkin(world, clock, reporter.user_id, result.case_id)
    entry_id = entry_of(message)
    await world.say(other, "/start")
    start_message = world.emu.bot_messages(other.user_id)[-1]["message_id"]
    world.emu.press_button(other, start_message, f"x|ci|{entry_id}.stop", forged=True)
    await world.settle()
    case = await the_case(world.vault, result.case_id)
    assert not case.checkins_stopped
    assert (await entry(world.vault, int(entry_id))).detail.get("answered") is None


async def test_retaliation_raises_priority_escalates_and_notifies_linked_officers(
    world: BotWorld, clock: ManualClock, alice: UnlockedOfficer
) -> None:
    reporter, officer_phone = world.user(7100010), world.user(7100011)
    code = await links.create_code(world.vault, officer_id=alice.id)
    await world.say(officer_phone, f"/link {code}")
    assert world.last(officer_phone.user_id) == T("link.done", login="alice")
    assert all(
        code not in (m.get("text") or "") for m in world.emu.chat(officer_phone.user_id) if not m["deleted"]
    )

    result = await submit_for(world, reporter.user_id)
    # Acknowledged, so no missed deadline escalates it first: the retaliation answer adds psd-lead.
    await casework.change_status(
        world.vault, officer=alice, reference=result.reference, status="acknowledged"
    )
    before = await the_case(world.vault, result.case_id)
    message = await next_checkin(world, clock, reporter.user_id, result.case_id)
    assert await queue_ids(world.vault, result.case_id) == ["psd-conduct"]
    press(world, reporter, message, "retaliation")
    await world.settle()
    said = world.last(reporter.user_id)
    case = await the_case(world.vault, result.case_id)
    # Told what was done: made urgent (it was not), sent on to psd-lead, whose member alice can read it,
    # and alice, linked, told at once (one notice, seen below); then where to find support.
    assert said.startswith(T("checkin.retaliation.thanks"))
    assert before.priority != "urgent" and case.priority == "urgent"
    assert T("checkin.retaliation.urgent") in said and T("checkin.retaliation.escalated") in said
    assert T("checkin.retaliation.told_now", count=1) in said
    assert T("checkin.retaliation.danger") in said and T("support.heading") in said and "116 123" in said
    assert case.priority != before.priority and {"retaliation", "escalated"} <= set(case.flags)
    async with world.vault.db.reading() as session:
        via = (
            await session.exec(
                select(CaseQueue.via).where(CaseQueue.case_id == case.id, CaseQueue.queue_id == "psd-lead")
            )
        ).first()
    assert via == "escalated"

    def notices() -> list[str]:
        return [
            m["text"] for m in world.emu.bot_messages(officer_phone.user_id) if "retaliation" in m["text"]
        ]

    await wait_for(lambda: bool(notices()), timeout=30)
    (notice,) = notices()
    assert notice.startswith(f"Candour: {result.reference} in ")
    assert "sergeant" not in notice.lower()  # no content, only the reference, queue, priority and what


async def test_stop_ends_further_checkins(world: BotWorld, clock: ManualClock) -> None:
    user = world.user(7100020)
    result = await submit_for(world, user.user_id)
    message = await next_checkin(world, clock, user.user_id, result.case_id)
    press(world, user, message, "stop")
    await world.settle()
    assert world.last(user.user_id) == T("checkin.thanks.stop")
    statuses = [e.status for e in await entries(world.vault, result.case_id, outbox.CHECKIN)]
    assert statuses == ["sent", "cancelled", "cancelled"]
    clock.advance(timedelta(days=100))
    await asyncio.sleep(0.6)
    sent = [
        p for method, p in world.emu.calls if method == "sendMessage" and p.get("text") == T("checkin.notice")
    ]
    assert len(sent) == 1


async def test_a_blocked_bot_stops_the_checkins_and_records_why(world: BotWorld, clock: ManualClock) -> None:
    user = world.user(7100030)
    result = await submit_for(world, user.user_id)
    world.emu.block_bot(user)
    first = (await entries(world.vault, result.case_id, outbox.CHECKIN))[0]
    clock.current = first.due_at
    plan = await planned(world.vault, first.id)
    clock.current = plan.due_at

    async def stopped() -> bool:
        return (await the_case(world.vault, result.case_id)).checkins_stopped

    await eventually(stopped)
    checkins = await entries(world.vault, result.case_id, outbox.CHECKIN)
    assert checkins[0].status == "failed" and "Forbidden" in (checkins[0].last_error or "")
    assert [e.status for e in checkins[1:]] == ["cancelled", "cancelled"]
    async with world.vault.db.reading() as session:
        actions = (
            await session.exec(select(AuditEntry.action).where(AuditEntry.case_id == result.case_id))
        ).all()
    assert "case.checkins-stopped" in actions


async def test_network_failures_retry_with_backoff_then_are_recorded(
    vault: Vault, clock: ManualClock
) -> None:
    """A Bot API that cannot be reached: each try is put back later, and after the policy's attempts the
    entry is marked failed with the reason; it is never dropped silently."""
    result = await cases.submit(vault, report=report(), contact="424242")
    first = (await entries(vault, result.case_id, outbox.CHECKIN))[0]
    bot = Bot("1:unreachable", base_url="http://127.0.0.1:9/bot")  # nothing listens on the discard port
    dispatcher = Dispatcher(vault=vault, bot=bot, catalogue=Catalogue(), owner="test")
    clock.current = first.due_at
    await dispatcher.dispatch_due()
    clock.current = (await entry(vault, first.id)).due_at
    waits = []
    for _ in range(10):
        before = clock.now()
        await dispatcher.dispatch_due()
        current = await entry(vault, first.id)
        if current.status == "failed":
            break
        waits.append(current.due_at - before)
        clock.current = current.due_at
    assert current.status == "failed" and (current.last_error or "").startswith("network")
    assert waits == sorted(waits) and len(waits) == 4  # 5 attempts in all: 4 waits, each longer
    assert (await the_case(vault, result.case_id)).checkins_stopped is False


# --- deadlines, closure and retention ----------------------------------------------------------------------


async def test_an_unacknowledged_case_is_warned_then_escalated(
    world: BotWorld, clock: ManualClock, alice: UnlockedOfficer
) -> None:
    officer_phone = world.user(7100040)
    code = await links.create_code(world.vault, officer_id=alice.id)
    await world.say(officer_phone, f"/link {code}")
    result = await cases.submit(world.vault, report=report(checkin_consent=False), contact=None)
    case = await the_case(world.vault, result.case_id)
    warning, due = [e for e in await entries(world.vault, case.id, outbox.DEADLINE_WARNING)], case.ack_due_at
    clock.current = warning[0].due_at
    await wait_for(lambda: len(world.emu.bot_messages(officer_phone.user_id)) >= 2, timeout=30)
    assert "acknowledgement due" in world.emu.bot_messages(officer_phone.user_id)[-1]["text"]
    assert "escalated" not in (await the_case(world.vault, case.id)).flags
    clock.current = due
    await wait_for(lambda: len(world.emu.bot_messages(officer_phone.user_id)) >= 3, timeout=30)
    assert "overdue" in world.emu.bot_messages(officer_phone.user_id)[-1]["text"]
    assert "escalated" in (await the_case(world.vault, case.id)).flags


async def test_an_acknowledged_case_is_not_escalated(
    world: BotWorld, clock: ManualClock, alice: UnlockedOfficer
) -> None:
    result = await cases.submit(world.vault, report=report(checkin_consent=False), contact=None)
    await casework.change_status(
        world.vault, officer=alice, reference=result.reference, status="acknowledged"
    )
    case = await the_case(world.vault, result.case_id)
    clock.current = case.ack_due_at + timedelta(hours=1)
    await asyncio.sleep(0.6)
    assert "escalated" not in (await the_case(world.vault, case.id)).flags


async def test_closure_checkin_then_contact_shredded_then_purged_on_retention(
    world: BotWorld, clock: ManualClock, alice: UnlockedOfficer
) -> None:
    user = world.user(7100050)
    result = await submit_for(world, user.user_id)
    await casework.change_status(
        world.vault, officer=alice, reference=result.reference, status="acknowledged"
    )
    await casework.change_status(
        world.vault, officer=alice, reference=result.reference, status="closed", outcome="Advice given."
    )
    phases = [
        (e.status, e.detail.get("phase")) for e in await entries(world.vault, result.case_id, outbox.CHECKIN)
    ]
    assert ("pending", "closed") in phases and ("pending", "open") not in phases
    await next_checkin(world, clock, user.user_id, result.case_id)

    async def contact_gone() -> bool:
        async with world.vault.db.reading() as session:
            return await session.get(ContactHandle, result.case_id) is None

    assert not await contact_gone()

    # The status and outcome notices must have gone out first: a message still to send keeps the contact.
    async def notices_out() -> bool:
        waiting = await entries(world.vault, result.case_id, outbox.REPORTER_MESSAGE)
        return bool(waiting) and all(e.status not in ("pending", "claimed") for e in waiting)

    await eventually(notices_out)
    clock.advance(timedelta(days=8))
    await eventually(contact_gone)

    case = await the_case(world.vault, result.case_id)
    clock.current = case.closed_at + timedelta(days=case.retention_days, hours=1)

    async def purged() -> bool:
        return (await the_case(world.vault, result.case_id)).purged_at is not None

    await eventually(purged)


async def test_link_codes_are_single_use_and_unlink_works(world: BotWorld, alice: UnlockedOfficer) -> None:
    phone, other = world.user(7100060), world.user(7100061)
    code = await links.create_code(world.vault, officer_id=alice.id)
    await world.say(phone, f"/link {code}")
    await world.say(other, f"/link {code}")
    assert world.last(other.user_id) == T("link.invalid")
    await world.say(phone, "/unlink")
    assert world.last(phone.user_id) == T("unlink.done")
    await world.say(phone, "/unlink")
    assert world.last(phone.user_id) == T("unlink.none")


async def test_a_429_waits_retry_after(vault: Vault, clock: ManualClock) -> None:
    """Telegram's flood control answers 429 with retry_after: the check-in goes back, due that much later."""
    async with TelegramEmulator(now=clock.now, per_chat_limit=1) as emu:
        emu.add_bot(BOT_TOKEN)
        user = emu.add_user(user_id=7100070, first_name="Test")
        first = await cases.submit(vault, report=report(), contact=str(user.user_id))
        second = await cases.submit(vault, report=report(), contact=str(user.user_id))
        bot = Bot(BOT_TOKEN, base_url=f"{emu.root_url}/bot")
        dispatcher = Dispatcher(vault=vault, bot=bot, catalogue=Catalogue(), owner="test")
        ids = [(await entries(vault, r.case_id, outbox.CHECKIN))[0].id for r in (first, second)]
        clock.current = (await entry(vault, ids[0])).due_at
        await dispatcher.dispatch_due()  # plans both
        clock.current = max([(await entry(vault, i)).due_at for i in ids])
        done = await dispatcher.dispatch_due()
        assert done.counts == {"sent": 1, "rate-limited": 1}
        limited = next(e for e in [await entry(vault, i) for i in ids] if e.status == "pending")
        assert limited.last_error == "rate limited" and limited.due_at > clock.now()
        clock.current = limited.due_at
        assert (await dispatcher.dispatch_due()).counts == {"sent": 1}
        await bot.shutdown()


@pytest.mark.parametrize(
    ("answer", "thanks", "notice"),
    [("same", "checkin.thanks", False), ("worse", "checkin.thanks.worse", True)],
)
async def test_no_change_and_worse_are_sealed_and_worse_tells_the_team(
    world: BotWorld, clock: ManualClock, alice: UnlockedOfficer, answer: str, thanks: str, notice: bool
) -> None:
    reporter, officer_phone = world.user(7100080), world.user(7100081)
    await world.say(officer_phone, f"/link {await links.create_code(world.vault, officer_id=alice.id)}")
    result = await submit_for(world, reporter.user_id)
    await casework.change_status(
        world.vault, officer=alice, reference=result.reference, status="acknowledged"
    )
    before = await the_case(world.vault, result.case_id)
    message = await next_checkin(world, clock, reporter.user_id, result.case_id)
    press(world, reporter, message, answer)
    await world.settle()
    said = world.last(reporter.user_id)
    assert said.startswith(T(thanks)) and (T("support.heading") in said) == (answer == "worse")
    if answer == "worse":
        # The words against the effect: as many officers told as notices the vault queued (alice, linked).
        told = [
            e
            for e in await entries(world.vault, result.case_id, followup.OFFICER_NOTICE)
            if e.detail.get("what") == "a check-in answer needs reading"
        ]
        assert len(told) == 1
        assert said.startswith(
            " ".join(
                (T(thanks), T("checkin.retaliation.told_now", count=len(told)), T("checkin.worse.details"))
            )
        )
    opened = await casework.open_case(world.vault, officer=alice, reference=result.reference)
    assert [i.meta["answer"] for i in opened.items if i.kind == cases.CHECKIN_ANSWER] == [answer]
    after = await the_case(world.vault, result.case_id)
    assert (
        after.priority == before.priority
        and "escalated" not in after.flags
        and "checkin-answer" in after.flags
    )
    texts = lambda: [m["text"] for m in world.emu.bot_messages(officer_phone.user_id)]  # noqa: E731
    if notice:
        await wait_for(lambda: any("check-in answer needs reading" in t for t in texts()), timeout=30)
    else:
        await asyncio.sleep(0.5)
        assert not any(result.reference in t for t in texts())


async def test_an_investigation_open_a_year_is_due_a_progress_update_then_every_six_months(
    world: BotWorld, clock: ManualClock, alice: UnlockedOfficer
) -> None:
    """Police (Conduct) Regulations 2020, reg 19: the queue is told at 12 months, then every 6, until closed."""
    officer_phone = world.user(7100090)
    await world.say(officer_phone, f"/link {await links.create_code(world.vault, officer_id=alice.id)}")
    result = await cases.submit(world.vault, report=report(checkin_consent=False), contact=None)
    await casework.change_status(
        world.vault, officer=alice, reference=result.reference, status="acknowledged"
    )
    await casework.message_reporter(world.vault, officer=alice, reference=result.reference, text="Thank you.")
    (first,) = await entries(world.vault, result.case_id, outbox.PROGRESS_UPDATE)
    received = (await the_case(world.vault, result.case_id)).received_at
    assert first.due_at == received.replace(year=received.year + 1)

    def progress_notices() -> list[str]:
        return [
            m["text"] for m in world.emu.bot_messages(officer_phone.user_id) if "progress update" in m["text"]
        ]

    clock.current = first.due_at
    await wait_for(lambda: len(progress_notices()) == 1, timeout=30)
    pending = [
        e for e in await entries(world.vault, result.case_id, outbox.PROGRESS_UPDATE) if e.status == "pending"
    ]
    assert [e.due_at for e in pending] == [first.due_at.replace(month=first.due_at.month + 6)]
    await casework.change_status(
        world.vault, officer=alice, reference=result.reference, status="closed", outcome="Resolved."
    )
    clock.current = pending[0].due_at
    await asyncio.sleep(0.6)
    assert len(progress_notices()) == 1, "a closed case is due no more updates"
