"""The local Bot API emulator: driven over real HTTP with raw httpx and with python-telegram-bot, it answers as
Telegram does, rejects what Telegram rejects (and, being strict, what Telegram would silently ignore), and
lets tests act as users, inspect chats, receive webhooks and drive it from another process."""

from __future__ import annotations

import asyncio
import contextlib
import io
import json
import socket
import subprocess
import sys
import time
from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
import telegram
import uvicorn
from PIL import Image
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route
from telegram import InlineKeyboardButton, InlineKeyboardMarkup
from telegram.error import BadRequest, Conflict, Forbidden, RetryAfter
from telegram.ext import ApplicationBuilder, ContextTypes, MessageHandler, filters

from bot.emulator import TelegramEmulator
from storage.clock import ManualClock

TOKEN = "123456:TEST-emulator-token"
ROOT = Path(__file__).resolve().parents[1]
ALICE = 4242


@pytest.fixture
async def emu(clock: ManualClock) -> AsyncIterator[TelegramEmulator]:
    emulator = TelegramEmulator(now=clock.now)
    emulator.add_bot(TOKEN)
    emulator.add_user(user_id=ALICE, first_name="Alice", username="alice_pc")
    await emulator.start()
    yield emulator
    await emulator.stop()


@pytest.fixture
async def bot(emu: TelegramEmulator) -> AsyncIterator[telegram.Bot]:
    client = telegram.Bot(TOKEN, base_url=emu.base_url, base_file_url=emu.base_file_url)
    await client.initialize()
    yield client
    await client.shutdown()


@pytest.fixture
async def http(emu: TelegramEmulator) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(base_url=emu.root_url, timeout=10) as client:
        yield client


async def call(
    http: httpx.AsyncClient, method: str, token: str = TOKEN, **params: Any
) -> tuple[int, dict[str, Any]]:
    response = await http.post(f"/bot{token}/{method}", json=params)
    return response.status_code, response.json()


def keyboard(*data: str) -> InlineKeyboardMarkup:
    return InlineKeyboardMarkup([[InlineKeyboardButton(d.title(), callback_data=d) for d in data]])


def png(width: int, height: int) -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", (width, height), (200, 30, 30)).save(buffer, format="PNG")
    return buffer.getvalue()


@contextlib.asynccontextmanager
async def serve(app: Starlette) -> AsyncIterator[str]:
    """Serve an ASGI app on a free local port; yields its root URL.

    The socket listens before uvicorn starts, so early requests wait in the backlog instead of failing.
    """
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    sock.listen(16)
    server = uvicorn.Server(uvicorn.Config(app, log_level="warning", lifespan="off"))
    task = asyncio.create_task(server.serve(sockets=[sock]))
    try:
        yield f"http://127.0.0.1:{sock.getsockname()[1]}"
    finally:
        server.should_exit = True
        await task


# --- basics ---------------------------------------------------------------------------------------------


async def test_get_me_over_raw_http_and_python_telegram_bot(
    emu: TelegramEmulator, bot: telegram.Bot, http: httpx.AsyncClient
) -> None:
    status, body = await call(http, "getMe")
    assert status == 200
    assert body["result"]["id"] == 123456 and body["result"]["is_bot"] is True
    assert (await http.get(f"/bot{TOKEN}/GETME")).json()["ok"], (
        "method names are case-insensitive, as in Telegram"
    )
    assert bot.username == "candour_bot" and bot.id == 123456
    assert emu.calls[0][0] == "getMe"


def test_the_pinned_spec_subset_names_its_source_and_licence() -> None:
    folder = ROOT / "bot" / "emulator"
    subset = json.loads((folder / "bot-api-subset.json").read_text(encoding="utf-8"))
    assert subset["version"] == "Bot API 10.1"
    assert "PaulSonOfLars/telegram-bot-api-spec" in subset["note"] and "MIT" in subset["note"]
    assert {"sendMessage", "getUpdates", "answerCallbackQuery", "deleteMessages", "logOut"} <= set(
        subset["methods"]
    )
    assert len(subset["methods"]) == 25
    assert "MIT License" in (folder / "LICENSE-telegram-bot-api-spec").read_text(encoding="utf-8")


