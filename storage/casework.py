"""The standards team's side of the vault: open a case, message the reporter, notes, status, grant,
refer, purge. Every operation that reads or changes a case is audited with the officer who did it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlmodel import col, delete, select
from sqlmodel.ext.asyncio.session import AsyncSession

from policies.engine import queue_conflicts
from storage import audit, crypto, outbox, payloads, policy_store
from storage import conflicts as conflict_rule
from storage.cases import (
    NOTE,
    OFFICER_MESSAGE,
    OUTCOME,
    REPORT,
    STATUS_NOTICE,
    SUBJECTS,
    add_case_key,
    check_encodable,
    eligible_recipients,
    live_case,
    next_seq,
    seal_new_item,
)
from storage.clock import coarsen
from storage.conflicts import CASEWORK_ROLES, QUEUE_LEAD, Conflicts
from storage.errors import (
    CannotWorkError,
    ConflictOfInterestError,
    InputError,
    InvalidTransitionError,
    NotEntitledError,
    NotFoundError,
    NotPermittedError,
)
from storage.models import (
    Case,
    CaseConflict,
    CaseConflictMark,
    CaseItem,
    CaseKey,
    CaseQueue,
    ContactHandle,
    Officer,
    OutboxEntry,
    Queue,
    Receipt,
)
from storage.officers import (
    UnlockedOfficer,
    add_membership,
    check_may_join_queue,
    get_by_login,
    named_in,
)
from storage.vault import Vault

# Allowed status changes. Why a closed case may reopen: new evidence or retaliation after closure.
TRANSITIONS: dict[str, tuple[str, ...]] = {
    "received": ("acknowledged", "closed"),
    "acknowledged": ("investigating", "closed"),
    "investigating": ("closed",),
    "closed": ("investigating",),
}
OPEN_STATUSES = ("received", "acknowledged", "investigating")
# CASEWORK_ROLES (who may act on a case they can open) and QUEUE_LEAD (who may widen access to others)
# live with the conflict rule in storage.conflicts; the front doors import them from here too.

# What the reporter is told on each change, in discreet words (the bot's catalogue may override them).
REPORTER_NOTICES = {
    "acknowledged": "Your report has been received and is being looked at by the team.",
    "investigating": "Your report is being investigated.",
}


@dataclass(frozen=True)
class OpenedItem:
    """One decrypted item."""

    id: str
    seq: int
    kind: str
    author: str
    created_at: datetime
    meta: dict[str, Any]
    body: bytes = field(repr=False, default=b"")


@dataclass(frozen=True)
class OpenedCase:
    """A case decrypted for one officer."""

    id: str
    reference: str
    status: str
    priority: str
    categories: tuple[str, ...]
    flags: tuple[str, ...]
    queues: tuple[str, ...]
    received_at: datetime
    ack_due_at: datetime
    feedback_due_at: datetime
    policy_version: int
    matched_rules: tuple[str, ...]
    items: tuple[OpenedItem, ...]

    def first(self, kind: str) -> OpenedItem | None:
        return next((item for item in self.items if item.kind == kind), None)


async def case_by_reference(session: AsyncSession, reference: str, *, for_update: bool = False) -> Case:
    """The case with this reference (case-insensitive), or NotFoundError; `for_update` locks its row."""
    statement = select(Case).where(Case.reference == reference.strip().upper())
    if for_update:
        statement = statement.with_for_update()
    case = (await session.exec(statement)).first()
    if case is None:
        raise NotFoundError(f"no case with reference {reference.strip()!r}")
    return case


async def _case_key_for(session: AsyncSession, case: Case, private_key: bytes) -> bytes:
    """Unwrap the case private key with a recipient's private key, or NotEntitledError."""
    fingerprint = crypto.fingerprint(crypto.public_from_private(private_key))
    row = (
        await session.exec(
            select(CaseKey).where(CaseKey.case_id == case.id, CaseKey.recipient_fingerprint == fingerprint)
        )
    ).first()
    if row is None:
        raise NotEntitledError(f"you are not entitled to open case {case.reference}")
    return crypto.unwrap_case_key(row.wrapped, recipient_private_key=private_key, case_id=case.id)


