"""Building the python-telegram-bot Application: handlers, per-chat ordering, rate limits, errors, push."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import re
from collections import defaultdict
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from typing import Any

from telegram import Bot, BotCommand, Update
from telegram.constants import ChatType
from telegram.ext import (
    AIORateLimiter,
    Application,
    ApplicationBuilder,
    BaseUpdateProcessor,
    CallbackQueryHandler,
    CommandHandler,
    ContextTypes,
    MessageHandler,
    TypeHandler,
    filters,
)
from telegram.request import HTTPXRequest

from bot import delivery, followup, handlers
from bot.catalogue import DEFAULT_LANGUAGE, Catalogue
from bot.cleaner import Cleaner
from storage import updates
from storage.errors import DatabaseUnavailableError
from storage.vault import Vault

log = logging.getLogger(__name__)

# The update types the bot asks Telegram for, on every getUpdates (`start_polling(allowed_updates=...)`).
# Why explicit: left out, Telegram keeps whatever setting the token had before (another program, an old
# deployment), which may lack my_chat_member or channel_post, and the bot would then never learn it was
# added to a group or channel, nor leave. These are the types `register` handles: a reporter's messages,
# edits and button presses, and the group and channel updates `handlers.outside_private` leaves on.
ALLOWED_UPDATES: tuple[str, ...] = (
    Update.MESSAGE,
    Update.EDITED_MESSAGE,
    Update.CALLBACK_QUERY,
    Update.MY_CHAT_MEMBER,
    Update.CHANNEL_POST,
    Update.EDITED_CHANNEL_POST,
)


class ChatOrderedProcessor(BaseUpdateProcessor):
    """Handle updates of different chats concurrently, but those of one chat strictly in order.

    Why: a reporter who types quickly sends several updates; each loads and saves the chat's sealed
    state, so two at once would lose an answer. Different chats never share state.
    """

    def __init__(self, max_concurrent_updates: int) -> None:
        super().__init__(max_concurrent_updates)
        self._locks: defaultdict[int, asyncio.Lock] = defaultdict(asyncio.Lock)
        self._waiting: defaultdict[int, int] = defaultdict(int)
        # Set by webhook mode (bot/webhook.py): the chat's lock in the database, held inside this one.
        self.shared_lock: Callable[[int], AbstractAsyncContextManager[None]] | None = None

    async def do_process_update(self, update: object, coroutine: Awaitable[Any]) -> None:
        chat = update.effective_chat if isinstance(update, Update) else None
        if chat is None:
            await coroutine
            return
        async with self.chat_lock(chat.id):
            await coroutine

    @asynccontextmanager
    async def chat_lock(self, chat_id: int) -> AsyncIterator[None]:
        """Hold a chat's turn: also taken by push delivery, which loads and saves the same chat state."""
        self._waiting[chat_id] += 1
        try:
            async with (
                self._locks[chat_id],
                self.shared_lock(chat_id) if self.shared_lock else contextlib.nullcontext(),
            ):
                yield
        finally:
            self._waiting[chat_id] -= 1
            if not self._waiting[chat_id]:
                del self._waiting[chat_id]
                self._locks.pop(chat_id, None)

    async def initialize(self) -> None:
        return None

    async def shutdown(self) -> None:
        return None


