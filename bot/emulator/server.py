"""The emulator itself: an ASGI app that answers the Bot API over real HTTP, as Telegram's servers do, with
the user-side actions and inspection helpers tests drive it with, and an embedded uvicorn server.

Point python-telegram-bot at it with `base_url`/`base_file_url`; the bot then talks HTTP to this process
instead of api.telegram.org, so tests and sandboxes never reach Telegram.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import re
import socket
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from types import TracebackType
from typing import Any
from urllib.parse import parse_qsl, unquote

import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Mount, Route

from bot.emulator import control, validation
from bot.emulator.state import BotState, FakeUser, Limits, Notifier
from bot.emulator.validation import ApiError, UploadedFile, bad_request
from bot.emulator.webhook import WebhookDispatcher

MAX_REQUEST_BYTES = 50 * 1024 * 1024  # Telegram's upload limit for bots
_BOUNDARY = re.compile(r'boundary="?([^";]+)"?', re.IGNORECASE)
_HEADER_PARAM = re.compile(r';\s*([A-Za-z0-9_*-]+)\s*=\s*(?:"((?:[^"\\]|\\.)*)"|([^;]*))')


class _EmbeddedServer(uvicorn.Server):
    """uvicorn run inside a host process (pytest, a sandbox) that owns Ctrl+C, and quick to stop.

    Why the overrides: tests start and stop an emulator per test, and uvicorn's own main loop and shutdown
    poll in 0.1 s steps (about 0.2 s per stop); here exit is an event and shutdown waits in small steps.
    """

    def __init__(self, config: uvicorn.Config) -> None:
        super().__init__(config)
        self._exit: asyncio.Event | None = None

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        yield

    async def main_loop(self) -> None:
        self._exit = asyncio.Event()
        ticks = 0
        # Every on_tick call with a multiple of 10 refreshes the Date header, so refresh once a second.
        while not await self.on_tick(ticks):
            ticks = (ticks + 10) % 864_000
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._exit.wait(), 1.0)

    def request_exit(self) -> None:
        self.should_exit = True
        if self._exit is not None:
            self._exit.set()

    async def shutdown(self, sockets: list[socket.socket] | None = None) -> None:
        for server in self.servers:
            server.close()
        for sock in sockets or []:
            sock.close()
        for connection in list(self.server_state.connections):
            connection.shutdown()  # idle keep-alive connections close now, busy ones after their response
        loop = asyncio.get_running_loop()
        deadline = loop.time() + (self.config.timeout_graceful_shutdown or 2)
        # Polling, because uvicorn signals no event when its last connection closes.
        while (self.server_state.connections or self.server_state.tasks) and loop.time() < deadline:  # noqa: ASYNC110
            await asyncio.sleep(0.005)
        for task in self.server_state.tasks:
            task.cancel()
        for server in self.servers:
            await server.wait_closed()
        await self.lifespan.shutdown()


class TelegramEmulator:
    """A local Telegram Bot API for tests and sandboxes.

    User actions and inspection helpers address the first bot added; `bot_state(token)` reaches the others.
    """

    def __init__(
        self,
        *,
        now: Callable[[], datetime] | None = None,
        strict: bool = True,
        per_chat_limit: float | None = None,
        global_limit: float | None = None,
    ) -> None:
        self.now: Callable[[], datetime] = now or (lambda: datetime.now(UTC))
        self.strict = strict
        self.limits = Limits(per_chat=per_chat_limit, overall=global_limit)
        self.users: dict[int, FakeUser] = {}
        self.bots: dict[str, BotState] = {}
        self.calls: list[tuple[str, dict[str, Any]]] = []
        self.errors: list[tuple[str, dict[str, Any], str]] = []
        self.notifier = Notifier()
        self.webhooks = WebhookDispatcher()
        self.closing = False
        self.host = "127.0.0.1"
        self.port: int | None = None
        self._server: _EmbeddedServer | None = None
        self._serve_task: asyncio.Task[None] | None = None
        self.app = Starlette(
            routes=[
                Route("/bot{token}/{method}", self._api, methods=["GET", "POST"]),
                Route("/file/bot{token}/{file_path:path}", self._download, methods=["GET"]),
                Mount("/_emulator", routes=control.routes(self)),
            ]
        )

    # --- set-up -----------------------------------------------------------------------------------------

    def add_bot(
        self,
        token: str,
        *,
        username: str = "candour_bot",
        first_name: str = "Candour",
        allowed_updates: list[str] | None = None,
    ) -> int:
        """Register a bot token; returns the bot's user id (the token's numeric prefix, as in Telegram).

        `allowed_updates` is the setting Telegram already holds for the token, left by an earlier
        getUpdates or setWebhook (of another program, or an older deployment); Telegram keeps it until a
        call names the parameter again. None: the default, every type."""
        if token in self.bots:
            raise ValueError("this token is already registered")
        prefix = token.split(":", 1)[0]
        bot_id = int(prefix) if prefix.isdigit() else 7_000_000_000 + len(self.bots) + 1
        self.bots[token] = BotState(
            token=token,
            bot_id=bot_id,
            username=username,
            first_name=first_name,
            users=self.users,
            now=self.now,
            notifier=self.notifier,
            limits=self.limits,
            on_update=self._on_update,
        )
        self.bots[token].allowed_updates = list(allowed_updates) if allowed_updates else None
        return bot_id

    def add_user(
        self,
        *,
        user_id: int,
        first_name: str,
        last_name: str | None = None,
        username: str | None = None,
        language_code: str | None = "en",
    ) -> FakeUser:
        if user_id <= 0:
            raise ValueError("user ids are positive")
        if user_id in self.users:
            raise ValueError(f"user {user_id} already exists")
        user = FakeUser(user_id, first_name, last_name, username, language_code)
        self.users[user_id] = user
        return user

    def bot_state(self, token: str | None = None) -> BotState:
        if token is not None:
            return self.bots[token]
        if not self.bots:
            raise RuntimeError("no bot registered: call add_bot(token) first")
        return next(iter(self.bots.values()))

    def _on_update(self, bot: BotState) -> None:
        self.webhooks.kick(bot)

    # --- user actions (first bot) -------------------------------------------------------------------------

    def send_text(
        self, user: FakeUser | int, text: str, *, reply_to_message_id: int | None = None
    ) -> dict[str, Any]:
        return self.bot_state().send_text(user, text, reply_to_message_id=reply_to_message_id)

    def send_photo(self, user: FakeUser | int, data: bytes, *, caption: str | None = None) -> dict[str, Any]:
        return self.bot_state().send_photo_from(user, data, caption=caption)

    def send_document(
        self, user: FakeUser | int, data: bytes, *, filename: str, mime_type: str, caption: str | None = None
    ) -> dict[str, Any]:
        return self.bot_state().send_document_from(
            user, data, filename=filename, mime_type=mime_type, caption=caption
        )

    def send_voice(self, user: FakeUser | int, data: bytes, *, duration: int = 3) -> dict[str, Any]:
        return self.bot_state().send_voice_from(user, data, duration=duration)

    def send_sticker(self, user: FakeUser | int) -> dict[str, Any]:
        return self.bot_state().send_sticker_from(user)

    def send_location(self, user: FakeUser | int, lat: float, lon: float) -> dict[str, Any]:
        return self.bot_state().send_location_from(user, lat, lon)

    def send_contact(self, user: FakeUser | int, phone: str, first_name: str) -> dict[str, Any]:
        return self.bot_state().send_contact_from(user, phone, first_name)

    def send_poll(self, user: FakeUser | int, question: str, options: list[str]) -> dict[str, Any]:
        return self.bot_state().send_poll_from(user, question, options)

    def send_forwarded(
        self, user: FakeUser | int, text: str, *, origin_name: str = "Someone"
    ) -> dict[str, Any]:
        return self.bot_state().send_forwarded_from(user, text, origin_name=origin_name)

    def edit_text(self, user: FakeUser | int, message_id: int, new_text: str) -> dict[str, Any]:
        return self.bot_state().edit_text_from(user, message_id, new_text)

    def press_button(
        self,
        user: FakeUser | int,
        message_id: int,
        callback_data: str,
        *,
        forged: bool = False,
        chat_id: int | None = None,
    ) -> str:
        return self.bot_state().press_button(user, message_id, callback_data, forged=forged, chat_id=chat_id)

    def add_bot_to_chat(
        self,
        user: FakeUser | int,
        chat_id: int,
        *,
        chat_type: str = "group",
        title: str = "Station chat",
        as_admin: bool = False,
    ) -> dict[str, Any]:
        return self.bot_state().add_bot_to_chat(
            user, chat_id, chat_type=chat_type, title=title, as_admin=as_admin
        )

    def chat_with_bot(self, chat_id: int, *, chat_type: str = "group", title: str = "Station chat") -> None:
        self.bot_state().chat_with_bot(chat_id, chat_type=chat_type, title=title)

    def post_in_channel(self, channel_id: int, text: str, *, title: str = "Station news") -> dict[str, Any]:
        return self.bot_state().post_in_channel(channel_id, text, title=title)

    def deliver(self, kind: str, payload: dict[str, Any], *, chat_id: int = 0) -> int:
        return self.bot_state().deliver(kind, payload, chat_id=chat_id)

    def deliver_again(self, update_id: int) -> None:
        self.bot_state().deliver_again(update_id)

    def send_in_group(
        self, user: FakeUser | int, group_id: int, text: str, *, title: str = "Station chat"
    ) -> dict[str, Any]:
        return self.bot_state().send_in_group(user, group_id, text, title=title)

    def block_bot(self, user: FakeUser | int) -> None:
        self.bot_state().block_bot(user)

    def unblock_bot(self, user: FakeUser | int) -> None:
        self.bot_state().block_bot(user, blocked=False)

    # --- inspection (first bot) -------------------------------------------------------------------------

    def chat(self, chat_id: int) -> list[dict[str, Any]]:
        return self.bot_state().chat(chat_id)

    def bot_messages(self, chat_id: int, *, include_deleted: bool = False) -> list[dict[str, Any]]:
        return self.bot_state().bot_messages(chat_id, include_deleted=include_deleted)

    def deleted_ids(self, chat_id: int) -> set[int]:
        return self.bot_state().deleted_ids(chat_id)

    @property
    def left_chats(self) -> set[int]:
        return self.bot_state().left_chats

    @property
    def commands(self) -> list[dict[str, str]]:
        return self.bot_state().commands

    @property
    def callback_answers(self) -> dict[str, dict[str, Any] | None]:
        return {q.query_id: q.answer for q in self.bot_state().callback_queries.values()}

    @property
    def chat_actions(self) -> list[tuple[int, str]]:
        return self.bot_state().chat_actions

    @property
    def rate_limited(self) -> list[tuple[str, int, int]]:
        return self.bot_state().rate_limited

    @property
    def webhook_deliveries(self) -> list[dict[str, Any]]:
        return self.bot_state().webhook_deliveries

    def file_bytes(self, file_id: str) -> bytes:
        return self.bot_state().files[file_id].data

    async def wait_for_bot_messages(
        self,
        chat_id: int,
        count: int,
        *,
        timeout: float = 10,  # noqa: ASYNC109 - the wait's own deadline, which callers read as such
    ) -> list[dict[str, Any]]:
        """Wait until the bot has sent at least `count` messages to the chat, deleted ones included; returns
        them all (each flagged `deleted`)."""
        bot = self.bot_state()
        if not await self.notifier.wait_for(lambda: bot.bot_message_count(chat_id) >= count, timeout):
            raise TimeoutError(
                f"the bot sent {bot.bot_message_count(chat_id)} of {count} expected messages to chat {chat_id} "
                f"within {timeout} s; transcript:\n{bot.transcript(chat_id)}\nlast errors: {self.errors[-3:]}"
            )
        return bot.bot_messages(chat_id, include_deleted=True)

    async def wait_until(
        self,
        predicate: Callable[[], bool],
        *,
        timeout: float = 10,  # noqa: ASYNC109 - as for wait_for_bot_messages
    ) -> None:
        if not await self.notifier.wait_for(predicate, timeout):
            raise TimeoutError(f"condition not met within {timeout} s; last errors: {self.errors[-3:]}")

    # --- HTTP ---------------------------------------------------------------------------------------------

    async def _api(self, request: Request) -> Response:
        bot = self.bots.get(request.path_params["token"])
        if bot is None:
            return _error(ApiError(401, "Unauthorized"))
        requested = request.path_params["method"]
        method = validation.lookup(requested)
        name = method.name if method else requested
        params: dict[str, Any] = {}
        try:
            params = await read_params(request)
            if method is None:
                raise ApiError(404, "Not Found")
            params = validation.coerce_params(method, params, strict=self.strict)
        except ApiError as exc:
            self.calls.append((name, params))
            return self._reject(name, params, exc)
        self.calls.append((name, params))
        try:
            if name == "getUpdates" and params.get("timeout"):
                result = await self._long_poll(request, bot, params)
            else:
                result = await bot.call(name, params)
        except _Abandoned:
            return Response(status_code=499)  # nobody is listening any more
        except ApiError as exc:
            return self._reject(name, params, exc)
        self.notifier.changed()
        return JSONResponse({"ok": True, "result": result})

    async def _long_poll(self, request: Request, bot: BotState, params: dict[str, Any]) -> Any:
        """getUpdates that ends quietly when its client hangs up.

        Why: python-telegram-bot stops polling by cancelling its request and then polls once more; without
        this the abandoned poll would be "terminated by other getUpdates request" and look like a second bot
        instance in `errors`.
        """
        poll = asyncio.ensure_future(bot.call("getUpdates", params))
        hangup = asyncio.ensure_future(_client_gone(request))
        try:
            await asyncio.wait({poll, hangup}, return_when=asyncio.FIRST_COMPLETED)
            if poll.done() and isinstance(poll.exception(), ApiError) and not hangup.done():
                # A superseded poll: its client's hang-up may not have been read yet.
                await asyncio.wait({hangup}, timeout=0.05)
            if hangup.done():
                raise _Abandoned
            return poll.result()
        finally:
            for task in (poll, hangup):
                task.cancel()
            await asyncio.gather(poll, hangup, return_exceptions=True)

    def _reject(self, method: str, params: dict[str, Any], exc: ApiError) -> Response:
        self.errors.append((method, params, exc.description))
        self.notifier.changed()
        return _error(exc)

    async def _download(self, request: Request) -> Response:
        bot = self.bots.get(request.path_params["token"])
        stored = bot.files_by_path.get(request.path_params["file_path"]) if bot else None
        if bot is None or stored is None or stored.size > 20 * 1024 * 1024:
            return _error(ApiError(404, "Not Found"))
        return Response(stored.data, media_type=stored.mime_type or "application/octet-stream")

    # --- serving ------------------------------------------------------------------------------------------

    async def start(self, host: str = "127.0.0.1", port: int = 0) -> None:
        """Serve on host:port (0 picks a free port, then exposed as `.port`) from a task on the running loop."""
        if self._serve_task is not None:
            raise RuntimeError("the emulator is already running")
        family = socket.AF_INET6 if ":" in host else socket.AF_INET
        sock = socket.socket(family, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        # Why: answers go out as headers then body; with Nagle on, the body waits for the client's delayed
        # ACK (~40 ms a call). Accepted connections inherit the option on Linux.
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        sock.bind((host, port))
        sock.listen(128)
        self.host = "127.0.0.1" if host in ("0.0.0.0", "") else host  # noqa: S104 - a wildcard bind is reached locally
        self.port = int(sock.getsockname()[1])
        self.closing = False
        config = uvicorn.Config(
            self.app, log_level="warning", access_log=False, lifespan="off", timeout_graceful_shutdown=2
        )
        self._server = _EmbeddedServer(config)
        self._serve_task = asyncio.create_task(self._server.serve(sockets=[sock]))
        while not self._server.started:
            if self._serve_task.done():
                self._serve_task.result()  # raises why it could not start
                raise RuntimeError("the emulator's server stopped while starting")
            await asyncio.sleep(0.005)
        for bot in self.bots.values():
            self.webhooks.kick(bot)

    async def stop(self) -> None:
        """Release waiting long polls, stop webhook delivery, and shut the server down."""
        self.closing = True
        for bot in self.bots.values():
            bot.closing = True
        self.notifier.changed()
        await self.webhooks.close()
        if self._server is not None and self._serve_task is not None:
            self._server.request_exit()
            await self._serve_task
        self._server = None
        self._serve_task = None
        for bot in self.bots.values():
            bot.closing = False

    async def __aenter__(self) -> TelegramEmulator:
        await self.start()
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.stop()

    @property
    def root_url(self) -> str:
        if self.port is None:
            raise RuntimeError("the emulator is not started")
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.port}"

    @property
    def base_url(self) -> str:
        return f"{self.root_url}/bot"

    @property
    def base_file_url(self) -> str:
        return f"{self.root_url}/file/bot"


class _Abandoned(Exception):
    """The client closed the connection before its long poll ended."""


async def _client_gone(request: Request) -> None:
    """Return once the client disconnects (the body is already read, so only the hang-up remains)."""
    while (await request.receive())["type"] != "http.disconnect":
        pass


def _error(exc: ApiError) -> JSONResponse:
    return JSONResponse(exc.to_json(), status_code=exc.error_code)


async def read_params(request: Request) -> dict[str, Any]:
    """Parameters from the query string and the body: JSON, urlencoded form, or multipart with files."""
    params: dict[str, Any] = dict(request.query_params)
    body = await request.body()
    if len(body) > MAX_REQUEST_BYTES:
        raise ApiError(413, "Request Entity Too Large")
    if not body:
        return params
    content_type = request.headers.get("content-type", "")
    mime = content_type.split(";", 1)[0].strip().lower()
    if mime == "application/json":
        try:
            data = json.loads(body)
        except ValueError:
            raise bad_request("can't parse JSON object") from None
        if not isinstance(data, dict):
            raise bad_request("can't parse JSON object")
        params.update(data)
    elif mime == "application/x-www-form-urlencoded":
        try:
            params.update(parse_qsl(body.decode("utf-8"), keep_blank_values=True, strict_parsing=False))
        except UnicodeDecodeError:
            raise bad_request("request body is not UTF-8") from None
    elif mime == "multipart/form-data":
        params.update(parse_multipart(body, content_type))
    return params


def parse_multipart(body: bytes, content_type: str) -> dict[str, Any]:
    """A multipart/form-data body as fields: text parts as str, file parts as UploadedFile.

    Parsed here rather than with python-multipart, which the project does not otherwise need.
    """
    match = _BOUNDARY.search(content_type)
    if match is None:
        raise bad_request("can't parse multipart body: no boundary")
    delimiter = b"\r\n--" + match.group(1).encode("latin-1")
    chunks = (b"\r\n" + body).split(delimiter)
    fields: dict[str, Any] = {}
    for chunk in chunks[1:]:
        if chunk.startswith(b"--"):
            break  # the closing delimiter
        head, separator, data = chunk.removeprefix(b"\r\n").partition(b"\r\n\r\n")
        if not separator:
            raise bad_request("can't parse multipart body: part without headers")
        headers: dict[str, str] = {}
        for line in head.decode("utf-8", errors="replace").split("\r\n"):
            key, _, value = line.partition(":")
            headers[key.strip().lower()] = value.strip()
        disposition = _header_params(headers.get("content-disposition", ""))
        name = disposition.get("name")
        if name is None:
            raise bad_request("can't parse multipart body: part without a name")
        if "filename" in disposition:
            fields[name] = UploadedFile(disposition["filename"], headers.get("content-type"), data)
        else:
            fields[name] = data.decode("utf-8", errors="replace")
    return fields


def _header_params(header: str) -> dict[str, str]:
    params: dict[str, str] = {}
    for match in _HEADER_PARAM.finditer(header):
        key = match.group(1).lower()
        quoted, bare = match.group(2), match.group(3)
        value = quoted.replace('\\"', '"').replace("\\\\", "\\") if quoted is not None else bare.strip()
        if key.endswith("*"):  # RFC 5987: charset''percent-encoded
            key = key[:-1]
            value = unquote(value.split("''", 1)[-1])
        else:
            value = value.replace("%22", '"')  # how httpx and browsers escape quotes in filenames
        params[key] = value
    return params
