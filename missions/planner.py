"""The planning pipeline: a validated area + camera + fleet -> `missions.plan.Plan`.

    LocalArea -> footprint -> lanes (cells, S-order) -> route (links inside the area, around
    holes) -> segments (one per vehicle, time-balanced) -> sorties (per battery) -> Plan

Each stage is a pure function in its own module; this module only wires them together and
turns local metres back into WGS84 waypoints.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field

import numpy as np
import shapely
from numpy.typing import NDArray
from shapely.geometry.base import BaseGeometry

from missions.area import LatLon, LocalArea, _ring_latlon, multipolygon
from missions.coverage import lay_lanes
from missions.errors import PlanError
from missions.footprint import Camera, Footprint, footprint
from missions.plan import (
    CameraSettings,
    Plan,
    PlanStats,
    Segment,
    SegmentStats,
    Sortie,
    Waypoint,
    unique_lane_pieces,
)
from missions.route import Router, build_route
from missions.segment import Track, Vehicle, partition, split_sorties
from missions.terrain import Dem, terrain_profile_points

# Transit legs to and from launch may leave the area, but stay this close to it.
TRANSIT_ROOM_M = 2000.0


@dataclass(frozen=True)
class PlanRequest:
    camera: Camera
    alt_agl_m: float
    side_overlap: float = 0.2
    vehicles: tuple[Vehicle, ...] = (Vehicle(),)
    launches: tuple[LatLon, ...] = ()  # none (default launch), one for all, or one each
    sweep_deg: float | None = None  # lane bearing from north; None = chosen per part
    turn_margin_m: float = 0.0
    hole_margin_m: float = 0.0  # keep this far off holes (camera still sees up to them)
    dem: Dem | None = field(default=None, compare=False)
    terrain_tol_m: float = 5.0
    name: str = ""


def default_launch(local: LocalArea) -> NDArray[np.float64]:
    """The point of the area's boundary nearest its centre: a road-side take-off spot."""
    c = local.searchable.centroid
    ring = local.area.boundary
    q = ring.interpolate(ring.project(c))
    return np.array([q.x, q.y])


def _sweep_start(geom: BaseGeometry) -> NDArray[np.float64]:
    """The vertex of `geom` furthest along (minus) its long axis: where a sweep should start."""
    rect = np.asarray(shapely.minimum_rotated_rectangle(geom).exterior.coords)[:4]
    e1, e2 = rect[1] - rect[0], rect[2] - rect[1]
    axis = e1 if np.linalg.norm(e1) >= np.linalg.norm(e2) else e2
    pts = shapely.get_coordinates(geom)
    return pts[int(np.argmin(pts @ axis))]


def _polyline(route) -> tuple[NDArray[np.float64], list[str], list[int | None]]:
    pts, kinds, ids = [], [], []
    n = len(route.start)
    for k in range(n):
        pts += [route.start[k], route.end[k]]
        kinds += ["lane_start", "lane_end"]
        ids += [k, k]
        if k < n - 1:
            mid = route.links[k][1:-1]
            pts.extend(mid)
            kinds += ["turn"] * len(mid)
            ids += [None] * len(mid)
    return np.asarray(pts), kinds, ids


def _cut(
    xy: NDArray[np.float64],
    cum: NDArray[np.float64],
    kinds: list[str],
    ids: list[int | None],
    sa: float,
    sb: float,
) -> tuple[NDArray[np.float64], list[str], list[int | None]]:
    """The polyline between arc lengths sa and sb, with kinds for the cut ends."""
    inside = np.flatnonzero((cum > sa + 1e-6) & (cum < sb - 1e-6))

    def at(s: float, is_start: bool) -> tuple[NDArray[np.float64], str, int | None]:
        j = int(np.searchsorted(cum, s, side="right")) - 1
        j = min(max(j, 0), len(cum) - 1)
        p = np.array([np.interp(s, cum, xy[:, 0]), np.interp(s, cum, xy[:, 1])])
        if abs(cum[j] - s) < 1e-6:
            kind, lid = kinds[j], ids[j]
        elif j + 1 < len(cum) and abs(cum[j + 1] - s) < 1e-6:
            kind, lid = kinds[j + 1], ids[j + 1]
        elif kinds[j] == "lane_start" and j + 1 < len(kinds) and kinds[j + 1] == "lane_end":
            kind, lid = ("lane_start" if is_start else "lane_end"), ids[j]
        else:
            kind, lid = "turn", None
        # A sortie never starts on a lane's end nor ends on a lane's start.
        if (is_start and kind == "lane_end") or (not is_start and kind == "lane_start"):
            kind, lid = "turn", None
        return p, kind, lid

    p0, k0, i0 = at(sa, True)
    p1, k1, i1 = at(sb, False)
    pts = np.vstack([p0, xy[inside], p1])
    return pts, [k0, *[kinds[i] for i in inside], k1], [i0, *[ids[i] for i in inside], i1]


