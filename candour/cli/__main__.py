"""`python -m candour.cli`: the `candour` command, for the supervisor to start services with."""

from candour.cli import main

main(prog_name="candour")
