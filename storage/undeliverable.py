"""A report that no officer may read: refused, never sealed, and audited so the queues can be staffed.

Threat: a queue staffed only by officers a report names (four Smiths, and "DS Smith" written) would
otherwise refuse the report in silence, and the reporter's "try again later" would fail again. Why neither
the exclusion dropped nor the case wrapped to the recovery key alone: the first gives the key to the
person reported on, the second seals a report nobody will read (the recovery key is kept offline).
"""

from __future__ import annotations

from datetime import datetime

from sqlmodel import Session

from storage import audit
from storage.errors import NoRecipientError

ACTION = "case.undeliverable"


class UndeliverableError(NoRecipientError):
    """Every member of the routed queues and of the escalation queue was left out (named, likely named, or
    of a subject's unit): nothing is stored, and the refusal is audited (`record`)."""

    def __init__(self, queues: tuple[str, ...]) -> None:
        super().__init__("no officer without a conflict of interest can receive this report")
        self.queues = queues


def record(session: Session, queues: tuple[str, ...], now: datetime) -> None:
    """Audit that a report found no reader in these queues, at the submission's coarse hour.

    Why only the queues and the hour: who was named is content; the entry says no more than the
    `case.submitted` entry of a delivered report does."""
    audit.append_sync(
        session,
        at=now,
        actor="reporter",
        action=ACTION,
        detail={"queues": list(queues), "reason": "every member was named or is of a named unit"},
    )
