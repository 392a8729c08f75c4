"""Desk sign-in for officers: password verifiers, TOTP enrolment and checking, guessing back-off, and the
session epoch that ends live desk sessions.

Threat: someone guessing an officer's password at the desk, or finding out which logins exist, or locking
officers out by failing on purpose. Why these parts:
- the verifier is Argon2id (a stolen table is slow to attack); the second factor is a TOTP secret sealed
  under the relay keyring (the server must read it to check a code); a code is never accepted twice;
- every attempt is counted, in a row locked for the count, *before* the password is checked, so parallel
  guesses cannot slip past the threshold (storage.desk_accounts._claim);
- attempts are counted per login and per client address, under keyed tags, whether or not the login
  exists: a login that exists, one that does not, and one backing off get one answer in about one
  Argon2id run (an unknown login is checked against a dummy verifier);
- back-off is per (login, client): a stranger failing from their address slows only themselves. Failures
  from clients a login never signed in from are also counted together, with a much higher threshold, to
  slow a guesser spread over many addresses; a client the officer signed in from before is exempt from
  that shared count, so even a botnet cannot lock an officer out of their usual desk;
- the first second-factor enrolment needs a one-time code handed over out of band, so learning an initial
  password is not enough to bind one's own authenticator;
- a desk password equal to the officer's key passphrase is refused (one secret would open both doors);
- password reset, second-factor reset and deactivation end live sessions at once (the session epoch).
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

from sqlalchemy import delete, or_
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from storage import audit, crypto
from storage.clock import coarsen
from storage.errors import InputError, InvalidPassphraseError, NotFoundError, VaultError
from storage.keyring import RelayKeyring
from storage.models import DeskAccount, DeskSignInAttempt, Officer
from storage.officers import get_by_login
from storage.vault import Vault

TOTP_PURPOSE = "totp"
TOTP_ISSUER = "Candour desk"
MIN_PASSWORD_CHARS = 12
MAX_PASSWORD_CHARS = 1024
REFUSED = "wrong login, password or code, or too many attempts: wait a few minutes and try again"
# The row counting one login's failures from every client it has never signed in from.
ANY_CLIENT = b""
# A client's row that signed in once is kept this long after its last use, then purged.
TRUSTED_FOR = timedelta(days=90)
ENROLMENT_CODE_BYTES = 15  # 120 bits: hopeless to guess, typed once
ENROLMENT_LIFETIME = timedelta(hours=72)


class SignInRefusedError(VaultError):
    """Wrong login, password or code, or backing off (deliberately not saying which)."""


@dataclass(frozen=True)
class SignedIn:
    """Who signed in, whether they still have to enrol a second factor, and their session epoch."""

    officer_id: int
    login: str
    display_name: str
    roles: tuple[str, ...]
    totp_enrolled: bool
    epoch: int = 0


@dataclass(frozen=True)
class LockoutRule:
    """How many failures per login and client are checked before that pair backs off, and how long.

    After `threshold` failures the pair waits `base`, then twice as long after each further failure, up to
    `duration`. Failures of one login from clients it never signed in from are counted together too, with
    `threshold * shared_factor` allowed before those clients back off the same way.
    """

    threshold: int
    duration: timedelta
    base: timedelta = timedelta(seconds=30)
    shared_factor: int = 10

    def backoff(self, beyond: int) -> timedelta:
        """The wait after the `beyond`-th failure past the threshold (0 for the threshold-th)."""
        return min(self.duration, self.base * (2 ** min(beyond, 30)))


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
    account.enrolment_expires_at = vault.clock.now() + lifetime
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
        login_tag = _tag(vault, "login", login)
        await session.exec(
            delete(DeskSignInAttempt).where(col(DeskSignInAttempt.login_tag) == login_tag)  # type: ignore[call-overload]
        )
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
    vault: Vault, *, login: str, password: str, code: str | None, rule: LockoutRule, client: str = "local"
) -> SignedIn:
    """Check a login, password and (once enrolled) TOTP code from `client` (its address as the desk sees
    it); every refusal is one SignInRefusedError, whatever the reason.

    An officer with no second factor enrolled signs in with the password alone; the desk then lets them
    do nothing but enrol, when its settings require a second factor.
    """
    now = vault.clock.now()
    login_tag, client_tag = _tag(vault, "login", login), _tag(vault, "client", client)
    admitted = await _claim(
        vault, login_tag=login_tag, client_tag=client_tag, rule=rule, now=now, login=login
    )
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
        step = crypto.totp_match(secret, code or "", at=now.timestamp())
        # A code already used (or an earlier one) is refused: it may have been seen being typed.
        good = step is not None and (account.totp_last_step is None or step > account.totp_last_step)
    if not good:
        raise SignInRefusedError(REFUSED)
    async with vault.db.transaction() as session:
        fresh = await _account(session, officer.id, for_update=True)
        if fresh.password_hash != account.password_hash or fresh.totp_sealed != account.totp_sealed:
            # Reset while we checked: the session would begin in the new epoch on the old credentials.
            raise SignInRefusedError(REFUSED)
        if step is not None and fresh.totp_last_step is not None and step <= fresh.totp_last_step:
            raise SignInRefusedError(REFUSED)
        if step is not None:
            fresh.totp_last_step = step
            session.add(fresh)
        await _succeeded(session, login_tag=login_tag, client_tag=client_tag, now=now)
        await audit.append(
            session, at=coarsen(now), actor=f"officer:{officer.login}", action="desk.signed-in"
        )
    return SignedIn(
        officer_id=officer.id,
        login=officer.login,
        display_name=officer.display_name,
        roles=tuple(officer.roles),
        totp_enrolled=account.totp_sealed is not None,
        epoch=fresh.session_epoch,
    )


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
                login_tag=login_tag, client_tag=client_tag, failures=0, trusted=False, last_at=now
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


async def _claim(
    vault: Vault, *, login_tag: bytes, client_tag: bytes, rule: LockoutRule, now: datetime, login: str
) -> bool:
    """Count one attempt as a failure before it is checked (a success clears it); False if the login is
    backing off for this client, and then nothing is checked."""
    async with vault.db.transaction() as session:
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
            row.last_at = now
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


async def _succeeded(session: AsyncSession, *, login_tag: bytes, client_tag: bytes, now: datetime) -> None:
    own, shared = await _locked_rows(
        session, login_tag=login_tag, client_tags=(client_tag, ANY_CLIENT), now=now
    )
    own.failures, own.blocked_until, own.trusted, own.last_at = 0, None, True, now
    shared.failures, shared.blocked_until = 0, None
    session.add(own)
    session.add(shared)


async def purge_attempts(vault: Vault, *, rule: LockoutRule) -> int:
    """Forget attempt rows that no longer slow anyone (and trusted clients unused for long); how many."""
    now = vault.clock.now()
    stale = now - max(rule.duration, timedelta(hours=1))
    async with vault.db.transaction() as session:
        result = await session.exec(
            delete(DeskSignInAttempt).where(  # type: ignore[call-overload]
                or_(
                    col(DeskSignInAttempt.trusted).is_(False) & (col(DeskSignInAttempt.last_at) < stale),
                    col(DeskSignInAttempt.last_at) < now - TRUSTED_FOR,
                ),
                or_(
                    col(DeskSignInAttempt.blocked_until).is_(None),
                    col(DeskSignInAttempt.blocked_until) < now,
                ),
            )
        )
        return int(result.rowcount or 0)


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
