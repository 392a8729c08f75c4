"""The desk queue's urgent-first order (issue 11, section 3): indexes that find urgent and overdue cases
without reading the whole queue.

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-06 21:00:00
"""

from __future__ import annotations

from alembic import op

revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("cases", schema=None) as batch_op:
        batch_op.create_index(
            "ix_cases_priority_received_id", ["priority", "received_at", "id"], unique=False
        )
        batch_op.create_index("ix_cases_status_ack_due", ["status", "ack_due_at"], unique=False)
        batch_op.create_index("ix_cases_status_feedback_due", ["status", "feedback_due_at"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("cases", schema=None) as batch_op:
        batch_op.drop_index("ix_cases_status_feedback_due")
        batch_op.drop_index("ix_cases_status_ack_due")
        batch_op.drop_index("ix_cases_priority_received_id")
