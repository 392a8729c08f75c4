"""Follow-up in the vault: check-ins, their answers, deadline checks, escalation and officers' notices.

The bot's dispatcher claims due outbox entries (storage.outbox.claim_due) and calls these to decide and
record; everything that must not be lost is a row in the outbox or the case, never only a timer.
Nothing here can open a case: answers are sealed to the case key, notices carry no content.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from policies.schedule import add_months, in_quiet_hours, send_time
from policies.schema import PRIORITIES, Defaults
from storage import audit, outbox, policy_store
from storage import conflicts as conflict_rule
from storage.cases import CHECKIN_ANSWER, OFFICER_MESSAGE, live_case, next_seq, seal_new_item
from storage.clock import coarsen
from storage.contact import open_row
from storage.errors import InputError, NotFoundError
from storage.models import (
    Case,
    CaseItem,
    CaseKey,
    CaseQueue,
    ContactHandle,
    Officer,
    OfficerLink,
    OutboxEntry,
    Queue,
    QueueMember,
)
from storage.vault import Vault

# The one-tap answers to a check-in, in the order the bot shows them.
ANSWERS = ("better", "same", "worse", "retaliation", "stop")
OFFICER_NOTICE = "officer-notice"
CONTACT_SHRED = "contact-shred"
# Why a week: the reporter can still answer the last check-in; after that nothing needs their chat.
ANSWER_WINDOW = timedelta(days=7)
LINK_PURPOSE = "officer-link"
URGENT = "urgent"


class CheckinClosedError(InputError):
    """The check-in was answered already, or the case no longer takes answers."""


@dataclass(frozen=True)
class Send:
    """Send now, to this chat, in the language sealed with its handle (None: not known)."""

    chat: str
    language: str | None = None


@dataclass(frozen=True)
class Later:
    """Not now: put the entry back, due at this time."""

    at: datetime


@dataclass(frozen=True)
class Drop:
    """Do not send, and why (recorded on the entry)."""

    reason: str


Plan = Send | Later | Drop


async def _defaults(session: AsyncSession, case: Case | None) -> Defaults:
    """The policy defaults that govern this case's follow-up: those of the version that routed it."""
    if case is None:
        return (await policy_store.active(session)).document.defaults
    return (await policy_store.get_version(session, version=case.policy_version)).document.defaults


async def plan_checkin(vault: Vault, *, entry: OutboxEntry) -> Plan:
    """Decide what to do with a claimed check-in: send it, move it out of quiet hours, or drop it.

    A check-in first comes due at its nominal day; it is then given a random send time (jitter) after
    that, outside quiet hours, and sent when that time comes. If the dispatcher was down and the time
    has since fallen in quiet hours, it is moved again.
    """
    assert entry.case_id is not None
    now = vault.clock.now()
    async with vault.db.reading() as session:
        case = await session.get(Case, entry.case_id)
        if case is None or case.purged_at is not None:
            return Drop("case purged")
        if case.checkins_stopped:
            return Drop("check-ins stopped")
        defaults = await _defaults(session, case)
        contact = await session.get(ContactHandle, case.id)
    quiet = defaults.quiet_hours
    if not entry.detail.get("planned"):
        jitter = timedelta(minutes=defaults.checkin_jitter_minutes)
        return Later(send_time(entry.due_at, quiet, jitter=jitter, draw=secrets.randbelow(10**6) / 10**6))
    if in_quiet_hours(now, quiet):
        jitter = timedelta(minutes=min(defaults.checkin_jitter_minutes, 60))
        return Later(send_time(now, quiet, jitter=jitter, draw=secrets.randbelow(10**6) / 10**6))
    if contact is None:
        return Drop("no contact handle")
    opened = open_row(vault.keys.relay, contact)
    return Send(opened.chat, opened.language)


