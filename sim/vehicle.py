"""One simulated autopilot: flight logic, failsafes and its MAVLink protocol.

The vehicle steps its physics in fixed simulated steps (`clock.PHYSICS_DT_S`), and on every
tick of the fleet loop it sends its telemetry streams that are due. Everything it receives
arrives through `handle`, one parsed MAVLink message at a time, from any of its links; every
message it sends goes to all of its links (as on a real vehicle with several MAVLink
instances, replies carry the requester's ids so other ground stations ignore them).
"""

from __future__ import annotations

import math
import random
from collections.abc import Callable
from typing import Any

from sim import mission as ms
from sim.airframe import AirframeLike
from sim.clock import Clock
from sim.commands import CommandsMixin
from sim.failsafes import FailsafeMixin
from sim.faults import Faults
from sim.flight import FlightMixin, Orbit
from sim.gimbal import GimbalModel, GimbalSpec
from sim.link import Link, LinkFaults
from sim.mav import ACCEPTED, DENIED, FAILED, TEMP_REJECTED, UNSUPPORTED, M
from sim.missionproto import MissionProtocolMixin, Upload
from sim.modecontrol import ModeMixin
from sim.modes import Mode, mode_name
from sim.params import param_table
from sim.physics import (
    Battery,
    Body,
    Wind,
)
from sim.telemetry import DEFAULT_STREAMS, TelemetryMixin
from thermal.frame import Pose, PoseSigma

__all__ = ["ACCEPTED", "DENIED", "FAILED", "TEMP_REJECTED", "UNSUPPORTED", "Faults", "SimVehicle"]

Terrain = Callable[[float, float], float]

# MAV_TYPE 22: a fixed-wing VTOL with separate lift rotors (newer common.xml; pymavlink 2.4.50
# still calls it VTOL_RESERVED2). What PX4 reports for standard VTOL airframes.
MAV_TYPE_VTOL_FIXEDROTOR = 22


