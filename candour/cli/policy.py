"""`candour policy`: check, simulate, publish and roll back routing policies."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import click

from candour.app import open_vault
from candour.cli.common import EXIT_INVALID, load_settings, read_text, run_async, with_vault
from policies.loader import load_policy
from policies.validator import validate
from storage import policy_store
from storage.errors import VaultError
from storage.vault import Vault


@click.group()
def policy() -> None:
    """Check, simulate, publish and roll back routing policies."""


@policy.command("validate")
@click.argument("file", type=click.Path(dir_okay=False, path_type=Path))
def policy_validate(file: Path) -> None:
    """Check a policy file (against live queue membership when the installation is initialised)."""
    text = read_text(file)

    async def _check() -> Any:
        try:
            vault = await open_vault(load_settings())
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
    result = await policy_store.simulate_candidate(vault, text=read_text(file))
    click.echo(result.summary())


@policy.command("apply")
@click.argument("file", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--as", "author", default="operator", help="Who publishes (recorded with the version).")
@click.option("--note", default="")
@with_vault
async def policy_apply(vault: Vault, file: Path, author: str, note: str) -> None:
    """Validate and publish FILE as the new active policy version."""
    published = await policy_store.publish(vault, text=read_text(file), author=author, note=note)
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
