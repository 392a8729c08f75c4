"""What the desk is told by whoever starts it: timeouts, lock-out, hosts, where the checkpoints are.

Why its own frozen object: the desk is a door, and a door is handed what it needs by the composition root
(`candour.app.desk_config`); it never reads the process's settings, so it cannot learn the relay key's
path, the Telegram token or any other secret of the reporters' side.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

from storage.desk_accounts import LockoutRule


@dataclass(frozen=True, kw_only=True)
class DeskConfig:
    """The desk's settings, as plain values (every one given: the defaults live in `candour.settings`)."""

    keys_dir: Path
    checkpoint_dir: Path
    session_idle: timedelta
    session_absolute: timedelta
    session_sweep_seconds: float
    lockout: LockoutRule
    login_attempts_per_minute: int
    require_totp: bool
    cookie_secure: bool
    due_soon: timedelta
    allowed_hosts: tuple[str, ...]
    proxy_addresses: tuple[str, ...]
