"""What machine a benchmark ran on: CPU model and the file system under a path (shared by the benchmarks)."""

from __future__ import annotations

import contextlib
import platform
from pathlib import Path


def cpu_model() -> str:
    """The CPU's model name."""
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    return platform.processor() or "unknown"


def filesystem_of(path: Path) -> str:
    """Device and type of the mount holding `path` (tmpfs would make 'durable' commits meaningless)."""
    best = ("", "?", "?")
    with contextlib.suppress(OSError):
        for line in Path("/proc/mounts").read_text().splitlines():
            device, mount, fstype = line.split()[:3]
            if str(path.resolve()).startswith(mount) and len(mount) > len(best[0]):
                best = (mount, device, fstype)
    return f"{best[1]} ({best[2]}) mounted on {best[0] or '?'}"
