"""Support the force names in its policy, offered when a reporter may need it; and the words after a
retaliation answer, built from what the vault did (issue 11, section 1).

Driven through the real bot and the Telegram emulator; each sentence is checked against the vault's
account of what happened, never against a fixed reply.
"""

from __future__ import annotations

from typing import Any

import pytest
from pydantic import ValidationError
from sqlmodel import select

from bot import checkins
from bot.catalogue import Catalogue
from policies.loader import starter_policy, starter_policy_text
from policies.schema import PolicyDocument
from storage import cases, casework, followup, links
from storage.clock import ManualClock
from storage.models import CaseQueue
from storage.officers import UnlockedOfficer
from tests.bot_world import BotWorld
from tests.test_bot_report import make_report
from tests.test_followup import T, entries, next_checkin, press, submit_for, the_case


def offered(said: str) -> bool:
    """Whether a message lists every support entry of the starter policy."""
    return T("support.heading") in said and all(e.name in said for e in starter_policy().support)


async def test_support_is_offered_once_the_report_is_sealed_and_outlives_the_receipt(
    world: BotWorld, alice: UnlockedOfficer
) -> None:
    user = world.user(7200001)
    await make_report(world, user)
    after = [m for m in world.emu.bot_messages(user.user_id) if not m["deleted"]]
    assert any(offered(m.get("text") or "") for m in after)
    assert "116 123" in "\n".join(m.get("text") or "" for m in after)
    receipt = next(m for m in after if "Your receipt code" in (m.get("text") or ""))
    assert not offered(receipt["text"])  # not in the message that "I have saved my code" deletes


async def test_a_worse_answer_offers_support_and_says_who_will_see_it(
    world: BotWorld, clock: ManualClock, alice: UnlockedOfficer
) -> None:
    user = world.user(7200002)
    result = await submit_for(world, user.user_id)
    message = await next_checkin(world, clock, user.user_id, result.case_id)
    press(world, user, message, "worse")
    await world.settle()
    said = world.last(user.user_id)
    assert said.startswith(T("checkin.thanks.worse")) and offered(said)
    # Nobody linked a chat, so the vault queued no notice: the reporter is not told "the team has been
    # told", but that the team (alice can read the case) will see it next time they look.
    assert await entries(world.vault, result.case_id, followup.OFFICER_NOTICE) == []
    assert T("checkin.retaliation.seen_in_desk") in said and "been told" not in said
    assert T("checkin.retaliation.told_now", count=1) not in said


async def test_a_same_answer_offers_no_support(world: BotWorld, clock: ManualClock) -> None:
    user = world.user(7200003)
    result = await submit_for(world, user.user_id)
    message = await next_checkin(world, clock, user.user_id, result.case_id)
    press(world, user, message, "same")
    await world.settle()
    assert world.last(user.user_id) == T("checkin.thanks")


async def test_retaliation_with_no_officer_linked_promises_no_notice(
    world: BotWorld, clock: ManualClock, alice: UnlockedOfficer
) -> None:
    """Nobody has linked a chat, so nobody is told at once: the reporter hears that the team will see
    it, not that someone is being told."""
    user = world.user(7200004)
    result = await submit_for(world, user.user_id)
    message = await next_checkin(world, clock, user.user_id, result.case_id)
    press(world, user, message, "retaliation")
    await world.settle()
    said = world.last(user.user_id)
    assert T("checkin.retaliation.seen_in_desk") in said
    assert "being told" not in said
    assert T("checkin.retaliation.urgent") in said
    assert (await the_case(world.vault, result.case_id)).priority == "urgent"


async def test_retaliation_on_a_case_already_urgent_says_so(
    world: BotWorld, clock: ManualClock, alice: UnlockedOfficer
) -> None:
    user, phone = world.user(7200005), world.user(7200006)
    await world.say(phone, f"/link {await links.create_code(world.vault, officer_id=alice.id)}")
    result = await submit_for(world, user.user_id, risk_of_harm=True)
    assert (await the_case(world.vault, result.case_id)).priority == "urgent"
    message = await next_checkin(world, clock, user.user_id, result.case_id)
    press(world, user, message, "retaliation")
    await world.settle()
    said = world.last(user.user_id)
    assert T("checkin.retaliation.already_urgent") in said and T("checkin.retaliation.urgent") not in said
    assert T("checkin.retaliation.told_now", count=1) in said


