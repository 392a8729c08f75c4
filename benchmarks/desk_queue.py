"""Benchmark: server time of the desk's queue (page and API, first and deep pages) at a thousand and at a
million cases, on SQLite and PostgreSQL in one run; and the dashboard at a million.

For each engine this builds two fresh installations (`candour.app.initialise`) and bulk-inserts
metadata-only cases into them (rows of cases, case_queues and case_keys for the first officer, in
chunks; COPY on PostgreSQL: the queue reads no sealed content, so none is made): 1,000 into one and
1,000,000 into the other, then ANALYZE. Server time is the time inside the desk app: an ASGI wrapper
around `desk.app.build_app` times each request from its call to the end of its response body, in
process (httpx.ASGITransport), so no socket or client parsing is in it. After a warm-up, requests go
round the four kinds and the two installations one for one, so load on the machine falls on both alike.
The dashboard (`storage.dashboard.build`) is timed on both installations too.

Goal: at each engine and for each of the four requests, p95 at a million cases is within 1.5x of p95
at a thousand (the cost must not grow with the queue). Prints PASS or FAIL; the exit status is 1 on FAIL.

    python benchmarks/desk_queue.py [--n 200] [--engines sqlite,postgres] [--large 1000000]

PostgreSQL: CANDOUR_BENCH_POSTGRES_URL (default postgresql://postgres@127.0.0.1:5432/test) names a server
and a database to connect to; a fresh database is created for the run and dropped after. SQLite: a temp
file under --tmpdir (a real disk; the script prints the file system).
"""

from __future__ import annotations

import argparse
import asyncio
import math
import os
import platform
import random
import sqlite3
import statistics
import sys
import tempfile
import time
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import httpx
import sqlalchemy
from machine import cpu_model, filesystem_of
from sqlalchemy import insert, text
from sqlmodel import select

from candour.app import AdminSpec, desk_config, initialise, open_vault
from candour.settings import Settings
from desk.app import build_app
from storage import dashboard, desk_accounts, queue_view
from storage.models import Case, CaseKey, CaseQueue, Officer
from storage.vault import Vault

DEEP_SORT = "received-desc"
GOAL = 1.5
DEFAULT_POSTGRES_URL = "postgresql://postgres@127.0.0.1:5432/test"
PASSPHRASE = "benchmark passphrase, not a secret"
PASSWORD = "benchmark desk password"
FAST_KDF = {"argon2_memory_kib": 64, "argon2_iterations": 1, "argon2_lanes": 1}
CHUNK = 20_000
CATEGORIES = ("bullying", "harassment", "racism", "misogyny", "sexual-harassment", "corruption", "other")
UNITS = ("north-bcu", "south-bcu", "east-bcu", "west-bcu", "response", "custody")
STATUSES = ("received", "acknowledged", "investigating", "closed", "closed", "closed")
PRIORITIES = ("low", "normal", "normal", "high", "urgent")
QUEUES = ("psd-conduct", "psd-counter-corruption")
START = datetime(2021, 1, 4, 8, tzinfo=UTC)


# --- seeding --------------------------------------------------------------------------------------


def case_rows(
    first: int, count: int, officer_id: int, fingerprint: str, rng: random.Random
) -> tuple[list, ...]:
    """Rows of cases, case_queues and case_keys for cases first..first+count-1 (metadata only)."""
    cases, queues, keys = [], [], []
    wrapped = bytes(80)  # the queue never reads a wrap: only whether this officer has one
    for index in range(first, first + count):
        case_id = f"{index:08x}{uuid.uuid4().hex[:16]}"
        # About eight cases an hour, on the hour as stored, every third an hour early: many share a
        # received_at and id order is not time order, so the (received_at, id) keyset's tie-break works.
        shift = timedelta(minutes=7 * index - (60 if index % 3 == 0 else 0))
        received = (START + shift).replace(minute=0)
        status = rng.choice(STATUSES)
        flags = ["escalated", "retaliation"] if index % 97 == 0 else []
        cases.append(
            {
                "id": case_id,
                "reference": f"CN-{index:08X}",
                "status": status,
                "priority": rng.choice(PRIORITIES),
                "categories": sorted(set(rng.sample(CATEGORIES, rng.choice((1, 1, 2))))),
                "routing_facts": {"subject_units": [rng.choice(UNITS)]},
                "flags": flags,
                "received_at": received,
                "updated_at": received,
                "acknowledged_at": received + timedelta(days=2) if status != "received" else None,
                "closed_at": received + timedelta(days=40) if status == "closed" else None,
                "purged_at": None,
                "ack_due_at": received + timedelta(days=7),
                "feedback_due_at": received + timedelta(days=90),
                "policy_version": 1,
                "matched_rules": ["fallback"],
                "escalation_queue": "psd-lead",
                "retention_days": 2555,
                "checkins_stopped": False,
                "public_key": bytes(32),
                "reporter_public_key": None,
            }
        )
        queues.append(
            {"case_id": case_id, "queue_id": QUEUES[index % 2], "via": "routed", "added_at": received}
        )
        keys.append(
            {
                "case_id": case_id,
                "officer_id": officer_id,
                "recipient_fingerprint": fingerprint,
                "wrapped": wrapped,
                "reason": "routed",
                "granted_at": received,
                "granted_by": None,
            }
        )
    return cases, queues, keys


