"""Serving the desk with uvicorn on the caller's event loop, beside the bot, until the caller says stop.

The listening socket is bound first, by `bind`, before anything else of `candour run` starts, and is
handed to uvicorn: a taken port is then one clear error before the bot starts, with no window in which
another process could take the port between a check and uvicorn's own bind.
"""

from __future__ import annotations

import asyncio
import contextlib
import errno
import socket
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


def _why(exc: OSError) -> str:
    """What the operator can do about a failed bind, in words."""
    if exc.errno == errno.EADDRINUSE:
        return (
            "the port is already in use (is another `candour run` open?): stop that, or set CANDOUR_DESK_PORT "
            "to a free port, or CANDOUR_DESK_ENABLED=false"
        )
    if exc.errno in (errno.EACCES, errno.EPERM):
        return "this user may not listen on that port: choose one above 1023 in CANDOUR_DESK_PORT"
    if exc.errno == errno.EADDRNOTAVAIL:
        return "no network interface of this machine has that address: check CANDOUR_DESK_HOST"
    return f"{exc.strerror or type(exc).__name__}: check CANDOUR_DESK_HOST and CANDOUR_DESK_PORT"


def bind(host: str, port: int) -> socket.socket:
    """A socket bound to host:port and listening, for the desk (port 0 picks a free one);
    DeskNotServedError if not."""
    try:
        family, kind, proto, _name, address = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)[0]
    except socket.gaierror:
        raise DeskNotServedError(
            f"the desk cannot listen on {host}:{port}: the host name does not resolve (CANDOUR_DESK_HOST)"
        ) from None
    sock = socket.socket(family, kind, proto)
    try:
        # Why SO_REUSEADDR: a restart may bind while the last run's connections sit in TIME_WAIT; on
        # Linux it never lets two sockets listen on one port, so a taken port is still refused here.
        # Why listen at once: two sockets with SO_REUSEADDR may both bind a port while neither listens,
        # so a bind alone would pass twice; listening claims the port (uvicorn serves this socket).
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(address)
        sock.listen(2048)
    except OSError as exc:
        sock.close()
        raise DeskNotServedError(f"the desk cannot listen on {host}:{port}: {_why(exc)}") from None
    return sock


def bound_port(sock: socket.socket) -> int:
    """The port a bound socket listens on (the one the system chose for port 0)."""
    return int(sock.getsockname()[1])


async def serve(
    app: FastAPI, *, host: str, port: int, stop: asyncio.Event, sock: socket.socket | None = None
) -> None:
    """Serve `app` on `sock` (bound by `bind`; bound here to host:port if not given) until `stop` is set.

    The socket is closed when serving ends. DeskNotServedError if it cannot listen.
    """
    # Why no access log: request lines carry case references, which are not for a shared log.
    # Why no proxy_headers: uvicorn would otherwise believe X-Forwarded-For from 127.0.0.1 (or from
    # FORWARDED_ALLOW_IPS), so any local client could pick the address sign-in back-off counts; the desk
    # believes it only from its own desk_trusted_proxies setting (desk.app).
    listening = sock if sock is not None else bind(host, port)
    config = uvicorn.Config(
        app,
        host=host,
        port=bound_port(listening),
        log_level="warning",
        access_log=False,
        lifespan="on",
        proxy_headers=False,
    )
    server = _EmbeddedServer(config)

    async def run() -> None:
        try:
            await server.serve(sockets=[listening])
        except SystemExit:
            # uvicorn exits the process when it cannot listen; here that would take the bot down with it.
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
        listening.close()
