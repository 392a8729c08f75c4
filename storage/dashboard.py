"""Statistics for the desk's dashboard, from clear metadata only, with small numbers suppressed.

Threat: a statistic that points at a reporter ("one racism report about the dog unit in March").
Why suppression: any count under 5 is shown as '<5'. Why a second suppressed cell: if only one cell of
a breakdown were hidden, the total (or the other breakdowns) would give it away by subtraction, so the
next smallest cell is hidden with it. Rates and the median are shown only over 5 cases or more.
Why every unit, category and recent month is listed, even at zero: a cell that appears only once a case
exists would point at that case (a subject who can see the dashboard would learn that a report about
their unit arrived, however small its count); listed always, "<5" reads the same for none and for one.

Why each viewer sees their own dashboard: a count of 5 or more is shown exactly, so a subject watching
"north-bcu 5" turn to 6 would learn that a report about them arrived. Every figure a viewer is shown
(cells, totals, rates, the median) is counted over the cases they may learn of: those they are not
conflicted out of: in SQL, no blind mark of theirs (storage.conflicts.marked_clause), and per group of
subject units, not their unit (storage.conflicts.in_units). Suppression then works on those counts,
so what the viewer sees is the dashboard of a service in which that case does not exist.
"""

from __future__ import annotations

import json
import statistics
from collections import Counter
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import String, and_, cast, func, not_, or_
from sqlalchemy import case as case_
from sqlmodel import col, select

from storage import policy_store
from storage.conflicts import in_units, marked_clause
from storage.errors import NotFoundError
from storage.models import Case, Officer
from storage.vault import Vault

THRESHOLD = 5
SUPPRESSED = "<5"
NOT_GIVEN = "not given"
# How many months back the month breakdown always lists, cases or none.
MONTHS_LISTED = 12


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
    if order_by_label:
        labels = sorted(counts)
    else:
        # Why hidden cells go last, by label: ranked by their count, their order would tell the count.
        labels = sorted(counts, key=lambda k: (k in hidden, -counts[k] if k not in hidden else 0, k))
    return tuple(Cell(label, None if label in hidden else counts[label]) for label in labels)


def _rate(met: int, of: int) -> Rate:
    if of < THRESHOLD:
        return Rate(None, None)
    # The part not met is a count too: if it is small (but not none), showing both would name its few cases.
    if 0 < met < THRESHOLD or 0 < of - met < THRESHOLD:
        return Rate(None, of)
    return Rate(met, of)


async def build(vault: Vault, *, viewer: int | None = None, now: datetime | None = None) -> Dashboard:
    """Count reports by category, subject unit and month, deadline compliance and time to acknowledge,
    over the cases the viewer (an officer id) is not conflicted out of; every case if `viewer` is None
    (for the benchmarks and the counting tests: the desk always names its viewer)."""
    async with vault.db.reading() as session:
        officer = await session.get(Officer, viewer) if viewer is not None else None
    if viewer is not None and officer is None:
        raise NotFoundError("no officer with that id")
    return await _count(vault, now or vault.clock.now(), officer)