async def seed(vault: Vault, *, first: int, upto: int, officer_id: int, fingerprint: str) -> float:
    """Insert cases first..upto-1 in chunks (executemany; COPY on PostgreSQL); returns seconds taken."""
    started = time.perf_counter()
    rng = random.Random(first)
    postgres = not vault.db.engine.url.drivername.startswith("sqlite")
    tables = (Case.__table__, CaseQueue.__table__, CaseKey.__table__)  # type: ignore[attr-defined]
    for start in range(first, upto, CHUNK):
        batches = case_rows(start, min(CHUNK, upto - start), officer_id, fingerprint, rng)
        async with vault.db.engine.begin() as connection:
            for table, rows in zip(tables, batches, strict=True):
                if postgres:
                    await _copy(connection, table, rows)
                else:
                    await connection.execute(insert(table), rows)
        done = min(upto, start + CHUNK)
        if done // 100_000 != (done - CHUNK) // 100_000 or done == upto:
            print(f"    seeded {done:>9,} cases  ({time.perf_counter() - started:6.1f} s)", flush=True)
    async with vault.db.engine.begin() as connection:
        # What autovacuum (PostgreSQL) or the operator's `PRAGMA optimize` (SQLite) would have done by now.
        await connection.execute(text("ANALYZE"))
    return time.perf_counter() - started


async def _copy(connection: Any, table: sqlalchemy.Table, rows: list[dict[str, Any]]) -> None:
    """COPY rows into a table through asyncpg (JSON columns as text)."""
    import json

    raw = await connection.get_raw_connection()
    driver = raw.driver_connection
    columns = [c.name for c in table.columns if c.name != "id" or table.name != "case_keys"]
    json_columns = {c.name for c in table.columns if isinstance(c.type, sqlalchemy.JSON)}
    records = [tuple(json.dumps(row[c]) if c in json_columns else row[c] for c in columns) for row in rows]
    await driver.copy_records_to_table(table.name, records=records, columns=columns)


# --- measuring ------------------------------------------------------------------------------------


class ServerTimer:
    """An ASGI wrapper that times each request inside the app, to the end of its response body."""

    def __init__(self, app: Any) -> None:
        self.app = app
        self.last_ns = 0

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        start = time.perf_counter_ns()
        await self.app(scope, receive, send)
        self.last_ns = time.perf_counter_ns() - start


@dataclass(frozen=True)
class Stats:
    p50_ms: float
    p95_ms: float
    rows: int


def percentile(ordered: list[int], q: float) -> float:
    return ordered[max(0, math.ceil(q * len(ordered)) - 1)] / 1e6


async def measure(
    installs: dict[str, tuple[Vault, Settings]], *, n: int, warmup: int, deep_fraction: float
) -> dict[str, dict[str, Stats]]:
    """p50/p95 server time of the queue page and API, first page and a page deep in the queue, for each
    installation; requests go round the installations one for one, so a change in the machine's load
    during the run falls on all alike."""
    clients, paths, timers = {}, {}, {}
    samples: dict[str, dict[str, list[int]]] = {}
    rows: dict[str, dict[str, int]] = {}
    try:
        for label, (vault, settings) in installs.items():
            timers[label] = ServerTimer(build_app(vault, desk_config(settings)))
            http = httpx.AsyncClient(
                # A host the desk answers (it refuses others), over https for its Secure cookies.
                transport=httpx.ASGITransport(app=timers[label]),
                base_url="https://localhost",
            )
            clients[label] = http
            csrf = (await http.get("/api/session/csrf")).json()["csrf_token"]
            signed = await http.post(
                "/api/session", json={"login": "admin", "password": PASSWORD}, headers={"X-CSRF-Token": csrf}
            )
            assert signed.status_code == 200, signed.text
            deep = await deep_cursor(vault, deep_fraction)
            paths[label] = {
                "page, first": "/queue",
                "page, deep": f"/queue?sort={DEEP_SORT}&cursor={deep}",
                "API, first": "/api/cases",
                "API, deep": f"/api/cases?sort={DEEP_SORT}&cursor={deep}",
            }
            samples[label] = {name: [] for name in paths[label]}
            rows[label] = {}
        for round_ in range(warmup + n):
            for name in ("page, first", "page, deep", "API, first", "API, deep"):
                for label, http in clients.items():
                    response = await http.get(paths[label][name])
                    assert response.status_code == 200, (name, response.status_code, response.text[:300])
                    if round_ >= warmup:
                        samples[label][name].append(timers[label].last_ns)
                    if name.startswith("API"):
                        rows[label][name] = len(response.json()["cases"])
                    else:
                        rows[label][name] = response.text.count('<tr class="priority-')
    finally:
        for http in clients.values():
            await http.aclose()
    return {
        label: {
            name: Stats(percentile(sorted(s), 0.50), percentile(sorted(s), 0.95), rows[label][name])
            for name, s in by_name.items()
        }
        for label, by_name in samples.items()
    }


