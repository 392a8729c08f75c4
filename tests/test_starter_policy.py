"""The starter policy routes as a UK force's professional standards department would (issue 11, section 3).

Each defect the issue names is driven here through the engine, the validator and the simulator: abuse of
position for a sexual purpose to counter-corruption with the IOPC flag, corruption flagged, domestic abuse
with its own safeguarding rule, age among the discrimination categories, rules named for what they do,
local (BCU) queues never reached by a report about their own unit, deadlines in hours, and the legal
framework as a named, validated choice.
"""

from __future__ import annotations

import itertools
from datetime import timedelta
from typing import Any

import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st

from policies import PastCase, PolicyDocument, ReportFacts, load_policy, route, simulate, starter_policy
from policies import starter_policy_text as starter_text
from policies.validator import validate
from tests.test_starter_vault import older_style

BCUS = ("north-bcu", "south-bcu", "east-bcu", "west-bcu")
PEER = {"north-bcu": "south-bcu", "south-bcu": "north-bcu", "east-bcu": "west-bcu", "west-bcu": "east-bcu"}
IOPC = "iopc-referral-assessment"


@pytest.fixture(scope="module")
def starter() -> PolicyDocument:
    return starter_policy()


def facts(*categories: str, **kwargs: Any) -> ReportFacts:
    return ReportFacts(categories=frozenset(categories), **kwargs)


def edited(**changes: Any) -> PolicyDocument:
    """The starter as data, changed at top level, validated again."""
    data = yaml.safe_load(starter_text())
    data.update(changes)
    return PolicyDocument.model_validate(data)


def codes(report: Any) -> list[str]:
    return [p.code for p in report.errors]


# --- what is routed where -----------------------------------------------------------------------------


def test_abuse_of_position_for_a_sexual_purpose_goes_to_counter_corruption_with_the_iopc_flag(
    starter: PolicyDocument,
) -> None:
    decision = route(starter, facts("abuse-of-position"))
    assert decision.queues == ("psd-counter-corruption",)
    assert "psd-conduct" not in decision.queues
    assert {IOPC, "serious-corruption"} <= set(decision.flags)
    assert decision.priority == "high"


def test_abuse_of_position_with_other_categories_still_stays_in_counter_corruption(
    starter: PolicyDocument,
) -> None:
    decision = route(starter, facts("abuse-of-position", "bullying", "misogyny"))
    assert decision.queues == ("psd-counter-corruption",)
    assert IOPC in decision.flags


def test_abuse_of_position_about_psd_goes_outside_psd_and_keeps_its_flags(starter: PolicyDocument) -> None:
    decision = route(starter, facts("abuse-of-position", subject_units=frozenset({"professional-standards"})))
    assert decision.queues == ("independent-review",)
    assert {IOPC, "serious-corruption"} <= set(decision.flags)


@pytest.mark.parametrize("category", ["corruption", "misuse-of-systems"])
def test_corruption_is_flagged_for_iopc_assessment(starter: PolicyDocument, category: str) -> None:
    decision = route(starter, facts(category))
    assert decision.queues == ("psd-counter-corruption",)
    assert IOPC in decision.flags
    assert "corruption" in decision.matched_rules


def test_domestic_abuse_has_its_own_safeguarding_rule_and_prompt(starter: PolicyDocument) -> None:
    decision = route(starter, facts("domestic-abuse"))
    assert "domestic-abuse" in decision.matched_rules
    assert not any("sexual" in rule for rule in decision.matched_rules)
    assert {"safeguarding", IOPC} <= set(decision.flags)
    (prompt,) = decision.prompts
    assert "victim's safety" in prompt


def test_age_is_a_discrimination_category(starter: PolicyDocument) -> None:
    assert any(c.id == "age-discrimination" and c.discrimination for c in starter.categories)
    decision = route(starter, facts("age-discrimination"))
    assert decision.priority == "high"
    assert IOPC in decision.flags
    assert "discrimination" in decision.matched_rules


@pytest.mark.parametrize(
    ("category", "rule_id"),
    [
        ("sexual-harassment", "sexual-misconduct"),
        ("abuse-of-position", "abuse-of-position-for-a-sexual-purpose"),
        ("domestic-abuse", "domestic-abuse"),
        ("violence", "violence-and-threats"),
    ],
)
def test_rules_are_named_for_what_they_match(starter: PolicyDocument, category: str, rule_id: str) -> None:
    decision = route(starter, facts(category))
    flagging = [r for r in decision.matched_rules if r not in ("counter-corruption", "catch-all")]
    assert flagging == [rule_id]


def test_violence_is_not_flagged_by_a_rule_named_for_sexual_misconduct(starter: PolicyDocument) -> None:
    decision = route(starter, facts("violence"))
    assert IOPC in decision.flags
    assert not any("sexual" in rule for rule in decision.matched_rules)


def test_no_starter_rule_keeps_the_misleading_old_name(starter: PolicyDocument) -> None:
    assert "sexual-misconduct-and-abuse" not in {r.id for r in starter.rules}


