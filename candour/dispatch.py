"""Run the follow-up dispatcher on its own: `python -m candour.dispatch [--interval 5] [--rate-limit 30]`.

A process that only carries out due follow-up work (check-ins, deadline checks, purges, officers'
notices) from the vault's outbox: bot.followup.Dispatcher, as `candour run` runs it, without the
bot's update handling. For operators who scale sending apart from the bot, for the multi-process tests
(tests/test_dispatch_processes.py) and for benchmarks/checkin_dispatch.py. It reads the
same CANDOUR_* settings as `candour run` (the database, the data directory, the key files'
CANDOUR_KEYS_DIR, the token or CANDOUR_TELEGRAM_TOKEN_FILE, and CANDOUR_TELEGRAM_API_URL), claims due
entries every `--interval` seconds, and exits cleanly on SIGTERM or SIGINT: no new send starts, the one
in flight is finished and recorded, and entries it had claimed but not started are handed back at once
(after a crash, when their lease runs out).

Test hooks, off unless set (read only here, never by the bot): CANDOUR_TEST_KILL_AFTER_SEND=N makes the
process SIGKILL itself right after Telegram accepted its N-th message, before it is marked sent;
CANDOUR_TEST_KILL_BEFORE_SEND=N right before its N-th send, after the entry was claimed.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
import os
import signal
import sys
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

from telegram import Message
from telegram.error import InvalidToken, NetworkError
from telegram.ext import AIORateLimiter, ExtBot
from telegram.request import HTTPXRequest

from bot import followup
from bot.catalogue import Catalogue
from bot.delivery import worker_name
from candour.app import configure_logging, open_vault, warn_if_keys_with_data
from candour.settings import Settings, SettingsFileError
from storage import checkpoints
from storage.errors import VaultError

log = logging.getLogger("candour.dispatch")

# The exit status for "cannot run as configured" (sysexits' EX_CONFIG): `candour run`'s supervisor does not
# start such a process again, since it would only fail the same way.
EX_CONFIG = 78
KILL_AFTER_SEND = "CANDOUR_TEST_KILL_AFTER_SEND"
KILL_BEFORE_SEND = "CANDOUR_TEST_KILL_BEFORE_SEND"


@dataclass
class Gate:
    """Whether the process is stopping, whether a send is parked, and the test hooks' count of sends."""

    stopping: asyncio.Event = field(default_factory=asyncio.Event)
    parked: asyncio.Event = field(default_factory=asyncio.Event)
    sends: int = 0
    kill_after: int = field(default_factory=lambda: int(os.environ.get(KILL_AFTER_SEND) or 0))
    kill_before: int = field(default_factory=lambda: int(os.environ.get(KILL_BEFORE_SEND) or 0))


class GatedBot(ExtBot[None]):
    """The Bot the dispatcher sends through, with a gate that lets the process stop between sends.

    Why a gate: cancelling a send whose request may already have reached Telegram would leave a message
    delivered but not recorded (a duplicate later). Once stopping, a send that has not started parks here
    and is cancelled there, before any byte leaves; one in flight finishes and is recorded first.
    """

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        with self._unfrozen():
            self.gate = Gate()

    async def send_message(self, *args: Any, **kwargs: Any) -> Message:  # type: ignore[override]
        gate = self.gate
        if gate.stopping.is_set():
            gate.parked.set()
            await asyncio.Event().wait()  # cancelled by the runner
        if gate.kill_before and gate.sends + 1 == gate.kill_before:
            os.kill(os.getpid(), signal.SIGKILL)
        message = await super().send_message(*args, **kwargs)
        gate.sends += 1
        if gate.kill_after and gate.sends == gate.kill_after:
            os.kill(os.getpid(), signal.SIGKILL)
        return message


def rate_limiter(messages_per_second: float) -> AIORateLimiter:
    """python-telegram-bot's limiter, spacing sends evenly at this rate.

    Why a bucket of one message per 1/rate seconds rather than `rate` per second: aiolimiter's bucket
    holds `max_rate` messages, so AIORateLimiter(30) lets 30 go at once and then 30 a second, up to 60
    in the first second, which Telegram (and the emulator's sliding window) answer with 429.
    """
    return AIORateLimiter(
        overall_max_rate=1, overall_time_period=1 / messages_per_second, group_max_rate=0, max_retries=3
    )


def build_bot(settings: Settings, *, rate: float | None, pool: int = 4) -> GatedBot:
    """The Bot for Telegram or CANDOUR_TELEGRAM_API_URL, with the limiter if a rate is given."""
    if settings.telegram_token is None:
        raise SystemExit("dispatch: CANDOUR_TELEGRAM_TOKEN is not set")
    kwargs: dict[str, Any] = {}
    if settings.telegram_api_url:
        root = settings.telegram_api_url.rstrip("/")
        kwargs.update(base_url=f"{root}/bot", base_file_url=f"{root}/file/bot")
    return GatedBot(
        settings.telegram_token.get_secret_value(),
        request=HTTPXRequest(connection_pool_size=pool),
        rate_limiter=rate_limiter(rate) if rate else None,
        **kwargs,
    )


