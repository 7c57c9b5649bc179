"""The MAVSDK backend of `Vehicle` (PX4 only): the `mavsdk` >= 4 native binding, asyncio API.

MAVSDK owns its own socket and protocol machinery; this module maps its plugins (telemetry,
action, mission_raw, param) onto the `Vehicle` interface and its errors onto ours. Each
vehicle gets its own `Mavsdk` instance (its own connection), so pick a distinct URL/port per
MAVSDK vehicle, e.g. the simulator's per-vehicle API port.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import math
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable
from typing import Any

from groundctl.errors import LinkError
from groundctl.link.errors import (
    CommandDenied,
    LinkLostError,
    MissionTransferError,
    ParamError,
    Timeout,
    UnsupportedError,
)
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
    same_items,
)
from groundctl.link.url import parse_url
from groundctl.link.vehicle import (
    Action,
    ChangeTrackingTelemetry,
    MissionPlans,
    Params,
    StateChanges,
    Vehicle,
)

log = logging.getLogger(__name__)

__all__ = ["MavsdkVehicle"]

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
_MAV_RESULT_FOR = {
    "COMMAND_DENIED": 2,
    "COMMAND_DENIED_NOT_LANDED": 2,
    "COMMAND_DENIED_LANDED_STATE_UNKNOWN": 2,
    "FAILED": 4,
    "UNSUPPORTED": 3,
    "BUSY": 1,
}


def mavsdk_url(url: str) -> str:
    ep = parse_url(url)
    if ep.kind == "serial":
        return f"serial://{ep.device}:{ep.baud}"
    host = ep.host if ep.kind != "udpin" else (ep.host or "0.0.0.0")
    return f"{ep.kind}://{host}:{ep.port}"


class _State:
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


class MavsdkVehicle(Vehicle):
    def __init__(self, mavsdk: Any, system: Any, sysid: int, url: str) -> None:
        from mavsdk.asyncio.plugins.action import ActionAsync
        from mavsdk.asyncio.plugins.mission_raw import MissionRawAsync
        from mavsdk.asyncio.plugins.param import ParamAsync
        from mavsdk.asyncio.plugins.telemetry import TelemetryAsync

        self._mavsdk = mavsdk
        self._system = system
        self._sysid = sysid
        self._url = url
        self._tel = TelemetryAsync(system)
        self._act = ActionAsync(system)
        self._mis = MissionRawAsync(system)
        self._par = ParamAsync(system)
        self._s = _State()
        self._event_queues: list[asyncio.Queue[LinkEvent]] = []
        self._tasks: list[asyncio.Task[None]] = []
        self.telemetry = _Telemetry(self)
        self.action = _Action(self)
        self.mission = _Missions(self)
        self.params = _Params(self)

    @classmethod
    async def connect(
        cls, url: str, *, sysid: int | None = None, timeout_s: float = 30.0, gcs_sysid: int = 245
    ) -> MavsdkVehicle:
        try:
            from mavsdk.asyncio import ComponentType, Configuration, Mavsdk
            from mavsdk.autopilot import Autopilot as MsAutopilot
        except ImportError as e:  # pragma: no cover - mavsdk is a dependency
            raise LinkError(
                f"backend mavsdk needs the mavsdk package (pip install 'mavsdk>=4'): {e}"
            ) from e
        config = Configuration.create_with_component_type(ComponentType.GROUND_STATION)
        config.system_id = gcs_sysid
        mav = Mavsdk(config)
        try:
            await mav.add_any_connection(mavsdk_url(url))
        except Exception as e:
            mav.destroy()
            raise LinkError(f"{url}: MAVSDK cannot open the connection: {e}") from e
        deadline = time.monotonic() + timeout_s
        system = None
        while time.monotonic() < deadline:
            for s in await mav.get_systems():
                if await s.has_autopilot() and (sysid is None or await s.get_system_id() == sysid):
                    system = s
                    break
            if system is not None:
                break
            await asyncio.sleep(0.2)
        if system is None:
            mav.destroy()
            raise LinkError(
                f"{url}: MAVSDK heard no autopilot{f' with system id {sysid}' if sysid else ''} in {timeout_s:.0f} s"
            )
        if await system.autopilot_type() == MsAutopilot.ARDUPILOT:
            mav.destroy()
            raise LinkError(
                f"{url}: backend mavsdk flies PX4 only; use backend: pymavlink for ArduPilot"
            )
        v = cls(mav, system, await system.get_system_id(), url)
        v._start()
        await v._identify(await system.vehicle_type())
        return v

    async def _identify(self, vehicle_type: Any) -> None:
        """uid and firmware from MAVSDK's info plugin (AUTOPILOT_VERSION underneath)."""
        from mavsdk.asyncio.plugins.info import InfoAsync

        self._vehicle_type = getattr(vehicle_type, "name", str(vehicle_type)).lower()
        info = InfoAsync(self._system)
        with contextlib.suppress(Exception):
            ident = await asyncio.wait_for(info.get_identification(), 5)
            self._uid = int(ident.legacy_uid) or None
        with contextlib.suppress(Exception):
            ver = await asyncio.wait_for(info.get_version(), 5)
            self._firmware = f"{ver.flight_sw_major}.{ver.flight_sw_minor}.{ver.flight_sw_patch}"

    # -- background subscriptions -------------------------------------------------------------

    def _start(self) -> None:
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
            s.last_statustext = StatusText(int(st.type), st.text, time.monotonic())
            self._emit(LinkEventKind.STATUSTEXT, st.text, {"severity": int(st.type)})

        def progress(p: Any) -> None:
            cur = p.current
            if cur > 0 and (not s.reached or s.reached[-1] < cur - 1):
                for seq in range(s.reached[-1] + 1 if s.reached else 0, cur):
                    s.reached.append(seq)
                    self._emit(LinkEventKind.ITEM_REACHED, f"item {seq}", {"seq": seq})
            s.progress = MissionProgress(
                cur, p.total, 0, tuple(s.reached), 3 if cur < p.total else 5
            )

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

    async def _pump(self, sub: Callable[[], AsyncIterator[Any]], fn: Callable[[Any], None]) -> None:
        s = self._s
        with contextlib.suppress(asyncio.CancelledError):
            async for x in sub():
                fn(x)
                if s.connected:
                    s.last_seen_s = time.monotonic()
                s.version += 1
                s.changed.set()

    def _emit(
        self, kind: LinkEventKind, detail: str = "", data: dict[str, Any] | None = None
    ) -> None:
        ev = LinkEvent(kind, self._sysid, time.monotonic(), detail, data or {})
        for q in self._event_queues:
            q.put_nowait(ev)

    @property
    def identity(self) -> Identity:
        return Identity(
            self._sysid, 1, Autopilot.PX4, self._vehicle_type, 0, self._uid, self._firmware, 0,
            "mavsdk", self._url,
        )  # fmt: skip

    _on_close: Callable[[], Any] | None = None
    _uid: int | None = None
    _firmware: str | None = None
    _vehicle_type = "unknown"

    async def close(self) -> None:
        if self._on_close is not None:
            self._on_close()
            self._on_close = None
        for t in self._tasks:
            t.cancel()
        for t in self._tasks:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await t
        with contextlib.suppress(Exception):
            self._mavsdk.destroy()

    async def call(self, what: str, coro: Awaitable[Any]) -> Any:
        """Await a MAVSDK call and translate its errors into ours."""
        from mavsdk.plugins.action import ActionError
        from mavsdk.plugins.mission_raw import MissionRawError
        from mavsdk.plugins.param import ParamError as MsParamError

        try:
            return await coro
        except ActionError as e:
            name = getattr(e.result, "name", str(e.result))
            reason = (
                self._s.last_statustext.text
                if self._s.last_statustext and time.monotonic() - self._s.last_statustext.time_s < 3
                else ""
            )
            if name == "TIMEOUT":
                raise Timeout(f"vehicle {self._sysid}: {what}: no answer (MAVSDK timeout)") from e
            if name in ("CONNECTION_ERROR", "NO_SYSTEM"):
                raise LinkLostError(f"vehicle {self._sysid}: {what}: link lost") from e
            cls = UnsupportedError if name == "UNSUPPORTED" else CommandDenied
            raise cls(self._sysid, what, _MAV_RESULT_FOR.get(name, 4), reason or name) from e
        except MissionRawError as e:
            name = getattr(e.result, "name", str(e.result))
            if name == "TIMEOUT":
                raise Timeout(f"vehicle {self._sysid}: {what}: timed out (MAVSDK)") from e
            raise MissionTransferError(f"vehicle {self._sysid}: {what} failed: {name}") from e
        except MsParamError as e:
            raise ParamError(
                f"vehicle {self._sysid}: {what} failed: {getattr(e.result, 'name', e)}"
            ) from e


