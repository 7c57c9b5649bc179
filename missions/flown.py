"""Planned against flown: the ground a flight really put under its camera, and a plan for the
rest.

`flown_coverage` follows each drone's recorded track (time, position, height above home,
speed) leg by leg. A leg sweeps a band as wide as the camera's footprint at the height it
was flown; a ground point counts as covered when a leg over it had a probability of
detecting a person of at least `min_p`. That probability comes from the pixels across a
0.5 m wide person, blurred by the motion during the detector's integration (an uncooled
microbolometer's thermal time constant, `time_constant_s`): the effective sample is
sqrt(GSD² + (speed x time constant)²), and the pixels become cycles (two pixels a cycle)
for Johnson's detection criterion (one cycle across the target for a 50 % chance: Johnson,
"Analysis of image forming systems", 1958), with the target transfer probability function
P = (N/N50)^E / (1 + (N/N50)^E), E = 2.7 + 0.7 N/N50 (Vollmerhausen & Jacobs, "The Targeting
Task Performance metric", US Army NVESD, 2004). Legs across a gap in the record (lost link)
count for nothing. Per segment: the covered share of its ground, and its POD (the mean
detection probability over its ground, 0 where never under the camera).

`replan` flies the gaps: each planned lane whose band was missed is flown again over the
missed stretch only (same line, same direction), so nothing already seen is swept again
beyond the lanes' own overlap; gaps no lane runs through get lanes of their own. The lanes
are joined in the original order and cut among the drones (`missions.segment.partition`),
then into sorties by battery, with every leg checked, as any plan.
"""

from __future__ import annotations

import math
import time
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import shapely
import shapely.ops
from numpy.typing import NDArray
from shapely.geometry import LineString, Polygon
from shapely.geometry.base import BaseGeometry

from missions.area import LocalArea, SearchArea, prepare
from missions.assemble import fly_sorties
from missions.coverage import lay_lanes
from missions.footprint import PERSON_WIDTH_M, Camera, footprint
from missions.patterns import split_line
from missions.plan import Plan
from missions.planner import Ground, PlanRequest, assemble_plan, reach_m
from missions.route import Router
from missions.segment import Track, partition
from missions.sweep import SweepLine

N50_DETECTION = 1.0  # cycles across the target for a 50 % detection (Johnson 1958)
MICROBOLOMETER_TIME_CONSTANT_S = 0.010  # typical uncooled LWIR cores: 8-12 ms
MAX_GAP_S = 15.0  # a longer silence in a track is a lost link: no coverage assumed
MAX_GAP_M = 300.0
GNSS_ERROR_M = 2.0  # a recorded position's own error (m): thinner gaps are no gaps


@dataclass(frozen=True)
class FlightTrack:
    """One drone's recorded positions, in time order."""

    t_s: NDArray[np.float64]
    lat: NDArray[np.float64]
    lon: NDArray[np.float64]
    height_m: NDArray[np.float64]  # above the ground below (above home, without a DEM)
    speed_ms: NDArray[np.float64] | None = None


@dataclass(frozen=True)
class SegmentCoverage:
    index: int
    area_m2: float
    covered_share: float
    pod: float


@dataclass(frozen=True)
class FlownCoverage:
    local: LocalArea
    covered: BaseGeometry  # local metres
    gaps: BaseGeometry
    segments: tuple[SegmentCoverage, ...]
    covered_share: float
    pod: float


def camera_of(plan: Plan) -> Camera:
    """The plan's camera, from its footprint at its altitude."""
    c = plan.camera
    hfov = 2 * math.degrees(math.atan(c.footprint_w_m / (2 * c.alt_agl_m)))
    vfov = 2 * math.degrees(math.atan(c.footprint_h_m / (2 * c.alt_agl_m)))
    width_px = max(round(c.footprint_w_m / c.gsd_m), 1)
    height_px = max(round(width_px * c.footprint_h_m / c.footprint_w_m), 1)
    return Camera(c.name, width_px, height_px, hfov, vfov)


