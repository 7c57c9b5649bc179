"""Coverage lanes: boustrophedon cells and S-pattern lanes over a polygon with holes.

Works in a frame rotated so that lanes run along +x. Rows sit one lane spacing apart,
centred on the polygon's extent, so the first lane is at most half a spacing in from the
edge. All rows are intersected with the polygon in one vectorised shapely call; each
row-interval is a lane. A lane is stretched to the full extent of its strip (the band of
one spacing around it) inside the area, so slanted edges are covered too, but never into
a hole or beyond the flyable region (the area plus the turn margin).

Cells are the boustrophedon decomposition at lane resolution: consecutive rows' intervals
that overlap one-to-one belong to one cell (a region the S-pattern sweeps without leaving);
where a row splits around a hole or a concave bay, new cells begin. The sweep direction is
chosen for each connected part of the area to minimise the number of lanes (= turns),
unless given.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import shapely
from numpy.typing import NDArray
from shapely import affinity
from shapely.geometry import Polygon
from shapely.geometry.base import BaseGeometry

from missions.rowgeom import (
    BRIDGE_GAP_LANES,
    GRID_M,
    bridge,
    clamp,
    intervals,
    leftover_lanes,
)

# Ground the lanes miss (see `lanes_for_part`) gets a lane of its own when a piece of it is
# larger than this share of spacing²; smaller crumbs are left to the footprints' overlap and
# round ends (a lane costs a detour; the benchmark shows coverage stays above 99.8%).
ORPHAN_SHARE = 0.2


@dataclass(frozen=True)
class Lanes:
    """Lanes in the local frame: lane i runs from p0[i] to p1[i] (metres)."""

    p0: NDArray[np.float64]  # (N, 2)
    p1: NDArray[np.float64]  # (N, 2)
    cell: NDArray[np.int64]  # (N,) cell id; lanes of a cell are in row order
    row: NDArray[np.float64]  # (N,) row index within the cell's part (fractional for orphans)
    sweep_deg: NDArray[np.float64]  # (N,) bearing of the lane direction, degrees from north

    def __len__(self) -> int:
        return len(self.p0)

    @property
    def length_m(self) -> NDArray[np.float64]:
        return np.linalg.norm(self.p1 - self.p0, axis=1)


def _bearing_to_math_deg(bearing_deg: float) -> float:
    return 90.0 - bearing_deg


def candidate_bearings(poly: BaseGeometry, k: int = 4) -> list[float]:
    """Bearings of the convex hull's edges whose perpendicular width is smallest."""
    hull = np.asarray(shapely.convex_hull(poly).exterior.coords)
    d = np.diff(hull, axis=0)
    d = d[np.linalg.norm(d, axis=1) > 1e-6]
    ang = np.arctan2(d[:, 1], d[:, 0])  # math angle of each edge
    # Width perpendicular to each edge direction.
    nrm = np.column_stack([-np.sin(ang), np.cos(ang)])
    proj = hull @ nrm.T
    width = proj.max(axis=0) - proj.min(axis=0)
    order = np.argsort(width)
    out: list[float] = []
    for i in order:
        b = (90.0 - math.degrees(ang[i])) % 180.0
        if all(abs((b - o + 90) % 180 - 90) > 2 for o in out):
            out.append(b)
        if len(out) >= k:
            break
    return out


def _rows(poly: BaseGeometry, spacing: float) -> NDArray[np.float64]:
    _, ymin, _, ymax = poly.bounds
    extent = ymax - ymin
    # 1% slack: an extent a hair over n spacings (rounding) must not cost a whole lane.
    n = max(1, math.ceil(extent / spacing - 0.01))
    first = ymin + (extent - (n - 1) * spacing) / 2
    return first + spacing * np.arange(n)


