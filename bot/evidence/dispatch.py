"""Picking a file's format from its bytes, running it, and the independent check that fails closed.

Why / threat (promise 1): a cleaner can only remove what it models. So after a format has rewritten a
file, the result passes three tests before it is called cleaned, none of which is the rewrite itself:
its type read from its bytes must not have changed; the format's library, reading the result afresh,
must find nothing; and no value the inspection saw in the original may be found in the result's bytes,
raw or inside any compressed piece (bot.evidence.survivors). Anything left: EvidenceError, and the
reporter is told. Files inside files (a picture in a PDF, a PDF in a Word document) go through the same
steps by their own format, counted against a depth limit.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import TypeVar

from PIL import Image

from bot.evidence import limits, names, phrases, sniff
from bot.evidence.model import (
    DAMAGED,
    KINDS,
    NOT_CLEANED,
    TOO_COMPLEX,
    TOO_LARGE,
    TOO_MANY_PIXELS,
    Cleaned,
    EvidenceError,
    Examination,
    Finding,
    Format,
    Inspection,
    Rewrite,
    Unsupported,
)
from bot.evidence.registry import FORMATS
from bot.evidence.survivors import survivors

_T = TypeVar("_T")


def can_clean(media_type: str) -> bool:
    """Whether `clean` knows how to remove metadata from this media type."""
    return sniff.normalise_type(media_type) in FORMATS


def sniff_media_type(content: bytes, filename: str, declared: str | None) -> str:
    """The file's real media type, from its first bytes (bot.evidence.sniff says why)."""
    return sniff.sniff(content, filename, declared, FORMATS)


def inspect(content: bytes, *, filename: str, media_type: str) -> tuple[Finding, ...]:
    """What identifying metadata the file carries, for the bot's 'keep or remove' question.

    Empty for types we cannot clean (we do not know) and for files with nothing to remove.
    Raises EvidenceError for a file too large, damaged, or a decompression bomb.
    """
    _check_size(content)
    actual = sniff_media_type(content, filename, media_type)
    fmt = FORMATS.get(actual)
    if fmt is None:
        return ()
    try:
        found = guarded(lambda data: fmt.inspect(data, Nesting(0)), content)
    except Unsupported:
        return ()
    return tidy([*found.findings, *names.findings(filename, actual)])


def clean(content: bytes, *, filename: str, media_type: str) -> Cleaned:
    """The file with identifying metadata removed, or unchanged with cleaned=False for types we cannot clean.

    Why / threat: fail closed. The result must pass the independent check (the module's note); any
    failure raises EvidenceError, so a file is never handed on as clean when it is not.
    """
    _check_size(content)
    actual = sniff_media_type(content, filename, media_type)
    fmt = FORMATS.get(actual)
    if fmt is None:
        return Cleaned(content, actual, names.safe(filename, actual), (), cleaned=False)
    try:
        found, rewrite = guarded(lambda data: clean_checked(fmt, data, actual, Nesting(0)), content)
    except Unsupported:
        return Cleaned(content, actual, names.safe(filename, actual), (), cleaned=False)
    return _finish(rewrite, found, filename, actual)


def examine(content: bytes, *, filename: str, media_type: str) -> Examination:
    """What `inspect` says of the file and what `clean` would remove, from one inspection of it.

    The same as `inspect`, then `clean` with its bytes discarded (the reporter is told now what will
    happen): a clean that fails its check gives problem="NOT_CLEANED"; every other refusal raises
    EvidenceError. The clean is the real one, independent check and all; only the second inspection
    of the original, which would repeat the first, is saved.
    """
    _check_size(content)
    actual = sniff_media_type(content, filename, media_type)
    inner = sniff_media_type(content, filename, actual)  # what `inspect` and `clean` would see
    fmt = FORMATS.get(inner)
    if fmt is None:
        return Examination(actual, False, (), ())  # `clean` would hand it back unchanged
    seen: list[Inspection] = []
    try:
        found, rewrite = guarded(lambda data: clean_checked(fmt, data, inner, Nesting(0), seen), content)
        cleaned = _finish(rewrite, found, filename, inner)
    except Unsupported:
        # A variant the format cannot write: returned unchanged, so not cleanable; what the inspection
        # read (if it got that far) is still what the file carries.
        findings = _findings(seen[0], filename, inner) if seen else ()
        return Examination(actual, False, findings, ())
    except EvidenceError as error:
        if str(error) != NOT_CLEANED or not seen:
            raise  # a refusal, or the inspection itself failing (which `inspect` would raise)
        return Examination(actual, can_clean(actual), _findings(seen[0], filename, inner), (), "NOT_CLEANED")
    return Examination(actual, cleaned.cleaned, _findings(found, filename, inner), cleaned.removed)


