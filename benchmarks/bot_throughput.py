"""Benchmark: simulated reporters completing full reports through the real bot, against an echo floor.

Three processes, so that none of them bills its work to another:

- the Telegram Bot API emulator, `python -m bot.emulator` (its own process, started by this script);
- this process: the bot under test, polling the emulator over HTTP. Either the real Application
  (`bot.application.build_application`, with `start_services`) on a fresh SQLite installation
  (`candour.app.initialise`, low Argon2 costs, three more officers in psd-conduct), its AIORateLimiter's
  flood limits lifted unless `--rate-limiter as-built` (they hold it to 30 requests a second), or, as the floor,
  a bare python-telegram-bot Application that answers every update with one sendMessage (and answers
  the callback query);
- the reporters: a child process running this script with `--drive`, acting as N users through the
  emulator's control API (`/_emulator/...`, httpx). Why a separate process: run in this one, their HTTP
  client would share the bot's event loop and CPU, so their cost would be billed to the bot (more so to
  the cheap floor, which would flatter the ratio), and their clocks would stop whenever the bot's loop
  stalls.

Each reporter runs a closed loop: it acts (types, taps, sends a file), waits for the bot's first
reaction, then acts again, for a whole report: /start, Make a report, a category, Done, two narrative
messages, Done, when, where, Skip (people), Skip (witnesses), Done (evidence), No, No, Yes, Submit; 16
updates, 17 with `--evidence`. Against the floor the same reporters send the same 16 (17) updates of the
same kinds. Printed per phase: updates per second, p50/p99 latency of the bot's first reaction, per-step
latency, CPU seconds of each process, Bot API calls per update; for the bot also the database work per
update and the cases counted in the vault. The goal (at 200 reporters on SQLite): bot/floor updates per
second >= 0.5 and bot/floor p99 latency <= 2. `--profile N` then runs the bot once more with N reporters
under cProfile (this process's main thread, on its CPU clock) and prints where the time goes.

    python benchmarks/bot_throughput.py [--reporters 200] [--pool 8] [--evidence] [--profile 50]
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import contextlib
import cProfile
import functools
import importlib.util
import io
import json
import logging
import math
import os
import platform
import pstats
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import textwrap
import time
import types
from collections import defaultdict
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from machine import cpu_model, filesystem_of

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:  # run as a script from anywhere: the project's packages are importable
    sys.path.insert(0, str(ROOT))

TOKEN = "123456:BENCHMARK"
THROUGHPUT_GOAL = 0.5  # bot updates/s over the floor's, at least
P99_GOAL = 2.0  # bot p99 latency over the floor's, at most
PASSPHRASE = "benchmark passphrase, not a secret"
FAST_KDF = {"argon2_memory_kib": 64, "argon2_iterations": 1, "argon2_lanes": 1}
QUEUE = "psd-conduct"  # where the starter policy routes a bullying report with nobody named
OFFICER_UNIT = "professional-standards"
LONG_POLL = 25.0  # seconds one GET /_emulator/chats/{id}/messages may wait (the emulator allows 60)
STEP_TIMEOUT = 120.0  # a reporter gives up (and the run is invalid) if the bot does not react in this time
WARMUP_BASE = 5_000_000_000  # user ids: warm-up reporters, then the measured ones
REPORTER_BASE = 6_000_000_000

LATENCY_DEFINITION = (
    "latency of an update = from just before the reporters' process sends the action (POST "
    "/_emulator/users/{id}/text | press | document) until it has received the emulator's answer showing "
    "the bot's first reaction to it: for a text, a new bot message in the chat (long poll GET "
    "/_emulator/chats/{id}/messages?since=N&wait=25 returns once the bot has sent more than N messages); "
    "for a button, a new bot message or a change to the pressed message (the bot turns an answered "
    "question into the next one, or ticks a category), by long polls with changed_after=R, which return "
    "once the bot has changed the chat in any way. For Submit the first reaction "
    "is 'Submitting, please wait.'; submit-to-receipt (sealing in the vault included) is shown apart. "
    "Throughput = updates / (first action to last reporter done)."
)


# --- the reporter's script ------------------------------------------------------------------------


@dataclass(frozen=True)
class Step:
    """One update a reporter sends, and what the bot's first reaction to it is."""

    label: str
    kind: str  # "text", "press" or "document"
    text: str = ""
    action: str = ""  # for "press": the button's callback data is <token>|<action>|<arg>
    arg: str = ""
    receipt: bool = False  # after the first reaction, wait for the receipt code too


NARRATIVE = (
    "In every briefing on the late shift my sergeant makes jokes about my accent and asks me to repeat "
    "myself so that the others laugh; it has happened most weeks since March.",
    "Two constables on the same team have seen it. I raised it informally once and it stopped for a "
    "fortnight, then started again, and now I dread the briefings.",
)
EVIDENCE_FILE = (
    b"Rota notes: late shifts 3 Nov, 9 Nov, 16 Nov; briefing room 2.\n",
    "notes.txt",
    "text/plain",
)


