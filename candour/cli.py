"""The `candour` command line: init, officers, keys, policy, cases and the audit log.

Every failure the operator can cause (wrong passphrase, missing data directory, bad URL, unreachable
database, invalid policy) ends in one clear line on stderr and a non-zero exit, never a traceback.
"""

from __future__ import annotations

import asyncio
import functools
import getpass
import json
import logging
import mimetypes
import signal
import socket
import sys
import warnings
from collections.abc import Awaitable, Callable, Coroutine
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, TypeVar

import click
from pydantic import ValidationError
from telegram.error import InvalidToken, NetworkError

from bot.cleaner import Cleaner, IsolationError
from candour.app import (
    AdminSpec,
    bind_desk,
    build_cleaner,
    configure_logging,
    initialise,
    kdf_params,
    open_vault,
    run_sandbox,
    serve_bot,
    serve_desk,
    warn_if_keys_with_data,
)
from candour.settings import Settings, SettingsFileError, export_secret_files
from desk.cli import desk as desk_group
from desk.server import DeskNotServedError, bound_port
from policies.errors import PolicyError, PolicyInvalidError
from policies.loader import load_policy
from policies.validator import validate
from storage import (
    cases,
    casework,
    checkpoints,
    desk_accounts,
    keyring,
    links,
    officers,
    policy_store,
    rotation,
)
from storage.clock import ManualClock
from storage.errors import InputError, KeyringError, VaultError
from storage.vault import Vault

T = TypeVar("T")
EXIT_ERROR = 1
EXIT_INVALID = 2


class CandourError(click.ClickException):
    """A one-line error for the operator."""

    exit_code = EXIT_ERROR

    def show(self, file: Any = None) -> None:
        click.echo(f"candour: {self.format_message()}", err=True)


def _settings() -> Settings:
    try:
        return Settings()
    except SettingsFileError as exc:
        raise CandourError(str(exc)) from None
    except ValidationError as exc:
        first = exc.errors()[0]
        field = ".".join(str(p) for p in first["loc"])
        raise CandourError(f"setting CANDOUR_{field.upper()} is invalid: {first['msg']}") from None


def run_async(coroutine: Coroutine[Any, Any, T]) -> T:
    """Run a coroutine, turning every expected failure into a one-line error."""
    try:
        return asyncio.run(coroutine)
    except PolicyInvalidError as exc:
        lines = "\n".join(f"  {p.code}: {p.where}: {p.message}" for p in exc.problems)
        raise CandourError(f"the policy was refused:\n{lines}") from None
    except (VaultError, PolicyError) as exc:
        raise CandourError(str(exc)) from None
    except KeyboardInterrupt:
        raise click.Abort() from None


def with_vault(func: Callable[..., Awaitable[T]]) -> Callable[..., T]:
    """Open the vault from settings, run the command's coroutine with it, close it."""

    @functools.wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> T:
        async def _run() -> T:
            vault = await open_vault(_settings())
            try:
                return await func(vault, *args, **kwargs)
            finally:
                await vault.db.dispose()

        return run_async(_run())

    return wrapper


def _passphrase_option(**kwargs: Any) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """--passphrase, asked for by `_passphrase` only once the vault is open (see there)."""
    return click.option(
        "--passphrase",
        envvar="CANDOUR_PASSPHRASE",
        default=None,
        help="Officer passphrase (prompted if not given; or CANDOUR_PASSPHRASE).",
        **kwargs,
    )


def _passphrase(given: str | None, text: str = "Passphrase") -> str:
    """The passphrase from the option, or asked for now (hidden).

    Why not click's own prompt: it would ask while the options are read, before the command has found
    out that there is no data directory or no database, so the operator types a secret for nothing.
    """
    return given if given else str(click.prompt(text, hide_input=True))


@click.group()
@click.version_option(package_name="candour")
def main() -> None:
    """Candour: anonymous misconduct reporting with an encrypted vault."""
    # Why: a passphrase piped on stdin (scripts, CI) is fine; getpass's warning about echo would only
    # add noise to the one-line errors operators rely on.
    warnings.filterwarnings("ignore", category=getpass.GetPassWarning)
    try:
        export_secret_files()  # CANDOUR_PASSPHRASE_FILE and the like, before any option reads its envvar
    except SettingsFileError as exc:
        raise CandourError(str(exc)) from None


# --- init -----------------------------------------------------------------------------------------


