"""The composition root: builds the vault, the bot and the desk from one Settings object."""

from __future__ import annotations

import asyncio
import logging
import re
import shutil
import socket
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import TextIO

from sqlalchemy.engine import URL, make_url
from sqlalchemy.exc import ArgumentError
from sqlmodel import select
from telegram.ext import Application

from bot.application import ALLOWED_UPDATES, build_application, start_services
from bot.catalogue import Catalogue
from bot.cleaner import Cleaner, CleanerLimits
from bot.emulator import TelegramEmulator
from bot.sandbox import SANDBOX_TOKEN, SANDBOX_USER, TimeTravel, chat_in_terminal
from candour.settings import Settings
from desk import server as desk_server
from desk.app import build_app as build_desk
from desk.config import DeskConfig
from policies.loader import load_policy, starter_policy_text
from policies.validator import ensure_valid
from storage import keyring, migrate, officers, policy_store
from storage.clock import Clock, ManualClock, SystemClock
from storage.crypto import KdfParams
from storage.db import Database, DatabaseConfig, sqlite_path
from storage.desk_accounts import LockoutRule
from storage.errors import DatabaseUnavailableError, InputError, KeyringError, NotInitialisedError
from storage.models import Officer, PolicyVersion
from storage.vault import Vault

ADMIN_ROLES = ("standards-officer", "queue-lead", "policy-admin", "auditor", "operator")
KEYS_WITH_DATA = (
    "the server key files are inside the data directory, so any copy or backup of that directory can "
    "open every contact handle, draft and desk second factor in it. Keep the keys elsewhere "
    "(CANDOUR_KEYS_DIR) and back them up apart from the data (docs/operations.md, Backups)."
)
log = logging.getLogger("candour.keys")


def kdf_params(settings: Settings) -> KdfParams:
    return KdfParams(
        memory_kib=settings.argon2_memory_kib,
        iterations=settings.argon2_iterations,
        lanes=settings.argon2_lanes,
    )


def database_config(settings: Settings) -> DatabaseConfig:
    """The database settings, with the URL checked first: a malformed one is refused in one line."""
    url = settings.effective_database_url
    try:
        make_url(url)  # the port is parsed here too: "abc" is a ValueError
    except (ArgumentError, ValueError):
        # Threat: the parser's message, or the URL itself, can carry the password; neither is said.
        raise InputError(
            "CANDOUR_DATABASE_URL is malformed: check its form, dialect://user:password@host:port/database, "
            "and percent-encode any '@', ':' or '/' in the password (as %40, %3A, %2F)"
        ) from None
    return DatabaseConfig(
        url=url,
        sqlite_synchronous=settings.sqlite_synchronous,
        pool_size=settings.db_pool_size,
    )


def warn_if_keys_with_data(settings: Settings) -> bool:
    """Log a warning if a real installation keeps its keys in its data directory; whether it did.

    Threat: a plain copy of the data directory (a backup, a snapshot, a volume handed on) then holds the
    database and the keys that open its sealed contact handles and officers' TOTP secrets. Why not in
    the sandbox (no Telegram token): a newcomer's one-machine trial holds nobody's report. The line
    names no path (a home directory can carry a person's name) and no identifier.
    """
    if settings.telegram_token is None or not settings.keys_inside_data_dir:
        return False
    log.warning(KEYS_WITH_DATA)
    return True


async def open_vault(settings: Settings, *, clock: Clock | None = None) -> Vault:
    """Open an initialised installation; NotInitialisedError says what `candour init` would fix."""
    if not settings.data_dir.is_dir():
        raise NotInitialisedError(f"data directory {settings.data_dir} does not exist: run `candour init`")
    keys = keyring.load_keys(settings.keys_dir)
    config = database_config(settings)
    path = sqlite_path(config.url) if config.url.startswith("sqlite") else None
    if path is not None and not path.exists():
        raise NotInitialisedError(f"database {path} does not exist: run `candour init`")
    db = Database(config)
    try:
        revision = await _revision(db)
    except BaseException:
        await db.dispose()
        raise
    if revision != migrate.head_revision():
        await db.dispose()
        if revision is None:
            raise NotInitialisedError("the database is empty: run `candour init`")
        raise NotInitialisedError(
            f"the database schema is at {revision}, this version needs "
            f"{migrate.head_revision()}: run `candour init` to migrate"
        )
    return Vault(db=db, keys=keys, kdf=kdf_params(settings), clock=clock or SystemClock())


