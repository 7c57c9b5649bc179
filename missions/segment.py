"""Segmentation: cut one sweep route into contiguous pieces balanced by flight time.

The route is a polyline parametrised by arc length. A vehicle flying the piece [a, b] spends
(transit from its launch to a + route a..b + transit from b home) / speed, plus a stop-and-go
penalty per corner and the climb and descent. Contiguous pieces of a boustrophedon route are
contiguous, compact bands of the area. The cut positions come from a binary search on the
longest vehicle time: for a candidate time T each vehicle in turn takes the longest piece it
can fly within T; the smallest T for which the pieces reach the end of the route wins.
Pieces may cut a lane in two, which is what makes the balance exact.

The same search, with every "vehicle" the same drone and T capped by its usable battery,
splits a segment into sorties.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from missions.errors import PlanError

# Share of the usable endurance a sortie is planned to (room for routing around holes).
SORTIE_BUDGET_SHARE = 0.99
# Corners sharper than this cost a stop-and-go.
TURN_MIN_DEG = 20.0


@dataclass(frozen=True)
class Vehicle:
    """What the planner needs of an airframe (groundctl converts its AirframeConfig)."""

    name: str = "drone"
    speed_ms: float = 10.0
    usable_endurance_s: float = 1800.0
    climb_rate_ms: float = 5.0
    descent_rate_ms: float = 3.0
    accel_ms2: float = 3.0

    @property
    def turn_penalty_s(self) -> float:
        # Decelerate to a stop and accelerate again: v/a lost compared with flying through.
        return self.speed_ms / self.accel_ms2

    def climb_descent_s(self, alt_m: float) -> float:
        return alt_m / self.climb_rate_ms + alt_m / self.descent_rate_ms

    def overhead_s(self, alt_m: float) -> float:
        """Climb, descent, and the two corners where the legs to and from launch meet the
        sweep (the route's own corners are counted separately)."""
        return self.climb_descent_s(alt_m) + 2 * self.turn_penalty_s


@dataclass(frozen=True)
class Track:
    """A route polyline with arc-length samples where it may be cut."""

    xy: NDArray[np.float64]  # (M, 2) vertices
    cum: NDArray[np.float64]  # (M,) arc length at each vertex
    turn: NDArray[np.bool_]  # (M,) vertex is a corner
    s: NDArray[np.float64]  # (S,) candidate cut positions (arc length), incl. 0 and end
    s_xy: NDArray[np.float64]  # (S, 2)
    s_turns: NDArray[np.float64]  # (S,) corners passed before each sample

    @classmethod
    def from_polyline(cls, xy: NDArray[np.float64], step_m: float = 10.0) -> Track:
        seg = np.linalg.norm(np.diff(xy, axis=0), axis=1)
        cum = np.r_[0.0, np.cumsum(seg)]
        d = np.diff(xy, axis=0)
        ang = np.arctan2(d[:, 1], d[:, 0])
        turn = np.zeros(len(xy), dtype=bool)
        if len(ang) > 1:
            dang = np.abs((np.diff(ang) + np.pi) % (2 * np.pi) - np.pi)
            turn[1:-1] = (dang > np.radians(TURN_MIN_DEG)) & (seg[1:] > 0) & (seg[:-1] > 0)
        total = float(cum[-1])
        s = np.unique(np.r_[cum, np.arange(0.0, total, step_m), total])
        s_xy = np.column_stack([np.interp(s, cum, xy[:, 0]), np.interp(s, cum, xy[:, 1])])
        turn_cum = np.cumsum(turn)
        s_turns = turn_cum[np.clip(np.searchsorted(cum, s, side="right") - 1, 0, len(cum) - 1)]
        return cls(xy, cum, turn, s, s_xy, s_turns.astype(float))

    @property
    def length_m(self) -> float:
        return float(self.cum[-1])


def piece_time(
    track: Track, a: int, b: int, launch: NDArray[np.float64], v: Vehicle, alt_m: float
) -> float:
    """Time for vehicle v to fly samples a..b of the track from and back to launch."""
    d = (
        np.linalg.norm(track.s_xy[a] - launch)
        + track.s[b]
        - track.s[a]
        + np.linalg.norm(track.s_xy[b] - launch)
    )
    return float(
        d / v.speed_ms
        + v.turn_penalty_s * (track.s_turns[b] - track.s_turns[a])
        + v.overhead_s(alt_m)
    )


def _piece_times(
    track: Track,
    a: int,
    end: int,
    lo: int,
    back: NDArray[np.float64],
    cum_back: NDArray[np.float64],
    v: Vehicle,
    alt_m: float,
    sorties: bool,
) -> NDArray[np.float64]:
    """Time to fly samples a..j for every j in a+1..end, from and back to launch.

    With `sorties`, a piece longer than one battery costs extra round trips: as many as
    its flying time needs, each the mean distance from launch out and back.
    """
    j = np.arange(a + 1, end + 1)
    work = (track.s[j] - track.s[a]) / v.speed_ms + v.turn_penalty_s * (
        track.s_turns[j] - track.s_turns[a]
    )
    over = v.overhead_s(alt_m)
    single = work + (back[a - lo] + back[j - lo]) / v.speed_ms + over
    if not sorties:
        return single
    mean_d = (cum_back[j - lo + 1] - cum_back[a - lo]) / (j - a + 1)
    trip = 2 * mean_d / v.speed_ms + over
    room = np.maximum(v.usable_endurance_s - trip, 1e-3)
    n = np.ceil(np.maximum(single, 1e-9) / v.usable_endurance_s)
    n = np.maximum(n, np.ceil(work / room))
    return np.where(n <= 1, single, work + n * trip)


def _greedy(
    track: Track,
    lo: int,
    hi: int,
    home: list[NDArray[np.float64]],
    cum_home: list[NDArray[np.float64]],
    vehicles: list[Vehicle],
    alt_m: float,
    limit_s: float,
    sorties: bool,
) -> list[int] | None:
    """Each vehicle in turn takes the longest piece within limit_s; None if the end is not
    reached. `home[k][i]` is the distance from vehicle k's launch to sample lo + i.
    Returns the end sample index of each piece."""
    a = lo
    ends = []
    for k, v in enumerate(vehicles):
        if a >= hi:
            ends.append(hi)
            continue
        # No piece is longer than what the vehicle flies in limit_s: search only that far.
        end = min(hi, int(np.searchsorted(track.s, track.s[a] + limit_s * v.speed_ms, "right")))
        if end <= a:
            return None
        t = _piece_times(track, a, end, lo, home[k], cum_home[k], v, alt_m, sorties)
        ok = np.flatnonzero(t <= limit_s)
        if not len(ok):
            return None
        a = a + 1 + int(ok[-1])
        ends.append(a)
    return ends if a >= hi else None


def partition(
    track: Track,
    launches: NDArray[np.float64],
    vehicles: list[Vehicle],
    alt_m: float,
    lo: int = 0,
    hi: int | None = None,
    cap_s: float | None = None,
    sorties: bool = False,
) -> tuple[list[tuple[int, int]], float] | None:
    """Cut samples lo..hi into len(vehicles) pieces minimising the longest time.

    Returns ([(a, b) per vehicle], longest time), or None if `cap_s` cannot be met.
    """
    hi = len(track.s) - 1 if hi is None else hi
    launches = np.asarray(launches, dtype=float).reshape(-1, 2)
    if len(launches) == 1:
        launches = np.repeat(launches, len(vehicles), axis=0)
    slowest = max(piece_time(track, lo, hi, launches[k], v, alt_m) for k, v in enumerate(vehicles))
    # Distances from each launch point (and their running sums), once per distinct point.
    cache: dict[tuple[float, float], tuple[NDArray[np.float64], NDArray[np.float64]]] = {}
    home, cum_home = [], []
    for p in launches:
        key = (float(p[0]), float(p[1]))
        if key not in cache:
            d = np.linalg.norm(track.s_xy[lo : hi + 1] - p, axis=1)
            cache[key] = (d, np.r_[0.0, np.cumsum(d)])
        home.append(cache[key][0])
        cum_home.append(cache[key][1])
    if sorties:
        slowest = max(
            float(_piece_times(track, lo, hi, lo, home[k], cum_home[k], v, alt_m, True)[-1])
            for k, v in enumerate(vehicles)
        )
    top = slowest if cap_s is None else min(slowest, cap_s)
    if (
        _greedy(track, lo, hi, home, cum_home, vehicles, alt_m, sorties=sorties, limit_s=top)
        is None
    ):
        if cap_s is None:  # pragma: no cover - the slowest alone always fits
            raise PlanError("internal: cannot partition the route")
        return None
    bottom = 0.0
    for _ in range(40):
        mid = (bottom + top) / 2
        if (
            _greedy(track, lo, hi, home, cum_home, vehicles, alt_m, sorties=sorties, limit_s=mid)
            is None
        ):
            bottom = mid
        else:
            top = mid
        if top - bottom < 0.5:
            break
    ends = _greedy(track, lo, hi, home, cum_home, vehicles, alt_m, sorties=sorties, limit_s=top)
    assert ends is not None
    pieces, a = [], lo
    for b in ends:
        pieces.append((a, b))
        a = b
    return pieces, top


def split_sorties(
    track: Track,
    a: int,
    b: int,
    launch: NDArray[np.float64],
    v: Vehicle,
    alt_m: float,
    cap_s: float | None = None,
) -> list[tuple[int, int]]:
    """The fewest sorties, each within `cap_s` (default: the planned share of the vehicle's
    usable endurance), balanced."""
    # Straight-line transits and corner counts are estimates; the routed sortie may be a
    # little longer, so plan each to a slightly smaller budget than the battery allows.
    cap = SORTIE_BUDGET_SHARE * v.usable_endurance_s if cap_s is None else cap_s
    if piece_time(track, a, b, launch, v, alt_m) <= cap:
        return [(a, b)]
    reach = 2 * np.linalg.norm(track.s_xy[a : b + 1] - launch, axis=1).max() / v.speed_ms
    if reach + v.overhead_s(alt_m) > 0.9 * v.usable_endurance_s:
        raise PlanError(
            f"{v.name}: the far end of its segment is {reach * v.speed_ms / 2000:.1f} km from "
            f"launch, too far for {v.usable_endurance_s / 60:.0f} min of usable battery; "
            "launch closer (--launch) or use more drones"
        )
    n_max = 500

    def fit(n: int) -> list[tuple[int, int]] | None:
        got = partition(track, launch, [v] * n, alt_m, a, b, cap_s=cap)
        return None if got is None else [p for p in got[0] if p[1] > p[0]]

    # Gallop up from the single-trip estimate to a feasible count, then bisect down to the
    # fewest sorties that fit.
    lo_n = max(1, math.ceil(piece_time(track, a, b, launch, v, alt_m) / cap) - 1)
    hi_n, best = lo_n + 1, None
    while hi_n <= n_max:
        best = fit(hi_n)
        if best is not None:
            break
        lo_n, hi_n = hi_n, hi_n + max(1, hi_n // 4)
    if best is None:
        raise PlanError(
            f"{v.name}: a segment needs more than {n_max} sorties of "
            f"{v.usable_endurance_s / 60:.0f} min; is the launch point far from the area, or "
            "the endurance set wrong?"
        )
    while hi_n - lo_n > 1:
        mid = (lo_n + hi_n) // 2
        got = fit(mid)
        if got is None:
            lo_n = mid
        else:
            hi_n, best = mid, got
    return best
