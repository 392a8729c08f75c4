"""Urgent cases are told at once (issue 11, section 3), through the running bot, the real follow-up
dispatcher and the Telegram emulator, on both engines, with the vault's clock standing still.

- A report with a risk of harm now is acknowledged within hours, and its entitled, linked officers get a
  content-free notice at once; an officer named in it, or in a subject's unit, gets nothing even though
  they are linked members of the routed queue (promise 3).
- A check-in answer of retaliation makes the case urgent, escalates it and notifies at once; the answer's
  result says what happened, for the bot to tell the reporter truly.
- The desk queue's default order puts urgent, then overdue, cases first, across keyset pages.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from sqlmodel import select

from bot.catalogue import Catalogue
from storage import cases, casework, followup, links, outbox, queue_view
from storage.clock import ManualClock
from storage.models import AuditEntry
from storage.officers import UnlockedOfficer
from storage.vault import Vault
from tests.bot_world import BotWorld, wait_for
from tests.test_followup import entries, next_checkin, press, the_case

T = Catalogue().for_language("en")
NARRATIVE = "Sergeant Pike threatened to hurt my colleague at home tonight."


def urgent_report(**overrides: Any) -> cases.ReportSubmission:
    values: dict[str, Any] = {
        "categories": ("violence",),
        "narrative": NARRATIVE,
        "subjects": (cases.Person(name="Sam Subject", staff_number="HR1234"),),
        "risk_of_harm": True,
        "checkin_consent": True,
    }
    values.update(overrides)
    return cases.ReportSubmission(**values)


async def link(world: BotWorld, officer: UnlockedOfficer, user_id: int) -> Any:
    phone = world.user(user_id)
    await world.say(phone, f"/link {await links.create_code(world.vault, officer_id=officer.id)}")
    assert world.last(phone.user_id) == T("link.done", login=officer.login)
    return phone


def notices(world: BotWorld, phone: Any, reference: str) -> list[str]:
    return [m["text"] for m in world.emu.bot_messages(phone.user_id) if reference in (m.get("text") or "")]


async def test_an_urgent_report_tells_its_entitled_officers_at_once_and_never_the_conflicted(
    world: BotWorld, clock: ManualClock, alice: UnlockedOfficer, make_officer: Any
) -> None:
    vault = world.vault
    # Sam is named in the report; Nora works in his unit; both are linked members of the routed queue.
    sam = await make_officer(
        "sam",
        queues=("psd-conduct", "psd-lead"),
        unit="hr",
        staff_number="HR1234",
        display_name="Sam Subject",
    )
    nora = await make_officer("nora", queues=("psd-conduct", "psd-lead"), unit="hr")
    lena = await make_officer("lena", queues=("psd-conduct",), unit="training")
    phones = {o.login: await link(world, o, 7400001 + i) for i, o in enumerate((alice, sam, nora, lena))}
    before = clock.now()

    result = await cases.submit(vault, report=urgent_report(), contact=str(world.user(7400100).user_id))
    case = await the_case(vault, result.case_id)
    assert result.queues == ("psd-conduct",) and case.priority == "urgent"
    # Acknowledged within hours, not "within 1 day": the deadline is 4 hours after the (coarse) receipt.
    assert case.ack_due_at - case.received_at == timedelta(hours=4)
    warning = (await entries(vault, case.id, outbox.DEADLINE_WARNING))[0]
    assert warning.detail["deadline"] == "acknowledge" and warning.due_at == case.received_at + timedelta(
        hours=3
    )

    # Told at once: the clock does not move, and the dispatcher sends within its round.
    for login in ("alice", "lena"):
        await wait_for(lambda login=login: bool(notices(world, phones[login], result.reference)), timeout=30)
    assert clock.now() == before
    for login in ("alice", "lena"):
        (text,) = notices(world, phones[login], result.reference)
        # The queue as the policy names it, never its id.
        assert text.startswith(f"Candour: {result.reference} in PSD conduct and complaints (urgent)")
        assert "psd-conduct" not in text
        # Content-free: nothing of the report, its category or the subject's unit.
        for word in ("violence", "Pike", "hurt", "hr", "HR1234", "Sam"):
            assert word not in text.replace(result.reference, "")
    # The subject and his colleague were never told, and nothing is queued for them.
    queued = {int(e.detail["officer"]) for e in await entries(vault, case.id, followup.OFFICER_NOTICE)}
    assert queued == {alice.id, lena.id}
    for login in ("sam", "nora"):
        texts = [m.get("text") or "" for m in world.emu.bot_messages(phones[login].user_id)]
        assert texts[-1] == T("link.done", login=login)
        assert not any(text.startswith("Candour: CN-") for text in texts)
    async with vault.db.reading() as session:
        detail = (
            await session.exec(
                select(AuditEntry.detail).where(
                    AuditEntry.case_id == case.id, AuditEntry.action == "case.submitted"
                )
            )
        ).one()
    assert detail["notified"] == 2
    assert nora.id not in queued and sam.id not in queued


async def test_a_report_without_urgency_tells_nobody_at_once(world: BotWorld, alice: UnlockedOfficer) -> None:
    await link(world, alice, 7400200)
    result = await cases.submit(
        world.vault, report=urgent_report(risk_of_harm=False, subjects=()), contact=None
    )
    assert await entries(world.vault, result.case_id, followup.OFFICER_NOTICE) == []
    case = await the_case(world.vault, result.case_id)
    assert case.priority == "high" and case.ack_due_at - case.received_at == timedelta(days=7)


async def test_an_unlinked_officer_gets_no_notice_but_the_case_is_still_urgent(
    world: BotWorld, alice: UnlockedOfficer
) -> None:
    result = await cases.submit(world.vault, report=urgent_report(subjects=()), contact=None)
    assert await entries(world.vault, result.case_id, followup.OFFICER_NOTICE) == []
    assert (await the_case(world.vault, result.case_id)).priority == "urgent"


async def test_an_urgent_case_unacknowledged_for_its_hours_is_escalated(
    world: BotWorld, clock: ManualClock, alice: UnlockedOfficer
) -> None:
    phone = await link(world, alice, 7400300)
    result = await cases.submit(world.vault, report=urgent_report(subjects=()), contact=None)
    case = await the_case(world.vault, result.case_id)
    await wait_for(lambda: len(notices(world, phone, result.reference)) == 1, timeout=30)
    clock.current = case.received_at + timedelta(hours=3)
    await wait_for(lambda: len(notices(world, phone, result.reference)) == 2, timeout=30)
    warned = notices(world, phone, result.reference)[-1]
    assert "acknowledgement due" in warned and f"{case.ack_due_at:%H:%M} UTC" in warned
    clock.current = case.ack_due_at
    await wait_for(lambda: len(notices(world, phone, result.reference)) == 3, timeout=30)
    assert "overdue" in notices(world, phone, result.reference)[-1]
    assert "escalated" in (await the_case(world.vault, case.id)).flags


# --- retaliation --------------------------------------------------------------------------------------


async def test_a_retaliation_answer_makes_the_case_urgent_and_tells_the_officers_at_once(
    world: BotWorld, clock: ManualClock, alice: UnlockedOfficer
) -> None:
    phone = await link(world, alice, 7400400)
    reporter = world.user(7400401)
    plain = cases.ReportSubmission(categories=("bullying",), narrative="He mocks me.", checkin_consent=True)
    result = await cases.submit(world.vault, report=plain, contact=str(reporter.user_id))
    assert (await the_case(world.vault, result.case_id)).priority == "normal"
    message = await next_checkin(world, clock, reporter.user_id, result.case_id)
    at_press = clock.now()
    press(world, reporter, message, "retaliation")
    await world.settle()
    case = await the_case(world.vault, result.case_id)
    # Not one step (normal -> high): retaliation is itself misconduct, so urgent.
    assert case.priority == "urgent" and {"retaliation", "escalated"} <= set(case.flags)

    def told() -> list[str]:
        return [t for t in notices(world, phone, result.reference) if "retaliation" in t]

    await wait_for(lambda: bool(told()), timeout=30)
    assert clock.now() == at_press
    (text,) = told()
    assert "(urgent)" in text and "mocks" not in text
    assert " in PSD conduct and complaints (urgent)" in text and "psd-conduct" not in text


async def test_the_answer_result_says_what_happened(
    world: BotWorld, clock: ManualClock, alice: UnlockedOfficer, make_officer: Any
) -> None:
    await link(world, alice, 7400500)
    # Lena leads psd-lead only: she is told of the escalation but cannot read the case until granted.
    lena = await make_officer("lena", queues=("psd-lead",), unit="training")
    await link(world, lena, 7400501)
    reporter = world.user(7400502)
    plain = cases.ReportSubmission(categories=("bullying",), narrative="He mocks me.", checkin_consent=True)
    result = await cases.submit(world.vault, report=plain, contact=str(reporter.user_id))
    # Acknowledged, so the 7-day deadline does not escalate it before the first check-in.
    await casework.change_status(
        world.vault, officer=alice, reference=result.reference, status="acknowledged"
    )
    await next_checkin(world, clock, reporter.user_id, result.case_id)
    sent = [e for e in await entries(world.vault, result.case_id, outbox.CHECKIN) if e.status == "sent"]
    assert sent[0].id is not None

    answered = await followup.answer_checkin(
        world.vault, entry_id=sent[0].id, chat=str(reporter.user_id), answer="retaliation"
    )
    assert (answered.priority_before, answered.priority_after) == ("normal", "urgent")
    assert answered.became_urgent and answered.escalated and answered.escalated_to == "psd-lead"
    assert answered.notified == 2  # alice (holds the key) and lena (escalated to her queue), both linked
    assert answered.readers == 1  # only alice can open it now
    assert answered.escalation_can_read  # alice is also a member of psd-lead
    assert not answered.reopened  # the case was open

    later = await next_checkin(world, clock, reporter.user_id, result.case_id)
    assert later
    second = [e for e in await entries(world.vault, result.case_id, outbox.CHECKIN) if e.status == "sent"][-1]
    assert second.id is not None
    again = await followup.answer_checkin(
        world.vault, entry_id=second.id, chat=str(reporter.user_id), answer="worse"
    )
    assert (again.priority_before, again.priority_after) == ("urgent", "urgent")
    assert not again.became_urgent and not again.escalated and again.escalated_to is None
    assert again.notified == 2  # alice, and lena: the case was escalated to her queue
    assert again.readers == 1


# --- the queue's default order ------------------------------------------------------------------------


async def test_the_default_queue_order_puts_urgent_then_overdue_first(
    vault: Vault, clock: ManualClock, alice: UnlockedOfficer
) -> None:
    assert queue_view.DEFAULT_SORT == "urgent-first"

    def plain(text: str, **extra: Any) -> cases.ReportSubmission:
        return cases.ReportSubmission(categories=("bullying",), narrative=text, **extra)

    old = (await cases.submit(vault, report=plain("old"))).reference
    clock.advance(timedelta(hours=1))
    urgent = (await cases.submit(vault, report=plain("urgent", risk_of_harm=True))).reference
    clock.advance(timedelta(days=8))  # old is now past its 7-day acknowledgement deadline
    new = [(await cases.submit(vault, report=plain(f"new {i}"))).reference for i in range(3)]
    await casework.change_status(vault, officer=alice, reference=urgent, status="acknowledged")
    # urgent was acknowledged, but it is still urgent and open; old is overdue; the new ones are neither.
    first = await queue_view.page(vault, officer_id=alice.id)
    order = [r.reference for r in first.rows]
    assert order[:2] == [urgent, old]
    assert set(order[2:]) == set(new)
    newest_first = [
        r.reference for r in (await queue_view.page(vault, officer_id=alice.id, sort="received-desc")).rows
    ]
    assert newest_first[-2:] == [urgent, old]

    # Keyset pages of one row walk the same order, each case once, across the segments.
    seen, cursor = [], None
    while True:
        page = await queue_view.page(vault, officer_id=alice.id, limit=1, cursor=cursor)
        seen.extend(r.reference for r in page.rows)
        if page.next_cursor is None:
            break
        cursor = page.next_cursor
    assert seen == order
    # A page that ends exactly at a segment's end still says more follow.
    two = await queue_view.page(vault, officer_id=alice.id, limit=2)
    assert [r.reference for r in two.rows] == [urgent, old] and two.next_cursor is not None

    # Closed, an urgent case no longer goes first.
    await casework.change_status(vault, officer=alice, reference=urgent, status="investigating")
    await casework.change_status(vault, officer=alice, reference=urgent, status="closed", outcome="Done.")
    after = [r.reference for r in (await queue_view.page(vault, officer_id=alice.id)).rows]
    assert after[0] == old and after[-1] == urgent


async def test_overdue_cases_come_unacknowledged_first_then_under_investigation(
    vault: Vault, clock: ManualClock, alice: UnlockedOfficer
) -> None:
    def plain(text: str) -> cases.ReportSubmission:
        return cases.ReportSubmission(categories=("bullying",), narrative=text)

    working = (await cases.submit(vault, report=plain("working"))).reference
    clock.advance(timedelta(hours=1))
    waiting = (await cases.submit(vault, report=plain("waiting"))).reference
    clock.advance(timedelta(hours=1))
    fresh_ack = (await cases.submit(vault, report=plain("fresh"))).reference
    for status in ("acknowledged", "investigating"):
        await casework.change_status(vault, officer=alice, reference=working, status=status)
    await casework.change_status(vault, officer=alice, reference=fresh_ack, status="acknowledged")
    clock.advance(timedelta(days=91))  # past every acknowledgement and feedback deadline
    latest = (await cases.submit(vault, report=plain("latest"))).reference
    order = [r.reference for r in (await queue_view.page(vault, officer_id=alice.id)).rows]
    # Not acknowledged and overdue; then under investigation; then acknowledged; then the rest.
    assert order == [waiting, working, fresh_ack, latest]
    walked, cursor = [], None
    while True:
        page = await queue_view.page(vault, officer_id=alice.id, limit=1, cursor=cursor)
        walked.extend(r.reference for r in page.rows)
        if page.next_cursor is None:
            break
        cursor = page.next_cursor
    assert walked == order


async def test_retaliation_after_closure_reopens_the_case_and_puts_it_first(
    world: BotWorld, clock: ManualClock, alice: UnlockedOfficer
) -> None:
    reporter = world.user(7400700)
    plain = cases.ReportSubmission(categories=("bullying",), narrative="He mocks me.", checkin_consent=True)
    result = await cases.submit(world.vault, report=plain, contact=str(reporter.user_id))
    for status in ("acknowledged", "investigating"):
        await casework.change_status(world.vault, officer=alice, reference=result.reference, status=status)
    await casework.change_status(
        world.vault, officer=alice, reference=result.reference, status="closed", outcome="Advice given."
    )
    message = await next_checkin(world, clock, reporter.user_id, result.case_id)
    others = [(await cases.submit(world.vault, report=plain)).reference for _ in range(3)]
    # The reporter taps "retaliation" on the after-closure check-in, through the running bot.
    press(world, reporter, message, "retaliation")
    await world.settle()

    case = await the_case(world.vault, result.case_id)
    assert case.status == "investigating" and case.closed_at is None and case.priority == "urgent"
    said = world.last(reporter.user_id)  # and the reporter is told so, not only that it is urgent
    assert T("checkin.retaliation.reopened") in said and T("checkin.retaliation.urgent") in said
    order = [r.reference for r in (await queue_view.page(world.vault, officer_id=alice.id)).rows]
    assert order[0] == result.reference and set(order[1:]) == set(others)
    assert not [e for e in await entries(world.vault, case.id, outbox.PURGE) if e.status == "pending"]
    async with world.vault.db.reading() as session:
        audited = (
            await session.exec(
                select(AuditEntry).where(AuditEntry.case_id == case.id, AuditEntry.action == "case.status")
            )
        ).all()
    assert audited[-1].actor == "system"
    assert audited[-1].detail["from"] == "closed" and audited[-1].detail["to"] == "investigating"


async def test_the_answer_result_says_a_closed_case_was_reopened(
    world: BotWorld, clock: ManualClock, alice: UnlockedOfficer
) -> None:
    reporter = world.user(7400800)
    plain = cases.ReportSubmission(categories=("bullying",), narrative="He mocks me.", checkin_consent=True)
    result = await cases.submit(world.vault, report=plain, contact=str(reporter.user_id))
    await casework.change_status(
        world.vault, officer=alice, reference=result.reference, status="acknowledged"
    )
    await casework.change_status(
        world.vault, officer=alice, reference=result.reference, status="closed", outcome="Advice given."
    )
    await next_checkin(world, clock, reporter.user_id, result.case_id)
    sent = [e for e in await entries(world.vault, result.case_id, outbox.CHECKIN) if e.status == "sent"]
    assert sent[-1].id is not None
    done = await followup.answer_checkin(
        world.vault, entry_id=sent[-1].id, chat=str(reporter.user_id), answer="retaliation"
    )
    assert done.reopened and done.became_urgent


@pytest.mark.parametrize("minute", [0, 1, 59])
async def test_an_hours_deadline_is_never_later_than_the_rule(
    vault: Vault, clock: ManualClock, alice: UnlockedOfficer, minute: int
) -> None:
    # The starter's risk-of-harm rule: acknowledge within 4 hours. Times stay on the hour and count from
    # the receipt time rounded down, so the deadline is never past the rule (or a legal ceiling), and at
    # most an hour short of it: a 10:59 report is due at 14:00. The validator asks at least two hours of
    # an hours rule, so at least an hour is always left.
    clock.current = clock.current.replace(hour=10, minute=minute, second=0, microsecond=0)
    submitted = clock.now()
    result = await cases.submit(vault, report=urgent_report())
    case = await the_case(vault, result.case_id)
    assert case.ack_due_at == submitted.replace(hour=14, minute=0)
    assert timedelta(hours=3) < case.ack_due_at - submitted <= timedelta(hours=4)
    assert case.received_at == submitted.replace(minute=0), "the receipt time stays coarse"
    (warning,) = [
        e
        for e in await entries(vault, case.id, outbox.DEADLINE_WARNING)
        if e.detail["deadline"] == "acknowledge"
    ]
    assert submitted < warning.due_at < case.ack_due_at
