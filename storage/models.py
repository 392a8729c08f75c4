"""The vault's tables (SQLModel). What is here in clear is routing metadata only; content is sealed.

Threat: a copy of the database. Why the split: everything an attacker could read from these tables
without keys is listed in docs/threat-model.md (categories, queues, priority, status, hour-coarse
times, the routing facts, officer directory); every byte of report content, evidence, messages, notes,
check-in answers, named subjects and contact handles is in a sealed column.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, BigInteger, Column, Index, LargeBinary, UniqueConstraint
from sqlmodel import Field, SQLModel

metadata = SQLModel.metadata


def _json(**kwargs: Any) -> Any:
    return Field(default_factory=list, sa_column=Column(JSON, nullable=False), **kwargs)


def _blob(nullable: bool = False) -> Any:
    return Field(default=None if nullable else ..., sa_column=Column(LargeBinary, nullable=nullable))


class Unit(SQLModel, table=True):
    """A unit of the force (from the active policy): the conflict-of-interest boundary."""

    __tablename__ = "units"
    id: str = Field(primary_key=True, max_length=64)
    name: str = Field(max_length=200)


class Queue(SQLModel, table=True):
    """A work queue; `unit_id` None means external to every unit (the independent queue)."""

    __tablename__ = "queues"
    id: str = Field(primary_key=True, max_length=64)
    name: str = Field(max_length=200)
    unit_id: str | None = Field(default=None, foreign_key="units.id", max_length=64)
    escalates_to: str | None = Field(default=None, max_length=64)


class Officer(SQLModel, table=True):
    """A desk account: a standards officer, queue lead, policy admin, auditor or operator.

    Officers are staff of the force acting in a professional role; their directory entry is in clear
    so that a named subject can be matched and left out. Their private key is sealed under
    Argon2id(passphrase) and never stored in clear.
    """

    __tablename__ = "officers"
    id: int | None = Field(default=None, primary_key=True)
    login: str = Field(max_length=64, unique=True)
    display_name: str = Field(max_length=200)
    # The display name case-folded with white space collapsed, to match names given in reports.
    name_key: str = Field(default="", max_length=200, index=True)
    staff_number: str | None = Field(default=None, max_length=32, unique=True)
    unit_id: str | None = Field(default=None, foreign_key="units.id", max_length=64)
    roles: list[str] = _json()
    public_key: bytes = _blob()
    key_fingerprint: str = Field(max_length=16, index=True)
    sealed_private_key: bytes = _blob()
    active: bool = True
    created_at: datetime


class OfficerMatchKey(SQLModel, table=True):
    """One normalised way of writing an officer's name or number (storage.naming), to find an officer
    named in a report by an indexed lookup. Derived from the directory entry: it describes officers,
    never what a reporter wrote."""

    __tablename__ = "officer_match_keys"
    key: str = Field(primary_key=True, max_length=200)
    officer_id: int = Field(primary_key=True, foreign_key="officers.id", index=True)


class OfficerLink(SQLModel, table=True):
    """An officer's own Telegram chat, linked with `/link`, for content-free notifications.

    The chat id is sealed under the relay keyring (the notifier must read it to send); the keyed tag
    finds the link from an incoming chat (for `/unlink`) without the id in clear.
    """

    __tablename__ = "officer_links"
    officer_id: int = Field(primary_key=True, foreign_key="officers.id")
    chat_tag: bytes = Field(sa_column=Column(LargeBinary(32), nullable=False, unique=True))
    key_id: str = Field(max_length=16)
    sealed: bytes = _blob()
    linked_at: datetime


class LinkCode(SQLModel, table=True):
    """A one-time code an officer made at the desk to link a Telegram chat; stored as a keyed hash."""

    __tablename__ = "link_codes"
    digest: bytes = Field(sa_column=Column(LargeBinary(32), primary_key=True))
    officer_id: int = Field(foreign_key="officers.id", index=True)
    expires_at: datetime


class QueueMember(SQLModel, table=True):
    """An officer's membership of a queue: entitles them to new cases routed there."""

    __tablename__ = "queue_members"
    queue_id: str = Field(primary_key=True, foreign_key="queues.id", max_length=64)
    officer_id: int = Field(primary_key=True, foreign_key="officers.id")


