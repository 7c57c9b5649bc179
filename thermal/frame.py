"""A thermal frame, the pose it was taken from, and their JSON form.

The JSON form is shared by sidecar files (``frame_000123.tiff`` + ``frame_000123.json``) and
the header of the simulator's frame stream (`thermal.framing`), so one parser serves both::

    {
      "format": "groundctl.frame/1",
      "timestamp": 1732350000.125,          # seconds since the Unix epoch, UTC
      "frame_id": 123,
      "vehicle_id": 1,                      # MAVLink system id, when known
      "camera": "h20t",                     # a name from configs/cameras.yaml, when known
      "scale": {"unit": "celsius", "gain": 0.01, "offset": -273.15},
      "pose": {
        "lat": 47.39, "lon": 8.54,
        "alt_amsl_m": 520.0,                # any of the three may be null
        "alt_agl_m": 80.0,                  # height above the ground below the drone
        "alt_rel_m": 80.0,                  # above take-off (DJI RelativeAltitude)
        "roll_deg": 0.0, "pitch_deg": 0.0, "yaw_deg": 90.0,
        "gimbal": {"roll_deg": 0.0, "pitch_deg": -90.0, "yaw_deg": 0.0, "frame": "vehicle"},
        "sigma": {"horizontal_m": 1.5, "vertical_m": 2.0, "attitude_deg": 1.0}
      }
    }

``scale`` maps stored values to the frame's unit: ``value = raw * gain + offset``. The unit
is ``celsius`` (radiometric) or ``relative`` (intensity only, e.g. 8-bit video). 16-bit
centi-Kelvin, the default of radiometric cores, is ``gain 0.01, offset -273.15``.

Angles follow MAVLink/aerospace conventions: vehicle attitude is NED with ZYX (yaw, pitch,
roll) Euler angles, yaw clockwise from true north. Gimbal pitch -90 looks straight down. Gimbal
angles are relative to the vehicle body unless ``frame`` is ``earth`` (DJI's XMP gives earth
angles: ``GimbalYawDegree`` is a compass heading).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from typing import Any, Literal

import numpy as np
from numpy.typing import NDArray

from thermal.errors import FrameError

FORMAT = "groundctl.frame/1"

Unit = Literal["celsius", "relative"]
GimbalFrame = Literal["vehicle", "earth"]


@dataclass(frozen=True)
class Scale:
    """How stored values map to the frame's unit: ``value = raw * gain + offset``."""

    unit: Unit = "celsius"
    gain: float = 1.0
    offset: float = 0.0

    @classmethod
    def centikelvin(cls) -> Scale:
        return cls("celsius", 0.01, -273.15)

    def apply(self, raw: NDArray[Any]) -> NDArray[np.float32]:
        out = raw.astype(np.float32)
        if self.gain != 1.0:
            out *= np.float32(self.gain)
        if self.offset != 0.0:
            out += np.float32(self.offset)
        return out

    def invert(self, values: NDArray[Any], dtype: np.dtype[Any] | type) -> NDArray[Any]:
        """Values in the frame's unit -> stored raw values of `dtype`, clipped to its range."""
        raw = (np.asarray(values, dtype=np.float64) - self.offset) / self.gain
        info = np.iinfo(dtype) if np.issubdtype(dtype, np.integer) else None
        if info is not None:
            raw = np.clip(np.rint(raw), info.min, info.max)
        return raw.astype(dtype)


@dataclass(frozen=True)
class Gimbal:
    roll_deg: float = 0.0
    pitch_deg: float = -90.0
    yaw_deg: float = 0.0
    frame: GimbalFrame = "vehicle"


@dataclass(frozen=True)
class PoseSigma:
    """One-sigma pose errors, used to give each ground position an uncertainty."""

    horizontal_m: float = 1.5
    vertical_m: float = 2.0
    attitude_deg: float = 1.0


