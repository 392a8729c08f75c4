"""Tests for the policy validator: each invariant is broken by a crafted document and reported."""

from __future__ import annotations

from typing import Any

import pytest

from policies import PolicyDocument, PolicyInvalidError, ensure_valid, starter_policy, validate
from policies.validator import Problem, ValidationReport, reachable_queues

STARTER_MEMBERS = {
    "psd-conduct": 3,
    "psd-counter-corruption": 2,
    "psd-lead": 1,
    "independent-review": 1,
    "north-bcu-standards": 1,
    "south-bcu-standards": 1,
    "east-bcu-standards": 1,
    "west-bcu-standards": 1,
}


def make_doc(rules: list[dict[str, Any]] | None = None, **overrides: Any) -> PolicyDocument:
    """A valid document (units a, b; queues qa, qb, ext) unless the overrides break it."""
    data: dict[str, Any] = {
        "name": "test",
        "units": [{"id": "a", "name": "A"}, {"id": "b", "name": "B"}],
        "queues": [
            {"id": "qa", "name": "QA", "unit": "a", "escalates_to": "ext"},
            {"id": "qb", "name": "QB", "unit": "b", "escalates_to": "ext"},
            {"id": "ext", "name": "External", "unit": None},
        ],
        "categories": [{"id": "x", "label": "X"}, {"id": "d", "label": "D", "discrimination": True}],
        "subject_roles": ["r1"],
        "rules": rules
        if rules is not None
        else [
            {"id": "about-a", "when": {"subject_unit_any": ["a"]}, "route": {"queues": ["qb"]}},
            {"id": "all", "when": {}, "route": {"queues": ["qa"]}},
        ],
        "fallback_queues": ["qb", "ext"],
    }
    data.update(overrides)
    return PolicyDocument.model_validate(data)


def codes(problems: tuple[Problem, ...]) -> list[str]:
    return [p.code for p in problems]


def only_error(report: ValidationReport, code: str) -> Problem:
    assert codes(report.errors) == [code], report.errors
    return report.errors[0]


def test_base_document_is_valid_without_warnings() -> None:
    report = validate(make_doc(), member_counts={"qa": 1, "qb": 1, "ext": 1})
    assert report.ok
    assert report.errors == ()
    assert report.warnings == ()


def test_starter_passes_with_no_errors_or_warnings() -> None:
    report = validate(starter_policy(), member_counts=STARTER_MEMBERS)
    assert report.ok, report.errors
    assert report.warnings == ()
    ensure_valid(starter_policy(), member_counts=STARTER_MEMBERS)


def test_fallback_without_an_external_queue_is_unroutable() -> None:
    report = validate(make_doc(fallback_queues=["qa", "qb"]))
    problem = only_error(report, "unroutable")
    assert problem.where == "fallback_queues"
    assert not report.ok
    assert codes(validate(make_doc(fallback_queues=[])).errors) == ["unroutable"]


def test_rule_routing_to_the_subjects_own_unit_is_refused() -> None:
    rules = [{"id": "about-a", "when": {"subject_unit_any": ["b", "a"]}, "route": {"queues": ["ext", "qa"]}}]
    problem = only_error(validate(make_doc(rules)), "routes-to-subject-unit")
    assert problem.where == "rules[0] (about-a)"
    assert "'qa'" in problem.message
    assert "'a'" in problem.message


def test_rule_escalating_to_the_subjects_own_unit_is_refused() -> None:
    rules = [
        {"id": "all", "when": {}, "route": {"queues": ["qa"]}},
        {
            "id": "about-b",
            "when": {"subject_unit_any": ["b"]},
            "route": {"queues": ["ext"], "escalation": "qb"},
        },
    ]
    problem = only_error(validate(make_doc(rules)), "routes-to-subject-unit")
    assert problem.where == "rules[1] (about-b)"
    assert "escalates" in problem.message


def test_escalation_cycle_is_named() -> None:
    queues = [
        {"id": "qa", "name": "QA", "unit": "a", "escalates_to": "qb"},
        {"id": "qb", "name": "QB", "unit": "b", "escalates_to": "ext"},
        {"id": "ext", "name": "External", "unit": None, "escalates_to": "qa"},
    ]
    problem = only_error(validate(make_doc(queues=queues)), "escalation-cycle")
    assert problem.message.endswith("qa -> qb -> ext -> qa")
    assert problem.where == "queues[0] (qa)"


