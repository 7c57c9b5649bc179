"""The thermal camera: radiometric frames (°C, float32) of a World seen from a Pose.

Per frame, fully vectorised: every pixel's precomputed ray (lens distortion included) is
rotated by vehicle attitude and gimbal and cast to the terrain (`sim.world.raycast`); the
background temperature is looked up where it lands; targets are drawn as the projected
silhouettes of their bodies (`sim.world.bodies`); tree crowns are looked up where the ray
crosses the canopy layer (so what canopy hides depends on the view angle); then the sensor:
atmospheric extinction, optics blur, vignetting, fixed-pattern noise and temporal noise
(NETD) (`SensorModel`).

The camera's model, its conventions and the pose-to-ray geometry are in `sim.world.optics`;
its names are importable from here too.
"""

from __future__ import annotations

import cv2
import numpy as np
from numpy.typing import NDArray

from sim.errors import SimError
from sim.world.bodies import TargetPainter, canopy_views
from sim.world.optics import (
    CameraSpec,
    Rendered,
    SensorModel,
    TargetView,
    camera_to_enu,
    intrinsics,
    rotation_zyx,
)
from sim.world.raycast import MAX_RANGE_M, TerrainCaster
from sim.world.world import World
from thermal.frame import Pose

__all__ = [
    "MAX_RANGE_M",
    "CameraSpec",
    "Rendered",
    "Renderer",
    "SensorModel",
    "TargetView",
    "camera_to_enu",
    "intrinsics",
    "rotation_zyx",
]

_NOISE_BANK, _NOISE_PAD = 8, 64


