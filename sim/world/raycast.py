"""Where each pixel's ray meets the ground: the terrain ray caster of `sim.world.render`.

On flat ground a division per pixel. On uneven ground a conservative march on a
quarter-resolution grid that never steps past a ridge, then a few fixed-point steps per pixel
on the elevation raster; rays those leave off the ground (steep banks, grazing views,
silhouettes) march on from their safe start.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import cv2
import numpy as np
from numpy.typing import NDArray

if TYPE_CHECKING:
    from sim.world.world import World

MAX_RANGE_M = 10_000.0
_COARSE = 4  # the first search for each ray's ground hit runs on a 1/4-resolution grid
_OVERSTEP = 3.0  # grazing rays' march step, in multiples of the step that cannot pass a hit


class TerrainCaster:
    """Ray casting against the world's elevation raster, for `Renderer`. The renderer sets
    the attributes below in its constructor."""

    world: World
    shape: tuple[int, int]
    _rays: NDArray[np.float32]  # per pixel, camera axes, (h*w, 1, 3)
    _flat: bool
    _max_slope: float
    _elev_min: float
    _elev_max: float
    _max_range_m: float

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
