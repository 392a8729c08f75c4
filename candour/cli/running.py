"""`candour run` and `candour sandbox`.

With a Telegram token, `candour run` supervises the services as child processes (candour/supervisor.py
says why): the intake, the desk on the port bound here, and the dispatcher. Without one it runs the
sandbox chat in this terminal, with the desk and audit checkpoints beside it in this process.
"""

from __future__ import annotations

import asyncio
import logging
import os
import signal
import socket
import sys
from collections.abc import Coroutine, Mapping
from datetime import UTC, datetime
from typing import Any

import click

from bot.cleaner import Cleaner, IsolationError
from candour.app import (
    bind_desk,
    build_cleaner,
    configure_logging,
    open_vault,
    run_sandbox,
    serve_desk,
)
from candour.cli.common import CandourError, load_settings, needs_admin, run_async
from candour.cli.serve import EX_CONFIG
from candour.cli.setup import init
from candour.settings import COMMAND_LINE_SECRETS, FILE_SUFFIX, Settings
from candour.supervisor import Service, Supervisor
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

    run_async(_supervise(settings, desk_socket))


def services(desk_socket: socket.socket | None) -> list[Service]:
    """The services `candour run` starts: the intake, the desk (on the socket bound here) and the dispatcher."""
    candour = (sys.executable, "-m", "candour.cli", "serve")
    me = ("--supervised-by", str(os.getpid()))
    env = service_environment(os.environ)
    found = [Service("intake", (*candour, "intake", *me), env=env)]
    if desk_socket is not None:
        fd = desk_socket.fileno()
        found.append(
            Service("desk", (*candour, "desk", "--socket-fd", str(fd), *me), pass_fds=(fd,), env=env)
        )
    found.append(Service("dispatch", (*candour, "dispatch", *me), env=env))
    return found


def service_environment(environ: Mapping[str, str]) -> dict[str, str]:
    """The supervisor's environment without the secrets people type for commands (passphrases, desk
    passwords, and their `_FILE` forms).

    Why: `candour run` may have set the first officer up moments ago from CANDOUR_ADMIN_PASSPHRASE; no
    service needs an officer's passphrase, and the intake, which parses strangers' files, must not have one
    in reach (/proc/PID/environ), nor may it pass one on to the cleaner.
    """
    dropped = {name.upper() for name in COMMAND_LINE_SECRETS}
    dropped |= {name + FILE_SUFFIX for name in dropped}
    return {key: value for key, value in environ.items() if key.upper() not in dropped}


async def _supervise(settings: Settings, desk_socket: socket.socket | None) -> None:
    """Run the services as child processes until Ctrl+C or SIGTERM; one that refuses its configuration
    (EX_CONFIG) stops them all, since starting it again would only fail the same way."""
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, stop.set)
    supervisor = Supervisor(services(desk_socket), refuse_status=EX_CONFIG)
    if desk_socket is not None:
        click.echo(_desk_banner(settings, desk_socket))
    click.echo("Candour is starting its services (intake, desk, dispatch); Ctrl+C stops them.")
    await supervisor.run(stop)
    if supervisor.refused:
        raise CandourError(f"the {supervisor.refused} service refused to start (see the line above); stopped")


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
