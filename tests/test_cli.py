"""End-to-end tests of the `candour` command line, run the way an operator runs it.

Every test starts the real console script in a subprocess (`.venv/bin/candour`), with the environment
of the `cli_env` fixture (a fresh data directory, a cheap Argon2id cost) and answers to prompts on
standard input, and checks what the operator sees (exit codes, stdout, one-line errors on stderr) and
what lands on disk (file modes, saved evidence, the SQLite database).

Each subprocess costs about a second of imports, so the tests are a few longer scenarios. Scenarios
that do not test `candour init` itself start from a private copy of one installation that was
initialised once per module through the CLI; no test sees another test's changes. Commands of a
scenario that do not depend on each other run concurrently (SQLite writers queue on BEGIN IMMEDIATE).
"""

from __future__ import annotations

import os
import re
import shutil
import sqlite3
import stat
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import pytest

PASSPHRASE = "correct horse battery staple"  # the same as conftest.PASSPHRASE
CANDOUR = Path(sys.executable).parent / "candour"
BOB_PASSPHRASE = "bob's own long passphrase"
RECOVERY_PASSPHRASE = "two people hold this recovery phrase"
STARTER = Path(__file__).resolve().parent.parent / "policies" / "starter.yaml"


@dataclass
class Cli:
    """Runs `candour` as an operator would, in `cwd`, with `env` plus per-call additions."""

    env: dict[str, str]
    cwd: Path
    extra: dict[str, str] = field(default_factory=dict)

    def run(
        self,
        *args: str,
        input: str | None = None,
        env: dict[str, str] | None = None,
    ) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [str(CANDOUR), *args],
            env={**self.env, **self.extra, **(env or {})},
            cwd=self.cwd,
            input=input,
            stdin=None if input is not None else subprocess.DEVNULL,
            capture_output=True,
            text=True,
            timeout=120,
            # No controlling terminal: getpass then reads the passphrase from stdin, as fed here.
            start_new_session=True,
        )

    def ok(self, *args: str, input: str | None = None, env: dict[str, str] | None = None) -> str:
        """Run a command that must succeed; its stdout."""
        result = self.run(*args, input=input, env=env)
        assert result.returncode == 0, f"candour {' '.join(args)} -> {result.returncode}\n{result.stderr}"
        assert_no_traceback(result)
        return result.stdout

    def fail(self, *args: str, input: str | None = None, env: dict[str, str] | None = None) -> str:
        """Run a command that must fail with one line on stderr; that line."""
        result = self.run(*args, input=input, env=env)
        return one_line_error(result, args)

    def concurrently(
        self,
        *calls: tuple[str, ...] | tuple[tuple[str, ...], dict[str, str]],
    ) -> list[subprocess.CompletedProcess[str]]:
        """Run independent commands at once (each is args, or (args, env)); results in order."""
        normalised = [c if len(c) == 2 and isinstance(c[1], dict) else (c, {}) for c in calls]
        with ThreadPoolExecutor(max_workers=4) as pool:
            return list(pool.map(lambda call: self.run(*call[0], env=call[1]), normalised))


def assert_no_traceback(result: subprocess.CompletedProcess[str]) -> None:
    assert "Traceback" not in result.stdout + result.stderr, result.stderr


def one_line_error(result: subprocess.CompletedProcess[str], args: tuple[str, ...] | list[str] = ()) -> str:
    """The operator contract for failures: non-zero exit, exactly one `candour:` line, no traceback."""
    where = f"candour {' '.join(args)}"
    assert result.returncode != 0, f"{where} succeeded:\n{result.stdout}"
    assert_no_traceback(result)
    lines = result.stderr.splitlines()
    assert len(lines) == 1, f"{where}: stderr is not one line:\n{result.stderr}"
    assert lines[0].startswith("candour: "), f"{where}: {lines[0]!r}"
    return lines[0]


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def submitted_reference(stdout: str) -> str:
    """The case reference from `candour case submit`'s first line: 'case CN-XXXXXXXX routed to ...'."""
    first = stdout.splitlines()[0].split()
    assert first[0] == "case" and first[1].startswith("CN-"), stdout
    return first[1]


