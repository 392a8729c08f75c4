"""Case exports from the desk, on SQLite and PostgreSQL: the PDF parses and holds the report, the timeline
and every file's SHA-256; the zip's files match the SHA-256 it lists; both are downloads that are never
cached; an officer of another queue gets 404; and every export is in the audit log."""

from __future__ import annotations

import hashlib
import io
import json
import zipfile
from collections.abc import AsyncIterator

import pytest
from fastapi import FastAPI
from pypdf import PdfReader
from sqlmodel import col, select

from candour.app import desk_config
from desk.app import build_app
from storage import cases
from storage.models import AuditEntry
from storage.vault import Vault
from tests.desk_world import DeskClient
from tests.test_desk_api import PNG, actions, signed_in, submit

NARRATIVE = "The sergeant mocked Constable Żaneta's accent at the 7 o'clock briefing — again."


@pytest.fixture
def desk_app(vault: Vault, settings) -> FastAPI:
    return build_app(vault, desk_config(settings))


@pytest.fixture
async def clients(desk_app: FastAPI) -> AsyncIterator[list[DeskClient]]:
    made: list[DeskClient] = []
    yield made
    for client in made:
        await client.http.aclose()


def _pdf_text(content: bytes) -> str:
    return "\n".join(page.extract_text() or "" for page in PdfReader(io.BytesIO(content)).pages)


def _is_download(response, media_type: str, filename: str) -> None:
    assert response.status_code == 200, response.text[:300]
    assert response.headers["content-type"] == media_type
    assert response.headers["content-disposition"] == f'attachment; filename="{filename}"'
    assert "no-store" in response.headers["cache-control"]


async def test_pdf_and_bundle_hold_the_case_and_are_audited(
    vault: Vault, desk_app, clock, clients, make_officer
) -> None:
    await make_officer("carol", queues=("psd-conduct",), unit="professional-standards")
    result = await submit(vault, narrative=NARRATIVE)
    carol = await signed_in(desk_app, vault, clock, clients, "carol")
    ref = result.reference
    assert (await carol.post(f"/api/cases/{ref}/notes", {"text": "Spoke to the duty inspector."})).is_success
    assert (await carol.post(f"/api/cases/{ref}/messages", {"text": "Who else was there?"})).is_success
    assert (await carol.post(f"/api/cases/{ref}/status", {"status": "acknowledged"})).is_success

    page = await carol.get(f"/cases/{ref}")
    assert f'href="/cases/{ref}/export.pdf"' in page.text and f'href="/cases/{ref}/export.zip"' in page.text

    for prefix in ("/api", ""):
        response = await carol.get(f"{prefix}/cases/{ref}/export.pdf")
        _is_download(response, "application/pdf", f"{ref}.pdf")
        text = " ".join(_pdf_text(response.content).split())
        assert ref in text
        assert "mocked Constable Żaneta's accent" in text
        assert "Spoke to the duty inspector." in text and "Who else was there?" in text
        assert "acknowledged" in text.lower()
        assert hashlib.sha256(PNG).hexdigest() in text and "shot.png" in text

    response = await carol.get(f"/api/cases/{ref}/export.zip")
    _is_download(response, "application/zip", f"{ref}.zip")
    archive = zipfile.ZipFile(io.BytesIO(response.content))
    document = json.loads(archive.read(f"{ref}/case.json"))
    assert document["case"]["reference"] == ref
    assert document["case"]["report"]["narrative"] == NARRATIVE
    kinds = [entry["kind"] for entry in document["case"]["timeline"]]
    assert {"note", "officer-message", "status-notice"} <= set(kinds)
    assert {f["filename"] for f in document["files"]} == {"shot.png", "notes.html"}
    for listed in document["files"]:
        body = archive.read(f"{ref}/{listed['path']}")
        assert hashlib.sha256(body).hexdigest() == listed["sha256"] == listed["sha256_at_submission"]
        assert len(body) == listed["size"]
    assert (
        archive.read(f"{ref}/{next(f['path'] for f in document['files'] if f['filename'] == 'shot.png')}")
        == PNG
    )
    sums = archive.read(f"{ref}/SHA256SUMS").decode().splitlines()
    for line in sums:
        digest, name = line.split("  ")
        assert hashlib.sha256(archive.read(f"{ref}/{name}")).hexdigest() == digest
    assert len(sums) == 3
    assert (await carol.get(f"/cases/{ref}/export.zip")).status_code == 200

    async with vault.db.reading() as session:
        exports = (
            await session.exec(
                select(AuditEntry).where(AuditEntry.action == "case.exported").order_by(col(AuditEntry.seq))
            )
        ).all()
    assert [(e.actor, e.case_id, e.detail["form"]) for e in exports] == [
        ("officer:carol", result.case_id, form) for form in ("pdf", "pdf", "bundle", "bundle")
    ]


