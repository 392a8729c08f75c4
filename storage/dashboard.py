"""Statistics for the desk's dashboard, from clear metadata only, with small numbers suppressed.

Threat: a statistic that points at a reporter ("one racism report about the dog unit in March").
Why suppression: any count under 5 is shown as '<5'. Why a second suppressed cell: if only one cell of
a breakdown were hidden, the total (or the other breakdowns) would give it away by subtraction, so the
next smallest cell is hidden with it. Rates and the median are shown only over 5 cases or more.
"""

from __future__ import annotations

import statistics
from collections import Counter
from dataclasses import dataclass
from datetime import datetime

from sqlmodel import col, select

from storage.models import Case
from storage.vault import Vault

THRESHOLD = 5
SUPPRESSED = "<5"


@dataclass(frozen=True)
class Cell:
    """One bar of a breakdown: its label and its count, or None where the count is suppressed."""

    label: str
    count: int | None

    @property
    def shown(self) -> str:
        return SUPPRESSED if self.count is None else str(self.count)


@dataclass(frozen=True)
class Rate:
    """A share of cases meeting a deadline; None where fewer than THRESHOLD cases are behind it."""

    met: int | None
    of: int | None

    @property
    def percent(self) -> int | None:
        if self.met is None or not self.of:
            return None
        return round(100 * self.met / self.of)


@dataclass(frozen=True)
class Dashboard:
    """Everything the dashboard shows."""

    cases: int | None
    by_category: tuple[Cell, ...]
    by_unit: tuple[Cell, ...]
    by_month: tuple[Cell, ...]
    acknowledged_in_time: Rate
    feedback_in_time: Rate
    median_hours_to_acknowledge: float | None


def suppress(counts: dict[str, int], *, order_by_label: bool = False) -> tuple[Cell, ...]:
    """Cells with every count under THRESHOLD hidden, and one more if exactly one was hidden."""
    hidden = {label for label, n in counts.items() if n < THRESHOLD}
    if len(hidden) == 1 and len(counts) > 1:
        shown = sorted((n, label) for label, n in counts.items() if label not in hidden)
        hidden.add(shown[0][1])
    labels = sorted(counts) if order_by_label else sorted(counts, key=lambda k: (-counts[k], k))
    return tuple(Cell(label, None if label in hidden else counts[label]) for label in labels)


def _rate(met: int, of: int) -> Rate:
    if of < THRESHOLD:
        return Rate(None, None)
    # The part not met is a count too: if it is small (but not none), showing both would name its few cases.
    if 0 < met < THRESHOLD or 0 < of - met < THRESHOLD:
        return Rate(None, of)
    return Rate(met, of)


async def build(vault: Vault, *, now: datetime | None = None) -> Dashboard:
    """Count reports by category, subject unit and month, deadline compliance and time to acknowledge."""
    moment = now or vault.clock.now()
    statement = select(
        Case.categories,
        Case.routing_facts,
        Case.received_at,
        Case.acknowledged_at,
        Case.ack_due_at,
        Case.closed_at,
        Case.feedback_due_at,
    ).order_by(col(Case.received_at))
    categories: Counter[str] = Counter()
    units: Counter[str] = Counter()
    months: Counter[str] = Counter()
    ack_met = ack_of = feedback_met = feedback_of = total = 0
    hours: list[float] = []
    async with vault.db.reading() as session:
        result = await session.stream(statement)
        async for row in result:
            cats, facts, received, acknowledged, ack_due, closed, feedback_due = row
            total += 1
            categories.update(set(cats or ()))
            units.update(set((facts or {}).get("subject_units") or ()) or {"not given"})
            months[f"{received:%Y-%m}"] += 1
            if acknowledged is not None or ack_due < moment:
                ack_of += 1
                if acknowledged is not None and acknowledged <= ack_due:
                    ack_met += 1
            if acknowledged is not None:
                hours.append((acknowledged - received).total_seconds() / 3600)
            if closed is not None or feedback_due < moment:
                feedback_of += 1
                if closed is not None and closed <= feedback_due:
                    feedback_met += 1
    return Dashboard(
        cases=total if total >= THRESHOLD else None,
        by_category=suppress(dict(categories)),
        by_unit=suppress(dict(units)),
        by_month=suppress(dict(months), order_by_label=True),
        acknowledged_in_time=_rate(ack_met, ack_of),
        feedback_in_time=_rate(feedback_met, feedback_of),
        median_hours_to_acknowledge=round(statistics.median(hours), 1) if len(hours) >= THRESHOLD else None,
    )
