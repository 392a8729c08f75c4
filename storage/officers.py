"""The officer directory: desk accounts, their passphrase-sealed keys, queue memberships, unlocking."""

from __future__ import annotations

import asyncio
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any, NamedTuple

from sqlmodel import Session, col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from storage import audit, crypto, naming
from storage.clock import coarsen
from storage.conflicts import CASEWORK_ROLES
from storage.db import Pending, Query, insert_rows, query_sync
from storage.errors import InputError, InvalidPassphraseError, NotFoundError, NotPermittedError
from storage.models import Officer, OfficerMatchKey, Queue, QueueMember, Unit
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


def check_may_join_queue(login: str, roles: Iterable[str]) -> None:
    """NotPermittedError unless an officer with these roles may be a queue member (a casework role).

    Why: a queue member is wrapped every new case routed to the queue at submission; an auditor or a
    policy admin in a queue would be one insider's row away from reading reports (see storage.conflicts).
    """
    if not set(CASEWORK_ROLES) & set(roles):
        raise NotPermittedError(
            f"{login} cannot join a queue: that needs the role {' or '.join(CASEWORK_ROLES)}"
        )


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
    if queues:
        check_may_join_queue(login, roles)
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
        assert officer.id is not None
        await insert_rows(
            session,
            OfficerMatchKey,
            match_key_rows(officer.id, display_name=officer.display_name, staff_number=officer.staff_number),
        )
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


async def get_by_login(session: AsyncSession, *, login: str, include_inactive: bool = False) -> Officer:
    """The active officer with this login (any, with `include_inactive`), or NotFoundError.

    Why active by default: a deactivated officer must not be granted, assigned or added to a queue; only
    directory upkeep (reactivating, say) needs to find them, and says so.
    """
    officer = (await session.exec(select(Officer).where(Officer.login == login))).first()
    if officer is None or not (officer.active or include_inactive):
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
    """An officer of the directory found among the people a report names.

    `certain` when a staff number or the whole name matched; otherwise a likely match (initial and
    surname, a surname alone, a number without its prefix, a surname one letter off), which leaves the
    officer out of the key holders all the same but not their unit. `reason` says which, for the queue
    lead (sealed in the case, never shown to the reporter, never logged).
    """

    id: int
    unit_id: str | None
    certain: bool = True
    reason: str = ""
    login: str = ""


# Kinds that rest on a surname alone (or one letter off it): they find everyone who shares it.
SURNAME_KINDS = frozenset({"s", "e"})

# `may_read`: active, with a casework role; only such officers can be wrapped a case key at submission.
_NAMED_IN = Query(
    postgresql="SELECT k.key, o.id, o.unit_id, o.login, o.display_name, (o.active AND "
    "o.roles::jsonb ?| array['standards-officer', 'queue-lead']) AS may_read "
    "FROM officer_match_keys k JOIN officers o ON o.id = k.officer_id WHERE k.key = ANY(%s) ORDER BY o.id",
    sqlite="SELECT k.key, o.id, o.unit_id, o.login, o.display_name, (o.active AND EXISTS (SELECT 1 FROM "
    "json_each(o.roles) r WHERE r.value IN ('standards-officer', 'queue-lead'))) AS may_read "
    "FROM officer_match_keys k JOIN officers o ON o.id = k.officer_id "
    "WHERE k.key IN (SELECT value FROM json_each(?)) ORDER BY o.id",
)


class PendingMatches:
    """The officers named, once the lookup sent with `send_named_in` is answered."""

    def __init__(self, rows: Pending, probes: list[naming.Probe]) -> None:
        self._rows, self._probes = rows, probes

    def matches(self) -> list[DirectoryMatch]:
        return _matches(self._rows.rows(), self._probes)


async def named_in(session: AsyncSession, *, people: Iterable[tuple[str, str]]) -> list[DirectoryMatch]:
    """Officers of the directory that the (name, staff number) answers given may mean; see storage.naming."""
    return await session.run_sync(lambda sync: named_in_sync(sync, people=people))


def named_in_sync(session: Session, *, people: Iterable[tuple[str, str]]) -> list[DirectoryMatch]:
    """The same, in a synchronous unit of work."""
    return send_named_in(session, people=people).matches()


