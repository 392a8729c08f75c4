"""Tests for the policy document models and the YAML loader: structure, references, line numbers."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pydantic
import pytest
import yaml

from policies import PolicyDocument, PolicySyntaxError, load_policy, load_policy_file, starter_policy_text
from policies.loader import MAX_POLICY_CHARS

STARTER_CATEGORIES = [
    "bullying",
    "harassment",
    "sexual-harassment",
    "racism",
    "misogyny",
    "homophobia",
    "religious-discrimination",
    "disability-discrimination",
    "age-discrimination",
    "abuse-of-position",
    "domestic-abuse",
    "violence",
    "corruption",
    "misuse-of-systems",
    "other",
]

# Line numbers in the tests below refer to this text; keep it in step with them.
SMALL = textwrap.dedent(
    """\
    name: small
    units:
      - id: north
        name: North
    queues:
      - id: north-desk
        name: North desk
        unit: north
      - id: outside
        name: Outside reviewer
        unit: null
    categories:
      - id: bullying
        label: Bullying
    subject_roles: [constable]
    rules:
      - id: all
        when: {}
        route:
          queues: [north-desk]
    fallback_queues: [outside]
    """
)


def syntax_error(text: str) -> PolicySyntaxError:
    with pytest.raises(PolicySyntaxError) as caught:
        load_policy(text)
    return caught.value


def test_small_document_loads_with_defaults() -> None:
    doc = load_policy(SMALL)
    assert doc.name == "small"
    assert [q.id for q in doc.queues] == ["north-desk", "outside"]
    assert doc.queues[1].unit is None
    assert doc.rules[0].when.is_empty()
    assert doc.defaults.acknowledge_within_days == 7
    assert doc.defaults.feedback_within_days == 90
    assert doc.defaults.checkin_days == [7, 30, 90]
    assert doc.defaults.checkin_after_closure_days == [30]
    assert doc.defaults.retention_days == 2190
    assert doc.defaults.quiet_hours.start == "21:00"
    assert doc.defaults.quiet_hours.timezone == "Europe/London"
    assert doc.defaults.progress_update.first_after_months == 12
    assert doc.defaults.progress_update.then_every_months == 6


def test_starter_loads_and_has_the_brief_categories() -> None:
    text = starter_policy_text()
    assert text == (Path(__file__).parents[1] / "policies" / "starter.yaml").read_text(encoding="utf-8")
    doc = load_policy(text)
    assert [c.id for c in doc.categories] == STARTER_CATEGORIES
    assert {c.id for c in doc.categories if c.discrimination} == {
        "racism",
        "misogyny",
        "homophobia",
        "religious-discrimination",
        "disability-discrimination",
        "age-discrimination",
    }
    units = {u.id for u in doc.units}
    assert {"professional-standards", "chief-officers", "hr", "training"} <= units
    assert {"north-bcu", "south-bcu", "east-bcu", "west-bcu"} <= units
    queue_units = {q.id: q.unit for q in doc.queues}
    assert queue_units["psd-conduct"] == "professional-standards"
    assert queue_units["psd-counter-corruption"] == "professional-standards"
    assert queue_units["independent-review"] is None
    assert "independent-review" in doc.fallback_queues


def test_load_policy_file(tmp_path: Path) -> None:
    path = tmp_path / "policy.yaml"
    path.write_text(SMALL, encoding="utf-8")
    assert load_policy_file(path) == load_policy(SMALL)
    assert load_policy_file(str(path)).name == "small"


def test_load_policy_file_refuses_non_utf8(tmp_path: Path) -> None:
    path = tmp_path / "policy.yaml"
    path.write_bytes(SMALL.encode("utf-8") + b"\xff\xfe")
    with pytest.raises(PolicySyntaxError, match="not UTF-8"):
        load_policy_file(path)


def test_yaml_syntax_error_names_the_line() -> None:
    text = SMALL.replace("    label: Bullying\n", "    label: Bullying\n   oops: [\n")
    error = syntax_error(text)
    assert error.line == 15
    assert str(error).startswith("line 15: ")


def test_unknown_unit_is_reported_at_its_line() -> None:
    text = SMALL.replace("    unit: north\n", "    unit: xyz\n")
    error = syntax_error(text)
    assert error.line == 8
    assert str(error) == "line 8: queues[0].unit: unknown unit 'xyz'"


@pytest.mark.parametrize(
    ("old", "new", "line", "expected"),
    [
        (
            "queues: [north-desk]",
            "queues: [north-desk, nowhere]",
            20,
            "rules[0].route.queues[1]: unknown queue",
        ),
        (
            "fallback_queues: [outside]",
            "fallback_queues: [gone]",
            21,
            "fallback_queues[0]: unknown queue 'gone'",
        ),
        ("when: {}", "when: {categories_any: [theft]}", 18, "categories_any[0]: unknown category 'theft'"),
        ("when: {}", "when: {categories_all: [theft]}", 18, "categories_all[0]: unknown category 'theft'"),
        ("when: {}", "when: {subject_unit_any: [south]}", 18, "subject_unit_any[0]: unknown unit 'south'"),
        (
            "when: {}",
            "when: {subject_role_any: [mayor]}",
            18,
            "subject_role_any[0]: unknown subject role 'mayor'",
        ),
        ("queues: [north-desk]", "exclude: [nope]", 20, "rules[0].route.exclude[0]: unknown queue 'nope'"),
        ("queues: [north-desk]", "escalation: nope", 20, "rules[0].route.escalation: unknown queue 'nope'"),
        ("    unit: north\n", "    unit: north\n    escalates_to: nope\n", 9, "queues[0].escalates_to"),
    ],
)
def test_unknown_references_are_named_with_their_line(old: str, new: str, line: int, expected: str) -> None:
    assert old in SMALL
    error = syntax_error(SMALL.replace(old, new))
    assert error.line == line
    assert expected in str(error)
    assert str(error).startswith(f"line {line}: ")


def test_unknown_default_escalation_is_refused() -> None:
    error = syntax_error(SMALL + "defaults:\n  escalation: nowhere\n")
    assert error.line == 23
    assert "defaults.escalation: unknown queue 'nowhere'" in str(error)


def test_every_reference_problem_is_reported_in_line_order() -> None:
    text = SMALL.replace("fallback_queues: [outside]", "fallback_queues: [gone]").replace(
        "    unit: north\n", "    unit: xyz\n"
    )
    error = syntax_error(text)
    assert error.line == 8
    assert error.details == (
        "line 8: queues[0].unit: unknown unit 'xyz'",
        "line 21: fallback_queues[0]: unknown queue 'gone'",
    )
    assert str(error) == "\n".join(error.details)


@pytest.mark.parametrize(
    ("old", "new", "line", "expected"),
    [
        ("  - id: outside\n", "  - id: north-desk\n", 9, "queues[1].id: duplicate queue id 'north-desk'"),
        ("subject_roles: [constable]", "subject_roles: [constable, constable]", 15, "duplicate subject role"),
        ("  - id: north\n", "  - id: North\n", 3, "units[0].id: 'North' is not a valid id"),
        ("  - id: all\n", "  - id: -all\n", 17, "rules[0].id: '-all' is not a valid id"),
    ],
)
def test_ids_must_be_unique_and_well_formed(old: str, new: str, line: int, expected: str) -> None:
    error = syntax_error(SMALL.replace(old, new))
    assert error.line == line
    assert expected in str(error)


def test_duplicate_rule_ids_are_refused() -> None:
    text = SMALL.replace(
        "fallback_queues:", "  - id: all\n    when: {}\n    route: {queues: [outside]}\nfallback_queues:"
    )
    error = syntax_error(text)
    assert error.line == 21
    assert "rules[1].id: duplicate rule id 'all'" in str(error)


def test_duplicate_mapping_key_is_refused() -> None:
    text = SMALL.replace("    name: North desk\n", "    name: North desk\n    name: Shadow desk\n")
    error = syntax_error(text)
    assert error.line == 8
    assert "duplicate key 'name'" in str(error)
    assert "first given on line 7" in str(error)


def test_duplicate_top_level_key_is_refused() -> None:
    error = syntax_error(SMALL + "name: again\n")
    assert error.line == 22
    assert "duplicate key 'name'" in str(error)


@pytest.mark.parametrize(
    "tagged",
    [
        "!!python/object/apply:os.system ['true']",
        "!!python/object:os.PathLike {}",
        "!!python/name:os.system",
    ],
)
def test_python_tags_are_refused(tagged: str) -> None:
    error = syntax_error(SMALL.replace("name: small", f"name: {tagged}"))
    assert error.line == 1
    assert "python" in str(error)


def test_aliases_and_merge_keys_are_refused() -> None:
    aliased = SMALL.replace("subject_roles: [constable]", "subject_roles: &roles [constable]\nx: *roles")
    assert "aliases" in str(syntax_error(aliased))
    merged = SMALL.replace("    name: North desk\n", "    <<: {name: North desk}\n")
    error = syntax_error(merged)
    assert error.line == 7
    assert "merge keys" in str(error)


def test_unknown_field_is_named() -> None:
    error = syntax_error(SMALL.replace("    label: Bullying\n", "    label: Bullying\n    colour: red\n"))
    assert error.line == 15
    assert "categories[0].colour: unknown field" in str(error)


def test_missing_field_is_reported_at_its_parent() -> None:
    error = syntax_error(SMALL.replace("    name: North desk\n", ""))
    assert error.line == 6
    assert "queues[0].name: required but missing" in str(error)


def test_missing_top_level_field_is_reported_at_line_one() -> None:
    error = syntax_error(SMALL.replace("fallback_queues: [outside]\n", ""))
    assert error.line == 1
    assert "fallback_queues: required but missing" in str(error)


def test_unquoted_time_gets_a_hint() -> None:
    error = syntax_error(SMALL + "defaults:\n  quiet_hours:\n    start: 21:00\n")
    assert error.line == 24
    assert "defaults.quiet_hours.start" in str(error)
    assert "quotes" in str(error)


@pytest.mark.parametrize(
    ("old", "new", "expected"),
    [
        ("when: {}", 'when: {ongoing: "yes please"}', "rules[0].when.ongoing"),
        ("when: {}", "when: {risk_of_harm: 1}", "rules[0].when.risk_of_harm"),
        ("queues: [north-desk]", "acknowledge_within_days: true", "acknowledge_within_days"),
        ("queues: [north-desk]", 'acknowledge_within_days: "3"', "acknowledge_within_days"),
        ("queues: [north-desk]", "priority: asap", "'low', 'normal', 'high' or 'urgent'"),
        ("queues: [north-desk]", "checkin_days: [1, x]", "rules[0].route.checkin_days[1]"),
    ],
)
def test_wrong_types_are_refused_not_coerced(old: str, new: str, expected: str) -> None:
    error = syntax_error(SMALL.replace(old, new))
    assert expected in str(error)
    assert error.line in (18, 20)


@pytest.mark.parametrize(
    ("text", "expected"),
    [("", "empty"), ("# only a comment\n", "empty"), ("- a\n- b\n", "mapping"), ("just text\n", "mapping")],
)
def test_documents_that_are_not_mappings(text: str, expected: str) -> None:
    error = syntax_error(text)
    assert error.line == 1
    assert expected in str(error)


def test_several_yaml_documents_are_refused() -> None:
    assert syntax_error(SMALL + "---\nname: second\n").line == 22


def test_non_text_and_oversized_input() -> None:
    with pytest.raises(TypeError):
        load_policy(SMALL.encode())  # type: ignore[arg-type]
    with pytest.raises(PolicySyntaxError, match="too long"):
        load_policy(SMALL + "#" * MAX_POLICY_CHARS)


def test_models_are_frozen() -> None:
    doc = load_policy(SMALL)
    with pytest.raises(pydantic.ValidationError):
        doc.name = "changed"  # type: ignore[misc]
    with pytest.raises(pydantic.ValidationError):
        doc.queues[0].unit = None  # type: ignore[misc]


def test_model_validate_reports_references_without_yaml() -> None:
    data = yaml.safe_load(SMALL)
    data["queues"][0]["unit"] = "xyz"
    with pytest.raises(pydantic.ValidationError, match=r"queues\[0\]\.unit: unknown unit 'xyz'"):
        PolicyDocument.model_validate(data)


def test_round_trip_through_dump() -> None:
    doc = load_policy(starter_policy_text())
    again = load_policy(yaml.safe_dump(doc.model_dump(mode="json"), sort_keys=False))
    assert again == doc
    assert PolicyDocument.model_validate_json(doc.model_dump_json()) == doc
