"""Conflicts in counts (issue 9 point 1): blind marks of the officers and units conflicted out of each
case, so the dashboard leaves out, in SQL, the cases its viewer is conflicted out of.

Revision ID: 0015
Revises: 0013
Create Date: 2026-12-07 15:30:00
"""

from __future__ import annotations

import sqlalchemy as sa
import sqlmodel
from alembic import op

revision = "0015"
down_revision = "0013"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # Cases made before this revision have no marks (making them needs the relay keyring, which a
    # migration does not hold): for them the dashboard leaves out only what the clear subject units say,
    # until an officer who opens the case re-checks its conflicts (storage.conflicts.widen adds marks).
    op.create_table(
        "case_conflict_marks",
        sa.Column("mark", sa.LargeBinary(length=16), nullable=False),
        sa.Column("case_id", sqlmodel.sql.sqltypes.AutoString(length=32), nullable=False),
        sa.ForeignKeyConstraint(["case_id"], ["cases.id"]),
        sa.PrimaryKeyConstraint("mark", "case_id"),
    )
    with op.batch_alter_table("case_conflict_marks", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_case_conflict_marks_case_id"), ["case_id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("case_conflict_marks", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_case_conflict_marks_case_id"))
    op.drop_table("case_conflict_marks")
