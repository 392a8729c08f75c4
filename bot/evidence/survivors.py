"""The independent check's byte search: does any value the inspection saw in the original survive?

Why a byte search as well as a second read-out: a library's read-out sees only what that library models.
A value written somewhere it does not look (a private chunk, an unknown atom, a second copy of a tag)
would pass a read-out and still be in the file. Searching the bytes, raw and with every compressed piece
opened, finds it wherever it sits, in the encodings files use for text.

Threat it cannot close: a value transformed (re-encoded in another character set, split across two
pieces, or a number such as a GPS coordinate stored as binary rationals). The library read-out covers
those; exiftool in the tests is the third witness.
"""

from __future__ import annotations

import html
from collections.abc import Iterable

from bot.evidence.model import Verbatim

# A value shorter than this, or a short run of digits, would be found by chance in any file.
MIN_LETTERS = 4
MIN_DIGITS = 8


def searchable(value: str) -> bool:
    """Whether a value is distinctive enough to search for."""
    if len(value) < MIN_LETTERS:
        return False
    return any(ch.isalpha() for ch in value) or len(value) >= MIN_DIGITS


def forms(value: str) -> set[bytes]:
    """The byte forms a text value takes in files: UTF-8, UTF-16 both ways, and escaped for XML.

    For a value in ASCII the two UTF-16 orders share one run ("J\\0a\\0n\\0e" is inside both), searched
    once: a third less to read in a 20 MB file.
    """
    if value.isascii():
        wide = value.encode("utf-16-le")[:-1]
        found = {value.encode("utf-8"), wide}
    else:
        found = {value.encode("utf-8"), value.encode("utf-16-le"), value.encode("utf-16-be")}
    escaped = html.escape(value, quote=True)
    if escaped != value:
        found.add(escaped.encode("utf-8"))
    return found


def count(pieces: Iterable[bytes], value: str) -> int:
    """How many times the value appears across the pieces, in any of its forms.

    A piece that stands verbatim inside another piece of the list (model.Verbatim: a PDF's JPEG,
    stored as it is) is not read a second time: every copy in it is counted in the piece around it.
    """
    wanted = forms(value)
    return sum(piece.count(form) for piece in pieces if not isinstance(piece, Verbatim) for form in wanted)


def survivors(
    original: Iterable[bytes], cleaned: list[bytes], values: Iterable[str], *, body_text: bool
) -> list[str]:
    """The values still present in the cleaned pieces.

    Where a format's visible content may repeat a value (a letter signed by its author), each copy the
    original held outside the inspected places may stay: the cleaned file may hold at most the original's
    count less the places the inspection found it. Elsewhere (pictures, sound, video) none may stay.
    """
    places: dict[str, int] = {}
    for value in values:
        if searchable(value):
            places[value] = places.get(value, 0) + 1
    left: list[str] = []
    absent: list[str] = []
    # Shortest first: a value holding one already absent is absent too (each of its byte forms holds
    # a form of the shorter), so it needs no search of its own.
    for value, found_in in sorted(places.items(), key=lambda item: len(item[0])):
        if any(short in value for short in absent):
            continue
        now = count(cleaned, value)
        if not now:
            absent.append(value)
            continue
        allowed = max(count(original, value) - found_in, 0) if body_text else 0
        if now > allowed:
            left.append(value)
    return left
