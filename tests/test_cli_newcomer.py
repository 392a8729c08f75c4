"""The `candour` command line as a newcomer meets it (issue 11, section 5), run as real processes the way
tests/test_cli.py runs them: a too-short passphrase is asked again at once, a failed `init` leaves nothing
behind, `case list/show` say what is missing before asking for a passphrase, an unreachable database says
where it was looked for (never the password), and `candour run` with the desk port taken stops before
anything starts."""

from __future__ import annotations

import socket
from pathlib import Path

import pytest

from bot.emulator import TelegramEmulator
from policies.loader import starter_policy_text
from tests.test_cli import PASSPHRASE, Cli, one_line_error

SHORT = "too short"
DB_PASSWORD = "s3cret-db-pw"


@pytest.fixture
def cli(cli_env: dict[str, str], tmp_path: Path) -> Cli:
    """The CLI against this test's fresh data directory, with the keys kept apart from it."""
    return Cli(env={**cli_env, "CANDOUR_KEYS_DIR": str(tmp_path / "keys")}, cwd=tmp_path)


def left_behind(cli: Cli) -> list[Path]:
    """What exists of the data and keys directories (nothing, after a failed first init)."""
    return [p for p in (Path(cli.env["CANDOUR_DATA_DIR"]), Path(cli.env["CANDOUR_KEYS_DIR"])) if p.exists()]


def refusing_port() -> socket.socket:
    """A socket bound to a free port but not listening: a connection to it is refused at once."""
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    return sock


# --- init -------------------------------------------------------------------------------------------


def test_init_asks_again_at_once_for_a_too_short_passphrase(cli: Cli) -> None:
    # Login, name, a short passphrase (refused at once), then a good one twice, and no desk password.
    answers = f"admin\nAdmin\n{SHORT}\n{PASSPHRASE}\n{PASSPHRASE}\n\n\n"
    result = cli.run("init", input=answers)
    out = result.stdout
    assert result.returncode == 0, result.stderr
    refused = "Error: a passphrase needs at least 12 characters; try again"
    assert refused in out
    # Asked again at once (getpass writes its prompts to stderr), and refused before anything was made.
    assert result.stderr.count("Their passphrase (12+ characters)") == 2
    assert out.index(refused) < out.index("done: created data directory")
    assert "done: created officer admin" in out


def test_init_stopped_after_a_refused_passphrase_leaves_nothing_behind(cli: Cli) -> None:
    # The operator gives up at the second asking (end of input): nothing may have been written.
    result = cli.run("init", input=f"admin\nAdmin\n{SHORT}\n")
    assert result.returncode != 0
    assert "a passphrase needs at least 12 characters" in result.stdout
    assert left_behind(cli) == []


def test_a_too_short_passphrase_given_as_an_option_fails_before_anything_is_made(cli: Cli) -> None:
    line = cli.fail(
        "init", "--non-interactive", "--admin-login", "admin", env={"CANDOUR_ADMIN_PASSPHRASE": SHORT}
    )
    assert line == "candour: a passphrase needs at least 12 characters"
    assert left_behind(cli) == []


def test_a_too_short_desk_password_is_asked_again_before_anything_is_made(cli: Cli) -> None:
    answers = f"admin\nAdmin\n{PASSPHRASE}\n{PASSPHRASE}\nshort\n{PASSPHRASE}\n\n\n"
    out = cli.ok("init", input=answers)
    assert "Error: a desk password needs at least" in out
    assert "Error: the desk password must not be the officer's key passphrase" in out
    assert out.index("Error: a desk password") < out.index("done: created data directory")


def test_init_that_fails_half_way_removes_what_it_made(cli: Cli) -> None:
    # The unit is checked against the policy only once keys and database exist: they must go again.
    line = cli.fail(
        "init",
        "--non-interactive",
        "--admin-login",
        "admin",
        "--admin-unit",
        "no-such-unit",
        env={"CANDOUR_ADMIN_PASSPHRASE": PASSPHRASE},
    )
    assert "no unit 'no-such-unit'" in line
    assert left_behind(cli) == []
    # Corrected, it runs from a clean start.
    out = cli.ok(
        "init", "--non-interactive", "--admin-login", "admin", env={"CANDOUR_ADMIN_PASSPHRASE": PASSPHRASE}
    )
    assert "done: created key files" in out and "done: migrated the database" in out