def report_script(evidence: bool) -> list[Step]:
    """A full report as a reporter makes it; the bot's buttons are found by their callback data."""
    steps = [
        Step("/start", "text", text="/start"),
        Step("Make a report", "press", action="go", arg="report"),
        Step("category", "press", action="cat", arg="bullying"),
        Step("Done (categories)", "press", action="catdone"),
        Step("narrative 1", "text", text=NARRATIVE[0]),
        Step("narrative 2", "text", text=NARRATIVE[1]),
        Step("Done (narrative)", "press", action="done"),
        Step("when", "press", action="when", arg="month"),
        Step("where", "press", action="unit", arg="north-bcu"),
        Step("Skip (people)", "press", action="skip"),
        Step("Skip (witnesses)", "press", action="skip"),
    ]
    if evidence:
        steps.append(Step("document", "document"))
    steps += [
        Step("Done (evidence)", "press", action="done"),
        Step("No (risk)", "press", action="yn", arg="no"),
        Step("No (reported before)", "press", action="yn", arg="no"),
        Step("Yes (check-ins)", "press", action="yn", arg="yes"),
        Step("Submit", "press", action="submit", receipt=True),
    ]
    return steps


# --- the reporters (the child process) ------------------------------------------------------------


class StepFailed(Exception):
    """A reporter could not go on: the expected button or reaction did not come."""


def _bot_count(chat: list[dict[str, Any]]) -> int:
    """Messages the bot has sent to the chat, deleted ones included (what the long poll's `since` counts)."""
    return sum(1 for m in chat if m["from_bot"])


def _buttons(message: dict[str, Any]) -> list[str]:
    markup = message.get("reply_markup") or {}
    return [b.get("callback_data", "") for row in markup.get("inline_keyboard", []) for b in row]


def _transcript(chat: list[dict[str, Any]]) -> str:
    lines = []
    for m in chat[-12:]:
        who = "bot " if m["from_bot"] else "user"
        body = (m.get("text") or m.get("caption") or ("[document]" if "document" in m else ""))[:70]
        flag = " (deleted)" if m["deleted"] else ""
        lines.append(f"    #{m['message_id']} {who}{flag}: {body!r} {_buttons(m)}")
    return "\n".join(lines)


@dataclass
class Reporter:
    """One simulated reporter: a Telegram user driven through the emulator's control API."""

    client: Any  # httpx.AsyncClient on /_emulator
    user_id: int
    mode: str  # "bot" or "echo"
    chat: list[dict[str, Any]] = field(default_factory=list)
    latencies: list[tuple[int, int]] = field(default_factory=list)  # (step index, ns)
    receipts: list[int] = field(default_factory=list)  # submit to receipt, ns
    requests: int = 0
    revision: int = 0  # the emulator's count of the bot's changes to this chat, as last seen
    end_ns: int = 0

    async def _call(self, method: str, path: str, **kwargs: Any) -> Any:
        self.requests += 1
        response = await self.client.request(method, path, **kwargs)
        body = response.json()
        if not body.get("ok"):
            raise StepFailed(f"{method} {path}: {body.get('description')}")
        return body["result"]

    async def create(self) -> None:
        await self._call("POST", "/users", json={"user_id": self.user_id, "first_name": "Reporter"})

    def _press_target(self, step: Step) -> tuple[int, str]:
        """The newest live bot message carrying the step's button (any button, against the echo floor)."""
        for message in reversed(self.chat):
            if not message["from_bot"] or message["deleted"]:
                continue
            for data in _buttons(message):
                parts = data.split("|")
                if self.mode == "echo" or (len(parts) == 3 and parts[1:] == [step.action, step.arg]):
                    return message["message_id"], data
        raise StepFailed(f"no button {step.action}|{step.arg} for step {step.label!r}")

    async def _act(self, step: Step) -> int | None:
        """Send the step's update; returns the pressed message's id for a button."""
        base = f"/users/{self.user_id}"
        if step.kind == "text":
            await self._call("POST", f"{base}/text", json={"text": step.text})
        elif step.kind == "document":
            data, filename, mime_type = EVIDENCE_FILE
            payload = {"data": base64.b64encode(data).decode(), "filename": filename, "mime_type": mime_type}
            await self._call("POST", f"{base}/document", json=payload)
        else:
            message_id, data = self._press_target(step)
            await self._call("POST", f"{base}/press", json={"message_id": message_id, "callback_data": data})
            return message_id
        return None

    async def _fetch(self, since: int, wait: float) -> list[dict[str, Any]]:
        return await self._call(
            "GET", f"/chats/{self.user_id}/messages", params={"since": since, "wait": wait}
        )

    async def _wait_new(self, since: int, deadline: float) -> None:
        """Long-poll until the bot has sent more than `since` messages to this chat."""
        while True:
            remaining = deadline - time.perf_counter()
            if remaining <= 0:
                raise StepFailed("no reply in time")
            self.chat = await self._fetch(since, min(LONG_POLL, remaining))
            if _bot_count(self.chat) > since:
                return

    async def _wait_reaction(self, message_id: int, since: int, deadline: float) -> None:
        """Long-poll until the pressed message changes (the bot turned it into the next question, or ticked
        a category) or a new bot message comes. The emulator wakes the poll on any change the bot makes to
        the chat; a change that is neither (a trailing edit of an older message) just polls again."""
        before = next((m for m in self.chat if m["message_id"] == message_id), {})
        snapshot = (before.get("text"), before.get("reply_markup"))
        while True:
            remaining = deadline - time.perf_counter()
            if remaining <= 0:
                raise StepFailed("no reaction in time")
            self.requests += 1
            response = await self.client.get(
                f"/chats/{self.user_id}/messages",
                params={"changed_after": self.revision, "wait": min(LONG_POLL, remaining)},
            )
            body = response.json()
            if not body.get("ok"):
                raise StepFailed(f"GET messages: {body.get('description')}")
            self.chat, self.revision = body["result"], int(response.headers["X-Chat-Revision"])
            after = next((m for m in self.chat if m["message_id"] == message_id), {})
            if (after.get("text"), after.get("reply_markup")) != snapshot or _bot_count(self.chat) > since:
                return

    def _has_receipt(self) -> bool:
        return any(
            m["from_bot"] and not m["deleted"] and any(d.startswith("x|saved|") for d in _buttons(m))
            for m in self.chat
        )

    async def run(self, script: list[Step]) -> None:
        for index, step in enumerate(script):
            since = _bot_count(self.chat)
            start = time.perf_counter()
            deadline = start + STEP_TIMEOUT
            try:
                pressed = await self._act(step)
                if pressed is not None:
                    await self._wait_reaction(pressed, since, deadline)
                else:
                    await self._wait_new(since, deadline)
                self.latencies.append((index, int((time.perf_counter() - start) * 1e9)))
                if step.receipt and self.mode == "bot":
                    while not self._has_receipt():
                        await self._wait_new(_bot_count(self.chat), deadline)
                    self.receipts.append(int((time.perf_counter() - start) * 1e9))
            except StepFailed as exc:
                raise StepFailed(
                    f"reporter {self.user_id}, step {index} {step.label!r}: {exc}; chat:\n{_transcript(self.chat)}"
                ) from None
        self.end_ns = time.perf_counter_ns()