def fresh_env() -> dict[str, str]:
    """What `cli_env` sets, for the module-scoped template (which cannot use the function fixture)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("CANDOUR_")}
    env.update(
        {"CANDOUR_ARGON2_MEMORY_KIB": "64", "CANDOUR_ARGON2_ITERATIONS": "1", "CANDOUR_ARGON2_LANES": "1"}
    )
    return env


@pytest.fixture(scope="module")
def template_data_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One installation initialised through the CLI (starter policy, admin alice); tests copy it."""
    base = tmp_path_factory.mktemp("cli-template")
    data_dir = base / "cli-data"
    cli = Cli(
        env={**fresh_env(), "CANDOUR_DATA_DIR": str(data_dir), "CANDOUR_ADMIN_PASSPHRASE": PASSPHRASE},
        cwd=base,
    )
    cli.ok("init", "--non-interactive", "--admin-login", "alice", "--admin-name", "Alice Admin")
    return data_dir


@pytest.fixture
def cli(cli_env: dict[str, str], tmp_path: Path) -> Cli:
    """The CLI against this test's fresh (not yet initialised) data directory."""
    return Cli(env=dict(cli_env), cwd=tmp_path)


@pytest.fixture
def installed(cli: Cli, template_data_dir: Path) -> Cli:
    """The CLI against this test's own copy of the initialised installation; alice's passphrase is set."""
    shutil.copytree(template_data_dir, cli.env["CANDOUR_DATA_DIR"])
    cli.extra["CANDOUR_PASSPHRASE"] = PASSPHRASE
    return cli


# --- init -----------------------------------------------------------------------------------------


def test_init_non_interactive_creates_private_files_and_is_idempotent(cli: Cli, tmp_path: Path) -> None:
    env = {"CANDOUR_ADMIN_PASSPHRASE": PASSPHRASE}
    data_dir = Path(cli.env["CANDOUR_DATA_DIR"])

    out = cli.ok(
        "init", "--non-interactive", "--admin-login", "alice", "--admin-name", "Alice Admin", env=env
    )
    assert f"done: created data directory {data_dir}" in out
    assert "done: created key files" in out
    assert "done: migrated the database" in out
    assert "done: created officer alice" in out and "member of every queue" in out
    assert "done: published policy version 1" in out
    assert PASSPHRASE not in out

    assert mode(data_dir) == 0o700
    assert mode(data_dir / "keys") == 0o700
    key_files = sorted(p for p in (data_dir / "keys").iterdir() if p.is_file())
    assert key_files, "no key files were written"
    for key_file in key_files:
        assert mode(key_file) == 0o600, key_file
    database = data_dir / "candour.db"
    assert mode(database) == 0o600
    for companion in (data_dir / "candour.db-wal", data_dir / "candour.db-shm"):
        if companion.exists():
            assert mode(companion) == 0o600, companion

    again = cli.ok(
        "init", "--non-interactive", "--admin-login", "alice", "--admin-name", "Alice Admin", env=env
    )
    assert "done:" not in again
    assert "ok: key files exist" in again
    assert "ok: database schema is current" in again
    assert "ok: a policy is published and officers exist" in again

    history = cli.ok("policy", "history").splitlines()
    assert len(history) == 1, history
    assert history[0].startswith("v1 ") and "operator:init" in history[0] and "initial policy" in history[0]