def _open_items(case: Case, case_key: bytes, items: list[CaseItem]) -> tuple[OpenedItem, ...]:
    opened = []
    for item in items:
        plaintext = crypto.open_item(
            item.ciphertext, case_private_key=case_key, case_id=case.id, item_id=item.id, kind=item.kind
        )
        meta, body = payloads.decode(plaintext)
        opened.append(
            OpenedItem(
                id=item.id,
                seq=item.seq,
                kind=item.kind,
                author=item.author,
                created_at=item.created_at,
                meta=meta,
                body=body,
            )
        )
    return tuple(opened)


async def open_case(vault: Vault, *, officer: UnlockedOfficer, reference: str) -> OpenedCase:
    """Decrypt a whole case for an officer who may work it (see `check_may_work`); the view is audited."""
    officer.require(*CASEWORK_ROLES)
    return await _open(
        vault,
        private_key=officer.private_key,
        reference=reference,
        actor=officer.actor,
        officer_id=officer.id,
    )


async def open_case_with_recovery(vault: Vault, *, recovery_private_key: bytes, reference: str) -> OpenedCase:
    """Decrypt a case with the offline recovery key (break-glass; audited as such)."""
    return await _open(vault, private_key=recovery_private_key, reference=reference, actor="recovery-key")


async def check_may_work(
    vault: Vault, session: AsyncSession, officer_id: int, case: Case, conflicts: Conflicts | None = None
) -> None:
    """NotEntitledError (the same words as holding no key) unless the officer, as the directory has them
    now, is active, holds a casework role and is not conflicted out of the case.

    Threat: a wrap made before a role was taken away, an officer deactivated, or a late match found, still
    opening the case. Why the directory and not the session: roles and `active` may change after unlock.
    """
    row = await session.get(Officer, officer_id)
    if conflicts is None:
        conflicts = await conflict_rule.recorded(session, vault.keys.relay, case)
    if row is None or not conflict_rule.may_work(row, conflicts):
        raise NotEntitledError(f"you are not entitled to open case {case.reference}")


async def _open(
    vault: Vault, *, private_key: bytes, reference: str, actor: str, officer_id: int | None = None
) -> OpenedCase:
    now = coarsen(vault.clock.now())
    async with vault.db.transaction() as session:
        case = await case_by_reference(session, reference)
        case = await live_case(session, case.id)
        case_key = await _case_key_for(session, case, private_key)
        if officer_id is not None:
            # Why re-check conflicts at every opening: a late match found now stops notices at once.
            await check_may_work(
                vault, session, officer_id, case, await _conflicts(vault, session, case, case_key)
            )
        items = list(
            (
                await session.exec(
                    select(CaseItem).where(CaseItem.case_id == case.id).order_by(col(CaseItem.seq))
                )
            ).all()
        )
        queues = (
            await session.exec(
                select(CaseQueue.queue_id)
                .where(CaseQueue.case_id == case.id)
                .order_by(col(CaseQueue.queue_id))
            )
        ).all()
        await audit.append(
            session,
            at=now,
            actor=actor,
            action="case.opened",
            case_id=case.id,
            detail={"reference": case.reference},
        )
    return OpenedCase(
        id=case.id,
        reference=case.reference,
        status=case.status,
        priority=case.priority,
        categories=tuple(case.categories),
        flags=tuple(case.flags),
        queues=tuple(queues),
        received_at=case.received_at,
        ack_due_at=case.ack_due_at,
        feedback_due_at=case.feedback_due_at,
        policy_version=case.policy_version,
        matched_rules=tuple(case.matched_rules),
        items=_open_items(case, case_key, items),
    )


