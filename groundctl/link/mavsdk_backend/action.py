"""Flight commands of the MAVSDK backend (its action and mission_raw plugins)."""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

from groundctl.link.errors import UnsupportedError
from groundctl.link.types import FlightMode, OrbitResult
from groundctl.link.vehicle import Action

if TYPE_CHECKING:
    from groundctl.link.mavsdk_backend import MavsdkVehicle

__all__ = ["MavsdkAction"]


class MavsdkAction(Action):
    def __init__(self, v: MavsdkVehicle) -> None:
        self.v = v
        self.a = v._act

    async def arm(self) -> None:
        await self.v.call("arm", self.a.arm())

    async def disarm(self) -> None:
        await self.v.call("disarm", self.a.disarm())

    async def takeoff(self, alt_rel_m: float) -> None:
        await self.v.call("set takeoff altitude", self.a.set_takeoff_altitude(float(alt_rel_m)))
        await self.v.call("takeoff", self.a.takeoff())

    async def start_mission(self, from_seq: int | None = None) -> None:
        if from_seq is not None:
            await self.set_current_item(from_seq)
        await self.v.call("start mission", self.v._mis.start_mission())

    async def pause(self) -> None:
        await self.v.call("pause mission", self.v._mis.pause_mission())

    async def resume(self) -> None:
        await self.v.call("resume mission", self.v._mis.start_mission())

    async def goto(self, lat: float, lon: float, alt_amsl_m: float) -> None:
        await self.v.call("goto", self.a.goto_location(lat, lon, alt_amsl_m, math.nan))

    async def orbit(
        self,
        lat: float,
        lon: float,
        alt_amsl_m: float,
        radius_m: float,
        speed_ms: float | None = None,
    ) -> OrbitResult:
        from mavsdk.plugins.action import OrbitYawBehavior

        try:
            await self.v.call(
                "orbit",
                self.a.do_orbit(
                    radius_m,
                    math.nan if speed_ms is None else speed_ms,
                    OrbitYawBehavior.HOLD_FRONT_TO_CIRCLE_CENTER,
                    lat,
                    lon,
                    alt_amsl_m,
                ),
            )
            return OrbitResult(True, f"orbiting at {radius_m:.0f} m radius")
        except UnsupportedError:
            await self.goto(lat, lon, alt_amsl_m)
            return OrbitResult(
                False, "orbit not supported by the autopilot; holding over the point"
            )

    async def return_to_launch(self) -> None:
        await self.v.call("return to launch", self.a.return_to_launch())

    async def land(self) -> None:
        await self.v.call("land", self.a.land())

    async def set_speed(self, speed_ms: float) -> None:
        await self.v.call("set speed", self.a.set_current_speed(float(speed_ms)))

    async def set_mode(self, mode: FlightMode | str) -> None:
        m = (
            FlightMode(mode.lower())
            if isinstance(mode, str) and mode.lower() in FlightMode._value2member_map_
            else mode
        )
        by_name = {
            "AUTO.LOITER": FlightMode.HOLD,
            "AUTO.MISSION": FlightMode.MISSION,
            "AUTO.RTL": FlightMode.RETURN,
            "AUTO.LAND": FlightMode.LAND,
        }
        if isinstance(m, str) and not isinstance(m, FlightMode):
            m = by_name.get(m.upper(), m)
        if m == FlightMode.HOLD:
            await self.v.call("hold", self.a.hold())
        elif m == FlightMode.MISSION:
            await self.start_mission()
        elif m == FlightMode.RETURN:
            await self.return_to_launch()
        elif m == FlightMode.LAND:
            await self.land()
        else:
            raise UnsupportedError(
                self.v._sysid,
                f"set mode {mode}",
                3,
                "MAVSDK backend sets only hold, mission, return and land",
            )

    async def set_current_item(self, seq: int) -> None:
        await self.v.call("set current item", self.v._mis.set_current_mission_item(seq))