async def reschedule(
    vault: Vault,
    *,
    entry_id: int,
    at: datetime,
    planned: bool = True,
    error: str = "",
    reset_attempts: bool = False,
) -> None:
    """Put a claimed entry back as pending, due at `at` (its plan recorded, so it is not re-jittered).

    `at` is kept exact while the entry waits (a jittered send time, a retry seconds away: see
    storage.outbox) and coarsened when it is finished; times that need no precision come coarse already.
    """
    async with vault.db.transaction() as session:
        entry = await session.get(OutboxEntry, entry_id)
        if entry is None:
            return
        entry.status, entry.lease_owner, entry.lease_until, entry.due_at = "pending", None, None, at
        if reset_attempts:
            entry.attempts = 0
        entry.detail = {**entry.detail, "planned": planned}
        entry.last_error = error[:200] or None
        session.add(entry)


async def attempts_allowed(vault: Vault, *, case_id: str | None) -> int:
    """How many times in all a send may be tried (the policy's delivery attempts)."""
    async with vault.db.reading() as session:
        case = await session.get(Case, case_id) if case_id else None
        return (await _defaults(session, case)).delivery_attempts


async def stop_contact(vault: Vault, *, case_id: str, reason: str) -> int:
    """The reporter's chat cannot be reached (bot blocked, chat deleted): stop this case's check-ins and
    record why; returns how many pending entries were cancelled. Team messages stay readable by /status."""
    now = coarsen(vault.clock.now())
    async with vault.db.transaction() as session:
        case = await session.get(Case, case_id)
        if case is None:
            return 0
        case.checkins_stopped = True
        session.add(case)
        cancelled = await outbox.cancel(
            session, case_id=case_id, kinds=(outbox.CHECKIN, outbox.REPORTER_MESSAGE), reason=reason
        )
        await audit.append(
            session,
            at=now,
            actor="system",
            action="case.checkins-stopped",
            case_id=case_id,
            detail={"reason": reason[:80]},
        )
        return cancelled


async def checkin_sent(vault: Vault, *, entry_id: int) -> None:
    """Record a check-in as sent; after the last one of a closed case, schedule the contact's shredding.

    Threat: the shredding time is derived from the moment of sending, which is when the reporter's phone
    lit up. Why from the hour: so it says no more than the sent entry's own (coarsened) times.
    """
    now = coarsen(vault.clock.now())
    async with vault.db.transaction() as session:
        entry = await session.get(OutboxEntry, entry_id)
        if entry is None or entry.case_id is None:
            return
        entry.status, entry.lease_owner, entry.lease_until = "sent", None, None
        entry.done_at, entry.last_error = now, None
        session.add(entry)
        case = await session.get(Case, entry.case_id)
        if case is not None and case.status == "closed" and not await _pending_checkins(session, case.id):
            outbox.schedule(session, kind=CONTACT_SHRED, due_at=now + ANSWER_WINDOW, now=now, case_id=case.id)


async def _pending_checkins(session: AsyncSession, case_id: str) -> bool:
    row = (
        await session.exec(
            select(OutboxEntry.id).where(
                OutboxEntry.case_id == case_id,
                OutboxEntry.kind == outbox.CHECKIN,
                col(OutboxEntry.status).in_(("pending", "claimed")),
            )
        )
    ).first()
    return row is not None


@dataclass(frozen=True)
class AnswerResult:
    """What answering a check-in did, so the bot can tell the reporter the truth of it."""

    answer: str
    escalated: bool
    stopped: bool
    priority_before: str = ""
    priority_after: str = ""
    # True when this answer made the case urgent (it was not before).
    became_urgent: bool = False
    # Content-free notices queued at once for officers who may learn of the case.
    notified: int = 0
    # The queue the case was escalated to, if this answer escalated it.
    escalated_to: str | None = None
    # Officers who can open the case now (hold its key and have no conflict); the escalation queue's
    # members can read it only once such an officer grants it (escalation_can_read).
    readers: int = 0
    escalation_can_read: bool = False
    # True when this answer reopened a closed case (retaliation after closure).
    reopened: bool = False
    # The language sealed with the case's contact handle (None: not known), to answer the reporter in.
    language: str | None = None