async def _entitled_case(
    vault: Vault, session: AsyncSession, officer: UnlockedOfficer, reference: str
) -> tuple[Case, bytes]:
    # Why lock: writers number new items max+1; on PostgreSQL two at once would take the same number.
    case = await case_by_reference(session, reference, for_update=True)
    case = await live_case(session, case.id)
    case_key = await _case_key_for(session, case, officer.private_key)
    await check_may_work(vault, session, officer.id, case)
    return case, case_key


def _seal_for_reporter(case: Case, item: CaseItem, meta: dict[str, Any]) -> None:
    if case.reporter_public_key is None:
        return
    item.reporter_ciphertext = crypto.hpke_seal(
        payloads.encode(meta),
        public_key=case.reporter_public_key,
        info=crypto.bind(crypto.Purpose.REPORTER_COPY, case.id, item.id, item.kind),
    )


async def message_reporter(vault: Vault, *, officer: UnlockedOfficer, reference: str, text: str) -> str:
    """Seal a message into the case, to the reporter's receipt key, and into the outbox for the bot to push."""
    officer.require(*CASEWORK_ROLES)
    _check_text(vault, text)
    now = coarsen(vault.clock.now())
    async with vault.db.transaction() as session:
        case, _key = await _entitled_case(vault, session, officer, reference)
        item = await _officer_item(
            session, case, officer, OFFICER_MESSAGE, {"text": text}, now, for_reporter=True
        )
        outbox.schedule_for_reporter(
            vault, session, case_id=case.id, text=text, now=now, detail={"item": item.id, "reason": "message"}
        )
        await audit.append(
            session,
            at=now,
            actor=officer.actor,
            action="case.messaged",
            case_id=case.id,
            detail={"item": item.id},
        )
        return item.id


async def add_note(vault: Vault, *, officer: UnlockedOfficer, reference: str, text: str) -> str:
    """Seal an internal note (never shown to the reporter) into the case."""
    officer.require(*CASEWORK_ROLES)
    _check_text(vault, text)
    now = coarsen(vault.clock.now())
    async with vault.db.transaction() as session:
        case, _key = await _entitled_case(vault, session, officer, reference)
        item = await _officer_item(session, case, officer, NOTE, {"text": text}, now, for_reporter=False)
        await audit.append(
            session,
            at=now,
            actor=officer.actor,
            action="case.noted",
            case_id=case.id,
            detail={"item": item.id},
        )
        return item.id


async def _officer_item(
    session: AsyncSession,
    case: Case,
    officer: UnlockedOfficer,
    kind: str,
    meta: dict[str, Any],
    now: datetime,
    *,
    for_reporter: bool,
) -> CaseItem:
    item = seal_new_item(
        session,
        case=case,
        kind=kind,
        author="officer",
        meta=meta,
        seq=await next_seq(session, case.id),
        at=now,
        officer_id=officer.id,
    )
    if for_reporter:
        _seal_for_reporter(case, item, meta)
    case.updated_at = now
    session.add(case)
    return item


def _check_text(vault: Vault, text: str) -> None:
    check_encodable(text)
    if not text.strip():
        raise InputError("the text is empty")
    if len(text) > vault.limits.max_text_chars:
        raise InputError(f"the text is longer than {vault.limits.max_text_chars} characters")


