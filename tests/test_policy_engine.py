"""Tests for the routing engine, on the starter policy and on small hand-written documents."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest

from policies import (
    PolicyDocument,
    PolicyError,
    PolicyUnroutableError,
    ReportFacts,
    queue_conflicts,
    route,
    starter_policy,
)

PSD_QUEUES = {"psd-conduct", "psd-counter-corruption", "psd-lead"}


def make_doc(rules: list[dict[str, Any]], **overrides: Any) -> PolicyDocument:
    """Units a and b, queues qa (a), qa2 (a), qb (b), ext and ext2 (external); categories x, y, d."""
    data: dict[str, Any] = {
        "name": "test",
        "units": [{"id": "a", "name": "A"}, {"id": "b", "name": "B"}],
        "queues": [
            {"id": "qa", "name": "QA", "unit": "a"},
            {"id": "qa2", "name": "QA2", "unit": "a"},
            {"id": "qb", "name": "QB", "unit": "b"},
            {"id": "ext", "name": "External", "unit": None},
            {"id": "ext2", "name": "External 2", "unit": None},
        ],
        "categories": [
            {"id": "x", "label": "X"},
            {"id": "y", "label": "Y"},
            {"id": "d", "label": "D", "discrimination": True},
        ],
        "subject_roles": ["r1", "r2"],
        "rules": rules,
        "fallback_queues": ["ext"],
    }
    data.update(overrides)
    return PolicyDocument.model_validate(data)


def rule(
    rule_id: str, when: dict[str, Any] | None = None, final: bool = False, **route: Any
) -> dict[str, Any]:
    return {"id": rule_id, "when": when or {}, "route": route, "final": final}


def facts(*categories: str, **kwargs: Any) -> ReportFacts:
    return ReportFacts(categories=frozenset(categories), **kwargs)


# --- the starter policy ---------------------------------------------------------------------------


@pytest.fixture(scope="module")
def starter() -> PolicyDocument:
    return starter_policy()


def test_starter_ordinary_report_goes_to_psd_conduct_with_defaults(starter: PolicyDocument) -> None:
    decision = route(starter, facts("bullying", subject_units=frozenset({"north-bcu"})))
    assert decision.queues == ("psd-conduct",)
    assert decision.excluded_queues == ()
    assert decision.priority == "normal"
    assert decision.acknowledge_within == timedelta(days=7)
    assert decision.feedback_within == timedelta(days=90)
    assert decision.checkin_days == (7, 30, 90)
    assert decision.checkin_after_closure_days == (30,)
    assert decision.retention_days == 2190
    assert decision.escalation_queue == "psd-lead"
    assert decision.flags == ()
    assert decision.matched_rules == ("catch-all",)
    assert decision.used_fallback is False


def test_starter_report_about_psd_goes_only_to_independent_review(starter: PolicyDocument) -> None:
    decision = route(starter, facts("bullying", subject_units=frozenset({"professional-standards"})))
    assert decision.queues == ("independent-review",)
    assert set(decision.excluded_queues) >= PSD_QUEUES
    assert decision.escalation_queue == "independent-review"
    assert decision.matched_rules == ("about-psd",)


def test_starter_report_about_psd_keeps_flags_and_urgency(starter: PolicyDocument) -> None:
    decision = route(
        starter,
        facts("racism", "corruption", subject_units=frozenset({"professional-standards"}), risk_of_harm=True),
    )
    assert decision.queues == ("independent-review",)
    assert decision.priority == "urgent"
    assert decision.acknowledge_within == timedelta(hours=4)
    assert decision.flags == ("iopc-referral-assessment", "risk-of-harm")
    # about-psd is final: the counter-corruption rule below it must not add the counter-corruption queue,
    # but the corruption flag rule above it still applies.
    assert "counter-corruption" not in decision.matched_rules
    assert "corruption" in decision.matched_rules


@pytest.mark.parametrize(
    "kwargs",
    [
        {"subject_units": frozenset({"chief-officers"})},
        {"subject_roles": frozenset({"chief-officer"}), "subject_units": frozenset({"north-bcu"})},
    ],
)
def test_starter_report_about_chief_officers_goes_to_independent_review(
    starter: PolicyDocument, kwargs: dict[str, Any]
) -> None:
    decision = route(starter, facts("harassment", **kwargs))
    assert decision.queues == ("independent-review",)
    assert set(decision.excluded_queues) >= PSD_QUEUES
    assert decision.escalation_queue == "independent-review"


@pytest.mark.parametrize(
    "category", ["racism", "misogyny", "homophobia", "religious-discrimination", "disability-discrimination"]
)
def test_starter_discrimination_is_flagged_for_iopc_assessment(
    starter: PolicyDocument, category: str
) -> None:
    decision = route(starter, facts(category))
    assert decision.flags == ("iopc-referral-assessment",)
    assert decision.priority == "high"
    assert "discrimination" in decision.matched_rules
    assert decision.queues == ("psd-conduct",)


@pytest.mark.parametrize("category", ["sexual-harassment", "abuse-of-position", "domestic-abuse"])
def test_starter_sexual_misconduct_and_abuse_are_flagged(starter: PolicyDocument, category: str) -> None:
    decision = route(starter, facts(category))
    assert "iopc-referral-assessment" in decision.flags
    assert decision.priority == "high"
    assert "discrimination" not in decision.matched_rules


@pytest.mark.parametrize("category", ["bullying", "harassment", "other"])
def test_starter_plain_categories_are_not_flagged(starter: PolicyDocument, category: str) -> None:
    decision = route(starter, facts(category))
    assert decision.flags == ()
    assert decision.priority == "normal"


def test_starter_risk_of_harm_is_urgent_and_acknowledged_within_hours(starter: PolicyDocument) -> None:
    decision = route(starter, facts("bullying", risk_of_harm=True, ongoing=True))
    assert decision.priority == "urgent"
    assert decision.acknowledge_within == timedelta(hours=4)
    # Both rules set a check-in schedule; the later (risk-of-harm) one applies.
    assert decision.checkin_days == (1, 7, 30, 90)
    assert set(decision.flags) == {"risk-of-harm", "ongoing"}


@pytest.mark.parametrize("category", ["corruption", "misuse-of-systems"])
def test_starter_corruption_goes_to_counter_corruption_only(starter: PolicyDocument, category: str) -> None:
    decision = route(starter, facts(category, "bullying"))
    assert decision.queues == ("psd-counter-corruption",)
    assert "catch-all" not in decision.matched_rules


def test_starter_subjects_in_several_units_still_get_a_queue(starter: PolicyDocument) -> None:
    units = frozenset({"professional-standards", "chief-officers", "north-bcu"})
    decision = route(starter, facts("violence", subject_units=units))
    assert decision.queues == ("independent-review",)
    assert decision.escalation_queue == "independent-review"


# --- semantics, on small documents ----------------------------------------------------------------


def test_every_matching_rule_contributes_queues_in_order_of_first_appearance() -> None:
    doc = make_doc(
        [
            rule("one", {"categories_any": ["x"]}, queues=["qb", "ext"]),
            rule("skip", {"categories_any": ["y"]}, queues=["qa"]),
            rule("two", {}, queues=["ext2", "qb"]),
        ]
    )
    decision = route(doc, facts("x"))
    assert decision.queues == ("qb", "ext", "ext2")
    assert decision.matched_rules == ("one", "two")
    assert decision.used_fallback is False


def test_priority_is_the_highest_and_deadlines_the_shortest() -> None:
    doc = make_doc(
        [
            rule("a", priority="high", acknowledge_within_days=5, feedback_within_days=30, queues=["ext"]),
            rule("b", priority="low", acknowledge_within_days=2, feedback_within_days=60),
            rule("c", priority="normal", retention_days=4000),
            rule("d", retention_days=3000),
        ]
    )
    decision = route(doc, facts("x"))
    assert decision.priority == "high"
    assert decision.acknowledge_within == timedelta(days=2)
    assert decision.feedback_within == timedelta(days=30)
    assert decision.retention_days == 4000


def test_rule_values_replace_defaults_even_when_less_strict() -> None:
    doc = make_doc(
        [rule("a", queues=["ext"], priority="low", acknowledge_within_days=7, retention_days=10)],
        defaults={"priority": "high", "acknowledge_within_days": 3, "retention_days": 99},
    )
    decision = route(doc, facts("x"))
    assert (decision.priority, decision.acknowledge_within, decision.retention_days) == (
        "low",
        timedelta(days=7),
        10,
    )


def test_checkin_days_and_escalation_come_from_the_last_rule_that_sets_them() -> None:
    doc = make_doc(
        [
            rule("a", queues=["ext"], checkin_days=[1, 2], escalation="qb"),
            rule("b", checkin_days=[3, 4]),
            rule("c", escalation="ext2"),
            rule("d", flags=["z-flag"]),
        ],
        defaults={"checkin_days": [5], "escalation": "ext"},
    )
    decision = route(doc, facts("x"))
    assert decision.checkin_days == (3, 4)
    assert decision.escalation_queue == "ext2"


def test_defaults_apply_when_no_rule_sets_a_value() -> None:
    doc = make_doc(
        [rule("a", queues=["ext"])],
        defaults={
            "priority": "low",
            "acknowledge_within_days": 4,
            "feedback_within_days": 40,
            "checkin_days": [2, 9],
            "checkin_after_closure_days": [10, 20],
            "retention_days": 365,
            "escalation": "ext2",
        },
    )
    decision = route(doc, facts("x"))
    assert decision.priority == "low"
    assert decision.acknowledge_within == timedelta(days=4)
    assert decision.feedback_within == timedelta(days=40)
    assert decision.checkin_days == (2, 9)
    assert decision.checkin_after_closure_days == (10, 20)
    assert decision.retention_days == 365
    assert decision.escalation_queue == "ext2"


def test_flags_are_sorted_and_unique() -> None:
    doc = make_doc([rule("a", queues=["ext"], flags=["zeta", "alpha"]), rule("b", flags=["alpha", "mid"])])
    assert route(doc, facts("x")).flags == ("alpha", "mid", "zeta")


def test_a_matching_final_rule_stops_evaluation() -> None:
    doc = make_doc(
        [
            rule("first", {"categories_any": ["x"]}, final=True, queues=["qb"]),
            rule("later", {}, queues=["ext2"], priority="urgent"),
        ]
    )
    stopped = route(doc, facts("x"))
    assert stopped.queues == ("qb",)
    assert stopped.matched_rules == ("first",)
    assert stopped.priority == "normal"
    # A final rule that does not match stops nothing.
    carried_on = route(doc, facts("y"))
    assert carried_on.queues == ("ext2",)
    assert carried_on.matched_rules == ("later",)


def test_explicit_excludes_are_removed_and_recorded() -> None:
    doc = make_doc([rule("a", queues=["qa", "qb", "ext"]), rule("b", exclude=["qb", "ext2"])])
    decision = route(doc, facts("x"))
    assert decision.queues == ("qa", "ext")
    assert decision.excluded_queues == ("qb", "ext2")


def test_queues_of_the_subjects_units_are_removed_and_recorded() -> None:
    doc = make_doc([rule("a", queues=["qa", "qa2", "qb", "ext"])])
    decision = route(doc, facts("x", subject_units=frozenset({"a"})))
    assert decision.queues == ("qb", "ext")
    assert decision.excluded_queues == ("qa", "qa2")
    decision = route(doc, facts("x", subject_units=frozenset({"a", "b"})))
    assert decision.queues == ("ext",)
    assert decision.excluded_queues == ("qa", "qa2", "qb")


def test_unknown_subject_units_conflict_with_nothing() -> None:
    doc = make_doc([rule("a", queues=["qa"])])
    assert route(doc, facts("x", subject_units=frozenset({"elsewhere"}))).queues == ("qa",)


def test_fallback_takes_the_first_queue_not_of_a_subject_unit() -> None:
    doc = make_doc([rule("a", queues=["qa"])], fallback_queues=["qa2", "qb", "ext"])
    decision = route(doc, facts("x", subject_units=frozenset({"a"})))
    assert decision.queues == ("qb",)
    assert decision.used_fallback is True
    assert decision.excluded_queues == ("qa",)
    decision = route(doc, facts("x", subject_units=frozenset({"a", "b"})))
    assert decision.queues == ("ext",)
    assert decision.used_fallback is True


def test_fallback_is_used_when_no_rule_gives_a_queue() -> None:
    doc = make_doc([rule("a", {"categories_any": ["y"]}, queues=["qa"])], fallback_queues=["qa", "ext"])
    decision = route(doc, facts("x"))
    assert decision.queues == ("qa",)
    assert decision.used_fallback is True
    assert decision.matched_rules == ()


def test_fallback_prefers_a_queue_that_was_not_excluded() -> None:
    doc = make_doc([rule("a", exclude=["qa"])], fallback_queues=["qa", "ext"])
    decision = route(doc, facts("x"))
    assert decision.queues == ("ext",)
    assert decision.excluded_queues == ("qa",)


def test_fallback_overrides_an_exclusion_rather_than_leave_a_report_unrouted() -> None:
    doc = make_doc([rule("a", exclude=["ext"])], fallback_queues=["ext"])
    decision = route(doc, facts("x"))
    assert decision.queues == ("ext",)
    assert "ext" not in decision.excluded_queues


def test_conflicting_escalation_is_replaced_by_a_fallback_queue() -> None:
    doc = make_doc([rule("a", queues=["qb"], escalation="qa")], fallback_queues=["qa2", "qb", "ext"])
    assert route(doc, facts("x")).escalation_queue == "qa"
    assert route(doc, facts("x", subject_units=frozenset({"a"}))).escalation_queue == "qb"
    assert route(doc, facts("x", subject_units=frozenset({"a", "b"}))).escalation_queue == "ext"


def test_excluded_escalation_is_replaced_too() -> None:
    doc = make_doc([rule("a", queues=["qb"], exclude=["qa"])], defaults={"escalation": "qa"})
    assert route(doc, facts("x")).escalation_queue == "ext"


def test_no_escalation_configured_stays_none() -> None:
    doc = make_doc([rule("a", queues=["qb"])])
    assert route(doc, facts("x", subject_units=frozenset({"a"}))).escalation_queue is None


def test_unknown_categories_are_ignored_for_matching() -> None:
    doc = make_doc(
        [rule("a", {"categories_any": ["x"]}, queues=["qa"]), rule("b", {"categories_all": ["x"]})]
    )
    assert route(doc, facts("x", "not-a-category")) == route(doc, facts("x"))
    decision = route(doc, facts("not-a-category"))
    assert decision.used_fallback is True
    assert decision.queues == ("ext",)


def test_conditions_are_combined_with_and() -> None:
    when = {"categories_any": ["x", "y"], "subject_role_any": ["r1"], "subject_unit_any": ["b"]}
    doc = make_doc([rule("a", when, queues=["qa"])])
    both = facts("y", subject_roles=frozenset({"r1"}), subject_units=frozenset({"b"}))
    assert route(doc, both).matched_rules == ("a",)
    assert route(doc, facts("y", subject_roles=frozenset({"r1"}))).matched_rules == ()
    assert route(doc, facts("y", subject_units=frozenset({"b"}))).matched_rules == ()
    assert (
        route(doc, facts("d", subject_roles=frozenset({"r1"}), subject_units=frozenset({"b"}))).matched_rules
        == ()
    )


def test_categories_all_needs_every_category() -> None:
    doc = make_doc([rule("a", {"categories_all": ["x", "y"]}, queues=["qa"])])
    assert route(doc, facts("x")).matched_rules == ()
    assert route(doc, facts("x", "y")).matched_rules == ("a",)
    assert route(doc, facts("x", "y", "d")).matched_rules == ("a",)


@pytest.mark.parametrize("field", ["ongoing", "risk_of_harm", "reported_before"])
def test_yes_no_conditions_need_an_answer(field: str) -> None:
    doc = make_doc([rule("yes", {field: True}, queues=["qa"]), rule("no", {field: False}, queues=["qb"])])
    assert route(doc, facts("x", **{field: True})).matched_rules == ("yes",)
    assert route(doc, facts("x", **{field: False})).matched_rules == ("no",)
    assert route(doc, facts("x")).matched_rules == ()


def test_discrimination_condition_follows_category_marks() -> None:
    doc = make_doc(
        [rule("yes", {"discrimination": True}, queues=["qa"]), rule("no", {"discrimination": False})]
    )
    assert route(doc, facts("x", "d")).matched_rules == ("yes",)
    assert route(doc, facts("x")).matched_rules == ("no",)
    assert route(doc, facts()).matched_rules == ("no",)


def test_report_facts_accept_any_collection_and_refuse_a_bare_string() -> None:
    made = ReportFacts(categories=["x", "x"], subject_units={"a"}, subject_roles=("r1",))  # type: ignore[arg-type]
    assert made.categories == frozenset({"x"})
    assert made.subject_units == frozenset({"a"})
    assert made.subject_roles == frozenset({"r1"})
    assert hash(made) == hash(facts("x", subject_units=frozenset({"a"}), subject_roles=frozenset({"r1"})))
    with pytest.raises(TypeError):
        ReportFacts(categories="bullying")  # type: ignore[arg-type]
    with pytest.raises(TypeError):
        ReportFacts(categories=frozenset(), subject_units="north-bcu")  # type: ignore[arg-type]


def test_queue_conflicts() -> None:
    doc = make_doc([rule("a", queues=["qa"])])
    assert queue_conflicts(doc, "qa", frozenset({"a"})) is True
    assert queue_conflicts(doc, "qa", frozenset({"b", "a"})) is True
    assert queue_conflicts(doc, "qb", frozenset({"a"})) is False
    assert queue_conflicts(doc, "ext", frozenset({"a", "b"})) is False
    assert queue_conflicts(doc, "qa", frozenset()) is False
    with pytest.raises(PolicyError, match="unknown queue"):
        queue_conflicts(doc, "nowhere", frozenset())


def test_unroutable_document_raises_instead_of_returning_no_queue() -> None:
    doc = make_doc([rule("a", queues=["qa"])], fallback_queues=["qa2"])
    with pytest.raises(PolicyUnroutableError):
        route(doc, facts("x", subject_units=frozenset({"a"})))
