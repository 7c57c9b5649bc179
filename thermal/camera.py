"""Camera intrinsics: the pinhole + Brown-Conrady model OpenCV uses, and rays from pixels.

Camera axes follow OpenCV: x to the image right, y to the image bottom, z along the optical
axis. Pixel centres are at integer coordinates (col, row); the image centre of a 640-wide
sensor is at cx = 319.5.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace

import cv2
import numpy as np
from numpy.typing import ArrayLike, NDArray

from thermal.errors import ThermalError


@dataclass(frozen=True)
class CameraModel:
    """Intrinsics of one thermal camera (focal lengths and principal point in pixels)."""

    width_px: int
    height_px: int
    fx: float
    fy: float
    cx: float
    cy: float
    k1: float = 0.0
    k2: float = 0.0
    p1: float = 0.0
    p2: float = 0.0
    k3: float = 0.0
    name: str = ""

    def __post_init__(self) -> None:
        if self.width_px <= 0 or self.height_px <= 0:
            raise ThermalError(
                f"camera {self.name or '?'}: image size {self.width_px}x{self.height_px} "
                "must be positive"
            )
        if not (self.fx > 0 and self.fy > 0 and math.isfinite(self.fx * self.fy)):
            raise ThermalError(f"camera {self.name or '?'}: focal lengths must be positive")

    @classmethod
    def from_fov(
        cls,
        width_px: int,
        height_px: int,
        hfov_deg: float,
        vfov_deg: float | None = None,
        distortion: tuple[float, float, float, float, float] = (0.0, 0.0, 0.0, 0.0, 0.0),
        name: str = "",
    ) -> CameraModel:
        """Square pixels unless `vfov_deg` says otherwise."""
        if not 0.0 < hfov_deg < 180.0:
            raise ThermalError(f"camera {name or '?'}: hfov_deg {hfov_deg} must be in (0, 180)")
        fx = width_px / 2.0 / math.tan(math.radians(hfov_deg) / 2.0)
        fy = fx if vfov_deg is None else height_px / 2.0 / math.tan(math.radians(vfov_deg) / 2.0)
        return cls._centred(width_px, height_px, fx, fy, distortion, name)

    @classmethod
    def from_focal_length(
        cls,
        width_px: int,
        height_px: int,
        focal_length_mm: float,
        pixel_pitch_um: float,
        distortion: tuple[float, float, float, float, float] = (0.0, 0.0, 0.0, 0.0, 0.0),
        name: str = "",
    ) -> CameraModel:
        if focal_length_mm <= 0 or pixel_pitch_um <= 0:
            raise ThermalError(
                f"camera {name or '?'}: focal_length_mm and pixel_pitch_um must be positive"
            )
        f_px = focal_length_mm * 1000.0 / pixel_pitch_um
        return cls._centred(width_px, height_px, f_px, f_px, distortion, name)

    @classmethod
    def _centred(
        cls,
        width_px: int,
        height_px: int,
        fx: float,
        fy: float,
        distortion: tuple[float, float, float, float, float],
        name: str,
    ) -> CameraModel:
        k1, k2, p1, p2, k3 = (float(v) for v in distortion)
        return cls(
            width_px, height_px, fx, fy, (width_px - 1) / 2.0, (height_px - 1) / 2.0,
            k1, k2, p1, p2, k3, name,
        )  # fmt: skip

    @property
    def matrix(self) -> NDArray[np.float64]:
        return np.array([[self.fx, 0, self.cx], [0, self.fy, self.cy], [0, 0, 1]], np.float64)

    @property
    def distortion(self) -> NDArray[np.float64]:
        return np.array([self.k1, self.k2, self.p1, self.p2, self.k3], np.float64)

    @property
    def distorted(self) -> bool:
        return any((self.k1, self.k2, self.p1, self.p2, self.k3))

    def scaled_to(self, width_px: int, height_px: int) -> CameraModel:
        """The same optics for a frame delivered at another resolution (e.g. a 2x-binned or
        upscaled video stream); distortion coefficients are resolution independent."""
        if (width_px, height_px) == (self.width_px, self.height_px):
            return self
        sx, sy = width_px / self.width_px, height_px / self.height_px
        return replace(
            self,
            width_px=width_px,
            height_px=height_px,
            fx=self.fx * sx,
            fy=self.fy * sy,
            cx=(self.cx + 0.5) * sx - 0.5,
            cy=(self.cy + 0.5) * sy - 0.5,
        )

    def rays(self, pixels_xy: ArrayLike) -> NDArray[np.float64]:
        """Unit rays in camera axes for (N, 2) pixel coordinates (col, row), distortion removed."""
        pts = np.asarray(pixels_xy, np.float64).reshape(-1, 2)
        if self.distorted:
            norm = cv2.undistortPoints(pts.reshape(-1, 1, 2), self.matrix, self.distortion).reshape(
                -1, 2
            )
        else:
            norm = np.column_stack(
                ((pts[:, 0] - self.cx) / self.fx, (pts[:, 1] - self.cy) / self.fy)
            )
        rays = np.column_stack((norm, np.ones(len(norm))))
        return rays / np.linalg.norm(rays, axis=1, keepdims=True)

    def project(self, rays_cam: ArrayLike) -> NDArray[np.float64]:
        """Camera-axis directions (N, 3) -> pixel coordinates (N, 2), with distortion."""
        r = np.asarray(rays_cam, np.float64).reshape(-1, 3)
        pts, _ = cv2.projectPoints(r, np.zeros(3), np.zeros(3), self.matrix, self.distortion)
        return pts.reshape(-1, 2)
