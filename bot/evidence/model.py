"""What every format shares: a finding, what inspecting and cleaning return, refusals, and the interface
one small class per format implements (the way mat2 gives each format its own parser).

Why values travel with findings: the independent check after cleaning searches the result's bytes for
every value the inspection saw in the original. The values are never shown, logged or stored; they live
only inside the cleaner process for the length of one file.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable, Iterator
from dataclasses import dataclass, replace
from typing import ClassVar, Protocol

from bot.evidence import phrases

MAX_SUMMARY = 80
KINDS = ("location", "person", "device", "time", "software", "other")
INSIDE = ("", "picture", "file")  # where a finding sits: in the file sent, or in a part inside it

TOO_LARGE = "This file is larger than 20 MB, the most Candour accepts. Please send a smaller copy."
DAMAGED = "This file could not be read. It may be damaged or only partly sent. Please try sending it again."
TOO_MANY_PIXELS = (
    "This picture is too large to check safely (over 60 megapixels). Please send a smaller copy."
)
TOO_COMPLEX = "This file has too many parts to check safely. Please send a simpler copy, or a screenshot."
PDF_LOCKED = "This PDF is protected by a password, so it cannot be checked. Please send a copy without one."
NOT_CLEANED = (
    "Candour could not remove the hidden details from this file, so it has not been used. "
    "Please send a screenshot of it instead."
)
TOO_SLOW = "Checking this file took too long, so it has not been used. Please send a smaller or simpler copy."


class EvidenceError(Exception):
    """A file that cannot be read or will not be processed; str(error) is a plain sentence for the reporter."""


class Unsupported(Exception):
    """A variant of a cleanable type that cannot be rewritten safely: handed back unchanged, cleaned=False."""


@dataclass(frozen=True)
class Finding:
    """One identifying detail a file carries, described for the reporter's own phone screen.

    `phrase` is a message id of bot/evidence/phrases.py (an English phrase given here becomes its id, and
    "phrase (value)", "in a file inside: ..." and "... (removed)" are taken apart likewise); `value` is
    the short value shown with it, `inside` says it is in a "picture" or "file" inside the file sent,
    `removed` that cleaning takes the part out whole, `count` the number a counted phrase says.

    Why ids, not sentences: the reporter may read Welsh; the bot renders the id in the chat's language.
    """

    kind: str
    phrase: str
    value: str = ""
    inside: str = ""
    removed: bool = False
    count: int = 0

    def __post_init__(self) -> None:
        if self.kind not in KINDS:
            raise ValueError(f"unknown finding kind {self.kind!r}")
        if self.phrase in phrases.ID_OF:
            self._set(phrase=phrases.ID_OF[self.phrase])
        elif self.phrase not in phrases.SAYABLE:
            if self.value or self.inside or self.removed or self.count:
                raise ValueError("a finding's phrase must be a message id of bot/evidence/phrases.py")
            phrase, value, inside, removed, count = phrases.parse(self.phrase)
            value = display(value, MAX_SUMMARY)
            self._set(phrase=phrase, value=value, inside=inside, removed=removed, count=count)
        # Why / threat: the value comes from the file and is shown in a chat message; display() is how
        # it is made safe, so a value it would change (control, bidirectional or long) is refused.
        if not _shown_safely(self.value) or self.inside not in INSIDE:
            raise ValueError("a finding's value must be safe to show and short, inside a picture or a file")
        if not 0 <= self.count < 10**9 or (self.phrase in phrases.COUNTED) != (self.count > 0):
            raise ValueError("a counted phrase needs its count, and only it")

    def _set(self, **parts: object) -> None:
        """Fields set while the finding is made (it is frozen after)."""
        for name, part in parts.items():
            object.__setattr__(self, name, part)

    @property
    def summary(self) -> str:
        """The finding in English, at most MAX_SUMMARY characters (the bot says it in the chat's language)."""
        text = phrases.english(self.phrase, self.count)
        if self.value:
            text = f"{text} ({self.value})"
        if self.removed:
            text = f"{text} (removed)"
        if self.inside:
            text = phrases.TEMPLATES[phrases.INSIDE[self.inside]].format(what=text)
        return text if len(text) <= MAX_SUMMARY else text[: MAX_SUMMARY - 1].rstrip() + "…"


@dataclass(frozen=True)
class Inspection:
    """What a file carries: findings for the reporter, and the raw values behind them for the byte search."""

    findings: tuple[Finding, ...] = ()
    values: tuple[str, ...] = ()

    def __add__(self, other: Inspection) -> Inspection:
        return Inspection(self.findings + other.findings, self.values + other.values)


@dataclass(frozen=True)
class Rewrite:
    """A format's cleaned bytes, and the parts it removed whole (an embedded file it cannot check)."""

    content: bytes
    dropped: tuple[Finding, ...] = ()


@dataclass(frozen=True)
class Examination:
    """What a file will give before it is sealed: its real type, whether it can be cleaned, what it
    carries (`findings`), what a clean removes (`removed`), and "NOT_CLEANED" in `problem` when the
    clean was tried and failed its check."""

    media_type: str
    cleanable: bool
    findings: tuple[Finding, ...]
    removed: tuple[Finding, ...]
    problem: str | None = None


class Verbatim(bytes):
    """A piece of a file whose bytes stand, unchanged and in one run, inside the file it came from.

    Why: the byte search already reads that file's own bytes, so reading these again finds nothing
    more (a value in them is in the file); it still opens the pieces inside them.
    """


@dataclass(frozen=True)
class Cleaned:
    """The file to seal: cleaned content, its real media type, a safe file name, and what was removed."""

    content: bytes
    media_type: str
    filename: str
    removed: tuple[Finding, ...]
    cleaned: bool


class Nested(Protocol):
    """How a container format hands a file found inside it (a picture in a PDF, a PDF in a DOCX) back to
    the dispatcher, which picks that file's own format and counts the depth."""

    keep_orientation: bool
    """Whether pictures keep the orientation and colour values they are stored in: a PDF places them by
    its own matrix and colours them by its own colour space, ignoring EXIF and the picture's profile, so
    turning one upright or converting its colours would distort its page. Otherwise pictures are turned
    upright and converted to sRGB."""

    def media_type(self, content: bytes) -> str:
        """The embedded file's real type, from its bytes."""
        ...

    def inspect(self, content: bytes) -> Inspection:
        """What the embedded file carries (empty for a type Candour cannot read)."""
        ...

    def clean(self, content: bytes, *, keep_orientation: bool = False) -> Rewrite | None:
        """The embedded file cleaned by its own format, or None when Candour cannot clean that type, in
        which case the container removes the part and names it in `Rewrite.dropped`."""
        ...


class Format:
    """One family of file types: how to read what it hides, and how to write it without.

    `cannot_clean` is the honest list, in plain words, of what this format's cleaning leaves in place; it
    is printed in docs/evidence.md and the tests hold the code to it. `body_text` says whether the
    visible content may legitimately repeat a metadata value (a document naming its author in its text):
    then the byte search allows as many copies as the original had outside the places inspected.
    """

    media_types: ClassVar[tuple[str, ...]] = ()
    cannot_clean: ClassVar[tuple[str, ...]] = ()
    body_text: ClassVar[bool] = False

    def inspect(self, content: bytes, nested: Nested) -> Inspection:
        """Every identifying detail the format's library can read out of the file."""
        raise NotImplementedError

    def clean(self, content: bytes, nested: Nested) -> Rewrite:
        """The file rewritten without those details; raises Unsupported or EvidenceError when it cannot."""
        raise NotImplementedError

    def streams(self, content: bytes) -> Iterator[bytes]:
        """The file's compressed pieces, decompressed, so the byte search sees inside them."""
        return iter(())

    def inspect_and_clean(
        self, content: bytes, nested: Nested, inspected: Callable[[Inspection], None]
    ) -> Rewrite:
        """`inspect`, handed to `inspected` as soon as it is done, then `clean`, of the same original.

        A format whose library can read and rewrite one opening of the file overrides this, so the
        original is parsed once; the inspection must be the same `inspect` would give.
        """
        inspected(self.inspect(content, nested))
        return self.clean(content, nested)

    def read_back(self, content: bytes, nested: Nested) -> tuple[Inspection, list[bytes]]:
        """The independent check's look at a result: `inspect`, and `streams` only if that found nothing.

        A format overrides this to open the result once for both; either way the result is opened
        afresh from its own bytes, never taken from the cleaner's objects.
        """
        found = self.inspect(content, nested)
        return found, [] if found.findings else list(self.streams(content))


# ---------------------------------------------------------------------------------------------------------
# Building findings


def display(value: object, limit: int) -> str:
    """A metadata value made safe and short for a chat message.

    Why / threat: values come from the file, so they may hold control or bidirectional-override characters
    that would garble or disguise the bot's message; those become spaces, and long values are cut.
    """
    if isinstance(value, bytes):
        value = value.decode("utf-8", "replace")
    text = str(value)[:500]
    # isprintable() is False exactly when a character is of a C or Z category other than the space.
    if not text.isprintable():
        text = "".join(" " if unicodedata.category(ch)[0] in "CZ" else ch for ch in text)
    text = " ".join(text.split())
    if len(text) > limit:
        text = text[: max(limit - 1, 0)].rstrip() + "…"
    return text


def _shown_safely(value: str) -> bool:
    """Whether display() leaves a value as it is (its fast equivalent: printable, single-spaced, short)."""
    return not value or (
        len(value) <= MAX_SUMMARY and value.isprintable() and value == value.strip() and "  " not in value
    )


def finding(kind: str, what: str, value: object = None) -> Finding:
    """A finding whose summary shows a short value when there is room: the reporter's own screen.

    `what` is a phrase of bot/evidence/phrases.py, by its id or its English text.
    """
    phrase = phrases.ID_OF.get(what)
    if phrase is None:
        said = Finding(kind, what)  # an id, or English with its parts ("phrase (value)")
        room = MAX_SUMMARY - len(said.summary) - 3
        shown = display(value, room) if value is not None and room >= 4 and not said.value else ""
        return replace(said, value=shown) if shown else said
    room = MAX_SUMMARY - len(what) - 3
    shown = display(value, room) if value is not None and room >= 4 else ""
    return Finding(kind, phrase, shown)


def when(value: object) -> str:
    """An EXIF-style, PDF-style or ISO date shown as YYYY-MM-DD HH:MM; anything else as given."""
    text = value.decode("ascii", "replace") if isinstance(value, bytes) else str(value)
    match = re.search(r"(\d{4})[:\-]?(\d{2})[:\-]?(\d{2})[ T]?(\d{2}):?(\d{2})", text)
    return f"{match[1]}-{match[2]}-{match[3]} {match[4]}:{match[5]}" if match else text


def prefixed(findings: tuple[Finding, ...], prefix: str) -> tuple[Finding, ...]:
    """Findings from a part inside a file, said to be inside (once, however deep the nesting).

    `prefix` is "in a picture inside: " or "in a file inside: " (or "" for findings said as they are).
    """
    inside = _INSIDE_PREFIXES[prefix]
    return findings if not inside else tuple(replace(found, inside=inside) for found in findings)


_INSIDE_PREFIXES = {"": "", "in a picture inside: ": "picture", "in a file inside: ": "file"}


class Found:
    """Collects findings, and the values behind them, while a format inspects a file."""

    def __init__(self) -> None:
        self._findings: list[Finding] = []
        self._values: list[str] = []

    def add(
        self, kind: str, what: str, value: object = None, *, show: bool = True, search: bool = True
    ) -> None:
        """One detail: `value` is searched for after cleaning when `search`, and shown to the reporter
        when `show` (`what`: a phrase of bot/evidence/phrases.py, by its id or its English)."""
        self._findings.append(finding(kind, what, value if show else None))
        if not search:
            return
        if isinstance(value, bytes):
            value = value.decode("utf-8", "replace")
        if isinstance(value, str) and value.strip():
            self._values.append(value.strip())

    def value(self, value: object) -> None:
        """A value to search for after cleaning that adds no finding of its own (one already said it)."""
        if isinstance(value, bytes):
            value = value.decode("utf-8", "replace")
        if isinstance(value, str) and value.strip():
            self._values.append(value.strip())

    def nested(self, inspection: Inspection, prefix: str = "in a file inside: ") -> None:
        """What an embedded file carries, said to be inside."""
        self._findings.extend(prefixed(inspection.findings, prefix))
        self._values.extend(inspection.values)

    def result(self) -> Inspection:
        return Inspection(tuple(self._findings), tuple(self._values))
