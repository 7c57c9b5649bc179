"""One simulated autopilot: flight logic, failsafes and its MAVLink protocol.

The vehicle steps its physics in fixed simulated steps (`clock.PHYSICS_DT_S`), and on every
tick of the fleet loop it sends its telemetry streams that are due. Everything it receives
arrives through `handle`, one parsed MAVLink message at a time, from any of its links; every
message it sends goes to all of its links (as on a real vehicle with several MAVLink
instances, replies carry the requester's ids so other ground stations ignore them).
"""

from __future__ import annotations

import dataclasses
import math
import random
import struct
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from pymavlink.dialects.v20 import common as mavlink2

from sim import mavext
from sim import mission as ms
from sim.airframe import AirframeLike
from sim.clock import Clock
from sim.link import Link, LinkFaults
from sim.modes import Mode, custom_mode, decode, mode_name
from sim.params import param_table
from sim.physics import (
    IDLE_POWER_W,
    Battery,
    Body,
    Wind,
    electrical_power_w,
    step_body,
)
from thermal.frame import Gimbal, Pose, PoseSigma

mavext.install(mavlink2)
M = mavlink2
ACCEPTED = M.MAV_RESULT_ACCEPTED
DENIED = M.MAV_RESULT_DENIED
UNSUPPORTED = M.MAV_RESULT_UNSUPPORTED
FAILED = M.MAV_RESULT_FAILED
TEMP_REJECTED = M.MAV_RESULT_TEMPORARILY_REJECTED

Terrain = Callable[[float, float], float]

# MAV_TYPE 22: a fixed-wing VTOL with separate lift rotors (newer common.xml; pymavlink 2.4.50
# still calls it VTOL_RESERVED2). What PX4 reports for standard VTOL airframes.
MAV_TYPE_VTOL_FIXEDROTOR = 22

# Mission protocol, vehicle side: re-request an item after this long (wall seconds; ground
# stations time out in wall time) and give up after this many re-requests.
MISSION_RETRY_WALL_S = 0.4
MISSION_MAX_RETRIES = 10

# MAV_SYS_STATUS_SENSOR bits reported present/enabled/healthy.
_SENSORS_BASE = (
    M.MAV_SYS_STATUS_SENSOR_3D_GYRO
    | M.MAV_SYS_STATUS_SENSOR_3D_ACCEL
    | M.MAV_SYS_STATUS_SENSOR_3D_MAG
    | M.MAV_SYS_STATUS_SENSOR_ABSOLUTE_PRESSURE
    | M.MAV_SYS_STATUS_SENSOR_ANGULAR_RATE_CONTROL
    | M.MAV_SYS_STATUS_SENSOR_ATTITUDE_STABILIZATION
    | M.MAV_SYS_STATUS_SENSOR_YAW_POSITION
    | M.MAV_SYS_STATUS_SENSOR_Z_ALTITUDE_CONTROL
    | M.MAV_SYS_STATUS_SENSOR_XY_POSITION_CONTROL
    | M.MAV_SYS_STATUS_SENSOR_MOTOR_OUTPUTS
    | M.MAV_SYS_STATUS_AHRS
    | M.MAV_SYS_STATUS_SENSOR_BATTERY
)
_GPS_BIT = M.MAV_SYS_STATUS_SENSOR_GPS
_PREARM_BIT = M.MAV_SYS_STATUS_PREARM_CHECK
_GEOFENCE_BIT = M.MAV_SYS_STATUS_GEOFENCE

_CAPS_COMMON = (
    M.MAV_PROTOCOL_CAPABILITY_MISSION_FLOAT
    | M.MAV_PROTOCOL_CAPABILITY_PARAM_FLOAT
    | M.MAV_PROTOCOL_CAPABILITY_MISSION_INT
    | M.MAV_PROTOCOL_CAPABILITY_COMMAND_INT
    | M.MAV_PROTOCOL_CAPABILITY_SET_ATTITUDE_TARGET
    | M.MAV_PROTOCOL_CAPABILITY_SET_POSITION_TARGET_LOCAL_NED
    | M.MAV_PROTOCOL_CAPABILITY_SET_POSITION_TARGET_GLOBAL_INT
    | M.MAV_PROTOCOL_CAPABILITY_MAVLINK2
    | M.MAV_PROTOCOL_CAPABILITY_MISSION_FENCE
    | M.MAV_PROTOCOL_CAPABILITY_MISSION_RALLY
)
CAPABILITIES = {
    "px4": _CAPS_COMMON | M.MAV_PROTOCOL_CAPABILITY_PARAM_ENCODE_BYTEWISE,
    "ardupilot": _CAPS_COMMON | M.MAV_PROTOCOL_CAPABILITY_PARAM_ENCODE_C_CAST,
}
# Flight software versions reported (major.minor.patch, FIRMWARE_VERSION_TYPE_OFFICIAL).
_SW_VERSION = {"px4": (1, 15, 4), "ardupilot": (4, 5, 7)}

# Default telemetry streams: message id -> interval in simulated seconds (0 = off).
DEFAULT_STREAMS: dict[int, float] = {
    M.MAVLINK_MSG_ID_HEARTBEAT: 1.0,
    M.MAVLINK_MSG_ID_SYS_STATUS: 1.0,
    M.MAVLINK_MSG_ID_BATTERY_STATUS: 2.0,
    M.MAVLINK_MSG_ID_GLOBAL_POSITION_INT: 0.2,
    M.MAVLINK_MSG_ID_ATTITUDE: 0.1,
    M.MAVLINK_MSG_ID_GPS_RAW_INT: 1.0,
    M.MAVLINK_MSG_ID_HOME_POSITION: 5.0,
    M.MAVLINK_MSG_ID_EXTENDED_SYS_STATE: 1.0,
    M.MAVLINK_MSG_ID_VFR_HUD: 0.5,
    M.MAVLINK_MSG_ID_MISSION_CURRENT: 1.0,
    M.MAVLINK_MSG_ID_LOCAL_POSITION_NED: 0.0,
    M.MAVLINK_MSG_ID_SYSTEM_TIME: 0.0,
    M.MAVLINK_MSG_ID_GIMBAL_DEVICE_ATTITUDE_STATUS: 0.0,
    M.MAVLINK_MSG_ID_MOUNT_ORIENTATION: 0.0,
}
# No stream is sent faster than this in wall time, whatever the speedup: keeps the CPU
# and the ground station's load bounded at high speedups (HEARTBEAT is exempt).
MIN_WALL_INTERVAL_S = 0.02


@dataclass
class _Upload:
    mission_type: int
    count: int
    items: list[ms.Item]
    next_seq: int
    retries: int
    deadline_wall: float
    requester: tuple[int, int]


@dataclass
class _Orbit:
    cx: float
    cy: float
    alt_amsl: float
    radius_m: float
    speed_ms: float


