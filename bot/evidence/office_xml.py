"""Office documents' XML parts, one at a time: what each gives away, and how cleaning removes it.

The cleaner's model (core and extended properties, comment and change authors, people lists, session
ids, folder paths, legacy note prefixes, add-in settings) runs first; then the generic read-out of
bot.evidence.office_generic, which does not depend on that model, runs over every part.
"""

from __future__ import annotations

import re

from lxml import etree

from bot.evidence import office_generic, packages, xml_safe
from bot.evidence.model import when
from bot.evidence.packages import INITIALS, NAME, Entry

# Transitional and Strict (ISO 29500) spellings of the relationship and WordprocessingML namespaces.
R_NS = {
    "http://schemas.openxmlformats.org/officeDocument/2006/relationships",
    "http://purl.oclc.org/ooxml/officeDocument/relationships",
}
W_NS = {
    "http://schemas.openxmlformats.org/wordprocessingml/2006/main",
    "http://purl.oclc.org/ooxml/wordprocessingml/main",
}

_CORE = {
    "creator": ("person", "the author's name"),
    "lastModifiedBy": ("person", "who last saved it"),
    "title": ("other", "the title"),
    "subject": ("other", "the subject"),
    "description": ("other", "the description"),
    "keywords": ("other", "the keywords"),
    "category": ("other", "the category"),
    "contentStatus": ("other", "the status"),
    "identifier": ("other", "a document identifier"),
    "created": ("time", "when it was created"),
    "modified": ("time", "when it was last saved"),
    "lastPrinted": ("time", "when it was last printed"),
    "revision": ("other", "how many times it was saved"),
    "language": ("other", "the language setting"),
    "version": ("other", "the version"),
}
_APP = {
    "Company": ("other", "the organisation's name"),
    "Manager": ("person", "a manager's name"),
    "Template": ("other", "the template it was made from"),
    "HyperlinkBase": ("other", "a base address for its links"),
    "TotalTime": ("time", "how many minutes it was edited"),
    "Application": ("software", "the program that made it"),
    "AppVersion": ("software", "the program's version"),
}
_PERSON_ATTRS = {"author", "initials", "userId", "userName"}
_PERSON_WHAT = {
    "initials": "initials on comments or changes",
    "userId": "an account on comments or changes",
    "userName": "a user's name",
}
_NAMED_ELEMENTS = {"cmAuthor", "author", "person", "userInfo"}  # where name/displayName is a person
_DATE_ATTRS = {"date", "dateUtc", "dT", "dt", "created", "modified", "dateTime"}
_ISO = re.compile(r"^\d{4}-\d{2}-\d{2}T")
# Parts whose element text is the document itself (the reporter's words): only attributes are read there.
_META_TEXT = re.compile(
    r"^(docprops/|[a-z]+/(settings|websettings|workbook|presprops)\.xml$|xl/externallinks/|ppt/tags/)"
)
_NEUTRAL = {"author": NAME, "initials": INITIALS, "userId": NAME, "userName": NAME, "providerId": "None"}
# Parts that hold no body content: read strictly by office_generic.strict.
META_PART = re.compile(
    r"^(docprops/|customxml/|[a-z]+/(settings|websettings|presprops|viewprops|people|authors|commentauthors"
    r"|commentsextended|commentsids|commentsextensible)\.xml$|xl/persons/|[a-z]+/webextensions/"
    r"|ppt/revisioninfo\.xml$|ppt/tags/)"
)
_LEGACY_NOTES = re.compile(r"^xl/comments[^/]*\.xml$")
_WEB_EXTENSION = re.compile(r"^[a-z]+/webextensions/webextension[^/]*\.xml$")
_PARTS_LISTS = {"TitlesOfParts", "HeadingPairs"}
# Parts removed whole, with what they hold.
_REMOVED: tuple[tuple[re.Pattern[str], str, str], ...] = (
    (re.compile(r"^docprops/custom\.xml$"), "", ""),  # its properties are reported one by one
    (re.compile(r"^word/people\.xml$"), "", ""),  # its names and accounts are reported one by one
    (re.compile(r"(^|/)printersettings/"), "device", "printer settings (can name the printer)"),
    (re.compile(r"^customxml/"), "other", "custom data parts (can hold names or ids)"),
    (re.compile(r"^_xmlsignatures/"), "person", "a digital signature (can name who signed)"),
    (re.compile(r"^ppt/revisioninfo\.xml$"), "other", "editing-session identifiers"),
    (re.compile(r"^(ppt/changesinfos|xl/revisions)/"), "person", "a record of changes and who made them"),
)
_FONT = re.compile(r"(^|/)fonts?/|\.(odttf|fntdata)$")
_MACROS = re.compile(r"vbaproject\.bin$|vbaprojectsignature\w*\.bin$")
_IDENTIFIER_ELEMENTS = {
    "rsids": "editing-session identifiers",
    "docVars": "document variables (can hold names or ids)",
    "docId": "a document identifier",
    "revisionPtr": "identifiers from online storage",
}
# Elements with an attribute that could name someone, date something, or hold a path (which needs a
# colon, a slash or a backslash); everything else in a part is skipped without a look.
_CANDIDATES = etree.XPath(
    "//*[@*[starts-with(local-name(), 'rsid') or local-name() = 'author' or local-name() = 'initials' "
    "or local-name() = 'userId' or local-name() = 'userName' or local-name() = 'providerId' "
    "or local-name() = 'name' or local-name() = 'displayName' or local-name() = 'date' "
    "or local-name() = 'dateUtc' or local-name() = 'dT' or local-name() = 'dt' or local-name() = 'created' "
    "or local-name() = 'modified' or local-name() = 'dateTime' "
    "or contains(., ':') or contains(., '/') or contains(., '\\')]]"
)


