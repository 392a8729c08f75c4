"""The desk's side of follow-up, on SQLite and PostgreSQL: an officer makes a Telegram link code (shown
once, CSRF-protected) that the bot redeems; the queue shows retaliation and escalated flags; a case
escalated to a queue whose members hold no key yet shows there as "escalated, access pending" with
metadata only; and an entitled officer grants the escalation queue from the case view."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator

import pytest
from fastapi import FastAPI
from sqlmodel import col, select

from candour.app import desk_config
from desk.app import build_app
from storage import casework, followup, links, outbox
from storage.errors import InputError
from storage.models import AuditEntry, Case, CaseKey, OutboxEntry
from storage.vault import Vault
from tests.desk_world import DeskClient
from tests.test_desk_api import actions, signed_in, submit

CODE = re.compile(r"^[A-Z0-9]{5}-[A-Z0-9]{5}$")


@pytest.fixture
def desk_app(vault: Vault, settings) -> FastAPI:
    return build_app(vault, desk_config(settings))


@pytest.fixture
async def clients(desk_app: FastAPI) -> AsyncIterator[list[DeskClient]]:
    made: list[DeskClient] = []
    yield made
    for client in made:
        await client.http.aclose()


async def test_link_code_from_the_api_and_the_page_redeems_once(
    vault: Vault, desk_app, clock, clients, make_officer
) -> None:
    await make_officer("carol", queues=("psd-conduct",), unit="professional-standards")
    carol = await signed_in(desk_app, vault, clock, clients, "carol", unlock=False)

    refused = await carol.http.post("/api/account/telegram-link", headers={"X-CSRF-Token": "wrong"})
    assert refused.status_code == 403
    made = await carol.post("/api/account/telegram-link")
    assert made.status_code == 200, made.text
    body = made.json()
    assert CODE.match(body["code"])
    assert f"/link {body['code']}" in body["instruction"]
    assert "work account only" in body["warning"] and "never one you would use to report" in body["warning"]

    page = await carol.get("/account/telegram")
    assert page.status_code == 200 and "never one you would use to report" in page.text
    assert (await carol.http.post("/account/telegram", data={"csrf_token": "wrong"})).status_code == 403
    shown = await carol.form("/account/telegram", {})
    assert shown.status_code == 200
    page_code = re.search(r'class="secret link-code">([A-Z0-9-]+)<', shown.text).group(1)
    assert CODE.match(page_code) and f"/link {page_code}" in shown.text

    # A newer code replaces the older one.
    with pytest.raises(links.LinkCodeError):
        await links.redeem(vault, code=body["code"], chat="5550001")
    assert await links.redeem(vault, code=page_code, chat="5550001") == "carol"
    with pytest.raises(links.LinkCodeError):
        await links.redeem(vault, code=page_code, chat="5550001")
    assert await followup.officer_chat(vault, officer_id=carol_id(desk_app, carol)) == "5550001"
    done = await actions(vault)
    assert done.count("officer.link-code") == 2 and "officer.linked" in done


def carol_id(desk_app: FastAPI, client: DeskClient) -> int:
    token = client.http.cookies.get(desk_app.state.desk.cookies.session)
    return desk_app.state.desk.sessions.get(token).officer_id


async def _escalate_by_retaliation(vault: Vault, result, clock) -> None:
    """Answer a check-in with 'retaliation' as the reporter's chat would."""
    async with vault.db.transaction() as session:
        entry = (
            await session.exec(
                select(OutboxEntry)
                .where(OutboxEntry.case_id == result.case_id, OutboxEntry.kind == outbox.CHECKIN)
                .order_by(col(OutboxEntry.due_at))
            )
        ).first()
        entry.status = "sent"
        session.add(entry)
        entry_id = entry.id
    answer = await followup.answer_checkin(vault, entry_id=entry_id, chat="chat-9", answer="retaliation")
    assert answer.escalated