@main.command()
@click.option("--admin-login", help="Login of the first officer (every role, every queue).")
@click.option("--admin-name", help="Display name of the first officer.")
@click.option("--admin-passphrase", envvar="CANDOUR_ADMIN_PASSPHRASE", help="Or CANDOUR_ADMIN_PASSPHRASE.")
@click.option("--admin-unit", default=None, help="Unit id of the first officer (from the policy).")
@click.option("--admin-staff-number", default=None, help="Staff or collar number of the first officer.")
@click.option(
    "--policy",
    "policy_file",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="Publish this policy instead of the starter policy.",
)
@click.option(
    "--admin-desk-password",
    envvar="CANDOUR_DESK_PASSWORD",
    help="The first officer's desk sign-in password (or CANDOUR_DESK_PASSWORD); asked if interactive.",
)
@click.option("--non-interactive", is_flag=True, help="Never prompt; fail if something is missing.")
def init(
    admin_login: str | None,
    admin_name: str | None,
    admin_passphrase: str | None,
    admin_unit: str | None,
    admin_staff_number: str | None,
    policy_file: Path | None,
    admin_desk_password: str | None,
    non_interactive: bool,
) -> None:
    """Create the data directory, keys, database, first officer and policy. Safe to run again."""
    settings = _settings()
    policy_text = _read_text(policy_file) if policy_file else None
    admin = None
    needs_admin = run_async(_needs_admin(settings))
    if needs_admin:
        if not admin_login and not non_interactive:
            admin_login = click.prompt("Login of the first officer", default="admin")
        if not admin_name and admin_login:
            admin_name = (
                admin_login if non_interactive else click.prompt("Their display name", default=admin_login)
            )
        if not admin_passphrase and not non_interactive:
            admin_passphrase = _ask_secret("Their passphrase (12+ characters)", _passphrase_fits)
        if not (admin_login and admin_passphrase):
            raise CandourError(
                "the first officer needs --admin-login and --admin-passphrase (or CANDOUR_ADMIN_PASSPHRASE)"
            )
        _refuse(_passphrase_fits, admin_passphrase)  # given as an option: checked before anything is made
        admin = AdminSpec(
            login=admin_login,
            display_name=admin_name or admin_login,
            passphrase=admin_passphrase,
            unit_id=admin_unit,
            staff_number=admin_staff_number,
        )
        desk_fits = functools.partial(_desk_password_fits, passphrase=admin_passphrase)
        if not admin_desk_password and not non_interactive:
            # Why here: a newcomer's next step is the desk, which needs a sign-in password of its own.
            admin_desk_password = _ask_secret(
                "Their desk sign-in password (12+ characters, not the passphrase; Enter to skip)",
                desk_fits,
                default="",
            )
        if admin_desk_password:
            _refuse(desk_fits, admin_desk_password)
    warn_if_keys_with_data(settings)
    report = run_async(initialise(settings, admin=admin, policy_text=policy_text))
    for line in report.done:
        click.echo(f"done: {line}")
    for line in report.already:
        click.echo(f"ok: {line}")
    if admin is not None and admin_desk_password:
        code = run_async(_set_desk_password(settings, login=admin.login, password=admin_desk_password))
        click.echo(f"done: desk password for {admin.login} (the first sign-in enrols a second factor)")
        _echo_enrolment_code(settings, admin.login, code)
    click.echo(f"Candour is initialised in {settings.data_dir}.")


def _passphrase_fits(value: str) -> str:
    """A key passphrase long enough, or click.BadParameter saying why (the prompt then asks again)."""
    try:
        officers.check_passphrase(value)
    except InputError as exc:
        raise click.BadParameter(f"{exc}; try again") from None
    return value


def _desk_password_fits(value: str, *, passphrase: str) -> str:
    """A desk password long enough and not the key passphrase ("" skips it), or click.BadParameter."""
    if not value:
        return value
    if value == passphrase:
        raise click.BadParameter("the desk password must not be the officer's key passphrase: choose another")
    try:
        desk_accounts.check_password(value)
    except InputError as exc:
        raise click.BadParameter(f"{exc}; try again") from None
    return value


def _ask_secret(text: str, fits: Callable[[str], str], default: str | None = None) -> str:
    """Ask for a secret twice (hidden), asking again at once while `fits` refuses it: nothing is
    written before every answer is known to be usable."""
    return str(
        click.prompt(
            text,
            hide_input=True,
            confirmation_prompt=True,
            value_proc=fits,
            default=default,
            show_default=False,
        )
    )


