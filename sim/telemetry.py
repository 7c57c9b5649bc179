"""Telemetry a simulated vehicle sends: streams at their rates, and messages on request."""

from __future__ import annotations

import math
import struct
from typing import Any

from sim import mission as ms
from sim.mav import M
from sim.modes import Mode, custom_mode
from sim.physics import IDLE_POWER_W

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


class TelemetryMixin:
    """Message building and sending of `SimVehicle`."""

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
        if self.acks_to_drop.get(command, 0) > 0:
            self.acks_to_drop[command] -= 1
            return
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
        px4 = self.flavour == "px4"
        seq = 65535 if px4 and self.mis_seq_unknown else self.mis_seq
        stale = self._stale_current  # PX4: a MISSION_SET_CURRENT overtaken (missionproto)
        if stale is not None and stale[1] == seq and self.mode != Mode.MISSION:
            seq = stale[0]
        return M.MAVLink_mission_current_message(
            seq,
            65535 if px4 and not items else len(items),
            self.mis_state if items else M.MISSION_STATE_NO_MISSION,
            1 if self.mode == Mode.MISSION else 0,
            self.plan_ids[ms.MISSION],
            self.plan_ids[ms.FENCE],
            self.plan_ids[ms.RALLY],
        )


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