def _findings(found: Inspection, filename: str, media_type: str) -> tuple[Finding, ...]:
    """What `inspect` reports: the inspection's findings and the file name's."""
    return tidy([*found.findings, *names.findings(filename, media_type)])


def _finish(rewrite: Rewrite, found: Inspection, filename: str, media_type: str) -> Cleaned:
    """A checked rewrite as the file to seal: a neutral name, within the size limit, and what went."""
    name_findings = names.findings(filename, media_type)
    new_name = names.safe(filename, media_type)  # a photo's, video's or recording's name is always neutral
    if names.findings(new_name, media_type):
        raise EvidenceError(NOT_CLEANED)
    if len(rewrite.content) > limits.MAX_BYTES:
        raise EvidenceError(TOO_LARGE)  # re-encoding can grow a file; the vault takes no more than this
    removed = tidy([*found.findings, *rewrite.dropped, *name_findings])
    return Cleaned(rewrite.content, media_type, new_name, removed, cleaned=True)


def clean_checked(
    fmt: Format,
    content: bytes,
    media_type: str,
    nesting: Nesting,
    seen: list[Inspection] | None = None,
) -> tuple[Inspection, Rewrite]:
    """Inspect, rewrite, and check the rewrite independently; raises EvidenceError(NOT_CLEANED) if it fails.

    The original's inspection is also appended to `seen` as soon as it is done, so a caller still has
    it when the rewrite or the check fails.
    """
    inspections: list[Inspection] = [] if seen is None else seen
    rewrite = fmt.inspect_and_clean(content, nesting, inspections.append)
    found = inspections[-1]
    output = rewrite.content
    if sniff_media_type(output, "", media_type) != media_type:
        raise EvidenceError(NOT_CLEANED)
    # Why at every level, though a container passes its files' values up: what a container's inspection
    # walks and what its cleaning rewrites can differ in a damaged file, so each file inside is searched
    # for its own values too.
    after = _read_back(fmt, output, nesting)
    if nesting.depth == 0 and any(_carries_anything(piece) for piece in after[1:]):
        raise EvidenceError(NOT_CLEANED)
    original = _Lazy(lambda: list(pieces(content, nesting.depth)))
    if survivors(original, after, found.values, body_text=fmt.body_text):
        raise EvidenceError(NOT_CLEANED)
    return found, rewrite


def _read_back(fmt: Format, output: bytes, nesting: Nesting) -> list[bytes]:
    """The result read afresh from its bytes by its format: NOT_CLEANED if it still carries anything;
    otherwise its pieces for the byte search (what `pieces` gives).

    Why one opening for both when the result's bytes name the same format: that is the format `pieces`
    would pick; the read-out and the pieces are the same either way, only the second parse is saved.
    """
    known = sniff.by_magic(output)
    same = nesting.depth <= limits.MAX_DEPTH and known is not None and FORMATS.get(known) is fmt
    try:
        left, streams = fmt.read_back(output, nesting) if same else (fmt.inspect(output, nesting), [])
    except Unsupported as error:
        raise EvidenceError(NOT_CLEANED) from error
    if left.findings:
        raise EvidenceError(NOT_CLEANED)
    if not same:
        return list(pieces(output, nesting.depth))
    return [output, *(inner for piece in streams for inner in pieces(piece, nesting.depth + 1))]


def _carries_anything(piece: bytes) -> bool:
    """Whether a file found anywhere inside the result, by its bytes alone, still carries something.

    Why / threat: a container's cleaning rewrites the files inside it that its own model finds (a
    picture is a stream whose dictionary says /Subtype /Image). A damaged or crafted dictionary can hide
    a photo from that model while its bytes stay in the file for anyone to extract. So every piece of the
    result whose bytes are a file Candour knows is read out by that file's own format, whatever the
    container says it is.
    """
    known = sniff.by_magic(piece)
    inner = FORMATS.get(known) if known else None
    if inner is None:
        return False
    try:
        return bool(inner.inspect(piece, Nesting(1)).findings)
    except Unsupported:
        return False


