"""How refusals and vault errors reach the caller: JSON `{"detail": ...}` with a 4xx status under /api/,
a redirect (sign in, enrol, unlock) or an error page elsewhere. Messages are the vault's own words, which
never carry report content or a reporter's identity."""

from __future__ import annotations

import logging

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, RedirectResponse, Response

from desk.deps import CsrfRefused, EnrolmentRequired, Forbidden, SignInRequired, UnlockRequired
from storage.desk_accounts import SignInRefusedError
from storage.errors import (
    CannotWorkError,
    ConflictOfInterestError,
    DatabaseUnavailableError,
    DecryptionError,
    InputError,
    InvalidPassphraseError,
    InvalidTransitionError,
    NotEntitledError,
    NotFoundError,
    NotPermittedError,
    ThrottledError,
    VaultError,
)

log = logging.getLogger(__name__)

# One answer for "no such case" and "not yours", on every case route of the API and the pages.
CASE_NOT_FOUND = "no case with that reference that you can open"
# On a case route, these not-found messages are about something else (who or where), not the case.
_NOT_ABOUT_THE_CASE = ("no officer ", "no queue ", "no unit ")


def _is_case_route(request: Request) -> bool:
    return request.url.path.startswith(("/cases/", "/api/cases/"))


def case_refusal(request: Request, exc: Exception) -> bool:
    """Whether this error would tell a missing case from one the officer may not open.

    Threat: a different text, status or shape for "does not exist" and "not yours" lets anyone signed in
    enumerate references. Every NotEntitledError, and every NotFoundError on a case route that is not
    about an officer, queue or unit, gets CASE_NOT_FOUND with status 404. Not a CannotWorkError: that is
    about another officer (an assignee), told to a caller who has just opened the case (409).
    """
    if isinstance(exc, NotEntitledError):
        return True
    if not (isinstance(exc, NotFoundError) and _is_case_route(request)):
        return False
    message = str(exc)
    return not message.startswith(_NOT_ABOUT_THE_CASE) and " has no file " not in message


# Most specific first: the first class an error is an instance of gives its status.
STATUS: tuple[tuple[type[Exception], int], ...] = (
    (SignInRefusedError, 401),
    (InvalidPassphraseError, 401),
    (ThrottledError, 429),
    (NotPermittedError, 403),
    (NotEntitledError, 404),
    (NotFoundError, 404),
    (CannotWorkError, 409),
    (ConflictOfInterestError, 409),
    (InvalidTransitionError, 409),
    (InputError, 400),
    (DatabaseUnavailableError, 503),
    (DecryptionError, 500),
)

# Where a browser is sent instead of an error, and what an API caller is told.
REDIRECTS: dict[type[Exception], tuple[str, int, str]] = {
    SignInRequired: ("/login", 401, "sign in first"),
    EnrolmentRequired: ("/account/totp", 403, "enrol a second factor first (POST /api/account/totp/begin)"),
    UnlockRequired: ("/unlock", 403, "unlock your key first (POST /api/session/unlock)"),
}


def _is_api(request: Request) -> bool:
    return request.url.path.startswith("/api/")


def _error_page(request: Request, status: int, message: str) -> Response:
    state = request.app.state.desk
    session = state.sessions.get(request.cookies.get(state.cookies.session))
    return state.templates.TemplateResponse(
        request,
        "error.html",
        {"session": session, "message": message, "status": status, "csrf": session.csrf if session else ""},
        status_code=status,
    )


def _respond(request: Request, status: int, message: str) -> Response:
    if _is_api(request):
        return JSONResponse({"detail": message}, status_code=status)
    return _error_page(request, status, message)


def install(app: FastAPI) -> None:
    """Register the handlers on the app."""

    async def redirect(request: Request, exc: Exception) -> Response:
        path, status, message = REDIRECTS[type(exc)]
        if _is_api(request):
            return JSONResponse({"detail": message}, status_code=status)
        return RedirectResponse(path, status_code=303)

    async def forbidden(request: Request, exc: Exception) -> Response:
        return _respond(request, 403, str(exc) or "your roles do not allow this")

    async def csrf(request: Request, exc: Exception) -> Response:
        return _respond(
            request, 403, "the request is missing its CSRF token or it does not match: reload the page"
        )

    async def vault_error(request: Request, exc: Exception) -> Response:
        status = next((code for kind, code in STATUS if isinstance(exc, kind)), 400)
        if status >= 500:
            # Why the type only: a driver's message can carry the database URL.
            log.warning("desk request failed: %s", type(exc).__name__)
        message = str(exc)
        if case_refusal(request, exc):
            # Same words as an unknown reference, so a refusal does not confirm that a case exists.
            status, message = 404, CASE_NOT_FOUND
        return _respond(request, status, message)

    async def invalid_form(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, RequestValidationError)
        problems = "; ".join(
            f"{'.'.join(str(p) for p in error.get('loc', ())[1:]) or 'input'}: {error.get('msg', 'invalid')}"
            for error in exc.errors()
        )
        if _is_api(request):
            return JSONResponse({"detail": problems or "invalid input"}, status_code=422)
        return _error_page(request, 400, problems or "invalid input")

    for kind in REDIRECTS:
        app.add_exception_handler(kind, redirect)
    app.add_exception_handler(Forbidden, forbidden)
    app.add_exception_handler(CsrfRefused, csrf)
    app.add_exception_handler(VaultError, vault_error)
    app.add_exception_handler(RequestValidationError, invalid_form)
