"""Migrations: they build exactly the schema the models describe, on both engines, and rerun safely."""

from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext

from storage import migrate
from storage.models import metadata
from storage.vault import Vault


async def test_models_match_migrations(vault: Vault) -> None:
    def _diff(connection):
        context = MigrationContext.configure(connection, opts={"compare_type": True})
        return compare_metadata(context, metadata)

    async with vault.db.engine.connect() as connection:
        diff = await connection.run_sync(_diff)
    assert diff == []
    assert await migrate.current_revision(vault.db.engine) == migrate.head_revision()


async def test_upgrade_is_idempotent(vault: Vault) -> None:
    await migrate.upgrade(vault.db.engine)
    assert await migrate.current_revision(vault.db.engine) == migrate.head_revision()
