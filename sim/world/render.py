"""The thermal camera: radiometric frames (°C, float32) of a World seen from a Pose.

Per frame, fully vectorised: every pixel's precomputed ray (lens distortion included) is
rotated by vehicle attitude and gimbal and cast to the terrain (on uneven ground: a
conservative march on a quarter-resolution grid that never steps past a ridge, then a few
fixed-point steps per pixel on the elevation raster); the background temperature is looked up where it lands; tree crowns are
looked up where the ray crosses the canopy layer (so what canopy hides depends on the view
angle); targets are drawn as the projected silhouettes of their ellipsoids and boxes
(cv2.projectPoints + cv2.fillPoly) at their physical size, depth-tested against the terrain
(rims of hollows and ditches hide them from oblique views), cooler at their rims (limb
darkening) and thinned by grass; then
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
import shapely
from numpy.typing import NDArray

from sim.errors import SimError
from sim.world import shapes
from sim.world.world import World, WorldTarget
from thermal.frame import Pose

_CAM_TO_BODY = np.array([[0.0, 0.0, 1.0], [1.0, 0.0, 0.0], [0.0, 1.0, 0.0]])
_NED_TO_ENU = np.array([[0.0, 1.0, 0.0], [1.0, 0.0, 0.0], [0.0, 0.0, -1.0]])
MAX_RANGE_M = 10_000.0
_COARSE = 4  # the first search for each ray's ground hit runs on a 1/4-resolution grid
_NOISE_BANK, _NOISE_PAD = 8, 64
_OVERSTEP = 3.0  # grazing rays' march step, in multiples of the step that cannot pass a hit


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

    def _sample(self, raster: NDArray[np.float32], u: NDArray, v: NDArray) -> NDArray[np.float32]:
        return cv2.remap(raster, u, v, cv2.INTER_LINEAR, borderMode=cv2.BORDER_REFLECT_101)

    def _sample_flat(self, raster: NDArray[np.float32], u: NDArray, v: NDArray) -> NDArray:
        """`_sample` at 1-D coordinates (cv2.remap wants a 2-D map under 32k rows)."""
        n = u.size
        cols = 512
        rows = -(-n // cols)
        if rows * cols != n:
            u = np.concatenate([u, np.zeros(rows * cols - n, np.float32)])
            v = np.concatenate([v, np.zeros(rows * cols - n, np.float32)])
        out = self._sample(raster, u.reshape(rows, cols), v.reshape(rows, cols))
        return out.reshape(-1)[:n]

    # --- rendering ---------------------------------------------------------------------------

    def _cast(
        self, cam: tuple[float, float, float], rot: NDArray[np.float64]
    ) -> tuple[NDArray[np.float32], ...]:
        """Ray parameter t of each pixel's ground hit (range = t * |ray|), grid coordinates
        (u, v) of the hit, per-pixel grid steps (du, dv) and height step dz per unit t, and
        whether the ray met the ground."""
        h, w = self.shape
        g = self.world.grid
        cx, cy, cz = cam
        far = self._max_range_m
        # Rotate rays straight into grid units: (du, dv) in samples per unit t, dz in metres.
        m = np.diag([1 / g.res_m, 1 / g.res_m, 1.0]) @ rot
        d = cv2.transform(self._rays, m.astype(np.float32)).reshape(h, w, 3)
        du, dv, dz = cv2.split(d)
        u0, v0 = np.float32((cx - g.x0) / g.res_m), np.float32((cy - g.y0) / g.res_m)
        down = dz < -1e-6
        if self._flat:
            t = np.full_like(dz, far)
            np.divide(np.float32(self._elev_min - cz), dz, out=t, where=down)
            np.minimum(t, far, out=t)
            hit = down & (t < far)
        else:
            c = _COARSE
            sub = (slice(c // 2, None, c), slice(c // 2, None, c))
            cdu, cdv, cdz = (np.ascontiguousarray(a[sub]) for a in (du, dv, dz))
            # Nothing is hit above the highest ground: start there.
            t_c = np.zeros_like(cdz)
            np.divide(np.float32(self._elev_max - cz), cdz, out=t_c, where=cdz < -1e-6)
            np.maximum(t_c, 0, out=t_c)
            t_c, gap_c = self._march(cam, cdu, cdv, cdz, t_c, 24, 0.05)
            # The safe start: no further than any coarse neighbour, so that near a ridge's
            # silhouette the search begins in front of the ridge.
            t0 = cv2.resize(
                cv2.erode(t_c, np.ones((3, 3), np.uint8)), (w, h), interpolation=cv2.INTER_NEAREST
            )
            # Per pixel from the interpolated coarse hit: two fixed-point steps
            # t <- (cz - elev(t)) / -dz (exact on even ground, close on slopes), never before
            # the safe start; the rays they leave off the ground (steep banks, grazing views,
            # silhouettes) march on from their safe start.
            inv_down = np.zeros_like(dz)
            np.divide(-1.0, dz, out=inv_down, where=down)
            t = cv2.resize(t_c, (w, h), interpolation=cv2.INTER_LINEAR)
            np.maximum(t, t0, out=t)
            for _ in range(2):
                t = self._fixed_point(cam, du, dv, t, t0, inv_down)
            u = t * du
            u += u0
            v = t * dv
            v += v0
            gap = t * dz
            gap += np.float32(cz)
            gap -= self._sample(self.world.elevation_m, u, v)
            redo = np.flatnonzero((np.abs(gap) > 0.05).reshape(-1) & down.reshape(-1))
            if redo.size:
                flat = [a.reshape(-1)[redo] for a in (du, dv, dz, t0)]
                t_redo, _ = self._march(cam, *flat, 5, 0.05)
                t.reshape(-1)[redo] = t_redo
            # A ray that found no ground in the coarse search and points up sees the sky.
            gap_full = cv2.resize(gap_c, (w, h), interpolation=cv2.INTER_NEAREST)
            hit = (t < far) & (down | (gap_full < 1.0))
        u = t * du
        u += u0
        v = t * dv
        v += v0
        return t, u, v, du, dv, dz, hit

    def _fixed_point(
        self,
        cam: tuple[float, float, float],
        du: NDArray[np.float32],
        dv: NDArray[np.float32],
        t: NDArray[np.float32],
        t0: NDArray[np.float32],
        inv_down: NDArray[np.float32],
    ) -> NDArray[np.float32]:
        """One step t <- (cz - elev(t)) / -dz, never before the safe start t0."""
        g = self.world.grid
        cx, cy, cz = cam
        u = t * du
        u += np.float32((cx - g.x0) / g.res_m)
        v = t * dv
        v += np.float32((cy - g.y0) / g.res_m)
        t = self._sample(self.world.elevation_m, u, v)
        np.subtract(np.float32(cz), t, out=t)
        t *= inv_down
        np.maximum(t, t0, out=t)
        np.minimum(t, self._max_range_m, out=t)
        return t

    def _march(
        self,
        cam: tuple[float, float, float],
        du: NDArray[np.float32],
        dv: NDArray[np.float32],
        dz: NDArray[np.float32],
        t: NDArray[np.float32],
        steps: int,
        tol_m: float,
    ) -> tuple[NDArray[np.float32], NDArray[np.float32]]:
        """March each ray to its first ground hit; returns t and the height gap left there.

        A step is the ray's height above the ground over the fastest it can close on it
        (-dz + max slope x horizontal speed), a step that cannot pass the first hit, taken up
        to `_OVERSTEP` times over for grazing rays so that they get there in tens of steps,
        not hundreds; a ray that ends up below the ground is then bisected back between its last
        point above and its first below. Only a crest narrower than one step can be missed.
        """
        g = self.world.grid
        cx, cy, cz = cam
        u0, v0 = np.float32((cx - g.x0) / g.res_m), np.float32((cy - g.y0) / g.res_m)
        shape = t.shape
        horiz = cv2.magnitude(du, dv) * np.float32(g.res_m * self._max_slope)
        # Over-step grazing rays only: looking down, the safe step is already (nearly) exact.
        closing = np.maximum(horiz - dz, 1e-4)
        k = (1.0 + np.float32(_OVERSTEP - 1.0) * horiz / closing) / closing
        t_out = t.reshape(-1).copy()
        gap_out = np.zeros_like(t_out)
        # The rays still searching, as flat arrays; finished rays drop out, so that the few
        # slow ones (grazing a slope, on a silhouette) do not cost a full frame per step.
        idx = np.arange(t_out.size)
        ta, dua, dva, dza, ka = (a.reshape(-1) for a in (t, du, dv, dz, k))
        ta = ta.copy()
        lo = ta.copy()
        hi = np.full_like(ta, np.inf)
        for step in range(steps):
            u = ta * dua
            u += u0
            v = ta * dva
            v += v0
            elev = self._sample_flat(self.world.elevation_m, u, v)
            gap = ta * dza  # the ray's height above the ground at t
            gap += np.float32(cz)
            gap -= elev
            above = gap >= 0
            np.copyto(lo, ta, where=above)
            np.copyto(hi, ta, where=~above)
            bracketed = np.isfinite(hi)
            done = (np.abs(gap) < tol_m) | (bracketed & (hi - lo < 0.02))
            last = step == steps - 1
            if last:
                done[:] = True
            if done.any():
                # A ray left below the ground ends on its last point above: what it hits is
                # then never behind a crest.
                final = np.where(bracketed & (gap < -tol_m), lo, ta)
                t_out[idx[done]] = final[done]
                gap_out[idx[done]] = gap[done]
                keep = ~done
                if not keep.any():
                    break
                idx, ta, dua, dva, dza, ka, lo, hi, gap = (
                    a[keep] for a in (idx, ta, dua, dva, dza, ka, lo, hi, gap)
                )
                bracketed = bracketed[keep]
            step_t = gap * ka
            step_t += ta
            np.minimum(step_t, self._max_range_m, out=step_t)
            ta = np.where(bracketed, (lo + hi) * np.float32(0.5), step_t).astype(np.float32)
        return t_out.reshape(shape), gap_out.reshape(shape)

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
        polys: list[tuple[float, NDArray[np.float64], float, bool]] = []
        for part in tgt.parts:
            pts = shapes.surface_points(part) @ to_enu.T + base
            cam_pts = pts @ r_w2c.T
            if np.any(cam_pts[:, 2] <= 0.05):
                continue  # part reaches behind the camera: not a view a search drone has
            px = self._project(cam_pts).astype(np.float32)
            hull = cv2.convexHull(px).reshape(-1, 2).astype(np.float64)
            centre = np.asarray(part.centre) @ to_enu.T + base
            extent = float(max(part.semi))
            polys.append((float(np.linalg.norm(centre)), hull, extent, part.hot))
        if not polys:
            return None
        allpts = np.concatenate([p[1] for p in polys])
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
        for part_range, hull, extent, hot in sorted(polys, key=lambda p: -p[0]):
            temp = tgt.heat.hot_c if hot else tgt.heat.body_c
            local = hull - (x0, y0)
            m, mix = _coverage(local, roi.shape)
            shade = self._limb(m, temp) if mix >= 1.0 else None
            silhouette |= m
            # Terrain in front of the part (a hollow's rim, a ditch bank) hides it.
            m &= roi_rng > part_range - extent - 0.3
            m &= ~hidden_by_grass
            if mix < 1.0:  # smaller than a pixel: it only warms the pixel it falls in
                roi[m] += np.float32(mix) * (np.float32(temp) - roi[m])
            elif shade is not None:
                roi[m] = shade[m]
            else:
                roi[m] = temp
            visible |= m
        return (x0, y0, x1, y1), silhouette, visible

    def _limb(self, mask: NDArray[np.bool_], temp: float) -> NDArray[np.float32] | None:
        """A curved body seen at its edge emits less and reflects the sky: its rim reads up
        to a few degrees cooler than its middle (which keeps `temp`)."""
        drop = min(max(0.05 * (temp - self._sky_c), 0.0), 3.0)
        if drop <= 0.0 or mask.sum() < 12:
            return None
        d = cv2.distanceTransform(mask.astype(np.uint8), cv2.DIST_L2, 3)
        reach = max(1.0, 0.3 * float(d.max()))
        ramp = np.minimum(d / np.float32(reach), 1.0)
        return (np.float32(temp) - np.float32(drop) * (1.0 - ramp)).astype(np.float32)


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


def _coverage(
    poly_px: NDArray[np.float64], shape: tuple[int, int]
) -> tuple[NDArray[np.bool_], float]:
    """Pixels whose centres lie inside a convex polygon (pixel (col, row) centred on integer
    coordinates), and the fill share. cv2.fillPoly also fills pixels the edge merely grazes
    (a 10 px wide box fills 11 columns), so the polygon is first shrunk by half a pixel. A
    polygon smaller than a pixel marks the pixel it falls in, with its area as the share."""
    area = abs(cv2.contourArea(poly_px.astype(np.float32)))
    mask = np.zeros(shape, np.uint8)
    shrunk = shapely.Polygon(poly_px).buffer(-0.5, join_style="mitre")
    if area >= 1.0 and not shrunk.is_empty and shrunk.geom_type == "Polygon":
        ring = np.asarray(shrunk.exterior.coords)[:-1]
        cv2.fillPoly(mask, [np.round(ring * 16).astype(np.int32)], 1, cv2.LINE_8, shift=4)
        if mask.any():
            return mask.astype(bool), 1.0
    c = poly_px.mean(axis=0)
    col, row = round(float(c[0])), round(float(c[1]))
    if 0 <= row < shape[0] and 0 <= col < shape[1]:
        mask[row, col] = 1
    return mask.astype(bool), min(area, 1.0)
