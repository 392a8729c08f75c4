"""No schema change: signed audit checkpoints (issue 9 point 6) live outside the database, on purpose.

Why no table: a checkpoint must be out of reach of whoever can write the database; they are appended to a
file beside the server keys (storage/checkpoints.py). The revision stays so the chain stays as it is.

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-03 06:30:00
"""

from __future__ import annotations

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
