"""What a cleaning worker says back (bot/cleaner_wire.py), held to the wire's rules by fake workers.

A fake worker is a real process speaking the protocol badly: findings of unknown kinds, text of its own
in place of a known sentence, a path for a file name, a body past the limit, a header that is not JSON
or nests past the parser's depth, a crash, silence, a ready frame naming a process that is not its own.
Each is refused with one of the known sentences, and nothing the worker wrote reaches the reporter.
"""

from __future__ import annotations

import asyncio
import functools
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from bot.cleaner import UNAVAILABLE, Cleaner, CleanerLimits, CleanerUnavailableError
from bot.evidence import DAMAGED, TOO_COMPLEX, TOO_SLOW, EvidenceError
from tests.test_cleaner_process import gone, launcher, workers, zygotes

# --- a worker that lies ---------------------------------------------------------------------------


# A fake zygote: it says ready on its socket and, for each request, forks a relay and a reader as the real
# one does, then lies at the step its mode names.
FAKE_WORKER = r"""
import json, os, signal, socket, struct, sys, time

def frame(header, body=b"", *, body_size=None):
    raw = json.dumps(header).encode()
    size = len(body) if body_size is None else body_size
    return struct.pack(">II", len(raw), size) + raw + body

def receive(stream, inbox):
    head, size = struct.unpack(">II", stream.read(8))
    header = json.loads(stream.read(head))
    return header, os.pread(inbox, size, 0)

mode = sys.argv[1]
control = socket.socket(fileno=0)
ready = {"ready": True, "version": 99 if mode == "wrong_version" else 3, "isolated": mode != "not_isolated"}
control.sendall(frame(ready))
signal.signal(signal.SIGCHLD, signal.SIG_IGN)  # relays reaped as they end, as the real zygote's are
while True:
    message, fds, _, _ = socket.recv_fds(control, 64, 5)
    if not message:
        sys.exit(0)
    if os.fork():
        for fd in fds:
            os.close(fd)
        continue
    inbox, outbox = fds[3:]
    requests, answers, status = (os.fdopen(fd, "rb" if i == 0 else "wb", buffering=0) for i, fd in enumerate(fds[:3]))
    signal.signal(signal.SIGCHLD, signal.SIG_DFL)
    reader = os.fork()
    if reader:
        requests.close(); answers.close()
        told = {"relay": os.getpid(), "reader": reader}
        if mode == "bad_init":
            told["reader"] = "1; kill"
        elif mode == "names_another":
            told["reader"] = int(sys.argv[2])  # a process that is not its child
        status.write(frame(told))
        _, ended = os.waitpid(reader, 0)
        code = os.WEXITSTATUS(ended) if os.WIFEXITED(ended) else 128 + os.WTERMSIG(ended)
        status.write(frame({"exit": code}))
        os._exit(0)
    status.close()
    header, body = receive(requests, inbox)
    good = {"ok": True, "media_type": "text/plain", "filename": "a.txt", "cleaned": True, "removed": [],
            "cleanable": True, "findings": [], "problem": None}
    def out(data):  # a frame's body into the outbox, as the real reader puts it; its header on the pipe
        head, size = struct.unpack(">II", data[:8])
        os.pwrite(outbox, data[8 + head:], 0)
        answers.write(data[:8 + head])

    if mode == "bad_kind":
        out(frame({**good, "findings": [["evil", "x"]], "removed": [["evil", "x"]]}))
    elif mode == "long_summary":
        out(frame({**good, "removed": [["person", "y" * 500]]}, b"x"))
    elif mode == "huge_body":
        out(frame(good, b"", body_size=1 << 30))
    elif mode == "grows_outbox":  # past the limit the bot made it, though the body it names is small
        os.ftruncate(outbox, 1 << 30)
        out(frame(good, b"x"))
    elif mode == "shrinks_outbox":  # names more bytes than the outbox holds by the time the bot reads
        os.pwrite(outbox, b"cleaned bytes", 0)
        os.ftruncate(outbox, 3)
        answers.write(frame(good, b"cleaned bytes")[:-len(b"cleaned bytes")])
    elif mode == "seals_outbox":
        import fcntl
        try:
            fcntl.fcntl(outbox, fcntl.F_ADD_SEALS, fcntl.F_SEAL_SHRINK)
            named = "sealed"
        except PermissionError:
            named = "refused"
        out(frame({**good, "filename": named}, b"x"))
    elif mode == "free_text_error":
        out(frame({"error": "The file names Jane Whistler"}))
    elif mode == "free_text_problem":
        out(frame({**good, "problem": "The file names Jane Whistler"}))
    elif mode == "path_name":
        out(frame({**good, "filename": "../keys/relay.key"}, b"x"))
    elif mode == "not_cleaned_with_bytes":
        out(frame({**good, "cleaned": False}, b"other bytes"))
    elif mode == "deep_json":
        raw = b"[" * 120000 + b"]" * 120000
        out(struct.pack(">II", len(raw), 0) + raw)
    elif mode == "not_json":
        raw = b"\x80\x04\x95 a pickle, not JSON"
        out(struct.pack(">II", len(raw), 0) + raw)
    elif mode == "hangs":
        time.sleep(60)
    elif mode == "not_isolated":
        out(frame(good, body))
    elif mode == "crashes":
        os.abort()
    os._exit(0)
"""