@dataclass(frozen=True)
class Pose:
    """Where the camera was: vehicle position and attitude, and gimbal angles."""

    lat: float
    lon: float
    alt_amsl_m: float | None = None
    alt_agl_m: float | None = None
    alt_rel_m: float | None = None
    roll_deg: float = 0.0
    pitch_deg: float = 0.0
    yaw_deg: float = 0.0
    gimbal: Gimbal = field(default_factory=Gimbal)
    sigma: PoseSigma = field(default_factory=PoseSigma)

    def __post_init__(self) -> None:
        if not (math.isfinite(self.lat) and -90.0 <= self.lat <= 90.0):
            raise FrameError(f"pose latitude {self.lat!r} is outside -90..90")
        if not (math.isfinite(self.lon) and -180.0 <= self.lon <= 180.0):
            raise FrameError(f"pose longitude {self.lon!r} is outside -180..180")


@dataclass(frozen=True, eq=False)
class ThermalFrame:
    """One frame: values in °C (radiometric) or relative intensity, and where it was taken."""

    pixels: NDArray[np.float32]
    unit: Unit = "celsius"
    timestamp: float = 0.0
    frame_id: int = 0
    vehicle_id: int | None = None
    camera: str | None = None
    pose: Pose | None = None
    source: str = ""

    def __post_init__(self) -> None:
        if self.pixels.ndim != 2:
            raise FrameError(
                f"{self.source or 'frame'}: expected a single-channel image, got shape "
                f"{self.pixels.shape}"
            )

    @property
    def radiometric(self) -> bool:
        return self.unit == "celsius"

    @property
    def shape(self) -> tuple[int, int]:
        return self.pixels.shape  # type: ignore[return-value]


def pose_to_dict(pose: Pose) -> dict[str, Any]:
    return asdict(pose)


def pose_from_dict(data: Mapping[str, Any], where: str = "pose") -> Pose:
    try:
        gimbal = Gimbal(**(data.get("gimbal") or {}))
        sigma = PoseSigma(**(data.get("sigma") or {}))
        fields = {k: v for k, v in data.items() if k not in ("gimbal", "sigma")}
        return Pose(**fields, gimbal=gimbal, sigma=sigma)
    except TypeError as exc:
        raise FrameError(f"{where}: {_type_error_reason(exc)}") from None


def header_to_dict(frame: ThermalFrame, scale: Scale) -> dict[str, Any]:
    """The JSON header/sidecar of a frame (without the pixels)."""
    return {
        "format": FORMAT,
        "timestamp": frame.timestamp,
        "frame_id": frame.frame_id,
        "vehicle_id": frame.vehicle_id,
        "camera": frame.camera,
        "scale": asdict(scale),
        "pose": pose_to_dict(frame.pose) if frame.pose else None,
    }


def frame_from_header(
    header: Mapping[str, Any], raw: NDArray[Any], source: str = ""
) -> ThermalFrame:
    """Build a frame from stored raw values and their JSON header/sidecar."""
    where = source or "frame header"
    fmt = header.get("format", FORMAT)
    if fmt != FORMAT:
        raise FrameError(f"{where}: unknown format {fmt!r}; expected {FORMAT!r}")
    try:
        scale = Scale(**(header.get("scale") or {}))
    except TypeError as exc:
        raise FrameError(f"{where}: scale: {_type_error_reason(exc)}") from None
    if scale.unit not in ("celsius", "relative"):
        raise FrameError(f"{where}: scale.unit must be 'celsius' or 'relative', got {scale.unit!r}")
    pose_data = header.get("pose")
    return ThermalFrame(
        pixels=scale.apply(raw),
        unit=scale.unit,
        timestamp=float(header.get("timestamp") or 0.0),
        frame_id=int(header.get("frame_id") or 0),
        vehicle_id=header.get("vehicle_id"),
        camera=header.get("camera"),
        pose=pose_from_dict(pose_data, f"{where}: pose") if pose_data else None,
        source=source,
    )


def _type_error_reason(exc: TypeError) -> str:
    msg = str(exc)
    # "Pose.__init__() got an unexpected keyword argument 'altitude'" -> "unknown key 'altitude'"
    if "unexpected keyword argument" in msg:
        return "unknown key " + msg.rsplit("argument", 1)[1].strip()
    if "missing" in msg:
        return "missing key(s): " + msg.split(":", 1)[-1].strip()
    return msg
