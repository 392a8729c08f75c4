"""The conflict rule on the oversight paths (issue 9, point 1; promise 3): the dashboard and the audit log.

The dashboard shows exact counts from 5 up, so a subject watching their unit's cell (or the total, a
rate, the median) move when a report arrives would learn of it. Each viewer's figures are counted over the
cases they are not conflicted out of: a report naming them, or about their unit, leaves every figure they
see as it was, while an unconflicted viewer's figures move (so the path was exercised). Officers without a
unit, and officers matched only after the report was made, are left out by the case's blind marks.

The audit log shows no case-bound entry's reference or detail in its list, for every case alike, and shows
one case whole on request, logged; a conflicted auditor asking for their case gets the answer given for a
case that does not exist, and leaves no entry.
"""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from typing import Any

import pytest
from fastapi import FastAPI
from sqlmodel import select

from candour.app import desk_config
from desk.app import build_app
from storage import audit_view, cases, casework, conflicts
from storage.clock import ManualClock
from storage.models import AuditEntry, CaseConflictMark, Officer
from storage.officers import UnlockedOfficer
from storage.vault import Vault
from tests.desk_world import DeskClient, client_for, enrol, give_password

LEAD = ("standards-officer", "queue-lead")


@pytest.fixture
def desk_app(vault: Vault, settings: Any) -> FastAPI:
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
        return client

    yield sign_in
    for client in clients:
        await client.http.aclose()


def report(*subjects: cases.Person, category: str = "bullying") -> cases.ReportSubmission:
    return cases.ReportSubmission(categories=(category,), narrative="He shouts at me.", subjects=subjects)


async def seen(client: DeskClient) -> dict[str, Any]:
    """Everything a viewer's dashboard shows, cells by label."""
    response = await client.get("/api/dashboard")
    assert response.status_code == 200, response.text
    data = response.json()
    for key in ("by_category", "by_unit", "by_month"):
        data[key] = {c["label"]: c["count"] for c in data[key]}
    return data


async def test_a_report_about_the_viewer_or_their_unit_moves_nothing_on_their_dashboard(
    vault: Vault, make_officer: Any, alice: UnlockedOfficer, signed_in: Any
) -> None:
    await make_officer("sam", unit="north-bcu", display_name="Sam Subject", staff_number="NB1234", roles=LEAD)
    await make_officer("nora", unit="north-bcu", roles=LEAD)
    await make_officer("uma", display_name="Uma Nounit", staff_number="UN5555", roles=LEAD)  # no unit
    await make_officer("lena", unit="hr", roles=LEAD)
    # Five about north-bcu and five naming nobody, all acknowledged: every figure is shown exactly.
    for person in [cases.Person(name="someone", unit="north-bcu")] * 5 + [None] * 5:
        filed = await cases.submit(vault, report=report(*([person] if person else [])))
        await casework.change_status(vault, officer=alice, reference=filed.reference, status="acknowledged")
    desks = {login: await signed_in(login) for login in ("sam", "nora", "uma", "lena")}
    before = {login: await seen(client) for login, client in desks.items()}
    assert before["lena"]["by_unit"]["north-bcu"] == "5" and before["lena"]["cases"] == "10"
    assert before["lena"]["acknowledged_in_time"] == {"percent": 100, "cases": "10"}
    # Sam and Nora are conflicted out of the north-bcu cases already: their unit reads "<5" always.
    assert before["sam"]["by_unit"]["north-bcu"] == "<5" and before["sam"]["cases"] == "5"

    about_sam = await cases.submit(
        vault, report=report(cases.Person(name="Sam Subject", staff_number="NB1234"))
    )
    await casework.change_status(vault, officer=alice, reference=about_sam.reference, status="acknowledged")
    after = {login: await seen(client) for login, client in desks.items()}
    assert after["sam"] == before["sam"] and after["nora"] == before["nora"]
    # An unconflicted viewer sees it: the cell, the total and the rate all moved.
    assert after["lena"]["by_unit"]["north-bcu"] == "6" and after["lena"]["cases"] == "11"
    assert after["lena"]["acknowledged_in_time"] == {"percent": 100, "cases": "11"}
    assert after["uma"]["cases"] == "11"

    # Uma has no unit: only the case's blind mark leaves it out of her figures.
    about_uma = await cases.submit(
        vault, report=report(cases.Person(name="Uma Nounit", staff_number="UN5555"))
    )
    await casework.change_status(vault, officer=alice, reference=about_uma.reference, status="acknowledged")
    final = {login: await seen(client) for login, client in desks.items()}
    assert final["uma"] == after["uma"]
    assert final["lena"]["cases"] == "12" and final["lena"]["by_unit"]["not given"] == "6"
    assert final["sam"]["cases"] == "6" and final["sam"]["by_unit"]["not given"] == "6"


