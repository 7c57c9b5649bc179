"""One section's sweep: lanes in the section's own direction, linked into one route.

A section is swept as a polyline of points with a kind each (``lane_start``, ``lane_end``,
``turn`` for a routed corner between lanes, ``transit`` for a link that has to leave the
section's flyable ground), and a lane id on lane ends. Given probability rings, the section
is cut along them and swept ring by ring from the last-known point outwards, each piece in
its own direction, so that the most probable ground is under the camera first.

`cut_polyline` cuts such a polyline between two arc lengths (a sortie's piece).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import shapely
from numpy.typing import NDArray
from shapely.geometry import Polygon
from shapely.geometry.base import BaseGeometry

from missions.coverage import Lanes, lay_lanes
from missions.route import Router, build_route


@dataclass(frozen=True)
class SweepLine:
    """A section's route: points (N, 2), their kinds and lane ids, and the lanes flown."""

    xy: NDArray[np.float64]
    kinds: list[str]
    ids: list[int | None]
    lane_p0: NDArray[np.float64]  # (L, 2) by lane id - first_id
    lane_p1: NDArray[np.float64]
    first_id: int
    bearings: tuple[float, ...]  # lane bearings used, degrees from north

    @property
    def n_lanes(self) -> int:
        return len(self.lane_p0)

    def __len__(self) -> int:
        return len(self.xy)


def sweep_start(geom: BaseGeometry, toward: NDArray[np.float64]) -> NDArray[np.float64]:
    """The end of `geom`'s long axis nearer `toward`: where a sweep of it should start."""
    rect = np.asarray(shapely.minimum_rotated_rectangle(geom).exterior.coords)[:4]
    e1, e2 = rect[1] - rect[0], rect[2] - rect[1]
    axis = e1 if np.linalg.norm(e1) >= np.linalg.norm(e2) else e2
    pts = shapely.get_coordinates(geom)
    proj = pts @ axis
    lo, hi = pts[int(np.argmin(proj))], pts[int(np.argmax(proj))]
    t = np.asarray(toward, dtype=float)
    return lo if np.linalg.norm(lo - t) <= np.linalg.norm(hi - t) else hi


def _polys(g: BaseGeometry) -> list[Polygon]:
    return [p for p in shapely.get_parts(g) if isinstance(p, Polygon) and p.area > 1.0]


def _route_piece(
    piece: BaseGeometry,
    flyable: BaseGeometry,
    spacing: float,
    bearing: float | None,
    router: Router,
    fallback: Router,
    start: NDArray[np.float64],
    reach_m: float = 0.0,
) -> tuple[Lanes, list[NDArray[np.float64]], list[bool], NDArray[np.float64], NDArray[np.float64]]:
    lanes = lay_lanes(piece, flyable, spacing, bearing, reach_m)
    if not len(lanes):
        return lanes, [], [], np.zeros((0, 2)), np.zeros((0, 2))
    route = build_route(lanes, router, start, fallback=fallback)
    outside = [not bool(router.visible(link[:-1], link[1:]).all()) for link in route.links]
    return lanes, route.links, outside, route.start, route.end


def sweep_section(
    section: BaseGeometry,
    flyable: BaseGeometry,
    spacing: float,
    bearing: float | None,
    transit: Router,
    start_near: NDArray[np.float64],
    first_id: int,
    rings: list[BaseGeometry] | None = None,
    reach_m: float = 0.0,
) -> SweepLine | None:
    """Lanes over `section` (clamped to `flyable`), as one route from near `start_near`.

    With `rings` (probability rings, innermost first), the section is swept ring piece by
    ring piece, inner first. Links between lanes stay in `flyable`; links between parts that
    do not touch go through `transit` and are marked ``transit``. Ground of `section` off
    `flyable` (next to a hole, inside its margin) is seen from lanes that pass beside it or
    end `reach_m` short of it (`missions.coverage.lanes_for_part`)."""
    if section.is_empty or section.area < 1.0:
        return None
    router = Router(flyable, inset_m=float(np.clip(spacing / 4, 2.0, 10.0)))
    pieces: list[BaseGeometry] = [section]
    if rings:
        pieces = []
        for ring in rings:
            pieces.extend(_polys(shapely.intersection(section, ring)))
        left = shapely.difference(section, shapely.union_all(rings))
        pieces.extend(_polys(left))
    starts, ends, links, outside, bears = [], [], [], [], []
    pos = sweep_start(section, start_near) if not rings else np.asarray(start_near, float)
    for piece in pieces:
        lanes, lk, out, st, en = _route_piece(
            piece, flyable, spacing, bearing, router, transit, pos, reach_m
        )
        if not len(st):
            continue
        if starts:
            # Join this piece to the previous one.
            link = router.connect(ends[-1][-1:], st[:1], transit)[0]
            links.append(link)
            outside.append(not bool(router.visible(link[:-1], link[1:]).all()))
        starts.append(st)
        ends.append(en)
        links.extend(lk)
        outside.extend(out)
        bears.extend(float(b) for b in np.unique(np.round(lanes.sweep_deg, 1)))
        pos = en[-1]
    if not starts:
        return None
    st, en = np.vstack(starts), np.vstack(ends)
    pts: list[NDArray[np.float64]] = []
    kinds: list[str] = []
    ids: list[int | None] = []
    for k in range(len(st)):
        pts += [st[k], en[k]]
        kinds += ["lane_start", "lane_end"]
        ids += [first_id + k] * 2
        if k < len(st) - 1:
            mid = links[k][1:-1]
            if outside[k] and not len(mid):
                # A straight link off the flyable ground (between parts that touch at a
                # point): a transit waypoint in its middle makes both legs transit legs.
                mid = (links[k][:1] + links[k][-1:]) / 2
            pts.extend(mid)
            kinds += ["transit" if outside[k] else "turn"] * len(mid)
            ids += [None] * len(mid)
    return SweepLine(np.asarray(pts), kinds, ids, st, en, first_id, tuple(sorted(set(bears))))


def cut_polyline(
    line: SweepLine, cum: NDArray[np.float64], sa: float, sb: float
) -> tuple[NDArray[np.float64], list[str], list[int | None]]:
    """The route between arc lengths sa and sb, with kinds for the cut ends.

    A piece never starts on a lane's end nor ends on a lane's start: a cut in the middle of
    a lane makes the cut point that lane piece's start (or end)."""
    xy, kinds, ids = line.xy, line.kinds, line.ids
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
            nxt = kinds[j + 1] if j + 1 < len(kinds) else ""
            kind, lid = ("transit" if "transit" in (kinds[j], nxt) else "turn"), None
        if (is_start and kind == "lane_end") or (not is_start and kind == "lane_start"):
            kind, lid = "turn", None
        return p, kind, lid

    p0, k0, i0 = at(sa, True)
    p1, k1, i1 = at(sb, False)
    pts = np.vstack([p0, xy[inside], p1])
    return pts, [k0, *[kinds[i] for i in inside], k1], [i0, *[ids[i] for i in inside], i1]
