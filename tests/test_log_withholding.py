"""Log output is published: a library's line that would carry an update (python-telegram-bot logs a whole
update when it cannot build a handler's context) keeps only its fixed wording."""

from __future__ import annotations

import subprocess
import sys

PROGRAM = """
import logging
from candour.app import configure_logging
configure_logging()
update = {"message": {"from": {"id": 987654321, "username": "leaky_user", "first_name": "Leaky"}}}
logging.getLogger("telegram.ext.Application").critical(
    "Error while building CallbackContext for update %s. Update will not be processed.", update
)
try:
    raise RuntimeError("https://api.telegram.org/bot123:SECRET/getMe failed for chat 987654321")
except RuntimeError:
    logging.getLogger("telegram.ext.Updater").exception("Fetching updates was aborted")
logging.getLogger("candour.dispatch").warning("dispatch round failed: %s", "NetworkError")
"""


def test_library_lines_keep_their_wording_and_withhold_values() -> None:
    done = subprocess.run([sys.executable, "-c", PROGRAM], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    for secret in ("987654321", "leaky_user", "Leaky", "SECRET", "api.telegram.org"):
        assert secret not in done.stderr, done.stderr
    assert "Error while building CallbackContext for update %s" in done.stderr
    assert "(details withheld)" in done.stderr
    assert "Fetching updates was aborted [RuntimeError]" in done.stderr
    assert "Traceback" not in done.stderr
    # Candour's own lines are left whole: they never carry such values.
    assert "dispatch round failed: NetworkError" in done.stderr
