"""Decide whether a well-formed policy is safe to publish.

Errors block publishing: a report that could be left unrouted, a rule that sends a report to the
subject's own unit, an escalation cycle, deadlines beyond the ceilings of the policy's named legal
framework (by default EU Directive 2019/1937, art. 9: acknowledge within 7 days, feedback within 3
months; under the `uk-police` profile, the ceilings of the force's own procedure), a reachable queue
with nobody in it, and schedules the scheduler could not follow. Warnings point at rules an admin
probably did not mean.
"""

from __future__ import annotations

import itertools
import re
import zoneinfo
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import timedelta

from policies.engine import within
from policies.errors import PolicyInvalidError
from policies.schema import EU_DIRECTIVE, Defaults, PolicyDocument, Route, Rule

__all__ = [
    "MAX_ACKNOWLEDGE_DAYS",
    "MAX_FEEDBACK_DAYS",
    "Ceilings",
    "Problem",
    "ValidationReport",
    "ceilings",
    "ensure_valid",
    "reachable_queues",
    "validate",
]

# EU Directive 2019/1937, art. 9(1)(b) and (f): acknowledge within 7 days, feedback within 3 months.
MAX_ACKNOWLEDGE_DAYS = 7
MAX_FEEDBACK_DAYS = 90
# Why two: deadlines count from the receipt time rounded down to the hour (never past a rule or a legal
# ceiling), so a rule of one hour could leave a minute; two leave at least an hour.
MIN_HOURS = 2
UK_MAX_DAYS = 365  # a ceiling a force names under uk-police may be long, never open-ended

_TIME = re.compile(r"^([01]\d|2[0-3]):[0-5]\d$")


@dataclass(frozen=True)
class Ceilings:
    """The longest deadlines a policy may set, and the source an admin is pointed to for each."""

    acknowledge_days: int
    feedback_days: int
    acknowledge_source: str
    feedback_source: str


def ceilings(document: PolicyDocument) -> Ceilings | None:
    """The deadline ceilings of the policy's legal framework (None if the UK profile left them out)."""
    framework = document.legal_framework
    if framework.profile == EU_DIRECTIVE:
        return Ceilings(
            MAX_ACKNOWLEDGE_DAYS,
            MAX_FEEDBACK_DAYS,
            "EU Directive 2019/1937, art. 9(1)(b): 7 days",
            "EU Directive 2019/1937, art. 9(1)(f): 3 months",
        )
    if framework.acknowledge_within_days_max is None or framework.feedback_within_days_max is None:
        return None
    source = f"the force's procedure ({framework.procedure or 'not named'})"
    return Ceilings(
        framework.acknowledge_within_days_max,
        framework.feedback_within_days_max,
        f"{source}: {framework.acknowledge_within_days_max} days",
        f"{source}: {framework.feedback_within_days_max} days",
    )


@dataclass(frozen=True)
class Problem:
    """One thing wrong with a policy: a stable ``code``, a sentence for the admin, and where it is."""

    code: str
    message: str
    where: str


@dataclass(frozen=True)
class ValidationReport:
    """The validator's verdict; a policy may be published only if ``ok``."""

    errors: tuple[Problem, ...]
    warnings: tuple[Problem, ...]

    @property
    def ok(self) -> bool:
        return not self.errors


def validate(document: PolicyDocument, *, member_counts: Mapping[str, int] | None = None) -> ValidationReport:
    """Check every invariant; ``member_counts`` (queue id -> members) enables the staffing check."""
    check = _Checker(document)
    check.always_routable()
    check.no_rule_routes_to_subject_unit()
    check.escalation_acyclic()
    check.framework()
    check.deadlines()
    check.deadline_order()
    check.schedules()
    if member_counts is not None:
        check.staffed(member_counts)
    check.rule_warnings()
    return ValidationReport(errors=tuple(check.errors), warnings=tuple(check.warnings))


def ensure_valid(document: PolicyDocument, *, member_counts: Mapping[str, int] | None = None) -> None:
    """Raise :class:`PolicyInvalidError` listing the errors, if there are any."""
    report = validate(document, member_counts=member_counts)
    if not report.ok:
        raise PolicyInvalidError(report.errors)


def reachable_queues(document: PolicyDocument) -> list[str]:
    """Every queue some report could reach: by a rule, the fallback, or escalation, in document order."""
    found: set[str] = set(document.fallback_queues)
    for rule in document.rules:
        found.update(rule.route.queues)
        if rule.route.escalation is not None:
            found.add(rule.route.escalation)
    if document.defaults.escalation is not None:
        found.add(document.defaults.escalation)
    escalates_to = {q.id: q.escalates_to for q in document.queues}
    pending = list(found)
    while pending:
        target = escalates_to.get(pending.pop())
        if target is not None and target not in found:
            found.add(target)
            pending.append(target)
    return [q.id for q in document.queues if q.id in found]


