"""The intake by webhook: `candour serve intake` with CANDOUR_WEBHOOK_URL (docs/bot.md, "Webhook mode").

Beside candour.app's `serve_bot` (long polling): the same application, fed by bot/webhook.py's endpoint,
with each chat's updates also holding the chat's lock in the database (storage/chat_lock.py).
"""

from __future__ import annotations

import asyncio
import logging
import socket

from telegram.error import BadRequest
from telegram.ext import Application

from bot import webhook
from bot.application import ALLOWED_UPDATES, build_application, start_services
from bot.catalogue import Catalogue
from candour.app import build_cleaner
from candour.settings import Settings
from storage.chat_lock import ChatLocks
from storage.vault import Vault

log = logging.getLogger("candour.intake")


def webhook_endpoint(settings: Settings) -> webhook.Endpoint:
    """The endpoint's secret and path: from CANDOUR_WEBHOOK_SECRET, or drawn for this start."""
    secret = settings.webhook_secret.get_secret_value() if settings.webhook_secret is not None else None
    return webhook.Endpoint.with_secret(secret)


def bind_webhook(settings: Settings) -> socket.socket:
    """Bind the endpoint's socket first, so a taken port is one error before the bot starts."""
    return webhook.bind(settings.webhook_host, settings.webhook_port)


async def serve_bot_webhook(
    settings: Settings,
    vault: Vault,
    *,
    stop: asyncio.Event,
    follow_up: bool = True,
    sock: socket.socket | None = None,
    endpoint: webhook.Endpoint | None = None,
) -> None:
    """Run the bot by webhook until `stop` is set: serve the endpoint, then point Telegram at it.

    On stop, the updates in hand are finished and the webhook is left set: another replica behind the same
    URL may still be serving, and Telegram keeps what arrives meanwhile for the next start (up to 24 hours).
    """
    assert settings.telegram_token is not None
    endpoint = endpoint or webhook_endpoint(settings)
    listening = sock if sock is not None else bind_webhook(settings)
    try:
        async with build_cleaner(settings) as cleaner:
            application = build_application(
                token=settings.telegram_token.get_secret_value(),
                vault=vault,
                catalogue=Catalogue(),
                api_url=settings.telegram_api_url,
                cleaner=cleaner,
            )
            await run_webhook(
                application,
                settings,
                vault,
                stop=stop,
                sock=listening,
                endpoint=endpoint,
                follow_up=follow_up,
            )
    finally:
        listening.close()


async def run_webhook(
    application: Application,
    settings: Settings,
    vault: Vault,
    *,
    stop: asyncio.Event,
    sock: socket.socket,
    endpoint: webhook.Endpoint,
    follow_up: bool = True,
) -> None:
    """Run a built `application` by webhook on `sock` until `stop` is set (see serve_bot_webhook)."""
    assert settings.webhook_url is not None
    url = endpoint.url(settings.webhook_url)

    async def point_telegram_here() -> None:
        try:
            await application.bot.set_webhook(
                url=url,
                secret_token=endpoint.secret,
                allowed_updates=list(ALLOWED_UPDATES),
                max_connections=settings.webhook_max_connections,
            )
        except BadRequest as exc:  # Telegram's words (an http:// URL, an unknown host), never the secret
            raise webhook.WebhookNotServedError(
                f"Telegram refused the webhook at CANDOUR_WEBHOOK_URL: {exc.message}"
            ) from None
        # Why the base only: the path is derived from the secret and is not for a log.
        log.info("receiving Telegram updates by webhook at %s", settings.webhook_url)

    locks = ChatLocks(
        vault, connections=settings.webhook_lock_connections, wait_seconds=settings.webhook_lock_wait_seconds
    )
    try:
        async with application:
            webhook.prepare(application, locks)
            await start_services(application, follow_up=follow_up)
            await application.start()
            try:
                await webhook.serve(
                    webhook.build_endpoint(application, endpoint, vault),
                    sock=sock,
                    stop=stop,
                    started=point_telegram_here,
                )
            finally:
                await application.stop()
    finally:
        await locks.close()
