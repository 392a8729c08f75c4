"""The desk's web pages: server-rendered forms over the same services as the JSON API.

Every form posts its CSRF token in a hidden field; every action ends in a redirect (post/redirect/get)
with a one-line confirmation, or in an error page saying what was wrong and that nothing changed.
"""

from __future__ import annotations

import io
from typing import Annotated, Any

import segno
from fastapi import APIRouter, Depends, Form, Query, Request
from fastapi.responses import HTMLResponse, PlainTextResponse, RedirectResponse, Response

from desk import views
from desk.api import (
    begin_enrolment,
    confirm_enrolment,
    export_case,
    set_csrf_cookie,
    set_device_cookie,
    set_session_cookie,
    sign_in_from,
    totp_base32,
    unlock_session,
)
from desk.deps import (
    AUDITOR,
    DASHBOARD_ROLES,
    AnySession,
    CaseworkSession,
    QueueLead,
    State,
    Unlocked,
    UnlockRequired,
    check_csrf,
    optional_session,
)
from desk.labels import Labels
from desk.security import CSRF_FIELD, new_token
from desk.sessions import DeskSession
from storage import case_desk, casework, desk_accounts, queue_view
from storage.casework import CASEWORK_ROLES, QUEUE_LEAD
from storage.desk_accounts import SignInRefusedError
from storage.errors import InputError, InvalidPassphraseError, ThrottledError

router = APIRouter(dependencies=[Depends(check_csrf)], include_in_schema=False)
Text = Annotated[str, Form(max_length=100_000)]


def render(
    state: State,
    request: Request,
    template: str,
    session: DeskSession | None,
    status_code: int = 200,
    *,
    labels: Labels | None = None,
    **context: Any,
) -> HTMLResponse:
    """A page, with the session's one-time confirmation and the words for the ids it shows."""
    flash = None
    if session is not None:
        flash, session.flash = session.flash, None
    return state.templates.TemplateResponse(
        request,
        template,
        {
            "session": session,
            "csrf_field": CSRF_FIELD,
            "csrf": session.csrf if session else "",
            "flash": flash,
            "casework": session is not None and session.has_role(*CASEWORK_ROLES),
            "is_lead": session is not None and session.has_role(QUEUE_LEAD),
            "is_auditor": session is not None and session.has_role(AUDITOR),
            "sees_dashboard": session is not None and session.has_role(*DASHBOARD_ROLES),
            "labels": labels or Labels(),
            **context,
        },
        status_code=status_code,
    )


def back_to(path: str, session: DeskSession | None = None, flash: str | None = None) -> RedirectResponse:
    if session is not None and flash:
        session.flash = flash
    return RedirectResponse(path, status_code=303)


@router.get("/login")
async def login_page(
    request: Request, state: State, session: Annotated[DeskSession | None, Depends(optional_session)]
) -> Response:
    if session is not None:
        return back_to("/")
    return _login_form(request, state)


def _login_form(
    request: Request, state: State, *, error: str | None = None, login: str = "", status_code: int = 200
) -> Response:
    """The sign-in form, with what went wrong if an attempt was refused (never a dead-end page)."""
    token = request.cookies.get(state.cookies.csrf) or new_token()
    response = render(
        state, request, "login.html", None, status_code, pre_csrf=token, error=error, login=login
    )
    set_csrf_cookie(state, response, token)
    return response


@router.post("/login")
async def login(
    request: Request,
    state: State,
    login: Annotated[str, Form(max_length=200)],
    password: Annotated[str, Form(max_length=1024)],
    code: Annotated[str, Form(max_length=16)] = "",
) -> Response:
    try:
        session, device = await sign_in_from(
            state, request, login=login, password=password, code=code or None
        )
    except (SignInRefusedError, ThrottledError) as exc:
        # Why the same form and the vault's one answer: the officer can try again at once, and the
        # page still does not say which of login, password or code was wrong.
        status = 429 if isinstance(exc, ThrottledError) else 401
        return _login_form(request, state, error=str(exc), login=login[:64], status_code=status)
    if state.config.require_totp and not session.totp_enrolled:
        target = "/account/totp"
    elif session.has_role(*CASEWORK_ROLES):
        target = "/unlock"
    else:
        target = "/"
    response = back_to(target)
    set_session_cookie(state, response, session.token)
    set_device_cookie(state, response, device)
    return response


@router.post("/logout")
async def logout(session: AnySession, state: State) -> Response:
    state.sessions.drop(session.token)
    response = back_to("/login")
    response.delete_cookie(state.cookies.session, path="/", secure=state.cookies.secure, samesite="strict")
    return response


@router.get("/")
async def home(request: Request, session: AnySession, state: State) -> Response:
    if state.config.require_totp and not session.totp_enrolled:
        return back_to("/account/totp")
    if session.has_role(*CASEWORK_ROLES):
        return back_to("/queue" if session.unlocked else "/unlock")
    return render(state, request, "home.html", session)


