"""The thanks for a "better" or "no change" check-in answer says where the answer went, from what the vault
did (issue 11, Low): "gone to the team" only when an officer can read the case now; when none can (here
the one officer who held its key has left), that it is kept with the report until someone is given access.

Driven through the real bot and the Telegram emulator, in English and in Welsh; the words are checked
against the effect (whether any officer can open the case).
"""

from __future__ import annotations

from typing import Any

import pytest

from bot.catalogue import Catalogue
from storage import cases, casework, officers, outbox
from storage.clock import ManualClock
from storage.errors import InvalidPassphraseError, NotEntitledError
from storage.officers import UnlockedOfficer
from storage.vault import Vault
from tests.bot_world import BotWorld
from tests.conftest import PASSPHRASE
from tests.test_followup import entries, entry, eventually, planned, press
from tests.test_grant_roles import deactivate


@pytest.fixture
def engine_name() -> str:
    """SQLite only: the words do not depend on the engine."""
    return "sqlite"


async def checkin_arrives(world: BotWorld, clock: ManualClock, chat: int, case_id: str) -> dict[str, Any]:
    """The clock moved on to the first check-in's send time; the message, found by its buttons (they name
    the outbox entry), never by its words, which are what is tested."""
    pending = [e for e in await entries(world.vault, case_id, outbox.CHECKIN) if e.status == "pending"]
    clock.current = max(clock.current, pending[0].due_at)
    clock.current = max(clock.current, (await planned(world.vault, pending[0].id)).due_at)

    async def sent() -> bool:
        return (await entry(world.vault, pending[0].id)).status == "sent"

    await eventually(sent)
    marker = f"x|ci|{pending[0].id}."
    return next(
        m
        for m in world.emu.bot_messages(chat)
        for row in (m.get("reply_markup") or {}).get("inline_keyboard", [])
        if row[0].get("callback_data", "").startswith(marker)
    )


async def anyone_can_read(vault: Vault, alice: UnlockedOfficer, reference: str) -> bool:
    """Whether alice, the one officer holding the case's key, can open it now (and sign in at all)."""
    try:
        await casework.open_case(vault, officer=alice, reference=reference)
        await officers.unlock(vault, login="alice", passphrase=PASSPHRASE)
    except (NotEntitledError, InvalidPassphraseError):
        return False
    return True


@pytest.mark.parametrize("language", ["en", "cy"])
@pytest.mark.parametrize("readable", [True, False])
@pytest.mark.parametrize("answer", ["better", "same"])
async def test_the_thanks_says_the_team_has_it_only_when_an_officer_can_read_it(
    world: BotWorld,
    clock: ManualClock,
    alice: UnlockedOfficer,
    language: str,
    readable: bool,
    answer: str,
) -> None:
    t = Catalogue().for_language(language)
    user = world.user(7400001, language_code=language)
    report = cases.ReportSubmission(categories=("bullying",), narrative="He mocks me.", checkin_consent=True)
    result = await cases.submit(world.vault, report=report, contact=str(user.user_id), language=language)
    if not readable:
        await deactivate(world.vault, "alice")  # she left: nobody holding the case's key can read it
    assert await anyone_can_read(world.vault, alice, result.reference) is readable, "the effect words follow"
    message = await checkin_arrives(world, clock, user.user_id, result.case_id)
    press(world, user, message, answer)
    await world.settle()
    said = world.last(user.user_id)
    assert said == t("checkin.thanks" if readable else "checkin.thanks.kept")
    assert (t("checkin.thanks") in said) is readable, "never 'gone to the team' when nobody can read it"
