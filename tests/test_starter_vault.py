"""The starter policy on a live installation, on both engines (issue 11, section 3): reports submitted
through the vault land where professional standards would put them, the keys go only to those queues'
unconflicted members, the simulator previews the move from the older routing, and a policy published
before deadlines in hours and the legal framework existed still loads, validates and routes."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from sqlmodel import select

from policies import starter_policy_text
from policies.engine import prompts_for
from storage import cases, policy_store
from storage.models import Case, CaseKey, PolicyVersion
from storage.officers import UnlockedOfficer
from storage.vault import Vault


def without_local_rules(text: str) -> str:
    """The starter as it routed before local queues took reports: the four low-level rules removed."""
    start = text.index("  - id: low-level-about-north-bcu")
    end = text.index("  - id: catch-all")
    return text[:start] + text[end:]


def older_style(text: str) -> str:
    """The starter written as before this change: no legal_framework, day deadlines, no prompts."""
    start = text.index("\nlegal_framework:")
    text = text[:start] + "\n" + text[text.index("\ndefaults:", start) + 1 :]
    text = text.replace("acknowledge_within_hours: 4", "acknowledge_within_days: 1")
    kept, skipping = [], False
    for line in text.splitlines(keepends=True):
        if line.startswith("      prompt:"):
            skipping = True
            continue
        if skipping and line.startswith("        "):
            continue
        skipping = False
        kept.append(line)
    return "".join(kept)


async def key_holders(vault: Vault, case_id: str) -> set[int]:
    async with vault.db.reading() as session:
        rows = (await session.exec(select(CaseKey.officer_id).where(CaseKey.case_id == case_id))).all()
    return {r for r in rows if r is not None}


async def stored(vault: Vault, case_id: str) -> Case:
    async with vault.db.reading() as session:
        case = await session.get(Case, case_id)
        assert case is not None
        return case


def report(*categories: str, **extra: Any) -> cases.ReportSubmission:
    return cases.ReportSubmission(
        categories=categories, narrative="What happened, in the reporter's words.", **extra
    )


async def test_abuse_of_position_reaches_counter_corruption_only_with_the_iopc_flag(
    vault: Vault, alice: UnlockedOfficer, make_officer: Any
) -> None:
    conduct = await make_officer("connie", queues=("psd-conduct",), unit="professional-standards")
    counter = await make_officer("cole", queues=("psd-counter-corruption",), unit="professional-standards")
    result = await cases.submit(vault, report=report("abuse-of-position"))
    assert result.queues == ("psd-counter-corruption",)
    case = await stored(vault, result.case_id)
    assert {"iopc-referral-assessment", "serious-corruption"} <= set(case.flags)
    assert case.priority == "high"
    holders = await key_holders(vault, result.case_id)
    assert counter.id in holders and conduct.id not in holders


async def test_domestic_abuse_is_marked_for_safeguarding_with_a_prompt_for_the_victims_safety(
    vault: Vault, alice: UnlockedOfficer
) -> None:
    result = await cases.submit(vault, report=report("domestic-abuse"))
    case = await stored(vault, result.case_id)
    assert {"safeguarding", "iopc-referral-assessment"} <= set(case.flags)
    async with vault.db.reading() as session:
        document = (await policy_store.get_version(session, version=case.policy_version)).document
    (prompt,) = prompts_for(document, case.matched_rules)
    assert "victim's safety" in prompt


async def test_a_report_about_a_bcu_never_reaches_its_own_local_queue(
    vault: Vault, alice: UnlockedOfficer, make_officer: Any
) -> None:
    north = await make_officer("nell", queues=("north-bcu-standards",), unit="north-bcu")
    south = await make_officer("sid", queues=("south-bcu-standards",), unit="south-bcu")
    about_north = (cases.Person(name="Pat Person", unit="north-bcu"),)
    result = await cases.submit(vault, report=report("bullying", subjects=about_north, risk_of_harm=False))
    assert set(result.queues) == {"south-bcu-standards", "psd-conduct"}
    holders = await key_holders(vault, result.case_id)
    assert south.id in holders and north.id not in holders

    # A directory match puts the subject in north-bcu even when the reporter names no unit.
    await make_officer("dan", unit="north-bcu", staff_number="NB777", display_name="Dan Driver")
    named = (cases.Person(name="Dan Driver", staff_number="NB777"),)
    matched = await cases.submit(vault, report=report("harassment", subjects=named, risk_of_harm=False))
    assert "north-bcu-standards" not in matched.queues and "south-bcu-standards" in matched.queues
    assert north.id not in await key_holders(vault, matched.case_id)

    # About both paired units: neither local queue.
    both = (cases.Person(name="A", unit="north-bcu"), cases.Person(name="B", unit="south-bcu"))
    paired = await cases.submit(vault, report=report("bullying", subjects=both, risk_of_harm=False))
    assert paired.queues == ("psd-conduct",)
    assert not {north.id, south.id} & await key_holders(vault, paired.case_id)


async def test_the_simulator_previews_local_queues_from_the_older_routing(
    vault: Vault, alice: UnlockedOfficer
) -> None:
    text = starter_policy_text()
    await policy_store.publish(vault, text=without_local_rules(text), author="alice", note="before")
    ids = {}
    for unit in ("north-bcu", "east-bcu"):
        subjects = (cases.Person(name="Someone", unit=unit),)
        ids[unit] = (
            await cases.submit(vault, report=report("bullying", subjects=subjects, risk_of_harm=False))
        ).reference
    apsp = (await cases.submit(vault, report=report("abuse-of-position"))).reference
    result = await policy_store.simulate_candidate(vault, text=text)
    moved = {c.reference: c for c in result.changed}
    assert moved[ids["north-bcu"]].added_queues == ("south-bcu-standards",)
    assert moved[ids["east-bcu"]].added_queues == ("west-bcu-standards",)
    assert "north-bcu-standards" not in moved[ids["north-bcu"]].after_queues
    assert "east-bcu-standards" not in moved[ids["east-bcu"]].after_queues
    assert apsp not in moved  # already routed to counter-corruption by the same rules


async def test_a_policy_published_before_hours_and_frameworks_still_loads_and_routes(
    vault: Vault, alice: UnlockedOfficer
) -> None:
    old = await policy_store.publish(vault, text=older_style(starter_policy_text()), author="alice")
    assert old.document.legal_framework.profile == "eu-directive-2019-1937"
    result = await cases.submit(vault, report=report("bullying", risk_of_harm=True))
    case = await stored(vault, result.case_id)
    assert case.policy_version == old.version
    assert case.ack_due_at - case.received_at == timedelta(days=1)
    # Read back from the database as stored, the older text is still a valid document.
    async with vault.db.reading() as session:
        row = await session.get(PolicyVersion, old.version)
        assert row is not None
    assert (await policy_store.check(vault, text=row.document)).ok

    new = await policy_store.publish(vault, text=starter_policy_text(), author="alice")
    again = await stored(
        vault, (await cases.submit(vault, report=report("bullying", risk_of_harm=True))).case_id
    )
    assert again.policy_version == new.version
    assert again.ack_due_at - again.received_at == timedelta(hours=4)
