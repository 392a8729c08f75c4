"""The generic read-out of package XML (Office and OpenDocument), which does not rely on the cleaner's model.

Why / threat (promise 1): the format modules name the places they know a name, a date or a path hides
(core properties, comment authors, printer settings). A part they do not model, or a new attribute a
program starts writing, would pass a read-out built from the same model. So every XML part is also
read by rules that know nothing of what the part means:

- in a part that holds no body content (properties, settings, people lists, add-in data), any attribute
  or element text that is not a structural value (a number, a true/false, an identifier token, a
  namespace address) is a finding, and cleaning removes the element that holds it;
- in any part, an attribute whose local name is one programs use for a person or a time (author,
  initials, date, userId, refreshedBy, ed, creator...) in any namespace is a finding unless it holds
  the neutral value, and cleaning neutralises or removes it;
- XML comments and processing instructions, in any part, are findings and removed.

Threat it cannot close: a single word of plain letters (a login name such as "jsmith") looks like an
identifier token, so in a non-body part it passes unless it sits in an attribute named for a person.
"""

from __future__ import annotations

import re

from lxml import etree

from bot.evidence import xml_safe
from bot.evidence.packages import INITIALS, NAME, Report

UNKNOWN = "a detail Candour does not recognise"
NOTE = "a note hidden in the file's code"

_STRUCTURAL = re.compile(
    r"""(?x)^(?:
      [-+]?(?:\d+(?:[.,]\d*)?|[.,]\d+)(?:[eE][-+]?\d+)?(?:%|pt|cm|mm|in|px|pc|em)?  # a number or a size
    | \d+(?:\.\d+)+                                   # a version: 16.0000, 1.0.0.0
    | [A-Za-z_][A-Za-z0-9_]{0,63}(?:[-.:#][A-Za-z0-9_]+){0,6}  # an enumeration, a qualified name, a tag
    | \{?[0-9A-Fa-f]+(?:-[0-9A-Fa-f]+)*\}?            # a hex number or a GUID
    | [^\w\s]{1,4}                                    # a separator: "." or ","
    | (?:https?://(?:schemas\.(?:openxmlformats\.org|microsoft\.com)|purl\.(?:oclc\.)?org|www\.w3\.org|
         openoffice\.org|www\.openoffice\.org|schemas\.libreoffice\.org)/[\w./#-]*|urn:[\w:.-]+)
    )$"""
)
# Attributes that hold a list of namespace prefixes (markup compatibility): each word a token.
_PREFIX_LISTS = {"Ignorable", "ProcessContent", "MustUnderstand", "PreserveElements", "PreserveAttributes"}
# Values of more than one word that programs write in settings for everyone (Word's maths font).
_COMMON = {("mathFont", "val"): {"Cambria Math"}}
# Elements whose text a program writes from a fixed list, in the user's language (PowerPoint's slide size).
_WORDED = {"PresentationFormat"}

# An element's value attribute, which its schema requires: the element goes rather than the attribute.
_VALUES = {"val", "value"}
# Attribute names programs use for a person or a time, in whatever namespace they are written.
PERSON_ATTRIBUTES = {
    "author",
    "initials",
    "userId",
    "userName",
    "providerId",
    "refreshedBy",
    "ed",
    "creator",
    "lastModifiedBy",
    "modifiedBy",
    "createdBy",
    "savedBy",
    "initial-creator",
    "printed-by",
}
TIME_ATTRIBUTES = {
    "date",
    "dateUtc",
    "dT",
    "dt",
    "created",
    "modified",
    "dateTime",
    "refreshedDate",
    "refreshedDateIso",
    "lastEdited",
    "creation-date",
    "print-date",
}
_NEUTRAL = {NAME, INITIALS, "None", "AD", "Windows Live", "PeoplePicker", "1970-01-01T00:00:00"}
_NAMED = etree.XPath(
    "//@*[" + " or ".join(f"local-name() = '{n}'" for n in sorted(PERSON_ATTRIBUTES | TIME_ATTRIBUTES)) + "]"
)
_NOTES = etree.XPath("//comment() | //processing-instruction()")