def lanes_for_part(
    part: Polygon, flyable: BaseGeometry, spacing: float, bearing_deg: float, reach_m: float = 0.0
) -> tuple[NDArray[np.float64], ...]:
    """Lanes of one connected part at one bearing, in the rotated frame.

    Ground of the part off `flyable` (the strip between a hole and its margin) is never
    flown over: lanes stop at it, and a lane ending `reach_m` short of it sees it (the
    camera looks ahead); where no lane's end faces it (an edge along the lanes), a lane of
    its own runs beside it, just outside the margin.

    Returns (row, xa, xb, y, cell) arrays, rows sorted, and the rotation angle.
    """
    rot = -_bearing_to_math_deg(bearing_deg)
    # Which ground may be flown over is decided before the rotation, on a fixed grid: the
    # rotated copies of a section and of the region it was cut from share edges only up to
    # rounding, and a plain overlay of them came back empty (a section with one lane).
    all_flyable = bool(shapely.covers(flyable, part))
    p = affinity.rotate(part, rot, origin=(0, 0))
    f = affinity.rotate(flyable, rot, origin=(0, 0))
    on_f = (
        p
        if all_flyable
        else affinity.rotate(
            shapely.intersection(part, flyable, grid_size=GRID_M), rot, origin=(0, 0)
        )
    )
    x0, _, x1, _ = f.bounds
    x0, x1 = x0 - 1.0, x1 + 1.0
    ys = _rows(p, spacing)
    row, xa, xb = intervals(on_f, ys, x0, x1)
    row, xa, xb = bridge(f, ys, row, xa, xb, x0, x1, BRIDGE_GAP_LANES * spacing)
    y = ys[row]
    # Strip pieces: the ground each lane is responsible for.
    boxes = shapely.box(x0, ys - spacing / 2, x1, ys + spacing / 2)
    pieces, prow = shapely.get_parts(shapely.intersection(boxes, p), return_index=True)
    poly_mask = shapely.get_type_id(pieces) == 3
    pieces, prow = pieces[poly_mask], prow[poly_mask]
    pb = shapely.bounds(pieces)
    segs = shapely.linestrings(
        np.stack([np.column_stack([xa, y]), np.column_stack([xb, y])], axis=1)
    )
    if len(pieces):
        tree = shapely.STRtree(pieces)
        li, pi = tree.query(segs, predicate="intersects")
        same = prow[pi] == row[li]
        li, pi = li[same], pi[same]
    else:
        li = pi = np.zeros(0, dtype=np.int64)
    # A lane stretches over the pieces only it passes through (a piece two lanes share,
    # a U-bend of the boundary within one strip, stays with their own extents).
    claims = np.bincount(pi, minlength=len(pieces))
    ok = claims[pi] == 1
    ea, eb = xa.copy(), xb.copy()
    np.minimum.at(ea, li[ok], pb[pi[ok], 0])
    np.maximum.at(eb, li[ok], pb[pi[ok], 2])
    ea, eb = clamp(f, y, xa, xb, ea, eb, x0, x1)
    # Ground the lanes miss: strip pieces no row passes through (slivers between rows) and
    # parts a lane could not stretch to without leaving the flyable region. Each residual
    # bigger than a crumb gets a lane of its own through its middle.
    lines = shapely.linestrings(
        np.stack([np.column_stack([ea - reach_m, y]), np.column_stack([eb + reach_m, y])], axis=1)
    )
    swept = shapely.union_all(shapely.buffer(lines, spacing / 2, cap_style="flat"))
    crumb = ORPHAN_SHARE * spacing * spacing
    orow, oxa, oxb, oex, oey, oy = [], [], [], [], [], []
    for y_o, a, b, bx0, bx1 in leftover_lanes(
        shapely.difference(p, swept), f, all_flyable, spacing, crumb, x0, x1
    ):
        orow.append(float(np.argmin(np.abs(ys - y_o))) + 0.5)
        oxa.append(a)
        oxb.append(b)
        # Stretched over the whole leftover (a thin wedge is longer than its middle).
        oex.append(bx0)
        oey.append(bx1)
        oy.append(y_o)
    if orow:
        oy_a, oxa_a, oxb_a = np.asarray(oy), np.asarray(oxa), np.asarray(oxb)
        oea, oeb = clamp(f, oy_a, oxa_a, oxb_a, np.asarray(oex), np.asarray(oey), x0, x1)
        row_all = np.r_[row.astype(float), orow]
        y_all = np.r_[y, oy_a]
        ea_all, eb_all = np.r_[ea, oea], np.r_[eb, oeb]
    else:
        row_all, y_all, ea_all, eb_all = row.astype(float), y, ea, eb
    cell = _cells(row_all, ea_all, eb_all, CELL_MAX_SHIFT_LANES * spacing)
    return row_all, ea_all, eb_all, y_all, cell, np.float64(rot)