def _refuse(fits: Callable[[str], str], value: str) -> None:
    """A secret given as an option or variable that `fits` refuses: one line, before anything is made."""
    try:
        fits(value)
    except click.BadParameter as exc:
        raise CandourError(exc.message.removesuffix("; try again")) from None


async def _set_desk_password(settings: Settings, *, login: str, password: str) -> str | None:
    vault = await open_vault(settings)
    try:
        return await desk_accounts.set_password(
            vault, login=login, password=password, enrolment_lifetime=_enrolment_lifetime(settings)
        )
    finally:
        await vault.db.dispose()


def _enrolment_lifetime(settings: Settings) -> timedelta:
    return timedelta(hours=settings.desk_enrolment_code_hours)


def _echo_enrolment_code(settings: Settings, login: str, code: str | None) -> None:
    """Show the one-time enrolment code, once: it is stored only as a keyed hash."""
    if code is None:
        return
    click.echo(
        f"enrolment code for {login}: {code}\n"
        f"  Hand it to {login} yourself (in person or by another channel than the password). The desk asks "
        f"for it once, when they enrol their authenticator; it expires in {settings.desk_enrolment_code_hours} "
        "hours and cannot be shown again (`candour officer set-password --reset-totp` makes a new one)."
    )


async def _needs_admin(settings: Settings) -> bool:
    try:
        vault = await open_vault(settings)
    except VaultError:
        return True
    try:
        return not await officers.list_all(vault)
    finally:
        await vault.db.dispose()


def _read_text(path: Path) -> str:
    try:
        return _read_bytes(path).decode("utf-8")
    except UnicodeDecodeError:
        raise CandourError(f"{path} is not UTF-8 text") from None


def _read_bytes(path: Path) -> bytes:
    try:
        return path.read_bytes()
    except FileNotFoundError:
        raise CandourError(f"no such file: {path}") from None
    except OSError as exc:
        raise CandourError(f"cannot read {path}: {type(exc).__name__}") from None


# --- run ----------------------------------------------------------------------------------------


@main.command()
def run() -> None:
    """Run Candour: the bot on Telegram if a token is set, otherwise the sandbox chat in this terminal.

    On a machine that is not yet set up, `candour init` runs first and asks for the first officer.
    """
    settings = _settings()
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
    if run_async(_needs_admin(settings)):
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


@main.command()
@click.option(
    "--fast-clock",
    is_flag=True,
    help="Time moves only when you say (!later 7d, !next): see a check-in arrive and answer it.",
)
def sandbox(fast_clock: bool) -> None:
    """Chat with the real bot in this terminal, through a local Telegram emulator (no account needed)."""
    settings = _settings()
    configure_logging(logging.WARNING)
    if run_async(_needs_admin(settings)):
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


# --- officers -------------------------------------------------------------------------------------


@main.group()
def officer() -> None:
    """Manage desk accounts and queue membership."""


@officer.command("add")
@click.argument("login")
@click.option("--name", "display_name", required=True)
@click.option(
    "--role",
    "roles",
    multiple=True,
    type=click.Choice(officers.ROLES),
    default=("standards-officer",),
    show_default=True,
)
@click.option("--unit", default=None)
@click.option("--staff-number", default=None)
@click.option("--queue", "queues", multiple=True, help="Queue to join (new cases only; see `officer grant`).")
@click.option(
    "--passphrase",
    envvar="CANDOUR_NEW_PASSPHRASE",
    prompt="Passphrase for the new officer",
    hide_input=True,
    confirmation_prompt=True,
)
@click.option(
    "--desk-password",
    envvar="CANDOUR_DESK_PASSWORD",
    default=None,
    help="Also give a desk sign-in password (or CANDOUR_DESK_PASSWORD); never the key passphrase.",
)
@with_vault
async def officer_add(
    vault: Vault,
    login: str,
    display_name: str,
    roles: tuple[str, ...],
    unit: str | None,
    staff_number: str | None,
    queues: tuple[str, ...],
    passphrase: str,
    desk_password: str | None,
) -> None:
    """Add an officer with a new key pair (and a desk password, printing their one-time enrolment code)."""
    if desk_password is not None:
        desk_accounts.check_password(desk_password)  # before anything is created
        if desk_password == passphrase:
            raise InputError("the desk password must not be the officer's key passphrase: choose another")
    summary = await officers.add(
        vault,
        login=login,
        display_name=display_name,
        passphrase=passphrase,
        roles=roles,
        unit_id=unit,
        staff_number=staff_number,
        queues=queues,
    )
    click.echo(
        f"added {summary.login} (key {summary.key_fingerprint}); queues: {', '.join(summary.queues) or '-'}"
    )
    if desk_password is None:
        click.echo(f"no desk password yet: give one with `candour officer set-password {summary.login}`")
        return
    settings = _settings()
    code = await desk_accounts.set_password(
        vault, login=summary.login, password=desk_password, enrolment_lifetime=_enrolment_lifetime(settings)
    )
    click.echo(f"desk password set for {summary.login}")
    _echo_enrolment_code(settings, summary.login, code)


