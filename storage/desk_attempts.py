"""Counting desk sign-in attempts per login and client address, before each check, for back-off.

Threat: someone guessing an officer's password at the desk, or locking officers out by failing on purpose.
Why these parts:
- every attempt is counted, in a row locked for the count, *before* the password is checked, so parallel
  guesses cannot slip past the threshold;
- attempts are counted per login and per client address, under keyed tags, whether or not the login
  exists, so the back-off says nothing about which logins exist;
- back-off is per (login, client): a stranger failing from their address slows only themselves. Failures
  from clients a login never signed in from are also counted together, with a much higher threshold, to
  slow a guesser spread over many addresses; a client the officer signed in from before is exempt from
  that shared count. A stranger on the officer's own address (a shared office NAT) is the one this cannot
  tell apart: the device cookie (storage.desk_devices) is what keeps the officer in then.

Why hour-coarse `last_at`, and `blocked_until` cleared once passed: the audit chain orders sign-ins and
back-offs against the reporters' events; exact officer-side times kept for ever would bracket a
submission between two of them to the minute (issue 9, point 7). `last_at` only drives purging, for which
the hour is enough; `blocked_until` is needed exactly only until it passes.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import delete, or_, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from storage import audit
from storage.clock import coarsen
from storage.models import DeskSignInAttempt, Officer

# The row counting one login's failures from every client it has never signed in from.
ANY_CLIENT = b""
# A client's row that signed in once is kept this long after its last use, then purged.
TRUSTED_FOR = timedelta(days=90)
# `last_at` is on the hour, so a row may be up to an hour older than it says: purging waits that long more.
HOUR = timedelta(hours=1)


@dataclass(frozen=True)
class LockoutRule:
    """How many failures per login and client are checked before that pair backs off, and how long.

    After `threshold` failures the pair waits `base`, then twice as long after each further failure, up to
    `duration`. Failures of one login from clients it never signed in from are counted together too, with
    `threshold * shared_factor` allowed before those clients back off the same way. A browser holding a
    device cookie of the login (storage.desk_devices) is counted on its own instead: `device_failures`
    failures in a row revoke it; it lasts `device_lifetime` from its last sign-in.
    """

    threshold: int
    duration: timedelta
    base: timedelta = timedelta(seconds=30)
    shared_factor: int = 10
    device_failures: int = 5
    device_lifetime: timedelta = timedelta(days=30)

    def backoff(self, beyond: int) -> timedelta:
        """The wait after the `beyond`-th failure past the threshold (0 for the threshold-th)."""
        return min(self.duration, self.base * (2 ** min(beyond, 30)))


async def _locked_rows(
    session: AsyncSession, *, login_tag: bytes, client_tags: tuple[bytes, ...], now: datetime
) -> list[DeskSignInAttempt]:
    """The attempt rows of a login for these clients, created if missing, locked for this transaction.

    Why insert first: a row lock needs a row, and two first attempts at once must not both create one.
    On SQLite the writer's BEGIN IMMEDIATE already serialises; on PostgreSQL FOR UPDATE holds the rows.
    """
    table = DeskSignInAttempt.__table__  # type: ignore[attr-defined]
    connection = await session.connection()
    insert = sqlite_insert(table) if connection.dialect.name == "sqlite" else pg_insert(table)
    for client_tag in client_tags:
        await session.exec(
            insert.values(  # type: ignore[call-overload]
                login_tag=login_tag, client_tag=client_tag, failures=0, trusted=False, last_at=coarsen(now)
            ).on_conflict_do_nothing()
        )
    rows = (
        await session.exec(
            select(DeskSignInAttempt)
            .where(
                DeskSignInAttempt.login_tag == login_tag,
                col(DeskSignInAttempt.client_tag).in_(client_tags),
            )
            .with_for_update()
            .execution_options(populate_existing=True)
        )
    ).all()
    by_client = {row.client_tag: row for row in rows}
    return [by_client[tag] for tag in client_tags]


async def claim(
    session: AsyncSession,
    *,
    login_tag: bytes,
    client_tag: bytes,
    rule: LockoutRule,
    now: datetime,
    login: str,
) -> bool:
    """Count one attempt as a failure before it is checked (a success clears it); False if the login is
    backing off for this client, and then nothing is checked."""
    own, shared = await _locked_rows(
        session, login_tag=login_tag, client_tags=(client_tag, ANY_CLIENT), now=now
    )
    counted = [(own, rule.threshold)]
    if not own.trusted:
        counted.append((shared, rule.threshold * rule.shared_factor))
    if any(row.blocked_until is not None and row.blocked_until > now for row, _ in counted):
        return False
    for row, threshold in counted:
        row.failures += 1
        row.last_at = coarsen(now)
        row.blocked_until = None
        if row.failures >= threshold:
            row.blocked_until = now + rule.backoff(row.failures - threshold)
            if row.failures == threshold:
                await _audit_backoff(session, login=login, now=now, shared=row is shared)
        session.add(row)
    return True


async def _audit_backoff(session: AsyncSession, *, login: str, now: datetime, shared: bool) -> None:
    # Only a login that exists is named: an unknown "login" may be a password typed into the wrong field.
    if (await session.exec(select(Officer.id).where(Officer.login == login))).first() is None:
        return
    await audit.append(
        session,
        at=coarsen(now),
        actor="desk",
        action="desk.backing-off",
        detail={"login": login, "from": "new clients" if shared else "one client"},
    )


async def succeeded(session: AsyncSession, *, login_tag: bytes, client_tag: bytes, now: datetime) -> None:
    """A sign-in from this client succeeded: clear its count and the shared one, and trust the client."""
    own, shared = await _locked_rows(
        session, login_tag=login_tag, client_tags=(client_tag, ANY_CLIENT), now=now
    )
    own.failures, own.blocked_until, own.trusted, own.last_at = 0, None, True, coarsen(now)
    shared.failures, shared.blocked_until = 0, None
    session.add(own)
    session.add(shared)


async def forget_login(session: AsyncSession, *, login_tag: bytes) -> None:
    """Drop every count of a login (its password was just set)."""
    await session.exec(
        delete(DeskSignInAttempt).where(col(DeskSignInAttempt.login_tag) == login_tag)  # type: ignore[call-overload]
    )


async def clear_passed_blocks(session: AsyncSession, *, now: datetime) -> int:
    """Forget back-off ends that have passed (they would date the failure that set them); how many."""
    result = await session.exec(
        update(DeskSignInAttempt)  # type: ignore[call-overload]
        .where(col(DeskSignInAttempt.blocked_until) <= now)
        .values(blocked_until=None)
    )
    return int(result.rowcount or 0)


async def purge(session: AsyncSession, *, rule: LockoutRule, now: datetime) -> int:
    """Forget attempt rows that no longer slow anyone (and trusted clients unused for long); how many."""
    stale = now - max(rule.duration, HOUR) - HOUR
    result = await session.exec(
        delete(DeskSignInAttempt).where(  # type: ignore[call-overload]
            or_(
                col(DeskSignInAttempt.trusted).is_(False) & (col(DeskSignInAttempt.last_at) < stale),
                col(DeskSignInAttempt.last_at) < now - TRUSTED_FOR - HOUR,
            ),
            or_(
                col(DeskSignInAttempt.blocked_until).is_(None),
                col(DeskSignInAttempt.blocked_until) < now,
            ),
        )
    )
    return int(result.rowcount or 0)
