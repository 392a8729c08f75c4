"""Device cookies for desk sign-in (OWASP's "slow down online guessing with device cookies").

Threat: a stranger on the officer's own client address (a shared office NAT, or a proxy the desk is not
told about) failing on purpose every time the back-off ends would keep the officer out of her usual desk
for ever, right password and all: the per-address count cannot tell the two apart. Why a device cookie:
a browser the officer signed in from holds a random token; an attempt that presents a valid token for
the login it names is counted against that device alone (its own small budget), not against the
address or the login, so strangers cannot lock it out. Why that is not a bypass: the token only moves
where the attempt is counted; the password (and second factor) are checked as ever, and a token that
fails `device_failures` times in a row is revoked, so a stolen one buys a thief a handful of guesses
and then falls back to the ordinary counts.

What is stored: the token's keyed hash (lookup key), the officer, the session epoch it was issued in and
an hour-coarse expiry; never the token. A password reset, a second-factor reset or ended sessions bump
the epoch and delete the officer's devices; a deactivated officer's devices stop counting at once and
are deleted at the desk's next sweep. Each successful sign-in replaces the device's token.
"""

from __future__ import annotations

import secrets
from datetime import datetime, timedelta

from sqlalchemy import delete, or_
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from storage import audit, crypto
from storage.clock import coarsen
from storage.desk_attempts import LockoutRule
from storage.models import DeskAccount, DeskDevice, Officer
from storage.vault import Vault

TOKEN_BYTES = 32
# Enough for every browser an officer uses; the oldest go first beyond this.
MAX_PER_OFFICER = 20
HOUR = timedelta(hours=1)


def tag(vault: Vault, token: str) -> bytes:
    """The keyed hash a device token is stored and found under."""
    return crypto.keyed_hash(vault.keys.lookup_key, f"desk-device:{token}".encode())


async def _valid(
    session: AsyncSession, *, digest: bytes, login: str, now: datetime, lock: bool
) -> DeskDevice | None:
    """The device row for this token if it belongs to `login`, an active officer, in their current epoch,
    and has not expired; else None."""
    statement = select(DeskDevice).where(DeskDevice.digest == digest)
    if lock:
        statement = statement.with_for_update().execution_options(populate_existing=True)
    device = (await session.exec(statement)).first()
    if device is None or device.expires_at <= now:
        return None
    owner = (
        await session.exec(
            select(Officer.active, DeskAccount.session_epoch)
            .join(DeskAccount, col(DeskAccount.officer_id) == col(Officer.id))
            .where(Officer.login == login, Officer.id == device.officer_id)
        )
    ).first()
    if owner is None or not owner[0] or owner[1] != device.epoch:
        return None
    return device


async def holds(vault: Vault, *, token: str | None, login: str) -> bool:
    """Whether `token` is a valid device of `login` now (for the per-minute throttle's choice of bucket)."""
    if not token:
        return False
    async with vault.db.reading() as session:
        found = await _valid(
            session, digest=tag(vault, token), login=login, now=vault.clock.now(), lock=False
        )
    return found is not None


async def claim(
    session: AsyncSession, *, digest: bytes, login: str, rule: LockoutRule, now: datetime
) -> bool:
    """Count one attempt against the device before it is checked (a success clears it); False if the
    token is no valid device of `login`, and then the ordinary counts apply.

    The attempt that spends the device's budget is still checked, and the device is revoked with it: the
    next attempt with that token is counted like one without.
    """
    device = await _valid(session, digest=digest, login=login, now=now, lock=True)
    if device is None:
        return False
    device.failures += 1
    if device.failures >= rule.device_failures:
        await session.delete(device)
        await audit.append(
            session, at=coarsen(now), actor="desk", action="desk.device-revoked", detail={"login": login}
        )
    else:
        session.add(device)
    return True


async def issue(
    session: AsyncSession,
    vault: Vault,
    *,
    officer_id: int,
    epoch: int,
    rule: LockoutRule,
    now: datetime,
    replacing: bytes | None,
) -> str:
    """A new device token for a signed-in officer (replacing the one the browser presented); returns it."""
    if replacing is not None:
        await session.exec(delete(DeskDevice).where(col(DeskDevice.digest) == replacing))  # type: ignore[call-overload]
    kept = (
        await session.exec(
            select(DeskDevice.digest)
            .where(DeskDevice.officer_id == officer_id)
            .order_by(col(DeskDevice.expires_at).desc())
        )
    ).all()
    if len(kept) >= MAX_PER_OFFICER:
        oldest = list(kept[MAX_PER_OFFICER - 1 :])
        await session.exec(delete(DeskDevice).where(col(DeskDevice.digest).in_(oldest)))  # type: ignore[call-overload]
    token = secrets.token_urlsafe(TOKEN_BYTES)
    # Why on the hour: the expiry is the sign-in time plus a constant, and would date it otherwise.
    session.add(
        DeskDevice(
            digest=tag(vault, token),
            officer_id=officer_id,
            epoch=epoch,
            failures=0,
            expires_at=coarsen(now + rule.device_lifetime),
        )
    )
    return token


async def revoke_officer(session: AsyncSession, *, officer_id: int) -> None:
    """Delete every device of an officer (a reset, ended sessions)."""
    await session.exec(delete(DeskDevice).where(col(DeskDevice.officer_id) == officer_id))  # type: ignore[call-overload]


async def purge(session: AsyncSession, *, now: datetime) -> int:
    """Delete devices that can no longer count: expired, of an earlier epoch, or of a deactivated officer."""
    live = (
        select(DeskDevice.digest)
        .join(Officer, col(Officer.id) == col(DeskDevice.officer_id))
        .join(DeskAccount, col(DeskAccount.officer_id) == col(DeskDevice.officer_id))
        .where(col(Officer.active).is_(True), col(DeskAccount.session_epoch) == col(DeskDevice.epoch))
    )
    result = await session.exec(
        delete(DeskDevice).where(  # type: ignore[call-overload]
            or_(col(DeskDevice.expires_at) <= now, col(DeskDevice.digest).not_in(live))
        )
    )
    return int(result.rowcount or 0)