_CONNECTIONS = "xl/connections.xml"
# Where a part's role, told by its relationship type or its content type, would put it in a file Office
# saved: a part is read by the rules of that place, wherever it is stored.
_PLACE_BY_TYPE = {
    "core-properties": "docprops/core.xml",
    "extended-properties": "docprops/app.xml",
    "custom-properties": "docprops/custom.xml",
    "thumbnail": "docprops/thumbnail",
    "customxml": "customxml/",
    "customxmlprops": "customxml/",
    "connections": _CONNECTIONS,
    "people": "word/people.xml",
}
_OFFICE = "application/vnd.openxmlformats-officedocument."
_PLACE_BY_CONTENT_TYPE = {
    "application/vnd.openxmlformats-package.core-properties+xml": "docprops/core.xml",
    f"{_OFFICE}extended-properties+xml": "docprops/app.xml",
    f"{_OFFICE}custom-properties+xml": "docprops/custom.xml",
    f"{_OFFICE}customxmlproperties+xml": "customxml/",
    f"{_OFFICE}spreadsheetml.connections+xml": _CONNECTIONS,
}
CONTENT_TYPES, ROOT_RELS = "[content_types].xml", "_rels/.rels"


def places(package: packages.Package) -> dict[str, str]:
    """Each part whose role its relationship or content type tells, mapped to the name of its place.

    Why / threat: System.IO.Packaging stores the core properties at package/services/metadata/
    core-properties/<guid>.psmdcp, and any writer may store the properties or a custom XML part under
    any name; a cleaner that knew them by path would keep every name in them.
    """
    found: dict[str, str] = {}
    entries = package.by_key()
    for key, entry in entries.items():
        if not key.endswith(".rels") or not entry.data:
            continue
        base = packages.folder(packages.rels_source(key))
        for element in xml_safe.parse(entry.data).getroot():
            kind = element.get("Type", "").rsplit("/", 1)[-1].lower()
            if kind in _PLACE_BY_TYPE and element.get("TargetMode", "") != "External":
                found[packages.joined(base, element.get("Target", ""))] = _PLACE_BY_TYPE[kind]
    types = entries.get(CONTENT_TYPES)
    if types is not None and types.data:
        for element in xml_safe.parse(types.data).getroot():
            kind = element.get("ContentType", "").lower()
            if kind in _PLACE_BY_CONTENT_TYPE and element.get("PartName"):
                found.setdefault(
                    packages.joined("", element.get("PartName", "")), _PLACE_BY_CONTENT_TYPE[kind]
                )
    return {key: _named(key, place) for key, place in found.items() if key in entries}


def _named(key: str, place: str) -> str:
    """A place that is a folder or a name stem, completed with the part's own name."""
    base = key.rsplit("/", 1)[-1]
    if place.endswith("/"):
        return place + base
    if place == "docprops/thumbnail":
        return place + (base[base.rfind(".") :] if "." in base else "")
    return place