def _cells(
    row: NDArray[np.float64],
    xa: NDArray[np.float64],
    xb: NDArray[np.float64],
    max_shift: float = math.inf,
) -> NDArray[np.int64]:
    """Boustrophedon cells: chain intervals of consecutive rows.

    An interval continues the cell of the interval below it when each is the other's
    largest overlap and their ends are within `max_shift` of each other (else the S-turn
    between them would be a long leg); where a row splits (a hole, a bay, a ragged edge)
    the other pieces start cells of their own. Each cell is thus a run of adjacent rows an S-pattern sweeps.
    Intervals on fractional rows (lanes added for residual ground) are cells of their own.
    """
    n = len(row)
    cell = np.full(n, -1, dtype=np.int64)
    by_row: dict[float, NDArray[np.int64]] = {}
    for r in np.unique(row):
        idx = np.flatnonzero(row == r)
        by_row[float(r)] = idx[np.argsort(xa[idx])]
    next_id = 0
    for r, idx in sorted(by_row.items()):
        below = by_row.get(r - 1.0) if float(r).is_integer() else None
        if below is not None and len(below):
            over = np.minimum(xb[idx][:, None], xb[below][None, :]) - np.maximum(
                xa[idx][:, None], xa[below][None, :]
            )
            best_below = np.argmax(over, axis=1)
            best_above = np.argmax(over, axis=0)
            for k, i in enumerate(idx):
                j = best_below[k]
                b = below[j]
                near = max(abs(xa[i] - xa[b]), abs(xb[i] - xb[b])) <= max_shift
                if over[k, j] > 0 and best_above[j] == k and near:
                    cell[i] = cell[below[j]]
        for i in idx:
            if cell[i] < 0:
                cell[i] = next_id
                next_id += 1
    return cell


# Consecutive lanes whose ends are further apart than this many spacings start a new cell.
CELL_MAX_SHIFT_LANES = 3.0
# A cell change costs a link across the area; in lane equivalents, for choosing a bearing.
CELL_COST_LANES = 3.0


def best_bearing(part: Polygon, flyable: BaseGeometry, spacing: float) -> float:
    """The bearing, among the hull's narrow directions, with the fewest lanes and cells."""
    return _best_bearing_cost(part, spacing)[0]


def _best_bearing_cost(part: BaseGeometry, spacing: float) -> tuple[float, float]:
    best, best_cost = 0.0, math.inf
    for b in candidate_bearings(part):
        rot = -_bearing_to_math_deg(b)
        p = affinity.rotate(part, rot, origin=(0, 0))
        x0, _, x1, _ = p.bounds
        row, xa, xb = intervals(p, _rows(p, spacing), x0 - 1, x1 + 1)
        cells = _cells(row.astype(float), xa, xb, CELL_MAX_SHIFT_LANES * spacing)
        cost = len(row) + CELL_COST_LANES * (int(cells.max()) + 1 if len(cells) else 0)
        if cost < best_cost - 0.5:
            best, best_cost = b, cost
    return best, best_cost


def _to_local(
    ea: NDArray[np.float64], eb: NDArray[np.float64], y: NDArray[np.float64], rot: float
) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    back = math.radians(-float(rot))
    c, s = math.cos(back), math.sin(back)
    rmat = np.array([[c, -s], [s, c]])
    return np.column_stack([ea, y]) @ rmat.T, np.column_stack([eb, y]) @ rmat.T


def _min_width(pts: NDArray[np.float64]) -> float:
    """Narrowest width of a point set (over its convex hull's edge directions)."""
    hull = (
        np.asarray(shapely.convex_hull(shapely.multipoints(pts)).exterior.coords)
        if len(pts) > 2
        else pts
    )
    if len(hull) < 3:
        return 0.0
    d = np.diff(hull, axis=0)
    d = d[np.linalg.norm(d, axis=1) > 1e-9]
    nrm = np.column_stack([-d[:, 1], d[:, 0]]) / np.linalg.norm(d, axis=1)[:, None]
    proj = hull @ nrm.T
    return float((proj.max(axis=0) - proj.min(axis=0)).min())


# A cell is swept in its own direction when that needs this share of its lanes or fewer.
CELL_REDIRECT_GAIN = 0.75
CELL_REDIRECT_MIN_LANES = 4


