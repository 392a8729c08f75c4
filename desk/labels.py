"""Human words for the ids the desk shows: statuses, sorts, flags, timeline kinds, audit actions, and the
policy's own names for its queues, categories and units.

One place, so that no page shows a slug or a Python repr. The policy's display names win where it has
them; an id nobody named reads as words ("north-bcu" -> "North BCU"), never as a slug.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

# Short words written in capitals when an unknown id is turned into words.
ACRONYMS = frozenset({"iopc", "psd", "bcu", "hr", "cid", "pcso", "pdf", "totp", "id", "sha256", "ipv6"})

STATUSES = {
    "received": "Received",
    "acknowledged": "Acknowledged",
    "investigating": "Investigating",
    "closed": "Closed",
}
PRIORITIES = {"low": "Low", "normal": "Normal", "high": "High", "urgent": "Urgent"}
SORTS = {
    "received-desc": "Newest first",
    "received-asc": "Oldest first",
    "ack-due": "Acknowledgement due soonest",
    "feedback-due": "Feedback due soonest",
    "urgent-first": "Urgent and overdue first",
}
FLAGS = {
    "retaliation": "retaliation reported",
    "escalated": "escalated",
    "checkin-answer": "check-in answer",
    "iopc-referral-assessment": "assess for IOPC referral",
    "risk-of-harm": "risk of harm",
    "reported-before": "reported before",
    "ongoing": "still going on",
    "safeguarding": "safeguarding",
}
# What a timeline entry is, as a heading: the author is said separately, so "by reporter" is not repeated.
KINDS = {
    "report": "Report",
    "evidence": "File added",
    "subjects": "People named",
    "reporter-message": "Message from the reporter",
    "officer-message": "Message to the reporter",
    "note": "Internal note",
    "checkin-answer": "Check-in answer from the reporter",
    "outcome": "Outcome told to the reporter",
    "status-notice": "Status change told to the reporter",
}
# Kinds whose heading already says who wrote them.
KINDS_NAMING_THE_REPORTER = frozenset({"reporter-message", "checkin-answer"})
ACTIONS = {
    "case.submitted": "Report received",
    "case.opened": "Case opened",
    "case.file-viewed": "Thumbnail of a file seen on the case page",
    "case.file-opened": "File downloaded",
    "case.exported": "Case exported",
    "case.assigned": "Case assigned",
    "case.status": "Status changed",
    "case.noted": "Internal note added",
    "case.messaged": "Reporter messaged",
    "case.referred": "Case referred",
    "case.granted": "Access granted",
    "case.escalation-granted": "Escalation queue given access",
    "desk.signed-in": "Signed in to the desk",
    "desk.backing-off": "Sign-in backing off",
    "desk.device-revoked": "Browser's sign-in cookie revoked",
    "desk.totp-enrolled": "Second factor enrolled",
    "desk.totp-reset": "Second factor reset",
    "desk.password-set": "Desk password set",
    "desk.sessions-ended": "Desk sessions ended",
    "officer.added": "Officer added",
    "officer.link-code": "Telegram link code made",
    "officer.linked": "Telegram account linked",
    "policy.published": "Policy published",
    "case.checkin-answered": "Check-in answered",
    "case.checkins-stopped": "Check-ins stopped",
    "case.contact-shredded": "Reporter's contact shredded",
    "case.deadline-warning": "Deadline warning",
    "case.escalated": "Case escalated",
    "case.progress-due": "Progress update due",
    "case.purged": "Case purged",
    "case.reporter-added": "Reporter added a message or file",
    "keys.relay-rotated": "Relay key rotated",
    "officer.unlinked": "Telegram account unlinked",
    "queue.member-added": "Officer joined a queue",
    "audit.checkpoints-restarted": "Audit checkpoints started anew",
}
DETAIL_KEYS = {
    "queues": "queues",
    "queue": "queue",
    "rules": "rules",
    "policy_version": "policy version",
    "recipients": "key holders",
    "items": "items",
    "item": "item",
    "kind": "kind",
    "form": "form",
    "to": "to",
    "from": "from",
    "login": "login",
    "roles": "roles",
    "key": "key",
    "reason": "reason",
    "granted": "officers granted",
    "sha256": "SHA-256",
}
FORMS = {"pdf": "PDF", "bundle": "zip bundle", "folder": "folder on disk"}
DEADLINES = {"overdue": "overdue", "due-soon": "due soon", "open": "open", "done": "done"}
SUBJECT_FIELDS = {"name": "Name", "role": "Role", "unit": "Unit", "staff_number": "Staff number"}
ACTORS = {
    "reporter": "the reporter",
    "system": "Candour",
    "desk": "the desk",
    "operator": "an operator",
    "recovery-key": "the recovery key",
}


def words(slug: object, *, capitalise: bool = True) -> str:
    """An id nobody named, as words: hyphens and underscores become spaces, known acronyms capitals."""
    text = str(slug).strip()
    if not text:
        return "—"
    parts = text.replace("_", " ").replace("-", " ").split()
    shown = [part.upper() if part.lower() in ACRONYMS else part for part in parts]
    sentence = " ".join(shown)
    return sentence[:1].upper() + sentence[1:] if capitalise else sentence


def _from(table: Mapping[str, str], value: object) -> str:
    return table.get(str(value), words(value))


@dataclass(frozen=True)
class Labels:
    """Names for the ids of one policy, with the fixed tables above for everything else."""

    queues: Mapping[str, str] = field(default_factory=dict)
    categories: Mapping[str, str] = field(default_factory=dict)
    units: Mapping[str, str] = field(default_factory=dict)

    @classmethod
    def from_policy(cls, document: Any) -> Labels:
        """The policy's own display names (queue and unit names, category labels)."""
        return cls(
            queues={q.id: q.name for q in document.queues},
            categories={c.id: c.label for c in document.categories},
            units={u.id: u.name for u in document.units},
        )

    def status(self, value: object) -> str:
        return _from(STATUSES, value)

    def priority(self, value: object) -> str:
        return _from(PRIORITIES, value)

    def sort(self, value: object) -> str:
        return _from(SORTS, value)

    def flag(self, value: object) -> str:
        return FLAGS.get(str(value), words(value, capitalise=False))

    def kind(self, value: object) -> str:
        return _from(KINDS, value)

    def action(self, value: object) -> str:
        """An audit action; one nobody named yet reads as its words after the area ("case.x-y" -> "X y")."""
        text = str(value)
        return ACTIONS.get(text, words(text.rpartition(".")[2]))

    def queue(self, value: object) -> str:
        return _from(self.queues, value)

    def category(self, value: object) -> str:
        return _from(self.categories, value)

    def unit(self, value: object) -> str:
        return _from(self.units, value)

    def as_written(self, value: object) -> str:
        """A value that is already words (a month, a count)."""
        return str(value)

    def rule(self, value: object) -> str:
        return words(value)

    def deadline(self, value: object) -> str:
        return DEADLINES.get(str(value), words(value, capitalise=False))

    def actor(self, value: object) -> str:
        """Who an audit entry names: an officer's login, or what acted (operator:init reads as words)."""
        text = str(value)
        kind, _, who = text.partition(":")
        if kind == "officer" and who:
            return who
        if kind in ACTORS:
            return ACTORS[kind] + (f" ({words(who, capitalise=False)})" if who else "")
        return text

    def subject_field(self, key: object) -> str:
        return _from(SUBJECT_FIELDS, key)

    def subject_value(self, key: object, value: object) -> str:
        """A named person's field: a unit by the policy's name, a role in words, the rest as written."""
        if key == "unit":
            return self.unit(value)
        if key == "role":
            return words(value, capitalise=False)
        return str(value)

    @property
    def reporter_kinds(self) -> frozenset[str]:
        """Timeline kinds whose heading already says the reporter wrote them."""
        return KINDS_NAMING_THE_REPORTER

    def join(self, kind: str, values: Iterable[object]) -> str:
        """Several ids of one kind (queue, category, rule, flag ...) as a readable list."""
        name = getattr(self, kind)
        shown = [name(v) for v in values]
        return ", ".join(shown) if shown else "—"

    def detail(self, action: str, detail: Mapping[str, Any]) -> list[tuple[str, str]]:
        """An audit entry's detail as (label, words) pairs: never a repr of a list or a dict."""
        return [
            (DETAIL_KEYS.get(key, words(key, capitalise=False)), self._value(action, key, v))
            for key, v in detail.items()
        ]

    def _value(self, action: str, key: str, value: Any) -> str:
        """One detail value in words, named by what its key says it is."""
        if isinstance(value, list | tuple):
            return ", ".join(self._value(action, key, v) for v in value) or "none"
        if isinstance(value, dict):
            return "; ".join(
                f"{words(k, capitalise=False)} {self._value(action, k, v)}" for k, v in value.items()
            )
        if value is None:
            return "nobody" if key == "to" else "—"
        if isinstance(value, bool):
            return "yes" if value else "no"
        if key in ("queue", "queues"):
            return self.queue(value)
        if key == "rules":
            return self.rule(value)
        if key in ("roles", "status", "priority", "deadline", "why", "what"):
            return words(value, capitalise=False)
        if key == "kind":
            return self.kind(value)
        if key == "form":
            return _from(FORMS, value)
        if action == "case.status" and key in ("from", "to"):
            return self.status(value)
        return str(value)
