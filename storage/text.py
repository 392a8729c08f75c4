"""What a typed answer holds once invisible characters are set aside: the one "is it blank" rule.

Threat: an answer of zero-width spaces or word joiners (U+200B, U+2060, ...) looks empty on every screen
yet passes `str.strip()`, so a "narrative" nobody can read, or a named person with no name, would be
sealed as if given. Why one pure module: the bot's flows and the vault's own checks must agree on what
blank means, and neither may depend on the other.

`normalise` is what is stored (NFC, outer white space trimmed): joiners inside the text are kept, since
emoji sequences and some scripts need them. `visible` is only for deciding whether anything was said.
"""

from __future__ import annotations

import unicodedata

# Default-ignorable code points that are not in category Cf (Unicode's DerivedCoreProperties), and blank
# glyphs that render as nothing: the Hangul fillers and the blank Braille pattern.
_INVISIBLE = frozenset(
    {0x034F, 0x115F, 0x1160, 0x17B4, 0x17B5, 0x180B, 0x180C, 0x180D, 0x180E, 0x180F, 0x2800, 0x3164, 0xFFA0}
)
_INVISIBLE_RANGES = ((0xFE00, 0xFE0F), (0xE0000, 0xE0FFF), (0xE0100, 0xE01EF))
# Format (Cf, e.g. U+200B, U+2060, U+FEFF, U+00AD), control (Cc), separators (Zs, Zl, Zp). Unassigned code
# points stay visible: an emoji newer than this Python's Unicode data is still something said.
_HIDDEN_CATEGORIES = frozenset({"Cf", "Cc", "Zs", "Zl", "Zp"})


def normalise(text: str) -> str:
    """The text as it is to be stored: NFC, without white space around it."""
    return unicodedata.normalize("NFC", text).strip()


def _invisible(char: str) -> bool:
    """A character that shows nothing and is not white space: format, control, a blank filler."""
    point = ord(char)
    if char.isspace():
        return False
    if point in _INVISIBLE or unicodedata.category(char) in _HIDDEN_CATEGORIES:
        return True
    return any(low <= point <= high for low, high in _INVISIBLE_RANGES)


def _hidden(char: str) -> bool:
    return char.isspace() or _invisible(char)


def without_invisible(text: str) -> str:
    """`text` with its invisible characters removed and its white space kept, for comparing what two
    people wrote (storage.naming: "Smi\u00adth" is Smith), never for what is stored."""
    return "".join(char for char in text if not _invisible(char))


def visible(text: str) -> str:
    """The characters of `text` (NFC) that show on a screen: format, control and white space removed."""
    return "".join(char for char in unicodedata.normalize("NFC", text) if not _hidden(char))


def is_blank(text: str | None) -> bool:
    """True if nothing readable is left once invisible characters are set aside.

    Why not `not visible(text)`: this stops at the first visible character instead of rebuilding the
    whole text, which for a long narrative cost most of a millisecond on every submission."""
    return not text or all(_hidden(char) for char in unicodedata.normalize("NFC", text))


def answer(text: str | None) -> str:
    """A typed answer as stored: normalised, or "" if it is blank."""
    return "" if is_blank(text) else normalise(text or "")
