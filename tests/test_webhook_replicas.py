"""Two intake replicas by webhook on one PostgreSQL database (issue 12, point 2): two Applications with the
same bot token, each behind its own endpoint (one secret), each with its own engine. Deliveries of one chat
that overlap (a retry sent to the other replica while the first still works) are serialised by the chat's
advisory lock (storage/chat_lock.py); other chats are not held up. Run with CANDOUR_REQUIRE_POSTGRES=1.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import dataclass

import pytest

from bot import state as chat_state
from bot.catalogue import Catalogue
from bot.emulator import TelegramEmulator
from candour.app import open_vault
from candour.settings import Settings
from storage.chat_lock import ChatLocks, ChatLockTimeoutError
from storage.clock import ManualClock
from storage.vault import Vault
from tests.bot_world import TOKEN
from tests.webhook_world import WebhookWorld, webhook_world

pytestmark = pytest.mark.postgres


@pytest.fixture
def engine_name() -> str:
    return "postgres"


@dataclass
class Replicas:
    a: WebhookWorld
    b: WebhookWorld


@pytest.fixture
async def replicas(vault: Vault, settings: Settings, clock: ManualClock) -> AsyncIterator[Replicas]:
    other = await open_vault(settings, clock=clock)  # the second replica's own engine and pools
    try:
        async with TelegramEmulator(now=clock.now) as emu:
            emu.add_bot(TOKEN)
            intake = settings.model_copy(
                update={
                    "telegram_token": TOKEN,
                    "telegram_api_url": emu.root_url,
                    "webhook_lock_connections": 4,
                }
            )
            a = WebhookWorld(emu=emu, vault=vault, catalogue=Catalogue(), settings=intake)
            b = WebhookWorld(
                emu=emu, vault=other, catalogue=Catalogue(), settings=intake, endpoint=a.endpoint
            )
            async with webhook_world(a), webhook_world(b):
                yield Replicas(a, b)
    finally:
        await other.db.dispose()


async def narrative_ready(vault: Vault, user_id: int) -> None:
    ready = chat_state.ChatState()
    ready.start("report", "narrative")
    await chat_state.save(vault, user_id, ready)


async def test_a_chat_held_on_one_replica_waits_on_the_other(replicas: Replicas, vault: Vault) -> None:
    a, b = replicas.a, replicas.b
    user, bystander = a.user(6400001), a.user(6400002)
    for chat in (user, bystander):
        await narrative_ready(vault, chat.user_id)
    update = a.held(lambda: a.emu.send_text(user, "He locked me out of the van."))
    other_chat = a.held(lambda: a.emu.send_text(bystander, "Another chat is not held up."))
    holder = ChatLocks(vault)  # as replica A would hold it while handling this chat
    try:
        async with holder.hold(chat_state.chat_ref(user.user_id)):
            waiting = asyncio.create_task(b.post(update))
            assert (await b.post(other_chat)).status_code == 200
            await asyncio.sleep(0.5)
            assert not waiting.done(), "replica B handled the chat while A held its lock"
            assert (await chat_state.load(vault, user.user_id)).narrative == []
        assert (await waiting).status_code == 200
    finally:
        await holder.close()
    assert (await chat_state.load(vault, user.user_id)).narrative == ["He locked me out of the van."]
    assert (await chat_state.load(vault, bystander.user_id)).narrative == ["Another chat is not held up."]


async def test_overlapping_deliveries_of_one_chat_to_two_replicas_lose_nothing(
    replicas: Replicas, vault: Vault
) -> None:
    a, b = replicas.a, replicas.b
    user = a.user(6400003)
    await narrative_ready(vault, user.user_id)
    parts = [f"Part {n} of what he did." for n in range(12)]
    held = [a.held(lambda part=part: a.emu.send_text(user, part)) for part in parts]
    answers = await asyncio.gather(
        *(world.post(update) for world, update in zip([a, b] * 6, held, strict=True))
    )
    assert [r.status_code for r in answers] == [200] * 12
    stored = (await chat_state.load(vault, user.user_id)).narrative
    assert sorted(stored) == sorted(parts), "an overlapping delivery's answer was lost or doubled"
    # A retry of every one of them, to the other replica, changes nothing.
    again = await asyncio.gather(
        *(world.post(update) for world, update in zip([b, a] * 6, held, strict=True))
    )
    assert [r.status_code for r in again] == [200] * 12
    assert sorted((await chat_state.load(vault, user.user_id)).narrative) == sorted(parts)


async def test_the_lock_is_keyed_waits_bounded_and_released_with_its_holder(vault: Vault) -> None:
    first, second = ChatLocks(vault), ChatLocks(vault, wait_seconds=0.2)
    try:
        ref = chat_state.chat_ref(6400004)
        key = first.key(ref)
        assert first.shared and key == second.key(ref) and key != 6400004
        assert str(6400004) not in str(key) and key != first.key(chat_state.chat_ref(6400005))
        async with first.hold(ref):
            with pytest.raises(ChatLockTimeoutError):
                async with second.hold(ref):
                    pytest.fail("two holders of one chat's lock")
        with pytest.raises(RuntimeError):
            async with first.hold(ref):
                raise RuntimeError("the handling failed")
        async with second.hold(ref):  # released however the holder ended
            pass
    finally:
        await first.close()
        await second.close()


async def test_a_lock_held_past_the_wait_is_answered_503_and_the_retry_is_taken(
    replicas: Replicas, vault: Vault
) -> None:
    a = replicas.a
    assert a.settings is not None
    impatient = WebhookWorld(
        emu=a.emu,
        vault=vault,
        catalogue=Catalogue(),
        settings=a.settings.model_copy(update={"webhook_lock_wait_seconds": 0.3}),
        endpoint=a.endpoint,
    )
    user = a.user(6400006)
    await narrative_ready(vault, user.user_id)
    update = a.held(lambda: a.emu.send_text(user, "He read my messages."))
    holder = ChatLocks(vault)
    try:
        async with webhook_world(impatient):
            async with holder.hold(chat_state.chat_ref(user.user_id)):
                refused = await impatient.post(update)
            assert refused.status_code == 503 and refused.content == b""
            assert (await chat_state.load(vault, user.user_id)).narrative == []
            assert (await impatient.post(update)).status_code == 200  # Telegram's retry
    finally:
        await holder.close()
    assert (await chat_state.load(vault, user.user_id)).narrative == ["He read my messages."]


async def test_a_dropped_database_connection_costs_at_most_one_retry(
    replicas: Replicas, vault: Vault, postgres_database: str
) -> None:
    """The server drops every connection (a restart, a failover): the next update may be answered 503,
    never a 500 or a traceback, and Telegram's resend of it is taken, once."""
    import asyncpg

    a = replicas.a
    user = a.user(6400007)
    await narrative_ready(vault, user.user_id)
    assert (await a.post(a.held(lambda: a.emu.send_text(user, "First part.")))).status_code == 200
    admin = await asyncpg.connect(postgres_database)
    try:
        await admin.execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
            "WHERE datname = current_database() AND pid <> pg_backend_pid()"
        )
    finally:
        await admin.close()
    update = a.held(lambda: a.emu.send_text(user, "Second part."))
    statuses = [(await a.post(update)).status_code]
    if statuses[0] != 200:
        statuses.append((await a.post(update)).status_code)
    assert statuses in ([200], [503, 200]), statuses
    assert (await chat_state.load(vault, user.user_id)).narrative == ["First part.", "Second part."]


async def test_each_chat_keeps_its_order_on_postgresql_with_several_chats_at_once(
    replicas: Replicas, vault: Vault
) -> None:
    """The emulator delivers (to the replica started last) with Telegram's rules: every chat's updates in
    order, several chats at once, each holding its chat's advisory lock."""
    b = replicas.b
    users = [b.user(6400100 + n) for n in range(5)]
    for user in users:
        await narrative_ready(vault, user.user_id)
    parts = [f"Part {i}." for i in range(6)]
    for part in parts:
        for user in users:
            b.emu.send_text(user, f"{user.user_id % 100} {part}")
    await b.settle(timeout=60)
    assert all(d["delivered"] and d["url"] == b.url for d in b.emu.webhook_deliveries)
    for user in users:
        stored = (await chat_state.load(vault, user.user_id)).narrative
        assert stored == [f"{user.user_id % 100} {p}" for p in parts]
