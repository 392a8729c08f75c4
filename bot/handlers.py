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

from telegram import ChatMember, ChatMemberRestricted, Message, Update
from telegram.constants import ChatType
from telegram.error import TelegramError
from telegram.ext import ContextTypes

from bot import checkins, language, report_flow, state, status_flow, words
from bot.catalogue import Catalogue
from bot.cleaner import Cleaner
from bot.turn import Turn
from storage import text as text_rules
from storage import updates
from storage.errors import DatabaseUnavailableError
from storage.vault import Vault

log = logging.getLogger(__name__)

COMMANDS = ("start", "report", "status", "help", "privacy", "cancel", "language", "wipe")


@dataclass(frozen=True)
class BotServices:
    """What handlers need, put in `application.bot_data` by the composition root."""

    vault: Vault
    catalogue: Catalogue
    cleaner: Cleaner


Handler = Callable[[Turn, Update], Awaitable[None]]


def from_reporter(update: Update) -> bool:
    """True only for what a person sends the bot in their own private chat with it: a message, an edit of
    one, or a press of one of the bot's buttons there. Every flow is reached through this test.

    Threat: a flow reached from elsewhere answers where others read (a group, a channel) or saves a draft
    for a chat that is not a reporter's. Why a list of what is allowed rather than of what is not: an
    update type added to Telegram later (or one not thought of: business-account messages, which arrive
    from private chats between other people, guest messages, inline queries) reaches nothing.
    """
    message: object
    if update.message is not None or update.edited_message is not None:
        message = update.message or update.edited_message
    elif update.callback_query is not None:
        message = update.callback_query.message  # None for a button on an inline message
    else:
        return False
    if message is None or message.chat.type != ChatType.PRIVATE:  # type: ignore[attr-defined]
        return False
    return not (isinstance(message, Message) and message.business_connection_id)


def with_turn(handler: Handler) -> Callable[[Update, ContextTypes.DEFAULT_TYPE], Awaitable[None]]:
    """Load the chat's state, run the handler, save the state; a database outage is told, not raised.

    Each update takes effect once: the load says whether this update was already applied (a redelivery
    after a crash, or one another replica handled), and then nothing is done; the final save records it
    in the same transaction as the state it produced (storage/updates.py).
    """

    @functools.wraps(handler)
    async def wrapped(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        services: BotServices = context.bot_data["services"]
        chat = update.effective_chat
        if chat is None or not from_reporter(update):
            return
        user = update.effective_user
        fallback = services.catalogue.for_language(user.language_code if user else None)
        update_tag = updates.tag(services.vault, bot_id=context.bot.id, update_id=update.update_id)
        try:
            chat_state, policy = await state.load_with_policy(services.vault, chat.id, update=update_tag)
        except updates.AlreadyHandledError:
            await _handled_before(update)
            return
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
            cleaner=services.cleaner,
        )
        try:
            if chat_state.receipt:
                # A submission committed but its receipt never reached Telegram (the bot stopped): now.
                await report_flow.deliver_receipt(turn, again=True)
            await handler(turn, update)
            await state.save(services.vault, chat.id, chat_state, update=update_tag)
        except updates.AlreadyHandledError:
            # Another handling of this update (another replica) stored its effect first: ours is dropped.
            await _handled_before(update)
        except DatabaseUnavailableError:
            # Why not save: the state in the vault is the last good one, so the draft is kept as it was.
            await turn.notify_failure("error.database")

    return wrapped


async def _handled_before(update: Update) -> None:
    """A redelivered update changes nothing; a button's spinner is stopped if Telegram still allows it."""
    log.info("an update came again and was not applied twice")
    if update.callback_query is not None:
        with contextlib.suppress(TelegramError):
            await update.callback_query.answer()


async def _tell(context: ContextTypes.DEFAULT_TYPE, chat_id: int, text: str) -> None:
    try:
        await context.bot.send_message(chat_id, text)
    except TelegramError:
        log.warning("could not send a notice to a chat")


# --- group chats ----------------------------------------------------------------------------------


_OUT = (ChatMember.LEFT, ChatMember.BANNED)


