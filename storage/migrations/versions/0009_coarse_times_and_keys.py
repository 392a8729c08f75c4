"""Coarsen the times of finished outbox entries, and of pending contact shreddings, to the hour.
coarse times and keys apart (issue 9 points 7 and 8).

Before this revision a sent check-in kept its jittered send time to the millisecond, and a contact's
shredding was due a week after the exact moment of the last check-in: both told when a reporter's phone
was pinged. From here on storage.outbox coarsens every entry that stops waiting; this brings the rows
written before in line. No schema change (keys_dir and receipt-window purging need none).

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-03 06:30:00
"""

from __future__ import annotations

from datetime import UTC, datetime

import sqlalchemy as sa
import sqlmodel
from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None

_outbox = sa.table(
    "outbox",
    sa.column("id", sa.Integer()),
    sa.column("kind", sa.String()),
    sa.column("status", sa.String()),
    sa.column("due_at", sqlmodel.sql.sqltypes.UTCDateTime()),
    sa.column("created_at", sqlmodel.sql.sqltypes.UTCDateTime()),
    sa.column("done_at", sqlmodel.sql.sqltypes.UTCDateTime()),
    sa.column("lease_until", sqlmodel.sql.sqltypes.UTCDateTime()),
    sa.column("lease_owner", sa.String()),
)


def _hour(moment: datetime | None) -> datetime | None:
    # A copy of storage.clock.coarsen: a migration must not change when the code it imports does.
    if moment is None:
        return None
    return moment.astimezone(UTC).replace(minute=0, second=0, microsecond=0)


def upgrade() -> None:
    bind = op.get_bind()
    rows = bind.execute(
        sa.select(
            _outbox.c.id,
            _outbox.c.kind,
            _outbox.c.status,
            _outbox.c.due_at,
            _outbox.c.created_at,
            _outbox.c.done_at,
        )
    ).all()
    for row in rows:
        waiting = row.status in ("pending", "claimed")
        if waiting and row.kind != "contact-shred":
            continue
        values = {"due_at": _hour(row.due_at), "created_at": _hour(row.created_at)}
        if not waiting:
            values.update(done_at=_hour(row.done_at), lease_until=None, lease_owner=None)
        bind.execute(sa.update(_outbox).where(_outbox.c.id == row.id).values(**values))


def downgrade() -> None:
    # Nothing to undo: the exact times are gone on purpose, and coarse ones are valid for older code.
    pass