@router.get("/account/totp")
async def totp_page(request: Request, session: AnySession, state: State) -> Response:
    if session.totp_enrolled:
        return render(state, request, "home.html", session, note="Your second factor is enrolled.")
    secret = begin_enrolment(session)
    return render(state, request, "totp.html", session, secret=totp_base32(secret))


@router.get("/account/totp/qr.svg")
async def totp_qr(session: AnySession) -> Response:
    secret = begin_enrolment(session)
    qr = segno.make(desk_accounts.totp_uri(secret, login=session.login), error="m")
    # A standalone document (served to <img>), so it needs its namespace, unlike segno's inline form.
    svg = io.BytesIO()
    qr.save(svg, kind="svg", scale=5, xmldecl=False, title="TOTP enrolment code")
    return Response(svg.getvalue(), media_type="image/svg+xml")


@router.post("/account/totp")
async def totp_confirm(
    request: Request,
    session: AnySession,
    state: State,
    code: Annotated[str, Form(max_length=16)],
    enrolment_code: Annotated[str, Form(max_length=64)] = "",
) -> Response:
    try:
        await confirm_enrolment(state, session, code, enrolment_code)
    except InputError as exc:
        if session.totp_enrolled:
            raise
        secret = totp_base32(begin_enrolment(session))
        return render(state, request, "totp.html", session, 400, secret=secret, error=str(exc))
    return back_to("/", session, "Second factor enrolled.")


@router.get("/account/telegram")
async def telegram_page(request: Request, session: CaseworkSession, state: State) -> Response:
    return render(state, request, "telegram.html", session, link=None, warning=views.LINK_WARNING)


@router.post("/account/telegram")
async def telegram_code(request: Request, session: CaseworkSession, state: State) -> Response:
    # Shown once, in this answer only: the code is stored as a keyed hash and cannot be shown again.
    link = await views.link_code(state, session=session)
    return render(state, request, "telegram.html", session, link=link, warning=views.LINK_WARNING)


@router.get("/unlock")
async def unlock_page(request: Request, session: CaseworkSession, state: State) -> Response:
    return render(state, request, "unlock.html", session)


@router.post("/unlock")
async def unlock(
    request: Request,
    session: CaseworkSession,
    state: State,
    passphrase: Annotated[str, Form(max_length=1024)],
) -> Response:
    try:
        await unlock_session(state, session, passphrase)
    except InvalidPassphraseError as exc:
        if state.sessions.get(session.token) is None:
            # Too many wrong passphrases ended the session: the next step is signing in again.
            return _login_form(request, state, error=str(exc), login=session.login, status_code=401)
        return render(state, request, "unlock.html", session, 401, error=str(exc))
    return back_to("/queue", session, "Key unlocked for this session.")


@router.get("/queue")
async def queue_page(
    request: Request,
    session: CaseworkSession,
    state: State,
    status: Annotated[str, Query(max_length=24)] = "",
    priority: Annotated[str, Query(max_length=12)] = "",
    category: Annotated[str, Query(max_length=64)] = "",
    reference: Annotated[str, Query(max_length=16)] = "",
    mine: bool = False,
    sort: Annotated[str, Query(max_length=24)] = queue_view.DEFAULT_SORT,
    cursor: Annotated[str, Query(max_length=400)] = "",
) -> Response:
    filters = queue_view.QueueFilter(
        status=status or None,
        priority=priority or None,
        category=category or None,
        reference=reference or None,
        assigned_to_me=mine,
    )
    result = await queue_view.page(
        state.vault, officer_id=session.officer_id, filters=filters, sort=sort, cursor=cursor or None
    )
    query = {
        "status": status,
        "priority": priority,
        "category": category,
        "reference": reference,
        "sort": sort,
    }
    if mine:
        query["mine"] = "true"
    return render(
        state,
        request,
        "queue.html",
        session,
        page=views.queue_rows(state, result),
        query=query,
        paged=bool(cursor),
        statuses=queue_view.STATUSES,
        priorities=("low", "normal", "high", "urgent"),
        sorts=tuple(queue_view.SORTS),
        labels=await views.labels(state),
    )


@router.get("/cases/{reference}")
async def case_page(
    request: Request, reference: str, officer: Unlocked, session: CaseworkSession, state: State
) -> Response:
    document = await views.case_document(state, officer=officer, reference=reference, api=False)
    return render(
        state,
        request,
        "case.html",
        session,
        case=document,
        prompts=await views.rule_prompts(state, document),
        inline_images=views.INLINE_IMAGES,
        transitions=casework.TRANSITIONS.get(document.status, ()),
        queues=await views.queue_choices(state),
        labels=await views.labels(state),
    )