def test_a_policy_publishing_would_refuse_is_refused_before_anything_is_made(cli: Cli) -> None:
    # An existing, empty SQLite file (an operator who made it first): it must stay, and stay usable.
    data = Path(cli.env["CANDOUR_DATA_DIR"])
    data.mkdir()
    (data / "candour.db").touch()
    bad = cli.cwd / "bad.yaml"
    bad.write_text(
        starter_policy_text().replace("acknowledge_within_days: 7", "acknowledge_within_days: 30"), "utf-8"
    )
    admin = ("--non-interactive", "--admin-login", "admin")
    result = cli.run("init", *admin, "--policy", str(bad), env={"CANDOUR_ADMIN_PASSPHRASE": PASSPHRASE})
    assert result.returncode != 0 and "Traceback" not in result.stderr
    assert "acknowledge_within_days" in result.stderr
    assert not Path(cli.env["CANDOUR_KEYS_DIR"]).exists()
    assert (data / "candour.db").stat().st_size == 0, "refused before the database was touched"
    # Corrected, the same command runs: no "key files are missing ... restore from backup".
    good = cli.cwd / "good.yaml"
    good.write_text(starter_policy_text(), "utf-8")
    out = cli.ok("init", *admin, "--policy", str(good), env={"CANDOUR_ADMIN_PASSPHRASE": PASSPHRASE})
    assert "done: created officer admin" in out and "done: published policy version 1" in out


def test_a_failed_init_keeps_the_keys_of_a_database_it_did_not_create(cli: Cli) -> None:
    # The unit is checked only once keys and schema exist. The database was there before, so it stays,
    # and so do the keys its rows may be sealed to; the corrected run uses them.
    data = Path(cli.env["CANDOUR_DATA_DIR"])
    data.mkdir()
    (data / "candour.db").touch()
    admin = ("--non-interactive", "--admin-login", "admin")
    env = {"CANDOUR_ADMIN_PASSPHRASE": PASSPHRASE}
    line = cli.fail("init", *admin, "--admin-unit", "no-such-unit", env=env)
    assert "no unit 'no-such-unit'" in line
    assert any(Path(cli.env["CANDOUR_KEYS_DIR"]).iterdir()), "the keys stay with the database"
    out = cli.ok("init", *admin, env=env)
    assert "ok: key files exist" in out and "done: created officer admin" in out
    assert "done: published policy version 1" in out
    cli.ok("case", "list", "--as", "admin", input=f"{PASSPHRASE}\n")


# --- what is missing, said before a passphrase is asked -----------------------------------------------


@pytest.mark.parametrize(
    "command", [("case", "list", "--as", "alice"), ("case", "show", "CN-AAAAAAAA", "--as", "alice")]
)
def test_case_commands_say_what_is_missing_before_asking_for_a_passphrase(
    cli: Cli, command: tuple[str, ...]
) -> None:
    # Input that would answer a prompt: it must not be asked for.
    result = cli.run(*command, input=f"{PASSPHRASE}\n")
    line = one_line_error(result, command)
    assert "does not exist: run `candour init`" in line and "data directory" in line
    assert "Passphrase" not in result.stdout + result.stderr

    Path(cli.env["CANDOUR_DATA_DIR"]).mkdir()
    cli.ok(
        "init", "--non-interactive", "--admin-login", "alice", env={"CANDOUR_ADMIN_PASSPHRASE": PASSPHRASE}
    )
    database = Path(cli.env["CANDOUR_DATA_DIR"]) / "candour.db"
    database.unlink()
    result = cli.run(*command, input=f"{PASSPHRASE}\n")
    line = one_line_error(result, command)
    assert f"database {database} does not exist" in line
    assert "Passphrase" not in result.stdout + result.stderr


