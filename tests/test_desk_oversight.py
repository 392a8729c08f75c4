"""The auditor's view of the audit log (chain verified on screen, agreeing with `candour audit verify`)
and the dashboard, whose small numbers are suppressed so no figure points at a reporter."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from fastapi import FastAPI
from sqlalchemy import text

from candour.app import desk_config
from desk.app import build_app
from storage import audit, cases, casework, dashboard
from storage.officers import UnlockedOfficer
from storage.vault import Vault
from tests.desk_world import DeskClient, client_for, enrol, give_password
from tests.test_audit import _drop_triggers


@pytest.fixture
def desk_app(vault: Vault, settings) -> FastAPI:
    return build_app(vault, desk_config(settings))


@pytest.fixture
async def signed_in(desk_app: FastAPI, vault: Vault, clock) -> AsyncIterator:
    clients: list[DeskClient] = []

    async def sign_in(login: str) -> DeskClient:
        await give_password(vault, login)
        client = client_for(desk_app)
        clients.append(client)
        assert (await client.sign_in(login)).status_code == 200
        await enrol(vault, client, clock)
        return client

    yield sign_in
    for client in clients:
        await client.http.aclose()


def test_suppression_hides_small_cells_and_one_more_beside_a_lone_one() -> None:
    cells = {c.label: c.shown for c in dashboard.suppress({"bullying": 7, "harassment": 6, "racism": 2})}
    assert cells == {"bullying": "7", "harassment": "<5", "racism": "<5"}
    assert {c.label: c.shown for c in dashboard.suppress({"a": 9, "b": 3, "c": 1})} == {
        "a": "9",
        "b": "<5",
        "c": "<5",
    }
    assert [c.shown for c in dashboard.suppress({"a": 4})] == ["<5"]
    assert [c.shown for c in dashboard.suppress({"a": 5, "b": 8})] == ["8", "5"]


async def test_dashboard_counts_from_metadata_with_small_numbers_suppressed(
    vault: Vault, signed_in, make_officer, alice: UnlockedOfficer
) -> None:
    refs = []
    for category, count in (("bullying", 7), ("harassment", 6), ("racism", 2)):
        for index in range(count):
            result = await cases.submit(
                vault, report=cases.ReportSubmission(categories=(category,), narrative=f"{category} {index}")
            )
            refs.append(result.reference)
    for ref in refs[:6]:
        await casework.change_status(vault, officer=alice, reference=ref, status="acknowledged")

    lead = await signed_in("alice")
    data = (await lead.get("/api/dashboard")).json()
    assert data["cases"] == "15"
    # Every category, unit and recent month is listed, cases or none: a cell never appears for one case.
    shown = {c["label"]: c["count"] for c in data["by_category"] if c["count"] != "<5"}
    assert shown == {"bullying": "7", "harassment": "6"} and {"racism", "corruption"} <= {
        c["label"] for c in data["by_category"]
    }
    assert [c for c in data["by_unit"] if c["count"] != "<5"] == [{"label": "not given", "count": "15"}]
    assert {"north-bcu", "professional-standards"} <= {c["label"] for c in data["by_unit"]}
    assert [c for c in data["by_month"] if c["count"] != "<5"] == [{"label": "2026-01", "count": "15"}]
    # Six acknowledged, none late, nine not yet due: 100% of 6.
    assert data["acknowledged_in_time"] == {"percent": 100, "cases": "6"}
    assert data["feedback_in_time"] == {"percent": None, "cases": "<5"}
    assert data["median_hours_to_acknowledge"] == 0.0
    page = await lead.get("/dashboard")
    assert page.status_code == 200 and "<svg" in page.text and "Reports by category" in page.text
    # The policy's own name for the category, not its id.
    assert ">Racism or race discrimination<" in page.text and ">racism<" not in page.text
    assert ">7</text>" in page.text and "style=" not in page.text

    await make_officer("ann", roles=("standards-officer",))
    officer = await signed_in("ann")
    assert (await officer.get("/api/dashboard")).status_code == 403


async def test_dashboard_of_a_few_cases_shows_no_number(vault: Vault, signed_in) -> None:
    for index in range(3):
        await cases.submit(
            vault, report=cases.ReportSubmission(categories=("racism",), narrative=f"r{index}")
        )
    data = (await (await signed_in("alice")).get("/api/dashboard")).json()
    assert data["cases"] == "<5"
    assert all(cell["count"] == "<5" for key in ("by_category", "by_unit", "by_month") for cell in data[key])


async def test_auditor_reads_the_log_and_sees_the_chain_verified(
    vault: Vault, signed_in, make_officer, alice: UnlockedOfficer, engine_name: str
) -> None:
    await make_officer("audrey", roles=("auditor",))
    result = await cases.submit(vault, report=cases.ReportSubmission(categories=("bullying",), narrative="n"))
    await casework.open_case(vault, officer=alice, reference=result.reference)
    auditor = await signed_in("audrey")

    newest = (await auditor.get("/api/audit?limit=3")).json()
    seqs = [e["seq"] for e in newest["entries"]]
    assert seqs == sorted(seqs, reverse=True) and len(seqs) == 3 and newest["next_before"] == seqs[-1]
    older = (await auditor.get(f"/api/audit?limit=500&before={newest['next_before']}")).json()
    assert older["entries"][0]["seq"] == seqs[-1] - 1 and older["next_before"] is None
    # Case-bound entries are withheld in the list; one case is shown whole on request, and that is logged.
    opened = (await auditor.get("/api/audit?action=case.opened")).json()
    assert [(e["actor"], e["reference"], e["detail"], e["withheld"]) for e in opened["entries"]] == [
        ("officer:alice", None, {}, True)
    ]
    shown = (await auditor.post("/api/audit/case", {"reference": result.reference})).json()
    assert shown["reference"] == result.reference
    assert [(e["action"], e["actor"], e["reference"]) for e in shown["entries"]][:3] == [
        ("audit.case-shown", "officer:audrey", result.reference),
        ("case.opened", "officer:alice", result.reference),
        ("case.submitted", "reporter", result.reference),
    ]
    assert shown["entries"][2]["detail"]["queues"] == ["psd-conduct"]
    assert (await auditor.get("/api/audit?action=DROP TABLE")).status_code == 400

    chain = (await auditor.get("/api/audit/verify")).json()
    async with vault.db.reading() as session:
        cli_view = await audit.verify(session)
    assert chain["ok"] and chain["entries"] == cli_view.entries and chain["head_hash"] == cli_view.head_hash
    page = await auditor.get("/audit")
    assert "Chain verified" in page.text and cli_view.head_hash in page.text

    await _drop_triggers(vault)
    async with vault.db.transaction() as session:
        await session.exec(text("UPDATE audit_log SET actor = 'officer:nobody' WHERE seq = 3"))
    broken = (await auditor.get("/api/audit/verify")).json()
    assert broken["ok"] is False and broken["first_broken"] == 3
    page = await auditor.get("/audit")
    assert "Chain BROKEN at entry 3" in page.text

    lead = await signed_in("alice")  # every role, auditor included: alice sees it too
    assert (await lead.get("/api/audit")).status_code == 200
    await make_officer("sam", roles=("standards-officer", "queue-lead"))
    assert (await (await signed_in("sam")).get("/api/audit")).status_code == 403
