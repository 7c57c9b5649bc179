"""Commands (COMMAND_LONG / COMMAND_INT) and mode changes of a simulated vehicle."""

from __future__ import annotations

import asyncio
import math
from collections.abc import Callable
from typing import Any

from sim import mission as ms
from sim.flight import Orbit
from sim.mav import ACCEPTED, DENIED, FAILED, TEMP_REJECTED, UNSUPPORTED, M
from sim.modes import Mode, decode
from sim.telemetry import DEFAULT_STREAMS


class CommandsMixin:
    """MAV_CMD handlers of `SimVehicle`; each returns a MAV_RESULT."""

    _paused = False  # ArduPilot DO_PAUSE_CONTINUE: holding inside AUTO

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
        self._run_command(msg.command, params, msg.frame, self._requester(msg), None)

    def _run_command(
        self,
        cmd: int,
        params: list[float],
        frame: int | None,
        requester: tuple[int, int],
        confirmation: int | None,
    ) -> None:
        """Execute a command and ACK it; `confirmation` is None for COMMAND_INT (no such field).

        A ground station re-sends a command whose ACK was lost. Real autopilots execute the
        re-send again (a second take-off is then refused); the sim, unless told to behave that
        way, answers it with the first result. A COMMAND_LONG re-send has a higher
        `confirmation`; a COMMAND_INT one can only be told by arriving soon after.
        """
        key = (requester, cmd, tuple(_nan_safe(x) for x in params), frame)
        now = self.clock.wall()
        last = self._last_command
        if last is not None and last[0] == key and not self.execute_resent_commands:
            if confirmation is None:
                resent = now - last[2] < 3.0
            else:
                resent = last[3] is not None and last[3] < confirmation and now - last[2] < 15.0
            if resent:
                self._last_command = (key, last[1], last[2], confirmation)
                self._ack(cmd, last[1], requester)
                return
        result = self.command(cmd, params, frame=frame, requester=requester)
        self._last_command = (key, result, now, confirmation)
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
        if self.mode != Mode.MISSION:
            self.disarmed_inactive = True
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
            # PX4 goes back to the mode the pilot chose: a return ordered during a mission
            # lands in AUTO.MISSION (as PX4 SITL v1.16 does), anything else in hold.
            back = getattr(self, "mode_before_return", Mode.HOLD)
            self.set_mode(Mode.MISSION if back == Mode.MISSION else Mode.HOLD, quiet=True)

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
        if self.request_mode(mode):
            return ACCEPTED
        return DENIED if self.flavour == "px4" else FAILED

    def _cmd_mission_start(self, p: list[float], frame: int | None) -> int:
        self._paused = False
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
        self.set_mode(Mode.ORBIT, quiet=True)
        self.orbit = Orbit(cx, cy, alt, abs(radius) * (1 if radius > 0 else -1), abs(speed))
        self.statustext(M.MAV_SEVERITY_INFO, f"Orbit: radius {abs(radius):.0f} m")
        return ACCEPTED

    def _cmd_set_mission_current(self, p: list[float], frame: int | None) -> int:
        if self.flavour == "px4":
            return UNSUPPORTED  # PX4 v1.16 honours only the MISSION_SET_CURRENT message
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

    # Both set the stabilised gimbal's earth-frame pitch and its yaw offset from the nose
    # (yaw-follow); a body-fixed camera cannot move.
    def _cmd_mount(self, p: list[float], frame: int | None) -> int:
        return ACCEPTED if self.gimbal.command(p[0], p[2]) else UNSUPPORTED

    def _cmd_gimbal_pitchyaw(self, p: list[float], frame: int | None) -> int:
        return ACCEPTED if self.gimbal.command(p[0], p[1]) else UNSUPPORTED

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
        try:
            asyncio.get_running_loop().call_later(delay_s, fn)
        except RuntimeError:
            fn()


def _nan_safe(x: float) -> float | str:
    return "nan" if x != x else x


_COMMANDS: dict[int, Callable[[Any, list[float], int | None], int]] = {
    M.MAV_CMD_COMPONENT_ARM_DISARM: CommandsMixin._cmd_arm,
    M.MAV_CMD_NAV_TAKEOFF: CommandsMixin._cmd_takeoff,
    M.MAV_CMD_DO_SET_MODE: CommandsMixin._cmd_set_mode,
    M.MAV_CMD_MISSION_START: CommandsMixin._cmd_mission_start,
    M.MAV_CMD_NAV_RETURN_TO_LAUNCH: CommandsMixin._cmd_rtl,
    M.MAV_CMD_NAV_LAND: CommandsMixin._cmd_land,
    M.MAV_CMD_DO_REPOSITION: CommandsMixin._cmd_reposition,
    M.MAV_CMD_DO_ORBIT: CommandsMixin._cmd_orbit,
    M.MAV_CMD_DO_SET_MISSION_CURRENT: CommandsMixin._cmd_set_mission_current,
    M.MAV_CMD_DO_CHANGE_SPEED: CommandsMixin._cmd_change_speed,
    M.MAV_CMD_DO_PAUSE_CONTINUE: CommandsMixin._cmd_pause_continue,
    M.MAV_CMD_SET_MESSAGE_INTERVAL: CommandsMixin._cmd_set_message_interval,
    M.MAV_CMD_REQUEST_MESSAGE: CommandsMixin._cmd_request_message,
    M.MAV_CMD_REQUEST_AUTOPILOT_CAPABILITIES: CommandsMixin._cmd_autopilot_caps,
    M.MAV_CMD_GET_HOME_POSITION: CommandsMixin._cmd_get_home,
    M.MAV_CMD_DO_SET_HOME: CommandsMixin._cmd_set_home,
    M.MAV_CMD_DO_MOUNT_CONTROL: CommandsMixin._cmd_mount,
    M.MAV_CMD_DO_GIMBAL_MANAGER_PITCHYAW: CommandsMixin._cmd_gimbal_pitchyaw,
    M.MAV_CMD_CONDITION_YAW: CommandsMixin._cmd_condition_yaw,
    M.MAV_CMD_PREFLIGHT_REBOOT_SHUTDOWN: CommandsMixin._cmd_reboot,
}
