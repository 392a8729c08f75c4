"""Desk sign-in for officers: password verifiers, TOTP enrolment and checking, guessing back-off, and the
session epoch that ends live desk sessions.

Threat: someone guessing an officer's password at the desk, or finding out which logins exist, or locking
officers out by failing on purpose. Why these parts:
- the verifier is Argon2id (a stolen table is slow to attack); the second factor is a TOTP secret sealed
  under the relay keyring (the server must read it to check a code); a code is never accepted twice;
- every attempt is counted, in a row locked for the count, *before* the password is checked, so parallel
  guesses cannot slip past the threshold: against the browser's device cookie when it presents a valid
  one for the login (storage.desk_devices), else per login and client address (storage.desk_attempts);
- a login that exists, one that does not, and one backing off get one answer in about one Argon2id run
  (an unknown login is checked against a dummy verifier);
- back-off is per (login, client), and a browser the officer signed in from is counted on its own, so
  neither a stranger elsewhere nor one behind the officer's own address can lock her out;
- exact times that only a live window needs (back-off ends, the last TOTP step) are forgotten once it has
  passed (`forget_passed`); every other stored time is on the hour;
- the first second-factor enrolment needs a one-time code handed over out of band, so learning an initial
  password is not enough to bind one's own authenticator;
- a desk password equal to the officer's key passphrase is refused (one secret would open both doors);
- password reset, second-factor reset and deactivation end live sessions at once (the session epoch),
  and revoke the officer's device cookies.
"""

from __future__ import annotations

import asyncio
import base64
import hmac
import secrets
from collections.abc import Collection
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import lru_cache

from sqlalchemy import update
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from storage import audit, crypto, desk_attempts, desk_devices
from storage.clock import coarsen
from storage.desk_attempts import LockoutRule as LockoutRule  # re-exported: the desk names it here
from storage.errors import InputError, InvalidPassphraseError, NotFoundError, VaultError
from storage.keyring import RelayKeyring
from storage.models import DeskAccount, Officer
from storage.officers import get_by_login
from storage.vault import Vault

TOTP_PURPOSE = "totp"
TOTP_ISSUER = "Candour desk"
MIN_PASSWORD_CHARS = 12
MAX_PASSWORD_CHARS = 1024
REFUSED = "wrong login, password or code, or too many attempts: wait a few minutes and try again"
# How many time steps either way a TOTP code is accepted (crypto.totp_match); a step older than this
# cannot be replayed, so the last step used is forgotten then.
TOTP_WINDOW = 1
ENROLMENT_CODE_BYTES = 15  # 120 bits: hopeless to guess, typed once
ENROLMENT_LIFETIME = timedelta(hours=72)
HOUR = timedelta(hours=1)
MICROSECOND = timedelta(microseconds=1)


class SignInRefusedError(VaultError):
    """Wrong login, password or code, or backing off (deliberately not saying which)."""


@dataclass(frozen=True)
class SignedIn:
    """Who signed in, whether they still have to enrol a second factor, their session epoch, and the new
    device token for the browser's device cookie."""

    officer_id: int
    login: str
    display_name: str
    roles: tuple[str, ...]
    totp_enrolled: bool
    epoch: int = 0
    device: str = ""


def check_password(password: str) -> None:
    """Refuse desk passwords too short to resist guessing, or absurdly long (Argon2 input is hashed whole)."""
    if len(password) < MIN_PASSWORD_CHARS:
        raise InputError(f"a desk password needs at least {MIN_PASSWORD_CHARS} characters")
    if len(password) > MAX_PASSWORD_CHARS:
        raise InputError(f"a desk password has at most {MAX_PASSWORD_CHARS} characters")


def _totp_context(officer_id: int) -> str:
    return f"officer:{officer_id}"


def _tag(vault: Vault, kind: str, value: str) -> bytes:
    return crypto.keyed_hash(vault.keys.lookup_key, f"desk-{kind}:{value}".encode())