async def test_a_subject_matched_late_drops_out_of_the_figures_with_their_unit(
    vault: Vault, make_officer: Any, alice: UnlockedOfficer, signed_in: Any
) -> None:
    for _ in range(6):
        await cases.submit(vault, report=report())
    late_case = await cases.submit(vault, report=report(cases.Person(name="Lee Late", staff_number="NB7777")))
    await make_officer("late", unit="training", display_name="Lee Late", staff_number="NB7777", roles=LEAD)
    await make_officer("tess", unit="training", roles=LEAD)
    await make_officer("lena", unit="hr", roles=LEAD)
    desks = {login: await signed_in(login) for login in ("late", "tess", "lena")}
    # The server could not know yet (the names are sealed): everyone counts seven.
    assert {login: (await seen(client))["cases"] for login, client in desks.items()} == dict.fromkeys(
        desks, "7"
    )

    # Opening the case matches the names again: the officer and their unit are marked on the case.
    await casework.open_case(vault, officer=alice, reference=late_case.reference)
    counts = {login: (await seen(client))["cases"] for login, client in desks.items()}
    assert counts == {"late": "6", "tess": "6", "lena": "7"}


async def test_blind_marks_are_padded_keyed_and_bucketed(vault: Vault, make_officer: Any) -> None:
    sam = await make_officer("sam", unit="north-bcu", display_name="Sam Subject", staff_number="NB1234")
    named = [
        await cases.submit(vault, report=report(cases.Person(name="Sam Subject", staff_number="NB1234")))
        for _ in range(3)
    ]
    unnamed = await cases.submit(vault, report=report())
    async with vault.db.reading() as session:
        rows = (await session.exec(select(CaseConflictMark))).all()
    marks: dict[str, set[bytes]] = {}
    for row in rows:
        marks.setdefault(row.case_id, set()).add(row.mark)
    # As many marks for a case naming an officer as for one naming nobody (random ones pad it).
    assert {len(m) for m in marks.values()} == {2} and set(marks) == {r.case_id for r in (*named, unnamed)}
    officer = await _officer(vault, sam.id)
    mine = set(conflicts.viewer_marks(vault.keys.lookup_key, officer))
    real = {r.case_id: marks[r.case_id] & mine for r in named}
    assert all(len(m) == 1 for m in real.values()) and not marks[unnamed.case_id] & mine
    # Two cases naming one officer share a mark only if they share a bucket.
    for first in named:
        for second in named:
            same_bucket = conflicts._bucket(vault.keys.lookup_key, first.case_id) == conflicts._bucket(
                vault.keys.lookup_key, second.case_id
            )
            assert (real[first.case_id] == real[second.case_id]) == same_bucket


async def _officer(vault: Vault, officer_id: int) -> Officer:
    async with vault.db.reading() as session:
        found = await session.get(Officer, officer_id)
    assert found is not None
    return found