def _rule_where(index: int, rule: Rule) -> str:
    return f"rules[{index}] ({rule.id})"


class _Checker:
    def __init__(self, document: PolicyDocument) -> None:
        self.doc = document
        self.errors: list[Problem] = []
        self.warnings: list[Problem] = []
        self.unit_of = {q.id: q.unit for q in document.queues}
        self.queue_index = {q.id: i for i, q in enumerate(document.queues)}

    def error(self, code: str, message: str, where: str) -> None:
        self.errors.append(Problem(code, message, where))

    def warn(self, code: str, message: str, where: str) -> None:
        self.warnings.append(Problem(code, message, where))

    def queue_where(self, queue_id: str) -> str:
        return f"queues[{self.queue_index[queue_id]}] ({queue_id})"

    def always_routable(self) -> None:
        # Subjects can sit in several units at once, so only a queue outside every unit is certain
        # to be free of conflict for every report.
        if not any(self.unit_of[q] is None for q in self.doc.fallback_queues):
            self.error(
                "unroutable",
                "fallback_queues has no external queue (one with unit: null); a report about people "
                "in several units could be left with no queue allowed to receive it",
                "fallback_queues",
            )

    def no_rule_routes_to_subject_unit(self) -> None:
        for index, rule in enumerate(self.doc.rules):
            subject_units = set(rule.when.subject_unit_any)
            if not subject_units:
                continue
            targets = [("routes", q) for q in rule.route.queues]
            if rule.route.escalation is not None:
                targets.append(("escalates", rule.route.escalation))
            for verb, queue_id in targets:
                unit = self.unit_of[queue_id]
                if unit in subject_units:
                    self.error(
                        "routes-to-subject-unit",
                        f"{verb} reports about people in {unit!r} to queue {queue_id!r}, which belongs to "
                        f"{unit!r}; a report must never reach the subject's own unit",
                        _rule_where(index, rule),
                    )

    def escalation_acyclic(self) -> None:
        next_of = {q.id: q.escalates_to for q in self.doc.queues}
        settled: set[str] = set()
        for queue in self.doc.queues:
            path: list[str] = []
            node: str | None = queue.id
            while node is not None and node not in settled and node not in path:
                path.append(node)
                node = next_of[node]
            if node is not None and node in path:
                cycle = path[path.index(node) :]
                first = min(cycle, key=self.queue_index.__getitem__)
                self.error(
                    "escalation-cycle",
                    "escalation goes round in a circle: " + " -> ".join([*cycle, node]),
                    self.queue_where(first),
                )
            settled.update(path)

    def framework(self) -> None:
        """The legal framework is complete: the EU profile's ceilings are fixed; the UK profile names the
        force's procedure and the ceilings it commits to (the College of Policing's guidance sets none)."""
        framework, where = self.doc.legal_framework, "legal_framework"
        maxima = (framework.acknowledge_within_days_max, framework.feedback_within_days_max)
        if framework.profile == EU_DIRECTIVE:
            if any(m is not None for m in maxima) or framework.procedure:
                self.error(
                    "framework-mismatch",
                    "the EU Directive 2019/1937 profile has fixed ceilings (7 and 90 days); to set your "
                    "own procedure and ceilings, choose profile: uk-police",
                    where,
                )
            return
        if not framework.procedure.strip():
            self.error(
                "framework-incomplete",
                "the uk-police profile needs procedure: the title and reference of the force's own "
                "procedure for reporting concerns, which the deadlines are held to",
                where,
            )
        for field, value in zip(
            ("acknowledge_within_days_max", "feedback_within_days_max"), maxima, strict=True
        ):
            if value is None:
                self.error(
                    "framework-incomplete",
                    f"the uk-police profile needs {field}: the longest time your procedure allows",
                    where,
                )
            elif value < 1:
                self.error("deadline-invalid", f"{field} is {value}; it must be at least 1 day", where)
            elif value > UK_MAX_DAYS:
                self.error(
                    "deadline-invalid", f"{field} is {value}; a year ({UK_MAX_DAYS} days) is the most", where
                )
        acknowledge, feedback = maxima
        if acknowledge is not None and feedback is not None and acknowledge > feedback:
            self.error(
                "deadline-invalid",
                f"acknowledge_within_days_max ({acknowledge}) is longer than feedback_within_days_max "
                f"({feedback}): a report must be acknowledged before feedback is due",
                where,
            )

    def deadlines(self) -> None:
        limits = ceilings(self.doc)
        defaults = self.doc.defaults
        spans = {
            "acknowledge_within_days": _span(defaults.acknowledge_within_days, None),
            "feedback_within_days": _span(defaults.feedback_within_days, None),
        }
        self._deadline("defaults", spans, limits)
        for index, rule in enumerate(self.doc.rules):
            route, where = rule.route, _rule_where(index, rule)
            for name in ("acknowledge", "feedback"):
                days, hours = getattr(route, f"{name}_within_days"), getattr(route, f"{name}_within_hours")
                if days is not None and hours is not None:
                    self.error(
                        "deadline-ambiguous",
                        f"{name}_within_days and {name}_within_hours are both set; give one of them",
                        where,
                    )
            self._deadline(
                where,
                {
                    _field("acknowledge", route): _span(
                        route.acknowledge_within_days, route.acknowledge_within_hours
                    ),
                    _field("feedback", route): _span(route.feedback_within_days, route.feedback_within_hours),
                },
                limits,
            )

    def _deadline(
        self, where: str, spans: dict[str, tuple[int, timedelta] | None], limits: Ceilings | None
    ) -> None:
        for field, span in spans.items():
            if span is None:
                continue
            value, length = span
            unit = "hour" if field.endswith("_hours") else "day"
            least = MIN_HOURS if unit == "hour" else 1
            if value < least:
                self.error(
                    "deadline-invalid",
                    f"{field} is {value}; it must be at least {least} {unit}s"
                    if least > 1
                    else f"{field} is {value}; it must be at least 1 {unit}",
                    where,
                )
                continue
            if limits is None:
                continue
            feedback = field.startswith("feedback")
            limit = limits.feedback_days if feedback else limits.acknowledge_days
            source = limits.feedback_source if feedback else limits.acknowledge_source
            if length > timedelta(days=limit):
                allowed = f"{limit} days" if unit == "day" else f"{limit * 24} hours ({limit} days)"
                self.error(
                    "deadline-too-long",
                    f"{field} is {value}; the legal framework allows at most {allowed} ({source})",
                    where,
                )

    def deadline_order(self) -> None:
        """Every report is due its acknowledgement no later than its feedback, as the engine sets both.

        The engine takes the shortest acknowledgement and, separately, the shortest feedback of the
        matching rules, and the default for either when no matching rule sets it. Why each rule merged
        with the defaults covers every combination that can match together: a combination's shortest
        feedback, from rule R, is at least R's acknowledgement (or the default, if R sets none), which is
        at least the combination's shortest; with no feedback rule, the defaults' order holds it.
        """
        defaults = self.doc.defaults
        default = {
            "acknowledge": timedelta(days=defaults.acknowledge_within_days),
            "feedback": timedelta(days=defaults.feedback_within_days),
        }
        # A deadline too short to be valid has its own error (deadline-invalid); its order is moot.
        least = timedelta(hours=MIN_HOURS)
        if least <= default["feedback"] < default["acknowledge"]:
            self.error(
                "deadline-order",
                f"acknowledge_within_days ({defaults.acknowledge_within_days}) is longer than "
                f"feedback_within_days ({defaults.feedback_within_days}): a report must be acknowledged "
                "before its feedback is due",
                "defaults",
            )
        for index, rule in enumerate(self.doc.rules):
            spans = {name: _rule_span(rule.route, name) for name in ("acknowledge", "feedback")}
            if all(span is None for span in spans.values()):
                continue
            (ack, ack_said), (feedback, feedback_said) = (
                spans[name] or (default[name], _said_default(defaults, name)) for name in spans
            )
            if least <= feedback < ack:
                self.error(
                    "deadline-order",
                    f"a report this rule matches would be due feedback ({feedback_said}) before its "
                    f"acknowledgement ({ack_said}); give this rule an acknowledgement no longer than its "
                    "feedback, or a feedback no shorter than its acknowledgement",
                    _rule_where(index, rule),
                )

    def schedules(self) -> None:
        defaults = self.doc.defaults
        self._increasing("defaults", "checkin_days", defaults.checkin_days)
        self._increasing("defaults", "checkin_after_closure_days", defaults.checkin_after_closure_days)
        self._retention("defaults", defaults.retention_days)
        for index, rule in enumerate(self.doc.rules):
            if rule.route.checkin_days is not None:
                self._increasing(_rule_where(index, rule), "checkin_days", rule.route.checkin_days)
            self._retention(_rule_where(index, rule), rule.route.retention_days)

        clock = defaults.progress_update
        if clock.first_after_months < 1 or clock.then_every_months < 1:
            self.error(
                "bad-progress-clock",
                "progress_update months must be at least 1 (Police (Conduct) Regulations 2020, reg 19)",
                "defaults.progress_update",
            )

        quiet = defaults.quiet_hours
        for field, value in (("start", quiet.start), ("end", quiet.end)):
            if not _TIME.fullmatch(value):
                self.error(
                    "bad-quiet-hours",
                    f'quiet_hours.{field} is {value!r}; write a 24-hour time as HH:MM, e.g. "08:00"',
                    "defaults.quiet_hours",
                )
        if not _timezone_exists(quiet.timezone):
            self.error(
                "unknown-timezone",
                f'quiet_hours.timezone {quiet.timezone!r} is not a known time zone (e.g. "Europe/London")',
                "defaults.quiet_hours",
            )

    def _increasing(self, where: str, field: str, days: list[int]) -> None:
        if any(d < 1 for d in days) or any(a >= b for a, b in itertools.pairwise(days)):
            self.error(
                "bad-checkin-schedule",
                f"{field} {days} must be whole days after the event, at least 1, each later than the last",
                where,
            )

    def _retention(self, where: str, days: int | None) -> None:
        if days is not None and days < 1:
            self.error("bad-retention", f"retention_days is {days}; it must be at least 1", where)

    def staffed(self, member_counts: Mapping[str, int]) -> None:
        for queue_id in reachable_queues(self.doc):
            if member_counts.get(queue_id, 0) <= 0:
                self.error(
                    "queue-without-members",
                    f"queue {queue_id!r} can receive reports but has no members, so nobody could read them",
                    self.queue_where(queue_id),
                )

    def rule_warnings(self) -> None:
        rules = self.doc.rules
        stopper: Rule | None = None
        for index, rule in enumerate(rules):
            where = _rule_where(index, rule)
            if stopper is not None:
                self.warn(
                    "unreachable-rule",
                    f"never applies: rule {stopper.id!r} before it matches every report and is final",
                    where,
                )
            elif rule.final and rule.when.is_empty():
                stopper = rule
            contradictory = sorted(set(rule.route.queues) & set(rule.route.exclude))
            if contradictory:
                self.warn(
                    "contradictory-rule",
                    f"routes to and excludes the same queues {contradictory}; the exclusion wins",
                    where,
                )
            if _route_is_empty(rule.route):
                self.warn("empty-rule", "matches but sets nothing, so it has no effect", where)

        has_discrimination = any(c.discrimination for c in self.doc.categories)
        if any(r.when.discrimination for r in rules) and not has_discrimination:
            self.warn(
                "no-discrimination-category",
                "a rule asks for discrimination, but no category has discrimination: true, "
                "so that condition is never met",
                "categories",
            )

        if not any(r.when.is_empty() for r in rules):
            mentioned = {c for r in rules for c in (*r.when.categories_any, *r.when.categories_all)}
            by_discrimination = any(r.when.discrimination for r in rules)
            for index, category in enumerate(self.doc.categories):
                if category.id in mentioned or (category.discrimination and by_discrimination):
                    continue
                self.warn(
                    "uncovered-category",
                    f"no rule mentions category {category.id!r} and there is no catch-all rule (when: {{}}); "
                    "such reports go to the first usable fallback queue",
                    f"categories[{index}] ({category.id})",
                )

        used = set(reachable_queues(self.doc)) | {q for r in rules for q in r.route.exclude}
        for queue in self.doc.queues:
            if queue.id not in used:
                self.warn(
                    "unused-queue",
                    f"no rule, fallback or escalation sends reports to queue {queue.id!r}",
                    self.queue_where(queue.id),
                )


