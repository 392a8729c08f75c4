"""`candour desk`: the standards desk from a terminal, over the desk's JSON API (login, queue, show, pull,
logout). It needs a running desk (`candour run`), not the data directory."""

from __future__ import annotations

import json
import os
import re
from pathlib import Path
from typing import Any

import click

from desk.client import DeskApi, DeskClientError, StoredSession, default_session_file

CASEWORK_ROLES = {"standards-officer", "queue-lead"}


class DeskCliError(click.ClickException):
    """One line on stderr, like every `candour` error."""

    def show(self, file: Any = None) -> None:
        click.echo(f"candour: {self.format_message()}", err=True)


def _default_url() -> str:
    host = os.environ.get("CANDOUR_DESK_HOST", "127.0.0.1")
    port = os.environ.get("CANDOUR_DESK_PORT", "8470")
    return f"http://{host}:{port}"


def _session_file(ctx: click.Context) -> Path:
    return Path(ctx.obj["session_file"])


def _api(ctx: click.Context) -> DeskApi:
    stored = StoredSession.load(_session_file(ctx))
    return DeskApi(stored.url, session=stored)


@click.group()
@click.option(
    "--session-file",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="Where the signed-in session is kept (default ~/.config/candour/desk-session.json, "
    "or CANDOUR_DESK_SESSION_FILE).",
)
@click.pass_context
def desk(ctx: click.Context, session_file: Path | None) -> None:
    """Work your queue from the terminal, through the running desk."""
    ctx.ensure_object(dict)
    ctx.obj["session_file"] = session_file or default_session_file()


def _guard(ctx: click.Context, func: Any) -> Any:
    try:
        return func()
    except DeskClientError as exc:
        raise DeskCliError(str(exc)) from None


@desk.command()
@click.option(
    "--url", default=None, help="The desk's address (default http://CANDOUR_DESK_HOST:CANDOUR_DESK_PORT)."
)
@click.option("--login", "login", prompt="Login")
@click.option("--password", envvar="CANDOUR_DESK_PASSWORD", prompt="Desk password", hide_input=True)
@click.option("--code", default="", help="The code your authenticator app shows (prompted if enrolled).")
@click.option(
    "--passphrase",
    envvar="CANDOUR_PASSPHRASE",
    default=None,
    help="Your key passphrase, to unlock your key for this session (prompted if needed).",
)
@click.pass_context
def login(
    ctx: click.Context, url: str | None, login: str, password: str, code: str, passphrase: str | None
) -> None:
    """Sign in to the desk and unlock your key for this session."""

    def run() -> None:
        with DeskApi(url or _default_url()) as api:
            given = code or click.prompt(
                "Code from your authenticator app (empty if none)", default="", show_default=False
            )
            session = api.sign_in(login=login, password=password, code=given or None)
            if session["totp_required"] and not session["totp_enrolled"]:
                raise DeskClientError(
                    "enrol a second factor in the desk in your browser first, then sign in here"
                )
            assert api.session is not None
            if CASEWORK_ROLES & set(session["roles"]):
                secret = passphrase or click.prompt("Key passphrase", hide_input=True)
                api.unlock(secret)
            api.session.save(_session_file(ctx))
            click.echo(f"signed in to {api.url} as {session['login']} ({', '.join(session['roles'])})")

    _guard(ctx, run)


@desk.command()
@click.pass_context
def logout(ctx: click.Context) -> None:
    """Sign out: the desk drops your unlocked key."""

    def run() -> None:
        with _api(ctx) as api:
            api.logout()
        _session_file(ctx).unlink(missing_ok=True)
        click.echo("signed out")

    _guard(ctx, run)


