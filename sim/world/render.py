"""The thermal camera: radiometric frames (°C, float32) of a World seen from a Pose.

Per frame, fully vectorised: every pixel's precomputed ray (lens distortion included) is
rotated by vehicle attitude and gimbal and cast to the terrain (a few fixed-point steps on the
elevation raster); the background temperature is looked up where it lands; tree crowns are
looked up where the ray crosses the canopy layer (so what canopy hides depends on the view
angle); targets are drawn as the projected silhouettes of their ellipsoids and boxes
(cv2.projectPoints + cv2.fillPoly) at their physical size, depth-tested against the terrain
(rims of hollows and ditches hide them from oblique views) and thinned by grass; then
atmospheric extinction, optics blur, vignetting, fixed-pattern noise and temporal noise
(NETD).

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

import cv2
import numpy as np
from numpy.typing import NDArray

from sim.errors import SimError
from sim.world import shapes
from sim.world.heat import cover_temp_c
from sim.world.world import World, WorldTarget
from thermal.frame import Pose

_CAM_TO_BODY = np.array([[0.0, 0.0, 1.0], [1.0, 0.0, 0.0], [0.0, 1.0, 0.0]])
_NED_TO_ENU = np.array([[0.0, 1.0, 0.0], [1.0, 0.0, 0.0], [0.0, 0.0, -1.0]])
MAX_RANGE_M = 20_000.0
_NOISE_BANK, _NOISE_PAD = 8, 64


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


class Renderer:
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
        self._has_canopy = bool(np.any(world.canopy > 0))
        self._canopy_top_m = float(world.canopy_height_m.max()) if self._has_canopy else 0.0
        forest_c, _ = cover_temp_c("forest", world.weather)
        self._canopy_c = forest_c
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

    def _sample(self, raster: NDArray[np.float32], u: NDArray, v: NDArray) -> NDArray[np.float32]:
        return cv2.remap(raster, u, v, cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)

    # --- rendering ---------------------------------------------------------------------------

    def _cast(
        self, cam: tuple[float, float, float], rot: NDArray[np.float64]
    ) -> tuple[NDArray[np.float32], ...]:
        """Ray parameter t of each pixel's ground hit (range = t * |ray|), grid coordinates
        (u, v) of the hit, per-pixel grid steps (du, dv) per unit t and 1/-dz (0: no hit)."""
        h, w = self.shape
        g = self.world.grid
        cx, cy, cz = cam
        # Rotate rays straight into grid units: (du, dv) in samples per unit t, dz in metres.
        m = np.diag([1 / g.res_m, 1 / g.res_m, 1.0]) @ rot
        d = cv2.transform(self._rays, m.astype(np.float32)).reshape(h, w, 3)
        du, dv, dz = (np.ascontiguousarray(d[..., k]) for k in range(3))
        down = dz < -1e-6
        inv_down = np.zeros_like(dz)
        np.divide(-1.0, dz, out=inv_down, where=down)
        u0, v0 = (cx - g.x0) / g.res_m, (cy - g.y0) / g.res_m
        h0 = float(g.sample(self.world.elevation_m, cx, cy))
        t = np.minimum((cz - h0) * inv_down, MAX_RANGE_M)
        u = t * du
        u += np.float32(u0)
        v = t * dv
        v += np.float32(v0)
        if not self._flat:
            # Fixed-point steps t <- (cz - elev(t)) / -dz; stop once no pixel moves by 2 cm.
            for step in range(8):
                elev = self._sample(self.world.elevation_m, u, v)
                np.subtract(np.float32(cz), elev, out=elev)
                elev *= inv_down
                np.clip(elev, 0.0, MAX_RANGE_M, out=elev)
                if step >= 3:  # relax late steps: on slopes steeper than the ray it swings
                    elev += t
                    elev *= 0.5
                moved = float(np.max(np.abs(elev - t)))
                t = elev
                np.multiply(t, du, out=u)
                u += np.float32(u0)
                np.multiply(t, dv, out=v)
                v += np.float32(v0)
                if moved < 0.02:
                    break
        return t, u, v, du, dv, inv_down

    def render(self, pose: Pose, frame_id: int = 0) -> Rendered:
        """The frame the camera sees from `pose` (its TRUE pose). Deterministic for a given
        (seed, pose, frame_id)."""
        cam = self.camera_position(pose)
        rot = camera_to_enu(pose)
        t, u, v, du, dv, inv_down = self._cast(cam, rot)
        sky = (inv_down == 0) | (t >= MAX_RANGE_M) | (t <= 0)
        img = self._sample(self.world.background_c, u, v)
        rng_m = t * self._ray_norm

        views: dict[str, TargetView] = {}
        masks: dict[str, tuple[tuple[int, int, int, int], NDArray[np.bool_]]] = {}
        if self.world.targets:
            views, masks = self._draw_targets(img, rng_m, cam, rot)

        if self._has_canopy:
            # Where the ray crosses the crown layer, a crown hides whatever is below it.
            tc = inv_down * np.float32(-0.85 * self._canopy_top_m)
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
                views = _canopy_views(views, masks, crown)

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

    def _draw_targets(
        self,
        img: NDArray[np.float32],
        rng_m: NDArray[np.float32],
        cam: tuple[float, float, float],
        rot: NDArray[np.float64],
    ) -> tuple[dict[str, TargetView], dict[str, tuple[tuple[int, int, int, int], NDArray]]]:
        h, w = self.shape
        c = np.array(cam)
        r_w2c = rot.T
        # Near targets last: they are drawn over far ones.
        order = sorted(
            self.world.targets,
            key=lambda t: -math.dist((t.x_m, t.y_m, t.ground_m), cam),
        )
        views: dict[str, TargetView] = {}
        masks: dict[str, tuple[tuple[int, int, int, int], NDArray[np.bool_]]] = {}
        for tgt in order:
            base = np.array([tgt.x_m, tgt.y_m, tgt.ground_m]) - c
            centre_cam = r_w2c @ base
            if centre_cam[2] <= 0.5:
                continue
            centre_px = self._project(centre_cam[None, :])[0]
            reach = 8.0 * self.k[0, 0] / centre_cam[2]  # 8 m covers any target's extent
            if not (-reach <= centre_px[0] <= w + reach and -reach <= centre_px[1] <= h + reach):
                continue
            drawn = self._draw_target(img, rng_m, tgt, base, r_w2c)
            if drawn is None:
                continue
            box, silhouette, visible = drawn
            masks[tgt.id] = (box, visible)
            views[tgt.id] = TargetView(
                tgt.id,
                int(silhouette.sum()),
                int(visible.sum()),
                (float(centre_px[0]), float(centre_px[1])),
            )
        return views, masks

    def _project(self, pts_cam: NDArray[np.float64]) -> NDArray[np.float64]:
        out, _ = cv2.projectPoints(
            pts_cam.reshape(-1, 1, 3), np.zeros(3), np.zeros(3), self.k, self.dist
        )
        return out.reshape(-1, 2)

    def _draw_target(
        self,
        img: NDArray[np.float32],
        rng_m: NDArray[np.float32],
        tgt: WorldTarget,
        base: NDArray[np.float64],
        r_w2c: NDArray[np.float64],
    ) -> tuple[tuple[int, int, int, int], NDArray[np.bool_], NDArray[np.bool_]] | None:
        h, w = self.shape
        hd = math.radians(tgt.heading_deg)
        # target frame (forward, right, up) -> local ENU
        to_enu = np.array(
            [[math.sin(hd), math.cos(hd), 0.0], [math.cos(hd), -math.sin(hd), 0.0], [0, 0, 1.0]]
        ).T
        polys: list[tuple[float, NDArray[np.int32], float, bool]] = []
        for part in tgt.parts:
            pts = shapes.surface_points(part) @ to_enu.T + base
            cam_pts = pts @ r_w2c.T
            if np.any(cam_pts[:, 2] <= 0.05):
                continue  # part reaches behind the camera: not a view a search drone has
            px = self._project(cam_pts)
            hull = cv2.convexHull(np.round(px * 16).astype(np.int32))
            centre = np.asarray(part.centre) @ to_enu.T + base
            extent = float(max(part.semi))
            polys.append((float(np.linalg.norm(centre)), hull, extent, part.hot))
        if not polys:
            return None
        allpts = np.concatenate([p[1].reshape(-1, 2) for p in polys]) / 16.0
        x0 = max(math.floor(allpts[:, 0].min()) - 1, 0)
        y0 = max(math.floor(allpts[:, 1].min()) - 1, 0)
        x1 = min(math.ceil(allpts[:, 0].max()) + 2, w)
        y1 = min(math.ceil(allpts[:, 1].max()) + 2, h)
        if x1 <= x0 or y1 <= y0:
            return None
        roi = img[y0:y1, x0:x1]
        roi_rng = rng_m[y0:y1, x0:x1]
        silhouette = np.zeros(roi.shape, bool)
        visible = np.zeros(roi.shape, bool)
        grass = self._grass[y0:y1, x0:x1]
        # Grass hides a share `grass_occlusion` of the target's pixels (a fixed blade pattern).
        occl = tgt.grass_occlusion
        if occl > 0:
            hidden_by_grass = grass < np.interp(occl, np.linspace(0, 1, 201), self._grass_quantiles)
        else:
            hidden_by_grass = np.zeros(roi.shape, bool)
        offset = np.array([x0, y0], np.int32) * 16
        for part_range, hull, extent, hot in sorted(polys, key=lambda p: -p[0]):
            mask = np.zeros(roi.shape, np.uint8)
            cv2.fillPoly(mask, [hull.reshape(-1, 2) - offset], 1, cv2.LINE_8, shift=4)
            m = mask.astype(bool)
            silhouette |= m
            # Terrain in front of the part (a hollow's rim, a ditch bank) hides it.
            m &= roi_rng > part_range - extent - 0.3
            m &= ~hidden_by_grass
            roi[m] = tgt.heat.hot_c if hot else tgt.heat.body_c
            visible |= m
        return (x0, y0, x1, y1), silhouette, visible


def _canopy_views(
    views: dict[str, TargetView],
    masks: dict[str, tuple[tuple[int, int, int, int], NDArray[np.bool_]]],
    crown: NDArray[np.float32],
) -> dict[str, TargetView]:
    out = {}
    for tid, view in views.items():
        (x0, y0, x1, y1), visible = masks[tid]
        seen = visible & (crown[y0:y1, x0:x1] < 0.5)
        out[tid] = TargetView(tid, view.silhouette_px, int(seen.sum()), view.centre_px)
    return out
