"""`candour run` and `candour sandbox`: the bot (or the sandbox chat), the desk and audit checkpoints together."""

from __future__ import annotations

import asyncio
import logging
import signal
import socket
from collections.abc import Coroutine
from datetime import UTC, datetime
from typing import Any

import click
from telegram.error import InvalidToken, NetworkError

from bot.cleaner import Cleaner, IsolationError
from candour.app import (
    bind_desk,
    build_cleaner,
    configure_logging,
    open_vault,
    run_sandbox,
    serve_bot,
    serve_desk,
    warn_if_keys_with_data,
)
from candour.cli.common import CandourError, load_settings, needs_admin, run_async
from candour.cli.setup import init
from candour.settings import Settings
from desk.server import DeskNotServedError, bound_port
from storage import checkpoints
from storage.clock import ManualClock
from storage.vault import Vault


@click.command()
def run() -> None:
    """Run Candour: the bot on Telegram if a token is set, otherwise the sandbox chat in this terminal.

    On a machine that is not yet set up, `candour init` runs first and asks for the first officer.
    """
    settings = load_settings()
    configure_logging()
    # Why first: a taken desk port must stop `candour run` before it asks anything or starts the bot,
    # and the bound socket is handed to the server, so no other process can take the port meanwhile.
    desk_socket = _bind_desk(settings)
    try:
        _run_with(settings, desk_socket)
    finally:
        if desk_socket is not None:
            desk_socket.close()


def _bind_desk(settings: Settings) -> socket.socket | None:
    """The desk's bound socket (None with the desk turned off); one clear line if it cannot be bound."""
    if not settings.desk_enabled:
        return None
    try:
        return bind_desk(settings)
    except DeskNotServedError as exc:
        raise CandourError(str(exc)) from None


def _run_with(settings: Settings, desk_socket: socket.socket | None) -> None:
    """`candour run` once the desk's port is held: set up if needed, then the bot or the sandbox."""
    if run_async(needs_admin(settings)):
        click.echo("Candour is not set up here yet; setting it up first.")
        click.get_current_context().invoke(init)
    if settings.telegram_token is None:
        click.echo("No CANDOUR_TELEGRAM_TOKEN is set: starting the sandbox instead of the Telegram bot.")
        run_async(_sandbox(settings, desk_socket=desk_socket))
        return

    warn_if_keys_with_data(settings)

    async def _serve() -> None:
        vault = await open_vault(settings)
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for signum in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(signum, stop.set)
        try:
            services = [serve_bot(settings, vault, stop=stop), _keep_checkpointing(settings, vault, stop)]
            if desk_socket is not None:
                services.append(serve_desk(settings, vault, stop=stop, sock=desk_socket))
                click.echo(_desk_banner(settings, desk_socket))
            click.echo("Candour bot starting; Ctrl+C stops it.")
            await run_together(stop, *services)
        except (DeskNotServedError, IsolationError) as exc:
            raise CandourError(str(exc)) from None
        except InvalidToken:
            raise CandourError("Telegram refused the token in CANDOUR_TELEGRAM_TOKEN") from None
        except NetworkError:
            raise CandourError(
                "cannot reach the Telegram Bot API (check the network or CANDOUR_TELEGRAM_API_URL)"
            ) from None
        finally:
            await vault.db.dispose()

    run_async(_serve())


def _desk_banner(settings: Settings, desk_socket: socket.socket) -> str:
    return (
        f"The standards desk is at http://{settings.desk_host}:{bound_port(desk_socket)}/ "
        "(give an officer a desk password with `candour officer set-password LOGIN`)."
    )


async def _keep_checkpointing(settings: Settings, vault: Vault, stop: asyncio.Event) -> None:
    """Sign audit checkpoints on CANDOUR_AUDIT_CHECKPOINT_SECONDS, and once more on a clean stop."""
    await checkpoints.keep_checkpointing(
        vault,
        keys_dir=settings.keys_dir,
        directory=settings.checkpoint_dir,
        interval=settings.audit_checkpoint_seconds,
        stop=stop,
    )


async def run_together(stop: asyncio.Event, *services: Coroutine[Any, Any, None]) -> None:
    """Run services until `stop` is set; when one fails, stop the others and raise its error."""
    tasks = [asyncio.create_task(service) for service in services]
    try:
        await asyncio.wait(tasks, return_when=asyncio.FIRST_EXCEPTION)
    finally:
        stop.set()
        results = await asyncio.gather(*tasks, return_exceptions=True)
    for result in results:
        if isinstance(result, BaseException):
            raise result


@click.command()
@click.option(
    "--fast-clock",
    is_flag=True,
    help="Time moves only when you say (!later 7d, !next): see a check-in arrive and answer it.",
)
def sandbox(fast_clock: bool) -> None:
    """Chat with the real bot in this terminal, through a local Telegram emulator (no account needed)."""
    settings = load_settings()
    configure_logging(logging.WARNING)
    if run_async(needs_admin(settings)):
        click.echo("Candour is not set up here yet; setting it up first.")
        click.get_current_context().invoke(init)
    run_async(_sandbox(settings, fast_clock=fast_clock))


async def _sandbox(
    settings: Settings, *, desk_socket: socket.socket | None = None, fast_clock: bool = False
) -> None:
    """The sandbox chat; with `desk_socket` (bound by `candour run`) the desk beside it."""
    # Why a clock that starts now and moves only on command: the sandbox's reports are real cases in
    # this installation, and their follow-up should happen on the sandbox's time, not the calendar's.
    clock = ManualClock(current=datetime.now(UTC)) if fast_clock else None
    vault = await open_vault(settings, clock=clock)
    try:
        async with build_cleaner(settings, sandbox=True) as cleaner:
            await cleaner.ready()
            if cleaner.isolated is False:
                click.echo(
                    "Note: this kernel refused the evidence cleaner its namespaces, so it runs under resource "
                    "limits only. The sandbox runs anyway; the bot on Telegram would refuse to start "
                    "(CANDOUR_CLEANER_REQUIRE_ISOLATION)."
                )
            await _sandbox_with(settings, vault, cleaner, desk_socket=desk_socket)
    except (DeskNotServedError, IsolationError) as exc:
        raise CandourError(str(exc)) from None
    finally:
        await vault.db.dispose()
    click.echo(
        "\nSandbox closed. Read a report as an officer with: candour case list --as LOGIN, then "
        "candour case show REFERENCE --as LOGIN"
    )


async def _sandbox_with(
    settings: Settings, vault: Vault, cleaner: Cleaner, *, desk_socket: socket.socket | None
) -> None:
    """The sandbox chat, and with `desk_socket` the desk and audit checkpoints beside it until the chat ends."""
    if desk_socket is None:
        await run_sandbox(vault, cleaner=cleaner)
        return
    stop = asyncio.Event()

    async def chat() -> None:
        try:
            await run_sandbox(vault, cleaner=cleaner)
        finally:
            stop.set()

    click.echo(_desk_banner(settings, desk_socket))
    await run_together(
        stop,
        chat(),
        serve_desk(settings, vault, stop=stop, sock=desk_socket),
        _keep_checkpointing(settings, vault, stop),
    )
