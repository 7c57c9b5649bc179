"""The camera mount under a simulated drone: a 3-axis stabilised gimbal, or a body-fixed camera.

SAR payloads (DJI H20T/H30T, Mavic 3T, XT2, a Boson on a gimbal) hang on a stabilised
gimbal: the camera holds its commanded pitch (-90 = nadir) and zero roll in the EARTH frame
whatever the vehicle's attitude, and its yaw follows the vehicle's heading plus a commanded
offset (yaw-follow). The multicopter pitches 20-40 degrees at cruise and rolls in turns; a
stabilised camera still looks straight down.

The joints are yaw (outer), roll, pitch (inner), as on DJI gimbals: their angles are
relative to the body and limited mechanically (roll joint +-45 deg by default). Past a limit
the joint stops and the camera tilts with the body by the excess. A small residual error
(`residual_deg`, one sigma per axis, a Gauss-Markov process in simulated time, seeded)
remains: motor tracking and gimbal-IMU error.

The frame header describes the camera as `thermal.frame` documents it: a stabilised camera
gets EARTH-frame gimbal angles (DJI's convention, ``frame: earth``), a fixed one
body-relative angles (``frame: vehicle``). Header angles are ZYX Euler angles of the true
camera orientation (to float precision), so `thermal.georef.camera_to_ned` of the header is
the rotation the renderer used. At nadir ZYX Euler angles are gimbal-locked: a tiny sideways
tilt there shows as a yaw away from the heading and a roll that compensates it. Only the
rotation they make is meaningful, which is what georeferencing uses.

Scenario YAML (``gimbal:`` section, every field optional)::

    gimbal: {mode: stabilised, pitch_deg: -90}    # or mode: fixed (a body-fixed camera)

MAVLink MAV_CMD_DO_MOUNT_CONTROL / MAV_CMD_DO_GIMBAL_MANAGER_PITCHYAW (commands and mission
items, handled in `sim.commands` / `sim.flight`) set the commanded pitch and yaw offset.
"""

from __future__ import annotations

import math
import random
from dataclasses import dataclass, replace
from typing import Literal

import numpy as np
from numpy.typing import NDArray
from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from thermal.frame import Gimbal, Pose

GimbalMode = Literal["stabilised", "fixed"]