@officer.command("set-password")
@click.argument("login")
@click.option(
    "--password",
    envvar="CANDOUR_DESK_PASSWORD",
    prompt="Desk password (12+ characters)",
    hide_input=True,
    confirmation_prompt=True,
    help="The officer's desk sign-in password (or CANDOUR_DESK_PASSWORD); not their key passphrase.",
)
@click.option("--reset-totp", is_flag=True, help="Also remove their second factor, so they enrol again.")
@with_vault
async def officer_set_password(vault: Vault, login: str, password: str, reset_totp: bool) -> None:
    """Give an officer a desk password (ending their live desk sessions, clearing their back-off); audited.

    Prints a one-time enrolment code when they have (or, with --reset-totp, are left with) no second factor.
    """
    settings = _settings()
    lifetime = _enrolment_lifetime(settings)
    code = await desk_accounts.set_password(
        vault, login=login, password=password, enrolment_lifetime=lifetime
    )
    if reset_totp:
        code = await desk_accounts.reset_totp(vault, login=login, enrolment_lifetime=lifetime)
    click.echo(
        f"desk password set for {login}{'; second factor reset' if reset_totp else ''}; "
        "their live desk sessions have ended"
    )
    _echo_enrolment_code(settings, login, code)


@officer.command("list")
@with_vault
async def officer_list(vault: Vault) -> None:
    """List officers, roles and queues."""
    for o in await officers.list_all(vault):
        state = "" if o.active else " (inactive)"
        click.echo(
            f"{o.login:<20} {o.display_name:<28} unit={o.unit_id or '-':<22} roles={','.join(o.roles)} "
            f"queues={','.join(o.queues) or '-'} key={o.key_fingerprint}{state}"
        )


@officer.command("link-code")
@click.argument("login")
@with_vault
async def officer_link_code(vault: Vault, login: str) -> None:
    """Make a one-time code (15 minutes) for the officer to send as `/link CODE` to the bot from their own
    work Telegram account, for content-free notices of deadlines and escalations."""
    async with vault.db.reading() as session:
        found = await officers.get_by_login(session, login=login)
    assert found.id is not None
    code = await links.create_code(vault, officer_id=found.id)
    click.echo(f"send this to the bot within 15 minutes: /link {code}")


@officer.command("grant")
@click.argument("login")
@click.option("--queue", "queue_id", default=None, help="Add to this queue and open its open cases to them.")
@click.option("--case", "reference", default=None, help="Open this one case to them.")
@click.option("--as", "granter_login", required=True, help="Your login: your key unwraps what is granted.")
@_passphrase_option()
@with_vault
async def officer_grant(
    vault: Vault,
    login: str,
    queue_id: str | None,
    reference: str | None,
    granter_login: str,
    passphrase: str | None,
) -> None:
    """Give an officer access to a queue's open cases, or to one case."""
    if bool(queue_id) == bool(reference):
        raise InputError("give exactly one of --queue or --case")
    granter = await officers.unlock(vault, login=granter_login, passphrase=_passphrase(passphrase))
    if reference:
        granted = await casework.grant(vault, granter=granter, reference=reference, login=login)
        click.echo(f"{'granted' if granted else 'already entitled'}: {login} on {reference.upper()}")
        return
    assert queue_id is not None
    result = await casework.add_queue_member(vault, granter=granter, login=login, queue_id=queue_id)
    click.echo(f"{login} is a member of {queue_id}; opened {len(result.granted)} case(s) to them")
    if result.skipped_conflicts:
        click.echo(f"left out for conflict of interest: {', '.join(result.skipped_conflicts)}")
    if result.not_openable:
        click.echo(f"you cannot open these, ask a member who can: {', '.join(result.not_openable)}")