def _lay_part(
    part: BaseGeometry,
    flyable: BaseGeometry,
    spacing: float,
    bearing: float | None,
    reach_m: float = 0.0,
) -> list[tuple[NDArray[np.float64], ...]]:
    """Lanes of one part as a list of (p0, p1, cell, row, bearing) groups, local frame.

    With no bearing given, the part is decomposed at its best bearing, then every cell big
    enough is re-swept at its own best bearing if that saves enough turns (a winding valley
    gets lanes along each of its arms).
    """
    b = _best_bearing_cost(part, spacing)[0] if bearing is None else bearing
    row, ea, eb, y, cell, rot = lanes_for_part(part, flyable, spacing, b, reach_m)
    if not len(row):
        return []
    p0, p1 = _to_local(ea, eb, y, float(rot))
    groups = [(p0, p1, cell, row, np.full(len(row), b % 180.0))]
    if bearing is not None:
        return groups
    keep = np.ones(len(row), dtype=bool)
    redone: list[BaseGeometry] = []
    main = row == np.round(row)
    for c in np.unique(cell[main]):
        idx = np.flatnonzero((cell == c) & main)
        if len(idx) < CELL_REDIRECT_MIN_LANES:
            continue
        # The fewest lanes any direction could need is the cell's narrowest width over the
        # spacing; skip the costly evaluation when even that would not pay.
        ends = np.vstack([p0[idx], p1[idx]])
        if _min_width(ends) / spacing >= CELL_REDIRECT_GAIN * len(idx):
            continue
        lines = shapely.linestrings(np.stack([p0[idx], p1[idx]], axis=1))
        cell_poly = shapely.intersection(
            shapely.union_all(shapely.buffer(lines, spacing / 2, cap_style="flat")), part
        )
        if cell_poly.is_empty:
            continue
        b_c, cost_c = _best_bearing_cost(cell_poly.simplify(spacing / 8), spacing)
        if abs(((b_c - b) + 90) % 180 - 90) < 5 or cost_c > CELL_REDIRECT_GAIN * (
            len(idx) + CELL_COST_LANES
        ):
            continue
        r2, a2, e2, y2, cell2, rot2 = lanes_for_part(cell_poly, flyable, spacing, b_c, reach_m)
        if not len(r2):
            continue
        q0, q1 = _to_local(a2, e2, y2, float(rot2))
        groups.append((q0, q1, cell2, r2, np.full(len(r2), b_c % 180.0)))
        keep[idx] = False
        redone.append(cell_poly)
    if redone:
        # Lanes for leftover ground inside a re-swept cell are the new cell's business.
        done = shapely.union_all(redone).buffer(1e-6)
        mids = shapely.points((p0 + p1) / 2)
        keep &= main | ~shapely.covers(done, mids)
        p0_, p1_, cell_, row_, bear_ = groups[0]
        groups[0] = (p0_[keep], p1_[keep], cell_[keep], row_[keep], bear_[keep])
    return groups


def lay_lanes(
    searchable: BaseGeometry,
    flyable: BaseGeometry,
    spacing: float,
    bearing_deg: float | None = None,
    reach_m: float = 0.0,
) -> Lanes:
    """Lanes covering `searchable`, each inside `flyable`, one set of cells per part
    (ground of `searchable` off `flyable` is seen from beside it: see `lanes_for_part`)."""
    parts = [g for g in shapely.get_parts(searchable) if isinstance(g, Polygon) and g.area > 0]
    # Largest parts first, so cell ids are stable and big parts come first.
    parts.sort(key=lambda g: -g.area)
    p0s, p1s, cells, rows, bears = [], [], [], [], []
    cell_base = 0
    for part in parts:
        for p0, p1, cell, row, bear in _lay_part(part, flyable, spacing, bearing_deg, reach_m):
            if not len(row):
                continue
            p0s.append(p0)
            p1s.append(p1)
            cells.append(cell + cell_base)
            rows.append(row)
            bears.append(bear)
            cell_base += int(cell.max()) + 1
    if not p0s:
        z = np.zeros((0, 2))
        return Lanes(z, z, np.zeros(0, np.int64), np.zeros(0), np.zeros(0))
    return Lanes(
        np.vstack(p0s),
        np.vstack(p1s),
        np.concatenate(cells),
        np.concatenate(rows),
        np.concatenate(bears),
    )
