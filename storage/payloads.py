"""The plaintext layout inside a sealed item: a small JSON header, then optional raw bytes (a file)."""

from __future__ import annotations

import json
import struct
from typing import Any

from storage.errors import MalformedBlobError

_HEADER = struct.Struct(">I")


def encode(meta: dict[str, Any], body: bytes = b"") -> bytes:
    """Header length, JSON header, body."""
    header = json.dumps(meta, separators=(",", ":"), ensure_ascii=False).encode("utf-8")
    return _HEADER.pack(len(header)) + header + body


def decode(plaintext: bytes) -> tuple[dict[str, Any], bytes]:
    """Split an opened item into its header and body."""
    if len(plaintext) < _HEADER.size:
        raise MalformedBlobError("the opened item has no header")
    (length,) = _HEADER.unpack(plaintext[: _HEADER.size])
    end = _HEADER.size + length
    if end > len(plaintext):
        raise MalformedBlobError("the opened item's header is truncated")
    try:
        meta = json.loads(plaintext[_HEADER.size : end].decode("utf-8"))
    except ValueError as exc:
        raise MalformedBlobError("the opened item's header is not JSON") from exc
    return meta, plaintext[end:]