@pytest.fixture
def fake_worker(tmp_path: Path) -> Callable[..., str]:
    """A `python` for Cleaner that runs the fake worker in the given mode, whatever arguments it gets."""
    return functools.partial(launcher, tmp_path, "fake_worker", FAKE_WORKER)


@pytest.mark.parametrize(
    ("mode", "sentence"),
    [
        pytest.param("bad_kind", DAMAGED, id="bad_kind"),
        pytest.param("long_summary", DAMAGED, id="long_summary"),
        pytest.param("huge_body", TOO_COMPLEX, id="huge_body"),
        pytest.param("grows_outbox", TOO_COMPLEX, id="grows_outbox"),
        pytest.param("shrinks_outbox", DAMAGED, id="shrinks_outbox"),
        pytest.param("free_text_error", DAMAGED, id="free_text_error"),
        pytest.param("free_text_problem", DAMAGED, id="free_text_problem"),
        pytest.param("path_name", DAMAGED, id="path_name"),
        pytest.param("not_cleaned_with_bytes", DAMAGED, id="not_cleaned_with_bytes"),
        pytest.param("not_json", DAMAGED, id="not_json"),
        pytest.param("deep_json", DAMAGED, id="deep_json"),
        pytest.param("crashes", TOO_COMPLEX, id="crashes"),
    ],
)
async def test_a_worker_that_lies_is_refused_field_by_field(fake_worker, mode: str, sentence: str) -> None:
    """Nothing a worker writes reaches the reporter unless it is one of the known sentences or findings."""
    async with Cleaner(python=fake_worker(mode)) as cleaner:
        with pytest.raises(EvidenceError) as refused:
            if mode in ("bad_kind", "free_text_problem"):
                await cleaner.examine(b"x", filename="a.txt", media_type="text/plain")
            else:
                await cleaner.clean(b"x", filename="a.txt", media_type="text/plain")
    assert str(refused.value) == sentence
    assert "Jane" not in str(refused.value)


async def test_a_reader_cannot_seal_the_outbox_against_the_bot(fake_worker) -> None:
    """The bot makes the outbox with sealing refused: a reader cannot seal it (to stop the bot from
    shrinking or reusing it, or to fake a sealed file), whatever it does to the memfd it was given."""
    async with Cleaner(python=fake_worker("seals_outbox")) as cleaner:
        told = await cleaner.clean(b"x", filename="a.txt", media_type="text/plain")
    assert told.filename == "refused"
    assert told.content == b"x"


async def test_a_worker_that_never_answers_is_killed_at_the_wall_time(fake_worker) -> None:
    async with Cleaner(CleanerLimits(wall_seconds=0.5), python=fake_worker("hangs")) as cleaner:
        started = time.monotonic()
        with pytest.raises(EvidenceError) as refused:
            await cleaner.clean(b"x", filename="a.txt", media_type="text/plain")
        assert time.monotonic() - started < 3
    assert str(refused.value) == TOO_SLOW


async def test_a_request_cancelled_mid_file_ends_its_worker_and_the_cleaner_carries_on(fake_worker) -> None:
    """As when the bot stops while a file is being cleaned: the worker goes with the request."""
    async with Cleaner(python=fake_worker("hangs")) as cleaner:
        task = asyncio.ensure_future(cleaner.clean(b"x", filename="a.txt", media_type="text/plain"))
        for _ in range(200):
            if len(workers(b"fake_worker")) >= 2:  # the busy one and the next warm one
                break
            await asyncio.sleep(0.02)
        busy = workers(b"fake_worker")[0]
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        assert await gone([busy])
    assert workers(b"fake_worker") == []


async def test_a_worker_that_cannot_start_is_a_plain_unavailable(fake_worker, tmp_path: Path) -> None:
    for python in (fake_worker("wrong_version"), fake_worker("bad_init"), str(tmp_path / "no-such-python")):
        async with Cleaner(python=python) as cleaner:
            with pytest.raises(CleanerUnavailableError) as refused:
                await cleaner.clean(b"x", filename="a.txt", media_type="text/plain")
        assert str(refused.value) == UNAVAILABLE
        assert isinstance(refused.value, EvidenceError)
    assert zygotes(b"fake_worker") == []


async def test_a_worker_naming_another_process_gets_that_process_no_signal(fake_worker) -> None:
    """The bot kills a file's reader by the number its relay gives, only once /proc shows that process
    is the relay's own child: a worker naming any other process is not used (the file is refused as
    unavailable, the zygote replaced), and that process is left alone."""
    victim = await asyncio.create_subprocess_exec("sleep", "30")
    try:
        async with Cleaner(python=fake_worker("names_another", victim.pid)) as cleaner:
            with pytest.raises(CleanerUnavailableError):
                await cleaner.clean(b"x", filename="a.txt", media_type="text/plain")
        await asyncio.sleep(0.2)
        assert victim.returncode is None
    finally:
        victim.kill()
        await victim.wait()
