"""What a cleaning worker can reach, and how it ends (bot/cleaner.py, bot/evidence/worker.py).

Proved from outside, through /proc, never through an option of the worker's own: the environment, root,
namespaces (user, mount, network, IPC, PID), capabilities, descriptors and limits of the zygote, of the
worker forked from it for a file, and of the reader inside that file's PID namespace. Where a test needs
a reader taken over by its file, a script runs the real worker (`worker.main`) with a reader that does
what an exploit would: signal the bot, start a process that leaves the group, hide from the bot's kill.
Each is then seen from outside to have reached nothing and to have left nothing running.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import io
import os
import signal
from collections.abc import Callable
from pathlib import Path

import pytest
from PIL import Image

from bot import cleaner as cleaner_module
from bot import evidence
from bot.cleaner import Cleaner, CleanerLimits, IsolationError
from bot.evidence import JPEG, PNG, TOO_COMPLEX, TOO_MANY_PIXELS, TOO_SLOW, EvidenceError, warmup
from bot.evidence import isolation as isolation_module
from tests.test_cleaner_process import (
    REFUSALS,
    ROOT,
    gone,
    inner_of,
    jpeg_with_gps,
    launcher,
    limit_of,
    noisy_png,
    ready_worker,
    status_field,
    workers,
    zygotes,
)
from tests.test_cleaner_wire import FAKE_WORKER

NAMESPACES = ("net", "mnt", "user", "ipc", "pid", "uts")


def namespace(pid: int | str, kind: str = "pid") -> str:
    return os.readlink(f"/proc/{pid}/ns/{kind}")


def members(pid_namespace: str) -> list[int]:
    """Every process, of any parent, whose PID namespace is this one."""
    found = []
    for entry in Path("/proc").iterdir():
        with contextlib.suppress(OSError):
            if entry.name.isdigit() and namespace(entry.name) == pid_namespace:
                found.append(int(entry.name))
    return found


async def emptied(pid_namespace: str, seconds: float = 10) -> bool:
    for _ in range(int(seconds / 0.05)):
        if not members(pid_namespace):
            return True
        await asyncio.sleep(0.05)
    return False


async def ready_inside(marker: bytes = b"bot.evidence.worker") -> tuple[int, int]:
    """The newest ready worker and the process inside its PID namespace; skips only where the kernel
    refused the worker its namespaces (its user namespace is still ours)."""
    outer = await ready_worker(marker)
    inner = inner_of(outer)
    if namespace(outer, "user") == namespace("self", "user"):
        pytest.skip("this kernel refuses unprivileged user namespaces; the worker runs on limits only")
    assert inner is not None and namespace(inner) != namespace(outer), (
        "no reader in a PID namespace of its own"
    )
    return outer, inner


# --- what a worker holds and reaches --------------------------------------------------------------


@pytest.mark.slow
async def test_every_corpus_file_cleans_in_the_isolated_worker_as_it_does_in_process(tmp_path: Path) -> None:
    """Isolation must not break a format (a library loading something lazily from a disk it no longer
    has): each fixture of the corpus gives the same outcome in the worker as in this process, and the
    worker's result passes this process's own inspection."""
    from tests.evidence_corpus import FIXTURES, Workshop
    from tests.evidence_corpus import exiftool as exiftool_module

    if not exiftool_module.available():
        pytest.skip("the corpus is built with /usr/bin/exiftool, which is missing")
    tool = exiftool_module.ExifTool()
    shop = Workshop(tool, tmp_path)
    differences = []
    try:
        async with Cleaner() as cleaner:
            for fixture in FIXTURES:
                content = fixture.build(shop).content
                here = evidence.clean(content, filename=fixture.filename, media_type=fixture.media_type)
                there = await cleaner.clean(content, filename=fixture.filename, media_type=fixture.media_type)
                examined = await cleaner.examine(
                    content, filename=fixture.filename, media_type=fixture.media_type
                )
                same = (here.cleaned, here.media_type, here.filename, set(here.removed)) == (
                    there.cleaned,
                    there.media_type,
                    there.filename,
                    set(there.removed),
                )
                told = examined.problem is None and set(examined.removed) == set(there.removed)
                left = evidence.inspect(there.content, filename=there.filename, media_type=there.media_type)
                if not (same and told and there.cleaned and not left):
                    differences.append(fixture.name)
    finally:
        tool.close()
    assert differences == []


async def test_the_worker_holds_no_keys_and_reaches_no_network_or_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Proved from outside, through /proc, for the worker and the process inside its PID namespace:
    environment, root, namespaces, capabilities, descriptors, limits."""
    monkeypatch.setenv("CANDOUR_TELEGRAM_TOKEN", "123:secret-token-for-this-test")
    monkeypatch.setenv("CANDOUR_DATA_DIR", str(tmp_path))
    limits = CleanerLimits(memory_bytes=1024 * 1024 * 1024, cpu_seconds=7)
    ours = {ns: namespace("self", ns) for ns in NAMESPACES}
    async with Cleaner(limits) as cleaner:
        await cleaner.clean(b"first\n", filename="a.txt", media_type="text/plain")
        outer, inner = await ready_inside()  # the warm one, waiting for the next file
        (zygote,) = zygotes()
        seen = {pid: _seen_from_outside(pid) for pid in (zygote, outer, inner)}
        nspid = status_field(inner, "NSpid").split()
        outer_descriptors = [os.readlink(f"/proc/{outer}/fd/{fd}") for fd in os.listdir(f"/proc/{outer}/fd")]
        zygote_descriptors = seen[zygote]["descriptors"]
        # And it still works after all that.
        cleaned = await cleaner.clean(b"still works\n", filename="a.txt", media_type="text/plain")
    for pid, what in seen.items():
        assert [v for v in what["environ"] if v] == [b"LC_ALL=C.UTF-8"]
        # The zygote stays in its empty, removed directory; the processes forked for a file have it as root
        # (the zygote itself is not chrooted: no process in a chroot may make a user namespace).
        place = what["cwd"] if pid == zygote else what["root"]
        assert place != "/" and place.endswith("(deleted)")
        assert not Path(place.removesuffix(" (deleted)")).exists()
        assert what["interfaces"] == {"lo"}  # a network of its own: no route to 127.0.0.1 of the machine
        assert all(d.startswith(("pipe:", "socket:")) or d in MEMFDS for d in what["descriptors"]), pid
        assert what["NoNewPrivs"] == "1"
        assert what["Max file size"] == ("0", "0")
        assert what["Max core file size"] == ("0", "0")
        assert all(what["namespaces"][ns] != ours[ns] for ns in ("net", "mnt", "user", "ipc"))
    # Only the reader holds the file's two memfds (bot.evidence.protocol): not the zygote, nor the relay.
    assert [d for d in seen[zygote]["descriptors"] if d.startswith("/memfd:")] == []
    assert [d for d in seen[outer]["descriptors"] if d.startswith("/memfd:")] == []
    assert sorted(d for d in seen[inner]["descriptors"] if d.startswith("/memfd:")) == sorted(MEMFDS[:2])
    for pid in (outer, inner):  # the processes forked for a file
        what = seen[pid]
        assert what["CapEff"] == what["CapPrm"] == "0000000000000000"
        assert what["Max address space"] == (str(1024 * 1024 * 1024),) * 2
        assert what["Max open files"][0] == "32"
    inside = seen[inner]
    per_file = ("pid", "ipc", "net", "user", "mnt", "uts")
    assert all(inside["namespaces"][ns] != seen[zygote]["namespaces"][ns] for ns in per_file)
    assert all(seen[outer]["namespaces"][ns] == inside["namespaces"][ns] for ns in per_file if ns != "pid")
    assert nspid[0] == str(inner) and nspid[-1] == "1"  # the first process of a PID namespace of its own
    assert seen[outer]["namespaces"]["pid"] == ours["pid"]  # the one outside, held by a pidfd
    assert seen[zygote]["namespaces"]["pid"] == ours["pid"]
    # Only the reader holds the file's pipes; the worker outside holds its status pipe, the zygote its socket.
    assert sorted(d.split(":")[0] for d in outer_descriptors if d != "/dev/null") == ["pipe"]
    assert sorted(d.split(":")[0] for d in zygote_descriptors if d != "/dev/null") == ["socket"]
    assert not any(d.startswith("socket:") for d in inside["descriptors"])
    cpu_soft, cpu_hard = (int(v) for v in inside["Max cpu time"])
    assert 7 < cpu_soft <= 7 + 2 and cpu_hard == cpu_soft + 1  # seven seconds from the fork
    assert cleaned.content == b"still works\n"