def detection_probability(
    gsd_m: NDArray[np.float64], speed_ms: NDArray[np.float64], time_constant_s: float
) -> NDArray[np.float64]:
    """Chance of detecting a person in one pass (Johnson criterion with the TTPF)."""
    sample = np.hypot(np.asarray(gsd_m, float), np.asarray(speed_ms, float) * time_constant_s)
    cycles = PERSON_WIDTH_M / np.maximum(sample, 1e-9) / 2
    r = cycles / N50_DETECTION
    e = 2.7 + 0.7 * r
    return r**e / (1 + r**e)


def local_area(plan: Plan) -> LocalArea:
    return prepare(SearchArea(tuple(plan.area), tuple(plan.holes), plan.name), repair=True)


def _runs(track: FlightTrack, local: LocalArea, camera: Camera, alt_lo: float, tc: float):
    """(line, footprint width, detection probability) of each run of legs flown at search
    height without a gap."""
    xy = local.frame.latlon_to_xy(np.column_stack([track.lat, track.lon]))
    if len(xy) < 2:
        return []
    d = np.linalg.norm(np.diff(xy, axis=0), axis=1)
    dt = np.diff(track.t_s)
    h = np.minimum(track.height_m[:-1], track.height_m[1:])
    speed = (
        np.maximum(track.speed_ms[:-1], track.speed_ms[1:])
        if track.speed_ms is not None
        else d / np.maximum(dt, 1e-3)
    )
    width = 2 * h * math.tan(math.radians(camera.hfov_deg) / 2)
    p = detection_probability(np.maximum(width, 1e-3) / camera.width_px, speed, tc)
    ok = (h >= alt_lo) & (dt <= MAX_GAP_S) & (d <= MAX_GAP_M) & (dt >= 0)
    out = []
    i = 0
    n = len(d)
    while i < n:
        if not ok[i]:
            i += 1
            continue
        j = i
        # A run: consecutive good legs of similar probability and width.
        while (
            j + 1 < n
            and ok[j + 1]
            and abs(p[j + 1] - p[i]) < 0.05
            and abs(width[j + 1] - width[i]) < 0.1 * width[i]
        ):
            j += 1
        pts = xy[i : j + 2]
        if np.linalg.norm(pts[-1] - pts[0]) > 0 or len(pts) > 2:
            out.append((LineString(pts), float(width[i : j + 1].min()), float(p[i : j + 1].min())))
        i = j + 1
    return out


