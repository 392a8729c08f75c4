"""Benchmark: report submissions through the vault API against the floor of unavoidable work.

For each engine (SQLite in WAL with synchronous=FULL; PostgreSQL with its defaults, i.e. durable
commits) this builds a fresh installation with `candour.app.initialise`, adds officers to the queue the
report is routed to, and then, sequentially and interleaved, measures two things per submission:

- vault: `storage.cases.submit` (validate, route on the active policy, check subjects, case key pair,
  seal the report, subjects record and evidence, wrap the case key to every recipient, receipt digest,
  contact handle, case/queue/item/key/receipt rows, check-in and deadline schedule, audit entry, one
  durable commit);
- floor: the same cryptographic work done bare (a case key pair, `storage.crypto.seal_item` over
  plaintexts of the same sizes, the case key wrapped to the same recipients, the receipt HMAC, the
  contact relay seal) plus one durable commit of one row holding all the ciphertext bytes, through the
  same driver stack (`storage.db.Database`: async SQLAlchemy + aiosqlite / asyncpg; for SQLite a
  separate file with the same WAL and synchronous=FULL settings).

It prints submissions per second, p50 and p99 latency for both, and ratio = floor mean / vault mean,
with PASS when the ratio is at least the goal (0.5: orchestration and ORM cost no more than the
unavoidable work). `--profile N` adds, per engine, where N vault submissions spend their time (SQL
round trips, commit, crypto, the rest) and a CPU profile of them (cProfile, grouped by package).

    python benchmarks/vault_submit.py [--n 500] [--engines sqlite,postgres] [--officers 4]

PostgreSQL: CANDOUR_BENCH_POSTGRES_URL (default postgresql://postgres@127.0.0.1:5432/test) names a
server and a database to connect to; a fresh database is created for the run and dropped after. When no
server answers, PostgreSQL is skipped with the reason.
"""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import io
import math
import os
import platform
import pstats
import sqlite3
import statistics
import sys
import tempfile
import time
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from machine import cpu_model, filesystem_of
from sqlalchemy import Column, LargeBinary, event, func, select, text
from sqlalchemy.orm import Session as SyncSession
from sqlmodel import Field, SQLModel

from candour.app import AdminSpec, initialise, open_vault
from candour.settings import Settings
from storage import cases, crypto, officers, payloads
from storage.db import Database, DatabaseConfig, write_rows_sync
from storage.models import CaseItem, CaseKey, ContactHandle, Officer, Receipt
from storage.vault import Vault

GOAL = 0.5
DEFAULT_POSTGRES_URL = "postgresql://postgres@127.0.0.1:5432/test"
PASSPHRASE = "benchmark passphrase, not a secret"
# Argon2id protects stored officer keys; it runs only when officers are added, which is not measured.
FAST_KDF = {"argon2_memory_kib": 64, "argon2_iterations": 1, "argon2_lanes": 1}
QUEUE = "psd-conduct"  # where the starter policy routes a bullying report about a BCU constable
OFFICER_UNIT = "professional-standards"
SUBJECT_UNIT = "north-bcu"


# --- the workload ---------------------------------------------------------------------------------