class GimbalSpec(BaseModel):
    """How the camera is mounted. Angles in degrees."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    mode: GimbalMode = "stabilised"
    # Commanded at power-on: earth-frame pitch (stabilised) or the mount's pitch in the body
    # (fixed); yaw is relative to the nose in both modes.
    pitch_deg: float = Field(default=-90.0, ge=-180, le=180)
    yaw_deg: float = Field(default=0.0, ge=-360, le=360)
    # What a pitch command may ask for (earth frame): DJI enterprise payloads allow -90..+30.
    pitch_range_deg: tuple[float, float] = (-90.0, 30.0)
    # Mechanical joint ranges, relative to the body.
    pitch_joint_deg: tuple[float, float] = (-135.0, 45.0)
    roll_joint_deg: float = Field(default=45.0, gt=0, le=90)  # +-
    yaw_joint_deg: float = Field(default=320.0, ge=0, le=360)  # +-
    # Residual stabilisation error: one sigma per axis, and how fast it wanders.
    residual_deg: float = Field(default=0.1, ge=0, le=5)
    residual_tau_s: float = Field(default=0.5, gt=0, le=60)

    @field_validator("mode", mode="before")
    @classmethod
    def _spelling(cls, v: object) -> object:
        return "stabilised" if v == "stabilized" else v

    @model_validator(mode="after")
    def _ranges(self) -> GimbalSpec:
        for name in ("pitch_range_deg", "pitch_joint_deg"):
            lo, hi = getattr(self, name)
            if not -180 <= lo <= hi <= 180:
                raise ValueError(f"{name} must be [min, max] within -180..180, got [{lo}, {hi}]")
        lo, hi = self.pitch_range_deg
        if self.mode == "stabilised" and not lo <= self.pitch_deg <= hi:
            raise ValueError(f"pitch_deg {self.pitch_deg} is outside pitch_range_deg [{lo}, {hi}]")
        return self


# camera (x right, y down, z forward) -> gimbal axes (x along the optical axis), as in georef
_CAM_TO_GIMBAL = np.array([[0.0, 0.0, 1.0], [1.0, 0.0, 0.0], [0.0, 1.0, 0.0]])


def rotation_zyx(yaw_deg: float, pitch_deg: float, roll_deg: float) -> NDArray[np.float64]:
    """Body -> NED for aerospace ZYX Euler angles (the convention of `thermal.frame`)."""
    return _rz(yaw_deg) @ _ry(pitch_deg) @ _rx(roll_deg)


def euler_zyx(r: NDArray[np.float64], yaw_hint_deg: float = 0.0) -> tuple[float, float, float]:
    """(yaw, pitch, roll) in degrees with ``rotation_zyx(yaw, pitch, roll) == r``.

    Of the two equivalent triples (pitch p, or +-180 - p with yaw and roll turned half a
    turn) the one with yaw nearer `yaw_hint_deg` is returned, so a camera tilted a hair past
    nadir keeps a yaw near the heading (pitch then reads e.g. -90.1). Exactly at +-90 pitch
    roll is 0 and yaw carries the whole rotation about the vertical.
    """
    cp = math.hypot(r[0, 0], r[1, 0])
    if cp < 1e-12:
        pitch = math.copysign(90.0, -r[2, 0])
        return math.degrees(math.atan2(-r[0, 1], r[1, 1])), pitch, 0.0
    yaw = math.degrees(math.atan2(r[1, 0], r[0, 0]))
    pitch = math.degrees(math.atan2(-r[2, 0], cp))
    roll = math.degrees(math.atan2(r[2, 1], r[2, 2]))
    if abs(_wrap(yaw - yaw_hint_deg)) > 90.0:
        yaw, pitch, roll = yaw + 180.0, math.copysign(180.0, pitch) - pitch, roll + 180.0
    return _wrap(yaw), pitch, _wrap(roll)


@dataclass(frozen=True)
class Orientation:
    """Where the gimbal points: `gimbal_to_ned` (camera_to_ned = gimbal_to_ned @ cam->gimbal),
    the joint angles (degrees, body-relative) and whether a joint is at its stop."""

    gimbal_to_ned: NDArray[np.float64]
    joints_deg: tuple[float, float, float]  # yaw, roll, pitch
    at_limit: bool

    @property
    def camera_to_ned(self) -> NDArray[np.float64]:
        return self.gimbal_to_ned @ _CAM_TO_GIMBAL

    @property
    def off_nadir_deg(self) -> float:
        """Angle between the optical axis and straight down."""
        return math.degrees(math.acos(max(-1.0, min(1.0, float(self.gimbal_to_ned[2, 0])))))


class GimbalModel:
    """One vehicle's camera mount: its commanded angles, limits and residual error."""

    def __init__(self, spec: GimbalSpec | None = None, seed: int = 0) -> None:
        self._rng = random.Random(seed)
        self.configure(spec or GimbalSpec())

    def configure(self, spec: GimbalSpec) -> None:
        """Install a (new) mount; commanded angles go back to the spec's."""
        self.spec = spec
        self.pitch_cmd_deg = spec.pitch_deg
        self.yaw_cmd_deg = _wrap(spec.yaw_deg)
        self._err = [0.0, 0.0, 0.0]  # about the gimbal's roll, pitch, yaw axes, degrees

    @property
    def stabilised(self) -> bool:
        return self.spec.mode == "stabilised"

    def command(self, pitch_deg: float | None, yaw_deg: float | None) -> bool:
        """A pitch (earth frame) and a yaw offset from the nose; None or NaN keeps the current
        one. Pitch is clamped to the commandable range. False for a fixed camera."""
        if not self.stabilised:
            return False
        if pitch_deg is not None and math.isfinite(pitch_deg):
            lo, hi = self.spec.pitch_range_deg
            self.pitch_cmd_deg = max(lo, min(hi, pitch_deg))
        if yaw_deg is not None and math.isfinite(yaw_deg):
            self.yaw_cmd_deg = _wrap(yaw_deg)
        return True

    def step(self, dt_s: float) -> None:
        """Advance the residual error (simulated time: the same seed gives the same error)."""
        s = self.spec
        if not self.stabilised or s.residual_deg <= 0:
            return
        a = math.exp(-dt_s / s.residual_tau_s)
        k = s.residual_deg * math.sqrt(1.0 - a * a)
        self._err = [a * e + k * self._rng.gauss(0.0, 1.0) for e in self._err]

    def orient(self, roll_deg: float, pitch_deg: float, yaw_deg: float) -> Orientation:
        """The gimbal's orientation under a vehicle with this (true) attitude."""
        body = rotation_zyx(yaw_deg, pitch_deg, roll_deg)
        if not self.stabilised:
            rel = rotation_zyx(self.yaw_cmd_deg, self.pitch_cmd_deg, 0.0)
            return Orientation(body @ rel, (self.yaw_cmd_deg, 0.0, self.pitch_cmd_deg), False)
        want = rotation_zyx(yaw_deg + self.yaw_cmd_deg, self.pitch_cmd_deg, 0.0)
        j_yaw, j_roll, j_pitch = _joints(body.T @ want)
        s = self.spec
        lo, hi = s.pitch_joint_deg
        c_yaw = max(-s.yaw_joint_deg, min(s.yaw_joint_deg, j_yaw))
        c_roll = max(-s.roll_joint_deg, min(s.roll_joint_deg, j_roll))
        c_pitch = max(lo, min(hi, j_pitch))
        at_limit = (c_yaw, c_roll, c_pitch) != (j_yaw, j_roll, j_pitch)
        rel = _rz(c_yaw) @ _rx(c_roll) @ _ry(c_pitch)
        # The residual error: a small rotation about the camera's own axes.
        er, ep, ey = self._err
        g = body @ rel @ _rz(ey) @ _ry(ep) @ _rx(er)
        return Orientation(g, (c_yaw, c_roll, c_pitch), at_limit)

    def mount(self, true: Pose, estimated: Pose) -> tuple[Pose, Pose]:
        """Give the vehicle's (true, estimated) poses the camera's gimbal angles.

        Stabilised: earth-frame angles. The true pose's are the camera's true orientation;
        the estimated pose's are what the payload reports, the joint angles (encoders, exact)
        on top of the autopilot's attitude estimate, so its attitude error carries over as it
        did for a body-fixed camera. Fixed: the mount's body-relative angles in both.
        """
        if not self.stabilised:
            g = Gimbal(0.0, self.pitch_cmd_deg, self.yaw_cmd_deg, "vehicle")
            return replace(true, gimbal=g), replace(estimated, gimbal=g)
        o = self.orient(true.roll_deg, true.pitch_deg, true.yaw_deg)
        body_true = rotation_zyx(true.yaw_deg, true.pitch_deg, true.roll_deg)
        body_est = rotation_zyx(estimated.yaw_deg, estimated.pitch_deg, estimated.roll_deg)
        g_est = body_est @ body_true.T @ o.gimbal_to_ned
        hint_true = true.yaw_deg + self.yaw_cmd_deg
        hint_est = estimated.yaw_deg + self.yaw_cmd_deg
        return (
            replace(true, gimbal=_earth_gimbal(o.gimbal_to_ned, hint_true)),
            replace(estimated, gimbal=_earth_gimbal(g_est, hint_est)),
        )


