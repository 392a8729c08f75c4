"""The control API under /_emulator/: lets another process (a benchmark, the sandbox web page) act as users
and read the chats, over plain HTTP with JSON bodies. Users act on the first bot added.

    POST /_emulator/users                          {user_id, first_name, last_name?, username?, language_code?}
    POST /_emulator/users/{id}/text                {text}
    POST /_emulator/users/{id}/press               {message_id, callback_data, forged?}
    POST /_emulator/users/{id}/photo               {data: base64, caption?}
    POST /_emulator/users/{id}/document            {data: base64, filename, mime_type, caption?}
    POST /_emulator/users/{id}/edit                {message_id, text}
    POST /_emulator/users/{id}/block | /unblock
    GET  /_emulator/chats/{chat_id}/messages?since=N&wait=SECONDS
         long-polls until the bot has sent more than N messages to the chat (deleted ones included), then
         answers with the whole chat; answers anyway when the wait runs out. With changed_after=R instead
         of since, waits until the bot has made more than R changes to the chat (messages sent, edited or
         deleted). Either way the header X-Chat-Revision gives the chat's count of changes.
    GET  /_emulator/files/{file_id}                the stored bytes
    GET  /_emulator/errors                         rejected Bot API calls, most recent last

Answers are {"ok": true, "result": ...} or {"ok": false, "description": ...} with status 400 or 404.
Bind the emulator to localhost: whoever reaches this API can speak as any user.
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

if TYPE_CHECKING:
    from bot.emulator.server import TelegramEmulator

MAX_WAIT = 60.0

Handler = Callable[[Request], Awaitable[Response]]


async def _body(request: Request) -> dict[str, Any]:
    raw = await request.body()
    data = json.loads(raw) if raw else {}
    if not isinstance(data, dict):
        raise ValueError("the body must be a JSON object")
    return data


def _user_id(request: Request) -> int:
    return int(request.path_params["user_id"])


def _fail(description: str, status: int) -> JSONResponse:
    return JSONResponse({"ok": False, "description": description}, status_code=status)


def _guarded(action: Callable[[Request], Awaitable[Any]]) -> Handler:
    """Turn a caller's mistakes (unknown user, bad JSON, missing field) into an answer that says which."""

    async def handler(request: Request) -> Response:
        try:
            result = await action(request)
        except KeyError as exc:
            return _fail(f"missing field {exc}", 400)
        except LookupError as exc:
            return _fail(str(exc), 404)
        except (ValueError, TypeError, binascii.Error) as exc:
            return _fail(str(exc), 400)
        if isinstance(result, Response):
            return result
        if isinstance(result, _Answer):
            return JSONResponse({"ok": True, "result": result.result}, headers=result.headers)
        return JSONResponse({"ok": True, "result": result})

    return handler


@dataclass(frozen=True)
class _Answer:
    """A result with response headers."""

    result: Any
    headers: dict[str, str]


def routes(emulator: TelegramEmulator) -> list[Route]:
    """The control routes, bound to one emulator."""

    async def create_user(request: Request) -> Any:
        data = await _body(request)
        user = emulator.add_user(
            user_id=int(data["user_id"]),
            first_name=str(data["first_name"]),
            last_name=data.get("last_name"),
            username=data.get("username"),
            language_code=data.get("language_code", "en"),
        )
        return user.to_dict()

    async def text(request: Request) -> Any:
        data = await _body(request)
        return emulator.send_text(_user_id(request), str(data["text"]))

    async def press(request: Request) -> Any:
        data = await _body(request)
        query_id = emulator.press_button(
            _user_id(request),
            int(data["message_id"]),
            str(data["callback_data"]),
            forged=bool(data.get("forged")),
        )
        return {"callback_query_id": query_id}

    async def photo(request: Request) -> Any:
        data = await _body(request)
        content = base64.b64decode(data["data"], validate=True)
        return emulator.send_photo(_user_id(request), content, caption=data.get("caption"))

    async def document(request: Request) -> Any:
        data = await _body(request)
        return emulator.send_document(
            _user_id(request),
            base64.b64decode(data["data"], validate=True),
            filename=str(data["filename"]),
            mime_type=str(data.get("mime_type", "application/octet-stream")),
            caption=data.get("caption"),
        )

    async def edit(request: Request) -> Any:
        data = await _body(request)
        return emulator.edit_text(_user_id(request), int(data["message_id"]), str(data["text"]))

    async def block(request: Request) -> Any:
        emulator.block_bot(_user_id(request))
        return True

    async def unblock(request: Request) -> Any:
        emulator.unblock_bot(_user_id(request))
        return True

    async def messages(request: Request) -> Any:
        chat_id = int(request.path_params["chat_id"])
        since = int(request.query_params.get("since", "0"))
        wait = min(max(float(request.query_params.get("wait", "0")), 0.0), MAX_WAIT)
        changed_after = request.query_params.get("changed_after")
        bot = emulator.bot_state()
        if wait and changed_after is not None:
            revision = int(changed_after)
            await emulator.notifier.wait_for(
                lambda: bot.chat_revision(chat_id) > revision or emulator.closing, wait
            )
        elif wait:
            await emulator.notifier.wait_for(
                lambda: bot.bot_message_count(chat_id) > since or emulator.closing, wait
            )
        return _Answer(bot.chat(chat_id), headers={"X-Chat-Revision": str(bot.chat_revision(chat_id))})

    async def file(request: Request) -> Any:
        stored = emulator.bot_state().files.get(request.path_params["file_id"])
        if stored is None:
            raise LookupError("no such file")
        return Response(stored.data, media_type=stored.mime_type or "application/octet-stream")

    async def errors(_request: Request) -> Any:
        return [
            {"method": method, "description": description} for method, _params, description in emulator.errors
        ]

    return [
        Route("/users", _guarded(create_user), methods=["POST"]),
        Route("/users/{user_id:int}/text", _guarded(text), methods=["POST"]),
        Route("/users/{user_id:int}/press", _guarded(press), methods=["POST"]),
        Route("/users/{user_id:int}/photo", _guarded(photo), methods=["POST"]),
        Route("/users/{user_id:int}/document", _guarded(document), methods=["POST"]),
        Route("/users/{user_id:int}/edit", _guarded(edit), methods=["POST"]),
        Route("/users/{user_id:int}/block", _guarded(block), methods=["POST"]),
        Route("/users/{user_id:int}/unblock", _guarded(unblock), methods=["POST"]),
        Route("/chats/{chat_id}/messages", _guarded(messages), methods=["GET"]),
        Route("/files/{file_id}", _guarded(file), methods=["GET"]),
        Route("/errors", _guarded(errors), methods=["GET"]),
    ]
