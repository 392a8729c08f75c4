"""The desk's JSON API under /api/: what the web pages do, for scripts and `candour desk`.

Authentication is the same session cookie as the pages; every POST also carries the session's CSRF
token in X-CSRF-Token (before sign-in, the token of the pre-sign-in cookie from GET /api/session/csrf).
"""

from __future__ import annotations

import asyncio
import base64
from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request, Response

from desk import export, views
from desk.deps import (
    AnySession,
    CaseworkSession,
    QueueLead,
    State,
    Unlocked,
    UnlockRequired,
    check_csrf,
)
from desk.schemas import (
    AssignIn,
    CaseOut,
    CsrfOut,
    DoneOut,
    ErrorOut,
    EscalationIn,
    ExportIn,
    GrantIn,
    LinkCodeOut,
    QueuePageOut,
    ReferIn,
    SessionOut,
    SignInIn,
    StatusIn,
    TextIn,
    TotpBeginOut,
    TotpConfirmIn,
    UnlockIn,
)
from desk.security import new_token
from desk.sessions import MAX_UNLOCK_FAILURES, DeskSession
from storage import case_desk, casework, desk_accounts, desk_devices, officers, queue_view
from storage.errors import InputError, InvalidPassphraseError, ThrottledError
from storage.officers import UnlockedOfficer

ERRORS: dict[int | str, dict[str, object]] = {
    400: {"model": ErrorOut, "description": "Bad input; nothing was changed"},
    401: {"model": ErrorOut, "description": "Not signed in, or wrong credentials"},
    403: {"model": ErrorOut, "description": "Refused: role, second factor, unlock or CSRF token"},
    404: {"model": ErrorOut, "description": "No such case that you can open"},
    409: {"model": ErrorOut, "description": "Conflict of interest or workflow conflict"},
    # Why documented here: FastAPI would otherwise document its own 422 shape (detail as a list), while
    # the desk answers a malformed body with the same one-message shape as every other error.
    422: {"model": ErrorOut, "description": "A malformed body; nothing was changed"},
    429: {"model": ErrorOut, "description": "Too many attempts"},
}

router = APIRouter(prefix="/api", dependencies=[Depends(check_csrf)], responses=ERRORS)


def _session_out(state: State, session: DeskSession) -> SessionOut:
    return SessionOut(
        login=session.login,
        display_name=session.display_name,
        roles=list(session.roles),
        totp_enrolled=session.totp_enrolled,
        totp_required=state.config.require_totp,
        unlocked=session.unlocked is not None,
        csrf_token=session.csrf,
    )


def set_session_cookie(state: State, response: Response, token: str) -> None:
    response.set_cookie(
        state.cookies.session,
        token,
        httponly=True,
        secure=state.cookies.secure,
        samesite="strict",
        path="/",
    )


def set_csrf_cookie(state: State, response: Response, token: str) -> None:
    response.set_cookie(
        state.cookies.csrf, token, httponly=True, secure=state.cookies.secure, samesite="strict", path="/"
    )


def set_device_cookie(state: State, response: Response, token: str) -> None:
    """The browser's device cookie, kept across sessions for as long as the device counts."""
    response.set_cookie(
        state.cookies.device,
        token,
        max_age=int(state.lockout.device_lifetime.total_seconds()),
        httponly=True,
        secure=state.cookies.secure,
        samesite="strict",
        path="/",
    )


async def sign_in_from(
    state: State, request: Request, *, login: str, password: str, code: str | None
) -> tuple[DeskSession, str]:
    """Throttle, then check a sign-in from this request's client and device cookie (pages and API alike);
    (the session, the new device token). ThrottledError or SignInRefusedError if refused.

    Why the throttle counts a valid device on its own: a stranger sharing the officer's address would
    otherwise fill the address's minute for her. Why that is no way around it: only a device the login
    holds now gets its own bucket, and its failures revoke it (storage.desk_devices).
    """
    client, device = client_address(request), request.cookies.get(state.cookies.device)
    normalised = login.strip().lower()
    holds = await desk_devices.holds(state.vault, token=device, login=normalised)
    bucket = f"device:{desk_devices.tag(state.vault, device).hex()}" if holds and device else client
    if not state.throttle.allow(bucket):
        raise ThrottledError("too many sign-in attempts from here: wait a minute")
    return await views.sign_in(state, login=login, password=password, code=code, client=client, device=device)


def client_address(request: Request) -> str:
    """The client's address as the desk sees it: the socket's peer, or, when that peer is one of
    desk_trusted_proxies, the client it forwarded for (desk.app; see docs/desk.md)."""
    return request.client.host if request.client else "unknown"


@router.get("/session/csrf", summary="A pre-sign-in CSRF token (also set as a cookie)")
async def pre_sign_in_token(request: Request, response: Response, state: State) -> CsrfOut:
    token = request.cookies.get(state.cookies.csrf) or new_token()
    set_csrf_cookie(state, response, token)
    return CsrfOut(csrf_token=token)