def test_interactive_init_and_passphrase_prompt(cli: Cli, tmp_path: Path) -> None:
    desk_password = "carol's desk password"
    answers = f"carol\nCarol Chief\n{PASSPHRASE}\n{PASSPHRASE}\n{desk_password}\n{desk_password}\n"
    out = cli.ok("init", input=answers)
    assert "done: created officer carol" in out
    assert "done: published policy version 1" in out
    assert "done: desk password for carol" in out

    evidence = tmp_path / "screenshot.bin"
    evidence.write_bytes(bytes(range(256)) + b"\x00\xff end of evidence")
    submitted = cli.ok(
        "case",
        "submit",
        "--category",
        "bullying",
        "--narrative",
        "The sergeant mocks my accent daily",
        "--evidence",
        str(evidence),
    )
    reference = submitted_reference(submitted)
    assert "routed to psd-conduct (policy v1)" in submitted
    assert "receipt code (shown once): " in submitted

    saved = tmp_path / "saved"
    shown = cli.ok(
        "case", "show", reference, "--as", "carol", "--save-evidence", str(saved), input=f"{PASSPHRASE}\n"
    )
    assert shown.startswith(f"{reference}  status=received")
    assert "narrative: The sergeant mocks my accent daily" in shown
    assert "file screenshot.bin" in shown
    assert PASSPHRASE not in shown
    files = list(saved.iterdir())
    assert [f.name for f in files] == ["003-screenshot.bin"]
    assert files[0].read_bytes() == evidence.read_bytes()
    assert mode(files[0]) == 0o600


# --- officers and entitlement ---------------------------------------------------------------------


def test_officer_joins_queue_and_is_granted_earlier_cases(installed: Cli) -> None:
    cli = installed
    # Two reports at once (SQLite writers queue on BEGIN IMMEDIATE), both before bob joins.
    submitted = cli.concurrently(
        ("case", "submit", "--category", "bullying", "--narrative", "Inspector shouts at probationers"),
        ("case", "submit", "--category", "corruption", "--narrative", "PC sells PNC checks"),
    )
    assert [r.returncode for r in submitted] == [0, 0], [r.stderr for r in submitted]
    bullying, corruption = (submitted_reference(r.stdout) for r in submitted)

    added = cli.ok(
        "officer",
        "add",
        "bob",
        "--name",
        "Bob Baker",
        "--queue",
        "psd-conduct",
        "--unit",
        "north-bcu",
        env={"CANDOUR_NEW_PASSPHRASE": BOB_PASSPHRASE},
    )
    assert added.startswith("added bob (key ") and "queues: psd-conduct" in added
    as_bob = {"CANDOUR_PASSPHRASE": BOB_PASSPHRASE}
    officer_list, refused, alice_list = cli.concurrently(
        ("officer", "list"),
        (("case", "show", bullying, "--as", "bob"), as_bob),
        ("case", "list", "--as", "alice"),
    )
    assert alice_list.returncode == 0, alice_list.stderr
    assert {line.split()[0] for line in alice_list.stdout.splitlines()} == {bullying, corruption}
    assert officer_list.returncode == 0, officer_list.stderr
    listing = {line.split()[0]: line for line in officer_list.stdout.splitlines()}
    assert set(listing) == {"alice", "bob"}
    assert "Bob Baker" in listing["bob"] and "unit=north-bcu" in listing["bob"]
    assert "queues=psd-conduct " in listing["bob"]
    assert one_line_error(refused) == f"candour: you are not entitled to open case {bullying}"

    granted = cli.ok("officer", "grant", "bob", "--queue", "psd-conduct", "--as", "alice")
    assert "bob is a member of psd-conduct; opened 1 case(s) to them" in granted
    shown = cli.ok("case", "show", bullying, "--as", "bob", env=as_bob)
    assert "narrative: Inspector shouts at probationers" in shown

    # The counter-corruption case is in a queue bob is not in: only a one-case grant opens it.
    one = cli.ok("officer", "grant", "bob", "--case", corruption, "--as", "alice", "--passphrase", PASSPHRASE)
    assert one.strip() == f"granted: bob on {corruption}"
    shown = cli.ok("case", "show", corruption, "--as", "bob", env=as_bob)
    assert "queues: psd-counter-corruption" in shown
    assert "narrative: PC sells PNC checks" in shown

    linking = cli.ok("officer", "link-code", "bob")
    assert re.fullmatch(r"send this to the bot within 15 minutes: /link [0-9A-Z]{5}-[0-9A-Z]{5}\n", linking)
    assert cli.fail("officer", "link-code", "nobody").startswith("candour: ")


