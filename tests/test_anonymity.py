"""Promise 1, Anonymity: no Telegram identifier of a reporter is ever stored or logged in plaintext.

Several fake Telegram reporters with distinctive identifiers (user/chat id, username, first and last
name, language code, phone number) drive the vault exactly as the bot does: a draft keyed by
`chat_ref=str(chat_id)` is saved and updated (once, as a worst case, holding the username and names too),
the report is submitted with `contact=str(chat_id)` and a narrative that names the reporter, the reporter
adds a message, an officer messages the reporter and changes the status, the reporter looks the case up
by receipt code, and one case is closed and purged. Every logger is captured at DEBUG throughout,
SQLAlchemy's engine logger with SQL parameters and result rows.

Then every surface is scanned for every identifier in several encodings (decimal text, 8-byte big- and
little-endian binary and their hex, UTF-8, UTF-16-LE, lower case, JSON and repr escapes): the SQLite
database file with its -wal and -shm files and every file of the data directory, before and after the
engine is disposed (a checkpoint may or may not have happened); on PostgreSQL every public table dumped as
text plus every bytea column hex-decoded; every log record (message and args); and the test's stdout and
stderr. The plaintext receipt code must not be stored either, only its HMAC. The scanner is proven to
work by finding a clear marker put in through the API (an officer's display name) and the receipt HMAC.

Stored times of reporter-side rows must be on the hour although the clock reads 10:37:12.345.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import text
from sqlmodel import select

from candour.settings import Settings
from storage import cases, casework, drafts, receipts
from storage.clock import ManualClock
from storage.db import sqlite_path
from storage.errors import UnknownReceiptError
from storage.models import AuditEntry, Case, CaseItem, Draft
from storage.officers import UnlockedOfficer
from storage.vault import Vault

ODD_MOMENT = datetime(2026, 1, 5, 10, 37, 12, 345000, tzinfo=UTC)
MARKER = "Qvorblimp Marker Displayname 8461"
OFFICER_QUESTION = "Thank you. Could you tell us who else was present?"


@dataclass(frozen=True)
class FakeTelegramUser:
    """What a Telegram update tells the bot about a private-chat user (chat id == user id)."""

    user_id: int
    username: str
    first_name: str
    last_name: str
    language_code: str
    phone_number: str

    @property
    def chat_ref(self) -> str:
        return str(self.user_id)

    @property
    def full_name(self) -> str:
        return f"{self.first_name} {self.last_name}"


REPORTERS = (
    FakeTelegramUser(
        7368201945, "ZqxReporterHandle91", "Wendeline", "Okonkwo-Fairbairn", "kw-gb", "+447700900461"
    ),
    # User ids need 52 bits: take two just under 2**52.
    FakeTelegramUser(
        4503599627370495 - 38,
        "QvxWhistleBearer77",
        "Thorbjørg",
        "Nakashima-Ólafsdóttir",
        "fo-fo",
        "+447700900917",
    ),
    FakeTelegramUser(
        4503599627370495 - 1,
        "XylophoneSentinel404",
        "Zbigniewa",
        "Przybylski-Quayle",
        "gsw-ch",
        "+447700900288",
    ),
)


def _text_forms(value: str) -> dict[str, bytes]:
    """A string as it could land anywhere: raw encodings, lower case, JSON/repr escapes."""
    forms: dict[str, bytes] = {}
    for case_label, variant in (("", value), ("lower ", value.lower())):
        forms[f"{case_label}utf-8"] = variant.encode("utf-8")
        forms[f"{case_label}utf-16-le"] = variant.encode("utf-16-le")
        forms[f"{case_label}json-escaped"] = json.dumps(variant)[1:-1].encode("ascii")
        forms[f"{case_label}repr-of-utf-8"] = repr(variant.encode("utf-8"))[2:-1].encode("ascii")
    return forms


def _id_forms(value: int) -> dict[str, bytes]:
    big, little = value.to_bytes(8, "big"), value.to_bytes(8, "little")
    return {
        "decimal": str(value).encode("ascii"),
        "be8": big,
        "le8": little,
        "be8 hex": big.hex().encode("ascii"),
        "le8 hex": little.hex().encode("ascii"),
        "be8 repr": repr(big)[2:-1].encode("ascii"),
        "le8 repr": repr(little)[2:-1].encode("ascii"),
    }


def needles_for(user: FakeTelegramUser) -> dict[str, bytes]:
    """Every (label -> bytes) that would betray this reporter."""
    needles = {f"user id {k}": v for k, v in _id_forms(user.user_id).items()}
    names = {
        "username": user.username,
        "@username": "@" + user.username,
        "first name": user.first_name,
        "last name": user.last_name,
        "full name": user.full_name,
        "language code": user.language_code,
        "phone number": user.phone_number,
        "phone digits": user.phone_number.lstrip("+"),
    }
    # Parts of hyphenated surnames on their own, too.
    for i, part in enumerate(user.last_name.split("-")):
        names[f"last name part {i}"] = part
    for label, value in names.items():
        for form, encoded in _text_forms(value).items():
            needles[f"{label} {form}"] = encoded
    return needles


def find_leaks(haystack: bytes, needles: dict[str, bytes], where: str) -> list[str]:
    """Labels of needles found in the haystack, exactly or ASCII-case-insensitively."""
    lowered = haystack.lower()
    return [
        f"{label!r} in {where}"
        for label, needle in needles.items()
        if needle in haystack or needle.lower() in lowered
    ]


def all_needles(receipt_codes: list[str]) -> dict[str, bytes]:
    needles: dict[str, bytes] = {}
    for user in REPORTERS:
        needles.update({f"{user.first_name}: {label}": value for label, value in needles_for(user).items()})
    for i, code in enumerate(receipt_codes):
        normalised = receipts.normalise(code)
        for label, value in {"display": code, "normalised": normalised}.items():
            for form, encoded in _text_forms(value).items():
                needles[f"receipt {i} {label} {form}"] = encoded
    return needles


# --- surfaces ------------------------------------------------------------------------------------


def files_under(settings: Settings) -> dict[str, bytes]:
    """Raw bytes of the SQLite database, its -wal and -shm, and every file in the data directory."""
    found: dict[str, bytes] = {}
    path = sqlite_path(settings.effective_database_url)
    if path is not None:
        for candidate in (path, Path(f"{path}-wal"), Path(f"{path}-shm"), Path(f"{path}-journal")):
            if candidate.exists():
                found[str(candidate)] = candidate.read_bytes()
    for file in sorted(settings.data_dir.rglob("*")):
        if file.is_file():
            found.setdefault(str(file), file.read_bytes())
    return found


PUBLIC_TABLES = text(
    "SELECT table_name FROM information_schema.tables "
    "WHERE table_schema = 'public' AND table_type = 'BASE TABLE' ORDER BY table_name"
)
BYTEA_COLUMNS = text(
    "SELECT column_name FROM information_schema.columns "
    "WHERE table_schema = 'public' AND table_name = :t AND data_type = 'bytea'"
)


async def postgres_dump(vault: Vault) -> dict[str, bytes]:
    """Every public table as text rows, and every bytea column hex-decoded to raw bytes."""
    dump: dict[str, bytes] = {}
    async with vault.db.engine.connect() as conn:
        tables = (await conn.execute(PUBLIC_TABLES)).scalars().all()
        assert {"cases", "case_items", "drafts", "contact_handles", "outbox", "audit_log"} <= set(tables)
        for table in tables:
            rows = (await conn.execute(text(f'SELECT t::text FROM "{table}" t'))).scalars().all()
            dump[f"{table} (text)"] = "\n".join(rows).encode("utf-8")
            for column in (await conn.execute(BYTEA_COLUMNS, {"t": table})).scalars().all():
                query = text(f'SELECT encode("{column}", \'hex\') FROM "{table}"')
                values = (await conn.execute(query)).scalars().all()
                dump[f"{table}.{column} (bytea)"] = b"\n".join(
                    bytes.fromhex(v) for v in values if v is not None
                )
    return dump


async def storage_surfaces(vault: Vault, settings: Settings) -> dict[str, bytes]:
    surfaces = files_under(settings)
    if not vault.db.sqlite:
        surfaces.update(await postgres_dump(vault))
    return surfaces


def log_surfaces(records: list[logging.LogRecord]) -> dict[str, bytes]:
    """Each record's formatted message, raw message and every argument (repr and str)."""
    parts: list[str] = []
    for record in records:
        parts.append(record.getMessage())
        parts.append(str(record.msg))
        args = record.args if isinstance(record.args, tuple) else (record.args,) if record.args else ()
        for arg in args:
            parts.append(repr(arg))
            parts.append(str(arg))
        if record.exc_text:
            parts.append(record.exc_text)
    return {"log records": "\n".join(parts).encode("utf-8", "backslashreplace")}


