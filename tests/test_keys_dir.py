"""Keys apart from the data (issue 9, point 8).

- CANDOUR_KEYS_DIR puts the server key files outside the data directory, and an installation works end
  to end from there (init, a report with a contact, an officer opening it, the contact opened to deliver).
- A copy of the data directory alone (the SQLite database, or with PostgreSQL the database itself) opens
  no contact handle and no desk TOTP secret: the vault's own open functions refuse it, without keys and
  with keys made afresh; with the keys inside the data directory (the one-machine default) the same copy
  does open them, which is what the start-up warning is about.
- Every secret can be read from a file (`CANDOUR_X_FILE`): settings fields through the settings source,
  the command line's passphrases and desk password through `export_secret_files`; both forms at once,
  or an unreadable file, are refused without showing the value.
- The warning about keys inside the data directory is logged by `candour init` and by the dispatcher
  process when a Telegram token is set, and not with the keys elsewhere nor in the sandbox (no token).
- Receipt-guess windows of past hours are purged by the periodic sweep; the current hour's stay.
"""

from __future__ import annotations

import asyncio
import base64
import json
import logging
import os
import shutil
import subprocess
import sys
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path

import pytest
from click.testing import CliRunner
from sqlmodel import select
from telegram import Bot

from bot.catalogue import Catalogue
from bot.emulator import TelegramEmulator
from bot.followup import Dispatcher
from candour.app import KEYS_WITH_DATA, AdminSpec, initialise, open_vault
from candour.cli import main
from candour.settings import COMMAND_LINE_SECRETS, Settings, SettingsFileError, export_secret_files
from storage import cases, casework, crypto, desk_accounts, keyring, officers, receipts, throttle
from storage.clock import ManualClock
from storage.errors import DecryptionError, KeyringError, UnknownReceiptError
from storage.models import DeskAccount, ReceiptAttempt
from storage.vault import Vault
from tests.conftest import FAST_KDF, PASSPHRASE
from tests.dispatch_world import ROOT, TOKEN, install, wait_exit

CHAT = "4503599627370499"
DESK_PASSWORD = "a desk password, not the passphrase"
REPORT = cases.ReportSubmission(
    categories=("bullying",), narrative="My sergeant mocks my accent.", when="ongoing"
)


@pytest.fixture
def split_settings(
    engine_name: str,
    request: pytest.FixtureRequest,
    settings_factory: Callable[..., Settings],
    tmp_path: Path,
) -> Settings:
    """An installation's settings with the key files in a directory of their own."""
    url = request.getfixturevalue("postgres_database") if engine_name == "postgres" else None
    return settings_factory(url, keys_dir=tmp_path / "secrets" / "candour-keys")


async def installed(settings: Settings, clock: ManualClock) -> Vault:
    await initialise(
        settings,
        admin=AdminSpec(login="alice", display_name="Alice Admin", passphrase=PASSPHRASE),
        clock=clock,
    )
    return await open_vault(settings, clock=clock)


async def enrol_second_factor(vault: Vault, clock: ManualClock) -> bytes:
    """Alice gets a desk password and enrols an authenticator, as at the desk; returns the TOTP secret."""
    enrolment = await desk_accounts.set_password(vault, login="alice", password=DESK_PASSWORD)
    assert enrolment is not None
    alice = await officers.unlock(vault, login="alice", passphrase=PASSPHRASE)
    secret = desk_accounts.new_totp_secret()
    code = crypto.totp_code(secret, at=clock.now().timestamp())
    await desk_accounts.enrol_totp(
        vault, officer_id=alice.id, secret=secret, code=code, enrolment_code=enrolment
    )
    return secret


async def desk_account(vault: Vault) -> DeskAccount:
    async with vault.db.reading() as session:
        return (await session.exec(select(DeskAccount))).one()


def key_material(keys_dir: Path) -> list[bytes]:
    """Every secret in the key files, raw and as written (base64)."""
    relay = json.loads((keys_dir / keyring.RELAY_FILE).read_text())
    server = json.loads((keys_dir / keyring.SERVER_FILE).read_text())
    texts = [k["key"] for k in relay["keys"]] + [server["receipt_pepper"], server["lookup_key"]]
    return [t.encode() for t in texts] + [base64.b64decode(t) for t in texts]


def copy_of(settings: Settings, where: Path) -> Settings:
    """What someone who copied the data directory (and, with PostgreSQL, the database) would run."""
    shutil.copytree(settings.data_dir, where)
    return Settings(_env_file=None, data_dir=where, database_url=settings.database_url, **FAST_KDF)  # type: ignore[call-arg]


