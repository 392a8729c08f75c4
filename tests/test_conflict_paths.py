"""The conflict rule on every path out of the vault (issue 9, point 1; promise 3).

An officer named as the subject, and a colleague of their unit, are both linked members of the routed
queue and of the escalation queue. Through a whole case life driven the way it happens (deadline warning
and escalation by the dispatcher, messages both ways, check-in answers pressed in the reporter's chat,
an escalation granted and the case closed at the desk, an after-closure check-in), neither of them is
sent a notice, shown a row, an "access pending" line or a count that points at the case; the officers
who may learn of it (the key holder, and an unconflicted member of the escalation queue) are, which
shows that each path was exercised. A late match found when an officer opens the case stops the notices
still pending for the officer it names.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import timedelta
from typing import Any

import pytest
from fastapi import FastAPI
from sqlmodel import select

from bot.catalogue import Catalogue
from candour.app import desk_config
from desk.app import build_app
from storage import cases, casework, conflicts, crypto, followup, links, outbox, queue_view
from storage.clock import ManualClock
from storage.errors import NotEntitledError
from storage.models import Case, CaseConflict, CaseKey, OutboxEntry
from storage.officers import UnlockedOfficer
from storage.vault import Vault
from tests.bot_world import BotWorld, wait_for
from tests.conftest import PASSPHRASE
from tests.desk_world import DeskClient, client_for, enrol, give_password
from tests.test_followup import entries, next_checkin, press

T = Catalogue().for_language("en")


@pytest.fixture
def desk_app(vault: Vault, settings: Any) -> FastAPI:
    return build_app(vault, desk_config(settings))


@pytest.fixture
async def signed_in(desk_app: FastAPI, vault: Vault, clock: ManualClock) -> AsyncIterator[Any]:
    """Sign in (again: the case life outlasts any session) as an officer would, second factor included."""
    clients: list[DeskClient] = []
    secrets: dict[str, bytes] = {}

    async def sign_in(login: str, *, unlock: bool = False) -> DeskClient:
        client = client_for(desk_app)
        clients.append(client)
        if login in secrets:
            code = crypto.totp_code(secrets[login], at=clock.now().timestamp())
            assert (await client.sign_in(login, code=code)).status_code == 200
        else:
            await give_password(vault, login)
            assert (await client.sign_in(login)).status_code == 200
            secrets[login] = await enrol(vault, client, clock)
        if unlock:
            assert (await client.unlock(PASSPHRASE)).status_code == 200
        return client

    yield sign_in
    for client in clients:
        await client.http.aclose()


def the_report(**overrides: Any) -> cases.ReportSubmission:
    values: dict[str, Any] = {
        "categories": ("bullying",),
        "narrative": "My sergeant humiliates me in briefings.",
        "subjects": (cases.Person(name="Sam Subject", staff_number="NB1234"),),
        "checkin_consent": True,
    }
    values.update(overrides)
    return cases.ReportSubmission(**values)


async def notices_for(vault: Vault, case_id: str) -> dict[int, list[str]]:
    """Every officer notice the vault queued for the case, by officer id."""
    told: dict[int, list[str]] = {}
    for entry in await entries(vault, case_id, followup.OFFICER_NOTICE):
        told.setdefault(int(entry.detail["officer"]), []).append(entry.detail["what"])
    return told


async def test_the_subject_and_their_unit_learn_nothing_over_a_whole_case_life(
    world: BotWorld,
    clock: ManualClock,
    alice: UnlockedOfficer,
    make_officer: Any,
    signed_in: Any,
) -> None:
    vault = world.vault
    both = ("psd-conduct", "psd-lead")
    lead_roles = ("standards-officer", "queue-lead")
    sam = await make_officer(
        "sam",
        queues=both,
        unit="north-bcu",
        staff_number="NB1234",
        display_name="Sam Subject",
        roles=lead_roles,
    )
    nora = await make_officer("nora", queues=both, unit="north-bcu", roles=lead_roles)
    lena = await make_officer("lena", queues=("psd-lead",), unit="hr")
    phones = {}
    for index, officer in enumerate((alice, sam, nora, lena)):
        phone = world.user(7300001 + index)
        await world.say(phone, f"/link {await links.create_code(vault, officer_id=officer.id)}")
        assert world.last(phone.user_id) == T("link.done", login=officer.login)
        phones[officer.login] = phone
    dashboard_before = (await (await signed_in("sam")).get("/api/dashboard")).json()
    for login in ("nora", "alice", "lena"):
        await signed_in(login)

    reporter = world.user(7300100)
    result = await cases.submit(vault, report=the_report(), contact=str(reporter.user_id))
    assert "psd-conduct" in result.queues
    ref = result.reference

    async def told(login: str, words: str) -> None:
        await wait_for(
            lambda: any(
                ref in (m.get("text") or "") and words in m["text"]
                for m in world.emu.bot_messages(phones[login].user_id)
            ),
            timeout=30,
        )

    # Deadline warning, then the acknowledgement overdue: escalated to psd-lead by the dispatcher.
    warning = (await entries(vault, result.case_id, outbox.DEADLINE_WARNING))[0]
    clock.current = warning.due_at
    await told("alice", "acknowledgement due")
    clock.current = (await entries(vault, result.case_id, outbox.DEADLINE_DUE))[0].due_at
    await told("alice", "overdue")
    await told("lena", "overdue")

    # Messages both ways.
    await casework.message_reporter(vault, officer=alice, reference=ref, text="Can you tell us more?")
    await cases.add_from_reporter(
        vault, case_id=result.case_id, kind=cases.REPORTER_MESSAGE, text="It happened again today."
    )

    # A check-in answered "worse", in the reporter's chat.
    message = await next_checkin(world, clock, reporter.user_id, result.case_id)
    press(world, reporter, message, "worse")
    await told("lena", "a check-in answer needs reading")

    # The desk: the escalation waits for lena only; the subject and their colleague see nothing.
    async def refs_of(client: DeskClient) -> list[tuple[str, str]]:
        response = await client.get("/api/cases")
        assert response.status_code == 200, response.text
        return [(c["reference"], c["access"]) for c in response.json()["cases"]]

    sam_desk, nora_desk = await signed_in("sam"), await signed_in("nora")
    alice_desk, lena_desk = await signed_in("alice", unlock=True), await signed_in("lena")
    assert await refs_of(lena_desk) == [(ref, "pending")]
    assert await refs_of(sam_desk) == [] and await refs_of(nora_desk) == []
    case_page = (await alice_desk.get(f"/api/cases/{ref}")).json()
    assert case_page["pending_escalations"] == ["psd-lead"]
    granted = await alice_desk.post(f"/api/cases/{ref}/escalation", {"queue": "psd-lead"})
    assert granted.status_code == 200 and granted.json()["detail"]["granted"] == ["lena"]
    assert (await alice_desk.get(f"/api/cases/{ref}")).json()["pending_escalations"] == []

    # A check-in answered "retaliation": escalated again.
    message = await next_checkin(world, clock, reporter.user_id, result.case_id)
    press(world, reporter, message, "retaliation")
    await told("alice", "retaliation reported at a check-in")
    await told("lena", "retaliation reported at a check-in")

    # Closed at the desk, then the after-closure check-in answered "worse".
    alice_desk = await signed_in("alice", unlock=True)
    for body in (
        {"status": "acknowledged"},
        {"status": "investigating"},
        {"status": "closed", "outcome": "Done."},
    ):
        assert (await alice_desk.post(f"/api/cases/{ref}/status", body)).status_code == 200
    message = await next_checkin(world, clock, reporter.user_id, result.case_id)
    press(world, reporter, message, "worse")
    await wait_for(
        lambda: (
            sum(ref in (m.get("text") or "") for m in world.emu.bot_messages(phones["lena"].user_id)) >= 4
        ),
        timeout=30,
    )

    # No notice queued for, and nothing sent to, the subject or their colleague; the others were told.
    queued = await notices_for(vault, result.case_id)
    assert sam.id not in queued and nora.id not in queued
    assert len(queued[alice.id]) >= 5 and len(queued[lena.id]) >= 4
    for login in ("sam", "nora"):
        texts = [m.get("text") or "" for m in world.emu.bot_messages(phones[login].user_id)]
        assert texts[-1] == T("link.done", login=login)
        assert not any(ref in text or text.startswith("Candour: CN-") for text in texts)
    # No row, no "access pending", no key; and the dashboard they see did not move.
    final = {officer.login: await signed_in(officer.login) for officer in (sam, nora)}
    for officer in (sam, nora):
        assert await refs_of(final[officer.login]) == []
        assert (await queue_view.page(vault, officer_id=officer.id)).rows == ()
        async with vault.db.reading() as session:
            keys = (await session.exec(select(CaseKey).where(CaseKey.officer_id == officer.id))).all()
        assert keys == []
    dashboard_after = (await final["sam"].get("/api/dashboard")).json()
    # The months listed follow the clock (a year went by); every month reads "<5" all the same.
    assert all(cell["count"] == "<5" for cell in dashboard_after.pop("by_month"))
    dashboard_before.pop("by_month")
    assert dashboard_after == dashboard_before
    assert {"label": "north-bcu", "count": "<5"} in dashboard_before["by_unit"]


async def test_the_conflict_record_is_sealed_and_says_nothing_by_its_size(
    vault: Vault, make_officer: Any
) -> None:
    sam = await make_officer("sam", queues=("psd-conduct",), unit="north-bcu", staff_number="NB1234")
    named = await cases.submit(vault, report=the_report())
    unnamed = await cases.submit(vault, report=the_report(subjects=()))
    async with vault.db.reading() as session:
        rows = {r.case_id: r for r in (await session.exec(select(CaseConflict))).all()}
        named_case = await session.get(Case, named.case_id)
        assert named_case is not None
        opened = await conflicts.recorded(session, vault.keys.relay, named_case)
    assert opened is not None and opened.officer_ids == {sam.id} and "north-bcu" in opened.units
    assert len(rows[named.case_id].sealed) == len(rows[unnamed.case_id].sealed)
    for needle in (b"NB1234", b"officers", b"north-bcu"):
        assert needle not in rows[named.case_id].sealed


async def test_a_late_match_found_at_opening_cancels_pending_notices_and_hides_the_case(
    vault: Vault, clock: ManualClock, alice: UnlockedOfficer, make_officer: Any
) -> None:
    # Named by a staff number nobody had when the report was made.
    result = await cases.submit(
        vault, report=the_report(subjects=(cases.Person(name="Lee Late", staff_number="NB7777"),))
    )
    late = await make_officer("late", queues=("psd-lead",), unit="hr", staff_number="NB7777")
    lena = await make_officer("lena", queues=("psd-lead",), unit="training")
    for index, officer in enumerate((late, lena)):
        code = await links.create_code(vault, officer_id=officer.id)
        await links.redeem(vault, code=code, chat=str(7300200 + index))
    due = (await entries(vault, result.case_id, outbox.DEADLINE_DUE))[0]
    clock.current = due.due_at + timedelta(minutes=1)
    assert await followup.check_deadline(vault, entry=due) == "escalated"
    # The server could not know yet (the names are sealed): both were told, both see the case.
    assert set(await notices_for(vault, result.case_id)) == {late.id, lena.id}

    await casework.open_case(vault, officer=alice, reference=result.reference)

    async with vault.db.reading() as session:
        pending = (
            await session.exec(
                select(OutboxEntry).where(
                    OutboxEntry.case_id == result.case_id, OutboxEntry.kind == followup.OFFICER_NOTICE
                )
            )
        ).all()
    status = {int(e.detail["officer"]): e.status for e in pending}
    assert status == {late.id: "cancelled", lena.id: "pending"}
    assert (await queue_view.page(vault, officer_id=late.id)).rows == ()
    assert [r.reference for r in (await queue_view.page(vault, officer_id=lena.id)).rows] == [
        result.reference
    ]
    assert await casework.grant_escalation(
        vault, officer=alice, reference=result.reference, queue_id="psd-lead"
    ) == ("lena",)
    # Later notices leave them out too.
    warning = next(
        e
        for e in await entries(vault, result.case_id, outbox.DEADLINE_WARNING)
        if e.detail.get("deadline") == "feedback"
    )
    clock.current = warning.due_at
    assert await followup.check_deadline(vault, entry=warning) == "warned"
    assert late.id not in {
        int(e.detail["officer"])
        for e in await entries(vault, result.case_id, followup.OFFICER_NOTICE)
        if e.status == "pending"
    }


def test_notices_are_the_kind_the_conflict_rule_cancels() -> None:
    assert conflicts.NOTICE_KIND == followup.OFFICER_NOTICE


async def test_queue_pages_skip_a_case_the_officer_is_conflicted_out_of_without_losing_others(
    vault: Vault, alice: UnlockedOfficer, make_officer: Any
) -> None:
    kim = await make_officer("kim", queues=("psd-conduct",), unit="training")
    first = await cases.submit(vault, report=the_report(subjects=()))
    named = await cases.submit(
        vault, report=the_report(subjects=(cases.Person(name="K. Officer", staff_number="KM4321"),))
    )
    last = await cases.submit(vault, report=the_report(subjects=()))
    # kim was wrapped the case that names them (the reporter's writing was not matched then); a later
    # match widens its conflict record, as opening or granting it does.
    async with vault.db.transaction() as session:
        case = await session.get(Case, named.case_id)
        assert case is not None
        await conflicts.widen(
            session,
            vault.keys.relay,
            case,
            conflicts.Conflicts(frozenset({kim.id}), frozenset()),
            lookup_key=vault.keys.lookup_key,
        )

    seen, cursor = [], None
    while True:
        page = await queue_view.page(vault, officer_id=kim.id, limit=1, cursor=cursor)
        seen += [row.reference for row in page.rows]
        if page.next_cursor is None:
            break
        cursor = page.next_cursor
    assert sorted(seen) == sorted([first.reference, last.reference])
    assert sorted(c.reference for c in await casework.list_entitled(vault, officer=kim)) == sorted(seen)
    with pytest.raises(NotEntitledError):
        await casework.open_case(vault, officer=kim, reference=named.reference)
