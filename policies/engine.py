"""Route one report: from a policy and the report's clear metadata to the queues and clocks of its case.

The engine sees routing metadata only (categories, the subject's units and roles, the reporter's yes/no
answers), never report content, so it can run before encryption and again in the simulator over past
cases. Whatever the rules say, a queue of a subject's unit never receives the report.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import timedelta

from policies.errors import PolicyError, PolicyUnroutableError
from policies.schema import Conditions, PolicyDocument, Priority, Route, priority_rank

__all__ = ["Decision", "ReportFacts", "matches", "prompts_for", "queue_conflicts", "route", "within"]


def _frozen_ids(value: Iterable[str], name: str) -> frozenset[str]:
    # A bare string would silently become a set of letters and match nothing.
    if isinstance(value, str):
        raise TypeError(f"{name} must be a collection of ids, not a single string")
    return frozenset(value)


@dataclass(frozen=True)
class ReportFacts:
    """The clear routing metadata of one report; never its content.

    Collections may be given as any iterable of ids; they are stored as frozensets.
    ``None`` for a yes/no answer means the reporter did not say, which matches neither ``true`` nor
    ``false`` conditions.
    """

    categories: frozenset[str]
    subject_units: frozenset[str] = frozenset()
    subject_roles: frozenset[str] = frozenset()
    ongoing: bool | None = None
    risk_of_harm: bool | None = None
    reported_before: bool | None = None

    def __post_init__(self) -> None:
        for name in ("categories", "subject_units", "subject_roles"):
            object.__setattr__(self, name, _frozen_ids(getattr(self, name), name))


@dataclass(frozen=True)
class Decision:
    """Where a report goes and which clocks its case runs on."""

    queues: tuple[str, ...]
    excluded_queues: tuple[str, ...]
    priority: Priority
    # A deadline as a span: a rule may give it in days or in hours (see policies.schema.Route).
    acknowledge_within: timedelta
    feedback_within: timedelta
    checkin_days: tuple[int, ...]
    checkin_after_closure_days: tuple[int, ...]
    escalation_queue: str | None
    retention_days: int
    flags: tuple[str, ...]
    matched_rules: tuple[str, ...]
    used_fallback: bool
    prompts: tuple[str, ...] = ()


def within(days: int | None, hours: int | None) -> timedelta | None:
    """A rule's deadline as a span (hours win if, against the validator, both are given); None if unset."""
    if hours is not None:
        return timedelta(hours=hours)
    if days is not None:
        return timedelta(days=days)
    return None


def _deadlines(route: Route) -> tuple[timedelta | None, timedelta | None]:
    """The acknowledge and feedback spans a rule sets (None where it sets none)."""
    return (
        within(route.acknowledge_within_days, route.acknowledge_within_hours),
        within(route.feedback_within_days, route.feedback_within_hours),
    )


def prompts_for(document: PolicyDocument, matched_rules: Iterable[str]) -> tuple[str, ...]:
    """The prompts of these rules, in document order (for a case: its stored matched rules)."""
    wanted = set(matched_rules)
    return tuple(r.route.prompt for r in document.rules if r.id in wanted and r.route.prompt)


def queue_conflicts(document: PolicyDocument, queue_id: str, subject_units: Iterable[str]) -> bool:
    """True if sending a report about subjects in ``subject_units`` to this queue breaks the no-conflict rule.

    Raises :class:`PolicyError` for a queue the document does not define, because a referral to it can
    be neither allowed nor refused on evidence.
    """
    try:
        unit = document.unit_of(queue_id)
    except KeyError:
        raise PolicyError(f"unknown queue {queue_id!r}") from None
    return unit is not None and unit in _frozen_ids(subject_units, "subject_units")


def matches(document: PolicyDocument, when: Conditions, facts: ReportFacts) -> bool:
    """True if a report with these facts meets every condition given in ``when``."""
    if when.categories_any and facts.categories.isdisjoint(when.categories_any):
        return False
    if when.categories_all and not facts.categories.issuperset(when.categories_all):
        return False
    if when.subject_unit_any and facts.subject_units.isdisjoint(when.subject_unit_any):
        return False
    if when.subject_role_any and facts.subject_roles.isdisjoint(when.subject_role_any):
        return False
    # An unanswered question (None) meets no yes/no condition: a rule for "ongoing" should not fire
    # because the reporter skipped the question, and neither should one for "not ongoing".
    for wanted, actual in (
        (when.ongoing, facts.ongoing),
        (when.risk_of_harm, facts.risk_of_harm),
        (when.reported_before, facts.reported_before),
    ):
        if wanted is not None and actual is not wanted:
            return False
    if when.discrimination is not None:
        aggravating = {c.id for c in document.categories if c.discrimination}
        if (not facts.categories.isdisjoint(aggravating)) is not when.discrimination:
            return False
    return True