async def change_status(
    vault: Vault, *, officer: UnlockedOfficer, reference: str, status: str, outcome: str | None = None
) -> str:
    """Move a case along its workflow; closing needs an outcome, which the reporter is told."""
    officer.require(*CASEWORK_ROLES)
    now = coarsen(vault.clock.now())
    async with vault.db.transaction() as session:
        case, _key = await _entitled_case(vault, session, officer, reference)
        allowed = TRANSITIONS.get(case.status, ())
        if status not in allowed:
            raise InvalidTransitionError(
                f"a case that is {case.status} can become {', '.join(allowed) or 'nothing else'}, not {status}"
            )
        previous, case.status, case.updated_at = case.status, status, now
        if status == "acknowledged":
            case.acknowledged_at = now
            await outbox.cancel(
                session,
                case_id=case.id,
                kinds=(outbox.DEADLINE_WARNING, outbox.DEADLINE_DUE),
                reason="acknowledged",
            )
            feedback = outbox.deadline_rows(
                case_id=case.id, name="feedback", start=case.received_at, due=case.feedback_due_at, now=now
            )
            await outbox.add_rows(session, feedback)
        if status == "closed":
            if not outcome or not outcome.strip():
                raise InputError("closing a case needs an outcome the reporter will be told")
            _check_text(vault, outcome)
            case.closed_at = now
            await _close_followup(vault, session, case, now)
            message = outcome
            kind = OUTCOME
        else:
            if status == "investigating" and previous == "closed":
                case.closed_at = None
                await outbox.cancel(
                    session, case_id=case.id, kinds=(outbox.PURGE, outbox.CHECKIN), reason="reopened"
                )
            message = REPORTER_NOTICES.get(status, "")
            kind = STATUS_NOTICE
        if message:
            item = await _officer_item(
                session, case, officer, kind, {"text": message, "status": status}, now, for_reporter=True
            )
            outbox.schedule_for_reporter(
                vault,
                session,
                case_id=case.id,
                text=message,
                now=now,
                detail={"item": item.id, "reason": status},
            )
        session.add(case)
        await audit.append(
            session,
            at=now,
            actor=officer.actor,
            action="case.status",
            case_id=case.id,
            detail={"from": previous, "to": status},
        )
        return status


async def _close_followup(vault: Vault, session: AsyncSession, case: Case, now: datetime) -> None:
    """On closure: stop deadline checks and open-phase check-ins, schedule after-closure check-ins and purge."""
    await outbox.cancel(
        session,
        case_id=case.id,
        kinds=(outbox.DEADLINE_WARNING, outbox.DEADLINE_DUE, outbox.CHECKIN),
        reason="closed",
    )
    policy = await policy_store.get_version(session, version=case.policy_version)
    if not case.checkins_stopped:
        days = policy.document.defaults.checkin_after_closure_days
        await outbox.add_rows(
            session,
            outbox.checkin_rows(case_id=case.id, start=now, days=tuple(days), now=now, phase="closed"),
        )
    outbox.schedule(
        session, kind=outbox.PURGE, due_at=now + timedelta(days=case.retention_days), now=now, case_id=case.id
    )


async def _open_kind(session: AsyncSession, case: Case, case_key: bytes, kind: str) -> dict[str, Any]:
    item = (
        await session.exec(
            select(CaseItem)
            .where(CaseItem.case_id == case.id, CaseItem.kind == kind)
            .order_by(col(CaseItem.seq))
        )
    ).first()
    if item is None:
        return {}
    meta, _ = payloads.decode(
        crypto.open_item(
            item.ciphertext, case_private_key=case_key, case_id=case.id, item_id=item.id, kind=item.kind
        )
    )
    return meta


async def _conflicts(vault: Vault, session: AsyncSession, case: Case, case_key: bytes) -> Conflicts:
    """Officers named as subjects (matched at submission, and re-matched now against the report's people),
    and the subjects' units (as routed, plus the units of officers matched now); a late match widens the
    case's sealed conflict record, so notices and listings leave that officer out from now on.

    Why re-match: an officer who joined the directory after the report was made was not matched then.
    """
    named = {int(i) for i in (await _open_kind(session, case, case_key, SUBJECTS)).get("officer_ids", [])}
    people = (await _open_kind(session, case, case_key, REPORT)).get("subjects", [])
    written = [(str(p.get("name") or ""), str(p.get("staff_number") or "")) for p in people]
    units = set(conflict_rule.routed_units(case))
    for officer in await named_in(session, people=written):
        named.add(officer.id)
        # As at submission: an unsure match leaves the officer out, not their whole unit.
        if officer.unit_id and officer.certain:
            units.add(officer.unit_id)
    found = Conflicts(officer_ids=frozenset(named), units=frozenset(units))
    return await conflict_rule.widen(session, vault.keys.relay, case, found, lookup_key=vault.keys.lookup_key)


