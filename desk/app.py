"""Builds the desk: one FastAPI app serving the web pages, the JSON API under /api/ (with its OpenAPI
document at /api/openapi.json) and static files, over one vault."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

from fastapi import FastAPI
from fastapi.staticfiles import StaticFiles
from fastapi.templating import Jinja2Templates
from uvicorn.middleware.proxy_headers import ProxyHeadersMiddleware

from desk import api, errors, oversight, pages
from desk.config import DeskConfig
from desk.deps import DeskState
from desk.security import CookieNames, SecurityHeaders, TrustedHosts
from desk.sessions import LoginThrottle, SessionStore
from storage import desk_accounts, links
from storage.errors import VaultError
from storage.vault import Vault

HERE = Path(__file__).resolve().parent
# How often sign-in state that has done its work is forgotten (seconds of real time), beside the session
# sweep: passed back-off ends, TOTP replay steps and link codes, dead devices, stale attempt rows.
PURGE_EVERY = 60.0
log = logging.getLogger(__name__)


async def end_reset_sessions(state: DeskState) -> int:
    """End every live session whose officer's epoch moved on (password or second-factor reset, sessions
    ended) or who was deactivated; how many. One query for all the sessions' officers.

    Why on the timer too: a session ended by a reset must not keep its unlocked key in memory until it
    makes a request or times out; the CLI that resets runs in another process and cannot reach it.
    """
    live = state.sessions.live()
    if not live:
        return 0
    epochs = await desk_accounts.current_epochs(state.vault, officer_ids={s.officer_id for s in live})
    return state.sessions.drop_ended(live, epochs)


async def sweep_forever(state: DeskState) -> None:
    """Drop expired and reset sessions (and their unlocked keys) every few seconds, and purge stale
    attempt rows.

    Why a timer: an idle desk gets no request that would sweep, and an unlocked key must not wait in
    memory for the next sign-in to be dropped.
    """
    last_purge = 0.0
    while True:
        await asyncio.sleep(state.config.session_sweep_seconds)
        state.sessions.sweep()
        try:
            await end_reset_sessions(state)
        except VaultError as exc:
            # The database may be away for a moment; requests still check epochs, the next sweep retries.
            log.warning("desk could not check session epochs: %s", type(exc).__name__)
        if time.monotonic() - last_purge >= PURGE_EVERY:
            last_purge = time.monotonic()
            try:
                await forget_passed(state)
            except VaultError as exc:
                log.warning("desk could not purge sign-in state: %s", type(exc).__name__)


async def forget_passed(state: DeskState) -> int:
    """Forget sign-in state whose window has passed, and stale attempt rows; how many rows changed.

    Threat: exact officer-side times (a back-off's end, a TOTP step, a link code's end) kept after they
    are needed would, ordered against the audit chain, bracket a reporter's submission between two
    officers' sign-ins (issue 9, point 7).
    """
    changed = await desk_accounts.forget_passed(state.vault)
    changed += await links.purge_expired(state.vault)
    return changed + await desk_accounts.purge_attempts(state.vault, rule=state.lockout)


def build_app(vault: Vault, config: DeskConfig) -> FastAPI:
    """The desk's ASGI app on `vault`, configured by `config`; sessions live in this app's memory."""
    templates = Jinja2Templates(directory=HERE / "templates")
    templates.env.autoescape = True
    state = DeskState(
        vault=vault,
        config=config,
        sessions=SessionStore(clock=vault.clock, idle=config.session_idle, absolute=config.session_absolute),
        throttle=LoginThrottle(clock=vault.clock, per_minute=config.login_attempts_per_minute),
        cookies=CookieNames(secure=config.cookie_secure),
        templates=templates,
    )

    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        sweeper = asyncio.create_task(sweep_forever(state))
        await desk_accounts.prepare(vault)
        try:
            yield
        finally:
            sweeper.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await sweeper
            # Unlocked keys leave with the process's sessions, not a moment later.
            state.sessions.clear()

    app = FastAPI(
        title="Candour standards desk",
        version="1",
        description="The standards team's JSON API: queue, cases, actions. See docs/desk.md.",
        openapi_url="/api/openapi.json",
        # Why no Swagger or ReDoc pages: they load script from a CDN, which the CSP rightly refuses.
        docs_url=None,
        redoc_url=None,
        lifespan=lifespan,
    )
    app.state.desk = state
    # Added first, so it runs inside SecurityHeaders: a refused Host still gets the security headers.
    app.add_middleware(TrustedHosts, allowed=config.allowed_hosts)
    app.add_middleware(SecurityHeaders)
    if config.proxy_addresses:
        # Added last, so it runs first: every part of the desk sees the client, not the proxy.
        # Threat: a forged X-Forwarded-For. uvicorn's middleware believes the header only from a listed
        # proxy, and takes the right-most address no listed proxy added (the left ones the client wrote).
        app.add_middleware(ProxyHeadersMiddleware, trusted_hosts=list(config.proxy_addresses))
    errors.install(app)
    app.include_router(api.router)
    app.include_router(pages.router)
    app.include_router(oversight.api_router)
    app.include_router(oversight.page_router)
    app.mount("/static", StaticFiles(directory=HERE / "static"), name="static")
    return app
