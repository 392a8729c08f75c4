"""Zip packages (Office and ODF documents): reading them within limits, and writing them back the same
way every time.

Why / threat (promise 5, and promise 1): a zip can declare a few kilobytes and inflate to gigabytes, or
declare a small size and inflate to more; both are refused with a plain sentence before memory runs out,
by adding up the sizes the archive declares and by reading each entry with a cap of the size it declared.
Duplicate names are refused, because readers disagree on which copy counts, so a cleaned copy could hide
an uncleaned one. Rewriting sets every entry's time to 1980-01-01 (as Word does) and copies no extra
fields or comments: a zip entry's time says when the file was last saved, and extra fields can carry
more times and the saving machine's user ids.
"""

from __future__ import annotations

import io
import posixpath
import re
import zipfile
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from urllib.parse import unquote

from bot.evidence import limits
from bot.evidence import types as t
from bot.evidence.model import DAMAGED, TOO_COMPLEX, EvidenceError, Finding, Found, Nested, prefixed

FIXED_TIME = (1980, 1, 1, 0, 0, 0)
# The neutral name and initials written where a document must keep someone (a comment's author).
NAME, INITIALS = "Author", "A"
# A folder path from the machine or the account a document was saved from: a drive letter, a network
# share, a file: address, a home folder (/Users, /home, ~/), a path that climbs out of the document's
# own folder two or more times (../../jsmith/...), or an online folder that names its owner.
FOLDER_PATH = re.compile(
    r"(?i)(?:\b[a-z]:[\\/]|\\\\[\w.$-]+\\|file:/|/(?:users|home|private/var)/|^~[\\/]|"
    r"(?:\.\.[\\/]){2,}|d\.docs\.live\.net/|sharepoint\.com/personal/|-my\.sharepoint\.com/)"
)
# An address with a scheme (https:, mailto:, file:); an external link without one is a relative path.
_SCHEME = re.compile(r"^[a-z][a-z0-9+.-]*:", re.I)
_CHUNK = 1 << 20


@dataclass
class Entry:
    """One part of a package: its name, its bytes, and whether it was stored without compression."""

    name: str
    data: bytes
    stored: bool = False

    @property
    def key(self) -> str:
        """The part's name as OPC compares names: without a leading slash, case-insensitively."""
        return self.name.lstrip("/").lower()


@dataclass
class Package:
    """A package's entries in their order, and what the zip itself said about when and by whom."""

    entries: list[Entry]
    latest: tuple[int, ...] | None
    comment: bytes

    def by_key(self) -> dict[str, Entry]:
        """Entries by their OPC key."""
        return {entry.key: entry for entry in self.entries}


def read(content: bytes) -> Package:
    """Every entry of a package, bounded in number and in unpacked size; EvidenceError when over a limit."""
    with zipfile.ZipFile(io.BytesIO(content)) as archive:
        infos = archive.infolist()
        if len(infos) > limits.MAX_ZIP_ENTRIES:
            raise EvidenceError(TOO_COMPLEX)
        if len({info.filename.lstrip("/").lower() for info in infos}) != len(infos):
            raise EvidenceError(DAMAGED)
        if sum(info.file_size for info in infos) > limits.MAX_UNZIPPED:
            raise EvidenceError(TOO_COMPLEX)
        budget = limits.MAX_UNZIPPED
        entries = []
        latest: tuple[int, ...] | None = None
        for info in infos:
            if info.flag_bits & 0x1:
                raise EvidenceError(DAMAGED)  # an encrypted entry cannot be read, so cannot be checked
            if info.compress_size > info.file_size + info.file_size // 100 + 1024:
                # Deflate never grows data this much, so the entry holds more than it declares: a bomb
                # hiding its size (zipfile would cut it at the declared size and call it damaged).
                raise EvidenceError(TOO_COMPLEX)
            data = _read_capped(archive, info, budget)
            budget -= len(data)
            entries.append(Entry(info.filename, data, info.compress_type == zipfile.ZIP_STORED))
            if tuple(info.date_time) != FIXED_TIME and (latest is None or tuple(info.date_time) > latest):
                latest = tuple(info.date_time)
        return Package(entries, latest, archive.comment or b"")


def _read_capped(archive: zipfile.ZipFile, info: zipfile.ZipInfo, budget: int) -> bytes:
    """An entry's bytes, refused as too complex the moment it inflates past its declared size or the budget.

    Why / threat: zipfile trusts the declared size only for the CRC check at the end; a deflate stream
    that inflates further would otherwise be read whole into memory first.
    """
    cap = min(info.file_size, budget)
    pieces = []
    got = 0
    with archive.open(info) as stream:
        while got <= cap:
            piece = stream.read(min(_CHUNK, cap + 1 - got))
            if not piece:
                break
            pieces.append(piece)
            got += len(piece)
    if got > cap:
        raise EvidenceError(TOO_COMPLEX)
    return b"".join(pieces)


