"""The reporter's side of the vault: submit a report, find it by receipt, add to it, read the team's replies.

Everything here can seal but never open a case: it holds no officer key. The one thing a reporter can
open is what was sealed to the key derived from their receipt code (messages from the standards team).
"""

from __future__ import annotations

import hashlib
import uuid
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, NamedTuple

from sqlmodel import Session, SQLModel, col, func, select
from sqlmodel.ext.asyncio.session import AsyncSession

from policies.engine import ReportFacts, route
from policies.schedule import add_months
from policies.schema import PolicyDocument
from storage import audit, crypto, drafts, outbox, payloads, policy_store, receipts, undeliverable
from storage import contact as contacts
from storage import text as text_rules
from storage.clock import coarsen
from storage.conflicts import mark_rows as conflict_marks
from storage.conflicts import record_row as conflict_record
from storage.contact import CONTACT_PURPOSE  # noqa: F401  (re-exported: storage.rotation and tests read it here)
from storage.db import Pending, Query, pipeline_sync, query_sync, write_rows_sync
from storage.errors import InputError, NotFoundError, UnknownReceiptError
from storage.models import (
    AuditEntry,
    Case,
    CaseConflict,
    CaseConflictMark,
    CaseItem,
    CaseKey,
    CaseQueue,
    ContactHandle,
    Officer,
    OutboxEntry,
    Receipt,
)
from storage.officers import DirectoryMatch, PendingMatches, send_named_in
from storage.vault import Vault

QUESTIONNAIRE_VERSION = "2026-11"

# Item kinds. The kind is bound into each item's HPKE info, so an item cannot be passed off as another.
REPORT = "report"
EVIDENCE = "evidence"
SUBJECTS = "subjects"
REPORTER_MESSAGE = "reporter-message"
OFFICER_MESSAGE = "officer-message"
NOTE = "note"
CHECKIN_ANSWER = "checkin-answer"
OUTCOME = "outcome"
STATUS_NOTICE = "status-notice"

REPORTER_KINDS = (REPORTER_MESSAGE, EVIDENCE, CHECKIN_ANSWER)


@dataclass(frozen=True)
class Person:
    """Someone the reporter names as involved; only unit and role are routing metadata."""

    name: str = ""
    staff_number: str = ""
    role: str | None = None
    unit: str | None = None
    description: str = ""


@dataclass(frozen=True)
class Evidence:
    """A file to seal with the report; the front door strips identifying metadata before it gets here."""

    filename: str
    media_type: str
    content: bytes = field(repr=False)
    # Why required, by name: the desk previews only a file whose header says it was cleaned (false), so a
    # default would fail open, labelling a raw file as cleaned. Every caller says which it is.
    metadata_kept: bool = field(kw_only=True)
    # What the reporter wrote with the file (a Telegram caption): sealed in its header, beside the name.
    caption: str = ""

    @property
    def sha256(self) -> str:
        return hashlib.sha256(self.content).hexdigest()

    def meta(self) -> dict[str, Any]:
        """The header sealed with the file: what it is and its SHA-256."""
        return {
            "filename": self.filename,
            "media_type": self.media_type,
            "sha256": self.sha256,
            "size": len(self.content),
            "metadata_kept": self.metadata_kept,
            **({"caption": self.caption} if self.caption else {}),
        }


@dataclass(frozen=True)
class ReportSubmission:
    """A complete report as the reporter made it."""

    categories: tuple[str, ...]
    narrative: str
    when: str = ""
    where: str = ""
    location_unit: str | None = None
    subjects: tuple[Person, ...] = ()
    witnesses: str = ""
    evidence: tuple[Evidence, ...] = ()
    ongoing: bool | None = None
    risk_of_harm: bool | None = None
    reported_before: bool | None = None
    checkin_consent: bool = False
    questionnaire_version: str = QUESTIONNAIRE_VERSION


@dataclass(frozen=True)
class SubmitResult:
    """What the reporter is told once: the receipt code; and the case's reference and queues."""

    case_id: str
    reference: str
    receipt_code: str = field(repr=False)
    queues: tuple[str, ...]
    policy_version: int
    # True when this submission key had made the case already: nothing new was stored, and the receipt
    # code (never kept by the vault) is empty; the front door shows it from the finished draft.
    repeated: bool = False
    # The version of the chat's draft written in the case's transaction (see drafts.Finish), if any.
    draft_version: bytes | None = field(default=None, repr=False)


