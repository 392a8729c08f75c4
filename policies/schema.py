"""The routing-policy document: units, queues, categories, ordered rules and defaults.

These models check structure and cross-references only (every id named somewhere exists, ids are unique).
Whether a well-formed document is safe to publish (always routable, no conflict of interest, legal
deadlines) is the validator's job, so an admin sees a typo and a design problem as different kinds of
message.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterable
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, BaseModel, BeforeValidator, ConfigDict, Field, model_validator
from pydantic_core import PydanticCustomError

__all__ = [
    "EU_DIRECTIVE",
    "FRAMEWORKS",
    "ID_PATTERN",
    "PRIORITIES",
    "UK_POLICE",
    "Category",
    "Conditions",
    "Defaults",
    "Id",
    "LegalFramework",
    "PolicyDocument",
    "Priority",
    "ProgressClock",
    "Queue",
    "QuietHours",
    "Route",
    "Rule",
    "Support",
    "SupportWords",
    "Unit",
    "format_path",
    "priority_rank",
]

Priority = Literal["low", "normal", "high", "urgent"]
PRIORITIES: tuple[Priority, ...] = ("low", "normal", "high", "urgent")

# Why 40: ids travel in Telegram button data (at most 64 bytes, with the bot's own prefix).
ID_PATTERN = re.compile(r"^[a-z0-9][a-z0-9-]{0,39}$")

PathPart = str | int
Path = tuple[PathPart, ...]


def priority_rank(priority: str) -> int:
    """Position of ``priority`` in :data:`PRIORITIES` (higher is more pressing)."""
    return PRIORITIES.index(priority)  # type: ignore[arg-type]


def format_path(path: Iterable[PathPart]) -> str:
    """Render a location as an admin would look for it: ``queues[2].unit``."""
    out = ""
    for part in path:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += f".{part}" if out else part
    return out


def _check_id(value: str) -> str:
    if not ID_PATTERN.fullmatch(value):
        raise PydanticCustomError(
            "policy_id",
            "{value} is not a valid id: use lower-case letters, digits and '-', "
            "starting with a letter or digit, at most 40 characters",
            {"value": repr(value)},
        )
    return value


Id = Annotated[str, AfterValidator(_check_id)]


def _time_text(value: Any) -> Any:
    # YAML 1.1 reads an unquoted 21:00 as the base-60 integer 1260; say how to fix it instead of
    # reporting a puzzling "should be a valid string".
    if isinstance(value, int) and not isinstance(value, bool):
        raise PydanticCustomError(
            "policy_time", 'write times in quotes, e.g. "21:00" (unquoted, YAML reads them as numbers)'
        )
    return value


TimeText = Annotated[str, BeforeValidator(_time_text)]

# Why bounds in the schema: a deadline or schedule becomes a datetime.timedelta, which cannot hold more than
# about 2.7 million years, so `acknowledge_within_hours: 1000000000000` must be refused as a mistake in the
# document (naming its line) before any check or route turns it into a traceback. Ten years is far past
# every legal ceiling the validator holds deadlines to, and past any schedule a force would write. The lower
# bounds are as far below zero: a small zero or negative value reaches the validator, which says what the
# least sensible value is.
MAX_DAYS = 3650
MAX_HOURS = MAX_DAYS * 24
MAX_MONTHS = 120
MAX_RETENTION_DAYS = 36500  # a hundred years: retention may be long, never beyond a datetime
Days = Annotated[int, Field(ge=-MAX_DAYS, le=MAX_DAYS)]
Hours = Annotated[int, Field(ge=-MAX_HOURS, le=MAX_HOURS)]
Months = Annotated[int, Field(ge=-MAX_MONTHS, le=MAX_MONTHS)]
RetentionDays = Annotated[int, Field(ge=-MAX_RETENTION_DAYS, le=MAX_RETENTION_DAYS)]


class _Model(BaseModel):
    # strict: YAML already gives real booleans and numbers, so "yes" for an int or 1 for a bool is a
    # mistake worth reporting rather than coercing.
    model_config = ConfigDict(extra="forbid", frozen=True, strict=True)


class Unit(_Model):
    """A part of the force a subject can belong to (a BCU, a department, PSD itself)."""

    id: Id
    name: str = Field(min_length=1)


class Queue(_Model):
    """A work queue of standards officers; its members can read the reports routed to it."""

    id: Id
    name: str = Field(min_length=1)
    # None means the queue sits outside every unit (an independent reviewer), so no subject can ever
    # be in its line management; the validator relies on this for the fallback.
    unit: Id | None
    escalates_to: Id | None = None


class Category(_Model):
    """A kind of misconduct a reporter can pick; a report may carry several."""

    id: Id
    label: str = Field(min_length=1)
    discrimination: bool = False


class Conditions(_Model):
    """What a report's metadata must show for a rule to apply; every given condition must hold."""

    categories_any: list[Id] = []
    categories_all: list[Id] = []
    subject_unit_any: list[Id] = []
    subject_role_any: list[Id] = []
    ongoing: bool | None = None
    risk_of_harm: bool | None = None
    reported_before: bool | None = None
    discrimination: bool | None = None

    def is_empty(self) -> bool:
        """True if these conditions match every report."""
        return self == Conditions()