@pytest.mark.parametrize(
    ("method", "params", "status", "description"),
    [
        ("sendMessagez", {"chat_id": ALICE, "text": "x"}, 404, "Not Found"),
        ("sendMessage", {"text": "x"}, 400, "Bad Request: chat_id is required"),
        ("sendMessage", {"chat_id": ALICE}, 400, "Bad Request: message text is empty"),
        ("sendMessage", {"chat_id": ALICE, "text": "   "}, 400, "Bad Request: message text is empty"),
        (
            "sendMessage",
            {"chat_id": ALICE, "text": "x", "colour": "red"},
            400,
            "Bad Request: unknown parameter colour",
        ),
        ("sendMessage", {"chat_id": ALICE, "text": "x" * 4097}, 400, "Bad Request: message is too long"),
        ("sendMessage", {"chat_id": 999, "text": "x"}, 400, "Bad Request: chat not found"),
        (
            "sendMessage",
            {"chat_id": ALICE, "text": "x", "disable_notification": "maybe"},
            400,
            "Bad Request: invalid",
        ),
        (
            "sendMessage",
            {"chat_id": ALICE, "text": "x", "reply_markup": "{oops"},
            400,
            "Bad Request: can't parse reply",
        ),
        (
            "sendMessage",
            {"chat_id": ALICE, "text": "a < b", "parse_mode": "HTML"},
            400,
            "Bad Request: can't parse ent",
        ),
        (
            "sendMessage",
            {"chat_id": ALICE, "text": "<b>bold", "parse_mode": "HTML"},
            400,
            "Bad Request: can't parse ent",
        ),
        (
            "sendMessage",
            {"chat_id": ALICE, "text": "<br>", "parse_mode": "HTML"},
            400,
            "Bad Request: can't parse ent",
        ),
        ("deleteMessage", {"chat_id": ALICE, "message_id": "abc"}, 400, "Bad Request: invalid message_id"),
        (
            "setMyCommands",
            {"commands": [{"command": "Start", "description": "go"}]},
            400,
            "Bad Request: BOT_COMMAND",
        ),
        (
            "leaveChat",
            {"chat_id": ALICE},
            400,
            "Bad Request: chat member status can't be changed in private chats",
        ),
        ("getFile", {"file_id": "nope"}, 400, "Bad Request: invalid file_id"),
        ("answerCallbackQuery", {"callback_query_id": "1"}, 400, "Bad Request: query is too old"),
    ],
)
async def test_rejections_use_telegrams_error_shape(
    emu: TelegramEmulator,
    http: httpx.AsyncClient,
    method: str,
    params: dict[str, Any],
    status: int,
    description: str,
) -> None:
    got_status, body = await call(http, method, **params)
    assert (got_status, body["ok"], body["error_code"]) == (status, False, status)
    assert body["description"].startswith(description)
    assert emu.errors[-1][2] == body["description"]
    assert emu.bot_messages(ALICE) == []


async def test_unknown_token_is_unauthorised(http: httpx.AsyncClient) -> None:
    status, body = await call(http, "getMe", token="999:nope")
    assert (status, body) == (401, {"ok": False, "error_code": 401, "description": "Unauthorized"})


async def test_form_and_query_string_requests_are_typed_from_the_spec(
    emu: TelegramEmulator, http: httpx.AsyncClient
) -> None:
    markup = json.dumps({"inline_keyboard": [[{"text": "Go", "callback_data": "go"}]]})
    response = await http.post(
        f"/bot{TOKEN}/sendMessage", data={"chat_id": str(ALICE), "text": "hi", "reply_markup": markup}
    )
    assert response.json()["result"]["reply_markup"]["inline_keyboard"][0][0]["callback_data"] == "go"
    assert emu.calls[-1] == (
        "sendMessage",
        {"chat_id": ALICE, "text": "hi", "reply_markup": json.loads(markup)},
    )
    response = await http.get(f"/bot{TOKEN}/sendMessage", params={"chat_id": ALICE, "text": "by GET"})
    assert response.json()["result"]["text"] == "by GET"