@dataclass(frozen=True)
class TimelineEntry:
    """One event of a case as the reporter may see it: what kind, when (to the hour), by whom."""

    at: datetime
    kind: str
    author: str
    text: str | None = None
    # For a status notice, the status it announces, so a front door can word it in the reader's language.
    notice: str | None = None
    # Sealed in the submission itself (the report, its named people, its files), not added later: a front
    # door must not tell the reporter that a file sent with the report was "added".
    with_report: bool = False


@dataclass(frozen=True)
class ReporterView:
    """What a receipt code shows: status and the messages sealed to the reporter."""

    case_id: str
    reference: str
    status: str
    received_at: datetime
    timeline: tuple[TimelineEntry, ...]


def _new_id() -> str:
    return uuid.uuid4().hex


def _check_submission(vault: Vault, report: ReportSubmission) -> None:
    limits = vault.limits
    if not report.categories:
        raise InputError("choose at least one category")
    if text_rules.is_blank(report.narrative):
        raise InputError("say what happened")
    # Why: a value of invisible characters alone looks like an answer but says nothing (blank is "").
    invisible = [
        label
        for label, value in (
            ("when", report.when),
            ("where", report.where),
            ("witnesses", report.witnesses),
            *(("a named person", v) for p in report.subjects for v in (p.name, p.staff_number)),
            *(("a named person's description", p.description) for p in report.subjects),
        )
        if value and text_rules.is_blank(value)
    ]
    if invisible:
        raise InputError(f"'{invisible[0]}' holds only spaces or invisible characters")
    check_encodable(
        report.narrative,
        report.when,
        report.where,
        report.witnesses,
        *(f"{p.name}{p.staff_number}{p.description}" for p in report.subjects),
        *(e.filename for e in report.evidence),
        *(e.caption for e in report.evidence),
    )
    for label, value in (
        ("what happened", report.narrative),
        ("when", report.when),
        ("where", report.where),
        ("witnesses", report.witnesses),
    ):
        if len(value) > limits.max_text_chars:
            raise InputError(f"'{label}' is longer than {limits.max_text_chars} characters")
    if len(report.subjects) > limits.max_subjects:
        raise InputError(f"name at most {limits.max_subjects} people")
    if len(report.evidence) > limits.max_evidence_items:
        raise InputError(f"attach at most {limits.max_evidence_items} files")
    for item in report.evidence:
        _check_evidence(vault, item)


def _check_evidence(vault: Vault, item: Evidence) -> None:
    """Refuse a file the vault must not seal: empty, or over the size limit.

    Why here and not only in the bot: every door (the bot, `candour case submit`, a later addition)
    reaches the vault; an empty file is no evidence, and sealing one would tell the team a file was given.
    """
    if not item.content:
        raise InputError(f"the file {item.filename!r} is empty (0 bytes): nothing to attach")
    if len(item.content) > vault.limits.max_evidence_bytes:
        raise InputError(f"a file is larger than {vault.limits.max_evidence_bytes // (1024 * 1024)} MB")


def check_encodable(*texts: str) -> None:
    """Refuse text that cannot be stored as UTF-8 (lone surrogates from a malformed client)."""
    for text in texts:
        try:
            text.encode("utf-8")
        except UnicodeEncodeError:
            raise InputError("the text contains characters that cannot be stored") from None


def _check_known_ids(document: PolicyDocument, report: ReportSubmission) -> None:
    categories = {c.id for c in document.categories}
    units = {u.id for u in document.units}
    unknown = sorted(set(report.categories) - categories)
    if unknown:
        raise InputError(f"unknown categor{'y' if len(unknown) == 1 else 'ies'}: {', '.join(unknown)}")
    named_units = {p.unit for p in report.subjects if p.unit} | (
        {report.location_unit} if report.location_unit else set()
    )
    if named_units - units:
        raise InputError(f"unknown unit: {', '.join(sorted(named_units - units))}")
    # Why: roles are stored in clear as routing facts, so free text (which could name someone) is refused.
    roles = {p.role for p in report.subjects if p.role}
    if roles - set(document.subject_roles):
        raise InputError(f"unknown role: {', '.join(sorted(roles - set(document.subject_roles)))}")


def _send_subject_match(session: Session, subjects: tuple[Person, ...]) -> PendingMatches:
    """Look for officers of the directory named as subjects, however the name and number were written."""
    return send_named_in(session, people=[(p.name, p.staff_number) for p in subjects])