class Case(SQLModel, table=True):
    """One report's clear metadata: what routing and deadline monitoring need, no content."""

    __tablename__ = "cases"
    __table_args__ = (Index("ix_cases_status_received", "status", "received_at"),)
    id: str = Field(primary_key=True, max_length=32)
    reference: str = Field(max_length=16, unique=True)
    status: str = Field(max_length=24, index=True)
    priority: str = Field(max_length=12)
    categories: list[str] = _json()
    # Routing inputs in clear so the simulator can replay routing without decrypting anything.
    routing_facts: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))
    flags: list[str] = _json()
    received_at: datetime
    updated_at: datetime
    acknowledged_at: datetime | None = None
    closed_at: datetime | None = None
    purged_at: datetime | None = None
    ack_due_at: datetime
    feedback_due_at: datetime
    policy_version: int
    matched_rules: list[str] = _json()
    escalation_queue: str | None = Field(default=None, max_length=64)
    retention_days: int
    checkins_stopped: bool = False
    public_key: bytes | None = _blob(nullable=True)
    # Derived from the receipt code; messages for the reporter are also sealed to it (see crypto).
    reporter_public_key: bytes | None = _blob(nullable=True)


class CaseQueue(SQLModel, table=True):
    """A queue a case sits in: routed at submission or referred later."""

    __tablename__ = "case_queues"
    case_id: str = Field(primary_key=True, foreign_key="cases.id", max_length=32)
    queue_id: str = Field(primary_key=True, foreign_key="queues.id", max_length=64, index=True)
    via: str = Field(max_length=16)
    added_at: datetime


class CaseKey(SQLModel, table=True):
    """The case private key wrapped (HPKE) to one recipient: an officer, or the offline recovery key."""

    __tablename__ = "case_keys"
    __table_args__ = (UniqueConstraint("case_id", "recipient_fingerprint"),)
    id: int | None = Field(default=None, primary_key=True)
    case_id: str = Field(foreign_key="cases.id", max_length=32, index=True)
    officer_id: int | None = Field(default=None, foreign_key="officers.id", index=True)
    recipient_fingerprint: str = Field(max_length=16)
    wrapped: bytes = _blob()
    reason: str = Field(max_length=16)
    granted_at: datetime
    granted_by: int | None = Field(default=None, foreign_key="officers.id")


class CaseConflict(SQLModel, table=True):
    """Who is conflicted out of a case: the officers named in it (as matched at submission, and later), and
    the units of officers matched later. Sealed under the relay keyring, padded, one row for every case.

    Why sealed and not in clear: who was named is content (promise 2); why the relay keyring: the server
    (notices, queue listings) must apply the conflict rule without a case key (storage.conflicts).
    """

    __tablename__ = "case_conflicts"
    case_id: str = Field(primary_key=True, foreign_key="cases.id", max_length=32)
    key_id: str = Field(max_length=16)
    sealed: bytes = _blob()


class CaseConflictMark(SQLModel, table=True):
    """A blind mark of one officer or unit conflicted out of a case, so that a count (the dashboard) can
    leave out the cases its viewer is conflicted out of in SQL, without opening every sealed record.

    Why keyed and bucketed (storage.conflicts.marks): a keyed hash under the lookup key cannot be turned
    back into an officer, and the case's bucket goes into it, so two cases naming one officer share a mark
    only when they share one of 1,024 buckets. Padded with random marks, so the count says little.
    """

    __tablename__ = "case_conflict_marks"
    mark: bytes = Field(sa_column=Column(LargeBinary(16), primary_key=True))
    case_id: str = Field(primary_key=True, foreign_key="cases.id", max_length=32, index=True)


class CaseItem(SQLModel, table=True):
    """One sealed item of a case: the report, evidence, a message, a note, a check-in answer."""

    __tablename__ = "case_items"
    __table_args__ = (
        Index("ix_case_items_case_seq", "case_id", "seq", unique=True),
        Index("ix_case_items_case_source", "case_id", "source_digest", unique=True),
    )
    id: str = Field(primary_key=True, max_length=32)
    case_id: str = Field(foreign_key="cases.id", max_length=32)
    seq: int
    kind: str = Field(max_length=24)
    author: str = Field(max_length=12)
    officer_id: int | None = Field(default=None, foreign_key="officers.id")
    created_at: datetime
    ciphertext: bytes = _blob()
    # A second sealing of a message meant for the reporter, to the receipt-derived key.
    reporter_ciphertext: bytes | None = _blob(nullable=True)
    # A reporter's addition: a keyed hash (lookup key) of the message it came from, so a message handled
    # twice (redelivered, or retried after a crash) is stored once. Never the chat or message id itself.
    source_digest: bytes | None = Field(default=None, sa_column=Column(LargeBinary(32), nullable=True))