def flown_coverage(
    plan: Plan,
    tracks: Sequence[FlightTrack],
    *,
    time_constant_s: float = MICROBOLOMETER_TIME_CONSTANT_S,
    min_p: float = 0.5,
    raster_m: float | None = None,
) -> FlownCoverage:
    """What the recorded tracks swept of the plan's ground, per segment and in all."""
    local = local_area(plan)
    camera = camera_of(plan)
    target = local.searchable
    alt_lo = 0.5 * plan.camera.alt_agl_m
    runs = [r for t in tracks for r in _runs(t, local, camera, alt_lo, time_constant_s)]
    swaths = [(line.buffer(w / 2, quad_segs=4), p) for line, w, p in runs]
    covered = shapely.intersection(
        shapely.union_all([g for g, p in swaths if p >= min_p] or [Polygon()]), target
    )
    # Detection probability over the ground, the best pass counting, on a raster.
    cell = raster_m or max(plan.camera.lane_spacing_m / 4, math.sqrt(target.area / 400_000), 1.0)
    x0, y0, x1, y1 = target.bounds
    w, h = math.ceil((x1 - x0) / cell) + 1, math.ceil((y1 - y0) / cell) + 1
    jj, ii = np.meshgrid(np.arange(w), np.arange(h))
    cx, cy = x0 + (jj.ravel() + 0.5) * cell, y0 + (ii.ravel() + 0.5) * cell
    in_target = shapely.contains_xy(target, cx, cy)
    best = np.zeros(len(cx))
    pts = shapely.points(cx[in_target], cy[in_target])
    idx = np.flatnonzero(in_target)
    if swaths:
        geoms = np.array([g for g, _ in swaths], dtype=object)
        probs = np.array([p for _, p in swaths])
        si, gi = shapely.STRtree(geoms).query(pts, predicate="intersects")
        np.maximum.at(best, idx[si], probs[gi])
    segs = []
    for seg in plan.segments:
        ground = shapely.union_all(
            [Polygon(local.frame.latlon_to_xy(np.asarray(r))) for r in seg.outline] or [Polygon()]
        )
        ground = shapely.intersection(ground, target)
        a = float(ground.area)
        inside = (
            shapely.contains_xy(ground, cx, cy) & in_target if a > 0 else np.zeros(len(cx), bool)
        )
        share = float(shapely.intersection(ground, covered).area / a) if a > 0 else 0.0
        pod = float(best[inside].mean()) if inside.any() else 0.0
        segs.append(SegmentCoverage(seg.index, a, share, pod))
    # Slivers thinner than the tracks' own position error are no gaps (an opening).
    gaps = shapely.difference(target, covered)
    gaps = shapely.intersection(gaps.buffer(-GNSS_ERROR_M).buffer(GNSS_ERROR_M), target)
    return FlownCoverage(
        local,
        covered,
        gaps,
        tuple(segs),
        float(covered.area / target.area),
        float(best[in_target].mean()) if in_target.any() else 0.0,
    )


def _planned_lanes(plan: Plan, local: LocalArea) -> list[LineString]:
    """Each planned lane piece as a line (start, terrain points, end), in flying order."""
    out = []
    for s in plan.sorties:
        cur: list[tuple[float, float]] = []
        lane = None
        for wp in s.waypoints:
            if wp.kind == "lane_start":
                cur, lane = [(wp.lat, wp.lon)], wp.lane_id
            elif lane is not None and wp.lane_id == lane and wp.kind in ("terrain", "lane_end"):
                cur.append((wp.lat, wp.lon))
                if wp.kind == "lane_end":
                    if len(cur) >= 2:
                        out.append(LineString(local.frame.latlon_to_xy(cur)))
                    cur, lane = [], None
    return out


def _reaching(line: LineString, reach_m: float) -> LineString:
    """The line stretched `reach_m` past each end, along its first and last pieces."""
    c = np.asarray(line.coords, dtype=float)
    if reach_m <= 0 or len(c) < 2:
        return line
    d0, d1 = c[1] - c[0], c[-1] - c[-2]
    n0, n1 = float(np.linalg.norm(d0)), float(np.linalg.norm(d1))
    if n0 > 0:
        c[0] = c[0] - reach_m * d0 / n0
    if n1 > 0:
        c[-1] = c[-1] + reach_m * d1 / n1
    return LineString(c)


