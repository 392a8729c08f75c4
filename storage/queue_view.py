"""The desk's queue: the cases an officer holds a key for, filtered, sorted and paged by keyset.

Why keyset and not OFFSET: a deep page must cost what the first one does, also at a million cases; each
page seeks past the last row of the one before on (sort key, id), which the indexes of migration 0004
serve. Everything here is clear metadata: nothing is decrypted, so listing is not audited (opening a
case is).
"""

from __future__ import annotations

import base64
import json
import re
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import String, and_, cast, func, literal, or_, tuple_
from sqlmodel import col, select

from policies.schema import ID_PATTERN, PRIORITIES
from storage import conflicts as conflict_rule
from storage.cases import CHECKIN_ANSWER, REPORTER_MESSAGE
from storage.errors import InputError
from storage.models import Case, CaseAssignment, CaseItem, CaseKey, CaseQueue, Officer, QueueMember
from storage.vault import Vault

STATUSES = ("received", "acknowledged", "investigating", "closed")
URGENT_FIRST = "urgent-first"
OPEN_STATUSES = tuple(s for s in STATUSES if s != "closed")
_SEGMENTS = 6  # urgent; four kinds of overdue; the rest (see _segments)
# Each sort: the column it orders by, and whether the most recent (largest) comes first.
SORTS: dict[str, tuple[str, bool]] = {
    "received-desc": ("received_at", True),
    "received-asc": ("received_at", False),
    "ack-due": ("ack_due_at", False),
    "feedback-due": ("feedback_due_at", False),
    # Urgent open cases, then overdue ones (unacknowledged first), then the rest; newest first within each
    # part (see _segments).
    URGENT_FIRST: ("received_at", True),
}
# Why urgent first: a risk of harm now, or a reporter facing retaliation, must not sit below a week of
# routine reports; then whatever has missed its deadline.
DEFAULT_SORT = URGENT_FIRST
MAX_PAGE = 200
_REFERENCE_PREFIX = re.compile(r"^[A-Z0-9-]{1,16}$")


@dataclass(frozen=True)
class QueueFilter:
    """What narrows the queue; every field is optional."""

    status: str | None = None
    priority: str | None = None
    category: str | None = None
    reference: str | None = None
    assigned_to_me: bool = False

    def check(self) -> None:
        """Refuse values that could never match, so a typo says so instead of showing an empty queue."""
        if self.status and self.status not in STATUSES:
            raise InputError(f"status must be one of {', '.join(STATUSES)}")
        if self.priority and self.priority not in PRIORITIES:
            raise InputError(f"priority must be one of {', '.join(PRIORITIES)}")
        if self.category and not ID_PATTERN.match(self.category):
            raise InputError("a category is an id such as 'bullying'")
        if self.reference and not _REFERENCE_PREFIX.match(self.reference.strip().upper()):
            raise InputError("a reference has letters, digits and hyphens only, such as CN-7K3M9Q2T")


@dataclass(frozen=True)
class QueueRow:
    """One case in the queue: clear metadata, assignee, and whether the reporter wrote last."""

    reference: str
    status: str
    priority: str
    categories: tuple[str, ...]
    queues: tuple[str, ...]
    flags: tuple[str, ...]
    received_at: datetime
    ack_due_at: datetime
    feedback_due_at: datetime
    acknowledged_at: datetime | None
    closed_at: datetime | None
    assignee: str | None
    new_message: bool
    # False: escalated to a queue of this officer's that holds no key for it yet (metadata only).
    openable: bool = True

    def ack_state(self, now: datetime, soon: timedelta) -> str:
        """'done', 'overdue', 'due-soon' or 'open' for the acknowledgement deadline."""
        if self.acknowledged_at is not None or self.status != "received":
            return "done"
        return _deadline_state(self.ack_due_at, now, soon)

    def feedback_state(self, now: datetime, soon: timedelta) -> str:
        """'done', 'overdue', 'due-soon' or 'open' for the feedback deadline (met by closing)."""
        if self.status == "closed":
            return "done"
        return _deadline_state(self.feedback_due_at, now, soon)


def _deadline_state(due: datetime, now: datetime, soon: timedelta) -> str:
    if due < now:
        return "overdue"
    return "due-soon" if due - now <= soon else "open"


