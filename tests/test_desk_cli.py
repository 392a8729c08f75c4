"""`candour desk` against a live desk served by uvicorn on a free port (the way `candour run` serves it):
login with TOTP and unlock, queue, show, pull with its audit trail, logout; and `officer set-password`."""

from __future__ import annotations

import asyncio
import json
import socket
import stat
from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path

import pytest
from click.testing import CliRunner, Result
from sqlmodel import col, select

from candour.app import desk_config
from candour.cli import main
from desk import server
from desk.app import build_app
from storage import cases, crypto, desk_accounts
from storage.models import AuditEntry
from storage.vault import Vault
from tests.conftest import PASSPHRASE
from tests.desk_world import PASSWORD

PNG = b"\x89PNG\r\n\x1a\n" + bytes(32)


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@pytest.fixture
async def live_desk(vault: Vault, settings) -> AsyncIterator[str]:
    port = free_port()
    stop = asyncio.Event()
    task = asyncio.create_task(
        server.serve(build_app(vault, desk_config(settings)), host="127.0.0.1", port=port, stop=stop)
    )
    for _ in range(200):
        try:
            _reader, writer = await asyncio.open_connection("127.0.0.1", port)
            writer.close()
            break
        except OSError:
            await asyncio.sleep(0.02)
    yield f"http://127.0.0.1:{port}"
    stop.set()
    await task


async def cli(*args: str, env: dict[str, str] | None = None, input: str | None = None) -> Result:
    # In a thread: the CLI is synchronous, and the desk it talks to runs on this test's event loop.
    return await asyncio.to_thread(
        CliRunner().invoke, main, list(args), env=env, input=input, catch_exceptions=False
    )


async def enrolled_alice(vault: Vault, clock) -> bytes:
    enrolment = await desk_accounts.set_password(vault, login="alice", password=PASSWORD)
    assert enrolment is not None
    signed = await desk_accounts.sign_in(
        vault,
        login="alice",
        password=PASSWORD,
        code=None,
        rule=desk_accounts.LockoutRule(5, timedelta(minutes=1)),
    )
    secret = desk_accounts.new_totp_secret()
    await desk_accounts.enrol_totp(
        vault,
        officer_id=signed.officer_id,
        secret=secret,
        code=crypto.totp_code(secret, at=clock.now().timestamp()),
        enrolment_code=enrolment,
    )
    clock.advance(timedelta(seconds=30))
    return secret


async def test_desk_cli_login_queue_show_pull(vault: Vault, live_desk: str, clock, tmp_path: Path) -> None:
    secret = await enrolled_alice(vault, clock)
    refs = []
    for index in range(3):
        evidence = (
            (
                cases.Evidence(
                    filename="../../etc/shot.png", media_type="image/png", content=PNG, metadata_kept=False
                ),
            )
            if index == 0
            else ()
        )
        result = await cases.submit(
            vault,
            report=cases.ReportSubmission(
                categories=("racism",), narrative=f"Report number {index}", evidence=evidence
            ),
        )
        refs.append(result.reference)
    session_file = tmp_path / "cfg" / "session.json"
    env = {"CANDOUR_DESK_SESSION_FILE": str(session_file)}

    wrong = await cli(
        "desk",
        "login",
        "--url",
        live_desk,
        "--login",
        "alice",
        "--password",
        "wrong password!!",
        "--code",
        "000000",
        env=env,
    )
    assert wrong.exit_code == 1 and f"{desk_accounts.REFUSED} (HTTP 401)" in wrong.output
    assert not session_file.exists()

    code = crypto.totp_code(secret, at=clock.now().timestamp())
    login = await cli(
        "desk",
        "login",
        "--url",
        live_desk,
        "--login",
        "alice",
        "--password",
        PASSWORD,
        "--code",
        code,
        env=env,
        input=f"{PASSPHRASE}\n",
    )
    assert login.exit_code == 0, login.output
    assert "signed in to" in login.output and "alice" in login.output
    assert stat.S_IMODE(session_file.stat().st_mode) == 0o600

    listed = await cli("desk", "queue", env=env)
    assert listed.exit_code == 0 and "3 case(s)" in listed.output
    assert all(ref in listed.output for ref in refs)
    filtered = await cli("desk", "queue", "--reference", refs[1], env=env)
    assert refs[1] in filtered.output and "1 case(s)" in filtered.output
    bad = await cli("desk", "queue", "--status", "lost", env=env)
    assert bad.exit_code == 1 and "status must be one of" in bad.output

    shown = await cli("desk", "show", refs[0], env=env)
    assert (
        shown.exit_code == 0 and "narrative: Report number 0" in shown.output and "shot.png" in shown.output
    )

    out = tmp_path / "export"
    pulled = await cli("desk", "pull", str(out), env=env)
    assert pulled.exit_code == 0, pulled.output
    assert "pulled 3 case(s)" in pulled.output and "Pulling cases" in pulled.output
    for index, ref in enumerate(refs):
        document = json.loads((out / ref / "case.json").read_text())
        assert document["report"]["narrative"] == f"Report number {index}"
    saved = list((out / refs[0] / "files").iterdir())
    assert [p.name for p in saved] == ["003-shot.png"] and saved[0].read_bytes() == PNG
    assert stat.S_IMODE(saved[0].stat().st_mode) == 0o600
    async with vault.db.reading() as session:
        logged = list((await session.exec(select(AuditEntry.action).order_by(col(AuditEntry.seq)))).all())
    assert logged.count("case.exported") == 3 and logged.count("case.file-opened") == 1

    assert (await cli("desk", "logout", env=env)).exit_code == 0
    assert not session_file.exists()
    after = await cli("desk", "queue", env=env)
    assert after.exit_code == 1 and "not signed in" in after.output