async def answer_checkin(vault: Vault, *, entry_id: int, chat: str, answer: str) -> AnswerResult:
    """Seal a reporter's one-tap answer to a check-in into the case, and act on it.

    Threat: a forged button press answering someone else's check-in. Why the contact check: the
    answer counts only from the chat the check-in was sent to (the case's sealed contact handle).
    Retaliation raises the priority, escalates per policy and notifies the queues; stop ends check-ins.
    """
    if answer not in ANSWERS:
        raise InputError("that is not an answer to a check-in")
    now = coarsen(vault.clock.now())
    async with vault.db.transaction() as session:
        entry = await session.get(OutboxEntry, entry_id, with_for_update=True)
        if entry is None or entry.kind != outbox.CHECKIN or entry.case_id is None:
            raise NotFoundError("no such check-in")
        row = await session.get(ContactHandle, entry.case_id)
        contact = open_row(vault.keys.relay, row) if row is not None else None
        if contact is None or contact.chat != chat:
            raise CheckinClosedError("this check-in is closed")
        if entry.status != "sent" or entry.detail.get("answered"):
            raise CheckinClosedError("this check-in was answered already")
        case = await live_case(session, entry.case_id, for_update=True)
        seal_new_item(
            session,
            case=case,
            kind=CHECKIN_ANSWER,
            author="reporter",
            meta={"answer": answer, "phase": entry.detail.get("phase"), "day": entry.detail.get("day")},
            seq=await next_seq(session, case.id),
            at=now,
        )
        entry.detail = {**entry.detail, "answered": True}
        session.add(entry)
        escalated = stopped = reopened = False
        before, notified, target = case.priority, 0, None
        if answer == "retaliation":
            reopened = await _reopen_for_retaliation(session, case, now=now)
            # Why urgent, not one step up: retaliation against a reporter is itself misconduct, and the
            # reporter may be at risk; the officers who may learn of the case are told at once.
            if "retaliation" not in case.flags:
                case.flags = [*case.flags, "retaliation"]
            done = await _escalate(
                vault, session, case, now=now, why="retaliation reported at a check-in", to=URGENT
            )
            # Why only when added: "it has also gone to a second team" must not be said when the
            # escalation queue already had the case (a PSD case routed to independent review).
            escalated, notified = True, done.notified
            target = done.target if done.added else None
        elif answer == "worse":
            notified = await _notify_queues(
                vault, session, case, now=now, what="a check-in answer needs reading"
            )
        elif answer == "stop":
            case.checkins_stopped = stopped = True
            await outbox.cancel(session, case_id=case.id, kinds=(outbox.CHECKIN,), reason="reporter stopped")
        if "checkin-answer" not in case.flags:
            case.flags = [*case.flags, "checkin-answer"]
        case.updated_at = now
        session.add(case)
        await audit.append(
            session, at=now, actor="reporter", action="case.checkin-answered", case_id=case.id, detail={}
        )
        readers = await _readers(vault, session, case)
        return AnswerResult(
            answer=answer,
            escalated=escalated,
            stopped=stopped,
            priority_before=before,
            priority_after=case.priority,
            became_urgent=case.priority == URGENT and before != URGENT,
            notified=notified,
            escalated_to=target,
            readers=len(readers),
            escalation_can_read=target is not None and await _any_member(session, target, readers),
            reopened=reopened,
            language=contact.language,
        )


async def _reopen_for_retaliation(session: AsyncSession, case: Case, *, now: datetime) -> bool:
    """Reopen a closed case on a retaliation answer (closed -> investigating, the status model's only
    way back); returns whether it did.

    Why: retaliation after closure is new misconduct against the reporter. Left closed, the case would
    be urgent but sit below every open case in the urgent-first queue (only open cases are urgent
    there), and its purge would still be coming. This cancels the purge, as an officer's reopening
    does, but keeps the pending after-closure check-ins: a reporter being retaliated against should
    still be asked. The deadlines were met at closure; the escalation that follows is the clock now
    (its notices go out at once).
    """
    if case.status != "closed":
        return False
    case.status, case.closed_at = "investigating", None
    await outbox.cancel(session, case_id=case.id, kinds=(outbox.PURGE,), reason="reopened")
    await audit.append(
        session,
        at=now,
        actor="system",
        action="case.status",
        case_id=case.id,
        detail={"from": "closed", "to": "investigating", "why": "retaliation reported after closure"},
    )
    return True


