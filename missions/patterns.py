"""Search patterns from a last-known point, after IAMSAR Manual Vol. II (ICAO/IMO), ch. 5.

* Expanding square (SS): from the datum, legs of S, S, 2S, 2S, 3S, 3S, ... each turn 90
  degrees to the right (or left), the first leg on a given bearing; S is the track spacing.
* Sector search (VS): from the datum, out for the radius R, 120 degrees right, across for R,
  120 degrees right, back through the datum and out again: nine legs of R make three
  triangles whose radials through the datum are 60 degrees apart.
* Track-line search (TS): along a line (trail, river, road), lanes parallel to it one
  spacing apart, covering a given width on both sides, flown back and forth.

The track spacing is the camera's lane spacing (footprint width less the side overlap).
Each pattern is a polyline in local metres; `pattern_line` clips it to the search area and
its holes (legs keep the parts inside, links between them are routed round the holes) and
makes it a `missions.sweep.SweepLine`, which `missions.planner` turns into sorties like
any other plan.
"""

from __future__ import annotations

import itertools
import math

import numpy as np
import shapely
from numpy.typing import NDArray
from shapely.geometry import LineString
from shapely.geometry.base import BaseGeometry

from missions.errors import PlanError
from missions.route import Router
from missions.sweep import SweepLine

MAX_LEGS = 400


def _dir(bearing_deg: float) -> NDArray[np.float64]:
    b = math.radians(bearing_deg)
    return np.array([math.sin(b), math.cos(b)])  # x east, y north