class Renderer(TerrainCaster, TargetPainter):
    """Renders one camera's view of one world. Thread-safe for concurrent `render` calls
    (all per-frame state is local; the precomputed maps are read-only)."""

    def __init__(
        self,
        world: World,
        camera: CameraSpec,
        seed: int = 0,
        sensor: SensorModel | None = None,
    ) -> None:
        self.world = world
        self.camera = camera
        self.seed = seed
        self.sensor = sensor or SensorModel()
        self.k, self.dist = intrinsics(camera)
        w, h = camera.width_px, camera.height_px
        self.shape = (h, w)
        cols, rows = np.meshgrid(np.arange(w, dtype=np.float64), np.arange(h, dtype=np.float64))
        pts = np.stack([cols.ravel(), rows.ravel()], -1)
        if np.any(self.dist):
            norm = cv2.undistortPoints(pts.reshape(-1, 1, 2), self.k, self.dist).reshape(-1, 2)
        else:
            norm = (pts - self.k[[0, 1], [2, 2]]) / self.k[[0, 1], [0, 1]]
        rays = np.column_stack([norm, np.ones(len(norm))])
        self._rays = rays.astype(np.float32).reshape(-1, 1, 3)
        self._ray_norm = np.linalg.norm(rays, axis=1).astype(np.float32).reshape(h, w)

        rng = np.random.default_rng([seed, 0xF9])
        s = self.sensor
        fpn = rng.standard_normal((h, w)).astype(np.float32) * s.fpn_pixel_c
        fpn += rng.standard_normal((1, w)).astype(np.float32) * s.fpn_column_c
        r2 = ((cols - (w - 1) / 2) ** 2 + (rows - (h - 1) / 2) ** 2) / ((w / 2) ** 2 + (h / 2) ** 2)
        self._static_offset = (fpn - s.vignette_c * r2.astype(np.float32)).astype(np.float32)
        self._has_static = bool(s.fpn_pixel_c or s.fpn_column_c or s.vignette_c)
        # Grass blades in front of a target: a fine, fixed pattern thresholded per target.
        blades = rng.random((h, w)).astype(np.float32)
        self._grass = cv2.GaussianBlur(blades, (0, 0), 0.8)
        self._grass_quantiles = np.quantile(self._grass[::4, ::4], np.linspace(0, 1, 201))

        self._flat = float(np.ptp(world.elevation_m)) < 1e-3
        gy, gx = np.gradient(world.elevation_m, world.grid.res_m)
        # Steepest slope (rise per metre): bounds how fast a ray can close on the ground.
        self._max_slope = float(np.sqrt(gx * gx + gy * gy).max()) * 1.05 + 1e-3
        self._elev_min = float(world.elevation_m.min())
        self._elev_max = float(world.elevation_m.max())
        # cv2.remap's fixed-point coordinates end at 2^15 samples: stay well inside.
        self._max_range_m = min(MAX_RANGE_M, 14_000.0 * world.grid.res_m)
        self._has_canopy = bool(np.any(world.canopy > 0))
        self._canopy_top_m = float(world.canopy_height_m.max()) if self._has_canopy else 0.0
        self._sky_c = world.weather.sky_temp_c
        self._air_c = world.weather.air_temp_c
        self._beta_per_m = world.weather.extinction_per_km / 1000.0
        self._noise_sigma = camera.netd_mk / 1000.0 if self.sensor.temporal_noise else 0.0
        self._noise_bank = [
            rng.standard_normal((h + _NOISE_PAD, w + _NOISE_PAD), dtype=np.float32)
            * np.float32(self._noise_sigma)
            for _ in range(_NOISE_BANK if self._noise_sigma > 0 else 0)
        ]

    def _temporal_noise(self, frame_id: int) -> NDArray[np.float32]:
        """White noise of the camera's NETD for this frame: a window of a pre-drawn noise bank
        at a per-frame offset (drawing 330 k normals per frame would cost a fifth of the frame
        budget). Deterministic in (seed, frame_id); thousands of distinct windows."""
        h, w = self.shape
        k, oy, ox = np.random.default_rng([self.seed, 0x5E, frame_id]).integers(
            0, (len(self._noise_bank), _NOISE_PAD, _NOISE_PAD)
        )
        return self._noise_bank[k][oy : oy + h, ox : ox + w]

    # --- geometry ----------------------------------------------------------------------------

    def camera_position(self, pose: Pose) -> tuple[float, float, float]:
        """Local (x east, y north, z AMSL) of the camera. Altitude: AMSL if given, else AGL
        over the terrain below, else relative to the ground at the area's centre."""
        x, y = self.world.frame.to_local(pose.lat, pose.lon)
        if pose.alt_amsl_m is not None:
            z = pose.alt_amsl_m
        elif pose.alt_agl_m is not None:
            z = float(self.world.grid.sample(self.world.elevation_m, x, y)) + pose.alt_agl_m
        elif pose.alt_rel_m is not None:
            z = self.world.home_elevation_m + pose.alt_rel_m
        else:
            raise SimError(
                f"pose at {pose.lat:.6f},{pose.lon:.6f} has no altitude "
                "(give alt_amsl_m, alt_agl_m or alt_rel_m)"
            )
        return float(x), float(y), float(z)

    # --- rendering ---------------------------------------------------------------------------

    def render(self, pose: Pose, frame_id: int = 0) -> Rendered:
        """The frame the camera sees from `pose` (its TRUE pose). Deterministic for a given
        (seed, pose, frame_id)."""
        cam = self.camera_position(pose)
        rot = camera_to_enu(pose)
        t, u, v, du, dv, dz, hit = self._cast(cam, rot)
        sky = ~hit
        img = self._sample(self.world.background_c, u, v)
        rng_m = t * self._ray_norm

        views: dict[str, TargetView] = {}
        masks: dict[str, tuple[tuple[int, int, int, int], NDArray[np.bool_]]] = {}
        if self.world.targets:
            views, masks = self._draw_targets(img, rng_m, cam, rot)

        if self._has_canopy:
            # Where the ray crosses the crown layer, a crown hides whatever is below it.
            # t at the crown layer: back along the ray by the canopy height over its slope.
            tc = np.float32(0.85 * self._canopy_top_m) / np.minimum(dz, -0.05)
            tc += t
            np.maximum(tc, 0, out=tc)
            uc = tc * du
            uc += u[0, 0] - t[0, 0] * du[0, 0]
            vc = tc * dv
            vc += v[0, 0] - t[0, 0] * dv[0, 0]
            crown = self._sample(self.world.canopy, uc, vc)
            crown_c = self._sample(self.world.background_c, uc, vc)
            crown_c -= img
            crown_c *= crown
            img += crown_c
            if views:
                views = canopy_views(views, masks, crown)

        if self.sensor.atmosphere:
            tau = cv2.exp(rng_m * np.float32(-self._beta_per_m))
            img -= np.float32(self._air_c)
            img *= tau
            img += np.float32(self._air_c)
        img[sky] = self._sky_c
        if self.sensor.blur_sigma_px > 0:
            img = cv2.GaussianBlur(img, (0, 0), self.sensor.blur_sigma_px)
        if self._has_static:
            img += self._static_offset
        if self._noise_sigma > 0:
            img += self._temporal_noise(frame_id)
        return Rendered(img, views)