async def rematched_conflicts(
    vault: Vault, session: AsyncSession, case: Case, private_key: bytes
) -> Conflicts:
    """The case's conflicts with the report's people re-matched against the directory now (widening its
    record), for an officer whose key opens it; NotEntitledError otherwise."""
    return await _conflicts(vault, session, case, await _case_key_for(session, case, private_key))


async def check_assignee(
    session: AsyncSession, *, case: Case, assignee: Officer, conflicts: Conflicts
) -> None:
    """CannotWorkError, saying why, unless the assignee may work the case (the one rule,
    storage.conflicts.may_work) and holds its key.

    Threat: a subject the matching missed when the report was made (a late match) or an officer whose
    casework role was taken away still holds a wrap; made assignee, the case would sit on their desk.
    """
    refused = f"{assignee.login} cannot work {case.reference}"
    if not conflict_rule.may_work(assignee, conflicts):
        if not assignee.active:
            raise CannotWorkError(f"{refused}: the officer is not active")
        if not set(CASEWORK_ROLES) & set(assignee.roles):
            raise CannotWorkError(f"{refused}: that needs the role {' or '.join(CASEWORK_ROLES)}")
        raise CannotWorkError(f"{refused}: named in it, or in the unit of someone named in it")
    wrap = (
        await session.exec(
            select(CaseKey.id).where(CaseKey.case_id == case.id, CaseKey.officer_id == assignee.id)
        )
    ).first()
    if wrap is None:
        raise CannotWorkError(f"{refused}: they hold no key for it (grant it to them first)")


def _check_grantee(grantee: Officer, conflicts: Conflicts, case: Case) -> None:
    """Refuse a grantee who may not work the case: inactive, without a casework role, or conflicted."""
    if not grantee.active:
        raise NotFoundError(f"no officer with login {grantee.login!r}")
    if not set(CASEWORK_ROLES) & set(grantee.roles):
        raise NotPermittedError(
            f"{grantee.login} cannot receive a case: that needs the role {' or '.join(CASEWORK_ROLES)}"
        )
    if conflicts.excludes(grantee):
        raise ConflictOfInterestError(
            f"{grantee.login} is named in, or in the unit of someone named in, {case.reference}"
        )


async def _grant_to(
    vault: Vault,
    session: AsyncSession,
    *,
    case: Case,
    case_key: bytes,
    grantee: Officer,
    granter: UnlockedOfficer,
    reason: str,
    now: datetime,
) -> bool:
    """Wrap the case key to one more officer who may work it (`_check_grantee`) unless already entitled;
    True if granted. Every grant, referral, escalation grant and queue membership comes through here."""
    assert grantee.id is not None
    _check_grantee(grantee, await _conflicts(vault, session, case, case_key), case)
    existing = (
        await session.exec(
            select(CaseKey).where(
                CaseKey.case_id == case.id, CaseKey.recipient_fingerprint == grantee.key_fingerprint
            )
        )
    ).first()
    if existing is not None:
        return False
    add_case_key(
        session,
        case=case,
        private_key=case_key,
        recipient_public_key=grantee.public_key,
        officer_id=grantee.id,
        reason=reason,
        at=now,
        granted_by=granter.id,
    )
    await audit.append(
        session,
        at=coarsen(now),
        actor=granter.actor,
        action="case.granted",
        case_id=case.id,
        detail={"to": grantee.login, "key": grantee.key_fingerprint, "reason": reason},
    )
    return True