def expanding_square(
    datum: NDArray[np.float64],
    spacing_m: float,
    legs: int,
    first_bearing_deg: float = 0.0,
    right: bool = True,
) -> NDArray[np.float64]:
    """Corners of an expanding square: legs S, S, 2S, 2S, ... (IAMSAR SS)."""
    if not 1 <= legs <= MAX_LEGS:
        raise PlanError(f"expanding square: 1 to {MAX_LEGS} legs (got {legs})")
    pts = [np.asarray(datum, dtype=float)]
    turn = 90.0 if right else -90.0
    for k in range(legs):
        length = spacing_m * (k // 2 + 1)
        pts.append(pts[-1] + length * _dir(first_bearing_deg + k * turn))
    return np.asarray(pts)


def sector(
    datum: NDArray[np.float64],
    radius_m: float,
    first_bearing_deg: float = 0.0,
    legs: int = 9,
    right: bool = True,
) -> NDArray[np.float64]:
    """Corners of a sector search: legs of R, each turn 120 degrees (IAMSAR VS)."""
    if not 1 <= legs <= MAX_LEGS:
        raise PlanError(f"sector search: 1 to {MAX_LEGS} legs (got {legs})")
    if not radius_m > 0:
        raise PlanError(f"sector search: the radius must be positive (got {radius_m:g} m)")
    pts = [np.asarray(datum, dtype=float)]
    turn = 120.0 if right else -120.0
    heading = first_bearing_deg
    for k in range(legs):
        pts.append(pts[-1] + radius_m * _dir(heading))
        # Legs 3, 6, 9 end on the datum; the next radial goes straight on through it.
        if k % 3 != 2:
            heading += turn
    return np.asarray(pts)


def trackline(line: LineString, spacing_m: float, width_m: float) -> list[NDArray[np.float64]]:
    """Lanes parallel to `line`, one spacing apart, covering `width_m` on each side; every
    other lane reversed (flown back and forth)."""
    if not width_m > 0:
        raise PlanError(f"track-line search: the width must be positive (got {width_m:g} m)")
    n = max(1, math.ceil(2 * width_m / spacing_m - 1e-9))
    if n > MAX_LEGS:
        raise PlanError(
            f"track-line search: {n} lanes for {width_m:g} m each side; narrow it or fly higher"
        )
    out = []
    for k in range(n):
        off = (k - (n - 1) / 2) * spacing_m
        lane = line if abs(off) < 1e-9 else shapely.offset_curve(line, off, join_style="round")
        pts = shapely.get_coordinates(
            shapely.line_merge(lane) if lane.geom_type == "MultiLineString" else lane
        )
        if len(pts) < 2:
            continue
        # offset_curve keeps the line's direction: alternate to fly back and forth.
        out.append(pts if k % 2 == 0 else pts[::-1])
    return out


def pattern_line(
    legs: list[NDArray[np.float64]],
    target: BaseGeometry,
    flyable: BaseGeometry,
    transit: Router,
    first_id: int = 0,
) -> SweepLine:
    """The pattern's polylines clipped to `target` (lanes: the parts inside) and linked,
    in order, by paths inside `flyable` (or `transit` between parts that do not touch)."""
    pieces: list[NDArray[np.float64]] = []
    for poly in legs:
        for a, b in itertools.pairwise(poly):
            if np.linalg.norm(b - a) < 1e-6:
                continue
            seg = LineString([a, b])
            inside = shapely.intersection(seg, target)
            parts = [
                p
                for p in shapely.get_parts(inside)
                if p.geom_type == "LineString" and p.length > 1.0
            ]
            # Keep the order along the leg.
            parts.sort(key=lambda p: seg.project(shapely.Point(p.coords[0])))
            for p in parts:
                c = np.asarray(p.coords)
                if np.dot(c[-1] - c[0], b - a) < 0:
                    c = c[::-1]
                pieces.append(c[[0, -1]])
    if not pieces:
        raise PlanError("the pattern lies wholly outside the search area or inside its holes")
    router = Router(flyable, inset_m=2.0)
    starts = np.array([p[0] for p in pieces])
    ends = np.array([p[1] for p in pieces])
    pts: list[NDArray[np.float64]] = []
    kinds: list[str] = []
    ids: list[int | None] = []
    for k in range(len(pieces)):
        pts += [starts[k], ends[k]]
        kinds += ["lane_start", "lane_end"]
        ids += [first_id + k] * 2
        if k + 1 < len(pieces):
            if np.linalg.norm(starts[k + 1] - ends[k]) < 1e-6:
                continue
            link = router.connect(ends[k : k + 1], starts[k + 1 : k + 2], transit)[0]
            outside = not bool(router.visible(link[:-1], link[1:]).all())
            mid = link[1:-1]
            if outside and not len(mid):
                mid = (link[:1] + link[-1:]) / 2
            pts.extend(mid)
            kinds += ["transit" if outside else "turn"] * len(mid)
            ids += [None] * len(mid)
    return SweepLine(np.asarray(pts), kinds, ids, starts, ends, first_id, ())


def extent(legs: list[NDArray[np.float64]], spacing_m: float, hull: bool = False) -> BaseGeometry:
    """The ground a pattern searches, when no area is given: its tracks widened by half a
    spacing (simplified), or with `hull` their convex hull (a sector search probes the
    whole disc round the datum, though it covers only part of it)."""
    lines = shapely.union_all([LineString(p) for p in legs if len(p) >= 2])
    if hull:
        lines = shapely.convex_hull(lines)
    return shapely.simplify(lines.buffer(spacing_m / 2, quad_segs=4), spacing_m / 20)


def split_line(line: SweepLine, pieces: list[tuple[float, float]]) -> list[SweepLine | None]:
    """The route cut at arc lengths into one `SweepLine` per drone (None for no piece)."""
    from missions.sweep import cut_polyline

    cum = np.r_[0.0, np.cumsum(np.linalg.norm(np.diff(line.xy, axis=0), axis=1))]
    out: list[SweepLine | None] = []
    for sa, sb in pieces:
        if sb - sa < 1e-6:
            out.append(None)
            continue
        xy, kinds, ids = cut_polyline(line, cum, sa, sb)
        m = np.array(
            [kinds[i] == "lane_start" and kinds[i + 1] == "lane_end" for i in range(len(kinds) - 1)]
        )
        p0 = xy[:-1][m] if m.any() else np.zeros((0, 2))
        p1 = xy[1:][m] if m.any() else np.zeros((0, 2))
        out.append(SweepLine(xy, kinds, ids, p0, p1, line.first_id, line.bearings))
    return out