class _Telemetry(ChangeTrackingTelemetry):
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


class _Action(Action):
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


class _Missions(MissionPlans):
    def __init__(self, v: MavsdkVehicle) -> None:
        self.v = v

    @staticmethod
    def _to_ms(items: list[MissionItem]) -> list[Any]:
        from mavsdk.plugins.mission_raw import MissionItem as MsItem

        return [
            MsItem(
                it.seq,
                it.frame,
                it.command,
                1 if it.seq == 0 else 0,
                it.autocontinue,
                it.param1,
                it.param2,
                it.param3,
                it.param4,
                it.x,
                it.y,
                it.z,
                int(it.mission_type),
            )
            for it in items
        ]

    async def upload(
        self, items: Iterable[Any], mission_type: MissionType = MissionType.MISSION
    ) -> int:
        mt = MissionType(mission_type)
        try:
            ours = coerce_items(items, mt)
        except ValueError as e:
            raise LinkError(str(e)) from e
        m = self.v._mis
        fn = {
            MissionType.MISSION: m.upload_mission,
            MissionType.FENCE: m.upload_geofence,
            MissionType.RALLY: m.upload_rally_points,
        }[mt]
        await self.v.call(f"{mt.name.lower()} upload", fn(self._to_ms(ours)))
        if mt == MissionType.MISSION:
            self.v._s.reached.clear()
        return 0

    async def upload_if_changed(
        self,
        items: Iterable[Any],
        mission_type: MissionType = MissionType.MISSION,
        known_id: int | None = None,
    ) -> bool:
        items = list(items)
        if await self.matches(items, mission_type, known_id):
            return False
        await self.upload(items, mission_type)
        return True

    async def download(self, mission_type: MissionType = MissionType.MISSION) -> list[MissionItem]:
        mt = MissionType(mission_type)
        m = self.v._mis
        fn = {
            MissionType.MISSION: m.download_mission,
            MissionType.FENCE: m.download_geofence,
            MissionType.RALLY: m.download_rallypoints,
        }[mt]
        got = await self.v.call(f"{mt.name.lower()} download", fn())
        return [
            MissionItem(
                i,
                g.frame,
                g.command,
                g.param1,
                g.param2,
                g.param3,
                g.param4,
                g.x,
                g.y,
                g.z,
                g.current,
                g.autocontinue,
                mt,
            )
            for i, g in enumerate(got)
        ]

    async def clear(self, mission_type: MissionType = MissionType.MISSION) -> None:
        if MissionType(mission_type) != MissionType.MISSION:
            await self.upload([], mission_type)
            return
        await self.v.call("clear mission", self.v._mis.clear_mission())

    async def matches(
        self,
        items: Iterable[Any],
        mission_type: MissionType = MissionType.MISSION,
        known_id: int | None = None,
    ) -> bool:
        # MAVSDK exposes no opaque mission id: compare content.
        mt = MissionType(mission_type)
        ours = coerce_items(items, mt)
        return same_items(await self.download(mt), ours)


class _Params(Params):
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