def _facts(report: ReportSubmission, matched: list[DirectoryMatch]) -> ReportFacts:
    # Why only certain matches widen to the unit: an unsure match leaves that officer out, but leaving a
    # whole unit out (and rerouting) on "D. Smith" would cost more key holders than it protects.
    units = {p.unit for p in report.subjects if p.unit}
    units |= {o.unit_id for o in matched if o.unit_id and o.certain}
    roles = {p.role for p in report.subjects if p.role}
    return ReportFacts(
        categories=frozenset(report.categories),
        subject_units=frozenset(units),
        subject_roles=frozenset(roles),
        ongoing=report.ongoing,
        risk_of_harm=report.risk_of_harm,
        reported_before=report.reported_before,
    )


async def eligible_recipients(
    session: AsyncSession,
    *,
    queue_ids: tuple[str, ...],
    excluded_officers: set[int],
    subject_units: frozenset[str],
) -> list[Officer]:
    """Active members of the queues, less officers named as subjects and officers of a subject's unit."""
    ids = await session.run_sync(
        lambda sync: [
            r.id
            for r in eligible_recipients_sync(
                sync, queue_ids=queue_ids, excluded_officers=excluded_officers, subject_units=subject_units
            )
        ]
    )
    officers = {o.id: o for o in (await session.exec(select(Officer).where(col(Officer.id).in_(ids)))).all()}
    return [officers[i] for i in ids]


class Recipient(NamedTuple):
    """What wrapping a case key to an officer needs from the directory."""

    id: int
    unit_id: str | None
    public_key: bytes


# Why the role test: a queue member without a casework role (an auditor or policy admin added to a queue
# by mistake) must not receive a key that they could open with the database and their passphrase.
_QUEUE_MEMBERS = Query(
    postgresql="SELECT m.queue_id, o.id, o.unit_id, o.public_key FROM officers o "
    "JOIN queue_members m ON m.officer_id = o.id WHERE m.queue_id = ANY(%s) AND o.active "
    "AND o.roles::jsonb ?| array['standards-officer', 'queue-lead'] ORDER BY o.id",
    sqlite="SELECT m.queue_id, o.id, o.unit_id, o.public_key FROM officers o "
    "JOIN queue_members m ON m.officer_id = o.id "
    "WHERE m.queue_id IN (SELECT value FROM json_each(?)) AND o.active "
    "AND EXISTS (SELECT 1 FROM json_each(o.roles) r WHERE r.value IN ('standards-officer', 'queue-lead')) "
    "ORDER BY o.id",
)


def eligible_recipients_sync(
    session: Session,
    *,
    queue_ids: tuple[str, ...],
    excluded_officers: set[int],
    subject_units: frozenset[str],
) -> list[Recipient]:
    """The same, in a synchronous unit of work."""
    members = send_queue_members(session, queue_ids)
    return _without_conflicts(
        members, queue_ids=queue_ids, excluded_officers=excluded_officers, subject_units=subject_units
    )


def send_queue_members(session: Session, queue_ids: tuple[str, ...]) -> Pending:
    """Ask for the active members of the queues (in a pipeline, if one is open)."""
    return query_sync(session, _QUEUE_MEMBERS, sorted(set(queue_ids))) if queue_ids else Pending(list)


def _without_conflicts(
    members: Pending,
    *,
    queue_ids: tuple[str, ...],
    excluded_officers: set[int],
    subject_units: frozenset[str],
) -> list[Recipient]:
    """The members of those of the queues given, less officers named as subjects and of a subject's unit.

    Threat: an officer reported on, or a close colleague, reading the report and identifying the
    reporter. Why leave them out of the key wrapping rather than hide the case in the UI: without a
    wrapped case key they cannot read it even with full database access.
    """
    seen: dict[int, Recipient] = {}
    for queue_id, officer_id, unit_id, public_key in members.rows():
        if (
            queue_id not in queue_ids
            or officer_id in excluded_officers
            or (unit_id and unit_id in subject_units)
        ):
            continue
        seen.setdefault(officer_id, Recipient(officer_id, unit_id, bytes(public_key)))
    return list(seen.values())


def _new_reference() -> str:
    """A case reference: 40 random bits, so a collision (caught by the unique index) is practically nil."""
    return "CN-" + receipts.random_chars(8)