def _enrolment_digest(vault: Vault, officer_id: int, code: str) -> bytes:
    normalised = "".join(ch for ch in code.upper() if ch.isalnum())
    return _tag(vault, "enrolment", f"{officer_id}:{normalised}")


def _new_enrolment_code() -> str:
    raw = base64.b32encode(secrets.token_bytes(ENROLMENT_CODE_BYTES)).decode("ascii").rstrip("=")
    return "-".join(raw[i : i + 4] for i in range(0, len(raw), 4))


def _issue_enrolment(vault: Vault, account: DeskAccount, lifetime: timedelta) -> str:
    code = _new_enrolment_code()
    account.enrolment_digest = _enrolment_digest(vault, account.officer_id, code)
    # Why rounded up to the hour: the expiry is the reset's time plus a constant, and would date it.
    account.enrolment_expires_at = coarsen(vault.clock.now() + lifetime + HOUR - MICROSECOND)
    return code


async def set_password(
    vault: Vault,
    *,
    login: str,
    password: str,
    actor: str = "operator",
    enrolment_lifetime: timedelta = ENROLMENT_LIFETIME,
) -> str | None:
    """Give an officer a desk password (replacing any), end their live sessions, clear their back-off.

    Returns a new one-time enrolment code if they have no second factor yet (to hand over out of band),
    else None. Refuses a password that opens the officer's key: the two must differ.
    """
    check_password(password)
    async with vault.db.reading() as session:
        officer = await get_by_login(session, login=login)
    await _refuse_passphrase(officer, password)
    verifier = await asyncio.to_thread(crypto.hash_password, password, params=vault.kdf)
    now = coarsen(vault.clock.now())
    async with vault.db.transaction() as session:
        officer = await get_by_login(session, login=login)
        assert officer.id is not None
        account = await _account(session, officer.id, for_update=True)
        account.password_hash, account.password_set_at = verifier, now
        account.session_epoch += 1
        code = (
            None if account.totp_sealed is not None else _issue_enrolment(vault, account, enrolment_lifetime)
        )
        session.add(account)
        await desk_attempts.forget_login(session, login_tag=_tag(vault, "login", login))
        await desk_devices.revoke_officer(session, officer_id=officer.id)
        await audit.append(session, at=now, actor=actor, action="desk.password-set", detail={"login": login})
    return code


async def _refuse_passphrase(officer: Officer, password: str) -> None:
    """Refuse a desk password that is the officer's key passphrase.

    Why by trying it on the sealed key: every path that sets a desk password knows the candidate, but not
    every path knows the passphrase (an operator resetting a password does not); the sealed key does.
    """
    try:
        await asyncio.to_thread(
            crypto.open_with_passphrase,
            officer.sealed_private_key,
            passphrase=password,
            context=officer.login,
        )
    except InvalidPassphraseError:
        return
    raise InputError("the desk password must not be the officer's key passphrase: choose another")


async def reset_totp(
    vault: Vault, *, login: str, actor: str = "operator", enrolment_lifetime: timedelta = ENROLMENT_LIFETIME
) -> str:
    """Remove an officer's second factor and end their live sessions; returns the one-time enrolment code
    they need to enrol again (hand it over out of band)."""
    now = coarsen(vault.clock.now())
    async with vault.db.transaction() as session:
        officer = await get_by_login(session, login=login)
        assert officer.id is not None
        account = await _account(session, officer.id, for_update=True)
        had = account.totp_sealed is not None
        account.totp_key_id = account.totp_sealed = account.totp_last_step = None
        account.session_epoch += 1
        code = _issue_enrolment(vault, account, enrolment_lifetime)
        session.add(account)
        await desk_devices.revoke_officer(session, officer_id=officer.id)
        await audit.append(
            session, at=now, actor=actor, action="desk.totp-reset", detail={"login": login, "had": had}
        )
        return code