async def _count(vault: Vault, moment: datetime, viewer: Officer | None) -> Dashboard:
    """The dashboard over the cases the viewer is not conflicted out of (every case for None)."""
    mine = (not_(marked_clause(vault.keys.lookup_key, viewer)),) if viewer is not None else ()

    def kept(unit_list: str | None) -> bool:
        # Why per group: the groups are by exact subject-unit set, so this leaves out exactly the cases
        # about the viewer's unit, at no cost per case.
        return viewer is None or not in_units(viewer, _json_list(unit_list))

    postgres = vault.db.engine.dialect.name == "postgresql"
    # Why grouped in SQL: one pass inside the database, and only a few thousand groups (category sets x
    # unit sets x months) come back, so the cost per request does not carry a Python step per case.
    # Stored times are UTC; SQLite keeps them as 'YYYY-MM-DD HH:MM:SS...' text.
    month = (
        func.to_char(func.timezone("UTC", Case.received_at), "YYYY-MM")
        if postgres
        else func.substr(cast(Case.received_at, String), 1, 7)
    )
    categories = cast(Case.categories, String)
    units = cast(Case.routing_facts["subject_units"], String)
    ack_counted = or_(col(Case.acknowledged_at).is_not(None), col(Case.ack_due_at) < moment)
    ack_met = and_(col(Case.acknowledged_at).is_not(None), col(Case.acknowledged_at) <= col(Case.ack_due_at))
    feedback_counted = or_(col(Case.closed_at).is_not(None), col(Case.feedback_due_at) < moment)
    feedback_met = and_(col(Case.closed_at).is_not(None), col(Case.closed_at) <= col(Case.feedback_due_at))

    def tally(condition: Any) -> Any:
        return func.sum(case_((condition, 1), else_=0))

    grouped = (
        select(  # type: ignore[call-overload]
            categories,
            units,
            month,
            func.count(),
            tally(ack_counted),
            tally(ack_met),
            tally(feedback_counted),
            tally(feedback_met),
        )
        .where(*mine)
        .group_by(categories, units, month)
    )
    hours_expr = (
        func.extract("epoch", col(Case.acknowledged_at) - col(Case.received_at)) / 3600
        if postgres
        else (func.julianday(Case.acknowledged_at) - func.julianday(Case.received_at)) * 24
    )
    hours_expr = func.round(hours_expr, 1)
    # By subject units too only where the viewer has a unit to leave out.
    keys = (hours_expr, units) if viewer is not None and viewer.unit_id else (hours_expr,)
    histogram = (
        select(*keys, func.count())  # type: ignore[call-overload]
        .where(col(Case.acknowledged_at).is_not(None), *mine)
        .group_by(*keys)
    )
    by_category: Counter[str] = Counter()
    by_unit: Counter[str] = Counter()
    by_month: Counter[str] = Counter()
    totals = Counter[str]()
    async with vault.db.reading() as session:
        for cats, unit_list, received_month, count, *sums in (await session.exec(grouped)).all():
            if not kept(unit_list):
                continue
            totals["cases"] += count
            for name, value in zip(("ack_of", "ack_met", "feedback_of", "feedback_met"), sums, strict=True):
                totals[name] += int(value or 0)
            for category in set(_json_list(cats)):
                by_category[category] += count
            for unit in set(_json_list(unit_list)) or {NOT_GIVEN}:
                by_unit[unit] += count
            by_month[str(received_month)] += count
        counted: Counter[float] = Counter()
        for h, *unit_list, n in (await session.exec(histogram)).all():
            if kept(unit_list[0] if unit_list else None):
                counted[float(h)] += int(n)
        hours = sorted(counted.items())
        document = (await policy_store.active(session)).document
    for label in (*(u.id for u in document.units), NOT_GIVEN):
        by_unit.setdefault(label, 0)
    for label in (c.id for c in document.categories):
        by_category.setdefault(label, 0)
    for label in recent_months(moment):
        by_month.setdefault(label, 0)
    total = totals["cases"]
    return Dashboard(
        cases=total if total >= THRESHOLD else None,
        by_category=suppress(dict(by_category)),
        by_unit=suppress(dict(by_unit)),
        by_month=suppress(dict(by_month), order_by_label=True),
        acknowledged_in_time=_rate(totals["ack_met"], totals["ack_of"]),
        feedback_in_time=_rate(totals["feedback_met"], totals["feedback_of"]),
        median_hours_to_acknowledge=_median(hours) if sum(n for _h, n in hours) >= THRESHOLD else None,
    )


def recent_months(moment: datetime, count: int = MONTHS_LISTED) -> list[str]:
    """The labels ('YYYY-MM') of the `count` months up to and including the month of `moment` (UTC)."""
    year, month = moment.year, moment.month
    labels = []
    for _ in range(count):
        labels.append(f"{year:04d}-{month:02d}")
        year, month = (year, month - 1) if month > 1 else (year - 1, 12)
    return labels


def _json_list(text: str | None) -> list[str]:
    """A JSON list of strings as stored (None or anything else is empty)."""
    if not text:
        return []
    value = json.loads(text)
    return [str(v) for v in value] if isinstance(value, list) else []


def _median(histogram: list[tuple[float, int]]) -> float:
    """The median of values given as (value, how many), sorted by value."""
    total = sum(n for _value, n in histogram)
    wanted = (total - 1) // 2, total // 2
    picked: list[float] = []
    seen = 0
    for value, n in histogram:
        while len(picked) < 2 and seen + n > wanted[len(picked)]:
            picked.append(value)
        seen += n
    return round(statistics.fmean(picked), 1)
