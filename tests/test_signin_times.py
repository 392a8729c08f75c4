"""Officer-side times cannot bracket a reporter's act (issue 9, point 7), on SQLite and PostgreSQL.

The attack: the audit chain puts `case.submitted` between the entries of the officers' acts around it
(sign-ins, back-offs, link codes). Every one of those entries is on the hour, but the rows the same acts
wrote elsewhere were exact: two sign-ins at 10:17:23 and 10:22:05 (their attempt rows' `last_at`), a
TOTP step, a back-off's end, an enrolment code's or a link code's expiry (the moment plus a constant).
Paired with the chain's order, two of them put the submission inside five minutes.

The life: sign-ins from three officers (one with a TOTP code, one through her browser's device cookie),
failures from a stranger up to a back-off, a link code made, an enrolment code issued, and a report
submitted between them; the clock starts off the hour and every step lands off it. While the live
windows are open (the back-off runs, the TOTP code could be replayed, the link code is valid) those
exact values are there, and the scan must see them; once the windows have passed and the desk's sweep
has run, no time column of any table, nor any time written in a JSON or text column, is finer than the
hour (outbox entries still waiting keep their exact time: the documented exception, storage.outbox).
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import sqlalchemy as sa
from sqlmodel import SQLModel

import storage.models  # noqa: F401  (every table on the metadata)
from candour.app import desk_config
from desk.app import build_app, forget_passed
from storage import cases, crypto, desk_accounts, links, outbox
from storage.clock import ManualClock
from storage.vault import Vault
from tests.desk_world import PASSWORD, give_password
from tests.test_coarse_times import WAITING_EXACT, date_time_columns, fine, times_in

START = datetime(2026, 3, 4, 10, 17, 23, 456789, tzinfo=UTC)
WRITTEN_TIME = re.compile(r"\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}(:\d{2}(\.\d+)?)?([+-]\d{2}:\d{2}|Z)?")
RULE = desk_accounts.LockoutRule(threshold=3, duration=timedelta(minutes=15))
# Integer columns that hold a time, with the seconds one unit stands for; every other integer column is
# listed as not a time, so a new one fails here until someone decides which it is.
NUMERIC_TIMES = {"desk_accounts.totp_last_step": crypto.TOTP_STEP_SECONDS}
NOT_TIMES = {
    "cases.policy_version",
    "cases.retention_days",
    "desk_signin_attempts.failures",
    "policy_versions.source_version",
    "receipt_attempts.failures",
    "outbox.attempts",
    "case_items.seq",
    "desk_accounts.session_epoch",
    "desk_devices.epoch",
    "desk_devices.failures",
}


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock(current=START)


def integer_columns() -> Iterator[tuple[sa.Table, sa.Column[Any]]]:
    for table in SQLModel.metadata.sorted_tables:
        for column in table.columns:
            if isinstance(column.type, sa.Integer) and not column.foreign_keys and not column.primary_key:
                yield table, column


def text_columns() -> Iterator[tuple[sa.Table, sa.Column[Any]]]:
    for table in SQLModel.metadata.sorted_tables:
        for column in table.columns:
            if isinstance(column.type, sa.JSON | sa.String):
                yield table, column


async def fine_times(vault: Vault) -> list[str]:
    """Every stored time finer than the hour, in any column of any table, named by its column."""
    found: list[str] = []
    async with vault.db.reading() as session:
        for table, column in date_time_columns():
            status = table.c.status if table.name == "outbox" else sa.literal(None)
            for value, entry_status in (await session.exec(sa.select(column, status))).all():  # type: ignore[call-overload]
                waiting = entry_status in outbox.WAITING and column.name in WAITING_EXACT
                if value is not None and fine(value) and not waiting:
                    found.append(f"{table.name}.{column.name}")
        for name, seconds in NUMERIC_TIMES.items():
            table_name, column_name = name.split(".")
            table = SQLModel.metadata.tables[table_name]
            for (value,) in (await session.exec(sa.select(table.c[column_name]))).all():  # type: ignore[call-overload]
                if value is not None and fine(datetime.fromtimestamp(value * seconds, UTC)):
                    found.append(name)
        for table, column in text_columns():
            for (value,) in (await session.exec(sa.select(column))).all():  # type: ignore[call-overload]
                if any(fine(t) for t in times_written(value)):
                    found.append(f"{table.name}.{column.name}")
    return found


def times_written(value: Any) -> Iterator[datetime]:
    """Every time written as ISO 8601 text in a JSON value, or anywhere inside a text."""
    if not isinstance(value, str):
        yield from times_in(value)
        return
    for match in WRITTEN_TIME.finditer(value):
        try:
            yield datetime.fromisoformat(match.group(0))
        except ValueError:
            continue


async def chain(vault: Vault) -> list[str]:
    async with vault.db.reading() as session:
        rows = (await session.exec(sa.text("SELECT action FROM audit_log ORDER BY seq"))).all()  # type: ignore[call-overload]
    return [action for (action,) in rows]


def test_every_integer_column_is_classified() -> None:
    names = {f"{table.name}.{column.name}" for table, column in integer_columns()}
    assert names == set(NUMERIC_TIMES) | NOT_TIMES, sorted(names ^ (set(NUMERIC_TIMES) | NOT_TIMES))


async def a_morning_at_the_desk(vault: Vault, clock: ManualClock, make_officer: Any) -> None:
    """Sign-ins, a back-off, a TOTP sign-in, a link code, and a report submitted in the middle."""
    await make_officer("bob", queues=("psd-conduct",))
    await make_officer("carol", queues=("psd-conduct",))
    await give_password(vault, "alice")
    await give_password(vault, "bob")
    carol_code = await desk_accounts.set_password(vault, login="carol", password=PASSWORD)
    assert carol_code is not None
    secret = desk_accounts.new_totp_secret()
    carol = await desk_accounts.sign_in(
        vault, login="carol", password=PASSWORD, code=None, rule=RULE, client="c"
    )
    await desk_accounts.enrol_totp(
        vault,
        officer_id=carol.officer_id,
        secret=secret,
        code=crypto.totp_code(secret, at=clock.now().timestamp()),
        enrolment_code=carol_code,
    )
    await desk_accounts.reset_totp(vault, login="bob")  # an enrolment code issued, with its expiry

    clock.advance(timedelta(minutes=1, seconds=7, microseconds=3))
    alice = await desk_accounts.sign_in(
        vault, login="alice", password=PASSWORD, code=None, rule=RULE, client="a"
    )
    for i in range(RULE.threshold):  # a stranger backs off on bob
        with pytest.raises(desk_accounts.SignInRefusedError):
            await desk_accounts.sign_in(
                vault, login="bob", password=f"guess {i:04d}", code=None, rule=RULE, client="x"
            )
    await links.create_code(vault, officer_id=alice.officer_id)

    clock.advance(timedelta(minutes=2, seconds=11))
    await cases.submit(
        vault, report=cases.ReportSubmission(categories=("bullying",), narrative="He shouts at me.")
    )

    clock.advance(timedelta(minutes=2, seconds=5, microseconds=17))
    code = crypto.totp_code(secret, at=clock.now().timestamp())
    await desk_accounts.sign_in(vault, login="carol", password=PASSWORD, code=code, rule=RULE, client="c")
    await desk_accounts.sign_in(vault, login="bob", password=PASSWORD, code=None, rule=RULE, client="b")
    await desk_accounts.sign_in(
        vault, login="alice", password=PASSWORD, code=None, rule=RULE, client="a", device=alice.device
    )


async def test_no_officer_side_time_can_bracket_a_submission_once_its_window_has_passed(
    vault: Vault, clock: ManualClock, settings: Any, make_officer: Any
) -> None:
    await a_morning_at_the_desk(vault, clock, make_officer)
    actions = await chain(vault)
    submitted = actions.index("case.submitted")
    before, after = actions[:submitted], actions[submitted + 1 :]
    assert "desk.signed-in" in before and "desk.signed-in" in after, "the life brackets the submission"
    assert "desk.backing-off" in before and "officer.link-code" in before

    # While their windows are open, the exact times that need precision are there, and the scan sees them.
    live = set(await fine_times(vault))
    assert {
        "desk_signin_attempts.blocked_until",
        "desk_accounts.totp_last_step",
        "link_codes.expires_at",
    } <= live, live
    assert "desk_signin_attempts.last_at" not in live and "desk_accounts.enrolment_expires_at" not in live
    assert "desk_devices.expires_at" not in live

    # The windows pass (the back-off, the TOTP replay window, the link code); the desk's sweep runs.
    clock.advance(RULE.duration + timedelta(minutes=1, seconds=3))
    desk = build_app(vault, desk_config(settings))
    await forget_passed(desk.state.desk)
    assert await fine_times(vault) == []
    # Nothing the sign-in needs went with them: every officer still signs in, the back-off is over.
    for login in ("alice", "bob"):
        await desk_accounts.sign_in(vault, login=login, password=PASSWORD, code=None, rule=RULE, client="x")


async def test_a_sign_in_forgets_replay_steps_whose_window_has_closed(
    vault: Vault, clock: ManualClock, make_officer: Any
) -> None:
    """Without the desk's timer (a desk that is not running), the next sign-in forgets them too."""
    await a_morning_at_the_desk(vault, clock, make_officer)
    clock.advance(timedelta(seconds=3 * crypto.TOTP_STEP_SECONDS))
    await desk_accounts.sign_in(vault, login="alice", password=PASSWORD, code=None, rule=RULE, client="a")
    assert "desk_accounts.totp_last_step" not in await fine_times(vault)


async def test_a_code_cannot_be_replayed_while_its_step_is_kept(vault: Vault, clock: ManualClock) -> None:
    """Forgetting the step never lets a code in twice: it is kept for as long as the code is accepted."""
    code = await desk_accounts.set_password(vault, login="alice", password=PASSWORD)
    assert code is not None
    secret = desk_accounts.new_totp_secret()
    first = await desk_accounts.sign_in(
        vault, login="alice", password=PASSWORD, code=None, rule=RULE, client="a"
    )
    now_code = crypto.totp_code(secret, at=clock.now().timestamp())
    await desk_accounts.enrol_totp(
        vault, officer_id=first.officer_id, secret=secret, code=now_code, enrolment_code=code
    )
    for _ in range(3):  # within the window either side, every sweep keeps the step
        clock.advance(timedelta(seconds=crypto.TOTP_STEP_SECONDS - 1))
        await desk_accounts.forget_passed(vault)
        with pytest.raises(desk_accounts.SignInRefusedError):
            await desk_accounts.sign_in(
                vault, login="alice", password=PASSWORD, code=now_code, rule=RULE, client="a"
            )