async def grant(vault: Vault, *, granter: UnlockedOfficer, reference: str, login: str) -> bool:
    """Give one officer access to one case: the granter unwraps the case key and wraps it to them."""
    granter.require(QUEUE_LEAD)
    now = coarsen(vault.clock.now())
    async with vault.db.transaction() as session:
        case, case_key = await _entitled_case(vault, session, granter, reference)
        grantee = await get_by_login(session, login=login)
        return await _grant_to(
            vault,
            session,
            case=case,
            case_key=case_key,
            grantee=grantee,
            granter=granter,
            reason="granted",
            now=now,
        )


@dataclass(frozen=True)
class QueueGrantResult:
    """What adding a member to a queue did."""

    granted: tuple[str, ...]
    skipped_conflicts: tuple[str, ...]
    not_openable: tuple[str, ...]


async def add_queue_member(
    vault: Vault, *, granter: UnlockedOfficer, login: str, queue_id: str
) -> QueueGrantResult:
    """Make an officer a member of a queue and wrap to them the key of every open case there that the granter
    can open; conflicted cases are skipped, cases the granter cannot open are listed for someone who can."""
    granter.require(QUEUE_LEAD)
    now = coarsen(vault.clock.now())
    granted, conflicts, unopenable = [], [], []
    async with vault.db.transaction() as session:
        # Why refuse here: a queue member is wrapped every new case routed to the queue at submission.
        candidate = await get_by_login(session, login=login)
        check_may_join_queue(login, candidate.roles)
        grantee = await add_membership(session, login=login, queue_id=queue_id)
        await audit.append(
            session,
            at=now,
            actor=granter.actor,
            action="queue.member-added",
            detail={"queue": queue_id, "login": login},
        )
        cases = (
            await session.exec(
                select(Case)
                .join(CaseQueue, col(CaseQueue.case_id) == col(Case.id))
                .where(
                    CaseQueue.queue_id == queue_id,
                    col(Case.status).in_(OPEN_STATUSES),
                    col(Case.purged_at).is_(None),
                )
            )
        ).all()
        for case in cases:
            try:
                case_key = await _case_key_for(session, case, granter.private_key)
            except NotEntitledError:
                unopenable.append(case.reference)
                continue
            try:
                if await _grant_to(
                    vault,
                    session,
                    case=case,
                    case_key=case_key,
                    grantee=grantee,
                    granter=granter,
                    reason="member",
                    now=now,
                ):
                    granted.append(case.reference)
            except ConflictOfInterestError:
                conflicts.append(case.reference)
    return QueueGrantResult(tuple(granted), tuple(conflicts), tuple(unopenable))


async def refer(
    vault: Vault, *, officer: UnlockedOfficer, reference: str, queue_id: str, reason: str = ""
) -> tuple[str, ...]:
    """Refer a case to another queue: wrap its key to that queue's members, never to the subject's unit's queue
    or a named subject. Returns the logins granted."""
    officer.require(*CASEWORK_ROLES)
    now = coarsen(vault.clock.now())
    async with vault.db.transaction() as session:
        case, case_key = await _entitled_case(vault, session, officer, reference)
        queue = await session.get(Queue, queue_id)
        if queue is None:
            raise NotFoundError(f"no queue {queue_id!r}")
        conflicts = await _conflicts(vault, session, case, case_key)
        policy = await policy_store.active(session)
        in_policy = any(q.id == queue_id for q in policy.document.queues)
        if (queue.unit_id and queue.unit_id in conflicts.units) or (
            in_policy and queue_conflicts(policy.document, queue_id, conflicts.units)
        ):
            raise ConflictOfInterestError(f"{queue_id} belongs to the unit of a subject of {case.reference}")
        if await session.get(CaseQueue, (case.id, queue_id)) is not None:
            raise InputError(f"{case.reference} is already in {queue_id}")
        recipients = await _may_receive(session, queue_id, conflicts)
        if not recipients:
            raise ConflictOfInterestError(f"{queue_id} has no member who can receive {case.reference}")
        session.add(CaseQueue(case_id=case.id, queue_id=queue_id, via="referred", added_at=now))
        if reason.strip():
            # Why a sealed note, not the audit detail: the audit log is clear and can never be purged.
            _check_text(vault, reason)
            await _officer_item(
                session, case, officer, NOTE, {"text": reason, "referral": queue_id}, now, for_reporter=False
            )
        await audit.append(
            session,
            at=now,
            actor=officer.actor,
            action="case.referred",
            case_id=case.id,
            detail={"queue": queue_id},
        )
        granted = []
        for grantee in recipients:
            if await _grant_to(
                vault,
                session,
                case=case,
                case_key=case_key,
                grantee=grantee,
                granter=officer,
                reason="referred",
                now=now,
            ):
                granted.append(grantee.login)
        return tuple(granted)