def make_report(narrative_bytes: int, evidence_bytes: int) -> cases.ReportSubmission:
    """A realistic report: ~2 KB narrative, one named person, one small evidence file, check-ins on."""
    sentence = (
        "On the late shift the sergeant again mocked a colleague's accent in the briefing room and "
        "told the team to stop being so sensitive; nobody said anything. "
    )
    narrative = (sentence * (narrative_bytes // len(sentence) + 1))[:narrative_bytes]
    evidence = cases.Evidence(
        filename="screenshot.png",
        media_type="image/png",
        content=os.urandom(evidence_bytes),
        metadata_kept=False,
    )
    return cases.ReportSubmission(
        categories=("bullying", "harassment"),
        narrative=narrative,
        when="Most late shifts since March",
        where="North BCU, briefing room",
        location_unit=SUBJECT_UNIT,
        subjects=(
            cases.Person(
                name="Sam Example",
                role="sergeant",
                unit=SUBJECT_UNIT,
                description="Sergeant on the late shift",
            ),
        ),
        witnesses="Two constables of the same team",
        evidence=(evidence,),
        ongoing=False,
        risk_of_harm=False,
        reported_before=False,
        checkin_consent=True,
    )


def floor_plaintexts(report: cases.ReportSubmission) -> list[tuple[str, bytes]]:
    """The plaintexts the vault seals for this report (the vault's own layout, so the same sizes)."""
    return [(kind, payloads.encode(meta, body)) for kind, meta, body in cases.plaintext_items(report, [])]


# --- the floor ------------------------------------------------------------------------------------


class BenchFloor(SQLModel, table=True):
    """The floor's one row per submission: all the ciphertext bytes in a single column."""

    __tablename__ = "bench_floor"
    id: str = Field(primary_key=True, max_length=32)
    payload: bytes = Field(sa_column=Column(LargeBinary, nullable=False))


@dataclass
class Floor:
    """Bare crypto plus one durable single-row commit, on its own Database with the vault's settings."""

    db: Database
    plaintexts: list[tuple[str, bytes]]
    recipients: list[bytes]
    pepper: bytes
    vault: Vault
    contact: str | None
    crypto_ns: list[int]
    commit_ns: list[int]
    row_bytes: int = 0

    async def create_table(self) -> None:
        blob = "BLOB" if self.db.sqlite else "BYTEA"
        async with self.db.transaction() as session:
            await session.exec(
                text(  # type: ignore[call-overload]
                    "CREATE TABLE IF NOT EXISTS bench_floor "
                    f"(id VARCHAR(32) PRIMARY KEY, payload {blob} NOT NULL)"
                )
            )

    async def one(self) -> None:
        start = time.perf_counter_ns()
        pair = crypto.generate_keypair()
        case_id = uuid.uuid4().hex
        parts = [pair.public]
        for kind, plaintext in self.plaintexts:
            parts.append(
                crypto.seal_item(
                    plaintext,
                    case_public_key=pair.public,
                    case_id=case_id,
                    item_id=uuid.uuid4().hex,
                    kind=kind,
                )
            )
        for public in self.recipients:
            parts.append(crypto.wrap_case_key(pair.private, recipient_public_key=public, case_id=case_id))
        parts.append(crypto.keyed_hash(self.pepper, b"receipt:" + os.urandom(12)))
        if self.contact is not None:
            parts.append(
                self.vault.keys.relay.seal(
                    self.contact.encode(), purpose=cases.CONTACT_PURPOSE, context=case_id
                )[1]
            )
        row = b"".join(parts)
        sealed = time.perf_counter_ns()
        # The vault's own hand-off (Database.run: a worker thread on a synchronous connection) and its own
        # insert path (write_rows_sync), so the floor's commit is the cheapest the vault's stack can do.
        await self.db.run(
            lambda session: write_rows_sync(session, [(BenchFloor, [{"id": case_id, "payload": row}])])
        )
        done = time.perf_counter_ns()
        self.crypto_ns.append(sealed - start)
        self.commit_ns.append(done - sealed)
        self.row_bytes = len(row)


# --- measurement ----------------------------------------------------------------------------------


@dataclass
class Stats:
    mean_ms: float
    p50_ms: float
    p99_ms: float
    per_second: float
    cpu_ms: float | None = None  # this process's CPU (all threads) per operation; the server's is not in it


def stats(samples_ns: list[int], cpu_ns: list[int] | None = None) -> Stats:
    ordered = sorted(samples_ns)

    def rank(q: float) -> float:  # nearest-rank percentile
        return ordered[max(0, math.ceil(q * len(ordered)) - 1)] / 1e6

    mean = statistics.fmean(ordered) / 1e6
    cpu = statistics.fmean(cpu_ns) / 1e6 if cpu_ns else None
    return Stats(mean_ms=mean, p50_ms=rank(0.50), p99_ms=rank(0.99), per_second=1000.0 / mean, cpu_ms=cpu)


async def timed(call: Callable[[], Awaitable[Any]], wall: list[int], cpu: list[int]) -> None:
    wall_start, cpu_start = time.perf_counter_ns(), time.process_time_ns()
    await call()
    wall.append(time.perf_counter_ns() - wall_start)
    cpu.append(time.process_time_ns() - cpu_start)


@dataclass
class EngineResult:
    engine: str
    vault: Stats
    floor: Stats
    floor_crypto: Stats
    floor_commit: Stats
    vault_bytes: int
    floor_bytes: int
    recipients: int

    @property
    def ratio(self) -> float:
        return self.floor.mean_ms / self.vault.mean_ms


async def sealed_bytes(vault: Vault, case_id: str) -> tuple[int, int]:
    """Sealed bytes the vault stored for one case (items, keys, receipt, contact, public key); key count."""
    async with vault.db.transaction() as session:
        items = (
            await session.exec(
                select(func.sum(func.length(CaseItem.ciphertext))).where(CaseItem.case_id == case_id)  # type: ignore[call-overload]
            )
        ).one()[0]
        keys, wraps = (
            await session.exec(
                select(
                    func.sum(func.length(CaseKey.wrapped)),  # type: ignore[call-overload]
                    func.count(),
                ).where(CaseKey.case_id == case_id)
            )
        ).one()
        receipt = (
            await session.exec(
                select(func.sum(func.length(Receipt.digest))).where(Receipt.case_id == case_id)  # type: ignore[call-overload]
            )
        ).one()[0]
        contact = (
            await session.exec(
                select(func.sum(func.length(ContactHandle.sealed))).where(ContactHandle.case_id == case_id)  # type: ignore[call-overload]
            )
        ).one()[0]
    total = int(items or 0) + int(keys or 0) + int(receipt or 0) + int(contact or 0) + crypto.KEY_SIZE
    return total, int(wraps)


async def run_engine(
    engine: str, database_url: str | None, workdir: Path, args: argparse.Namespace
) -> EngineResult:
    values: dict[str, Any] = {"data_dir": workdir / "data", "sqlite_synchronous": "FULL", **FAST_KDF}
    if database_url:
        values["database_url"] = database_url
    settings = Settings(_env_file=None, **values)  # type: ignore[call-arg]
    admin = AdminSpec(login="admin", display_name="Admin", passphrase=PASSPHRASE, unit_id=OFFICER_UNIT)
    await initialise(settings, admin=admin)
    vault = await open_vault(settings)
    floor_db: Database | None = None
    try:
        for index in range(1, args.officers):
            await officers.add(
                vault,
                login=f"officer{index}",
                display_name=f"Officer {index}",
                passphrase=PASSPHRASE,
                unit_id=OFFICER_UNIT,
                queues=(QUEUE,),
            )
        report = make_report(args.narrative_bytes, args.evidence_bytes)
        contact = None if args.no_contact else "chat:1234567890"

        async def submit() -> cases.SubmitResult:
            return await cases.submit(vault, report=report, contact=contact)

        probe = await submit()
        vault_bytes, wraps = await sealed_bytes(vault, probe.case_id)
        if probe.queues != (QUEUE,) or wraps != args.officers:
            raise SystemExit(
                f"{engine}: the report was routed to {probe.queues} and wrapped to {wraps} "
                f"keys; the benchmark expects ({QUEUE!r},) and {args.officers}"
            )
        async with vault.db.transaction() as session:
            recipients = list(
                (
                    await session.exec(  # type: ignore[call-overload]
                        select(Officer.public_key)
                        .join(CaseKey, CaseKey.officer_id == Officer.id)
                        .where(CaseKey.case_id == probe.case_id)
                    )
                )
                .scalars()
                .all()
            )
        if vault.keys.recovery_public_key is not None:
            recipients.append(vault.keys.recovery_public_key)

        if database_url:
            floor_config = DatabaseConfig(url=database_url, pool_size=settings.db_pool_size)
        else:
            floor_config = DatabaseConfig(
                url=f"sqlite+aiosqlite:///{(workdir / 'floor.db').resolve()}", sqlite_synchronous="FULL"
            )
        floor_db = Database(floor_config)
        floor = Floor(
            db=floor_db,
            plaintexts=floor_plaintexts(report),
            recipients=recipients,
            pepper=vault.keys.receipt_pepper,
            vault=vault,
            contact=contact,
            crypto_ns=[],
            commit_ns=[],
        )
        await floor.create_table()

        for _ in range(args.warmup):
            await submit()
            await floor.one()
        floor.crypto_ns.clear()
        floor.commit_ns.clear()

        # Interleaved, so drift in the machine's load or the disk's state affects both alike.
        vault_ns: list[int] = []
        vault_cpu: list[int] = []
        floor_ns: list[int] = []
        floor_cpu: list[int] = []
        for _ in range(args.n):
            await timed(submit, vault_ns, vault_cpu)
            await timed(floor.one, floor_ns, floor_cpu)

        result = EngineResult(
            engine=engine,
            vault=stats(vault_ns, vault_cpu),
            floor=stats(floor_ns, floor_cpu),
            floor_crypto=stats(floor.crypto_ns),
            floor_commit=stats(floor.commit_ns),
            vault_bytes=vault_bytes,
            floor_bytes=floor.row_bytes,
            recipients=wraps,
        )
        print_result(result, args)
        if args.profile:
            await profile_vault(vault, engine, submit, args.profile)
        return result
    finally:
        if floor_db is not None:
            await floor_db.dispose()
        await vault.db.dispose()


async def profile_vault(vault: Vault, engine: str, submit: Callable[[], Awaitable[Any]], count: int) -> None:
    """Where a vault submission's time goes: SQL round trips, commit, crypto, the rest; then a CPU profile."""
    breakdown = await time_breakdown(vault, submit, count)
    print(f"\n--- {engine}: where a vault submission's time goes (mean of {count}, ms) ---")
    wall = breakdown.pop("wall")
    for label, value in breakdown.items():
        share = f"{100 * value / wall:5.1f}%" if not label.startswith("process CPU") else ""
        print(f"  {label:52}{value:8.3f} {share}")
    print(f"  {'total (wall)':52}{wall:8.3f}")

    # Why the thread CPU clock: the machine may be shared, and wall-clock profiles then blame whatever
    # happened to be running when another process took the core. Note cProfile inflates Python-level
    # costs several times over C-level ones (crypto, driver): read the shares, not the absolute times.
    # The profiler runs in the worker thread that does the unit of work (Database.run), where the time is.
    profiler = cProfile.Profile(time.thread_time_ns, 1e-9)
    run_in_thread = vault.db._run_in_thread  # the benchmark wraps the private hand-off

    def profiled(work: Callable[[Any], Any], *args: Any) -> Any:
        profiler.enable()
        try:
            return run_in_thread(work, *args)
        finally:
            profiler.disable()

    vault.db._run_in_thread = profiled  # type: ignore[method-assign]
    try:
        for _ in range(count):
            await submit()
    finally:
        del vault.db._run_in_thread
    stats_ = pstats.Stats(profiler)
    by_package: dict[str, float] = {}
    for (filename, _line, name), (_cc, _nc, tottime, _ct, _callers) in stats_.stats.items():  # type: ignore[attr-defined]
        key = _package_of(filename, name)
        by_package[key] = by_package.get(key, 0.0) + tottime
    total = sum(by_package.values())
    print(
        f"\n--- {engine}: worker-thread CPU of {count} vault submissions under cProfile, by package (own time) ---"
    )
    for key, value in sorted(by_package.items(), key=lambda kv: -kv[1])[:16]:
        print(f"  {key:52}{100 * value / total:5.1f}%")
    out = io.StringIO()
    order, top = os.environ.get("BENCH_SORT", "tottime"), int(os.environ.get("BENCH_TOP", "25"))
    pstats.Stats(profiler, stream=out).strip_dirs().sort_stats(order).print_stats(top)
    print(f"\n--- {engine}: top functions by own CPU time ---")
    print(out.getvalue().split("\n", 4)[-1].rstrip())


_PACKAGES = (
    ("sqlalchemy/orm", "SQLAlchemy ORM (unit of work, loading, attributes)"),
    ("sqlalchemy/engine", "SQLAlchemy engine (execution contexts, results)"),
    ("sqlalchemy/sql", "SQLAlchemy SQL (compilation, cache keys, coercion)"),
    ("sqlalchemy/dialects", "SQLAlchemy dialect (driver adaptation)"),
    ("sqlalchemy", "SQLAlchemy other (events, async/greenlet glue)"),
    ("sqlmodel", "SQLModel (model construction, setattr)"),
    ("pydantic", "pydantic"),
    ("aiosqlite", "aiosqlite (thread hand-off)"),
    ("asyncpg", "asyncpg"),
    ("asyncio", "asyncio event loop"),
    ("selectors", "asyncio event loop"),
    ("/storage/", "storage (Candour's vault code)"),
    ("/policies/", "policies (routing)"),
    ("cryptography", "cryptography"),
)


def _package_of(filename: str, name: str) -> str:
    for fragment, label in _PACKAGES:
        if fragment in filename:
            return label
    if filename == "~":  # a C function: name it, grouping the obvious ones
        if "hpke" in name or "X25519" in name or "x25519" in name or "ChaCha" in name or "hmac" in name:
            return "cryptography"
        if (
            "epoll" in name
            or "_socket" in name
            or "SimpleQueue" in name
            or "Future" in name
            or "greenlet" in name
        ):
            return "asyncio event loop"
        return f"builtin {name}"[:52]
    return Path(filename).name


async def time_breakdown(vault: Vault, submit: Callable[[], Awaitable[Any]], count: int) -> dict[str, float]:
    """Mean wall ms per submission in SQL statements, in the commit, in crypto; main-thread CPU."""
    # Why the synchronous engine: a submission runs whole in a worker thread on it (Database.run).
    sync_engine = vault.db.sync_engine
    acc = {"sql": 0, "statements": 0, "commit": 0, "crypto": 0}
    marks: dict[str, int] = {}

    def before_execute(*_args: Any) -> None:
        marks["sql"] = time.perf_counter_ns()

    def after_execute(*_args: Any) -> None:
        acc["sql"] += time.perf_counter_ns() - marks.pop("sql")
        acc["statements"] += 1

    def before_commit(*_args: Any) -> None:
        marks["commit"] = time.perf_counter_ns()

    def after_commit(*_args: Any) -> None:
        if "commit" in marks:
            acc["commit"] += time.perf_counter_ns() - marks.pop("commit")

    def timed_crypto(function: Callable[..., Any]) -> Callable[..., Any]:
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            start = time.perf_counter_ns()
            try:
                return function(*args, **kwargs)
            finally:
                acc["crypto"] += time.perf_counter_ns() - start

        return wrapper

    # The outermost crypto calls a submission makes (inner ones, e.g. hpke_seal, would count twice).
    patched = {
        name: getattr(crypto, name)
        for name in (
            "generate_keypair",
            "reporter_keypair",
            "seal_item",
            "wrap_case_key",
            "keyed_hash",
            "relay_seal",
            "fingerprint",
        )
    }
    listeners = [
        (sync_engine, "before_cursor_execute", before_execute),
        (sync_engine, "after_cursor_execute", after_execute),
        (sync_engine, "commit", before_commit),
        (SyncSession, "after_commit", after_commit),
    ]
    for target, name, listener in listeners:
        event.listen(target, name, listener)
    for name, function in patched.items():
        setattr(crypto, name, timed_crypto(function))
    try:
        wall_start, cpu_start = time.perf_counter_ns(), time.process_time_ns()
        for _ in range(count):
            await submit()
        wall, cpu = time.perf_counter_ns() - wall_start, time.process_time_ns() - cpu_start
    finally:
        for name, function in patched.items():
            setattr(crypto, name, function)
        for target, name, listener in listeners:
            event.remove(target, name, listener)
    ms = 1e6 * count
    rest = wall - acc["sql"] - acc["commit"] - acc["crypto"]
    return {
        f"SQL statements ({acc['statements'] / count:.0f}), driver round trips": acc["sql"] / ms,
        "durable commit": acc["commit"] / ms,
        "crypto (key pairs, seals, wraps, HMAC, relay seal)": acc["crypto"] / ms,
        "the rest: ORM, models, event loop, driver hand-offs": rest / ms,
        "process CPU, all threads (for comparison)": cpu / ms,
        "wall": wall / ms,
    }


# --- PostgreSQL -----------------------------------------------------------------------------------


async def postgres_database(base_url: str) -> tuple[str, str, str] | str:
    """Create a fresh database: (its URL, its name, server version), or the reason PostgreSQL is skipped."""
    import asyncpg

    try:
        admin = await asyncpg.connect(base_url, timeout=3)
    except (TimeoutError, OSError, asyncpg.PostgresError) as exc:
        # Why host and port only: the URL's netloc may carry a password.
        where = f"{urlsplit(base_url).hostname}:{urlsplit(base_url).port or 5432}"
        return f"no PostgreSQL server answers at {where} ({type(exc).__name__}: {exc})"
    name = f"candour_bench_{uuid.uuid4().hex[:12]}"
    try:
        version = await admin.fetchval("SHOW server_version")
        settings = {
            k: await admin.fetchval(f"SHOW {k}") for k in ("synchronous_commit", "fsync", "wal_sync_method")
        }
        await admin.execute(f'CREATE DATABASE "{name}"')
    finally:
        await admin.close()
    parts = urlsplit(base_url)
    url = urlunsplit((parts.scheme, parts.netloc, f"/{name}", parts.query, parts.fragment))
    described = f"{version} ({', '.join(f'{k}={v}' for k, v in settings.items())})"
    return url, name, described


async def drop_postgres_database(base_url: str, name: str) -> None:
    import asyncpg

    admin = await asyncpg.connect(base_url, timeout=3)
    try:
        await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    finally:
        await admin.close()


# --- the machine ----------------------------------------------------------------------------------


def print_machine(workdir: Path) -> None:
    import cryptography
    import sqlalchemy

    print("machine")
    print(f"  CPU        {cpu_model()}, {os.cpu_count()} logical cores")
    print(f"  OS         {platform.platform()}")
    print(f"  Python     {platform.python_version()} ({platform.python_implementation()})")
    print(
        f"  SQLite     {sqlite3.sqlite_version}; SQLAlchemy {sqlalchemy.__version__}; "
        f"cryptography {cryptography.__version__}"
    )
    print(f"  disk       {filesystem_of(workdir)}")


def print_result(result: EngineResult, args: argparse.Namespace) -> None:
    verdict = "PASS" if result.ratio >= GOAL else "FAIL"
    print(
        f"\n{result.engine}: {args.n} sequential submissions after {args.warmup} warm-up, "
        f"{result.recipients} recipients, ciphertext bytes per submission vault {result.vault_bytes} / "
        f"floor {result.floor_bytes}"
    )
    print(f"  {'':18}{'ops/s':>9}{'mean ms':>10}{'p50 ms':>9}{'p99 ms':>9}{'CPU ms':>9}")
    rows = (
        ("vault submit", result.vault),
        ("floor", result.floor),
        ("  floor crypto", result.floor_crypto),
        ("  floor commit", result.floor_commit),
    )
    for label, s in rows:
        cpu = f"{s.cpu_ms:9.3f}" if s.cpu_ms is not None else ""
        print(f"  {label:18}{s.per_second:9.1f}{s.mean_ms:10.3f}{s.p50_ms:9.3f}{s.p99_ms:9.3f}{cpu}")
    print(f"  ratio floor/vault = {result.ratio:.2f} (goal >= {GOAL}): {verdict}")


# --- main -----------------------------------------------------------------------------------------


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n", 1)[0])
    parser.add_argument("--n", type=int, default=500, help="measured submissions per engine (default 500)")
    parser.add_argument("--warmup", type=int, default=30, help="unmeasured submissions first (default 30)")
    parser.add_argument("--engines", default="sqlite,postgres", help="comma-separated: sqlite, postgres")
    parser.add_argument(
        "--officers",
        type=int,
        default=4,
        help="recipients of each report, the first admin included (default 4)",
    )
    parser.add_argument("--narrative-bytes", type=int, default=2048)
    parser.add_argument("--evidence-bytes", type=int, default=20 * 1024)
    parser.add_argument(
        "--no-contact", action="store_true", help="submit without a contact handle (the bot always gives one)"
    )
    parser.add_argument(
        "--profile",
        type=int,
        default=0,
        metavar="N",
        help="then time N more vault submissions by part (SQL, commit, crypto, the rest) "
        "and print a CPU profile of them",
    )
    parser.add_argument(
        "--tmpdir", type=Path, default=None, help="where the SQLite files go (default: the system temp dir)"
    )
    args = parser.parse_args(argv)
    engines = [e.strip() for e in args.engines.split(",") if e.strip()]
    unknown = set(engines) - {"sqlite", "postgres"}
    if unknown or not engines:
        parser.error(f"unknown engines {sorted(unknown)}: use sqlite, postgres")
    if args.n < 1 or args.warmup < 0 or args.officers < 1:
        parser.error("--n and --officers must be at least 1, --warmup at least 0")
    args.engines = engines
    return args


async def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    results: list[EngineResult] = []
    with tempfile.TemporaryDirectory(prefix="candour-bench-", dir=args.tmpdir) as tmp:
        workdir = Path(tmp)
        print_machine(workdir)
        if "sqlite" in args.engines:
            print("  SQLite run WAL, synchronous=FULL, one file for the vault and one for the floor")
            results.append(await run_engine("sqlite", None, workdir / "sqlite", args))
        if "postgres" in args.engines:
            base_url = os.environ.get("CANDOUR_BENCH_POSTGRES_URL", DEFAULT_POSTGRES_URL)
            created = await postgres_database(base_url)
            if isinstance(created, str):
                print(f"\npostgres: skipped: {created} (set CANDOUR_BENCH_POSTGRES_URL)")
            else:
                url, name, version = created
                print(f"\nPostgreSQL {version}, database {name} (dropped after)")
                try:
                    results.append(await run_engine("postgres", url, workdir / "postgres", args))
                finally:
                    await drop_postgres_database(base_url, name)
    if results:
        print(
            "\nsummary: "
            + "; ".join(
                f"{r.engine} {r.vault.per_second:.0f}/s p99 {r.vault.p99_ms:.2f} ms, ratio {r.ratio:.2f} "
                f"{'PASS' if r.ratio >= GOAL else 'FAIL'}"
                for r in results
            )
        )
    return 0 if results and all(r.ratio >= GOAL for r in results) else 1


if __name__ == "__main__":
    sys.exit(asyncio.run(main()))
