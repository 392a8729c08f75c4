"""The follow-up dispatcher: claims due outbox entries and carries them out through Telegram.

APScheduler (python-telegram-bot's JobQueue, an AsyncIOScheduler) only wakes `dispatch_due` every few
seconds; what is due lives in the vault's outbox and is claimed with a lease (SKIP LOCKED on
PostgreSQL), so two processes never both take an entry, and one that dies mid-way leaves it to the
other when the lease runs out. An entry is marked sent only after Telegram accepted it: a crash between
the two costs at most one duplicate, never a lost check-in.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import timedelta

from telegram import Bot, InlineKeyboardButton, InlineKeyboardMarkup, Message

from bot import sending, state
from bot.catalogue import Catalogue
from bot.delivery import ChatLock, no_lock, recall_language
from storage import casework, drafts, followup, outbox, throttle
from storage.clock import coarsen
from storage.errors import DatabaseUnavailableError, DecryptionError
from storage.models import OutboxEntry
from storage.vault import Vault

log = logging.getLogger(__name__)

LEASE = timedelta(minutes=2)
KINDS = (
    outbox.CHECKIN,
    outbox.DEADLINE_WARNING,
    outbox.DEADLINE_DUE,
    outbox.PURGE,
    outbox.PROGRESS_UPDATE,
    followup.OFFICER_NOTICE,
    followup.CONTACT_SHRED,
)


@dataclass
class Dispatched:
    """What one round did, by outcome (for logs, tests and the benchmark)."""

    counts: dict[str, int] = field(default_factory=dict)

    def add(self, outcome: str) -> None:
        self.counts[outcome] = self.counts.get(outcome, 0) + 1

    @property
    def sent(self) -> int:
        return self.counts.get("sent", 0)


@dataclass
class Dispatcher:
    """Carries out due follow-up work for one process."""

    vault: Vault
    bot: Bot
    catalogue: Catalogue
    owner: str
    chat_lock: ChatLock | None = None
    batch: int = 50
    # How long a claim is this process's before another may take it over (shorter in crash tests).
    lease: timedelta = LEASE

    async def dispatch_due(self) -> Dispatched:
        """Claim and carry out every due entry, a batch at a time, until none is left."""
        done = Dispatched()
        while True:
            try:
                entries = await outbox.claim_due(
                    self.vault, kinds=KINDS, owner=self.owner, lease=self.lease, limit=self.batch
                )
            except DatabaseUnavailableError:
                log.warning("outbox unavailable; will retry")
                return done
            for entry in entries:
                done.add(await self._carry_out(entry))
            if len(entries) < self.batch:
                return done

    async def release(self) -> int:
        """Hand back this process's claimed entries not yet carried out (on a clean shutdown), so another
        process takes them at once rather than when the lease runs out."""
        try:
            return await outbox.release(self.vault, owner=self.owner)
        except DatabaseUnavailableError:
            return 0

    async def purge_drafts(self) -> int:
        """Delete expired drafts (a report not touched for 24 hours is gone)."""
        try:
            return await drafts.purge_expired(self.vault)
        except DatabaseUnavailableError:
            return 0

    async def purge_expired(self) -> int:
        """The periodic sweep: expired drafts, and receipt-guess counts of past hours; how many rows went."""
        try:
            return await self.purge_drafts() + await throttle.purge_old_windows(self.vault)
        except DatabaseUnavailableError:
            return 0

    async def _carry_out(self, entry: OutboxEntry) -> str:
        assert entry.id is not None
        handlers: dict[str, Callable[[OutboxEntry], Awaitable[str]]] = {
            outbox.CHECKIN: self._checkin,
            outbox.DEADLINE_WARNING: self._deadline,
            outbox.DEADLINE_DUE: self._deadline,
            outbox.PURGE: self._purge,
            outbox.PROGRESS_UPDATE: self._progress,
            followup.OFFICER_NOTICE: self._officer_notice,
            followup.CONTACT_SHRED: self._shred,
        }
        try:
            return await handlers[entry.kind](entry)
        except DatabaseUnavailableError:
            # The lease runs out and the entry is claimed again: nothing is lost.
            log.warning("database unavailable while carrying out %s", entry.kind)
            return "retry"
        except DecryptionError:
            # Most likely the relay key was rotated and this process still has the old keyring.
            log.warning("a sealed handle does not open with this keyring; restart after rotating relay keys")
            await outbox.finish(
                self.vault, entry_id=entry.id, status="pending", keep_payload=True, error="keyring"
            )
            return "retry"

    # --- check-ins -------------------------------------------------------------------------------

    async def _checkin(self, entry: OutboxEntry) -> str:
        assert entry.id is not None and entry.case_id is not None
        plan = await followup.plan_checkin(self.vault, entry=entry)
        if isinstance(plan, followup.Later):
            # Why reset the attempts: planning is not a try at sending (claim_due counts every claim).
            await followup.reschedule(self.vault, entry_id=entry.id, at=plan.at, reset_attempts=True)
            return "planned"
        if isinstance(plan, followup.Drop):
            await outbox.finish(self.vault, entry_id=entry.id, status="cancelled", error=plan.reason)
            return "dropped"
        chat_id = int(plan.chat)
        async with (self.chat_lock or no_lock)(chat_id):
            chat_state = await state.load(self.vault, chat_id)
            recall_language(chat_state, self.catalogue, plan.language)
            t = self.catalogue.for_language(chat_state.language)
            buttons = [
                [
                    InlineKeyboardButton(
                        t(f"checkin.answer.{answer}"), callback_data=f"x|ci|{entry.id}.{answer}"
                    )
                ]
                for answer in followup.ANSWERS
            ]
            outcome = await self._send(entry, chat_id, t("checkin.notice"), InlineKeyboardMarkup(buttons))
            if isinstance(outcome, Message):
                chat_state.remember(outcome.message_id, self.vault.clock.now())
                await state.save(self.vault, chat_id, chat_state)
                await followup.checkin_sent(self.vault, entry_id=entry.id)
                return "sent"
        return outcome

    # --- deadlines, retention, notices -----------------------------------------------------------

    async def _deadline(self, entry: OutboxEntry) -> str:
        return await self._check(entry, followup.check_deadline)

    async def _progress(self, entry: OutboxEntry) -> str:
        return await self._check(entry, followup.check_progress)

    async def _check(self, entry: OutboxEntry, check: Callable[..., Awaitable[str]]) -> str:
        """A vault-side check that warns, escalates or notifies, or finds nothing left to do ("met")."""
        assert entry.id is not None
        result = await check(self.vault, entry=entry)
        await outbox.finish(self.vault, entry_id=entry.id, status="done" if result != "met" else "cancelled")
        return result

    async def _purge(self, entry: OutboxEntry) -> str:
        assert entry.id is not None and entry.case_id is not None
        reference = await followup.case_reference(self.vault, case_id=entry.case_id)
        if reference is not None:
            await casework.purge(self.vault, reference=reference, actor="system", reason="retention")
        await outbox.finish(self.vault, entry_id=entry.id, status="done")
        return "purged"

    async def _shred(self, entry: OutboxEntry) -> str:
        assert entry.id is not None and entry.case_id is not None
        if await followup.needs_contact(self.vault, case_id=entry.case_id):
            # Reopened, or something still to send: look again a week later (a reopened case that
            # closes again schedules its own shredding after its own last check-in).
            # From the hour, not the moment: a reporter-side time says no more than the hour (promise 1).
            await followup.reschedule(
                self.vault, entry_id=entry.id, at=coarsen(self.vault.clock.now()) + followup.ANSWER_WINDOW
            )
            return "kept"
        await casework.shred_contact(self.vault, case_id=entry.case_id)
        await outbox.finish(self.vault, entry_id=entry.id, status="done")
        return "shredded"

    async def _officer_notice(self, entry: OutboxEntry) -> str:
        assert entry.id is not None
        detail = entry.detail
        chat = await followup.officer_chat(self.vault, officer_id=int(detail["officer"]))
        if chat is None:
            await outbox.finish(self.vault, entry_id=entry.id, status="cancelled", error="not linked")
            return "dropped"
        t = self.catalogue.for_language(None)
        text = t(
            "officer.notice",
            reference=detail["reference"],
            queue=detail["queue"],
            priority=detail["priority"],
            what=detail["what"],
        )
        outcome = await self._send(entry, int(chat), text, None)
        if isinstance(outcome, Message):
            await outbox.finish(self.vault, entry_id=entry.id, status="sent")
            return "sent"
        return outcome

    async def _send(
        self, entry: OutboxEntry, chat_id: int, text: str, markup: InlineKeyboardMarkup | None
    ) -> Message | str:
        return await sending.send_recorded(self.vault, self.bot, entry, chat_id, text, markup)
