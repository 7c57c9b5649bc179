"""Parameters of the pymavlink backend (PX4 byte-wise integers, ArduPilot casts)."""

from __future__ import annotations

import asyncio
import math
import struct
import time
from typing import TYPE_CHECKING, Any

from groundctl.link.errors import ParamError
from groundctl.link.link import mavlink2
from groundctl.link.types import Autopilot
from groundctl.link.vehicle import Params

if TYPE_CHECKING:
    from groundctl.link.pymav import PymavVehicle

__all__ = ["PymavParams"]

C = mavlink2


_INT_TYPES = {
    C.MAV_PARAM_TYPE_UINT8: "<B", C.MAV_PARAM_TYPE_INT8: "<b", C.MAV_PARAM_TYPE_UINT16: "<H",
    C.MAV_PARAM_TYPE_INT16: "<h", C.MAV_PARAM_TYPE_UINT32: "<I", C.MAV_PARAM_TYPE_INT32: "<i",
}  # fmt: skip


class PymavParams(Params):
    def __init__(self, v: PymavVehicle) -> None:
        self.v = v
        self.types: dict[str, int] = {}

    @property
    def _bytewise(self) -> bool:
        rec = self.v.rec
        if rec.capabilities:
            return bool(rec.capabilities & C.MAV_PROTOCOL_CAPABILITY_PARAM_ENCODE_BYTEWISE)
        return rec.autopilot == Autopilot.PX4

    def _decode(self, m: Any) -> float:
        fmt = _INT_TYPES.get(m.param_type)
        if fmt and self._bytewise:
            raw = struct.pack("<f", m.param_value)
            return float(struct.unpack(fmt, raw[: struct.calcsize(fmt)])[0])
        return float(m.param_value)

    def _encode(self, name: str, value: float) -> tuple[float, int]:
        ptype = self.types.get(name, C.MAV_PARAM_TYPE_REAL32)
        fmt = _INT_TYPES.get(ptype)
        if fmt and self._bytewise:
            raw = struct.pack(fmt, int(value)).ljust(4, b"\0")
            return struct.unpack("<f", raw)[0], ptype
        return float(value), ptype

    async def _exchange(self, name: str, msg: Any) -> float:
        v = self.v
        with v.link.collect(v.sysid, ["PARAM_VALUE"]) as q:
            for _ in range(6):
                v.link.send(msg, v.sysid)
                deadline = time.monotonic() + 1.5
                while (left := deadline - time.monotonic()) > 0:
                    try:
                        m = await asyncio.wait_for(q.get(), left)
                    except TimeoutError:
                        break
                    if m.param_id == name:
                        self.types[name] = m.param_type
                        return self._decode(m)
        raise ParamError(
            f"vehicle {v.sysid}: parameter {name} not answered after 6 tries (does it exist on this autopilot?)"
        )

    async def get(self, name: str) -> float:
        v = self.v
        v._check_usable()
        if len(name) > 16:
            raise ParamError(f"parameter name {name!r} is longer than 16 characters")
        return await self._exchange(
            name, C.MAVLink_param_request_read_message(v.sysid, v.rec.compid, name.encode(), -1)
        )

    async def set(self, name: str, value: float) -> float:
        v = self.v
        v._check_usable()
        if name not in self.types:
            await self.get(name)
        wire, ptype = self._encode(name, value)
        got = await self._exchange(
            name, C.MAVLink_param_set_message(v.sysid, v.rec.compid, name.encode(), wire, ptype)
        )
        if not math.isclose(got, float(value), rel_tol=1e-6, abs_tol=1e-6):
            raise ParamError(
                f"vehicle {v.sysid}: parameter {name} set to {value} but vehicle reports {got} (out of range?)"
            )
        return got

    async def get_all(self) -> dict[str, float]:
        v = self.v
        v._check_usable()
        values: dict[str, float] = {}
        total: int | None = None
        seen: set[int] = set()
        with v.link.collect(v.sysid, ["PARAM_VALUE"]) as q:
            v.link.send(C.MAVLink_param_request_list_message(v.sysid, v.rec.compid), v.sysid)
            for _ in range(6):
                while True:
                    try:
                        m = await asyncio.wait_for(q.get(), 1.5)
                    except TimeoutError:
                        break
                    total = m.param_count
                    seen.add(m.param_index)
                    self.types[m.param_id] = m.param_type
                    values[m.param_id] = self._decode(m)
                    if total is not None and len(seen) >= total:
                        return values
                if total is None:
                    v.link.send(
                        C.MAVLink_param_request_list_message(v.sysid, v.rec.compid), v.sysid
                    )
                    continue
                for idx in sorted(set(range(total)) - seen):
                    v.link.send(
                        C.MAVLink_param_request_read_message(v.sysid, v.rec.compid, b"", idx),
                        v.sysid,
                    )
        if total is None:
            raise ParamError(
                f"vehicle {v.sysid}: no PARAM_VALUE answer to the parameter list request"
            )
        raise ParamError(f"vehicle {v.sysid}: got {len(seen)} of {total} parameters")
