"""Questions a person can answer: labels for every id, a typed answer where the buttons fall short, and
whether an incident is still going on.

Why: the buttons once showed policy ids (`superintendent-or-above`), offered "Don't know" twice, spliced
a typed name into the question's grammar, refused what a reporter knew but the buttons did not offer,
and stored "since March 2023, still going on" as not ongoing.
"""

from __future__ import annotations

import re

from bot.state import PersonAnswer
from bot.turn import Keyboard, Turn

# The policy's own id for "not known", offered as the "Don't know" button rather than a second one.
UNKNOWN_ROLE = "unknown"
MAX_NOTE = 600  # storage.vault.Limits checks the whole person; several typed answers stay well under


def role_label(turn: Turn, role: str) -> str:
    """A role as a person reads it: the catalogue's words, else the id made readable."""
    key = f"role.{role}"
    text = turn.t(key)
    return text if text != key else role.replace("-", " ").replace("_", " ")


def role_rows(turn: Turn) -> Keyboard:
    """One button per role of the policy, then one "Don't know"."""
    rows: Keyboard = [
        [(role_label(turn, r), turn.data("role", r))] for r in turn.policy.subject_roles if r != UNKNOWN_ROLE
    ]
    rows.append([(turn.t("button.dont_know"), turn.data("role"))])
    return rows


def dont_know_role(turn: Turn) -> str | None:
    """What "Don't know" stores: the policy's "unknown" role if it has one (a fact it may route on)."""
    return UNKNOWN_ROLE if UNKNOWN_ROLE in turn.policy.subject_roles else None


def person_shown(turn: Turn, person: PersonAnswer | None) -> str:
    """Who a question is about, shown on a line of its own (never spliced into the question's grammar)."""
    if person is None:
        return turn.t("report.person.someone")
    shown = ", ".join(p for p in (person.name, person.staff_number) if p)
    return shown or turn.t("report.person.someone")


def add_note(person: PersonAnswer, what: str, text: str) -> None:
    """Keep a typed answer about a person as a note: sealed with the report, never a routing fact.

    Why not a role or unit: those are stored in clear and routed on, so only the policy's ids may be one;
    free text could name someone, and it stays inside the sealed report (cases.Person.description).
    """
    line = f"{what}: {text}"
    person.note = f"{person.note}; {line}" if person.note else line
    person.note = person.note[:MAX_NOTE]


# Words that say, in the present tense, that an incident has not stopped. Why narrow, and why anything
# else means ask: whether it still goes on is a routing fact, and "it was ongoing until he left", "I
# don't know if it is still going on" or "maybe still going on" must not be taken as "yes". So a match
# counts only with no negation, doubt or past-tense marker anywhere in the answer; otherwise the bot asks.
_ONGOING = re.compile(
    r"\b(?:still\s+(?:going\s+on|happening|happens|ongoing|on-going|continuing|continues|goes\s+on)"
    r"|(?:is|it's|are|they're)\s+(?:still\s+)?(?:ongoing|on-going|continuing|going\s+on|happening)"
    r"|ongoing|on-going|continues|to\s+this\s+day|(?:un)?till?\s+now|up\s+to\s+now|to\s+date)\b",
    re.IGNORECASE,
)
_NEGATION = re.compile(
    r"\b(?:not|no|never|none|nothing|no\s+longer|any\s*more|stopped|ended|finished|over|"
    r"(?:is|does|do|has|have|was|were|are|did|wo|ca)n'?t|cannot)\b",
    re.IGNORECASE,
)
_DOUBT = re.compile(
    r"\b(?:maybe|perhaps|possibly|probably|might|may\s+(?:be|still|have)|could|unsure|sure|know|whether|if|think|"
    r"believe|guess|unclear|uncertain)\b|\?",
    re.IGNORECASE,
)
_PAST = re.compile(
    r"\b(?:was|were|had|did|used\s+to|ago|until|till|retired|left|moved|transferred|ceased|"
    r"lasted|happened|continued|went\s+on)\b(?!\s+now)",
    re.IGNORECASE,
)


def says_ongoing(text: str) -> bool:
    """True only when a typed "when" plainly says, in the present tense, that it is still going on, with
    no negation, doubt or past-tense marker (otherwise the bot asks "Is it still going on?")."""
    plain = text.replace("\u2019", "'")
    if not _ONGOING.search(plain):
        return False
    return not any(p.search(plain) for p in (_NEGATION, _DOUBT, _PAST))