def reachable(package: packages.Package, without: set[str]) -> set[str] | None:
    """The parts a relationship chain from the package reaches, not passing through `without`, with
    their relationship parts and the content types; None when the package has no relationships.

    Why / threat: a part nothing points to (word/orphan.xml, a [trash] folder) is never shown by Office,
    so the reporter cannot see or judge it, yet it keeps every word saved in it.
    """
    entries = package.by_key()
    if ROOT_RELS not in entries:
        return None
    kept = {CONTENT_TYPES, ROOT_RELS}
    waiting = [ROOT_RELS]
    while waiting:
        rels = entries.get(waiting.pop())
        if rels is None or not rels.data:
            continue
        kept.add(rels.key)
        base = packages.folder(packages.rels_source(rels.key))
        for element in xml_safe.parse(rels.data).getroot():
            target = packages.joined(base, element.get("Target", ""))
            if element.get("TargetMode", "") == "External" or target in kept or target in without:
                continue
            kept.add(target)
            waiting.append(packages.rels_part(target))
    return kept


def is_xml(entry: Entry) -> bool:
    """A part read as XML; pictures (an SVG is XML too) go to their own format instead."""
    if entry.key.endswith((".xml", ".rels", ".vml", ".psmdcp")):
        return True
    return (
        "/media/" not in entry.key and not entry.key.endswith(".svg") and xml_safe.looks_like_xml(entry.data)
    )


def removed_part(key: str) -> tuple[str, str] | None:
    """The kind and words for a part removed whole, or None for a part kept."""
    for pattern, kind, what in _REMOVED:
        if pattern.search(key):
            return kind, what
    return None


def binary_label(key: str) -> str:
    """How a binary part is named to the reporter when Candour cannot check it."""
    if _MACROS.search(key):
        return "macros Candour cannot check"
    if _FONT.search(key):
        return "an embedded font Candour cannot check"
    if key.startswith("docprops/thumbnail"):
        return "a preview picture Candour cannot check"
    if "/media/" in key:
        return "a picture Candour cannot check"
    return "an embedded object Candour cannot check"


def walk(key: str, tree: etree._ElementTree, report: packages.Report, clean: bool) -> bool:
    """Report what one XML part gives away; when `clean`, remove or neutralise it. True if changed.

    The model runs first, then the generic read-out (office_generic) over what is left, so a value the
    model names is named once, and one it does not know of is still named and removed.
    """
    changed = office_generic.notes(tree, report, clean)
    changed |= _model(key, tree, report, clean)
    if META_PART.search(key):
        changed |= office_generic.strict(tree, report, clean)
    else:
        changed |= office_generic.named_attributes(tree, report, clean)
    return changed


def _model(key: str, tree: etree._ElementTree, report: packages.Report, clean: bool) -> bool:
    """The places Office is known to write a name, a date, a session id or a path.

    Why the tag-filtered passes: a long document has hundreds of thousands of elements, and only a few
    kinds can hold a name, a date, a session id or a path; lxml finds those in C.
    """
    root = tree.getroot()
    doomed: list[etree._Element] = []
    changed = False
    if _LEGACY_NOTES.search(key):
        changed |= _note_prefixes(root, report, clean)
    if _WEB_EXTENSION.search(key):
        # Why: an add-in saves what it needs between sessions (a signed-in account, a user's choices)
        # as free-form property values; the add-in keeps working without them and asks again.
        for element in root.iter("{*}property"):
            report.add("other", "an add-in's saved settings (can hold names or accounts)", once=True)
            report.again(element.get("value", ""))
            doomed.append(element)
    _properties(key, root, report, doomed)
    if key == _CONNECTIONS:
        changed |= _connection_strings(root, report, clean)
    for element in root.iter("{*}absPath"):
        report.add("person", "a folder path on the computer", element.get("url"))
        doomed.append(element)
    for element in root.iter(*(f"{{*}}{name}" for name in _IDENTIFIER_ELEMENTS)):
        report.add("other", _IDENTIFIER_ELEMENTS[xml_safe.local(element.tag)], once=True)
        doomed.append(element)
    for element in root.iter("{*}author"):
        value = (element.text or "").strip()
        if len(element) == 0 and value and value != NAME and not value.startswith("tc="):
            report.add("person", "a name on comments or changes", value)
            if clean:
                element.text = NAME
                changed = True
    texts = root.iter(etree.Element) if _META_TEXT.search(key) else root.iter("{*}instrText")
    for element in texts:
        value = (element.text or "").strip()
        if value and packages.FOLDER_PATH.search(value):
            report.add("person", "a folder path on the computer", value)
            if clean:
                element.text = ""
                changed = True
    for element in _CANDIDATES(root):
        changed |= _attributes(element, xml_safe.local(element.tag), report, clean)
    for element in doomed:
        if clean and element.getparent() is not None:
            _remove_emptying(element)
            changed = True
    return changed


