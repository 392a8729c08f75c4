"""Idempotent submission and additions: a receipt's submission-key digest, a reporter item's source digest.

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-03 06:30:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("receipts", schema=None) as batch_op:
        batch_op.add_column(sa.Column("submission_digest", sa.LargeBinary(length=32), nullable=True))
        batch_op.create_index("ix_receipts_submission_digest", ["submission_digest"], unique=True)
    with op.batch_alter_table("case_items", schema=None) as batch_op:
        batch_op.add_column(sa.Column("source_digest", sa.LargeBinary(length=32), nullable=True))
        batch_op.create_index("ix_case_items_case_source", ["case_id", "source_digest"], unique=True)


def downgrade() -> None:
    with op.batch_alter_table("case_items", schema=None) as batch_op:
        batch_op.drop_index("ix_case_items_case_source")
        batch_op.drop_column("source_digest")
    with op.batch_alter_table("receipts", schema=None) as batch_op:
        batch_op.drop_index("ix_receipts_submission_digest")
        batch_op.drop_column("submission_digest")