def seal_new_item(
    session: AsyncSession,
    *,
    case: Case,
    kind: str,
    author: str,
    meta: dict[str, Any],
    body: bytes = b"",
    seq: int,
    at: datetime,
    officer_id: int | None = None,
) -> CaseItem:
    assert case.public_key is not None
    item_id = _new_id()
    sealed = crypto.seal_item(
        payloads.encode(meta, body),
        case_public_key=case.public_key,
        case_id=case.id,
        item_id=item_id,
        kind=kind,
    )
    item = CaseItem(
        id=item_id,
        case_id=case.id,
        seq=seq,
        kind=kind,
        author=author,
        officer_id=officer_id,
        created_at=at,
        ciphertext=sealed,
    )
    session.add(item)
    return item


def plaintext_items(
    report: ReportSubmission, matched: list[DirectoryMatch]
) -> list[tuple[str, dict[str, Any], bytes]]:
    """The items a submission becomes: the report, the named-subjects record, each evidence file."""
    items: list[tuple[str, dict[str, Any], bytes]] = [
        (
            REPORT,
            {
                "questionnaire_version": report.questionnaire_version,
                "categories": list(report.categories),
                "narrative": report.narrative,
                "when": report.when,
                "where": report.where,
                "location_unit": report.location_unit,
                "subjects": [p.__dict__ for p in report.subjects],
                "witnesses": report.witnesses,
                "ongoing": report.ongoing,
                "risk_of_harm": report.risk_of_harm,
                "reported_before": report.reported_before,
                "checkin_consent": report.checkin_consent,
            },
            b"",
        ),
        # Why sealed: who is named as a subject is content; officers re-check it when referring or granting,
        # and the queue lead sees who was left out and why (`left_out`), the reporter never does.
        (
            SUBJECTS,
            {
                "officer_ids": sorted(o.id for o in matched if o.id is not None),
                "left_out": [
                    {"officer_id": o.id, "login": o.login, "certain": o.certain, "reason": o.reason}
                    for o in matched
                ],
            },
            b"",
        ),
    ]
    items.extend((EVIDENCE, evidence.meta(), evidence.content) for evidence in report.evidence)
    return items


async def submit(
    vault: Vault,
    *,
    report: ReportSubmission,
    contact: str | None = None,
    submission_key: str | None = None,
    draft: drafts.Finish | None = None,
    language: str | None = None,
) -> SubmitResult:
    """Route, seal and persist a report, schedule its follow-up, and audit it, in one transaction.

    With a `submission_key` (random, carried in the draft) a repeated submit of the same draft returns
    the case it made (`repeated`), and stores nothing. With `draft`, the chat's draft is finished in the
    same transaction (see drafts.Finish); DraftConflictError if it changed since it was read. `language`
    (the bot's catalogue the report was made in) is sealed with the contact handle (storage.contact).
    """
    _check_submission(vault, report)
    exact = vault.clock.now()
    # Why deadlines count from the receipt time rounded down: so they are never later than the rule or
    # the legal framework's ceiling allows (the validator asks at least two hours of an hours rule).
    now = due_from = coarsen(exact)
    key = submission_digest(vault, submission_key) if submission_key else None
    try:
        return await vault.db.run(
            lambda session: _submit(
                vault,
                session,
                report=report,
                contact=contacts.Contact(contact, language) if contact is not None else None,
                now=now,
                key=key,
                draft=draft,
                due_from=due_from,
            )
        )
    except undeliverable.UndeliverableError as refused:
        queues = refused.queues
        await vault.db.run(lambda session: undeliverable.record(session, queues, now))
        raise


def submission_digest(vault: Vault, submission_key: str) -> bytes:
    """The keyed hash under which a submission key is kept (the key itself lives only in the draft)."""
    return crypto.keyed_hash(vault.keys.lookup_key, b"submission:" + submission_key.encode("utf-8"))


_SUBMITTED = Query(
    postgresql="SELECT c.id, c.reference, c.policy_version FROM receipts r JOIN cases c ON c.id = r.case_id "
    "WHERE r.submission_digest = %s",
    sqlite="SELECT c.id, c.reference, c.policy_version FROM receipts r JOIN cases c ON c.id = r.case_id "
    "WHERE r.submission_digest = ?",
)
_CASE_QUEUES = Query(
    postgresql="SELECT queue_id FROM case_queues WHERE case_id = %s ORDER BY added_at, queue_id",
    sqlite="SELECT queue_id FROM case_queues WHERE case_id = ? ORDER BY added_at, queue_id",
)


