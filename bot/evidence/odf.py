"""OpenDocument files (LibreOffice's ODT, ODS, ODP, ODG), read and cleaned with lxml.

Where an ODF file names its maker: meta.xml (author, who last saved and printed it, dates, editing time,
the program, custom properties), settings.xml (the printer's name and its driver settings), the authors,
initials and dates of comments and tracked changes in content.xml and styles.xml, folder paths in links,
a digital signature, and every picture, thumbnail and embedded object. An embedded chart or formula is a
sub-document in its own folder ("Object 1/"), cleaned by the same rules; a picture or an embedded file is
cleaned by its own format through `nested`, or removed and named when Candour cannot check it.

Why / threat (a file that still opens): the manifest lists every part, and LibreOffice calls a file
broken when the manifest names a part that is missing, so removed parts leave the manifest too; and
`mimetype` stays the first entry, uncompressed, which is how ODF readers (and sniff.py) know the type.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import ClassVar

from lxml import etree

from bot.evidence import office_generic, packages, xml_safe
from bot.evidence import types as t
from bot.evidence.model import (
    Finding,
    Format,
    Found,
    Inspection,
    Nested,
    Rewrite,
    Unsupported,
    when,
)
from bot.evidence.packages import INITIALS, NAME, Entry

OFFICE = "urn:oasis:names:tc:opendocument:xmlns:office:1.0"
META = "urn:oasis:names:tc:opendocument:xmlns:meta:1.0"
DC = "http://purl.org/dc/elements/1.1/"
CONFIG = "urn:oasis:names:tc:opendocument:xmlns:config:1.0"
MANIFEST = "urn:oasis:names:tc:opendocument:xmlns:manifest:1.0"
SCRIPT = "urn:oasis:names:tc:opendocument:xmlns:script:1.0"
XLINK = "http://www.w3.org/1999/xlink"
# office:change-info must hold a date, so a tracked change's date is set to this instead of removed.
NEUTRAL_DATE = "1970-01-01T00:00:00"

_META = {
    "initial-creator": ("person", "the author's name"),
    "creator": ("person", "who last saved it"),
    "printed-by": ("person", "who printed it"),
    "date": ("time", "when it was last saved"),
    "creation-date": ("time", "when it was created"),
    "print-date": ("time", "when it was last printed"),
    "editing-duration": ("time", "how long it was edited"),
    "editing-cycles": ("other", "how many times it was saved"),
    "generator": ("software", "the program that made it"),
    "title": ("other", "the title"),
    "subject": ("other", "the subject"),
    "description": ("other", "the description"),
    "keyword": ("other", "the keywords"),
    "language": ("other", "the language setting"),
    "user-defined": ("other", "a custom document property"),
    "template": ("other", "the template it was made from"),
}
_KEPT_META = {"document-statistic"}
_PRINTER = {
    "PrinterName": "the printer's name",
    "PrintFaxName": "the fax printer's name",
    "PrinterSetup": "printer settings (can name the printer)",
}
_SIGNATURES = ("meta-inf/documentsignatures.xml", "meta-inf/macrosignatures.xml")
# LibreOffice's own cache of where pages and paragraphs fall, rebuilt on opening: removed without a word.
_CACHES = ("layout-cache",)
# LibreOffice's user-interface settings saved with a document (menus, toolbars, shortcut keys, their
# pictures): removed whole, because LibreOffice recreates the folder when it saves again.
_UI_SETTINGS = "configurations2/"
UI_SETTINGS = "menu and toolbar settings (can hold names)"
# Macros and scripts: LibreOffice Basic libraries, and Python, BeanShell or JavaScript files.
_SCRIPTS = ("basic/", "scripts/")
MACROS = "macros or scripts"
# Parts that hold no body content: read strictly by office_generic.strict.
_META_PART = re.compile(r"(^|/)(meta|settings)\.xml$|^meta-inf/(?!manifest\.xml$)")


def _ui_settings(key: str) -> bool:
    """Whether a part is in Configurations2/ (or is that folder).

    Why / threat: its XML and pictures are free-form (a shortcut list, a toolbar's picture with GPS) and
    no part of the document's content; reading them strictly would keep a one-word value, removing the
    folder keeps nothing, and the document opens the same.
    """
    return key.startswith(_UI_SETTINGS) or key == _UI_SETTINGS.rstrip("/")


def _script(key: str) -> bool:
    """Whether a part is a macro library or a script (or its folder)."""
    return key.startswith(_SCRIPTS) or key in ("basic", "scripts")


def _base(key: str) -> str:
    return key.rsplit("/", 1)[-1]


def _is_xml(entry: Entry) -> bool:
    if entry.key.endswith((".xml", ".rdf")):
        return True
    skip = entry.key.startswith(("pictures/", "thumbnails/")) or entry.key.endswith(".svg")
    return not skip and xml_safe.looks_like_xml(entry.data)


def _label(key: str) -> str:
    if key.startswith("thumbnails/"):
        return "a preview picture Candour cannot check"
    if key.startswith("objectreplacements/"):
        return "a preview of an embedded object Candour cannot check"
    if key.startswith("pictures/") or "/pictures/" in key:
        return "a picture Candour cannot check"
    return "an embedded object Candour cannot check"


def _meta(root: etree._Element, report: packages.Report, clean: bool) -> bool:
    """meta.xml: everything but the word and page counts is reported, and removed when cleaning."""
    holder = next((child for child in root if xml_safe.local(child.tag) == "meta"), None)
    if holder is None:
        return False
    changed = False
    for element in list(holder):
        name = xml_safe.local(element.tag)
        if not name or name in _KEPT_META:
            continue
        kind, what = _META.get(name, ("other", "a document property"))
        value = xml_safe.text_of(element)
        if name == "user-defined":
            report.add(kind, what, element.get(f"{{{META}}}name"))
            report.again(value)
        elif name == "template":
            report.add(kind, what, element.get("{http://www.w3.org/1999/xlink}href"))
        elif value:
            report.add(kind, what, when(value) if kind == "time" and "T" in value else value)
            if kind == "time":
                report.again(value)
        if clean:
            xml_safe.remove(element)
            changed = True
    return changed


def _settings(root: etree._Element, report: packages.Report, clean: bool) -> bool:
    """settings.xml: the printer's name and driver settings, and any folder path a setting holds."""
    changed = False
    for element in list(root.iter(f"{{{CONFIG}}}config-item")):
        name = element.get(f"{{{CONFIG}}}name", "")
        value = (element.text or "").strip()
        if name in _PRINTER and value:
            report.add("device", _PRINTER[name], None if name == "PrinterSetup" else value)
            report.again(value)
        elif value and packages.FOLDER_PATH.search(value):
            report.add("person", "a folder path on the computer", value)
        else:
            continue
        if clean:
            xml_safe.remove(element)
            changed = True
    return changed


def _people(root: etree._Element, report: packages.Report, clean: bool) -> bool:
    """content.xml and styles.xml: who wrote each comment or made each tracked change, and when."""
    changed = False
    for element in list(root.iter(f"{{{DC}}}creator", f"{{{DC}}}date", f"{{{META}}}creator-initials")):
        name = xml_safe.local(element.tag)
        value = (element.text or "").strip()
        in_change = xml_safe.local(element.getparent().tag) == "change-info"
        if name == "date":
            if not value or value == NEUTRAL_DATE:
                continue
            report.add("time", "when comments or changes were made", when(value), once=True)
            report.again(value)
            if clean and in_change:
                element.text = NEUTRAL_DATE
            elif clean:
                xml_safe.remove(element)
            changed |= clean
            continue
        neutral = INITIALS if name == "creator-initials" else NAME
        if value and value != neutral:
            what = (
                "initials on comments or changes" if neutral == INITIALS else "a name on comments or changes"
            )
            report.add("person", what, value)
            if clean:
                element.text = neutral
                changed = True
    return changed


def _paths(root: etree._Element, report: packages.Report, clean: bool) -> bool:
    """Folder paths in any attribute (a linked picture or section: xlink:href="file:///home/jane/...")."""
    changed = False
    for element in root.iter():
        if not isinstance(element.tag, str):
            continue
        for attribute, value in list(element.attrib.items()):
            if packages.FOLDER_PATH.search(value):
                report.add("person", "a folder path on the computer", value)
                if clean:
                    element.set(attribute, "")
                    changed = True
    return changed


def _walk(key: str, tree: etree._ElementTree, report: packages.Report, clean: bool) -> bool:
    """Report what one XML part gives away; when `clean`, remove or neutralise it. True if changed."""
    root = tree.getroot()
    base = _base(key)
    changed = False
    if base == "meta.xml":
        changed |= _meta(root, report, clean)
    elif base == "settings.xml":
        changed |= _settings(root, report, clean)
    elif base in ("content.xml", "styles.xml"):
        changed |= _people(root, report, clean)
    if base in ("content.xml", "styles.xml"):
        changed |= _document_macros(root, report, clean)
    changed |= office_generic.notes(tree, report, clean)
    if key != "meta-inf/manifest.xml":
        changed |= _paths(root, report, clean)
        if _META_PART.search(key):
            changed |= office_generic.strict(tree, report, clean)
        else:
            changed |= office_generic.named_attributes(tree, report, clean)
    return changed


def _document_macros(root: etree._Element, report: packages.Report, clean: bool) -> bool:
    """Events that run the document's own macros (which cleaning removes), and inline scripts.

    Why: a button or an "on open" event pointing at a removed library would show an error on opening;
    a macro kept would be code Candour cannot check, so both go, as an Office file's macros do.
    """
    changed = False
    doomed = [
        element
        for element in root.iter(f"{{{SCRIPT}}}event-listener", f"{{{OFFICE}}}script")
        if xml_safe.local(element.tag) == "script"
        or "location=document" in element.get(f"{{{XLINK}}}href", "")
    ]
    for element in doomed:
        report.add("other", MACROS, once=True)
        if clean:
            xml_safe.remove(element)
            changed = True
    return changed


def _manifest(tree: etree._ElementTree, gone: set[str]) -> bool:
    """Drop the manifest's entries for removed parts."""
    changed = False
    for element in list(tree.getroot()):
        path = element.get(f"{{{MANIFEST}}}full-path", "")
        key = packages.joined("", path)
        if key in gone or _script(key) or _ui_settings(key):
            xml_safe.remove(element)
            changed = True
    return changed


def _encrypted(tree: etree._ElementTree) -> bool:
    return next(tree.getroot().iter(f"{{{MANIFEST}}}encryption-data"), None) is not None


class _OpenDocument(Format):
    """What every OpenDocument file shares; the subclasses only name their media types."""

    body_text: ClassVar[bool] = True
    cannot_clean: ClassVar[tuple[str, ...]] = (
        "what the document itself says: its text, cells, slides and notes, and any name typed there",
        "text deleted earlier and still kept as a tracked change (only who changed it, and when, goes)",
        "style and sheet names, and the last shown value of fields such as the author's name",
        "embedded objects and pictures Candour cannot check (such as SVM or WMF): removed",
        "a file protected by a password: it cannot be read, so it is not cleaned",
        "a one-word value (such as a login name) in a setting or property Candour does not know of",
        "macros and scripts (LibreOffice Basic, Python, BeanShell, JavaScript): removed, so the file may "
        "work differently",
    )

    def _read(self, content: bytes) -> tuple[packages.Package, dict[str, etree._ElementTree]]:
        package = packages.read(content)
        manifest = package.by_key().get("meta-inf/manifest.xml")
        if manifest is not None and _encrypted(xml_safe.parse(manifest.data)):
            raise Unsupported("a password-protected document")  # its parts cannot be read, so not cleaned
        trees = {
            entry.key: xml_safe.parse(entry.data)
            for entry in package.entries
            if entry.data and not entry.name.endswith("/") and _is_xml(entry)
        }
        return package, trees

    def inspect(self, content: bytes, nested: Nested) -> Inspection:
        """Every part's names, dates, printers and paths, and what every embedded file carries."""
        package, trees = self._read(content)
        found = Found()
        report = packages.Report(found)
        packages.zip_findings(package, found)
        for entry in package.entries:
            if entry.key in _SIGNATURES:
                report.add("person", "a digital signature (can name who signed)", once=True)
            elif _script(entry.key):
                report.add("other", MACROS, once=True)
            elif _ui_settings(entry.key):
                if entry.data:
                    report.add("other", UI_SETTINGS, once=True)
            elif entry.key in trees:
                _walk(entry.key, trees[entry.key], report, False)
            elif entry.data and entry.key not in _CACHES and entry.key != "mimetype":
                packages.inspect_embedded(entry.data, nested, _label(entry.key), report)
        return found.result()

    def clean(self, content: bytes, nested: Nested) -> Rewrite:
        """Remove or neutralise everything `inspect` reads; `mimetype` stays first and stored."""
        package, trees = self._read(content)
        report = packages.Report(Found())
        gone = set(_SIGNATURES) | set(_CACHES)
        dropped: list[Finding] = []
        changed: set[str] = set()
        for entry in package.entries:
            if _script(entry.key):
                gone.add(entry.key)
                if Finding("other", f"{MACROS} (removed)") not in dropped:
                    dropped.append(Finding("other", f"{MACROS} (removed)"))
                continue
            if _ui_settings(entry.key):
                gone.add(entry.key)
                if entry.data and Finding("other", f"{UI_SETTINGS} (removed)") not in dropped:
                    dropped.append(Finding("other", f"{UI_SETTINGS} (removed)"))
                continue
            if entry.key in gone or not entry.data or entry.key == "mimetype":
                continue
            if entry.key in trees:
                if _walk(entry.key, trees[entry.key], report, True):
                    changed.add(entry.key)
                continue
            replaced = packages.clean_embedded(entry.data, nested, _label(entry.key), dropped)
            if replaced is None:
                gone.add(entry.key)
            else:
                entry.data = replaced
        manifest = trees.get("meta-inf/manifest.xml")
        if manifest is not None and _manifest(manifest, gone):
            changed.add("meta-inf/manifest.xml")
        kept = []
        for entry in package.entries:
            if entry.key in gone:
                continue
            if entry.key in changed:
                entry.data = xml_safe.serialise(trees[entry.key])
            kept.append(entry)
        return Rewrite(packages.write(kept, stored_first="mimetype"), tuple(dropped))

    def streams(self, content: bytes) -> Iterator[bytes]:
        """Every part's unpacked bytes."""
        return packages.streams(content)


class OpenDocumentText(_OpenDocument):
    """OpenDocument text (LibreOffice Writer)."""

    media_types: ClassVar[tuple[str, ...]] = (t.ODT,)


class OpenDocumentSpreadsheet(_OpenDocument):
    """OpenDocument spreadsheets (LibreOffice Calc)."""

    media_types: ClassVar[tuple[str, ...]] = (t.ODS,)


class OpenDocumentPresentation(_OpenDocument):
    """OpenDocument presentations (LibreOffice Impress)."""

    media_types: ClassVar[tuple[str, ...]] = (t.ODP,)


class OpenDocumentDrawing(_OpenDocument):
    """OpenDocument drawings (LibreOffice Draw)."""

    media_types: ClassVar[tuple[str, ...]] = (t.ODG,)


FORMATS: tuple[Format, ...] = (
    OpenDocumentText(),
    OpenDocumentSpreadsheet(),
    OpenDocumentPresentation(),
    OpenDocumentDrawing(),
)
