"""Case exports: a PDF to read and put on a case file, and a zip bundle (case.json plus every evidence
file, each with its SHA-256) that keeps every byte as decrypted.

Both are built in memory from a case the officer has just opened; the caller audits the export.
Threat: a copy outliving the desk. Why nothing more is done here: once decrypted content leaves the desk
it is the officer's to keep safe; the audit log says who took which case, when, and in which form.
"""

from __future__ import annotations

import hashlib
import io
import json
import logging
import re
import unicodedata
import zipfile
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from fpdf import FPDF
from fpdf.enums import XPos, YPos

from desk.schemas import CaseOut, FileOut

BUNDLE_FORMAT = "candour-case-bundle/1"
# A Unicode font if the machine has one (reporters write in any script); otherwise the PDF's core font,
# which knows Latin-1 only. The bundle always holds the exact text.
UNICODE_FONTS = (
    (
        Path("/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf"),
        Path("/usr/share/fonts/truetype/dejavu/DejaVuSans-Bold.ttf"),
    ),
    (
        Path("/usr/share/fonts/dejavu/DejaVuSans.ttf"),
        Path("/usr/share/fonts/dejavu/DejaVuSans-Bold.ttf"),
    ),
    (
        Path("/usr/share/fonts/truetype/liberation/LiberationSans-Regular.ttf"),
        Path("/usr/share/fonts/truetype/liberation/LiberationSans-Bold.ttf"),
    ),
)
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f\u200b-\u200f\u202a-\u202e\u2066-\u2069]")


class _WithoutContent(logging.Filter):
    """fpdf2's messages can quote the text being drawn (e.g. the characters a font lacks), which here is
    case content: the record keeps its level and loses its words."""

    def filter(self, record: logging.LogRecord) -> bool:
        record.msg, record.args = (
            "fpdf2 %s while drawing a case export (details withheld)",
            (record.levelname,),
        )
        return True


# A filter acts only on records logged on its own logger, so it goes on each of fpdf2's module loggers.
for _name in [n for n in logging.Logger.manager.loggerDict if n == "fpdf" or n.startswith("fpdf.")]:
    logging.getLogger(_name).addFilter(_WithoutContent())


@dataclass(frozen=True)
class ExportFile:
    """One evidence file as exported: its listing, its bytes, and their SHA-256 now."""

    listing: FileOut
    body: bytes

    @property
    def sha256(self) -> str:
        return hashlib.sha256(self.body).hexdigest()

    @property
    def path(self) -> str:
        return f"files/{self.listing.seq:03d}-{safe_name(self.listing.filename)}"


@dataclass(frozen=True)
class CaseExport:
    """A decrypted case ready to export, and who is taking it when."""

    case: CaseOut
    files: tuple[ExportFile, ...]
    exported_by: str
    exported_at: datetime


def safe_name(name: str) -> str:
    """A file name safe in a zip and on any disk: the last path part, in [A-Za-z0-9._-]."""
    last = name.replace("\\", "/").rsplit("/", 1)[-1]
    cleaned = re.sub(r"[^A-Za-z0-9._-]", "_", last)[:100].lstrip(".")
    return cleaned or "file"


def case_json(export: CaseExport) -> dict[str, Any]:
    """What case.json holds: the case as the API shows it, and the files with their paths and SHA-256."""
    return {
        "format": BUNDLE_FORMAT,
        "exported_at": export.exported_at.isoformat(),
        "exported_by": export.exported_by,
        "case": export.case.model_dump(mode="json", exclude={"files"}),
        "files": [
            {
                **f.listing.model_dump(mode="json", exclude={"href", "sha256"}),
                "path": f.path,
                "size": len(f.body),
                "sha256": f.sha256,
                # Why both: the bot hashed the file as it was sealed; a difference would mean a change since.
                "sha256_at_submission": f.listing.sha256 or None,
            }
            for f in export.files
        ],
    }


def bundle(export: CaseExport) -> bytes:
    """A zip of case.json, every evidence file, and SHA256SUMS (checkable with `sha256sum -c`)."""
    out = io.BytesIO()
    stamp = export.exported_at.timetuple()[:6]
    with zipfile.ZipFile(out, "w", compression=zipfile.ZIP_DEFLATED) as archive:

        def put(name: str, data: bytes) -> None:
            info = zipfile.ZipInfo(f"{export.case.reference}/{name}", date_time=stamp)
            info.compress_type = zipfile.ZIP_DEFLATED
            # Decrypted content: readable by its owner only when unpacked by a tool that keeps modes.
            info.external_attr = 0o600 << 16
            archive.writestr(info, data)

        document = json.dumps(case_json(export), indent=2, ensure_ascii=False).encode("utf-8")
        put("case.json", document)
        for f in export.files:
            put(f.path, f.body)
        sums = [f"{hashlib.sha256(document).hexdigest()}  case.json"]
        sums += [f"{f.sha256}  {f.path}" for f in export.files]
        put("SHA256SUMS", ("\n".join(sums) + "\n").encode("ascii"))
    return out.getvalue()


