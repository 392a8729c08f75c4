"""`candour case`: read, list and submit cases from the command line."""

from __future__ import annotations

import json
import mimetypes
import sys
from pathlib import Path

import click

from candour.cli.common import ask_passphrase, passphrase_option, read_bytes, with_vault
from storage import cases, casework, keyring, officers
from storage.errors import InputError
from storage.vault import Vault


@click.group()
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
@passphrase_option()
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
        secret = ask_passphrase(passphrase, "Recovery passphrase")
        private = keyring.open_recovery_key(recovery_key, passphrase=secret)
        opened = await casework.open_case_with_recovery(
            vault, recovery_private_key=private, reference=reference
        )
    else:
        if not login:
            raise InputError("give --as LOGIN (or --recovery-key FILE)")
        me = await officers.unlock(vault, login=login, passphrase=ask_passphrase(passphrase))
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
            kept = (
                ", not cleaned: its metadata is kept" if item.meta.get("metadata_kept") is not False else ""
            )
            click.echo(
                f"  file {item.meta.get('filename')} ({item.meta.get('media_type')}, {item.meta.get('size')} "
                f"bytes, sha256 {item.meta.get('sha256')}{kept})"
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
@passphrase_option()
@with_vault
async def case_list(vault: Vault, login: str, passphrase: str | None) -> None:
    """List the cases you can open."""
    me = await officers.unlock(vault, login=login, passphrase=ask_passphrase(passphrase))
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
@click.option(
    "--evidence",
    "evidence_files",
    multiple=True,
    type=click.Path(dir_okay=False, path_type=Path),
    help="A file to seal with the report, as it is: the CLI does not clean it, so any metadata it "
    "holds (a photo's place and device) is kept, and the desk shows it only as a download.",
)
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
    """Submit a report through the vault, as the bot does (smoke tests, training, the sandbox); evidence
    files are sealed as they are, never cleaned."""
    text = sys.stdin.read() if narrative == "-" else narrative
    subjects = (cases.Person(name=subject_name, unit=subject_unit),) if subject_unit or subject_name else ()
    evidence = files_as_sent(evidence_files)
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
    for item in evidence:
        click.echo(f"file {item.filename}: sealed as it is, not cleaned (any metadata in it is kept)")
    click.echo(f"receipt code (shown once): {result.receipt_code}")


def files_as_sent(paths: tuple[Path, ...]) -> tuple[cases.Evidence, ...]:
    """Evidence files read as they are, marked as such.

    Why kept, not cleaned: the CLI has no cleaner, and the desk previews (decodes with Pillow, beside
    unlocked keys) only a file whose header says the evidence worker re-encoded it; a file marked as
    cleaned that was not would be both a false label and a raw image decoded in that process.
    """
    return tuple(
        cases.Evidence(
            filename=p.name,
            media_type=mimetypes.guess_type(p.name)[0] or "application/octet-stream",
            content=read_bytes(p),
            metadata_kept=True,
        )
        for p in paths
    )