def _submit(
    vault: Vault,
    session: Session,
    *,
    report: ReportSubmission,
    contact: contacts.Contact | None,
    now: datetime,
    key: bytes | None = None,
    draft: drafts.Finish | None = None,
    due_from: datetime | None = None,
) -> SubmitResult:
    receipt_code = receipts.generate()
    normalised = receipts.normalise(receipt_code)
    pair = crypto.generate_keypair()
    case_id = _new_id()
    # Why one pipeline (one round trip on PostgreSQL; the reads of a submission once took five): the
    # members of every queue of the newest policy this process has seen are read along with the head, so
    # routing needs no second trip unless the policy changed meanwhile. The audit lock is taken in the same
    # trip: the chain serialises writers anyway, and holding it through the sealing costs less than a trip.
    likely = policy_store.newest_seen()
    with pipeline_sync(session):
        head = policy_store.send_head(session)
        named = _send_subject_match(session, report.subjects)
        members = send_queue_members(session, tuple(q.id for q in likely.document.queues)) if likely else None
        audit_head = audit.send_locked_head(session)
        # Why after the audit lock: every submission holds it to its commit (SQLite's BEGIN IMMEDIATE
        # likewise), so this read sees a submission of the same draft that another replica committed
        # meanwhile; the unique index on the digest is the backstop.
        earlier = query_sync(session, _SUBMITTED, key) if key is not None else None
    made = earlier.first() if earlier is not None else None
    if made is not None:
        queues_made = tuple(row[0] for row in query_sync(session, _CASE_QUEUES, made[0]).rows())
        return SubmitResult(
            case_id=made[0],
            reference=made[1],
            receipt_code="",
            queues=queues_made,
            policy_version=made[2],
            repeated=True,
        )
    policy = policy_store.active_from(session, head)
    _check_known_ids(policy.document, report)
    matched = named.matches()
    facts = _facts(report, matched)
    decision = route(policy.document, facts)
    excluded = {o.id for o in matched}
    items = _item_rows(case_id, pair.public, plaintext_items(report, matched), now)
    queues = decision.queues
    fallback = decision.escalation_queue
    if members is None or policy is not likely:
        members = send_queue_members(session, (*queues, fallback) if fallback else queues)
    conflicts = {"excluded_officers": excluded, "subject_units": facts.subject_units}
    recipients = _without_conflicts(members, queue_ids=queues, **conflicts)
    if not recipients and fallback and fallback not in queues:
        # Why: every member of the routed queues was conflicted out; the escalation queue (never a
        # subject's unit) takes the report rather than lose it.
        queues = (*queues, fallback)
        recipients = _without_conflicts(members, queue_ids=queues, **conflicts)
    if not recipients:
        # Why not settle for the recovery key alone: it is kept offline, so nobody would see the report.
        # Why never fall back to those left out (an unsure match included): see storage.undeliverable.
        raise undeliverable.UndeliverableError(
            tuple(dict.fromkeys((*queues, *([fallback] if fallback else []))))
        )
    reference = _new_reference()
    ack_due = (due_from or now) + decision.acknowledge_within
    feedback_due = (due_from or now) + decision.feedback_within
    case_row = {
        "id": case_id,
        "reference": reference,
        "status": "received",
        "priority": decision.priority,
        "categories": sorted(facts.categories),
        "routing_facts": policy_store.facts_to_json(facts),
        "flags": list(decision.flags),
        "received_at": now,
        "updated_at": now,
        "acknowledged_at": None,
        "closed_at": None,
        "purged_at": None,
        "ack_due_at": ack_due,
        "feedback_due_at": feedback_due,
        "policy_version": policy.version,
        "matched_rules": list(decision.matched_rules),
        "escalation_queue": decision.escalation_queue,
        "retention_days": decision.retention_days,
        "checkins_stopped": not report.checkin_consent,
        "public_key": pair.public,
        "reporter_public_key": crypto.reporter_keypair(normalised, pepper=vault.keys.receipt_pepper).public,
    }
    recipient_keys = [(o.public_key, o.id, "routed") for o in recipients]
    if vault.keys.recovery_public_key is not None:
        recipient_keys.append((vault.keys.recovery_public_key, None, "recovery"))
    # The warnings count from the same rounded-up hour, so a 4-hour rule still warns 3 hours in.
    start = due_from or now
    followup = outbox.deadline_rows(case_id=case_id, name="acknowledge", start=start, due=ack_due, now=now)
    followup += outbox.deadline_rows(case_id=case_id, name="feedback", start=start, due=feedback_due, now=now)
    # Regulation 19: an investigation still open after 12 months (by default) is due a progress update.
    progress = add_months(now, policy.document.defaults.progress_update.first_after_months)
    followup.append(outbox.entry_row(kind=outbox.PROGRESS_UPDATE, due_at=progress, now=now, case_id=case_id))
    if report.checkin_consent:
        followup += outbox.checkin_rows(
            case_id=case_id, start=now, days=decision.checkin_days, now=now, phase="open"
        )
    told = (
        _urgent_notices(
            session, case_id, reference, queues, members, recipients, now, names=queue_names(policy.document)
        )
        if decision.priority == URGENT
        else []
    )
    followup += told
    rows: list[tuple[type[SQLModel], list[dict[str, Any]]]] = [
        (Case, [case_row]),
        (CaseQueue, [{"case_id": case_id, "queue_id": q, "via": "routed", "added_at": now} for q in queues]),
        (CaseItem, items),
        (CaseKey, _key_rows(case_id, pair.private, recipient_keys, now)),
        (
            Receipt,
            [{"digest": vault.keys.receipt_digest(normalised), "case_id": case_id, "submission_digest": key}],
        ),
        (OutboxEntry, followup),
    ]
    if contact is not None:
        key_id, sealed = contacts.seal(
            vault.keys.relay, case_id=case_id, chat=contact.chat, language=contact.language
        )
        rows.append((ContactHandle, [{"case_id": case_id, "key_id": key_id, "sealed": sealed}]))
    # Who may not learn of the case (named officers, certain or unsure), sealed: see storage.conflicts.
    record = conflict_record(
        vault.keys.relay, case_id=case_id, officer_ids=excluded, units=facts.subject_units
    )
    rows.append((CaseConflict, [record]))
    marks = conflict_marks(vault.keys.lookup_key, case_id=case_id, officer_ids=excluded)
    rows.append((CaseConflictMark, marks))
    entry = audit.entry_after(
        audit_head,
        at=now,
        actor="reporter",
        action="case.submitted",
        case_id=case_id,
        detail={
            "reference": reference,
            "queues": list(queues),
            "policy_version": policy.version,
            "rules": list(decision.matched_rules),
            "recipients": len(recipients),
            "items": 2 + len(report.evidence),
            "notified": len(told),
        },
    )
    rows.append((AuditEntry, [entry]))
    # Why first: a draft changed meanwhile fails the submission before anything is written.
    draft_version = (
        drafts.finish_sync(
            vault,
            session,
            draft,
            receipt_code=receipt_code,
            receipt_lifetime=timedelta(days=decision.retention_days),
        )
        if draft
        else None
    )
    write_rows_sync(session, rows)
    return SubmitResult(
        case_id=case_id,
        reference=reference,
        receipt_code=receipt_code,
        queues=tuple(queues),
        policy_version=policy.version,
        draft_version=draft_version,
    )