def write(entries: Iterable[Entry], *, stored_first: str | None = None) -> bytes:
    """The entries zipped again in their order, deflated unless they were stored, with fixed times.

    `stored_first` names an entry (ODF's `mimetype`) that must come first and uncompressed, so that
    readers can tell the type from the first bytes.
    """
    ordered = list(entries)
    if stored_first is not None:
        ordered.sort(key=lambda entry: entry.name != stored_first)
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as archive:
        for entry in ordered:
            info = zipfile.ZipInfo(entry.name, date_time=FIXED_TIME)
            info.create_system = 0
            info.external_attr = 0x10 if entry.name.endswith("/") else 0
            stored = entry.stored or entry.name == stored_first
            info.compress_type = zipfile.ZIP_STORED if stored else zipfile.ZIP_DEFLATED
            archive.writestr(info, entry.data)
    return out.getvalue()


def streams(content: bytes) -> Iterator[bytes]:
    """Every entry's unpacked bytes (within the same limits as `read`)."""
    for entry in read(content).entries:
        yield entry.data


def local_link(target: str) -> bool:
    """Whether an external link's target is a path on the saving computer rather than an address.

    Why / threat: a linked file or picture is often stored relative to the document
    (..\\..\\jsmith\\Desktop\\x.docx), and a relative path names the folders of whoever saved it.
    """
    target = target.strip()
    if not target or target.startswith("#"):
        return False
    return bool(FOLDER_PATH.search(target)) or not _SCHEME.match(target)


def zip_findings(package: Package, found: Found) -> None:
    """What the zip wrapper itself says: when its parts were saved, and any note written on it."""
    if package.latest is not None:
        stamp = "{:04d}-{:02d}-{:02d} {:02d}:{:02d}".format(*package.latest[:5])
        found.add("time", "when its parts were saved", stamp)
    if package.comment.strip(b"\x00 \r\n\t"):
        found.add("other", "a note on the file's zip wrapper", package.comment)


class Report:
    """Findings for one package: each distinct detail once, later copies as values only (for the search)."""

    def __init__(self, found: Found) -> None:
        self.found = found
        self.said: set[str] = set()
        self.values: set[str] = set()

    def add(self, kind: str, what: str, value: object = None, *, once: bool = False) -> None:
        """A finding, or with `once` only its value when one with the same words was already made."""
        if isinstance(value, str):
            self.values.add(value.strip())
        if once and what in self.said:
            self.found.value(value)
            return
        self.said.add(what)
        self.found.add(kind, what, value)

    def again(self, value: str) -> None:
        """Another place a value already named sits: searched for after cleaning, not said twice."""
        self.values.add(value.strip())
        self.found.value(value)


UNREADABLE = "an embedded file Candour could not read"


def inspect_embedded(data: bytes, nested: Nested, label: str, report: Report) -> None:
    """What an embedded part carries, or, for a type Candour cannot clean, that it is there (`label`)."""
    media_type = nested.media_type(data)
    if not cleanable(media_type):
        report.add("other", label, once=True)
        return
    inside = "in a picture inside: " if media_type in t.IMAGE_TYPES else "in a file inside: "
    try:
        report.found.nested(nested.inspect(data), inside)
    except EvidenceError:
        report.add("other", UNREADABLE, once=True)


def clean_embedded(data: bytes, nested: Nested, label: str, dropped: list[Finding]) -> bytes | None:
    """An embedded part cleaned by its own format, or None, named in `dropped`, when it must be removed.

    Why / threat: a part Candour cannot clean, or whose own cleaning fails its check, is removed rather
    than kept (it could carry anything) and rather than refusing the whole document (the reporter keeps
    the evidence that could be cleaned, and is told what was taken out).
    """
    try:
        rewrite = nested.clean(data)
    except EvidenceError:
        rewrite, label = None, UNREADABLE
    if rewrite is None:
        finding = Finding("other", f"{label} (removed)")
        if finding not in dropped:
            dropped.append(finding)
        return None
    dropped.extend(prefixed(rewrite.dropped, "in a file inside: "))
    return rewrite.content


def folder(name: str) -> str:
    """The folder a part sits in ('' at the top)."""
    return posixpath.dirname(name.lstrip("/"))


def rels_source(rels_key: str) -> str:
    """The part an OPC relationships part belongs to ('' for the package's own _rels/.rels)."""
    top = folder(folder(rels_key))
    base = rels_key.rsplit("/", 1)[-1][: -len(".rels")]
    return f"{top}/{base}".lstrip("/") if base else ""


def rels_part(part_key: str) -> str:
    """The OPC relationships part that belongs to a part."""
    top, _, base = part_key.rpartition("/")
    return f"{top}/_rels/{base}.rels".lstrip("/")


def joined(base_folder: str, target: str) -> str:
    """A relative or absolute part reference resolved to an OPC key (lower case, no leading slash)."""
    target = unquote(target.split("#", 1)[0])  # part names in relationships may be percent-encoded
    path = target.lstrip("/") if target.startswith("/") else posixpath.join(base_folder, target)
    return posixpath.normpath(path).lstrip("/").lower() if path else ""


def cleanable(media_type: str) -> bool:
    """Whether Candour has a format for this type (so an embedded part of it can be cleaned, not dropped)."""
    from bot.evidence.registry import FORMATS  # here, not at the top: the registry imports the families

    return media_type in FORMATS
