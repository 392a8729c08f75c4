"""Reading out everything identifying an open PDF carries: the generic read-out, also run on the result."""

from __future__ import annotations

import pikepdf
from pikepdf import Dictionary, Stream

from bot.evidence import names, pdf_hidden, pdf_icc, pdf_parts, pdf_strings
from bot.evidence.model import Found, Inspection, Nested, finding, when
from bot.evidence.pdf_open import static_id
from bot.evidence.pdf_xmp import add_xmp

_INFO = {
    "/Author": ("person", "the author's name"),
    "/Creator": ("software", "the app that made it"),
    "/Producer": ("software", "the app that made the PDF"),
    "/CreationDate": ("time", "when it was made"),
    "/ModDate": ("time", "when it was last changed"),
    "/Title": ("other", "the document's title"),
    "/Subject": ("other", "the document's subject"),
    "/Keywords": ("other", "keywords"),
}
_PARAM_DATES = ("/CreationDate", "/ModDate")


def read(pdf: pikepdf.Pdf, nested: Nested) -> Inspection:
    """Every identifying detail pikepdf can read out of the open PDF."""
    found = Found()
    extra = Inspection()
    _document_info(pdf, found)
    _identifier(pdf, found)
    if pdf_parts.script_tree(pdf):
        found.add("other", "a script inside it")
    for item in pdf_parts.dictionaries(pdf):
        _metadata(item, pdf, found)
        _private(item, found)
        _annotation(item, found)
        if pdf_parts.has_script(item):
            found.add("other", "a script inside it")
        if pdf_parts.has_actions(item):
            found.add("other", "actions that run by themselves when it is opened")
        if "/EF" in item:
            extra += _embedded(item, nested)
        if isinstance(item, Stream) and pdf_parts.picture_filter(item) is not None:
            found.nested(nested.inspect(pdf_parts.picture_bytes(pdf, item)), "in a picture inside: ")
    for spot in pdf_strings.spots(pdf):
        if spot.found is not None:
            found.nested(Inspection((spot.found,), ()), "")
        for value in spot.values:
            found.value(value)
    for hidden in pdf_hidden.stream_files(pdf):
        found.nested(nested.inspect(hidden.content), "in a file inside: ")
    pdf_icc.read(pdf, found)
    for picture in pdf_hidden.inline_pictures(pdf):
        found.nested(nested.inspect(picture), "in a picture inside: ")
    return found.result() + extra


def _text(value: object) -> str | None:
    return str(value) if isinstance(value, pikepdf.String) else None


def _document_info(pdf: pikepdf.Pdf, found: Found) -> None:
    info = pdf.trailer.get("/Info")
    if not isinstance(info, Dictionary):
        return
    for key, entry in info.items():
        text = _text(entry)
        if text is None or not text.strip():
            continue
        kind, what = _INFO.get(key, ("other", "other document details"))
        if kind == "time":
            found.add(kind, what, when(text))
            found.value(text)
        elif key in _INFO:
            found.add(kind, what, text)
        else:
            found.add(kind, f"{what} ({key.lstrip('/')[:30]})", text, show=False)


def _identifier(pdf: pikepdf.Pdf, found: Found) -> None:
    """The trailer /ID, made on the computer that first saved the file, links copies of it together."""
    ids = pdf.trailer.get("/ID")
    if not isinstance(ids, pikepdf.Array):
        return
    values = [bytes(value) for value in ids if isinstance(value, pikepdf.String)]
    if any(value and value != static_id() for value in values):
        found.add("other", "an identifier that links it to the copy it came from")
        for value in values:
            found.value(value.hex())
            found.value(value.hex().upper())


def _metadata(item: Dictionary | Stream, pdf: pikepdf.Pdf, found: Found) -> None:
    stream = item.get("/Metadata")
    if stream is None:
        return
    packet = stream.read_bytes() if isinstance(stream, Stream) else b""
    where = "" if item.objgen == pdf.Root.objgen else " in a part of it"
    add_xmp(found, packet, where)


def _private(item: Dictionary | Stream, found: Found) -> None:
    if "/PieceInfo" in item:
        found.add("other", "private data saved by the app that made it")
        _strings(item.get("/PieceInfo"), found)
    if "/LastModified" in item:
        text = _text(item.get("/LastModified"))
        found.add("time", "when it was last changed", when(text) if text else None)
        found.value(text)
    if "/SpiderInfo" in item:
        found.add("other", "the web addresses it was saved from")
        _strings(item.get("/SpiderInfo"), found)


def _strings(value: object, found: Found, depth: int = 0) -> None:
    """Record the text values inside an application's private data, for the byte search."""
    if depth > 20:
        return
    if isinstance(value, pikepdf.String):
        found.value(str(value))
    elif isinstance(value, (Dictionary, Stream)):
        for _, entry in value.items():
            _strings(entry, found, depth + 1)
    elif isinstance(value, pikepdf.Array):
        for element in value:
            _strings(element, found, depth + 1)


def _annotation(item: Dictionary | Stream, found: Found) -> None:
    if not pdf_parts.is_annotation(item):
        return
    author = _text(item.get("/T"))
    if author is not None and author.strip():
        found.add("person", "names on comments or highlights", author)
    for key in pdf_parts.ANNOTATION_DATES:
        text = _text(item.get(key))
        if text is not None and text.strip():
            found.add("time", "when comments were made", when(text))
            found.value(text)


def _embedded(spec: Dictionary | Stream, nested: Nested) -> Inspection:
    """An attached file: what it carries (through its own format), its name, and the dates stored with it.

    Only an attachment that carries something is named: one that carries nothing is kept as it is, and
    one of a type Candour cannot check is removed by `clean`, which says so.
    """
    label = pdf_parts.embedded_name(spec)
    inner = Found()
    seen: set[tuple[int, int]] = set()
    for _, stream in pdf_parts.embedded_streams(spec):
        if stream.objgen in seen:
            continue
        seen.add(stream.objgen)
        content = stream.read_bytes()
        inner.nested(nested.inspect(content))
        for finding_ in names.findings(label, nested.media_type(content)):
            inner.nested(Inspection((finding_,), ()))
        params = stream.get("/Params")
        if isinstance(params, Dictionary):
            for key in _PARAM_DATES:
                text = _text(params.get(key))
                if text is not None and text.strip():
                    inner.add("time", "when a file attached to it was made", when(text))
                    inner.value(text)
    result = inner.result()
    if not result.findings:
        return Inspection()
    return Inspection((finding("other", "a file attached to it", label or None),), ()) + result