async def test_retaliation_on_a_psd_case_claims_no_second_team(
    world: BotWorld, clock: ManualClock, make_officer: Any
) -> None:
    """A case about a PSD officer goes to independent review, which is also where retaliation escalates
    to: no queue is added, so the reporter is not told that a second team has it."""
    ivy = await make_officer("ivy", queues=("independent-review",), unit="training")
    user = world.user(7200007)
    report = cases.ReportSubmission(
        categories=("bullying",),
        narrative="He mocks me.",
        subjects=(cases.Person(name="Pat", unit="professional-standards"),),
        checkin_consent=True,
    )
    result = await cases.submit(world.vault, report=report, contact=str(user.user_id))
    assert result.queues == ("independent-review",)
    await casework.change_status(world.vault, officer=ivy, reference=result.reference, status="acknowledged")
    message = await next_checkin(world, clock, user.user_id, result.case_id)
    press(world, user, message, "retaliation")
    await world.settle()
    said = world.last(user.user_id)
    async with world.vault.db.reading() as session:
        rows = (await session.exec(select(CaseQueue).where(CaseQueue.case_id == result.case_id))).all()
    assert [(r.queue_id, r.via) for r in rows if r.via == "escalated"] == [], "no queue was added"
    for key in ("escalated", "escalated_pending", "escalated_sent"):
        assert T(f"checkin.retaliation.{key}") not in said
    assert "second team" not in said
    assert T("checkin.retaliation.urgent") in said and T("checkin.retaliation.seen_in_desk") in said


def test_support_entries_are_checked() -> None:
    import yaml

    document = yaml.safe_load(starter_policy_text())
    twice = {**document, "support": [*document["support"], document["support"][0]]}
    with pytest.raises(ValidationError, match="support"):
        PolicyDocument.model_validate(twice)
    empty = {**document, "support": [{"id": "line", "name": "A line", "contact": ""}]}
    with pytest.raises(ValidationError):
        PolicyDocument.model_validate(empty)
    assert PolicyDocument.model_validate({**document, "support": []}).support == []


@pytest.mark.parametrize("language", ["en", "cy"])
@pytest.mark.parametrize("readers", [0, 1])
@pytest.mark.parametrize("can_read", [False, True])
@pytest.mark.parametrize("notified", [0, 2])
def test_retaliation_words_never_contradict_each_other(
    language: str, readers: int, can_read: bool, notified: int
) -> None:
    """Every account the vault can give of an escalation (followup.AnswerResult) gets sentences that
    agree: with no officer able to read the case, the second team is not said to get access "once an
    officer who already can" grants it, beside "no officer can read your report yet"."""
    if can_read and not readers:
        return  # a member of the second team who can read it is a reader
    t = Catalogue().for_language(language)
    done = followup.AnswerResult(
        answer="retaliation",
        escalated=True,
        stopped=False,
        priority_before="normal",
        priority_after="urgent",
        became_urgent=True,
        notified=notified,
        escalated_to="psd-lead",
        readers=readers,
        escalation_can_read=can_read,
    )
    said = checkins.retaliation_told(t, done)
    sentences = {
        key: t(key) in said
        for key in (
            "checkin.retaliation.escalated",
            "checkin.retaliation.escalated_pending",
            "checkin.retaliation.escalated_sent",
            "checkin.retaliation.no_reader",
            "checkin.retaliation.seen_in_desk",
        )
    }
    # "…sent on to a second team." begins the pending sentence too: it counts only on its own.
    sentences["checkin.retaliation.escalated_sent"] &= not sentences["checkin.retaliation.escalated_pending"]
    assert sum(sentences[k] for k in list(sentences)[:3]) == 1, "one sentence about the second team"
    assert sentences["checkin.retaliation.escalated"] == can_read
    assert sentences["checkin.retaliation.escalated_pending"] == (readers > 0 and not can_read)
    if not readers:
        assert not sentences["checkin.retaliation.escalated_pending"]
        assert sentences["checkin.retaliation.no_reader"] == (notified == 0)
    assert (t("checkin.retaliation.told_now", count=notified) in said) == bool(notified)


