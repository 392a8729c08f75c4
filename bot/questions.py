"""Questions a person can answer: labels for every id, a typed answer where the buttons fall short, and
whether an incident is still going on.

Why: the buttons once showed policy ids (`superintendent-or-above`), offered "Don't know" twice, spliced
a typed name into the question's grammar, refused what a reporter knew but the buttons did not offer,
and stored "since March 2023, still going on" as not ongoing.
"""

from __future__ import annotations

import re

from bot.catalogue import policy_label
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


def unit_label(turn: Turn, unit_id: str) -> str:
    """A unit as a person reads it: in the reader's language for a starter unit, else the policy's name
    ("" for an id the policy does not have)."""
    name = next((u.name for u in turn.policy.units if u.id == unit_id), None)
    return "" if name is None else policy_label(turn.t, f"unit.{unit_id}", name)


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


# Whether a typed "when" says the incident is still going on. Why turned around (a whole answer made
# only of known plain phrases, never a search for the words): `ongoing` is a routing fact (a flag and a
# closer check-in schedule), and searching let "ongoing from 2023 to 2024", "still ongoing: nope" or
# "ongoing 'til May" through. An answer counts only when every part of it is a present-tense phrase of
# the lists below (English or Welsh), a "since"/"from" date, or a frequency ("every day"), and at least
# one part says it goes on; anything else, past or negating words included, is asked about with buttons.
def _either(*patterns: str) -> str:
    """One regular expression matching any of these."""
    return "(?:" + "|".join(patterns) + ")"