async def test_text_length_is_counted_after_html_parsing(bot: telegram.Bot, emu: TelegramEmulator) -> None:
    sent = await bot.send_message(ALICE, "<b>" + "x" * 4095 + "</b>&amp;", parse_mode="HTML")
    assert len(sent.text) == 4096 and sent.entities[0].type == "bold"
    with pytest.raises(BadRequest, match="too long"):
        await bot.send_message(ALICE, "x" * 4097)
    with pytest.raises(BadRequest, match="Button_data_invalid"):
        await bot.send_message(ALICE, "pick", reply_markup=keyboard("x" * 65))
    with pytest.raises(BadRequest, match="Button_data_invalid"):
        await bot.send_message(ALICE, "pick", reply_markup=keyboard("é" * 33))  # 66 bytes in UTF-8
    await bot.send_message(ALICE, "pick", reply_markup=keyboard("x" * 64))
    assert [m["text"][:4] for m in emu.bot_messages(ALICE)] == ["x" * 4, "pick"]


# --- updates --------------------------------------------------------------------------------------------


async def test_get_updates_confirms_by_offset_and_long_polls(
    emu: TelegramEmulator, bot: telegram.Bot
) -> None:
    sent = emu.send_text(ALICE, "/start")
    updates = await bot.get_updates()
    assert [u.message.text for u in updates] == ["/start"]
    assert updates[0].message.entities[0].type == "bot_command"
    assert updates[0].message.message_id == sent["message_id"]
    assert len(await bot.get_updates()) == 1, "unconfirmed updates come again"
    assert await bot.get_updates(offset=updates[0].update_id + 1) == ()

    poll = asyncio.create_task(bot.get_updates(offset=updates[0].update_id + 1, timeout=5))
    await asyncio.sleep(0.2)
    assert not poll.done()
    started = time.monotonic()
    emu.send_text(ALICE, "second")
    woken = await asyncio.wait_for(poll, 2)
    assert [u.message.text for u in woken] == ["second"]
    assert time.monotonic() - started < 1, "a long poll wakes at once when an update arrives"


async def test_a_second_poller_terminates_the_first(emu: TelegramEmulator, http: httpx.AsyncClient) -> None:
    first = asyncio.create_task(call(http, "getUpdates", timeout=5))
    await asyncio.sleep(0.1)
    async with httpx.AsyncClient(base_url=emu.root_url) as other:
        assert await call(other, "getUpdates", timeout=0) == (200, {"ok": True, "result": []})
    status, body = await asyncio.wait_for(first, 2)
    assert status == 409 and body["description"].startswith(
        "Conflict: terminated by other getUpdates request"
    )


async def test_allowed_updates_and_edited_messages(emu: TelegramEmulator, bot: telegram.Bot) -> None:
    message = emu.send_text(ALICE, "typo")
    emu.edit_text(ALICE, message["message_id"], "fixed")
    updates = await bot.get_updates(allowed_updates=["edited_message"])
    assert [(u.edited_message.text if u.edited_message else None) for u in updates] == ["fixed"]
    emu.send_text(ALICE, "ignored")
    assert await bot.get_updates(offset=updates[-1].update_id + 1) == ()


async def test_keyboard_press_callback_query_and_answer(
    emu: TelegramEmulator, bot: telegram.Bot, clock: ManualClock
) -> None:
    sent = await bot.send_message(ALICE, "Is it ongoing?", reply_markup=keyboard("yes", "no"))
    with pytest.raises(LookupError):
        emu.press_button(ALICE, sent.message_id, "maybe")
    query_id = emu.press_button(ALICE, sent.message_id, "yes")
    (update,) = await bot.get_updates(allowed_updates=["message", "callback_query"])
    query = update.callback_query
    assert (query.id, query.data, query.message.message_id, query.from_user.id) == (
        query_id,
        "yes",
        sent.message_id,
        ALICE,
    )
    assert await bot.answer_callback_query(query.id, text="Noted")
    assert emu.callback_answers[query_id] == {
        "text": "Noted",
        "show_alert": False,
        "url": None,
        "cache_time": None,
    }
    with pytest.raises(BadRequest, match=r"(?i)query is too old"):
        await bot.answer_callback_query(query.id)

    forged = emu.press_button(ALICE, 999, "anything", forged=True)
    stale = emu.press_button(ALICE, sent.message_id, "no")
    clock.advance(timedelta(minutes=16))
    for old in (forged, stale):
        with pytest.raises(BadRequest, match=r"(?i)query is too old"):
            await bot.answer_callback_query(old)


