"""The JSON API's request and response bodies (they make the OpenAPI document)."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, Field

# Bounds on what a request may carry; the vault applies its own, stricter limits with clear messages.
_TEXT = 100_000
_SHORT = 200


class ErrorOut(BaseModel):
    detail: str


class SignInIn(BaseModel):
    login: str = Field(max_length=_SHORT)
    password: str = Field(max_length=1024)
    code: str | None = Field(default=None, max_length=16, description="TOTP code, once one is enrolled")


class SessionOut(BaseModel):
    login: str
    display_name: str
    roles: list[str]
    totp_enrolled: bool
    totp_required: bool
    unlocked: bool
    csrf_token: str = Field(description="Send as X-CSRF-Token on every POST")


class CsrfOut(BaseModel):
    csrf_token: str


class UnlockIn(BaseModel):
    passphrase: str = Field(max_length=1024)


class TotpBeginOut(BaseModel):
    secret: str = Field(description="Base32, for typing into an authenticator app")
    uri: str = Field(description="otpauth:// URI (the QR code at /account/totp/qr.svg encodes it)")


class TotpConfirmIn(BaseModel):
    code: str = Field(max_length=16)
    enrolment_code: str = Field(
        default="", max_length=64, description="The one-time code an operator handed over (first enrolment)"
    )


class LinkCodeOut(BaseModel):
    code: str = Field(description="Send `/link CODE` to the bot from your own work Telegram account")
    expires_at: datetime
    instruction: str
    warning: str


class QueueRowOut(BaseModel):
    reference: str
    status: str
    priority: str
    categories: list[str]
    queues: list[str]
    flags: list[str]
    received_at: datetime
    ack_due_at: datetime
    ack_state: str
    feedback_due_at: datetime
    feedback_state: str
    assignee: str | None
    new_message: bool
    access: Literal["open", "pending"] = Field(
        description="'pending': escalated to a queue of yours, and nobody has granted you its key yet"
    )


class QueuePageOut(BaseModel):
    cases: list[QueueRowOut]
    next_cursor: str | None


class FileOut(BaseModel):
    id: str
    seq: int
    filename: str
    media_type: str
    size: int
    sha256: str
    metadata_kept: bool
    href: str
    # What the reporter wrote with the file (sealed in its header; "" if nothing).
    caption: str = ""


class TimelineOut(BaseModel):
    id: str
    seq: int
    kind: str
    author: str
    officer: str | None
    at: datetime
    text: str | None
    detail: dict[str, Any]


class CaseOut(BaseModel):
    reference: str
    status: str
    priority: str
    categories: list[str]
    flags: list[str]
    queues: list[str]
    received_at: datetime
    ack_due_at: datetime
    feedback_due_at: datetime
    policy_version: int
    matched_rules: list[str]
    assignee: str | None
    report: dict[str, Any]
    files: list[FileOut]
    timeline: list[TimelineOut]
    pending_escalations: list[str] = Field(
        description="Queues the case was escalated to whose members cannot open it yet: grant them"
    )
    left_out: list[str] = Field(
        default_factory=list,
        description="For a queue lead: officers of the directory the report names (certainly or likely), "
        "left out of the case's key holders, each with why",
    )


class StatusIn(BaseModel):
    status: Literal["acknowledged", "investigating", "closed"]
    outcome: str | None = Field(
        default=None, max_length=_TEXT, description="Needed to close: the reporter is told"
    )


class AssignIn(BaseModel):
    login: str | None = Field(default=None, max_length=_SHORT, description="None unassigns")


class TextIn(BaseModel):
    text: str = Field(max_length=_TEXT)


class ReferIn(BaseModel):
    queue: str = Field(max_length=_SHORT)
    reason: str = Field(default="", max_length=_TEXT)


class EscalationIn(BaseModel):
    queue: str = Field(max_length=_SHORT, description="A queue the case was escalated to")


class GrantIn(BaseModel):
    login: str = Field(max_length=_SHORT)


class ExportIn(BaseModel):
    form: Literal["folder"] = "folder"


class DoneOut(BaseModel):
    message: str
    detail: dict[str, Any] = Field(default_factory=dict)


class AuditRowOut(BaseModel):
    seq: int
    at: datetime
    actor: str
    action: str
    reference: str | None
    detail: dict[str, Any]
    hash: str
    withheld: bool = Field(
        default=False,
        description="Bound to a case: its reference and detail are shown only by POST /api/audit/case",
    )


class AuditPageOut(BaseModel):
    entries: list[AuditRowOut]
    next_before: int | None = Field(description="Pass as `before` for the next, older page")
    reference: str | None = Field(default=None, description="The case shown, on a page of one case")


class AuditCaseIn(BaseModel):
    reference: str = Field(max_length=16, description="The case's reference")


class CheckpointOut(BaseModel):
    """A signed audit checkpoint the chain was checked against (storage/checkpoints.py)."""

    source: str = Field(description="The checkpoint file's name")
    checkpoint: int
    entry: int = Field(description="The entry whose hash the checkpoint signed")
    hour: datetime = Field(description="When it was signed, to the hour")
    key: str = Field(description="Fingerprint of the audit signing key")


class ChainOut(BaseModel):
    ok: bool
    entries: int
    head_hash: str
    first_broken: int | None
    reason: str
    checked_against: list[CheckpointOut] = Field(default_factory=list)
    checkpoint_problem: str = Field(default="", description="A checkpoint file that is damaged or forged")


class CellOut(BaseModel):
    label: str
    count: str = Field(description="A number, or '<5' where it is suppressed")


class RateOut(BaseModel):
    percent: int | None = Field(
        description="None where fewer than 5 cases are behind it, or the misses are few"
    )
    cases: str


class DashboardOut(BaseModel):
    cases: str
    by_category: list[CellOut]
    by_unit: list[CellOut]
    by_month: list[CellOut]
    acknowledged_in_time: RateOut
    feedback_in_time: RateOut
    median_hours_to_acknowledge: float | None
