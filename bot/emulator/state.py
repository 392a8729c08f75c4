"""The emulated Telegram world of one bot: users, chats and their messages, files, the update queue, callback
queries, commands and webhook settings; the Bot API methods that act on it; and the user actions tests use.

Everything here runs on one asyncio loop and is plain synchronous code, apart from the long poll of
getUpdates; every change calls the shared notifier so that waiting long polls and test helpers wake at once.
"""

from __future__ import annotations

import asyncio
import copy
import inspect
import io
import math
import secrets
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from bot.emulator import validation
from bot.emulator.validation import ApiError, UploadedFile, bad_request

DELETE_WINDOW = timedelta(hours=48)
CALLBACK_QUERY_LIFETIME = timedelta(minutes=15)
MAX_DOWNLOAD = 20 * 1024 * 1024
UPDATE_TYPES = ("message", "edited_message", "callback_query")
# Every field of the Bot API's Update object but update_id (Bot API 10.1): what `deliver` accepts.
UPDATE_FIELDS = frozenset(
    {
        "message",
        "edited_message",
        "channel_post",
        "edited_channel_post",
        "business_connection",
        "business_message",
        "edited_business_message",
        "deleted_business_messages",
        "guest_message",
        "message_reaction",
        "message_reaction_count",
        "inline_query",
        "chosen_inline_result",
        "callback_query",
        "shipping_query",
        "pre_checkout_query",
        "purchased_paid_media",
        "poll",
        "poll_answer",
        "my_chat_member",
        "chat_member",
        "chat_join_request",
        "chat_boost",
        "removed_chat_boost",
        "managed_bot",
    }
)
# The boolean rights a ChatMemberAdministrator must carry (the optional ones are left out).
_ADMIN_RIGHTS = (
    "can_be_edited",
    "is_anonymous",
    "can_manage_chat",
    "can_delete_messages",
    "can_manage_video_chats",
    "can_restrict_members",
    "can_promote_members",
    "can_change_info",
    "can_invite_users",
    "can_post_stories",
    "can_edit_stories",
    "can_delete_stories",
)
BLOCKED = "Forbidden: bot was blocked by the user"
NOT_A_MEMBER = "Forbidden: bot is not a member of the group chat"


class Notifier:
    """Wakes every coroutine waiting for the world to change; safe to call from plain sync code on the loop."""

    def __init__(self) -> None:
        self._waiters: set[asyncio.Future[None]] = set()

    def changed(self) -> None:
        for waiter in self._waiters:
            if not waiter.done():
                waiter.set_result(None)
        self._waiters.clear()

    async def wait_for(self, predicate: Callable[[], bool], within: float) -> bool:
        """Wait until `predicate()` holds, re-checking after each change; False if `within` seconds pass first."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + within
        while not predicate():
            remaining = deadline - loop.time()
            if remaining <= 0:
                return False
            waiter: asyncio.Future[None] = loop.create_future()
            self._waiters.add(waiter)
            try:
                await asyncio.wait({waiter}, timeout=remaining)
            finally:
                self._waiters.discard(waiter)
        return True


@dataclass(frozen=True)
class FakeUser:
    """A Telegram user who talks to the bot. Their private chat's id equals their user id, as in Telegram."""

    user_id: int
    first_name: str
    last_name: str | None = None
    username: str | None = None
    language_code: str | None = "en"

    @property
    def id(self) -> int:
        return self.user_id

    def to_dict(self) -> dict[str, Any]:
        data: dict[str, Any] = {"id": self.user_id, "is_bot": False, "first_name": self.first_name}
        for key in ("last_name", "username", "language_code"):
            if getattr(self, key) is not None:
                data[key] = getattr(self, key)
        return data

    def private_chat(self) -> dict[str, Any]:
        chat: dict[str, Any] = {"id": self.user_id, "type": "private", "first_name": self.first_name}
        if self.last_name is not None:
            chat["last_name"] = self.last_name
        if self.username is not None:
            chat["username"] = self.username
        return chat


@dataclass
class StoredFile:
    file_id: str
    file_unique_id: str
    kind: str
    data: bytes = field(repr=False)
    file_path: str
    mime_type: str | None = None
    file_name: str | None = None
    width: int | None = None
    height: int | None = None

    @property
    def size(self) -> int:
        return len(self.data)


@dataclass
class StoredMessage:
    message: dict[str, Any]
    from_bot: bool
    sent_at: datetime
    deleted: bool = False
    # A reply keyboard, keyboard removal or force-reply the bot sent: Telegram's Message does not echo these.
    keyboard: dict[str, Any] | None = None


@dataclass
class ChatState:
    chat: dict[str, Any]
    chat_instance: str
    messages: dict[int, StoredMessage] = field(default_factory=dict)
    next_message_id: int = 1
    blocked: bool = False
    left: bool = False
    # The bot was made an administrator when added (a group or supergroup; in a channel it always is).
    bot_admin: bool = False
    # Counts every change the bot makes to the chat (a message sent, edited or deleted), so a watcher
    # can wait for the bot's reaction whatever form it takes.
    revision: int = 0

    @property
    def id(self) -> int:
        return int(self.chat["id"])

    @property
    def private(self) -> bool:
        return self.chat["type"] == "private"

    def take_message_id(self) -> int:
        message_id = self.next_message_id
        self.next_message_id += 1
        return message_id


@dataclass
class PendingUpdate:
    update_id: int
    kind: str
    payload: dict[str, Any]
    chat_id: int

    def to_dict(self) -> dict[str, Any]:
        return {"update_id": self.update_id, self.kind: copy.deepcopy(self.payload)}


@dataclass
class CallbackQueryRecord:
    query_id: str
    chat_id: int
    message_id: int
    data: str
    created_at: datetime
    answered: bool = False
    answer: dict[str, Any] | None = None