class SimVehicle:
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
        self.gimbal_pitch_deg = -90.0
        self.gimbal_yaw_deg = 0.0
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
        self.orbit: _Orbit | None = None
        self.rtl_phase = ""
        self.mis_seq = self._first_mission_seq()
        self.mis_state = M.MISSION_STATE_NOT_STARTED if self.plans[ms.MISSION] else 1
        self._item_phase = ""
        self._hold_until = 0.0
        self._jump_left: dict[int, int] = {}
        self.mission_takeoff_pending = False
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
        self._upload: _Upload | None = None
        self._last_command: tuple[Any, int, float] | None = None
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

    def poses(self) -> tuple[Pose, Pose, float]:
        """(true pose, pose as the autopilot reports it, Unix timestamp) for the camera."""
        b = self.body
        ground = self.ground_at(b.x, b.y)
        gimbal = Gimbal(0.0, self.gimbal_pitch_deg, self.gimbal_yaw_deg, "vehicle")
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
            gimbal,
            PoseSigma(0.0, 0.0, 0.0),
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
            gimbal,
            sigma,
        )
        return true, est, self.clock.unix_s()

    # ------------------------------------------------------------------ output
    def send(self, msg: Any) -> None:
        if self.killed or not self.links:
            return
        buf = msg.pack(self._mav)
        self._mav.seq = (self._mav.seq + 1) % 256
        for link in self.links:
            link.send(buf)

    def statustext(self, severity: int, text: str) -> None:
        self.statustexts.append((self.clock.sim_s, severity, text))
        del self.statustexts[:-200]
        self.send(M.MAVLink_statustext_message(severity, text[:50].encode(), 0, 0))

    def _ack(self, command: int, result: int, requester: tuple[int, int]) -> None:
        self.send(M.MAVLink_command_ack_message(command, result, 0, 0, *requester))

    @property
    def time_boot_ms(self) -> int:
        return int((self.clock.sim_s - self.boot_sim_s) * 1000) & 0xFFFFFFFF

    def emit_due(self) -> None:
        """Send every telemetry stream that is due at the current simulated time."""
        if self.killed or not self.links:
            return
        now = self.clock.sim_s
        wall = self.clock.wall()
        for msg_id, interval in self.streams.items():
            if interval <= 0 or now < self._next_due[msg_id]:
                continue
            if (
                msg_id != M.MAVLINK_MSG_ID_HEARTBEAT
                and wall - self._last_sent_wall.get(msg_id, -1.0) < MIN_WALL_INTERVAL_S
            ):
                continue
            self._next_due[msg_id] = max(self._next_due[msg_id] + interval, now)
            self._last_sent_wall[msg_id] = wall
            msg = self.build(msg_id)
            if msg is not None:
                self.send(msg)

    def build(self, msg_id: int) -> Any | None:
        b = self.body
        if msg_id == M.MAVLINK_MSG_ID_HEARTBEAT:
            base = M.MAV_MODE_FLAG_CUSTOM_MODE_ENABLED
            if self.armed:
                base |= M.MAV_MODE_FLAG_SAFETY_ARMED
            if self.mode not in (Mode.MANUAL, Mode.STABILIZED):
                base |= M.MAV_MODE_FLAG_STABILIZE_ENABLED
            if self.mode in (Mode.MISSION, Mode.RTL, Mode.LAND, Mode.TAKEOFF, Mode.HOLD):
                base |= M.MAV_MODE_FLAG_GUIDED_ENABLED | M.MAV_MODE_FLAG_AUTO_ENABLED
            if self.mode == Mode.OFFBOARD:
                base |= M.MAV_MODE_FLAG_GUIDED_ENABLED
            if self.failsafe:
                status = M.MAV_STATE_CRITICAL
            else:
                status = M.MAV_STATE_ACTIVE if self.armed else M.MAV_STATE_STANDBY
            return M.MAVLink_heartbeat_message(
                self.mav_type,
                self.autopilot,
                base,
                custom_mode(self.flavour, self.mode),
                status,
                3,
            )
        if msg_id == M.MAVLINK_MSG_ID_SYS_STATUS:
            healthy = _SENSORS_BASE
            present = _SENSORS_BASE | _GPS_BIT | _PREARM_BIT
            if self.fence is not None:
                present |= _GEOFENCE_BIT
                healthy |= 0 if self.fence_breached else _GEOFENCE_BIT
            if self.gps_ok:
                healthy |= _GPS_BIT
            if self.motor_failed:
                healthy &= ~M.MAV_SYS_STATUS_SENSOR_MOTOR_OUTPUTS
            if not self.prearm_problems():
                healthy |= _PREARM_BIT
            bat = self.battery
            return M.MAVLink_sys_status_message(
                present,
                present,
                healthy,
                250,
                int(bat.voltage_v * 1000),
                int(bat.current_a * 100),
                round(self.battery_pct),
                0,
                0,
                0,
                0,
                0,
                0,
            )
        if msg_id == M.MAVLINK_MSG_ID_BATTERY_STATUS:
            bat = self.battery
            cell_mv = int(bat.voltage_v / bat.cells * 1000)
            cells = [cell_mv if i < bat.cells else 65535 for i in range(10)]
            ext = [cell_mv if 10 + i < bat.cells else 0 for i in range(4)]
            power = max(bat.power_w, IDLE_POWER_W)
            remaining_s = int(bat.energy_wh * 3600 / power) if self.armed else 0
            state = (
                M.MAV_BATTERY_CHARGE_STATE_OK,
                M.MAV_BATTERY_CHARGE_STATE_LOW,
                M.MAV_BATTERY_CHARGE_STATE_CRITICAL,
                M.MAV_BATTERY_CHARGE_STATE_EMERGENCY,
            )[self.battery_level]
            return M.MAVLink_battery_status_message(
                0,
                M.MAV_BATTERY_FUNCTION_ALL,
                M.MAV_BATTERY_TYPE_LIPO,
                32767,
                cells,
                int(bat.current_a * 100),
                int(bat.consumed_mah),
                int((bat.capacity_wh - bat.energy_wh) * 36),
                round(self.battery_pct),
                remaining_s,
                state,
                ext,
                0,
                0,
            )
        if msg_id == M.MAVLINK_MSG_ID_GLOBAL_POSITION_INT:
            lat, lon, alt = self.estimated()
            return M.MAVLink_global_position_int_message(
                self.time_boot_ms,
                int(lat * 1e7),
                int(lon * 1e7),
                int(alt * 1000),
                int((alt - self.home_alt) * 1000),
                int(b.vy * 100),
                int(b.vx * 100),
                int(-b.vz * 100),
                int(b.yaw_deg * 100) % 36000,
            )
        if msg_id == M.MAVLINK_MSG_ID_ATTITUDE:
            ae = self._att_err
            return M.MAVLink_attitude_message(
                self.time_boot_ms,
                math.radians(b.roll_deg + ae[0]),
                math.radians(b.pitch_deg + ae[1]),
                math.radians(((b.yaw_deg + ae[2] + 180.0) % 360.0) - 180.0),
                0.0,
                0.0,
                math.radians(b.yaw_rate_dps),
            )
        if msg_id == M.MAVLINK_MSG_ID_GPS_RAW_INT:
            lat, lon, alt = self.estimated()
            ok = self.gps_ok
            gs = math.hypot(b.vx, b.vy)
            cog = int(math.degrees(math.atan2(b.vx, b.vy)) % 360 * 100) if gs > 0.5 else 65535
            return M.MAVLink_gps_raw_int_message(
                int(self.clock.unix_s() * 1e6),
                M.GPS_FIX_TYPE_3D_FIX if ok else M.GPS_FIX_TYPE_NO_FIX,
                int(lat * 1e7) if ok else 0,
                int(lon * 1e7) if ok else 0,
                int(alt * 1000) if ok else 0,
                80 if ok else 65535,
                120 if ok else 65535,
                int(gs * 100),
                cog,
                16 if ok else 0,
                int(alt * 1000),
                1500,
                2000,
                300,
                0,
                0,
            )
        if msg_id == M.MAVLINK_MSG_ID_HOME_POSITION:
            home = self.home_latlon
            if home is None or self.home is None:
                return None
            return M.MAVLink_home_position_message(
                int(home[0] * 1e7),
                int(home[1] * 1e7),
                int(home[2] * 1000),
                0.0,
                0.0,
                0.0,
                [1.0, 0.0, 0.0, 0.0],
                0.0,
                0.0,
                0.0,
                int(self.clock.unix_s() * 1e6),
            )
        if msg_id == M.MAVLINK_MSG_ID_EXTENDED_SYS_STATE:
            if self.landed:
                landed = M.MAV_LANDED_STATE_ON_GROUND
            elif self.mode == Mode.LAND or self.rtl_phase == "land":
                landed = M.MAV_LANDED_STATE_LANDING
            elif self.mode == Mode.TAKEOFF:
                landed = M.MAV_LANDED_STATE_TAKEOFF
            else:
                landed = M.MAV_LANDED_STATE_IN_AIR
            vtol = M.MAV_VTOL_STATE_UNDEFINED
            if self.airframe.kind == "fixed_wing_vtol":
                fw = math.hypot(b.vx, b.vy) > 0.6 * self.airframe.cruise_speed_ms
                vtol = M.MAV_VTOL_STATE_FW if fw else M.MAV_VTOL_STATE_MC
            return M.MAVLink_extended_sys_state_message(vtol, landed)
        if msg_id == M.MAVLINK_MSG_ID_VFR_HUD:
            wx, wy = self.wind.velocity()
            return M.MAVLink_vfr_hud_message(
                math.hypot(b.vx - wx, b.vy - wy),
                math.hypot(b.vx, b.vy),
                int(b.yaw_deg) % 360,
                0 if not self.armed else (15 if self.landed else 50),
                b.alt_amsl,
                b.vz,
            )
        if msg_id == M.MAVLINK_MSG_ID_MISSION_CURRENT:
            return self._mission_current()
        if msg_id == M.MAVLINK_MSG_ID_LOCAL_POSITION_NED:
            hx, hy, halt = self.home or (self.body.x, self.body.y, self.home_alt)
            return M.MAVLink_local_position_ned_message(
                self.time_boot_ms, b.y - hy, b.x - hx, halt - b.alt_amsl, b.vy, b.vx, -b.vz
            )
        if msg_id == M.MAVLINK_MSG_ID_SYSTEM_TIME:
            return M.MAVLink_system_time_message(int(self.clock.unix_s() * 1e6), self.time_boot_ms)
        if msg_id in (
            M.MAVLINK_MSG_ID_GIMBAL_DEVICE_ATTITUDE_STATUS,
            M.MAVLINK_MSG_ID_MOUNT_ORIENTATION,
        ):
            if msg_id == M.MAVLINK_MSG_ID_MOUNT_ORIENTATION:
                return M.MAVLink_mount_orientation_message(
                    self.time_boot_ms,
                    0.0,
                    self.gimbal_pitch_deg,
                    self.gimbal_yaw_deg,
                    (b.yaw_deg + self.gimbal_yaw_deg) % 360,
                )
            return M.MAVLink_gimbal_device_attitude_status_message(
                0,
                0,
                self.time_boot_ms,
                0,
                _quat(0.0, self.gimbal_pitch_deg, self.gimbal_yaw_deg),
                math.nan,
                math.nan,
                math.nan,
                0,
                0.0,
                0.0,
                1,
            )
        if msg_id == M.MAVLINK_MSG_ID_AUTOPILOT_VERSION:
            major, minor, patch = _SW_VERSION[self.flavour]
            sw = (major << 24) | (minor << 16) | (patch << 8) | 255
            uid2 = list(struct.pack("<Q", self.uid)) + [0] * 10
            return M.MAVLink_autopilot_version_message(
                CAPABILITIES[self.flavour],
                sw,
                0,
                0,
                0,
                [0] * 8,
                [0] * 8,
                [0] * 8,
                0x26AC,
                0x0011,
                self.uid,
                uid2,
            )
        if msg_id == M.MAVLINK_MSG_ID_PROTOCOL_VERSION:
            return M.MAVLink_protocol_version_message(200, 100, 200, [0] * 8, [0] * 8)
        return None

    def _mission_current(self) -> Any:
        items = self.plans[ms.MISSION]
        return M.MAVLink_mission_current_message(
            self.mis_seq,
            len(items),
            self.mis_state if items else M.MISSION_STATE_NO_MISSION,
            1 if self.mode == Mode.MISSION else 0,
            self.plan_ids[ms.MISSION],
            self.plan_ids[ms.FENCE],
            self.plan_ids[ms.RALLY],
        )

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

    # --- commands
    def _on_command_long(self, msg: Any) -> None:
        params = [
            msg.param1,
            msg.param2,
            msg.param3,
            msg.param4,
            msg.param5,
            msg.param6,
            msg.param7,
        ]
        self._run_command(msg.command, params, None, self._requester(msg), msg.confirmation)

    def _on_command_int(self, msg: Any) -> None:
        params = [msg.param1, msg.param2, msg.param3, msg.param4, msg.x / 1e7, msg.y / 1e7, msg.z]
        if msg.command not in (
            M.MAV_CMD_DO_REPOSITION,
            M.MAV_CMD_DO_ORBIT,
            M.MAV_CMD_DO_SET_HOME,
            M.MAV_CMD_NAV_TAKEOFF,
            M.MAV_CMD_NAV_LAND,
        ):
            params[4], params[5] = float(msg.x), float(msg.y)
        self._run_command(msg.command, params, msg.frame, self._requester(msg), 1)

    def _run_command(
        self,
        cmd: int,
        params: list[float],
        frame: int | None,
        requester: tuple[int, int],
        confirmation: int,
    ) -> None:
        # A ground station re-sends a command whose ACK was lost; answer it with the first
        # result instead of executing it again (a second take-off would fail).
        key = (requester, cmd, tuple(_nan_safe(x) for x in params), frame)
        last = self._last_command
        if (
            confirmation > 0
            and last is not None
            and last[0] == key
            and self.clock.wall() - last[2] < 3.0
        ):
            self._ack(cmd, last[1], requester)
            return
        result = self.command(cmd, params, frame=frame, requester=requester)
        self._last_command = (key, result, self.clock.wall())
        self._ack(cmd, result, requester)

    def command(
        self,
        cmd: int,
        p: list[float],
        frame: int | None = None,
        requester: tuple[int, int] = (0, 0),
    ) -> int:
        """Execute a MAV_CMD as from COMMAND_LONG (frame None) or COMMAND_INT; MAV_RESULT."""
        handler = _COMMANDS.get(int(cmd))
        if handler is None:
            return UNSUPPORTED
        return handler(self, p, frame)

    def _cmd_arm(self, p: list[float], frame: int | None) -> int:
        if p[0] >= 0.5:
            if self.armed:
                return ACCEPTED
            problems = self.prearm_problems()
            if (
                self.flavour == "ardupilot"
                and self.mode in (Mode.MISSION, Mode.RTL, Mode.LAND, Mode.BRAKE)
                and not problems
            ):
                problems = ["Mode not armable"]
            if problems and int(p[1]) != 21196:
                prefix = "Preflight Fail: " if self.flavour == "px4" else "PreArm: "
                if problems == ["Mode not armable"]:
                    prefix = "Arm: "
                for problem in problems:
                    self.statustext(M.MAV_SEVERITY_CRITICAL, prefix + problem)
                return DENIED
            self.arm()
            return ACCEPTED
        if not self.armed:
            return ACCEPTED
        if not self.landed and int(p[1]) != 21196:
            self.statustext(
                M.MAV_SEVERITY_CRITICAL,
                "Disarming denied: not landed"
                if self.flavour == "px4"
                else "Disarm: vehicle is flying",
            )
            return DENIED
        self.disarm("commanded")
        return ACCEPTED

    def prearm_problems(self) -> list[str]:
        px4 = self.flavour == "px4"
        problems = []
        if self.motor_failed:
            problems.append("motor failure detected" if px4 else "Motors: motor failure")
        if not self.gps_ok:
            problems.append("GPS fix too low" if px4 else "Need 3D Fix")
        if self.home is None:
            problems.append("home position not set" if px4 else "AHRS: waiting for home")
        if px4:
            if self.battery.soc <= self.params["BAT_LOW_THR"]:
                problems.append(f"low battery {self.battery_pct:.0f}%")
        elif self.battery.resting_v < self.params["BATT_ARM_VOLT"]:
            problems.append("Battery 1 below minimum arming voltage")
        return problems

    def arm(self) -> None:
        self.armed = True
        self._armed_at_sim = self.clock.sim_s
        self._armed_at_wall = self.clock.wall()
        self._landed_since_sim = self.clock.sim_s
        self._landed_since_wall = self.clock.wall()
        self.statustext(
            M.MAV_SEVERITY_INFO,
            "Armed by external command" if self.flavour == "px4" else "Arming motors",
        )
        if self.mode == Mode.MISSION and self.flavour == "px4":
            # PX4 armed in mission mode takes off and flies the mission.
            self._enter_mission(self.mode)
        elif self.mode == Mode.TAKEOFF:
            self._start_takeoff()

    def disarm(self, why: str) -> None:
        self.armed = False
        self.target = None
        self.orbit = None
        self.rtl_phase = ""
        self.mission_takeoff_pending = False
        self.battery.power_w = 0.0
        self.statustext(
            M.MAV_SEVERITY_INFO,
            f"Disarmed ({why})" if self.flavour == "px4" else "Disarming motors",
        )
        if self.flavour == "px4" and self.mode in (Mode.RTL, Mode.LAND, Mode.TAKEOFF):
            self.set_mode(Mode.HOLD, quiet=True)

    def _cmd_takeoff(self, p: list[float], frame: int | None) -> int:
        if not self.armed:
            self.statustext(
                M.MAV_SEVERITY_CRITICAL,
                "Takeoff denied! Please arm first"
                if self.flavour == "px4"
                else "Takeoff: not armed",
            )
            return DENIED if self.flavour == "px4" else FAILED
        if self.flavour == "ardupilot":
            if self.mode != Mode.OFFBOARD:
                self.statustext(M.MAV_SEVERITY_WARNING, "Takeoff: mode must be GUIDED")
                return FAILED
            if not self.landed:
                return FAILED
            alt = self.home_alt + (p[6] if math.isfinite(p[6]) else 10.0)
        else:
            if not self.gps_ok:
                return DENIED
            if math.isfinite(p[6]):
                alt = (
                    p[6]
                    if frame in (None, ms.FRAME_GLOBAL, ms.FRAME_GLOBAL_INT)
                    else self.home_alt + p[6]
                )
            else:
                alt = self.home_alt + self.params["MIS_TAKEOFF_ALT"]
            self.set_mode(Mode.TAKEOFF, quiet=True)
        self.target = (
            self.body.x,
            self.body.y,
            max(alt, self.ground_at(self.body.x, self.body.y) + 1.0),
        )
        self.landed = False
        return ACCEPTED

    def _cmd_set_mode(self, p: list[float], frame: int | None) -> int:
        px4 = self.flavour == "px4"
        custom = (int(p[1]) << 16) | (int(p[2]) << 24) if px4 else int(p[1])
        mode = decode(self.flavour, custom)
        if mode is None:
            return UNSUPPORTED
        return ACCEPTED if self.request_mode(mode) else DENIED

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
        if mode == Mode.MISSION:
            no_mission = not self.plans[ms.MISSION]
            if (
                no_mission or self.mis_seq >= len(self.plans[ms.MISSION])
            ) and self.flavour == "px4":
                self.statustext(M.MAV_SEVERITY_CRITICAL, "Mission rejected: no valid mission")
                return False
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
        self.mode = mode
        self.orbit = None
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
        elif mode == Mode.LAND:
            self.target = None
        elif mode == Mode.MISSION:
            self._enter_mission(prev)
        if not quiet:
            self.statustext(M.MAV_SEVERITY_INFO, f"Mode {mode_name(self.flavour, mode)}")

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
        if self.mis_state in (M.MISSION_STATE_COMPLETE,) or self.mis_seq >= len(items):
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

    def _cmd_mission_start(self, p: list[float], frame: int | None) -> int:
        items = self.plans[ms.MISSION]
        if not items:
            self.statustext(
                M.MAV_SEVERITY_CRITICAL,
                "Mission rejected: no mission" if self.flavour == "px4" else "Mission: no mission",
            )
            return DENIED if self.flavour == "px4" else FAILED
        if self.flavour == "ardupilot" and not self.armed:
            return FAILED
        first = int(p[0])
        if 0 < first < len(items):
            self.mis_seq = first
            self._item_phase = ""
        elif self.mis_state == M.MISSION_STATE_COMPLETE:
            self.mis_seq = self._first_mission_seq()
        if self.mode == Mode.MISSION:
            self._enter_mission(self.mode)
            return ACCEPTED
        return ACCEPTED if self.request_mode(Mode.MISSION) else DENIED

    def _cmd_rtl(self, p: list[float], frame: int | None) -> int:
        return ACCEPTED if self.request_mode(Mode.RTL) else DENIED

    def _cmd_land(self, p: list[float], frame: int | None) -> int:
        return ACCEPTED if self.request_mode(Mode.LAND) else DENIED

    def _position_from(self, p: list[float], frame: int | None) -> tuple[float, float, float]:
        """Target (x, y, alt_amsl) from params 5-7; NaN keeps the current value."""
        b = self.body
        x, y, alt = b.x, b.y, b.alt_amsl
        if math.isfinite(p[4]) and math.isfinite(p[5]) and not (p[4] == 0 and p[5] == 0):
            x, y = self.to_local(p[4], p[5])
        if math.isfinite(p[6]):
            if frame in (ms.FRAME_GLOBAL_RELATIVE_ALT, ms.FRAME_GLOBAL_RELATIVE_ALT_INT):
                alt = self.home_alt + p[6]
            elif frame in (ms.FRAME_GLOBAL_TERRAIN_ALT, ms.FRAME_GLOBAL_TERRAIN_ALT_INT):
                alt = self.ground_at(x, y) + p[6]
            else:
                alt = p[6]
        return x, y, alt

    def _cmd_reposition(self, p: list[float], frame: int | None) -> int:
        if not self.armed or self.landed:
            return DENIED if self.flavour == "px4" else FAILED
        if not self.gps_ok or self.motor_failed:
            return DENIED
        target = self._position_from(p, frame)
        if self.flavour == "px4":
            self.set_mode(Mode.HOLD, quiet=self.mode == Mode.HOLD)
        elif self.mode != Mode.OFFBOARD:
            if not (int(p[1]) & 1):
                return DENIED
            self.set_mode(Mode.OFFBOARD)
        if p[0] > 0:
            self.speed_ms = min(p[0], self.airframe.max_speed_ms)
        self.target = target
        if math.isfinite(p[3]):
            self.yaw_target_deg = p[3] % 360
        return ACCEPTED

    def _cmd_orbit(self, p: list[float], frame: int | None) -> int:
        if self.flavour != "px4":
            return UNSUPPORTED
        if not self.armed or self.landed or not self.gps_ok:
            return DENIED
        cx, cy, alt = self._position_from(p, frame)
        radius = p[0] if math.isfinite(p[0]) and p[0] != 0 else self.params["NAV_LOITER_RAD"]
        speed = (
            p[1] if math.isfinite(p[1]) and p[1] != 0 else min(5.0, self.airframe.cruise_speed_ms)
        )
        self.set_mode(Mode.HOLD, quiet=True)
        self.orbit = _Orbit(cx, cy, alt, abs(radius) * (1 if radius > 0 else -1), abs(speed))
        self.statustext(M.MAV_SEVERITY_INFO, f"Orbit: radius {abs(radius):.0f} m")
        return ACCEPTED

    def _cmd_set_mission_current(self, p: list[float], frame: int | None) -> int:
        seq = int(p[0])
        items = self.plans[ms.MISSION]
        if seq < 0:
            return ACCEPTED
        if seq >= len(items):
            return DENIED
        self.mis_seq = seq
        self._item_phase = ""
        if self.mis_state == M.MISSION_STATE_COMPLETE:
            self.mis_state = M.MISSION_STATE_PAUSED
        if int(p[1]) == 1:
            self._jump_left.clear()
        self.send(self._mission_current())
        return ACCEPTED

    def _cmd_change_speed(self, p: list[float], frame: int | None) -> int:
        if p[1] > 0:
            self.speed_ms = min(p[1], self.airframe.max_speed_ms)
        return ACCEPTED

    def _cmd_pause_continue(self, p: list[float], frame: int | None) -> int:
        if int(p[0]) == 0:
            if self.flavour == "px4":
                return ACCEPTED if self.request_mode(Mode.HOLD) else DENIED
            self.target = (self.body.x, self.body.y, self.body.alt_amsl)
            self._paused = True
            return ACCEPTED
        if self.flavour == "px4":
            return ACCEPTED if self.request_mode(Mode.MISSION) else DENIED
        self._paused = False
        return ACCEPTED

    _paused = False

    def _cmd_set_message_interval(self, p: list[float], frame: int | None) -> int:
        msg_id = int(p[0])
        if msg_id not in self.streams:
            return UNSUPPORTED
        interval_us = p[1]
        if interval_us == 0:
            self.streams[msg_id] = DEFAULT_STREAMS[msg_id]
        elif interval_us < 0:
            self.streams[msg_id] = 0.0
        else:
            self.streams[msg_id] = max(interval_us / 1e6, 0.01)
        self._next_due[msg_id] = self.clock.sim_s
        return ACCEPTED

    def _cmd_request_message(self, p: list[float], frame: int | None) -> int:
        msg_id = int(p[0])
        msg = self.build(msg_id)
        if msg is None:
            if msg_id == M.MAVLINK_MSG_ID_HOME_POSITION:
                return TEMP_REJECTED
            return UNSUPPORTED
        self.send(msg)
        return ACCEPTED

    def _cmd_autopilot_caps(self, p: list[float], frame: int | None) -> int:
        self.send(self.build(M.MAVLINK_MSG_ID_AUTOPILOT_VERSION))
        return ACCEPTED

    def _cmd_get_home(self, p: list[float], frame: int | None) -> int:
        msg = self.build(M.MAVLINK_MSG_ID_HOME_POSITION)
        if msg is None:
            return TEMP_REJECTED
        self.send(msg)
        return ACCEPTED

    def _cmd_set_home(self, p: list[float], frame: int | None) -> int:
        if int(p[0]) == 1:
            if not self.gps_ok:
                return DENIED
            self.set_home(
                self.body.x,
                self.body.y,
                self.body.alt_amsl if self.landed else self.ground_at(self.body.x, self.body.y),
            )
        else:
            x, y, alt = self._position_from(p, frame if frame is not None else ms.FRAME_GLOBAL)
            self.set_home(x, y, alt)
        return ACCEPTED

    def set_home(self, x: float, y: float, alt_amsl: float) -> None:
        self.home = (x, y, alt_amsl)
        msg = self.build(M.MAVLINK_MSG_ID_HOME_POSITION)
        if msg is not None:
            self.send(msg)

    def _cmd_mount(self, p: list[float], frame: int | None) -> int:
        self.gimbal_pitch_deg = max(-90.0, min(30.0, p[0]))
        if math.isfinite(p[2]):
            self.gimbal_yaw_deg = p[2]
        return ACCEPTED

    def _cmd_gimbal_pitchyaw(self, p: list[float], frame: int | None) -> int:
        if math.isfinite(p[0]):
            self.gimbal_pitch_deg = max(-90.0, min(30.0, p[0]))
        if math.isfinite(p[1]):
            self.gimbal_yaw_deg = p[1]
        return ACCEPTED

    def _cmd_condition_yaw(self, p: list[float], frame: int | None) -> int:
        if not self.armed:
            return DENIED
        yaw = p[0]
        if int(p[3]) == 1:
            yaw = self.body.yaw_deg + (yaw if p[2] >= 0 else -yaw)
        self.yaw_target_deg = yaw % 360
        return ACCEPTED

    def _cmd_reboot(self, p: list[float], frame: int | None) -> int:
        if self.armed:
            return DENIED
        if int(p[0]) in (1, 3):
            self.clock_call_later(0.2, self.restart)
            return ACCEPTED
        return UNSUPPORTED

    def clock_call_later(self, delay_s: float, fn: Callable[[], None]) -> None:
        import asyncio

        try:
            asyncio.get_running_loop().call_later(delay_s, fn)
        except RuntimeError:
            fn()

    # --- mission protocol
    def _on_mission_count(self, msg: Any) -> None:
        mtype = getattr(msg, "mission_type", 0)
        requester = self._requester(msg)
        if mtype not in ms.TYPES:
            self._mission_ack(requester, M.MAV_MISSION_UNSUPPORTED, mtype)
            return
        up = self._upload
        if (
            up is not None
            and up.mission_type == mtype
            and up.count == msg.count
            and up.next_seq == 0
        ):
            # The ground station repeated MISSION_COUNT (our first request was lost).
            self._request_item(up)
            return
        if msg.count == 0:
            self._upload = None
            self._store_plan(mtype, [], requester)
            return
        self._upload = _Upload(mtype, msg.count, [], 0, 0, 0.0, requester)
        self._request_item(self._upload)

    def _request_item(self, up: _Upload) -> None:
        up.deadline_wall = self.clock.wall() + MISSION_RETRY_WALL_S
        self.send(
            M.MAVLink_mission_request_int_message(*up.requester, up.next_seq, up.mission_type)
        )

    def _on_mission_item(self, msg: Any) -> None:
        is_int = msg.get_type() == "MISSION_ITEM_INT"
        mtype = getattr(msg, "mission_type", 0)
        up = self._upload
        if up is None or up.mission_type != mtype:
            last = self._last_upload
            if last is not None and last[0] == mtype and msg.seq == last[1] - 1:
                # Our MISSION_ACK was lost and the ground station resent the last item.
                self._mission_ack(last[3], M.MAV_MISSION_ACCEPTED, mtype, last[2])
            return
        if msg.seq != up.next_seq:
            return  # a duplicate or a stale item: the pending request stands
        up.items.append(ms.Item.from_msg(msg, is_int))
        up.next_seq += 1
        up.retries = 0
        if up.next_seq < up.count:
            self._request_item(up)
            return
        self._upload = None
        problem = ms.validate(up.items, mtype)
        if problem is not None:
            code, reason = problem
            self.statustext(M.MAV_SEVERITY_CRITICAL, f"Mission rejected: {reason}")
            self._mission_ack(up.requester, code, mtype)
            return
        self._store_plan(mtype, up.items, up.requester)

    def load_plan(self, items: list[ms.Item], mission_type: int = ms.MISSION) -> int:
        """Store a plan in-process, as a completed upload would; returns its opaque id."""
        items = [
            dataclasses.replace(it, seq=i, mission_type=mission_type) for i, it in enumerate(items)
        ]
        self._store_plan(mission_type, items, (0, 0))
        return self.plan_ids[mission_type]

    def _store_plan(self, mtype: int, items: list[ms.Item], requester: tuple[int, int]) -> None:
        self.plans[mtype] = items
        self.plan_ids[mtype] = ms.opaque_id(items)
        if mtype == ms.FENCE:
            self.fence = ms.build_fence(items, self.to_local)
            self.fence_breached = False
        if mtype == ms.MISSION:
            self._jump_left.clear()
            self._item_phase = ""
            if self.mode != Mode.MISSION or not self.armed:
                self.mis_seq = self._first_mission_seq()
                self.mis_state = (
                    M.MISSION_STATE_NOT_STARTED if items else M.MISSION_STATE_NO_MISSION
                )
            else:
                self.mis_seq = min(self.mis_seq, max(len(items) - 1, 0))
        self._last_upload = (mtype, len(items), self.plan_ids[mtype], requester)
        self._mission_ack(requester, M.MAV_MISSION_ACCEPTED, mtype, self.plan_ids[mtype])
        if mtype == ms.MISSION:
            self.send(self._mission_current())

    def _mission_ack(
        self, requester: tuple[int, int], result: int, mtype: int, opaque: int = 0
    ) -> None:
        self.send(M.MAVLink_mission_ack_message(*requester, result, mtype, opaque))

    def mission_tick(self) -> None:
        """Re-request a missing item when the ground station went quiet (wall time)."""
        up = self._upload
        if up is None or self.clock.wall() < up.deadline_wall:
            return
        up.retries += 1
        if up.retries > MISSION_MAX_RETRIES:
            self._upload = None
            self.statustext(M.MAV_SEVERITY_WARNING, "Mission upload timed out")
            self._mission_ack(up.requester, M.MAV_MISSION_OPERATION_CANCELLED, up.mission_type)
            return
        self._request_item(up)

    def _download_items(self, mtype: int) -> list[ms.Item]:
        items = self.plans[mtype]
        if self.flavour == "ardupilot" and mtype == ms.MISSION and items and self.home is not None:
            lat, lon, alt = self.home_latlon  # type: ignore[misc]
            items = [
                ms.Item(
                    0,
                    ms.FRAME_GLOBAL_INT,
                    ms.NAV_WAYPOINT,
                    0,
                    1,
                    0,
                    0,
                    0,
                    0,
                    int(lat * 1e7),
                    int(lon * 1e7),
                    alt,
                ),
                *items[1:],
            ]
        return items

    def _on_mission_request_list(self, msg: Any) -> None:
        mtype = getattr(msg, "mission_type", 0)
        if mtype not in ms.TYPES:
            self._mission_ack(self._requester(msg), M.MAV_MISSION_UNSUPPORTED, mtype)
            return
        items = self._download_items(mtype)
        self.send(
            M.MAVLink_mission_count_message(
                *self._requester(msg), len(items), mtype, self.plan_ids[mtype]
            )
        )

    def _on_mission_request(self, msg: Any) -> None:
        mtype = getattr(msg, "mission_type", 0)
        if mtype not in ms.TYPES:
            return
        items = self._download_items(mtype)
        if not 0 <= msg.seq < len(items):
            self._mission_ack(self._requester(msg), M.MAV_MISSION_INVALID_SEQUENCE, mtype)
            return
        it = items[msg.seq]
        req = self._requester(msg)
        current = 1 if (mtype == ms.MISSION and it.seq == self.mis_seq) else 0
        if msg.get_type() == "MISSION_REQUEST_INT":
            self.send(
                M.MAVLink_mission_item_int_message(
                    *req,
                    it.seq,
                    it.frame,
                    it.command,
                    current,
                    it.autocontinue,
                    it.param1,
                    it.param2,
                    it.param3,
                    it.param4,
                    it.x,
                    it.y,
                    it.z,
                    mtype,
                )
            )
        else:
            self.send(
                M.MAVLink_mission_item_message(
                    *req,
                    it.seq,
                    it.frame,
                    it.command,
                    current,
                    it.autocontinue,
                    it.param1,
                    it.param2,
                    it.param3,
                    it.param4,
                    it.x / 1e7,
                    it.y / 1e7,
                    it.z,
                    mtype,
                )
            )

    def _on_mission_clear_all(self, msg: Any) -> None:
        mtype = getattr(msg, "mission_type", 0)
        types = ms.TYPES if mtype == ms.ALL else (mtype,)
        if mtype not in (*ms.TYPES, ms.ALL):
            self._mission_ack(self._requester(msg), M.MAV_MISSION_UNSUPPORTED, mtype)
            return
        for t in types:
            self.plans[t] = []
            self.plan_ids[t] = 0
            if t == ms.FENCE:
                self.fence = None
                self.fence_breached = False
            if t == ms.MISSION:
                self.mis_seq = 0
                self.mis_state = M.MISSION_STATE_NO_MISSION
        self._mission_ack(self._requester(msg), M.MAV_MISSION_ACCEPTED, mtype, 0)

    def _on_mission_set_current(self, msg: Any) -> None:
        if self._cmd_set_mission_current([float(msg.seq), 0, 0, 0, 0, 0, 0], None) != ACCEPTED:
            self._mission_ack(self._requester(msg), M.MAV_MISSION_INVALID_SEQUENCE, 0)

    def _on_mission_ack(self, msg: Any) -> None:
        pass

    def _on_set_position_target_global_int(self, msg: Any) -> None:
        if self.mode != Mode.OFFBOARD or not self.armed or self.landed:
            return
        if msg.type_mask & 0b111:
            return
        frame = msg.coordinate_frame
        p = [0.0, 0.0, 0.0, 0.0, msg.lat_int / 1e7, msg.lon_int / 1e7, msg.alt]
        self.target = self._position_from(p, frame)

    # ------------------------------------------------------------------ physics
    def step(self, dt: float) -> None:
        """Advance flight, battery, sensors and failsafes by dt simulated seconds."""
        now = self.clock.sim_s
        if self.home is None and self.gps_ok and not self.killed:
            self.set_home(self.body.x, self.body.y, self.ground_at(self.body.x, self.body.y))
            self.statustext(
                M.MAV_SEVERITY_INFO,
                "home set" if self.flavour == "px4" else "EKF3 IMU0 is using GPS",
            )
        self.wind.step(self.rng, dt)
        self._step_gps_error(dt)
        b = self.body
        ground = self.ground_at(b.x, b.y)
        wind = self.wind.velocity() if not self.landed else (0.0, 0.0)
        if not self.armed or self.killed:
            if b.alt_amsl > ground + 0.05:
                # Motors off in the air: it falls.
                step_body(
                    b, self.airframe, 0.0, 0.0, -30.0, None, (0.0, 0.0), dt, descent_limit_ms=30.0
                )
            b.vx = b.vy = 0.0 if b.alt_amsl <= ground + 0.05 else b.vx
            if b.alt_amsl <= ground + 0.05:
                b.alt_amsl = ground
                b.vz = 0.0
                b.roll_deg = b.pitch_deg = 0.0
                self.landed = True
            self.battery.drain(0.5 if not self.killed else 0.0, dt)
            return
        vx, vy, vz, yaw, descent_limit = self._navigate(dt)
        airspeed = step_body(b, self.airframe, vx, vy, vz, yaw, wind, dt, descent_limit)
        if b.alt_amsl <= ground:
            b.alt_amsl = ground
            b.vz = max(b.vz, 0.0)
            if not self.landed and vz <= 0:
                self._touchdown()
        if self.landed:
            b.vx = b.vy = b.vz = 0.0
            b.roll_deg = b.pitch_deg = 0.0
            self.battery.drain(IDLE_POWER_W * 3, dt)
            self._auto_disarm()
        else:
            self.battery.drain(electrical_power_w(self.airframe, airspeed, b.vz), dt)
        self._failsafes(now)

    def _step_gps_error(self, dt: float) -> None:
        # A random walk pulled back to zero: GPS error that wanders by ~1 m over tens of seconds.
        a = math.exp(-dt / 30.0)
        s = math.sqrt(1 - a * a)
        e = self.gps_err
        g = self.rng.gauss
        if self.gps_lost:
            # Dead reckoning: the estimate drifts away.
            e[0] += 0.5 * dt
            e[1] += 0.3 * dt
            return
        e[0] = a * e[0] + 0.8 * s * g(0.0, 1.0)
        e[1] = a * e[1] + 0.8 * s * g(0.0, 1.0)
        e[2] = a * e[2] + 0.4 * s * g(0.0, 1.0)
        ae = self._att_err
        ae[0] = a * ae[0] + 0.3 * s * g(0.0, 1.0)
        ae[1] = a * ae[1] + 0.3 * s * g(0.0, 1.0)
        ae[2] = a * ae[2] + 1.0 * s * g(0.0, 1.0)

    def _touchdown(self) -> None:
        self.landed = True
        self.target = None
        self._landed_since_sim = self.clock.sim_s
        self._landed_since_wall = self.clock.wall()
        self.statustext(
            M.MAV_SEVERITY_INFO, "Landing detected" if self.flavour == "px4" else "Land complete"
        )
        if self.mode == Mode.MISSION and self._item_phase in ("land", "rtl"):
            self._item_reached()

    def _auto_disarm(self) -> None:
        """Disarm after touching down, or when armed on the ground and never taking off."""
        if self.flavour == "px4":
            landed_delay = self.params["COM_DISARM_LAND"]
            preflight = self.params["COM_DISARM_PRFLT"]
        else:
            landed_delay = preflight = self.params["DISARM_DELAY"]
        touched_down = self._landed_since_sim > self._armed_at_sim + 0.01
        if touched_down:
            if landed_delay > 0 and self.clock.elapsed(
                self._landed_since_sim, self._landed_since_wall, landed_delay
            ):
                self.disarm("landed")
        elif (
            preflight > 0
            and not self.mission_takeoff_pending
            and self.target is None
            and self.clock.elapsed(self._armed_at_sim, self._armed_at_wall, preflight)
        ):
            self.disarm("no takeoff")

    def _navigate(self, dt: float) -> tuple[float, float, float, float | None, float | None]:
        """Commanded (vx, vy, vz, yaw_deg, descent limit) for the current mode."""
        b = self.body
        mode = self.mode
        if self.motor_failed or self.failsafe == "gps":
            return self._land_velocity()
        if mode == Mode.LAND:
            return self._land_velocity()
        if mode == Mode.RTL:
            return self._rtl()
        if mode == Mode.MISSION:
            return self._mission(dt)
        if self.orbit is not None:
            return self._orbit_velocity()
        if (
            mode == Mode.TAKEOFF
            and self.target is not None
            and abs(b.alt_amsl - self.target[2]) < 0.5
        ):
            self.statustext(M.MAV_SEVERITY_INFO, "Takeoff detected")
            self.set_mode(Mode.HOLD, quiet=True)
            self.target = (b.x, b.y, b.alt_amsl)
        if self.target is None:
            if self.landed:
                return 0.0, 0.0, 0.0, None, None
            self.target = (b.x, b.y, b.alt_amsl)
        return self._goto(self.target, self.speed_ms)

    def _goto(
        self, target: tuple[float, float, float], speed: float
    ) -> tuple[float, float, float, float | None, float | None]:
        b = self.body
        dx, dy = target[0] - b.x, target[1] - b.y
        dist = math.hypot(dx, dy)
        # Brake so as to stop at the target: v = sqrt(2 a d), with some margin.
        v = (
            min(speed, math.sqrt(2.0 * 0.7 * self.airframe.max_accel_ms2 * dist))
            if dist > 0.01
            else 0.0
        )
        vx, vy = (dx / dist * v, dy / dist * v) if dist > 0.01 else (0.0, 0.0)
        dz = target[2] - b.alt_amsl
        vz = max(-self.airframe.descent_rate_ms, min(self.airframe.climb_rate_ms, 1.0 * dz))
        yaw = self.yaw_target_deg
        if dist > 3.0 and v > 1.0:
            yaw = math.degrees(math.atan2(dx, dy)) % 360
            self.yaw_target_deg = None
        return vx, vy, vz, yaw, None

    def _land_velocity(self) -> tuple[float, float, float, float | None, float | None]:
        b = self.body
        agl = b.alt_amsl - self.ground_at(b.x, b.y)
        land_speed = (
            self.params["MPC_LAND_SPEED"]
            if self.flavour == "px4"
            else self.params["LAND_SPEED"] / 100
        )
        descent = self.airframe.descent_rate_ms if agl > 10.0 else land_speed
        if self.motor_failed:
            descent = max(descent, 2.0)
        hx, hy = (self.target[0], self.target[1]) if self.target else (b.x, b.y)
        vx, vy = (hx - b.x) * 0.5, (hy - b.y) * 0.5
        return vx, vy, -descent, None, descent

    def _rtl(self) -> tuple[float, float, float, float | None, float | None]:
        b = self.body
        if self.home is None:
            return self._land_velocity()
        hx, hy, halt = self.home
        if self.flavour == "px4":
            rtl_alt = halt + self.params["RTL_RETURN_ALT"]
        else:
            rtl_alt = halt + self.params["RTL_ALT"] / 100
        dist = math.hypot(hx - b.x, hy - b.y)
        if self.rtl_phase in ("", "climb"):
            self.rtl_phase = "climb"
            cruise_alt = max(rtl_alt, b.alt_amsl) if dist > 5.0 else b.alt_amsl
            self._rtl_alt = cruise_alt
            if b.alt_amsl >= cruise_alt - 0.5:
                self.rtl_phase = "return"
            else:
                return 0.0, 0.0, self.airframe.climb_rate_ms, None, None
        if self.rtl_phase == "return":
            cruise = getattr(self, "_rtl_alt", b.alt_amsl)
            if dist < 1.0 and math.hypot(b.vx, b.vy) < 0.5:
                self.rtl_phase = "land"
                self.target = (hx, hy, halt)
            else:
                return self._goto((hx, hy, cruise), self.speed_ms)
        self.target = (hx, hy, halt)
        return self._land_velocity()

    def _orbit_velocity(self) -> tuple[float, float, float, float | None, float | None]:
        o = self.orbit
        assert o is not None
        b = self.body
        dx, dy = b.x - o.cx, b.y - o.cy
        r = math.hypot(dx, dy) or 0.01
        radius = abs(o.radius_m)
        # Tangent (clockwise for positive radius, seen from above) plus a pull onto the circle.
        sign = 1.0 if o.radius_m > 0 else -1.0
        tx, ty = sign * dy / r, -sign * dx / r
        pull = max(-o.speed_ms, min(o.speed_ms, (radius - r) * 0.5))
        vx = tx * o.speed_ms + dx / r * pull
        vy = ty * o.speed_ms + dy / r * pull
        vz = max(
            -self.airframe.descent_rate_ms,
            min(self.airframe.climb_rate_ms, o.alt_amsl - b.alt_amsl),
        )
        yaw = math.degrees(math.atan2(-dx, -dy)) % 360  # face the centre
        return vx, vy, vz, yaw, None

    # --- mission execution
    def _item_target(self, it: ms.Item) -> tuple[float, float, float]:
        b = self.body
        if it.x == 0 and it.y == 0:
            x, y = b.x, b.y
        else:
            x, y = self.to_local(it.lat, it.lon)
        if it.frame in ms.AMSL_FRAMES:
            alt = it.z
        elif it.frame in (ms.FRAME_GLOBAL_TERRAIN_ALT, ms.FRAME_GLOBAL_TERRAIN_ALT_INT):
            alt = self.ground_at(x, y) + it.z
        else:
            alt = self.home_alt + it.z
        return x, y, alt

    def _mission(self, dt: float) -> tuple[float, float, float, float | None, float | None]:
        b = self.body
        items = self.plans[ms.MISSION]
        if not self.armed:
            return 0.0, 0.0, 0.0, None, None
        if self.mission_takeoff_pending:
            nav = next((it for it in items[self.mis_seq :] if it.command in ms.NAV_COMMANDS), None)
            alt = self.home_alt + max(self.params["MIS_TAKEOFF_ALT"], 2.0)
            if nav is not None and nav.command != ms.NAV_LAND:
                alt = max(alt, self._item_target(nav)[2])
            self.landed = False
            if b.alt_amsl >= alt - 1.0:
                self.mission_takeoff_pending = False
            else:
                return 0.0, 0.0, self.airframe.climb_rate_ms, None, None
        if self.mis_state == M.MISSION_STATE_COMPLETE or self.mis_seq >= len(items) or self._paused:
            if self.landed:
                return 0.0, 0.0, 0.0, None, None
            if self.target is None:
                self.target = (b.x, b.y, b.alt_amsl)
            return self._goto(self.target, self.speed_ms)
        # Run DO items (they take no time) until a NAV item.
        for _ in range(len(items) + 1):
            it = items[self.mis_seq]
            if it.command in ms.NAV_COMMANDS:
                break
            self._do_item(it)
            if self.mis_state == M.MISSION_STATE_COMPLETE or self.mis_seq >= len(items):
                return 0.0, 0.0, 0.0, None, None
        else:
            return 0.0, 0.0, 0.0, None, None
        it = items[self.mis_seq]
        if self._item_phase == "":
            self._item_phase = "goto"
            if it.command in (ms.NAV_TAKEOFF, ms.NAV_VTOL_TAKEOFF):
                _, _, alt = self._item_target(it)
                self.target = (b.x, b.y, alt)
                self.landed = False
            elif it.command == ms.NAV_RETURN_TO_LAUNCH:
                self._item_phase = "rtl"
                self.rtl_phase = "climb"
            elif it.command in (ms.NAV_DELAY,):
                self._item_phase = "hold"
                self._hold_until = self.clock.sim_s + max(it.param1, 0.0)
                self.target = (b.x, b.y, b.alt_amsl)
            else:
                self.target = self._item_target(it)
        if self._item_phase == "rtl":
            return self._rtl()
        if self._item_phase == "land":
            return self._land_velocity()
        if self._item_phase == "goto":
            assert self.target is not None
            tx, ty, talt = self.target
            dist = math.hypot(tx - b.x, ty - b.y)
            radius = (
                it.param2
                if it.command == ms.NAV_WAYPOINT and it.param2 > 0
                else self._acceptance_m()
            )
            if dist <= radius and abs(talt - b.alt_amsl) <= max(1.0, radius):
                if it.command in (ms.NAV_LAND, ms.NAV_VTOL_LAND):
                    self._item_phase = "land"
                    return self._land_velocity()
                self.reached.append(it.seq)
                self._send_reached(it.seq)
                hold = 0.0
                if it.command == ms.NAV_WAYPOINT or it.command == ms.NAV_LOITER_TIME:
                    hold = max(it.param1, 0.0)
                elif it.command == ms.NAV_LOITER_TURNS:
                    hold = max(it.param1, 1.0) * 2 * math.pi * max(abs(it.param3), 10.0) / 5.0
                elif it.command == ms.NAV_LOITER_UNLIM:
                    hold = math.inf
                self._item_phase = "hold"
                self._hold_until = self.clock.sim_s + hold
            else:
                return self._goto(self.target, self.speed_ms)
        if self._item_phase == "hold":
            if self.clock.sim_s >= self._hold_until:
                if it.command == ms.NAV_DELAY:
                    self.reached.append(it.seq)
                    self._send_reached(it.seq)
                self._advance()
            assert self.target is not None
            return self._goto(self.target, self.speed_ms)
        return 0.0, 0.0, 0.0, None, None

    def _send_reached(self, seq: int) -> None:
        # PX4 sends MISSION_ITEM_REACHED twice (mavlink_mission.cpp), ArduPilot once.
        for _ in range(2 if self.flavour == "px4" else 1):
            self.send(M.MAVLink_mission_item_reached_message(seq))

    def _acceptance_m(self) -> float:
        if self.flavour == "px4":
            return self.params["NAV_ACC_RAD"]
        return self.params["WPNAV_RADIUS"] / 100

    def _item_reached(self) -> None:
        items = self.plans[ms.MISSION]
        if self.mis_seq < len(items):
            self.reached.append(items[self.mis_seq].seq)
            self._send_reached(items[self.mis_seq].seq)
        self.rtl_phase = ""
        self._advance()

    def _do_item(self, it: ms.Item) -> None:
        if it.command == ms.DO_JUMP:
            target = int(it.param1)
            repeat = int(it.param2)
            left = self._jump_left.setdefault(it.seq, repeat)
            if left != 0 and 0 <= target < len(self.plans[ms.MISSION]):
                if left > 0:
                    self._jump_left[it.seq] = left - 1
                self.mis_seq = target
                self._item_phase = ""
                self.send(self._mission_current())
                return
        elif it.command == ms.DO_CHANGE_SPEED:
            if it.param2 > 0:
                self.speed_ms = min(it.param2, self.airframe.max_speed_ms)
        elif it.command == ms.DO_MOUNT_CONTROL:
            self._cmd_mount([it.param1, it.param2, it.param3, 0, 0, 0, 0], None)
        elif it.command == ms.DO_GIMBAL_MANAGER_PITCHYAW:
            self._cmd_gimbal_pitchyaw([it.param1, it.param2, 0, 0, 0, 0, 0], None)
        self._advance()

    def _advance(self) -> None:
        items = self.plans[ms.MISSION]
        self.mis_seq += 1
        self._item_phase = ""
        if self.mis_seq >= len(items):
            self.mis_seq = max(len(items) - 1, 0)
            self.mis_state = M.MISSION_STATE_COMPLETE
            self.statustext(
                M.MAV_SEVERITY_INFO,
                "Mission finished"
                if self.flavour == "px4"
                else f"Mission: {len(items) - 1} complete",
            )
            b = self.body
            self.target = None if self.landed else (b.x, b.y, b.alt_amsl)
            if self.flavour == "px4" and not self.landed:
                self.set_mode(Mode.HOLD, quiet=True)
        self.send(self._mission_current())

    # --- failsafes
    def _failsafes(self, now: float) -> None:
        if self.landed:
            return
        self._battery_failsafe()
        self._gcs_failsafe()
        if self.gps_lost and self.failsafe != "gps" and not self.landed:
            self.failsafe = "gps"
            self.statustext(
                M.MAV_SEVERITY_CRITICAL,
                "Failsafe: GPS lost, landing"
                if self.flavour == "px4"
                else "EKF Failsafe: changed to LAND Mode",
            )
            self.set_mode(Mode.LAND, quiet=True)
        if self.fence is not None and (self.flavour == "px4" or self.params["FENCE_ENABLE"] >= 1):
            self._fence_check()

    def _battery_failsafe(self) -> None:
        px4 = self.flavour == "px4"
        p = self.params
        if px4:
            soc = self.battery.soc
            level = (
                3
                if soc <= p["BAT_EMERGEN_THR"]
                else 2
                if soc <= p["BAT_CRIT_THR"]
                else 1
                if soc <= p["BAT_LOW_THR"]
                else 0
            )
        else:
            v = self.battery.resting_v
            level = 2 if v <= p["BATT_CRT_VOLT"] else 1 if v <= p["BATT_LOW_VOLT"] else 0
        if level <= self.battery_level:
            return
        self.battery_level = level
        pct = self.battery_pct
        if px4:
            act = int(p["COM_LOW_BAT_ACT"])
            if level == 1:
                self.statustext(
                    M.MAV_SEVERITY_WARNING, f"Low battery level! Return advised ({pct:.0f}%)"
                )
            elif level == 2:
                if act in (1, 3):
                    self._failsafe_action(
                        "battery", Mode.RTL, f"Critical battery level! Executing RTL ({pct:.0f}%)"
                    )
                elif act == 2:
                    self._failsafe_action(
                        "battery", Mode.LAND, f"Critical battery level! Landing ({pct:.0f}%)"
                    )
                else:
                    self.statustext(
                        M.MAV_SEVERITY_CRITICAL, f"Critical battery level! ({pct:.0f}%)"
                    )
            elif level == 3:
                if act in (2, 3):
                    self._failsafe_action(
                        "battery", Mode.LAND, f"Emergency battery level! Landing ({pct:.0f}%)"
                    )
                else:
                    self.statustext(
                        M.MAV_SEVERITY_EMERGENCY, f"Emergency battery level! ({pct:.0f}%)"
                    )
        else:
            act = int(p["BATT_FS_LOW_ACT"] if level == 1 else p["BATT_FS_CRT_ACT"])
            word = "low" if level == 1 else "critical"
            text = f"Battery 1 is {word} {self.battery.resting_v:.2f}V used {self.battery.consumed_mah:.0f} mAh"
            if act in (2, 3, 4):
                self._failsafe_action("battery", Mode.RTL, text)
            elif act == 1:
                self._failsafe_action("battery", Mode.LAND, text)
            else:
                self.statustext(M.MAV_SEVERITY_CRITICAL, text)

    def _gcs_failsafe(self) -> None:
        if not self._gcs_seen or self.gcs_lost:
            return
        px4 = self.flavour == "px4"
        timeout = self.params["COM_DL_LOSS_T"] if px4 else self.params["FS_GCS_TIMEOUT"]
        if not self.clock.elapsed(self._gcs_last_sim, self._gcs_last_wall, timeout):
            return
        self.gcs_lost = True
        if px4:
            act = int(self.params["NAV_DLL_ACT"])
            mode = {1: Mode.HOLD, 2: Mode.RTL, 3: Mode.LAND}.get(act)
            if mode is None:
                self.statustext(M.MAV_SEVERITY_WARNING, "Connection to ground station lost")
                return
            self._failsafe_action("gcs", mode, "Connection to ground station lost")
        else:
            act = int(self.params["FS_GCS_ENABLE"])
            if act == 0 or (act == 2 and self.mode == Mode.MISSION):
                self.statustext(M.MAV_SEVERITY_WARNING, "GCS Failsafe")
                return
            self._failsafe_action("gcs", Mode.LAND if act == 5 else Mode.RTL, "GCS Failsafe")

    def _fence_check(self) -> None:
        assert self.fence is not None
        b = self.body
        breached = self.fence.breached(b.x, b.y)
        if not breached:
            self.fence_breached = False
            return
        if self.fence_breached or self.mode in (Mode.RTL, Mode.LAND):
            return
        self.fence_breached = True
        if self.flavour == "px4":
            act = int(self.params["GF_ACTION"])
            mode = {2: Mode.HOLD, 3: Mode.RTL, 5: Mode.LAND}.get(act)
            if mode is None:
                self.statustext(M.MAV_SEVERITY_WARNING, "Geofence breached")
                return
            self._failsafe_action("fence", mode, "Geofence breached")
        else:
            act = int(self.params["FENCE_ACTION"])
            mode = {1: Mode.RTL, 2: Mode.LAND, 4: Mode.BRAKE}.get(act)
            if mode is None:
                self.statustext(M.MAV_SEVERITY_WARNING, "Fence Breach")
                return
            self._failsafe_action("fence", mode, "Fence Breach")

    def _failsafe_action(self, why: str, mode: Mode, text: str) -> None:
        self.failsafe = why
        self.statustext(M.MAV_SEVERITY_CRITICAL, text)
        if mode == Mode.RTL and self.home is None:
            mode = Mode.LAND
        if self.mode == Mode.LAND and mode == Mode.RTL:
            return
        self.set_mode(mode, quiet=True)
        if mode == Mode.HOLD:
            b = self.body
            self.target = (b.x, b.y, b.alt_amsl)

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