# --- deadlines in hours -------------------------------------------------------------------------------


def test_risk_of_harm_is_urgent_and_acknowledged_within_hours(starter: PolicyDocument) -> None:
    decision = route(starter, facts("bullying", risk_of_harm=True))
    assert decision.priority == "urgent"
    assert decision.acknowledge_within == timedelta(hours=4)
    assert decision.feedback_within == timedelta(days=90)
    assert decision.prompts and "risk of harm" in decision.prompts[0]


# --- local (BCU) queues ------------------------------------------------------------------------------


@pytest.mark.parametrize("unit", BCUS)
def test_a_low_level_report_about_a_bcu_goes_to_a_neighbouring_bcu_never_its_own(
    starter: PolicyDocument, unit: str
) -> None:
    decision = route(starter, facts("bullying", subject_units=frozenset({unit}), risk_of_harm=False))
    assert decision.queues == (f"{PEER[unit]}-standards", "psd-conduct")
    assert f"{unit}-standards" not in decision.queues


def test_a_report_about_two_paired_bcus_reaches_neither_local_queue(starter: PolicyDocument) -> None:
    decision = route(
        starter, facts("harassment", subject_units=frozenset({"north-bcu", "south-bcu"}), risk_of_harm=False)
    )
    assert decision.queues == ("psd-conduct",)
    assert set(decision.excluded_queues) == {"north-bcu-standards", "south-bcu-standards"}


@settings(max_examples=300, deadline=None)
@given(
    categories=st.sets(st.sampled_from([c.id for c in starter_policy().categories]), min_size=1, max_size=3),
    units=st.sets(st.sampled_from([u.id for u in starter_policy().units]), max_size=3),
    risk=st.sampled_from([None, True, False]),
    ongoing=st.sampled_from([None, True, False]),
)
def test_no_report_ever_reaches_a_queue_of_its_subjects_unit(
    categories: set[str], units: set[str], risk: bool | None, ongoing: bool | None
) -> None:
    doc = starter_policy()
    decision = route(
        doc, ReportFacts(categories=categories, subject_units=units, risk_of_harm=risk, ongoing=ongoing)
    )
    for queue_id in (*decision.queues, decision.escalation_queue):
        assert queue_id is None or doc.unit_of(queue_id) not in units


def test_the_validator_refuses_a_rule_sending_a_bcu_report_to_its_own_queue() -> None:
    text = starter_text()
    rule = "  - id: low-level-about-north-bcu"
    at = text.index(rule)
    end = text.index("queues: [south-bcu-standards]", at)
    broken = text[:end] + "queues: [north-bcu-standards]" + text[end + len("queues: [south-bcu-standards]") :]
    report = validate(load_policy(broken))
    assert codes(report) == ["routes-to-subject-unit"]
    assert "low-level-about-north-bcu" in report.errors[0].where
    assert validate(starter_policy()).ok


def test_the_simulator_shows_local_queues_taking_reports_but_never_about_their_own_unit(
    starter: PolicyDocument,
) -> None:
    # Past cases as the previous starter routed them (no local queues: PSD conduct only).
    past = [
        PastCase(
            reference=f"C-{unit}",
            facts=facts("bullying", subject_units=frozenset({unit}), risk_of_harm=False),
            queues=("psd-conduct",),
            priority="normal",
        )
        for unit in BCUS
    ]
    past.append(
        PastCase(
            reference="C-both",
            facts=facts("bullying", subject_units=frozenset({"east-bcu", "west-bcu"}), risk_of_harm=False),
            queues=("psd-conduct",),
            priority="normal",
        )
    )
    result = simulate(starter, past)
    assert result.unchanged == 1  # the report about both paired units stays with PSD conduct alone
    moved = {c.reference: c for c in result.changed}
    for unit in BCUS:
        change = moved[f"C-{unit}"]
        assert change.added_queues == (f"{PEER[unit]}-standards",)
        assert f"{unit}-standards" not in change.after_queues
    summary = result.summary()
    assert "Queue south-bcu-standards would receive 1 case more." in summary
    assert "north-bcu-standards" not in moved["C-north-bcu"].describe()


def test_the_simulator_moves_past_abuse_of_position_cases_to_counter_corruption(
    starter: PolicyDocument,
) -> None:
    # As the previous starter routed it: general conduct.
    past = [PastCase("C-apsp", facts("abuse-of-position"), queues=("psd-conduct",), priority="high")]
    (change,) = simulate(starter, past).changed
    assert change.after_queues == ("psd-counter-corruption",)
    assert change.removed_queues == ("psd-conduct",)
    assert IOPC in change.after_flags


# --- the legal framework -------------------------------------------------------------------------------


def test_the_starter_names_the_eu_directive_as_its_framework(starter: PolicyDocument) -> None:
    assert starter.legal_framework.profile == "eu-directive-2019-1937"
    report = validate(starter)
    assert report.ok and report.warnings == ()