async def test_every_case_bound_entry_is_withheld_and_a_conflicted_auditor_cannot_reveal_theirs(
    vault: Vault, make_officer: Any, alice: UnlockedOfficer, signed_in: Any, engine_name: str
) -> None:
    await make_officer(
        "ann", unit="north-bcu", display_name="Ann Auditor", staff_number="AU999", roles=("auditor",)
    )
    await make_officer("ola", unit="north-bcu", roles=("auditor",))
    await make_officer("carl", unit="hr", roles=("auditor",))
    about_ann = await cases.submit(
        vault, report=report(cases.Person(name="Ann Auditor", staff_number="AU999"), category="racism")
    )
    other = await cases.submit(vault, report=report())
    for filed in (about_ann, other):
        await casework.open_case(vault, officer=alice, reference=filed.reference)
    ann, ola, carl = [await signed_in(login) for login in ("ann", "ola", "carl")]

    # The list: every entry bound to a case, whichever, shows no reference and no detail.
    listing = await ann.get("/api/audit?limit=500")
    entries = listing.json()["entries"]
    bound = [e for e in entries if e["action"].startswith("case.")]
    assert {e["action"] for e in bound} == {"case.submitted", "case.opened"} and len(bound) == 4
    assert all(e["withheld"] and e["reference"] is None and e["detail"] == {} for e in bound)
    page = await ann.get("/audit")
    assert page.text.count('class="detail withheld"') == len(bound) and "Reveal this case" in page.text
    for text in (listing.text, page.text):
        assert about_ann.reference not in text and other.reference not in text

    # A conflicted auditor (named, or of the subject's unit) is answered as for no such case, and the
    # attempt is logged the same way for both, bound to no case.
    shown_before = await _count(vault, audit_view.REVEALED)
    refused_before = await _refusals(vault)
    absent = await ann.post("/api/audit/case", {"reference": "CN-ZZZZZZZZ"})
    assert absent.status_code == 404
    for viewer in (ann, ola):
        refused = await viewer.post("/api/audit/case", {"reference": about_ann.reference})
        assert (refused.status_code, refused.json()) == (404, absent.json())
        refused_page = await viewer.form("/audit/case", {"reference": about_ann.reference})
        absent_page = await viewer.form("/audit/case", {"reference": "CN-ZZZZZZZZ"})
        assert refused_page.status_code == absent_page.status_code == 404
        assert _main(refused_page.text) == _main(absent_page.text)
    assert await _count(vault, audit_view.REVEALED) == shown_before
    refusals = await _refusals(vault)
    assert (
        refusals[len(refused_before) :] == [("officer:ann", None, {})] * 4 + [("officer:ola", None, {})] * 3
    )
    # Ann may still see a case she is not conflicted out of, as anyone may.
    assert (await ann.post("/api/audit/case", {"reference": other.reference})).status_code == 200

    # An unconflicted auditor reveals the case, and the look is logged as its own entry of the case.
    revealed = await carl.form("/audit/case", {"reference": about_ann.reference.lower()})
    assert revealed.status_code == 200 and about_ann.reference in revealed.text
    full = (await carl.post("/api/audit/case", {"reference": about_ann.reference})).json()
    submitted = next(e for e in full["entries"] if e["action"] == "case.submitted")
    assert submitted["detail"]["queues"] == ["psd-conduct"] and not submitted["withheld"]
    assert [e["actor"] for e in full["entries"][:2]] == ["officer:carl", "officer:carl"]
    assert await _count(vault, audit_view.REVEALED) == shown_before + 3
    # The chain holds, on the desk and as `candour audit verify` checks it.
    assert (await carl.get("/api/audit/verify")).json()["ok"] is True


async def _count(vault: Vault, action: str) -> int:
    async with vault.db.reading() as session:
        return len((await session.exec(select(AuditEntry).where(AuditEntry.action == action))).all())


async def _refusals(vault: Vault) -> list[tuple[str, str | None, dict[str, Any]]]:
    async with vault.db.reading() as session:
        found = (
            await session.exec(
                select(AuditEntry).where(AuditEntry.action == audit_view.REFUSED).order_by(AuditEntry.seq)
            )
        ).all()
    return [(e.actor, e.case_id, dict(e.detail)) for e in found]


def _main(html: str) -> str:
    """A page's main content, without the per-session CSRF token."""
    return re.sub(r'value="[^"]*"', "", html.split("<main", 1)[-1])