def _emit(event: dict[str, Any]) -> None:
    sys.stdout.write(json.dumps(event) + "\n")
    sys.stdout.flush()


async def drive(args: argparse.Namespace) -> int:
    """The reporters' process: warm up, then run the measured wave; events go to stdout as JSON lines."""
    if importlib.util.find_spec("sniffio") is None:
        # Why: httpcore tries `import sniffio` for every lock it makes; when it is not installed each try
        # walks sys.path (~30 us, several per request), which helped make the reporters the bottleneck.
        # This process only: the bot's process runs with whatever the environment has.
        sys.modules["sniffio"] = types.SimpleNamespace(current_async_library=lambda: "asyncio")  # type: ignore[assignment]
    import httpx

    script = report_script(args.evidence)

    def client() -> httpx.AsyncClient:
        # One client (and one keep-alive connection) per reporter: httpcore's pool scans all its
        # connections on every request, which is quadratic work with one shared pool for hundreds.
        return httpx.AsyncClient(
            base_url=f"{args.drive}/_emulator",
            limits=httpx.Limits(max_connections=2, max_keepalive_connections=2, keepalive_expiry=120),
            timeout=httpx.Timeout(LONG_POLL + 30),
            verify=False,  # plain HTTP on localhost; a verifying TLS context costs ~20 ms per client to build
        )

    warm = [Reporter(client(), WARMUP_BASE + i, args.mode) for i in range(args.warmup)]
    reporters = [Reporter(client(), REPORTER_BASE + i, args.mode) for i in range(args.reporters)]
    try:
        await asyncio.gather(*(r.create() for r in warm))
        await asyncio.gather(*(r.run(script) for r in warm))
        # Created all at once, so that the wave finds one open keep-alive connection per reporter.
        await asyncio.gather(*(r.create() for r in reporters))
        _emit({"event": "start"})
        cpu_start, wall_start = time.process_time(), time.perf_counter_ns()
        outcomes = await asyncio.gather(*(r.run(script) for r in reporters), return_exceptions=True)
        cpu = time.process_time() - cpu_start
    finally:
        await asyncio.gather(*(r.client.aclose() for r in warm + reporters))
    failures = [str(o) for o in outcomes if isinstance(o, BaseException)]
    end = max((r.end_ns for r in reporters), default=wall_start) if not failures else time.perf_counter_ns()
    _emit(
        {
            "event": "done",
            "elapsed_ns": end - wall_start,
            "cpu_s": cpu,
            "latencies": [pair for r in reporters for pair in r.latencies],
            "receipts": [ns for r in reporters for ns in r.receipts],
            "requests": sum(r.requests for r in reporters),
            "failures": failures[:3],
            "failed": len(failures),
        }
    )
    return 0


# --- the emulator's process -----------------------------------------------------------------------


@dataclass
class EmulatorProcess:
    """`python -m bot.emulator` on a free port, in its own process."""

    process: asyncio.subprocess.Process
    root: str

    @classmethod
    async def start(cls) -> EmulatorProcess:
        process = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "bot.emulator",
            "--port",
            "0",
            "--token",
            TOKEN,
            cwd=ROOT,
            stdout=asyncio.subprocess.PIPE,
            env={**os.environ, "PYTHONPATH": str(ROOT)},
        )
        assert process.stdout is not None
        root = ""
        while not root:
            line = (await asyncio.wait_for(process.stdout.readline(), 30)).decode()
            if not line:
                raise SystemExit("the emulator exited while starting")
            if line.startswith("Bot API base URL:"):
                root = line.split(":", 1)[1].strip().removesuffix("/bot")
        return cls(process=process, root=root)

    def cpu_seconds(self) -> float:
        return process_cpu_seconds(self.process.pid)

    async def stop(self) -> None:
        if self.process.returncode is None:
            self.process.terminate()
            try:
                await asyncio.wait_for(self.process.wait(), 10)
            except TimeoutError:
                self.process.kill()
                await self.process.wait()


def machine_cpu() -> list[int]:
    """Machine-wide CPU time counters (/proc/stat, clock ticks): user nice system idle iowait irq softirq steal."""
    try:
        return [int(v) for v in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:9]]
    except (OSError, ValueError):
        return []


