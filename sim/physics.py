"""Point-mass flight, wind and battery: the pure part of the simulator.

A vehicle is a point mass in a local frame (x east, y north, metres; altitude AMSL) that
tracks a commanded ground velocity within the airframe's envelope: horizontal airspeed up
to max_speed_ms, acceleration up to max_accel_ms2, climb and descent rates, yaw rate.
Attitude follows from the force needed (tilt into acceleration and drag). Power depends on
airspeed and climb, so wind changes both ground speed and endurance.

The battery is an energy store: full at battery_wh, drained by electrical power. Hover power
of a multicopter is battery_wh / endurance_min, so hovering from full to empty takes the
airframe's published endurance; a fixed-wing VTOL's published endurance is in cruise.
"""

from __future__ import annotations

import bisect
import math
import random
from dataclasses import dataclass

from sim.airframe import AirframeLike

G_MS2 = 9.80665

# Open-circuit voltage of one Li-ion/LiPo cell against state of charge (typical discharge
# curve): flat in the middle, steep at both ends.
_SOC = (0.0, 0.05, 0.1, 0.2, 0.3, 0.5, 0.7, 0.9, 1.0)
_OCV = (3.0, 3.3, 3.45, 3.6, 3.7, 3.8, 3.95, 4.1, 4.2)


def _interp(x: float, xs: tuple[float, ...], ys: tuple[float, ...]) -> float:
    # Scalar piecewise-linear interpolation: called every physics step, where np.interp's
    # per-call overhead would dominate.
    if x <= xs[0]:
        return ys[0]
    if x >= xs[-1]:
        return ys[-1]
    i = bisect.bisect_right(xs, x)
    x0, x1, y0, y1 = xs[i - 1], xs[i], ys[i - 1], ys[i]
    return y0 + (y1 - y0) * (x - x0) / (x1 - x0)


def cell_ocv(soc: float) -> float:
    return _interp(soc, _SOC, _OCV)


def soc_at_cell_voltage(volts: float) -> float:
    return _interp(volts, _OCV, _SOC)


@dataclass
class Battery:
    """Energy left and the last load; voltage sags with current through internal resistance."""

    capacity_wh: float
    cells: int
    energy_wh: float
    power_w: float = 0.0
    consumed_mah: float = 0.0

    @classmethod
    def full(cls, capacity_wh: float, cells: int) -> Battery:
        return cls(capacity_wh, cells, capacity_wh)

    @property
    def soc(self) -> float:
        return max(0.0, self.energy_wh / self.capacity_wh)

    @property
    def resting_v(self) -> float:
        return self.cells * cell_ocv(self.soc)

    @property
    def current_a(self) -> float:
        return self.power_w / max(self.resting_v, 1.0)

    @property
    def internal_ohm(self) -> float:
        # ~10 % sag at a 2C load: typical for a healthy drone pack.
        nominal_a = self.capacity_wh / (self.cells * 3.7)
        return 0.1 * self.cells * 3.7 / (2 * nominal_a)

    @property
    def voltage_v(self) -> float:
        return max(0.0, self.resting_v - self.current_a * self.internal_ohm)

    def drain(self, power_w: float, dt_s: float) -> None:
        self.power_w = power_w
        self.consumed_mah += self.current_a * dt_s / 3.6
        self.energy_wh = max(0.0, self.energy_wh - power_w * dt_s / 3600.0)

    def set_soc(self, soc: float) -> None:
        self.energy_wh = self.capacity_wh * min(max(soc, 0.0), 1.0)


def hover_power_w(af: AirframeLike) -> float:
    if af.kind == "fixed_wing_vtol":
        # VTOL hover costs several times cruise; the published endurance is in cruise.
        return 4.0 * cruise_power_w(af)
    return af.battery_wh / (af.endurance_min / 60.0)


def cruise_power_w(af: AirframeLike) -> float:
    if af.kind == "fixed_wing_vtol":
        return af.battery_wh / (af.endurance_min / 60.0)
    return hover_power_w(af) * _mc_speed_factor(af.cruise_speed_ms, af.max_speed_ms)


def _mc_speed_factor(airspeed_ms: float, max_speed_ms: float) -> float:
    # Translational lift lowers power at moderate speed; parasitic drag raises it near max.
    r = airspeed_ms / max_speed_ms
    return 1.0 - 0.15 * (1.0 - math.exp(-airspeed_ms / 5.0)) + 0.35 * r * r * r


def electrical_power_w(af: AirframeLike, airspeed_ms: float, climb_ms: float) -> float:
    """Power drawn in flight at this airspeed and climb rate."""
    if af.kind == "fixed_wing_vtol":
        transition_ms = 0.6 * af.cruise_speed_ms
        if airspeed_ms < transition_ms:
            base = hover_power_w(af)
        else:
            r = airspeed_ms / af.cruise_speed_ms
            base = cruise_power_w(af) * (0.5 / r + 0.5 * r * r * r)
    else:
        base = hover_power_w(af) * _mc_speed_factor(airspeed_ms, af.max_speed_ms)
    # Climbing lifts the mass at ~50 % propulsive efficiency; descending saves a little.
    climb_w = af.mass_kg * G_MS2 * climb_ms / 0.5
    return max(0.3 * base, base + (climb_w if climb_ms > 0 else 0.3 * climb_w))


IDLE_POWER_W = 5.0  # armed on the ground / avionics


