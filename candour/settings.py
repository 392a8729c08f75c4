"""The one frozen settings object, read from `CANDOUR_*` environment variables and an optional `.env`.

Every variable can instead be given as a file: `CANDOUR_X_FILE=/run/secrets/x` reads CANDOUR_X from that
file (its trailing newline dropped), as container secrets are mounted (from the environment, not from
`.env`, which is a file of its own already). Settings fields read it through a
settings source; the command line's own secrets (passphrases, desk passwords: click options with an
`envvar`) through `export_secret_files`, which the CLI calls once at start. Both use `secret_files`.
"""

from __future__ import annotations

import ipaddress
import os
import re
from collections.abc import Mapping, MutableMapping
from pathlib import Path
from typing import Any

from pydantic import Field, SecretStr, computed_field, field_validator, model_validator
from pydantic.fields import FieldInfo
from pydantic_settings import BaseSettings, PydanticBaseSettingsSource, SettingsConfigDict

PREFIX = "CANDOUR_"
FILE_SUFFIX = "_FILE"
DEFAULT_DATA_DIR = Path("candour-data")
# The command line's secrets that are not settings fields (click options' `envvar`s, also in desk/cli.py).
# Why a list rather than every `CANDOUR_*_FILE`: some variables are themselves paths
# (CANDOUR_DESK_SESSION_FILE), and a file is read into the environment only when it is meant to be.
COMMAND_LINE_SECRETS = (
    "CANDOUR_PASSPHRASE",
    "CANDOUR_ADMIN_PASSPHRASE",
    "CANDOUR_NEW_PASSPHRASE",
    "CANDOUR_DESK_PASSWORD",
    "CANDOUR_RECOVERY_PASSPHRASE",
)


class SettingsFileError(ValueError):
    """A `CANDOUR_X_FILE` that cannot be read, or that is set together with `CANDOUR_X`."""


def secret_files(environ: Mapping[str, str], *, fields: bool) -> dict[str, str]:
    """The values given as files: `CANDOUR_X` -> the contents of the file named by `CANDOUR_X_FILE`.

    Threat: a secret in an environment variable is visible to `docker inspect`, to `/proc/PID/environ`
    and to every child process; orchestrators mount secrets as files instead. Why refuse both forms at
    once: which one wins would be a guess, and a stale value silently in force is worse than an error.
    The message names the variable and the path, never the contents. `fields` picks the settings
    fields (True) or the command line's secrets (False), so the two readers never see each other's.
    """
    names = {PREFIX + name.upper() for name in Settings.model_fields} if fields else set(COMMAND_LINE_SECRETS)
    values: dict[str, str] = {}
    for name, path in environ.items():
        upper = name.upper()
        if not (upper.startswith(PREFIX) and upper.endswith(FILE_SUFFIX)) or len(upper) <= len(
            PREFIX + FILE_SUFFIX
        ):
            continue
        target = upper[: -len(FILE_SUFFIX)]
        if target not in names:
            continue
        if any(key.upper() == target for key in environ):
            raise SettingsFileError(f"set {target} or {upper}, not both")
        try:
            text = Path(path).read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            raise SettingsFileError(f"{upper}: cannot read {path} ({type(exc).__name__})") from None
        values[target] = text.removesuffix("\n").removesuffix("\r")
    return values


def export_secret_files(environ: MutableMapping[str, str] | None = None) -> list[str]:
    """Put each of the COMMAND_LINE_SECRETS given as `CANDOUR_X_FILE` into the environment as `CANDOUR_X`,
    for the click options that read it; returns the names set. The `_FILE`
    variable is removed once read, so a second call (or a command invoking another) finds one form."""
    environ = os.environ if environ is None else environ
    values = secret_files(environ, fields=False)
    for name, value in values.items():
        environ[name] = value
        for key in [k for k in environ if k.upper() == name + FILE_SUFFIX]:
            del environ[key]
    return sorted(values)


