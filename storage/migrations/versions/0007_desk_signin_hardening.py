"""Desk sign-in hardening: attempts per login and client (keyed tags), session epochs, enrolment codes.

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-03 06:30:00
"""

from __future__ import annotations

import sqlalchemy as sa
import sqlmodel
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "desk_signin_attempts",
        sa.Column("login_tag", sa.LargeBinary(length=32), nullable=False),
        sa.Column("client_tag", sa.LargeBinary(length=32), nullable=False),
        sa.Column("failures", sa.Integer(), nullable=False),
        sa.Column("blocked_until", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=True),
        sa.Column("trusted", sa.Boolean(), nullable=False),
        sa.Column("last_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("login_tag", "client_tag"),
    )
    with op.batch_alter_table("desk_accounts", schema=None) as batch_op:
        batch_op.add_column(sa.Column("session_epoch", sa.Integer(), nullable=False, server_default="0"))
        batch_op.add_column(sa.Column("enrolment_digest", sa.LargeBinary(length=32), nullable=True))
        batch_op.add_column(
            sa.Column("enrolment_expires_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=True)
        )
        # The lockout moved to desk_signin_attempts: a lock on the account let anyone lock an officer out.
        batch_op.drop_column("locked_until")
        batch_op.drop_column("failed_logins")


def downgrade() -> None:
    with op.batch_alter_table("desk_accounts", schema=None) as batch_op:
        batch_op.add_column(sa.Column("failed_logins", sa.Integer(), nullable=False, server_default="0"))
        batch_op.add_column(sa.Column("locked_until", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=True))
        batch_op.drop_column("enrolment_expires_at")
        batch_op.drop_column("enrolment_digest")
        batch_op.drop_column("session_epoch")
    op.drop_table("desk_signin_attempts")
