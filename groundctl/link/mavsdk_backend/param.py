"""Parameters of the MAVSDK backend (its param plugin; integers and floats kept apart)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from groundctl.link.errors import ParamError
from groundctl.link.vehicle import Params

if TYPE_CHECKING:
    from groundctl.link.mavsdk_backend import MavsdkVehicle

__all__ = ["MavsdkParams"]


class MavsdkParams(Params):
    def __init__(self, v: MavsdkVehicle) -> None:
        self.v = v
        self.p = v._par
        self.ints: set[str] = set()

    async def get(self, name: str) -> float:
        try:
            return float(await self.v.call(f"get {name}", self.p.get_param_float(name)))
        except ParamError:
            value = await self.v.call(f"get {name}", self.p.get_param_int(name))
            self.ints.add(name)
            return float(value)

    async def set(self, name: str, value: float) -> float:
        if name not in self.ints:
            try:
                await self.v.call(f"set {name}", self.p.set_param_float(name, float(value)))
                return float(value)
            except ParamError:
                self.ints.add(name)
        await self.v.call(f"set {name}", self.p.set_param_int(name, int(value)))
        return float(int(value))

    async def get_all(self) -> dict[str, float]:
        allp = await self.v.call("get all parameters", self.p.get_all_params())
        out = {p.name: float(p.value) for p in allp.int_params}
        out.update({p.name: float(p.value) for p in allp.float_params})
        return out