# --- policy ---------------------------------------------------------------------------------------


def test_policy_validate_simulate_apply_and_rollback(installed: Cli, tmp_path: Path) -> None:
    cli = installed
    starter = STARTER.read_text(encoding="utf-8")
    broken = tmp_path / "broken.yaml"
    broken.write_text("name: broken\nunits:\n  - id: a\n   name: misindented\n", encoding="utf-8")
    too_slow = tmp_path / "too-slow.yaml"
    too_slow.write_text(
        starter.replace("acknowledge_within_days: 7", "acknowledge_within_days: 30"), encoding="utf-8"
    )
    to_lead = tmp_path / "to-lead.yaml"
    to_lead.write_text(starter.replace("queues: [psd-conduct]\n", "queues: [psd-lead]\n"), encoding="utf-8")
    assert to_lead.read_text(encoding="utf-8") != starter
    reference = submitted_reference(
        cli.ok("case", "submit", "--category", "bullying", "--narrative", "x y z")
    )

    valid, bad_yaml, invalid, simulated = cli.concurrently(
        ("policy", "validate", str(STARTER)),
        ("policy", "validate", str(broken)),
        ("policy", "validate", str(too_slow)),
        ("policy", "simulate", str(to_lead)),
    )

    assert valid.returncode == 0, valid.stderr
    assert valid.stdout.strip() == f"{STARTER}: valid (checked against live queue membership)"

    error = one_line_error(bad_yaml, ["policy", "validate", "broken.yaml"])
    assert "line 4" in error

    assert invalid.returncode == 2
    assert_no_traceback(invalid)
    assert "error: deadline-too-long: defaults:" in invalid.stderr
    assert "acknowledge_within_days is 30" in invalid.stderr

    assert simulated.returncode == 0, simulated.stderr
    assert "1 past case checked: 1 would be routed differently, 0 unchanged." in simulated.stdout
    assert f"- {reference}: would go to psd-lead instead of psd-conduct" in simulated.stdout

    assert cli.ok(
        "policy", "apply", str(to_lead), "--as", "alice", "--note", "conduct to the lead"
    ).startswith("published policy version 2 ")
    assert cli.ok("policy", "rollback", "1").strip() == "published policy version 3 (the text of version 1)"
    history = cli.ok("policy", "history").splitlines()
    assert [line.split()[0] for line in history] == ["v3", "v2", "v1"]
    assert "(from v1)" in history[0] and "rollback" in history[0]
    assert "alice" in history[1] and "conduct to the lead" in history[1]
    assert history[0].split()[4] == history[2].split()[4], (
        "a rollback republishes the same text (same sha256)"
    )


# --- keys -----------------------------------------------------------------------------------------


