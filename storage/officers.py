"""The officer directory: desk accounts, their passphrase-sealed keys, queue memberships, unlocking."""

from __future__ import annotations

import asyncio
import re
from dataclasses import dataclass, field
from typing import NamedTuple

from sqlmodel import Session, col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from storage import audit, crypto
from storage.clock import coarsen
from storage.db import Pending, Query, query_sync
from storage.errors import InputError, InvalidPassphraseError, NotFoundError, NotPermittedError
from storage.models import Officer, Queue, QueueMember, Unit
from storage.vault import Vault

ROLES = ("standards-officer", "queue-lead", "policy-admin", "auditor", "operator")
LOGIN_PATTERN = re.compile(r"^[a-z0-9][a-z0-9._-]{1,63}$")
MIN_PASSPHRASE_CHARS = 12


@dataclass(frozen=True)
class UnlockedOfficer:
    """An officer whose private key is open in memory for this session only."""

    id: int
    login: str
    roles: tuple[str, ...]
    unit_id: str | None
    private_key: bytes = field(repr=False)

    @property
    def actor(self) -> str:
        return f"officer:{self.login}"

    def require(self, *roles: str) -> None:
        """Raise NotPermittedError unless the officer holds one of `roles`."""
        if not set(roles) & set(self.roles):
            raise NotPermittedError(f"{self.login} needs the role {' or '.join(roles)} for this")


@dataclass(frozen=True)
class OfficerSummary:
    """What `candour officer list` shows: no key material."""

    login: str
    display_name: str
    unit_id: str | None
    roles: tuple[str, ...]
    queues: tuple[str, ...]
    key_fingerprint: str
    active: bool


def check_passphrase(passphrase: str) -> None:
    """Refuse passphrases too short to resist offline guessing against a stolen database."""
    if len(passphrase) < MIN_PASSPHRASE_CHARS:
        raise InputError(f"a passphrase needs at least {MIN_PASSPHRASE_CHARS} characters")


async def add(
    vault: Vault,
    *,
    login: str,
    display_name: str,
    passphrase: str,
    roles: tuple[str, ...] = ("standards-officer",),
    unit_id: str | None = None,
    staff_number: str | None = None,
    queues: tuple[str, ...] = (),
    actor: str = "operator",
) -> OfficerSummary:
    """Create an officer with a fresh key pair sealed under Argon2id(passphrase)."""
    if not LOGIN_PATTERN.match(login):
        raise InputError("a login is 2-64 lower-case letters, digits, dots, hyphens or underscores")
    if not display_name.strip() or len(display_name) > 200:
        raise InputError("a display name is 1-200 characters")
    unknown = [r for r in roles if r not in ROLES]
    if unknown or not roles:
        raise InputError(f"roles must be among {', '.join(ROLES)}")
    check_passphrase(passphrase)
    pair = crypto.generate_keypair()
    # Why a thread: Argon2id is deliberately slow and would stall every other chat on the event loop.
    sealed = await asyncio.to_thread(
        crypto.seal_with_passphrase, pair.private, passphrase=passphrase, params=vault.kdf, context=login
    )
    now = coarsen(vault.clock.now())
    async with vault.db.transaction() as session:
        if (await session.exec(select(Officer).where(Officer.login == login))).first():
            raise InputError(f"an officer with login {login!r} already exists")
        number = normalise_staff_number(staff_number) or None
        if number and (await session.exec(select(Officer).where(Officer.staff_number == number))).first():
            raise InputError(f"another officer already has staff number {number}")
        if number and len(number) > 32:
            raise InputError("a staff number has at most 32 characters")
        if unit_id is not None and await session.get(Unit, unit_id) is None:
            raise NotFoundError(f"no unit {unit_id!r} in the active policy")
        officer = Officer(
            login=login,
            display_name=display_name.strip(),
            name_key=normalise_name(display_name),
            staff_number=normalise_staff_number(staff_number) or None,
            unit_id=unit_id,
            roles=list(roles),
            public_key=pair.public,
            key_fingerprint=crypto.fingerprint(pair.public),
            sealed_private_key=sealed,
            created_at=now,
        )
        session.add(officer)
        await session.flush()
        for queue_id in queues:
            await _add_membership(session, officer=officer, queue_id=queue_id)
        await audit.append(
            session,
            at=now,
            actor=actor,
            action="officer.added",
            detail={
                "login": login,
                "roles": list(roles),
                "queues": list(queues),
                "key": officer.key_fingerprint,
            },
        )
        return await _summary(session, officer)


