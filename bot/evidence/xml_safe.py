"""Reading XML from a reporter's file without letting the file steer the reader, and writing it back.

Why / threat: Office and ODF parts are XML written by whoever made the file. A DOCTYPE can declare
entities that expand a few bytes into gigabytes (the "billion laughs"), or point at files and addresses
outside the document (XXE). Candour's documents never need one, so a part carrying a DOCTYPE is refused,
and the parser itself is told never to load a DTD, resolve an entity or touch the network, and to keep
libxml2's limits on depth and text size (huge_tree=False). A part larger than MAX_XML_BYTES is refused
before parsing.
"""

from __future__ import annotations

from lxml import etree

from bot.evidence import limits
from bot.evidence.model import DAMAGED, TOO_COMPLEX, EvidenceError

_XML_HEADS = (b"<?xml", b"\xef\xbb\xbf<", b"\xff\xfe<\x00", b"\xfe\xff\x00<")


def _parser() -> etree.XMLParser:
    return etree.XMLParser(
        resolve_entities=False,
        no_network=True,
        load_dtd=False,
        dtd_validation=False,
        huge_tree=False,
        remove_comments=False,
        remove_pis=False,
    )


def looks_like_xml(data: bytes) -> bool:
    """Whether a part's bytes begin the way an XML document does."""
    return data.lstrip(b" \t\r\n").startswith(_XML_HEADS)


def parse(data: bytes) -> etree._ElementTree:
    """A part parsed safely; EvidenceError when it is too large, carries a DOCTYPE, or is not XML.

    Why / threat: see the module's note; a DOCTYPE is refused even when lxml would not act on it, so
    no later reader of the cleaned file (Word, LibreOffice) is handed one either.
    """
    if len(data) > limits.MAX_XML_BYTES:
        raise EvidenceError(TOO_COMPLEX)
    try:
        tree = etree.fromstring(data, _parser()).getroottree()
    except (etree.XMLSyntaxError, ValueError) as error:
        raise EvidenceError(DAMAGED) from error
    info = tree.docinfo
    if info.doctype or info.internalDTD is not None or info.externalDTD is not None:
        raise EvidenceError(DAMAGED)
    return tree


def serialise(tree: etree._ElementTree) -> bytes:
    """A parsed part written back as UTF-8 under the declaration Office and LibreOffice write themselves."""
    standalone = tree.docinfo.standalone
    flag = "" if standalone is None else f' standalone="{"yes" if standalone else "no"}"'
    head = f'<?xml version="1.0" encoding="UTF-8"{flag}?>\n'.encode()
    return head + etree.tostring(tree.getroot(), encoding="UTF-8")


def local(name: object) -> str:
    """An element's or attribute's name without its namespace ('' for comments and processing instructions)."""
    if not isinstance(name, str):
        return ""
    return name.rpartition("}")[2]


def namespace(name: object) -> str:
    """The namespace of a qualified name, or ''."""
    if not isinstance(name, str) or not name.startswith("{"):
        return ""
    return name[1:].partition("}")[0]


def text_of(element: etree._Element) -> str:
    """All the text inside an element, stripped."""
    return "".join(element.itertext()).strip()


def remove(element: etree._Element) -> None:
    """Take an element out of its tree, keeping the text that followed it."""
    parent = element.getparent()
    if parent is None:
        return
    tail = element.tail
    previous = element.getprevious()
    if tail:
        if previous is not None:
            previous.tail = (previous.tail or "") + tail
        else:
            parent.text = (parent.text or "") + tail
    parent.remove(element)