class Receipt(SQLModel, table=True):
    """A receipt code's keyed hash (HMAC under the server pepper): the code itself is never stored."""

    __tablename__ = "receipts"
    __table_args__ = (Index("ix_receipts_submission_digest", "submission_digest", unique=True),)
    digest: bytes = Field(sa_column=Column(LargeBinary(32), primary_key=True))
    case_id: str = Field(foreign_key="cases.id", max_length=32, unique=True)
    # A keyed hash (lookup key) of the draft's submission key: a repeated submit of the same draft finds
    # the case it already made instead of making a second one.
    submission_digest: bytes | None = Field(default=None, sa_column=Column(LargeBinary(32), nullable=True))


class ContactHandle(SQLModel, table=True):
    """How the bot reaches a case's reporter: sealed under the relay keyring, shredded at the end."""

    __tablename__ = "contact_handles"
    case_id: str = Field(primary_key=True, foreign_key="cases.id", max_length=32)
    key_id: str = Field(max_length=16)
    sealed: bytes = _blob()


class Draft(SQLModel, table=True):
    """A half-written report, sealed under the relay keyring, found by a keyed tag of the chat."""

    __tablename__ = "drafts"
    chat_tag: bytes = Field(sa_column=Column(LargeBinary(32), primary_key=True))
    key_id: str = Field(max_length=16)
    sealed: bytes = _blob()
    updated_at: datetime
    expires_at: datetime = Field(index=True)


class HandledUpdate(SQLModel, table=True):
    """A Telegram update already applied, under a keyed tag of its id (see storage/updates.py).

    No chat tag, no exact time: only the hour it was handled, to purge it by.
    """

    __tablename__ = "handled_updates"
    update_tag: bytes = Field(sa_column=Column(LargeBinary(32), primary_key=True))
    handled_hour: datetime = Field(index=True)


class ReceiptAttempt(SQLModel, table=True):
    """Wrong receipt codes per chat per hour, under a keyed tag of the chat (never the chat id)."""

    __tablename__ = "receipt_attempts"
    chat_tag: bytes = Field(sa_column=Column(LargeBinary(32), primary_key=True))
    window_start: datetime = Field(primary_key=True)
    failures: int = 0


class OutboxEntry(SQLModel, table=True):
    """Scheduled work claimed from the database with a lease: check-ins, deadline checks, deliveries."""

    __tablename__ = "outbox"
    __table_args__ = (Index("ix_outbox_status_due", "status", "due_at"),)
    id: int | None = Field(default=None, sa_column_kwargs={"autoincrement": True}, primary_key=True)
    case_id: str | None = Field(default=None, foreign_key="cases.id", max_length=32, index=True)
    kind: str = Field(max_length=32)
    due_at: datetime
    status: str = Field(default="pending", max_length=12)
    attempts: int = 0
    lease_owner: str | None = Field(default=None, max_length=64)
    lease_until: datetime | None = None
    key_id: str | None = Field(default=None, max_length=16)
    sealed_payload: bytes | None = _blob(nullable=True)
    detail: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))
    created_at: datetime
    done_at: datetime | None = None
    last_error: str | None = Field(default=None, max_length=200)


class PolicyVersion(SQLModel, table=True):
    """An immutable published version of the routing policy (YAML as the admin wrote it)."""

    __tablename__ = "policy_versions"
    version: int = Field(primary_key=True, sa_column_kwargs={"autoincrement": False})
    sha256: str = Field(max_length=64)
    document: str
    author: str = Field(max_length=64)
    published_at: datetime
    note: str = Field(default="", max_length=500)
    source_version: int | None = None


class AuditEntry(SQLModel, table=True):
    """One entry of the append-only, hash-chained audit log."""

    __tablename__ = "audit_log"
    seq: int = Field(sa_column=Column(BigInteger, primary_key=True, autoincrement=False))
    at: datetime
    actor: str = Field(max_length=80)
    action: str = Field(max_length=48, index=True)
    case_id: str | None = Field(default=None, max_length=32, index=True)
    detail: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))
    prev_hash: str = Field(max_length=64)
    hash: str = Field(max_length=64)


