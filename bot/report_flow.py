"""The guided report: one step after another, each a prompt plus what it accepts, then review and submit.

Handlers here are thin: they read the answer, store it in the chat state (sealed in the vault after
every update), and move to the next step. Nothing reaches the case until the reporter submits. The
evidence step (files, their hidden details, taking one out) is bot.evidence_flow.
"""

from __future__ import annotations

import re
from typing import Any

from telegram import Message

from bot import evidence_flow, files, questions, review, support, typed_match
from bot import state as chat_state
from bot.state import PersonAnswer
from bot.turn import Keyboard, Turn
from storage import cases, drafts
from storage import text as text_rules
from storage.errors import InputError, NoRecipientError

STEPS = (
    "categories",
    "narrative",
    "when",
    "where",
    "people",
    "witnesses",
    "evidence",
    "risk",
    "reported_before",
    "checkins",
    "review",
)
# Steps inside a step: they belong to the one named, for 'edit' and for resuming.
SUBSTEPS = {
    "person_role": "people",
    "person_unit": "people",
    "person_more": "people",
    "when_ongoing": "when",
    "evidence_metadata": "evidence",
    "evidence_unchecked": "evidence",
}
WHEN_CHOICES = review.WHEN_CHOICES
EDITABLE = review.EDITABLE
MAX_SHORT_ANSWER = 300
MAX_NARRATIVE = 20_000
STAFF_NUMBER = re.compile(r"\b([A-Za-z]{0,3}\s?\d{2,7})\b")


# --- prompts --------------------------------------------------------------------------------------


def _done_row(turn: Turn, *, skip: bool = False) -> list[tuple[str, str]]:
    row = [(turn.t("button.done"), turn.data("done"))]
    if skip:
        row.append((turn.t("button.skip"), turn.data("skip")))
    return row


def _unit_rows(turn: Turn, action: str) -> Keyboard:
    rows: Keyboard = []
    row: list[tuple[str, str]] = []
    for unit in turn.policy.units:
        row.append((questions.unit_label(turn, unit.id), turn.data(action, unit.id)))
        if len(row) == 2:
            rows.append(row)
            row = []
    if row:
        rows.append(row)
    return rows


def _yes_no(turn: Turn, *, unsure: bool = False) -> Keyboard:
    row = [(turn.t("button.yes"), turn.data("yn", "yes")), (turn.t("button.no"), turn.data("yn", "no"))]
    if unsure:
        row.append((turn.t("button.not_sure"), turn.data("yn", "unsure")))
    return [row]


def categories_keyboard(turn: Turn) -> Keyboard:
    chosen = set(turn.state.categories)
    rows: Keyboard = [
        [(("✓ " if c.id in chosen else "") + review.category_label(turn, c.id), turn.data("cat", c.id))]
        for c in turn.policy.categories
    ]
    rows.append(
        [(turn.t("button.done"), turn.data("catdone")), (turn.t("button.cancel"), turn.data("cancel"))]
    )
    return rows


async def prompt(turn: Turn) -> None:
    """Ask the question of the current step."""
    if turn.state.step in evidence_flow.STEPS:
        await evidence_flow.prompt(turn)
        return
    step, t = turn.state.step, turn.t
    person = questions.person_shown(turn, turn.state.person)
    if step == "categories":
        await turn.say(t("report.categories"), categories_keyboard(turn))
    elif step == "narrative":
        await turn.say(t("report.narrative"), [_done_row(turn)] if turn.state.narrative else None)
    elif step == "when":
        await turn.say(t("report.when"), [[(t(f"when.{c}"), turn.data("when", c))] for c in WHEN_CHOICES])
    elif step == "when_ongoing":
        await turn.say(t("report.when.ongoing", when=turn.state.when), _yes_no(turn, unsure=True))
    elif step == "where":
        rows = [*_unit_rows(turn, "unit"), [(t("button.something_else"), turn.data("skip"))]]
        await turn.say(t("report.where"), rows)
    elif step == "people":
        await turn.say(
            t("report.people"),
            [_done_row(turn, skip=True)] if turn.state.people else [[(t("button.skip"), turn.data("skip"))]],
        )
    elif step == "person_role":
        await turn.say(t("report.person.role", name=person), questions.role_rows(turn))
    elif step == "person_unit":
        rows = [*_unit_rows(turn, "punit"), [(t("button.dont_know"), turn.data("punit"))]]
        await turn.say(t("report.person.unit", name=person), rows)
    elif step == "person_more":
        await turn.say(
            t("report.person.added", name=person),
            [[(t("button.add_another"), turn.data("padd")), (t("button.done"), turn.data("done"))]],
        )
    elif step == "witnesses":
        await turn.say(t("report.witnesses"), [[(t("button.skip"), turn.data("skip"))]])
    elif step == "risk":
        await turn.say(t("report.risk"), _yes_no(turn))
    elif step == "reported_before":
        await turn.say(t("report.reported_before"), _yes_no(turn, unsure=True))
    elif step == "checkins":
        await turn.say(t("report.checkins"), _yes_no(turn))
    elif step == "review":
        await turn.say(t("report.review", summary=review.summary(turn)), review.keyboard(turn))