_MONTH = _either(
    "january|february|march|april|may|june|july|august|september|october|november|december",
    "jan|feb|mar|apr|jun|jul|aug|sept?|oct|nov|dec",
    "ionawr|chwefror|[mf]awrth|ebrill|[mf]ai|[mf]ehefin|gorffennaf|awst|[mf]edi|hydref|[td]achwedd|rhagfyr",
)
_SEASON = r"(?:spring|summer|autumn|winter|christmas|easter|new\s+year|gwanwyn|haf|hydref|gaeaf|nadolig)"
_WEEKDAY = "(?:monday|tuesday|wednesday|thursday|friday|saturday|sunday)"
_YEAR = r"(?:19|20)\d{2}"
_DAY = r"\d{1,2}(?:st|nd|rd|th)?"
_COUNT = (
    r"(?:\d{1,2}|a|one|two|three|four|five|six|seven|eight|nine|ten|a\s+few|a\s+couple\s+of|dwy|tair|pedair)"
)
_ABOUT = r"(?:(?:about|around|roughly|approximately|tua|oddeutu)\s+)?"
_PART_OF = r"(?:(?:early|late|mid-?|(?:the\s+)?(?:start|end|beginning|middle)\s+of|dechrau|diwedd|canol)\s*)?"
_DATE = _ABOUT + _either(
    _PART_OF
    + rf"(?:(?:the\s+)?{_DAY}\s+(?:of\s+)?)?(?:(?:mis|fis)\s+)?{_MONTH}(?:\s+{_DAY})?(?:\s+{_YEAR})?",
    _PART_OF + _YEAR,
    r"\d{1,2}[/.]\d{1,2}[/.](?:\d{2}|\d{4})|\d{4}-\d{2}-\d{2}",
    rf"(?:last|this)\s+(?:week|month|year|term|{_SEASON}|{_MONTH}|{_WEEKDAY})",
    rf"(?:the\s+|y\s+|yr\s+)?{_SEASON}(?:\s+(?:of\s+)?{_YEAR})?",
    rf"{_COUNT}\s+(?:days?|weeks?|months?|years?)\s+ago|yesterday|{_WEEKDAY}",
    r"(?:y\s+)?llynedd|eleni|ddoe|(?:yr\s+)?wythnos\s+(?:diwethaf|ddiwethaf|dwetha)|(?:y\s+)?mis\s+(?:diwethaf|dwetha)",
    rf"{_COUNT}\s+(?:wythnos|mis|fis|mlynedd|blynedd|flynedd)\s+yn\s+ôl",
)
_SUBJECT = r"(?:it|he|she|they|this|that|the\s+(?:bullying|harassment|abuse|behaviou?r|problem|situation))"
_IS = rf"(?:{_SUBJECT}\s+(?:is|are)|it'?s|he'?s|she'?s|they'?re|that'?s)"
_HAS = rf"(?:{_SUBJECT}\s+(?:has|have)|it'?s|he'?s|she'?s|they'?ve)"
_MAE = r"(?:mae(?:'n|\s+yn|\s+(?:o|e|hi|nhw)(?:'n|\s+yn))|yn)"
_PARTS = {
    # Plain present-tense words that it has not stopped (English, then Welsh).
    "goes-on": _either(
        rf"(?:{_IS}\s+)?(?:still\s+)?(?:ongoing|on-going|going\s+on|happening|continuing|carrying\s+on)",
        rf"(?:{_IS}\s+)?still\s+(?:going|doing\s+it|at\s+it)",
        rf"(?:{_SUBJECT}\s+)?(?:still\s+)?(?:happens|continues|goes\s+on|carries\s+on)",
        rf"(?:{_HAS}\s+)?been\s+(?:going\s+on|happening|ongoing|continuing)",
        rf"(?:{_SUBJECT}\s+)?(?:has\s+not|have\s+not|hasn't|haven't|has\s+never|never)\s+(?:stopped|ended)(?:\s+yet)?",
        rf"(?:{_IS}\s+)?not\s+(?:stopped|over)(?:\s+yet)?|(?:it|this)\s+isn't\s+over(?:\s+yet)?",
        r"(?:still\s+)?to\s+this\s+day|to\s+date",
        rf"(?:{_MAE}\s+)?(?:dal\s+i\s+(?:ddigwydd|fynd(?:\s+ymlaen)?|barhau)|dal\s+wrthi|parhau|digwydd)",
        rf"(?:{_MAE}\s+)?(?:dal\s+)?heb\s+(?:stopio|ddod\s+i\s+ben|orffen)(?:\s+eto)?",
        r"(?:dyw|dydy|nid\s+yw|nid\s+ydy)\s+(?:(?:e|o|hi|nhw|hyn)\s+)?ddim\s+wedi\s+(?:stopio|dod\s+i\s+ben|gorffen)"
        r"(?:\s+eto)?",
        r"(?:yn\s+)?[pb]arhaus|hyd\s+(?:heddiw|yma|at\s+heddiw)",
    ),
    # How often: on its own it says it goes on ("every day"), but not beside a bare date ("May, every day").
    "often": _either(
        r"(?:(?:almost|nearly)\s+)?every\s+(?:(?:single|other|working)\s+)?(?:day|week|month|shift|morning|night)",
        r"every\s+few\s+days|daily|weekly|all\s+the\s+time|constantly|most\s+days",
        r"bob\s+(?:dydd|diwrnod|wythnos|mis|shifft|sifft|bore|nos)|(?:yn\s+)?(?:ddyddiol|wythnosol|gyson)",
        r"(?:drwy|trwy)'r\s+amser|o\s+hyd",
    ),
    "since": rf"(?:ever\s+since|since|from|ers|o|oddi\s+ar)\s+{_DATE}",
    "now": _either(
        r"now|right\s+now|currently|at\s+the\s+moment|at\s+present|still|today",
        r"nawr|rŵan|rwan|ar\s+hyn\s+o\s+bryd|heddiw",
    ),
}
_PART_PATTERNS = {kind: re.compile(rf"(?:{p})(?=\s|$)") for kind, p in _PARTS.items()}
_BARE_DATE = re.compile(_DATE)
# Parts of an answer: a comma, semicolon or colon, or "and" (Welsh "ac", or "a" before a verb).
_CLAUSE_BREAK = re.compile(r"\s*[,;:]\s*(?:(?:and|ac)\s+)?|\s+(?:and|ac)\s+|\s+a\s+(?=mae|dal|yn\s)")


def _clause_kinds(clause: str) -> list[str] | None:
    """The parts one clause is made of, read left to right, longest first; None if any word is not one."""
    kinds, at = [], 0
    while at < len(clause):
        found = [(m.end(), kind) for kind, p in _PART_PATTERNS.items() if (m := p.match(clause, at))]
        if not found:
            return None
        end, kind = max(found)
        kinds.append(kind)
        at = end + 1 if end < len(clause) else end
    return kinds


def says_ongoing(text: str) -> bool:
    """True only when the whole typed "when" is plain present-tense words that it still goes on
    ("since March, still going on", "mae'n dal i ddigwydd", "every day"); otherwise the bot asks."""
    plain = " ".join(text.replace("\u2019", "'").replace("\u2018", "'").casefold().split()).rstrip(".! ")
    clauses = [c for c in _CLAUSE_BREAK.split(plain) if c]
    if not clauses:
        return False
    kinds: list[str] = []
    for index, clause in enumerate(clauses):
        if index == 0 and len(clauses) > 1 and clause != "may" and _BARE_DATE.fullmatch(clause):
            kinds.append("when")  # "March 2023, still going on": a date alone only first, before words
            continue
        found = _clause_kinds(clause)
        if found is None:
            return False
        kinds.extend(found)
    if "goes-on" in kinds:
        return True
    return "often" in kinds and "when" not in kinds
