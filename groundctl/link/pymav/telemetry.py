"""Telemetry of the pymavlink backend: every message of one vehicle folded into its state."""

from __future__ import annotations

import asyncio
import math
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from groundctl.link.ext import ext_u32
from groundctl.link.link import mavlink2
from groundctl.link.modes import decode_mode
from groundctl.link.types import (
    Attitude,
    Autopilot,
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
    from groundctl.link.pymav import PymavVehicle

__all__ = ["PymavTelemetry", "Tracker"]

C = mavlink2
# Uptime may jitter backwards by reordered packets; a restart goes back much further.
REBOOT_BACKSTEP_MS = 1500


class Tracker:
    """Folds one vehicle's messages into its state. Called for every message: keep it cheap."""

    def __init__(self, v: PymavVehicle) -> None:
        self.v = v
        self.position: Position | None = None
        self.attitude: Attitude | None = None
        self.battery: Battery | None = None
        self.gps: Gps | None = None
        self.home: Home | None = None
        self.mode = FlightMode.UNKNOWN
        self.mode_name = ""
        self.armed = False
        self.in_air = False
        self.system_status = 0
        self.mission_seq = 0
        self.mission_total = 0
        self.mission_id = 0
        self.fence_id = 0
        self.rally_id = 0
        self.mission_state = 0
        self.reached: list[int] = []
        self.last_statustext: StatusText | None = None
        self._chunks: dict[int, list[str]] = {}
        self.uptime_ms = 0
        self.reboots = 0
        self.heading_deg: float | None = None
        self.custom_mode = -1
        self.version = 0
        self.changed = asyncio.Event()
        self._handlers: dict[str, Callable[[Any], None]] = {
            "HEARTBEAT": self._heartbeat,
            "GLOBAL_POSITION_INT": self._global_position,
            "ATTITUDE": self._attitude,
            "SYS_STATUS": self._sys_status,
            "BATTERY_STATUS": self._battery_status,
            "GPS_RAW_INT": self._gps,
            "HOME_POSITION": self._home,
            "MISSION_CURRENT": self._mission_current,
            "MISSION_ITEM_REACHED": self._item_reached,
            "STATUSTEXT": self._statustext,
            "EXTENDED_SYS_STATE": self._ext_state,
            "VFR_HUD": self._vfr_hud,
            "SYSTEM_TIME": self._system_time,
        }

    def __call__(self, m: Any) -> None:
        h = self._handlers.get(m.get_type())
        if h is not None:
            h(m)
            self.version += 1
            self.changed.set()

    def _uptime(self, ms: int) -> None:
        if self.uptime_ms and ms + REBOOT_BACKSTEP_MS < self.uptime_ms:
            self.reboots += 1
            self.v._on_reboot(self.uptime_ms, ms)
        self.uptime_ms = ms

    def _heartbeat(self, m: Any) -> None:
        armed = bool(m.base_mode & C.MAV_MODE_FLAG_SAFETY_ARMED)
        if m.custom_mode != self.custom_mode:
            self.custom_mode = m.custom_mode
            old = self.mode_name
            self.mode, self.mode_name = decode_mode(self.v.rec.autopilot, m.custom_mode)
            if old:
                self.v._emit(
                    LinkEventKind.MODE_CHANGED, f"{old} -> {self.mode_name}", {"mode": self.mode}
                )
        if armed != self.armed:
            self.armed = armed
            self.v._emit(LinkEventKind.ARMED if armed else LinkEventKind.DISARMED)
        self.system_status = m.system_status

    def _global_position(self, m: Any) -> None:
        self._uptime(m.time_boot_ms)
        hdg = None if m.hdg == 65535 else m.hdg / 100.0
        self.position = Position(
            m.lat / 1e7, m.lon / 1e7, m.alt / 1000.0, m.relative_alt / 1000.0,
            m.vx / 100.0, m.vy / 100.0, m.vz / 100.0, hdg if hdg is not None else self.heading_deg,
        )  # fmt: skip

    def _attitude(self, m: Any) -> None:
        self._uptime(m.time_boot_ms)
        self.attitude = Attitude(math.degrees(m.roll), math.degrees(m.pitch), math.degrees(m.yaw))

    def _sys_status(self, m: Any) -> None:
        pct = None if m.battery_remaining < 0 else float(m.battery_remaining)
        volt = None if m.voltage_battery == 65535 else m.voltage_battery / 1000.0
        cur = None if m.current_battery < 0 else m.current_battery / 100.0
        if self.battery is not None and pct is None:
            pct = self.battery.remaining_pct
        self.battery = Battery(pct, volt, cur)

    def _battery_status(self, m: Any) -> None:
        if m.id != 0:
            return
        pct = None if m.battery_remaining < 0 else float(m.battery_remaining)
        cells = [c for c in m.voltages if c != 65535]
        volt = sum(cells) / 1000.0 if cells else (self.battery.voltage_v if self.battery else None)
        cur = None if m.current_battery < 0 else m.current_battery / 100.0
        self.battery = Battery(pct, volt, cur)

    def _gps(self, m: Any) -> None:
        sats = 0 if m.satellites_visible == 255 else m.satellites_visible
        hdop = None if m.eph == 65535 else m.eph / 100.0
        self.gps = Gps(m.fix_type, sats, hdop)

    def _home(self, m: Any) -> None:
        self.home = Home(m.latitude / 1e7, m.longitude / 1e7, m.altitude / 1000.0)

    def _mission_current(self, m: Any) -> None:
        seq = m.seq
        if seq == 65535:
            # PX4 reports -1 after an upload until its navigator has taken the mission: the
            # index is unknown, not past the end.
            seq = self.mission_seq
        if self.v.rec.autopilot == Autopilot.ARDUPILOT:
            seq = max(seq - 1, 0)  # seq 0 is home
        self.mission_seq = seq
        total = getattr(m, "total", 0)
        if total not in (0, 65535):
            self.mission_total = total
        elif total == 65535:
            self.mission_total = 0
        self.mission_state = getattr(m, "mission_state", 0)
        self.mission_id = ext_u32(m, "mission_id", 0)
        self.fence_id = ext_u32(m, "fence_id", 1)
        self.rally_id = ext_u32(m, "rally_points_id", 2)

    def _item_reached(self, m: Any) -> None:
        seq = m.seq
        if self.v.rec.autopilot == Autopilot.ARDUPILOT:
            if seq == 0:
                return
            seq -= 1
        if not self.reached or self.reached[-1] != seq:
            self.reached.append(seq)
            self.v._emit(LinkEventKind.ITEM_REACHED, f"item {seq}", {"seq": seq})

    def _statustext(self, m: Any) -> None:
        text = m.text
        chunk_id = getattr(m, "id", 0)
        if chunk_id:
            # MAVLink 2 sends a long text in 50-character chunks under one id.
            parts = self._chunks.setdefault(chunk_id, [])
            parts.append(text)
            if len(text) >= 50 and len(parts) < 8:
                return
            text = "".join(self._chunks.pop(chunk_id))
            while len(self._chunks) > 8:
                self._chunks.pop(next(iter(self._chunks)))
        text = text.strip()  # PX4 ends texts that also went out as events with a tab
        self.last_statustext = StatusText(m.severity, text, time.monotonic())
        self.v._emit(LinkEventKind.STATUSTEXT, text, {"severity": m.severity})

    def _ext_state(self, m: Any) -> None:
        self.in_air = m.landed_state in (
            C.MAV_LANDED_STATE_IN_AIR,
            C.MAV_LANDED_STATE_TAKEOFF,
            C.MAV_LANDED_STATE_LANDING,
        )

    def _vfr_hud(self, m: Any) -> None:
        self.heading_deg = float(m.heading)

    def _system_time(self, m: Any) -> None:
        self._uptime(m.time_boot_ms)


class PymavTelemetry(ChangeTrackingTelemetry):
    def __init__(self, v: PymavVehicle) -> None:
        self.v = v

    def state(self) -> VehicleState:
        t = self.v._tracker
        rec = self.v.rec
        age = time.monotonic() - rec.last_heartbeat_s
        return VehicleState(
            sysid=rec.sysid,
            position=t.position,
            attitude=t.attitude,
            battery=t.battery,
            gps=t.gps,
            home=t.home,
            mode=t.mode,
            mode_name=t.mode_name,
            armed=t.armed,
            in_air=t.in_air,
            system_status=t.system_status,
            mission=MissionProgress(
                t.mission_seq, t.mission_total, t.mission_id, tuple(t.reached), t.mission_state
            ),
            last_statustext=t.last_statustext,
            link_ok=rec.link_ok,
            last_heartbeat_age_s=age,
            uptime_ms=t.uptime_ms,
            duplicate_sysid=rec.duplicate,
            reboots=t.reboots,
        )

    def _changes(self) -> StateChanges:
        return self.v._tracker

    def _sysid_label(self) -> int:
        return self.v.sysid

    def _event_queues(self) -> list[Any]:
        return self.v._event_queues