def structural(value: str, element: str = "", attribute: str = "") -> bool:
    """Whether a value is one a program writes for structure, never one a person typed or is named by."""
    value = value.strip()
    if not value or _STRUCTURAL.match(value):
        return True
    if attribute in _PREFIX_LISTS:
        return all(_STRUCTURAL.match(word) for word in value.split())
    if not attribute and element in _WORDED:
        return len(value) <= 64 and not any(mark in value for mark in "@/\\")
    return value in _COMMON.get((element, attribute), ())


def notes(tree: etree._ElementTree, report: Report, clean: bool) -> bool:
    """XML comments and processing instructions anywhere in a part (the XML declaration is not one)."""
    root = tree.getroot()
    found = [*root.itersiblings(preceding=True), *_NOTES(root), *root.itersiblings()]
    found = [node for node in found if not isinstance(node.tag, str)]
    for node in found:
        text = node.text or ""
        if not isinstance(node, etree._Comment):
            text = f"{node.target} {text}".strip()
        report.add("other", NOTE, text.strip() or None, once=True)
        if clean and node.getparent() is not None:
            xml_safe.remove(node)
    # A comment beside the root element is left out when the part is written again (serialise writes
    # only the root), so the part counts as changed.
    return clean and bool(found)


def named_attributes(tree: etree._ElementTree, report: Report, clean: bool) -> bool:
    """Person and time attributes anywhere in a part, in any namespace; neutralised or removed when cleaning."""
    changed = False
    for hit in _NAMED(tree.getroot()):
        value = str(hit).strip()
        name = xml_safe.local(hit.attrname)
        element = hit.getparent()
        if not value or value in _NEUTRAL:
            continue
        if value in report.values:
            pass  # the model named this very place; counting it twice would refuse a body copy
        elif name in TIME_ATTRIBUTES:
            report.add("time", "when comments or changes were made", None, once=True)
            report.again(value)
        else:
            report.add("person", "a name on comments or changes", value)
        if clean:
            if name in TIME_ATTRIBUTES or name in ("ed", "refreshedBy"):
                del element.attrib[hit.attrname]
            else:
                element.set(hit.attrname, INITIALS if name == "initials" else NAME)
            changed = True
    return changed


def strict(tree: etree._ElementTree, report: Report, clean: bool) -> bool:
    """A part with no body content: any value that is not structural is a finding. When cleaning, an
    unknown attribute is removed, and an element whose text or value attribute it is goes whole."""
    root = tree.getroot()
    doomed: list[etree._Element] = []
    changed = False
    for element in root.iter(etree.Element):
        tag = xml_safe.local(element.tag)
        for attribute, value in list(element.attrib.items()):
            if structural(value, tag, xml_safe.local(attribute)):
                continue
            _unknown(report, value)
            if clean and (element is root or xml_safe.local(attribute) not in _VALUES):
                del element.attrib[attribute]
                changed = True
            elif clean:
                doomed.append(element)
        if not structural(element.text or "", tag):
            _unknown(report, element.text or "")
            if clean and element is root:
                element.text = None
                changed = True
            elif clean:
                doomed.append(element)
        if element is not root and not structural(element.tail or ""):
            _unknown(report, element.tail or "")
            if clean:
                element.tail = None
                changed = True
    for element in doomed:
        if element.getparent() is not None:
            xml_safe.remove(element)
            changed = True
    return changed


def _unknown(report: Report, value: str) -> None:
    """A value named unless the model already named it.

    Why not count it again: the model read this same place, and the byte search allows a document's body
    as many copies of a value as the original had outside the places inspected; a place counted twice
    would refuse a letter that is signed with its author's name.
    """
    value = value.strip()
    if value not in report.values:
        report.add("other", UNKNOWN, value)