async def _revision(db: Database) -> str | None:
    try:
        return await migrate.current_revision(db.engine)
    except (OSError, DatabaseUnavailableError):
        raise DatabaseUnavailableError(unreachable(db.config.url)) from None
    except Exception as exc:
        if exc.__class__.__module__.startswith(("sqlalchemy", "asyncpg", "sqlite3")):
            raise DatabaseUnavailableError(unreachable(db.config.url, type(exc).__name__)) from None
        raise


def unreachable(url: str, cause: str | None = None) -> str:
    """What to check when the database does not answer: where it was looked for, never the password.

    Threat: a driver's message, or the URL itself, can carry the database password into a terminal,
    a log or a ticket. Only the host, port and database name are said, parsed from the URL.
    """
    because = f" ({cause})" if cause else ""
    try:
        parsed = make_url(url)
    except (ArgumentError, ValueError):  # an unparsable URL must still give a sentence, not a traceback
        return f"cannot reach the database{because}: check CANDOUR_DATABASE_URL"
    if parsed.get_backend_name() == "sqlite":
        return f"cannot open the SQLite database {parsed.database}{because}: check the data directory"
    return (
        f"cannot reach the database server at {_where(parsed)} (database {_shown(parsed.database)}){because}: check "
        "that the server is running there and accepts connections, and the host, port, user and database "
        "in CANDOUR_DATABASE_URL"
    )


# A host worth echoing: a DNS name, an IPv4 or an IPv6 address, nothing else. Why strict: an unencoded
# '@' in a password makes the parser put the password's tail into the host ("Pass@127.0.0.1").
_HOSTNAME = re.compile(
    r"(?:[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?)(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*"
    r"|\[?[0-9A-Fa-f:.]{2,45}\]?"
)
_NAME = re.compile(r"[A-Za-z0-9_.-]{1,63}")
IN_THE_URL = "the host in CANDOUR_DATABASE_URL"


def _query(parsed: URL, key: str) -> str | None:
    """A query parameter of the URL (asyncpg's `?host=` and `?port=`), the first if repeated."""
    value = parsed.query.get(key)
    if isinstance(value, tuple):
        value = value[0] if value else None
    return value


def _where(parsed: URL) -> str:
    """host:port as the driver will use them (a query `host`/`port` wins), or a pointer to the URL."""
    host = _query(parsed, "host") or parsed.host or "localhost"
    port = _query(parsed, "port") or str(parsed.port or 5432)
    if not _HOSTNAME.fullmatch(host) or not port.isdigit():
        return IN_THE_URL
    return f"{host}:{port}"


def _shown(database: str | None) -> str:
    """The database name if it is a plain name, else a pointer to the URL."""
    if not database:
        return "?"
    return database if _NAME.fullmatch(database) else "named in CANDOUR_DATABASE_URL"


@dataclass(frozen=True)
class AdminSpec:
    """The first officer `candour init` creates: every role, every queue, so the policy can be published."""

    login: str
    display_name: str
    passphrase: str = field(repr=False)
    unit_id: str | None = None
    staff_number: str | None = None


@dataclass
class InitReport:
    """What `candour init` did, for the operator; a second run reports nothing new."""

    done: list[str] = field(default_factory=list)
    already: list[str] = field(default_factory=list)


async def initialise(
    settings: Settings, *, admin: AdminSpec | None, policy_text: str | None = None, clock: Clock | None = None
) -> InitReport:
    """Create the data directory, key files and schema, the first officer and the first policy; idempotent.

    The policy is checked in full (the checks publishing makes too) before anything is created. If a
    later step fails, what this run created is removed again: the data directory and a new SQLite
    database, and the key files only when that database goes too, so that the operator can correct the
    cause and run it once more.
    """
    check_policy_before_init(policy_text, admin=admin)
    before = _Footprint.of(settings)
    try:
        return await _initialise(settings, admin=admin, policy_text=policy_text, clock=clock)
    except BaseException:
        before.undo(settings)
        raise