@desk.command()
@click.option("--status", default=None)
@click.option("--priority", default=None)
@click.option("--category", default=None)
@click.option("--reference", default=None, help="A reference or its beginning.")
@click.option("--mine", is_flag=True, help="Only cases assigned to me.")
@click.option("--sort", default="received-desc", show_default=True)
@click.pass_context
def queue(
    ctx: click.Context,
    status: str | None,
    priority: str | None,
    category: str | None,
    reference: str | None,
    mine: bool,
    sort: str,
) -> None:
    """List the cases of your queues (metadata only)."""

    def run() -> None:
        with _api(ctx) as api:
            rows = list(
                api.queue(
                    status=status,
                    priority=priority,
                    category=category,
                    reference=reference,
                    mine=mine,
                    sort=sort,
                )
            )
        for row in rows:
            marks = [m for m in (row["ack_state"], row["feedback_state"]) if m in ("overdue", "due-soon")]
            if row["new_message"]:
                marks.append("new-message")
            click.echo(
                f"{row['reference']}  {row['status']:<13} {row['priority']:<7} {','.join(row['categories']):<30} "
                f"received {row['received_at'][:13]}:00  ack by {row['ack_due_at'][:10]}  "
                f"assignee {row['assignee'] or '-'}  {' '.join(marks + row['flags'])}".rstrip()
            )
        click.echo(f"{len(rows)} case(s)")

    _guard(ctx, run)


@desk.command()
@click.argument("reference")
@click.pass_context
def show(ctx: click.Context, reference: str) -> None:
    """Decrypt and print one case (audited)."""

    def run() -> None:
        with _api(ctx) as api:
            case = api.case(reference)
        _print_case(case)

    _guard(ctx, run)


def _print_case(case: dict[str, Any]) -> None:
    click.echo(f"{case['reference']}  status={case['status']}  priority={case['priority']}")
    click.echo(f"categories: {', '.join(case['categories'])}   queues: {', '.join(case['queues'])}")
    click.echo(f"assignee: {case['assignee'] or '-'}   flags: {', '.join(case['flags']) or '-'}")
    click.echo(
        f"received {case['received_at'][:13]}:00; acknowledge by {case['ack_due_at'][:10]}; "
        f"feedback by {case['feedback_due_at'][:10]}"
    )
    report = case["report"]
    click.echo(f"\nnarrative: {report.get('narrative', '')}")
    for key in ("when", "where", "witnesses"):
        if report.get(key):
            click.echo(f"{key}: {report[key]}")
    for person in report.get("subjects") or []:
        click.echo("person involved: " + ", ".join(f"{k}={v}" for k, v in person.items() if v))
    for item in case["files"]:
        click.echo(
            f"file {item['filename']} ({item['media_type']}, {item['size']} bytes, sha256 {item['sha256']})"
        )
    click.echo("\ntimeline:")
    for entry in case["timeline"]:
        who = entry["officer"] or entry["author"]
        click.echo(f"  {entry['at'][:13]}:00  {entry['kind']:<16} {who:<12} {entry['text'] or ''}")


def _safe_name(name: str) -> str:
    cleaned = re.sub(r"[^A-Za-z0-9._-]", "_", Path(name.replace("\\", "/")).name)
    return cleaned.lstrip(".") or "file"


@desk.command()
@click.argument("folder", type=click.Path(file_okay=False, path_type=Path))
@click.option("--status", default=None, help="Only cases with this status.")
@click.pass_context
def pull(ctx: click.Context, folder: Path, status: str | None) -> None:
    """Export my queue's cases, decrypted, into FOLDER (one folder per case; every export is audited)."""

    def run() -> None:
        with _api(ctx) as api:
            references = [row["reference"] for row in api.queue(status=status)]
            folder.mkdir(parents=True, exist_ok=True, mode=0o700)
            with click.progressbar(references, label="Pulling cases", show_pos=True) as bar:
                for reference in bar:
                    _pull_case(api, folder, reference)
        click.echo(f"pulled {len(references)} case(s) into {folder}")

    _guard(ctx, run)


def _pull_case(api: DeskApi, folder: Path, reference: str) -> None:
    case = api.case(reference)
    target = folder / _safe_name(case["reference"])
    files = target / "files"
    files.mkdir(parents=True, exist_ok=True, mode=0o700)
    for item in case["files"]:
        path = files / f"{item['seq']:03d}-{_safe_name(item['filename'])}"
        _write_private(path, api.file(item["href"]))
    _write_private(target / "case.json", json.dumps(case, indent=2, ensure_ascii=False).encode("utf-8"))
    api.record_export(case["reference"])


def _write_private(path: Path, content: bytes) -> None:
    # Decrypted case content: readable by its owner only, from the moment the file exists.
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as handle:
        handle.write(content)
