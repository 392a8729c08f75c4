"""docs/evidence.md and docs/operations.md cannot fall behind the code.

Why: the honest list of what cleaning leaves behind is read by people deciding whether to trust Candour
with a photo. It is printed from each format's `cannot_clean` list; a format added, a media type added or
a line changed in the code without the page following would tell them something untrue. Likewise every
cleaner setting an operator can set must be in the runbook.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from bot.evidence.model import Format
from bot.evidence.registry import ALL
from candour.settings import Settings

ROOT = Path(__file__).resolve().parent.parent
EVIDENCE_PAGE = ROOT / "docs" / "evidence.md"
OPERATIONS_PAGE = ROOT / "docs" / "operations.md"


def _flat(text: str) -> str:
    """Text with every run of white space as one space, so a line wrapped in Markdown still matches."""
    return re.sub(r"\s+", " ", text)


def _format_ids() -> list[str]:
    return [f"{type(fmt).__module__.rsplit('.', 1)[-1]}.{type(fmt).__name__}" for fmt in ALL]


def test_the_registry_has_formats_to_document() -> None:
    assert len(ALL) >= 20
    assert all(fmt.media_types and fmt.cannot_clean for fmt in ALL)


@pytest.mark.parametrize("fmt", ALL, ids=_format_ids())
def test_every_media_type_a_format_cleans_is_on_the_evidence_page(fmt: Format) -> None:
    page = EVIDENCE_PAGE.read_text(encoding="utf-8")
    missing = [media_type for media_type in fmt.media_types if f"`{media_type}`" not in page]
    assert missing == [], f"docs/evidence.md does not name these media types: {missing}"


@pytest.mark.parametrize("fmt", ALL, ids=_format_ids())
def test_every_cannot_clean_line_is_on_the_evidence_page_verbatim(fmt: Format) -> None:
    page = _flat(EVIDENCE_PAGE.read_text(encoding="utf-8"))
    missing = [line for line in fmt.cannot_clean if f"- {_flat(line)}" not in page]
    assert missing == [], f"docs/evidence.md does not list what {type(fmt).__name__} leaves: {missing}"


def test_the_measured_section_is_marked_for_the_benchmark() -> None:
    page = EVIDENCE_PAGE.read_text(encoding="utf-8")
    assert "## Measured" in page
    assert "benchmarks/evidence_clean.py" in page.split("## Measured", 1)[1]


def test_every_cleaner_setting_is_in_the_operations_runbook() -> None:
    fields = [name for name in Settings.model_fields if name.startswith("cleaner_")]
    assert len(fields) >= 5
    runbook = OPERATIONS_PAGE.read_text(encoding="utf-8")
    missing = [f"CANDOUR_{name.upper()}" for name in fields if f"`CANDOUR_{name.upper()}`" not in runbook]
    assert missing == [], f"docs/operations.md does not document: {missing}"
