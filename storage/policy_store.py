"""Published routing policy versions: immutable, with author and time; publishing syncs units and queues."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import datetime
from functools import lru_cache

from sqlalchemy import func
from sqlmodel import Session, col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from policies.engine import ReportFacts
from policies.loader import load_policy
from policies.schema import PolicyDocument
from policies.simulator import PastCase, SimulationResult, simulate
from policies.validator import ValidationReport, ensure_valid, validate
from storage import audit
from storage.clock import coarsen
from storage.db import Pending, Query, query_sync
from storage.errors import NotFoundError, NotInitialisedError
from storage.models import Case, CaseQueue, Officer, PolicyVersion, Queue, QueueMember, Unit
from storage.vault import Vault


@dataclass(frozen=True)
class PublishedPolicy:
    """One published version, parsed."""

    version: int
    document: PolicyDocument
    text: str
    sha256: str
    author: str
    published_at: datetime
    note: str
    source_version: int | None


@lru_cache(maxsize=16)
def _parse(text: str) -> PolicyDocument:
    # Why cache: every submission routes on the active version; parsing YAML each time is wasted work.
    return load_policy(text)


def _published(row: PolicyVersion) -> PublishedPolicy:
    return PublishedPolicy(
        version=row.version,
        document=_parse(row.document),
        text=row.document,
        sha256=row.sha256,
        author=row.author,
        published_at=row.published_at,
        note=row.note,
        source_version=row.source_version,
    )


# Why a process-wide cache is safe here: a published version never changes (its hash is part of the key),
# and every submission needs the active one; fetching and parsing its text each time was measurable.
_PUBLISHED: dict[tuple[int, str], PublishedPolicy] = {}


async def active(session: AsyncSession) -> PublishedPolicy:
    """The newest published version (a rollback publishes an old text as a new version)."""
    return await session.run_sync(active_sync)


_HEAD = Query(
    postgresql="SELECT version, sha256 FROM policy_versions ORDER BY version DESC LIMIT 1",
    sqlite="SELECT version, sha256 FROM policy_versions ORDER BY version DESC LIMIT 1",
)


def newest_seen() -> PublishedPolicy | None:
    """The newest published policy this process has read (a hint: `active_from` says which is active)."""
    return _PUBLISHED[max(_PUBLISHED)] if _PUBLISHED else None


def active_sync(session: Session) -> PublishedPolicy:
    """The same, in a synchronous unit of work."""
    return active_from(session, send_head(session))


def send_head(session: Session) -> Pending:
    """Ask which version is active (in a pipeline, if one is open); `active_from` reads the answer."""
    return query_sync(session, _HEAD)


def active_from(session: Session, head: Pending) -> PublishedPolicy:
    """The published policy that `head` names, from the cache or the database."""
    row = head.first()
    if row is None:
        raise NotInitialisedError("no routing policy has been published: run `candour init`")
    key = (int(row[0]), str(row[1]))
    cached = _PUBLISHED.get(key)
    if cached is None:
        stored = session.get(PolicyVersion, key[0])
        assert stored is not None
        cached = _published(stored)
        if len(_PUBLISHED) > 32:
            _PUBLISHED.clear()
        _PUBLISHED[key] = cached
    return cached


async def get_version(session: AsyncSession, *, version: int) -> PublishedPolicy:
    """One published version, or NotFoundError."""
    row = await session.get(PolicyVersion, version)
    if row is None:
        raise NotFoundError(f"no policy version {version}")
    return _published(row)


async def history(vault: Vault) -> list[PublishedPolicy]:
    """Every published version, newest first."""
    async with vault.db.transaction() as session:
        rows = (await session.exec(select(PolicyVersion).order_by(col(PolicyVersion.version).desc()))).all()
        return [_published(row) for row in rows]


async def sync_directory(session: AsyncSession, document: PolicyDocument) -> None:
    """Create or update the units and queues the document names; none is deleted (old cases refer to them)."""
    for unit in document.units:
        row = await session.get(Unit, unit.id)
        if row is None:
            session.add(Unit(id=unit.id, name=unit.name))
        else:
            row.name = unit.name
    await session.flush()
    for queue in document.queues:
        row = await session.get(Queue, queue.id)
        if row is None:
            session.add(
                Queue(id=queue.id, name=queue.name, unit_id=queue.unit, escalates_to=queue.escalates_to)
            )
        else:
            row.name, row.unit_id, row.escalates_to = queue.name, queue.unit, queue.escalates_to
    await session.flush()


async def member_counts(session: AsyncSession) -> dict[str, int]:
    """Active members (officers with a key) per queue."""
    rows = (
        await session.exec(
            select(QueueMember.queue_id, func.count())
            .join(Officer, col(Officer.id) == col(QueueMember.officer_id))
            .where(col(Officer.active).is_(True))
            .group_by(col(QueueMember.queue_id))
        )
    ).all()
    return {queue_id: count for queue_id, count in rows}


async def check(vault: Vault, *, text: str) -> ValidationReport:
    """Validate a candidate against the live directory (member counts), changing nothing."""
    document = load_policy(text)
    async with vault.db.transaction() as session:
        counts = await member_counts(session)
    return validate(document, member_counts=counts)


async def publish(
    vault: Vault, *, text: str, author: str, note: str = "", source_version: int | None = None
) -> PublishedPolicy:
    """Validate and publish a new version in one transaction; an invalid document changes nothing."""
    document = load_policy(text)
    now = coarsen(vault.clock.now())
    async with vault.db.transaction() as session:
        await sync_directory(session, document)
        ensure_valid(document, member_counts=await member_counts(session))
        latest = (await session.exec(select(func.max(PolicyVersion.version)))).one()
        version = (latest or 0) + 1
        digest = hashlib.sha256(text.encode("utf-8")).hexdigest()
        row = PolicyVersion(
            version=version,
            sha256=digest,
            document=text,
            author=author,
            published_at=now,
            note=note,
            source_version=source_version,
        )
        session.add(row)
        await audit.append(
            session,
            at=now,
            actor=author,
            action="policy.published",
            detail={"version": version, "sha256": digest, "source_version": source_version},
        )
        return _published(row)


async def rollback(vault: Vault, *, version: int, author: str) -> PublishedPolicy:
    """Publish the text of an earlier version as the newest version."""
    async with vault.db.transaction() as session:
        old = await get_version(session, version=version)
    return await publish(
        vault, text=old.text, author=author, note=f"rollback to version {version}", source_version=version
    )


async def simulate_candidate(vault: Vault, *, text: str) -> SimulationResult:
    """How each existing case's routing would change under a candidate document, from clear metadata only."""
    candidate = load_policy(text)
    async with vault.db.transaction() as session:
        cases = (await session.exec(select(Case).where(col(Case.purged_at).is_(None)))).all()
        queue_rows = (await session.exec(select(CaseQueue).where(CaseQueue.via == "routed"))).all()
    routed: dict[str, list[str]] = {}
    for row in queue_rows:
        routed.setdefault(row.case_id, []).append(row.queue_id)
    past = [
        PastCase(
            reference=case.reference,
            facts=facts_from_json(case.routing_facts),
            queues=tuple(sorted(routed.get(case.id, []))),
            priority=case.priority,
        )
        for case in cases
    ]
    return simulate(candidate, past)


def facts_to_json(facts: ReportFacts) -> dict[str, object]:
    """Routing facts as stored in the clear `routing_facts` column."""
    return {
        "categories": sorted(facts.categories),
        "subject_units": sorted(facts.subject_units),
        "subject_roles": sorted(facts.subject_roles),
        "ongoing": facts.ongoing,
        "risk_of_harm": facts.risk_of_harm,
        "reported_before": facts.reported_before,
    }


def facts_from_json(data: dict[str, object]) -> ReportFacts:
    """The inverse of facts_to_json."""

    def _set(key: str) -> frozenset[str]:
        value = data.get(key) or []
        return frozenset(str(v) for v in value) if isinstance(value, list) else frozenset()

    def _bool(key: str) -> bool | None:
        value = data.get(key)
        return value if isinstance(value, bool) else None

    return ReportFacts(
        categories=_set("categories"),
        subject_units=_set("subject_units"),
        subject_roles=_set("subject_roles"),
        ongoing=_bool("ongoing"),
        risk_of_harm=_bool("risk_of_harm"),
        reported_before=_bool("reported_before"),
    )
