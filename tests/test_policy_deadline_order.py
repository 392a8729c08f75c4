"""Deadlines a report actually gets are in order, and absurd numbers are clear errors (issue 11, B2).

The engine takes the shortest acknowledgement and, separately, the shortest feedback of the matching rules,
the defaults filling in whichever no matching rule sets; the validator must refuse any policy under which a
report could be due feedback before acknowledgement. A number no datetime can hold is a schema error that
names its line, never a traceback, in the library and at `candour policy validate`.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st

from policies import PolicyDocument, ReportFacts, load_policy, route, starter_policy_text, validate
from policies.errors import PolicySyntaxError
from tests.test_cli import Cli
from tests.test_policy_properties import MAYBE_BOOL, facts_for

STARTER = starter_policy_text()
RISK_RULE = "      acknowledge_within_hours: 4\n"
assert RISK_RULE in STARTER


def codes(text: str) -> list[str]:
    """The validator's error codes for a policy text."""
    return [problem.code for problem in validate(load_policy(text)).errors]


def order_errors(text: str) -> list[tuple[str, str]]:
    return [(p.where, p.message) for p in validate(load_policy(text)).errors if p.code == "deadline-order"]


# --- the three shapes the review found ------------------------------------------------------------


def test_a_rule_whose_feedback_comes_before_its_acknowledgement_is_refused() -> None:
    text = STARTER.replace(RISK_RULE, "      acknowledge_within_hours: 48\n      feedback_within_hours: 3\n")
    [(where, message)] = order_errors(text)
    assert where.endswith("(risk-of-harm)")
    assert "feedback_within_hours: 3" in message and "acknowledge_within_hours: 48" in message


def test_defaults_out_of_order_are_refused() -> None:
    text = STARTER.replace("  feedback_within_days: 90\n", "  feedback_within_days: 2\n", 1)
    assert order_errors(text) == [
        (
            "defaults",
            "acknowledge_within_days (7) is longer than feedback_within_days (2): a report must be "
            "acknowledged before its feedback is due",
        )
    ]


def test_a_rule_feedback_under_the_default_acknowledgement_is_refused() -> None:
    """The rule sets only feedback (2 hours); acknowledgement comes from the defaults (7 days)."""
    text = STARTER.replace(RISK_RULE, "      feedback_within_hours: 2\n")
    [(where, message)] = order_errors(text)
    assert where.endswith("(risk-of-harm)")
    assert "defaults.acknowledge_within_days: 7" in message and "feedback_within_hours: 2" in message


def test_a_rule_acknowledgement_over_the_default_feedback_is_refused() -> None:
    text = STARTER.replace("  feedback_within_days: 90\n", "  feedback_within_days: 5\n", 1)
    text = text.replace("  acknowledge_within_days: 7\n", "  acknowledge_within_days: 3\n", 1)
    text = text.replace(RISK_RULE, "      acknowledge_within_days: 6\n")
    [(where, message)] = order_errors(text)
    assert where.endswith("(risk-of-harm)") and "defaults.feedback_within_days: 5" in message


def test_deadlines_equal_or_in_order_pass() -> None:
    assert codes(STARTER) == []
    same = STARTER.replace(RISK_RULE, "      acknowledge_within_hours: 24\n      feedback_within_days: 1\n")
    assert codes(same) == []


# --- numbers no datetime can hold ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("old", "new", "field"),
    [
        (RISK_RULE, "      acknowledge_within_hours: 1000000000000\n", "acknowledge_within_hours"),
        (RISK_RULE, "      feedback_within_days: -1000000000000\n", "feedback_within_days"),
        ("  acknowledge_within_days: 7\n", "  acknowledge_within_days: 1000000000000\n", "acknowledge"),
        ("  retention_days: 2190\n", "  retention_days: 1000000000000\n", "retention_days"),
        ("  checkin_days: [7, 30, 90]\n", "  checkin_days: [7, 30, 1000000000000]\n", "checkin_days"),
        ("    first_after_months: 12\n", "    first_after_months: 1000000000000\n", "first_after_months"),
    ],
)
def test_a_huge_number_is_a_schema_error_naming_its_line(old: str, new: str, field: str) -> None:
    assert old in STARTER
    text = STARTER.replace(old, new, 1)
    line = text[: text.index(new)].count("\n") + 1
    with pytest.raises(PolicySyntaxError) as caught:
        load_policy(text)
    message = str(caught.value)
    assert message.startswith(f"line {line}: ") and field in message, message
    assert "less than or equal" in message or "greater than or equal" in message