def test_relay_rotation_and_recovery_key(installed: Cli, tmp_path: Path) -> None:
    cli = installed
    shown_keys, submitted = cli.concurrently(
        ("keys", "show"), ("case", "submit", "--category", "harassment", "--narrative", "before")
    )
    assert shown_keys.stdout.splitlines() == ["relay keyring: active r1; keys r1", "recovery key: none"]
    before = submitted_reference(submitted.stdout)

    rotated = cli.ok("keys", "rotate-relay")
    assert rotated.startswith("active relay key r2;") and "keys retire-relay" in rotated
    assert cli.ok("keys", "show").splitlines()[0] == "relay keyring: active r2; keys r1, r2"
    retired = cli.ok("keys", "retire-relay")
    assert "retired r1" in retired

    recovery_file = tmp_path / "offline" / "recovery.key"
    created = cli.ok(
        "keys",
        "create-recovery",
        "--out",
        str(recovery_file),
        env={"CANDOUR_RECOVERY_PASSPHRASE": RECOVERY_PASSPHRASE},
    )
    fingerprint = created.split()[2]
    assert created.startswith(f"recovery key {fingerprint} written to {recovery_file}")
    assert mode(recovery_file) == 0o600
    assert RECOVERY_PASSPHRASE not in recovery_file.read_text(encoding="utf-8")
    for key_file in (Path(cli.env["CANDOUR_DATA_DIR"]) / "keys").iterdir():
        assert mode(key_file) == 0o600, key_file
    # The relay key seals contact handles only: cases sealed before the rotation still open.
    shown_keys, shown_before, submitted = cli.concurrently(
        ("keys", "show"),
        ("case", "show", before, "--as", "alice"),
        ("case", "submit", "--category", "harassment", "--narrative", "after"),
    )
    assert shown_keys.stdout.splitlines() == [
        "relay keyring: active r2; keys r2",
        f"recovery key: {fingerprint}",
    ]
    assert shown_before.returncode == 0, shown_before.stderr
    assert "narrative: before" in shown_before.stdout
    after = submitted_reference(submitted.stdout)
    opened = cli.ok(
        "case",
        "show",
        after,
        "--recovery-key",
        str(recovery_file),
        env={"CANDOUR_PASSPHRASE": RECOVERY_PASSPHRASE},
    )
    assert opened.startswith(f"{after}  status=received")
    assert "narrative: after" in opened


# --- audit ----------------------------------------------------------------------------------------


def test_audit_verify_detects_a_tampered_entry(installed: Cli) -> None:
    cli = installed
    intact = cli.ok("audit", "verify")
    assert intact.startswith("audit log intact: ")

    with sqlite3.connect(Path(cli.env["CANDOUR_DATA_DIR"]) / "candour.db") as db:
        db.execute("DROP TRIGGER audit_log_no_update")
        assert db.execute("UPDATE audit_log SET actor = 'x' WHERE seq = 2").rowcount == 1
    db.close()

    result = cli.run("audit", "verify")
    assert result.returncode == 2
    assert_no_traceback(result)
    assert "intact" not in result.stdout
    assert result.stderr.startswith("audit log BROKEN at entry 2:")


# --- error paths ----------------------------------------------------------------------------------


def test_operator_errors_are_one_line(installed: Cli, tmp_path: Path) -> None:
    cli = installed
    absent = str(tmp_path / "absent-data")
    fresh = str(tmp_path / "fresh-data")
    cases = {
        "wrong passphrase": (
            ["case", "list", "--as", "alice", "--passphrase", "not alice's passphrase"],
            {},
            "candour: wrong login or passphrase",
        ),
        "missing data directory": (
            ["officer", "list"],
            {"CANDOUR_DATA_DIR": absent},
            f"candour: data directory {absent} does not exist: run `candour init`",
        ),
        "bad URL": (
            ["officer", "list"],
            {"CANDOUR_DATABASE_URL": "bogus"},
            "candour: CANDOUR_DATABASE_URL is malformed",
        ),
        "unreachable database": (
            ["officer", "list"],
            {"CANDOUR_DATABASE_URL": "postgresql://nobody@127.0.0.1:1/x"},
            "candour: cannot reach the database server at 127.0.0.1:1 (database x): check that the server is running",
        ),
        "unknown case": (
            ["case", "show", "CN-ZZZZZZZZ", "--as", "alice"],
            {},
            "candour: no case with reference 'CN-ZZZZZZZZ'",
        ),
        "invalid setting": (
            ["officer", "list"],
            {"CANDOUR_ARGON2_LANES": "abc"},
            "candour: setting CANDOUR_ARGON2_LANES is invalid",
        ),
        "unknown queue": (
            ["officer", "add", "bob", "--name", "Bob", "--queue", "no-such-queue"],
            {"CANDOUR_NEW_PASSPHRASE": BOB_PASSPHRASE},
            "candour: no queue 'no-such-queue'",
        ),
        "init without admin": (
            ["init", "--non-interactive"],
            {"CANDOUR_DATA_DIR": fresh},
            "candour: the first officer needs --admin-login",
        ),
    }
    results = dict(
        zip(cases, cli.concurrently(*((args, env) for args, env, _ in cases.values())), strict=True)
    )

    for name, (args, _, expected) in cases.items():
        line = one_line_error(results[name], args)
        assert line.startswith(expected), f"{name}: {line!r}"
        assert "not alice's passphrase" not in results[name].stdout + results[name].stderr
    assert not Path(fresh).exists(), "a refused init must not leave a data directory behind"


