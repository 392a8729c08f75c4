"""`candour audit`: verify the hash chain against signed checkpoints, export and restart checkpoints."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from candour.cli.common import EXIT_INVALID, CandourError, load_settings, with_vault
from candour.settings import Settings
from storage import checkpoints
from storage.errors import KeyringError
from storage.vault import Vault


@click.group("audit")
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
    settings = load_settings()
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
    settings = load_settings()
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
    settings = load_settings()
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
