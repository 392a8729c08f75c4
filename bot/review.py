"""The review screen: the whole report as it will be submitted, and its Submit, Edit and Cancel buttons."""

from __future__ import annotations

from bot import questions
from bot.catalogue import policy_label
from bot.state import PersonAnswer
from bot.turn import Keyboard, Turn

# The answers "when" offers as buttons, and the sections the review can edit (report_flow uses these).
WHEN_CHOICES = ("ongoing", "today", "week", "month", "earlier")
EDITABLE = ("categories", "narrative", "when", "where", "people", "witnesses", "evidence", "answers")


def category_label(turn: Turn, category_id: str) -> str:
    """A category in the reader's language for a starter category, else as the policy names it."""
    label = next((c.label for c in turn.policy.categories if c.id == category_id), category_id)
    return policy_label(turn.t, f"category.{category_id}", label)


def keyboard(turn: Turn) -> Keyboard:
    """Submit, one Edit per section, Cancel."""
    t = turn.t
    sections = EDITABLE
    rows: Keyboard = [[(t("button.submit"), turn.data("submit"))]]
    for first, second in zip(sections[::2], sections[1::2], strict=True):
        rows.append(
            [
                (t(f"button.edit_{first}"), turn.data("edit", first)),
                (t(f"button.edit_{second}"), turn.data("edit", second)),
            ]
        )
    rows.append([(t("button.cancel"), turn.data("cancel"))])
    return rows


def _answer(turn: Turn, value: bool | None) -> str:
    return turn.t("answer.unknown") if value is None else turn.t("answer.yes" if value else "answer.no")


def summary(turn: Turn) -> str:
    """The whole report as the reporter will submit it, short enough for one Telegram message."""
    s, t = turn.state, turn.t
    none = t("review.none")
    narrative = "\n".join(s.narrative)
    if len(narrative) > 1200:
        narrative = narrative[:1200] + " …"
    where = s.where or (questions.unit_label(turn, s.location_unit) if s.location_unit else "") or none
    people = "; ".join(_person_text(turn, p) for p in s.people) or none
    when = t(f"when.{s.when}") if s.when in WHEN_CHOICES else (s.when or none)
    if s.when and s.when not in WHEN_CHOICES:
        when = t(
            {True: "review.when.ongoing", False: "review.when.over"}.get(s.ongoing, "review.when.unsure"),
            value=when,
        )
    lines = [
        t("review.categories", value=", ".join(category_label(turn, c) for c in s.categories)),
        t("review.narrative", value=narrative),
        t("review.when", value=when),
        t("review.where", value=where),
        t("review.people", value=people),
        t("review.witnesses", value=s.witnesses or none),
        t("review.evidence", value=t("review.files", count=len(s.evidence)) if s.evidence else none),
        t("review.risk", value=_answer(turn, s.risk_of_harm)),
        t("review.reported_before", value=_answer(turn, s.reported_before)),
        t("review.checkins", value=_answer(turn, s.checkin_consent)),
    ]
    return "\n".join(lines)


def _person_text(turn: Turn, person: PersonAnswer) -> str:
    unit = questions.unit_label(turn, person.unit) if person.unit else ""
    role = (
        questions.role_label(turn, person.role)
        if person.role and person.role != questions.UNKNOWN_ROLE
        else ""
    )
    parts = [person.name, person.staff_number, role, unit, person.note]
    return ", ".join(p for p in parts if p) or turn.t("report.person.someone")