class _CasePdf(FPDF):
    """A plain A4 document with the reference and page number on every page."""

    def __init__(self, reference: str, fonts: tuple[Path, Path] | None) -> None:
        super().__init__(format="A4")
        self.reference = reference
        self.unicode = fonts is not None
        if fonts is not None:
            regular, bold = fonts
            self.add_font("body", "", str(regular))
            self.add_font("body", "B", str(bold if bold.exists() else regular))
            self.family = "body"
        else:
            self.family = "helvetica"
        self.set_auto_page_break(auto=True, margin=18)
        self.set_margins(18, 18, 18)

    def header(self) -> None:
        self.set_font(self.family, "", 8)
        self.set_text_color(90)
        self.cell(0, 5, self.clean(f"{self.reference} · CONFIDENTIAL: case file export"), align="R")
        self.ln(8)
        self.set_text_color(0)

    def footer(self) -> None:
        self.set_y(-12)
        self.set_font(self.family, "", 8)
        self.set_text_color(90)
        self.cell(0, 5, f"page {self.page_no()}/{{nb}}", align="C")
        self.set_text_color(0)

    def clean(self, text: str) -> str:
        """Text the font can draw: no control or direction-override characters; Latin-1 for core fonts."""
        text = _CONTROL.sub("", unicodedata.normalize("NFC", text)).replace("\t", "    ")
        if not self.unicode:
            text = text.replace("·", "-").encode("latin-1", "replace").decode("latin-1")
        return text

    def heading(self, text: str, size: int = 13) -> None:
        self.ln(2)
        self.set_font(self.family, "B", size)
        self.multi_cell(0, size * 0.55, self.clean(text), new_x=XPos.LMARGIN, new_y=YPos.NEXT)
        self.set_font(self.family, "", 10)
        self.ln(1)

    def para(self, text: str, *, size: int = 10, gap: float = 1.5) -> None:
        self.set_font(self.family, "", size)
        self.multi_cell(
            0, size * 0.5, self.clean(text), align="L", new_x=XPos.LMARGIN, new_y=YPos.NEXT, wrapmode="CHAR"
        )
        self.ln(gap)

    def pairs(self, rows: Iterable[tuple[str, str]]) -> None:
        for label, value in rows:
            self.set_font(self.family, "B", 9)
            self.cell(42, 5, self.clean(label))
            self.set_font(self.family, "", 9)
            self.multi_cell(0, 5, self.clean(value or "-"), align="L", new_x=XPos.LMARGIN, new_y=YPos.NEXT)


def unicode_fonts() -> tuple[Path, Path] | None:
    """The first Unicode font pair found on this machine, or None."""
    return next(((regular, bold) for regular, bold in UNICODE_FONTS if regular.exists()), None)


def _hour(moment: datetime) -> str:
    return f"{moment:%Y-%m-%d %H:00} UTC"


def _yes_no(value: object) -> str:
    return {True: "yes", False: "no"}.get(value, "not said")  # type: ignore[call-overload]


def pdf(export: CaseExport) -> bytes:
    """The case file as a PDF: metadata, the report, the timeline, and the evidence list with SHA-256."""
    case = export.case
    document = _CasePdf(case.reference, unicode_fonts())
    document.set_title(f"Case {case.reference}")
    document.set_creator("Candour standards desk")
    document.set_author(document.clean(export.exported_by))
    document.set_creation_date(export.exported_at)
    document.add_page()
    document.heading(f"Case {case.reference}", 18)
    document.pairs(
        [
            ("Status", case.status),
            ("Priority", case.priority),
            ("Categories", ", ".join(case.categories)),
            ("Queues", ", ".join(case.queues)),
            ("Flags", ", ".join(case.flags)),
            ("Received", _hour(case.received_at)),
            ("Acknowledge by", f"{case.ack_due_at:%Y-%m-%d}"),
            ("Feedback by", f"{case.feedback_due_at:%Y-%m-%d}"),
            ("Assignee", case.assignee or "-"),
            ("Routing", f"policy v{case.policy_version}: {', '.join(case.matched_rules)}"),
            ("Exported", f"{_hour(export.exported_at)} by {export.exported_by}"),
        ]
    )
    if not document.unicode:
        document.para(
            "Characters outside Latin-1 are shown as '?' in this PDF; the JSON bundle holds the exact text.",
            size=8,
        )

    report = case.report
    document.heading("Report")
    document.para(str(report.get("narrative") or "(no narrative)"))
    document.pairs(
        [
            *((key.title(), str(report.get(key) or "")) for key in ("when", "where", "witnesses")),
            ("Ongoing", _yes_no(report.get("ongoing"))),
            ("Risk of harm", _yes_no(report.get("risk_of_harm"))),
            ("Reported before", _yes_no(report.get("reported_before"))),
        ]
    )
    subjects = report.get("subjects") or []
    if subjects:
        document.heading("People involved", 11)
        for person in subjects:
            if isinstance(person, dict):
                document.para("; ".join(f"{k}: {v}" for k, v in person.items() if v), size=9, gap=0.5)

    document.heading("Timeline")
    if not case.timeline:
        document.para("Nothing yet.")
    for entry in case.timeline:
        who = (entry.officer or "officer") if entry.author == "officer" else entry.author
        document.set_font(document.family, "B", 9)
        document.multi_cell(
            0,
            5,
            document.clean(f"{_hour(entry.at)}  ·  {entry.kind.replace('-', ' ')}  ·  {who}"),
            new_x=XPos.LMARGIN,
            new_y=YPos.NEXT,
        )
        if entry.text:
            document.para(entry.text, size=9, gap=2)
        else:
            document.ln(2)

    document.heading("Evidence files")
    if not export.files:
        document.para("None.")
    for f in export.files:
        kept = ", original metadata kept" if f.listing.metadata_kept else ""
        document.para(
            f"{f.listing.seq:03d}  {f.listing.filename}  ({f.listing.media_type}, {len(f.body)} bytes{kept})",
            size=9,
            gap=0,
        )
        if f.listing.caption:
            # What the reporter wrote with the file belongs beside it, as in the bundle's manifest.
            document.para(f"Caption: {f.listing.caption}", size=9, gap=0)
        document.set_font("courier", "", 8)
        document.multi_cell(0, 4, f"SHA-256 {f.sha256}", new_x=XPos.LMARGIN, new_y=YPos.NEXT)
        document.ln(1.5)
    return bytes(document.output())
