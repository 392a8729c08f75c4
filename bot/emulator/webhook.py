"""Webhook delivery: POST each pending update as JSON to the bot's URL, as Telegram does.

Telegram sends one update at a time per chat, so a bot never sees a chat's updates out of order, and spreads
chats over up to `max_connections` parallel requests. A non-2xx answer or a network error is retried a few
times (Telegram keeps trying much longer; tests need a verdict fast), then the update is dropped and the
failure shows in getWebhookInfo's last_error_*.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging

import httpx

from bot.emulator.state import BotState, PendingUpdate

logger = logging.getLogger(__name__)

ATTEMPTS = 4
RETRY_DELAYS = (0.05, 0.2, 0.5)
SECRET_HEADER = "X-Telegram-Bot-Api-Secret-Token"  # noqa: S105 - a header name, not a secret


class WebhookDispatcher:
    """One delivery task per (bot, chat) with pending updates, bounded per bot by max_connections."""

    def __init__(self) -> None:
        self._workers: dict[tuple[str, int], asyncio.Task[None]] = {}
        self._limits: dict[str, tuple[int, asyncio.Semaphore]] = {}
        self._client: httpx.AsyncClient | None = None

    def kick(self, bot: BotState) -> None:
        """Start delivering whatever is pending; a no-op outside a running loop or without a webhook."""
        if bot.webhook is None:
            return
        try:
            asyncio.get_running_loop()
        except RuntimeError:
            return  # called before the loop runs: delivery starts at the next update or setWebhook
        for chat_id in dict.fromkeys(update.chat_id for update in bot.pending):
            key = (bot.token, chat_id)
            if key not in self._workers:
                self._workers[key] = asyncio.create_task(self._deliver_chat(bot, chat_id))

    def _semaphore(self, bot: BotState) -> asyncio.Semaphore:
        size = bot.webhook.max_connections if bot.webhook else 1
        current = self._limits.get(bot.token)
        if current is None or current[0] != size:
            current = (size, asyncio.Semaphore(size))
            self._limits[bot.token] = current
        return current[1]

    async def _deliver_chat(self, bot: BotState, chat_id: int) -> None:
        try:
            while (webhook := bot.webhook) is not None:
                update = next((u for u in bot.pending if u.chat_id == chat_id), None)
                if update is None:
                    return
                async with self._semaphore(bot):
                    delivered = await self._post_with_retries(bot, update)
                if delivered is None:
                    return  # the webhook was removed: the update stays queued for getUpdates
                with contextlib.suppress(ValueError):
                    bot.pending.remove(update)
                bot.webhook_deliveries.append(
                    {"update_id": update.update_id, "url": webhook.url, "delivered": delivered}
                )
                bot.notifier.changed()
        finally:
            self._workers.pop((bot.token, chat_id), None)

    async def _post_with_retries(self, bot: BotState, update: PendingUpdate) -> bool | None:
        """True once delivered, False when every attempt failed, None if the webhook went away meanwhile."""
        for attempt in range(ATTEMPTS):
            webhook = bot.webhook
            if webhook is None:
                return None
            headers = {"Content-Type": "application/json"}
            if webhook.secret_token:
                headers[SECRET_HEADER] = webhook.secret_token
            try:
                response = await self._http().post(webhook.url, json=update.to_dict(), headers=headers)
                if 200 <= response.status_code < 300:
                    return True
                error = f"Wrong response from the webhook: {response.status_code} {response.reason_phrase}"
            except httpx.HTTPError as exc:
                error = f"Connection failed: {type(exc).__name__}"
            webhook.last_error_date = bot.timestamp()
            webhook.last_error_message = error
            logger.debug("webhook delivery of update %s failed: %s", update.update_id, error)
            if attempt < len(RETRY_DELAYS):
                await asyncio.sleep(RETRY_DELAYS[attempt])
        return False

    def _http(self) -> httpx.AsyncClient:
        if self._client is None:
            self._client = httpx.AsyncClient(timeout=10.0)
        return self._client

    async def close(self) -> None:
        workers = list(self._workers.values())
        for task in workers:
            task.cancel()
        await asyncio.gather(*workers, return_exceptions=True)
        self._workers.clear()
        self._limits.clear()
        if self._client is not None:
            await self._client.aclose()
            self._client = None
