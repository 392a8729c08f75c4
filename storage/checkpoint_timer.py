"""The checkpoint timer beside the bot and the dispatcher: a checkpoint every interval and on a clean
stop, a failure logged and never fatal (storage/checkpoints.py says why on a timer)."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from pathlib import Path

from storage.checkpoint_file import CheckpointFileError
from storage.checkpoint_signing import AuditBrokenError, write
from storage.errors import KeyringError, VaultError
from storage.vault import Vault

log = logging.getLogger("storage.checkpoints")


async def keep_checkpointing(
    vault: Vault, *, keys_dir: Path, directory: Path, interval: float, stop: asyncio.Event
) -> None:
    """Checkpoint now, every `interval` seconds, and once more when `stop` is set (a clean stop)."""
    while True:
        await _checkpoint_quietly(vault, keys_dir=keys_dir, directory=directory)
        if stop.is_set():
            return
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), interval)


async def _checkpoint_quietly(vault: Vault, *, keys_dir: Path, directory: Path) -> None:
    """One checkpoint; a failure is logged (entries carry no content, and neither does this) and the
    next round tries again."""
    try:
        await write(vault, keys_dir=keys_dir, directory=directory)
    except AuditBrokenError as exc:
        log.error("%s; no checkpoint was signed: run `candour audit verify`", exc)
    except (CheckpointFileError, KeyringError) as exc:
        log.error("audit checkpoint not written: %s", exc)
    except VaultError as exc:
        log.warning("audit checkpoint not written (%s); will retry", type(exc).__name__)
    except Exception as exc:
        # Why so wide: this runs beside the bot for as long as it runs; a failure here must never stop
        # it. The type only: a driver's message could carry the database URL.
        log.error("audit checkpoint not written: %s", type(exc).__name__)
