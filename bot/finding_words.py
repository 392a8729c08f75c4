"""A file's findings in the reporter's language: a finding is a phrase id and its parts, never a sentence.

Why: the cleaning worker says what a file carries as message ids of bot/evidence/phrases.py with the
value shown beside them (bot/cleaner_wire.py checks them); only here do they become words, from the
catalogue of the chat's language, so a Welsh reporter reads Welsh. The draft keeps each finding in its
encoded form (`encode`), so it is said in the language the reporter reads when it is shown.
"""

from __future__ import annotations

import json

from bot.catalogue import Translator
from bot.evidence import Finding, phrases

MAX_SHOWN = 120  # a finding as shown, in any language (the value is cut to fit, never the phrase)


def render(t: Translator, found: Finding) -> str:
    """One finding in the reader's language: its phrase, value, "(removed)" and "inside" as the
    catalogue puts them together."""
    text = t(found.phrase, count=found.count) if found.phrase in phrases.COUNTED else t(found.phrase)
    if found.value:
        text = _with_value(t, text, found.value)
    if found.removed:
        text = t(phrases.REMOVED, what=text)
    if found.inside:
        text = t(phrases.INSIDE[found.inside], what=text)
    return text


def _with_value(t: Translator, what: str, value: str) -> str:
    """The phrase with its value, the value cut so that the two fit in MAX_SHOWN."""
    text = t(phrases.WITH_VALUE, what=what, value=value)
    over = len(text) - MAX_SHOWN
    if over > 0 and len(value) - over >= 4:
        text = t(phrases.WITH_VALUE, what=what, value=value[: len(value) - over - 1].rstrip() + "…")
    return text


def encode(found: Finding) -> str:
    """A finding as the draft keeps it (one string, in the sealed draft only: it may show a place)."""
    return json.dumps([found.kind, found.phrase, found.value, found.inside, found.removed, found.count])


def decode(text: str) -> Finding | None:
    """A finding the draft kept, or None for text that is not one (a draft saved before findings were ids)."""
    try:
        kind, phrase, value, inside, removed, count = json.loads(text)
        return Finding(kind, phrase, value, inside, removed, count)
    except (ValueError, TypeError):
        return None


def told(t: Translator, text: str) -> str:
    """A finding the draft kept, in the reader's language; an older draft's English summary as it was."""
    found = decode(text)
    return text if found is None else render(t, found)