async def test_edits_not_modified_not_found_and_keyboard_removal(
    bot: telegram.Bot, emu: TelegramEmulator
) -> None:
    sent = await bot.send_message(ALICE, "Status: open", reply_markup=keyboard("ack"))
    with pytest.raises(BadRequest, match=r"(?i)message is not modified"):
        await bot.edit_message_text("Status: open", ALICE, sent.message_id, reply_markup=keyboard("ack"))
    edited = await bot.edit_message_text("Status: closed", ALICE, sent.message_id)
    assert edited.text == "Status: closed" and edited.reply_markup is None, "an edit without markup drops it"
    with pytest.raises(BadRequest, match=r"(?i)message is not modified"):
        await bot.edit_message_reply_markup(ALICE, sent.message_id)
    with pytest.raises(BadRequest, match=r"(?i)message to edit not found"):
        await bot.edit_message_text("x", ALICE, 777)
    user_message = emu.send_text(ALICE, "mine")
    with pytest.raises(BadRequest, match=r"(?i)message can't be edited"):
        await bot.edit_message_text("theirs", ALICE, user_message["message_id"])
    assert [m["text"] for m in emu.chat(ALICE)] == ["Status: closed", "mine"]


async def test_delete_rules_and_the_48_hour_window(
    bot: telegram.Bot, emu: TelegramEmulator, clock: ManualClock
) -> None:
    evidence = emu.send_text(ALICE, "the narrative")
    assert await bot.delete_message(ALICE, evidence["message_id"]), "a bot deletes incoming private messages"
    assert emu.deleted_ids(ALICE) == {evidence["message_id"]}
    with pytest.raises(BadRequest, match=r"(?i)message to delete not found"):
        await bot.delete_message(ALICE, evidence["message_id"])

    old = await bot.send_message(ALICE, "receipt")
    older_user = emu.send_text(ALICE, "old words")
    clock.advance(timedelta(hours=48, seconds=1))
    with pytest.raises(BadRequest, match=r"(?i)message can't be deleted for everyone"):
        await bot.delete_message(ALICE, old.message_id)
    fresh = await bot.send_message(ALICE, "fresh")
    assert await bot.delete_messages(ALICE, [old.message_id, older_user["message_id"], fresh.message_id, 555])
    assert emu.deleted_ids(ALICE) == {evidence["message_id"], fresh.message_id}
    assert [m["text"] for m in emu.bot_messages(ALICE)] == ["receipt"]
    assert len(emu.bot_messages(ALICE, include_deleted=True)) == 2


async def test_blocked_user_gets_403(bot: telegram.Bot, emu: TelegramEmulator) -> None:
    emu.block_bot(ALICE)
    with pytest.raises(Forbidden, match="bot was blocked by the user"):
        await bot.send_message(ALICE, "check-in")
    assert emu.errors[-1] == (
        "sendMessage",
        {"chat_id": ALICE, "text": "check-in"},
        "Forbidden: bot was blocked by the user",
    )
    emu.unblock_bot(ALICE)
    assert (await bot.send_message(ALICE, "check-in")).text == "check-in"