@dataclass
class Webhook:
    url: str
    secret_token: str | None
    max_connections: int
    allowed_updates: list[str] | None
    ip_address: str | None = None
    last_error_date: int | None = None
    last_error_message: str | None = None


@dataclass
class Limits:
    """Messages per second; None switches a limit off."""

    per_chat: float | None = None
    overall: float | None = None


class BotState:
    """One bot's view of the world and the Bot API methods that act on it."""

    def __init__(
        self,
        *,
        token: str,
        bot_id: int,
        username: str,
        first_name: str,
        users: dict[int, FakeUser],
        now: Callable[[], datetime],
        notifier: Notifier,
        limits: Limits,
        on_update: Callable[[BotState], None],
    ) -> None:
        self.token = token
        self.bot_id = bot_id
        self.username = username
        self.first_name = first_name
        self.users = users
        self.now = now
        self.notifier = notifier
        self.limits = limits
        self._on_update = on_update
        self.chats: dict[int, ChatState] = {}
        self.files: dict[str, StoredFile] = {}
        self.files_by_path: dict[str, StoredFile] = {}
        self.pending: list[PendingUpdate] = []
        # Every update made, by id, so one can be given again (see `deliver_again`).
        self.history: dict[int, PendingUpdate] = {}
        self.next_update_id = 1
        self.allowed_updates: list[str] | None = None
        self.webhook: Webhook | None = None
        self.webhook_deliveries: list[dict[str, Any]] = []
        self.callback_queries: dict[str, CallbackQueryRecord] = {}
        self.commands_by_scope: dict[str, list[dict[str, str]]] = {}
        # The bot's descriptions per language code ("" for every language without its own).
        self.descriptions: dict[str, str] = {}
        self.short_descriptions: dict[str, str] = {}
        self.left_chats: set[int] = set()
        self.chat_actions: list[tuple[int, str]] = []
        self.rate_limited: list[tuple[str, int, int]] = []
        self.closing = False
        self._poll_generation = 0
        self._sends: dict[object, deque[float]] = {}
        self._file_counter = 0
        self.handlers: dict[str, Callable[[dict[str, Any]], Any]] = {
            "getMe": self.get_me,
            "getUpdates": self.get_updates,
            "setWebhook": self.set_webhook,
            "deleteWebhook": self.delete_webhook,
            "getWebhookInfo": self.get_webhook_info,
            "sendMessage": self.send_message,
            "editMessageText": self.edit_message_text,
            "editMessageReplyMarkup": self.edit_message_reply_markup,
            "answerCallbackQuery": self.answer_callback_query,
            "deleteMessage": self.delete_message,
            "deleteMessages": self.delete_messages,
            "sendDocument": self.send_document,
            "sendPhoto": self.send_photo,
            "sendChatAction": self.send_chat_action,
            "getFile": self.get_file,
            "setMyCommands": self.set_my_commands,
            "getMyCommands": self.get_my_commands,
            "deleteMyCommands": self.delete_my_commands,
            "setMyDescription": self.set_my_description,
            "getMyDescription": self.get_my_description,
            "setMyShortDescription": self.set_my_short_description,
            "getMyShortDescription": self.get_my_short_description,
            "leaveChat": self.leave_chat,
            "close": self.close,
            "logOut": self.log_out,
        }

    # --- helpers --------------------------------------------------------------------------------------

    def user_dict(self) -> dict[str, Any]:
        return {"id": self.bot_id, "is_bot": True, "first_name": self.first_name, "username": self.username}

    def timestamp(self) -> int:
        return int(self.now().timestamp())

    def _new_chat(self, chat: dict[str, Any]) -> ChatState:
        state = ChatState(chat=chat, chat_instance=str(secrets.randbits(62)))
        self.chats[state.id] = state
        return state

    def _private_chat(self, user: FakeUser) -> ChatState:
        return self.chats.get(user.user_id) or self._new_chat(user.private_chat())

    def resolve_user(self, user: FakeUser | int) -> FakeUser:
        user_id = user.user_id if isinstance(user, FakeUser) else user
        try:
            return self.users[user_id]
        except KeyError:
            raise LookupError(f"no user {user_id}: call add_user first") from None

    def _find_chat(self, chat_id: object) -> ChatState:
        """The chat the bot addresses; a known user's private chat exists from the moment the user does."""
        if isinstance(chat_id, int):
            if chat_id in self.chats:
                return self.chats[chat_id]
            if chat_id in self.users:
                return self._private_chat(self.users[chat_id])
        # "@username" works only for public channels and supergroups, which this emulator has none of.
        raise bad_request("chat not found")

    def _chat_for_send(self, chat_id: object) -> ChatState:
        chat = self._find_chat(chat_id)
        if chat.blocked:
            raise ApiError(403, BLOCKED)
        if chat.left:
            raise ApiError(403, NOT_A_MEMBER)
        return chat

    def _check_rate(self, method: str, chat_id: int) -> None:
        """Sliding one-second windows (longer for limits under one a second), as Telegram's flood control."""
        moment = self.now().timestamp()
        windows: list[tuple[object, float]] = []
        if self.limits.per_chat is not None:
            windows.append((("chat", chat_id), self.limits.per_chat))
        if self.limits.overall is not None:
            windows.append((("all",), self.limits.overall))
        for key, limit in windows:
            span = max(1.0, 1.0 / limit)
            allowed = max(1, math.floor(limit * span))
            stamps = self._sends.setdefault(key, deque())
            while stamps and stamps[0] <= moment - span:
                stamps.popleft()
            if len(stamps) >= allowed:
                retry_after = max(1, math.ceil(stamps[0] + span - moment))
                self.rate_limited.append((method, chat_id, retry_after))
                raise ApiError(429, f"Too Many Requests: retry after {retry_after}", retry_after=retry_after)
        for key, _limit in windows:
            self._sends[key].append(moment)

    def _store_message(
        self, chat: ChatState, content: dict[str, Any], *, from_bot: bool, sender: dict[str, Any]
    ) -> StoredMessage:
        message: dict[str, Any] = {
            "message_id": chat.take_message_id(),
            "from": sender,
            "chat": copy.deepcopy(chat.chat),
            "date": self.timestamp(),
            **content,
        }
        stored = StoredMessage(message=message, from_bot=from_bot, sent_at=self.now())
        chat.messages[message["message_id"]] = stored
        if from_bot:
            chat.revision += 1
        return stored

    def _queue(self, kind: str, payload: dict[str, Any], chat_id: int) -> None:
        wanted = self.webhook.allowed_updates if self.webhook else self.allowed_updates
        if wanted and kind not in wanted:
            return  # Telegram does not create updates of types the bot did not ask for.
        update = PendingUpdate(self.next_update_id, kind, copy.deepcopy(payload), chat_id)
        self.pending.append(update)
        self.history[update.update_id] = update
        self.next_update_id += 1
        self._on_update(self)

    def _new_file(
        self,
        kind: str,
        data: bytes,
        *,
        mime_type: str | None = None,
        file_name: str | None = None,
        width: int | None = None,
        height: int | None = None,
    ) -> StoredFile:
        prefixes = {"photo": "AgAC", "document": "BQAC", "voice": "AwAC", "sticker": "CAAC"}
        folders = {"photo": "photos", "document": "documents", "voice": "voice", "sticker": "stickers"}
        self._file_counter += 1
        extension = _extension(file_name, mime_type, kind)
        stored = StoredFile(
            file_id=prefixes[kind] + secrets.token_urlsafe(48),
            file_unique_id="AQAD" + secrets.token_urlsafe(9),
            kind=kind,
            data=data,
            file_path=f"{folders[kind]}/file_{self._file_counter}{extension}",
            mime_type=mime_type,
            file_name=file_name,
            width=width,
            height=height,
        )
        self.files[stored.file_id] = stored
        self.files_by_path[stored.file_path] = stored
        return stored

    def _photo_sizes(self, data: bytes) -> list[dict[str, Any]]:
        """A thumbnail and the full size; both hold the same bytes, which is enough for a bot that downloads."""
        width, height = _image_size(data)
        scale = min(1.0, 320 / max(width, height))
        sizes = []
        for w, h in ((max(1, round(width * scale)), max(1, round(height * scale))), (width, height)):
            stored = self._new_file("photo", data, mime_type="image/jpeg", width=w, height=h)
            sizes.append(
                {
                    "file_id": stored.file_id,
                    "file_unique_id": stored.file_unique_id,
                    "file_size": stored.size,
                    "width": w,
                    "height": h,
                }
            )
        return sizes

    @staticmethod
    def _document_dict(stored: StoredFile) -> dict[str, Any]:
        document: dict[str, Any] = {
            "file_id": stored.file_id,
            "file_unique_id": stored.file_unique_id,
            "file_size": stored.size,
        }
        if stored.file_name is not None:
            document["file_name"] = stored.file_name
        if stored.mime_type is not None:
            document["mime_type"] = stored.mime_type
        return document

    def _bot_message(self, chat: ChatState, message_id: object, *, action: str) -> StoredMessage:
        stored = chat.messages.get(message_id) if isinstance(message_id, int) else None
        if stored is None or stored.deleted:
            raise bad_request(f"message to {action} not found")
        return stored

    def _message_target(self, params: dict[str, Any]) -> tuple[ChatState, StoredMessage]:
        if "inline_message_id" in params:
            raise bad_request("MESSAGE_ID_INVALID")  # the bot sends no inline messages; none can exist
        if "chat_id" not in params or "message_id" not in params:
            raise bad_request("message identifier is not specified")
        chat = self._chat_for_send(params["chat_id"])
        stored = self._bot_message(chat, params["message_id"], action="edit")
        if not stored.from_bot:
            raise bad_request("message can't be edited")
        return chat, stored

    # --- Bot API methods --------------------------------------------------------------------------------

    def get_me(self, _params: dict[str, Any]) -> dict[str, Any]:
        return {
            **self.user_dict(),
            "can_join_groups": True,
            "can_read_all_group_messages": False,
            "supports_inline_queries": False,
            "can_connect_to_business": False,
            "has_main_web_app": False,
        }

    def _deliverable(self) -> list[PendingUpdate]:
        wanted = self.allowed_updates
        return [u for u in self.pending if not wanted or u.kind in wanted]

    async def get_updates(self, params: dict[str, Any]) -> list[dict[str, Any]]:
        if self.webhook is not None:
            raise ApiError(
                409,
                "Conflict: can't use getUpdates method while webhook is active; use deleteWebhook to delete the "
                "webhook first",
            )
        offset = int(params.get("offset", 0))
        limit = min(max(int(params.get("limit", 100)), 1), 100)
        timeout = max(int(params.get("timeout", 0)), 0)
        if "allowed_updates" in params:
            self.allowed_updates = [str(kind) for kind in params["allowed_updates"]] or None
        if offset > 0:
            self.pending = [u for u in self.pending if u.update_id >= offset]
        elif offset < 0:
            self.pending = self.pending[offset:]
        # Telegram confirms updates of unwanted types too, so they never block the queue.
        self.pending = self._deliverable()
        self._poll_generation += 1
        generation = self._poll_generation
        self.notifier.changed()  # an earlier long poll of this bot learns it has been superseded

        def ready() -> bool:
            return (
                bool(self.pending)
                or self.closing
                or self.webhook is not None
                or self._poll_generation != generation
            )

        if timeout and not ready():
            await self.notifier.wait_for(ready, timeout)
        if self._poll_generation != generation:
            raise ApiError(
                409,
                "Conflict: terminated by other getUpdates request; make sure that only one bot instance is running",
            )
        if self.webhook is not None:
            return []  # a webhook was set while this poll waited; its updates go there now
        return [u.to_dict() for u in self._deliverable()[:limit]]

    def set_webhook(self, params: dict[str, Any]) -> bool:
        url = str(params["url"])
        if url == "":
            return self.delete_webhook(params)
        if not url.lower().startswith(("http://", "https://")):
            # The real API wants HTTPS; plain HTTP is allowed here so tests can serve a webhook locally.
            raise bad_request("bad webhook: An HTTPS URL must be provided for webhook")
        secret = params.get("secret_token")
        if secret is not None and not (
            1 <= len(secret) <= 256 and all(c.isalnum() or c in "_-" for c in secret)
        ):
            raise bad_request("secret token contains unallowed characters")
        max_connections = int(params.get("max_connections", 40))
        if not 1 <= max_connections <= 100:
            raise bad_request("max_connections must be between 1 and 100")
        allowed = params.get("allowed_updates")
        if params.get("drop_pending_updates"):
            self.pending.clear()
        self.webhook = Webhook(
            url=url,
            secret_token=secret,
            max_connections=max_connections,
            allowed_updates=[str(kind) for kind in allowed] or None if allowed is not None else None,
            ip_address=params.get("ip_address"),
        )
        self.notifier.changed()  # a long poll still waiting must not keep serving updates
        self._on_update(self)
        return True

    def delete_webhook(self, params: dict[str, Any]) -> bool:
        if params.get("drop_pending_updates"):
            self.pending.clear()
        self.webhook = None
        return True

    def get_webhook_info(self, _params: dict[str, Any]) -> dict[str, Any]:
        info: dict[str, Any] = {
            "url": self.webhook.url if self.webhook else "",
            "has_custom_certificate": False,
            "pending_update_count": len(self.pending),
        }
        if self.webhook is not None:
            info["max_connections"] = self.webhook.max_connections
            if self.webhook.allowed_updates:
                info["allowed_updates"] = list(self.webhook.allowed_updates)
            if self.webhook.ip_address:
                info["ip_address"] = self.webhook.ip_address
            if self.webhook.last_error_date is not None:
                info["last_error_date"] = self.webhook.last_error_date
                info["last_error_message"] = self.webhook.last_error_message
        return info

    def _reply_content(self, chat: ChatState, params: dict[str, Any]) -> dict[str, Any]:
        """reply_markup and reply_parameters, common to every send method."""
        content: dict[str, Any] = {}
        reply = params.get("reply_parameters")
        if reply is not None:
            target_id = reply.get("message_id")
            target_chat = self._find_chat(reply["chat_id"]) if "chat_id" in reply else chat
            target = target_chat.messages.get(target_id) if isinstance(target_id, int) else None
            if target is None or target.deleted:
                if not reply.get("allow_sending_without_reply"):
                    raise bad_request("message to be replied not found")
            else:
                content["reply_to_message"] = copy.deepcopy(target.message)
        return content

    def _markup(self, params: dict[str, Any]) -> tuple[dict[str, Any] | None, dict[str, Any] | None]:
        """(inline markup echoed in the Message, other keyboard kept for inspection)."""
        markup = params.get("reply_markup")
        if markup is None:
            return None, None
        markup = validation.check_reply_markup(markup)
        if "inline_keyboard" in markup:
            return markup, None
        return None, markup

    def _send(
        self, method: str, chat: ChatState, params: dict[str, Any], content: dict[str, Any]
    ) -> dict[str, Any]:
        inline, keyboard = self._markup(params)
        content.update(self._reply_content(chat, params))
        if inline is not None:
            content["reply_markup"] = inline
        self._check_rate(method, chat.id)
        stored = self._store_message(chat, content, from_bot=True, sender=self.user_dict())
        stored.keyboard = keyboard
        return copy.deepcopy(stored.message)

    def send_message(self, params: dict[str, Any]) -> dict[str, Any]:
        chat = self._chat_for_send(params["chat_id"])
        text, entities = validation.check_text(
            params["text"], params.get("parse_mode"), params.get("entities")
        )
        content: dict[str, Any] = {"text": text}
        if entities:
            content["entities"] = entities
        return self._send("sendMessage", chat, params, content)

    def _caption(self, params: dict[str, Any]) -> dict[str, Any]:
        if "caption" not in params:
            return {}
        caption, entities = validation.check_text(
            params["caption"], params.get("parse_mode"), params.get("caption_entities"), caption=True
        )
        content: dict[str, Any] = {}
        if caption:
            content["caption"] = caption
        if entities:
            content["caption_entities"] = entities
        return content

    def _input_file(self, value: object, kind: str) -> UploadedFile | StoredFile:
        if isinstance(value, UploadedFile):
            if not value.data:
                raise bad_request("file must be non-empty")
            return value
        text = str(value)
        if text.lower().startswith(("http://", "https://")):
            # The emulator never fetches from the network.
            raise bad_request("failed to get HTTP URL content")
        stored = self.files.get(text)
        if stored is None:
            raise bad_request("wrong file identifier/HTTP URL specified")
        if (stored.kind == "photo") != (kind == "photo"):
            raise bad_request(f"can't use file of type {stored.kind.title()} as {kind.title()}")
        return stored

    def send_document(self, params: dict[str, Any]) -> dict[str, Any]:
        chat = self._chat_for_send(params["chat_id"])
        source = self._input_file(params["document"], "document")
        content = self._caption(params)
        if isinstance(source, UploadedFile):
            source = self._new_file(
                "document",
                source.data,
                mime_type=source.content_type or "application/octet-stream",
                file_name=source.filename or "document",
            )
        content["document"] = self._document_dict(source)
        return self._send("sendDocument", chat, params, content)

    def send_photo(self, params: dict[str, Any]) -> dict[str, Any]:
        chat = self._chat_for_send(params["chat_id"])
        source = self._input_file(params["photo"], "photo")
        content = self._caption(params)
        if isinstance(source, UploadedFile):
            content["photo"] = self._photo_sizes(source.data)
        else:
            # Resending by file_id refers to the file already stored; no new sizes are made.
            content["photo"] = [
                {
                    "file_id": source.file_id,
                    "file_unique_id": source.file_unique_id,
                    "file_size": source.size,
                    "width": source.width or 1280,
                    "height": source.height or 960,
                }
            ]
        if params.get("has_spoiler"):
            content["has_media_spoiler"] = True
        return self._send("sendPhoto", chat, params, content)

    def edit_message_text(self, params: dict[str, Any]) -> dict[str, Any]:
        if "rich_message" in params and "text" not in params:
            raise bad_request("rich messages are not supported by the emulator")
        chat, stored = self._message_target(params)
        text, entities = validation.check_text(
            params.get("text"), params.get("parse_mode"), params.get("entities")
        )
        markup = params.get("reply_markup")
        if markup is not None:
            markup = validation.check_reply_markup(markup, inline_only=True)
        message = stored.message
        if "text" not in message:
            raise bad_request("there is no text in the message to edit")
        if (
            message["text"] == text
            and message.get("entities", []) == entities
            and message.get("reply_markup") == markup
        ):
            raise bad_request(_NOT_MODIFIED)
        message["text"] = text
        _set_or_drop(message, "entities", entities or None)
        # Editing the text without reply_markup removes the inline keyboard, as in Telegram.
        _set_or_drop(message, "reply_markup", markup)
        message["edit_date"] = self.timestamp()
        chat.revision += 1
        return copy.deepcopy(message)

    def edit_message_reply_markup(self, params: dict[str, Any]) -> dict[str, Any]:
        chat, stored = self._message_target(params)
        markup = params.get("reply_markup")
        if markup is not None:
            markup = validation.check_reply_markup(markup, inline_only=True)
            if not markup["inline_keyboard"]:
                markup = None
        message = stored.message
        if message.get("reply_markup") == markup:
            raise bad_request(_NOT_MODIFIED)
        _set_or_drop(message, "reply_markup", markup)
        message["edit_date"] = self.timestamp()
        chat.revision += 1
        return copy.deepcopy(message)

    def answer_callback_query(self, params: dict[str, Any]) -> bool:
        record = self.callback_queries.get(params["callback_query_id"])
        if record is None or record.answered or self.now() - record.created_at > CALLBACK_QUERY_LIFETIME:
            raise bad_request("query is too old and response timeout expired or query ID is invalid")
        text = params.get("text")
        if text is not None and len(text) > validation.MAX_CALLBACK_ANSWER_TEXT:
            raise bad_request("MESSAGE_TOO_LONG")
        record.answered = True
        record.answer = {
            "text": text,
            "show_alert": bool(params.get("show_alert", False)),
            "url": params.get("url"),
            "cache_time": params.get("cache_time"),
        }
        return True

    def _delete_one(self, chat: ChatState, message_id: object) -> None:
        stored = chat.messages.get(message_id) if isinstance(message_id, int) else None
        if stored is None or stored.deleted:
            raise bad_request("message to delete not found")
        if self.now() - stored.sent_at >= DELETE_WINDOW:
            raise bad_request("message can't be deleted for everyone")
        if not stored.from_bot and not chat.private:
            raise bad_request("message can't be deleted")  # the bot is no admin in the groups it sees
        stored.deleted = True
        chat.revision += 1

    def delete_message(self, params: dict[str, Any]) -> bool:
        chat = self._find_chat(params["chat_id"])
        self._delete_one(chat, params["message_id"])
        return True

    def delete_messages(self, params: dict[str, Any]) -> bool:
        chat = self._find_chat(params["chat_id"])
        message_ids = params["message_ids"]
        if not message_ids:
            raise bad_request("message identifiers are not specified")
        if len(message_ids) > 100:
            raise bad_request("too many message identifiers specified")
        for message_id in message_ids:
            try:
                self._delete_one(chat, message_id)
            except ApiError:
                continue  # Telegram skips messages it cannot delete
        return True

    def send_chat_action(self, params: dict[str, Any]) -> bool:
        chat = self._chat_for_send(params["chat_id"])
        if params["action"] not in validation.CHAT_ACTIONS:
            raise bad_request("wrong parameter action in request")
        self.chat_actions.append((chat.id, params["action"]))
        return True

    def get_file(self, params: dict[str, Any]) -> dict[str, Any]:
        stored = self.files.get(params["file_id"])
        if stored is None:
            raise bad_request("invalid file_id")
        if stored.size > MAX_DOWNLOAD:
            raise bad_request("file is too big")
        return {
            "file_id": stored.file_id,
            "file_unique_id": stored.file_unique_id,
            "file_size": stored.size,
            "file_path": stored.file_path,
        }

    def set_my_commands(self, params: dict[str, Any]) -> bool:
        commands = validation.check_commands(params["commands"])
        self.commands_by_scope[validation.scope_key(params.get("scope"), params.get("language_code"))] = (
            commands
        )
        return True

    def get_my_commands(self, params: dict[str, Any]) -> list[dict[str, str]]:
        key = validation.scope_key(params.get("scope"), params.get("language_code"))
        return copy.deepcopy(self.commands_by_scope.get(key, []))

    def delete_my_commands(self, params: dict[str, Any]) -> bool:
        self.commands_by_scope.pop(
            validation.scope_key(params.get("scope"), params.get("language_code")), None
        )
        return True

    def set_my_description(self, params: dict[str, Any]) -> bool:
        _set_text(self.descriptions, params, "description", 512)
        return True

    def get_my_description(self, params: dict[str, Any]) -> dict[str, str]:
        return {"description": _get_text(self.descriptions, params)}

    def set_my_short_description(self, params: dict[str, Any]) -> bool:
        _set_text(self.short_descriptions, params, "short_description", 120)
        return True

    def get_my_short_description(self, params: dict[str, Any]) -> dict[str, str]:
        return {"short_description": _get_text(self.short_descriptions, params)}

    def leave_chat(self, params: dict[str, Any]) -> bool:
        chat = self._find_chat(params["chat_id"])
        if chat.private:
            raise bad_request("chat member status can't be changed in private chats")
        if chat.left:
            raise ApiError(403, NOT_A_MEMBER)
        chat.left = True
        self.left_chats.add(chat.id)
        # Telegram tells the bot of its own change of membership, as it does when it is added.
        self._queue(
            "my_chat_member",
            {
                "chat": copy.deepcopy(chat.chat),
                "from": self.user_dict(),
                "date": self.timestamp(),
                "old_chat_member": self._bot_member(chat),
                "new_chat_member": {"status": "left", "user": self.user_dict()},
            },
            chat.id,
        )
        return True

    def close(self, _params: dict[str, Any]) -> bool:
        return True

    def log_out(self, _params: dict[str, Any]) -> bool:
        return True

    async def call(self, method: str, params: dict[str, Any]) -> Any:
        result = self.handlers[method](params)
        if inspect.isawaitable(result):
            result = await result
        return result

    # --- user actions -------------------------------------------------------------------------------------

    def _from_user(self, user: FakeUser | int, content: dict[str, Any]) -> dict[str, Any]:
        person = self.resolve_user(user)
        chat = self._private_chat(person)
        # Writing to a bot one has blocked goes through "Restart", which unblocks it.
        chat.blocked = False
        stored = self._store_message(chat, content, from_bot=False, sender=person.to_dict())
        self._queue("message", stored.message, chat.id)
        self.notifier.changed()
        return copy.deepcopy(stored.message)

    def send_text(
        self, user: FakeUser | int, text: str, *, reply_to_message_id: int | None = None
    ) -> dict[str, Any]:
        content: dict[str, Any] = {"text": text}
        if text.startswith("/"):
            command = text.split(maxsplit=1)[0]
            content["entities"] = [
                {"type": "bot_command", "offset": 0, "length": validation.utf16_len(command)}
            ]
        if reply_to_message_id is not None:
            chat = self._private_chat(self.resolve_user(user))
            target = chat.messages.get(reply_to_message_id)
            if target is None or target.deleted:
                raise LookupError(f"no message {reply_to_message_id} to reply to")
            content["reply_to_message"] = copy.deepcopy(target.message)
        return self._from_user(user, content)

    def send_photo_from(
        self, user: FakeUser | int, data: bytes, *, caption: str | None = None
    ) -> dict[str, Any]:
        content: dict[str, Any] = {"photo": self._photo_sizes(data)}
        if caption is not None:
            content["caption"] = caption
        return self._from_user(user, content)

    def send_document_from(
        self, user: FakeUser | int, data: bytes, *, filename: str, mime_type: str, caption: str | None = None
    ) -> dict[str, Any]:
        stored = self._new_file("document", data, mime_type=mime_type, file_name=filename)
        content: dict[str, Any] = {"document": self._document_dict(stored)}
        if caption is not None:
            content["caption"] = caption
        return self._from_user(user, content)

    def send_voice_from(self, user: FakeUser | int, data: bytes, *, duration: int = 3) -> dict[str, Any]:
        stored = self._new_file("voice", data, mime_type="audio/ogg")
        voice = {
            "file_id": stored.file_id,
            "file_unique_id": stored.file_unique_id,
            "duration": duration,
            "mime_type": "audio/ogg",
            "file_size": stored.size,
        }
        return self._from_user(user, {"voice": voice})

    def send_sticker_from(self, user: FakeUser | int) -> dict[str, Any]:
        stored = self._new_file(
            "sticker", b"RIFF\x00\x00\x00\x00WEBPVP8 ", mime_type="image/webp", width=512, height=512
        )
        sticker = {
            "file_id": stored.file_id,
            "file_unique_id": stored.file_unique_id,
            "type": "regular",
            "width": 512,
            "height": 512,
            "is_animated": False,
            "is_video": False,
            "emoji": "\N{THUMBS UP SIGN}",
            "file_size": stored.size,
        }
        return self._from_user(user, {"sticker": sticker})

    def send_location_from(self, user: FakeUser | int, lat: float, lon: float) -> dict[str, Any]:
        return self._from_user(user, {"location": {"latitude": lat, "longitude": lon}})

    def send_contact_from(self, user: FakeUser | int, phone: str, first_name: str) -> dict[str, Any]:
        return self._from_user(user, {"contact": {"phone_number": phone, "first_name": first_name}})

    def send_poll_from(self, user: FakeUser | int, question: str, options: list[str]) -> dict[str, Any]:
        poll = {
            "id": str(secrets.randbits(63)),
            "question": question,
            "options": [
                {"persistent_id": secrets.token_hex(4), "text": option, "voter_count": 0}
                for option in options
            ],
            "total_voter_count": 0,
            "is_closed": False,
            "is_anonymous": True,
            "type": "regular",
            "allows_multiple_answers": False,
            "allows_revoting": False,
            "members_only": False,
        }
        return self._from_user(user, {"poll": poll})

    def send_forwarded_from(
        self, user: FakeUser | int, text: str, *, origin_name: str = "Someone"
    ) -> dict[str, Any]:
        origin = {"type": "hidden_user", "date": self.timestamp(), "sender_user_name": origin_name}
        return self._from_user(user, {"text": text, "forward_origin": origin})

    def edit_text_from(self, user: FakeUser | int, message_id: int, new_text: str) -> dict[str, Any]:
        person = self.resolve_user(user)
        chat = self._private_chat(person)
        stored = chat.messages.get(message_id)
        if stored is None or stored.deleted or stored.from_bot or "text" not in stored.message:
            raise LookupError(f"no text message {message_id} from user {person.user_id} to edit")
        stored.message["text"] = new_text
        stored.message.pop("entities", None)
        stored.message["edit_date"] = self.timestamp()
        self._queue("edited_message", stored.message, chat.id)
        self.notifier.changed()
        return copy.deepcopy(stored.message)

    def press_button(
        self,
        user: FakeUser | int,
        message_id: int,
        callback_data: str,
        *,
        forged: bool = False,
        chat_id: int | None = None,
    ) -> str:
        """Press a button of a bot message in the user's private chat, or (`chat_id`) in a group they are in."""
        person = self.resolve_user(user)
        if chat_id is None:
            chat = self._private_chat(person)
        elif chat_id in self.chats and not self.chats[chat_id].private:
            chat = self.chats[chat_id]
        else:
            raise LookupError(f"no group chat {chat_id}")
        stored = chat.messages.get(message_id)
        visible = stored if stored is not None and not stored.deleted and stored.from_bot else None
        if not forged:
            if visible is None:
                raise LookupError(f"no bot message {message_id} in the chat of user {person.user_id}")
            if callback_data not in validation.callback_data_of(visible.message.get("reply_markup")):
                raise LookupError(f"message {message_id} has no button with callback_data {callback_data!r}")
        if visible is not None:
            message = copy.deepcopy(visible.message)
        else:
            # What Telegram sends for a message the bot can no longer see.
            message = {"chat": copy.deepcopy(chat.chat), "message_id": message_id, "date": 0}
        query_id = str(secrets.randbits(63))
        self.callback_queries[query_id] = CallbackQueryRecord(
            query_id=query_id,
            chat_id=chat.id,
            message_id=message_id,
            data=callback_data,
            created_at=self.now(),
        )
        payload = {
            "id": query_id,
            "from": person.to_dict(),
            "message": message,
            "chat_instance": chat.chat_instance,
            "data": callback_data,
        }
        self._queue("callback_query", payload, chat.id)
        self.notifier.changed()
        return query_id

    def send_in_group(
        self, user: FakeUser | int, group_id: int, text: str, *, title: str = "Station chat"
    ) -> dict[str, Any]:
        if group_id >= 0:
            raise ValueError("group chat ids are negative in Telegram")
        person = self.resolve_user(user)
        chat = self.chats.get(group_id) or self._new_chat({"id": group_id, "type": "group", "title": title})
        content: dict[str, Any] = {"text": text}
        if text.startswith("/"):
            command = text.split(maxsplit=1)[0]
            content["entities"] = [
                {"type": "bot_command", "offset": 0, "length": validation.utf16_len(command)}
            ]
        stored = self._store_message(chat, content, from_bot=False, sender=person.to_dict())
        if not chat.left:
            self._queue("message", stored.message, chat.id)
        self.notifier.changed()
        return copy.deepcopy(stored.message)

    def _group_chat(self, chat_id: int, chat_type: str, title: str) -> ChatState:
        if chat_id >= 0:
            raise ValueError("group and channel chat ids are negative in Telegram")
        if chat_type not in ("group", "supergroup", "channel"):
            raise ValueError(f"not a group or channel type: {chat_type!r}")
        known = self.chats.get(chat_id)
        if known is not None:
            if known.private or known.chat["type"] != chat_type:
                raise ValueError(f"chat {chat_id} is already a {known.chat['type']} chat")
            return known
        return self._new_chat({"id": chat_id, "type": chat_type, "title": title})

    def chat_with_bot(self, chat_id: int, *, chat_type: str = "group", title: str = "Station chat") -> None:
        """A group, supergroup or channel the bot is already in, with no update about it (as when it was
        added while the bot was not running, or before it left groups on being added)."""
        self._group_chat(chat_id, chat_type, title).left = False
        self.left_chats.discard(chat_id)

    def _bot_member(self, chat: ChatState) -> dict[str, Any]:
        """The bot's ChatMember in a chat it is in: an administrator in a channel (bots join channels only
        as administrators), a member elsewhere unless made an administrator."""
        if chat.chat["type"] == "channel" or chat.bot_admin:
            rights = dict.fromkeys(_ADMIN_RIGHTS, False)
            rights["can_manage_chat"] = True
            if chat.chat["type"] == "channel":
                rights["can_post_messages"] = True
            return {"status": "administrator", "user": self.user_dict(), **rights}
        return {"status": "member", "user": self.user_dict()}

    def add_bot_to_chat(
        self,
        user: FakeUser | int,
        chat_id: int,
        *,
        chat_type: str = "group",
        title: str = "Station chat",
        as_admin: bool = False,
    ) -> dict[str, Any]:
        """The user adds the bot to a group, supergroup or channel: the bot gets a my_chat_member update."""
        person = self.resolve_user(user)
        chat = self._group_chat(chat_id, chat_type, title)
        chat.left, chat.bot_admin = False, as_admin
        self.left_chats.discard(chat.id)
        change = {
            "chat": copy.deepcopy(chat.chat),
            "from": person.to_dict(),
            "date": self.timestamp(),
            "old_chat_member": {"status": "left", "user": self.user_dict()},
            "new_chat_member": self._bot_member(chat),
        }
        self._queue("my_chat_member", change, chat.id)
        self.notifier.changed()
        return copy.deepcopy(change)

    def post_in_channel(self, channel_id: int, text: str, *, title: str = "Station news") -> dict[str, Any]:
        """A post in a channel the bot administers (a channel_post update), signed by the channel."""
        chat = self._group_chat(channel_id, "channel", title)
        stored = self._store_message(chat, {"text": text}, from_bot=False, sender={})
        del stored.message["from"]  # channel posts have no sender user, only the chat
        stored.message["sender_chat"] = copy.deepcopy(chat.chat)
        if not chat.left:
            self._queue("channel_post", stored.message, chat.id)
        self.notifier.changed()
        return copy.deepcopy(stored.message)

    def deliver(self, kind: str, payload: dict[str, Any], *, chat_id: int = 0) -> int:
        """Queue an update of any type the Bot API defines, its payload made by the caller (for update types
        the user actions above do not make); returns its update_id."""
        if kind not in UPDATE_FIELDS:
            raise ValueError(f"the Bot API has no update field {kind!r}")
        self._queue(kind, payload, chat_id)
        self.notifier.changed()
        return self.next_update_id - 1

    def deliver_again(self, update_id: int) -> None:
        """Give an update once more, with the same update_id, as Telegram does with one the bot did not
        confirm: the bot stopped (crashed) before its next getUpdates, or its webhook did not answer.
        Over getUpdates, call it once the bot has stopped: a running poller has confirmed what it got."""
        original = self.history.get(update_id)
        if original is None:
            raise LookupError(f"no update {update_id} was made")
        if all(u.update_id != update_id for u in self.pending):
            again = PendingUpdate(
                original.update_id, original.kind, copy.deepcopy(original.payload), original.chat_id
            )
            self.pending.append(again)
            self.pending.sort(key=lambda u: u.update_id)
        self._on_update(self)
        self.notifier.changed()

    def block_bot(self, user: FakeUser | int, *, blocked: bool = True) -> None:
        self._private_chat(self.resolve_user(user)).blocked = blocked
        self.notifier.changed()

    # --- inspection -----------------------------------------------------------------------------------

    def chat(self, chat_id: int) -> list[dict[str, Any]]:
        state = self.chats.get(chat_id)
        if state is None:
            return []
        entries = []
        for stored in state.messages.values():
            entry = copy.deepcopy(stored.message)
            entry["from_bot"] = stored.from_bot
            entry["deleted"] = stored.deleted
            if stored.keyboard is not None:
                entry["keyboard"] = copy.deepcopy(stored.keyboard)
            entries.append(entry)
        return entries

    def bot_messages(self, chat_id: int, *, include_deleted: bool = False) -> list[dict[str, Any]]:
        return [m for m in self.chat(chat_id) if m["from_bot"] and (include_deleted or not m["deleted"])]

    def chat_revision(self, chat_id: int) -> int:
        """How many changes the bot has made to the chat so far (see ChatState.revision)."""
        state = self.chats.get(chat_id)
        return 0 if state is None else state.revision

    def bot_message_count(self, chat_id: int) -> int:
        state = self.chats.get(chat_id)
        return 0 if state is None else sum(1 for m in state.messages.values() if m.from_bot)

    def deleted_ids(self, chat_id: int) -> set[int]:
        state = self.chats.get(chat_id)
        return set() if state is None else {i for i, m in state.messages.items() if m.deleted}

    def transcript(self, chat_id: int) -> str:
        lines = []
        for entry in self.chat(chat_id):
            who = "bot " if entry["from_bot"] else "user"
            body = entry.get("text") or entry.get("caption") or ""
            for kind in ("photo", "document", "voice", "sticker", "location", "contact", "poll"):
                if kind in entry:
                    name = entry[kind].get("file_name", "") if isinstance(entry[kind], dict) else ""
                    body = f"[{kind}{' ' + name if name else ''}] {body}".rstrip()
            if "reply_markup" in entry:
                labels = [b.get("text") for row in entry["reply_markup"]["inline_keyboard"] for b in row]
                body += f" {labels}"
            flag = " (deleted)" if entry["deleted"] else ""
            lines.append(f"  #{entry['message_id']} {who}{flag}: {body}")
        return "\n".join(lines) or "  (no messages)"

    @property
    def commands(self) -> list[dict[str, str]]:
        return copy.deepcopy(self.commands_by_scope.get(validation.scope_key(None, None), []))