def machine_shares(before: list[int], after: list[int]) -> dict[str, float]:
    """Shares of all cores' time between two machine_cpu() readings: busy, iowait, steal (a VM's lost time)."""
    if len(before) < 8 or len(after) < 8:
        return {}
    delta = [b - a for a, b in zip(before, after, strict=True)]
    total = sum(delta) or 1
    return {
        "busy": (total - delta[3] - delta[4] - delta[7]) / total,
        "iowait": delta[4] / total,
        "steal": delta[7] / total,
    }


def process_cpu_seconds(pid: int) -> float:
    """User + system CPU of a process (Linux /proc), all its threads."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return math.nan
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


# --- the applications under test ------------------------------------------------------------------


def echo_application(api_url: str, pool: int) -> Any:
    """The floor: a bare Application; every update gets one sendMessage (with a button to press next),
    and a button press also gets its callback query answered, after the message, as the bot does."""
    from telegram import InlineKeyboardButton, InlineKeyboardMarkup, Update
    from telegram.ext import ApplicationBuilder, CallbackQueryHandler, ContextTypes, MessageHandler, filters
    from telegram.request import HTTPXRequest

    application = (
        ApplicationBuilder()
        .token(TOKEN)
        .base_url(f"{api_url}/bot")
        .base_file_url(f"{api_url}/file/bot")
        .concurrent_updates(256)
        .request(HTTPXRequest(connection_pool_size=pool))
        .get_updates_request(HTTPXRequest(connection_pool_size=2, read_timeout=30))
        .build()
    )
    markup = InlineKeyboardMarkup([[InlineKeyboardButton("Next", callback_data="echo|next|")]])

    async def on_message(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        assert update.effective_chat is not None
        await context.bot.send_message(update.effective_chat.id, "Received.", reply_markup=markup)

    async def on_button(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        assert update.effective_chat is not None and update.callback_query is not None
        await context.bot.send_message(update.effective_chat.id, "Received.", reply_markup=markup)
        await update.callback_query.answer()

    application.add_handler(MessageHandler(filters.ALL, on_message))
    application.add_handler(CallbackQueryHandler(on_button))
    return application


def bot_application(api_url: str, vault: Any, pool: int, rate_limiter: str) -> Any:
    """The real Application, as `candour run` builds it."""
    from telegram.ext import AIORateLimiter

    from bot.application import build_application
    from bot.catalogue import Catalogue

    application = build_application(
        token=TOKEN, vault=vault, catalogue=Catalogue(), api_url=api_url, connection_pool_size=pool
    )
    if rate_limiter == "lifted":
        # Why: as built, AIORateLimiter holds every request that names a chat to Telegram's 30 per second
        # overall, which would be all this measured. Its code path stays; only the limits go, as the
        # emulator applies none and the floor has none. `--rate-limiter as-built` keeps them.
        application.bot._rate_limiter = AIORateLimiter(overall_max_rate=0, group_max_rate=0, max_retries=3)
    return application


# --- instruments in the bot's process -------------------------------------------------------------


class Instruments:
    """Wall time of Bot API calls by method, of the bot's per-update vault work, and of its SQL.

    Installed once for the run (both phases pay the same few microseconds per call). Times overlap
    between concurrent updates: they say how long each call took, event-loop queueing included.
    """

    def __init__(self) -> None:
        self.samples: defaultdict[str, list[int]] = defaultdict(list)
        self._marks: dict[int, int] = {}
        self.log = LogCounter()

    def reset(self) -> None:
        self.samples.clear()
        self._marks.clear()
        self.log.counts.clear()

    def _timed(self, name: Callable[..., str] | str, function: Callable[..., Awaitable[Any]]) -> Any:
        @functools.wraps(function)
        async def wrapper(*args: Any, **kwargs: Any) -> Any:
            start = time.perf_counter_ns()
            try:
                return await function(*args, **kwargs)
            finally:
                key = name(*args, **kwargs) if callable(name) else name
                self.samples[key].append(time.perf_counter_ns() - start)

        return wrapper

    def install_http(self) -> None:
        from telegram.request import HTTPXRequest

        def method_of(_self: Any, url: str = "", *_args: Any, **kwargs: Any) -> str:
            url = url or kwargs.get("url", "")
            return "api (file download)" if "/file/bot" in url else "api " + url.rsplit("/", 1)[-1]

        HTTPXRequest.do_request = self._timed(method_of, HTTPXRequest.do_request)  # type: ignore[method-assign]

    def install_vault(self, vault: Any) -> None:
        from bot import state
        from bot.turn import Turn
        from storage import cases

        state.load_with_policy = self._timed(  # type: ignore[assignment]
            "vault: draft and policy (one read transaction, open, JSON)", state.load_with_policy
        )
        state.save = self._timed("vault: draft save (seal, upsert, commit)", state.save)  # type: ignore[assignment]
        cases.submit = self._timed("vault: cases.submit (whole report)", cases.submit)  # type: ignore[assignment]
        Turn.wipe = self._timed("bot: wipe after submit", Turn.wipe)  # type: ignore[method-assign]
        # Units of work run in worker threads on the synchronous engine (Database.run); the rest on the
        # async one.
        self._install_engine(vault.db.sync_engine, "")
        self._install_engine(vault.db.engine.sync_engine, " (async engine)")

    def _install_engine(self, engine: Any, suffix: str) -> None:
        from sqlalchemy import event

        held_since: dict[int, int] = {}  # pooled connection -> when its BEGIN IMMEDIATE returned

        def before(_conn: Any, cursor: Any, *_args: Any) -> None:
            self._marks[id(cursor)] = time.perf_counter_ns()

        def after(conn: Any, cursor: Any, statement: str, *_args: Any) -> None:
            start = self._marks.pop(id(cursor), None)
            if start is None:
                return
            now = time.perf_counter_ns()
            verb = statement.lstrip().split(None, 1)[0].upper()
            if statement.strip().upper() == "BEGIN IMMEDIATE":
                held_since[id(conn.connection)] = now
                verb = "BEGIN IMMEDIATE (waits for the write lock)"
            self.samples[f"sql: {verb}{suffix}"].append(now - start)

        event.listen(engine, "before_cursor_execute", before)
        event.listen(engine, "after_cursor_execute", after)
        commit, rollback = engine.dialect.do_commit, engine.dialect.do_rollback

        def ended(connection: Any, label: str, call: Callable[[Any], None]) -> None:
            start = time.perf_counter_ns()
            try:
                call(connection)
            finally:
                now = time.perf_counter_ns()
                self.samples[label].append(now - start)
                began = held_since.pop(id(connection), None)
                if began is not None:
                    self.samples["sqlite write lock held (BEGIN IMMEDIATE to COMMIT)"].append(now - began)

        engine.dialect.do_commit = lambda c: ended(c, f"sql: COMMIT{suffix}", commit)
        engine.dialect.do_rollback = lambda c: ended(c, f"sql: ROLLBACK{suffix}", rollback)
        pool = engine.pool
        checkout = pool._do_get
        size = (
            f"{pool.size()} + {pool._max_overflow} overflow" if hasattr(pool, "_max_overflow") else "no limit"
        )
        label = f"pool: connection checkout ({size}){suffix}"

        def timed_checkout() -> Any:
            start = time.perf_counter_ns()
            try:
                return checkout()
            finally:
                self.samples[label].append(time.perf_counter_ns() - start)

        pool._do_get = timed_checkout


class LogCounter(logging.Handler):
    """Counts the records of WARNING and above by logger and message template (the bot logs no users)."""

    def __init__(self) -> None:
        super().__init__(logging.WARNING)
        self.counts: defaultdict[str, int] = defaultdict(int)

    def emit(self, record: logging.LogRecord) -> None:
        self.counts[f"{record.levelname} {record.name}: {str(record.msg)[:70]}"] += 1


# --- one phase: emulator, application, reporters --------------------------------------------------


@dataclass
class Phase:
    name: str
    reporters: int
    updates: int
    elapsed_s: float
    latencies_ms: list[float]
    per_step_ms: dict[int, list[float]]
    receipts_ms: list[float]
    cpu: dict[str, float]
    instruments: dict[str, list[int]]
    log: dict[str, int]
    requests: int
    machine: dict[str, float]
    cases: int | None = None  # cases sealed during the phase, the warm-up reporters' included
    warmup: int = 0

    @property
    def expected_cases(self) -> int:
        return self.reporters + self.warmup

    @property
    def per_second(self) -> float:
        return self.updates / self.elapsed_s


def rank(values: list[float], q: float) -> float:
    """Nearest-rank percentile."""
    ordered = sorted(values)
    return ordered[max(0, math.ceil(q * len(ordered)) - 1)] if ordered else math.nan


async def run_reporters(
    api_url: str, mode: str, args: argparse.Namespace, reporters: int, on_start: Callable[[], None]
) -> dict[str, Any]:
    """The reporters' child process; `on_start` is called when its measured wave begins."""
    command = [
        sys.executable,
        str(Path(__file__).resolve()),
        "--drive",
        api_url,
        "--mode",
        mode,
        "--reporters",
        str(reporters),
        "--warmup",
        str(args.warmup),
    ]
    if args.evidence:
        command.append("--evidence")
    child = await asyncio.create_subprocess_exec(
        *command,
        stdout=asyncio.subprocess.PIPE,
        limit=64 * 1024 * 1024,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
    )
    assert child.stdout is not None
    result: dict[str, Any] | None = None
    try:
        while line := await child.stdout.readline():
            event_ = json.loads(line)
            if event_["event"] == "start":
                on_start()
            elif event_["event"] == "done":
                result = event_
    except BaseException:
        with contextlib.suppress(ProcessLookupError):
            child.kill()  # this run failed or was interrupted: do not leave the reporters behind
        raise
    if await child.wait() != 0 or result is None:
        raise SystemExit(f"{mode}: the reporters' process failed (exit status {child.returncode})")
    return result