def _earth_gimbal(g: NDArray[np.float64], yaw_hint_deg: float) -> Gimbal:
    yaw, pitch, roll = euler_zyx(g, yaw_hint_deg)
    return Gimbal(roll, pitch, yaw % 360.0, "earth")


def _joints(rel: NDArray[np.float64]) -> tuple[float, float, float]:
    """(yaw, roll, pitch) joint angles of ``rel = Rz(yaw) Rx(roll) Ry(pitch)``, degrees.

    Singular only with the roll joint at +-90, far outside any gimbal's range; nadir (pitch
    joint -90) is regular in this order, unlike in ZYX Euler angles.
    """
    roll = math.degrees(math.asin(max(-1.0, min(1.0, float(rel[2, 1])))))
    pitch = math.degrees(math.atan2(-rel[2, 0], rel[2, 2]))
    yaw = math.degrees(math.atan2(-rel[0, 1], rel[1, 1]))
    return yaw, roll, pitch


def _wrap(deg: float) -> float:
    """Into (-180, 180]."""
    w = math.fmod(deg, 360.0)
    if w > 180.0:
        w -= 360.0
    elif w <= -180.0:
        w += 360.0
    return w


def _rx(deg: float) -> NDArray[np.float64]:
    c, s = math.cos(math.radians(deg)), math.sin(math.radians(deg))
    return np.array([[1.0, 0.0, 0.0], [0.0, c, -s], [0.0, s, c]])


def _ry(deg: float) -> NDArray[np.float64]:
    c, s = math.cos(math.radians(deg)), math.sin(math.radians(deg))
    return np.array([[c, 0.0, s], [0.0, 1.0, 0.0], [-s, 0.0, c]])


def _rz(deg: float) -> NDArray[np.float64]:
    c, s = math.cos(math.radians(deg)), math.sin(math.radians(deg))
    return np.array([[c, -s, 0.0], [s, c, 0.0], [0.0, 0.0, 1.0]])