def _span(days: int | None, hours: int | None) -> tuple[int, timedelta] | None:
    """A deadline as written (the number) and as a span; hours win if both are given."""
    if hours is not None:
        return hours, timedelta(hours=hours)
    if days is not None:
        return days, timedelta(days=days)
    return None


def _field(name: str, route: Route) -> str:
    """The field a rule's deadline was written in, for the admin's message."""
    return (
        f"{name}_within_hours"
        if getattr(route, f"{name}_within_hours") is not None
        else f"{name}_within_days"
    )


def _rule_span(route: Route, name: str) -> tuple[timedelta, str] | None:
    """A rule's deadline as the engine reads it, and as the admin wrote it (`feedback_within_hours: 3`)."""
    span = within(getattr(route, f"{name}_within_days"), getattr(route, f"{name}_within_hours"))
    field = _field(name, route)
    return None if span is None else (span, f"{field}: {getattr(route, field)}")


def _said_default(defaults: Defaults, name: str) -> str:
    """A default deadline as written: `defaults.acknowledge_within_days: 7`."""
    return f"defaults.{name}_within_days: {getattr(defaults, f'{name}_within_days')}"


def _route_is_empty(route: Route) -> bool:
    return route == Route()


def _timezone_exists(name: str) -> bool:
    try:
        zoneinfo.ZoneInfo(name)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError, OSError):
        return False
    return True