# --- keys in a directory of their own -------------------------------------------------------------------


async def test_keys_in_a_separate_directory_work_end_to_end(
    split_settings: Settings, clock: ManualClock
) -> None:
    vault = await installed(split_settings, clock)
    try:
        assert keyring.keys_exist(split_settings.keys_dir)
        assert not (split_settings.data_dir / "keys").exists(), "keys were made inside the data directory"
        assert not split_settings.keys_inside_data_dir
        result = await cases.submit(vault, report=REPORT, contact=CHAT)
        alice = await officers.unlock(vault, login="alice", passphrase=PASSPHRASE)
        opened = await casework.open_case(vault, officer=alice, reference=result.reference)
        assert "accent" in opened.first(cases.REPORT).meta["narrative"]
        assert await cases.open_contact(vault, case_id=result.case_id) == CHAT
        assert await cases.case_for_receipt(vault, code=result.receipt_code) == result.case_id
    finally:
        await vault.db.dispose()


async def test_a_copy_of_the_data_directory_alone_opens_no_contact_handle_and_no_totp_secret(
    split_settings: Settings, clock: ManualClock, tmp_path: Path
) -> None:
    vault = await installed(split_settings, clock)
    try:
        result = await cases.submit(vault, report=REPORT, contact=CHAT)
        await enrol_second_factor(vault, clock)
    finally:
        await vault.db.dispose()

    stolen = copy_of(split_settings, tmp_path / "copied-data")
    material = key_material(split_settings.keys_dir)
    for path in (p for p in stolen.data_dir.rglob("*") if p.is_file()):
        content = path.read_bytes()
        assert not any(secret in content for secret in material), f"key material in {path.name}"

    with pytest.raises(KeyringError):
        await open_vault(stolen, clock=clock)

    # Keys made afresh for the copy (what `candour init` would do there) open the database but none of it.
    keyring.create_keys(stolen.keys_dir)
    thief = await open_vault(stolen, clock=clock)
    try:
        with pytest.raises(DecryptionError):
            await cases.open_contact(thief, case_id=result.case_id)
        account = await desk_account(thief)
        assert account.totp_sealed is not None
        with pytest.raises(DecryptionError):
            desk_accounts._open_totp(thief.keys.relay, account)
        with pytest.raises(UnknownReceiptError):
            await cases.case_for_receipt(thief, code=result.receipt_code)
    finally:
        await thief.db.dispose()


async def test_with_keys_inside_the_data_directory_a_copy_opens_everything(
    settings_factory: Callable[..., Settings], clock: ManualClock, tmp_path: Path
) -> None:
    """The one-machine default, for contrast: why the warning and the runbook's separate backups."""
    settings = settings_factory()
    assert settings.keys_dir == settings.data_dir / "keys" and settings.keys_inside_data_dir
    vault = await installed(settings, clock)
    try:
        result = await cases.submit(vault, report=REPORT, contact=CHAT)
        secret = await enrol_second_factor(vault, clock)
    finally:
        await vault.db.dispose()
    copied = await open_vault(copy_of(settings, tmp_path / "copied-data"), clock=clock)
    try:
        assert await cases.open_contact(copied, case_id=result.case_id) == CHAT
        assert desk_accounts._open_totp(copied.keys.relay, await desk_account(copied)) == secret
    finally:
        await copied.db.dispose()


