"""The last check before a mission reaches a drone: every straight leg it will fly.

A drone flies straight between consecutive positions of its mission: from the launch point
(take-off climbs vertically there) to the first waypoint, waypoint to waypoint, and, on
RETURN_TO_LAUNCH, from the last waypoint straight home. `check_plan` tests each of those legs
of every sortie against the plan's own geometry:

* no leg enters a hole (no-fly zone, or ground excluded from the search) by more than
  `TOLERANCE_M` (mission items carry 1e-7 degrees, about a centimetre);
* a sweep leg (lanes, turns, links between lanes) stays inside the area grown by the plan's
  turn margin;
* a transit leg (take-off leg, return leg, and legs to or from a ``transit`` waypoint) may
  leave the area, but only within `TRANSIT_ROOM_M` of it: the transit corridor.

The check is pure and independent of how the plan was made: it reads only the plan's rings
and the mission items (`missions.plan.mission_items`), in a local metric frame of its own.
`ensure_plan_safe` raises `UnsafePlanError` naming the first bad leg; `groundctl plan` refuses
such a plan and `groundctl fly` checks before any upload. `check_sortie` checks one sortie
(e.g. one rebuilt in flight from a lost drone's lanes) against its plan.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import shapely
from shapely.geometry import Polygon

from missions.errors import PlanError
from missions.geodesy import LocalFrame
from missions.plan import (
    MAV_CMD_NAV_RETURN_TO_LAUNCH,
    MAV_CMD_NAV_TAKEOFF,
    MAV_CMD_NAV_WAYPOINT,
    Plan,
    Sortie,
    mission_items,
)

# How far a leg may graze a hole or the allowed region: below the resolution of mission items
# (1e-7 degrees) and of the plan's own coordinates, far below any flight accuracy.
TOLERANCE_M = 0.05
# Transit legs stay this close to the area (the planner's own limit for launch points).
TRANSIT_ROOM_M = 2000.0


class UnsafePlanError(PlanError):
    """A plan or sortie has a leg through a hole or outside the allowed region."""

    def __init__(self, violations: list[LegViolation]) -> None:
        self.violations = violations
        first = violations[0]
        more = len(violations) - 1
        tail = f" (and {more} more leg{'s' if more > 1 else ''})" if more else ""
        super().__init__(f"unsafe plan: {first}{tail}; re-plan it with `groundctl plan`")


@dataclass(frozen=True)
class LegViolation:
    """One straight leg that enters a hole, or leaves the allowed region."""

    segment: int
    sortie: int
    item: int  # seq of the mission item that flies the leg (no home item; take-off is 0)
    start: tuple[float, float]  # (lat, lon)
    end: tuple[float, float]
    problem: str  # "hole" or "outside"
    hole: int | None  # index into plan.holes for "hole"
    metres: float  # length of the leg inside the hole, or outside the allowed region
    transit: bool  # a transit leg (take-off, return, to/from a transit waypoint)

    def __str__(self) -> str:
        where = (
            f"segment {self.segment + 1} sortie {self.sortie + 1} item {self.item} "
            f"({self.start[0]:.6f},{self.start[1]:.6f} -> {self.end[0]:.6f},{self.end[1]:.6f})"
        )
        if self.problem == "hole":
            return f"{where} flies {self.metres:.0f} m inside hole {self.hole} (no-fly)"
        room = "the transit corridor" if self.transit else "the area plus the turn margin"
        return f"{where} flies {self.metres:.0f} m outside {room}"


@dataclass(frozen=True)
class _Geometry:
    frame: LocalFrame
    holes: np.ndarray  # shapely polygons, shrunk by the tolerance
    sweep_ok: shapely.Geometry
    transit_ok: shapely.Geometry


def _geometry(plan: Plan) -> _Geometry:
    pts = np.array([p for r in plan.area for p in r], dtype=float)
    frame = LocalFrame.for_area(pts[:, 0], pts[:, 1])
    area = shapely.union_all([Polygon(frame.latlon_to_xy(np.asarray(r))) for r in plan.area])
    holes = np.array(
        [Polygon(frame.latlon_to_xy(np.asarray(r))).buffer(-TOLERANCE_M) for r in plan.holes],
        dtype=object,
    )
    sweep_ok = area.buffer(plan.turn_margin_m + TOLERANCE_M)
    transit_ok = area.buffer(TRANSIT_ROOM_M + TOLERANCE_M, quad_segs=4)
    shapely.prepare(sweep_ok)
    shapely.prepare(transit_ok)
    return _Geometry(frame, holes, sweep_ok, transit_ok)


def _legs(sortie: Sortie) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(positions (N, 2) lat/lon, item seq of each leg's end (N-1,), transit flag (N-1,))."""
    items = mission_items(sortie)
    lat0, lon0 = sortie.launch
    pos, seq, kinds = [], [], []
    wps = iter(sortie.waypoints)
    for it in items:
        if it.command == MAV_CMD_NAV_TAKEOFF:
            pos.append((it.x / 1e7, it.y / 1e7))
            seq.append(it.seq)
            kinds.append("transit")
        elif it.command == MAV_CMD_NAV_WAYPOINT:
            pos.append((it.x / 1e7, it.y / 1e7))
            seq.append(it.seq)
            kinds.append(next(wps).kind)
        elif it.command == MAV_CMD_NAV_RETURN_TO_LAUNCH:
            pos.append((lat0, lon0))
            seq.append(it.seq)
            kinds.append("transit")
    k = np.array([x == "transit" for x in kinds])
    transit = k[:-1] | k[1:]
    transit[0] = True  # the take-off leg: launch to the first waypoint
    transit[-1] = True  # the return leg
    return np.asarray(pos, dtype=float), np.asarray(seq[1:]), transit