class _FileSource(PydanticBaseSettingsSource):
    """Settings fields given as `CANDOUR_<FIELD>_FILE`."""

    def get_field_value(self, field: FieldInfo, field_name: str) -> tuple[Any, str, bool]:
        return None, field_name, False  # unused: __call__ reads every field at once

    def __call__(self) -> dict[str, Any]:
        given = secret_files(os.environ, fields=True)
        return {
            name: given[PREFIX + name.upper()]
            for name in self.settings_cls.model_fields
            if PREFIX + name.upper() in given
        }


class Settings(BaseSettings):
    """Everything configurable about one Candour installation.

    Costs (the Argon2id work factor) are settings so that tests lower them
    without monkeypatching; server secrets live in key files under `keys_dir` (by default
    `data_dir/keys`), never here and never in the repository.
    """

    model_config = SettingsConfigDict(
        env_prefix="CANDOUR_", env_file=".env", env_file_encoding="utf-8", frozen=True, extra="ignore"
    )

    data_dir: Path = Field(
        default=DEFAULT_DATA_DIR, description="Where the embedded database (and by default the keys) live"
    )
    # Threat: keys inside the data directory travel with every copy of it (a backup, a snapshot, a volume
    # handed to a contractor): with them the database's contact handles, drafts, outbox copies and desk
    # TOTP secrets open. Why a setting: keep them on another volume or a container secret mount.
    keys_dir: Path = Field(
        default=DEFAULT_DATA_DIR / "keys",
        description="Where the server key files live; default data_dir/keys (one machine only)",
    )
    database_url: str | None = Field(
        default=None, description="SQLAlchemy async URL; default is SQLite in data_dir"
    )
    sqlite_synchronous: str = Field(default="FULL", pattern="^(OFF|NORMAL|FULL|EXTRA)$")
    db_pool_size: int = Field(default=5, ge=1, le=100)

    # Signed audit checkpoints (docs/key-hierarchy.md): entries newer than the newest checkpoint are
    # protected by the hash chain alone, so the interval is the window an insider could rewrite unseen.
    audit_checkpoint_seconds: int = Field(default=300, ge=5, le=24 * 3600)
    audit_checkpoint_dir: Path | None = Field(
        default=None, description="Where checkpoints are appended; default keys_dir (outside the database)"
    )

    # Bounds match what storage.crypto accepts when opening a key, so no key is sealed that cannot be opened.
    argon2_memory_kib: int = Field(
        default=65536, ge=8, le=4 * 1024 * 1024, description="Argon2id memory cost in KiB"
    )
    argon2_iterations: int = Field(default=3, ge=1, le=64)
    argon2_lanes: int = Field(default=4, ge=1, le=64)

    telegram_token: SecretStr | None = None
    telegram_api_url: str | None = None

    # Webhook mode (docs/bot.md, "Webhook mode"): with webhook_url set, `candour serve intake` serves the
    # Telegram webhook instead of polling. Threat: anyone who can reach the endpoint could forge updates;
    # Telegram's secret token header (checked in constant time) and a path derived from it keep them out.
    # Replicas behind one URL must share webhook_secret (or CANDOUR_WEBHOOK_SECRET_FILE): unset, each start
    # draws its own, which only one replica can answer to.
    webhook_url: str | None = Field(
        default=None,
        max_length=1000,
        pattern=r"^https?://[^\s/?#]+(/[^\s?#]*)?$",
        description="The public base URL Telegram posts to; the endpoint's path is added to it",
    )
    webhook_secret: SecretStr | None = Field(
        default=None,
        description="Telegram's secret_token (32-256 of A-Z a-z 0-9 _ -); default: drawn at each start",
    )
    webhook_host: str = Field(default="127.0.0.1", description="Where the intake's webhook server listens")
    webhook_port: int = Field(default=8471, ge=0, le=65535, description="Its port (0 picks a free one)")
    webhook_max_connections: int = Field(
        default=40, ge=1, le=100, description="setWebhook's max_connections: updates Telegram sends at once"
    )
    # On PostgreSQL each update in flight holds one connection for its chat's lock (storage/chat_lock.py);
    # this many per replica, which also bounds the chats one replica handles at once.
    webhook_lock_connections: int = Field(default=10, ge=1, le=100)
    webhook_lock_wait_seconds: float = Field(
        default=120.0,
        gt=0,
        le=3600,
        description="How long an update waits for its chat's lock before a retry",
    )

    # The evidence cleaner (bot/cleaner.py): each file is read in a worker process of its own that holds
    # no keys and reaches no network or file. Past these limits the file is refused with a plain sentence
    # and the bot carries on. Threat: a file crafted to exhaust memory or CPU (a decompression bomb, a
    # PDF of a million objects) must cost one refusal, not the bot.
    cleaner_memory_mb: int = Field(
        default=1536, ge=256, le=64 * 1024, description="Address space one cleaning worker may use, in MB"
    )
    cleaner_cpu_seconds: int = Field(default=60, ge=1, le=3600, description="CPU time one file may take")
    cleaner_wall_seconds: float = Field(
        default=90.0, gt=0, le=3600, description="Wall time one file may take before its worker is killed"
    )
    cleaner_concurrency: int = Field(default=2, ge=1, le=64, description="Files cleaned at once")
    # Why on by default: the worker must have no network, no file system and so no key or database in
    # reach; where the kernel refuses it the namespaces that give that, the bot on Telegram refuses to
    # start and names this setting, which an operator may turn off to accept running the worker under
    # resource limits only (one warning is logged). The sandbox chat, which serves no real reporter, runs
    # either way and says so.
    cleaner_require_isolation: bool = True

    # The standards desk (docs/desk.md). Times are seconds so tests lower them without monkeypatching.
    desk_enabled: bool = True
    desk_host: str = "127.0.0.1"
    desk_port: int = Field(default=8470, ge=0, le=65535)
    desk_session_idle_seconds: int = Field(default=15 * 60, ge=1)
    desk_session_absolute_seconds: int = Field(default=8 * 60 * 60, ge=1)
    # Sign-in guessing (docs/desk.md): this many failures per login from one client address are checked,
    # then that pair backs off, doubling from desk_backoff_base_seconds up to desk_lockout_seconds.
    desk_lockout_threshold: int = Field(default=5, ge=1, le=100)
    desk_lockout_seconds: int = Field(default=15 * 60, ge=1)
    desk_backoff_base_seconds: int = Field(default=30, ge=1)
    desk_login_attempts_per_minute: int = Field(default=20, ge=1)
    # A browser an officer signed in from keeps a device cookie this long after its last sign-in; its
    # attempts are counted on their own, so a stranger behind the same address cannot keep her out, and
    # this many failures in a row revoke it (docs/desk.md).
    desk_device_days: int = Field(default=30, ge=1, le=365)
    desk_device_failures: int = Field(default=5, ge=1, le=100)
    # An operator hands the one-time enrolment code over out of band; it expires unused after this.
    desk_enrolment_code_hours: int = Field(default=72, ge=1, le=24 * 30)
    # How often expired sessions (and their unlocked keys) are dropped without waiting for a request.
    desk_session_sweep_seconds: float = Field(default=30.0, gt=0, le=3600)
    # Threat: DNS rebinding and Host-header poisoning. Requests naming any other host are refused (400).
    # Comma-separated; `*.example.org` allows subdomains. desk_host is added when it names one host.
    desk_trusted_hosts: str = Field(default="localhost,127.0.0.1,::1", max_length=2000)
    # Threat: behind a reverse proxy every client has the proxy's address, so one stranger's wrong
    # passwords back off an officer's own sign-in. Comma-separated IP addresses or networks of the proxies
    # whose X-Forwarded-For the desk believes (the right-most address no listed proxy added is the
    # client). Empty: X-Forwarded-For is ignored and the socket's peer is the client (docs/desk.md).
    desk_trusted_proxies: str = Field(default="", max_length=2000)
    desk_require_totp: bool = True
    desk_cookie_secure: bool = True
    desk_due_soon_days: int = Field(default=2, ge=0, le=90)

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        """Arguments, then the environment, then `CANDOUR_X_FILE`, then `.env`."""
        return init_settings, env_settings, _FileSource(settings_cls), dotenv_settings, file_secret_settings

    @model_validator(mode="before")
    @classmethod
    def _keys_beside_data(cls, data: Any) -> Any:
        """keys_dir defaults to data_dir/keys, following a data_dir that was set."""
        if isinstance(data, dict) and not data.get("keys_dir"):
            data = {**data, "keys_dir": Path(data.get("data_dir") or DEFAULT_DATA_DIR) / "keys"}
        return data

    @field_validator("webhook_secret", mode="after")
    @classmethod
    def _webhook_secret_form(cls, secret: SecretStr | None) -> SecretStr | None:
        """Refuse a webhook secret Telegram would refuse, or one short enough to guess; never echo it."""
        if secret is not None and not re.fullmatch(r"[A-Za-z0-9_-]{32,256}", secret.get_secret_value()):
            raise ValueError("it must be 32 to 256 characters of A-Z, a-z, 0-9, '_' and '-'")
        return secret

    @model_validator(mode="after")
    def _memory_covers_lanes(self) -> Settings:
        if self.argon2_memory_kib < 8 * self.argon2_lanes:
            raise ValueError("argon2_memory_kib must be at least 8 x argon2_lanes")
        return self

    @computed_field  # type: ignore[prop-decorator]
    @property
    def effective_database_url(self) -> str:
        """The database URL in force: the configured one, or SQLite inside the data directory."""
        if self.database_url:
            return self.database_url
        return f"sqlite+aiosqlite:///{(self.data_dir / 'candour.db').resolve()}"

    @property
    def desk_allowed_hosts(self) -> tuple[str, ...]:
        """The Host header values the desk answers: desk_trusted_hosts, and desk_host if it names one host."""
        hosts = [h.strip().lower() for h in self.desk_trusted_hosts.split(",") if h.strip()]
        if self.desk_host.strip() and self.desk_host not in ("0.0.0.0", "::"):  # noqa: S104 - a name, not a bind
            hosts.append(self.desk_host.strip().lower())
        return tuple(dict.fromkeys(hosts))

    @property
    def desk_proxy_addresses(self) -> tuple[str, ...]:
        """desk_trusted_proxies as IP addresses and networks (a network normalised: 10.0.0.1/24 is
        10.0.0.0/24); checked when the settings load."""
        listed = (p.strip() for p in self.desk_trusted_proxies.split(","))
        return tuple(str(ipaddress.ip_network(p, strict=False)) if "/" in p else p for p in listed if p)

    @model_validator(mode="after")
    def _proxies_are_addresses(self) -> Settings:
        """Refuse a trusted proxy that is not an IP address or network: a wildcard would believe any
        client's X-Forwarded-For, and a name would silently match nothing."""
        for proxy in (p.strip() for p in self.desk_trusted_proxies.split(",")):
            try:
                if proxy:
                    ipaddress.ip_network(proxy, strict=False)
            except ValueError:
                raise ValueError(
                    f"desk_trusted_proxies: {proxy[:60]!r} is not an IP address or network "
                    "(e.g. 127.0.0.1 or 10.0.0.0/24)"
                ) from None
        return self

    @property
    def keys_inside_data_dir(self) -> bool:
        """Whether the key files sit in the data directory (a copy of it then carries the keys)."""
        return self.keys_dir.resolve().is_relative_to(self.data_dir.resolve())

    @property
    def checkpoint_dir(self) -> Path:
        """Where signed audit checkpoints are appended: the configured directory, or beside the keys."""
        return self.audit_checkpoint_dir or self.keys_dir
