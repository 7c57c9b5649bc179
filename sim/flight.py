"""Flight of a simulated vehicle: physics steps, navigation, mission execution, failsafes."""

from __future__ import annotations

import math
from dataclasses import dataclass

from sim import mission as ms
from sim.mav import M
from sim.modes import Mode
from sim.physics import IDLE_POWER_W, electrical_power_w, step_body


@dataclass
class Orbit:
    cx: float
    cy: float
    alt_amsl: float
    radius_m: float
    speed_ms: float


NOISE_EVERY = 5


class FlightMixin:
    """Per-step flight logic of `SimVehicle`."""

    _noise_steps = 0

    def step(self, dt: float) -> None:
        """Advance flight, battery, sensors and failsafes by dt simulated seconds."""
        now = self.clock.sim_s
        if self.home is None and self.gps_ok and not self.killed:
            self.set_home(self.body.x, self.body.y, self.ground_at(self.body.x, self.body.y))
            self.statustext(
                M.MAV_SEVERITY_INFO,
                "home set" if self.flavour == "px4" else "EKF3 IMU0 is using GPS",
            )
        # The noise processes (gusts, GPS and attitude error) vary over seconds: advance them
        # every NOISE_EVERY physics steps, which keeps them cheap and still deterministic.
        self._noise_steps += 1
        if self._noise_steps >= NOISE_EVERY:
            self._noise_steps = 0
            self.wind.step(self.rng, dt * NOISE_EVERY)
            self._step_gps_error(dt * NOISE_EVERY)
            self.gimbal.step(dt * NOISE_EVERY)
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
            # Nothing on the ground races this one: it runs in simulated time only. The
            # pre-flight disarm below must also give a ground station time to send take-off.
            if landed_delay > 0 and self.clock.sim_s - self._landed_since_sim >= landed_delay:
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
        self.mis_seq_unknown = False
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
