"""From the plan to what one drone flies: sorties, mission items, lanes, geofence. Pure.

The planner's `Sortie` is the unit of flying. Everything the fleet flies is one: a planned
sortie, the rest of one (`Sortie.resume_from`), or the unswept lanes of a lost drone rebuilt
as a new sortie from the plan's own lane waypoints (`sortie_for_lanes`).
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import shapely
from shapely.geometry import MultiPoint, Polygon

from groundctl.fleet.assign import distance_m
from missions.geodesy import LocalFrame
from missions.plan import (
    MAV_CMD_NAV_WAYPOINT,
    MAV_FRAME_GLOBAL,
    MissionItem,
    Plan,
    Sortie,
    Waypoint,
    mission_items,
)

MAV_CMD_NAV_FENCE_POLYGON_VERTEX_INCLUSION = 5001
MAV_CMD_NAV_FENCE_POLYGON_VERTEX_EXCLUSION = 5002
MAV_MISSION_TYPE_FENCE = 1


@dataclass(frozen=True)
class Job:
    """A sortie handed to a drone. `id` is stable across restarts (it keys the journal)."""

    id: str
    sortie: Sortie
    role: str = "search"

    @property
    def lanes(self) -> tuple[int, ...]:
        return self.sortie.lane_ids


def planned_jobs(plan: Plan) -> list[Job]:
    return [Job(f"s{s.segment}.{s.index}", s) for s in plan.sorties]


def with_transit_alt(sortie: Sortie, transit_alt_m: float) -> Sortie:
    """The sortie with every transit leg at this drone's own transit altitude.

    A sortie that starts on a lane (a resumed one) first gets a transit point above that
    lane's start, so the climb-out and the way there are flown at the staggered height too.
    """
    wps = [
        wp.model_copy(update={"alt_rel_m": transit_alt_m}) if wp.kind == "transit" else wp
        for wp in sortie.waypoints
    ]
    if wps and wps[0].kind != "transit":
        wps.insert(
            0,
            wps[0].model_copy(
                update={"kind": "transit", "alt_rel_m": transit_alt_m, "lane_id": None}
            ),
        )
    if wps and wps[-1].kind != "transit":
        lat, lon = sortie.launch
        wps.append(
            wps[-1].model_copy(
                update={
                    "kind": "transit",
                    "lat": lat,
                    "lon": lon,
                    "alt_rel_m": transit_alt_m,
                    "lane_id": None,
                }
            )
        )
    return sortie.model_copy(update={"waypoints": tuple(wps)})


def build_mission(sortie: Sortie, transit_alt_m: float) -> tuple[list[MissionItem], dict[int, int]]:
    """Mission items for a sortie (take-off to this drone's transit altitude, return at the
    end) and, for each lane, the seq of the item that ends it."""
    flown = with_transit_alt(sortie, transit_alt_m)
    items = mission_items(flown, takeoff_alt_m=transit_alt_m)
    wp_items = [it.seq for it in items if it.command == MAV_CMD_NAV_WAYPOINT]
    if len(wp_items) != len(flown.waypoints):
        raise AssertionError("mission_items must emit one NAV_WAYPOINT per waypoint")
    lane_end = {
        wp.lane_id: seq
        for wp, seq in zip(flown.waypoints, wp_items, strict=True)
        if wp.kind == "lane_end" and wp.lane_id is not None
    }
    return items, lane_end


def lane_waypoints(plan: Plan) -> dict[int, tuple[Waypoint, ...]]:
    """Each lane's own waypoints (start, terrain points, end) from the plan."""
    out: dict[int, list[Waypoint]] = {}
    for s in plan.sorties:
        for wp in s.waypoints:
            if wp.lane_id is not None and wp.kind in ("lane_start", "lane_end", "terrain"):
                out.setdefault(wp.lane_id, []).append(wp)
    return {k: tuple(v) for k, v in out.items()}


def lane_length_m(wps: Sequence[Waypoint]) -> float:
    return sum(distance_m((a.lat, a.lon), (b.lat, b.lon)) for a, b in itertools.pairwise(wps))