async def test_desk_cli_says_when_the_desk_is_not_running(tmp_path: Path) -> None:
    env = {"CANDOUR_DESK_SESSION_FILE": str(tmp_path / "s.json")}
    result = await cli(
        "desk",
        "login",
        "--url",
        f"http://127.0.0.1:{free_port()}",
        "--login",
        "alice",
        "--password",
        PASSWORD,
        "--code",
        "123456",
        env=env,
    )
    assert result.exit_code == 1 and "cannot reach the desk" in result.output


async def test_serving_on_a_taken_port_fails_clearly(vault: Vault, settings) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        with pytest.raises(server.DeskNotServedError, match=f"127.0.0.1:{port}"):
            await server.serve(
                build_app(vault, desk_config(settings)), host="127.0.0.1", port=port, stop=asyncio.Event()
            )


def test_the_desk_port_check_cannot_pass_twice() -> None:
    # Two `candour run`s checking one port: the first check must hold the port, not merely bind it
    # (two SO_REUSEADDR sockets may both bind a port that neither listens on).
    first = server.bind("127.0.0.1", 0)
    try:
        port = server.bound_port(first)
        with pytest.raises(server.DeskNotServedError, match=f"127.0.0.1:{port}: the port is already in use"):
            server.bind("127.0.0.1", port)
        # Nor can another program's socket, bound the same way, take it from under the desk.
        with socket.socket() as other:
            other.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            with pytest.raises(OSError):
                other.bind(("127.0.0.1", port))
                other.listen()
    finally:
        first.close()


async def test_officer_set_password_gives_a_desk_password(vault: Vault, settings, clock) -> None:
    env = {
        "CANDOUR_DATA_DIR": str(settings.data_dir),
        "CANDOUR_DATABASE_URL": settings.database_url or "",
        "CANDOUR_ARGON2_MEMORY_KIB": "64",
        "CANDOUR_ARGON2_ITERATIONS": "1",
        "CANDOUR_ARGON2_LANES": "1",
    }
    short = await cli("officer", "set-password", "alice", env=env, input="short\nshort\n")
    assert short.exit_code == 1 and "at least 12" in short.output
    done = await cli(
        "officer", "set-password", "alice", "--reset-totp", env=env, input=f"{PASSWORD}\n{PASSWORD}\n"
    )
    assert done.exit_code == 0, done.output
    assert "desk password set for alice; second factor reset" in done.output
    signed = await desk_accounts.sign_in(
        vault,
        login="alice",
        password=PASSWORD,
        code=None,
        rule=desk_accounts.LockoutRule(5, timedelta(minutes=1)),
    )
    assert signed.login == "alice" and not signed.totp_enrolled
    async with vault.db.reading() as session:
        logged = list((await session.exec(select(AuditEntry.action).order_by(col(AuditEntry.seq)))).all())
    assert logged[-3:] == ["desk.password-set", "desk.totp-reset", "desk.signed-in"]