def check_policy_before_init(policy_text: str | None, *, admin: AdminSpec | None) -> None:
    """Refuse a policy that publishing would refuse, before `candour init` creates anything.

    Why the first officer counts as a member of every queue: init makes them one before it publishes,
    so the staffing check then sees exactly this. An installation that already has officers is checked
    again, against its real membership, when init publishes.
    """
    if policy_text is None:
        return
    document = load_policy(policy_text)
    members = {q.id: 1 for q in document.queues} if admin is not None else None
    ensure_valid(document, member_counts=members)


@dataclass(frozen=True)
class _Footprint:
    """What existed before `candour init` ran, so a failed run can take away only what it made."""

    data_dir: bool
    keys_dir: bool
    key_files: frozenset[str]
    database: Path | None

    @classmethod
    def of(cls, settings: Settings) -> _Footprint:
        keys = settings.keys_dir
        path = _sqlite_file(settings)
        return cls(
            data_dir=settings.data_dir.exists(),
            keys_dir=keys.exists(),
            key_files=frozenset(p.name for p in keys.iterdir()) if keys.is_dir() else frozenset(),
            database=path if path is not None and path.exists() else None,
        )

    def undo(self, settings: Settings) -> None:
        """Remove the files and directories made since `of` (never anything that was there before).

        Threat: a database that outlives the run (an existing SQLite file, PostgreSQL) may already hold
        rows sealed to the new keys (the first officer); deleting the keys would leave an installation
        that every later run must refuse as "restore the keys from backup". So the new key files go only
        with the new database, and a directory that still holds them stays.
        """
        path = _sqlite_file(settings)
        database_removed = path is not None and self.database is None
        if database_removed:
            for candidate in (path, Path(f"{path}-wal"), Path(f"{path}-shm"), Path(f"{path}-journal")):
                candidate.unlink(missing_ok=True)
        keys = settings.keys_dir
        if keys.is_dir():
            made = [p for p in keys.iterdir() if p.name not in self.key_files and p.is_file()]
            if made and not database_removed:
                return
            for file in made:
                file.unlink(missing_ok=True)
            if not self.keys_dir and not any(keys.iterdir()):
                keys.rmdir()
        if not self.data_dir and settings.data_dir.is_dir():
            shutil.rmtree(settings.data_dir, ignore_errors=True)


def _sqlite_file(settings: Settings) -> Path | None:
    url = settings.effective_database_url
    return sqlite_path(url) if url.startswith("sqlite") else None


async def _initialise(
    settings: Settings, *, admin: AdminSpec | None, policy_text: str | None, clock: Clock | None
) -> InitReport:
    """The steps of `initialise`, each skipped when already done."""
    report = InitReport()
    data_dir = settings.data_dir
    if not data_dir.exists():
        try:
            data_dir.mkdir(parents=True, mode=0o700)
        except OSError as exc:
            raise NotInitialisedError(f"cannot create data directory {data_dir}: {exc.strerror}") from None
        report.done.append(f"created data directory {data_dir}")
    data_dir.chmod(0o700)
    db = Database(database_config(settings))
    try:
        before = await _revision(db)
        if not keyring.keys_exist(settings.keys_dir) and before is not None and await _has_officers(db):
            # Threat to promise 4: fresh keys would silently make every receipt code, contact handle
            # and draft of the existing installation unreadable.
            raise KeyringError(
                f"key files are missing from {settings.keys_dir} but the database holds an installation: "
                "restore the keys directory from backup"
            )
        if keyring.create_keys(settings.keys_dir):
            report.done.append(f"created key files in {settings.keys_dir}")
        else:
            report.already.append("key files exist")
        await migrate.upgrade(db.engine)
        if before != migrate.head_revision():
            report.done.append(f"migrated the database to {migrate.head_revision()}")
        else:
            report.already.append("database schema is current")
        vault = Vault(
            db=db,
            keys=keyring.load_keys(settings.keys_dir),
            kdf=kdf_params(settings),
            clock=clock or SystemClock(),
        )
        await _first_policy_and_admin(vault, admin=admin, policy_text=policy_text, report=report)
    finally:
        await db.dispose()
    _restrict(settings)
    return report


async def _has_officers(db: Database) -> bool:
    async with db.transaction() as session:
        return (await session.exec(select(Officer.id).limit(1))).first() is not None


