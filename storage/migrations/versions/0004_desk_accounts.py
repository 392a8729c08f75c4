"""Desk sign-in (password verifiers, sealed TOTP secrets, lockout), case assignees, and the queue's
keyset indexes.

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-26 10:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
import sqlmodel
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "desk_accounts",
        sa.Column("officer_id", sa.Integer(), nullable=False),
        sa.Column("password_hash", sqlmodel.sql.sqltypes.AutoString(length=200), nullable=True),
        sa.Column("password_set_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=True),
        sa.Column("totp_key_id", sqlmodel.sql.sqltypes.AutoString(length=16), nullable=True),
        sa.Column("totp_sealed", sa.LargeBinary(), nullable=True),
        sa.Column("totp_last_step", sa.BigInteger(), nullable=True),
        sa.Column("failed_logins", sa.Integer(), nullable=False),
        sa.Column("locked_until", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=True),
        sa.ForeignKeyConstraint(["officer_id"], ["officers.id"]),
        sa.PrimaryKeyConstraint("officer_id"),
    )
    op.create_table(
        "case_assignments",
        sa.Column("case_id", sqlmodel.sql.sqltypes.AutoString(length=32), nullable=False),
        sa.Column("officer_id", sa.Integer(), nullable=False),
        sa.Column("assigned_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
        sa.Column("assigned_by", sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(["assigned_by"], ["officers.id"]),
        sa.ForeignKeyConstraint(["case_id"], ["cases.id"]),
        sa.ForeignKeyConstraint(["officer_id"], ["officers.id"]),
        sa.PrimaryKeyConstraint("case_id"),
    )
    with op.batch_alter_table("case_assignments", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_case_assignments_officer_id"), ["officer_id"], unique=False)
    with op.batch_alter_table("cases", schema=None) as batch_op:
        batch_op.create_index("ix_cases_received_id", ["received_at", "id"], unique=False)
        batch_op.create_index("ix_cases_ack_due_id", ["ack_due_at", "id"], unique=False)
        batch_op.create_index("ix_cases_feedback_due_id", ["feedback_due_at", "id"], unique=False)
    with op.batch_alter_table("case_keys", schema=None) as batch_op:
        batch_op.create_index("ix_case_keys_officer_case", ["officer_id", "case_id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("case_keys", schema=None) as batch_op:
        batch_op.drop_index("ix_case_keys_officer_case")
    with op.batch_alter_table("cases", schema=None) as batch_op:
        batch_op.drop_index("ix_cases_feedback_due_id")
        batch_op.drop_index("ix_cases_ack_due_id")
        batch_op.drop_index("ix_cases_received_id")
    with op.batch_alter_table("case_assignments", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_case_assignments_officer_id"))
    op.drop_table("case_assignments")
    op.drop_table("desk_accounts")
