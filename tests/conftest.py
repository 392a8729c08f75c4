"""Shared fixtures: a real, initialised installation on SQLite and on PostgreSQL, and officer factories.

Every vault test that takes the `vault` fixture runs on both engines. PostgreSQL tests use a fresh
database per test on the server at CANDOUR_TEST_POSTGRES_URL and skip, saying why, when none answers.
"""

from __future__ import annotations

import os
import socket
import uuid
from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import pytest

from bot.catalogue import Catalogue
from bot.emulator import TelegramEmulator
from candour.app import AdminSpec, initialise, open_vault
from candour.settings import Settings
from storage import officers
from storage.clock import ManualClock
from storage.officers import UnlockedOfficer
from storage.vault import Vault
from tests.bot_world import TOKEN as BOT_TOKEN
from tests.bot_world import BotWorld

POSTGRES_URL = os.environ.get("CANDOUR_TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/test")
PASSPHRASE = "correct horse battery staple"
# Why so low: Argon2id's real cost protects stored keys, not tests; settings carry it, no monkeypatching.
FAST_KDF = {"argon2_memory_kib": 64, "argon2_iterations": 1, "argon2_lanes": 1}


def postgres_reachable() -> bool:
    parts = urlsplit(POSTGRES_URL)
    try:
        with socket.create_connection((parts.hostname or "127.0.0.1", parts.port or 5432), timeout=1):
            return True
    except OSError:
        return False


@pytest.fixture
async def postgres_database() -> AsyncIterator[str]:
    """A fresh, empty PostgreSQL database for one test, dropped afterwards; its URL."""
    if not postgres_reachable():
        if os.environ.get("CANDOUR_REQUIRE_POSTGRES"):
            pytest.fail(
                f"CANDOUR_REQUIRE_POSTGRES is set but no PostgreSQL answers at {urlsplit(POSTGRES_URL).netloc}"
            )
        pytest.skip(
            f"no PostgreSQL server answers at {urlsplit(POSTGRES_URL).netloc} (set CANDOUR_TEST_POSTGRES_URL)"
        )
    import asyncpg

    name = f"candour_test_{uuid.uuid4().hex[:12]}"
    admin = await asyncpg.connect(POSTGRES_URL)
    try:
        await admin.execute(f'CREATE DATABASE "{name}"')
    finally:
        await admin.close()
    parts = urlsplit(POSTGRES_URL)
    yield urlunsplit((parts.scheme, parts.netloc, f"/{name}", parts.query, parts.fragment))
    admin = await asyncpg.connect(POSTGRES_URL)
    try:
        await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    finally:
        await admin.close()


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def engine_name(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
def settings_factory(tmp_path: Path) -> Callable[..., Settings]:
    def make(database_url: str | None = None, **overrides: object) -> Settings:
        values: dict[str, object] = {"data_dir": tmp_path / "data", **FAST_KDF, **overrides}
        if database_url:
            values["database_url"] = database_url
        return Settings(_env_file=None, **values)  # type: ignore[call-arg]

    return make


@pytest.fixture
def settings(
    engine_name: str, request: pytest.FixtureRequest, settings_factory: Callable[..., Settings]
) -> Settings:
    url = request.getfixturevalue("postgres_database") if engine_name == "postgres" else None
    return settings_factory(url)


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock()


@pytest.fixture
async def vault(settings: Settings, clock: ManualClock) -> AsyncIterator[Vault]:
    """An initialised installation (starter policy, first officer `alice` in every queue), opened."""
    await initialise(
        settings,
        admin=AdminSpec(
            login="alice", display_name="Alice Admin", passphrase=PASSPHRASE, unit_id="professional-standards"
        ),
        clock=clock,
    )
    opened = await open_vault(settings, clock=clock)
    yield opened
    await opened.db.dispose()


@dataclass
class OfficerFactory:
    """Adds officers to the vault and unlocks them."""

    vault: Vault

    async def __call__(
        self,
        login: str,
        *,
        queues: tuple[str, ...] = (),
        unit: str | None = None,
        staff_number: str | None = None,
        display_name: str | None = None,
        roles: tuple[str, ...] = ("standards-officer",),
    ) -> UnlockedOfficer:
        await officers.add(
            self.vault,
            login=login,
            display_name=display_name or login.title(),
            passphrase=PASSPHRASE,
            roles=roles,
            unit_id=unit,
            staff_number=staff_number,
            queues=queues,
        )
        return await officers.unlock(self.vault, login=login, passphrase=PASSPHRASE)


@pytest.fixture
def make_officer(vault: Vault) -> OfficerFactory:
    return OfficerFactory(vault)


@pytest.fixture
async def alice(vault: Vault) -> UnlockedOfficer:
    return await officers.unlock(vault, login="alice", passphrase=PASSPHRASE)


@pytest.fixture
def cli_env(tmp_path: Path) -> Iterator[dict[str, str]]:
    """Environment for running `candour` in a subprocess against a fresh data directory."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("CANDOUR_")}
    env.update(
        {
            "CANDOUR_DATA_DIR": str(tmp_path / "cli-data"),
            "CANDOUR_ARGON2_MEMORY_KIB": "64",
            "CANDOUR_ARGON2_ITERATIONS": "1",
            "CANDOUR_ARGON2_LANES": "1",
        }
    )
    yield env


@pytest.fixture
async def world(vault: Vault, clock: ManualClock) -> AsyncIterator[BotWorld]:
    """The real bot polling a local Bot API emulator, on the `vault` installation."""
    async with TelegramEmulator(now=clock.now) as emu:
        emu.add_bot(BOT_TOKEN)
        bot_world = BotWorld(emu=emu, vault=vault, catalogue=Catalogue())
        await bot_world.start()
        try:
            yield bot_world
        finally:
            await bot_world.stop()


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Run the slow multi-process tests first, so that under pytest-xdist they overlap everything else
    instead of trailing after it (the order is otherwise unchanged)."""
    items.sort(key=lambda item: item.get_closest_marker("slow") is None)