def test_an_unreachable_database_says_where_to_look_and_never_the_password(cli: Cli) -> None:
    with refusing_port() as closed:
        port = closed.getsockname()[1]
        url = f"postgresql://candour:{DB_PASSWORD}@127.0.0.1:{port}/candourdb"
        result = cli.run(
            "init",
            "--non-interactive",
            "--admin-login",
            "admin",
            env={"CANDOUR_DATABASE_URL": url, "CANDOUR_ADMIN_PASSPHRASE": PASSPHRASE},
        )
    line = one_line_error(result, ("init",))
    assert f"127.0.0.1:{port}" in line and "candourdb" in line
    assert "server is running" in line and "CANDOUR_DATABASE_URL" in line
    assert DB_PASSWORD not in result.stdout + result.stderr
    assert line != "candour: the database is unavailable"
    assert left_behind(cli) == [], "the directories made before the database was tried are gone"


def init_against(cli: Cli, url: str) -> tuple[str, str]:
    """`candour init` against this database URL: its one error line, and everything it printed."""
    result = cli.run(
        "init",
        "--non-interactive",
        "--admin-login",
        "admin",
        env={"CANDOUR_DATABASE_URL": url, "CANDOUR_ADMIN_PASSPHRASE": PASSPHRASE},
    )
    return one_line_error(result, ("init",)), result.stdout + result.stderr


def test_an_unencoded_at_sign_in_the_password_is_never_shown_as_the_host(cli: Cli) -> None:
    with refusing_port() as closed:
        port = closed.getsockname()[1]
        line, printed = init_against(
            cli, f"postgresql+asyncpg://candour:Secr3t@Pass@127.0.0.1:{port}/candour"
        )
    assert "the host in CANDOUR_DATABASE_URL" in line and "(database candour)" in line
    assert "Secr3t" not in printed and "Pass" not in printed


def test_a_non_numeric_port_is_a_malformed_url_not_a_traceback(cli: Cli) -> None:
    line, printed = init_against(cli, f"postgresql+asyncpg://candour:{DB_PASSWORD}@127.0.0.1:abc/candour")
    assert line.startswith("candour: CANDOUR_DATABASE_URL is malformed")
    assert DB_PASSWORD not in printed and "abc" not in printed
    line, printed = init_against(cli, f"not a url {DB_PASSWORD}")
    assert "is malformed" in line and DB_PASSWORD not in printed


def test_a_host_given_in_the_query_is_the_one_named(cli: Cli) -> None:
    with refusing_port() as closed:
        port = closed.getsockname()[1]
        url = f"postgresql+asyncpg://candour:{DB_PASSWORD}@/candourdb?host=127.0.0.1&port={port}"
        line, printed = init_against(cli, url)
    assert f"server at 127.0.0.1:{port} (database candourdb)" in line
    assert DB_PASSWORD not in printed


# --- candour run with the desk port taken ---------------------------------------------------------------


async def test_run_with_the_desk_port_taken_stops_before_anything_starts(cli: Cli) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        async with TelegramEmulator() as emu:
            emu.add_bot("777002:PORT-TAKEN")
            env = {
                "CANDOUR_DESK_PORT": str(port),
                "CANDOUR_TELEGRAM_TOKEN": "777002:PORT-TAKEN",
                "CANDOUR_TELEGRAM_API_URL": emu.root_url,
            }
            # Not set up yet: it must not start asking the set-up questions either.
            result = cli.run("run", input="admin\n", env=env)
            calls = list(emu.calls)
    line = one_line_error(result, ("run",))
    assert line.startswith(f"candour: the desk cannot listen on 127.0.0.1:{port}: the port is already in use")
    assert "CANDOUR_DESK_PORT" in line
    assert "desk is at" not in result.stdout and "setting it up" not in result.stdout
    assert result.stdout == ""
    assert calls == [], "the bot reached Telegram although the desk could not start"
    assert left_behind(cli) == []
