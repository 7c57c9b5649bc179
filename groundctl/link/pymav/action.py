"""Flight commands of the pymavlink backend, each done the autopilot's own way."""

from __future__ import annotations

import asyncio
import contextlib
import math
import time
from typing import TYPE_CHECKING

from groundctl.errors import LinkError
from groundctl.link.errors import CommandDenied, UnsupportedError
from groundctl.link.link import mavlink2
from groundctl.link.missionproto import set_current
from groundctl.link.modes import encode_mode
from groundctl.link.types import Autopilot, FlightMode, OrbitResult
from groundctl.link.vehicle import Action

if TYPE_CHECKING:
    from groundctl.link.pymav import PymavVehicle

__all__ = ["PymavAction"]

C = mavlink2
NAN = math.nan


class PymavAction(Action):
    def __init__(self, v: PymavVehicle) -> None:
        self.v = v

    @property
    def _ap(self) -> bool:
        return self.v.rec.autopilot == Autopilot.ARDUPILOT

    async def arm(self) -> None:
        await self.v.command(C.MAV_CMD_COMPONENT_ARM_DISARM, 1)

    async def disarm(self) -> None:
        await self.v.command(C.MAV_CMD_COMPONENT_ARM_DISARM, 0)

    async def takeoff(self, alt_rel_m: float) -> None:
        if self._ap:
            # ArduPilot Copter takes off only in GUIDED, to an altitude above home.
            await self.set_mode("GUIDED")
            try:
                await self.v.command(C.MAV_CMD_NAV_TAKEOFF, 0, 0, 0, NAN, 0, 0, alt_rel_m)
            except CommandDenied as e:
                # ArduPilot refuses a take-off once it has left the ground, so a re-send after
                # a lost ACK is answered FAILED although the first one is climbing.
                if not (e.resent and await self._leaving_ground()):
                    raise
            return
        home = self.v._tracker.home
        if home is None:
            await self.v.request_message(C.MAVLINK_MSG_ID_HOME_POSITION)
            home = self.v._tracker.home
        if home is None:
            raise LinkError(
                f"vehicle {self.v.sysid}: cannot take off: home position not known yet (no GPS fix?)"
            )
        # PX4's NAV_TAKEOFF altitude is AMSL.
        await self.v.command(
            C.MAV_CMD_NAV_TAKEOFF, 0, 0, 0, NAN, NAN, NAN, home.alt_amsl_m + alt_rel_m
        )

    async def _leaving_ground(self, within_s: float = 3.0) -> bool:
        t = self.v._tracker
        end = time.monotonic() + within_s
        while time.monotonic() < end:
            climbed = t.position is not None and t.position.alt_rel_m > 0.5
            if t.armed and (t.in_air or climbed):
                return True
            await asyncio.sleep(0.1)
        return False

    async def start_mission(self, from_seq: int | None = None) -> None:
        if from_seq is not None:
            await self.set_current_item(from_seq)
        if self._ap:
            await self.v.command(C.MAV_CMD_MISSION_START, 0, 0)
        else:
            await self.set_mode("AUTO.MISSION")

    async def pause(self) -> None:
        if self._ap:
            try:
                await self.v.command(C.MAV_CMD_DO_PAUSE_CONTINUE, 0)
            except UnsupportedError:
                await self.set_mode("BRAKE")
        else:
            await self.set_mode("AUTO.LOITER")

    async def resume(self) -> None:
        if self._ap:
            try:
                await self.v.command(C.MAV_CMD_DO_PAUSE_CONTINUE, 1)
            except UnsupportedError:
                await self.set_mode("AUTO")
        else:
            await self.set_mode("AUTO.MISSION")

    async def goto(self, lat: float, lon: float, alt_amsl_m: float) -> None:
        if self._ap and self.v._tracker.mode != FlightMode.GUIDED:
            await self.set_mode("GUIDED")
        await self.v.command(
            C.MAV_CMD_DO_REPOSITION, -1, C.MAV_DO_REPOSITION_FLAGS_CHANGE_MODE, 0, NAN, lat, lon, alt_amsl_m,
            use_int=True, frame=C.MAV_FRAME_GLOBAL,
        )  # fmt: skip

    async def orbit(
        self,
        lat: float,
        lon: float,
        alt_amsl_m: float,
        radius_m: float,
        speed_ms: float | None = None,
    ) -> OrbitResult:
        if not self._ap:
            try:
                await self.v.command(
                    C.MAV_CMD_DO_ORBIT, radius_m, NAN if speed_ms is None else speed_ms,
                    C.ORBIT_YAW_BEHAVIOUR_HOLD_FRONT_TO_CIRCLE_CENTER, 0, lat, lon, alt_amsl_m,
                    use_int=True, frame=C.MAV_FRAME_GLOBAL,
                )  # fmt: skip
                return OrbitResult(True, f"orbiting at {radius_m:.0f} m radius")
            except UnsupportedError:
                pass
        # ArduPilot Copter has no DO_ORBIT over MAVLink: hold over the point in GUIDED.
        await self.goto(lat, lon, alt_amsl_m)
        return OrbitResult(False, "orbit not supported by the autopilot; holding over the point")

    async def return_to_launch(self) -> None:
        try:
            await self.v.command(C.MAV_CMD_NAV_RETURN_TO_LAUNCH)
        except UnsupportedError:
            await self.set_mode(FlightMode.RETURN)

    async def land(self) -> None:
        if self._ap:
            await self.set_mode("LAND")
        else:
            await self.v.command(C.MAV_CMD_NAV_LAND, 0, 0, 0, NAN, NAN, NAN, NAN)

    async def set_speed(self, speed_ms: float) -> None:
        await self.v.command(C.MAV_CMD_DO_CHANGE_SPEED, 1, speed_ms, -1, 0)

    async def set_mode(self, mode: FlightMode | str) -> None:
        base, main, sub, _ = encode_mode(self.v.rec.autopilot, mode)
        await self.v.command(C.MAV_CMD_DO_SET_MODE, base, main, sub)

    async def set_current_item(self, seq: int) -> None:
        v = self.v
        wire = seq + (1 if self._ap else 0)
        if self._ap:
            # ArduPilot honours the command (and ACKs it); the message is its fallback.
            with contextlib.suppress(UnsupportedError):
                await v.command(C.MAV_CMD_DO_SET_MISSION_CURRENT, wire)
                return
        # PX4 v1.16 answers the command UNSUPPORTED and honours only MISSION_SET_CURRENT.
        v._check_usable()
        await set_current(v.link, v.sysid, v.rec.compid, wire)