ESCALATED = conflict_rule.ESCALATED


async def _may_receive(session: AsyncSession, queue_id: str, conflicts: Conflicts) -> list[Officer]:
    """The members of a queue who may work the case: active, a casework role, no conflict."""
    members = await eligible_recipients(
        session,
        queue_ids=(queue_id,),
        excluded_officers=set(conflicts.officer_ids),
        subject_units=conflicts.units,
    )
    return [m for m in members if conflict_rule.may_work(m, conflicts)]


async def _escalation_targets(session: AsyncSession, case: Case) -> list[str]:
    return list(
        (
            await session.exec(
                select(CaseQueue.queue_id)
                .where(CaseQueue.case_id == case.id, CaseQueue.via == ESCALATED)
                .order_by(col(CaseQueue.queue_id))
            )
        ).all()
    )


async def pending_escalations(vault: Vault, *, officer: UnlockedOfficer, reference: str) -> tuple[str, ...]:
    """Queues the case was escalated to that hold a member who may receive it but has no key yet.

    Why this needs an officer who can open the case: who may receive it depends on the people named in
    the report, which is sealed.
    """
    # A transaction, not a read: a late match found here widens the case's conflict record.
    async with vault.db.transaction() as session:
        case = await live_case(session, (await case_by_reference(session, reference)).id)
        case_key = await _case_key_for(session, case, officer.private_key)
        await check_may_work(vault, session, officer.id, case)
        targets = await _escalation_targets(session, case)
        if not targets:
            return ()
        conflicts = await _conflicts(vault, session, case, case_key)
        holders = set(
            (await session.exec(select(CaseKey.officer_id).where(CaseKey.case_id == case.id))).all()
        )
        pending = []
        for queue_id in targets:
            recipients = await _may_receive(session, queue_id, conflicts)
            if any(r.id not in holders for r in recipients):
                pending.append(queue_id)
        return tuple(pending)


async def grant_escalation(
    vault: Vault, *, officer: UnlockedOfficer, reference: str, queue_id: str
) -> tuple[str, ...]:
    """Wrap the case key to the members of a queue the case was escalated to (the follow-up dispatcher
    escalates without a key, as nothing on the server can open one); never to a named subject or an
    officer of a subject's unit. Returns the logins granted (none if all could open it already)."""
    officer.require(*CASEWORK_ROLES)
    now = coarsen(vault.clock.now())
    async with vault.db.transaction() as session:
        case, case_key = await _entitled_case(vault, session, officer, reference)
        row = await session.get(CaseQueue, (case.id, queue_id))
        if row is None or row.via != ESCALATED:
            raise InputError(f"{case.reference} was not escalated to {queue_id!r}")
        conflicts = await _conflicts(vault, session, case, case_key)
        queue = await session.get(Queue, queue_id)
        if queue is not None and queue.unit_id and queue.unit_id in conflicts.units:
            raise ConflictOfInterestError(f"{queue_id} belongs to the unit of a subject of {case.reference}")
        recipients = await _may_receive(session, queue_id, conflicts)
        granted = []
        for grantee in recipients:
            if await _grant_to(
                vault,
                session,
                case=case,
                case_key=case_key,
                grantee=grantee,
                granter=officer,
                reason="escalated",
                now=now,
            ):
                granted.append(grantee.login)
        if granted:
            await audit.append(
                session,
                at=now,
                actor=officer.actor,
                action="case.escalation-granted",
                case_id=case.id,
                detail={"queue": queue_id, "granted": granted},
            )
        return tuple(granted)


