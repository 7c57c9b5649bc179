"""The raster grid the world is baked on, and the noise its textures and terrain are made of
(shared by `world` and `terrain`, which must not import each other)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import cv2
import numpy as np
from numpy.typing import NDArray


@dataclass(frozen=True)
class Grid:
    """A north-up raster in the local frame: sample (row j, col i) at (x0 + i*res, y0 + j*res)."""

    x0: float
    y0: float
    res_m: float
    cols: int
    rows: int

    def xy(self) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
        x = self.x0 + np.arange(self.cols) * self.res_m
        y = self.y0 + np.arange(self.rows) * self.res_m
        return np.meshgrid(x, y)

    def to_px(self, x: Any, y: Any) -> tuple[Any, Any]:
        return (np.asarray(x) - self.x0) / self.res_m, (np.asarray(y) - self.y0) / self.res_m

    def sample(self, raster: NDArray[Any], x: Any, y: Any) -> NDArray[np.float64]:
        """Bilinear samples of `raster` at local points (clamped to the edge)."""
        u, v = self.to_px(x, y)
        u = np.clip(np.asarray(u, np.float64), 0, self.cols - 1.0001)
        v = np.clip(np.asarray(v, np.float64), 0, self.rows - 1.0001)
        i, j = np.floor(u).astype(int), np.floor(v).astype(int)
        fu, fv = u - i, v - j
        r = raster
        return (
            r[j, i] * (1 - fu) * (1 - fv)
            + r[j, i + 1] * fu * (1 - fv)
            + r[j + 1, i] * (1 - fu) * fv
            + r[j + 1, i + 1] * fu * fv
        ).astype(np.float64)


def fractal_noise(
    shape: tuple[int, int], cell_px: float, seed: int, octaves: int = 4, persistence: float = 0.5
) -> NDArray[np.float32]:
    """Smooth zero-mean, unit-std noise with features about `cell_px` samples wide."""
    rng = np.random.default_rng(seed)
    rows, cols = shape
    out = np.zeros(shape, np.float32)
    amp, cell, total = 1.0, max(cell_px, 1.0), 0.0
    for _ in range(octaves):
        gr, gc = max(2, int(rows / cell) + 2), max(2, int(cols / cell) + 2)
        coarse = rng.standard_normal((gr, gc)).astype(np.float32)
        out += amp * cv2.resize(coarse, (cols, rows), interpolation=cv2.INTER_CUBIC)
        total += amp * amp
        amp *= persistence
        cell /= 2.0
        if cell < 1.0:
            break
    out -= out.mean()
    std = float(out.std())
    return out / std if std > 0 else out