# --- moving on ------------------------------------------------------------------------------------


async def begin(turn: Turn) -> None:
    """Start a new report."""
    turn.state.start("report", "categories")
    await prompt(turn)


async def advance(turn: Turn) -> None:
    """Go to the step after the current one (or back to review when editing), and ask it."""
    current = SUBSTEPS.get(turn.state.step, turn.state.step)
    if turn.state.editing and current != "answers":
        turn.state.step = "review"
    else:
        index = STEPS.index(current) if current in STEPS else STEPS.index("risk") - 1
        turn.state.step = STEPS[index + 1]
    if turn.state.step == "review":
        turn.state.editing = False
    await prompt(turn)


async def edit_section(turn: Turn, section: str) -> None:
    """Go back to one part of the report from the review screen."""
    state = turn.state
    state.editing = True
    if section == "answers":
        state.step = "risk"
        state.editing = False  # the three answers are asked in turn, then review follows
        await prompt(turn)
        return
    if section not in STEPS:
        return
    if section == "narrative":
        state.narrative = []
    if section == "people":
        state.people, state.person = [], None
    state.step = section
    await prompt(turn)


# --- answers --------------------------------------------------------------------------------------


async def on_text(turn: Turn, message: Message) -> None:
    """A typed answer at the current step (normalised; blank, invisible characters aside, is no answer)."""
    text = text_rules.answer(message.text)
    step, state, t = turn.state.step, turn.state, turn.t
    if not text:
        await turn.say(t("input.blank"))
        return
    if step == "narrative":
        # Counted as the vault will store it: the parts joined by blank lines.
        if len("\n\n".join([*state.narrative, text])) > MAX_NARRATIVE:
            await turn.say(t("report.narrative.too_long", limit=MAX_NARRATIVE))
            return
        state.narrative.append(text)
        await turn.say(t("report.narrative.added"), [_done_row(turn)])
        return
    if step in _SHORT_ANSWERS and len(text) > MAX_SHORT_ANSWER:
        await turn.say(t("input.too_long"))
        return
    if step == "when":
        state.when = text
        if questions.says_ongoing(text):
            state.ongoing = True
            await advance(turn)
        else:
            # Why ask: whether it still goes on is a routing fact, and typed words are no safe guess.
            state.ongoing, state.step = None, "when_ongoing"
            await prompt(turn)
    elif step in ("person_role", "person_unit") and state.person is not None:
        # What the reporter knows that the buttons don't offer: a sealed note, never a role or unit.
        await _person_note(turn, state.person, step, text)
    elif step == "where":
        state.where, state.location_unit = text, None
        await advance(turn)
    elif step == "people":
        state.person = _parse_person(text)
        state.step = "person_role"
        await prompt(turn)
    elif step == "witnesses":
        state.witnesses = text
        await advance(turn)
    else:
        await turn.say(t("input.use_buttons"))


_SHORT_ANSWERS = ("when", "where", "witnesses", "people", "person_role", "person_unit")


async def _person_note(turn: Turn, person: PersonAnswer, step: str, text: str) -> None:
    """A typed role or unit: kept as a note about the person, and the question asked again with its buttons.

    Why the question stays: only a pressed button is a role or unit, and promise 3 rests on the unit.
    Typed words that name one of the buttons ("PSD", "chief constable") are met with "Do you mean …?"
    and that button first; other words with the buttons again, asking for one if it fits.
    """
    what = "role" if step == "person_role" else "unit"
    questions.add_note(person, what, text)
    t = turn.t
    if step == "person_role":
        rows = questions.role_rows(turn)
        found = typed_match.role(turn, text, unknown=questions.UNKNOWN_ROLE)
        label = questions.role_label(turn, found) if found else ""
        action, match_key, noted_key = "role", "report.person.role.match", "report.person.role.noted"
    else:
        rows = [*_unit_rows(turn, "punit"), [(t("button.dont_know"), turn.data("punit"))]]
        found = typed_match.unit(turn, text)
        label = questions.unit_label(turn, found) if found else ""
        action, match_key, noted_key = "punit", "report.person.unit.match", "report.person.unit.noted"
    if len(turn.state.trail) >= 2:
        # The question just answered in words (the message before the reporter's): its buttons go, so
        # one set of buttons is on screen, under the question asked again.
        await turn.drop_buttons(turn.state.trail[-2])
    if found:
        chosen = turn.data(action, found)
        others = [[b for b in row if b[1] != chosen] for row in rows]
        keyboard = [[(label, chosen)], *[row for row in others if row]]
        await turn.say(t(match_key, match=label), keyboard)
        return
    await turn.say(t(noted_key), rows)


