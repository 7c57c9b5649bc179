"""Targets in a thermal frame: the projected silhouettes of their ellipsoids and boxes
(cv2.projectPoints + cv2.fillPoly) at their physical size, depth-tested against the terrain
(rims of hollows and ditches hide them from oblique views), cooler at their rims (limb
darkening), thinned by grass and hidden by tree crowns.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

import cv2
import numpy as np
import shapely
from numpy.typing import NDArray

from sim.world import shapes
from sim.world.optics import TargetView

if TYPE_CHECKING:
    from sim.world.world import World, WorldTarget


class TargetPainter:
    """Draws the world's targets into a frame, for `Renderer`. The renderer sets the
    attributes below in its constructor."""

    world: World
    shape: tuple[int, int]
    k: NDArray[np.float64]
    dist: NDArray[np.float64]
    _grass: NDArray[np.float32]
    _grass_quantiles: NDArray[np.float64]
    _sky_c: float

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


def canopy_views(
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
