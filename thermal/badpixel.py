"""Bad-pixel suppression: hot spots fixed in the image while the ground moves are the sensor.

A real target stays put on the ground, so as the drone flies it moves across the image; a
defective pixel (or a fixed-pattern hot cluster) stays at the same pixel while its ground
position sweeps along with the drone. Each pixel cell that fires is remembered with where on
the ground it pointed; once a cell has fired in `min_frames` frames whose ground points are
spread over more than `min_ground_spread_m`, it is declared bad and masked for good. Without a
pose, a cell firing in `min_frames_no_pose` consecutive frames is declared bad (a hovering
camera watching a real person yields ground positions, so this only applies to pose-less video).
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field

import numpy as np
from numpy.typing import NDArray

from thermal.georef import latlon_to_offset


@dataclass
class BadPixelFilter:
    shape: tuple[int, int]
    cell_px: int = 2
    min_frames: int = 3
    min_ground_spread_m: float = 15.0
    min_frames_no_pose: int = 8
    max_blob_px: int = 12  # bigger blobs are scenery, not a defect
    _history: dict[tuple[int, int], deque[tuple[int, float, float]]] = field(default_factory=dict)
    _mask: NDArray[np.bool_] | None = None
    _frame: int = 0
    _origin: tuple[float, float] | None = None
    bad_cells: set[tuple[int, int]] = field(default_factory=set)

    @property
    def mask(self) -> NDArray[np.bool_] | None:
        """Pixels to ignore (True), or None while no pixel is known bad."""
        return self._mask

    def observe(
        self,
        x: NDArray[np.float64],
        y: NDArray[np.float64],
        area_px: NDArray[np.int32],
        lat: NDArray[np.float64] | None,
        lon: NDArray[np.float64] | None,
    ) -> NDArray[np.bool_]:
        """Record this frame's blobs with their ground positions (NaN/None without a pose);
        returns True for blobs that are (now) known bad."""
        self._frame += 1
        east_m = north_m = None
        if lat is not None and lon is not None and len(lat) and np.isfinite(lat).any():
            if self._origin is None:
                i = int(np.flatnonzero(np.isfinite(lat))[0])
                self._origin = (float(lat[i]), float(lon[i]))
            north_m, east_m = latlon_to_offset(*self._origin, lat, lon)
        n = len(x)
        bad = np.zeros(n, bool)
        cells = np.column_stack((np.floor(x / self.cell_px), np.floor(y / self.cell_px))).astype(
            int
        )
        for i in range(n):
            if area_px[i] > self.max_blob_px:
                continue
            key = (int(cells[i, 0]), int(cells[i, 1]))
            if any(
                (key[0] + dx, key[1] + dy) in self.bad_cells
                for dx in (-1, 0, 1)
                for dy in (-1, 0, 1)
            ):
                bad[i] = True
                continue
            e = float(east_m[i]) if east_m is not None else float("nan")
            nn = float(north_m[i]) if north_m is not None else float("nan")
            hist = self._history.setdefault(key, deque(maxlen=64))
            if hist and hist[-1][0] == self._frame:
                continue
            hist.append((self._frame, e, nn))
            if self._is_bad(hist):
                self._declare(key)
                bad[i] = True
        if self._frame % 64 == 0:  # forget cells that stopped firing
            stale = [k for k, h in self._history.items() if self._frame - h[-1][0] > 64]
            for k in stale:
                del self._history[k]
        return bad

    def _is_bad(self, hist: deque[tuple[int, float, float]]) -> bool:
        pts = np.array(hist, np.float64)
        with_pose = pts[np.isfinite(pts[:, 1])]
        if len(with_pose) >= self.min_frames:
            spread = np.hypot(np.ptp(with_pose[:, 1]), np.ptp(with_pose[:, 2]))
            return bool(spread > self.min_ground_spread_m)
        recent = pts[-self.min_frames_no_pose :, 0]
        return len(recent) >= self.min_frames_no_pose and recent[-1] - recent[0] == len(recent) - 1

    def _declare(self, key: tuple[int, int]) -> None:
        self.bad_cells.add(key)
        if self._mask is None:
            self._mask = np.zeros(self.shape, bool)
        c = self.cell_px
        x0, y0 = max(0, (key[0] - 1) * c), max(0, (key[1] - 1) * c)
        self._mask[y0 : (key[1] + 2) * c, x0 : (key[0] + 2) * c] = True
