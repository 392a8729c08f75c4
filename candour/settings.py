"""The one frozen settings object, read from `CANDOUR_*` environment variables and an optional `.env`."""

from __future__ import annotations

from pathlib import Path

from pydantic import Field, SecretStr, computed_field, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict


class Settings(BaseSettings):
    """Everything configurable about one Candour installation.

    Costs (the Argon2id work factor) are settings so that tests lower them
    without monkeypatching; secrets live in key files under `data_dir/keys`,
    never here and never in the repository.
    """

    model_config = SettingsConfigDict(
        env_prefix="CANDOUR_", env_file=".env", env_file_encoding="utf-8", frozen=True, extra="ignore"
    )

    data_dir: Path = Field(
        default=Path("candour-data"), description="Where the embedded database and key files live"
    )
    database_url: str | None = Field(
        default=None, description="SQLAlchemy async URL; default is SQLite in data_dir"
    )
    sqlite_synchronous: str = Field(default="FULL", pattern="^(OFF|NORMAL|FULL|EXTRA)$")
    db_pool_size: int = Field(default=5, ge=1, le=100)

    # Bounds match what storage.crypto accepts when opening a key, so no key is sealed that cannot be opened.
    argon2_memory_kib: int = Field(
        default=65536, ge=8, le=4 * 1024 * 1024, description="Argon2id memory cost in KiB"
    )
    argon2_iterations: int = Field(default=3, ge=1, le=64)
    argon2_lanes: int = Field(default=4, ge=1, le=64)

    telegram_token: SecretStr | None = None
    telegram_api_url: str | None = None

    # The standards desk (docs/desk.md). Times are seconds so tests lower them without monkeypatching.
    desk_enabled: bool = True
    desk_host: str = "127.0.0.1"
    desk_port: int = Field(default=8470, ge=0, le=65535)
    desk_session_idle_seconds: int = Field(default=15 * 60, ge=1)
    desk_session_absolute_seconds: int = Field(default=8 * 60 * 60, ge=1)
    desk_lockout_threshold: int = Field(default=5, ge=1, le=100)
    desk_lockout_seconds: int = Field(default=15 * 60, ge=1)
    desk_login_attempts_per_minute: int = Field(default=20, ge=1)
    desk_require_totp: bool = True
    desk_cookie_secure: bool = True
    desk_due_soon_days: int = Field(default=2, ge=0, le=90)

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
    def keys_dir(self) -> Path:
        return self.data_dir / "keys"