def _length(xy: NDArray[np.float64]) -> float:
    return float(np.linalg.norm(np.diff(xy, axis=0), axis=1).sum()) if len(xy) > 1 else 0.0


def _turns(xy: NDArray[np.float64]) -> int:
    if len(xy) < 3:
        return 0
    d = np.diff(xy, axis=0)
    d = d[np.linalg.norm(d, axis=1) > 1e-6]
    if len(d) < 2:
        return 0
    ang = np.arctan2(d[:, 1], d[:, 0])
    dang = np.abs((np.diff(ang) + np.pi) % (2 * np.pi) - np.pi)
    return int(np.sum(dang > np.radians(20)))


def _lane_rects(p0: NDArray[np.float64], p1: NDArray[np.float64], width: float) -> BaseGeometry:
    if not len(p0):
        return shapely.Polygon()
    lines = shapely.linestrings(np.stack([p0, p1], axis=1))
    return shapely.union_all(shapely.buffer(lines, width / 2, cap_style="flat"))


def _vehicle_order(track: Track, launches: NDArray[np.float64]) -> list[int]:
    """Vehicles sorted by where along the route their launch point is nearest."""
    pos = [int(np.argmin(np.linalg.norm(track.s_xy - p, axis=1))) for p in launches]
    return sorted(range(len(launches)), key=lambda k: (pos[k], k))