async def _readers(vault: Vault, session: AsyncSession, case: Case) -> set[int]:
    """The officers who can open the case now: they hold its key and the conflict rule lets them work it."""
    holders = set((await session.exec(select(CaseKey.officer_id).where(CaseKey.case_id == case.id))).all())
    holders.discard(None)
    if not holders:
        return set()
    conflicts = await conflict_rule.recorded(session, vault.keys.relay, case)
    officers = (await session.exec(select(Officer).where(col(Officer.id).in_(sorted(holders))))).all()
    return {o.id for o in officers if o.id is not None and conflict_rule.may_work(o, conflicts)}


async def _any_member(session: AsyncSession, queue_id: str, officer_ids: set[int]) -> bool:
    """Whether any of these officers is a member of the queue."""
    if not officer_ids:
        return False
    row = (
        await session.exec(
            select(QueueMember.officer_id).where(
                QueueMember.queue_id == queue_id, col(QueueMember.officer_id).in_(sorted(officer_ids))
            )
        )
    ).first()
    return row is not None


@dataclass(frozen=True)
class Escalation:
    """What escalating did: the queue added (None if the policy names none) and notices queued."""

    target: str | None
    notified: int
    # True when this escalation added the target queue to the case (it did not have the case before).
    added: bool = False


async def _escalate(
    vault: Vault, session: AsyncSession, case: Case, *, now: datetime, why: str, to: str | None = None
) -> Escalation:
    """Raise the priority one step (or to `to`, if higher), flag the case escalated, add the policy's
    escalation queue, notify.

    Why the escalation queue gets no key here: nothing on the server can open a case key. Its members
    are told (content-free) and see the case in their queue; an officer who holds the case key grants
    them access at the desk (storage.casework.grant_escalation), which also re-checks conflicts. Who of
    them is told, and sees the case, is the conflict rule's to say (storage.conflicts).
    """
    level = PRIORITIES.index(case.priority) if case.priority in PRIORITIES else 1  # type: ignore[arg-type]
    level = min(level + 1, len(PRIORITIES) - 1)
    if to is not None:
        level = max(level, PRIORITIES.index(to))  # type: ignore[arg-type]
    case.priority = PRIORITIES[level]
    first = "escalated" not in case.flags
    if first:
        case.flags = [*case.flags, "escalated"]
    target = case.escalation_queue
    added = bool(target) and await session.get(CaseQueue, (case.id, target)) is None
    if added and target:
        session.add(CaseQueue(case_id=case.id, queue_id=target, via="escalated", added_at=now))
        await session.flush()
    notified = await _notify_queues(vault, session, case, now=now, what=why)
    await audit.append(
        session,
        at=now,
        actor="system",
        action="case.escalated",
        case_id=case.id,
        detail={"to": target, "priority": case.priority, "why": why},
    )
    return Escalation(target=target, notified=notified, added=added)


async def _notify_queues(vault: Vault, session: AsyncSession, case: Case, *, now: datetime, what: str) -> int:
    """Queue a content-free notice for each linked officer of the case's queues who may learn of it;
    returns how many.

    Threat: a notice naming the case to its subject or a colleague of their unit (promise 3). Why the
    conflict rule decides, not queue membership: membership says nothing of who was named in the report.
    """
    told = await conflict_rule.audience(session, vault.keys.relay, case)
    names = await _queue_names(session, {queue_id for _officer, queue_id in told})
    for officer, queue_id in told:
        outbox.schedule(
            session,
            kind=OFFICER_NOTICE,
            due_at=now,
            now=now,
            case_id=case.id,
            detail={
                "officer": officer.id,
                "queue": names.get(queue_id, queue_id),  # the policy's name for it, not its id
                "reference": case.reference,
                "priority": case.priority,
                "what": what,
            },
        )
    return len(told)


async def _queue_names(session: AsyncSession, queue_ids: set[str]) -> dict[str, str]:
    """Queue id -> the name the policy gives it (the directory of the newest policy), for notices."""
    if not queue_ids:
        return {}
    rows = (await session.exec(select(Queue).where(col(Queue.id).in_(sorted(queue_ids))))).all()
    return {row.id: row.name for row in rows}