async def outside_private(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """Candour works in private chats only: from a group, supergroup or channel, whatever the update, it
    reaches no flow (see `from_reporter`) and the bot leaves; it says so only where that is safe.

    Why leave on being added (my_chat_member) rather than on the first message: in a group the bot sees
    only commands and replies, so it could sit in a station chat unnoticed. Why never a word in a
    channel: a post there goes to every subscriber under the channel's name. Nothing about the chat or
    whoever added the bot is stored or logged.
    """
    chat = update.effective_chat
    if chat is None or chat.type == ChatType.PRIVATE:
        return
    services: BotServices = context.bot_data["services"]
    t = services.catalogue.for_language(None)
    speak = False
    if update.my_chat_member is not None:
        change = update.my_chat_member
        if change.new_chat_member.status in _OUT:
            return  # already out of it (it left, or was removed)
        speak = _joined(change.old_chat_member) and _may_speak(chat.type, change.new_chat_member)
    elif update.callback_query is not None:
        # A press on a message in a group (only a forged one: the bot sends no buttons there): the
        # presser alone sees the answer.
        with contextlib.suppress(TelegramError):
            await update.callback_query.answer(text=t("group.private_only"), show_alert=True)
    elif update.message is not None:
        speak = chat.type != ChatType.CHANNEL
    if speak:
        try:
            await context.bot.send_message(chat.id, t("group.private_only"))
        except TelegramError:
            log.info("could not say before leaving a group chat that the bot works in private only")
    try:
        await context.bot.leave_chat(chat.id)
    except TelegramError:
        log.warning("could not leave a group chat")


def _joined(old: ChatMember) -> bool:
    """The change brought the bot into the chat (rather than changing its rights while in it)."""
    if isinstance(old, ChatMemberRestricted):
        return not old.is_member
    return old.status in _OUT


def _may_speak(chat_type: str, member: ChatMember) -> bool:
    """Whether one line before leaving is safe: in a group or supergroup, with the right to send."""
    if chat_type not in (ChatType.GROUP, ChatType.SUPERGROUP):
        return False
    if isinstance(member, ChatMemberRestricted):
        return member.is_member and member.can_send_messages
    return member.status in (ChatMember.MEMBER, ChatMember.ADMINISTRATOR, ChatMember.OWNER)


# --- commands -------------------------------------------------------------------------------------


def _reply_with(key: str) -> Callable[[Update, ContextTypes.DEFAULT_TYPE], Awaitable[None]]:
    """A handler that answers with one catalogue text and changes nothing else."""

    @with_turn
    async def reply(turn: Turn, update: Update) -> None:
        _remember(turn, update)
        await turn.say(turn.t(key))

    return reply


def _start_keyboard(turn: Turn) -> list[list[tuple[str, str]]]:
    """The start menu; until the chat has chosen a language, one more row: every language, in its own name.

    Why a row and not a question first: an English speaker goes straight on, and a Welsh speaker whose
    phone is set to English (Telegram has no Welsh app) sees "Cymraeg" on the very first message.
    """
    t = turn.t
    rows = [
        [(t("button.report"), "x|go|report")],
        [(t("button.status"), "x|go|status")],
        [(t("button.privacy"), "x|go|privacy")],
    ]
    if turn.state.language is None and len(turn.catalogue.languages) > 1:
        rows.append([(name, f"x|intro|{code}") for code, name in _languages(turn)])
    return rows


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
    if update.message is not None:  # the /report message is the report's too (see `stop`)
        turn.state.flow_from = update.message.message_id


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
    await words.stop(turn)


@with_turn
async def on_language(turn: Turn, update: Update) -> None:
    _remember(turn, update)
    await language.choose(turn)


def _languages(turn: Turn) -> list[tuple[str, str]]:
    """(code, the language's own name) for every shipped catalogue."""
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
    if pending_reply and text_rules.is_blank(message.text):
        turn.state.inbox["reply"] = pending_reply  # nothing was sent: the next message still goes there
        await turn.say(turn.t("input.blank"))
        return
    if pending_reply:
        await status_flow.send_reply(turn, pending_reply, message.text or "", message_id=message.message_id)
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
        # Why a message, from Telegram's answer: the reporter must know whether the code is still on
        # screen (a message over 48 hours old cannot be deleted by the bot, and they must do it).
        outcome = await turn.delete_outcome(message_id)
        await turn.say(words.receipt_deleted(turn.t, outcome))
        return None
    if action == "read" and arg.isdigit():
        return await status_flow.read_pushed(turn, int(arg), message_id)
    if action == "reply" and arg.isdigit():
        return await status_flow.reply_pushed(turn, arg)
    if action == "ci":
        return await checkins.on_answer(turn, arg, message_id)
    if action == "lang":
        return await language.chosen(turn, arg)
    if action == "intro" and arg in turn.catalogue.languages:
        # Chosen on the start message: that message now reads in the language (see bot.language).
        language.remember(turn, arg)
        await turn.edit(message_id, turn.t("start.intro"), _start_keyboard(turn))
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
        await words.stop(turn)
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