@router.post("/session", summary="Sign in with login, password and (once enrolled) TOTP code")
async def create_session(body: SignInIn, request: Request, response: Response, state: State) -> SessionOut:
    session, device = await sign_in_from(
        state, request, login=body.login, password=body.password, code=body.code
    )
    set_session_cookie(state, response, session.token)
    set_device_cookie(state, response, device)
    return _session_out(state, session)


@router.get("/session", summary="Who is signed in")
async def read_session(session: AnySession, state: State) -> SessionOut:
    return _session_out(state, session)


@router.post("/session/logout", summary="Sign out: the unlocked key is dropped")
async def delete_session(session: AnySession, response: Response, state: State) -> DoneOut:
    state.sessions.drop(session.token)
    response.delete_cookie(state.cookies.session, path="/", secure=state.cookies.secure, samesite="strict")
    return DoneOut(message="signed out")


@router.post("/session/unlock", summary="Unlock your private key with your passphrase, for this session only")
async def unlock(body: UnlockIn, session: CaseworkSession, state: State) -> SessionOut:
    await unlock_session(state, session, body.passphrase)
    return _session_out(state, session)


async def unlock_session(state: State, session: DeskSession, passphrase: str) -> None:
    """Open the officer's key into the session; too many wrong passphrases end the session."""
    try:
        session.unlocked = await officers.unlock(state.vault, login=session.login, passphrase=passphrase)
    except InvalidPassphraseError:
        session.unlock_failures += 1
        if session.unlock_failures >= MAX_UNLOCK_FAILURES:
            state.sessions.drop(session.token)
            raise InvalidPassphraseError("wrong passphrase too often: signed out") from None
        raise InvalidPassphraseError("wrong passphrase") from None
    session.unlock_failures = 0


@router.post("/account/totp/begin", summary="Start enrolling a second factor: a new secret to scan")
async def totp_begin(session: AnySession) -> TotpBeginOut:
    secret = begin_enrolment(session)
    return TotpBeginOut(secret=totp_base32(secret), uri=desk_accounts.totp_uri(secret, login=session.login))


def begin_enrolment(session: DeskSession) -> bytes:
    if session.totp_enrolled:
        raise InputError("a second factor is already enrolled; an operator can reset it")
    if session.pending_totp is None:
        session.pending_totp = desk_accounts.new_totp_secret()
    return session.pending_totp


def totp_base32(secret: bytes) -> str:
    return base64.b32encode(secret).decode("ascii").rstrip("=")


@router.post("/account/totp/confirm", summary="Finish enrolling: type the code the app shows")
async def totp_confirm(body: TotpConfirmIn, session: AnySession, state: State) -> SessionOut:
    await confirm_enrolment(state, session, body.code, body.enrolment_code)
    return _session_out(state, session)


async def confirm_enrolment(state: State, session: DeskSession, code: str, enrolment_code: str) -> None:
    if session.pending_totp is None:
        raise InputError("start enrolment first")
    await desk_accounts.enrol_totp(
        state.vault,
        officer_id=session.officer_id,
        secret=session.pending_totp,
        code=code,
        enrolment_code=enrolment_code,
    )
    session.pending_totp = None
    session.totp_enrolled = True


@router.post(
    "/account/telegram-link",
    summary="A one-time code (15 minutes) to link your own work Telegram account for content-free notices",
)
async def telegram_link(session: CaseworkSession, state: State) -> LinkCodeOut:
    return await views.link_code(state, session=session)


@router.get("/cases", summary="My queue: cases I hold a key for, newest first, paged by cursor")
async def list_cases(
    session: CaseworkSession,
    state: State,
    status: Annotated[str | None, Query(max_length=24)] = None,
    priority: Annotated[str | None, Query(max_length=12)] = None,
    category: Annotated[str | None, Query(max_length=64)] = None,
    reference: Annotated[str | None, Query(max_length=16)] = None,
    mine: bool = False,
    sort: Annotated[str, Query(max_length=24)] = queue_view.DEFAULT_SORT,
    cursor: Annotated[str | None, Query(max_length=400)] = None,
    limit: Annotated[int, Query(ge=1, le=queue_view.MAX_PAGE)] = 50,
) -> QueuePageOut:
    result = await queue_view.page(
        state.vault,
        officer_id=session.officer_id,
        filters=queue_view.QueueFilter(
            status=status or None,
            priority=priority or None,
            category=category or None,
            reference=reference or None,
            assigned_to_me=mine,
        ),
        sort=sort,
        cursor=cursor or None,
        limit=limit,
    )
    return views.queue_rows(state, result)


@router.get("/cases/{reference}", summary="A case, decrypted (audited)")
async def read_case(reference: str, officer: Unlocked, state: State) -> CaseOut:
    return await views.case_document(state, officer=officer, reference=reference, api=True)