class CandourApplication(Application):  # type: ignore[type-arg]
    """The python-telegram-bot Application, which also closes the evidence cleaner it owns on shutdown.

    Why here: `Application.shutdown` runs however the application is used (`async with`, run_polling, a
    test), whereas ApplicationBuilder.post_shutdown runs only from run_polling and run_webhook. Left
    open, a cleaner's warm worker would outlive the bot.
    """

    def __init__(self, *, owned_cleaner: Cleaner | None = None, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self._owned_cleaner = owned_cleaner

    async def shutdown(self) -> None:
        try:
            await super().shutdown()
        finally:
            if self._owned_cleaner is not None:
                await self._owned_cleaner.close()


async def on_error(update: object, context: ContextTypes.DEFAULT_TYPE) -> None:
    """Log the error's type only (never the update: it carries the user) and tell the chat, if any."""
    error = context.error
    log.error(
        "handler failed: %s",
        type(error).__name__,
        exc_info=(type(error), error, error.__traceback__)
        if error is not None and log.isEnabledFor(logging.DEBUG)
        else None,
    )
    # Why only the reporter's own chat: an error from a group update must not make the bot speak there.
    if isinstance(update, Update) and update.effective_chat is not None and handlers.from_reporter(update):
        services: handlers.BotServices = context.bot_data["services"]
        t = services.catalogue.for_language(None)
        try:
            await context.bot.send_message(update.effective_chat.id, t("error.generic"))
        except Exception:
            log.warning("could not tell a chat about an error")


def build_application(
    *,
    token: str,
    vault: Vault,
    catalogue: Catalogue,
    api_url: str | None = None,
    delivery_interval: float = 5.0,
    connection_pool_size: int = 8,
    cleaner: Cleaner | None = None,
) -> Application:
    """The bot, ready to run with polling or a webhook.

    `cleaner` examines and cleans evidence in worker processes; the caller that passes one starts and
    closes it. Without one the bot makes its own, which starts its first worker when the first file
    comes and is closed when the application shuts down.
    """
    owned = cleaner is None
    cleaner = Cleaner() if cleaner is None else cleaner
    builder = (
        ApplicationBuilder()
        .application_class(CandourApplication, kwargs={"owned_cleaner": cleaner if owned else None})
        .token(token)
        .concurrent_updates(ChatOrderedProcessor(256))
        .rate_limiter(AIORateLimiter(max_retries=3))
        # Why a small pool: measured faster than the default of 256 for a bot talking to one API host.
        .request(HTTPXRequest(connection_pool_size=connection_pool_size))
        .get_updates_request(HTTPXRequest(connection_pool_size=2, read_timeout=30))
    )
    if api_url:
        root = api_url.rstrip("/")
        builder = builder.base_url(f"{root}/bot").base_file_url(f"{root}/file/bot")
    application = builder.build()
    application.bot_data["services"] = handlers.BotServices(vault=vault, catalogue=catalogue, cleaner=cleaner)
    application.bot_data["delivery_interval"] = delivery_interval
    register(application)
    return application


async def register_words(bot: Bot, catalogue: Catalogue) -> None:
    """The command menu and the bot's descriptions, in every shipped language.

    English goes without a language code (every user whose app language has no words of its own); each
    other catalogue under its own code, which Telegram matches to the user's app language. Telegram
    takes two-letter codes only, so a catalogue such as `pt-BR` is not registered (its users see English).
    """
    for code in catalogue.languages:
        if code != DEFAULT_LANGUAGE and not re.fullmatch(r"[a-z]{2}", code):
            continue
        t = catalogue.for_language(code)
        language = None if code == DEFAULT_LANGUAGE else code
        commands = [BotCommand(name, t(f"command.{name}")) for name in handlers.COMMANDS]
        await bot.set_my_commands(commands, language_code=language)
        await bot.set_my_description(t("about.description"), language_code=language)
        await bot.set_my_short_description(t("about.short_description"), language_code=language)


def register(application: Application) -> None:
    """Attach every handler, most specific first.

    Every update from a group, supergroup or channel, of whatever type, goes to `outside_private` (the
    bot leaves); the handlers below reach a flow only through `with_turn`, which lets through nothing
    but a reporter's own private chat (`handlers.from_reporter`), whatever their filters say.
    """
    private = filters.ChatType.PRIVATE
    application.add_handler(TypeHandler(Update, handlers.outside_private), group=-1)
    commands = {
        "start": handlers.on_start,
        "report": handlers.on_report,
        "status": handlers.on_status,
        "help": handlers.on_help,
        "privacy": handlers.on_privacy,
        "cancel": handlers.on_cancel,
        "language": handlers.on_language,
        "wipe": handlers.on_wipe,
        # Not in the command menu: for officers linking a chat for desk notices.
        "link": handlers.on_link,
        "unlink": handlers.on_unlink,
    }
    for name, callback in commands.items():
        application.add_handler(CommandHandler(name, callback, filters=private & ~filters.UpdateType.EDITED))
    application.add_handler(MessageHandler(private & filters.UpdateType.EDITED, handlers.on_edited))
    application.add_handler(MessageHandler(private & filters.FORWARDED, handlers.on_forwarded))
    application.add_handler(MessageHandler(private & filters.COMMAND, handlers.on_unknown_command))
    application.add_handler(MessageHandler(private & filters.TEXT, handlers.on_text))
    files = (
        filters.PHOTO
        | filters.Document.ALL
        | filters.VOICE
        | filters.AUDIO
        | filters.VIDEO
        | filters.VIDEO_NOTE
        | filters.ANIMATION
    )
    application.add_handler(MessageHandler(private & files, handlers.on_file))
    application.add_handler(MessageHandler(private, handlers.on_unsupported))
    application.add_handler(CallbackQueryHandler(handlers.on_button))
    application.add_error_handler(on_error)


async def start_services(application: Application, *, follow_up: bool = True) -> None:
    """After `application.initialize()`: register the commands and schedule push delivery (and, with
    `follow_up`, check-ins and deadlines too, for when no dispatcher process runs beside this one).

    Why not ApplicationBuilder.post_init: python-telegram-bot calls that only from run_polling and
    run_webhook, and Candour starts the application itself (beside the sandbox or the desk).
    """
    services: handlers.BotServices = application.bot_data["services"]
    await register_words(application.bot, services.catalogue)
    owner = delivery.worker_name()

    processor = application.update_processor
    chat_lock = processor.chat_lock if isinstance(processor, ChatOrderedProcessor) else None

    async def _deliver(context: ContextTypes.DEFAULT_TYPE) -> None:
        await delivery.deliver_due(
            services.vault, context.bot, services.catalogue, owner=owner, chat_lock=chat_lock
        )

    dispatcher = followup.Dispatcher(
        vault=services.vault,
        bot=application.bot,
        catalogue=services.catalogue,
        owner=owner,
        chat_lock=chat_lock,
    )

    async def _follow_up(_context: ContextTypes.DEFAULT_TYPE) -> None:
        await dispatcher.dispatch_due()

    async def _expire_drafts(_context: ContextTypes.DEFAULT_TYPE) -> None:
        await dispatcher.purge_expired()
        # Records of handled updates outlive any redelivery (storage/updates.py), then go.
        with contextlib.suppress(DatabaseUnavailableError):
            await updates.purge(services.vault)

    if application.job_queue is not None:
        interval = application.bot_data["delivery_interval"]
        application.job_queue.run_repeating(_deliver, interval=interval, first=0.5, name="deliver")
        if follow_up:
            application.job_queue.run_repeating(_follow_up, interval=interval, first=1.0, name="follow-up")
        application.job_queue.run_repeating(_expire_drafts, interval=600, first=60, name="expire-drafts")


__all__ = ["ChatType", "build_application"]