async def count_cases(vault: Any) -> int:
    from sqlalchemy import func, select

    from storage.models import Case

    async with vault.db.transaction() as session:
        return int((await session.exec(select(func.count()).select_from(Case))).one()[0])  # type: ignore[call-overload]


async def run_phase(
    name: str,
    args: argparse.Namespace,
    vault: Any,
    instruments: Instruments,
    *,
    reporters: int,
    profiler: cProfile.Profile | None = None,
) -> Phase:
    from bot.application import start_services

    emulator = await EmulatorProcess.start()
    marks: dict[str, float] = {}
    machine_marks: list[int] = []

    def on_start() -> None:
        instruments.reset()
        marks.update(emulator=emulator.cpu_seconds(), bot=time.process_time(), bot_main=time.thread_time())
        machine_marks[:] = machine_cpu()
        if profiler is not None:
            profiler.enable()

    try:
        if name == "echo":
            application = echo_application(emulator.root, args.pool)
        else:
            application = bot_application(emulator.root, vault, args.pool, args.rate_limiter)
        cases_before = await count_cases(vault)
        async with application:
            if name != "echo":
                await start_services(application)
            await application.start()
            assert application.updater is not None
            await application.updater.start_polling(poll_interval=0, timeout=10)
            try:
                result = await run_reporters(
                    emulator.root, "echo" if name == "echo" else "bot", args, reporters, on_start
                )
                if profiler is not None:
                    profiler.disable()
                cpu = {
                    "emulator": emulator.cpu_seconds() - marks["emulator"],
                    "bot process": time.process_time() - marks["bot"],
                    "  its main thread (event loop)": time.thread_time() - marks["bot_main"],
                    "reporters": result["cpu_s"],
                }
                machine = machine_shares(machine_marks, machine_cpu())
                samples = {k: list(v) for k, v in instruments.samples.items()}
                log = dict(instruments.log.counts)
            finally:
                await application.updater.stop()
                await application.stop()
        cases = await count_cases(vault) - cases_before if name != "echo" else None
    finally:
        await emulator.stop()
    if result["failed"]:
        print(f"\n{name}: {result['failed']} of {reporters} reporters did not finish; first failures:")
        for failure in result["failures"]:
            print(f"  {failure}")
        raise SystemExit(2)
    per_step: defaultdict[int, list[float]] = defaultdict(list)
    for index, ns in result["latencies"]:
        per_step[index].append(ns / 1e6)
    return Phase(
        name=name,
        reporters=reporters,
        updates=len(result["latencies"]),
        elapsed_s=result["elapsed_ns"] / 1e9,
        latencies_ms=[ns / 1e6 for _i, ns in result["latencies"]],
        per_step_ms=dict(per_step),
        receipts_ms=[ns / 1e6 for ns in result["receipts"]],
        cpu=cpu,
        instruments=samples,
        log=log,
        requests=result["requests"],
        machine=machine,
        cases=cases,
        warmup=args.warmup,
    )