def test_self_escalation_and_a_cycle_off_a_chain_are_each_reported_once() -> None:
    queues = [
        {"id": "qa", "name": "QA", "unit": "a", "escalates_to": "qb"},
        {"id": "qb", "name": "QB", "unit": "b", "escalates_to": "qc"},
        {"id": "qc", "name": "QC", "unit": "b", "escalates_to": "qb"},
        {"id": "ext", "name": "External", "unit": None, "escalates_to": "ext"},
    ]
    report = validate(make_doc(queues=queues))
    assert codes(report.errors) == ["escalation-cycle", "escalation-cycle"]
    messages = sorted(p.message for p in report.errors)
    assert messages[0].endswith("ext -> ext")
    assert messages[1].endswith("qb -> qc -> qb")


def test_acyclic_chains_pass() -> None:
    queues = [
        {"id": "qa", "name": "QA", "unit": "a", "escalates_to": "qb"},
        {"id": "qb", "name": "QB", "unit": "b", "escalates_to": "ext"},
        {"id": "ext", "name": "External", "unit": None},
    ]
    assert validate(make_doc(queues=queues)).ok


@pytest.mark.parametrize(
    ("defaults", "route", "where"),
    [
        ({"acknowledge_within_days": 8}, {}, "defaults"),
        ({"feedback_within_days": 91}, {}, "defaults"),
        ({}, {"acknowledge_within_days": 10}, "rules[1] (all)"),
        ({}, {"feedback_within_days": 120}, "rules[1] (all)"),
    ],
)
def test_deadlines_beyond_the_law_are_refused(
    defaults: dict[str, int], route: dict[str, int], where: str
) -> None:
    rules = [
        {"id": "about-a", "when": {"subject_unit_any": ["a"]}, "route": {"queues": ["qb"]}},
        {"id": "all", "when": {}, "route": {"queues": ["qa"], **route}},
    ]
    problem = only_error(validate(make_doc(rules, defaults=defaults)), "deadline-too-long")
    assert problem.where == where
    assert "2019/1937" in problem.message


def test_deadlines_at_the_legal_limit_pass() -> None:
    assert validate(make_doc(defaults={"acknowledge_within_days": 7, "feedback_within_days": 90})).ok


@pytest.mark.parametrize("field", ["acknowledge_within_days", "feedback_within_days"])
@pytest.mark.parametrize("value", [0, -3])
def test_deadlines_below_one_day_are_refused(field: str, value: int) -> None:
    only_error(validate(make_doc(defaults={field: value})), "deadline-invalid")


def test_reachable_queue_without_members_is_refused() -> None:
    doc = make_doc()
    problem = only_error(validate(doc, member_counts={"qa": 2, "qb": 1, "ext": 0}), "queue-without-members")
    assert problem.where == "queues[2] (ext)"
    missing = validate(doc, member_counts={"qa": 2, "ext": 1})
    assert [p.where for p in missing.errors] == ["queues[1] (qb)"]
    assert validate(doc).ok  # without counts, staffing is not checked


def test_queue_reached_only_by_escalation_needs_members() -> None:
    queues = [
        {"id": "qa", "name": "QA", "unit": "a", "escalates_to": "lead"},
        {"id": "lead", "name": "Lead", "unit": "a", "escalates_to": "top"},
        {"id": "top", "name": "Top", "unit": None},
        {"id": "qb", "name": "QB", "unit": "b"},
        {"id": "ext", "name": "External", "unit": None},
        {"id": "idle", "name": "Idle", "unit": "b"},
    ]
    doc = make_doc(queues=queues)
    assert reachable_queues(doc) == ["qa", "lead", "top", "qb", "ext"]
    report = validate(doc, member_counts={"qa": 1, "qb": 1, "ext": 1, "lead": 1})
    assert [p.where for p in report.errors] == ["queues[2] (top)"]
    assert codes(report.warnings) == ["unused-queue"]


@pytest.mark.parametrize(
    "defaults",
    [
        {"checkin_days": [7, 7, 30]},
        {"checkin_days": [30, 7]},
        {"checkin_days": [0, 7]},
        {"checkin_after_closure_days": [-1]},
    ],
)
def test_checkin_schedule_must_be_positive_and_increasing(defaults: dict[str, list[int]]) -> None:
    only_error(validate(make_doc(defaults=defaults)), "bad-checkin-schedule")