# --- the force's own words, in Welsh too (issue 11, A2) -----------------------------------------------

CY = Catalogue().for_language("cy")
OWN_NUMBER = "call our own wellbeing line on 0800 111 222"


def with_samaritans(contact: str, **extra: Any) -> str:
    """The starter policy with the Samaritans entry (the starter's id) given another contact."""
    import yaml

    document = yaml.safe_load(starter_policy_text())
    document["support"][0] = {**document["support"][0], "contact": contact, **extra}
    assert document["support"][0]["id"] == "samaritans"
    return yaml.safe_dump(document, sort_keys=False, allow_unicode=True)


def support_for(language: str, text: str) -> str:
    """The support lines as bot.support says them to a reader of `language` under this policy."""
    from types import SimpleNamespace

    from bot import support
    from policies.loader import load_policy

    reader = SimpleNamespace(t=Catalogue().for_language(language), policy=load_policy(text))
    return support.text(reader)  # type: ignore[arg-type]


def test_the_starter_words_are_said_in_welsh_only_while_the_english_is_the_starter_own() -> None:
    said = support_for("cy", starter_policy_text())
    assert CY("support.samaritans.contact") in said and "116 123" in said
    changed = support_for("cy", with_samaritans(OWN_NUMBER))
    # The force kept the starter's id but wrote its own number: the starter's Welsh (with 116 123) would
    # give a Welsh reader a line the force never configured.
    assert OWN_NUMBER in changed and CY("support.samaritans.contact") not in changed
    assert "116 123" not in changed
    assert CY("support.samaritans.name") in changed, "the name is still the starter's, so still in Welsh"
    assert CY("support.staff-association.contact") in changed, "an untouched entry keeps its Welsh"


def test_the_policy_own_welsh_words_are_preferred() -> None:
    welsh = {"name": "Ein llinell les", "contact": "ffoniwch 0800 111 222"}
    text = with_samaritans(OWN_NUMBER, translations={"cy": welsh})
    said = support_for("cy", text)
    assert "Ein llinell les" in said and "ffoniwch 0800 111 222" in said and OWN_NUMBER not in said
    english = support_for("en", text)
    assert OWN_NUMBER in english and "Samaritans" in english and "Ein llinell les" not in english
    # A translation that gives only the name: the contact is the force's English, as written.
    only_name = support_for("cy", with_samaritans(OWN_NUMBER, translations={"cy": {"name": "Ein llinell"}}))
    assert "Ein llinell" in only_name and OWN_NUMBER in only_name


@pytest.mark.parametrize(
    ("translations", "complaint"),
    [({"en": {"name": "x"}}, "translations.en"), ({"Welsh": {"name": "x"}}, "not a language code")],
)
def test_support_translations_are_checked(translations: dict[str, Any], complaint: str) -> None:
    from policies.errors import PolicySyntaxError
    from policies.loader import load_policy

    with pytest.raises(PolicySyntaxError, match=complaint):
        load_policy(with_samaritans(OWN_NUMBER, translations=translations))


async def test_a_welsh_reporter_is_shown_the_force_number_not_the_starter(
    world: BotWorld, clock: ManualClock, alice: UnlockedOfficer
) -> None:
    """Through the bot: a Welsh reader's "worse" answer lists the policy's number as the force wrote it."""
    from storage import policy_store

    await policy_store.publish(world.vault, text=with_samaritans(OWN_NUMBER), author="alice")
    user = world.user(7200011, language_code="cy")
    result = await submit_for(world, user.user_id)
    message = await next_checkin(world, clock, user.user_id, result.case_id)
    press(world, user, message, "worse")
    await world.settle()
    said = world.last(user.user_id)
    assert said.startswith(CY("checkin.thanks.worse")) and CY("support.heading") in said
    assert OWN_NUMBER in said and "116 123" not in said