def test_a_huge_ceiling_under_the_uk_profile_is_a_schema_error() -> None:
    text = STARTER.replace(
        "  profile: eu-directive-2019-1937\n",
        "  profile: uk-police\n  procedure: SOP 4\n  acknowledge_within_days_max: 1000000000000\n"
        "  feedback_within_days_max: 60\n",
    )
    with pytest.raises(PolicySyntaxError, match="acknowledge_within_days_max"):
        load_policy(text)


@pytest.fixture
def cli(cli_env: dict[str, str], tmp_path: Path) -> Cli:
    """The CLI against a data directory never initialised (policy validate needs none)."""
    return Cli(env=dict(cli_env), cwd=tmp_path)


def test_policy_validate_says_one_line_for_a_huge_deadline_and_the_order(cli: Cli, tmp_path: Path) -> None:
    huge = tmp_path / "huge.yaml"
    huge.write_text(STARTER.replace(RISK_RULE, "      acknowledge_within_hours: 1000000000000\n"))
    line = cli.fail("policy", "validate", str(huge))
    assert "acknowledge_within_hours" in line and "less than or equal to 87600" in line, line

    backwards = tmp_path / "backwards.yaml"
    backwards.write_text(STARTER.replace(RISK_RULE, "      feedback_within_hours: 2\n"))
    result = cli.run("policy", "validate", str(backwards))
    assert result.returncode != 0 and "Traceback" not in result.stderr
    assert "error: deadline-order: rules[" in result.stderr and "(risk-of-harm)" in result.stderr


# --- every decision of an accepted policy -------------------------------------------------------------


SPAN = st.one_of(
    st.none(),
    st.tuples(st.just("days"), st.integers(1, 7)),
    st.tuples(st.just("hours"), st.integers(2, 240)),
)


@st.composite
def any_deadlines(draw: st.DrawFn) -> PolicyDocument:
    """A small policy whose rules overlap freely and whose deadlines are drawn with no order at all."""
    categories = ["c0", "c1", "c2"]
    rules = []
    for index in range(draw(st.integers(1, 5))):
        contribution: dict[str, Any] = {"queues": ["q0"]}
        for name in ("acknowledge", "feedback"):
            span = draw(SPAN)
            if span is not None:
                contribution[f"{name}_within_{span[0]}"] = span[1]
        when = {
            "categories_any": draw(st.lists(st.sampled_from(categories), unique=True, max_size=2)),
            "ongoing": draw(MAYBE_BOOL),
            "risk_of_harm": draw(MAYBE_BOOL),
        }
        rules.append({"id": f"r{index}", "when": when, "route": contribution, "final": draw(st.booleans())})
    data = {
        "name": "drawn",
        "units": [{"id": "u0", "name": "U0"}],
        "queues": [{"id": "q0", "name": "Q0", "unit": None}],
        "categories": [{"id": c, "label": c.upper()} for c in categories],
        "subject_roles": ["r"],
        "defaults": {
            "acknowledge_within_days": draw(st.integers(1, 7)),
            "feedback_within_days": draw(st.integers(1, 90)),
        },
        "rules": rules,
        "fallback_queues": ["q0"],
    }
    return PolicyDocument.model_validate(data)


@settings(max_examples=300, deadline=None)
@given(st.data())
def test_every_decision_of_an_accepted_policy_is_acknowledged_before_feedback(data: st.DataObject) -> None:
    doc = data.draw(any_deadlines())
    if not validate(doc).ok:
        return
    facts: ReportFacts = data.draw(facts_for(doc))
    decision = route(doc, facts)
    assert decision.acknowledge_within <= decision.feedback_within, (decision.matched_rules, doc.rules)


def test_the_drawn_policies_are_not_all_refused() -> None:
    """The property above is not vacuous: plenty of the drawn policies pass, and plenty do not."""
    verdicts: list[bool] = []

    @settings(max_examples=200, deadline=None, database=None)
    @given(any_deadlines())
    def judge(doc: PolicyDocument) -> None:
        verdicts.append(validate(doc).ok)

    judge()
    assert verdicts.count(True) > 20 and verdicts.count(False) > 20, verdicts.count(True)


def test_round_trip_of_a_bounded_document() -> None:
    doc = load_policy(STARTER)
    assert load_policy(yaml.safe_dump(doc.model_dump(mode="json"), sort_keys=False)) == doc