async def end_sessions(vault: Vault, *, officer_id: int, actor: str = "operator") -> None:
    """End every live desk session of an officer at its next request (deactivation, a lost laptop)."""
    async with vault.db.transaction() as session:
        account = await _account(session, officer_id, for_update=True)
        account.session_epoch += 1
        session.add(account)
        await desk_devices.revoke_officer(session, officer_id=officer_id)
        await audit.append(
            session,
            at=coarsen(vault.clock.now()),
            actor=actor,
            action="desk.sessions-ended",
            detail={"officer": officer_id},
        )


async def current_epoch(vault: Vault, *, officer_id: int) -> int | None:
    """The officer's session epoch, or None if they are deactivated or gone (their sessions must end)."""
    async with vault.db.reading() as session:
        row = (
            await session.exec(
                select(Officer.active, DeskAccount.session_epoch)
                .join(DeskAccount, col(DeskAccount.officer_id) == col(Officer.id), isouter=True)
                .where(Officer.id == officer_id)
            )
        ).first()
    if row is None or not row[0]:
        return None
    return int(row[1] or 0)


async def current_epochs(vault: Vault, *, officer_ids: Collection[int]) -> dict[int, int]:
    """The session epochs of those of `officer_ids` still active, in one query (a deactivated or gone
    officer is absent: their sessions must end)."""
    if not officer_ids:
        return {}
    async with vault.db.reading() as session:
        rows = (
            await session.exec(
                select(Officer.id, DeskAccount.session_epoch)
                .join(DeskAccount, col(DeskAccount.officer_id) == col(Officer.id), isouter=True)
                .where(col(Officer.id).in_(list(officer_ids)), col(Officer.active).is_(True))
            )
        ).all()
    return {int(officer_id): int(epoch or 0) for officer_id, epoch in rows if officer_id is not None}


async def _account(session: AsyncSession, officer_id: int, *, for_update: bool = False) -> DeskAccount:
    statement = select(DeskAccount).where(DeskAccount.officer_id == officer_id)
    if for_update:
        statement = statement.with_for_update()
    account = (await session.exec(statement)).first()
    return account or DeskAccount(officer_id=officer_id)


@lru_cache(maxsize=8)
def _dummy_verifier(params: crypto.KdfParams) -> str:
    # Why a real verifier of a random password: an unknown login then costs exactly what a known one does.
    return crypto.hash_password(secrets.token_urlsafe(24), params=params)


async def prepare(vault: Vault) -> None:
    """Make the dummy verifier now, so the first unknown login does not take two Argon2id runs."""
    await asyncio.to_thread(_dummy_verifier, vault.kdf)


async def sign_in(
    vault: Vault,
    *,
    login: str,
    password: str,
    code: str | None,
    rule: LockoutRule,
    client: str = "local",
    device: str | None = None,
) -> SignedIn:
    """Check a login, password and (once enrolled) TOTP code from `client` (its address as the desk sees
    it), presenting the browser's `device` token if it has one; every refusal is one SignInRefusedError,
    whatever the reason. A success returns a new device token for the browser (the old one is used up).

    An officer with no second factor enrolled signs in with the password alone; the desk then lets them
    do nothing but enrol, when its settings require a second factor.
    """
    now = vault.clock.now()
    tags = _Tags(
        login=_tag(vault, "login", login),
        client=_tag(vault, "client", client),
        device=desk_devices.tag(vault, device) if device else None,
    )
    admitted, via_device = await _claim(vault, tags=tags, rule=rule, now=now, login=login)
    async with vault.db.reading() as session:
        officer = (await session.exec(select(Officer).where(Officer.login == login))).first()
        account = None
        if officer is not None and officer.id is not None:
            account = (
                await session.exec(select(DeskAccount).where(DeskAccount.officer_id == officer.id))
            ).first()
    known = (
        officer is not None and officer.active and account is not None and account.password_hash is not None
    )
    if not admitted or not known:
        await asyncio.to_thread(crypto.verify_password, password, _dummy_verifier(vault.kdf))
        raise SignInRefusedError(REFUSED)
    assert officer is not None and officer.id is not None and account is not None
    assert account.password_hash is not None
    good = await asyncio.to_thread(crypto.verify_password, password, account.password_hash)
    step = None
    if good and account.totp_sealed is not None:
        secret = _open_totp(vault.keys.relay, account)
        step = crypto.totp_match(secret, code or "", at=now.timestamp(), window=TOTP_WINDOW)
        # A code already used (or an earlier one) is refused: it may have been seen being typed.
        good = step is not None and (account.totp_last_step is None or step > account.totp_last_step)
    if not good:
        raise SignInRefusedError(REFUSED)
    epoch, token = await _succeed(
        vault,
        officer=officer,
        account=account,
        step=step,
        tags=tags,
        via_device=via_device,
        rule=rule,
        now=now,
    )
    return SignedIn(
        officer_id=officer.id,
        login=officer.login,
        display_name=officer.display_name,
        roles=tuple(officer.roles),
        totp_enrolled=account.totp_sealed is not None,
        epoch=epoch,
        device=token,
    )