def gap_lanes(
    plan: Plan, cov: FlownCoverage, flyable: BaseGeometry
) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    """Lanes (p0, p1) that sweep the gaps: the missed stretches of planned lanes, then lanes
    of their own for gaps no planned lane runs through."""
    spacing = plan.camera.lane_spacing_m
    crumb = 0.25 * spacing * spacing
    gaps = cov.gaps
    # A lane kept off a hole sees the ground up to it: that strip is the lane's to fly again.
    reach = reach_m(plan.hole_margin_m, plan.camera.footprint_h_m)
    p0: list[NDArray[np.float64]] = []
    p1: list[NDArray[np.float64]] = []
    swept = []
    for line in _planned_lanes(plan, cov.local):
        strip = _reaching(line, reach).buffer(spacing / 2, cap_style="flat")
        miss = [g for g in shapely.get_parts(shapely.intersection(strip, gaps)) if g.area > crumb]
        if not miss:
            continue
        spans = sorted(
            (
                float(min(line.project(shapely.Point(c)) for c in g.exterior.coords)),
                float(max(line.project(shapely.Point(c)) for c in g.exterior.coords)),
            )
            for g in miss
            if isinstance(g, Polygon)
        )
        merged: list[list[float]] = []
        for a, b in spans:
            if merged and a - merged[-1][1] < spacing:
                merged[-1][1] = max(merged[-1][1], b)
            else:
                merged.append([a, b])
        for a, b in merged:
            if b - a < 1.0:
                a, b = max(a - 0.5, 0.0), min(b + 0.5, line.length)
            piece = shapely.ops.substring(line, a, b)
            c = np.asarray(piece.coords)
            # Terrain points make a lane a polyline: fly each of its straight pieces.
            p0.extend(c[:-1])
            p1.extend(c[1:])
            swept.append(_reaching(piece, reach).buffer(spacing / 2, cap_style="flat"))
    rest = shapely.difference(gaps, shapely.union_all(swept or [Polygon()]).buffer(1e-6))
    rest_parts = [g for g in shapely.get_parts(rest) if isinstance(g, Polygon) and g.area > crumb]
    if rest_parts:
        # Ground inside a hole's margin gets lanes beside it, never over it.
        extra = lay_lanes(shapely.union_all(rest_parts), flyable, spacing, reach_m=reach)
        p0.extend(extra.p0)
        p1.extend(extra.p1)
    z = np.zeros((0, 2))
    return (np.asarray(p0) if p0 else z), (np.asarray(p1) if p1 else z)


def replan(plan: Plan, cov: FlownCoverage, req: PlanRequest) -> Plan:
    """A plan that flies only the gaps of `cov`, for the drones of `req`."""
    t0 = time.perf_counter()
    fp = footprint(req.camera, req.alt_agl_m, req.side_overlap)
    from missions.planner import launch_points, resolve_request

    req = resolve_request(req, fp)
    ground = Ground.of(cov.local, req.turn_margin_m, req.hole_margin_m, target=cov.gaps)
    p0, p1 = gap_lanes(plan, cov, ground.flyable)
    if not len(p0):
        from missions.errors import PlanError

        raise PlanError("nothing left to search: the tracks covered the whole plan")
    router = Router(ground.flyable, inset_m=float(np.clip(fp.spacing_m / 4, 2.0, 10.0)))
    links = router.connect(p1[:-1], p0[1:], ground.transit)
    pts, kinds, ids = [], [], []
    for k in range(len(p0)):
        pts += [p0[k], p1[k]]
        kinds += ["lane_start", "lane_end"]
        ids += [k, k]
        if k + 1 < len(p0):
            mid = links[k][1:-1]
            outside = not bool(router.visible(links[k][:-1], links[k][1:]).all())
            if outside and not len(mid):
                mid = (links[k][:1] + links[k][-1:]) / 2
            pts.extend(mid)
            kinds += ["transit" if outside else "turn"] * len(mid)
            ids += [None] * len(mid)
    line = SweepLine(np.asarray(pts), kinds, ids, p0, p1, 0, ())
    launch_xy = launch_points(ground, req)
    if len(req.vehicles) == 1:
        lines: list[SweepLine | None] = [line]
    else:
        track = Track.from_polyline(line.xy)
        got = partition(track, launch_xy, list(req.vehicles), req.alt_agl_m, sorties=True)
        assert got is not None
        lines = split_line(line, [(float(track.s[a]), float(track.s[b])) for a, b in got[0]])
    flown = [
        fly_sorties(ln, launch_xy[i], req.vehicles[i], req.alt_agl_m, ground.transit)
        if ln is not None and len(ln) > 1
        else []
        for i, ln in enumerate(lines)
    ]
    return assemble_plan(
        ground,
        req,
        fp,
        lines,
        flown,
        launch_xy,
        None,
        t0,
        pattern="replan",
        replan_of=plan.name or "plan",
    )