async def _first_policy_and_admin(
    vault: Vault, *, admin: AdminSpec | None, policy_text: str | None, report: InitReport
) -> None:
    async with vault.db.transaction() as session:
        has_policy = (await session.exec(select(PolicyVersion.version).limit(1))).first() is not None
        has_officer = (await session.exec(select(Officer.id).limit(1))).first() is not None
    if has_policy and has_officer:
        report.already.append("a policy is published and officers exist")
        return
    text = policy_text or starter_policy_text()
    document = load_policy(text)
    if not has_officer:
        if admin is None:
            raise NotInitialisedError("the first officer is needed: give --admin-login and a passphrase")
        async with vault.db.transaction() as session:
            await policy_store.sync_directory(session, document)
        await officers.add(
            vault,
            login=admin.login,
            display_name=admin.display_name,
            passphrase=admin.passphrase,
            roles=ADMIN_ROLES,
            unit_id=admin.unit_id,
            staff_number=admin.staff_number,
            queues=tuple(q.id for q in document.queues),
            actor="operator:init",
        )
        report.done.append(f"created officer {admin.login} ({', '.join(ADMIN_ROLES)}), member of every queue")
    if not has_policy:
        published = await policy_store.publish(
            vault, text=text, author="operator:init", note="initial policy"
        )
        report.done.append(f"published policy version {published.version} ({document.name})")


def _restrict(settings: Settings) -> None:
    """Owner-only permissions on the database files (they hold routing metadata and sealed blobs)."""
    path = (
        sqlite_path(settings.effective_database_url)
        if not settings.database_url or settings.database_url.startswith("sqlite")
        else None
    )
    if path is None:
        return
    for candidate in (path, Path(f"{path}-wal"), Path(f"{path}-shm")):
        if candidate.exists():
            candidate.chmod(0o600)


def build_cleaner(settings: Settings, *, sandbox: bool = False) -> Cleaner:
    """The evidence cleaner under the installation's limits (bot/cleaner.py says why it is a process);
    for the sandbox chat, isolation is tried but not required (settings.cleaner_require_isolation says
    why)."""
    limits = CleanerLimits(
        memory_bytes=settings.cleaner_memory_mb * 1024 * 1024,
        cpu_seconds=settings.cleaner_cpu_seconds,
        wall_seconds=settings.cleaner_wall_seconds,
        concurrency=settings.cleaner_concurrency,
    )
    return Cleaner(limits, require_isolation=settings.cleaner_require_isolation and not sandbox)


async def serve_bot(settings: Settings, vault: Vault, *, stop: asyncio.Event, follow_up: bool = True) -> None:
    """Run the bot against Telegram (or CANDOUR_TELEGRAM_API_URL) with long polling until `stop` is set;
    with `follow_up` it also carries out check-ins and deadlines (without, `candour serve dispatch` does)."""
    assert settings.telegram_token is not None
    # Why started before the bot: its first worker warms while the bot connects, and with
    # CANDOUR_CLEANER_REQUIRE_ISOLATION a kernel that refuses the namespaces stops the start here.
    async with build_cleaner(settings) as cleaner:
        application = build_application(
            token=settings.telegram_token.get_secret_value(),
            vault=vault,
            catalogue=Catalogue(),
            api_url=settings.telegram_api_url,
            cleaner=cleaner,
        )
        await _run_polling(application, stop, follow_up=follow_up)


async def _run_polling(application: Application, stop: asyncio.Event, *, follow_up: bool) -> None:
    """Start the application, poll Telegram until `stop` is set, then stop it."""
    async with application:
        await start_services(application, follow_up=follow_up)
        await application.start()
        assert application.updater is not None
        await application.updater.start_polling(
            drop_pending_updates=False, allowed_updates=list(ALLOWED_UPDATES)
        )
        await stop.wait()
        await application.updater.stop()
        await application.stop()