# --- keys -----------------------------------------------------------------------------------------


@main.group()
def keys() -> None:
    """Server keys: relay keyring rotation, recovery key."""


@keys.command("show")
def keys_show() -> None:
    """Show key ids and fingerprints (never key material)."""
    settings = _settings()
    try:
        server = keyring.load_keys(settings.keys_dir)
    except VaultError as exc:
        raise CandourError(str(exc)) from None
    click.echo(f"relay keyring: active {server.relay.active_id}; keys {', '.join(sorted(server.relay.keys))}")
    if server.recovery_public_key:
        from storage.crypto import fingerprint

        click.echo(f"recovery key: {fingerprint(server.recovery_public_key)}")
    else:
        click.echo("recovery key: none")


@keys.command("rotate-relay")
def keys_rotate_relay() -> None:
    """Add a new relay key and re-seal contact handles, drafts and outbox copies under it.

    Old keys stay until `candour keys retire-relay`, run after every process has restarted: until then a
    running bot still seals under the old key, and retiring it would make those blobs unreadable.
    """
    settings = _settings()

    async def _rotate() -> None:
        new_id = keyring.add_relay_key(settings.keys_dir)
        result = await _reseal(settings)
        click.echo(
            f"active relay key {new_id}; re-sealed {result.contacts} contact handle(s), {result.drafts} "
            f"draft(s), {result.outbox} outbox message(s), {result.links} officer link(s)"
        )
        click.echo("now restart every running Candour process, then run `candour keys retire-relay`")

    run_async(_rotate())


@keys.command("retire-relay")
def keys_retire_relay() -> None:
    """Re-seal anything still under an old relay key, then drop the old keys from the keyring."""
    settings = _settings()

    async def _retire() -> None:
        result = await _reseal(settings)
        dropped = keyring.retire_relay_keys(settings.keys_dir)
        click.echo(
            f"re-sealed {result.contacts + result.drafts + result.outbox + result.links} blob(s) left under old keys; "
            f"retired {', '.join(dropped) or 'nothing'}"
        )

    run_async(_retire())


async def _reseal(settings: Settings) -> rotation.RotationResult:
    vault = await open_vault(settings)
    try:
        return await rotation.reseal_all(vault, keyring=vault.keys.relay, actor="operator")
    finally:
        await vault.db.dispose()


@keys.command("create-recovery")
@click.option(
    "--out",
    "out_file",
    type=click.Path(dir_okay=False, path_type=Path),
    required=True,
    help="Where to write the sealed recovery private key: move it offline.",
)
@click.option(
    "--passphrase",
    envvar="CANDOUR_RECOVERY_PASSPHRASE",
    prompt="Recovery passphrase",
    hide_input=True,
    confirmation_prompt=True,
)
def keys_create_recovery(out_file: Path, passphrase: str) -> None:
    """Create the offline recovery key; new cases are also wrapped to it."""
    settings = _settings()
    try:
        officers.check_passphrase(passphrase)
        fingerprint = keyring.create_recovery_key(
            settings.keys_dir, out_file=out_file, passphrase=passphrase, params=kdf_params(settings)
        )
    except VaultError as exc:
        raise CandourError(str(exc)) from None
    click.echo(
        f"recovery key {fingerprint} written to {out_file}: move it offline; new cases will be wrapped to it"
    )


# --- policy ---------------------------------------------------------------------------------------


@main.group()
def policy() -> None:
    """Check, simulate, publish and roll back routing policies."""


@policy.command("validate")
@click.argument("file", type=click.Path(dir_okay=False, path_type=Path))
def policy_validate(file: Path) -> None:
    """Check a policy file (against live queue membership when the installation is initialised)."""
    text = _read_text(file)

    async def _check() -> Any:
        try:
            vault = await open_vault(_settings())
        except VaultError:
            return validate(load_policy(text)), False
        try:
            return await policy_store.check(vault, text=text), True
        finally:
            await vault.db.dispose()

    result, live = run_async(_check())
    for problem in result.warnings:
        click.echo(f"warning: {problem.code}: {problem.where}: {problem.message}")
    for problem in result.errors:
        click.echo(f"error: {problem.code}: {problem.where}: {problem.message}", err=True)
    if not result.ok:
        sys.exit(EXIT_INVALID)
    click.echo(f"{file}: valid{' (checked against live queue membership)' if live else ''}")