def _check(plan: Plan, sortie: Sortie, geo: _Geometry) -> list[LegViolation]:
    ll, seq, transit = _legs(sortie)
    if len(ll) < 2:
        return []
    xy = geo.frame.latlon_to_xy(ll)
    a, b = xy[:-1], xy[1:]
    same = np.all(np.abs(a - b) < 1e-6, axis=1)
    lines = shapely.linestrings(np.stack([a, np.where(same[:, None], b + 1e-4, b)], axis=1))
    out: list[LegViolation] = []

    def add(i: int, problem: str, hole: int | None, metres: float) -> None:
        out.append(
            LegViolation(
                segment=sortie.segment,
                sortie=sortie.index,
                item=int(seq[i]),
                start=(float(ll[i, 0]), float(ll[i, 1])),
                end=(float(ll[i + 1, 0]), float(ll[i + 1, 1])),
                problem=problem,
                hole=hole,
                metres=metres,
                transit=bool(transit[i]),
            )
        )

    if len(geo.holes):
        li, hi = shapely.STRtree(geo.holes).query(lines, predicate="intersects")
        inside = shapely.length(shapely.intersection(lines[li], geo.holes[hi]))
        for i, h, m in zip(li, hi, inside, strict=True):
            if m > TOLERANCE_M:
                add(int(i), "hole", int(h), float(m))
    for ok, mask in ((geo.sweep_ok, ~transit), (geo.transit_ok, transit)):
        idx = np.flatnonzero(mask)
        if not len(idx):
            continue
        bad = idx[~shapely.covers(ok, lines[idx])]
        if len(bad):
            outside = shapely.length(shapely.difference(lines[bad], ok))
            for i, m in zip(bad, outside, strict=True):
                if m > TOLERANCE_M:
                    add(int(i), "outside", None, float(m))
    out.sort(key=lambda v: (v.item, v.problem))
    return out


def check_sortie(plan: Plan, sortie: Sortie) -> list[LegViolation]:
    """Every bad leg of one sortie flown under `plan`'s area, holes and turn margin."""
    return _check(plan, sortie, _geometry(plan))


def check_plan(plan: Plan) -> list[LegViolation]:
    """Every bad leg of every sortie of the plan, in segment, sortie and item order."""
    geo = _geometry(plan)
    return [v for s in plan.sorties for v in _check(plan, s, geo)]


def ensure_plan_safe(plan: Plan) -> None:
    """Raise `UnsafePlanError` (a `MissionError`) naming the first bad leg, if any."""
    bad = check_plan(plan)
    if bad:
        raise UnsafePlanError(bad)


def ensure_sortie_safe(plan: Plan, sortie: Sortie) -> None:
    bad = check_sortie(plan, sortie)
    if bad:
        raise UnsafePlanError(bad)


def reroute_sortie(plan: Plan, sortie: Sortie) -> Sortie:
    """The sortie with every bad leg replaced by the shortest way round the holes.

    For sorties built in flight (the rest of an interrupted sortie, a lost drone's lanes
    joined by straight legs): each leg through a hole, the take-off and return legs
    included, becomes a routed transit (waypoints of kind ``transit`` at the altitude of the
    leg's start) that keeps the plan's hole margin. Legs that are fine are kept as they are.
    """
    bad = {v.item for v in check_sortie(plan, sortie)}
    if not bad:
        return sortie
    from missions.route import Router  # the router's graph is only built when needed

    geo = _geometry(plan)
    area = shapely.union_all([Polygon(geo.frame.latlon_to_xy(np.asarray(r))) for r in plan.area])
    holes = shapely.union_all(
        [Polygon(geo.frame.latlon_to_xy(np.asarray(r))) for r in plan.holes] or [Polygon()]
    )
    avoid = holes.buffer(max(plan.hole_margin_m, 1.0))
    free = shapely.difference(area.buffer(TRANSIT_ROOM_M), avoid)
    router = Router(free)
    ll, seq, _ = _legs(sortie)
    xy = geo.frame.latlon_to_xy(ll)
    wps = list(sortie.waypoints)
    out = []
    # Position k of the legs is the launch (0), the waypoints (1..n), the launch again.
    for k in range(len(xy) - 1):
        if k >= 1:
            out.append(wps[k - 1])
        if int(seq[k]) not in bad:
            continue
        path = router.path(xy[k], xy[k + 1])[1:-1]
        ref = wps[k - 1] if k >= 1 else wps[0]
        for lat, lon in geo.frame.xy_to_latlon(path) if len(path) else []:
            out.append(
                ref.model_copy(
                    update={
                        "lat": round(float(lat), 8),
                        "lon": round(float(lon), 8),
                        "kind": "transit",
                        "lane_id": None,
                        "alt_amsl_m": None,
                    }
                )
            )
    if int(seq[-1]) in bad and out[-1].kind != "transit":
        lat0, lon0 = sortie.launch
        out.append(
            out[-1].model_copy(
                update={"lat": lat0, "lon": lon0, "kind": "transit", "lane_id": None}
            )
        )
    return sortie.model_copy(update={"waypoints": tuple(out)})
