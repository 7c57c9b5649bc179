"""Mode changes of a simulated vehicle: what each autopilot refuses, and what entering a mode
does (PX4's mission restart rules included, see `sim.conformance`)."""

from __future__ import annotations

import math

from sim import mission as ms
from sim.flight import Orbit
from sim.mav import M
from sim.modes import Mode, mode_name


class ModeMixin:
    """`request_mode` / `set_mode` of `SimVehicle`."""

    def request_mode(self, mode: Mode) -> bool:
        """A mode change asked by a pilot; False (with a STATUSTEXT) when refused."""
        if mode == self.mode:
            return True
        needs_position = mode not in (Mode.MANUAL, Mode.STABILIZED, Mode.ALTCTL)
        if needs_position and not self.gps_ok:
            self.statustext(
                M.MAV_SEVERITY_CRITICAL,
                "Switching to mode denied: no position"
                if self.flavour == "px4"
                else "Flight mode change failed: requires position",
            )
            return False
        if mode in (Mode.RTL,) and self.home is None:
            self.statustext(M.MAV_SEVERITY_CRITICAL, "Return denied: no home position")
            return False
        if self.motor_failed and mode != Mode.LAND:
            return False
        if mode == Mode.ORBIT and (self.landed or not self.armed):
            self.statustext(M.MAV_SEVERITY_CRITICAL, "Orbit/Circle needs a flying vehicle")
            return False
        if mode == Mode.MISSION:
            no_mission = not self.plans[ms.MISSION]
            if (
                no_mission or self.mis_seq >= len(self.plans[ms.MISSION])
            ) and self.flavour == "px4":
                self.statustext(M.MAV_SEVERITY_CRITICAL, "Mission rejected: no valid mission")
                return False
            if (
                self.flavour == "px4"
                and ms.fence_violation(self.plans[ms.MISSION], self.fence, self.to_local)
                is not None
            ):
                # A mission with a waypoint outside the fence is not valid: PX4 v1.16 ACKs the
                # mode change and stays where it is (SITL: TAKEOFF, then LOITER, for good).
                self.statustext(
                    M.MAV_SEVERITY_CRITICAL, "Switching to Mission is currently not available"
                )
                return True
            if (
                self.flavour == "ardupilot"
                and self.armed
                and self.landed
                and not self._mission_starts_with_takeoff()
            ):
                self.statustext(M.MAV_SEVERITY_CRITICAL, "Auto: Missing Takeoff Cmd")
                return False
        self.set_mode(mode)
        return True

    def set_mode(self, mode: Mode, quiet: bool = False) -> None:
        prev = self.mode
        if mode in (Mode.RTL, Mode.LAND) and prev not in (Mode.RTL, Mode.LAND):
            self.mode_before_return = prev
        self.mode = mode
        self.orbit = None
        if mode != Mode.MISSION and not self.armed:
            self.disarmed_inactive = True
        b = self.body
        if mode in (
            Mode.HOLD,
            Mode.POSCTL,
            Mode.ALTCTL,
            Mode.OFFBOARD,
            Mode.BRAKE,
            Mode.STABILIZED,
            Mode.MANUAL,
        ):
            # Hold where we are (brake to a stop first: the target is the stopping point).
            if not self.landed:
                self.target = (b.x, b.y, b.alt_amsl)
            else:
                self.target = None
        elif mode == Mode.RTL:
            self.rtl_phase = "climb"
        elif mode == Mode.TAKEOFF:
            if self.armed and self.landed:
                self._start_takeoff()
        elif mode == Mode.ORBIT:
            self.orbit = self._default_orbit()
        elif mode == Mode.LAND:
            self.target = None
        elif mode == Mode.MISSION:
            self._enter_mission(prev)
        if not quiet:
            self.statustext(M.MAV_SEVERITY_INFO, f"Mode {mode_name(self.flavour, mode)}")

    def _default_orbit(self) -> Orbit | None:
        """The circle a bare mode switch flies: ArduPilot CIRCLE puts its centre one radius
        ahead of the nose; PX4 orbits the current position at NAV_LOITER_RAD."""
        if self.landed:
            return None
        b = self.body
        if self.flavour == "ardupilot":
            radius = max(self.params["CIRCLE_RADIUS"] / 100, 1.0)
            rate = self.params["CIRCLE_RATE"]
            yaw = math.radians(b.yaw_deg)
            cx, cy = b.x + radius * math.sin(yaw), b.y + radius * math.cos(yaw)
            speed = min(abs(rate) * math.pi / 180 * radius, self.airframe.max_speed_ms)
            return Orbit(cx, cy, b.alt_amsl, radius if rate >= 0 else -radius, max(speed, 0.5))
        radius = self.params["NAV_LOITER_RAD"]
        speed = min(5.0, self.airframe.cruise_speed_ms)
        return Orbit(b.x, b.y, b.alt_amsl, radius, speed)

    def _start_takeoff(self) -> None:
        b = self.body
        self.target = (b.x, b.y, self.home_alt + self.params["MIS_TAKEOFF_ALT"])
        self.landed = False

    def _first_mission_seq(self) -> int:
        return 1 if self.flavour == "ardupilot" and self.plans[ms.MISSION] else 0

    def _mission_starts_with_takeoff(self) -> bool:
        for it in self.plans[ms.MISSION][max(self.mis_seq, self._first_mission_seq()) :]:
            if it.command in ms.NAV_COMMANDS:
                return it.command in (ms.NAV_TAKEOFF, ms.NAV_VTOL_TAKEOFF)
        return False

    def _enter_mission(self, prev: Mode) -> None:
        items = self.plans[ms.MISSION]
        if self.flavour == "px4":
            # PX4 (mission_base.cpp checkMissionRestart) restarts at item 0 only a finished
            # mission it has flown, after a disarm; otherwise it goes on at its current index,
            # which an upload leaves where the previous mission was.
            if (
                self.disarmed_inactive
                and self.mission_activated
                and items
                and self.mis_seq + 1 == len(items)
            ):
                self.mis_seq = 0
                self._jump_left.clear()
            self.mission_activated = True
            self.disarmed_inactive = False
            self.mis_seq_unknown = False
        elif self.mis_state in (M.MISSION_STATE_COMPLETE,) or self.mis_seq >= len(items):
            self.mis_seq = self._first_mission_seq()
            self._jump_left.clear()
        self.mis_seq = max(self.mis_seq, self._first_mission_seq())
        self.mis_state = M.MISSION_STATE_ACTIVE
        self._item_phase = ""
        if (
            self.armed
            and self.landed
            and self.flavour == "px4"
            and not self._mission_starts_with_takeoff()
        ):
            # PX4 climbs to the mission take-off altitude before the first waypoint.
            self.mission_takeoff_pending = True
        self.send(self._mission_current())