class Faults:
    """Fault injection for one vehicle: link faults as attributes, the rest as methods."""

    def __init__(self, vehicle: SimVehicle) -> None:
        self._v = vehicle

    def _lf(self) -> LinkFaults:
        return self._v.link_faults

    loss_pct = property(
        lambda s: s._lf().loss_pct, lambda s, v: setattr(s._lf(), "loss_pct", float(v))
    )
    latency_ms = property(
        lambda s: s._lf().latency_ms, lambda s, v: setattr(s._lf(), "latency_ms", float(v))
    )
    duplicate_pct = property(
        lambda s: s._lf().duplicate_pct, lambda s, v: setattr(s._lf(), "duplicate_pct", float(v))
    )
    reorder_pct = property(
        lambda s: s._lf().reorder_pct, lambda s, v: setattr(s._lf(), "reorder_pct", float(v))
    )

    def kill(self) -> None:
        self._v.kill()

    def restart(self) -> None:
        self._v.restart()

    def gps_loss(self) -> None:
        self._v.lose_gps()

    def gps_restore(self) -> None:
        self._v.restore_gps()

    def motor_failure(self) -> None:
        self._v.fail_motor()

    def set_battery(self, pct: float) -> None:
        """Jump the battery to `pct` percent (e.g. to trigger the low-battery failsafe)."""
        self._v.battery.set_soc(pct / 100.0)


