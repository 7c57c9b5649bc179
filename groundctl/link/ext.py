"""Read MAVLink 2 extension fields that pymavlink 2.4.50's dialects predate.

The mission opaque ids (MISSION_ACK.opaque_id, MISSION_COUNT.opaque_id,
MISSION_CURRENT.mission_id / fence_id / rally_points_id) are uint32 extension fields that
follow every field pymavlink knows. pymavlink keeps the raw frame, so they are read from it:
no patched dialect is needed, and a dialect that does know them is used as is.
"""

from __future__ import annotations

import struct
from typing import Any

__all__ = ["ext_u32"]


def ext_u32(msg: Any, name: str, index: int = 0) -> int:
    """The `index`-th unknown uint32 extension field after the known ones (0 if absent)."""
    value = getattr(msg, name, None)
    if value is not None:
        return int(value)
    buf = msg.get_msgbuf()
    if not buf or buf[0] != 0xFD:  # MAVLink 1 frames carry no extensions
        return 0
    payload = bytes(buf[10 : 10 + buf[1]])
    offset = type(msg).unpacker.size + 4 * index
    # MAVLink 2 trims trailing zero bytes of the payload: pad them back.
    chunk = payload[offset : offset + 4].ljust(4, b"\0")
    return struct.unpack("<I", chunk)[0]