async def test_group_messages_and_leave_chat(bot: telegram.Bot, emu: TelegramEmulator) -> None:
    emu.send_in_group(ALICE, -100, "/report", title="Station chat")
    (update,) = await bot.get_updates()
    assert update.message.chat.type == "group" and update.message.chat.title == "Station chat"
    assert await bot.leave_chat(-100)
    assert emu.left_chats == {-100}
    with pytest.raises(Forbidden):
        await bot.send_message(-100, "hello?")
    with pytest.raises(BadRequest, match=r"(?i)private chats"):
        await bot.leave_chat(ALICE)


async def test_commands_and_chat_actions(bot: telegram.Bot, emu: TelegramEmulator) -> None:
    assert await bot.set_my_commands([("start", "Begin a report"), ("status", "Check a report")])
    assert [c.command for c in await bot.get_my_commands()] == ["start", "status"]
    assert emu.commands[0] == {"command": "start", "description": "Begin a report"}
    with pytest.raises(BadRequest):
        await bot.set_my_commands([("start", "")])
    assert await bot.delete_my_commands()
    assert emu.commands == []
    assert await bot.send_chat_action(ALICE, "typing")
    assert emu.chat_actions == [(ALICE, "typing")]
    assert await bot.close() and await bot.log_out()


# --- files ----------------------------------------------------------------------------------------------


async def test_uploads_and_downloads_round_trip_bytes(bot: telegram.Bot, emu: TelegramEmulator) -> None:
    content = bytes(range(256)) * 40 + b"\r\n--boundary-lookalike\r\n"
    sent = await bot.send_document(
        ALICE, content, filename="évidence.bin", caption="<i>sealed</i>", parse_mode="HTML"
    )
    assert sent.document.file_name == "évidence.bin" and sent.caption == "sealed"
    file = await bot.get_file(sent.document.file_id)
    assert bytes(await file.download_as_bytearray()) == content
    again = await bot.send_document(ALICE, sent.document.file_id)
    assert again.document.file_unique_id == sent.document.file_unique_id

    picture = png(40, 30)
    photo = await bot.send_photo(ALICE, picture)
    assert (photo.photo[-1].width, photo.photo[-1].height) == (40, 30)
    assert bytes(await (await bot.get_file(photo.photo[-1].file_id)).download_as_bytearray()) == picture
    with pytest.raises(BadRequest, match=r"(?i)can't use file of type document as photo"):
        await bot.send_photo(ALICE, sent.document.file_id)
    with pytest.raises(BadRequest, match=r"(?i)caption is too long"):
        await bot.send_photo(ALICE, picture, caption="c" * 1025)

    emu.send_photo(ALICE, picture, caption="what I saw")
    emu.send_document(ALICE, b"%PDF-1.7 minutes", filename="minutes.pdf", mime_type="application/pdf")
    updates = await bot.get_updates()
    largest = updates[0].message.photo[-1]
    assert updates[0].message.caption == "what I saw"
    assert bytes(await (await bot.get_file(largest.file_id)).download_as_bytearray()) == picture
    document = updates[1].message.document
    assert (document.file_name, document.mime_type) == ("minutes.pdf", "application/pdf")
    assert bytes(await (await bot.get_file(document)).download_as_bytearray()) == b"%PDF-1.7 minutes"

    huge = emu.send_document(
        ALICE, b"\0" * (20 * 1024 * 1024 + 1), filename="big.mov", mime_type="video/quicktime"
    )
    with pytest.raises(BadRequest, match=r"(?i)file is too big"):
        await bot.get_file(huge["document"]["file_id"])


async def test_other_user_content_parses_in_python_telegram_bot(
    emu: TelegramEmulator, bot: telegram.Bot
) -> None:
    emu.send_voice(ALICE, b"OggS voice", duration=4)
    emu.send_sticker(ALICE)
    emu.send_location(ALICE, 51.5, -0.12)
    emu.send_contact(ALICE, "+447700900000", "Sergeant")
    emu.send_poll(ALICE, "Who?", ["A", "B"])
    emu.send_forwarded(ALICE, "the group message", origin_name="PC Smith")
    messages = [u.message for u in await bot.get_updates()]
    assert messages[0].voice.mime_type == "audio/ogg" and emu.chat(ALICE)[0]["voice"]["duration"] == 4
    assert messages[1].sticker.width == 512
    assert messages[2].location.latitude == 51.5
    assert messages[3].contact.phone_number == "+447700900000"
    assert [o.text for o in messages[4].poll.options] == ["A", "B"]
    assert messages[5].forward_origin.sender_user_name == "PC Smith"


