"""The intake by webhook (issue 12, point 2), on one replica: the Bot API emulator delivers with Telegram's
rules over real HTTP to the endpoint `candour serve intake` serves with CANDOUR_WEBHOOK_URL.

- A reporter's whole report works by webhook; setWebhook was called with the secret, allowed_updates and
  max_connections, on a path with a random component.
- A wrong or missing secret, another path or another method is refused with a bare status and changes
  nothing.
- The same update delivered twice (redelivered by the emulator, or replayed) takes effect once.
- Each chat's updates take effect in the order sent, with several chats at once.
- The 200 comes only once the effect is committed: another connection reads it when the answer arrives.
- A handler that fails is answered 200 once the reporter has been told, and is not handled again.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator

import httpx
import pytest
from sqlmodel import select
from telegram.ext import MessageHandler, filters

from bot import state as chat_state
from bot.application import ALLOWED_UPDATES
from bot.catalogue import Catalogue
from bot.emulator import TelegramEmulator
from bot.handlers import with_turn
from candour.app import open_vault
from candour.settings import Settings
from storage.chat_lock import ChatLocks
from storage.clock import ManualClock
from storage.models import Case
from storage.vault import Vault
from tests.bot_world import TOKEN
from tests.test_bot_inputs import reach, submit
from tests.webhook_world import WebhookWorld, webhook_world


@pytest.fixture
def engine_name() -> str:
    return "sqlite"


@pytest.fixture
async def hooked(vault: Vault, settings: Settings, clock: ManualClock) -> AsyncIterator[WebhookWorld]:
    async with TelegramEmulator(now=clock.now) as emu:
        emu.add_bot(TOKEN)
        intake = settings.model_copy(
            update={
                "telegram_token": TOKEN,
                "telegram_api_url": emu.root_url,
                "cleaner_require_isolation": False,
                "webhook_max_connections": 7,
            }
        )
        world = WebhookWorld(emu=emu, vault=vault, catalogue=Catalogue(), settings=intake)
        async with webhook_world(world):
            yield world


async def narrative_ready(world: WebhookWorld, user_id: int) -> None:
    """Put a chat at the narrative step directly, as a reporter who has chosen the categories."""
    ready = chat_state.ChatState()
    ready.start("report", "narrative")
    await chat_state.save(world.vault, user_id, ready)


async def case_count(vault: Vault) -> int:
    async with vault.db.transaction() as session:
        return len((await session.exec(select(Case.id))).all())


async def test_a_whole_report_by_webhook(hooked: WebhookWorld) -> None:
    info = hooked.bot.webhook
    assert info is not None and info.url == hooked.url
    assert info.secret_token == hooked.endpoint.secret and len(info.secret_token) >= 32
    assert info.allowed_updates == list(ALLOWED_UPDATES) and info.max_connections == 7
    assert info.url.split("/")[-2] == "telegram" and len(info.url.split("/")[-1]) == 24
    user = hooked.user(6300001)
    await reach(hooked, user, "review")
    code = await submit(hooked, user)
    assert len(code) > 10 and await case_count(hooked.vault) == 1
    assert not ChatLocks(hooked.vault).shared, "on SQLite the one intake's own per-chat lock suffices"
    deliveries = hooked.emu.webhook_deliveries
    assert deliveries and all(d["delivered"] for d in deliveries), "every update answered 2xx at once"
    assert hooked.bot.webhook.last_error_message is None


async def test_a_wrong_or_missing_secret_is_refused_and_changes_nothing(hooked: WebhookWorld) -> None:
    user = hooked.user(6300002)
    update = hooked.held(lambda: hooked.emu.send_text(user, "/report"))
    sent_before = len(hooked.emu.bot_messages(user.user_id, include_deleted=True))
    other_path = hooked.url.rsplit("/", 1)[0] + "/" + "A" * 24
    refusals = [
        (await hooked.post(update, secret=None), 401),
        (await hooked.post(update, secret="x" * 43), 401),
        (await hooked.post(update, secret=hooked.endpoint.secret[:-1]), 401),
        (await hooked.post(update, url=other_path), 404),
    ]
    for response, status in refusals:
        assert response.status_code == status and response.content == b""
    async with httpx.AsyncClient() as client:
        got = await client.get(
            hooked.url, headers={"X-Telegram-Bot-Api-Secret-Token": hooked.endpoint.secret}
        )
    assert got.status_code == 404 and got.content == b""
    assert (await chat_state.load(hooked.vault, user.user_id)).flow == "idle"
    assert len(hooked.emu.bot_messages(user.user_id, include_deleted=True)) == sent_before
    # The same update with the secret is taken: the refusals were for the secret, not the update.
    assert (await hooked.post(update)).status_code == 200
    assert (await chat_state.load(hooked.vault, user.user_id)).flow == "report"


async def test_the_same_update_twice_takes_effect_once(hooked: WebhookWorld) -> None:
    user = hooked.user(6300003)
    await narrative_ready(hooked, user.user_id)
    await hooked.say(user, "He shouted at me in the yard.")
    update_id = hooked.bot.next_update_id - 1
    replies = len(hooked.emu.bot_messages(user.user_id, include_deleted=True))
    hooked.emu.deliver_again(update_id)  # as Telegram does when an answer was lost
    await hooked.settle()
    assert [d["update_id"] for d in hooked.emu.webhook_deliveries].count(update_id) == 2
    replay = hooked.bot.history[update_id].to_dict()
    assert (await hooked.post(replay)).status_code == 200
    stored = await chat_state.load(hooked.vault, user.user_id)
    assert stored.narrative == ["He shouted at me in the yard."]
    assert len(hooked.emu.bot_messages(user.user_id, include_deleted=True)) == replies


async def test_each_chat_keeps_its_order_with_several_chats_at_once(hooked: WebhookWorld) -> None:
    users = [hooked.user(6300100 + n) for n in range(4)]
    for user in users:
        await narrative_ready(hooked, user.user_id)
    parts = [f"Part {i} of what happened." for i in range(6)]
    for part in parts:  # interleaved: every chat's first part, then every chat's second, ...
        for user in users:
            hooked.emu.send_text(user, f"{user.user_id % 100}: {part}")
    await hooked.settle(timeout=60)
    for user in users:
        stored = await chat_state.load(hooked.vault, user.user_id)
        assert stored.narrative == [f"{user.user_id % 100}: {p}" for p in parts]


async def test_the_answer_comes_after_the_effect_is_committed(
    hooked: WebhookWorld, settings: Settings
) -> None:
    user = hooked.user(6300004)
    await narrative_ready(hooked, user.user_id)
    update = hooked.held(lambda: hooked.emu.send_text(user, "She took my notebook."))
    # Another engine, so another connection, on the same database (on the same clock, which ages drafts).
    other = await open_vault(settings, clock=hooked.vault.clock)
    try:
        response = await hooked.post(update)
        assert response.status_code == 200
        assert (await chat_state.load(other, user.user_id)).narrative == ["She took my notebook."]
    finally:
        await other.db.dispose()


async def test_a_failing_handler_is_answered_once_the_reporter_is_told(hooked: WebhookWorld) -> None:
    """A poison update: told once, answered 200 (Telegram moves on to the chat's next update), recorded so
    that a redelivery changes nothing and tells nothing again."""
    user = hooked.user(6300005)
    await narrative_ready(hooked, user.user_id)
    assert hooked.app is not None
    application = hooked.app

    @with_turn
    async def boom(_turn: object, _update: object) -> None:
        raise RuntimeError("a handler failed")

    # A flow's handler (its turn loaded) that fails: first in its group, so it takes the text in place of
    # the narrative's own handler.
    poison = MessageHandler(filters.TEXT, boom)
    application.handlers[0].insert(0, poison)
    update = hooked.held(lambda: hooked.emu.send_text(user, "A part that fails."))
    before = len(hooked.emu.bot_messages(user.user_id, include_deleted=True))
    assert (await hooked.post(update)).status_code == 200
    told = hooked.emu.bot_messages(user.user_id, include_deleted=True)[before:]
    assert len(told) == 1 and "went wrong" in (told[0].get("text") or "").lower()
    assert (await hooked.post(update)).status_code == 200  # redelivered: nothing again
    assert len(hooked.emu.bot_messages(user.user_id, include_deleted=True)) == before + 1
    assert (await chat_state.load(hooked.vault, user.user_id)).narrative == []
    application.remove_handler(poison)
    await hooked.say(user, "The next part is taken.")
    assert (await chat_state.load(hooked.vault, user.user_id)).narrative == ["The next part is taken."]


async def test_stopping_leaves_the_webhook_set(hooked: WebhookWorld) -> None:
    """Another replica may still serve the URL; what comes meanwhile is Telegram's to keep and send later."""
    url = hooked.url
    await hooked.stop()
    assert hooked.bot.webhook is not None and hooked.bot.webhook.url == url
    user = hooked.user(6300006)
    kept = hooked.held(lambda: hooked.emu.send_text(user, "/start"))  # Telegram keeps it meanwhile
    await hooked.start()  # the same secret (so the same path), a new port
    hooked.emu.deliver_again(kept["update_id"])
    await hooked.settle()
    assert len(hooked.emu.bot_messages(user.user_id)) >= 1


async def test_no_update_body_secret_or_path_reaches_a_log(
    hooked: WebhookWorld, caplog: pytest.LogCaptureFixture
) -> None:
    # The access log (its lines carry the path) is off, and its logger is held above INFO, where it writes.
    assert not logging.getLogger("uvicorn.access").isEnabledFor(logging.INFO)
    names = ("bot", "candour", "storage", "starlette", "uvicorn", "uvicorn.error")
    for name in names:
        caplog.set_level(logging.DEBUG, logger=name)
        logging.getLogger(name).addHandler(caplog.handler)
    try:
        user = hooked.user(6300007, first_name="Zebedee", username="zeb_pc1234")
        await narrative_ready(hooked, user.user_id)
        await hooked.say(user, "Sergeant Quillfeather took my radio.")
        update = hooked.held(lambda: hooked.emu.send_text(user, "And my notebook."))
        assert (await hooked.post(update, secret="y" * 40)).status_code == 401
        garbled = {**update, "message": {"chat": "Zebedee"}}
        assert (await hooked.post(garbled)).status_code == 400
    finally:
        for name in names:
            logging.getLogger(name).removeHandler(caplog.handler)
    logged = "\n".join(
        f"{r.getMessage()} {r.args!r} {r.exc_text or ''}" for r in caplog.records if r.name.startswith(names)
    )
    assert "not an update" in logged, "the scan sees the endpoint's own log lines"
    for needle in (str(user.user_id), "Zebedee", "zeb_pc1234", "Quillfeather", "notebook"):
        assert needle not in logged, needle
    assert hooked.endpoint.secret not in logged and hooked.endpoint.path not in logged
