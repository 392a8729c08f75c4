"""Grants only to those who may work a case (issue 9, point 5).

A queue lead's grant, a referral and an escalation grant reach only active officers with a casework role
(standards officer or queue lead) and no conflict of interest; opening a case checks the same, against
the directory as it is now (a role or `active` changed after sign-in counts). Driven through the desk's
JSON API and the `candour` command, the way an officer uses them.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import pytest
from click.testing import CliRunner, Result
from fastapi import FastAPI
from sqlalchemy import delete, update
from sqlmodel import col, select

from candour.app import desk_config
from candour.cli import main
from candour.settings import Settings
from desk.app import build_app
from storage import case_desk, cases, casework, followup, officers, outbox
from storage.clock import ManualClock
from storage.errors import NotEntitledError, NotFoundError, NotPermittedError
from storage.models import CaseAssignment, CaseKey, Officer, OfficerMatchKey, QueueMember
from storage.officers import UnlockedOfficer
from storage.vault import Vault
from tests.conftest import PASSPHRASE
from tests.desk_world import DeskClient, client_for, enrol, give_password
from tests.test_followup import entries


@pytest.fixture
def desk_app(vault: Vault, settings: Settings) -> FastAPI:
    return build_app(vault, desk_config(settings))


@pytest.fixture
async def signed_in(desk_app: FastAPI, vault: Vault, clock: ManualClock) -> AsyncIterator[Any]:
    clients: list[DeskClient] = []

    async def sign_in(login: str) -> DeskClient:
        await give_password(vault, login)
        client = client_for(desk_app)
        clients.append(client)
        assert (await client.sign_in(login)).status_code == 200
        await enrol(vault, client, clock)
        assert (await client.unlock(PASSPHRASE)).status_code == 200
        return client

    yield sign_in
    for client in clients:
        await client.http.aclose()


async def candour(settings: Settings, *args: str) -> Result:
    """`candour ARGS` on this test's installation, as an officer at the server would run it.

    Why in-process (click's runner, in a worker thread with its own event loop): a subprocess costs
    seconds of imports on a loaded machine; the command, its options and its error handling are the same.
    """
    env = {
        "CANDOUR_DATA_DIR": str(settings.data_dir),
        "CANDOUR_KEYS_DIR": str(settings.keys_dir),
        "CANDOUR_DATABASE_URL": settings.database_url,
        "CANDOUR_PASSPHRASE": PASSPHRASE,
        "CANDOUR_ARGON2_MEMORY_KIB": "64",
        "CANDOUR_ARGON2_ITERATIONS": "1",
        "CANDOUR_ARGON2_LANES": "1",
    }
    return await asyncio.to_thread(CliRunner().invoke, main, list(args), env=env)


def refused(result: Result, *words: str) -> str:
    """A failed command: non-zero exit, a `candour:` line saying why, no traceback."""
    assert result.exit_code == 1 and isinstance(result.exception, SystemExit), result.output
    assert "Traceback" not in result.stderr, result.stderr
    line = result.stderr.strip().splitlines()[-1]
    assert line.startswith("candour: ") and all(w in line for w in words), result.stderr
    return line


async def key_holders(vault: Vault, case_id: str) -> set[str]:
    async with vault.db.reading() as session:
        rows = (
            await session.exec(
                select(Officer.login)
                .join(CaseKey, col(CaseKey.officer_id) == col(Officer.id))
                .where(CaseKey.case_id == case_id)
            )
        ).all()
    return set(rows)


async def deactivate(vault: Vault, login: str) -> None:
    """What deactivating an officer leaves in the directory (no command does it yet)."""
    async with vault.db.transaction() as session:
        await session.exec(update(Officer).where(col(Officer.login) == login).values(active=False))  # type: ignore[call-overload]


@pytest.fixture
async def world_of_roles(vault: Vault, make_officer: Any) -> dict[str, Any]:
    """A case routed to psd-conduct naming sam; officers of every kind around it."""
    officers = {
        "audrey": await make_officer("audrey", roles=("auditor",)),
        "pat": await make_officer("pat", roles=("policy-admin",)),
        "ian": await make_officer("ian"),
        "sam": await make_officer("sam", unit="north-bcu", staff_number="NB1234", display_name="Sam Subject"),
        "leo": await make_officer("leo"),
        "cora": await make_officer("cora", queues=("psd-counter-corruption",)),
        "lena": await make_officer("lena", queues=("psd-lead",), unit="hr"),
        "axel": await make_officer("axel", roles=("auditor",)),
    }
    # A policy admin and an auditor who sit in queues anyway (no command puts them there: an insider's row):
    # they are not wrapped the case at submission, and opening checks the role besides.
    async with vault.db.transaction() as session:
        for login, queue_ids in (("pat", ("psd-conduct", "psd-counter-corruption")), ("axel", ("psd-lead",))):
            officer_id = officers[login].id
            session.add_all(QueueMember(queue_id=q, officer_id=officer_id) for q in queue_ids)
    await deactivate(vault, "ian")
    result = await cases.submit(
        vault,
        report=cases.ReportSubmission(
            categories=("bullying",),
            narrative="My sergeant humiliates me in briefings.",
            subjects=(cases.Person(name="Sam Subject", staff_number="NB1234"),),
        ),
    )
    assert "pat" not in await key_holders(vault, result.case_id)
    return {"result": result, **officers}


async def test_desk_grants_refer_and_escalation_reach_only_active_caseworkers_without_conflict(
    vault: Vault, clock: ManualClock, alice: UnlockedOfficer, signed_in: Any, world_of_roles: dict[str, Any]
) -> None:
    result = world_of_roles["result"]
    ref = result.reference
    # The acknowledgement overdue: the dispatcher escalates the case to psd-lead (no key for anyone).
    due = (await entries(vault, result.case_id, outbox.DEADLINE_DUE))[0]
    clock.current = due.due_at
    assert await followup.check_deadline(vault, entry=due) == "escalated"
    lead = await signed_in("alice")

    async def grant(login: str) -> Any:
        return await lead.post(f"/api/cases/{ref}/grant", {"login": login})

    assert (await grant("audrey")).status_code == 403
    assert (await grant("pat")).status_code == 403
    assert (await grant("ian")).status_code == 404
    assert (await grant("sam")).status_code == 409
    granted = await grant("leo")
    assert granted.status_code == 200 and granted.json()["detail"]["granted"] is True

    referred = await lead.post(f"/api/cases/{ref}/refer", {"queue": "psd-counter-corruption", "reason": ""})
    assert referred.status_code == 200, referred.text
    assert referred.json()["detail"]["granted"] == ["cora"]

    assert (await lead.get(f"/api/cases/{ref}")).json()["pending_escalations"] == ["psd-lead"]
    escalated = await lead.post(f"/api/cases/{ref}/escalation", {"queue": "psd-lead"})
    assert escalated.status_code == 200 and escalated.json()["detail"]["granted"] == ["lena"]
    assert (await lead.get(f"/api/cases/{ref}")).json()["pending_escalations"] == []

    # Joining a queue would wrap every new case routed there: refused without a casework role, and
    # the policy admin in a routed queue lists nothing.
    with pytest.raises(NotPermittedError):
        await casework.add_queue_member(vault, granter=alice, login="audrey", queue_id="psd-conduct")
    pat = await officers.unlock(vault, login="pat", passphrase=PASSPHRASE)
    assert await casework.list_entitled(vault, officer=pat) == []

    holders = await key_holders(vault, result.case_id)
    assert {"leo", "cora", "lena"} <= holders
    assert not holders & {"audrey", "ian", "sam", "axel", "pat"}


async def test_opening_checks_role_activity_and_conflict_as_they_are_now(
    vault: Vault, alice: UnlockedOfficer, signed_in: Any, world_of_roles: dict[str, Any]
) -> None:
    """Through the desk, a live session ends or the case does not open (404); and the vault itself
    refuses a key unlocked before the change (a desk process, a long `candour` run)."""
    ref = world_of_roles["result"].reference
    lead = await signed_in("alice")
    assert (await lead.post(f"/api/cases/{ref}/grant", {"login": "leo"})).status_code == 200
    leo = await signed_in("leo")
    leo_key = await officers.unlock(vault, login="leo", passphrase=PASSPHRASE)
    assert (await leo.get(f"/api/cases/{ref}")).status_code == 200
    assert [c["reference"] for c in (await leo.get("/api/cases")).json()["cases"]] == [ref]
    # Deactivated while signed in with the key unlocked: the case no longer opens, nor lists.
    await deactivate(vault, "leo")
    assert (await leo.get(f"/api/cases/{ref}")).status_code in (401, 404)
    assert (await leo.get("/api/cases")).json().get("cases", []) == []
    with pytest.raises(NotEntitledError):
        await casework.open_case(vault, officer=leo_key, reference=ref)
    assert await casework.list_entitled(vault, officer=leo_key) == []
    # A role taken away after the wrap was made: the same.
    async with vault.db.transaction() as session:
        await session.exec(  # type: ignore[call-overload]
            update(Officer).where(col(Officer.login) == "alice").values(roles=["auditor"])
        )
    assert (await lead.get(f"/api/cases/{ref}")).status_code in (401, 404)
    with pytest.raises(NotEntitledError):
        await casework.open_case(vault, officer=alice, reference=ref)


async def test_the_cli_grants_and_opens_only_for_caseworkers(
    vault: Vault, settings: Settings, world_of_roles: dict[str, Any]
) -> None:
    result = world_of_roles["result"]
    ref = result.reference

    # Each run costs a second or two of imports: the refusals the desk test does not cover, and one success.
    refused(await candour(settings, "officer", "grant", "audrey", "--case", ref, "--as", "alice"), "role")
    # The policy admin in the routed queue cannot read the case.
    shown = await candour(settings, "case", "show", ref, "--as", "pat")
    refused(shown, "role")
    assert "humiliates" not in shown.stdout
    granted = await candour(settings, "officer", "grant", "leo", "--case", ref, "--as", "alice")
    assert granted.exit_code == 0, granted.output
    assert "humiliates" in (await candour(settings, "case", "show", ref, "--as", "leo")).stdout

    holders = await key_holders(vault, result.case_id)
    assert "leo" in holders and "audrey" not in holders


async def _late_matched(vault: Vault, make_officer: Any) -> tuple[str, str]:
    """A case whose subject, Dan Late, a member of the routed queue, holds its key: the matching missed
    him when the report was made (as the rules before point 10 did), and finds him now."""
    await make_officer("dan", queues=("psd-conduct",), display_name="Dan Late", staff_number="DL7788")
    async with vault.db.transaction() as session:
        dan = (await session.exec(select(Officer).where(Officer.login == "dan"))).one()
        await session.exec(delete(OfficerMatchKey).where(col(OfficerMatchKey.officer_id) == dan.id))  # type: ignore[call-overload]
    result = await cases.submit(
        vault,
        report=cases.ReportSubmission(
            categories=("bullying",),
            narrative="He mocks my accent.",
            subjects=(cases.Person(name="Late, Dan", staff_number="DL 7788"),),
        ),
    )
    assert "dan" in await key_holders(vault, result.case_id)
    async with vault.db.transaction() as session:
        assert dan.id is not None
        for row in officers.match_key_rows(
            dan.id, display_name=dan.display_name, staff_number=dan.staff_number
        ):
            session.add(OfficerMatchKey(**row))
    return result.reference, result.case_id


async def test_an_assignee_must_be_able_to_work_the_case_and_the_lead_is_told_why(
    vault: Vault, signed_in: Any, make_officer: Any, world_of_roles: dict[str, Any]
) -> None:
    """Assigning goes through the one rule: the assignee holds the key, is active, has a casework role and
    is not conflicted out (the report's people re-matched now). The lead, who can open the case, is told
    the truth (409, which officer and why); only the caller's own lack of entitlement is the single 404."""
    ref = world_of_roles["result"].reference
    late_ref, _late_id = await _late_matched(vault, make_officer)
    lead = await signed_in("alice")

    async def assign(reference: str, login: str) -> Any:
        return await lead.post(f"/api/cases/{reference}/assign", {"login": login})

    assert (await lead.post(f"/api/cases/{ref}/grant", {"login": "leo"})).status_code == 200
    # A role taken away after the wrap was made.
    async with vault.db.transaction() as session:
        await session.exec(update(Officer).where(col(Officer.login) == "leo").values(roles=["auditor"]))  # type: ignore[call-overload]
    role_less = await assign(ref, "leo")
    assert role_less.status_code == 409 and "leo cannot work" in role_less.json()["detail"], role_less.text
    assert "role" in role_less.json()["detail"]
    # The subject the matching missed then and finds now holds a wrap, but may not be made assignee.
    late = await assign(late_ref, "dan")
    assert late.status_code == 409 and "dan cannot work" in late.json()["detail"], late.text
    # An officer without the key: the lead learns that, not "no case".
    keyless = await assign(ref, "cora")
    assert keyless.status_code == 409 and "cora cannot work" in keyless.json()["detail"], keyless.text
    assert "grant" in keyless.json()["detail"]
    assert (await assign(ref, "nobody")).json()["detail"] == "no officer with login 'nobody'"
    # The caller's own lack of entitlement stays the one 404, as for a reference that does not exist.
    cora = await signed_in("cora")
    mine = await cora.post(f"/api/cases/{ref}/assign", {"login": "cora"})
    missing = await cora.post("/api/cases/CN-ZZZZZZZZ/assign", {"login": "cora"})
    assert mine.status_code == missing.status_code == 404 and mine.json() == missing.json()
    async with vault.db.reading() as session:
        assert (await session.exec(select(CaseAssignment))).all() == []
    assert (await assign(ref, "alice")).status_code == 200


async def test_assign_extras_and_export_check_the_actor_as_the_directory_is_now(
    vault: Vault, alice: UnlockedOfficer, make_officer: Any, world_of_roles: dict[str, Any]
) -> None:
    """A key unlocked before a change (a desk process, a long `candour desk` run) still holding a wrap:
    deactivated, stripped of the casework role, or late-matched as a subject, it can no longer assign,
    read the case's extras or record an export (the same "no case" as an unknown reference)."""
    ref = world_of_roles["result"].reference
    await casework.grant(vault, granter=alice, reference=ref, login="leo")
    leo = await officers.unlock(vault, login="leo", passphrase=PASSPHRASE)
    assert (await case_desk.extras(vault, officer_id=leo.id, reference=ref)).assignee is None
    await deactivate(vault, "leo")
    late_ref, _ = await _late_matched(vault, make_officer)
    dan = await officers.unlock(vault, login="dan", passphrase=PASSPHRASE)
    # Someone opens the late case: the re-match finds dan and widens its conflict record.
    await casework.open_case(vault, officer=alice, reference=late_ref)
    async with vault.db.transaction() as session:
        await session.exec(update(Officer).where(col(Officer.login) == "alice").values(roles=["auditor"]))  # type: ignore[call-overload]
    for officer, reference in ((leo, ref), (alice, ref), (dan, late_ref)):
        with pytest.raises(NotFoundError, match="that you can open"):
            await case_desk.assign(vault, officer=officer, reference=reference, login=officer.login)
        with pytest.raises(NotFoundError, match="that you can open"):
            await case_desk.extras(vault, officer_id=officer.id, reference=reference)
        with pytest.raises(NotFoundError, match="that you can open"):
            await case_desk.record_export(vault, officer=officer, reference=reference, form="pdf")
    async with vault.db.reading() as session:
        assert (await session.exec(select(CaseAssignment))).all() == []


async def test_officer_add_puts_no_auditor_or_policy_admin_in_a_queue(
    vault: Vault, settings: Settings
) -> None:
    """`officer add --queue` follows the rule of `add_queue_member`: a queue member is wrapped every new
    case routed there, so only a casework role may join one; refused with one line, nothing created."""
    for role in ("auditor", "policy-admin"):
        with pytest.raises(NotPermittedError, match="cannot join a queue"):
            await officers.add(
                vault,
                login=f"x{role[:3]}",
                display_name="X",
                passphrase=PASSPHRASE,
                roles=(role,),
                queues=("psd-conduct",),
            )
    added = await candour(
        settings,
        "officer",
        "add",
        "audra",
        "--name",
        "Audra",
        "--role",
        "auditor",
        "--queue",
        "psd-lead",
        "--passphrase",
        PASSPHRASE,
    )
    refused(added, "audra", "cannot join a queue", "role")
    assert len(added.stderr.strip().splitlines()) == 1, added.stderr
    assert {o.login for o in await officers.list_all(vault)} == {"alice"}
    # A casework role among others is enough, as for add_queue_member.
    both = await officers.add(
        vault,
        login="quinn",
        display_name="Quinn",
        passphrase=PASSPHRASE,
        roles=("auditor", "queue-lead"),
        queues=("psd-lead",),
    )
    assert both.queues == ("psd-lead",)