def _set_text(table: dict[str, str], params: dict[str, Any], field: str, limit: int) -> None:
    """Store a description for one language code, or remove it when empty (as Telegram does)."""
    language = validation.check_language_code(params.get("language_code"))
    text = params.get(field) or ""
    if len(text) > limit:
        raise bad_request(f"{field.upper()}_INVALID")
    if text:
        table[language] = text
    else:
        table.pop(language, None)


def _get_text(table: dict[str, str], params: dict[str, Any]) -> str:
    """The description a user of that language code sees: its own, else the one for every language."""
    language = validation.check_language_code(params.get("language_code"))
    return table.get(language, table.get("", ""))


_NOT_MODIFIED = (
    "message is not modified: specified new message content and reply markup are exactly the same as a current "
    "content and reply markup of the message"
)


def _set_or_drop(target: dict[str, Any], key: str, value: object) -> None:
    if value is None:
        target.pop(key, None)
    else:
        target[key] = value


def _extension(file_name: str | None, mime_type: str | None, kind: str) -> str:
    if file_name and "." in file_name:
        suffix = "." + file_name.rsplit(".", 1)[1].lower()
        if suffix[1:].isalnum() and len(suffix) <= 9:
            return suffix
    known = {"image/jpeg": ".jpg", "image/png": ".png", "application/pdf": ".pdf", "audio/ogg": ".oga"}
    return known.get(mime_type or "", {"photo": ".jpg", "sticker": ".webp", "voice": ".oga"}.get(kind, ""))


def _image_size(data: bytes) -> tuple[int, int]:
    """The picture's pixel size if Pillow can read it; a plausible phone photo's otherwise."""
    try:
        from PIL import Image

        with Image.open(io.BytesIO(data)) as image:
            return int(image.width), int(image.height)
    except Exception:
        return 1280, 960