def queue_names(document: PolicyDocument) -> dict[str, str]:
    """Queue id -> the name the policy gives it, for officers' notices."""
    return {q.id: q.name for q in document.queues}


URGENT = "urgent"
# The words of an urgent case's notice: what is due, never what was reported (see storage.followup).
URGENT_NOTICE = "a new case needs action now"
NOTICE_KIND = "officer-notice"  # storage.followup.OFFICER_NOTICE (repeated here: followup imports us)
_LINKED = Query(
    postgresql="SELECT officer_id FROM officer_links WHERE officer_id = ANY(%s)",
    sqlite="SELECT officer_id FROM officer_links WHERE officer_id IN (SELECT value FROM json_each(?))",
)


def _urgent_notices(
    session: Session,
    case_id: str,
    reference: str,
    queues: tuple[str, ...],
    members: Pending,
    recipients: list[Recipient],
    now: datetime,
    names: dict[str, str] | None = None,
) -> list[dict[str, Any]]:
    """Notices due at once for an urgent case: one per linked officer who receives its key.

    Threat: an urgent report told to its subject or a colleague of their unit (promise 3). Why the
    recipients: they are exactly the officers the conflict rule lets learn of a new case (active, a
    casework role, not named, not in a subject's unit, holding the key: storage.conflicts.may_learn),
    so a notice can reach nobody who could not already read the case. Content-free: the reference, a
    routed queue and the priority, nothing of the report.
    """
    ids = [r.id for r in recipients]
    linked = {int(row[0]) for row in query_sync(session, _LINKED, ids).rows()} if ids else set()
    first_queue: dict[int, str] = {}
    for queue_id in queues:
        for row in members.rows():
            if row[0] == queue_id and row[1] in linked:
                first_queue.setdefault(int(row[1]), queue_id)
    return [
        outbox.entry_row(
            kind=NOTICE_KIND,
            due_at=now,
            now=now,
            case_id=case_id,
            detail={
                "officer": officer_id,
                # The queue's name from the policy, as the officer knows it (not an id); content-free.
                "queue": (names or {}).get(first_queue[officer_id], first_queue[officer_id]),
                "reference": reference,
                "priority": URGENT,
                "what": URGENT_NOTICE,
            },
        )
        for officer_id in ids
        if officer_id in first_queue
    ]