def make_plan(local: LocalArea, req: PlanRequest) -> Plan:
    t0 = time.perf_counter()
    fp: Footprint = footprint(req.camera, req.alt_agl_m, req.side_overlap)
    if not req.vehicles:
        raise PlanError("no vehicles: give at least one drone (--drones 1)")
    if req.turn_margin_m < 0:
        raise PlanError(f"turn margin must be >= 0 (got {req.turn_margin_m:g} m)")
    if req.hole_margin_m < 0:
        raise PlanError(f"hole margin must be >= 0 (got {req.hole_margin_m:g} m)")
    if req.hole_margin_m >= fp.width_m / 2:
        raise PlanError(
            f"hole margin {req.hole_margin_m:g} m is not below half the footprint "
            f"({fp.width_m / 2:.1f} m): the ground next to holes would never be seen; lower "
            "it or fly higher"
        )
    searchable = local.searchable
    # Flight keeps hole_margin_m off every hole; the camera still sees the ground up to them.
    avoid = local.holes.buffer(req.hole_margin_m) if req.hole_margin_m > 0 else local.holes
    lane_ground = shapely.difference(searchable, avoid) if req.hole_margin_m > 0 else searchable
    flyable = (
        shapely.difference(local.area.buffer(req.turn_margin_m), avoid)
        if req.turn_margin_m > 0
        else lane_ground
    )
    k = len(req.vehicles)
    if len(req.launches) not in (0, 1, k):
        raise PlanError(
            f"{len(req.launches)} launch points for {k} drones; give one launch point for all "
            "drones or one per drone"
        )
    if req.launches:
        ll = np.asarray(req.launches, dtype=float)
        launch_xy = local.frame.latlon_to_xy(ll)
        if len(launch_xy) == 1:
            launch_xy = np.repeat(launch_xy, k, axis=0)
    else:
        launch_xy = np.repeat(default_launch(local)[None, :], k, axis=0)
    for i, p in enumerate(launch_xy):
        if shapely.contains_xy(avoid, p[0], p[1]):
            lat, lon = local.frame.xy_to_latlon(p)[0]
            raise PlanError(
                f"launch point {i + 1} ({lat:.6f}, {lon:.6f}) is inside a hole (no-fly zone); "
                "move it"
            )
        far = shapely.distance(local.area, shapely.Point(p))
        if far > TRANSIT_ROOM_M:
            lat, lon = local.frame.xy_to_latlon(p)[0]
            raise PlanError(
                f"launch point {i + 1} ({lat:.6f}, {lon:.6f}) is {far / 1000:.1f} km from the "
                f"area; launch within {TRANSIT_ROOM_M / 1000:.0f} km of it (lat, lon order?)"
            )

    lanes = lay_lanes(lane_ground, flyable, fp.spacing_m, req.sweep_deg)
    # Transit legs (to and from launch, between separate parts) may go anywhere but holes.
    transit_free = shapely.difference(
        shapely.box(
            *(np.asarray(local.area.bounds) + np.r_[-1, -1, 1, 1] * (TRANSIT_ROOM_M + 100))
        ),
        avoid,
    )
    transit_router = Router(transit_free)
    # Routed turns keep a quarter lane spacing off a ragged boundary: a smaller graph.
    router = Router(flyable, inset_m=float(np.clip(fp.spacing_m / 4, 2.0, 10.0)))
    # The sweep starts at one end of the area's long axis, so that cutting it into
    # contiguous pieces gives each drone a band of the area rather than scattered cells.
    route = build_route(lanes, router, _sweep_start(searchable), fallback=transit_router)
    xy, kinds, ids = _polyline(route)
    track = Track.from_polyline(xy)
    cum = track.cum
    is_lane = np.array(
        [kinds[i] == "lane_start" and kinds[i + 1] == "lane_end" for i in range(len(kinds) - 1)]
    )
    seg_len = np.diff(cum)
    cum_lane = np.r_[0.0, np.cumsum(np.where(is_lane, seg_len, 0.0))]

    vehicles = list(req.vehicles)
    order = _vehicle_order(track, launch_xy)
    got = partition(
        track, launch_xy[order], [vehicles[i] for i in order], req.alt_agl_m, sorties=True
    )
    assert got is not None
    pieces_in_order, _ = got
    pieces = {order[j]: pieces_in_order[j] for j in range(k)}

    home_ground: list[float | None] = [None] * k
    if req.dem is not None:
        ll = local.frame.xy_to_latlon(launch_xy)
        home_ground = [float(g) for g in req.dem.elevation(ll[:, 0], ll[:, 1])]

    segments = []
    all_lane_p0, all_lane_p1 = [], []
    total_turns = 0
    for vi in range(k):
        v = vehicles[vi]
        a, b = pieces[vi]
        home = launch_xy[vi]
        sortie_pieces = split_sorties(track, a, b, home, v, req.alt_agl_m) if b > a else []
        sorties = []
        seg_p0, seg_p1 = [], []
        seg_len_m = seg_time = 0.0
        seg_turns = 0
        lane_ids_seg: list[int] = []
        for si, (sa_i, sb_i) in enumerate(sortie_pieces):
            sa, sb = float(track.s[sa_i]), float(track.s[sb_i])
            pts, pk, pid = _cut(xy, cum, kinds, ids, sa, sb)
            lane_mask = np.array(
                [pk[i] == "lane_start" and pk[i + 1] == "lane_end" for i in range(len(pk) - 1)],
                dtype=bool,
            )
            seg_p0.append(pts[:-1][lane_mask])
            seg_p1.append(pts[1:][lane_mask])
            t_in = transit_router.path(home, pts[0])
            t_out = transit_router.path(pts[-1], home)
            full = np.vstack([t_in[1:-1], pts, t_out[1:]]) if len(t_in) > 1 else pts
            fk = ["transit"] * (len(t_in) - 2) + pk + ["transit"] * (len(t_out) - 1)
            fid = [None] * (len(t_in) - 2) + pid + [None] * (len(t_out) - 1)
            path = np.vstack([home, full])
            length = _length(path)
            turns = _turns(path)
            est = length / v.speed_ms + turns * v.turn_penalty_s + v.climb_descent_s(req.alt_agl_m)
            waypoints = _waypoints(local, req, full, fk, fid, v.speed_ms, home_ground[vi])
            lids = tuple(dict.fromkeys(i for i in fid if i is not None))
            lane_ids_seg += [i for i in lids if i not in lane_ids_seg]
            sorties.append(
                Sortie(
                    index=si,
                    segment=vi,
                    launch=tuple(round(float(c), 8) for c in local.frame.xy_to_latlon(home)[0]),
                    waypoints=waypoints,
                    est_time_s=round(est, 1),
                    length_m=round(length, 1),
                    lane_ids=lids,
                )
            )
            seg_len_m += length
            seg_time += est
            seg_turns += turns
        p0 = np.vstack(seg_p0) if seg_p0 else np.zeros((0, 2))
        p1 = np.vstack(seg_p1) if seg_p1 else np.zeros((0, 2))
        all_lane_p0.append(p0)
        all_lane_p1.append(p1)
        band = shapely.intersection(_lane_rects(p0, p1, fp.spacing_m), searchable)
        lane_len = float(
            np.interp(track.s[b], cum, cum_lane) - np.interp(track.s[a], cum, cum_lane)
        )
        area_k = float(band.area)
        pod = 1 - math.exp(-fp.width_m * lane_len / area_k) if area_k > 0 else 0.0
        total_turns += seg_turns
        segments.append(
            Segment(
                index=vi,
                vehicle=v.name,
                speed_ms=v.speed_ms,
                launch=tuple(round(float(c), 8) for c in local.frame.xy_to_latlon(home)[0]),
                lane_ids=tuple(lane_ids_seg),
                sorties=tuple(sorties),
                stats=SegmentStats(
                    area_m2=round(area_k, 1),
                    lane_length_m=round(lane_len, 1),
                    length_m=round(seg_len_m, 1),
                    est_time_s=round(seg_time, 1),
                    turns=seg_turns,
                    pod=round(min(max(pod, 0.0), 1.0), 4),
                ),
                outline=tuple(
                    _ring_latlon(local.frame, p.exterior) for p in multipolygon(band).geoms
                ),
            )
        )
    covered = shapely.intersection(
        _lane_rects(np.vstack(all_lane_p0), np.vstack(all_lane_p1), fp.width_m), searchable
    )
    times = [s.stats.est_time_s for s in segments]
    lane_total = float(cum_lane[-1])
    stats = PlanStats(
        area_m2=round(float(local.area.area), 1),
        searchable_m2=round(float(searchable.area), 1),
        length_m=round(sum(s.stats.length_m for s in segments), 1),
        lane_length_m=round(lane_total, 1),
        max_segment_time_s=max(times),
        mean_segment_time_s=round(float(np.mean(times)), 1),
        turns=total_turns,
        coverage_pct=round(100 * covered.area / searchable.area, 3),
        pod=round(1 - math.exp(-fp.width_m * lane_total / searchable.area), 4),
        sorties=sum(len(s.sorties) for s in segments),
        planning_s=round(time.perf_counter() - t0, 4),
    )
    area_rings = tuple(
        _ring_latlon(local.frame, p.exterior) for p in multipolygon(local.area).geoms
    )
    hole_rings = [
        _ring_latlon(local.frame, r) for p in multipolygon(local.area).geoms for r in p.interiors
    ] + [_ring_latlon(local.frame, p.exterior) for p in multipolygon(local.holes).geoms]
    plan = Plan(
        name=req.name or local.source.name,
        area=area_rings,
        holes=tuple(hole_rings),
        camera=CameraSettings(
            name=req.camera.name,
            alt_agl_m=req.alt_agl_m,
            footprint_w_m=round(fp.width_m, 3),
            footprint_h_m=round(fp.height_m, 3),
            gsd_m=round(fp.gsd_m, 5),
            lane_spacing_m=round(fp.spacing_m, 3),
            side_overlap=req.side_overlap,
            px_on_person=round(fp.px_on_person, 2),
        ),
        altitude_ref="terrain" if req.dem is not None else "relative_home",
        turn_margin_m=req.turn_margin_m,
        hole_margin_m=req.hole_margin_m,
        sweep_deg=req.sweep_deg,
        stats=stats,
        segments=tuple(segments),
    )
    return unique_lane_pieces(plan)