def send_named_in(session: Session, *, people: Iterable[tuple[str, str]]) -> PendingMatches:
    """The same, sent (in a pipeline, if one is open) to be read later; it runs in every submission.

    Why one indexed lookup: every way a name or number may be written is reduced to keys on both sides
    (storage.naming), so a submission costs one query on the primary key, however large the directory.
    """
    probes = [naming.probe_keys(name, number) for name, number in people if name.strip() or number.strip()]
    keys = sorted(set().union(*(p.keys for p in probes))) if probes else []
    if not keys:
        return PendingMatches(Pending(list), [])
    return PendingMatches(query_sync(session, _NAMED_IN, keys), probes)


def _matches(rows: list[tuple[Any, ...]], probes: list[naming.Probe]) -> list[DirectoryMatch]:
    """Officers found per named person. An unsure match is dropped when an officer matched for certain
    also matches what it rests on ("D. Smith 1234": Dave Smith 1234 explains the name, so Dan Smith is not
    left out; "D. Smith 9999" with 9999 someone else's: both are).

    Threat: "DS Smith" where four Smiths work the queue; leaving out only some of them (say, those few
    enough to count as "rare") gives the key to the others, one of whom may be the subject. Why every
    officer who shares a surname written alone (or one letter off) is left out, however many: an unsure
    match must exclude, not include (issue 9 point 10); the queue lead sees each one and why, and an
    emptied queue goes to its escalation queue (storage.cases). Why only active caseworkers for these
    kinds: nobody else can be wrapped a key at submission, and listing them would bury the queue lead's
    list in officers who could not have read the report anyway."""
    officers: dict[int, tuple[str | None, str]] = {}
    found: dict[int, set[str]] = {}
    for probe in probes:
        hits: dict[int, set[str]] = {}
        for key, officer_id, unit_id, login, display_name, may_read in rows:
            if key not in probe.keys:
                continue
            kind = key[0]
            if kind in SURNAME_KINDS and not may_read:
                continue
            if kind == "e" and not any(
                naming.one_edit_apart(mine, theirs)
                for mine in probe.fuzzy.get(key, ())
                for theirs in naming.directory_surnames(display_name)
            ):
                continue
            officers[officer_id] = (unit_id, login)
            hits.setdefault(officer_id, set()).add(kind)
        _explained_out(hits, found)
    result = []
    for officer_id in sorted(found):
        kinds = found[officer_id]
        unit_id, login = officers[officer_id]
        result.append(
            DirectoryMatch(
                id=officer_id,
                unit_id=unit_id,
                certain=bool(kinds & naming.CERTAIN_KINDS),
                reason=naming.REASONS[naming.strongest(kinds)],
                login=login,
            )
        )
    return result


def _explained_out(hits: dict[int, set[str]], found: dict[int, set[str]]) -> None:
    """Add to `found` the officers one named person matched, less the unsure ones that an officer matched
    for certain explains (their match rests only on an aspect, name or number, the certain one shares)."""
    certain = [kinds for kinds in hits.values() if kinds & naming.CERTAIN_KINDS]
    explained = {
        aspect for aspect in (naming.NAME_KINDS, naming.NUMBER_KINDS) for kinds in certain if kinds & aspect
    }
    for officer_id, kinds in hits.items():
        if kinds & naming.CERTAIN_KINDS or any(
            kinds & a for a in (naming.NAME_KINDS, naming.NUMBER_KINDS) if a not in explained
        ):
            found.setdefault(officer_id, set()).update(kinds)


def match_key_rows(officer_id: int, *, display_name: str, staff_number: str | None) -> list[dict[str, Any]]:
    """The officer_match_keys rows for one directory entry."""
    keys = naming.directory_keys(display_name, staff_number)
    return [{"key": key, "officer_id": officer_id} for key in sorted(keys)]


def normalise_staff_number(value: str | None) -> str:
    """A staff or collar number as stored: without spaces, hyphens, slashes or case (storage.naming
    compares numbers more loosely)."""
    return re.sub(r"[\s\-/]", "", value or "").upper()


def normalise_name(value: str) -> str:
    """The officers.name_key column: the display name case-folded, white space folded (matching uses
    storage.naming's keys instead)."""
    return " ".join(value.casefold().split())