# --- secrets from files ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("telegram_token", "123456:FROM-A-SECRET-FILE"),
        ("database_url", "postgresql+asyncpg://candour:s3cret-pw@db.internal/candour"),
        ("keys_dir", "/run/secrets/candour-keys"),
    ],
)
def test_a_setting_is_read_from_its_file(
    field: str, value: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    secret = tmp_path / field
    secret.write_text(value + "\n")  # as `echo` and most secret stores write it
    monkeypatch.delenv(f"CANDOUR_{field.upper()}", raising=False)
    monkeypatch.setenv(f"CANDOUR_{field.upper()}_FILE", str(secret))
    got = getattr(Settings(_env_file=None), field)  # type: ignore[call-arg]
    got = got.get_secret_value() if hasattr(got, "get_secret_value") else got
    assert str(got) == value


def test_a_file_and_a_variable_at_once_or_an_unreadable_file_are_refused_without_the_value(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    secret = tmp_path / "token"
    secret.write_text("123456:SECRET-VALUE")
    monkeypatch.setenv("CANDOUR_TELEGRAM_TOKEN", "123456:OTHER-VALUE")
    monkeypatch.setenv("CANDOUR_TELEGRAM_TOKEN_FILE", str(secret))
    with pytest.raises(SettingsFileError) as both:
        Settings(_env_file=None)  # type: ignore[call-arg]
    assert "not both" in str(both.value) and "VALUE" not in str(both.value)
    monkeypatch.delenv("CANDOUR_TELEGRAM_TOKEN")
    monkeypatch.setenv("CANDOUR_TELEGRAM_TOKEN_FILE", str(tmp_path / "missing"))
    with pytest.raises(SettingsFileError) as missing:
        Settings(_env_file=None)  # type: ignore[call-arg]
    assert "CANDOUR_TELEGRAM_TOKEN_FILE" in str(missing.value) and "cannot read" in str(missing.value)


@pytest.mark.parametrize("name", COMMAND_LINE_SECRETS)
def test_each_command_line_secret_is_read_from_its_file(name: str, tmp_path: Path) -> None:
    path = tmp_path / "secret"
    path.write_text(f"value of {name}\n")
    environ = {f"{name}_FILE": str(path), "CANDOUR_DESK_SESSION_FILE": str(tmp_path / "session.json")}
    assert export_secret_files(environ) == [name]
    assert environ == {name: f"value of {name}", "CANDOUR_DESK_SESSION_FILE": str(tmp_path / "session.json")}
    assert export_secret_files(environ) == [], "a second call finds one form and changes nothing"


def cli(env: dict[str, str | None]) -> tuple[int, str]:
    """`candour` in this process (so its log lines reach caplog); env restored afterwards."""
    restore: dict[str, str | None] = {
        name: None for name in (*COMMAND_LINE_SECRETS, "CANDOUR_TELEGRAM_TOKEN")
    }
    restore.update({f"{name}_FILE": None for name in COMMAND_LINE_SECRETS})
    result = CliRunner().invoke(
        main, ["init", "--non-interactive", "--admin-login", "alice"], env={**restore, **env}
    )
    return result.exit_code, result.output


def test_init_reads_the_passphrase_and_desk_password_from_files(tmp_path: Path, clock: ManualClock) -> None:
    (tmp_path / "passphrase").write_text(PASSPHRASE + "\n")
    (tmp_path / "desk-password").write_text(DESK_PASSWORD + "\n")
    data = tmp_path / "data"
    code, output = cli(
        {
            "CANDOUR_DATA_DIR": str(data),
            "CANDOUR_ARGON2_MEMORY_KIB": "64",
            "CANDOUR_ARGON2_ITERATIONS": "1",
            "CANDOUR_ARGON2_LANES": "1",
            "CANDOUR_ADMIN_PASSPHRASE_FILE": str(tmp_path / "passphrase"),
            "CANDOUR_DESK_PASSWORD_FILE": str(tmp_path / "desk-password"),
        }
    )
    assert code == 0, output
    assert PASSPHRASE not in output and DESK_PASSWORD not in output

    async def check() -> None:
        vault = await open_vault(Settings(_env_file=None, data_dir=data, **FAST_KDF), clock=clock)  # type: ignore[call-arg]
        try:
            await officers.unlock(vault, login="alice", passphrase=PASSPHRASE)
            account = await desk_account(vault)
            assert account.password_hash and crypto.verify_password(DESK_PASSWORD, account.password_hash)
        finally:
            await vault.db.dispose()

    asyncio.run(check())


# --- the warning at start ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("token", "keys_elsewhere", "warned"),
    [(True, False, True), (True, True, False), (False, False, False)],
    ids=["token-keys-inside", "token-keys-elsewhere", "sandbox"],
)
def test_init_warns_when_a_real_installation_keeps_its_keys_in_the_data_directory(
    token: bool, keys_elsewhere: bool, warned: bool, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    (tmp_path / "passphrase").write_text(PASSPHRASE)
    env: dict[str, str | None] = {
        "CANDOUR_DATA_DIR": str(tmp_path / "data"),
        "CANDOUR_KEYS_DIR": str(tmp_path / "keys") if keys_elsewhere else None,
        "CANDOUR_ARGON2_MEMORY_KIB": "64",
        "CANDOUR_ARGON2_ITERATIONS": "1",
        "CANDOUR_ARGON2_LANES": "1",
        "CANDOUR_ADMIN_PASSPHRASE_FILE": str(tmp_path / "passphrase"),
    }
    if token:
        env["CANDOUR_TELEGRAM_TOKEN"] = TOKEN
    with caplog.at_level(logging.WARNING, logger="candour.keys"):
        code, output = cli(env)
    assert code == 0, output
    lines = [r.getMessage() for r in caplog.records if r.name == "candour.keys"]
    assert lines == ([KEYS_WITH_DATA] if warned else [])
    for line in lines:
        assert str(tmp_path) not in line and "alice" not in line, "the warning names a path or a login"


def start_dispatcher(env: dict[str, str], log: Path) -> subprocess.Popen[bytes]:
    with log.open("wb") as out:
        return subprocess.Popen(
            [sys.executable, "-m", "candour.dispatch", "--interval", "0.2"],
            cwd=ROOT,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
        )


async def dispatcher_output(settings: Settings, tmp_path: Path, extra: dict[str, str]) -> str:
    """Start `python -m candour.dispatch` against the installation and the emulator until it is ready;
    its output."""
    async with TelegramEmulator() as emu:
        emu.add_bot(TOKEN)
        env = {k: v for k, v in os.environ.items() if not k.startswith("CANDOUR_")}
        env.update(
            {
                "CANDOUR_DATA_DIR": str(settings.data_dir),
                "CANDOUR_TELEGRAM_API_URL": emu.root_url,
                **{f"CANDOUR_{k.upper()}": str(v) for k, v in FAST_KDF.items()},
                **extra,
            }
        )
        log = tmp_path / f"dispatch-{len(list(tmp_path.glob('dispatch-*')))}.log"
        process = start_dispatcher(env, log)
        try:
            deadline = asyncio.get_running_loop().time() + 30
            while "dispatch: ready" not in log.read_text(errors="replace"):
                assert process.poll() is None, log.read_text(errors="replace")
                assert asyncio.get_running_loop().time() < deadline, "dispatcher not ready in time"
                await asyncio.sleep(0.05)
        finally:
            process.terminate()
            await wait_exit(process, 20)
        return log.read_text(errors="replace")


async def test_the_dispatcher_warns_about_keys_inside_the_data_directory_and_reads_its_token_file(
    settings_factory: Callable[..., Settings], tmp_path: Path
) -> None:
    inside = settings_factory()
    await install(inside)
    shown = await dispatcher_output(inside, tmp_path, {"CANDOUR_TELEGRAM_TOKEN": TOKEN})
    assert KEYS_WITH_DATA in shown

    apart = settings_factory(data_dir=tmp_path / "data-apart", keys_dir=tmp_path / "keys-apart")
    await install(apart)
    (tmp_path / "token").write_text(TOKEN + "\n")
    quiet = await dispatcher_output(
        apart,
        tmp_path,
        {"CANDOUR_KEYS_DIR": str(apart.keys_dir), "CANDOUR_TELEGRAM_TOKEN_FILE": str(tmp_path / "token")},
    )
    assert "dispatch: ready" in quiet and KEYS_WITH_DATA not in quiet
    assert TOKEN not in quiet


# --- old receipt-guess windows -------------------------------------------------------------------------------


async def test_the_periodic_sweep_purges_past_receipt_windows_and_keeps_the_current_one(
    vault: Vault, clock: ManualClock
) -> None:
    async def wrong_code(chat: str) -> None:
        with pytest.raises(UnknownReceiptError):
            await throttle.case_for_receipt(vault, chat_ref=chat, code=receipts.generate())

    await wrong_code("chat-a")
    await wrong_code("chat-b")
    clock.advance(timedelta(hours=1, minutes=5))
    await wrong_code("chat-a")
    await wrong_code("chat-a")

    async def windows() -> list[tuple[int, int]]:
        async with vault.db.reading() as session:
            rows = (await session.exec(select(ReceiptAttempt))).all()
        return sorted((r.window_start.hour, r.failures) for r in rows)

    assert len(await windows()) == 3
    bot = Bot("1:unused", base_url="http://127.0.0.1:9/bot")  # the sweep never calls Telegram
    dispatcher = Dispatcher(vault=vault, bot=bot, catalogue=Catalogue(), owner="test")
    assert await dispatcher.purge_expired() == 2
    assert await windows() == [(clock.now().hour, 2)]
    assert await throttle.failures_this_hour(vault, chat_ref="chat-a") == 2, "the current hour still counts"
    assert await dispatcher.purge_expired() == 0
