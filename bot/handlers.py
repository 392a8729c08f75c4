"""python-telegram-bot handlers: each loads the chat's sealed state, lets a flow answer, and saves it.

Nothing about the Telegram user (id, name, username, language code) is stored or logged: the user's
language code only picks a catalogue for this one reply.
"""

from __future__ import annotations

import contextlib
import functools
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from telegram import Update
from telegram.constants import ChatType
from telegram.error import TelegramError
from telegram.ext import ContextTypes

from bot import checkins, report_flow, state, status_flow
from bot.catalogue import Catalogue
from bot.turn import Turn
from storage.errors import DatabaseUnavailableError
from storage.vault import Vault

log = logging.getLogger(__name__)

COMMANDS = ("start", "report", "status", "help", "privacy", "cancel", "language", "wipe")


@dataclass(frozen=True)
class BotServices:
    """What handlers need, put in `application.bot_data` by the composition root."""

    vault: Vault
    catalogue: Catalogue


Handler = Callable[[Turn, Update], Awaitable[None]]


def with_turn(handler: Handler) -> Callable[[Update, ContextTypes.DEFAULT_TYPE], Awaitable[None]]:
    """Load the chat's state, run the handler, save the state; a database outage is told, not raised."""

    @functools.wraps(handler)
    async def wrapped(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        services: BotServices = context.bot_data["services"]
        chat = update.effective_chat
        if chat is None:
            return
        user = update.effective_user
        fallback = services.catalogue.for_language(user.language_code if user else None)
        try:
            chat_state, policy = await state.load_with_policy(services.vault, chat.id)
        except DatabaseUnavailableError:
            await _tell(context, chat.id, fallback("error.database"))
            if update.callback_query is not None:
                with contextlib.suppress(TelegramError):
                    await update.callback_query.answer()
            return
        t = services.catalogue.for_language(chat_state.language, user.language_code if user else None)
        turn = Turn(
            bot=context.bot,
            vault=services.vault,
            chat_id=chat.id,
            state=chat_state,
            t=t,
            policy=policy.document,
            catalogue=services.catalogue,
        )
        try:
            await handler(turn, update)
            await state.save(services.vault, chat.id, chat_state)
        except DatabaseUnavailableError:
            # Why not save: the state in the vault is the last good one, so the draft is kept as it was.
            await turn.notify_failure("error.database")

    return wrapped


async def _tell(context: ContextTypes.DEFAULT_TYPE, chat_id: int, text: str) -> None:
    try:
        await context.bot.send_message(chat_id, text)
    except TelegramError:
        log.warning("could not send a notice to a chat")


# --- group chats ----------------------------------------------------------------------------------


async def leave_group(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """Candour works in private chats only: say so and leave."""
    chat = update.effective_chat
    if chat is None or chat.type == ChatType.PRIVATE:
        return
    services: BotServices = context.bot_data["services"]
    t = services.catalogue.for_language(None)
    try:
        await context.bot.send_message(chat.id, t("group.private_only"))
        await context.bot.leave_chat(chat.id)
    except TelegramError:
        log.warning("could not leave a group chat")


# --- commands -------------------------------------------------------------------------------------


def _reply_with(key: str) -> Callable[[Update, ContextTypes.DEFAULT_TYPE], Awaitable[None]]:
    """A handler that answers with one catalogue text and changes nothing else."""

    @with_turn
    async def reply(turn: Turn, update: Update) -> None:
        _remember(turn, update)
        await turn.say(turn.t(key))

    return reply


def _start_keyboard(turn: Turn) -> list[list[tuple[str, str]]]:
    t = turn.t
    return [
        [(t("button.report"), "x|go|report")],
        [(t("button.status"), "x|go|status")],
        [(t("button.privacy"), "x|go|privacy")],
    ]


async def _in_progress(turn: Turn) -> bool:
    """If a report is half-written, ask whether to continue it; True if we asked."""
    if turn.state.flow == "report" and turn.state.step:
        t = turn.t
        await turn.say(
            t("flow.in_progress"),
            [[(t("button.continue"), turn.data("resume")), (t("button.start_again"), turn.data("restart"))]],
        )
        return True
    return False


@with_turn
async def on_start(turn: Turn, update: Update) -> None:
    _remember(turn, update)
    if await _in_progress(turn):
        return
    await turn.say(turn.t("start.intro"), _start_keyboard(turn))


@with_turn
async def on_report(turn: Turn, update: Update) -> None:
    _remember(turn, update)
    if await _in_progress(turn):
        return
    await report_flow.begin(turn)


@with_turn
async def on_status(turn: Turn, update: Update) -> None:
    _remember(turn, update)
    if await _in_progress(turn):
        return
    await status_flow.begin(turn)


on_help = _reply_with("help.text")


@with_turn
async def on_link(turn: Turn, update: Update) -> None:
    """Officers only, and not in the public command list: link this chat for desk notices."""
    message = update.message
    assert message is not None
    # Why delete at once: the code is a credential for a few minutes; it should not sit in the chat.
    await turn.delete_now(message.message_id)
    await checkins.on_link(turn, (message.text or "").partition(" ")[2])


@with_turn
async def on_unlink(turn: Turn, update: Update) -> None:
    _remember(turn, update)
    await checkins.on_unlink(turn)


on_privacy = _reply_with("privacy.notice")


@with_turn
async def on_cancel(turn: Turn, update: Update) -> None:
    _remember(turn, update)
    if turn.state.flow == "idle":
        await turn.say(turn.t("flow.nothing_to_cancel"))
        return
    turn.state.reset()
    await turn.say(turn.t("flow.cancelled"))


@with_turn
async def on_language(turn: Turn, update: Update) -> None:
    _remember(turn, update)
    rows = [[(name, f"x|lang|{code}")] for code, name in _languages(turn)]
    await turn.say(turn.t("language.choose"), rows)


def _languages(turn: Turn) -> list[tuple[str, str]]:
    return [(code, turn.catalogue.language_name(code)) for code in turn.catalogue.languages]


@with_turn
async def on_wipe(turn: Turn, update: Update) -> None:
    _remember(turn, update)
    deleted, left = await turn.wipe()
    t = turn.t
    if not deleted and not left:
        await turn.bot.send_message(turn.chat_id, t("wipe.nothing"))
        return
    lines = [t("wipe.done", count=deleted)]
    if left:
        lines.append(t("wipe.partial", count=left))
    notice = await turn.bot.send_message(turn.chat_id, "\n\n".join(lines))
    turn.remember(notice.message_id)


on_unknown_command = _reply_with("input.unknown_command")


def _remember(turn: Turn, update: Update) -> None:
    if update.effective_message is not None and update.message is not None:
        turn.remember(update.effective_message.message_id)


# --- messages -------------------------------------------------------------------------------------


@with_turn
async def on_text(turn: Turn, update: Update) -> None:
    message = update.message
    assert message is not None
    if turn.state.flow == "status" and turn.state.step == "code":
        await status_flow.on_code(turn, message)  # the code's message is deleted, not kept in the trail
        return
    _remember(turn, update)
    pending_reply = turn.state.inbox.pop("reply", None)
    if pending_reply:
        await status_flow.send_reply(turn, pending_reply, message.text or "")
        return
    if turn.state.flow == "report":
        await report_flow.on_text(turn, message)
    elif turn.state.flow == "status":
        await status_flow.on_text(turn, message)
    else:
        await turn.say(turn.t("input.idle"))


@with_turn
async def on_file(turn: Turn, update: Update) -> None:
    message = update.message
    assert message is not None
    _remember(turn, update)
    if turn.state.flow == "report" and turn.state.step == "evidence":
        await report_flow.on_file(turn, message)
    elif turn.state.flow == "status":
        await status_flow.on_file(turn, message)
    elif turn.state.flow == "report" and _after_evidence(turn.state.step):
        await turn.say(turn.t("input.answer_first"))
    else:
        await turn.say(turn.t("input.file_not_expected"))


def _after_evidence(step: str) -> bool:
    """Steps at which files were already asked for (or are being asked about)."""
    order = report_flow.STEPS
    main = report_flow.SUBSTEPS.get(step, step)
    return main in order and order.index(main) >= order.index("evidence")


on_forwarded = _reply_with("input.forwarded")


on_unsupported = _reply_with("input.unsupported")


@with_turn
async def on_edited(turn: Turn, update: Update) -> None:
    await turn.say(turn.t("input.edited"))


# --- buttons --------------------------------------------------------------------------------------


@with_turn
async def on_button(turn: Turn, update: Update) -> None:
    query = update.callback_query
    assert query is not None
    parts = (query.data or "").split("|")
    notice: str | None = None
    if len(parts) != 3:
        notice = turn.t("button.stale")
    elif parts[0] == "x":
        notice = await _global_button(
            turn, parts[1], parts[2], query.message.message_id if query.message else 0
        )
    elif parts[0] != turn.state.button_prefix() or turn.state.flow == "idle":
        notice = turn.t("button.stale")
    else:
        notice = await _flow_button(
            turn, parts[1], parts[2], query.message.message_id if query.message else 0
        )
    try:
        await query.answer(text=notice if notice and notice not in _SIGNALS else None)
    except TelegramError:
        log.info("a button press could not be answered (too old)")


_SIGNALS = {"cancel", "submit", "refresh-categories"}


async def _global_button(turn: Turn, action: str, arg: str, message_id: int) -> str | None:
    """Buttons that do not belong to a flow: start menu, receipt deletion, pushed messages, language."""
    if action == "go":
        if await _in_progress(turn):
            return None
        if arg == "report":
            await report_flow.begin(turn)
        elif arg == "status":
            await status_flow.begin(turn)
        elif arg == "privacy":
            await turn.say(turn.t("privacy.notice"))
        return None
    if action == "saved":
        await turn.delete_now(message_id)
        return turn.t("receipt.deleted")
    if action == "read" and arg.isdigit():
        return await status_flow.read_pushed(turn, int(arg), message_id)
    if action == "reply" and arg.isdigit():
        return await status_flow.reply_pushed(turn, arg)
    if action == "ci":
        return await checkins.on_answer(turn, arg, message_id)
    if action == "lang":
        codes = [code for code, _ in _languages(turn)]
        if arg in codes:
            turn.state.language = arg
            turn.t = turn.catalogue.for_language(arg)
            await turn.say(turn.t("language.set"))
            return None
    return turn.t("button.stale")


async def _flow_button(turn: Turn, action: str, arg: str, message_id: int) -> str | None:
    turn.pressed(message_id)
    try:
        return await _flow_action(turn, action, arg, message_id)
    finally:
        await turn.end_press()


async def _flow_action(turn: Turn, action: str, arg: str, message_id: int) -> str | None:
    state_ = turn.state
    if action == "resume":
        await turn.drop_buttons(message_id)
        await report_flow.prompt(turn)
        return None
    if action == "restart":
        await turn.drop_buttons(message_id)
        await report_flow.begin(turn)
        return None
    if state_.flow == "status" and state_.step not in ("evidence_metadata", "evidence_unchecked"):
        signal = await status_flow.on_button(turn, action)
    else:
        signal = await report_flow.on_button(turn, action, arg)
    if signal == "cancel":
        await turn.drop_buttons(message_id)
        state_.reset()
        await turn.say(turn.t("flow.cancelled"))
        return None
    if signal == "refresh-categories":
        await turn.edit(message_id, turn.t("report.categories"), report_flow.categories_keyboard(turn))
        return None
    if signal == "submit":
        await turn.drop_buttons(message_id)
        await report_flow.submit(turn)
        return None
    if signal is None:
        await turn.drop_buttons(message_id)
    return signal
