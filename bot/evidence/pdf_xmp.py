"""XMP packets inside a PDF: what kinds of detail they name, and every value in them for the byte search.

XMP is free-form XML that any application may extend, so it is reported as a whole, with the kinds of
detail it visibly carries; every text and attribute value in it is searched for after cleaning.
"""

from __future__ import annotations

import re

from lxml import etree

from bot.evidence import limits
from bot.evidence.model import Found

_HINTS: tuple[tuple[str, str, re.Pattern[bytes]], ...] = (
    (
        "location",
        "a place (in XMP details)",
        re.compile(rb"GPSLatitude|GPSLongitude|photoshop:City|Location"),
    ),
    (
        "person",
        "names of people (in XMP details)",
        re.compile(rb"dc:creator|xmpRights:Owner|CreatorContactInfo"),
    ),
    (
        "time",
        "dates and times (in XMP details)",
        re.compile(rb"CreateDate|DateTimeOriginal|ModifyDate|DateCreated"),
    ),
    ("device", "the device details (in XMP details)", re.compile(rb"tiff:Make|tiff:Model|SerialNumber")),
    ("software", "the app used (in XMP details)", re.compile(rb"CreatorTool|pdf:Producer|softwareAgent")),
)
# Structural values every XMP packet holds; searching for them would match the PDF's own syntax.
_STRUCTURAL = {"x-default", "Alt", "Bag", "Seq", "Resource"}


def _parser() -> etree.XMLParser:
    return etree.XMLParser(
        resolve_entities=False, no_network=True, load_dtd=False, huge_tree=False, remove_comments=True
    )


def xmp_values(packet: bytes) -> list[str]:
    """Every text and attribute value in an XMP packet (none if it cannot be read safely).

    Why / threat: a DOCTYPE could declare entities that expand without bound; such a packet is not read,
    only reported and removed.
    """
    if b"<!DOCTYPE" in packet or b"<!ENTITY" in packet:
        return []
    start = packet.find(b"<")
    try:
        root = etree.fromstring(packet[start:] if start >= 0 else packet, _parser())
    except etree.XMLSyntaxError:
        return []
    values: list[str] = []
    for element in root.iter():
        if isinstance(element.tag, str):
            values.extend(value for name, value in element.attrib.items() if "about" not in name)
            if element.text and element.text.strip():
                values.append(element.text.strip())
    return [value for value in values if value not in _STRUCTURAL]


def add_xmp(found: Found, packet: bytes, where: str) -> None:
    """Report an XMP packet (`where` says what holds it) and record its values for the byte search."""
    data = packet[: limits.MAX_XML_BYTES]
    found.add("other", f"hidden XMP details{where} (can hold names, places, history)"[:80])
    for kind, summary, pattern in _HINTS:
        if pattern.search(data):
            found.add(kind, summary)
    for value in xmp_values(data):
        found.value(value)