def _waypoints(
    local: LocalArea,
    req: PlanRequest,
    xy: NDArray[np.float64],
    kinds: list[str],
    ids: list[int | None],
    speed_ms: float,
    home_ground_m: float | None,
) -> tuple[Waypoint, ...]:
    if req.dem is None or home_ground_m is None:
        ll = local.frame.xy_to_latlon(xy)
        return tuple(
            Waypoint(
                lat=round(float(la), 8),
                lon=round(float(lo), 8),
                alt_rel_m=req.alt_agl_m,
                speed_ms=speed_ms,
                kind=kd,  # type: ignore[arg-type]
                lane_id=lid,
            )
            for (la, lo), kd, lid in zip(ll, kinds, ids, strict=True)
        )
    pts, src = terrain_profile_points(local.frame, req.dem, xy, req.terrain_tol_m)
    ll = local.frame.xy_to_latlon(pts)
    ground = req.dem.elevation(ll[:, 0], ll[:, 1])
    out = []
    for j in range(len(pts)):
        s = src[j]
        if s >= 0:
            kd, lid = kinds[s], ids[s]
        else:
            # Inserted between original points -s-1 and -s: on a lane if that leg is one.
            i = -s - 1
            on_lane = kinds[i] == "lane_start" and kinds[i + 1] == "lane_end"
            kd, lid = "terrain", (ids[i] if on_lane else None)
        amsl = float(ground[j]) + req.alt_agl_m
        out.append(
            Waypoint(
                lat=round(float(ll[j, 0]), 8),
                lon=round(float(ll[j, 1]), 8),
                alt_rel_m=round(amsl - home_ground_m, 2),
                alt_amsl_m=round(amsl, 2),
                speed_ms=speed_ms,
                kind=kd,  # type: ignore[arg-type]
                lane_id=lid,
            )
        )
    return tuple(out)