class _Lazy:
    """The original's pieces, opened only if a value is found in the result (most files: never)."""

    def __init__(self, load: Callable[[], list[bytes]]) -> None:
        self._load = load
        self._pieces: list[bytes] | None = None

    def __iter__(self) -> Iterator[bytes]:
        if self._pieces is None:
            self._pieces = self._load()
        return iter(self._pieces)


def pieces(content: bytes, depth: int) -> Iterator[bytes]:
    """The file's bytes, then every compressed piece inside it opened, and the pieces of files inside it."""
    yield content
    if depth > limits.MAX_DEPTH:
        return
    # Why magic bytes only: a piece that is text (an XML part) has no pieces of its own, and reading every
    # character to say so would cost more than the whole search.
    known = sniff.by_magic(content)
    fmt = FORMATS.get(known) if known else None
    if fmt is None:
        return
    for piece in fmt.streams(content):
        yield from pieces(piece, depth + 1)


class Nesting:
    """The dispatcher's side of `bot.evidence.model.Nested`: one level deeper for each file inside a file."""

    def __init__(self, depth: int, *, keep_orientation: bool = False) -> None:
        self.depth = depth
        self.keep_orientation = keep_orientation

    def media_type(self, content: bytes) -> str:
        return sniff_media_type(content, "", None)

    def _deeper(
        self, content: bytes, *, keep_orientation: bool = False
    ) -> tuple[Format, str, Nesting] | None:
        actual = self.media_type(content)
        fmt = FORMATS.get(actual)
        if fmt is None:
            return None
        if self.depth + 1 > limits.MAX_DEPTH:
            raise EvidenceError(TOO_COMPLEX)
        return fmt, actual, Nesting(self.depth + 1, keep_orientation=keep_orientation)

    def inspect(self, content: bytes) -> Inspection:
        deeper = self._deeper(content)
        if deeper is None:
            return Inspection()
        fmt, _, inner = deeper
        try:
            return fmt.inspect(content, inner)
        except Unsupported:
            return Inspection()

    def clean(self, content: bytes, *, keep_orientation: bool = False) -> Rewrite | None:
        deeper = self._deeper(content, keep_orientation=keep_orientation)
        if deeper is None:
            return None
        fmt, actual, inner = deeper
        try:
            _, rewrite = clean_checked(fmt, content, actual, inner)
        except Unsupported:
            return None
        return rewrite


# Why a cap: a document with hundreds of comment authors has hundreds of findings; the bot shows a few of
# each kind and counts the rest, and the list crosses the process boundary, which bounds its length.
MAX_FINDINGS = 300


def tidy(findings: list[Finding]) -> tuple[Finding, ...]:
    """Unique findings, grouped in a fixed order of kinds (place and people first: they matter most),
    at most MAX_FINDINGS of them, the last saying how many more there were."""
    unique = sorted(dict.fromkeys(findings), key=lambda found: KINDS.index(found.kind))
    if len(unique) <= MAX_FINDINGS:
        return tuple(unique)
    kept = unique[: MAX_FINDINGS - 1]
    return (*kept, Finding("other", phrases.MORE, count=len(unique) - len(kept)))


def guarded(function: Callable[[bytes], _T], content: bytes) -> _T:
    """Run a format over untrusted bytes, turning any failure into a plain EvidenceError.

    Why / threat: promise 5 (nothing crashes) and fail closed. Pillow, pikepdf, PyAV, lxml and zipfile
    raise a wide and changing range of exceptions on hostile input; every one of them means "we could not
    read this file", and none may let the file through as cleaned.
    """
    try:
        return function(content)
    except (EvidenceError, Unsupported):
        raise
    except (Image.DecompressionBombError, MemoryError) as error:
        raise EvidenceError(TOO_MANY_PIXELS) from error
    except RecursionError as error:
        raise EvidenceError(TOO_COMPLEX) from error
    except Exception as error:
        raise EvidenceError(DAMAGED) from error


def _check_size(content: bytes) -> None:
    if len(content) > limits.MAX_BYTES:
        raise EvidenceError(TOO_LARGE)