def _parse_person(text: str) -> PersonAnswer:
    match = STAFF_NUMBER.search(text)
    if match and any(ch.isdigit() for ch in match.group(1)):
        number = match.group(1).strip()
        name = text_rules.answer(" ".join((text[: match.start()] + text[match.end() :]).split()))
        return PersonAnswer(name=name, staff_number=number)
    return PersonAnswer(name=text)


async def on_button(turn: Turn, action: str, arg: str) -> str | None:
    """A button of the report flow; returns a short notice for the button's spinner, if any."""
    state, step, t = turn.state, turn.state.step, turn.t
    if action == "cancel":
        return "cancel"
    if step == "categories" and action == "cat":
        if any(c.id == arg for c in turn.policy.categories):
            if arg in state.categories:
                state.categories.remove(arg)
            else:
                state.categories.append(arg)
        return "refresh-categories"
    if step == "categories" and action == "catdone":
        if not state.categories:
            return t("report.categories.none")
        await advance(turn)
    elif step == "narrative" and action == "done":
        if not state.narrative:
            return t("report.narrative.empty")
        await advance(turn)
    elif step == "when" and action == "when" and arg in WHEN_CHOICES:
        state.when, state.ongoing = arg, arg == "ongoing"
        await advance(turn)
    elif step == "when_ongoing" and action == "yn" and arg in ("yes", "no", "unsure"):
        state.ongoing = None if arg == "unsure" else arg == "yes"
        await advance(turn)
    elif step == "where" and action == "unit" and any(u.id == arg for u in turn.policy.units):
        state.location_unit, state.where = arg, ""
        await advance(turn)
    elif step == "where" and action == "skip":
        state.location_unit, state.where = None, ""
        await advance(turn)
    elif step == "people" and action in ("skip", "done"):
        await advance(turn)
    elif (
        step == "person_role"
        and action == "role"
        and state.person is not None
        and (arg == "" or arg in turn.policy.subject_roles)
    ):
        state.person.role = arg or questions.dont_know_role(turn)
        state.step = "person_unit"
        await prompt(turn)
    elif (
        step == "person_unit"
        and action == "punit"
        and state.person is not None
        and (arg == "" or any(u.id == arg for u in turn.policy.units))
    ):
        state.person.unit = arg or None
        state.people.append(state.person)
        state.step = "person_more"
        await prompt(turn)
    elif step == "person_more" and action == "padd":
        state.person = None
        state.step = "people"
        await turn.say(t("report.people"))
    elif step == "person_more" and action == "done":
        state.person = None
        await advance(turn)
    elif step == "witnesses" and action == "skip":
        state.witnesses = ""
        await advance(turn)
    elif step == "evidence" and action in ("done", "skip"):
        await advance(turn)
    elif step in evidence_flow.STEPS and action in evidence_flow.ACTIONS:
        return await evidence_flow.on_button(turn, action, arg)
    elif step == "risk" and action == "yn" and arg in ("yes", "no"):
        state.risk_of_harm = arg == "yes"
        if state.risk_of_harm:
            await turn.say(t("report.risk.emergency"))
        await advance(turn)
    elif step == "reported_before" and action == "yn" and arg in ("yes", "no", "unsure"):
        state.reported_before = None if arg == "unsure" else arg == "yes"
        await advance(turn)
    elif step == "checkins" and action == "yn" and arg in ("yes", "no"):
        state.checkin_consent = arg == "yes"
        await advance(turn)
    elif step == "review" and action == "edit" and arg in EDITABLE:
        await edit_section(turn, arg)
    elif step == "review" and action == "submit":
        return "submit"
    elif step == "review" and action in evidence_flow.AFTER_REFUSAL:
        return await evidence_flow.after_refusal(turn, action, arg)
    else:
        return t("button.stale")
    return None


# The evidence step's handler for a file, as the update handlers know it.
on_file = evidence_flow.on_file


# --- submission -----------------------------------------------------------------------------------


def submission(turn: Turn, evidence: tuple[cases.Evidence, ...]) -> cases.ReportSubmission:
    """The vault's view of the finished report."""
    s = turn.state
    return cases.ReportSubmission(
        categories=tuple(s.categories),
        narrative="\n\n".join(s.narrative),
        when=s.when,
        where=s.where,
        location_unit=s.location_unit,
        subjects=tuple(
            cases.Person(
                name=p.name, staff_number=p.staff_number, role=p.role, unit=p.unit, description=p.note
            )
            for p in s.people
        ),
        witnesses=s.witnesses,
        evidence=evidence,
        ongoing=True if s.when == "ongoing" else (s.ongoing if s.when not in WHEN_CHOICES else False),
        risk_of_harm=s.risk_of_harm,
        reported_before=s.reported_before,
        checkin_consent=bool(s.checkin_consent),
    )


