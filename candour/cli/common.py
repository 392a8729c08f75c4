"""What every `candour` verb shares: one-line errors, settings, the vault around a command, secrets asked late.

Every failure the operator can cause (wrong passphrase, missing data directory, bad URL, unreachable
database, invalid policy) ends in one clear line on stderr and a non-zero exit, never a traceback.
"""

from __future__ import annotations

import asyncio
import functools
from collections.abc import Awaitable, Callable, Coroutine
from datetime import timedelta
from pathlib import Path
from typing import Any, TypeVar

import click
from pydantic import ValidationError

from candour.app import open_vault
from candour.settings import Settings, SettingsFileError
from policies.errors import PolicyError, PolicyInvalidError
from storage import officers
from storage.errors import VaultError

T = TypeVar("T")
EXIT_ERROR = 1
EXIT_INVALID = 2


class CandourError(click.ClickException):
    """A one-line error for the operator."""

    exit_code = EXIT_ERROR

    def show(self, file: Any = None) -> None:
        click.echo(f"candour: {self.format_message()}", err=True)


def load_settings() -> Settings:
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
            vault = await open_vault(load_settings())
            try:
                return await func(vault, *args, **kwargs)
            finally:
                await vault.db.dispose()

        return run_async(_run())

    return wrapper


def passphrase_option(**kwargs: Any) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """--passphrase, asked for by `_passphrase` only once the vault is open (see there)."""
    return click.option(
        "--passphrase",
        envvar="CANDOUR_PASSPHRASE",
        default=None,
        help="Officer passphrase (prompted if not given; or CANDOUR_PASSPHRASE).",
        **kwargs,
    )


def ask_passphrase(given: str | None, text: str = "Passphrase") -> str:
    """The passphrase from the option, or asked for now (hidden).

    Why not click's own prompt: it would ask while the options are read, before the command has found
    out that there is no data directory or no database, so the operator types a secret for nothing.
    """
    return given if given else str(click.prompt(text, hide_input=True))


def enrolment_lifetime(settings: Settings) -> timedelta:
    return timedelta(hours=settings.desk_enrolment_code_hours)


def echo_enrolment_code(settings: Settings, login: str, code: str | None) -> None:
    """Show the one-time enrolment code, once: it is stored only as a keyed hash."""
    if code is None:
        return
    click.echo(
        f"enrolment code for {login}: {code}\n"
        f"  Hand it to {login} yourself (in person or by another channel than the password). The desk asks "
        f"for it once, when they enrol their authenticator; it expires in {settings.desk_enrolment_code_hours} "
        "hours and cannot be shown again (`candour officer set-password --reset-totp` makes a new one)."
    )


async def needs_admin(settings: Settings) -> bool:
    try:
        vault = await open_vault(settings)
    except VaultError:
        return True
    try:
        return not await officers.list_all(vault)
    finally:
        await vault.db.dispose()


def read_text(path: Path) -> str:
    try:
        return read_bytes(path).decode("utf-8")
    except UnicodeDecodeError:
        raise CandourError(f"{path} is not UTF-8 text") from None


def read_bytes(path: Path) -> bytes:
    try:
        return path.read_bytes()
    except FileNotFoundError:
        raise CandourError(f"no such file: {path}") from None
    except OSError as exc:
        raise CandourError(f"cannot read {path}: {type(exc).__name__}") from None