@dataclass(frozen=True)
class QueuePage:
    """One page of the queue, and the cursor of the next page (None on the last)."""

    rows: tuple[QueueRow, ...]
    next_cursor: str | None


@dataclass(frozen=True)
class _Cursor:
    """Where the next page starts: after (value, case id); for urgent-first, also within which segment
    and as of which moment "overdue" was judged, so that the pages of one listing agree."""

    value: datetime
    case_id: str
    segment: int = 0
    as_of: datetime | None = None


def _encode_cursor(
    sort: str, value: datetime, case_id: str, segment: int = 0, as_of: datetime | None = None
) -> str:
    parts: list[Any] = [sort, value.isoformat(), case_id]
    if as_of is not None:
        parts += [segment, as_of.isoformat()]
    raw = json.dumps(parts, separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).decode("ascii").rstrip("=")


def cursor_for(sort: str, value: datetime, case_id: str) -> str:
    """The cursor of the page that starts just after the case with this sort value and id."""
    return _encode_cursor(sort, value, case_id)


def _decode_cursor(cursor: str, sort: str) -> _Cursor:
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        cursor_sort, value, case_id, *rest = json.loads(raw)
        moment = datetime.fromisoformat(value)
        segment = int(rest[0]) if rest else 0
        as_of = datetime.fromisoformat(rest[1]) if len(rest) > 1 else None
    except (ValueError, TypeError, IndexError):
        raise InputError("the page cursor is not valid: start from the first page") from None
    if cursor_sort != sort or not isinstance(case_id, str) or not 0 <= segment < _SEGMENTS:
        raise InputError("the page cursor belongs to another sort order: start from the first page")
    return _Cursor(moment, case_id, segment, as_of)


def _segments(now: datetime) -> tuple[tuple[Any, Any], ...]:
    """The urgent-first order's parts, which never overlap, each with the column its index leads with:
    urgent and open; then overdue (an acknowledgement or feedback deadline passed), not yet acknowledged
    first, then under investigation, then acknowledged; then everything else. Newest first within each.

    Why parts, each on its own index (migration 0012; ix_cases_status_received): urgent and overdue
    cases are few, and ordering by an expression over the whole queue would read all of it for the
    first page. Ordering each part by a constant column first lets the index of that column serve it,
    so a page costs what the urgent or open cases cost, not what the whole queue does.
    """
    at = literal(now, Case.ack_due_at.type)
    urgent = and_(Case.priority == "urgent", col(Case.status).in_(OPEN_STATUSES))
    ack_overdue = and_(col(Case.ack_due_at) < at, col(Case.acknowledged_at).is_(None))
    feedback_overdue = col(Case.feedback_due_at) < at
    parts: list[tuple[Any, Any]] = [(urgent, Case.priority)]
    overdue_any = []
    # Why the acknowledgement apart: each part must be a plain AND that leads with the status, or the
    # engines will not use its index (SQLite then reads the whole queue through ix_cases_received_id).
    late = [and_(Case.status == "received", ack_overdue)]
    late += [
        and_(Case.status == status, feedback_overdue)
        for status in ("received", "investigating", "acknowledged")
    ]
    for here in late:
        parts.append((and_(here, ~urgent, *(~earlier for earlier in overdue_any)), Case.status))
        overdue_any.append(here)
    parts.append((~or_(urgent, *overdue_any), None))
    return tuple(parts)


async def _visible(
    vault: Vault, session: Any, statement: Any, officer_id: int, limit: int, after: Any, column_name: str
) -> tuple[list[Any], bool]:
    """Up to `limit` rows of the statement that the conflict rule lets this officer see, and whether more
    follow. Why in Python: who is conflicted out is sealed (storage.conflicts), so SQL cannot filter on it;
    a conflicted case is rare, so one batch nearly always fills the page."""
    me = await session.get(Officer, officer_id)
    if me is None or not conflict_rule.may_work(me, None):
        return [], False
    found: list[Any] = []
    batch_statement = statement
    while True:
        batch = list((await session.exec(batch_statement.limit(limit + 1))).all())
        records = await conflict_rule.recorded_many(session, vault.keys.relay, [row[0] for row in batch])
        for row in batch:
            case, _login, openable, escalated = row
            if conflict_rule.may_learn(
                me, conflicts=records[case.id], holds_key=bool(openable), escalated_member=bool(escalated)
            ):
                found.append(row)
        if len(found) > limit:
            return found[:limit], True
        if len(batch) <= limit:
            return found, False
        last = batch[-1][0]
        batch_statement = statement.where(after(getattr(last, column_name), last.id))