@dataclass
class Wind:
    """Mean wind plus gusts (an Ornstein-Uhlenbeck process, correlation time ~5 s)."""

    speed_ms: float = 0.0
    from_deg: float = 0.0  # meteorological: direction the wind blows FROM
    gust_ms: float = 0.0
    gx: float = 0.0
    gy: float = 0.0

    def step(self, rng: random.Random, dt_s: float) -> None:
        if self.gust_ms <= 0:
            self.gx = self.gy = 0.0
            return
        tau = 5.0
        a = math.exp(-dt_s / tau)
        s = self.gust_ms * math.sqrt(1 - a * a)
        self.gx = a * self.gx + s * rng.gauss(0.0, 1.0)
        self.gy = a * self.gy + s * rng.gauss(0.0, 1.0)

    def velocity(self) -> tuple[float, float]:
        """Wind velocity (east, north) in m/s: where the air moves TO."""
        to = math.radians(self.from_deg + 180.0)
        return (self.speed_ms * math.sin(to) + self.gx, self.speed_ms * math.cos(to) + self.gy)


@dataclass
class Body:
    """Kinematic state of one vehicle."""

    x: float
    y: float
    alt_amsl: float
    vx: float = 0.0
    vy: float = 0.0
    vz: float = 0.0  # up
    yaw_deg: float = 0.0
    roll_deg: float = 0.0
    pitch_deg: float = 0.0
    yaw_rate_dps: float = 0.0


def _limit2(x: float, y: float, limit: float) -> tuple[float, float]:
    n = math.hypot(x, y)
    if n > limit > 0:
        k = limit / n
        return x * k, y * k
    return x, y


def _limit_turn(
    b: Body, af: AirframeLike, cmd_vx: float, cmd_vy: float, radius_m: float, dt: float
) -> tuple[float, float]:
    """In wing-borne flight the track turns at most at v / R; slow, it turns like a hover."""
    v = math.hypot(b.vx, b.vy)
    speed = math.hypot(cmd_vx, cmd_vy)
    if v < 0.6 * af.cruise_speed_ms or speed < 0.6 * af.cruise_speed_ms:
        return cmd_vx, cmd_vy
    cur = math.atan2(b.vx, b.vy)
    want = math.atan2(cmd_vx, cmd_vy)
    diff = (want - cur + math.pi) % (2 * math.pi) - math.pi
    max_turn = v / radius_m * dt
    if abs(diff) <= max_turn:
        return cmd_vx, cmd_vy
    heading = cur + math.copysign(max_turn, diff)
    return speed * math.sin(heading), speed * math.cos(heading)


def step_body(
    b: Body,
    af: AirframeLike,
    cmd_vx: float,
    cmd_vy: float,
    cmd_vz: float,
    cmd_yaw_deg: float | None,
    wind: tuple[float, float],
    dt: float,
    descent_limit_ms: float | None = None,
) -> float:
    """Advance `b` by dt toward the commanded ground velocity; return the airspeed (m/s)."""
    wx, wy = wind
    # The controller cannot exceed max airspeed: clip the commanded air-relative velocity.
    ax_cmd, ay_cmd = _limit2(cmd_vx - wx, cmd_vy - wy, af.max_speed_ms)
    cmd_vx, cmd_vy = ax_cmd + wx, ay_cmd + wy
    radius = getattr(af, "min_turn_radius_m", 0.0)
    if radius > 0:
        cmd_vx, cmd_vy = _limit_turn(b, af, cmd_vx, cmd_vy, radius, dt)
    dvx, dvy = _limit2(cmd_vx - b.vx, cmd_vy - b.vy, af.max_accel_ms2 * dt)
    b.vx += dvx
    b.vy += dvy
    vz_cmd = max(-(descent_limit_ms or af.descent_rate_ms), min(af.climb_rate_ms, cmd_vz))
    dvz = max(-af.max_accel_ms2 * dt, min(af.max_accel_ms2 * dt, vz_cmd - b.vz))
    b.vz += dvz
    b.x += b.vx * dt
    b.y += b.vy * dt
    b.alt_amsl += b.vz * dt
    if cmd_yaw_deg is not None:
        err = (cmd_yaw_deg - b.yaw_deg + 540.0) % 360.0 - 180.0
        turn = max(-af.yaw_rate_dps * dt, min(af.yaw_rate_dps * dt, err))
        b.yaw_rate_dps = turn / dt if dt > 0 else 0.0
        b.yaw_deg = (b.yaw_deg + turn) % 360.0
    else:
        b.yaw_rate_dps = 0.0
    air_x, air_y = b.vx - wx, b.vy - wy
    airspeed = math.hypot(air_x, air_y)
    # Tilt: the thrust vector balances acceleration and linear drag (30 deg at max speed).
    k_drag = G_MS2 * math.tan(math.radians(30.0)) / af.max_speed_ms
    fx = dvx / dt + k_drag * air_x if dt > 0 else 0.0
    fy = dvy / dt + k_drag * air_y if dt > 0 else 0.0
    yaw = math.radians(b.yaw_deg)
    fwd = fx * math.sin(yaw) + fy * math.cos(yaw)
    right = fx * math.cos(yaw) - fy * math.sin(yaw)
    b.pitch_deg = -math.degrees(math.atan2(fwd, G_MS2))
    b.roll_deg = math.degrees(math.atan2(right, G_MS2))
    return airspeed


def endurance_hover_s(af: AirframeLike, dt_s: float = 1.0) -> float:
    """Time to drain a full battery hovering in still air (the model's endurance)."""
    bat = Battery.full(af.battery_wh, af.battery_cells)
    t = 0.0
    p = electrical_power_w(af, 0.0 if af.kind == "multicopter" else af.cruise_speed_ms, 0.0)
    while bat.energy_wh > 0:
        bat.drain(p, dt_s)
        t += dt_s
    return t