class SimVehicle(
    TelemetryMixin, CommandsMixin, ModeMixin, MissionProtocolMixin, FlightMixin, FailsafeMixin
):
    """A simulated PX4 or ArduPilot vehicle. See `sim` for the public API."""

    def __init__(
        self,
        *,
        index: int,
        sysid: int,
        flavour: str,
        airframe: AirframeLike,
        clock: Clock,
        to_local: Callable[[float, float], tuple[float, float]],
        to_wgs84: Callable[[float, float], tuple[float, float]],
        start_xy: tuple[float, float],
        ground_amsl_m: float,
        seed: int,
        uid: int,
        wind: Wind,
        gps_warmup_s: float = 2.0,
        terrain: Terrain | None = None,
    ) -> None:
        if flavour not in ("px4", "ardupilot"):
            raise ValueError(f"autopilot must be px4 or ardupilot, not {flavour!r}")
        self.index = index
        self.sysid = sysid
        self.compid = 1
        self.flavour = flavour
        self.airframe = airframe
        self.clock = clock
        self.to_local = to_local
        self.to_wgs84 = to_wgs84
        self.uid = uid
        self.terrain = terrain
        self._flat_ground_amsl = ground_amsl_m
        self.gps_warmup_s = gps_warmup_s
        self.links: list[Link] = []
        self.link_faults = LinkFaults(rng=random.Random(seed * 7919 + sysid))
        self.faults = Faults(self)
        self.rng = random.Random(seed * 1_000_003 + sysid)
        self.wind = Wind(wind.speed_ms, wind.from_deg, wind.gust_ms)
        self.params = param_table(flavour)
        self._init_params()
        self.body = Body(start_xy[0], start_xy[1], self.ground_at(*start_xy))
        self.battery = Battery.full(airframe.battery_wh, airframe.battery_cells)
        self.plans: dict[int, list[ms.Item]] = {t: [] for t in ms.TYPES}
        self.plan_ids: dict[int, int] = {t: 0 for t in ms.TYPES}
        self.fence: ms.Fence | None = None
        # The camera mount: stabilised (earth-frame pitch, yaw-follow) unless a scenario or
        # `mount_gimbal` says it is fixed to the body. Its own random stream: the vehicle's
        # flight stays the same whatever the gimbal does.
        self.gimbal = GimbalModel(seed=seed * 7907 + sysid)
        self.statustexts: list[tuple[float, int, str]] = []
        self._mav = M.MAVLink(None, srcSystem=sysid, srcComponent=self.compid)
        self.killed = False
        self.gps_lost = False
        self.motor_failed = False
        self._boot()

    # ------------------------------------------------------------------ state
    def _init_params(self) -> None:
        p = self.params
        af = self.airframe
        if self.flavour == "px4":
            p["MAV_SYS_ID"] = self.sysid
            p["MAV_TYPE"] = self.mav_type
            p["MPC_XY_CRUISE"] = af.cruise_speed_ms
            p["MPC_XY_VEL_MAX"] = af.max_speed_ms
            p["MPC_Z_VEL_MAX_UP"] = af.climb_rate_ms
            p["MPC_Z_VEL_MAX_DN"] = af.descent_rate_ms
            # The simulated airframe climbs and descends at its catalogue rates in auto modes,
            # as a PX4 tuned for it would (the landing itself stays at MPC_LAND_SPEED).
            p["MPC_Z_V_AUTO_UP"] = af.climb_rate_ms
            p["MPC_Z_V_AUTO_DN"] = af.descent_rate_ms
            p["MPC_TKO_SPEED"] = af.climb_rate_ms
        else:
            p["SYSID_THISMAV"] = self.sysid
            p["WPNAV_SPEED"] = af.cruise_speed_ms * 100
            p["WPNAV_SPEED_UP"] = af.climb_rate_ms * 100
            p["WPNAV_SPEED_DN"] = af.descent_rate_ms * 100
            p["BATT_LOW_VOLT"] = round(af.battery_cells * 3.6, 2)
            p["BATT_CRT_VOLT"] = round(af.battery_cells * 3.45, 2)
            p["BATT_ARM_VOLT"] = round(af.battery_cells * 3.65, 2)
            p["BATT_CAPACITY"] = round(af.battery_wh / (af.battery_cells * 3.7) * 1000)

    def _boot(self) -> None:
        now = self.clock.sim_s
        self.boot_sim_s = now
        self.armed = False
        self.landed = True
        self.home: tuple[float, float, float] | None = None  # x, y, alt_amsl
        self.gps_fix_at_s = now + self.gps_warmup_s
        self.mode = Mode.HOLD if self.flavour == "px4" else Mode.STABILIZED
        self.target: tuple[float, float, float] | None = None
        self.speed_ms = self.airframe.cruise_speed_ms
        self.yaw_target_deg: float | None = None
        self.orbit: Orbit | None = None
        self.rtl_phase = ""
        self.mis_seq = self._first_mission_seq()
        self.mis_state = M.MISSION_STATE_NOT_STARTED if self.plans[ms.MISSION] else 1
        # PX4's mission state across uploads (sim.conformance): the index reported unknown
        # (65535) after an upload, whether the mission has flown, a disarm since, and the
        # float/int mode of its mission transfers.
        self.mis_seq_unknown = False
        self.mission_activated = False
        self.disarmed_inactive = True
        self._int_mode_flag = self.flavour != "px4"
        self._item_phase = ""
        self._hold_until = 0.0
        self._jump_left: dict[int, int] = {}
        self.mission_takeoff_pending = False
        self._paused = False
        self._landed_since_sim = now
        self._landed_since_wall = self.clock.wall()
        self._armed_at_sim = now
        self._armed_at_wall = self.clock.wall()
        self._gcs_seen = False
        self._gcs_last_sim = now
        self._gcs_last_wall = self.clock.wall()
        self.gcs_lost = False
        self.battery_level = 0  # 0 ok, 1 low, 2 critical, 3 emergency
        self.fence_breached = False
        self.failsafe = ""
        self._upload: Upload | None = None
        self._last_command: tuple[Any, int, float, int | None] | None = None
        self.execute_resent_commands = False
        self.acks_to_drop: dict[int, int] = {}
        self.storage_failed: frozenset[int] = frozenset()
        self._last_upload: tuple[int, int, int, tuple[int, int]] | None = None
        self._phys_done_s = now
        self.streams = dict(DEFAULT_STREAMS)
        self._next_due: dict[int, float] = dict.fromkeys(self.streams, now)
        self._last_sent_wall: dict[int, float] = {}
        self.gps_err = [0.0, 0.0, 0.0]
        self._att_err = [0.0, 0.0, 0.0]  # roll, pitch, yaw estimation error, degrees
        self.reached: list[int] = []

    @property
    def mav_type(self) -> int:
        if self.airframe.kind == "fixed_wing_vtol":
            return MAV_TYPE_VTOL_FIXEDROTOR
        return M.MAV_TYPE_QUADROTOR

    @property
    def autopilot(self) -> int:
        return M.MAV_AUTOPILOT_PX4 if self.flavour == "px4" else M.MAV_AUTOPILOT_ARDUPILOTMEGA

    def ground_at(self, x: float, y: float) -> float:
        if self.terrain is None:
            return self._flat_ground_amsl
        # Terrain lookups cost two projections: reuse the last one within half a metre.
        cx, cy, cz = self._ground_cache
        if abs(x - cx) < 0.5 and abs(y - cy) < 0.5:
            return cz
        lat, lon = self.to_wgs84(x, y)
        z = float(self.terrain(lat, lon))
        self._ground_cache = (x, y, z)
        return z

    _ground_cache = (math.inf, math.inf, 0.0)

    @property
    def gps_ok(self) -> bool:
        return not self.gps_lost and self.clock.sim_s >= self.gps_fix_at_s

    @property
    def home_alt(self) -> float:
        return self.home[2] if self.home else self._flat_ground_amsl

    # True state in WGS84, for tests and the camera.
    @property
    def lat_lon(self) -> tuple[float, float]:
        return self.to_wgs84(self.body.x, self.body.y)

    @property
    def lat(self) -> float:
        return self.lat_lon[0]

    @property
    def lon(self) -> float:
        return self.lat_lon[1]

    @property
    def alt_amsl(self) -> float:
        return self.body.alt_amsl

    @property
    def alt_rel(self) -> float:
        return self.body.alt_amsl - self.home_alt

    @property
    def battery_pct(self) -> float:
        return 100.0 * self.battery.soc

    @property
    def mode_name(self) -> str:
        return mode_name(self.flavour, self.mode)

    @property
    def mission_progress(self) -> tuple[int, int]:
        """(current item seq, item count) of the stored mission."""
        return self.mis_seq, len(self.plans[ms.MISSION])

    @property
    def home_latlon(self) -> tuple[float, float, float] | None:
        if self.home is None:
            return None
        lat, lon = self.to_wgs84(self.home[0], self.home[1])
        return lat, lon, self.home[2]

    def estimated(self) -> tuple[float, float, float]:
        """Position as the autopilot reports it: (lat, lon, alt_amsl) with GPS error."""
        ex, ey, ez = self.gps_err
        lat, lon = self.to_wgs84(self.body.x + ex, self.body.y + ey)
        return lat, lon, self.body.alt_amsl + ez

    @property
    def gimbal_pitch_deg(self) -> float:
        """Commanded camera pitch: earth frame (stabilised) or body frame (fixed)."""
        return self.gimbal.pitch_cmd_deg

    @property
    def gimbal_yaw_deg(self) -> float:
        """Commanded camera yaw, relative to the nose."""
        return self.gimbal.yaw_cmd_deg

    def mount_gimbal(self, spec: GimbalSpec) -> None:
        """Put a camera mount of this kind on the vehicle (commanded angles: the spec's)."""
        self.gimbal.configure(spec)

    def poses(self) -> tuple[Pose, Pose, float]:
        """(true pose, pose as the payload reports it, Unix timestamp) for the camera: vehicle
        position and attitude, and the gimbal angles of `sim.gimbal` (earth frame when
        stabilised). The true pose is what the camera sees from; the estimated one carries the
        autopilot's position and attitude errors."""
        b = self.body
        ground = self.ground_at(b.x, b.y)
        lat, lon = self.to_wgs84(b.x, b.y)
        true = Pose(
            lat,
            lon,
            b.alt_amsl,
            b.alt_amsl - ground,
            b.alt_amsl - self.home_alt,
            b.roll_deg,
            b.pitch_deg,
            b.yaw_deg,
            sigma=PoseSigma(0.0, 0.0, 0.0),
        )
        elat, elon, ealt = self.estimated()
        sigma = PoseSigma(1.5, 2.0, 1.0) if self.gps_ok else PoseSigma(50.0, 10.0, 2.0)
        est = Pose(
            elat,
            elon,
            ealt,
            ealt - ground,
            ealt - self.home_alt,
            b.roll_deg + self._att_err[0],
            b.pitch_deg + self._att_err[1],
            (b.yaw_deg + self._att_err[2]) % 360.0,
            sigma=sigma,
        )
        true, est = self.gimbal.mount(true, est)
        return true, est, self.clock.unix_s()

    # ------------------------------------------------------------------ input
    def handle(self, msg: Any, link: Link) -> None:
        if self.killed:
            return
        t = msg.get_type()
        target = getattr(msg, "target_system", 0)
        if target not in (0, self.sysid):
            return
        handler = _HANDLERS.get(t)
        if handler is not None:
            handler(self, msg)

    def _on_heartbeat(self, msg: Any) -> None:
        if msg.type != M.MAV_TYPE_GCS:
            return
        if self.flavour == "ardupilot":
            gcs_id = int(self.params["MAV_GCS_SYSID"])
            if gcs_id and msg.get_srcSystem() != gcs_id:
                return
        self._gcs_seen = True
        self._gcs_last_sim = self.clock.sim_s
        self._gcs_last_wall = self.clock.wall()
        if self.gcs_lost:
            self.gcs_lost = False
            self.statustext(M.MAV_SEVERITY_INFO, "Data link regained")

    def _on_timesync(self, msg: Any) -> None:
        if msg.tc1 == 0:
            now_ns = int(self.clock.unix_s() * 1e9)
            self.send(
                M.MAVLink_timesync_message(
                    now_ns, msg.ts1, msg.get_srcSystem(), msg.get_srcComponent()
                )
            )

    def _requester(self, msg: Any) -> tuple[int, int]:
        return msg.get_srcSystem(), msg.get_srcComponent()

    # --- parameters
    def _param_value(self, name: str) -> Any:
        p = self.params
        return M.MAVLink_param_value_message(
            name.encode(), p.wire_value(name), p.specs[name].type, len(p.names), p.index(name)
        )

    def _on_param_request_list(self, msg: Any) -> None:
        for name in self.params.names:
            self.send(self._param_value(name))

    def _on_param_request_read(self, msg: Any) -> None:
        name = _param_name(msg.param_id)
        if msg.param_index >= 0 and msg.param_index < len(self.params.names):
            name = self.params.names[msg.param_index]
        if name in self.params:
            self.send(self._param_value(name))

    def _on_param_set(self, msg: Any) -> None:
        name = _param_name(msg.param_id)
        if name not in self.params:
            self.statustext(M.MAV_SEVERITY_WARNING, f"Unknown parameter {name}")
            return
        self.params[name] = self.params.from_wire(name, msg.param_value)
        if name.startswith("SIM_WIND"):
            self._apply_wind_params()
        self.send(self._param_value(name))

    def _apply_wind_params(self) -> None:
        p = self.params
        self.wind.speed_ms = p["SIM_WIND_SPD"]
        self.wind.from_deg = p["SIM_WIND_DIR"]
        self.wind.gust_ms = p["SIM_WIND_GUST" if self.flavour == "px4" else "SIM_WIND_TURB"]

    # ------------------------------------------------------------------ faults
    def kill(self) -> None:
        """The autopilot dies: links go silent; in the air the vehicle falls."""
        self.killed = True
        self.armed = False

    def restart(self) -> None:
        """Boot again where the vehicle is (mission and parameters kept, like on flash)."""
        self.killed = False
        self._boot()
        self.statustext(
            M.MAV_SEVERITY_INFO, "System booted" if self.flavour == "px4" else "ArduCopter booted"
        )

    def lose_gps(self) -> None:
        self.gps_lost = True
        self.statustext(
            M.MAV_SEVERITY_CRITICAL,
            "GPS 1: lost fix" if self.flavour == "ardupilot" else "GPS fix lost",
        )

    def restore_gps(self) -> None:
        self.gps_lost = False
        self.gps_err = [0.0, 0.0, 0.0]
        if self.failsafe == "gps":
            self.failsafe = ""

    def fail_motor(self) -> None:
        self.motor_failed = True
        self.failsafe = "motor"
        self.statustext(M.MAV_SEVERITY_EMERGENCY, "Motor failure detected, landing")
        if not self.landed:
            self.set_mode(Mode.LAND, quiet=True)