async def check_deadline(vault: Vault, *, entry: OutboxEntry) -> str:
    """A deadline warning or due date has come: warn, or escalate, unless the deadline was met.

    Returns what was done: "met", "warned" or "escalated".
    """
    assert entry.case_id is not None
    name = entry.detail.get("deadline", "")
    now = coarsen(vault.clock.now())
    async with vault.db.transaction() as session:
        case = await session.get(Case, entry.case_id, with_for_update=True)
        if not _open(case):
            return "met"
        if name == "acknowledge" and case.acknowledged_at is not None:
            return "met"
        if name == "feedback" and await _feedback_given(session, case):
            return "met"
        due = case.ack_due_at if name == "acknowledge" else case.feedback_due_at
        what = {"acknowledge": "acknowledgement", "feedback": "feedback to the reporter"}.get(name, name)
        when = _when(due, case.received_at)
        if entry.kind == outbox.DEADLINE_WARNING:
            await _notify_queues(vault, session, case, now=now, what=f"{what} due {when}")
            await audit.append(
                session,
                at=now,
                actor="system",
                action="case.deadline-warning",
                case_id=case.id,
                detail={"deadline": name},
            )
            return "warned"
        await _escalate(vault, session, case, now=now, why=f"{what} overdue since {when}")
        session.add(case)
        return "escalated"


def _when(due: datetime, received: datetime) -> str:
    """A deadline as a notice says it: the day, and the hour (UTC) when the policy gave it in hours."""
    if due - received < timedelta(days=2):
        return f"{due:%d %b %Y, %H:%M} UTC"
    return f"{due:%d %b %Y}"


def _open(case: Case | None) -> bool:
    """A case that still exists (not purged) and is not closed."""
    return case is not None and case.purged_at is None and case.status != "closed"


async def _feedback_given(session: AsyncSession, case: Case) -> bool:
    row = (
        await session.exec(
            select(CaseItem.id).where(CaseItem.case_id == case.id, CaseItem.kind == OFFICER_MESSAGE)
        )
    ).first()
    return row is not None


async def officer_chat(vault: Vault, *, officer_id: int) -> str | None:
    """The linked Telegram chat of an officer, opened for a notice (None if not linked)."""
    async with vault.db.reading() as session:
        link = await session.get(OfficerLink, officer_id)
    if link is None:
        return None
    return vault.keys.relay.open(
        link.key_id, link.sealed, purpose=LINK_PURPOSE, context=str(officer_id)
    ).decode()


async def case_reference(vault: Vault, *, case_id: str) -> str | None:
    """The reference of a case not yet purged (None if gone)."""
    async with vault.db.reading() as session:
        case = await session.get(Case, case_id)
    return None if case is None or case.purged_at is not None else case.reference


async def needs_contact(vault: Vault, *, case_id: str) -> bool:
    """Whether the case may still need to reach the reporter: open, or with check-ins or messages still to
    send. A message already notified does not count: its text stays readable through /status."""
    async with vault.db.reading() as session:
        case = await session.get(Case, case_id)
        if case is None or case.purged_at is not None:
            return False
        if case.status != "closed":
            return True
        row = (
            await session.exec(
                select(OutboxEntry.id).where(
                    OutboxEntry.case_id == case_id,
                    col(OutboxEntry.kind).in_((outbox.CHECKIN, outbox.REPORTER_MESSAGE)),
                    col(OutboxEntry.status).in_(("pending", "claimed")),
                )
            )
        ).first()
        return row is not None


async def check_progress(vault: Vault, *, entry: OutboxEntry) -> str:
    """An open investigation's progress update is due (Police (Conduct) Regulations 2020, reg 19): tell the
    queues and schedule the next one; a closed case needs none. Returns "met" or "notified"."""
    assert entry.case_id is not None
    now = coarsen(vault.clock.now())
    async with vault.db.transaction() as session:
        case = await session.get(Case, entry.case_id)
        if not _open(case):
            return "met"
        clock = (await _defaults(session, case)).progress_update
        await _notify_queues(vault, session, case, now=now, what="a progress update is due (reg 19)")
        outbox.schedule(
            session,
            kind=outbox.PROGRESS_UPDATE,
            due_at=add_months(entry.due_at, clock.then_every_months),
            now=now,
            case_id=case.id,
        )
        await audit.append(
            session, at=now, actor="system", action="case.progress-due", case_id=case.id, detail={}
        )
        return "notified"