@router.get(
    "/cases/{reference}/files/{item_id}",
    summary="One evidence file, decrypted (audited); always an attachment",
    response_class=Response,
    # The file goes with the media type it was submitted with (any type).
    responses={200: {"content": {"*/*": {}}}},
)
async def read_file(reference: str, item_id: str, officer: Unlocked, state: State) -> Response:
    return await views.file_response(state, officer=officer, reference=reference, item_id=item_id)


@router.post(
    "/cases/{reference}/status", summary="Acknowledge, investigate or close (closing needs an outcome)"
)
async def set_status(reference: str, body: StatusIn, officer: Unlocked, state: State) -> DoneOut:
    status = await views.change_status(
        state, officer=officer, reference=reference, status=body.status, outcome=body.outcome
    )
    return DoneOut(message=f"{reference.upper()} is now {status}", detail={"status": status})


@router.post("/cases/{reference}/assign", summary="Assign the case (login null unassigns)")
async def assign(reference: str, body: AssignIn, officer: Unlocked, state: State) -> DoneOut:
    login = await case_desk.assign(
        state.vault, officer=officer, reference=reference, login=body.login or None
    )
    return DoneOut(message=f"assigned to {login}" if login else "unassigned", detail={"assignee": login})


@router.post("/cases/{reference}/notes", summary="Add a sealed internal note (never shown to the reporter)")
async def add_note(reference: str, body: TextIn, officer: Unlocked, state: State) -> DoneOut:
    item = await casework.add_note(state.vault, officer=officer, reference=reference, text=body.text)
    return DoneOut(message="note added", detail={"item": item})


@router.post("/cases/{reference}/messages", summary="Message the reporter (the bot delivers it anonymously)")
async def message_reporter(reference: str, body: TextIn, officer: Unlocked, state: State) -> DoneOut:
    item = await casework.message_reporter(state.vault, officer=officer, reference=reference, text=body.text)
    return DoneOut(message="message queued for the reporter", detail={"item": item})


@router.post("/cases/{reference}/refer", summary="Refer to another queue (never the subject's unit)")
async def refer(reference: str, body: ReferIn, officer: Unlocked, state: State) -> DoneOut:
    granted = await casework.refer(
        state.vault, officer=officer, reference=reference, queue_id=body.queue, reason=body.reason
    )
    return DoneOut(message=f"referred to {body.queue}", detail={"granted": list(granted)})


@router.post(
    "/cases/{reference}/escalation",
    summary="Give the members of a queue the case was escalated to its key (never a named subject)",
)
async def grant_escalation(reference: str, body: EscalationIn, officer: Unlocked, state: State) -> DoneOut:
    granted = await casework.grant_escalation(
        state.vault, officer=officer, reference=reference, queue_id=body.queue
    )
    return DoneOut(
        message=f"{len(granted)} officer(s) of {body.queue} can now open it"
        if granted
        else f"every officer of {body.queue} who may receive it could already open it",
        detail={"granted": list(granted)},
    )


@router.post("/cases/{reference}/grant", summary="Give one more officer access (queue leads)")
async def grant(reference: str, body: GrantIn, lead: QueueLead, state: State) -> DoneOut:
    if lead.unlocked is None:
        raise UnlockRequired()
    granted = await casework.grant(state.vault, granter=lead.unlocked, reference=reference, login=body.login)
    return DoneOut(
        message=f"granted to {body.login}" if granted else f"{body.login} could already open it",
        detail={"granted": granted},
    )


PDF = "application/pdf"
ZIP = "application/zip"


@router.get(
    "/cases/{reference}/export.pdf",
    summary="The case file as a PDF: report, timeline, evidence list with SHA-256 (audited)",
    response_class=Response,
    responses={200: {"content": {PDF: {}}}},
)
async def export_pdf(reference: str, officer: Unlocked, state: State) -> Response:
    return await export_case(state, officer, reference, "pdf")


@router.get(
    "/cases/{reference}/export.zip",
    summary="The case as a zip: case.json, the evidence files and their SHA-256 (audited)",
    response_class=Response,
    responses={200: {"content": {ZIP: {}}}},
)
async def export_bundle(reference: str, officer: Unlocked, state: State) -> Response:
    return await export_case(state, officer, reference, "bundle")


async def export_case(state: State, officer: UnlockedOfficer, reference: str, form: str) -> Response:
    """Decrypt, audit and send one export (shared with the pages)."""
    taken = await views.case_export(state, officer=officer, reference=reference, form=form)
    # The event loop keeps serving while the document is drawn (a long case takes a moment).
    if form == "pdf":
        content = await asyncio.to_thread(export.pdf, taken)
        return views.export_response(content, media_type=PDF, filename=f"{taken.case.reference}.pdf")
    content = await asyncio.to_thread(export.bundle, taken)
    return views.export_response(content, media_type=ZIP, filename=f"{taken.case.reference}.zip")


@router.post("/cases/{reference}/exported", summary="Record that you took a decrypted copy (audited)")
async def exported(reference: str, body: ExportIn, officer: Unlocked, state: State) -> DoneOut:
    await case_desk.record_export(state.vault, officer=officer, reference=reference, form=body.form)
    return DoneOut(message="export recorded")
