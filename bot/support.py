"""Where a reporter can turn for support, as the force's policy names it (policies/schema.Support).

Offered after a report is sealed and after a check-in answer that says things are worse or that the
reporter is being retaliated against. Each entry's words come from the catalogue where it has them (so a
force's Welsh text can sit beside its English), else from the policy.
"""

from __future__ import annotations

from bot.turn import Turn


def text(turn: Turn) -> str:
    """The support lines for this chat's language; empty when the policy names none."""
    entries = turn.policy.support
    if not entries:
        return ""
    lines = [
        turn.t(
            "support.line",
            name=_said(turn, f"support.{e.id}.name", e.name),
            contact=_said(turn, f"support.{e.id}.contact", e.contact),
        )
        for e in entries
    ]
    return turn.t("support.heading") + "\n" + "\n".join(lines)


def _said(turn: Turn, key: str, fallback: str) -> str:
    words = turn.t(key)
    return fallback if words == key else words
