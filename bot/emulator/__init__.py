"""A local Telegram Bot API emulator, so tests and the sandbox run the real bot over real HTTP without ever
reaching Telegram. The Bot API subset it checks requests against is pinned in bot-api-subset.json (from
PaulSonOfLars/telegram-bot-api-spec, MIT; see LICENSE-telegram-bot-api-spec)."""

from bot.emulator.server import TelegramEmulator
from bot.emulator.state import BotState, FakeUser
from bot.emulator.validation import ApiError, UploadedFile

__all__ = ["ApiError", "BotState", "FakeUser", "TelegramEmulator", "UploadedFile"]