def _quat(roll_deg: float, pitch_deg: float, yaw_deg: float) -> list[float]:
    r, p, y = (math.radians(a) / 2 for a in (roll_deg, pitch_deg, yaw_deg))
    cr, sr, cp, sp, cy, sy = (
        math.cos(r),
        math.sin(r),
        math.cos(p),
        math.sin(p),
        math.cos(y),
        math.sin(y),
    )
    return [
        cr * cp * cy + sr * sp * sy,
        sr * cp * cy - cr * sp * sy,
        cr * sp * cy + sr * cp * sy,
        cr * cp * sy - sr * sp * cy,
    ]


def _nan_safe(x: float) -> float | str:
    return "nan" if x != x else x


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

_COMMANDS: dict[int, Callable[[SimVehicle, list[float], int | None], int]] = {
    M.MAV_CMD_COMPONENT_ARM_DISARM: SimVehicle._cmd_arm,
    M.MAV_CMD_NAV_TAKEOFF: SimVehicle._cmd_takeoff,
    M.MAV_CMD_DO_SET_MODE: SimVehicle._cmd_set_mode,
    M.MAV_CMD_MISSION_START: SimVehicle._cmd_mission_start,
    M.MAV_CMD_NAV_RETURN_TO_LAUNCH: SimVehicle._cmd_rtl,
    M.MAV_CMD_NAV_LAND: SimVehicle._cmd_land,
    M.MAV_CMD_DO_REPOSITION: SimVehicle._cmd_reposition,
    M.MAV_CMD_DO_ORBIT: SimVehicle._cmd_orbit,
    M.MAV_CMD_DO_SET_MISSION_CURRENT: SimVehicle._cmd_set_mission_current,
    M.MAV_CMD_DO_CHANGE_SPEED: SimVehicle._cmd_change_speed,
    M.MAV_CMD_DO_PAUSE_CONTINUE: SimVehicle._cmd_pause_continue,
    M.MAV_CMD_SET_MESSAGE_INTERVAL: SimVehicle._cmd_set_message_interval,
    M.MAV_CMD_REQUEST_MESSAGE: SimVehicle._cmd_request_message,
    M.MAV_CMD_REQUEST_AUTOPILOT_CAPABILITIES: SimVehicle._cmd_autopilot_caps,
    M.MAV_CMD_GET_HOME_POSITION: SimVehicle._cmd_get_home,
    M.MAV_CMD_DO_SET_HOME: SimVehicle._cmd_set_home,
    M.MAV_CMD_DO_MOUNT_CONTROL: SimVehicle._cmd_mount,
    M.MAV_CMD_DO_GIMBAL_MANAGER_PITCHYAW: SimVehicle._cmd_gimbal_pitchyaw,
    M.MAV_CMD_CONDITION_YAW: SimVehicle._cmd_condition_yaw,
    M.MAV_CMD_PREFLIGHT_REBOOT_SHUTDOWN: SimVehicle._cmd_reboot,
}