async def purge(vault: Vault, *, reference: str, actor: str, reason: str = "retention") -> None:
    """Crypto-shred a case: destroy every wrapped key, item, receipt, contact handle and pending message.

    Why this is enough: items were only ever sealed to the case key, and the case private key only ever
    existed wrapped; once the wraps are gone from the live database nothing there can open the case.
    Backups taken before the purge still hold the wraps: they expire with the backup rotation (see the
    runbook). A stub with clear metadata stays so statistics and the audit chain remain whole.
    """
    now = coarsen(vault.clock.now())
    async with vault.db.transaction() as session:
        case = await case_by_reference(session, reference)
        if case.purged_at is not None:
            raise InputError(f"{case.reference} was already purged")
        # Every outbox row goes too: done rows keep details, and a row a worker holds must not be sent.
        for model in (CaseKey, CaseItem, Receipt, ContactHandle, OutboxEntry, CaseConflict, CaseConflictMark):
            await session.exec(delete(model).where(model.case_id == case.id))  # type: ignore[call-overload]
        case.public_key = None
        case.reporter_public_key = None
        case.status = "purged"
        case.purged_at = now
        session.add(case)
        await audit.append(
            session,
            at=now,
            actor=actor,
            action="case.purged",
            case_id=case.id,
            detail={"reference": case.reference, "reason": reason},
        )


async def shred_contact(vault: Vault, *, case_id: str, actor: str = "system") -> bool:
    """Destroy a case's contact handle (after the last check-in); True if one existed."""
    now = coarsen(vault.clock.now())
    async with vault.db.transaction() as session:
        row = await session.get(ContactHandle, case_id)
        if row is None:
            return False
        await session.delete(row)
        await audit.append(
            session,
            at=now,
            actor=actor,
            action="case.contact-shredded",
            case_id=case_id,
        )
        return True


@dataclass(frozen=True)
class CaseSummary:
    """Clear metadata of one case for a list."""

    reference: str
    status: str
    priority: str
    categories: tuple[str, ...]
    queues: tuple[str, ...]
    received_at: datetime
    ack_due_at: datetime


async def list_entitled(vault: Vault, *, officer: UnlockedOfficer, limit: int = 100) -> list[CaseSummary]:
    """Cases this officer holds a key for and may work (the conflict rule), newest first (clear metadata)."""
    fingerprint = crypto.fingerprint(crypto.public_from_private(officer.private_key))
    async with vault.db.transaction() as session:
        me = await session.get(Officer, officer.id)
        if me is None or not conflict_rule.may_work(me, None):
            return []
        cases = (
            await session.exec(
                select(Case)
                .join(CaseKey, col(CaseKey.case_id) == col(Case.id))
                .where(CaseKey.recipient_fingerprint == fingerprint, col(Case.purged_at).is_(None))
                .order_by(col(Case.received_at).desc(), col(Case.reference))
                .limit(limit)
            )
        ).all()
        records = await conflict_rule.recorded_many(session, vault.keys.relay, list(cases))
        result = []
        for case in cases:
            if not conflict_rule.may_work(me, records[case.id]):
                continue
            queues = (
                await session.exec(select(CaseQueue.queue_id).where(CaseQueue.case_id == case.id))
            ).all()
            result.append(
                CaseSummary(
                    case.reference,
                    case.status,
                    case.priority,
                    tuple(case.categories),
                    tuple(sorted(queues)),
                    case.received_at,
                    case.ack_due_at,
                )
            )
        return result