class Route(_Model):
    """What a matching rule contributes to the routing decision; unset fields contribute nothing.

    A deadline is given in days or, where a rule needs a tighter clock (a risk of harm now), in hours;
    the validator refuses a rule that gives both for the same deadline.
    """

    queues: list[Id] = []
    exclude: list[Id] = []
    priority: Priority | None = None
    acknowledge_within_days: Days | None = None
    acknowledge_within_hours: Hours | None = None
    feedback_within_days: Days | None = None
    feedback_within_hours: Hours | None = None
    checkin_days: list[Days] | None = None
    escalation: Id | None = None
    retention_days: RetentionDays | None = None
    flags: list[Id] = []
    # What the officer who picks the case up should do first (e.g. check the victim's safety); policy
    # text, never report content, shown with the case from its matched rules (engine.prompts_for).
    prompt: str = ""


# The legal frameworks a policy may name for its deadline ceilings (see LegalFramework).
EU_DIRECTIVE = "eu-directive-2019-1937"
UK_POLICE = "uk-police"
FRAMEWORKS: tuple[str, ...] = (EU_DIRECTIVE, UK_POLICE)


class LegalFramework(_Model):
    """The framework the policy's deadline ceilings come from: a named, documented choice.

    `eu-directive-2019-1937` (the default, so documents written before this field keep their meaning)
    fixes the ceilings at 7 days to acknowledge and 3 months to give feedback (art. 9). `uk-police`
    is for a force in England and Wales, which that directive does not bind: the College of Policing's
    Code of Ethics and the Code of Practice for Ethical Policing set no fixed time, so the force names
    its own procedure and the ceilings it commits to, and the validator holds every deadline to those.
    """

    profile: Literal["eu-directive-2019-1937", "uk-police"] = "eu-directive-2019-1937"
    # The force's own procedure (a title and reference, e.g. "Reporting wrongdoing SOP v3, para 4").
    procedure: str = ""
    acknowledge_within_days_max: Days | None = None
    feedback_within_days_max: Days | None = None


class Rule(_Model):
    """One ordered routing rule."""

    id: Id
    description: str = ""
    # Required even for a catch-all (`when: {}`), so a forgotten condition is an error, not a rule
    # that silently matches every report.
    when: Conditions
    route: Route
    final: bool = False


class QuietHours(_Model):
    """Local hours during which the bot sends nothing to reporters."""

    start: TimeText = "21:00"
    end: TimeText = "08:00"
    timezone: str = "Europe/London"


class ProgressClock(_Model):
    """When an open investigation is due a progress update (Police (Conduct) Regulations 2020, reg 19)."""

    first_after_months: Months = 12
    then_every_months: Months = 6


def _check_language(value: str) -> str:
    if not re.fullmatch(r"[a-z]{2,3}", value):
        raise PydanticCustomError(
            "policy_language",
            "{value} is not a language code: use the bot's, e.g. cy",
            {"value": repr(value)},
        )
    return value


LanguageCode = Annotated[str, AfterValidator(_check_language)]


class SupportWords(_Model):
    """A support entry's name and contact in one other language; one left out falls back (bot/support.py)."""

    name: str = Field(default="", max_length=80)
    contact: str = Field(default="", max_length=200)


class Support(_Model):
    """Somewhere a reporter can turn for support, offered after a report and when things get worse.

    Why in the policy: who supports a force's people (a staff association, a union, an employee
    assistance programme, a crisis line) differs by force and by role, and only the force knows it.
    """

    id: Id
    name: str = Field(min_length=1, max_length=80)
    contact: str = Field(min_length=1, max_length=200)  # how to reach it, in words: "call 116 123, free"
    # The force's own words in another language, by the bot's language code (`cy` for Welsh). Why in the
    # policy: a force that changes a number must be able to change it in every language it speaks; the
    # bot prefers these, then a catalogue translation made from this very English, then the English.
    translations: dict[LanguageCode, SupportWords] = Field(default_factory=dict, max_length=8)

    @model_validator(mode="after")
    def _check_translations(self) -> Support:
        if "en" in self.translations:
            raise PydanticCustomError(
                "policy_support", "translations.en: the English words are name: and contact: themselves"
            )
        return self