def _seen_from_outside(pid: int) -> dict[str, object]:
    """What /proc shows of a process: environment, root, namespaces, network, descriptors, status, limits."""
    net = Path(f"/proc/{pid}/net/dev").read_text().splitlines()[2:]
    seen: dict[str, object] = {
        "environ": Path(f"/proc/{pid}/environ").read_bytes().split(b"\0"),
        "root": os.readlink(f"/proc/{pid}/root"),
        "cwd": os.readlink(f"/proc/{pid}/cwd"),
        "namespaces": {ns: namespace(pid, ns) for ns in NAMESPACES},
        "interfaces": {line.split(":")[0].strip() for line in net},
        "descriptors": [os.readlink(f"/proc/{pid}/fd/{fd}") for fd in os.listdir(f"/proc/{pid}/fd")],
    }
    seen |= {name: status_field(pid, name) for name in ("CapEff", "CapPrm", "NoNewPrivs")}
    limits = ("Max address space", "Max cpu time", "Max file size", "Max core file size", "Max open files")
    return seen | {name: limit_of(pid, name) for name in limits}


def test_the_worker_environment_carries_nothing_of_the_bot(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CANDOUR_TELEGRAM_TOKEN", "123:abc")
    monkeypatch.setenv("CANDOUR_DATABASE_URL", "postgresql://user:password@db/candour")
    assert cleaner_module.environment() == {"LC_ALL": "C.UTF-8"}


def test_the_docstrings_say_what_isolation_does_not_give() -> None:
    """No seccomp filter, so a kernel exploit is out of scope: said where the isolation is made."""
    for text in (cleaner_module.__doc__, isolation_module.__doc__):
        assert text is not None
        assert "seccomp" in text and "kernel" in text and "out of scope" in text


# --- a worker taken over by its file ----------------------------------------------------------------


CONFINED_WORKER = r"""
import ctypes, os, platform, signal, socket, sys, time

sys.path.insert(0, sys.argv[3])
from bot.evidence import protocol, worker

mode, bot = sys.argv[1], int(sys.argv[2])
libc = ctypes.CDLL(None)


def hide():
    os.setsid()  # out of the worker's process group
    libc.prctl(1, 0, 0, 0, 0)  # PR_SET_PDEATHSIG: none


# add_key and keyctl, by system call number (x86-64, arm64): Python has no binding for them.
CALLS = {"x86_64": (248, 250), "aarch64": (217, 219)}.get(platform.machine())


def keyring():  # leave a value in the user keyring, unless an earlier reader's is found there first
    if CALLS is None:
        return "no-keyring-calls"
    add_key, keyctl = CALLS
    libc.syscall.restype = ctypes.c_long
    user = ctypes.c_long(-4)  # KEY_SPEC_USER_KEYRING
    found = libc.syscall(keyctl, 10, user, b"user", b"candour-left-by-a-file", 0)  # KEYCTL_SEARCH
    if found > 0:
        return "found"
    data = b"the first reporter's file"
    made = libc.syscall(add_key, b"user", b"candour-left-by-a-file", data, len(data), user)
    return "left" if made > 0 else "cannot-leave"


def exploit(mailbox):  # the reader, boxed by the real worker: what an exploit in a parser could do
    if mode == "leaves_a_child" and os.fork() == 0:
        hide()
        time.sleep(60)
        os._exit(0)
    if mode == "hides":
        hide()
        time.sleep(60)
    header, body = mailbox.receive(1 << 20)
    outcome = "a.txt"
    if mode == "signals_the_bot":
        try:
            os.kill(bot, signal.SIGUSR1)
            outcome = "reached"
        except ProcessLookupError:
            outcome = "no-such-process"
    if mode == "host_name":
        outcome = socket.gethostname()
    if mode == "keyring":  # what an earlier file's reader left in the user keyring, if anything
        outcome = keyring()
    mailbox.reply({**GOOD, "filename": outcome}, body)
    return 0


GOOD = {"ok": True, "media_type": "text/plain", "filename": "a.txt", "cleaned": True, "removed": []}


worker.main(["--memory-bytes", str(1 << 30), "--cpu-seconds", "30"], reader=exploit)
"""


@pytest.fixture
def confined_worker(tmp_path: Path) -> Callable[[str], str]:
    """A `python` for Cleaner running the worker's real isolation, then doing what an exploit would."""
    return lambda mode: launcher(tmp_path, "confined_worker", CONFINED_WORKER, mode, os.getpid(), ROOT)


@pytest.fixture
def fake_worker(tmp_path: Path) -> Callable[..., str]:
    return functools.partial(launcher, tmp_path, "fake_worker", FAKE_WORKER)


async def test_a_taken_over_worker_cannot_signal_the_bot(confined_worker) -> None:
    """Threat: same user, so without a PID namespace the worker could kill the bot. Inside one, the
    bot has no number: the signal reaches nothing, seen here as no signal received."""
    received: list[int] = []
    previous = signal.signal(signal.SIGUSR1, lambda number, frame: received.append(number))
    try:
        async with Cleaner(python=confined_worker("signals_the_bot")) as cleaner:
            _, inner = await ready_inside(b"confined_worker")
            assert namespace(inner) != namespace("self")
            cleaned = await cleaner.clean(b"x", filename="a.txt", media_type="text/plain")
        await asyncio.sleep(0.2)
    finally:
        signal.signal(signal.SIGUSR1, previous)
    assert received == []
    assert cleaned.filename == "no-such-process"  # it did try


async def test_a_file_finds_nothing_an_earlier_file_left_and_not_the_machine_name(confined_worker) -> None:
    """Threat: readers forked from one zygote share whatever its namespaces hold. A value one file's reader
    puts in the kernel's user keyring (which outlives it) must not be there for the next file's reader;
    and a reader sees a host name of its own, not the machine's."""
    async with Cleaner(python=confined_worker("keyring")) as cleaner:
        await ready_inside(b"confined_worker")
        told = [
            (await cleaner.clean(b"x", filename="a.txt", media_type="text/plain")).filename for _ in range(3)
        ]
    assert "found" not in told, told
    assert set(told) <= {"left", "cannot-leave", "no-keyring-calls"}
    async with Cleaner(python=confined_worker("host_name")) as cleaner:
        named = await cleaner.clean(b"x", filename="a.txt", media_type="text/plain")
    assert named.filename == isolation_module.HOST_NAME.decode() != os.uname().nodename


async def test_a_process_the_worker_starts_cannot_outlive_it(confined_worker) -> None:
    """A child that leaves the worker's process group and drops its PDEATHSIG still ends with the
    worker: it is in the worker's PID namespace, which the kernel empties when its first process ends."""
    async with Cleaner(python=confined_worker("leaves_a_child")) as cleaner:
        outer, inner = await ready_inside(b"confined_worker")
        inside = namespace(inner)
        for _ in range(100):
            if len(members(inside)) == 2:
                break
            await asyncio.sleep(0.02)
        escaped = next(pid for pid in members(inside) if pid != inner)
        assert _session(escaped) != _session(outer)  # out of the group the bot kills
        cleaned = await cleaner.clean(b"x", filename="a.txt", media_type="text/plain")
        assert await emptied(inside)
    assert cleaned.content == b"x"
    assert await gone([outer, inner, escaped])


async def test_a_worker_that_hides_from_its_group_is_still_killed_at_the_wall_time(confined_worker) -> None:
    """The process inside, out of the group and without PDEATHSIG, would outlive the worker the bot
    started; the bot kills it by its pidfd, and with it the whole namespace."""
    async with Cleaner(CleanerLimits(wall_seconds=1), python=confined_worker("hides")) as cleaner:
        outer, inner = await ready_inside(b"confined_worker")
        inside = namespace(inner)
        with pytest.raises(EvidenceError) as refused:
            await cleaner.clean(b"x", filename="a.txt", media_type="text/plain")
        assert await emptied(inside)
    assert str(refused.value) == TOO_SLOW
    assert await gone([outer, inner])


# What a process of the worker may hold besides pipes and sockets: /dev/null, and the reader's inbox and
# outbox (/proc names a memfd by the name the bot gave it).
MEMFDS = ("/memfd:candour-cleaned (deleted)", "/memfd:candour-file (deleted)", "/dev/null")


def _session(pid: int) -> int:
    return int(Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[3])


# --- limits and kills -------------------------------------------------------------------------------


@pytest.mark.slow
@pytest.mark.parametrize("which", ["inside", "outside"])
async def test_a_worker_killed_mid_file_is_a_refusal_and_the_next_file_works(which: str) -> None:
    """Killed inside (as the out-of-memory killer would) or outside (then PDEATHSIG ends the one
    inside): a refusal, both processes gone, and the next file works."""
    big = noisy_png(2400)
    async with Cleaner() as cleaner:
        outer, inner = await ready_inside()
        task = asyncio.ensure_future(cleaner.clean(big, filename="scan.png", media_type=PNG))
        await _reading(inner, len(big))
        os.kill(inner if which == "inside" else outer, signal.SIGKILL)
        with pytest.raises(EvidenceError) as refused:
            await task
        assert str(refused.value) in REFUSALS
        after = await cleaner.clean(jpeg_with_gps(), filename="photo.jpg", media_type=JPEG)
    assert after.cleaned
    assert await gone([outer, inner])


async def _reading(pid: int, size: int) -> None:
    """Wait until `pid` has read a whole file of `size` bytes from its pipe (by /proc/PID/io)."""
    for _ in range(600):
        with contextlib.suppress(OSError):
            lines = Path(f"/proc/{pid}/io").read_text().splitlines()
            if int(next(line.split()[1] for line in lines if line.startswith("rchar:"))) >= size:
                return
        await asyncio.sleep(0.02)
    raise AssertionError("the worker did not read the file")


@pytest.mark.slow
async def test_a_worker_past_its_wall_time_is_killed_and_the_next_file_works() -> None:
    big = noisy_png(2400)
    async with Cleaner(CleanerLimits(wall_seconds=0.3)) as cleaner:
        stuck = list(await ready_inside())  # the one that will take the file, and the one inside
        started = asyncio.get_running_loop().time()
        with pytest.raises(EvidenceError) as refused:
            await cleaner.clean(big, filename="scan.png", media_type=PNG)
        took = asyncio.get_running_loop().time() - started
        after = await cleaner.clean(b"a short note\n", filename="n.txt", media_type="text/plain")
    assert str(refused.value) == TOO_SLOW
    assert took < 3, took
    assert after.cleaned
    assert await gone(stuck)


@pytest.mark.slow
async def test_a_file_past_its_cpu_time_is_too_slow_and_the_next_file_works() -> None:
    """The CPU limit binds the process inside the namespace, and is still told as too slow: the kernel
    does not give a namespace's first process a signal it has no handler for, SIGXCPU included."""
    out = io.BytesIO()
    Image.linear_gradient("L").resize((7700, 7700)).convert("RGB").save(out, "PNG")  # ~3 s of CPU
    async with Cleaner(CleanerLimits(cpu_seconds=1, wall_seconds=60)) as cleaner:
        outer, inner = await ready_inside()
        assert limit_of(inner, "Max cpu time") == ("2", "3")
        with pytest.raises(EvidenceError) as refused:
            await cleaner.clean(out.getvalue(), filename="scan.png", media_type=PNG)
        after = await cleaner.clean(b"a short note\n", filename="n.txt", media_type="text/plain")
    assert str(refused.value) == TOO_SLOW
    assert after.cleaned
    assert await gone([outer, inner])


@pytest.mark.slow
async def test_a_file_past_the_memory_limit_is_refused_and_the_next_file_works() -> None:
    """A picture within the pixel limit that needs more memory than the worker may have (the limit set
    just above what a warm worker already maps, read from /proc)."""
    async with Cleaner() as probe:
        await probe.clean(b"x\n", filename="a.txt", media_type="text/plain")
        warm = int(status_field(await ready_worker(), "VmSize").split()[0]) * 1024
    out = io.BytesIO()
    Image.new("RGB", (8000, 6000), (90, 120, 150)).save(out, "JPEG", quality=80)
    async with Cleaner(CleanerLimits(memory_bytes=warm + 96 * 1024 * 1024)) as cleaner:
        with pytest.raises(EvidenceError) as refused:
            await cleaner.clean(out.getvalue(), filename="scan.jpg", media_type=JPEG)
        after = await cleaner.clean(jpeg_with_gps(), filename="photo.jpg", media_type=JPEG)
    assert str(refused.value) in (TOO_MANY_PIXELS, TOO_COMPLEX)
    assert after.cleaned


@pytest.mark.slow
async def test_the_warm_up_samples_clean_in_the_namespace_as_in_process() -> None:
    """Threads are not processes: HEIC (x265 encodes on threads) and FFmpeg's audio and video still
    work in a PID namespace; every warm-up sample gives the same outcome there as here."""
    differences = []
    async with Cleaner() as cleaner:
        await ready_inside()
        for media_type, make in warmup._SAMPLES.items():
            sample = make()
            here = evidence.clean(sample, filename="sample", media_type=media_type)
            there = await cleaner.clean(sample, filename="sample", media_type=media_type)
            if (here.cleaned, here.media_type, set(here.removed)) != (
                there.cleaned,
                there.media_type,
                set(there.removed),
            ) or not there.cleaned:
                differences.append(media_type)
    assert differences == []


# --- a kernel that refuses the namespaces -----------------------------------------------------------


async def test_a_kernel_that_refuses_isolation_is_one_warning_or_with_the_setting_a_hard_failure(
    fake_worker, caplog: pytest.LogCaptureFixture
) -> None:
    """A worker reporting that its namespaces were refused (as on a kernel without unprivileged user
    namespaces): by default the bot cleans under limits only and says so once, naming no file; with
    `require_isolation` it refuses to start, and both texts name the setting that decides."""
    python = fake_worker("not_isolated")
    with caplog.at_level("WARNING", logger="bot.cleaner"):
        async with Cleaner(python=python) as cleaner:
            for name in ("Jane Whistler.txt", "second.txt"):
                cleaned = await cleaner.clean(b"x", filename=name, media_type="text/plain")
                assert cleaned.content == b"x"
        assert cleaner.isolated is False
    warnings = [r for r in caplog.records if r.levelname == "WARNING" and r.name == "bot.cleaner"]
    assert len(warnings) == 1 and "namespaces" in warnings[0].getMessage()
    assert "CANDOUR_CLEANER_REQUIRE_ISOLATION=false" in warnings[0].getMessage()
    assert "Jane" not in caplog.text
    strict = Cleaner(python=python, require_isolation=True)
    with pytest.raises(IsolationError) as refused:
        await strict.start()
    await strict.close()
    assert str(refused.value) == cleaner_module.REFUSED_ISOLATION
    assert "CANDOUR_CLEANER_REQUIRE_ISOLATION=false" in str(refused.value)
    assert workers() == []
