"""Who may learn that a case exists: the one conflict rule behind key grants, notices, queue rows and lists.

Threat: an officer reported on, or a close colleague, learning of the report (and so of the reporter)
by a side door: a Telegram notice, a row in the desk's queue, an "access pending" line, a grant. Why
one rule: each of those paths used to decide on its own, and the notices decided nothing at all.

The rule (`may_learn`): an officer learns of a case only if they are active, hold a casework role, are
not conflicted out of it (named as a subject, or in a subject's unit), and either hold its key or are a
member of a queue the case was escalated to. Escalated-to members without a key are told only when the
case's conflict record exists; without one (cases made before it was kept) only key holders are.

The conflict record (`case_conflicts`) holds the named officers' ids and the units of officers matched
late, sealed under the relay keyring (purpose "case-conflicts", the case id as context) and padded, so a
database dump does not tell who was named (promise 2); the subjects' units stay routing facts in clear.
It is written with the case at submission and widened whenever an officer who can open the case finds a
late match (storage.casework), which also cancels notices still pending for the officers it excludes.

The same rule for counts over every case (the dashboard), where opening each sealed record would cost a
decryption per case: a case is conflicted for an officer if their unit is among its clear subject units
(`in_units`), or if one of its blind marks (`case_conflict_marks`) is theirs (`marked_clause`, in SQL). A mark is a
keyed hash (lookup key) of "officer:<id>" or "unit:<id>" and of the case's bucket, one of MARK_BUCKETS
keyed buckets; the viewer's marks for every bucket are looked up by index. Why buckets: an unbucketed mark
would be the same in every case naming one officer, so a database reader who knew one such case would
find the others; bucketed, two cases share a mark only within one bucket. Why padding: the number of
marks would otherwise say how many officers of the directory were named.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass

from sqlalchemy import ColumnElement
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from storage import crypto
from storage.keyring import RelayKeyring
from storage.models import (
    Case,
    CaseConflict,
    CaseConflictMark,
    CaseKey,
    CaseQueue,
    Officer,
    OfficerLink,
    OutboxEntry,
    QueueMember,
)

CONFLICTS_PURPOSE = "case-conflicts"
QUEUE_LEAD = "queue-lead"
# Who may work a case, and so receive or open one; the other roles (policy admin, auditor, operator) never do.
CASEWORK_ROLES = ("standards-officer", QUEUE_LEAD)
ESCALATED = "escalated"
# The outbox kind of officers' notices (storage.followup.OFFICER_NOTICE; repeated here to avoid a cycle).
NOTICE_KIND = "officer-notice"
# Why pad: the length of the sealed record would otherwise say how many officers the reporter named.
_PAD_TO = 256
# Blind marks: how many buckets a case can fall in, how long a mark is, and the multiple they are padded to.
MARK_BUCKETS = 1024
MARK_SIZE = 16
_MARKS_PAD = 2


@dataclass(frozen=True)
class Conflicts:
    """Who may not learn of a case: officers named in it, and the units of every subject."""

    officer_ids: frozenset[int]
    units: frozenset[str]

    def excludes(self, officer: Officer) -> bool:
        """Whether this officer is conflicted out (named, or in a subject's unit)."""
        return officer.id in self.officer_ids or bool(officer.unit_id and officer.unit_id in self.units)

    def __or__(self, other: Conflicts) -> Conflicts:
        return Conflicts(self.officer_ids | other.officer_ids, self.units | other.units)


def may_work(officer: Officer, conflicts: Conflicts | None) -> bool:
    """Whether the officer may receive, open or act on the case: active, a casework role, no conflict."""
    if not officer.active or not set(CASEWORK_ROLES) & set(officer.roles):
        return False
    return conflicts is None or not conflicts.excludes(officer)


def may_learn(
    officer: Officer, *, conflicts: Conflicts | None, holds_key: bool, escalated_member: bool
) -> bool:
    """THE rule: whether this officer may learn that the case exists (a notice, a queue row, a count).

    `conflicts` None means the case has no conflict record: then only a key holder may learn of it,
    since nobody can tell whether an escalated-to member was named without opening the case.
    """
    if not may_work(officer, conflicts):
        return False
    return holds_key or (escalated_member and conflicts is not None)


def _seal(relay: RelayKeyring, case_id: str, conflicts: Conflicts) -> tuple[str, bytes]:
    plain = json.dumps(
        {"officers": sorted(conflicts.officer_ids), "units": sorted(conflicts.units)}, separators=(",", ":")
    ).encode()
    plain += b" " * (-len(plain) % _PAD_TO)
    return relay.seal(plain, purpose=CONFLICTS_PURPOSE, context=case_id)


def _open(relay: RelayKeyring, row: CaseConflict, case: Case) -> Conflicts:
    doc = json.loads(relay.open(row.key_id, row.sealed, purpose=CONFLICTS_PURPOSE, context=case.id))
    return Conflicts(
        officer_ids=frozenset(int(i) for i in doc.get("officers", [])),
        units=frozenset(str(u) for u in doc.get("units", [])) | routed_units(case),
    )


def routed_units(case: Case) -> frozenset[str]:
    """The subjects' units recorded in clear when the case was routed."""
    return frozenset((case.routing_facts or {}).get("subject_units") or [])


def _bucket(lookup_key: bytes, case_id: str) -> int:
    digest = crypto.keyed_hash(lookup_key, b"conflict-bucket:" + case_id.encode())
    return int.from_bytes(digest[:4], "big") % MARK_BUCKETS


def _mark(lookup_key: bytes, what: str, bucket: int) -> bytes:
    return crypto.keyed_hash(lookup_key, f"conflict-mark:{what}:{bucket}".encode())[:MARK_SIZE]


def _whats(officer_ids: Iterable[int | None], units: Iterable[str]) -> list[str]:
    return [f"officer:{i}" for i in sorted({i for i in officer_ids if i is not None})] + [
        f"unit:{u}" for u in sorted(set(units))
    ]


def mark_rows(
    lookup_key: bytes,
    *,
    case_id: str,
    officer_ids: Iterable[int | None],
    units: Iterable[str] = (),
    pad: bool = True,
) -> list[dict[str, object]]:
    """The blind marks of the officers and units conflicted out of a case, as rows, padded with random
    marks to a multiple of _MARKS_PAD (at submission; a late match adds its own marks unpadded)."""
    bucket = _bucket(lookup_key, case_id)
    marks = {_mark(lookup_key, what, bucket) for what in _whats(officer_ids, units)}
    while pad and (len(marks) < _MARKS_PAD or len(marks) % _MARKS_PAD):
        marks.add(crypto.random_key()[:MARK_SIZE])
    return [{"mark": mark, "case_id": case_id} for mark in sorted(marks)]


def viewer_marks(lookup_key: bytes, officer: Officer) -> list[bytes]:
    """Every mark that would say this officer is conflicted out of a case, in every bucket."""
    whats = _whats([officer.id], [officer.unit_id] if officer.unit_id else [])
    return [_mark(lookup_key, what, bucket) for what in whats for bucket in range(MARK_BUCKETS)]


def marked_clause(lookup_key: bytes, officer: Officer) -> ColumnElement[bool]:
    """Half of the conflict rule in SQL: true for a `cases` row carrying one of this officer's blind marks
    (named in it, or their unit matched late). The other half, their unit among the case's clear subject
    units, is `in_units`, which a caller grouping by those units applies per group.

    Threat: a count that moves when a report about the viewer or their unit arrives (differencing).
    Cases made before the marks were kept are caught by their clear subject units only.
    """
    marked = select(CaseConflictMark.case_id).where(
        col(CaseConflictMark.mark).in_(viewer_marks(lookup_key, officer))
    )
    return col(Case.id).in_(marked)


def in_units(officer: Officer, units: Iterable[str]) -> bool:
    """Whether the officer's unit is among these subject units (they are conflicted out by unit)."""
    return bool(officer.unit_id) and officer.unit_id in set(units)


def record_row(
    relay: RelayKeyring, *, case_id: str, officer_ids: Iterable[int | None], units: Iterable[str]
) -> dict[str, object]:
    """The conflict record of a new case, as a row for the submission's insert (see storage.cases)."""
    conflicts = Conflicts(frozenset(i for i in officer_ids if i is not None), frozenset(units))
    key_id, sealed = _seal(relay, case_id, conflicts)
    return {"case_id": case_id, "key_id": key_id, "sealed": sealed}


async def recorded(session: AsyncSession, relay: RelayKeyring, case: Case) -> Conflicts | None:
    """The case's conflict record opened (None if it has none), with the routed subjects' units."""
    return (await recorded_many(session, relay, [case]))[case.id]


async def recorded_many(
    session: AsyncSession, relay: RelayKeyring, cases: list[Case]
) -> dict[str, Conflicts | None]:
    """The conflict records of several cases, by case id."""
    if not cases:
        return {}
    rows = {
        r.case_id: r
        for r in (
            await session.exec(
                select(CaseConflict).where(col(CaseConflict.case_id).in_([c.id for c in cases]))
            )
        ).all()
    }
    return {c.id: _open(relay, rows[c.id], c) if c.id in rows else None for c in cases}


async def widen(
    session: AsyncSession, relay: RelayKeyring, case: Case, found: Conflicts, *, lookup_key: bytes
) -> Conflicts:
    """Add conflicts found by an officer who opened the case (late matches) to its record and its blind
    marks; cancel the pending notices of every officer the record now excludes. Returns the whole record."""
    row = await session.get(CaseConflict, case.id)
    current = _open(relay, row, case) if row is not None else None
    merged = found | current if current is not None else found | Conflicts(frozenset(), routed_units(case))
    if current != merged:
        key_id, sealed = _seal(relay, case.id, merged)
        if row is None:
            row = CaseConflict(case_id=case.id, key_id=key_id, sealed=sealed)
        else:
            row.key_id, row.sealed = key_id, sealed
        session.add(row)
        await _add_marks(session, lookup_key, case, merged, current)
        await _cancel_notices(session, case, merged)
    return merged


async def _add_marks(
    session: AsyncSession, lookup_key: bytes, case: Case, merged: Conflicts, current: Conflicts | None
) -> None:
    """Marks for the officers and units newly in the record (clear subject units need none)."""
    before = current or Conflicts(frozenset(), routed_units(case))
    rows = mark_rows(
        lookup_key,
        case_id=case.id,
        officer_ids=merged.officer_ids - before.officer_ids,
        units=merged.units - before.units - routed_units(case),
        pad=False,
    )
    have = set(
        (await session.exec(select(CaseConflictMark.mark).where(CaseConflictMark.case_id == case.id))).all()
    )
    for row in rows:
        if row["mark"] not in have:
            session.add(CaseConflictMark(**row))  # type: ignore[arg-type]


async def _cancel_notices(session: AsyncSession, case: Case, conflicts: Conflicts) -> int:
    """Cancel pending notices of this case addressed to officers now conflicted out."""
    pending = (
        await session.exec(
            select(OutboxEntry).where(
                OutboxEntry.case_id == case.id,
                OutboxEntry.kind == NOTICE_KIND,
                col(OutboxEntry.status).in_(("pending", "claimed")),
            )
        )
    ).all()
    ids = {int(e.detail.get("officer", 0)) for e in pending}
    officers = {
        o.id: o for o in (await session.exec(select(Officer).where(col(Officer.id).in_(sorted(ids))))).all()
    }
    cancelled = 0
    for entry in pending:
        officer = officers.get(int(entry.detail.get("officer", 0)))
        if officer is None or conflicts.excludes(officer):
            entry.status, entry.last_error = "cancelled", "conflict of interest"
            session.add(entry)
            cancelled += 1
    return cancelled


async def audience(
    session: AsyncSession, relay: RelayKeyring, case: Case, *, linked_only: bool = True
) -> list[tuple[Officer, str]]:
    """Every member of the case's queues who may learn of it, with the first such queue (for notices,
    only those who linked a Telegram chat)."""
    queues = (await session.exec(select(CaseQueue).where(CaseQueue.case_id == case.id))).all()
    escalated = {q.queue_id for q in queues if q.via == ESCALATED}
    statement = (
        select(QueueMember.queue_id, Officer)
        .join(Officer, col(Officer.id) == col(QueueMember.officer_id))
        .where(col(QueueMember.queue_id).in_(sorted({q.queue_id for q in queues})))
    )
    if linked_only:
        statement = statement.join(OfficerLink, col(OfficerLink.officer_id) == col(Officer.id))
    members = (await session.exec(statement)).all()
    holders = set((await session.exec(select(CaseKey.officer_id).where(CaseKey.case_id == case.id))).all())
    conflicts = await recorded(session, relay, case)
    chosen: dict[int, tuple[Officer, str]] = {}
    for queue_id, officer in sorted(members, key=lambda m: (m[0], m[1].id or 0)):
        assert officer.id is not None
        if officer.id in chosen:
            continue
        if may_learn(
            officer,
            conflicts=conflicts,
            holds_key=officer.id in holders,
            escalated_member=queue_id in escalated,
        ):
            chosen[officer.id] = (officer, queue_id)
    return list(chosen.values())