@dataclass(frozen=True)
class _Tags:
    """The keyed tags one attempt is counted under: its login, its client address, its device token."""

    login: bytes
    client: bytes
    device: bytes | None


async def _claim(
    vault: Vault, *, tags: _Tags, rule: LockoutRule, now: datetime, login: str
) -> tuple[bool, bool]:
    """Count the attempt before it is checked, against the device if it presents a valid one for the
    login, else against the login and client; (whether it may be checked, whether it was the device's)."""
    async with vault.db.transaction() as session:
        if tags.device is not None and await desk_devices.claim(
            session, digest=tags.device, login=login, rule=rule, now=now
        ):
            return True, True
        admitted = await desk_attempts.claim(
            session, login_tag=tags.login, client_tag=tags.client, rule=rule, now=now, login=login
        )
        return admitted, False


async def _succeed(
    vault: Vault,
    *,
    officer: Officer,
    account: DeskAccount,
    step: int | None,
    tags: _Tags,
    via_device: bool,
    rule: LockoutRule,
    now: datetime,
) -> tuple[int, str]:
    """Record a checked sign-in: the TOTP step, the counts cleared, a new device token; (epoch, token).

    Why a device sign-in leaves the address's counts alone: a stranger behind the same address must not
    have their back-off lifted each time the officer signs in.
    """
    assert officer.id is not None
    async with vault.db.transaction() as session:
        fresh = await _account(session, officer.id, for_update=True)
        if fresh.password_hash != account.password_hash or fresh.totp_sealed != account.totp_sealed:
            # Reset while we checked: the session would begin in the new epoch on the old credentials.
            raise SignInRefusedError(REFUSED)
        if step is not None and fresh.totp_last_step is not None and step <= fresh.totp_last_step:
            raise SignInRefusedError(REFUSED)
        await _clear_replay_steps(session, now=now)
        if step is not None:
            fresh.totp_last_step = step
            session.add(fresh)
        if not via_device:
            await desk_attempts.succeeded(session, login_tag=tags.login, client_tag=tags.client, now=now)
        token = await desk_devices.issue(
            session,
            vault,
            officer_id=officer.id,
            epoch=fresh.session_epoch,
            rule=rule,
            now=now,
            replacing=tags.device,
        )
        await audit.append(
            session, at=coarsen(now), actor=f"officer:{officer.login}", action="desk.signed-in"
        )
    return fresh.session_epoch, token


async def forget_passed(vault: Vault) -> int:
    """Forget what only a live window needs, once it has passed: back-off ends, TOTP replay steps, devices
    that can no longer count; how many rows changed. Run on the desk's sweep timer.

    Threat: each of these is an exact officer-side time (or dates one), and the audit chain orders the
    sign-in that wrote it against the reporters' events: kept, two of them bracket a submission.
    """
    now = vault.clock.now()
    async with vault.db.transaction() as session:
        changed = await desk_attempts.clear_passed_blocks(session, now=now)
        changed += await _clear_replay_steps(session, now=now)
        changed += await desk_devices.purge(session, now=now)
    return changed


