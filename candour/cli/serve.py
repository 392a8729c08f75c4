"""`candour serve intake|desk|dispatch`: one service per process, as `candour run` starts them.

- **intake**, the reporters' door: the Telegram application and the evidence cleaner (its child). It seals
  reports and never opens one; it is handed no passphrase and signs in no officer.
- **desk**, the officers' door: the web console and JSON API, where officers' keys are unlocked.
- **dispatch**, the outbox: check-ins, deadlines, retention, officers' notices, audit checkpoints.

A service that cannot start because of how it is configured (a refused token, a taken port, a kernel that
refuses the cleaner its namespaces) says so in one line and exits with EX_CONFIG (78), which tells the
supervisor not to start it again: it would only fail the same way.
"""

from __future__ import annotations

import asyncio
import contextlib
import ctypes
import os
import signal
import socket
import sys
from collections.abc import Callable, Coroutine
from typing import Any

import click
from telegram.error import InvalidToken, NetworkError

from bot.cleaner import IsolationError
from bot.webhook import WebhookNotServedError
from candour import dispatch
from candour.app import (
    bind_desk,
    configure_logging,
    open_vault,
    serve_bot,
    serve_desk,
    warn_if_keys_with_data,
)
from candour.cli.common import CandourError, load_settings, run_async
from candour.intake import serve_bot_webhook
from candour.settings import Settings
from desk.server import DeskNotServedError

EX_CONFIG = dispatch.EX_CONFIG
PR_SET_PDEATHSIG = 1


class ServiceRefusedError(CandourError):
    """A service that cannot run as configured: one line, and the status that says "do not restart"."""

    exit_code = EX_CONFIG


def _supervised_option(func: Callable[..., Any]) -> Callable[..., Any]:
    return click.option(
        "--supervised-by",
        "parent",
        type=int,
        default=None,
        hidden=True,
        help="The supervisor's pid: stop when it is gone (set by `candour run`).",
    )(func)


def die_with(parent: int | None) -> None:
    """Ask the kernel to SIGTERM this process when its supervisor dies, and stop now if it already has.

    Why: `candour run` starts each service in a session of its own (so Ctrl+C reaches only the
    supervisor); a service left behind by a killed supervisor would hold the desk's port or poll Telegram
    beside the next `candour run`.
    """
    if parent is None:
        return
    libc = ctypes.CDLL(None, use_errno=True)
    if libc.prctl(PR_SET_PDEATHSIG, signal.SIGTERM, 0, 0, 0) != 0:
        raise CandourError("cannot ask to be stopped with the supervisor (prctl refused)")
    if os.getppid() != parent:
        sys.exit(0)


def _until_signalled(body: Callable[[asyncio.Event], Coroutine[Any, Any, None]]) -> Coroutine[Any, Any, None]:
    """Run `body(stop)` with SIGINT and SIGTERM setting `stop`."""

    async def _run() -> None:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for signum in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(signum, stop.set)
        await body(stop)

    return _run()


@click.group()
def serve() -> None:
    """Run one service (`candour run` runs them all, each in its own process)."""


@serve.command("intake")
@click.option(
    "--with-follow-up",
    is_flag=True,
    help="Also carry out follow-up (check-ins, deadlines) here, for when no `candour serve dispatch` runs.",
)
@_supervised_option
def serve_intake(with_follow_up: bool, parent: int | None) -> None:
    """The reporters' door: the bot on Telegram (or CANDOUR_TELEGRAM_API_URL) and the evidence cleaner; by
    webhook when CANDOUR_WEBHOOK_URL is set, else by long polling."""
    die_with(parent)
    settings = load_settings()
    configure_logging()
    if settings.telegram_token is None:
        raise ServiceRefusedError("the intake needs CANDOUR_TELEGRAM_TOKEN (or CANDOUR_TELEGRAM_TOKEN_FILE)")
    warn_if_keys_with_data(settings)
    run_async(_until_signalled(lambda stop: _intake(settings, stop, follow_up=with_follow_up)))


async def _intake(settings: Settings, stop: asyncio.Event, *, follow_up: bool) -> None:
    vault = await open_vault(settings)
    try:
        if settings.webhook_url:  # by webhook (docs/bot.md, "Webhook mode"); else by long polling
            await serve_bot_webhook(settings, vault, stop=stop, follow_up=follow_up)
        else:
            await serve_bot(settings, vault, stop=stop, follow_up=follow_up)
    except (IsolationError, WebhookNotServedError) as exc:
        raise ServiceRefusedError(str(exc)) from None
    except InvalidToken:
        raise ServiceRefusedError("Telegram refused the token in CANDOUR_TELEGRAM_TOKEN") from None
    except NetworkError:
        # Not a configuration error for certain (the network may come back): the supervisor retries.
        raise CandourError(
            "cannot reach the Telegram Bot API (check the network or CANDOUR_TELEGRAM_API_URL)"
        ) from None
    finally:
        await vault.db.dispose()


@serve.command("desk")
@click.option(
    "--socket-fd", type=int, default=None, hidden=True, help="Serve on this inherited, bound socket."
)
@_supervised_option
def serve_desk_command(socket_fd: int | None, parent: int | None) -> None:
    """The officers' door: the standards desk's pages and JSON API."""
    die_with(parent)
    settings = load_settings()
    configure_logging()
    try:
        sock = socket.socket(fileno=socket_fd) if socket_fd is not None else bind_desk(settings)
    except DeskNotServedError as exc:
        raise ServiceRefusedError(str(exc)) from None
    with contextlib.closing(sock):
        run_async(_until_signalled(lambda stop: _desk(settings, stop, sock)))


async def _desk(settings: Settings, stop: asyncio.Event, sock: socket.socket) -> None:
    vault = await open_vault(settings)
    try:
        await serve_desk(settings, vault, stop=stop, sock=sock)
    except DeskNotServedError as exc:
        raise ServiceRefusedError(str(exc)) from None
    finally:
        await vault.db.dispose()


@serve.command(
    "dispatch",
    context_settings={"ignore_unknown_options": True, "allow_interspersed_args": False},
)
@_supervised_option
@click.argument("options", nargs=-1, type=click.UNPROCESSED)
def serve_dispatch(parent: int | None, options: tuple[str, ...]) -> None:
    """The outbox: check-ins, deadlines, retention, officers' notices and audit checkpoints.

    Takes the options of `python -m candour.dispatch` (--interval, --rate-limit, --batch, --lease, --grace).
    """
    die_with(parent)
    dispatch.main(list(options))