async def run(args: argparse.Namespace) -> int:
    """Dispatch every `interval` seconds until SIGTERM/SIGINT; the exit status."""
    try:
        settings = Settings()
    except SettingsFileError as exc:
        print(f"dispatch: {exc}", file=sys.stderr)
        return EX_CONFIG
    warn_if_keys_with_data(settings)
    try:
        vault = await open_vault(settings)
    except VaultError as exc:
        print(f"dispatch: {exc}", file=sys.stderr)
        return 1
    bot = build_bot(settings, rate=args.rate_limit)
    # A shorter lease is for tests and benchmarks that kill processes on purpose, so that a survivor takes
    # over in seconds, not minutes.
    lease = timedelta(seconds=args.lease) if args.lease is not None else followup.LEASE
    dispatcher = followup.Dispatcher(
        vault=vault, bot=bot, catalogue=Catalogue(), owner=worker_name(), batch=args.batch, lease=lease
    )
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, bot.gate.stopping.set)
    checkpointing: asyncio.Task[None] | None = None
    try:
        try:
            await bot.initialize()
        except InvalidToken:
            print("dispatch: Telegram refused the token in CANDOUR_TELEGRAM_TOKEN", file=sys.stderr)
            return EX_CONFIG
        except NetworkError:
            print(
                "dispatch: cannot reach the Telegram Bot API (check CANDOUR_TELEGRAM_API_URL)",
                file=sys.stderr,
            )
            return 1
        # Signed audit checkpoints on their own timer, and once more on a clean stop (docs/key-hierarchy.md).
        checkpointing = asyncio.create_task(
            checkpoints.keep_checkpointing(
                vault,
                keys_dir=settings.keys_dir,
                directory=settings.checkpoint_dir,
                interval=settings.audit_checkpoint_seconds,
                stop=bot.gate.stopping,
            )
        )
        print("dispatch: ready", flush=True)
        while not bot.gate.stopping.is_set():
            round_ = asyncio.create_task(dispatcher.dispatch_due())
            stop = asyncio.create_task(_stop_point(bot, args.grace))
            await asyncio.wait({round_, stop}, return_when=asyncio.FIRST_COMPLETED)
            if not round_.done():
                round_.cancel()
            stop.cancel()
            try:
                done = await round_
            except asyncio.CancelledError:
                pass
            except Exception as exc:
                # Type only: a driver's or Telegram's message could carry a chat id. The entries of the
                # failed round are claimed again when their lease runs out; the next round goes on.
                log.error("dispatch round failed: %s", type(exc).__name__)
            else:
                if done.counts:
                    log.info("dispatched %s", ", ".join(f"{k} {v}" for k, v in sorted(done.counts.items())))
            if not bot.gate.stopping.is_set():
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(bot.gate.stopping.wait(), args.interval)
    finally:
        # Claims not carried out go back at once, for another process, instead of after the lease.
        await dispatcher.release()
        if checkpointing is not None:
            bot.gate.stopping.set()
            await checkpointing
        with contextlib.suppress(Exception):
            await bot.shutdown()
        await vault.db.dispose()
    return 0


async def _stop_point(bot: GatedBot, grace: float) -> None:
    """Returns when the round may be cancelled: a send is parked at the gate, or, once stopping, the
    grace period is over (a long round of planning or deadline checks: cancelling rolls back a
    transaction at worst, and the claimed entries' leases hand them on)."""
    await bot.gate.stopping.wait()
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(bot.gate.parked.wait(), grace)


def _arguments(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m candour.dispatch", description=(__doc__ or "").splitlines()[0]
    )
    parser.add_argument("--interval", type=float, default=5.0, help="seconds between rounds (default 5)")
    parser.add_argument("--batch", type=int, default=50, help="entries claimed at a time (default 50)")
    parser.add_argument(
        "--rate-limit",
        type=float,
        default=None,
        metavar="PER_SECOND",
        help="send through python-telegram-bot's AIORateLimiter at this many messages a second "
        "(Telegram allows about 30 per bot: split it between processes); default off",
    )
    parser.add_argument(
        "--lease",
        type=float,
        default=None,
        metavar="SECONDS",
        help="how long a claim holds before another process may take the entry (default 120)",
    )
    parser.add_argument(
        "--grace", type=float, default=10.0, help="seconds a stop waits for a send in flight (default 10)"
    )
    parser.add_argument("--quiet", action="store_true", help="log warnings only")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> None:
    args = _arguments(argv)
    configure_logging(logging.WARNING if args.quiet else logging.INFO)
    sys.exit(asyncio.run(run(args)))


if __name__ == "__main__":
    main()
