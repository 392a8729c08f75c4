"""`candour case submit --evidence` seals a file as it is and says so (issue 11, A3).

The CLI has no cleaner: its files are marked as kept (metadata and all), so the desk never labels them
cleaned nor draws them with Pillow, and the operator is told, in the help, at submission and in
`case show`. The real console script, in a subprocess, as tests/test_cli.py runs it.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.test_cli import PASSPHRASE, Cli, submitted_reference


@pytest.fixture
def cli(cli_env: dict[str, str], tmp_path: Path) -> Cli:
    return Cli(env={**cli_env, "CANDOUR_ADMIN_PASSPHRASE": PASSPHRASE}, cwd=tmp_path)


def test_evidence_from_the_cli_is_sealed_as_kept_and_the_operator_is_told(cli: Cli, tmp_path: Path) -> None:
    assert "does not clean it" in " ".join(cli.ok("case", "submit", "--help").split())
    cli.ok("init", "--non-interactive", "--admin-login", "alice", "--admin-name", "Alice Admin")
    photo = tmp_path / "IMG_0042.jpg"
    photo.write_bytes(b"\xff\xd8\xff\xe1 Exif GPS 51.5N a raw photo")
    submitted = cli.ok(
        "case", "submit", "--category", "bullying", "--narrative", "See the photo", "--evidence", str(photo)
    )
    assert "file IMG_0042.jpg: sealed as it is, not cleaned (any metadata in it is kept)" in submitted
    shown = cli.ok(
        "case",
        "show",
        submitted_reference(submitted),
        "--as",
        "alice",
        env={"CANDOUR_PASSPHRASE": PASSPHRASE},
    )
    assert "file IMG_0042.jpg (image/jpeg" in shown and "not cleaned: its metadata is kept" in shown