def scan(surfaces: dict[str, bytes], needles: dict[str, bytes]) -> list[str]:
    leaks: list[str] = []
    for where, haystack in surfaces.items():
        leaks.extend(find_leaks(haystack, needles, where))
    return leaks


@pytest.fixture
def every_logger_at_debug(
    caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> Iterator[None]:
    """Root and every known logger at DEBUG, enabled, and reaching caplog even if it does not propagate."""
    caplog.set_level(logging.DEBUG)
    caplog.set_level(logging.DEBUG, logger="sqlalchemy.engine")  # SQL, parameters and result rows
    attached: list[logging.Logger] = []
    for name, logger in list(logging.root.manager.loggerDict.items()):
        if not isinstance(logger, logging.Logger):
            continue
        if logger.level not in (logging.NOTSET, logging.DEBUG) and not name.startswith("sqlalchemy.engine"):
            caplog.set_level(logging.DEBUG, logger=name)
        monkeypatch.setattr(logger, "disabled", False)
        if not logger.propagate:
            logger.addHandler(caplog.handler)
            attached.append(logger)
    assert logging.getLogger("sqlalchemy.engine").isEnabledFor(logging.INFO)
    yield
    for logger in attached:
        logger.removeHandler(caplog.handler)


# --- the scenario --------------------------------------------------------------------------------


def answers_only(user: FakeTelegramUser, step: int) -> dict[str, object]:
    """What the bot keeps in a draft: the answers so far, nothing about the chat."""
    state: dict[str, object] = {"step": step, "categories": ["bullying", "racism"]}
    if step >= 2:
        state["narrative"] = f"Draft so far: {user.full_name} saw it happen at the canteen."
    return state


def worst_case_state(user: FakeTelegramUser) -> dict[str, object]:
    """A careless bot that put the whole Telegram user into the draft: still sealed, so invisible."""
    return {
        **answers_only(user, 2),
        "user": {
            "id": user.user_id,
            "username": user.username,
            "first_name": user.first_name,
            "last_name": user.last_name,
            "language_code": user.language_code,
            "phone_number": user.phone_number,
            "id_text": str(user.user_id),
        },
    }


async def run_scenario(
    vault: Vault, clock: ManualClock, officer: UnlockedOfficer
) -> list[cases.SubmitResult]:
    clock.current = ODD_MOMENT
    submitted: list[cases.SubmitResult] = []
    for index, user in enumerate(REPORTERS):
        await drafts.save(vault, chat_ref=user.chat_ref, state=answers_only(user, 1))
        clock.advance(timedelta(minutes=3, seconds=41, microseconds=271_000))
        state = worst_case_state(user) if index == 0 else answers_only(user, 2)
        await drafts.save(vault, chat_ref=user.chat_ref, state=state)
        assert await drafts.load(vault, chat_ref=user.chat_ref) == json.loads(json.dumps(state))

        report = cases.ReportSubmission(
            categories=("bullying", "racism"),
            narrative=(
                f"My name is {user.full_name} (@{user.username}). On my shift a sergeant mocked me; "
                f"{user.first_name} is what they called me, then '{user.last_name.upper()}' in a voice."
            ),
            when="last Tuesday night shift",
            where="custody suite canteen",
            witnesses=f"only me, {user.first_name}",
            evidence=(
                cases.Evidence(
                    filename=f"{user.first_name}_{user.last_name}.png",
                    media_type="image/png",
                    content=b"\x89PNG fake " + user.full_name.encode(),
                    metadata_kept=False,
                ),
            ),
            ongoing=True,
            checkin_consent=True,
        )
        result = await cases.submit(vault, report=report, contact=str(user.user_id))
        submitted.append(result)
        if index != 0:  # the bot discards the draft once submitted; the worst-case one is left in place
            assert await drafts.discard(vault, chat_ref=user.chat_ref)
        assert await cases.open_contact(vault, case_id=result.case_id) == str(user.user_id)

        clock.advance(timedelta(hours=1, minutes=13, seconds=7, microseconds=891_000))
        await cases.add_from_reporter(
            vault,
            case_id=result.case_id,
            kind=cases.REPORTER_MESSAGE,
            text=f"It's {user.first_name} again, @{user.username}, tel {user.phone_number}.",
        )
        await casework.message_reporter(
            vault, officer=officer, reference=result.reference, text=OFFICER_QUESTION
        )
        await casework.change_status(
            vault, officer=officer, reference=result.reference, status="acknowledged"
        )

        view = await cases.reporter_view(vault, code=result.receipt_code.lower().replace("-", " "))
        assert view.case_id == result.case_id and view.status == "acknowledged"
        assert OFFICER_QUESTION in [entry.text for entry in view.timeline]
        clock.advance(timedelta(minutes=29, seconds=5, microseconds=5))

    purged = submitted[-1]
    await casework.change_status(
        vault,
        officer=officer,
        reference=purged.reference,
        status="closed",
        outcome="Words of advice were given.",
    )
    await casework.purge(vault, reference=purged.reference, actor="system", reason="retention")
    assert await cases.open_contact(vault, case_id=purged.case_id) is None
    with pytest.raises(UnknownReceiptError):
        await cases.reporter_view(vault, code=purged.receipt_code)
    return submitted


def _on_the_hour(moment: datetime) -> bool:
    return moment.minute == moment.second == moment.microsecond == 0


async def assert_reporter_times_coarse(vault: Vault) -> None:
    async with vault.db.transaction() as session:
        case_rows = (await session.exec(select(Case))).all()
        items = (await session.exec(select(CaseItem).where(CaseItem.author == "reporter"))).all()
        draft_rows = (await session.exec(select(Draft))).all()
        reporter_audit = (await session.exec(select(AuditEntry).where(AuditEntry.actor == "reporter"))).all()
    assert len(case_rows) == len(REPORTERS) and items and draft_rows and reporter_audit
    stamps = (
        [("cases.received_at", c.received_at) for c in case_rows]
        + [("cases.updated_at", c.updated_at) for c in case_rows]
        + [("case_items.created_at", i.created_at) for i in items]
        + [("drafts.updated_at", d.updated_at) for d in draft_rows]
        + [("audit_log.at (reporter)", a.at) for a in reporter_audit]
    )
    precise = [(label, moment) for label, moment in stamps if not _on_the_hour(moment)]
    assert not precise, f"reporter-side times not coarsened to the hour: {precise}"


async def test_no_telegram_identifier_is_stored_or_logged(
    vault: Vault,
    settings: Settings,
    clock: ManualClock,
    alice: UnlockedOfficer,
    make_officer,
    caplog: pytest.LogCaptureFixture,
    capfd: pytest.CaptureFixture[str],
    every_logger_at_debug: None,
) -> None:
    submitted = await run_scenario(vault, clock, alice)
    await assert_reporter_times_coarse(vault)

    # A clear marker through the API, so the scanner is shown to find what is there.
    await make_officer("marker.officer", display_name=MARKER)
    marker = {"marker": MARKER.encode()}
    kept = submitted[0]
    digest = vault.keys.receipt_digest(receipts.normalise(kept.receipt_code))
    needles = all_needles([r.receipt_code for r in submitted])

    stored = await storage_surfaces(vault, settings)
    assert scan(stored, needles) == []
    assert scan(stored, marker), "the storage scan does not find a marker stored in clear"
    assert scan(stored, {"receipt hmac": digest}), "the storage scan does not find the stored receipt HMAC"

    logged = log_surfaces(caplog.records)
    assert any(r.name.startswith("sqlalchemy.engine") for r in caplog.records)
    assert scan(logged, marker), "the log scan does not see SQL parameters"
    assert scan(logged, needles) == []

    if vault.db.sqlite:
        await vault.db.dispose()  # closing the last connection checkpoints the WAL (or may not)
        after = files_under(settings)
        assert scan(after, needles) == []
        assert scan(after, marker)
        assert scan(after, {"receipt hmac": digest})

    out, err = capfd.readouterr()
    assert scan({"stdout": out.encode(), "stderr": err.encode()}, needles) == []
    assert scan(log_surfaces(caplog.records), needles) == []


def test_scanner_finds_each_encoding() -> None:
    """The encodings themselves: each form of an identifier is found where it was planted."""
    user = REPORTERS[1]
    needles = needles_for(user)
    for label, needle in needles.items():
        assert find_leaks(b"\x00junk" + needle + b"junk\xff", {label: needle}, "planted")
    assert find_leaks(b"x" + user.user_id.to_bytes(8, "little") + b"y", needles, "blob")
    assert find_leaks(user.username.upper().encode("utf-16-le"), needles, "upper")
    assert find_leaks(json.dumps({"n": user.first_name}).encode(), needles, "json")
    assert find_leaks(str(user.user_id).encode(), needles, "decimal")
    assert not find_leaks(b"nothing to see here 1234567890", needles, "clean")


async def test_draft_expiry_does_not_store_the_precise_time(vault: Vault, clock: ManualClock) -> None:
    clock.current = ODD_MOMENT
    await drafts.save(vault, chat_ref=REPORTERS[0].chat_ref, state=answers_only(REPORTERS[0], 1))
    async with vault.db.transaction() as session:
        row = (await session.exec(select(Draft))).one()
    assert _on_the_hour(row.updated_at)
    assert _on_the_hour(row.expires_at), f"drafts.expires_at = {row.expires_at}"