# --- printing -------------------------------------------------------------------------------------


def print_phase(phase: Phase, args: argparse.Namespace) -> None:
    script = report_script(args.evidence)
    lat = phase.latencies_ms
    title = "echo floor (bare Application)" if phase.name == "echo" else "bot (build_application)"
    print(
        f"\n{title}: {phase.reporters} reporters x {len(script)} updates = {phase.updates} updates "
        f"in {phase.elapsed_s:.2f} s"
    )
    print(
        f"  {phase.per_second:8.1f} updates/s   latency p50 {rank(lat, 0.5):8.1f} ms   "
        f"p99 {rank(lat, 0.99):8.1f} ms   mean {statistics.fmean(lat):8.1f} ms   max {max(lat):8.1f} ms"
    )
    print(
        f"  the reporters made {phase.requests} control API requests ({phase.requests / phase.updates:.1f} per "
        f"update: the action and the long polls)"
    )
    if phase.receipts_ms:
        print(
            f"  submit to receipt: p50 {rank(phase.receipts_ms, 0.5):.1f} ms, "
            f"p99 {rank(phase.receipts_ms, 0.99):.1f} ms"
        )
    if phase.cases is not None:
        verdict = (
            "every report reached the vault" if phase.cases == phase.expected_cases else "MISSING REPORTS"
        )
        print(
            f"  cases sealed in the vault during the phase: {phase.cases} of {phase.expected_cases} "
            f"({phase.reporters} measured + {phase.warmup} warm-up reporters): {verdict}"
        )
    print(
        f"  log records at WARNING or above in the bot's process during the wave: {sum(phase.log.values())}"
    )
    for message, count in sorted(phase.log.items(), key=lambda kv: -kv[1]):
        print(f"    {count:5} x {message}")
    busy = sum(v for k, v in phase.cpu.items() if not k.startswith(" "))
    print(
        f"  CPU seconds during the wave ({os.cpu_count()} cores x {phase.elapsed_s:.1f} s = "
        f"{(os.cpu_count() or 1) * phase.elapsed_s:.1f} available, {busy:.1f} used):"
    )
    for label, seconds in phase.cpu.items():
        print(
            f"    {label:34}{seconds:7.2f} s  {1000 * seconds / phase.updates:6.2f} ms/update  "
            f"{100 * seconds / phase.elapsed_s:5.0f}% of one core"
        )
    if phase.machine:
        cores = os.cpu_count() or 1
        others = phase.machine["busy"] * cores * phase.elapsed_s - busy
        print(
            f"    the machine, all processes: busy {100 * phase.machine['busy']:.0f}%, iowait "
            f"{100 * phase.machine['iowait']:.0f}%, steal {100 * phase.machine['steal']:.0f}% of all cores' time; "
            f"busy outside these three processes (kernel, other programs): {others:.1f} s"
        )
        if others > 0.1 * cores * phase.elapsed_s:
            print("    WARNING: something else used more than a tenth of the machine: compare with care")
    print("  per step: p50 / p99 ms")
    for index, step in enumerate(script):
        values = phase.per_step_ms.get(index, [])
        print(f"    {index + 1:2} {step.label:24}{rank(values, 0.5):9.1f}{rank(values, 0.99):9.1f}")
    print(
        f"  in the bot's process (wall times overlap between updates) {'per update':>12}{'mean ms':>9}{'p99 ms':>9}"
    )
    for key in sorted(phase.instruments):
        values = [ns / 1e6 for ns in phase.instruments[key]]
        print(
            f"    {key:56}{len(values) / phase.updates:12.2f}{statistics.fmean(values):9.2f}"
            f"{rank(values, 0.99):9.1f}"
        )