class Defaults(_Model):
    """Values used when no matching rule sets them."""

    priority: Priority = "normal"
    acknowledge_within_days: Days = 7
    feedback_within_days: Days = 90
    checkin_days: list[Days] = [7, 30, 90]
    checkin_after_closure_days: list[Days] = [30]
    retention_days: RetentionDays = 2190
    escalation: Id | None = None
    quiet_hours: QuietHours = QuietHours()
    # A check-in goes out at a random moment up to this long after it is due (and outside quiet hours).
    checkin_jitter_minutes: int = Field(default=180, ge=0, le=720)
    # Sends to Telegram that fail on the network are tried this many times in all, with growing waits.
    delivery_attempts: int = Field(default=5, ge=1, le=20)
    progress_update: ProgressClock = ProgressClock()


class PolicyDocument(_Model):
    """A whole routing policy, as an admin writes it."""

    name: str = Field(min_length=1)
    units: list[Unit]
    queues: list[Queue]
    categories: list[Category]
    subject_roles: list[Id]
    defaults: Defaults = Defaults()
    legal_framework: LegalFramework = LegalFramework()
    support: list[Support] = Field(default_factory=list, max_length=8)
    rules: list[Rule]
    fallback_queues: list[Id]

    @model_validator(mode="after")
    def _check_references(self) -> PolicyDocument:
        problems = _reference_problems(self)
        if problems:
            summary = "; ".join(f"{format_path(path)}: {message}" for path, message in problems)
            raise PydanticCustomError(
                "policy_reference", "{summary}", {"summary": summary, "problems": tuple(problems)}
            )
        return self

    def unit_of(self, queue_id: str) -> str | None:
        """The unit of a queue (None for an external queue); KeyError for an unknown queue."""
        return self.queue(queue_id).unit

    def queue(self, queue_id: str) -> Queue:
        """The queue with this id; KeyError if there is none."""
        for queue in self.queues:
            if queue.id == queue_id:
                return queue
        raise KeyError(queue_id)


def _reference_problems(doc: PolicyDocument) -> list[tuple[Path, str]]:
    problems: list[tuple[Path, str]] = []

    def unique(kind: str, field: str, ids: list[str]) -> set[str]:
        counts = Counter(ids)
        seen: set[str] = set()
        for index, value in enumerate(ids):
            if counts[value] > 1 and value in seen:
                path: Path = (field, index) if field == "subject_roles" else (field, index, "id")
                problems.append((path, f"duplicate {kind} id {value!r}"))
            seen.add(value)
        return set(ids)

    units = unique("unit", "units", [u.id for u in doc.units])
    queues = unique("queue", "queues", [q.id for q in doc.queues])
    categories = unique("category", "categories", [c.id for c in doc.categories])
    roles = unique("subject role", "subject_roles", list(doc.subject_roles))
    unique("rule", "rules", [r.id for r in doc.rules])
    unique("support", "support", [entry.id for entry in doc.support])

    known = {"unit": units, "queue": queues, "category": categories, "subject role": roles}

    def ref(kind: str, path: Path, value: str | None) -> None:
        if value is not None and value not in known[kind]:
            problems.append((path, f"unknown {kind} {value!r}"))

    def refs(kind: str, path: Path, values: list[str]) -> None:
        for index, value in enumerate(values):
            ref(kind, (*path, index), value)

    for index, queue in enumerate(doc.queues):
        ref("unit", ("queues", index, "unit"), queue.unit)
        ref("queue", ("queues", index, "escalates_to"), queue.escalates_to)
    for index, rule in enumerate(doc.rules):
        when, route = ("rules", index, "when"), ("rules", index, "route")
        refs("category", (*when, "categories_any"), rule.when.categories_any)
        refs("category", (*when, "categories_all"), rule.when.categories_all)
        refs("unit", (*when, "subject_unit_any"), rule.when.subject_unit_any)
        refs("subject role", (*when, "subject_role_any"), rule.when.subject_role_any)
        refs("queue", (*route, "queues"), rule.route.queues)
        refs("queue", (*route, "exclude"), rule.route.exclude)
        ref("queue", (*route, "escalation"), rule.route.escalation)
    refs("queue", ("fallback_queues",), doc.fallback_queues)
    ref("queue", ("defaults", "escalation"), doc.defaults.escalation)
    return problems