@router.get("/cases/{reference}/files/{item_id}")
async def case_file(reference: str, item_id: str, officer: Unlocked, state: State) -> Response:
    """A download: audited as `case.file-opened`."""
    return await views.file_response(state, officer=officer, reference=reference, item_id=item_id)


@router.get("/cases/{reference}/files/{item_id}/preview")
async def case_file_preview(
    reference: str, item_id: str, request: Request, officer: Unlocked, state: State
) -> Response:
    """The case page's inline thumbnail (a redrawn small PNG): audited as `case.file-viewed`.

    Threat: the address opened as a page, in a frame or fetched by a script rather than by an <img>.
    Why the header: browsers send Sec-Fetch-Dest (`image` for an <img>) and a page cannot forge it; a
    client that sends none (an old browser, curl) gets only the thumbnail, never the file.
    """
    dest = request.headers.get("sec-fetch-dest")
    if dest is not None and dest != "image":
        return PlainTextResponse("A preview is shown only on the case page.", status_code=403)
    return await views.preview_response(state, officer=officer, reference=reference, item_id=item_id)


@router.get("/cases/{reference}/export.pdf")
async def export_pdf(reference: str, officer: Unlocked, state: State) -> Response:
    return await export_case(state, officer, reference, "pdf")


@router.get("/cases/{reference}/export.zip")
async def export_bundle(reference: str, officer: Unlocked, state: State) -> Response:
    return await export_case(state, officer, reference, "bundle")


def _case_path(reference: str) -> str:
    return f"/cases/{reference.strip().upper()}"


@router.post("/cases/{reference}/status")
async def set_status(
    reference: str,
    officer: Unlocked,
    session: CaseworkSession,
    state: State,
    status: Annotated[str, Form(max_length=24)],
    outcome: Text = "",
) -> Response:
    done = await views.change_status(
        state, officer=officer, reference=reference, status=status, outcome=outcome
    )
    words = (await views.labels(state)).status(done)
    return back_to(_case_path(reference), session, f"Status is now {words.lower()}.")


@router.post("/cases/{reference}/assign")
async def assign(
    reference: str,
    officer: Unlocked,
    session: CaseworkSession,
    state: State,
    login: Annotated[str, Form(max_length=200)] = "",
) -> Response:
    assignee = await case_desk.assign(
        state.vault, officer=officer, reference=reference, login=login.strip() or None
    )
    return back_to(_case_path(reference), session, f"Assigned to {assignee}." if assignee else "Unassigned.")


@router.post("/cases/{reference}/notes")
async def add_note(
    reference: str, officer: Unlocked, session: CaseworkSession, state: State, text: Text
) -> Response:
    await casework.add_note(state.vault, officer=officer, reference=reference, text=text)
    return back_to(_case_path(reference), session, "Note added.")


@router.post("/cases/{reference}/messages")
async def message_reporter(
    reference: str, officer: Unlocked, session: CaseworkSession, state: State, text: Text
) -> Response:
    await casework.message_reporter(state.vault, officer=officer, reference=reference, text=text)
    return back_to(_case_path(reference), session, "Message queued: the bot will deliver it to the reporter.")


@router.post("/cases/{reference}/refer")
async def refer(
    reference: str,
    officer: Unlocked,
    session: CaseworkSession,
    state: State,
    queue: Annotated[str, Form(max_length=200)],
    reason: Text = "",
) -> Response:
    granted = await casework.refer(
        state.vault, officer=officer, reference=reference, queue_id=queue, reason=reason
    )
    name = (await views.labels(state)).queue(queue)
    return back_to(
        _case_path(reference), session, f"Referred to {name}; {len(granted)} officer(s) can now open it."
    )


@router.post("/cases/{reference}/escalation")
async def grant_escalation(
    reference: str,
    officer: Unlocked,
    session: CaseworkSession,
    state: State,
    queue: Annotated[str, Form(max_length=200)],
) -> Response:
    granted = await casework.grant_escalation(
        state.vault, officer=officer, reference=reference, queue_id=queue
    )
    name = (await views.labels(state)).queue(queue)
    message = (
        f"{len(granted)} officer(s) of {name} can now open it."
        if granted
        else f"Every officer of {name} who may receive it could already open it."
    )
    return back_to(_case_path(reference), session, message)


@router.post("/cases/{reference}/grant")
async def grant(
    reference: str, lead: QueueLead, state: State, login: Annotated[str, Form(max_length=200)]
) -> Response:
    if lead.unlocked is None:
        raise UnlockRequired()
    granted = await casework.grant(
        state.vault, granter=lead.unlocked, reference=reference, login=login.strip()
    )
    message = f"{login} can now open it." if granted else f"{login} could already open it."
    return back_to(_case_path(reference), lead, message)
