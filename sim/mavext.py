"""MAVLink 2 extension fields newer than the installed pymavlink's dialects.

The mission protocol's opaque ids (MISSION_COUNT.opaque_id, MISSION_ACK.opaque_id,
MISSION_CURRENT.mission_id / fence_id / rally_points_id) are extension fields added to
common.xml after pymavlink 2.4.50 was generated. Extension fields follow the base payload
and do not change CRC_EXTRA, so a subclass with the extra fields is wire-compatible.
`install(dialect)` swaps the subclasses into a pymavlink dialect module so that both
packing and parsing see them; the added fields default to 0.
"""

from __future__ import annotations

import struct
from types import ModuleType
from typing import Any

_EXTENSIONS: dict[str, list[tuple[str, str, str]]] = {
    "MAVLink_mission_count_message": [("opaque_id", "I", "uint32_t")],
    "MAVLink_mission_ack_message": [("opaque_id", "I", "uint32_t")],
    "MAVLink_mission_current_message": [
        ("mission_id", "I", "uint32_t"),
        ("fence_id", "I", "uint32_t"),
        ("rally_points_id", "I", "uint32_t"),
    ],
}


def _extend(base: type, extra: list[tuple[str, str, str]]) -> type:
    names = [n for n, _, _ in extra]
    fmt = bytes(base.native_format).decode() + "".join(f for _, f, _ in extra)
    n0 = len(base.ordered_fieldnames)

    def __init__(self: Any, *args: Any, **kwargs: Any) -> None:
        base_n = len(base.fieldnames)
        ext_vals = list(args[base_n:])
        base.__init__(self, *args[:base_n], **{k: v for k, v in kwargs.items() if k not in names})
        self._fieldnames = cls.fieldnames
        for i, name in enumerate(names):
            value = ext_vals[i] if i < len(ext_vals) else kwargs.get(name, 0)
            setattr(self, name, value)

    def pack(self: Any, mav: Any, force_mavlink1: bool = False) -> bytes:
        values = [getattr(self, n) for n in cls.ordered_fieldnames]
        return self._pack(
            mav, cls.crc_extra, cls.unpacker.pack(*values), force_mavlink1=force_mavlink1
        )

    cls = type(
        base.__name__,
        (base,),
        {
            "fieldnames": [*base.fieldnames, *names],
            "ordered_fieldnames": [*base.ordered_fieldnames, *names],
            "fieldtypes": [*base.fieldtypes, *(t for _, _, t in extra)],
            "native_format": bytearray(fmt.encode()),
            "orders": [*base.orders, *range(n0, n0 + len(names))],
            "lengths": [*base.lengths, *([1] * len(names))],
            "array_lengths": [*base.array_lengths, *([0] * len(names))],
            "unpacker": struct.Struct(fmt),
            "__init__": __init__,
            "pack": pack,
            "_sim_extended": True,
        },
    )
    return cls


def install(dialect: ModuleType) -> None:
    """Give `dialect`'s mission messages their opaque-id extension fields (idempotent)."""
    for name, extra in _EXTENSIONS.items():
        base = getattr(dialect, name)
        if getattr(base, "_sim_extended", False) or extra[0][0] in base.fieldnames:
            continue
        ext = _extend(base, extra)
        setattr(dialect, name, ext)
        dialect.mavlink_map[base.id] = ext
