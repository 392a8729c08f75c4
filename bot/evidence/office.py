"""Office documents (OOXML: Word, Excel and PowerPoint, with or without macros), read and cleaned with lxml.

What an Office file says about who made it sits in many parts besides its properties: the names,
initials and accounts on comments and tracked changes, the people lists behind them, editing-session
ids, the template's and the workbook's folder path (often C:\\Users\\<name>\\OneDrive - <force>), printer
settings, custom XML from SharePoint, and every picture or file embedded in it. Inspection reads all of
them generically (it is also the second read-out of the result); cleaning removes or neutralises each,
and hands every embedded picture, PDF or Office file to its own format through `nested`.

Why these choices (promise 1, and a file that still opens): parts are removed together with the
relationships and content-type entries that point at them, so Word and Excel open the result without
a repair prompt; the people lists of Excel and PowerPoint are neutralised rather than removed, because
their comments point into them. Parts that needed no change are copied byte for byte.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import replace
from typing import ClassVar

from lxml import etree

from bot.evidence import office_generic, office_xml, packages, xml_safe
from bot.evidence import types as t
from bot.evidence.model import Finding, Format, Found, Inspection, Nested, Rewrite
from bot.evidence.packages import Package

R_NS = office_xml.R_NS
ABOUT_BLANK = "about:blank"
UNUSED_PART = "a part of the file nothing uses"
UNUSED_LINK = "a link nothing in the file uses"
_DROP_WITH_REFERENCE = {"attachedTemplate", "embedRegular", "embedBold", "embedItalic", "embedBoldItalic"}


def _relationships(
    key: str,
    tree: etree._ElementTree,
    report: packages.Report,
    clean: bool,
    gone: set[str],
    used: set[str] | None,
) -> tuple[set[str], bool]:
    """Relationship ids in one .rels part that must go (to removed parts, to the attached template, and
    external links its part never uses), and whether the part changed.

    External targets that are folder paths, absolute or relative (linked files, templates, other
    workbooks), are reported and, when cleaning, pointed at about:blank. `used` holds every value of
    the source part's attributes (None when there is no source part to read).

    Why / threat: an external link nothing in the document uses (a mailto: address left behind by an
    edit) is never shown to the reporter, so they cannot judge it, yet it can name someone.
    """
    base = packages.folder(packages.rels_source(key))
    dropped: set[str] = set()
    changed = False
    for element in list(tree.getroot()):
        target = element.get("Target", "")
        external = element.get("TargetMode", "") == "External"
        template = element.get("Type", "").endswith("/attachedTemplate")
        if external and used is not None and element.get("Id", "") not in used:
            report.add("other", UNUSED_LINK, target)
            if clean:
                dropped.add(element.get("Id", ""))
                xml_safe.remove(element)
                changed = True
            continue
        if template and target:
            report.add("other", "the template it was made from", target)
        elif external and packages.local_link(target):
            report.add("person", "a folder path on the computer", target)
            if clean:
                element.set("Target", ABOUT_BLANK)
                changed = True
        if clean and (template or (not external and packages.joined(base, target) in gone)):
            dropped.add(element.get("Id", ""))
            xml_safe.remove(element)
            changed = True
    return dropped, changed


def _unreference(tree: etree._ElementTree, ids: set[str]) -> None:
    """Take out references to relationships that were removed, so no part points at nothing."""
    for element in list(tree.getroot().iter()):
        if not isinstance(element.tag, str):
            continue
        hits = [a for a, v in element.attrib.items() if xml_safe.namespace(a) in R_NS and v in ids]
        if not hits:
            continue
        if xml_safe.local(element.tag) in _DROP_WITH_REFERENCE:
            xml_safe.remove(element)
            continue
        for attribute in hits:
            del element.attrib[attribute]


def _content_types(tree: etree._ElementTree, gone: set[str]) -> bool:
    """Drop the content-type entries of removed parts (Word asks to repair a file that lists a missing part)."""
    changed = False
    for element in list(tree.getroot()):
        if (
            xml_safe.local(element.tag) == "Override"
            and packages.joined("", element.get("PartName", "")) in gone
        ):
            xml_safe.remove(element)
            changed = True
    return changed


class _Ooxml(Format):
    """What every Office Open XML document shares; the subclasses only name their media types."""

    body_text: ClassVar[bool] = True
    cannot_clean: ClassVar[tuple[str, ...]] = (
        "what the document itself says: its text, cells, slides and speaker notes, and any name typed there",
        "text deleted or hidden earlier and still kept in the file (only who changed it, and when, goes)",
        "sheet, style and bookmark names, and the last shown value of fields such as the author's name",
        "macros, embedded fonts and embedded objects Candour cannot check: removed, so the file may look "
        "or work differently",
        "pictures in formats Candour cannot check (such as EMF or WMF): removed",
        "a one-word value (such as a login name) in a setting or property Candour does not know of",
        "names typed for custom slide shows, notes pages and named cells or ranges",
        "web and e-mail links the document uses (they are part of what it says)",
    )

    def inspect(self, content: bytes, nested: Nested) -> Inspection:
        """Every part's names, dates, ids and paths, and what every embedded file carries."""
        return self._inspect(packages.read(content), nested)

    def clean(self, content: bytes, nested: Nested) -> Rewrite:
        """Remove or neutralise everything `inspect` reads, keeping the document's parts as they were."""
        return self._clean(packages.read(content), nested)

    def inspect_and_clean(
        self, content: bytes, nested: Nested, inspected: Callable[[Inspection], None]
    ) -> Rewrite:
        """One unpacking of the original: read out, then cleaned from a copy of its list of parts
        (cleaning replaces parts in place; the bytes themselves are shared, never changed)."""
        package = packages.read(content)
        copy = replace(package, entries=[replace(entry) for entry in package.entries])
        inspected(self._inspect(package, nested))
        return self._clean(copy, nested)

    def read_back(self, content: bytes, nested: Nested) -> tuple[Inspection, list[bytes]]:
        """One unpacking of the result for its read-out and, when that finds nothing, its parts."""
        package = packages.read(content)
        parts = [entry.data for entry in package.entries]  # what `streams` gives
        found = self._inspect(package, nested)
        return found, [] if found.findings else parts

    def _inspect(self, package: Package, nested: Nested) -> Inspection:
        """`inspect` of an unpacked package."""
        found = Found()
        report = packages.Report(found)
        packages.zip_findings(package, found)
        place = office_xml.places(package)
        reached = office_xml.reachable(package, set())
        entries = package.by_key()
        for entry in package.entries:
            if entry.name.endswith("/") or not entry.data:
                continue
            if reached is not None and entry.key not in reached:
                report.add("other", UNUSED_PART, once=True)  # removed whole, unread
                continue
            key = place.get(entry.key, entry.key)
            removed = office_xml.removed_part(key)
            if removed and removed[1]:
                report.add(removed[0], removed[1], once=True)
            if removed and key.startswith("_xmlsignatures/"):
                continue  # named above; its certificates would only add noise to the findings
            if office_xml.is_xml(entry):
                tree = xml_safe.parse(entry.data)
                if removed and removed[1]:
                    _values_only(key, tree, found)
                elif entry.key.endswith(".rels"):
                    office_generic.notes(tree, report, False)
                    source = entries.get(packages.rels_source(entry.key))
                    used = _used(xml_safe.parse(source.data)) if source and _xml_source(source) else None
                    _relationships(entry.key, tree, report, False, set(), used)
                else:
                    office_xml.walk(key, tree, report, False)
            elif not removed:
                packages.inspect_embedded(entry.data, nested, office_xml.binary_label(key), report)
        return found.result()

    def _clean(self, package: Package, nested: Nested) -> Rewrite:
        """`clean` of an unpacked package (whose entries it changes)."""
        found = Found()
        report = packages.Report(found)
        dropped: list[Finding] = []
        trees: dict[str, etree._ElementTree] = {}
        place = office_xml.places(package)
        files = [entry for entry in package.entries if not entry.name.endswith("/") and entry.data]
        gone = {entry.key for entry in files if office_xml.removed_part(place.get(entry.key, entry.key))}
        _drop_unused(package, gone, dropped)
        for entry in files:
            if entry.key in gone:
                continue
            if office_xml.is_xml(entry):
                trees[entry.key] = xml_safe.parse(entry.data)
            else:
                label = office_xml.binary_label(place.get(entry.key, entry.key))
                replaced = packages.clean_embedded(entry.data, nested, label, dropped)
                if replaced is None:
                    gone.add(entry.key)
                else:
                    entry.data = replaced
        _drop_unused(package, gone, dropped)  # parts reached only through a part just removed
        gone |= {packages.rels_part(key) for key in gone}
        changed = set()
        for key, tree in trees.items():
            if key in gone or key.endswith(".rels"):
                continue
            if office_xml.walk(place.get(key, key), tree, report, True):
                changed.add(key)
        for key, tree in trees.items():
            if not key.endswith(".rels") or key in gone:
                continue
            rels_changed = office_generic.notes(tree, report, True)
            source = packages.rels_source(key)
            used = _used(trees[source]) if source in trees else None
            ids, changed_here = _relationships(key, tree, report, True, gone, used)
            rels_changed |= changed_here
            if rels_changed:
                changed.add(key)
            if ids and source in trees:
                _unreference(trees[source], ids)
                changed.add(source)
        types_part = "[content_types].xml"
        if types_part in trees and _content_types(trees[types_part], gone):
            changed.add(types_part)
        return Rewrite(_repack(package, gone, trees, changed), tuple(dropped))

    def streams(self, content: bytes) -> Iterator[bytes]:
        """Every part's unpacked bytes."""
        return packages.streams(content)


