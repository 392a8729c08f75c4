"""The evidence fixture corpus: every format issue 10 names, each built here in code (no binaries checked
in) with identifying values planted in every place that format can hide them.

`FIXTURES` lists every fixture; `ISSUE_FORMATS` is the issue's list of formats, which the corpus must
cover; `NOT_CLEANABLE` names the fixtures whose type docs/evidence.md says Candour cannot clean (none).

One module per family builds its files (images, pdf, office, odf, media) from the planted values in
`values`; `exiftool` drives Debian's exiftool, which plants what the libraries cannot and reads files
back; `pieces` and `witness` are the test's own unpacker and search, independent of bot.evidence.
"""

from __future__ import annotations

from tests.evidence_corpus import images, media, odf, office, pdf
from tests.evidence_corpus.plants import BYTES, EXIFTOOL, Built, Fixture, Plant, Workshop

ISSUE_FORMATS = (
    "JPEG",
    "PNG",
    "GIF",
    "WebP",
    "TIFF",
    "HEIC",
    "PDF",
    "DOCX",
    "XLSX",
    "PPTX",
    "ODT",
    "ODS",
    "MP4",
    "MOV",
    "3GP",
    "WebM",
    "M4A",
    "Ogg Opus",
    "MP3",
    "FLAC",
)

FIXTURES: tuple[Fixture, ...] = (
    *images.FIXTURES,
    *pdf.FIXTURES,
    *office.FIXTURES,
    *odf.FIXTURES,
    *media.FIXTURES,
)

# Fixture name -> why its type cannot be cleaned, as docs/evidence.md says. Empty: every type is cleaned.
NOT_CLEANABLE: dict[str, str] = {}

__all__ = [
    "BYTES",
    "EXIFTOOL",
    "FIXTURES",
    "ISSUE_FORMATS",
    "NOT_CLEANABLE",
    "Built",
    "Fixture",
    "Plant",
    "Workshop",
]