def _item_rows(
    case_id: str, case_public_key: bytes, items: list[tuple[str, dict[str, Any], bytes]], at: datetime
) -> list[dict[str, Any]]:
    rows = []
    for seq, (kind, meta, body) in enumerate(items, start=1):
        item_id = _new_id()
        sealed = crypto.seal_item(
            payloads.encode(meta, body),
            case_public_key=case_public_key,
            case_id=case_id,
            item_id=item_id,
            kind=kind,
        )
        rows.append(
            {
                "id": item_id,
                "case_id": case_id,
                "seq": seq,
                "kind": kind,
                "author": "reporter",
                "officer_id": None,
                "created_at": at,
                "ciphertext": sealed,
                "reporter_ciphertext": None,
            }
        )
    return rows


def _key_rows(
    case_id: str, case_private_key: bytes, recipients: list[tuple[bytes, int | None, str]], at: datetime
) -> list[dict[str, Any]]:
    return [
        {
            "case_id": case_id,
            "officer_id": officer_id,
            "recipient_fingerprint": crypto.fingerprint(public_key),
            "wrapped": crypto.wrap_case_key(
                case_private_key, recipient_public_key=public_key, case_id=case_id
            ),
            "reason": reason,
            "granted_at": at,
            "granted_by": None,
        }
        for public_key, officer_id, reason in recipients
    ]


def add_case_key(
    session: AsyncSession,
    *,
    case: Case,
    private_key: bytes,
    recipient_public_key: bytes,
    officer_id: int | None,
    reason: str,
    at: datetime,
    granted_by: int | None = None,
) -> CaseKey:
    wrapped = crypto.wrap_case_key(private_key, recipient_public_key=recipient_public_key, case_id=case.id)
    key = CaseKey(
        case_id=case.id,
        officer_id=officer_id,
        recipient_fingerprint=crypto.fingerprint(recipient_public_key),
        wrapped=wrapped,
        reason=reason,
        granted_at=at,
        granted_by=granted_by,
    )
    session.add(key)
    return key


async def next_seq(session: AsyncSession, case_id: str) -> int:
    """The next item number of a case."""
    current = (await session.exec(select(func.max(CaseItem.seq)).where(CaseItem.case_id == case_id))).one()
    return (current or 0) + 1


async def case_for_receipt(vault: Vault, *, code: str) -> str:
    """The case id a receipt code opens; ReceiptTypoError for a mistyped code, UnknownReceiptError otherwise."""
    normalised = receipts.normalise(code)
    async with vault.db.transaction() as session:
        row = await session.get(Receipt, vault.keys.receipt_digest(normalised))
    if row is None:
        raise UnknownReceiptError("no report has this receipt code")
    return row.case_id