# --- webhooks, rate limits ------------------------------------------------------------------------------


async def test_webhook_delivery_with_secret_and_retry(bot: telegram.Bot, emu: TelegramEmulator) -> None:
    received: list[dict[str, Any]] = []
    failures = [500]  # the first delivery attempt fails; Telegram retries

    async def hook(request: Request) -> JSONResponse:
        if request.headers.get("X-Telegram-Bot-Api-Secret-Token") != "s3cret-token":
            return JSONResponse({}, status_code=403)
        if failures:
            return JSONResponse({}, status_code=failures.pop())
        received.append(await request.json())
        return JSONResponse({})

    async with serve(Starlette(routes=[Route("/hook", hook, methods=["POST"])])) as root:
        emu.send_text(ALICE, "queued before the webhook")
        assert await bot.set_webhook(f"{root}/hook", secret_token="s3cret-token")
        with pytest.raises(Conflict, match=r"(?i)webhook is active"):
            await bot.get_updates()
        emu.send_text(ALICE, "after")
        await emu.wait_until(lambda: len(received) == 2, timeout=5)
        info = await bot.get_webhook_info()
        assert info.url == f"{root}/hook" and info.pending_update_count == 0
        assert "500" in (info.last_error_message or "")
    assert [u["message"]["text"] for u in received] == ["queued before the webhook", "after"]
    assert received[0]["update_id"] < received[1]["update_id"]
    assert await bot.delete_webhook()
    emu.send_text(ALICE, "polling again")
    assert [u.message.text for u in await bot.get_updates()] == ["polling again"]


@pytest.mark.filterwarnings("ignore::telegram.warnings.PTBDeprecationWarning")  # RetryAfter's int retry_after
async def test_rate_limit_answers_429_with_retry_after(clock: ManualClock) -> None:
    async with TelegramEmulator(now=clock.now, per_chat_limit=1) as emu:
        emu.add_bot(TOKEN)
        emu.add_user(user_id=ALICE, first_name="Alice")
        async with httpx.AsyncClient(base_url=emu.root_url) as http:
            assert (await call(http, "sendMessage", chat_id=ALICE, text="one"))[0] == 200
            status, body = await call(http, "sendMessage", chat_id=ALICE, text="two")
            assert (status, body["parameters"]) == (429, {"retry_after": 1})
            assert body["description"] == "Too Many Requests: retry after 1"
            assert emu.rate_limited == [("sendMessage", ALICE, 1)]
            bot = telegram.Bot(TOKEN, base_url=emu.base_url)
            async with bot:
                with pytest.raises(RetryAfter):
                    await bot.send_message(ALICE, "three")
                clock.advance(timedelta(seconds=1))
                assert (await bot.send_message(ALICE, "four")).text == "four"


async def test_lenient_mode_ignores_unknown_parameters(clock: ManualClock) -> None:
    emulator = TelegramEmulator(now=clock.now, strict=False)
    emulator.add_bot(TOKEN)
    emulator.add_user(user_id=ALICE, first_name="Alice")
    async with emulator as emu, httpx.AsyncClient(base_url=emu.root_url) as http:
        status, _body = await call(http, "sendMessage", chat_id=ALICE, text="x", colour="red")
        assert status == 200 and "colour" not in emu.calls[-1][1]


# --- python-telegram-bot's Application, the control API and the command line ----------------------------