class DeskAccount(SQLModel, table=True):
    """How an officer signs in to the desk: a password verifier, a sealed TOTP secret, and lockout state.

    Why apart from `officers`: the desk password guards the session, the passphrase guards the key; an
    officer has both, and a stolen verifier (Argon2id) still does not open the key.
    """

    __tablename__ = "desk_accounts"
    officer_id: int = Field(primary_key=True, foreign_key="officers.id")
    password_hash: str | None = Field(default=None, max_length=200)
    password_set_at: datetime | None = None
    # Sealed under the relay keyring: the server must read it to check a code, and nothing weaker would do.
    totp_key_id: str | None = Field(default=None, max_length=16)
    totp_sealed: bytes | None = _blob(nullable=True)
    # The last code's time step, kept only while a replay of it could still be accepted (then cleared:
    # storage.desk_accounts.forget_passed), since it dates a sign-in to 30 seconds.
    totp_last_step: int | None = Field(default=None, sa_column=Column(BigInteger, nullable=True))
    # Bumped by a password reset, a second-factor reset or an operator's `end_sessions`: every live desk
    # session carries the epoch it began in, and one from an older epoch ends at its next request.
    session_epoch: int = 0
    # The one-time code an operator hands over out of band for the first second-factor enrolment: only
    # its keyed hash (lookup key), single use, with an expiry.
    enrolment_digest: bytes | None = Field(default=None, sa_column=Column(LargeBinary(32), nullable=True))
    enrolment_expires_at: datetime | None = None


class DeskSignInAttempt(SQLModel, table=True):
    """Sign-in attempts per login and client, counted before each check, for back-off.

    Both are keyed tags (lookup key), never the login typed or the address: a login that exists and one
    that does not are counted alike, so the back-off says nothing about which logins exist. The row with
    an empty client tag counts one login's failures from clients it never signed in from (`trusted`).
    Times: `last_at` on the hour (it only drives purging); `blocked_until` exact while it runs and cleared
    once passed (storage.desk_attempts), so neither dates a sign-in against the audit chain.
    """

    __tablename__ = "desk_signin_attempts"
    login_tag: bytes = Field(sa_column=Column(LargeBinary(32), primary_key=True))
    client_tag: bytes = Field(sa_column=Column(LargeBinary(32), primary_key=True))
    failures: int = 0
    blocked_until: datetime | None = None
    trusted: bool = False
    last_at: datetime


class DeskDevice(SQLModel, table=True):
    """A browser an officer signed in from (its device cookie), counted apart from its client address.

    Only the token's keyed hash (lookup key) is kept, with the officer, the session epoch it was issued in
    and an hour-coarse expiry (storage.desk_devices says why).
    """

    __tablename__ = "desk_devices"
    digest: bytes = Field(sa_column=Column(LargeBinary(32), primary_key=True))
    officer_id: int = Field(foreign_key="officers.id", index=True)
    epoch: int = 0
    failures: int = 0
    expires_at: datetime


class CaseAssignment(SQLModel, table=True):
    """Who works a case now: one officer holding a key for it."""

    __tablename__ = "case_assignments"
    case_id: str = Field(primary_key=True, foreign_key="cases.id", max_length=32)
    officer_id: int = Field(foreign_key="officers.id", index=True)
    assigned_at: datetime
    assigned_by: int | None = Field(default=None, foreign_key="officers.id")


# The desk's queue pages by keyset on (sort key, id), and finds an officer's wraps by officer then case:
# these indexes keep a deep page as cheap as the first (no OFFSET, no sort of the whole queue).
Index("ix_cases_received_id", Case.__table__.c.received_at, Case.__table__.c.id)  # type: ignore[attr-defined]
Index("ix_cases_ack_due_id", Case.__table__.c.ack_due_at, Case.__table__.c.id)  # type: ignore[attr-defined]
Index(
    "ix_cases_feedback_due_id",
    Case.__table__.c.feedback_due_at,  # type: ignore[attr-defined]
    Case.__table__.c.id,  # type: ignore[attr-defined]
)
# The urgent-first order (storage.queue_view): urgent cases newest first, and the overdue ones by status.
Index(
    "ix_cases_priority_received_id",
    Case.__table__.c.priority,  # type: ignore[attr-defined]
    Case.__table__.c.received_at,  # type: ignore[attr-defined]
    Case.__table__.c.id,  # type: ignore[attr-defined]
)
Index("ix_cases_status_ack_due", Case.__table__.c.status, Case.__table__.c.ack_due_at)  # type: ignore[attr-defined]
Index("ix_cases_status_feedback_due", Case.__table__.c.status, Case.__table__.c.feedback_due_at)  # type: ignore[attr-defined]
Index(
    "ix_case_keys_officer_case",
    CaseKey.__table__.c.officer_id,  # type: ignore[attr-defined]
    CaseKey.__table__.c.case_id,  # type: ignore[attr-defined]
)