async def page(
    vault: Vault,
    *,
    officer_id: int,
    filters: QueueFilter | None = None,
    sort: str = DEFAULT_SORT,
    cursor: str | None = None,
    limit: int = 50,
) -> QueuePage:
    """One page of the cases this officer holds a wrapped key for, and of those escalated to a queue of
    theirs that nobody has granted them yet (marked not openable: metadata only, as the notice said);
    of these, only the ones the conflict rule lets them learn of (storage.conflicts.may_learn)."""
    filters = filters or QueueFilter()
    filters.check()
    if sort not in SORTS:
        raise InputError(f"sort must be one of {', '.join(SORTS)}")
    if not 1 <= limit <= MAX_PAGE:
        raise InputError(f"a page holds 1 to {MAX_PAGE} cases")
    column_name, descending = SORTS[sort]
    sort_column = getattr(Case, column_name)
    # Why scalar subqueries with LIMIT 1 and not EXISTS: inside an OR, PostgreSQL turns EXISTS into a
    # hashed subplan that reads every wrap of the officer on each request (cost grows with the queue);
    # a scalar subquery is probed per row through ix_case_keys_officer_case, and a page reads ~50 rows.
    holds_key = (
        select(literal(1))
        .where(CaseKey.officer_id == officer_id, CaseKey.case_id == Case.id)
        .limit(1)
        .scalar_subquery()
    )
    # Why show a case the officer cannot open: the dispatcher escalated it to their queue and told them
    # so; only someone holding the key can grant it (re-checking conflicts), and they must see it waits.
    escalated_to_them = (
        select(literal(1))
        .where(
            CaseQueue.case_id == Case.id,
            CaseQueue.via == "escalated",
            QueueMember.queue_id == CaseQueue.queue_id,
            QueueMember.officer_id == officer_id,
        )
        .limit(1)
        .scalar_subquery()
    )
    statement: Any = (
        select(Case, Officer.login, holds_key.label("openable"), escalated_to_them.label("escalated"))
        .outerjoin(CaseAssignment, col(CaseAssignment.case_id) == col(Case.id))
        .outerjoin(Officer, col(Officer.id) == col(CaseAssignment.officer_id))
        .where(
            or_(holds_key.is_not(None), escalated_to_them.is_not(None)),
            col(Case.purged_at).is_(None),
        )
    )
    if filters.status:
        statement = statement.where(Case.status == filters.status)
    if filters.priority:
        statement = statement.where(Case.priority == filters.priority)
    if filters.category:
        # Category ids are [a-z0-9-] (checked above), so the quoted id cannot hold a LIKE wildcard.
        statement = statement.where(cast(Case.categories, String).like(f'%"{filters.category}"%'))
    if filters.reference:
        statement = statement.where(col(Case.reference).startswith(filters.reference.strip().upper()))
    if filters.assigned_to_me:
        statement = statement.where(CaseAssignment.officer_id == officer_id)

    def after(value: datetime, case_id: str) -> Any:
        key = tuple_(sort_column, col(Case.id))
        # Typed binds: the stored form of a time differs by engine, and the cursor must compare as stored.
        bound = tuple_(literal(value, sort_column.type), literal(case_id, col(Case.id).type))
        return key < bound if descending else key > bound

    start = _decode_cursor(cursor, sort) if cursor else None
    order = (
        (sort_column.desc(), col(Case.id).desc()) if descending else (sort_column.asc(), col(Case.id).asc())
    )
    statement = statement.order_by(*order)
    read = _Read(vault, officer_id, after, column_name)
    as_of = (start.as_of if start and start.as_of else None) or vault.clock.now()
    async with vault.db.reading() as session:
        if sort == URGENT_FIRST:
            found, more, segment = await read.segmented(session, statement, _segments(as_of), start, limit)
        else:
            segment = 0
            if start is not None:
                statement = statement.where(after(start.value, start.case_id))
            found, more = await read.visible(session, statement, limit)
        ids = [case.id for case, _login, _openable, _escalated in found]
        queues: dict[str, list[str]] = {case_id: [] for case_id in ids}
        last_by: dict[tuple[str, str], int] = {}
        if ids:
            for case_id, queue_id in (
                await session.exec(
                    select(CaseQueue.case_id, CaseQueue.queue_id)
                    .where(col(CaseQueue.case_id).in_(ids))
                    .order_by(col(CaseQueue.queue_id))
                )
            ).all():
                queues[case_id].append(queue_id)
            # Why one grouped query: whether the reporter wrote last is per case, but never per row.
            for case_id, author, seq in (
                await session.exec(
                    select(CaseItem.case_id, CaseItem.author, func.max(CaseItem.seq))
                    .where(
                        col(CaseItem.case_id).in_(ids),
                        or_(
                            CaseItem.author == "officer",
                            and_(
                                CaseItem.author == "reporter",
                                col(CaseItem.kind).in_((REPORTER_MESSAGE, CHECKIN_ANSWER)),
                            ),
                        ),
                    )
                    .group_by(col(CaseItem.case_id), col(CaseItem.author))
                )
            ).all():
                last_by[(case_id, author)] = int(seq)
    rows = tuple(
        QueueRow(
            reference=case.reference,
            status=case.status,
            priority=case.priority,
            categories=tuple(case.categories),
            queues=tuple(queues[case.id]),
            flags=tuple(case.flags),
            received_at=case.received_at,
            ack_due_at=case.ack_due_at,
            feedback_due_at=case.feedback_due_at,
            acknowledged_at=case.acknowledged_at,
            closed_at=case.closed_at,
            assignee=login,
            new_message=last_by.get((case.id, "reporter"), 0) > last_by.get((case.id, "officer"), 0),
            openable=bool(openable),
        )
        for case, login, openable, _escalated in found
    )
    next_cursor = None
    if more and found:
        last = found[-1][0]
        next_cursor = _encode_cursor(
            sort, getattr(last, column_name), last.id, segment, as_of if sort == URGENT_FIRST else None
        )
    return QueuePage(rows=rows, next_cursor=next_cursor)


