"""Lanes confirmed by where the drone actually flew, and progress home: pure, no I/O.

An autopilot's mission index says which item it is flying, not where it has been: PX4 keeps a
previous mission's index after an upload, so a sortie can "finish" without flying a metre of
its lanes. A lane counts as swept only when the drone's own track passed its start and then
its end. The track is sampled (a few Hz, sparser in a sped-up simulator), so each pair of
consecutive fixes is taken as a straight segment and its distance to the points is measured.
"""

from __future__ import annotations

import math
from collections.abc import Mapping

import numpy as np

EARTH_R_M = 6_371_008.8
# How close the track must pass a lane's start and end to count them flown: PX4 accepts a
# waypoint within NAV_ACC_RAD (2 m by default); the rest is GPS error and sparse fixes.
PASS_TOLERANCE_M = 12.0


class LaneTrack:
    """Which lanes the track has flown, start then end, during one sortie."""

    def __init__(
        self,
        starts: Mapping[int, tuple[float, float]],
        ends: Mapping[int, tuple[float, float]],
        tolerance_m: float = PASS_TOLERANCE_M,
        started: frozenset[int] | set[int] = frozenset(),
    ) -> None:
        """`started`: lanes whose start was flown before tracking began (a ground station that
        reattaches to a drone in the middle of a lane)."""
        self.lanes = [x for x in ends if x in starts]
        pts = [starts[x] for x in self.lanes] + [ends[x] for x in self.lanes]
        self._lat0 = float(np.mean([p[0] for p in pts])) if pts else 0.0
        self._lon0 = float(np.mean([p[1] for p in pts])) if pts else 0.0
        xy = self._local(np.array([p[0] for p in pts]), np.array([p[1] for p in pts]))
        n = len(self.lanes)
        self._starts, self._ends = xy[:n], xy[n:]
        self.tolerance_m = tolerance_m
        self.started = np.array([x in started for x in self.lanes], dtype=bool)
        self.flown = np.zeros(n, dtype=bool)
        self._last: np.ndarray | None = None

    def _local(self, lat: np.ndarray, lon: np.ndarray) -> np.ndarray:
        k = math.pi / 180.0 * EARTH_R_M
        x = (np.asarray(lon, dtype=float) - self._lon0) * k * math.cos(math.radians(self._lat0))
        y = (np.asarray(lat, dtype=float) - self._lat0) * k
        return np.column_stack([x, y]) if np.ndim(x) else np.array([float(x), float(y)])

    def add(self, lat: float, lon: float) -> set[int]:
        """Fold in one fix; return the lanes flown because of it."""
        p = self._local(np.array(lat), np.array(lon))
        a = p if self._last is None else self._last
        self._last = p
        if not self.lanes:
            return set()
        near_start = _segment_dist(a, p, self._starts) <= self.tolerance_m
        near_end = _segment_dist(a, p, self._ends) <= self.tolerance_m
        # A lane's end counts only after its start: passing an end on the way somewhere else
        # flies nothing.
        new = near_end & self.started & ~self.flown
        self.started |= near_start
        self.flown |= new
        return {self.lanes[i] for i in np.flatnonzero(new)}

    def flown_lanes(self) -> set[int]:
        return {self.lanes[i] for i in np.flatnonzero(self.flown)}


def _segment_dist(a: np.ndarray, b: np.ndarray, pts: np.ndarray) -> np.ndarray:
    """Distance from each point of `pts` (n, 2) to the segment a-b."""
    d = b - a
    dd = float(d @ d)
    if dd == 0.0:
        return np.hypot(*(pts - a).T)
    t = np.clip(((pts - a) @ d) / dd, 0.0, 1.0)
    proj = a + t[:, None] * d
    return np.hypot(*(pts - proj).T)


class ProgressWatch:
    """Is a returning drone still getting somewhere? Progress is moving `move_m` from where it
    last made progress, or changing altitude by `climb_m`; `stalled` after `stall_s` without.

    A return is judged by progress, not a deadline from catalogue speeds: PX4 returns at its
    own MPC_XY_CRUISE after climbing to RTL_RETURN_ALT and lands at MPC_LAND_SPEED, all set
    on the vehicle."""

    def __init__(self, stall_s: float, move_m: float = 3.0, climb_m: float = 1.0) -> None:
        self.stall_s = stall_s
        self.move_m = move_m
        self.climb_m = climb_m
        self._mark: tuple[float, float, float] | None = None
        self._since = 0.0

    def update(self, now_s: float, lat: float, lon: float, alt_m: float) -> None:
        if self._mark is None:
            self._mark, self._since = (lat, lon, alt_m), now_s
            return
        lat0, lon0, alt0 = self._mark
        k = math.pi / 180.0 * EARTH_R_M
        dx = (lon - lon0) * k * math.cos(math.radians(lat0))
        dy = (lat - lat0) * k
        if math.hypot(dx, dy) >= self.move_m or abs(alt_m - alt0) >= self.climb_m:
            self._mark, self._since = (lat, lon, alt_m), now_s

    def stalled(self, now_s: float) -> bool:
        return self._mark is not None and now_s - self._since > self.stall_s

    def idle_s(self, now_s: float) -> float:
        return 0.0 if self._mark is None else now_s - self._since
