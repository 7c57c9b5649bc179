"""Telemetry of the MAVSDK backend: MAVSDK's streams folded into one state per vehicle."""

from __future__ import annotations

import asyncio
import math
import time
from collections.abc import AsyncIterator, Callable
from typing import TYPE_CHECKING, Any

from groundctl.link.types import (
    Attitude,
    Battery,
    FlightMode,
    Gps,
    Home,
    LinkEventKind,
    MissionProgress,
    Position,
    StatusText,
    VehicleState,
)
from groundctl.link.vehicle import ChangeTrackingTelemetry, StateChanges

if TYPE_CHECKING:
    from groundctl.link.mavsdk_backend import MavsdkVehicle

__all__ = ["MavsdkTelemetry", "State", "start_subscriptions"]

_FLIGHT_MODES = {
    "READY": (FlightMode.READY, "AUTO.READY"),
    "TAKEOFF": (FlightMode.TAKEOFF, "AUTO.TAKEOFF"),
    "HOLD": (FlightMode.HOLD, "AUTO.LOITER"),
    "MISSION": (FlightMode.MISSION, "AUTO.MISSION"),
    "RETURN_TO_LAUNCH": (FlightMode.RETURN, "AUTO.RTL"),
    "LAND": (FlightMode.LAND, "AUTO.LAND"),
    "OFFBOARD": (FlightMode.OFFBOARD, "OFFBOARD"),
    "FOLLOW_ME": (FlightMode.GUIDED, "AUTO.FOLLOW_TARGET"),
    "MANUAL": (FlightMode.MANUAL, "MANUAL"),
    "ALTCTL": (FlightMode.ALTITUDE, "ALTCTL"),
    "POSCTL": (FlightMode.POSITION, "POSCTL"),
    "ACRO": (FlightMode.ACRO, "ACRO"),
    "STABILIZED": (FlightMode.STABILIZED, "STABILIZED"),
    "RATTITUDE": (FlightMode.STABILIZED, "RATTITUDE"),
}


class State:
    def __init__(self) -> None:
        self.position: Position | None = None
        self.attitude: Attitude | None = None
        self.battery: Battery | None = None
        self.gps: Gps | None = None
        self.home: Home | None = None
        self.mode = FlightMode.UNKNOWN
        self.mode_name = ""
        self.armed = False
        self.in_air = False
        self.progress = MissionProgress()
        self.reached: list[int] = []
        self.last_statustext: StatusText | None = None
        self.connected = True
        self.last_seen_s = time.monotonic()
        self.vel = (0.0, 0.0, 0.0)
        self.version = 0
        self.changed = asyncio.Event()


def start_subscriptions(self: MavsdkVehicle) -> None:
    """Fold MAVSDK's telemetry streams into the vehicle's state, one task per stream."""
    t, s = self._tel, self._s

    def pos(p: Any) -> None:
        s.position = Position(
            p.latitude_deg,
            p.longitude_deg,
            p.absolute_altitude_m,
            p.relative_altitude_m,
            *s.vel,
            s.position.heading_deg if s.position else None,
        )

    def vel(p: Any) -> None:
        s.vel = (p.north_m_s, p.east_m_s, p.down_m_s)

    def home(p: Any) -> None:
        s.home = Home(p.latitude_deg, p.longitude_deg, p.absolute_altitude_m)

    def armed(a: bool) -> None:
        if a != s.armed:
            s.armed = a
            self._emit(LinkEventKind.ARMED if a else LinkEventKind.DISARMED)

    def in_air(a: bool) -> None:
        s.in_air = a

    def att(e: Any) -> None:
        s.attitude = Attitude(e.roll_deg, e.pitch_deg, e.yaw_deg)

    def batt(b: Any) -> None:
        pct = b.remaining_percent
        # MAVSDK 2+ reports 0-100; older versions 0-1.
        pct = None if pct is None or math.isnan(pct) else (pct * 100 if pct <= 1.0 else pct)
        s.battery = Battery(pct, b.voltage_v, b.current_battery_a)

    def mode(m: Any) -> None:
        new, name = _FLIGHT_MODES.get(m.name, (FlightMode.UNKNOWN, m.name))
        if name != s.mode_name:
            old, s.mode, s.mode_name = s.mode_name, new, name
            if old:
                self._emit(LinkEventKind.MODE_CHANGED, f"{old} -> {name}", {"mode": new})

    def gps(g: Any) -> None:
        s.gps = Gps(int(g.fix_type), g.num_satellites)

    def text(st: Any) -> None:
        # MAVSDK numbers its StatusTextType from DEBUG (0) up to EMERGENCY (7), the reverse
        # of MAV_SEVERITY (EMERGENCY 0 ... DEBUG 7).
        severity = 7 - int(st.type)
        body = st.text.strip()
        s.last_statustext = StatusText(severity, body, time.monotonic())
        self._emit(LinkEventKind.STATUSTEXT, body, {"severity": severity})

    def progress(p: Any) -> None:
        cur = p.current
        if cur > 0 and (not s.reached or s.reached[-1] < cur - 1):
            for seq in range(s.reached[-1] + 1 if s.reached else 0, cur):
                s.reached.append(seq)
                self._emit(LinkEventKind.ITEM_REACHED, f"item {seq}", {"seq": seq})
        s.progress = MissionProgress(cur, p.total, 0, tuple(s.reached), 3 if cur < p.total else 5)

    def connected(c: bool) -> None:
        if c != s.connected:
            s.connected = c
            self._emit(LinkEventKind.LINK_RESTORED if c else LinkEventKind.LINK_LOST)
        if c:
            s.last_seen_s = time.monotonic()

    subs: list[tuple[Callable[[], AsyncIterator[Any]], Callable[[Any], None]]] = [
        (t.subscribe_position, pos),
        (t.subscribe_velocity_ned, vel),
        (t.subscribe_home, home),
        (t.subscribe_armed, armed),
        (t.subscribe_in_air, in_air),
        (t.subscribe_attitude_euler, att),
        (t.subscribe_battery, batt),
        (t.subscribe_flight_mode, mode),
        (t.subscribe_gps_info, gps),
        (t.subscribe_status_text, text),
        (self._mis.subscribe_mission_progress, progress),
        (self._system.is_connected_state, connected),
    ]
    for sub, fn in subs:
        self._tasks.append(asyncio.create_task(self._pump(sub, fn)))


class MavsdkTelemetry(ChangeTrackingTelemetry):
    def __init__(self, v: MavsdkVehicle) -> None:
        self.v = v

    def state(self) -> VehicleState:
        s = self.v._s
        return VehicleState(
            sysid=self.v._sysid, position=s.position, attitude=s.attitude, battery=s.battery, gps=s.gps,
            home=s.home, mode=s.mode, mode_name=s.mode_name, armed=s.armed, in_air=s.in_air,
            mission=s.progress, last_statustext=s.last_statustext, link_ok=s.connected,
            last_heartbeat_age_s=time.monotonic() - s.last_seen_s,
        )  # fmt: skip

    def _changes(self) -> StateChanges:
        return self.v._s

    def _sysid_label(self) -> int:
        return self.v._sysid

    def _event_queues(self) -> list[Any]:
        return self.v._event_queues
