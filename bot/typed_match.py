"""A typed role or unit that names one the buttons offer: found, so the reporter can be asked to press it.

Threat: promise 3 (a report is never sent to its subject's own unit) and the routing rules rest on the
role and unit buttons. A reporter who typed "Professional Standards" or "PSD" at "Which unit…", or
"chief constable" at the role question, had that kept as a note only: the report was routed as if the
person's unit were unknown, and could reach the very unit they are in. Why ask rather than take it: a
typed phrase may mean something else ("acting DS"), so the bot offers the button and the reporter
presses it; only a pressed button is a routing fact.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

from bot.turn import Turn

# Common words for a role, by the policy's role id (used only for ids the policy has).
ROLE_ALIASES: dict[str, tuple[str, ...]] = {
    "constable": ("pc", "dc", "police constable", "detective constable"),
    "sergeant": ("ds", "ps", "sgt", "police sergeant", "detective sergeant"),
    "inspector": ("inspector", "chief inspector", "di", "dci", "insp"),
    "superintendent-or-above": ("superintendent", "chief superintendent", "supt", "ch supt", "det supt"),
    "chief-officer": (
        "chief officer",
        "chief constable",
        "deputy chief constable",
        "assistant chief constable",
        "cc",
        "dcc",
        "acc",
    ),
    "police-staff": ("police staff", "civilian staff", "civilian"),
    "special-constable": ("special constable", "special", "specials"),
    "pcso": ("pcso", "community support officer", "police community support officer"),
}
# Common words for a unit, by unit id (used only for ids the policy has).
UNIT_ALIASES: dict[str, tuple[str, ...]] = {
    "professional-standards": ("psd", "professional standards", "standards"),
    "chief-officers": ("chief officers", "chief officer team", "command team"),
    "hr": ("hr", "human resources", "people services"),
    "cid": ("cid", "criminal investigation department", "detectives"),
}


def normal(text: str) -> str:
    """Lower case, letters and digits only, single spaces: how typed words and labels are compared."""
    return " ".join(re.sub(r"[^\w]+", " ", text.replace("’", "'").casefold()).split())


def label_phrases(label: str) -> set[str]:
    """A label and the names inside it: "Professional Standards Department (PSD)" -> itself, the part
    before the brackets, and "psd"; a bracket's list ("chief constable, deputy and …") gives each item."""
    phrases = {label, label.split("(")[0]}
    for inside in re.findall(r"\(([^)]*)\)", label):
        phrases.update(re.split(r",|\band\b", inside))
    return {p for p in (normal(x) for x in phrases) if p}


def best(text: str, candidates: dict[str, set[str]]) -> str | None:
    """The id whose longest phrase appears as whole words in `text`; None when none does, or two tie."""
    typed = f" {normal(text)} "
    found: dict[str, int] = {}
    for ident, phrases in candidates.items():
        lengths = [len(p) for p in phrases if f" {p} " in typed]
        if lengths:
            found[ident] = max(lengths)
    if not found:
        return None
    longest = max(found.values())
    winners = [ident for ident, length in found.items() if length == longest]
    return winners[0] if len(winners) == 1 else None


def _labels(turn: Turn, key: str) -> Iterable[str]:
    """A catalogue text in the chat's language and in English (a key with no text gives nothing)."""
    for t in (turn.t, turn.catalogue.for_language("en")):
        text = t(key)
        if text != key:
            yield text


def role(turn: Turn, text: str, *, unknown: str) -> str | None:
    """The policy's role id a typed answer names, if exactly one fits best (never "unknown")."""
    candidates: dict[str, set[str]] = {}
    for ident in turn.policy.subject_roles:
        if ident == unknown:
            continue
        phrases = {normal(ident.replace("-", " "))} | {normal(a) for a in ROLE_ALIASES.get(ident, ())}
        for label in _labels(turn, f"role.{ident}"):
            phrases |= label_phrases(label)
        candidates[ident] = phrases
    return best(text, candidates)


def unit(turn: Turn, text: str) -> str | None:
    """The policy's unit id a typed answer names (its id, its name or a name in it, or a common alias)."""
    candidates: dict[str, set[str]] = {}
    for item in turn.policy.units:
        phrases = {normal(item.id.replace("-", " "))} | label_phrases(item.name)
        phrases |= {normal(a) for a in UNIT_ALIASES.get(item.id, ())}
        for label in _labels(turn, f"unit.{item.id}"):
            phrases |= label_phrases(label)
        candidates[item.id] = phrases
    return best(text, candidates)