@policy.command("simulate")
@click.argument("file", type=click.Path(dir_okay=False, path_type=Path))
@with_vault
async def policy_simulate(vault: Vault, file: Path) -> None:
    """Show how each existing case's routing would change under FILE (from metadata, without decrypting)."""
    result = await policy_store.simulate_candidate(vault, text=_read_text(file))
    click.echo(result.summary())


@policy.command("apply")
@click.argument("file", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--as", "author", default="operator", help="Who publishes (recorded with the version).")
@click.option("--note", default="")
@with_vault
async def policy_apply(vault: Vault, file: Path, author: str, note: str) -> None:
    """Validate and publish FILE as the new active policy version."""
    published = await policy_store.publish(vault, text=_read_text(file), author=author, note=note)
    click.echo(f"published policy version {published.version} ({published.sha256[:12]})")


@policy.command("history")
@with_vault
async def policy_history(vault: Vault) -> None:
    """List published versions, newest first."""
    for item in await policy_store.history(vault):
        source = f" (from v{item.source_version})" if item.source_version else ""
        click.echo(
            f"v{item.version}  {item.published_at:%Y-%m-%d %H:%M}  {item.author:<20} {item.sha256[:12]}"
            f"{source}  {item.note}"
        )


@policy.command("rollback")
@click.argument("version", type=int)
@click.option("--as", "author", default="operator")
@with_vault
async def policy_rollback(vault: Vault, version: int, author: str) -> None:
    """Publish an earlier version's text again as the newest version."""
    published = await policy_store.rollback(vault, version=version, author=author)
    click.echo(f"published policy version {published.version} (the text of version {version})")


# --- cases ----------------------------------------------------------------------------------------


@main.group()
def case() -> None:
    """Read and submit cases from the command line."""


@case.command("show")
@click.argument("reference")
@click.option("--as", "login", default=None, help="Your officer login.")
@click.option(
    "--recovery-key",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="Open with the offline recovery key instead (break-glass, audited).",
)
@click.option(
    "--save-evidence",
    type=click.Path(file_okay=False, path_type=Path),
    default=None,
    help="Write decrypted evidence files into this folder.",
)
@_passphrase_option()
@with_vault
async def case_show(
    vault: Vault,
    reference: str,
    login: str | None,
    recovery_key: Path | None,
    save_evidence: Path | None,
    passphrase: str | None,
) -> None:
    """Decrypt and print a case you are entitled to."""
    if recovery_key is not None:
        secret = _passphrase(passphrase, "Recovery passphrase")
        private = keyring.open_recovery_key(recovery_key, passphrase=secret)
        opened = await casework.open_case_with_recovery(
            vault, recovery_private_key=private, reference=reference
        )
    else:
        if not login:
            raise InputError("give --as LOGIN (or --recovery-key FILE)")
        me = await officers.unlock(vault, login=login, passphrase=_passphrase(passphrase))
        opened = await casework.open_case(vault, officer=me, reference=reference)
    _print_case(opened)
    if save_evidence is not None:
        _save_evidence(opened, save_evidence)


def _print_case(opened: casework.OpenedCase) -> None:
    click.echo(f"{opened.reference}  status={opened.status}  priority={opened.priority}")
    click.echo(f"categories: {', '.join(opened.categories)}")
    click.echo(f"queues: {', '.join(opened.queues)}   flags: {', '.join(opened.flags) or '-'}")
    click.echo(
        f"received {opened.received_at:%Y-%m-%d %H:00} UTC; acknowledge by {opened.ack_due_at:%Y-%m-%d}; "
        f"feedback by {opened.feedback_due_at:%Y-%m-%d}"
    )
    click.echo(f"routed by policy v{opened.policy_version}, rules: {', '.join(opened.matched_rules)}")
    for item in opened.items:
        click.echo(f"\n[{item.seq}] {item.kind} by {item.author}, {item.created_at:%Y-%m-%d %H:00}")
        if item.kind == cases.REPORT:
            for key in ("narrative", "when", "where", "witnesses"):
                if item.meta.get(key):
                    click.echo(f"  {key}: {item.meta[key]}")
            for person in item.meta.get("subjects", []):
                described = ", ".join(f"{k}={v}" for k, v in person.items() if v)
                click.echo(f"  person involved: {described}")
            for key in ("ongoing", "risk_of_harm", "reported_before", "checkin_consent"):
                click.echo(f"  {key}: {item.meta.get(key)}")
        elif item.kind == cases.EVIDENCE:
            click.echo(
                f"  file {item.meta.get('filename')} ({item.meta.get('media_type')}, {item.meta.get('size')} "
                f"bytes, sha256 {item.meta.get('sha256')})"
            )
        elif item.kind == cases.SUBJECTS:
            click.echo(f"  directory officers named: {len(item.meta.get('officer_ids', []))}")
        else:
            click.echo(f"  {item.meta.get('text', json.dumps(item.meta))}")


def _save_evidence(opened: casework.OpenedCase, folder: Path) -> None:
    folder.mkdir(parents=True, exist_ok=True, mode=0o700)
    for item in opened.items:
        if item.kind == cases.EVIDENCE:
            name = Path(str(item.meta.get("filename") or "evidence")).name or "evidence"
            target = folder / f"{item.seq:03d}-{name}"
            target.write_bytes(item.body)
            target.chmod(0o600)
            click.echo(f"saved {target}")


@case.command("list")
@click.option("--as", "login", required=True)
@_passphrase_option()
@with_vault
async def case_list(vault: Vault, login: str, passphrase: str | None) -> None:
    """List the cases you can open."""
    me = await officers.unlock(vault, login=login, passphrase=_passphrase(passphrase))
    for item in await casework.list_entitled(vault, officer=me):
        click.echo(
            f"{item.reference}  {item.status:<13} {item.priority:<7} {','.join(item.queues):<28} "
            f"{','.join(item.categories)}  received {item.received_at:%Y-%m-%d %H:00}"
        )


@case.command("submit")
@click.option("--category", "categories", multiple=True, required=True)
@click.option("--narrative", required=True, help="What happened ('-' reads standard input).")
@click.option("--subject-unit", default=None, help="Unit of the person reported.")
@click.option("--subject-name", default="")
@click.option("--risk-of-harm", is_flag=True)
@click.option("--evidence", "evidence_files", multiple=True, type=click.Path(dir_okay=False, path_type=Path))
@with_vault
async def case_submit(
    vault: Vault,
    categories: tuple[str, ...],
    narrative: str,
    subject_unit: str | None,
    subject_name: str,
    risk_of_harm: bool,
    evidence_files: tuple[Path, ...],
) -> None:
    """Submit a report through the vault, as the bot does (smoke tests, training, the sandbox)."""
    text = sys.stdin.read() if narrative == "-" else narrative
    subjects = (cases.Person(name=subject_name, unit=subject_unit),) if subject_unit or subject_name else ()
    evidence = tuple(
        cases.Evidence(
            filename=p.name,
            media_type=mimetypes.guess_type(p.name)[0] or "application/octet-stream",
            content=_read_bytes(p),
        )
        for p in evidence_files
    )
    result = await cases.submit(
        vault,
        report=cases.ReportSubmission(
            categories=categories,
            narrative=text,
            subjects=subjects,
            risk_of_harm=risk_of_harm,
            evidence=evidence,
        ),
    )
    click.echo(
        f"case {result.reference} routed to {', '.join(result.queues)} (policy v{result.policy_version})"
    )
    click.echo(f"receipt code (shown once): {result.receipt_code}")


# --- audit ----------------------------------------------------------------------------------------


@main.group("audit")
def audit_group() -> None:
    """The tamper-evident audit log."""


@audit_group.command("verify")
@click.option(
    "--checkpoint-file",
    "exports",
    multiple=True,
    type=click.Path(dir_okay=False, path_type=Path),
    help="Also check against this exported checkpoint file (kept away from this host); repeatable.",
)
@click.option("--no-checkpoint", is_flag=True, help="Only check; do not sign a new checkpoint afterwards.")
@with_vault
async def audit_verify(vault: Vault, exports: tuple[Path, ...], no_checkpoint: bool) -> None:
    """Check the hash chain against the newest signed checkpoints; names the first entry that no longer
    matches, then signs a checkpoint of the head it verified."""
    settings = _settings()
    await _verified(vault, settings, exports)
    if no_checkpoint:
        return
    point = await _checkpoint(vault, settings)
    if point is None:
        click.echo("the newest checkpoint already covers the head: no new checkpoint was needed")
    else:
        click.echo(
            f"signed checkpoint {point.n} (entry {point.seq}) into "
            f"{checkpoints.checkpoint_file(settings.checkpoint_dir)}"
        )


@audit_group.group("checkpoint")
def checkpoint_group() -> None:
    """Signed checkpoints of the audit log, kept outside the database."""


@checkpoint_group.command("export")
@click.option(
    "--out",
    type=click.Path(dir_okay=False, path_type=Path),
    required=True,
    help="Write every checkpoint and the public key here, for an auditor to keep elsewhere.",
)
@with_vault
async def checkpoint_export(vault: Vault, out: Path) -> None:
    """Verify the log, sign a checkpoint of its head, and export every checkpoint with the public key."""
    settings = _settings()
    await _verified(vault, settings, ())
    await _checkpoint(vault, settings)
    try:
        exported = checkpoints.export(keys_dir=settings.keys_dir, directory=settings.checkpoint_dir, out=out)
    except OSError as exc:
        raise CandourError(f"cannot write {out}: {type(exc).__name__}") from None
    newest = exported.newest
    assert newest is not None
    click.echo(
        f"exported {len(exported.checkpoints)} checkpoints (newest: checkpoint {newest.n}, entry {newest.seq}) "
        f"signed by key {newest.key} to {out}"
    )
    click.echo(f"check against it later with: candour audit verify --checkpoint-file {out}")


@checkpoint_group.command("start-anew")
@with_vault
async def checkpoint_start_anew(vault: Vault) -> None:
    """After the checkpoint file was lost: record that in the audit log, then start a new file at
    checkpoint 1 over the log as it is now (it vouches for nothing before; compare with an export)."""
    settings = _settings()
    try:
        point = await checkpoints.start_anew(
            vault, keys_dir=settings.keys_dir, directory=settings.checkpoint_dir, actor="operator"
        )
    except checkpoints.AuditBrokenError as exc:
        click.echo(f"{exc}; no checkpoint was signed", err=True)
        sys.exit(EXIT_INVALID)
    except (checkpoints.CheckpointFileError, KeyringError) as exc:
        raise CandourError(str(exc)) from None
    except OSError as exc:
        raise CandourError(f"cannot write the checkpoint file: {type(exc).__name__}") from None
    click.echo(
        f"recorded {checkpoints.RESTARTED} in the audit log, and signed checkpoint {point.n} "
        f"(entry {point.seq}) into {checkpoints.checkpoint_file(settings.checkpoint_dir)}"
    )
    click.echo(
        "the new file vouches only for the log as it is now: check the entries before it against the "
        "auditor's export (candour audit verify --checkpoint-file EXPORT)"
    )


async def _verified(vault: Vault, settings: Settings, exports: tuple[Path, ...]) -> None:
    """Verify, print what it was checked against; exit 2 if the log or a checkpoint file fails."""
    result = await checkpoints.verify(
        vault, keys_dir=settings.keys_dir, directory=settings.checkpoint_dir, exports=exports
    )
    report = result.chain
    against = [f"checked against {a.describe()}" for a in result.against] or [
        "no signed checkpoint yet: only the hash chain was checked"
    ]
    if not result.ok:
        if not report.ok:
            click.echo(
                f"audit log BROKEN at entry {report.first_broken}: {report.reason} "
                f"({report.entries} entries verified before it)",
                err=True,
            )
        if result.problem:
            click.echo(f"audit checkpoints BROKEN: {result.problem}", err=True)
        for line in against:
            click.echo(line, err=True)
        sys.exit(EXIT_INVALID)
    click.echo(f"audit log intact: {report.entries} entries, head {report.head_hash}")
    for line in against:
        click.echo(line)


async def _checkpoint(vault: Vault, settings: Settings) -> checkpoints.Checkpoint | None:
    try:
        return await checkpoints.write(vault, keys_dir=settings.keys_dir, directory=settings.checkpoint_dir)
    except checkpoints.AuditBrokenError as exc:
        # The log changed between the check and the signature: say so, sign nothing.
        click.echo(str(exc), err=True)
        sys.exit(EXIT_INVALID)
    except (checkpoints.CheckpointFileError, KeyringError) as exc:
        raise CandourError(f"no checkpoint was signed: {exc}") from None
    except OSError as exc:
        raise CandourError(f"cannot write the checkpoint file: {type(exc).__name__}") from None


main.add_command(desk_group)