def sortie_for_lanes(
    plan: Plan,
    lanes: Sequence[int],
    launch: tuple[float, float],
    segment: int,
    index: int,
    airframe: Any = None,
) -> Sortie:
    """A new sortie flying `lanes` in order from `launch` and back: the plan's lane waypoints,
    joined by straight transits at the lane altitude.

    Its time is estimated as the planner does (`missions.segment.Vehicle`): the path at the
    lanes' speed, a stop-and-go per corner sharper than 20°, the climb and the descent, given
    the `airframe` (climb_rate_ms, descent_rate_ms, max_accel_ms2); without it, the path only.
    """
    by_lane = lane_waypoints(plan)
    wps: list[Waypoint] = []
    for lane in lanes:
        wps.extend(by_lane[lane])
    if not wps:
        raise ValueError("no lanes to fly")
    first, last = wps[0], wps[-1]
    lat0, lon0 = launch
    t_out = first.model_copy(update={"kind": "transit", "lane_id": None})
    t_home = last.model_copy(update={"kind": "transit", "lat": lat0, "lon": lon0, "lane_id": None})
    route = [t_out, *wps, t_home]
    length = distance_m(launch, (first.lat, first.lon)) + distance_m((last.lat, last.lon), launch)
    length += lane_length_m(wps)
    speed = float(np.mean([w.speed_ms for w in wps]))
    est = length / speed
    if airframe is not None:
        corners = _corners([launch, *((w.lat, w.lon) for w in route)])
        alt = max(w.alt_rel_m for w in wps)
        est += corners * speed / airframe.max_accel_ms2
        est += alt / airframe.climb_rate_ms + alt / airframe.descent_rate_ms
    return Sortie(
        index=index,
        segment=segment,
        launch=launch,
        waypoints=tuple(route),
        est_time_s=est,
        length_m=length,
        lane_ids=tuple(lanes),
    )


def _corners(latlon: Sequence[tuple[float, float]], min_deg: float = 20.0) -> int:
    """Corners sharper than `min_deg` along a path (the planner's stop-and-go count)."""
    pts = np.asarray(latlon, dtype=float)
    if len(pts) < 3:
        return 0
    xy = np.column_stack([pts[:, 1] * np.cos(np.radians(pts[:, 0])), pts[:, 0]])
    d = np.diff(xy, axis=0)
    keep = np.hypot(d[:, 0], d[:, 1]) > 1e-9
    d = d[keep]
    if len(d) < 2:
        return 0
    ang = np.arctan2(d[:, 1], d[:, 0])
    turn = np.abs((np.diff(ang) + np.pi) % (2 * np.pi) - np.pi)
    return int(np.count_nonzero(turn > np.radians(min_deg)))


def lane_geometry(
    plan: Plan,
) -> tuple[dict[int, tuple[float, float]], dict[int, tuple[float, float]], dict[int, float]]:
    """Per lane: start point, end point and sweep time, for the assigner."""
    start, end, sweep = {}, {}, {}
    for lane, wps in lane_waypoints(plan).items():
        start[lane] = (wps[0].lat, wps[0].lon)
        end[lane] = (wps[-1].lat, wps[-1].lon)
        sweep[lane] = lane_length_m(wps) / wps[0].speed_ms
    return start, end, sweep


def fence_items(
    plan: Plan, launches: Sequence[tuple[float, float]], margin_m: float = 50.0
) -> list[MissionItem]:
    """Geofence: one inclusion polygon around the area and the launch points (a drone must be
    able to get from its pad to the area), one exclusion polygon per hole (no-fly)."""
    pts = [p for ring in plan.area for p in ring] + list(launches)
    lats = np.array([p[0] for p in pts])
    lons = np.array([p[1] for p in pts])
    frame = LocalFrame.for_area(lats, lons)
    x, y = frame.to_local(lats, lons)
    hull = MultiPoint(np.column_stack([x, y])).convex_hull.buffer(margin_m, join_style="mitre")
    hull = shapely.simplify(hull, 1.0)
    rings: list[tuple[int, list[tuple[float, float]]]] = []
    hx, hy = np.asarray(hull.exterior.coords).T
    hlat, hlon = frame.to_wgs84(hx[:-1], hy[:-1])
    rings.append((MAV_CMD_NAV_FENCE_POLYGON_VERTEX_INCLUSION, list(zip(hlat, hlon, strict=True))))
    for hole in plan.holes:
        if len(hole) >= 3 and Polygon([(lo, la) for la, lo in hole]).is_valid:
            rings.append((MAV_CMD_NAV_FENCE_POLYGON_VERTEX_EXCLUSION, list(hole)))
    items: list[MissionItem] = []
    for cmd, ring in rings:
        for lat, lon in ring:
            items.append(
                MissionItem(
                    seq=len(items),
                    frame=MAV_FRAME_GLOBAL,
                    command=cmd,
                    current=0,
                    autocontinue=1,
                    param1=float(len(ring)),
                    param2=0.0,
                    param3=0.0,
                    param4=0.0,
                    x=round(float(lat) * 1e7),
                    y=round(float(lon) * 1e7),
                    z=0.0,
                    mission_type=MAV_MISSION_TYPE_FENCE,
                )
            )
    return items
