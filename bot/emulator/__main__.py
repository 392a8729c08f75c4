"""Run the emulator on its own: `python -m bot.emulator --port 8081 --token 123456:TEST`.

Prints the Bot API base URL for the bot's `base_url` and serves until Ctrl+C or SIGTERM. Users are driven
through the control API under /_emulator/ (see bot.emulator.control).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import signal

from bot.emulator.server import TelegramEmulator


def _arguments(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m bot.emulator", description=(__doc__ or "").splitlines()[0]
    )
    parser.add_argument("--host", default="127.0.0.1", help="interface to bind (default: localhost only)")
    parser.add_argument("--port", type=int, default=8081, help="port (0 picks a free one)")
    parser.add_argument("--token", default="123456:EMULATOR", help="the bot token to accept")
    parser.add_argument("--username", default="candour_bot", help="the bot's username")
    parser.add_argument("--per-chat-limit", type=float, default=None, help="messages per second per chat")
    parser.add_argument("--global-limit", type=float, default=None, help="messages per second overall")
    parser.add_argument("--lenient", action="store_true", help="ignore unknown parameters, as Telegram does")
    return parser.parse_args(argv)


async def serve(args: argparse.Namespace) -> None:
    emulator = TelegramEmulator(
        strict=not args.lenient, per_chat_limit=args.per_chat_limit, global_limit=args.global_limit
    )
    emulator.add_bot(args.token, username=args.username)
    await emulator.start(args.host, args.port)
    print(f"Bot API base URL:  {emulator.base_url}", flush=True)
    print(f"File base URL:     {emulator.base_file_url}", flush=True)
    print(f"Control API:       {emulator.root_url}/_emulator/", flush=True)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(NotImplementedError):  # Windows has no loop signal handlers
            loop.add_signal_handler(sig, stop.set)
    try:
        await stop.wait()
    finally:
        await emulator.stop()


def main(argv: list[str] | None = None) -> None:
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(serve(_arguments(argv)))


if __name__ == "__main__":
    main()
