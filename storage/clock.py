"""Time for the vault: an injectable clock, and coarsening of stored times to the hour."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Protocol


class Clock(Protocol):
    """Anything that tells the current time as an aware UTC datetime."""

    def now(self) -> datetime: ...


class SystemClock:
    """The real clock."""

    def now(self) -> datetime:
        return datetime.now(UTC)


@dataclass
class ManualClock:
    """A clock that moves only when told to: tests and `--fast-clock` sandboxes cross days instantly."""

    current: datetime = field(default_factory=lambda: datetime(2026, 1, 5, 10, 0, tzinfo=UTC))

    def now(self) -> datetime:
        return self.current

    def advance(self, delta: timedelta) -> None:
        self.current += delta


def coarsen(moment: datetime) -> datetime:
    """Round down to the hour.

    Threat: exact submission times can be matched against Telegram activity or shift rotas to pick out a
    reporter. Why the hour: coarse enough to blur that, fine enough for deadline monitoring. Why every
    stored time, officers' actions included: reporter events sit between officer events in the audit
    chain, so exact officer times would bracket the reporter's to the minute.
    """
    return moment.astimezone(UTC).replace(minute=0, second=0, microsecond=0)