async def test_application_polls_and_replies(emu: TelegramEmulator) -> None:
    async def echo(update: telegram.Update, _context: ContextTypes.DEFAULT_TYPE) -> None:
        assert update.message is not None
        await update.message.reply_text(f"echo: {update.message.text}")

    app = ApplicationBuilder().token(TOKEN).base_url(emu.base_url).base_file_url(emu.base_file_url).build()
    app.add_handler(MessageHandler(filters.TEXT, echo))
    async with app:
        await app.start()
        assert app.updater is not None
        await app.updater.start_polling(poll_interval=0, timeout=1)
        emu.send_text(ALICE, "hello")
        messages = await emu.wait_for_bot_messages(ALICE, 1, timeout=5)
        await app.updater.stop()
        await app.stop()
    assert messages[0]["text"] == "echo: hello"
    assert emu.errors == []
    assert [method for method, _params in emu.calls if method != "getUpdates"] == [
        "getMe",
        "deleteWebhook",
        "sendMessage",
    ]


async def test_wait_for_bot_messages_times_out_with_the_transcript(emu: TelegramEmulator) -> None:
    emu.send_text(ALICE, "anyone there?")
    with pytest.raises(TimeoutError, match=r"(?s)0 of 1.*user: anyone there\?"):
        await emu.wait_for_bot_messages(ALICE, 1, timeout=0.1)


async def test_control_api_over_http(
    emu: TelegramEmulator, bot: telegram.Bot, http: httpx.AsyncClient
) -> None:
    created = await http.post("/_emulator/users", json={"user_id": 77, "first_name": "Bo"})
    assert created.json()["result"]["id"] == 77
    said = await http.post("/_emulator/users/77/text", json={"text": "hi bot"})
    assert said.json()["result"]["text"] == "hi bot"
    assert (await http.post("/_emulator/users/78/text", json={"text": "x"})).status_code == 404
    (update,) = await bot.get_updates()
    assert update.message.chat.id == 77

    waiting = asyncio.create_task(http.get("/_emulator/chats/77/messages", params={"since": 0, "wait": 5}))
    await asyncio.sleep(0.1)
    assert not waiting.done()
    sent = await bot.send_message(77, "Thank you", reply_markup=keyboard("ok"))
    chat = (await asyncio.wait_for(waiting, 2)).json()["result"]
    assert [(m["text"], m["from_bot"]) for m in chat] == [("hi bot", False), ("Thank you", True)]
    pressed = await http.post(
        "/_emulator/users/77/press", json={"message_id": sent.message_id, "callback_data": "ok"}
    )
    assert pressed.json()["result"]["callback_query_id"]
    quick = await http.get("/_emulator/chats/77/messages", params={"since": 1, "wait": 0})
    assert len(quick.json()["result"]) == 2
    photo = await http.post("/_emulator/users/77/photo", json={"data": "aGVsbG8=", "caption": "c"})
    assert photo.json()["result"]["caption"] == "c"

    # changed_after wakes on any change the bot makes to the chat: here an edit, which sends nothing new.
    revision = int(quick.headers["X-Chat-Revision"])
    assert revision == 1
    waiting = asyncio.create_task(
        http.get("/_emulator/chats/77/messages", params={"changed_after": revision, "wait": 5})
    )
    await asyncio.sleep(0.1)
    assert not waiting.done()
    await bot.edit_message_text("Thank you, noted", 77, sent.message_id)
    edited = await asyncio.wait_for(waiting, 2)
    assert int(edited.headers["X-Chat-Revision"]) == revision + 1
    assert [m["text"] for m in edited.json()["result"] if m["from_bot"]] == ["Thank you, noted"]
    await bot.delete_message(77, sent.message_id)
    gone = await http.get("/_emulator/chats/77/messages", params={"changed_after": revision + 1, "wait": 1})
    assert int(gone.headers["X-Chat-Revision"]) == revision + 2


def test_standalone_command_prints_its_base_url() -> None:
    process = subprocess.Popen(
        [sys.executable, "-m", "bot.emulator", "--port", "0", "--token", "55:standalone"],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert process.stdout is not None
        line = process.stdout.readline()
        assert line.startswith("Bot API base URL:"), line
        base_url = line.split()[-1]
        assert httpx.get(f"{base_url}55:standalone/getMe", timeout=5).json()["result"]["id"] == 55
    finally:
        process.terminate()
        process.wait(timeout=10)
