"""Finding the parts of an open PDF that can hold identifying details, generically, wherever they sit.

Why generic: a PDF may put a /Metadata stream, an annotation or a file attachment on any object, direct
or indirect. Reading only the places a cleaner rewrites would make the read-out of the result blind to
the places it forgot; so every object is visited, and every dictionary inside it.
"""

from __future__ import annotations

from collections.abc import Iterator

import pikepdf
from pikepdf import Array, Dictionary, Name, Stream

# Keys that never lead to identifying details and whose targets are visited anyway as indirect objects.
_PICTURE_FILTERS = {Name.DCTDecode, Name.JPXDecode}
_EMBEDDED_KEYS = ("/F", "/UF", "/DOS", "/Mac", "/Unix")
ANNOTATION_DATES = ("/M", "/CreationDate")


def dictionaries(pdf: pikepdf.Pdf) -> Iterator[Dictionary | Stream]:
    """Every dictionary and stream in the file, indirect or held directly inside another, once each."""
    for obj in pdf.objects:
        stack: list[object] = [obj]
        while stack:
            item = stack.pop()
            if isinstance(item, (Dictionary, Stream)):
                yield item
                stack.extend(value for value in item.values() if _direct_container(value))
            elif isinstance(item, Array):
                stack.extend(value for value in item if _direct_container(value))


def _direct_container(value: object) -> bool:
    return isinstance(value, (Dictionary, Array)) and not value.is_indirect


def is_annotation(item: Dictionary | Stream) -> bool:
    """An annotation other than a form field's widget: its /T is the name of whoever wrote it.

    Why widgets are kept: a form field's /T is the field's name ("collar_number"), part of the form.
    """
    subtype = item.get("/Subtype")
    annotation = item.get("/Type") == Name.Annot or ("/Rect" in item and isinstance(subtype, Name))
    return annotation and isinstance(subtype, Name) and subtype != Name.Widget


def filters(stream: Stream) -> list[Name]:
    """A stream's filters, in order."""
    value = stream.get("/Filter")
    if isinstance(value, Name):
        return [value]
    if isinstance(value, Array):
        return [item for item in value if isinstance(item, Name)]
    return []


def picture_filter(stream: Stream) -> Name | None:
    """DCTDecode or JPXDecode when the stream is an image stored as a JPEG or JPEG 2000 file."""
    if stream.get("/Subtype") != Name.Image:
        return None
    chain = filters(stream)
    return chain[-1] if chain and chain[-1] in _PICTURE_FILTERS else None


def picture_bytes(pdf: pikepdf.Pdf, stream: Stream) -> bytes:
    """The picture file an image stream holds (a JPEG, a JPEG 2000), with any outer filters undone."""
    chain = filters(stream)
    if len(chain) == 1:
        return stream.read_raw_bytes()
    # Why a scratch document: a stream made in `pdf` stays among its objects until it is saved, where
    # the search for files hidden in streams would meet it as a second copy of the picture.
    with pikepdf.new() as scratch:
        outer = Stream(scratch, stream.read_raw_bytes())
        outer.Filter = Array(chain[:-1])
        parms = stream.get("/DecodeParms")
        if isinstance(parms, Array):
            outer.DecodeParms = pikepdf.Object.parse(Array(list(parms)[:-1]).unparse(resolved=True))
        return outer.read_bytes()


def embedded_streams(spec: Dictionary | Stream) -> Iterator[tuple[str, Stream]]:
    """The embedded file streams a file specification holds (/EF), by key."""
    holder = spec.get("/EF")
    if not isinstance(holder, Dictionary):
        return
    for key in _EMBEDDED_KEYS:
        stream = holder.get(key)
        if isinstance(stream, Stream):
            yield key, stream


def embedded_name(spec: Dictionary | Stream) -> str:
    """The name a file specification gives its file (the Unicode one first), or "" when none."""
    for key in ("/UF", "/F"):
        value = spec.get(key)
        if isinstance(value, pikepdf.String):
            return str(value)
    return ""


def has_script(item: Dictionary | Stream) -> bool:
    """An action dictionary holding JavaScript."""
    return "/JS" in item or item.get("/S") == Name.JavaScript


def has_actions(item: Dictionary | Stream) -> bool:
    """A dictionary with actions that run by themselves: on opening, or on page and field events."""
    return "/AA" in item or "/OpenAction" in item


def script_tree(pdf: pikepdf.Pdf) -> bool:
    """Whether the document holds named scripts (the /Names /JavaScript tree)."""
    names = pdf.Root.get("/Names")
    return isinstance(names, Dictionary) and "/JavaScript" in names