def print_profile(profiler: cProfile.Profile, phase: Phase, out_path: Path | None) -> None:
    stats_ = pstats.Stats(profiler)
    by_package: dict[str, float] = defaultdict(float)
    for (filename, _line, name), (_cc, _nc, tottime, _ct, _callers) in stats_.stats.items():  # type: ignore[attr-defined]
        by_package[_package_of(filename, name)] += tottime
    total = sum(by_package.values())
    for (filename, _line, name), (_cc, calls, _tt, cumulative, _callers) in stats_.stats.items():  # type: ignore[attr-defined]
        if name == "current_async_library" and "httpcore" in filename:
            print(
                f"\nhttpcore's current_async_library, which tries `import sniffio` each time: {calls} calls, "
                f"{calls / phase.updates:.1f} per update, {100 * cumulative / total:.1f}% of the profiled CPU"
            )
    print(
        f"\n--- bot: main-thread CPU under cProfile ({total:.1f} s for {phase.updates} updates, "
        f"{1000 * total / phase.updates:.2f} ms/update), by package (own time) ---"
    )
    for key, value in sorted(by_package.items(), key=lambda kv: -kv[1])[:18]:
        print(f"  {key:56}{100 * value / total:5.1f}%")
    out = io.StringIO()
    pstats.Stats(profiler, stream=out).strip_dirs().sort_stats("tottime").print_stats(30)
    print("\n--- bot: top functions by own CPU time ---")
    print(out.getvalue().split("\n", 4)[-1].rstrip())
    if out_path is not None:
        profiler.dump_stats(out_path)
        print(f"\n(raw profile written to {out_path}: python -m pstats {out_path})")


_PACKAGES = (
    ("sqlalchemy/orm", "SQLAlchemy ORM"),
    ("sqlalchemy/engine", "SQLAlchemy engine"),
    ("sqlalchemy/sql", "SQLAlchemy SQL (compilation, cache keys)"),
    ("sqlalchemy/dialects", "SQLAlchemy dialect"),
    ("sqlalchemy/pool", "SQLAlchemy pool"),
    ("sqlalchemy", "SQLAlchemy other (events, async/greenlet glue)"),
    ("sqlmodel", "SQLModel"),
    ("pydantic", "pydantic"),
    ("aiosqlite", "aiosqlite (thread hand-off)"),
    ("telegram/ext", "python-telegram-bot ext (Application, handlers, limiter)"),
    ("telegram/request", "python-telegram-bot request (HTTPXRequest)"),
    ("telegram/_utils", "python-telegram-bot objects (de/serialisation)"),
    ("telegram", "python-telegram-bot objects (de/serialisation)"),
    ("httpx", "httpx"),
    ("httpcore", "httpcore"),
    ("h11", "h11 (HTTP/1.1 parsing)"),
    ("anyio", "anyio"),
    ("aiolimiter", "aiolimiter"),
    ("asyncio", "asyncio event loop"),
    ("selectors", "asyncio event loop"),
    ("json", "json"),
    ("/bot/", "bot (Candour's handlers and flows)"),
    ("/storage/", "storage (Candour's vault code)"),
    ("/policies/", "policies"),
    ("cryptography", "cryptography"),
    ("<frozen importlib", "importlib (run-time imports: httpcore's sniffio tries)"),
    ("bot_throughput.py", "this benchmark's instruments"),
)


def _package_of(filename: str, name: str) -> str:
    for fragment, label in _PACKAGES:
        if fragment in filename:
            return label
    if filename == "~":
        if any(
            s in name for s in ("hpke", "X25519", "x25519", "ChaCha", "hmac", "AESGCM", "encrypt", "decrypt")
        ):
            return "cryptography"
        if "posix.stat" in name:
            return "importlib (run-time imports: httpcore's sniffio tries)"
        if any(s in name for s in ("epoll", "_socket", "socket", "Future", "Task", "greenlet", "run_once")):
            return "asyncio event loop, sockets, greenlet"
        if "json" in name or "dumps" in name or "loads" in name:
            return "json"
        return f"builtin {name}"[:56]
    return Path(filename).name


def code_version() -> str:
    """The checkout measured: commit, and whether the working tree differs from it (read-only git)."""
    try:
        commit = subprocess.run(
            ["git", "-C", str(ROOT), "log", "-1", "--format=%h %cd", "--date=iso"],
            capture_output=True,
            text=True,
            timeout=10,
            check=True,
        ).stdout.strip()
        dirty = subprocess.run(
            ["git", "-C", str(ROOT), "status", "--porcelain", "--untracked-files=no"],
            capture_output=True,
            text=True,
            timeout=10,
            check=True,
        ).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return "unknown (no git)"
    return f"commit {commit}" + (" plus uncommitted changes" if dirty else "")


def print_machine(workdir: Path, args: argparse.Namespace) -> None:
    import httpx
    import sqlalchemy
    import telegram
    import uvicorn

    print("machine")
    print(
        f"  CPU        {cpu_model()}, {os.cpu_count()} logical cores; load average "
        f"{' '.join(Path('/proc/loadavg').read_text().split()[:3]) if Path('/proc/loadavg').exists() else '?'}"
    )
    print(f"  OS         {platform.platform()}")
    print(f"  Python     {platform.python_version()} ({platform.python_implementation()})")
    print(
        f"  libraries  python-telegram-bot {telegram.__version__}, httpx {httpx.__version__}, "
        f"uvicorn {uvicorn.__version__} (emulator), SQLAlchemy {sqlalchemy.__version__}, "
        f"SQLite {sqlite3.sqlite_version}"
    )
    print(f"  disk       {filesystem_of(workdir)}")
    print(f"  code       {code_version()}")
    print("setup")
    print(
        f"  reporters  {args.reporters} measured (closed loop, one report each), after {args.warmup} warm-up "
        f"reporters; evidence file: {'one small document' if args.evidence else 'none'}"
    )
    print(
        f"  bot        HTTPXRequest connection pool {args.pool} (both applications; getUpdates: its own "
        f"pool of 2); rate limiter {args.rate_limiter}; SQLite WAL, synchronous=FULL"
    )
    print("  processes  emulator (python -m bot.emulator), bot (this one), reporters (a child, httpx)")
    print(textwrap.fill(LATENCY_DEFINITION, width=110, initial_indent="  ", subsequent_indent="    "))


