"""The pymavlink backend of `Vehicle`, for PX4 and ArduPilot, on a shared `MavLink`."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import math
import struct
import time
from collections.abc import Callable, Iterable
from typing import Any

from groundctl.errors import LinkError
from groundctl.link.commands import send_command
from groundctl.link.errors import (
    CommandDenied,
    DuplicateSysidError,
    ParamError,
    UnsupportedError,
)
from groundctl.link.ext import ext_u32
from groundctl.link.link import MavLink, VehicleRecord, mavlink2
from groundctl.link.missionproto import clear_plan, download_plan, set_current, upload_plan
from groundctl.link.modes import decode_mode, encode_mode
from groundctl.link.types import (
    Attitude,
    Autopilot,
    Battery,
    FlightMode,
    Gps,
    Home,
    Identity,
    LinkEvent,
    LinkEventKind,
    MissionItem,
    MissionProgress,
    MissionType,
    OrbitResult,
    Position,
    StatusText,
    VehicleState,
    coerce_items,
    mission_hash,
    same_items,
)
from groundctl.link.vehicle import (
    Action,
    ChangeTrackingTelemetry,
    MissionPlans,
    Params,
    StateChanges,
    Vehicle,
)

log = logging.getLogger(__name__)

__all__ = ["PymavVehicle"]

C = mavlink2
NAN = math.nan
# Uptime may jitter backwards by reordered packets; a restart goes back much further.
REBOOT_BACKSTEP_MS = 1500


class _Tracker:
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
        self.last_statustext = StatusText(m.severity, m.text, time.monotonic())
        self.v._emit(LinkEventKind.STATUSTEXT, m.text, {"severity": m.severity})

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


class _Telemetry(ChangeTrackingTelemetry):
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


class _Action(Action):
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


class _Missions(MissionPlans):
    def __init__(self, v: PymavVehicle) -> None:
        self.v = v
        # content hash -> opaque id the vehicle gave for it, per plan type
        self.ids: dict[tuple[int, str], int] = {}
        self.last_upload: dict[int, tuple[str, int, int]] = {}  # type -> (hash, id, count)

    def _home_item(self) -> MissionItem:
        h = self.v._tracker.home
        lat, lon, alt = (h.lat, h.lon, h.alt_amsl_m) if h else (0.0, 0.0, 0.0)
        return MissionItem(
            0,
            C.MAV_FRAME_GLOBAL,
            C.MAV_CMD_NAV_WAYPOINT,
            x=round(lat * 1e7),
            y=round(lon * 1e7),
            z=alt,
        )

    def _with_home(self, items: list[MissionItem], mt: MissionType) -> list[MissionItem]:
        if self.v.rec.autopilot != Autopilot.ARDUPILOT or mt != MissionType.MISSION:
            return items
        out = [self._home_item()]
        out += [MissionItem(**{**it.__dict__, "seq": i + 1}) for i, it in enumerate(items)]
        return out

    async def upload(
        self, items: Iterable[Any], mission_type: MissionType = MissionType.MISSION
    ) -> int:
        v = self.v
        v._check_usable()
        mt = MissionType(mission_type)
        ours = _coerce(items, mt)
        wire = self._with_home(ours, mt)
        opaque = await upload_plan(v.link, v.sysid, v.rec.compid, wire, mt)
        h = mission_hash(ours)
        if opaque:
            self.ids[(int(mt), h)] = opaque
        self.last_upload[int(mt)] = (h, opaque, len(ours))
        if mt == MissionType.MISSION:
            v._tracker.reached.clear()
            v._tracker.mission_total = len(ours)
        log.info(
            "vehicle %d: uploaded %d %s items (id %#x)", v.sysid, len(ours), mt.name.lower(), opaque
        )
        return opaque

    async def upload_if_changed(
        self,
        items: Iterable[Any],
        mission_type: MissionType = MissionType.MISSION,
        known_id: int | None = None,
    ) -> bool:
        items = list(items)
        if await self.matches(items, mission_type, known_id=known_id):
            return False
        await self.upload(items, mission_type)
        return True

    async def download(self, mission_type: MissionType = MissionType.MISSION) -> list[MissionItem]:
        v = self.v
        v._check_usable()
        mt = MissionType(mission_type)
        items = await download_plan(v.link, v.sysid, v.rec.compid, mt)
        if v.rec.autopilot == Autopilot.ARDUPILOT and mt == MissionType.MISSION and items:
            items = [MissionItem(**{**it.__dict__, "seq": i}) for i, it in enumerate(items[1:])]
        return items

    async def clear(self, mission_type: MissionType = MissionType.MISSION) -> None:
        v = self.v
        v._check_usable()
        await clear_plan(v.link, v.sysid, v.rec.compid, MissionType(mission_type))
        self.last_upload.pop(int(mission_type), None)

    async def matches(
        self,
        items: Iterable[Any],
        mission_type: MissionType = MissionType.MISSION,
        known_id: int | None = None,
    ) -> bool:
        mt = MissionType(mission_type)
        ours = _coerce(items, mt)
        h = mission_hash(ours)
        t = self.v._tracker
        held_id = {
            MissionType.MISSION: t.mission_id,
            MissionType.FENCE: t.fence_id,
            MissionType.RALLY: t.rally_id,
        }[mt]
        if held_id:
            expected = known_id or self.ids.get((int(mt), h))
            if expected:
                return expected == held_id
        if mt == MissionType.MISSION and t.mission_total and t.mission_total != len(ours):
            return False
        return same_items(await self.download(mt), ours)


def _coerce(items: Iterable[Any], mt: MissionType) -> list[MissionItem]:
    try:
        return coerce_items(items, mt)
    except ValueError as e:
        raise LinkError(str(e)) from e


_INT_TYPES = {
    C.MAV_PARAM_TYPE_UINT8: "<B", C.MAV_PARAM_TYPE_INT8: "<b", C.MAV_PARAM_TYPE_UINT16: "<H",
    C.MAV_PARAM_TYPE_INT16: "<h", C.MAV_PARAM_TYPE_UINT32: "<I", C.MAV_PARAM_TYPE_INT32: "<i",
}  # fmt: skip


class _Params(Params):
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


class PymavVehicle(Vehicle):
    """A vehicle on a `MavLink`. State survives link loss; the object is never replaced."""

    def __init__(self, link: MavLink, rec: VehicleRecord) -> None:
        self.link = link
        self.rec = rec
        self._event_queues: list[asyncio.Queue[LinkEvent]] = []
        self._tracker = _Tracker(self)
        self.telemetry = _Telemetry(self)
        self.action = _Action(self)
        self.mission = _Missions(self)
        self.params = _Params(self)
        self._remove = link.add_listener(rec.sysid, self._tracker)
        self._events_q, self._remove_events = link.event_queue()
        self._pump = asyncio.create_task(self._pump_events(), name=f"vehicle {rec.sysid} events")

    @property
    def identity(self) -> Identity:
        r = self.rec
        vtype = C.enums["MAV_TYPE"].get(r.mav_type)
        name = vtype.name.removeprefix("MAV_TYPE_").lower() if vtype else str(r.mav_type)
        return Identity(
            r.sysid,
            r.compid,
            r.autopilot,
            name,
            r.mav_type,
            r.uid,
            r.firmware,
            r.capabilities,
            "pymavlink",
            self.link.url,
        )

    @property
    def sysid(self) -> int:
        return self.rec.sysid

    async def _pump_events(self) -> None:
        while True:
            ev = await self._events_q.get()
            if ev.sysid == self.rec.sysid:
                if ev.kind == LinkEventKind.LINK_RESTORED:
                    # Refresh what a reboot during the outage may have changed.
                    asyncio.get_running_loop().create_task(self._refresh())
                self._fanout(ev)

    def _fanout(self, ev: LinkEvent) -> None:
        for q in self._event_queues:
            q.put_nowait(ev)
        self._tracker.changed.set()

    def _emit(
        self, kind: LinkEventKind, detail: str = "", data: dict[str, Any] | None = None
    ) -> None:
        self._fanout(LinkEvent(kind, self.rec.sysid, time.monotonic(), detail, data or {}))

    def _on_reboot(self, old_ms: int, new_ms: int) -> None:
        log.warning("vehicle %d rebooted (uptime %d ms -> %d ms)", self.sysid, old_ms, new_ms)
        self._emit(
            LinkEventKind.REBOOTED,
            f"uptime went from {old_ms / 1000:.1f} s to {new_ms / 1000:.1f} s",
            {"uptime_ms": new_ms},
        )
        asyncio.get_running_loop().create_task(self._refresh())

    _refreshing = False

    async def _refresh(self) -> None:
        # Single flight: a flapping link must not pile up home requests.
        if self._refreshing:
            return
        self._refreshing = True
        try:
            with contextlib.suppress(LinkError):
                await self.request_message(C.MAVLINK_MSG_ID_HOME_POSITION)
        finally:
            self._refreshing = False

    def _check_usable(self) -> None:
        if self.rec.duplicate:
            raise DuplicateSysidError(self.rec.sysid, tuple(sorted(self.rec.uids)))

    async def command(
        self, command: int, *params: float, use_int: bool = False, frame: int = C.MAV_FRAME_GLOBAL
    ) -> None:
        self._check_usable()
        await send_command(
            self.link, self.sysid, self.rec.compid, command, params, use_int=use_int, frame=frame
        )

    async def request_message(self, msg_id: int) -> None:
        await self.command(C.MAV_CMD_REQUEST_MESSAGE, msg_id)
        await asyncio.sleep(0.05)

    async def set_message_interval(self, msg_id: int, hz: float) -> None:
        await self.command(C.MAV_CMD_SET_MESSAGE_INTERVAL, msg_id, 1e6 / hz if hz > 0 else -1)

    _on_close: Callable[[], Any] | None = None

    async def close(self) -> None:
        self._remove()
        self._remove_events()
        self._pump.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await self._pump
        if self._on_close is not None:
            task = self._on_close()
            self._on_close = None
            if task is not None:
                await task
