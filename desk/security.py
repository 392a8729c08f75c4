"""HTTP hardening of the desk: security headers on every response, cookie names and flags, and the CSRF
check every state-changing request passes.

Threats: another site driving a signed-in officer's browser (CSRF; SameSite=Strict cookies, and a token
that a cross-site page cannot read), script injected through case content (a CSP that allows no inline
script and no other origin; Jinja2 escapes everything), framing (frame-ancestors 'none'), leaking a
case reference in a Referer header (no-referrer), and DNS rebinding or Host-header poisoning (only the
trusted hosts from the settings are answered).
"""

from __future__ import annotations

import hmac
import secrets

from starlette.datastructures import MutableHeaders
from starlette.requests import Request
from starlette.types import ASGIApp, Message, Receive, Scope, Send

CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self'; object-src 'none'; "
    "base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
)
# Files from reporters are shown as nothing more than bytes: no script, no plugins, no same origin.
FILE_CSP = "default-src 'none'; sandbox"
HEADERS = {
    "Content-Security-Policy": CSP,
    "Referrer-Policy": "no-referrer",
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Cross-Origin-Opener-Policy": "same-origin",
    "Cross-Origin-Resource-Policy": "same-origin",
    "Permissions-Policy": "camera=(), microphone=(), geolocation=(), interest-cohort=()",
    # Case content must not stay in a shared browser's cache.
    "Cache-Control": "no-store",
}
CSRF_HEADER = "X-CSRF-Token"
CSRF_FIELD = "csrf_token"
UNSAFE_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})


class SecurityHeaders:
    """Pure ASGI middleware adding the headers above to every HTTP response that has not set its own."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = MutableHeaders(scope=message)
                for name, value in HEADERS.items():
                    if name not in headers:
                        headers[name] = value
            await send(message)

        await self.app(scope, receive, send_with_headers)


def host_of(header: str) -> str:
    """The host part of a Host header, lower-cased, without port or IPv6 brackets."""
    value = header.strip().lower()
    if value.startswith("["):
        return value[1:].split("]", 1)[0]
    return value.rsplit(":", 1)[0] if value.count(":") == 1 else value


def host_allowed(host: str, allowed: tuple[str, ...]) -> bool:
    """Whether `host` is one of `allowed` (an entry `*.example.org` allows its subdomains)."""
    return any(
        host == entry or (entry.startswith("*.") and host.endswith(entry[1:]) and host != entry[2:])
        for entry in allowed
    )


class TrustedHosts:
    """Pure ASGI middleware refusing (400) any HTTP request whose Host header names no trusted host.

    Threat: a page on another site whose name an attacker re-points at the desk's address (DNS rebinding)
    would make the browser treat the desk as that site; links built from a forged Host would point away.
    """

    def __init__(self, app: ASGIApp, *, allowed: tuple[str, ...]) -> None:
        self.app = app
        self.allowed = tuple(entry.lower() for entry in allowed)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = dict(scope.get("headers") or ())
        host = host_of(headers.get(b"host", b"").decode("latin-1"))
        if host and host_allowed(host, self.allowed):
            await self.app(scope, receive, send)
            return
        body = b"unknown host: this desk answers only the host names it is configured for"
        await send(
            {
                "type": "http.response.start",
                "status": 400,
                "headers": [
                    (b"content-type", b"text/plain; charset=utf-8"),
                    (b"content-length", str(len(body)).encode()),
                ],
            }
        )
        await send({"type": "http.response.body", "body": body})


class CookieNames:
    """The session, pre-sign-in CSRF and device cookies; `__Host-` binds them to this origin when they are
    Secure. The device cookie outlives sessions: it lets the browser an officer signed in from be counted
    apart from its address at sign-in (storage.desk_devices)."""

    def __init__(self, *, secure: bool) -> None:
        prefix = "__Host-" if secure else ""
        self.secure = secure
        self.session = f"{prefix}candour_session"
        self.csrf = f"{prefix}candour_csrf"
        self.device = f"{prefix}candour_device"


def new_token() -> str:
    return secrets.token_urlsafe(32)


def tokens_match(expected: str | None, given: str | None) -> bool:
    """Constant-time comparison; a missing token never matches."""
    if not expected or not given:
        return False
    return hmac.compare_digest(expected.encode(), given.encode())


async def submitted_token(request: Request) -> str | None:
    """The CSRF token a request carries: the header (API, CLI) or the form field (pages)."""
    header = request.headers.get(CSRF_HEADER)
    if header:
        return header
    content_type = request.headers.get("content-type", "")
    if content_type.startswith(("application/x-www-form-urlencoded", "multipart/form-data")):
        form = await request.form()
        value = form.get(CSRF_FIELD)
        return value if isinstance(value, str) else None
    return None
