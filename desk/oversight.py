"""Oversight in the desk: the auditor's view of the audit log with its chain verified on screen against
the newest signed checkpoint (case-bound entries withheld, one case shown at a time on request, and the
look audited), and the dashboard of clear-metadata statistics counted over the cases the viewer is not
conflicted out of, with small numbers suppressed. Pages and JSON API side by side."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

from fastapi import APIRouter, Depends, Form, Query, Request
from fastapi.responses import Response

from desk import views
from desk.api import ERRORS
from desk.deps import Auditor, DashboardViewer, State, check_csrf
from desk.pages import render
from desk.schemas import (
    AuditCaseIn,
    AuditPageOut,
    AuditRowOut,
    CellOut,
    ChainOut,
    CheckpointOut,
    DashboardOut,
    RateOut,
)
from desk.sessions import DeskSession
from storage import audit_view, dashboard

api_router = APIRouter(prefix="/api", dependencies=[Depends(check_csrf)], responses=ERRORS)
page_router = APIRouter(dependencies=[Depends(check_csrf)], include_in_schema=False)

Before = Annotated[int | None, Query(ge=1)]
Action = Annotated[str, Query(max_length=48)]


def _page_out(result: audit_view.AuditPage, reference: str | None = None) -> AuditPageOut:
    return AuditPageOut(
        entries=[AuditRowOut(**row.__dict__) for row in result.rows],
        next_before=result.next_before,
        reference=reference,
    )


async def _audit_page(state: State, before: int | None, action: str, limit: int = 100) -> AuditPageOut:
    """The log with every case-bound entry withheld (storage.audit_view)."""
    return _page_out(await audit_view.page(state.vault, before=before, action=action or None, limit=limit))


async def _audit_case(state: State, session: DeskSession, reference: str) -> AuditPageOut:
    """One case's entries in full, recorded in the log; a conflicted viewer gets the 404 of no such case."""
    result = await audit_view.reveal(state.vault, viewer=session.officer_id, reference=reference)
    return _page_out(result, reference=next((r.reference for r in result.rows if r.reference), None))


async def _chain(state: State) -> ChainOut:
    """The chain checked against the newest signed checkpoints, and which ones (the desk only reads
    them: the checkpoint timer and `candour audit verify` write them)."""
    result = await audit_view.verify(
        state.vault, keys_dir=state.config.keys_dir, checkpoint_dir=state.config.checkpoint_dir
    )
    report = result.chain
    return ChainOut(
        ok=result.ok,
        entries=report.entries,
        head_hash=report.head_hash,
        first_broken=report.first_broken,
        reason=report.reason,
        checked_against=[
            CheckpointOut(source=Path(a.source).name, checkpoint=a.n, entry=a.seq, hour=a.at, key=a.key)
            for a in result.against
        ],
        checkpoint_problem=result.problem,
    )


def _dashboard_out(data: dashboard.Dashboard) -> DashboardOut:
    def cells(items: tuple[dashboard.Cell, ...]) -> list[CellOut]:
        return [CellOut(label=c.label, count=c.shown) for c in items]

    def rate(value: dashboard.Rate) -> RateOut:
        cases = dashboard.SUPPRESSED if value.of is None else str(value.of)
        return RateOut(percent=value.percent, cases=cases)

    return DashboardOut(
        cases=dashboard.SUPPRESSED if data.cases is None else str(data.cases),
        by_category=cells(data.by_category),
        by_unit=cells(data.by_unit),
        by_month=cells(data.by_month),
        acknowledged_in_time=rate(data.acknowledged_in_time),
        feedback_in_time=rate(data.feedback_in_time),
        median_hours_to_acknowledge=data.median_hours_to_acknowledge,
    )


@api_router.get("/audit", summary="The audit log, newest first, case-bound entries withheld (auditors)")
async def audit_entries(
    _auditor: Auditor,
    state: State,
    before: Before = None,
    action: Action = "",
    limit: Annotated[int, Query(ge=1, le=audit_view.MAX_PAGE)] = 100,
) -> AuditPageOut:
    return await _audit_page(state, before, action, limit)


@api_router.post(
    "/audit/case",
    summary="Every entry of one case in full, by its reference; the look (or a refusal) is itself audited "
    "(auditors)",
)
async def audit_case(auditor: Auditor, state: State, body: AuditCaseIn) -> AuditPageOut:
    return await _audit_case(state, auditor, body.reference)


@api_router.get(
    "/audit/verify",
    summary="Check the whole hash chain against the newest signed checkpoints, as `candour audit verify` "
    "does (auditors)",
)
async def audit_verify(_auditor: Auditor, state: State) -> ChainOut:
    return await _chain(state)


@api_router.get("/dashboard", summary="Statistics from clear metadata; counts under 5 shown as '<5'")
async def dashboard_data(viewer: DashboardViewer, state: State) -> DashboardOut:
    return _dashboard_out(await dashboard.build(state.vault, viewer=viewer.officer_id))


@page_router.get("/audit")
async def audit_page(
    request: Request, session: Auditor, state: State, before: Before = None, action: Action = ""
) -> Response:
    return render(
        state,
        request,
        "audit.html",
        session,
        page=await _audit_page(state, before, action),
        chain=await _chain(state),
        query={"action": action},
        labels=await views.labels(state),
    )


@page_router.post("/audit/case")
async def audit_case_page(
    request: Request,
    session: Auditor,
    state: State,
    reference: Annotated[str, Form(max_length=16)] = "",
) -> Response:
    return render(
        state,
        request,
        "audit.html",
        session,
        page=await _audit_case(state, session, reference),
        chain=await _chain(state),
        query={"action": ""},
        labels=await views.labels(state),
    )


@page_router.get("/dashboard")
async def dashboard_page(request: Request, session: DashboardViewer, state: State) -> Response:
    return render(
        state,
        request,
        "dashboard.html",
        session,
        data=_dashboard_out(await dashboard.build(state.vault, viewer=session.officer_id)),
        labels=await views.labels(state),
    )