async def deep_cursor(vault: Vault, fraction: float) -> str:
    """The cursor of the page that starts `fraction` of the way down the queue (newest first)."""
    async with vault.db.reading() as session:
        total = (await session.exec(sqlalchemy.select(sqlalchemy.func.count()).select_from(Case))).one()[0]  # type: ignore[call-overload]
        offset = int(total * fraction)
        # Why OFFSET here: finding where a deep page starts is set-up, not what is measured.
        received, case_id = (
            await session.exec(
                sqlalchemy.select(Case.received_at, Case.id)  # type: ignore[call-overload]
                .order_by(Case.received_at.desc(), Case.id.desc())  # type: ignore[attr-defined]
                .offset(offset)
                .limit(1)
            )
        ).one()
    # Why newest-first here: a deep page is a walk by time; the default order (urgent and overdue first)
    # puts a few cases ahead, then runs by time too, so the first page measures it.
    return queue_view.cursor_for(DEEP_SORT, received, case_id)


async def time_dashboard(vault: Vault, repeats: int = 5) -> float:
    """Median wall seconds of one dashboard build."""
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        await dashboard.build(vault)
        times.append(time.perf_counter() - start)
    return statistics.median(times)


# --- one engine -----------------------------------------------------------------------------------


@dataclass
class EngineResult:
    engine: str
    small: dict[str, Stats]
    large: dict[str, Stats]
    seed_seconds: float
    dashboard_small: float
    dashboard_large: float

    def ratio(self, name: str) -> float:
        return self.large[name].p95_ms / self.small[name].p95_ms

    @property
    def passed(self) -> bool:
        return all(self.ratio(name) <= GOAL for name in self.small)


async def install(database_url: str | None, workdir: Path) -> tuple[Vault, Settings, Officer]:
    """A fresh installation with a desk password for its first officer."""
    values: dict[str, Any] = {"data_dir": workdir / "data", "desk_require_totp": False, **FAST_KDF}
    if database_url:
        values["database_url"] = database_url
    settings = Settings(_env_file=None, **values)  # type: ignore[call-arg]
    admin = AdminSpec(
        login="admin", display_name="Admin", passphrase=PASSPHRASE, unit_id="professional-standards"
    )
    await initialise(settings, admin=admin)
    vault = await open_vault(settings)
    await desk_accounts.set_password(vault, login="admin", password=PASSWORD)
    async with vault.db.reading() as session:
        officer = (await session.exec(select(Officer).where(Officer.login == "admin"))).one()
    return vault, settings, officer


async def run_engine(
    engine: str, urls: tuple[str | None, str | None], workdir: Path, args: argparse.Namespace
) -> EngineResult:
    """Seed one installation with --small cases and one with --large, and measure them side by side."""
    installs: dict[str, tuple[Vault, Settings]] = {}
    seconds = 0.0
    try:
        for label, url, size in (("small", urls[0], args.small), ("large", urls[1], args.large)):
            vault, settings, officer = await install(url, workdir / label)
            installs[label] = (vault, settings)
            assert officer.id is not None
            print(f"  {engine}: seeding {size:,} cases", flush=True)
            took = await seed(
                vault, first=0, upto=size, officer_id=officer.id, fingerprint=officer.key_fingerprint
            )
            if label == "large":
                seconds = took
        measured = await measure(installs, n=args.n, warmup=args.warmup, deep_fraction=0.9)
        dashboard_small = await time_dashboard(installs["small"][0])
        dashboard_large = await time_dashboard(installs["large"][0])
    finally:
        for vault, _settings in installs.values():
            await vault.db.dispose()
    return EngineResult(
        engine, measured["small"], measured["large"], seconds, dashboard_small, dashboard_large
    )


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
        memory = {k: await admin.fetchval(f"SHOW {k}") for k in ("shared_buffers", "work_mem")}
        await admin.execute(f'CREATE DATABASE "{name}"')
    finally:
        await admin.close()
    parts = urlsplit(base_url)
    url = urlunsplit((parts.scheme, parts.netloc, f"/{name}", parts.query, parts.fragment))
    return url, name, f"{version} ({', '.join(f'{k}={v}' for k, v in memory.items())})"


