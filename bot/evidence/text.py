"""Plain text: nothing hidden to remove; the words are the evidence."""

from __future__ import annotations

from typing import ClassVar

from bot.evidence import types as t
from bot.evidence.model import Format, Inspection, Nested, Rewrite


class PlainText(Format):
    """Text, CSV and Markdown carry no metadata of their own; what they say is the evidence."""

    media_types: ClassVar[tuple[str, ...]] = t.TEXT_TYPES
    cannot_clean: ClassVar[tuple[str, ...]] = (
        "anything the text itself says, such as a name or a signature",
    )
    body_text: ClassVar[bool] = True

    def inspect(self, content: bytes, nested: Nested) -> Inspection:
        return Inspection()

    def clean(self, content: bytes, nested: Nested) -> Rewrite:
        return Rewrite(content)


FORMATS: tuple[Format, ...] = (PlainText(),)
