"""Desk device cookies, and sign-in times that cannot bracket a reporter's act (issue 9, points 4 and 7).

A new table of device cookies (only keyed hashes of their tokens, hour-coarse expiries): a browser an
officer signed in from is counted apart from its client address, so a stranger behind the same address
cannot keep her out. And the rows older code wrote are brought in line with the new rule: attempt times
on the hour, back-off ends and TOTP replay steps that have passed forgotten, enrolment-code expiries
rounded up to the hour, expired link codes deleted.

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-07 15:30:00
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import sqlalchemy as sa
import sqlmodel
from alembic import op

revision = "0013"
down_revision = "0012"
branch_labels = None
depends_on = None

# Copies of the constants the code uses today: a migration must not change when the code it imports does.
TOTP_STEP_SECONDS = 30
TOTP_WINDOW = 1
_UTC_TIME = sqlmodel.sql.sqltypes.UTCDateTime

_attempts = sa.table(
    "desk_signin_attempts",
    sa.column("login_tag", sa.LargeBinary()),
    sa.column("client_tag", sa.LargeBinary()),
    sa.column("last_at", _UTC_TIME()),
    sa.column("blocked_until", _UTC_TIME()),
)
_accounts = sa.table(
    "desk_accounts",
    sa.column("officer_id", sa.Integer()),
    sa.column("totp_last_step", sa.BigInteger()),
    sa.column("enrolment_expires_at", _UTC_TIME()),
)
_link_codes = sa.table("link_codes", sa.column("expires_at", _UTC_TIME()))


def _hour(moment: datetime) -> datetime:
    return moment.astimezone(UTC).replace(minute=0, second=0, microsecond=0)


def _hour_up(moment: datetime) -> datetime:
    return _hour(moment + timedelta(hours=1) - timedelta(microseconds=1))


def upgrade() -> None:
    op.create_table(
        "desk_devices",
        sa.Column("digest", sa.LargeBinary(length=32), nullable=False),
        sa.Column("officer_id", sa.Integer(), nullable=False),
        sa.Column("epoch", sa.Integer(), nullable=False),
        sa.Column("failures", sa.Integer(), nullable=False),
        sa.Column("expires_at", _UTC_TIME(), nullable=False),
        sa.ForeignKeyConstraint(["officer_id"], ["officers.id"]),
        sa.PrimaryKeyConstraint("digest"),
    )
    with op.batch_alter_table("desk_devices", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_desk_devices_officer_id"), ["officer_id"], unique=False)
    _coarsen_rows(datetime.now(UTC))


def _coarsen_rows(now: datetime) -> None:
    bind = op.get_bind()
    for row in bind.execute(sa.select(_attempts)).all():
        blocked = row.blocked_until if row.blocked_until is not None and row.blocked_until > now else None
        bind.execute(
            sa.update(_attempts)
            .where(_attempts.c.login_tag == row.login_tag, _attempts.c.client_tag == row.client_tag)
            .values(last_at=_hour(row.last_at), blocked_until=blocked)
        )
    oldest_acceptable = int(now.timestamp()) // TOTP_STEP_SECONDS - TOTP_WINDOW
    bind.execute(
        sa.update(_accounts).where(_accounts.c.totp_last_step < oldest_acceptable).values(totp_last_step=None)
    )
    for row in bind.execute(
        sa.select(_accounts.c.officer_id, _accounts.c.enrolment_expires_at).where(
            _accounts.c.enrolment_expires_at.is_not(None)
        )
    ).all():
        bind.execute(
            sa.update(_accounts)
            .where(_accounts.c.officer_id == row.officer_id)
            .values(enrolment_expires_at=_hour_up(row.enrolment_expires_at))
        )
    bind.execute(sa.delete(_link_codes).where(_link_codes.c.expires_at <= now))


def downgrade() -> None:
    # The coarsened times stay coarse on purpose; older code reads them as valid.
    with op.batch_alter_table("desk_devices", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_desk_devices_officer_id"))
    op.drop_table("desk_devices")
