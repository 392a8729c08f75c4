"""`candour keys`: the relay keyring's rotation and the offline recovery key."""

from __future__ import annotations

from pathlib import Path

import click

from candour.app import kdf_params, open_vault
from candour.cli.common import CandourError, load_settings, run_async
from candour.settings import Settings
from storage import keyring, officers, rotation
from storage.errors import VaultError


@click.group()
def keys() -> None:
    """Server keys: relay keyring rotation, recovery key."""


@keys.command("show")
def keys_show() -> None:
    """Show key ids and fingerprints (never key material)."""
    settings = load_settings()
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
    settings = load_settings()

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
    settings = load_settings()

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
    settings = load_settings()
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