def _param_name(raw: Any) -> str:
    if isinstance(raw, bytes):
        raw = raw.decode("ascii", "ignore")
    return str(raw).split("\x00", 1)[0]


_HANDLERS: dict[str, Callable[[SimVehicle, Any], None]] = {
    "HEARTBEAT": SimVehicle._on_heartbeat,
    "TIMESYNC": SimVehicle._on_timesync,
    "PARAM_REQUEST_LIST": SimVehicle._on_param_request_list,
    "PARAM_REQUEST_READ": SimVehicle._on_param_request_read,
    "PARAM_SET": SimVehicle._on_param_set,
    "COMMAND_LONG": SimVehicle._on_command_long,
    "COMMAND_INT": SimVehicle._on_command_int,
    "MISSION_COUNT": SimVehicle._on_mission_count,
    "MISSION_ITEM_INT": SimVehicle._on_mission_item,
    "MISSION_ITEM": SimVehicle._on_mission_item,
    "MISSION_REQUEST_LIST": SimVehicle._on_mission_request_list,
    "MISSION_REQUEST_INT": SimVehicle._on_mission_request,
    "MISSION_REQUEST": SimVehicle._on_mission_request,
    "MISSION_CLEAR_ALL": SimVehicle._on_mission_clear_all,
    "MISSION_SET_CURRENT": SimVehicle._on_mission_set_current,
    "MISSION_ACK": SimVehicle._on_mission_ack,
    "SET_POSITION_TARGET_GLOBAL_INT": SimVehicle._on_set_position_target_global_int,
}
