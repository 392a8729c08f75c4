"""The dashboard's counts, grouped in SQL, on SQLite and PostgreSQL, agree with the same counts made in
Python case by case (the way the dashboard counted before), over varied metadata: categories, units,
months, deadlines met and missed, and hours to acknowledge."""

from __future__ import annotations

import random
import statistics
from collections import Counter
from datetime import UTC, datetime, timedelta

from sqlalchemy import insert

from policies.schema import PolicyDocument
from storage import conflicts, dashboard, policy_store
from storage.models import Case, CaseConflictMark
from storage.vault import Vault

NOW = datetime(2026, 6, 1, 12, tzinfo=UTC)


def _rows(count: int) -> list[dict]:
    rng = random.Random(7)
    rows = []
    for index in range(count):
        received = datetime(2025, 11, 3, 9, tzinfo=UTC) + timedelta(hours=rng.randrange(0, 24 * 150))
        acknowledged = received + timedelta(hours=rng.choice((1, 5, 30, 200))) if rng.random() < 0.7 else None
        closed = (
            received + timedelta(days=rng.choice((20, 120))) if acknowledged and rng.random() < 0.5 else None
        )
        facts = {"subject_units": rng.choice((["north-bcu"], ["south-bcu", "north-bcu"], [], ["custody"]))}
        if index % 11 == 0:
            facts = {}
        rows.append(
            {
                "id": f"case{index:04d}",
                "reference": f"CN-T{index:06d}",
                "status": "closed" if closed else ("acknowledged" if acknowledged else "received"),
                "priority": "normal",
                "categories": rng.choice((["bullying"], ["racism", "bullying"], ["harassment"], ["other"])),
                "routing_facts": facts,
                "flags": [],
                "received_at": received,
                "updated_at": received,
                "acknowledged_at": acknowledged,
                "closed_at": closed,
                "ack_due_at": received + timedelta(days=rng.choice((1, 7))),
                "feedback_due_at": received + timedelta(days=90),
                "policy_version": 1,
                "matched_rules": [],
                "retention_days": 365,
                "checkins_stopped": False,
            }
        )
    return rows


def _reference(rows: list[dict], document: PolicyDocument) -> dashboard.Dashboard:
    # Every unit, category and recent month is listed, cases or none (see storage.dashboard).
    categories: Counter[str] = Counter({c.id: 0 for c in document.categories})
    units: Counter[str] = Counter({u.id: 0 for u in document.units} | {"not given": 0})
    months: Counter[str] = Counter(dict.fromkeys(dashboard.recent_months(NOW), 0))
    ack_met = ack_of = feedback_met = feedback_of = 0
    hours = []
    for row in rows:
        categories.update(set(row["categories"]))
        units.update(set(row["routing_facts"].get("subject_units") or ()) or {"not given"})
        months[f"{row['received_at']:%Y-%m}"] += 1
        acknowledged, closed = row["acknowledged_at"], row["closed_at"]
        if acknowledged is not None or row["ack_due_at"] < NOW:
            ack_of += 1
            ack_met += acknowledged is not None and acknowledged <= row["ack_due_at"]
        if acknowledged is not None:
            hours.append((acknowledged - row["received_at"]).total_seconds() / 3600)
        if closed is not None or row["feedback_due_at"] < NOW:
            feedback_of += 1
            feedback_met += closed is not None and closed <= row["feedback_due_at"]
    return dashboard.Dashboard(
        cases=len(rows),
        by_category=dashboard.suppress(dict(categories)),
        by_unit=dashboard.suppress(dict(units)),
        by_month=dashboard.suppress(dict(months), order_by_label=True),
        acknowledged_in_time=dashboard._rate(ack_met, ack_of),
        feedback_in_time=dashboard._rate(feedback_met, feedback_of),
        median_hours_to_acknowledge=round(statistics.median(hours), 1),
    )


async def test_sql_counts_match_counting_case_by_case(vault: Vault) -> None:
    rows = _rows(240)
    async with vault.db.transaction() as session:
        await session.exec(insert(Case), params=rows)  # type: ignore[call-overload]
    built = await dashboard.build(vault, now=NOW)
    async with vault.db.reading() as session:
        document = (await policy_store.active(session)).document
    assert built == _reference(rows, document)
    assert built.median_hours_to_acknowledge in (5.0, 30.0, 17.5)


async def test_a_viewers_counts_leave_out_every_case_they_are_conflicted_out_of(
    vault: Vault, make_officer
) -> None:
    viewer = await make_officer("nb", unit="north-bcu", roles=("queue-lead",))
    rows = _rows(240)
    # Every seventh case names the viewer (a blind mark), whatever its units; the rest carry random marks.
    marks = [
        mark
        for index, row in enumerate(rows)
        for mark in conflicts.mark_rows(
            vault.keys.lookup_key, case_id=row["id"], officer_ids=[viewer.id] if index % 7 == 0 else []
        )
    ]
    async with vault.db.transaction() as session:
        await session.exec(insert(Case), params=rows)  # type: ignore[call-overload]
        await session.exec(insert(CaseConflictMark), params=marks)  # type: ignore[call-overload]
    kept = [
        row
        for index, row in enumerate(rows)
        if index % 7 and "north-bcu" not in (row["routing_facts"].get("subject_units") or ())
    ]
    assert 40 < len(kept) < 200
    built = await dashboard.build(vault, viewer=viewer.id, now=NOW)
    async with vault.db.reading() as session:
        document = (await policy_store.active(session)).document
    expected = _reference(kept, document)
    assert built == expected
    assert {c.label: c.count for c in built.by_unit}["north-bcu"] is None


def test_median_of_a_histogram() -> None:
    for values in ([1.0], [1.0, 2.0], [1.0, 1.0, 5.0, 9.0], [3.0, 3.0, 3.0], [0.0, 2.0, 2.0, 7.0, 8.0, 8.0]):
        histogram = sorted(Counter(values).items())
        assert dashboard._median(histogram) == round(statistics.median(values), 1)
