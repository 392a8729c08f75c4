"""What a typed answer holds once invisible characters are set aside: the one "is it blank" rule.

Threat: an answer of zero-width spaces or word joiners (U+200B, U+2060, ...) looks empty on every screen
yet passes `str.strip()`, so a "narrative" nobody can read, or a named person with no name, would be
sealed as if given. Why one pure module: the bot's flows and the vault's own checks must agree on what
blank means, and neither may depend on the other.

`normalise` is what is stored (NFC, outer white space trimmed): joiners inside the text are kept, since
emoji sequences and some scripts need them. `is_blank` decides whether anything was said: only a letter,
number, punctuation or symbol counts (a combining mark alone, a filler, a format character never does).
`without_invisible` is for comparing names (storage.naming), where marks written with letters are kept.
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


def without_invisible(text: str) -> str:
    """`text` with its invisible characters removed and its white space kept, for comparing what two
    people wrote (storage.naming: "Smi\u00adth" is Smith), never for what is stored."""
    return "".join(char for char in text if not _invisible(char))


# What says something: a letter, number, punctuation or symbol (the general categories L, N, P, S), and
# code points this Python's Unicode data does not know or that a font gives meaning to (Cn, Co): an emoji
# newer than the data is still something said. Marks (M), format (Cf), separators (Z), controls (Cc) and
# surrogates (Cs) say nothing on their own: a combining accent with no letter under it is no answer.
_SAYING_CATEGORIES = frozenset("LNPS")
_SAYING_OTHER = frozenset({"Cn", "Co"})
# Letters and symbols that render as nothing (Unicode calls them fillers): Hangul fillers, blank Braille.
_FILLERS = frozenset({0x115F, 0x1160, 0x3164, 0xFFA0, 0x2800})


def says_something(char: str) -> bool:
    """True for a character that shows something by itself: a letter, number, punctuation or symbol that
    is not a blank filler (or an unassigned or private-use code point)."""
    category = unicodedata.category(char)
    if ord(char) in _FILLERS:
        return False
    return category[0] in _SAYING_CATEGORIES or category in _SAYING_OTHER


def is_blank(text: str | None) -> bool:
    """True unless the text holds a character that says something (`says_something`).

    Threat: marks alone ("\u0301\u0308", a combining enclosing circle U+20DD), a Hangul filler with an
    accent, or format characters look like nothing, or like a smudge, yet are not empty strings; sealed
    as a narrative or a name they would be an answer that says nothing. Why no NFC first: normalising
    never turns marks, fillers or format characters into a letter, so it cannot change the verdict.
    Why `any` over a generator: it stops at the first letter, so a long narrative costs microseconds."""
    return not text or not any(says_something(char) for char in text)


def answer(text: str | None) -> str:
    """A typed answer as stored: normalised, or "" if it is blank."""
    return "" if is_blank(text) else normalise(text or "")
