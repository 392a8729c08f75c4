"""Property-based tests: for any valid policy and any report, routing keeps its promises.

Every report gets at least one queue, and no queue (nor the escalation queue) belongs to a unit the
report's subjects are in; these hold for generated documents and for the starter policy alike.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import yaml
from hypothesis import given, settings
from hypothesis import strategies as st

from policies import (
    PRIORITIES,
    Decision,
    PastCase,
    PolicyDocument,
    ReportFacts,
    load_policy,
    route,
    simulate,
    starter_policy,
    validate,
)

SETTINGS = settings(max_examples=200, deadline=None)
MAYBE_BOOL = st.none() | st.booleans()
STARTER = starter_policy()


def subset(items: list[str], max_size: int | None = None) -> st.SearchStrategy[list[str]]:
    if not items:
        return st.just([])
    return st.lists(st.sampled_from(items), unique=True, max_size=max_size)


@st.composite
def documents(draw: st.DrawFn) -> PolicyDocument:
    units = [f"u{i}" for i in range(draw(st.integers(1, 5)))]
    queue_count = draw(st.integers(1, 6))
    queues = [f"q{i}" for i in range(queue_count)]
    queue_units: list[str | None] = [draw(st.none() | st.sampled_from(units)) for _ in queues]
    # At least one external queue, so the fallback can include one.
    external_at = draw(st.integers(0, queue_count - 1))
    queue_units[external_at] = None
    unit_of = dict(zip(queues, queue_units, strict=True))
    externals = [q for q in queues if unit_of[q] is None]

    queue_data = []
    for index, queue in enumerate(queues):
        # Escalating only to later queues keeps the escalation graph free of cycles.
        later = queues[index + 1 :]
        escalates_to = draw(st.none() | st.sampled_from(later)) if later else None
        queue_data.append(
            {"id": queue, "name": queue.upper(), "unit": unit_of[queue], "escalates_to": escalates_to}
        )

    categories = [f"c{i}" for i in range(draw(st.integers(1, 5)))]
    category_data = [{"id": c, "label": c.upper(), "discrimination": draw(st.booleans())} for c in categories]
    roles = [f"r{i}" for i in range(draw(st.integers(1, 3)))]

    # Deadlines in order (acknowledgement no later than feedback), for the defaults and for each rule merged
    # with them, as the validator asks (its deadline-order check).
    default_ack = draw(st.integers(1, 7))
    default_feedback = draw(st.integers(default_ack, 90))
    rules = []
    for index in range(draw(st.integers(0, 7))):
        subject_units = draw(subset(units, 3))
        allowed = [q for q in queues if unit_of[q] not in subject_units]
        when = {
            "categories_any": draw(subset(categories, 3)),
            "categories_all": draw(subset(categories, 2)),
            "subject_unit_any": subject_units,
            "subject_role_any": draw(subset(roles, 2)),
            "ongoing": draw(MAYBE_BOOL),
            "risk_of_harm": draw(MAYBE_BOOL),
            "reported_before": draw(MAYBE_BOOL),
            "discrimination": draw(MAYBE_BOOL),
        }
        contribution = {
            "queues": draw(subset(allowed, 3)),
            "exclude": draw(subset(queues, 2)),
            "priority": draw(st.none() | st.sampled_from(PRIORITIES)),
            "acknowledge_within_days": (ack := draw(st.none() | st.integers(1, 7))),
            "feedback_within_days": draw(
                st.none() | st.integers(ack or default_ack, 90)
                if (ack or 0) <= default_feedback
                else st.integers(ack or default_ack, 90)
            ),
            "checkin_days": draw(
                st.none() | st.lists(st.integers(1, 400), unique=True, max_size=4).map(sorted)
            ),
            "escalation": draw(st.none() | st.sampled_from(allowed)) if allowed else None,
            "retention_days": draw(st.none() | st.integers(1, 5000)),
            "flags": draw(subset(["f-a", "f-b", "f-c"])),
        }
        rules.append(
            {"id": f"rule-{index}", "when": when, "route": contribution, "final": draw(st.booleans())}
        )

    fallback = draw(subset(queues, 3))
    if not any(q in externals for q in fallback):
        fallback.insert(draw(st.integers(0, len(fallback))), draw(st.sampled_from(externals)))

    data: dict[str, Any] = {
        "name": "generated",
        "units": [{"id": u, "name": u.upper()} for u in units],
        "queues": queue_data,
        "categories": category_data,
        "subject_roles": roles,
        "defaults": {
            "priority": draw(st.sampled_from(PRIORITIES)),
            "acknowledge_within_days": default_ack,
            "feedback_within_days": default_feedback,
            "escalation": draw(st.none() | st.sampled_from(queues)),
        },
        "rules": rules,
        "fallback_queues": fallback,
    }
    return PolicyDocument.model_validate(data)


def facts_for(doc: PolicyDocument) -> st.SearchStrategy[ReportFacts]:
    categories = [c.id for c in doc.categories] + ["unknown-category", "other-unknown"]
    units = [u.id for u in doc.units] + ["unknown-unit"]
    roles = [*doc.subject_roles, "unknown-role"]
    return st.builds(
        ReportFacts,
        categories=st.frozensets(st.sampled_from(categories)),
        subject_units=st.frozensets(st.sampled_from(units)),
        subject_roles=st.frozensets(st.sampled_from(roles)),
        ongoing=MAYBE_BOOL,
        risk_of_harm=MAYBE_BOOL,
        reported_before=MAYBE_BOOL,
    )


def assert_keeps_promises(doc: PolicyDocument, facts: ReportFacts, decision: Decision) -> None:
    unit_of = {q.id: q.unit for q in doc.queues}
    assert decision.queues, "a report was left without a queue"
    assert len(set(decision.queues)) == len(decision.queues)
    for queue in decision.queues:
        assert unit_of[queue] not in facts.subject_units, f"{queue} belongs to a subject's unit"
    if decision.escalation_queue is not None:
        assert unit_of[decision.escalation_queue] not in facts.subject_units
    assert set(decision.queues).isdisjoint(decision.excluded_queues)
    assert decision.flags == tuple(sorted(set(decision.flags)))
    assert decision.priority in PRIORITIES
    assert timedelta(hours=1) <= decision.acknowledge_within <= timedelta(days=7)
    assert timedelta(hours=1) <= decision.feedback_within <= timedelta(days=90)
    rule_ids = [r.id for r in doc.rules]
    positions = [rule_ids.index(r) for r in decision.matched_rules]
    assert positions == sorted(positions)
    if decision.used_fallback:
        assert len(decision.queues) == 1
        assert decision.queues[0] in doc.fallback_queues
    else:
        contributed = {q for r in doc.rules if r.id in decision.matched_rules for q in r.route.queues}
        assert set(decision.queues) <= contributed


@SETTINGS
@given(st.data())
def test_any_valid_document_routes_every_report_away_from_its_subjects(data: st.DataObject) -> None:
    doc = data.draw(documents())
    # The strategy builds valid documents by construction; the validator must agree.
    report = validate(doc)
    assert report.ok, report.errors
    facts = data.draw(facts_for(doc))
    assert_keeps_promises(doc, facts, route(doc, facts))


@SETTINGS
@given(st.data())
def test_unknown_categories_and_units_do_not_change_routing(data: st.DataObject) -> None:
    doc = data.draw(documents())
    facts = data.draw(facts_for(doc))
    known_categories = {c.id for c in doc.categories}
    known_units = {u.id for u in doc.units}
    cleaned = ReportFacts(
        categories=facts.categories & known_categories,
        subject_units=facts.subject_units & known_units,
        subject_roles=facts.subject_roles,
        ongoing=facts.ongoing,
        risk_of_harm=facts.risk_of_harm,
        reported_before=facts.reported_before,
    )
    assert route(doc, facts) == route(doc, cleaned)


@SETTINGS
@given(facts_for(STARTER))
def test_starter_routes_every_report_away_from_its_subjects(facts: ReportFacts) -> None:
    decision = route(STARTER, facts)
    assert_keeps_promises(STARTER, facts, decision)
    if "professional-standards" in facts.subject_units or "chief-officers" in facts.subject_units:
        assert decision.queues == ("independent-review",)
    if any(c in facts.categories for c in ("racism", "misogyny", "homophobia")):
        assert "iopc-referral-assessment" in decision.flags


@settings(max_examples=50, deadline=None)
@given(documents())
def test_documents_survive_a_yaml_round_trip(doc: PolicyDocument) -> None:
    text = yaml.safe_dump(doc.model_dump(mode="json"), sort_keys=False)
    assert load_policy(text) == doc


@settings(max_examples=50, deadline=None)
@given(st.data())
def test_simulating_the_same_policy_changes_nothing(data: st.DataObject) -> None:
    doc = data.draw(documents())
    all_facts = data.draw(st.lists(facts_for(doc), max_size=5))
    cases = []
    for index, facts in enumerate(all_facts):
        decision = route(doc, facts)
        cases.append(PastCase(f"C-{index}", facts, decision.queues, decision.priority))
    result = simulate(doc, cases)
    assert result.changed == ()
    assert result.unchanged == result.total == len(cases)
