"""Show an admin, before publishing, how a candidate policy would have routed past cases.

It works from each case's clear routing metadata and the queues and priority it actually got, so no
report is decrypted to preview a policy change.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass

from policies.engine import ReportFacts, route
from policies.schema import PRIORITIES, PolicyDocument

__all__ = ["PastCase", "RoutingChange", "SimulationResult", "simulate"]


@dataclass(frozen=True)
class PastCase:
    """A past case as routed: its reference, its facts, and the queues and priority it got."""

    reference: str
    facts: ReportFacts
    queues: tuple[str, ...]
    priority: str


@dataclass(frozen=True)
class RoutingChange:
    """How one past case would be routed differently under the candidate policy."""

    reference: str
    before_queues: tuple[str, ...]
    after_queues: tuple[str, ...]
    before_priority: str
    after_priority: str
    added_queues: tuple[str, ...]
    removed_queues: tuple[str, ...]
    after_rules: tuple[str, ...]
    # The flags the candidate would set (shown, not compared: a case's stored flags also hold follow-up
    # marks such as "escalated", which no policy sets).
    after_flags: tuple[str, ...] = ()

    def describe(self) -> str:
        """One plain-English line for this case."""
        parts: list[str] = []
        if self.added_queues or self.removed_queues:
            parts.append(f"would go to {_names(self.after_queues)} instead of {_names(self.before_queues)}")
        if self.before_priority != self.after_priority:
            parts.append(f"priority would {_direction(self.before_priority, self.after_priority)}")
        rules = ", ".join(self.after_rules) if self.after_rules else "none; fallback queue"
        return f"{self.reference}: {'; '.join(parts)} (rules applied: {rules})"


@dataclass(frozen=True)
class SimulationResult:
    """What would change across all the cases simulated."""

    total: int
    changed: tuple[RoutingChange, ...]
    unchanged: int

    def summary(self) -> str:
        """Plain-English lines an admin reads before publishing."""
        if self.total == 0:
            return "There are no past cases to compare against."
        changed = len(self.changed)
        lines = [
            f"{_count(self.total, 'past case')} checked: {changed} would be routed differently, "
            f"{self.unchanged} unchanged."
        ]
        if not changed:
            lines.append("Publishing this policy would not change the routing of any past case.")
            return "\n".join(lines)

        gained: Counter[str] = Counter()
        lost: Counter[str] = Counter()
        for change in self.changed:
            gained.update(change.added_queues)
            lost.update(change.removed_queues)
        for queue in sorted(gained.keys() | lost.keys()):
            movement = []
            if gained[queue]:
                movement.append(f"{_count(gained[queue], 'case')} more")
            if lost[queue]:
                movement.append(f"{_count(lost[queue], 'case')} fewer")
            lines.append(f"Queue {queue} would receive {' and '.join(movement)}.")
        lines.extend(f"- {change.describe()}" for change in self.changed)
        return "\n".join(lines)


def simulate(candidate: PolicyDocument, cases: Iterable[PastCase]) -> SimulationResult:
    """Route every past case under ``candidate`` and compare with how it was routed."""
    total = 0
    changes: list[RoutingChange] = []
    for case in cases:
        total += 1
        decision = route(candidate, case.facts)
        before, after = set(case.queues), set(decision.queues)
        # Order among a case's queues does not change who can read it, so only the sets are compared.
        if before == after and case.priority == decision.priority:
            continue
        changes.append(
            RoutingChange(
                reference=case.reference,
                before_queues=tuple(case.queues),
                after_queues=decision.queues,
                before_priority=case.priority,
                after_priority=decision.priority,
                added_queues=tuple(q for q in decision.queues if q not in before),
                removed_queues=tuple(q for q in case.queues if q not in after),
                after_rules=decision.matched_rules,
                after_flags=decision.flags,
            )
        )
    return SimulationResult(total=total, changed=tuple(changes), unchanged=total - len(changes))


def _names(queues: tuple[str, ...]) -> str:
    return " + ".join(queues) if queues else "no queue"


def _count(number: int, noun: str) -> str:
    return f"{number} {noun}{'' if number == 1 else 's'}"


def _direction(before: str, after: str) -> str:
    if before in PRIORITIES and after in PRIORITIES:
        verb = "rise" if PRIORITIES.index(after) > PRIORITIES.index(before) else "fall"  # type: ignore[arg-type]
        return f"{verb} from {before} to {after}"
    return f"change from {before} to {after}"