def route(document: PolicyDocument, facts: ReportFacts) -> Decision:
    """Apply the rules in order; every matching rule contributes, a matching ``final`` rule stops."""
    defaults = document.defaults
    wanted: list[str] = []
    excluded: list[str] = []
    priorities: list[Priority] = []
    acknowledge: list[timedelta] = []
    feedback: list[timedelta] = []
    retention: list[int] = []
    checkin_days: list[int] = list(defaults.checkin_days)
    escalation = defaults.escalation
    flags: set[str] = set()
    matched: list[str] = []

    for rule in document.rules:
        if not matches(document, rule.when, facts):
            continue
        matched.append(rule.id)
        contribution = rule.route
        _extend_unique(wanted, contribution.queues)
        _extend_unique(excluded, contribution.exclude)
        if contribution.priority is not None:
            priorities.append(contribution.priority)
        ack_span, feedback_span = _deadlines(contribution)
        if ack_span is not None:
            acknowledge.append(ack_span)
        if feedback_span is not None:
            feedback.append(feedback_span)
        if contribution.retention_days is not None:
            retention.append(contribution.retention_days)
        if contribution.checkin_days is not None:
            checkin_days = list(contribution.checkin_days)
        if contribution.escalation is not None:
            escalation = contribution.escalation
        flags.update(contribution.flags)
        if rule.final:
            break

    subject_units = facts.subject_units
    explicitly_excluded = set(excluded)
    unit_of = {queue.id: queue.unit for queue in document.queues}

    def conflicts(queue_id: str) -> bool:
        unit = unit_of[queue_id]
        return unit is not None and unit in subject_units

    queues: list[str] = []
    removed: list[str] = list(excluded)
    for queue_id in wanted:
        if queue_id in explicitly_excluded:
            continue
        if conflicts(queue_id):
            _extend_unique(removed, [queue_id])
        else:
            queues.append(queue_id)

    used_fallback = not queues
    if used_fallback:
        fallback = _first_allowed(document.fallback_queues, conflicts, explicitly_excluded)
        if fallback is None:
            raise PolicyUnroutableError(
                "no queue can take this report: every fallback queue belongs to a subject's unit"
            )
        queues.append(fallback)
        if fallback in removed:
            removed.remove(fallback)

    if escalation is not None and (conflicts(escalation) or escalation in explicitly_excluded):
        escalation = _first_allowed(document.fallback_queues, conflicts, explicitly_excluded)

    return Decision(
        queues=tuple(queues),
        excluded_queues=tuple(removed),
        priority=max(priorities, key=priority_rank) if priorities else defaults.priority,
        acknowledge_within=min(acknowledge)
        if acknowledge
        else timedelta(days=defaults.acknowledge_within_days),
        feedback_within=min(feedback) if feedback else timedelta(days=defaults.feedback_within_days),
        checkin_days=tuple(checkin_days),
        checkin_after_closure_days=tuple(defaults.checkin_after_closure_days),
        escalation_queue=escalation,
        retention_days=max(retention) if retention else defaults.retention_days,
        flags=tuple(sorted(flags)),
        matched_rules=tuple(matched),
        used_fallback=used_fallback,
        prompts=prompts_for(document, matched),
    )


def _extend_unique(target: list[str], items: Iterable[str]) -> None:
    for item in items:
        if item not in target:
            target.append(item)


def _first_allowed(
    candidates: Iterable[str], conflicts: Callable[[str], bool], excluded: set[str]
) -> str | None:
    # An explicit exclude is the admin's preference; a subject-unit conflict is the promise. So prefer
    # a queue that is neither, and give up only the preference when nothing else is left.
    candidates = list(candidates)
    for queue_id in candidates:
        if not conflicts(queue_id) and queue_id not in excluded:
            return queue_id
    for queue_id in candidates:
        if not conflicts(queue_id):
            return queue_id
    return None
