"""`candour officer`: desk accounts, passwords, Telegram link codes, queue membership and grants."""

from __future__ import annotations

import click

from candour.cli.common import (
    ask_passphrase,
    echo_enrolment_code,
    enrolment_lifetime,
    load_settings,
    passphrase_option,
    with_vault,
)
from storage import casework, desk_accounts, links, officers
from storage.errors import InputError
from storage.vault import Vault


@click.group()
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
    settings = load_settings()
    code = await desk_accounts.set_password(
        vault, login=summary.login, password=desk_password, enrolment_lifetime=enrolment_lifetime(settings)
    )
    click.echo(f"desk password set for {summary.login}")
    echo_enrolment_code(settings, summary.login, code)


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
    settings = load_settings()
    lifetime = enrolment_lifetime(settings)
    code = await desk_accounts.set_password(
        vault, login=login, password=password, enrolment_lifetime=lifetime
    )
    if reset_totp:
        code = await desk_accounts.reset_totp(vault, login=login, enrolment_lifetime=lifetime)
    click.echo(
        f"desk password set for {login}{'; second factor reset' if reset_totp else ''}; "
        "their live desk sessions have ended"
    )
    echo_enrolment_code(settings, login, code)


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
@passphrase_option()
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
    granter = await officers.unlock(vault, login=granter_login, passphrase=ask_passphrase(passphrase))
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
