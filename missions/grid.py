"""A raster of the ground for partitioning: cells with their target area, and geodesic
distances through the flyable ones (octile steps, relaxed with OpenCV min filters)."""

from __future__ import annotations

import math
from dataclasses import dataclass

import cv2
import numpy as np
import shapely
from numpy.typing import NDArray
from shapely.geometry import Polygon
from shapely.geometry.base import BaseGeometry

SUPERSAMPLE = 4


@dataclass(frozen=True)
class Grid:
    x0: float  # west edge of column 0
    y0: float  # south edge of row 0
    cell: float
    work: NDArray[np.float64]  # (H, W) target ground in each cell, m²
    free: NDArray[np.bool_]  # (H, W) the cell may be crossed (flyable)
    extra: NDArray[np.float64] | None = None  # (H, W) seconds of flight not in the estimate

    @property
    def shape(self) -> tuple[int, int]:
        return self.work.shape  # type: ignore[return-value]

    def centres(self) -> NDArray[np.float64]:
        h, w = self.shape
        jj, ii = np.meshgrid(np.arange(w), np.arange(h))
        return np.stack(
            [self.x0 + (jj + 0.5) * self.cell, self.y0 + (ii + 0.5) * self.cell], axis=-1
        )

    def index(self, xy: NDArray[np.float64]) -> tuple[NDArray[np.int64], NDArray[np.int64]]:
        h, w = self.shape
        xy = np.asarray(xy, dtype=float).reshape(-1, 2)
        j = np.clip(((xy[:, 0] - self.x0) // self.cell).astype(int), 0, w - 1)
        i = np.clip(((xy[:, 1] - self.y0) // self.cell).astype(int), 0, h - 1)
        return i, j


def _raster(geom: BaseGeometry, x0: float, y0: float, px: float, shape: tuple[int, int]):
    """`geom` drawn on a (rows = y, cols = x) uint8 raster of pixel size px (1 inside)."""
    img = np.zeros(shape, np.uint8)

    def pts(ring) -> NDArray[np.int32]:
        c = np.asarray(ring.coords)
        return np.round(np.column_stack([(c[:, 0] - x0) / px, (c[:, 1] - y0) / px]) * 16).astype(
            np.int32
        )

    for poly in shapely.get_parts(geom):
        if not isinstance(poly, Polygon) or poly.is_empty:
            continue
        cv2.fillPoly(img, [pts(poly.exterior)], 1, cv2.LINE_8, 4)
        for r in poly.interiors:
            cv2.fillPoly(img, [pts(r)], 0, cv2.LINE_8, 4)
    return img


def make_grid(
    target: BaseGeometry,
    flyable: BaseGeometry,
    extra: NDArray[np.float64],
    max_cells: int = 2600,
) -> Grid:
    """A grid over the target (and the points `extra`, e.g. launch points)."""
    b = np.asarray(target.bounds)
    if len(extra):
        b = np.r_[np.minimum(b[:2], extra.min(axis=0)), np.maximum(b[2:], extra.max(axis=0))]
    cell = max(math.sqrt(target.area / max_cells) * 1.15, 1.0)
    x0, y0 = b[0] - cell, b[1] - cell
    w = math.ceil((b[2] - x0) / cell) + 1
    h = math.ceil((b[3] - y0) / cell) + 1
    px = cell / SUPERSAMPLE
    shape = (h * SUPERSAMPLE, w * SUPERSAMPLE)
    t = _raster(target, x0, y0, px, shape).reshape(h, SUPERSAMPLE, w, SUPERSAMPLE)
    f = _raster(flyable, x0, y0, px, shape).reshape(h, SUPERSAMPLE, w, SUPERSAMPLE)
    work = t.sum(axis=(1, 3)).astype(float) * px * px
    free = (f.sum(axis=(1, 3)) > SUPERSAMPLE * SUPERSAMPLE // 3) | (work > 0)
    return Grid(x0, y0, cell, work, free)


_CROSS = np.array([[0, 1, 0], [1, 0, 1], [0, 1, 0]], np.uint8)
_DIAG = np.array([[1, 0, 1], [0, 0, 0], [1, 0, 1]], np.uint8)


def geodesic(grid: Grid, sources: NDArray[np.float64], free: NDArray[np.bool_] | None = None):
    """Octile distance (m) through free cells from each source point: (K, H, W); inf where
    unreachable. Relaxed with OpenCV erosions (a min filter) until nothing changes."""
    free = grid.free if free is None else free
    src = np.asarray(sources, dtype=float).reshape(-1, 2)
    k = len(src)
    h, w = grid.shape
    d = np.full((h, w, k), np.inf, np.float32)
    i, j = grid.index(src)
    c = grid.centres()
    d[i, j, np.arange(k)] = np.linalg.norm(c[i, j] - src, axis=1)
    blocked = ~free
    step, diag = np.float32(grid.cell), np.float32(grid.cell * math.sqrt(2))
    for _ in range(4 * (h + w)):
        a = cv2.erode(d, _CROSS, borderType=cv2.BORDER_REPLICATE).reshape(h, w, k) + step
        b = cv2.erode(d, _DIAG, borderType=cv2.BORDER_REPLICATE).reshape(h, w, k) + diag
        nd = np.minimum(d, np.minimum(a, b))
        nd[blocked] = np.inf
        nd[i, j, np.arange(k)] = d[i, j, np.arange(k)]
        if np.array_equal(nd, d):
            break
        d = nd
    return np.moveaxis(d, -1, 0).astype(float)
