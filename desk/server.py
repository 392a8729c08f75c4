"""Serving the desk with uvicorn on the caller's event loop, beside the bot, until the caller says stop."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Iterator

import uvicorn
from fastapi import FastAPI


class DeskNotServedError(OSError):
    """The desk could not start listening (the address is taken or not ours)."""


class _EmbeddedServer(uvicorn.Server):
    """uvicorn that leaves signals to the process it runs in: `candour run` stops bot and desk together."""

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        yield


async def serve(app: FastAPI, *, host: str, port: int, stop: asyncio.Event) -> None:
    """Serve `app` on host:port until `stop` is set; DeskNotServedError if it cannot listen."""
    # Why no access log: request lines carry case references, which are not for a shared log.
    # Why no proxy_headers: uvicorn would otherwise believe X-Forwarded-For from 127.0.0.1 (or from
    # FORWARDED_ALLOW_IPS), so any local client could pick the address sign-in back-off counts; the desk
    # believes it only from its own desk_trusted_proxies setting (desk.app).
    config = uvicorn.Config(
        app,
        host=host,
        port=port,
        log_level="warning",
        access_log=False,
        lifespan="on",
        proxy_headers=False,
    )
    server = _EmbeddedServer(config)

    async def run() -> None:
        try:
            await server.serve()
        except SystemExit:
            # uvicorn exits the process when it cannot bind; here that would take the bot down with it.
            raise DeskNotServedError(f"the desk cannot listen on {host}:{port}") from None

    task = asyncio.create_task(run())
    waiter = asyncio.create_task(stop.wait())
    try:
        await asyncio.wait({task, waiter}, return_when=asyncio.FIRST_COMPLETED)
        server.should_exit = True
        await task
        if not server.started:
            raise DeskNotServedError(f"the desk cannot listen on {host}:{port}")
    finally:
        waiter.cancel()
