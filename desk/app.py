"""Builds the desk: one FastAPI app serving the web pages, the JSON API under /api/ (with its OpenAPI
document at /api/openapi.json) and static files, over one vault."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import timedelta
from pathlib import Path

from fastapi import FastAPI
from fastapi.staticfiles import StaticFiles
from fastapi.templating import Jinja2Templates

from candour.settings import Settings
from desk import api, errors, oversight, pages
from desk.deps import DeskState
from desk.security import CookieNames, SecurityHeaders
from desk.sessions import LoginThrottle, SessionStore
from storage.vault import Vault

HERE = Path(__file__).resolve().parent


def build_app(vault: Vault, settings: Settings) -> FastAPI:
    """The desk's ASGI app on `vault`; sessions live in this app's memory and end with it."""
    templates = Jinja2Templates(directory=HERE / "templates")
    templates.env.autoescape = True
    state = DeskState(
        vault=vault,
        settings=settings,
        sessions=SessionStore(
            clock=vault.clock,
            idle=timedelta(seconds=settings.desk_session_idle_seconds),
            absolute=timedelta(seconds=settings.desk_session_absolute_seconds),
        ),
        throttle=LoginThrottle(clock=vault.clock, per_minute=settings.desk_login_attempts_per_minute),
        cookies=CookieNames(secure=settings.desk_cookie_secure),
        templates=templates,
    )

    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        try:
            yield
        finally:
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
    app.add_middleware(SecurityHeaders)
    errors.install(app)
    app.include_router(api.router)
    app.include_router(pages.router)
    app.include_router(oversight.api_router)
    app.include_router(oversight.page_router)
    app.mount("/static", StaticFiles(directory=HERE / "static"), name="static")
    return app
