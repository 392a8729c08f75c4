"""A test world for the bot by webhook: the real Application run by `candour.intake.run_webhook` (what
`candour serve intake` runs with CANDOUR_WEBHOOK_URL), served by uvicorn on a free loopback port, the Bot API
emulator delivering to it over HTTP with Telegram's rules. "Settled" is the emulator's view: every update
has been answered."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import httpx

from bot import webhook
from bot.application import build_application
from bot.emulator.state import BotState
from candour.intake import run_webhook
from candour.settings import Settings
from tests.bot_world import TOKEN, BotWorld, wait_for


@dataclass
class WebhookWorld(BotWorld):
    """The emulator and the intake by webhook; the helpers of BotWorld (say, tap, send_document) work as
    they do over polling."""

    settings: Settings | None = None
    endpoint: webhook.Endpoint = field(default_factory=lambda: webhook.Endpoint.with_secret(None))
    url: str = ""
    _stop: asyncio.Event | None = None
    _serving: asyncio.Task[None] | None = None

    @property
    def bot(self) -> BotState:
        return self.emu.bot_state()

    async def start(self) -> None:
        assert self.settings is not None
        sock = webhook.bind("127.0.0.1", 0)
        base = f"http://127.0.0.1:{sock.getsockname()[1]}"
        self.url = self.endpoint.url(base)
        settings = self.settings.model_copy(update={"webhook_url": base})
        self.app = build_application(
            token=TOKEN,
            vault=self.vault,
            catalogue=self.catalogue,
            api_url=self.emu.root_url,
            delivery_interval=0.2,
        )
        self._stop = asyncio.Event()
        self._serving = asyncio.create_task(
            run_webhook(self.app, settings, self.vault, stop=self._stop, sock=sock, endpoint=self.endpoint)
        )
        serving = self._serving
        # Started once Telegram (the emulator) is pointed at this endpoint, not at an earlier run's.
        await wait_for(
            lambda: (self.bot.webhook is not None and self.bot.webhook.url == self.url) or serving.done()
        )
        if self._serving.done():
            await self._serving  # raises what stopped it

    async def stop(self) -> None:
        if self._serving is None or self._stop is None:
            return
        self._stop.set()
        await self._serving
        self._serving = None
        self.app = None

    async def settle(self, timeout: float = 15) -> None:
        """Wait until the emulator has had an answer for every update (an update leaves `pending` then)."""
        await wait_for(lambda: not self.bot.pending, timeout=timeout)

    def held(self, act: Callable[[], object]) -> dict[str, Any]:
        """Do a user action with delivery paused and take its update: the JSON Telegram would post."""
        hook, self.bot.webhook = self.bot.webhook, None
        try:
            act()
            update = self.bot.pending.pop()
        finally:
            self.bot.webhook = hook
        return update.to_dict()

    async def post(
        self, update: dict[str, Any], *, secret: str | None = "", url: str | None = None
    ) -> httpx.Response:
        """POST an update as Telegram does; `secret` "" means the right one, None none at all."""
        headers = {}
        if secret is not None:
            headers[webhook.SECRET_HEADER] = secret or self.endpoint.secret
        async with httpx.AsyncClient(timeout=30) as client:
            return await client.post(url or self.url, json=update, headers=headers)


@contextlib.asynccontextmanager
async def webhook_world(world: WebhookWorld) -> Any:
    await world.start()
    try:
        yield world
    finally:
        await world.stop()