def _drop_unused(package: Package, gone: set[str], dropped: list[Finding]) -> None:
    """Add to `gone` every part no relationship chain reaches without passing through a part in it."""
    reached = office_xml.reachable(package, gone)
    if reached is None:
        return
    unused = {entry.key for entry in package.entries if not entry.name.endswith("/") and entry.data}
    unused -= reached | gone
    gone |= unused
    if unused and Finding("other", f"{UNUSED_PART} (removed)") not in dropped:
        dropped.append(Finding("other", f"{UNUSED_PART} (removed)"))


def _used(tree: etree._ElementTree) -> set[str]:
    """Every attribute value in a part: the relationship ids it refers to are among them."""
    return {value for element in tree.iter(etree.Element) for value in element.attrib.values()}


def _xml_source(entry: packages.Entry) -> bool:
    return not entry.name.endswith("/") and bool(entry.data) and office_xml.is_xml(entry)


def _values_only(key: str, tree: etree._ElementTree, found: Found) -> None:
    """A part removed whole and named once (custom data parts): its values are searched for after
    cleaning, without a finding for each (a SharePoint part holds dozens)."""
    aside = Found()
    office_xml.walk(key, tree, packages.Report(aside), False)
    for value in aside.result().values:
        found.value(value)


def _repack(
    package: Package, gone: set[str], trees: dict[str, etree._ElementTree], changed: set[str]
) -> bytes:
    kept = []
    for entry in package.entries:
        if entry.key in gone:
            continue
        if entry.key in changed:
            entry.data = xml_safe.serialise(trees[entry.key])
        kept.append(entry)
    return packages.write(kept)


class WordDocument(_Ooxml):
    """Word documents, with or without macros."""

    media_types: ClassVar[tuple[str, ...]] = (t.DOCX, t.DOCM)


class ExcelWorkbook(_Ooxml):
    """Excel workbooks, with or without macros."""

    media_types: ClassVar[tuple[str, ...]] = (t.XLSX, t.XLSM)


class PowerPointPresentation(_Ooxml):
    """PowerPoint presentations, with or without macros."""

    media_types: ClassVar[tuple[str, ...]] = (t.PPTX, t.PPTM)


FORMATS: tuple[Format, ...] = (WordDocument(), ExcelWorkbook(), PowerPointPresentation())