def test_submit_with_missing_evidence_file_is_one_line_error(installed: Cli) -> None:
    # Regression: this ended in a FileNotFoundError traceback (the file was read unguarded).
    line = installed.fail(
        "case",
        "submit",
        "--category",
        "bullying",
        "--narrative",
        "see attached",
        "--evidence",
        "no-such-screenshot.png",
    )
    assert line == "candour: no such file: no-such-screenshot.png"


# --- PostgreSQL -----------------------------------------------------------------------------------


@pytest.mark.postgres
def test_empty_postgres_database_is_one_line_error(installed: Cli, postgres_database: str) -> None:
    line = installed.fail("officer", "list", env={"CANDOUR_DATABASE_URL": postgres_database})
    assert line == "candour: the database is empty: run `candour init`"


@pytest.mark.postgres
def test_init_gives_the_first_officer_a_desk_password(cli: Cli) -> None:
    """A newcomer's next step after the first run is the desk: init can set its sign-in password too."""
    env = {"CANDOUR_ADMIN_PASSPHRASE": PASSPHRASE, "CANDOUR_DESK_PASSWORD": "short"}
    assert cli.fail("init", "--non-interactive", "--admin-login", "alice", env=env) == (
        "candour: a desk password needs at least 12 characters"
    )
    assert not (Path(cli.env["CANDOUR_DATA_DIR"]) / "candour.db").exists(), "nothing was created"
    env["CANDOUR_DESK_PASSWORD"] = "a desk password, not the passphrase"
    out = cli.ok("init", "--non-interactive", "--admin-login", "alice", env=env)
    assert "done: desk password for alice" in out and env["CANDOUR_DESK_PASSWORD"] not in out
    listing = sqlite3.connect(Path(cli.env["CANDOUR_DATA_DIR"]) / "candour.db").execute(
        "SELECT count(*) FROM desk_accounts"
    )
    assert listing.fetchone() == (1,)


def test_init_submit_show_on_postgres(cli: Cli, postgres_database: str, tmp_path: Path) -> None:
    cli.extra.update({"CANDOUR_DATABASE_URL": postgres_database, "CANDOUR_PASSPHRASE": PASSPHRASE})
    out = cli.ok(
        "init",
        "--non-interactive",
        "--admin-login",
        "alice",
        "--admin-name",
        "Alice Admin",
        env={"CANDOUR_ADMIN_PASSPHRASE": PASSPHRASE},
    )
    assert "done: migrated the database" in out and "done: published policy version 1" in out
    data_dir = Path(cli.env["CANDOUR_DATA_DIR"])
    assert not (data_dir / "candour.db").exists(), "with a PostgreSQL URL no SQLite file is made"
    assert mode(data_dir) == 0o700

    reference = submitted_reference(
        cli.ok(
            "case", "submit", "--category", "racism", "--narrative", "Racist jokes in the station group chat"
        )
    )
    shown = cli.ok("case", "show", reference, "--as", "alice")
    assert "narrative: Racist jokes in the station group chat" in shown
    assert "priority=high" in shown and "iopc-referral-assessment" in shown
