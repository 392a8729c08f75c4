"""Named-officer matching (issue 9 point 10): officer_match_keys, every normalised way of writing each officer.

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-03 06:30:00
"""

from __future__ import annotations

import sqlalchemy as sa
import sqlmodel
from alembic import op

from storage.naming import directory_keys

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "officer_match_keys",
        sa.Column("key", sqlmodel.sql.sqltypes.AutoString(length=200), nullable=False),
        sa.Column("officer_id", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(["officer_id"], ["officers.id"]),
        sa.PrimaryKeyConstraint("key", "officer_id"),
    )
    with op.batch_alter_table("officer_match_keys", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_officer_match_keys_officer_id"), ["officer_id"], unique=False)
    _fill_match_keys()


def downgrade() -> None:
    with op.batch_alter_table("officer_match_keys", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_officer_match_keys_officer_id"))
    op.drop_table("officer_match_keys")


def _fill_match_keys() -> None:
    """Existing officers get their keys computed as storage.officers.add computes them for new ones.

    Why import storage.naming (pure, no database) rather than copy it: the keys must be exactly those the
    report side probes with; a later change to naming needs a revision that recomputes them.
    """
    bind = op.get_bind()
    officers = sa.table(
        "officers", sa.column("id", sa.Integer), sa.column("display_name"), sa.column("staff_number")
    )
    keys = sa.table("officer_match_keys", sa.column("key"), sa.column("officer_id", sa.Integer))
    rows = [
        {"key": key, "officer_id": officer_id}
        for officer_id, display_name, staff_number in bind.execute(
            sa.select(officers.c.id, officers.c.display_name, officers.c.staff_number)
        ).all()
        for key in sorted(directory_keys(display_name, staff_number))
    ]
    if rows:
        bind.execute(sa.insert(keys), rows)