def test_the_eu_profile_holds_hours_to_seven_days() -> None:
    text = starter_text()
    for hours, ok in ((168, True), (169, False)):
        doc = load_policy(text.replace("acknowledge_within_hours: 4", f"acknowledge_within_hours: {hours}"))
        report = validate(doc)
        assert report.ok is ok, report.errors
        if not ok:
            assert codes(report) == ["deadline-too-long"]
            assert "168 hours" in report.errors[0].message and "2019/1937" in report.errors[0].message


def test_the_eu_profile_refuses_ceilings_of_its_own() -> None:
    doc = edited(legal_framework={"profile": "eu-directive-2019-1937", "acknowledge_within_days_max": 30})
    assert codes(validate(doc)) == ["framework-mismatch"]


def test_the_uk_profile_needs_the_forces_procedure_and_ceilings() -> None:
    report = validate(edited(legal_framework={"profile": "uk-police"}))
    assert codes(report) == ["framework-incomplete"] * 3


def test_the_uk_profile_holds_deadlines_to_the_forces_own_ceilings() -> None:
    framework = {
        "profile": "uk-police",
        "procedure": "Reporting wrongdoing SOP v3, para 4.2",
        "acknowledge_within_days_max": 5,
        "feedback_within_days_max": 60,
    }
    tight = validate(edited(legal_framework=framework))
    assert codes(tight) == ["deadline-too-long", "deadline-too-long"]
    assert all("Reporting wrongdoing SOP v3" in p.message for p in tight.errors)
    data = yaml.safe_load(starter_text())
    data["legal_framework"] = framework
    data["defaults"].update(acknowledge_within_days=5, feedback_within_days=60)
    assert validate(PolicyDocument.model_validate(data)).ok


@pytest.mark.parametrize(
    ("acknowledge", "feedback"), [(30, 20), (5, 400)], ids=["acknowledge-after-feedback", "over-a-year"]
)
def test_the_uk_profile_refuses_ceilings_that_make_no_sense(acknowledge: int, feedback: int) -> None:
    framework = {
        "profile": "uk-police",
        "procedure": "Force procedure PSD/12",
        "acknowledge_within_days_max": acknowledge,
        "feedback_within_days_max": feedback,
    }
    report = validate(edited(legal_framework=framework))
    assert "deadline-invalid" in codes(report)
    assert any("longer than" in p.message or "a year" in p.message for p in report.errors)


def test_the_uk_profile_is_not_held_to_the_eu_ceilings() -> None:
    data = yaml.safe_load(starter_text())
    data["defaults"].update(acknowledge_within_days=10, feedback_within_days=120)
    assert "deadline-too-long" in codes(validate(PolicyDocument.model_validate(data)))
    data["legal_framework"] = {
        "profile": "uk-police",
        "procedure": "Force procedure PSD/12",
        "acknowledge_within_days_max": 10,
        "feedback_within_days_max": 120,
    }
    assert validate(PolicyDocument.model_validate(data)).ok


def test_an_older_policy_without_a_framework_or_hours_still_loads_and_validates() -> None:
    # As policies were published before this change: day deadlines only, no legal_framework, no prompt.
    older = older_style(starter_text())
    assert "\nlegal_framework:" not in older and "prompt:" not in older
    doc = load_policy(older)
    assert doc.legal_framework.profile == "eu-directive-2019-1937"
    assert validate(doc).ok
    assert route(doc, facts("bullying", risk_of_harm=True)).acknowledge_within == timedelta(days=1)


@pytest.mark.parametrize(
    ("route_fields", "code"),
    [
        ({"acknowledge_within_hours": 0}, "deadline-invalid"),
        ({"acknowledge_within_hours": 1}, "deadline-invalid"),  # counted from the hour: could leave a minute
        ({"feedback_within_hours": -3}, "deadline-invalid"),
        ({"acknowledge_within_days": 1, "acknowledge_within_hours": 4}, "deadline-ambiguous"),
        ({"feedback_within_hours": 90 * 24 + 1}, "deadline-too-long"),
    ],
)
def test_bad_hours_are_refused(route_fields: dict[str, Any], code: str) -> None:
    data = yaml.safe_load(starter_text())
    data["rules"][0]["route"].update(route_fields)
    assert code in codes(validate(PolicyDocument.model_validate(data)))


def test_the_shortest_deadline_wins_across_days_and_hours() -> None:
    data = yaml.safe_load(starter_text())
    data["rules"] = [
        {"id": "a", "when": {}, "route": {"queues": ["psd-conduct"], "acknowledge_within_days": 1}},
        {"id": "b", "when": {}, "route": {"acknowledge_within_hours": 30, "feedback_within_hours": 12}},
        {"id": "c", "when": {}, "route": {"feedback_within_days": 2}},
    ]
    decision = route(PolicyDocument.model_validate(data), facts("bullying"))
    assert decision.acknowledge_within == timedelta(days=1)
    assert decision.feedback_within == timedelta(hours=12)


def test_every_starter_category_combination_of_two_routes_somewhere(starter: PolicyDocument) -> None:
    ids = [c.id for c in starter.categories]
    for pair in itertools.combinations(ids, 2):
        assert route(starter, facts(*pair)).queues