# --- main -----------------------------------------------------------------------------------------


async def make_vault(workdir: Path) -> Any:
    from candour.app import AdminSpec, initialise, open_vault
    from candour.settings import Settings
    from storage import officers

    settings = Settings(_env_file=None, data_dir=workdir / "data", sqlite_synchronous="FULL", **FAST_KDF)  # type: ignore[call-arg]
    admin = AdminSpec(login="admin", display_name="Admin", passphrase=PASSPHRASE, unit_id=OFFICER_UNIT)
    await initialise(settings, admin=admin)
    vault = await open_vault(settings)
    for index in range(1, 4):
        await officers.add(
            vault,
            login=f"officer{index}",
            display_name=f"Officer {index}",
            passphrase=PASSPHRASE,
            unit_id=OFFICER_UNIT,
            queues=(QUEUE,),
        )
    return vault


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n", 1)[0])
    parser.add_argument("--reporters", type=int, default=200, help="measured reporters (default 200)")
    parser.add_argument(
        "--warmup",
        type=int,
        default=5,
        help="reporters who make one unmeasured report first, per phase (default 5)",
    )
    parser.add_argument(
        "--pool",
        type=int,
        default=8,
        help="HTTPXRequest connection pool of both applications (default 8, as build_application)",
    )
    parser.add_argument("--evidence", action="store_true", help="each report carries one small document")
    parser.add_argument(
        "--rate-limiter",
        choices=("lifted", "as-built"),
        default="lifted",
        help="the bot's AIORateLimiter: limits lifted (default) or as built (30 requests/s)",
    )
    parser.add_argument(
        "--profile",
        type=int,
        default=0,
        metavar="N",
        help="then run the bot phase again with N reporters under cProfile (main thread CPU) "
        "and print where its time goes (not counted in the result)",
    )
    parser.add_argument(
        "--profile-out",
        type=Path,
        default=None,
        help="with --profile, also write the raw cProfile stats to this file",
    )
    parser.add_argument("--tmpdir", type=Path, default=None, help="where the SQLite files go")
    parser.add_argument("--drive", default=None, help=argparse.SUPPRESS)  # the reporters' child process
    parser.add_argument("--mode", choices=("bot", "echo"), default="bot", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.reporters < 1 or args.warmup < 0 or args.pool < 1:
        parser.error("--reporters and --pool must be at least 1, --warmup at least 0")
    return args


async def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    if args.drive:
        return await drive(args)
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    for handler in logging.getLogger().handlers:
        handler.setLevel(logging.ERROR)  # warnings are counted per phase and summarised, not printed
    with tempfile.TemporaryDirectory(prefix="candour-bench-", dir=args.tmpdir) as tmp:
        workdir = Path(tmp)
        print_machine(workdir, args)
        vault = await make_vault(workdir)
        instruments = Instruments()
        logging.getLogger().addHandler(instruments.log)
        instruments.install_http()
        instruments.install_vault(vault)
        try:
            echo = await run_phase("echo", args, vault, instruments, reporters=args.reporters)
            print_phase(echo, args)
            bot = await run_phase("bot", args, vault, instruments, reporters=args.reporters)
            print_phase(bot, args)
            throughput = bot.per_second / echo.per_second
            p99 = rank(bot.latencies_ms, 0.99) / rank(echo.latencies_ms, 0.99)
            passed = throughput >= THROUGHPUT_GOAL and p99 <= P99_GOAL and bot.cases == bot.expected_cases
            print(
                f"\nsummary at {args.reporters} reporters, pool {args.pool}, rate limiter {args.rate_limiter}: "
                f"bot {bot.per_second:.1f} updates/s, p99 {rank(bot.latencies_ms, 0.99):.0f} ms; "
                f"floor {echo.per_second:.1f} updates/s, p99 {rank(echo.latencies_ms, 0.99):.0f} ms"
            )
            print(
                f"  throughput bot/floor = {throughput:.2f} (goal >= {THROUGHPUT_GOAL}): "
                f"{'PASS' if throughput >= THROUGHPUT_GOAL else 'FAIL'}"
            )
            print(
                f"  p99 latency bot/floor = {p99:.2f} (goal <= {P99_GOAL}): {'PASS' if p99 <= P99_GOAL else 'FAIL'}"
            )
            print(f"  reports in the vault: {bot.cases} of {bot.expected_cases} (warm-up included)")
            print(f"  overall: {'PASS' if passed else 'FAIL'}")
            if args.profile:
                profiler = cProfile.Profile(time.thread_time_ns, 1e-9)  # type: ignore[arg-type]
                profiled = await run_phase(
                    "bot", args, vault, instruments, reporters=args.profile, profiler=profiler
                )
                print(
                    f"\n(profiled run: {args.profile} reporters, {profiled.per_second:.1f} updates/s under "
                    f"cProfile, not counted)"
                )
                print_profile(profiler, profiled, args.profile_out)
        finally:
            await vault.db.dispose()
    return 0 if passed else 1


if __name__ == "__main__":
    sys.exit(asyncio.run(main()))
