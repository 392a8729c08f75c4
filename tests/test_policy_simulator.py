"""Tests for the simulator: how a candidate policy would re-route past cases, from metadata only."""

from __future__ import annotations

import pytest

from policies import PastCase, PolicyDocument, ReportFacts, load_policy, route, simulate, starter_policy_text


@pytest.fixture(scope="module")
def current() -> PolicyDocument:
    return load_policy(starter_policy_text())


def past(doc: PolicyDocument, reference: str, facts: ReportFacts) -> PastCase:
    decision = route(doc, facts)
    return PastCase(reference=reference, facts=facts, queues=decision.queues, priority=decision.priority)


def cases_for(doc: PolicyDocument) -> list[PastCase]:
    return [
        past(doc, "C-001", ReportFacts(categories=frozenset({"bullying"}))),
        past(doc, "C-002", ReportFacts(categories=frozenset({"corruption"}))),
        past(doc, "C-003", ReportFacts(categories=frozenset({"racism"}))),
        past(
            doc,
            "C-004",
            ReportFacts(categories=frozenset({"other"}), subject_units=frozenset({"professional-standards"})),
        ),
    ]


def test_same_policy_changes_nothing(current: PolicyDocument) -> None:
    result = simulate(current, cases_for(current))
    assert result.total == 4
    assert result.changed == ()
    assert result.unchanged == 4
    summary = result.summary()
    assert summary.startswith("4 past cases checked: 0 would be routed differently, 4 unchanged.")
    assert "would not change" in summary


def test_changing_a_rule_moves_a_past_case(current: PolicyDocument) -> None:
    # The candidate sends corruption to PSD conduct instead of counter-corruption.
    candidate = load_policy(
        starter_policy_text().replace(
            "      queues: [psd-counter-corruption]\n    final: true",
            "      queues: [psd-conduct]\n    final: true",
        )
    )
    result = simulate(candidate, cases_for(current))
    assert result.total == 4
    assert result.unchanged == 3
    assert len(result.changed) == 1
    change = result.changed[0]
    assert change.reference == "C-002"
    assert change.before_queues == ("psd-counter-corruption",)
    assert change.after_queues == ("psd-conduct",)
    assert change.added_queues == ("psd-conduct",)
    assert change.removed_queues == ("psd-counter-corruption",)
    # The corruption flag rule (above the routing rule) still sets priority high under both.
    assert change.before_priority == change.after_priority == "high"
    assert change.after_rules == ("corruption", "counter-corruption")

    summary = result.summary()
    assert "4 past cases checked: 1 would be routed differently, 3 unchanged." in summary
    assert "C-002: would go to psd-conduct instead of psd-counter-corruption" in summary
    assert "Queue psd-conduct would receive 1 case more." in summary
    assert "Queue psd-counter-corruption would receive 1 case fewer." in summary
    assert "C-001" not in summary


def test_priority_change_is_reported(current: PolicyDocument) -> None:
    candidate = load_policy(
        starter_policy_text().replace(
            "    route:\n      priority: high\n      flags: [iopc",
            "    route:\n      priority: urgent\n      flags: [iopc",
            1,
        )
    )
    result = simulate(candidate, cases_for(current))
    assert [c.reference for c in result.changed] == ["C-003"]
    change = result.changed[0]
    assert (change.before_priority, change.after_priority) == ("high", "urgent")
    assert change.added_queues == change.removed_queues == ()
    assert "C-003: priority would rise from high to urgent" in result.summary()
    assert "would go to" not in result.summary()


def test_lower_priority_is_reported_as_a_fall(current: PolicyDocument) -> None:
    case = PastCase("C-9", ReportFacts(categories=frozenset({"bullying"})), ("psd-conduct",), "urgent")
    result = simulate(current, [case])
    assert "priority would fall from urgent to normal" in result.summary()


def test_order_of_queues_alone_is_not_a_change(current: PolicyDocument) -> None:
    facts = ReportFacts(categories=frozenset({"bullying"}))
    decision = route(current, facts)
    case = PastCase("C-1", facts, tuple(reversed(decision.queues)), decision.priority)
    assert simulate(current, [case]).changed == ()


def test_cases_from_a_generator_and_no_cases(current: PolicyDocument) -> None:
    result = simulate(current, (c for c in cases_for(current)))
    assert result.total == 4
    empty = simulate(current, [])
    assert (empty.total, empty.unchanged, empty.changed) == (0, 0, ())
    assert "no past cases" in empty.summary()
