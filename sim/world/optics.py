"""The thermal camera's model: what the renderer needs of a camera (`CameraSpec`), its
optics and sensor imperfections (`SensorModel`), what a frame holds (`Rendered`,
`TargetView`), and the geometry from a pose to camera rays (`camera_to_enu`, `intrinsics`).

Conventions match `thermal.georef`: camera axes x right, y down, z forward; the gimbal at
zero looks along the nose with image right along the right wing; ZYX aerospace angles, NED;
gimbal pitch -90 looks straight down. Intrinsics are the pinhole of the camera's focal length
and pixel pitch (``fx = fy = focal_length_mm / pixel_pitch_um``), principal point at the image
centre ((w-1)/2, (h-1)/2), OpenCV distortion (k1, k2, p1, p2, k3).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Protocol, runtime_checkable

import numpy as np
from numpy.typing import NDArray

from thermal.frame import Pose

_CAM_TO_BODY = np.array([[0.0, 0.0, 1.0], [1.0, 0.0, 0.0], [0.0, 1.0, 0.0]])
_NED_TO_ENU = np.array([[0.0, 1.0, 0.0], [1.0, 0.0, 0.0], [0.0, 0.0, -1.0]])


@runtime_checkable
class CameraSpec(Protocol):
    """What the renderer needs of a camera: the fields of groundctl's CameraConfig."""

    name: str
    width_px: int
    height_px: int
    pixel_pitch_um: float
    focal_length_mm: float
    frame_rate_hz: float
    netd_mk: float
    distortion: tuple[float, float, float, float, float]


@dataclass(frozen=True)
class SensorModel:
    """Optics and sensor imperfections; `ideal()` turns them all off (for geometry tests)."""

    blur_sigma_px: float = 0.7
    temporal_noise: bool = True  # NETD, from the camera's netd_mk
    fpn_pixel_c: float = 0.04  # fixed per-pixel offsets (1 sigma)
    fpn_column_c: float = 0.02  # column offsets of the read-out (1 sigma)
    vignette_c: float = 0.35  # corners read this much colder than the centre
    atmosphere: bool = True

    @classmethod
    def ideal(cls) -> SensorModel:
        return cls(0.0, False, 0.0, 0.0, 0.0, False)


@dataclass(frozen=True)
class TargetView:
    """How one target appears in a frame (pixel counts before blur)."""

    id: str
    silhouette_px: int  # pixels its body covers in this view
    visible_px: int  # of those, not hidden by terrain, grass or canopy
    centre_px: tuple[float, float]  # projected ground point (col, row)

    @property
    def visible_fraction(self) -> float:
        return self.visible_px / self.silhouette_px if self.silhouette_px else 0.0


@dataclass(frozen=True, eq=False)
class Rendered:
    celsius: NDArray[np.float32]
    targets: dict[str, TargetView] = field(default_factory=dict)


def rotation_zyx(yaw_deg: float, pitch_deg: float, roll_deg: float) -> NDArray[np.float64]:
    """Body -> NED for aerospace ZYX Euler angles."""
    y, p, r = (math.radians(v) for v in (yaw_deg, pitch_deg, roll_deg))
    cy, sy, cp, sp = math.cos(y), math.sin(y), math.cos(p), math.sin(p)
    cr, sr = math.cos(r), math.sin(r)
    return np.array(
        [
            [cy * cp, cy * sp * sr - sy * cr, cy * sp * cr + sy * sr],
            [sy * cp, sy * sp * sr + cy * cr, sy * sp * cr - cy * sr],
            [-sp, cp * sr, cp * cr],
        ]
    )


def camera_to_enu(pose: Pose) -> NDArray[np.float64]:
    """Rotation taking camera-axis vectors to local east-north-up."""
    g = pose.gimbal
    r_gimbal = rotation_zyx(g.yaw_deg, g.pitch_deg, g.roll_deg)
    if g.frame == "earth":
        r = r_gimbal @ _CAM_TO_BODY
    else:
        r = rotation_zyx(pose.yaw_deg, pose.pitch_deg, pose.roll_deg) @ r_gimbal @ _CAM_TO_BODY
    return _NED_TO_ENU @ r


def intrinsics(camera: CameraSpec) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    f = camera.focal_length_mm * 1000.0 / camera.pixel_pitch_um
    k = np.array(
        [[f, 0, (camera.width_px - 1) / 2.0], [0, f, (camera.height_px - 1) / 2.0], [0, 0, 1]]
    )
    return k, np.asarray(camera.distortion, np.float64)