async def drop_postgres_database(base_url: str, name: str) -> None:
    import asyncpg

    admin = await asyncpg.connect(base_url, timeout=3)
    try:
        await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    finally:
        await admin.close()


# --- report ---------------------------------------------------------------------------------------


def print_result(result: EngineResult, args: argparse.Namespace) -> None:
    print(f"\n{result.engine}: server time in ms (p50 / p95), {args.n} requests each, rows on the page")
    print(f"  {'request':14}{args.small:>12,} cases{args.large:>16,} cases{'p95 ratio':>12}")
    for name in result.small:
        s, big = result.small[name], result.large[name]
        verdict = "ok" if result.ratio(name) <= GOAL else "TOO SLOW"
        print(
            f"  {name:14}{s.p50_ms:7.2f} / {s.p95_ms:6.2f}   {big.p50_ms:7.2f} / {big.p95_ms:6.2f}"
            f"   {result.ratio(name):8.2f}x  {verdict}  ({big.rows} rows)"
        )
    print(
        f"  seeding {args.large:,} cases: {result.seed_seconds:.0f} s;  dashboard: "
        f"{result.dashboard_small * 1000:.0f} ms at {args.small:,}, "
        f"{result.dashboard_large * 1000:.0f} ms at {args.large:,}"
    )


def print_machine(tmpdir: Path, postgres: str | None) -> None:
    print(f"machine: {cpu_model()}, {os.cpu_count()} cores; {platform.system()} {platform.release()}")
    print(
        f"python {platform.python_version()}, SQLite {sqlite3.sqlite_version}, SQLAlchemy {sqlalchemy.__version__}"
    )
    print(f"SQLite file on {filesystem_of(tmpdir)}")
    if postgres:
        print(f"PostgreSQL {postgres}")


async def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--n", type=int, default=200, help="measured requests of each kind per size")
    parser.add_argument("--warmup", type=int, default=20)
    parser.add_argument("--small", type=int, default=1_000)
    parser.add_argument("--large", type=int, default=1_000_000)
    parser.add_argument("--engines", default="sqlite,postgres")
    parser.add_argument("--tmpdir", type=Path, default=None, help="where the SQLite file goes (a real disk)")
    args = parser.parse_args()
    engines = [e.strip() for e in args.engines.split(",") if e.strip()]
    base = os.environ.get("CANDOUR_BENCH_POSTGRES_URL", DEFAULT_POSTGRES_URL)
    results: list[EngineResult] = []
    described: str | None = None
    with tempfile.TemporaryDirectory(prefix="candour-desk-bench-", dir=args.tmpdir) as tmp:
        workdir = Path(tmp)
        for engine in engines:
            if engine == "sqlite":
                results.append(await run_engine("sqlite", (None, None), workdir / "sqlite", args))
            elif engine == "postgres":
                made = [await postgres_database(base), await postgres_database(base)]
                failed = [m for m in made if isinstance(m, str)]
                try:
                    if failed:
                        print(f"  postgres skipped: {failed[0]}")
                        continue
                    described = made[0][2]  # type: ignore[index]
                    urls = (made[0][0], made[1][0])  # type: ignore[index]
                    results.append(await run_engine("postgres", urls, workdir / "pg", args))
                finally:
                    for m in made:
                        if not isinstance(m, str):
                            await drop_postgres_database(base, m[1])
            else:
                print(f"unknown engine {engine!r}")
                return 1
        print()
        print_machine(workdir, described)
    for result in results:
        print_result(result, args)
    passed = bool(results) and all(r.passed for r in results)
    print(
        f"\n{'PASS' if passed else 'FAIL'}: p95 at {args.large:,} cases within {GOAL}x of p95 at {args.small:,}"
        f" for every request on {', '.join(r.engine for r in results) or 'no engine'}"
    )
    return 0 if passed else 1


if __name__ == "__main__":
    sys.exit(asyncio.run(main()))