async def _add_membership(session: AsyncSession, *, officer: Officer, queue_id: str) -> None:
    if await session.get(Queue, queue_id) is None:
        raise NotFoundError(f"no queue {queue_id!r} in the active policy")
    assert officer.id is not None
    if await session.get(QueueMember, (queue_id, officer.id)) is None:
        session.add(QueueMember(queue_id=queue_id, officer_id=officer.id))
        await session.flush()


async def add_membership(session: AsyncSession, *, login: str, queue_id: str) -> Officer:
    """Make an officer a member of a queue (the caller audits and grants access to open cases)."""
    officer = await get_by_login(session, login=login)
    await _add_membership(session, officer=officer, queue_id=queue_id)
    return officer


async def get_by_login(session: AsyncSession, *, login: str) -> Officer:
    """The officer with this login, or NotFoundError."""
    officer = (await session.exec(select(Officer).where(Officer.login == login))).first()
    if officer is None:
        raise NotFoundError(f"no officer with login {login!r}")
    return officer


async def list_all(vault: Vault) -> list[OfficerSummary]:
    """Every officer with roles and queues."""
    async with vault.db.transaction() as session:
        officers = (await session.exec(select(Officer).order_by(col(Officer.login)))).all()
        return [await _summary(session, officer) for officer in officers]


async def _summary(session: AsyncSession, officer: Officer) -> OfficerSummary:
    queues = (
        await session.exec(
            select(QueueMember.queue_id)
            .where(QueueMember.officer_id == officer.id)
            .order_by(col(QueueMember.queue_id))
        )
    ).all()
    return OfficerSummary(
        login=officer.login,
        display_name=officer.display_name,
        unit_id=officer.unit_id,
        roles=tuple(officer.roles),
        queues=tuple(queues),
        key_fingerprint=officer.key_fingerprint,
        active=officer.active,
    )


async def unlock(vault: Vault, *, login: str, passphrase: str) -> UnlockedOfficer:
    """Open an officer's private key with their passphrase; wrong login or passphrase raise the same error."""
    async with vault.db.transaction() as session:
        officer = (await session.exec(select(Officer).where(Officer.login == login))).first()
    if officer is None or not officer.active:
        # Why spend the Argon2 run anyway: answering faster for an unknown login would tell which logins exist.
        await asyncio.to_thread(crypto.derive_passphrase_key, passphrase, bytes(16), vault.kdf)
        raise InvalidPassphraseError("wrong login or passphrase")
    try:
        private = await asyncio.to_thread(
            crypto.open_with_passphrase,
            officer.sealed_private_key,
            passphrase=passphrase,
            context=officer.login,
        )
    except InvalidPassphraseError:
        raise InvalidPassphraseError("wrong login or passphrase") from None
    assert officer.id is not None
    return UnlockedOfficer(
        id=officer.id,
        login=officer.login,
        roles=tuple(officer.roles),
        unit_id=officer.unit_id,
        private_key=private,
    )


class DirectoryMatch(NamedTuple):
    """An officer of the directory found among the people a report names."""

    id: int
    unit_id: str | None


_NAMED_IN = Query(
    postgresql="SELECT id, unit_id FROM officers WHERE name_key = ANY(%s) OR staff_number = ANY(%s) ORDER BY id",
    sqlite="SELECT id, unit_id FROM officers WHERE name_key IN (SELECT value FROM json_each(?)) "
    "OR staff_number IN (SELECT value FROM json_each(?)) ORDER BY id",
)


async def named_in(
    session: AsyncSession, *, names: set[str], staff_numbers: set[str]
) -> list[DirectoryMatch]:
    """Officers whose normalised name or staff number is among those given."""
    return await session.run_sync(lambda sync: named_in_sync(sync, names=names, staff_numbers=staff_numbers))


def named_in_sync(session: Session, *, names: set[str], staff_numbers: set[str]) -> list[DirectoryMatch]:
    """The same, in a synchronous unit of work."""
    return [
        DirectoryMatch(*row)
        for row in send_named_in(session, names=names, staff_numbers=staff_numbers).rows()
    ]


def send_named_in(session: Session, *, names: set[str], staff_numbers: set[str]) -> Pending:
    """The same, sent (in a pipeline, if one is open) to be read later; it runs in every submission."""
    if not names and not staff_numbers:
        return Pending(list)
    return query_sync(session, _NAMED_IN, sorted(names), sorted(staff_numbers))


def normalise_staff_number(value: str | None) -> str:
    """Staff or collar numbers compared without spaces, hyphens or case."""
    return re.sub(r"[\s\-/]", "", value or "").upper()


def normalise_name(value: str) -> str:
    """Names compared case-insensitively with runs of white space folded."""
    return " ".join(value.casefold().split())