def desk_config(settings: Settings) -> DeskConfig:
    """What the desk is handed from this process's settings (and nothing else of them)."""
    return DeskConfig(
        keys_dir=settings.keys_dir,
        checkpoint_dir=settings.checkpoint_dir,
        session_idle=timedelta(seconds=settings.desk_session_idle_seconds),
        session_absolute=timedelta(seconds=settings.desk_session_absolute_seconds),
        session_sweep_seconds=settings.desk_session_sweep_seconds,
        lockout=LockoutRule(
            threshold=settings.desk_lockout_threshold,
            duration=timedelta(seconds=settings.desk_lockout_seconds),
            base=timedelta(seconds=settings.desk_backoff_base_seconds),
            device_failures=settings.desk_device_failures,
            device_lifetime=timedelta(days=settings.desk_device_days),
        ),
        login_attempts_per_minute=settings.desk_login_attempts_per_minute,
        require_totp=settings.desk_require_totp,
        cookie_secure=settings.desk_cookie_secure,
        due_soon=timedelta(days=settings.desk_due_soon_days),
        allowed_hosts=settings.desk_allowed_hosts,
        proxy_addresses=settings.desk_proxy_addresses,
    )


def bind_desk(settings: Settings) -> socket.socket:
    """Bind the desk's socket now, before anything else starts; DeskNotServedError in one line if not."""
    return desk_server.bind(settings.desk_host, settings.desk_port)


async def serve_desk(
    settings: Settings, vault: Vault, *, stop: asyncio.Event, sock: socket.socket | None = None
) -> None:
    """Serve the standards desk on `sock` (from bind_desk), on this event loop, until `stop` is set."""
    await desk_server.serve(
        build_desk(vault, desk_config(settings)),
        host=settings.desk_host,
        port=settings.desk_port,
        stop=stop,
        sock=sock,
    )


async def run_sandbox(
    vault: Vault,
    *,
    read_line: Callable[[], str] | None = None,
    out: TextIO | None = None,
    cleaner: Cleaner | None = None,
) -> None:
    """The real bot against the local emulator, with the reporter's chat in the terminal; if the vault runs
    on a ManualClock (`candour sandbox --fast-clock`), the terminal can move time on. Without `cleaner`
    the bot uses one with the default limits, closed with it."""
    clock = vault.clock if isinstance(vault.clock, ManualClock) else None
    async with TelegramEmulator(now=clock.now if clock else None) as emu:
        emu.add_bot(SANDBOX_TOKEN)
        user = emu.add_user(user_id=SANDBOX_USER, first_name="Sandbox", language_code="en")
        application = build_application(
            token=SANDBOX_TOKEN,
            vault=vault,
            catalogue=Catalogue(),
            api_url=emu.root_url,
            delivery_interval=1.0,
            cleaner=cleaner,
        )
        async with application:
            await start_services(application)
            await application.start()
            assert application.updater is not None
            await application.updater.start_polling(
                poll_interval=0, timeout=1, allowed_updates=list(ALLOWED_UPDATES)
            )
            try:
                travel = TimeTravel(vault, clock) if clock else None
                await chat_in_terminal(
                    emu, user=user, read_line=read_line, out=out or sys.stdout, time_travel=travel
                )
            finally:
                await application.updater.stop()
                await application.stop()


def configure_logging(level: int = logging.INFO) -> None:
    """Log to stderr; libraries that would print the bot token (httpx logs request URLs) stay at WARNING.

    Threat: log output is treated as published. Nothing Candour logs names a user; the bot token is a
    secret, and httpx writes it into every request line at INFO.
    """
    logging.basicConfig(level=level, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    for noisy in ("httpx", "httpcore", "telegram", "apscheduler", "uvicorn.access", "alembic"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
    for handler in logging.getLogger().handlers:
        handler.addFilter(withhold_library_details)


LIBRARY_LOGGERS = ("telegram", "httpx", "httpcore", "apscheduler", "uvicorn", "alembic", "asyncio")


def withhold_library_details(record: logging.LogRecord) -> bool:
    """Keep a library's log line to its fixed wording: its arguments and its exception's text withheld.

    Threat: python-telegram-bot logs a whole update at CRITICAL when it cannot build a handler's context
    ("Error while building CallbackContext for update %s"), and an update carries the user's id, name and
    username; an exception's message or traceback can carry a URL with the token. Candour's own lines
    never carry such values, so only the libraries' lines are cut down.
    """
    if record.name.split(".", 1)[0] in LIBRARY_LOGGERS:
        if record.args:
            record.msg = f"{record.msg} (details withheld)"
            record.args = ()
        if record.exc_info and record.exc_info[0] is not None:
            record.msg = f"{record.msg} [{record.exc_info[0].__name__}]"
            record.exc_info = None
            record.exc_text = None
    return True
