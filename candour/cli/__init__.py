"""The `candour` command line: init, run, officers, keys, policy, cases, the audit log and the desk.

One module per verb group; this one only assembles them.
"""

from __future__ import annotations

import getpass
import warnings

import click

from candour.cli.audit import audit_group
from candour.cli.cases import case
from candour.cli.common import CandourError
from candour.cli.keys import keys
from candour.cli.officers import officer
from candour.cli.policy import policy
from candour.cli.running import run, sandbox
from candour.cli.serve import serve
from candour.cli.setup import init
from candour.settings import SettingsFileError, export_secret_files
from desk.cli import desk as desk_group


@click.group()
@click.version_option(package_name="candour")
def main() -> None:
    """Candour: anonymous misconduct reporting with an encrypted vault."""
    # Why: a passphrase piped on stdin (scripts, CI) is fine; getpass's warning about echo would only
    # add noise to the one-line errors operators rely on.
    warnings.filterwarnings("ignore", category=getpass.GetPassWarning)
    try:
        export_secret_files()  # CANDOUR_PASSPHRASE_FILE and the like, before any option reads its envvar
    except SettingsFileError as exc:
        raise CandourError(str(exc)) from None


main.add_command(init)
main.add_command(run)
main.add_command(sandbox)
main.add_command(serve)
main.add_command(officer)
main.add_command(keys)
main.add_command(policy)
main.add_command(case)
main.add_command(audit_group)
main.add_command(desk_group)