async def test_export_of_a_case_in_another_queue_is_404_and_not_audited(
    vault: Vault, desk_app, clock, clients, make_officer
) -> None:
    await make_officer("dave", queues=("psd-counter-corruption",), unit="professional-standards")
    result = await submit(vault)
    dave = await signed_in(desk_app, vault, clock, clients, "dave")
    for path in (
        f"/api/cases/{result.reference}/export.pdf",
        f"/api/cases/{result.reference}/export.zip",
        f"/cases/{result.reference}/export.pdf",
        f"/cases/{result.reference}/export.zip",
        "/api/cases/CN-NOSUCH00/export.zip",
    ):
        assert (await dave.get(path)).status_code == 404, path
    assert not {"case.exported", "case.opened"} & set(await actions(vault))


async def test_export_needs_an_unlocked_key(vault: Vault, desk_app, clock, clients, make_officer) -> None:
    await make_officer("carol", queues=("psd-conduct",), unit="professional-standards")
    result = await submit(vault)
    carol = await signed_in(desk_app, vault, clock, clients, "carol", unlock=False)
    assert (await carol.get(f"/api/cases/{result.reference}/export.pdf")).status_code == 403
    assert "case.exported" not in await actions(vault)


def test_pdf_without_a_unicode_font_still_renders(monkeypatch: pytest.MonkeyPatch) -> None:
    from datetime import UTC, datetime

    from desk import export
    from desk.schemas import CaseOut

    monkeypatch.setattr(export, "UNICODE_FONTS", ())
    moment = datetime(2026, 11, 2, 9, tzinfo=UTC)
    case = CaseOut(
        reference="CN-TEST0001",
        status="received",
        priority="normal",
        categories=["racism"],
        flags=[],
        queues=["psd-conduct"],
        received_at=moment,
        ack_due_at=moment,
        feedback_due_at=moment,
        policy_version=1,
        matched_rules=["r1"],
        assignee=None,
        report={"narrative": "Café talk — 仕事 \x07 \u202e reversed"},
        files=[],
        timeline=[],
        pending_escalations=[],
    )
    content = export.pdf(export.CaseExport(case=case, files=(), exported_by="carol", exported_at=moment))
    text = _pdf_text(content)
    assert "Café talk" in text and "JSON bundle holds the exact text" in " ".join(text.split())


def test_pdf_logs_no_case_content(caplog: pytest.LogCaptureFixture) -> None:
    from datetime import UTC, datetime

    from desk import export
    from desk.schemas import CaseOut

    moment = datetime(2026, 11, 2, 9, tzinfo=UTC)
    case = CaseOut(
        reference="CN-TEST0002",
        status="received",
        priority="normal",
        categories=[],
        flags=[],
        queues=[],
        received_at=moment,
        ack_due_at=moment,
        feedback_due_at=moment,
        policy_version=1,
        matched_rules=[],
        assignee=None,
        report={"narrative": "仕事 \U0010ffff"},
        files=[],
        timeline=[],
        pending_escalations=[],
    )
    with caplog.at_level("DEBUG"):
        export.pdf(export.CaseExport(case=case, files=(), exported_by="carol", exported_at=moment))
    assert not any("仕" in r.getMessage() or "\\u4ed5" in r.getMessage() for r in caplog.records)


async def test_pdf_shows_each_files_caption(vault: Vault, desk_app, clock, clients, make_officer) -> None:
    """The caption the reporter wrote with a file is in the PDF beside that file, as in the zip manifest."""
    await make_officer("carol", queues=("psd-conduct",), unit="professional-standards")
    caption = "The rota he changed after I complained — Żaneta saw it"
    result = await submit(
        vault,
        evidence=(
            cases.Evidence(
                filename="rota.png", media_type="image/png", content=PNG, caption=caption, metadata_kept=False
            ),
            cases.Evidence(
                filename="plain.txt", media_type="text/plain", content=b"no caption here", metadata_kept=False
            ),
        ),
    )
    carol = await signed_in(desk_app, vault, clock, clients, "carol")
    response = await carol.get(f"/api/cases/{result.reference}/export.pdf")
    _is_download(response, "application/pdf", f"{result.reference}.pdf")
    text = " ".join(_pdf_text(response.content).split())
    evidence = text.split("Evidence files", 1)[1]
    assert caption in evidence, evidence
    # Beside its own file: after rota.png's line, before the next file's.
    assert evidence.index("rota.png") < evidence.index(caption) < evidence.index("plain.txt")
    bundle = json.loads(
        zipfile.ZipFile(
            io.BytesIO((await carol.get(f"/api/cases/{result.reference}/export.zip")).content)
        ).read(f"{result.reference}/case.json")
    )
    assert [f.get("caption") for f in bundle["files"]] == [caption, ""]