def _properties(
    key: str, root: etree._Element, report: packages.Report, doomed: list[etree._Element]
) -> None:
    """docProps: every core property, the identifying extended ones, and every custom property."""
    for element in root.iterchildren(etree.Element):
        name = xml_safe.local(element.tag)
        value = xml_safe.text_of(element)
        if key == "docprops/core.xml":
            kind, what = _CORE.get(name, ("other", "a document property"))
            if value:
                report.add(kind, what, when(value) if kind == "time" else value)
                if kind == "time":
                    report.again(value)
            doomed.append(element)
        elif key == "docprops/app.xml" and name in _PARTS_LISTS:
            for leaf in element.iter("{*}lpstr", "{*}lpwstr", "{*}bstr"):
                text = (leaf.text or "").strip()
                if text and text in report.values:
                    report.again(text)
                elif text:
                    report.add("other", "the names of its parts (can repeat the title)", text, once=True)
            doomed.append(element)
        elif key == "docprops/app.xml" and name in _APP:
            kind, what = _APP[name]
            if value and value != "0":
                report.add(kind, what, value)
            doomed.append(element)
        elif key == "docprops/custom.xml" and name == "property":
            report.add("other", "a custom document property", element.get("name"))
            report.again(value)


def _connection_strings(root: etree._Element, report: packages.Report, clean: bool) -> bool:
    """Excel's data connections: the connection string (UID=<account>;Data Source=<server>).

    Why / threat: the string names the account and the server the workbook reads from, which can tell
    who made it and where they work; Excel asks for the source again when the data is refreshed.
    """
    changed = False
    for element in root.iter(etree.Element):
        value = element.get("connection", "")
        if value.strip():
            report.add("other", "a database connection naming a user or server", value)
            if clean:
                element.set("connection", "")
                changed = True
    return changed


def _attributes(element: etree._Element, name: str, report: packages.Report, clean: bool) -> bool:
    """Names, accounts, dates, session ids and folder paths held in an element's attributes."""
    changed = False
    for attribute, value in list(element.attrib.items()):
        local = xml_safe.local(attribute)
        if local.startswith("rsid") and xml_safe.namespace(attribute) in W_NS:
            report.add("other", "editing-session identifiers", once=True)
            if clean:
                del element.attrib[attribute]
                changed = True
        elif (
            local in _PERSON_ATTRS
            or (local in ("name", "displayName") and name in _NAMED_ELEMENTS)
            or (local == "providerId" and "@" in value)  # usually "AD" or "None"; an address names someone
        ):
            neutral = _NEUTRAL.get(local, NAME)
            if value.strip() and value != neutral:
                what = _PERSON_WHAT.get(local, "a name on comments or changes")
                report.add("person", what, value)
                if clean:
                    element.set(attribute, neutral)
                    changed = True
        elif local in _DATE_ATTRS and _ISO.match(value):
            report.add("time", "when comments or changes were made", when(value), once=True)
            report.again(value)
            if clean:
                del element.attrib[attribute]
                changed = True
        elif packages.FOLDER_PATH.search(value):
            report.add("person", "a folder path on the computer", value)
            if clean:
                element.set(attribute, "")
                changed = True
    return changed


def _note_prefixes(root: etree._Element, report: packages.Report, clean: bool) -> bool:
    """Excel's legacy notes: the leading bold run "Jane Smith:" that Excel writes before a note's text.

    Why / threat: the name is the note's author (listed in <authors>, which is neutralised), so the run
    is a second copy of a name the reporter is told was removed; the byte search would allow it as body
    text, so it is counted as a place found and the run is removed.
    """
    authors = [(element.text or "").strip() for element in root.iter("{*}author")]
    changed = False
    for comment in root.iter("{*}comment"):
        text = next(comment.iterchildren("{*}text"), None)
        run = next(text.iterchildren("{*}r"), None) if text is not None else None
        if run is None:
            continue
        said = xml_safe.text_of(run)
        index = comment.get("authorId", "")
        owner = authors[int(index)] if index.isdigit() and int(index) < len(authors) else None
        names = [owner] if owner else authors
        hit = next((name for name in names if name and said == f"{name}:"), None)
        if hit is None or hit == NAME:
            continue
        report.again(hit)
        if clean:
            xml_safe.remove(run)
            changed = True
    return changed


def _remove_emptying(element: etree._Element) -> None:
    """Remove an element, and the markup-compatibility wrapper it leaves empty (as absPath's is)."""
    parent = element.getparent()
    xml_safe.remove(element)
    while (
        parent is not None
        and xml_safe.local(parent.tag) in ("Choice", "AlternateContent")
        and not len(parent)
    ):
        above = parent.getparent()
        xml_safe.remove(parent)
        parent = above