async def reporter_view(vault: Vault, *, code: str) -> ReporterView:
    """Status, timeline and the team's messages for the holder of a receipt code."""
    case_id = await case_for_receipt(vault, code=code)
    reporter_private = crypto.reporter_keypair(
        receipts.normalise(code), pepper=vault.keys.receipt_pepper
    ).private
    async with vault.db.transaction() as session:
        case = await live_case(session, case_id)
        items = (
            await session.exec(
                select(CaseItem).where(CaseItem.case_id == case_id).order_by(col(CaseItem.seq))
            )
        ).all()
    timeline: list[TimelineEntry] = []
    # The submission's items come first, in one run (see _item_rows); a later addition has a source.
    in_submission = True
    for item in items:
        in_submission = in_submission and _submitted_item(item)
        if item.kind in (SUBJECTS, NOTE):
            continue
        meta: dict[str, Any] = {}
        if item.reporter_ciphertext is not None:
            opened = crypto.hpke_open(
                item.reporter_ciphertext,
                private_key=reporter_private,
                info=crypto.bind(crypto.Purpose.REPORTER_COPY, case_id, item.id, item.kind),
            )
            meta = payloads.decode(opened)[0]
        notice = meta.get("status") if item.kind == STATUS_NOTICE else None
        timeline.append(
            TimelineEntry(
                at=item.created_at,
                kind=item.kind,
                author=item.author,
                text=meta.get("text"),
                notice=notice,
                with_report=in_submission,
            )
        )
    return ReporterView(
        case_id=case.id,
        reference=case.reference,
        status=case.status,
        received_at=case.received_at,
        timeline=tuple(timeline),
    )


def _submitted_item(item: CaseItem) -> bool:
    """Whether an item can belong to the submission: the reporter's report, people or file, no source."""
    kind_ok = item.kind in (REPORT, SUBJECTS, EVIDENCE)
    return item.author == "reporter" and kind_ok and item.source_digest is None


async def live_case(session: AsyncSession, case_id: str, *, for_update: bool = False) -> Case:
    """A case not purged; `for_update` locks its row (PostgreSQL) so concurrent writers number items in turn."""
    case = await session.get(Case, case_id, with_for_update=for_update)
    if case is None or case.purged_at is not None or case.public_key is None:
        raise NotFoundError("this case no longer exists")
    return case


async def add_from_reporter(
    vault: Vault,
    *,
    case_id: str,
    kind: str,
    text: str = "",
    evidence: Evidence | None = None,
    detail: dict[str, Any] | None = None,
    source: str | None = None,
) -> str:
    """Seal a reporter's later message, evidence or check-in answer into the case; returns the item id.

    `source` names the message the addition came from (stable across redeliveries, e.g. chat and message
    id): an addition from a source already stored returns that item and stores nothing. Threat: a message
    handled twice (redelivered after a crash, or by two replicas) becoming two items. Why a keyed hash
    bound to the case: the stored digest neither reveals nor, without the lookup key, confirms the chat.
    """
    if kind not in REPORTER_KINDS:
        raise InputError(f"a reporter cannot add an item of kind {kind!r}")
    if len(text) > vault.limits.max_text_chars:
        raise InputError(f"the message is longer than {vault.limits.max_text_chars} characters")
    check_encodable(text, evidence.filename if evidence else "", evidence.caption if evidence else "")
    if kind == EVIDENCE:
        if evidence is None:
            raise InputError("no file was given")
        _check_evidence(vault, evidence)
        meta: dict[str, Any] = evidence.meta()
        body = evidence.content
    else:
        if text_rules.is_blank(text):
            raise InputError("the message is empty")
        meta, body = {**(detail or {}), "text": text}, b""
    now = coarsen(vault.clock.now())
    digest = source_digest(vault, case_id=case_id, source=source) if source is not None else None
    async with vault.db.transaction() as session:
        case = await live_case(session, case_id, for_update=True)
        if digest is not None:
            # After the case's row lock (PostgreSQL; SQLite serialises writers), so a concurrent twin waits.
            stored = (
                await session.exec(
                    select(CaseItem.id).where(CaseItem.case_id == case_id, CaseItem.source_digest == digest)
                )
            ).first()
            if stored is not None:
                return stored
        item = seal_new_item(
            session,
            case=case,
            kind=kind,
            author="reporter",
            meta=meta,
            body=body,
            seq=await next_seq(session, case_id),
            at=now,
        )
        item.source_digest = digest
        case.updated_at = now
        session.add(case)
        await audit.append(
            session,
            at=now,
            actor="reporter",
            action="case.reporter-added",
            case_id=case_id,
            detail={"item": item.id, "kind": kind},
        )
        return item.id


def source_digest(vault: Vault, *, case_id: str, source: str) -> bytes:
    """The keyed hash kept with a reporter's addition instead of where it came from."""
    return crypto.keyed_hash(vault.keys.lookup_key, f"addition:{case_id}:{source}".encode())


async def open_contact(vault: Vault, *, case_id: str) -> str | None:
    """The chat of a case's relay-sealed contact handle, opened for delivery (None if shredded)."""
    found = await contacts.read(vault, case_id=case_id)
    return None if found is None else found.chat