def test_rule_checkin_schedule_is_checked() -> None:
    rules = [{"id": "all", "when": {}, "route": {"queues": ["qa"], "checkin_days": [3, 2]}}]
    problem = only_error(validate(make_doc(rules)), "bad-checkin-schedule")
    assert problem.where == "rules[0] (all)"


def test_empty_checkin_schedule_is_allowed() -> None:
    assert validate(make_doc(defaults={"checkin_days": [], "checkin_after_closure_days": []})).ok


@pytest.mark.parametrize("time", ["24:00", "8:00", "21:60", "nine", ""])
def test_quiet_hours_must_be_hh_mm(time: str) -> None:
    problem = only_error(validate(make_doc(defaults={"quiet_hours": {"start": time}})), "bad-quiet-hours")
    assert "quiet_hours.start" in problem.message


@pytest.mark.parametrize("zone", ["Mars/Olympus", "", "../../etc/passwd", "Europe"])
def test_quiet_hours_timezone_must_exist(zone: str) -> None:
    only_error(validate(make_doc(defaults={"quiet_hours": {"timezone": zone}})), "unknown-timezone")


def test_valid_quiet_hours_pass() -> None:
    quiet = {"start": "22:30", "end": "07:15", "timezone": "Europe/Belfast"}
    assert validate(make_doc(defaults={"quiet_hours": quiet})).ok


def test_retention_and_progress_clock_must_be_positive() -> None:
    only_error(validate(make_doc(defaults={"retention_days": 0})), "bad-retention")
    clock = {"first_after_months": 0, "then_every_months": 6}
    only_error(validate(make_doc(defaults={"progress_update": clock})), "bad-progress-clock")


def test_rule_after_a_final_catch_all_is_unreachable() -> None:
    rules = [
        {"id": "all", "when": {}, "route": {"queues": ["ext"]}, "final": True},
        {"id": "never", "when": {"categories_any": ["x"]}, "route": {"queues": ["qa"]}},
    ]
    report = validate(make_doc(rules))
    assert report.ok
    assert codes(report.warnings) == ["unreachable-rule"]
    assert report.warnings[0].where == "rules[1] (never)"


def test_rule_after_a_conditional_final_rule_is_reachable() -> None:
    rules = [
        {"id": "some", "when": {"categories_any": ["x"]}, "route": {"queues": ["ext"]}, "final": True},
        {"id": "all", "when": {}, "route": {"queues": ["qa"]}},
    ]
    assert validate(make_doc(rules)).warnings == ()


def test_category_without_rule_or_catch_all_is_warned_about() -> None:
    rules = [{"id": "only-x", "when": {"categories_any": ["x"]}, "route": {"queues": ["qa"]}}]
    report = validate(make_doc(rules))
    assert report.ok
    assert codes(report.warnings) == ["uncovered-category"]
    assert report.warnings[0].where == "categories[1] (d)"
    rules.append({"id": "disc", "when": {"discrimination": True}, "route": {"queues": ["qa"]}})
    assert validate(make_doc(rules)).warnings == ()


def test_contradictory_and_empty_rules_are_warned_about() -> None:
    rules = [
        {"id": "all", "when": {}, "route": {"queues": ["qa", "ext"], "exclude": ["qa"]}},
        {"id": "nothing", "when": {"categories_any": ["x"]}, "route": {}},
    ]
    report = validate(make_doc(rules))
    assert report.ok
    assert codes(report.warnings) == ["contradictory-rule", "empty-rule"]


def test_discrimination_rule_without_marked_category_is_warned_about() -> None:
    rules = [
        {"id": "disc", "when": {"discrimination": True}, "route": {"flags": ["check"]}},
        {"id": "all", "when": {}, "route": {"queues": ["qa"]}},
    ]
    categories = [{"id": "x", "label": "X"}]
    assert codes(validate(make_doc(rules, categories=categories)).warnings) == ["no-discrimination-category"]


def test_ensure_valid_raises_with_every_error() -> None:
    doc = make_doc(fallback_queues=["qa"], defaults={"acknowledge_within_days": 30})
    with pytest.raises(PolicyInvalidError) as caught:
        ensure_valid(doc)
    assert [p.code for p in caught.value.problems] == ["unroutable", "deadline-too-long"]
    assert "2 problems" in str(caught.value)
    assert "fallback_queues" in str(caught.value)
    ensure_valid(make_doc())