async def _clear_replay_steps(session: AsyncSession, *, now: datetime) -> int:
    """Forget every TOTP step no code accepted now could replay (older than the match window)."""
    oldest_acceptable = int(now.timestamp()) // crypto.TOTP_STEP_SECONDS - TOTP_WINDOW
    result = await session.exec(
        update(DeskAccount)  # type: ignore[call-overload]
        .where(col(DeskAccount.totp_last_step) < oldest_acceptable)
        .values(totp_last_step=None)
    )
    return int(result.rowcount or 0)


async def purge_attempts(vault: Vault, *, rule: LockoutRule) -> int:
    """Forget attempt rows that no longer slow anyone (and trusted clients unused for long); how many."""
    async with vault.db.transaction() as session:
        return await desk_attempts.purge(session, rule=rule, now=vault.clock.now())


def _open_totp(keyring: RelayKeyring, account: DeskAccount) -> bytes:
    assert account.totp_key_id is not None and account.totp_sealed is not None
    return keyring.open(
        account.totp_key_id,
        account.totp_sealed,
        purpose=TOTP_PURPOSE,
        context=_totp_context(account.officer_id),
    )


def new_totp_secret() -> bytes:
    """A fresh TOTP secret, kept by the caller (in the session's memory) until it is confirmed."""
    return crypto.new_totp_secret()


def totp_uri(secret: bytes, *, login: str) -> str:
    """The otpauth:// URI for an authenticator app (shown as a QR code at enrolment)."""
    return crypto.totp_uri(secret, account=login, issuer=TOTP_ISSUER)


async def enrol_totp(vault: Vault, *, officer_id: int, secret: bytes, code: str, enrolment_code: str) -> None:
    """Store a TOTP secret once the officer proves their app has it by typing a current code, and shows
    the one-time enrolment code an operator handed them (used up by this)."""
    now = vault.clock.now()
    step = crypto.totp_match(secret, code, at=now.timestamp())
    if step is None:
        raise InputError("that code does not match: check the time on your phone and type the current code")
    async with vault.db.transaction() as session:
        officer = await session.get(Officer, officer_id)
        if officer is None:
            raise NotFoundError("no such officer")
        account = await _account(session, officer_id, for_update=True)
        if account.totp_sealed is not None:
            raise InputError("a second factor is already enrolled; an operator can reset it")
        given = _enrolment_digest(vault, officer_id, enrolment_code)
        if (
            not enrolment_code.strip()
            or account.enrolment_digest is None
            or account.enrolment_expires_at is None
            or account.enrolment_expires_at <= now
            or not hmac.compare_digest(given, account.enrolment_digest)
        ):
            raise InputError(
                "that enrolment code is wrong, used or expired: ask an operator for a new one "
                "(`candour officer set-password --reset-totp`)"
            )
        account.totp_key_id, account.totp_sealed = vault.keys.relay.seal(
            secret, purpose=TOTP_PURPOSE, context=_totp_context(officer_id)
        )
        account.totp_last_step = step
        account.enrolment_digest = account.enrolment_expires_at = None
        session.add(account)
        await audit.append(
            session, at=coarsen(now), actor=f"officer:{officer.login}", action="desk.totp-enrolled"
        )


async def reseal_totp(session: AsyncSession, *, keyring: RelayKeyring) -> int:
    """Re-seal every TOTP secret not under the keyring's active key (relay rotation); how many."""
    count = 0
    accounts = await session.exec(
        select(DeskAccount).where(
            col(DeskAccount.totp_sealed).is_not(None), DeskAccount.totp_key_id != keyring.active_id
        )
    )
    for account in accounts.all():
        secret = _open_totp(keyring, account)
        account.totp_key_id, account.totp_sealed = keyring.seal(
            secret, purpose=TOTP_PURPOSE, context=_totp_context(account.officer_id)
        )
        session.add(account)
        count += 1
    return count
