"""`candour init`: the data directory, keys, database, first officer and policy.

Every secret is checked before anything is made, so a refused one leaves nothing behind.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from pathlib import Path

import click

from candour.app import AdminSpec, initialise, open_vault, warn_if_keys_with_data
from candour.cli.common import (
    CandourError,
    echo_enrolment_code,
    enrolment_lifetime,
    load_settings,
    needs_admin,
    read_text,
    run_async,
)
from candour.settings import Settings
from storage import desk_accounts, officers
from storage.errors import InputError


@click.command()
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
    settings = load_settings()
    policy_text = read_text(policy_file) if policy_file else None
    admin = None
    if run_async(needs_admin(settings)):
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
        echo_enrolment_code(settings, admin.login, code)
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
            vault, login=login, password=password, enrolment_lifetime=enrolment_lifetime(settings)
        )
    finally:
        await vault.db.dispose()
