"""Where a reporter can turn for support, as the force's policy names it (policies/schema.Support).

Offered after a report is sealed and after a check-in answer that says things are worse or that the
reporter is being retaliated against. Each entry is said in the reader's language from the force's own
words where it can be: the policy's translation for that language, else the catalogue's translation of the
starter's entry when the policy's English is exactly the starter's, else the policy's English as written.
"""

from __future__ import annotations

from bot.catalogue import policy_label
from bot.turn import Turn
from policies.schema import Support


def text(turn: Turn) -> str:
    """The support lines for this chat's language; empty when the policy names none."""
    entries = turn.policy.support
    if not entries:
        return ""
    lines = [
        turn.t("support.line", name=said(turn, e, "name"), contact=said(turn, e, "contact")) for e in entries
    ]
    return turn.t("support.heading") + "\n" + "\n".join(lines)


def said(turn: Turn, entry: Support, part: str) -> str:
    """One part (`name` or `contact`) of a support entry in the reader's language.

    Threat: a force keeps a starter id (`samaritans`) but writes its own number. Why the catalogue only
    when the English is the starter's, word for word: its translation was made from the starter's text,
    so it would give a Welsh reader a number the force never configured (as units are, policy_label).
    """
    own = getattr(entry, part)
    translated = entry.translations.get(turn.t.language)
    if translated is not None and getattr(translated, part):
        return str(getattr(translated, part))
    return policy_label(turn.t, f"support.{entry.id}.{part}", own)
