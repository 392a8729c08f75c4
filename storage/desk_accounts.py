"""Desk sign-in for officers: password verifiers, TOTP enrolment and checking, failed-login lockout.

Threat: someone guessing an officer's password at the desk. Why these parts: the verifier is Argon2id
(a stolen table is slow to attack); the second factor is a TOTP secret sealed under the relay keyring
(the server must read it to check a code); a code is never accepted twice; after a run of failures the
account locks for a while, and the lock is audited. A wrong login, a wrong password and a wrong code
get one answer, in about one Argon2id run, so the answer does not say which logins exist.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from storage import audit, crypto
from storage.clock import coarsen
from storage.errors import InputError, NotFoundError, VaultError
from storage.keyring import RelayKeyring
from storage.models import DeskAccount, Officer
from storage.officers import get_by_login
from storage.vault import Vault

TOTP_PURPOSE = "totp"
TOTP_ISSUER = "Candour desk"
MIN_PASSWORD_CHARS = 12
MAX_PASSWORD_CHARS = 1024
# Why a fixed verifier: an unknown login still costs one Argon2id run, like a known one.
_DUMMY_SALT = bytes(16)


class SignInRefusedError(VaultError):
    """Wrong login, password or code (deliberately not saying which)."""


class LockedOutError(VaultError):
    """Too many failed sign-ins: the account is locked for a while."""


@dataclass(frozen=True)
class SignedIn:
    """Who signed in, and whether they still have to enrol a second factor."""

    officer_id: int
    login: str
    display_name: str
    roles: tuple[str, ...]
    totp_enrolled: bool


@dataclass(frozen=True)
class LockoutRule:
    """How many failures lock an account, and for how long."""

    threshold: int
    duration: timedelta


def check_password(password: str) -> None:
    """Refuse desk passwords too short to resist guessing, or absurdly long (Argon2 input is hashed whole)."""
    if len(password) < MIN_PASSWORD_CHARS:
        raise InputError(f"a desk password needs at least {MIN_PASSWORD_CHARS} characters")
    if len(password) > MAX_PASSWORD_CHARS:
        raise InputError(f"a desk password has at most {MAX_PASSWORD_CHARS} characters")


def _totp_context(officer_id: int) -> str:
    return f"officer:{officer_id}"


async def set_password(vault: Vault, *, login: str, password: str, actor: str = "operator") -> None:
    """Give an officer a desk password (replacing any), and clear their lockout."""
    check_password(password)
    verifier = await asyncio.to_thread(crypto.hash_password, password, params=vault.kdf)
    now = coarsen(vault.clock.now())
    async with vault.db.transaction() as session:
        officer = await get_by_login(session, login=login)
        assert officer.id is not None
        account = await _account(session, officer.id, for_update=True)
        account.password_hash, account.password_set_at = verifier, now
        account.failed_logins, account.locked_until = 0, None
        session.add(account)
        await audit.append(session, at=now, actor=actor, action="desk.password-set", detail={"login": login})


async def reset_totp(vault: Vault, *, login: str, actor: str = "operator") -> bool:
    """Remove an officer's second factor so they enrol again at next sign-in; True if one existed."""
    now = coarsen(vault.clock.now())
    async with vault.db.transaction() as session:
        officer = await get_by_login(session, login=login)
        assert officer.id is not None
        account = await _account(session, officer.id, for_update=True)
        had = account.totp_sealed is not None
        account.totp_key_id = account.totp_sealed = account.totp_last_step = None
        session.add(account)
        await audit.append(session, at=now, actor=actor, action="desk.totp-reset", detail={"login": login})
        return had


async def _account(session: AsyncSession, officer_id: int, *, for_update: bool = False) -> DeskAccount:
    statement = select(DeskAccount).where(DeskAccount.officer_id == officer_id)
    if for_update:
        statement = statement.with_for_update()
    account = (await session.exec(statement)).first()
    return account or DeskAccount(officer_id=officer_id)


async def sign_in(
    vault: Vault, *, login: str, password: str, code: str | None, rule: LockoutRule
) -> SignedIn:
    """Check a login, password and (once enrolled) TOTP code; count failures and lock after too many.

    An officer with no second factor enrolled signs in with the password alone; the desk then lets them
    do nothing but enrol, when its settings require a second factor.
    """
    now = vault.clock.now()
    async with vault.db.reading() as session:
        officer = (await session.exec(select(Officer).where(Officer.login == login))).first()
        account = None
        if officer is not None and officer.id is not None:
            account = (
                await session.exec(select(DeskAccount).where(DeskAccount.officer_id == officer.id))
            ).first()
    if officer is None or not officer.active or account is None or account.password_hash is None:
        await asyncio.to_thread(crypto.derive_passphrase_key, password, _DUMMY_SALT, vault.kdf)
        raise SignInRefusedError("wrong login, password or code")
    assert officer.id is not None
    if account.locked_until is not None and account.locked_until > now:
        raise LockedOutError(_locked_message(account.locked_until))
    good = await asyncio.to_thread(crypto.verify_password, password, account.password_hash)
    step = None
    if good and account.totp_sealed is not None:
        secret = _open_totp(vault.keys.relay, account)
        step = crypto.totp_match(secret, code or "", at=now.timestamp())
        # A code already used (or an earlier one) is refused: it may have been seen being typed.
        good = step is not None and (account.totp_last_step is None or step > account.totp_last_step)
    if not good:
        await _count_failure(vault, officer_id=officer.id, login=officer.login, rule=rule, now=now)
        raise SignInRefusedError("wrong login, password or code")
    async with vault.db.transaction() as session:
        fresh = await _account(session, officer.id, for_update=True)
        if fresh.locked_until is not None and fresh.locked_until > now:
            raise LockedOutError(_locked_message(fresh.locked_until))
        if step is not None and fresh.totp_last_step is not None and step <= fresh.totp_last_step:
            raise SignInRefusedError("wrong login, password or code")
        fresh.failed_logins, fresh.locked_until = 0, None
        if step is not None:
            fresh.totp_last_step = step
        session.add(fresh)
        await audit.append(
            session, at=coarsen(now), actor=f"officer:{officer.login}", action="desk.signed-in"
        )
    return SignedIn(
        officer_id=officer.id,
        login=officer.login,
        display_name=officer.display_name,
        roles=tuple(officer.roles),
        totp_enrolled=account.totp_sealed is not None,
    )


def _locked_message(until: datetime) -> str:
    return f"too many failed sign-ins: this account is locked until {until:%H:%M} UTC"


async def _count_failure(
    vault: Vault, *, officer_id: int, login: str, rule: LockoutRule, now: datetime
) -> None:
    async with vault.db.transaction() as session:
        account = await _account(session, officer_id, for_update=True)
        account.failed_logins += 1
        if account.failed_logins >= rule.threshold:
            account.failed_logins, account.locked_until = 0, now + rule.duration
            await audit.append(
                session,
                at=coarsen(now),
                actor="desk",
                action="desk.locked-out",
                detail={"login": login, "minutes": int(rule.duration.total_seconds() // 60)},
            )
        session.add(account)


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


async def enrol_totp(vault: Vault, *, officer_id: int, secret: bytes, code: str) -> None:
    """Store a TOTP secret once the officer proves their app has it by typing a current code."""
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
        account.totp_key_id, account.totp_sealed = vault.keys.relay.seal(
            secret, purpose=TOTP_PURPOSE, context=_totp_context(officer_id)
        )
        account.totp_last_step = step
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