async def _escalation_queue(vault: Vault, case_id: str) -> str:
    async with vault.db.reading() as session:
        case = await session.get(Case, case_id)
    assert case.escalation_queue
    return case.escalation_queue


async def test_escalation_shows_flags_pending_access_and_the_grant(
    vault: Vault, desk_app, clock, clients, make_officer
) -> None:
    await make_officer("carol", queues=("psd-conduct",), unit="professional-standards")
    result = await submit(vault, checkin_consent=True)
    target = await _escalation_queue(vault, result.case_id)
    assert target != "psd-conduct"
    await make_officer("erin", queues=(target,), unit="professional-standards")
    await _escalate_by_retaliation(vault, result, clock)
    carol = await signed_in(desk_app, vault, clock, clients, "carol")
    erin = await signed_in(desk_app, vault, clock, clients, "erin")

    row = (await carol.get("/api/cases")).json()["cases"][0]
    assert {"retaliation", "escalated"} <= set(row["flags"]) and row["access"] == "open"
    queue = await carol.get("/queue")
    assert 'class="tag flag-retaliation"' in queue.text and 'class="tag flag-escalated"' in queue.text

    # Erin's queue shows the case, metadata only, and she still cannot open it.
    pending = (await erin.get("/api/cases")).json()["cases"]
    assert [(c["reference"], c["access"]) for c in pending] == [(result.reference, "pending")]
    assert pending[0]["categories"] == ["bullying"] and "escalated" in pending[0]["flags"]
    erin_page = await erin.get("/queue")
    assert "escalated, access pending" in erin_page.text
    assert f'href="/cases/{result.reference}"' not in erin_page.text
    assert (await erin.get(f"/api/cases/{result.reference}")).status_code == 404
    assert (await erin.get(f"/api/cases/{result.reference}/export.zip")).status_code == 404

    # Carol's case view offers the grant; granting opens the case to Erin.
    case_page = await carol.get(f"/cases/{result.reference}")
    assert f'action="/cases/{result.reference}/escalation"' in case_page.text and target in case_page.text
    assert (await carol.get(f"/api/cases/{result.reference}")).json()["pending_escalations"] == [target]
    granted = await carol.form(f"/cases/{result.reference}/escalation", {"queue": target})
    assert granted.status_code == 303
    assert (await erin.get(f"/api/cases/{result.reference}")).status_code == 200
    assert (await erin.get("/api/cases")).json()["cases"][0]["access"] == "open"
    assert (await carol.get(f"/api/cases/{result.reference}")).json()["pending_escalations"] == []
    assert "/escalation" not in (await carol.get(f"/cases/{result.reference}")).text
    async with vault.db.reading() as session:
        entry = (
            await session.exec(select(AuditEntry).where(AuditEntry.action == "case.escalation-granted"))
        ).one()
    assert entry.actor == "officer:carol" and entry.detail == {"queue": target, "granted": ["erin"]}

    again = await carol.post(f"/api/cases/{result.reference}/escalation", {"queue": target})
    assert again.status_code == 200 and again.json()["detail"]["granted"] == []


async def test_escalation_grant_refuses_a_queue_not_escalated_to(
    vault: Vault, desk_app, clock, clients, make_officer, alice
) -> None:
    await make_officer("carol", queues=("psd-conduct",), unit="professional-standards")
    result = await submit(vault)
    carol = await signed_in(desk_app, vault, clock, clients, "carol")
    refused = await carol.post(f"/api/cases/{result.reference}/escalation", {"queue": "psd-conduct"})
    assert refused.status_code == 400
    with pytest.raises(InputError):
        await casework.grant_escalation(vault, officer=alice, reference=result.reference, queue_id="nowhere")
    async with vault.db.reading() as session:
        keys = (await session.exec(select(CaseKey.officer_id).where(CaseKey.case_id == result.case_id))).all()
    assert "case.escalation-granted" not in await actions(vault) and len(keys) >= 2