@dataclass(frozen=True)
class _Read:
    """Reads pages of a queue statement for one officer (the conflict rule applied in `_visible`)."""

    vault: Vault
    officer_id: int
    after: Any
    column_name: str

    async def visible(self, session: Any, statement: Any, limit: int) -> tuple[list[Any], bool]:
        """Up to `limit` visible rows of the statement, and whether more follow."""
        return await _visible(
            self.vault, session, statement, self.officer_id, limit, self.after, self.column_name
        )

    async def segmented(
        self,
        session: Any,
        statement: Any,
        segments: tuple[tuple[Any, Any], ...],
        start: _Cursor | None,
        limit: int,
    ) -> tuple[list[Any], bool, int]:
        """A page across the segments in order, from the cursor's; the rows, whether more follow, and the
        segment of the last row (for the next cursor)."""
        found: list[Any] = []
        first = start.segment if start else 0
        for index in range(first, len(segments)):
            part = _part(statement, *segments[index])
            if start is not None and index == first:
                part = part.where(self.after(start.value, start.case_id))
            rows, more = await self.visible(session, part, limit - len(found))
            found += rows
            if more:
                return found, True, index
            if len(found) == limit:
                for later in segments[index + 1 :]:
                    rows, _more = await self.visible(session, _part(statement, *later), 1)
                    if rows:
                        return found, True, index
                return found, False, index
        return found, False, len(segments) - 1


def _part(statement: Any, where: Any, leading: Any) -> Any:
    """One segment of the urgent-first order, ordered by its constant leading column, then newest first."""
    order = (col(Case.received_at).desc(), col(Case.id).desc())
    if leading is not None:
        order = (col(leading).desc(), *order)
    return statement.where(where).order_by(None).order_by(*order)
