"""Plans from a last-known point: IAMSAR patterns (`missions.patterns`) flown by a fleet.

`plan_pattern` lays an expanding square or sector search round the datum, or a track-line
search along a line, clips it to the search area and its holes (the pattern's own extent is
the area when none is given), cuts the route into one time-balanced piece per drone, and
makes sorties, exports and statistics exactly as for sections (`missions.planner`).
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Literal

import numpy as np
import shapely
from shapely.geometry import LineString

from missions.area import LocalArea, SearchArea, _ring_latlon, prepare
from missions.assemble import fly_sorties, score_sorties
from missions.errors import PlanError
from missions.footprint import footprint
from missions.geodesy import LocalFrame
from missions.patterns import expanding_square, extent, pattern_line, sector, split_line, trackline
from missions.plan import LatLon, Plan
from missions.planner import (
    Ground,
    PlanRequest,
    assemble_plan,
    launch_points,
    resolve_request,
    ring_model,
)
from missions.segment import Track, partition

PatternKind = Literal["expanding-square", "sector", "trackline"]
PATTERNS = ("expanding-square", "sector", "trackline")


@dataclass(frozen=True)
class PatternSpec:
    kind: PatternKind
    legs: int | None = None  # expanding square: 12; sector: 9
    first_bearing_deg: float = 0.0
    radius_m: float | None = None  # sector: default 6 lane spacings
    width_m: float | None = None  # track line: each side
    line: tuple[LatLon, ...] = ()  # track line, (lat, lon)
    right: bool = True  # turn direction


def _legs(spec: PatternSpec, frame: LocalFrame, datum, spacing: float) -> list[np.ndarray]:
    if spec.kind == "expanding-square":
        return [
            expanding_square(datum, spacing, spec.legs or 12, spec.first_bearing_deg, spec.right)
        ]
    if spec.kind == "sector":
        r = spec.radius_m if spec.radius_m is not None else 6 * spacing
        return [sector(datum, r, spec.first_bearing_deg, spec.legs or 9, spec.right)]
    if len(spec.line) < 2:
        raise PlanError("a track-line search needs a line of at least two points (--trackline)")
    if spec.width_m is None:
        raise PlanError("a track-line search needs the width to search on each side (--width)")
    xy = frame.latlon_to_xy(np.asarray(spec.line, dtype=float))
    return trackline(LineString(xy), spacing, spec.width_m)


def plan_pattern(area: SearchArea | LocalArea | None, req: PlanRequest, spec: PatternSpec) -> Plan:
    t0 = time.perf_counter()
    if spec.kind not in PATTERNS:
        raise PlanError(f"unknown pattern '{spec.kind}'; choose from {', '.join(PATTERNS)}")
    fp = footprint(req.camera, req.alt_agl_m, req.side_overlap)
    req = resolve_request(req, fp)
    if spec.kind != "trackline" and req.lkp is None:
        raise PlanError(f"the {spec.kind} pattern needs the datum: give --lkp LAT,LON")
    anchor = req.lkp if req.lkp is not None else spec.line[0]
    if isinstance(area, LocalArea):
        local = area
    elif area is not None:
        local = prepare(area)
    else:
        frame = LocalFrame.aeqd(*anchor)
        datum = frame.latlon_to_xy([anchor])[0]
        hull = extent(_legs(spec, frame, datum, fp.spacing_m), fp.spacing_m, spec.kind == "sector")
        local = prepare(SearchArea((_ring_latlon(frame, hull.exterior),), name=spec.kind))
    datum = local.frame.latlon_to_xy([anchor])[0]
    legs = _legs(spec, local.frame, datum, fp.spacing_m)
    ground = Ground.of(local, req.turn_margin_m, req.hole_margin_m)
    if req.launches:
        launch_xy = launch_points(ground, req)
    else:
        if shapely.contains_xy(ground.avoid, datum[0], datum[1]):
            raise PlanError("the last-known point is inside a hole; give --launch LAT,LON")
        launch_xy = np.repeat(datum[None], len(req.vehicles), axis=0)
    line = pattern_line(legs, ground.lane_ground, ground.flyable, ground.transit)
    k = len(req.vehicles)
    if k == 1:
        lines = [line]
    else:
        track = Track.from_polyline(line.xy)
        got = partition(track, launch_xy, list(req.vehicles), req.alt_agl_m)
        assert got is not None
        lines = split_line(line, [(float(track.s[a]), float(track.s[b])) for a, b in got[0]])
    model = ring_model(local, req)
    flown = []
    for i, ln in enumerate(lines):
        if ln is None or len(ln) < 2:
            flown.append([])
            continue
        fl = fly_sorties(ln, launch_xy[i], req.vehicles[i], req.alt_agl_m, ground.transit)
        flown.append(score_sorties(fl, model, ground.target, fp, req.poa_order))
    return assemble_plan(ground, req, fp, lines, flown, launch_xy, model, t0, pattern=spec.kind)