async def submit(turn: Turn) -> None:
    """Seal the report in the vault, finishing the chat's draft in the same transaction; show the receipt.

    Threat: a crash at any point between Submit and the receipt on screen. Why this order: the case and
    the finished draft (idle, holding the receipt code sealed) are one commit, so a restart either finds
    the draft still at review (nothing was stored: Submit again) or finished with the receipt to show; the
    draft's submission key makes a second handling of the same draft (another replica) return that case.
    While it holds the code the finished draft outlives the chat's usual 72 hours: it is kept as long as
    the case's retention (storage.drafts.finish_sync), so a reporter back weeks later is still shown it.
    """
    t = turn.t
    progress = await turn.say(t("report.submitting"))
    prepared: list[files.Prepared] = []
    for number, answer in enumerate(turn.state.evidence, 1):
        try:
            prepared.append(await files.prepare(turn.bot, turn.cleaner, answer))
        except files.FileRefused as refused:
            # Which file, and that nothing was stored: the draft is as it was, so Submit can be tried again;
            # and, should the refusal recur, a way to go on without that file that keeps the rest.
            text = t("report.submit.file_refused", number=number, reason=files.refusal_reason(t, refused))
            await turn.edit(progress.message_id, text, evidence_flow.refused_keyboard(turn, number, answer))
            return
    report = submission(turn, tuple(item.evidence for item in prepared))
    finished: dict[str, Any] = {}

    def finished_state(code: str) -> dict[str, Any]:
        finished.update(turn.state.finished(code, turn.vault.clock.now()))
        return finished

    for attempt in range(_SUBMIT_ATTEMPTS):
        finish = drafts.Finish(
            chat_ref=chat_state.chat_ref(turn.chat_id),
            state_for=finished_state,
            replacing=turn.state.read_version,
            lifetime=chat_state.TRAIL_LIFETIME,
        )
        try:
            result = await cases.submit(
                turn.vault,
                report=report,
                contact=str(turn.chat_id),
                language=turn.t.language,
                submission_key=turn.state.submission_key or None,
                draft=finish,
            )
        except drafts.DraftConflictError:
            # Another writer (a check-in's message id) changed the draft: take it in and submit again.
            if attempt + 1 == _SUBMIT_ATTEMPTS:
                raise
            await chat_state.refresh(turn.vault, turn.chat_id, turn.state)
            continue
        except NoRecipientError:
            await turn.edit(progress.message_id, t("report.submit.no_recipient"))
            return
        except InputError as exc:
            await turn.edit(progress.message_id, t("report.submit.invalid", reason=str(exc)))
            return
        break
    if result.repeated:
        # Made by another handling of this draft: carry on from what that one stored, never from ours.
        turn.state.replace_with(await chat_state.load(turn.vault, turn.chat_id))
        if not turn.state.receipt:
            await turn.edit(progress.message_id, t("report.submit.already"))
            return
        await deliver_receipt(turn)
        return
    turn.state.replace_with(chat_state.restore(turn.vault, finished, result.draft_version))
    # Why only here: this handling sealed these very files, so what it says of them is what was stored.
    await deliver_receipt(turn, files_told=files.sealed_all(t, tuple(prepared)))


_SUBMIT_ATTEMPTS = 5


async def deliver_receipt(turn: Turn, *, again: bool = False, files_told: str = "") -> None:
    """Show the receipt code the chat's draft holds; once Telegram has it, destroy that copy, then wipe.

    `again`: shown by a later update, because the one that submitted stopped before Telegram confirmed
    the receipt; the reporter may have seen it already, and is told so. `files_told`: what was done with
    each file, shown under the code, so one tap on "I have saved my code" removes it too.
    """
    t = turn.t
    code = turn.state.receipt
    text = t("report.submitted.again" if again else "report.submitted", code=code)
    receipt = await turn.bot.send_message(
        turn.chat_id,
        f"{text}\n\n{files_told}" if files_told else text,
        reply_markup=turn.markup([[(t("button.saved_code"), "x|saved|")]]),
    )
    turn.state.receipt = ""
    turn.remember(receipt.message_id)
    # Why saved before wiping: the code is to stay in the vault, even sealed, no longer than it must.
    await chat_state.save(turn.vault, turn.chat_id, turn.state)
    deleted, _left = await turn.wipe(keep=(receipt.message_id,))
    # Why a message of its own: "I have saved my code" deletes the receipt, and support is worth keeping.
    told = [t("report.submitted.wiped", count=deleted)] if deleted else []
    if offered := support.text(turn):
        told.append(offered)
    if told:
        await turn.say("\n\n".join(told))
