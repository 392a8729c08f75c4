"""Exceptions raised by the routing-policy package.

Callers catch :class:`PolicyError` to handle every policy problem at once, or a subclass to tell a
document an admin mistyped (:class:`PolicySyntaxError`) from one that is well formed but unsafe to publish
(:class:`PolicyInvalidError`).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from policies.validator import Problem

__all__ = ["PolicyError", "PolicyInvalidError", "PolicySyntaxError", "PolicyUnroutableError"]


class PolicyError(Exception):
    """Base class of every error this package raises."""


class PolicySyntaxError(PolicyError):
    """The text is not YAML, or not a policy document; the message names the line to fix."""

    def __init__(self, message: str, line: int | None = None, *, details: Sequence[str] = ()) -> None:
        super().__init__(message)
        self.line = line
        # Every problem found, one per entry; the message already contains them all, this is for UIs.
        self.details: tuple[str, ...] = tuple(details) or (message,)


class PolicyInvalidError(PolicyError):
    """The validator refused the document; ``problems`` lists every error it found."""

    def __init__(self, problems: Sequence[Problem]) -> None:
        self.problems: list[Problem] = list(problems)
        lines = [f"{p.where}: {p.message} [{p.code}]" for p in self.problems]
        count = len(self.problems)
        heading = f"the policy has {count} problem{'s' if count != 1 else ''}"
        super().__init__("\n".join([heading, *lines]) if lines else heading)


class PolicyUnroutableError(PolicyError):
    """No queue can take a report; only possible with a document the validator would refuse."""
