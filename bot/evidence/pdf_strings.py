"""Every text value a PDF's dictionaries hold, outside the page content: kept only when it is on a short list.

Why / threat (an allow-list, not a list of places to remove): any application may write any key with any
text on any dictionary of a PDF (a signer's name on a signature, an author on an article thread or beside
an attachment, a printer's notes in an output intent, a custom key on the catalogue, a page or the
trailer), and no viewer or exiftool shows most of them. A cleaner that removes named places misses the
next one. So every text string found in any dictionary reachable from the trailer (and in objects nothing
reaches) is a finding and is removed, unless its key is one of the few a document needs to be drawn or
whose text is part of the evidence the reporter sees:

- layout: /DA and /DS (how form and comment text is drawn), /Lang, the font descriptions (/FontFamily,
  /CharSet, /Registry, /Ordering, /Panose), destinations and the indexes of name trees (/D, /Dest,
  /Names, /Limits), a structure element's /ID, the units of a measurement;
- visible evidence: a comment's text (/Contents of an annotation), a form's field names, tooltips,
  values and choices (/T of anything but a comment, /TU, /TM, /V, /DV, /RV, /Opt), button captions
  (/CA, /AC, /RC of a widget's look), text written for screen readers (/Alt, /ActualText, /E), a
  comment's review state, a redaction's overlay text, bookmarks (/Title of an outline item), layer names
  (/Name of an optional content group), page label prefixes, XFA packet names, web links (/URI, /Base),
  and the names of attached files (renamed when a camera gave them, by bot.evidence.pdf).

Some parts go whole, because removing their text alone would leave the rest of what they hold: a digital
signature (its /Contents holds the signer's certificate, name and e-mail), an action or file reference
that opens a file on the writer's computer (its path holds their user name), output intents (their ICC
profile holds free text), the collection (portfolio) layout, and the store of signers' certificates.
On the catalogue, pages and trailer, a key the PDF standard does not define is removed whatever it
holds (so a custom key with a name or a number goes too).

What this cannot see: words stored as PDF names (not strings) under standard keys elsewhere, and text
inside the pages' own drawing instructions. Both are listed in the format's cannot_clean.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass

import pikepdf
from pikepdf import Array, Dictionary, Name, Stream

from bot.evidence.model import Finding, finding, when

SIGNATURE = Finding("person", "a digital signature (removed)")
LOCAL_FILE = Finding("other", "a link to a file on the writer's computer (removed)")
_WHOLE_KEYS = {
    "/OutputIntents": Finding("other", "printing colour settings and the notes kept with them (removed)"),
    "/Collection": Finding("other", "the details listed beside attached files (removed)"),
    "/DSS": Finding("person", "the certificates of people who signed it (removed)"),
}
# Read and removed elsewhere (bot.evidence.pdf_read, bot.evidence.pdf): not read twice here.
_HANDLED = frozenset({"/PieceInfo", "/SpiderInfo", "/AA", "/OpenAction", "/JS", "/JavaScript", "/Metadata"})
_KEPT = frozenset(
    {
        "/DA", "/DS", "/Lang", "/FontFamily", "/CharSet", "/Registry", "/Ordering", "/Panose",
        "/D", "/Dest", "/Names", "/Limits", "/TU", "/TM", "/V", "/DV", "/RV", "/Opt", "/CA", "/AC",
        "/Alt", "/ActualText", "/E", "/State", "/StateModel", "/OverlayText", "/XFA",
    }
)  # fmt: skip
# How a dictionary is read: on its own merits; for values only (a part removed whole); not at all (read
# and removed elsewhere: why not for values too, a script's names are words like "start", also PDF syntax).
_READ, _VALUES, _SILENT = 0, 1, 2
_FILE_KEYS = ("/F", "/UF", "/DOS", "/Mac", "/Unix")
_FILE_ACTIONS = {Name.Launch, Name.GoToR, Name.GoToE, Name.ImportData}
_NUMBER_FORMAT = ("/U", "/RT", "/RD", "/PS", "/SS")
_LABEL_STYLES = {Name.D, Name.R, Name.r, Name.A, Name.a}
_LOCAL = re.compile(
    r"^\s*(?:file:|smb:|afp:|nfs:|[a-z]:[\\/]|\\\\|~/|/(?:users|home|documents and settings|private|var|"
    r"tmp|mnt|media|volumes|net)/)",
    re.IGNORECASE,
)
_NAMED: dict[str, tuple[str, str, bool]] = {
    "/Author": ("person", "an author's name", True),
    "/Creator": ("software", "the app that made it", True),
    "/Producer": ("software", "the app that made the PDF", True),
    "/Title": ("other", "a title", True),
    "/Subject": ("other", "a subject", True),
    "/Keywords": ("other", "keywords", True),
    "/CreationDate": ("time", "when a part of it was made", True),
    "/ModDate": ("time", "when a part of it was changed", True),
    "/M": ("time", "when a part of it was changed", True),
    "/Subj": ("other", "the subject line of comments", True),
    "/NM": ("other", "an identifier on comments", False),
    "/RC": ("other", "a formatted copy of a comment's text", False),
    "/Desc": ("other", "the description of a file attached to it", True),
    "/CheckSum": ("other", "a fingerprint of a file attached to it", False),
    "/Name": ("person", "a name", True),
    "/ContactInfo": ("person", "contact details", True),
    "/Location": ("location", "a place", True),
}
_SIGNER: dict[str, tuple[str, str, bool]] = {
    "/Name": ("person", "the signer's name", True),
    "/ContactInfo": ("person", "the signer's contact details", True),
    "/Location": ("location", "where it was signed", True),
    "/Reason": ("other", "why it was signed", True),
    "/M": ("time", "when it was signed", True),
    "/Contents": ("person", "the signer's certificate", False),
    "/Cert": ("person", "the signer's certificate", False),
}
_TRAILER_KEYS = frozenset({"/Size", "/Prev", "/Root", "/Encrypt", "/Info", "/ID", "/XRefStm", "/Type", "/W",
                           "/Index", "/Filter", "/DecodeParms", "/Length"})  # fmt: skip
_CATALOG_KEYS = frozenset(
    {
        "/Type", "/Version", "/Extensions", "/Pages", "/PageLabels", "/Names", "/Dests", "/ViewerPreferences",
        "/PageLayout", "/PageMode", "/Outlines", "/Threads", "/OpenAction", "/AA", "/URI", "/AcroForm",
        "/Metadata", "/StructTreeRoot", "/MarkInfo", "/Lang", "/SpiderInfo", "/OutputIntents", "/PieceInfo",
        "/OCProperties", "/Perms", "/Legal", "/Requirements", "/Collection", "/NeedsRendering", "/DSS", "/AF",
        "/DPartRoot",
    }
)  # fmt: skip
_PAGE_KEYS = frozenset(
    {
        "/Type", "/Parent", "/Kids", "/Count", "/LastModified", "/Resources", "/MediaBox", "/CropBox",
        "/BleedBox", "/TrimBox", "/ArtBox", "/BoxColorInfo", "/Contents", "/Rotate", "/Group", "/Thumb", "/B",
        "/Dur", "/Trans", "/Annots", "/AA", "/Metadata", "/PieceInfo", "/StructParents", "/ID", "/PZ",
        "/SeparationInfo", "/Tabs", "/TemplateInstantiated", "/PresSteps", "/UserUnit", "/VP", "/AF",
        "/OutputIntents", "/DPart",
    }
)  # fmt: skip


@dataclass(frozen=True)
class Spot:
    """One place to remove: a key of a dictionary, or an item of an array, what it is, and its text."""

    holder: Dictionary | Stream | Array
    key: str | int
    found: Finding | None
    values: tuple[str, ...]
    delete: bool = True


def spots(pdf: pikepdf.Pdf) -> list[Spot]:
    """Every text value outside the allow-list, and every part that goes whole, with what it is."""
    out: list[Spot] = []
    seen: set[tuple[int, int]] = set()
    info = pdf.trailer.get("/Info")
    encrypt = pdf.trailer.get("/Encrypt")
    for skipped in (info, encrypt):
        if isinstance(skipped, (Dictionary, Stream)) and skipped.is_indirect:
            seen.add(skipped.objgen)
    stack: list[tuple[Dictionary | Stream, str, int]] = [(pdf.trailer, "trailer", False)]
    root = pdf.Root.objgen
    while stack:
        holder, role, quiet = stack.pop()
        if holder.is_indirect and holder.objgen == root:
            role = "catalog"
        out.extend(_examine(holder, role, quiet, stack, seen))
    for obj in pdf.objects:  # objects nothing refers to: still in the file's bytes
        if isinstance(obj, (Dictionary, Stream)) and obj.objgen not in seen:
            seen.add(obj.objgen)
            stack.append((obj, "", _READ))
            while stack:
                holder, role, quiet = stack.pop()
                out.extend(_examine(holder, role, quiet, stack, seen))
    return out


def _examine(
    holder: Dictionary | Stream,
    role: str,
    quiet: int,
    stack: list[tuple[Dictionary | Stream, str, int]],
    seen: set[tuple[int, int]],
) -> Iterator[Spot]:
    kind = _Kind(holder, role)
    known = {"trailer": _TRAILER_KEYS, "catalog": _CATALOG_KEYS}.get(role)
    if known is None and holder.get("/Type") in (Name.Page, Name.Pages):
        known = _PAGE_KEYS
    for key, value in holder.items():
        if role == "trailer" and key in ("/Info", "/ID", "/Encrypt"):
            continue  # read by bot.evidence.pdf_read; the result is written without them
        custom = known is not None and key not in known
        whole = _WHOLE_KEYS.get(key)
        calm = (
            _SILENT if quiet == _SILENT or key in _HANDLED else _VALUES if quiet or custom or whole else _READ
        )
        _push(value, key, calm, stack, seen)
        texts = tuple(_texts(value, 0))
        if quiet == _SILENT or key in _HANDLED:
            continue
        if quiet:
            yield Spot(holder, key, None, texts, delete=False)  # its holder goes whole: values only
        elif custom or whole is not None:
            shown = str(value) if isinstance(value, Name) else None
            label = whole or Finding("other", f"other hidden details ({key.lstrip('/')[:30]})")
            yield Spot(holder, key, label, tuple(text for text in (shown, *texts) if text))
        else:
            yield from _edges(holder, key, value)
            if texts and not _kept(kind, key, value):
                yield Spot(holder, key, _name(kind, key, texts[0]), texts)


def _push(
    value: object, key: str, quiet: int, stack: list[tuple[Dictionary | Stream, str, int]],
    seen: set[tuple[int, int]], depth: int = 0,
) -> None:  # fmt: skip
    """Queue the dictionaries a value holds (directly, or in arrays), each indirect one once.

    Why an indirect one is read on its own merits even under a part removed whole: it may be shared (a
    bookmark's page), and what it holds must be read wherever it is reached from first.
    """
    if depth > 50:
        return
    if isinstance(value, (Dictionary, Stream, Array)) and value.is_indirect:
        if value.objgen in seen:
            return
        seen.add(value.objgen)
        quiet = _READ
    if isinstance(value, (Dictionary, Stream)):
        stack.append((value, key, quiet))
    elif isinstance(value, Array):
        for item in value:
            _push(item, key, quiet, stack, seen, depth + 1)


class _Kind:
    """What a dictionary is, as far as the allow-list cares."""

    def __init__(self, item: Dictionary | Stream, role: str) -> None:
        subtype = item.get("/Subtype")
        kind = item.get("/Type")
        self.annotation = kind == Name.Annot or ("/Rect" in item and isinstance(subtype, Name))
        self.comment = self.annotation and subtype != Name.Widget
        self.signature = is_signature(item)
        self.embedded = "/EF" in item
        self.url = item.get("/FS") == Name.URL
        self.outline = "/Title" in item and "/Parent" in item and not self.annotation
        self.layer = kind == Name.OCG
        self.label = (
            kind == Name.PageLabel or role == "/Nums" or "/St" in item or item.get("/S") in _LABEL_STYLES
        )
        self.element = kind == Name.StructElem or (isinstance(item.get("/S"), Name) and "/P" in item)
        self.number_format = kind == Name.NumberFormat or ("/U" in item and "/C" in item)


def is_signature(item: Dictionary | Stream) -> bool:
    """A signature or time-stamp dictionary (its /Contents holds the signer's certificate)."""
    if item.get("/Type") in (Name.Sig, Name.DocTimeStamp):
        return True
    return "/ByteRange" in item and "/Contents" in item


def local(text: str) -> bool:
    """Whether a link or file name points at a file on a computer rather than the web."""
    return bool(_LOCAL.match(text))


def _kept(kind: _Kind, key: str, value: object) -> bool:
    if kind.signature:
        return False
    if kind.comment and key in ("/T", "/M", "/CreationDate"):
        return True  # read and removed by bot.evidence.pdf_read and bot.evidence.pdf
    if key in _KEPT:
        return True
    text = str(value) if isinstance(value, pikepdf.String) else ""
    rules = {
        "/Contents": kind.annotation,
        "/T": not kind.comment,
        "/RC": not kind.annotation,
        "/Title": kind.outline,
        "/Name": kind.layer,
        "/P": kind.label,
        "/ID": kind.element,
        "/URI": not local(text),
        "/Base": not local(text),
    }
    if key in rules:
        return rules[key]
    if key in _FILE_KEYS:
        return kind.embedded or (kind.url and not local(text))
    return key in _NUMBER_FORMAT and kind.number_format


def _name(kind: _Kind, key: str, text: str) -> Finding:
    if not kind.signature and not kind.embedded and key in (*_FILE_KEYS, "/URI", "/Base"):
        return LOCAL_FILE
    table = _SIGNER if kind.signature else _NAMED
    what, label, show = table.get(key, ("other", f"other hidden details ({key.lstrip('/')[:30]})", False))
    if what == "time":
        return finding(what, label, when(text))
    return finding(what, label, text if show else None)


def _edges(holder: Dictionary | Stream, key: str, value: object) -> Iterator[Spot]:
    """A reference to a part that goes whole: the reference is the place removed."""
    if isinstance(value, Array):
        items = list(value)
        for index, item in enumerate(items):
            found = _whole(item, key)
            if found is not None:
                if key == "/Names" and index % 2 == 1:  # a name tree's pair goes together
                    yield Spot(value, index - 1, None, ())
                yield Spot(value, index, found, ())
        return
    found = _whole(value, key)
    if found is not None:
        yield Spot(holder, key, found, ())


def _whole(value: object, key: str) -> Finding | None:
    if not isinstance(value, (Dictionary, Stream)):
        return None
    if is_signature(value):
        return SIGNATURE
    action = value.get("/S")
    if action in _FILE_ACTIONS and any(name in value for name in (*_FILE_KEYS, "/Win")):
        return LOCAL_FILE
    if action == Name.URI and isinstance(value.get("/URI"), pikepdf.String) and local(str(value.URI)):
        return LOCAL_FILE
    spec = value.get("/Type") == Name.Filespec or key in ("/F", "/FS")
    if spec and "/EF" not in value and any(name in value for name in _FILE_KEYS):
        address = value.get("/F")
        if value.get("/FS") != Name.URL or (isinstance(address, pikepdf.String) and local(str(address))):
            return LOCAL_FILE
    return None


def _texts(value: object, depth: int) -> Iterator[str]:
    """The text strings a value holds, itself or in arrays (not in dictionaries: those are visited).

    Why an indexed colour space's table is skipped: it is the picture's palette, bytes and not text.
    """
    if depth > 50:
        return
    if isinstance(value, pikepdf.String):
        text = _readable(value)
        if text:
            yield text
    elif isinstance(value, Array):
        items = list(value)
        palette = bool(items) and items[0] in (Name.Indexed, Name.I)
        for index, item in enumerate(items):
            if not (palette and index == 3):
                yield from _texts(item, depth + 1)


def _readable(value: pikepdf.String) -> str:
    """The string as text, or "" when it is binary (a certificate, a checksum): there is nothing to show.

    Why from the raw bytes: pikepdf turns any bytes into characters, so binary reads as mojibake text.
    """
    raw = bytes(value)
    if not raw.startswith((b"\xfe\xff", b"\xff\xfe", b"\xef\xbb\xbf")):
        control = sum((byte < 0x20 and byte not in (9, 10, 13)) or byte == 0x7F for byte in raw)
        high = sum(byte >= 0x80 for byte in raw)
        if control or (len(raw) >= 8 and high > 0.3 * len(raw)):
            return ""
    return str(value).strip()


def remove(pdf: pikepdf.Pdf) -> None:
    """Remove every place `spots` finds: array items last first, then dictionary keys."""
    places = spots(pdf)
    items: dict[int, tuple[Array, set[int]]] = {}
    for spot in places:
        if spot.delete and isinstance(spot.holder, Array) and isinstance(spot.key, int):
            items.setdefault(id(spot.holder), (spot.holder, set()))[1].add(spot.key)
    for array, indexes in items.values():
        for index in sorted(indexes, reverse=True):
            del array[index]
    for spot in places:
        if (
            spot.delete
            and isinstance(spot.key, str)
            and not isinstance(spot.holder, Array)
            and spot.key in spot.holder
        ):
            del spot.holder[spot.key]
