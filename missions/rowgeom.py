"""Rows in the rotated frame of `missions.coverage`: where a horizontal line crosses a
region, and how the lanes on those lines are bridged, clamped to the flyable region, and
completed by lanes of their own for ground the rows miss (a wedge between rows, or the
strip of a hole's margin, seen from beside since it may not be flown over)."""

from __future__ import annotations

import numpy as np
import shapely
from numpy.typing import NDArray
from shapely.geometry.base import BaseGeometry

# Overlays of nearly coincident edges are snapped to this grid (metres): GEOS's snap-rounding
# is robust where a plain overlay of rotated copies returned garbage.
GRID_M = 1e-3


def intervals(
    geom: BaseGeometry, ys: NDArray[np.float64], x0: float, x1: float
) -> tuple[NDArray[np.int64], NDArray[np.float64], NDArray[np.float64]]:
    """(row index, x start, x end) of every piece of each horizontal line y inside geom."""
    coords = np.stack(
        [np.column_stack([np.full_like(ys, x0), ys]), np.column_stack([np.full_like(ys, x1), ys])],
        axis=1,
    )
    lines = shapely.linestrings(coords)
    parts, idx = shapely.get_parts(shapely.intersection(lines, geom), return_index=True)
    keep = (shapely.get_type_id(parts) == 1) & (shapely.length(parts) > 1e-6)
    b = shapely.bounds(parts[keep])
    return idx[keep], b[:, 0], b[:, 2]


def beside_line(
    piece: BaseGeometry, f: BaseGeometry, x0: float, x1: float, spacing: float
) -> tuple[float, NDArray[np.int64], NDArray[np.float64], NDArray[np.float64]]:
    """(y, row, xa, xb) of a lane that sees a piece of ground it may not fly over (inside a
    hole's margin) from just beside it: the flyable line along either side that sweeps most
    of it."""
    bx0, by0, bx1, by1 = piece.bounds
    best, best_seen = (by0, np.zeros(0, np.int64), np.zeros(0), np.zeros(0)), 0.0
    for y in (by0 - 0.5, by1 + 0.5):
        r, a, b = intervals(f, np.array([y]), x0, x1)
        # Within the piece's extent, and flyable in the middle: a line that grazes a vertex
        # can come back from the overlay longer than the geometry.
        a, b = np.maximum(a, bx0), np.minimum(b, bx1)
        ok = (b - a > 1.0) & shapely.contains_xy(f, (a + b) / 2, np.full(len(a), y))
        if not ok.any():
            continue
        r, a, b = r[ok], a[ok], b[ok]
        j = int(np.argmax(b - a))
        band = shapely.box(a[j], y - spacing / 2, b[j], y + spacing / 2)
        seen = float(shapely.intersection(piece, band).area)
        if seen > best_seen:
            best, best_seen = (y, r, a, b), seen
    return best


def leftover_lanes(
    missed: BaseGeometry,
    f: BaseGeometry,
    all_flyable: bool,
    spacing: float,
    crumb: float,
    x0: float,
    x1: float,
) -> list[tuple[float, float, float, float, float]]:
    """(y, xa, xb, piece x0, piece x1) of a lane for each piece of missed ground above a
    crumb. A piece reaching into a hole's margin (not all flyable) gets a lane through the
    middle of its flyable part and, for what that lane does not see of the margin, one
    just beside it."""
    out = []
    for piece in shapely.get_parts(missed):
        if piece.area <= crumb:
            continue
        if all_flyable:
            subs = [(piece, True)]
        else:
            over = shapely.intersection(piece, f, grid_size=GRID_M)
            beside = shapely.difference(piece, f, grid_size=GRID_M)
            subs = [(g, True) for g in shapely.get_parts(over)]
            subs += [(g, False) for g in shapely.get_parts(beside)]
            subs = [(g, over) for g, over in subs if g.area > crumb / 4]
            subs.sort(key=lambda t: (not t[1], -t[0].area))
        bands: list[BaseGeometry] = []
        for sub, over in subs:
            if bands and shapely.intersection(sub, shapely.union_all(bands)).area > 0.9 * sub.area:
                continue
            if over:  # through its middle
                y = (sub.bounds[1] + sub.bounds[3]) / 2
                _, a, b = intervals(sub, np.array([y]), x0, x1)
            else:
                y, _, a, b = beside_line(sub, f, x0, x1, spacing)
            if len(a):
                j = int(np.argmax(b - a))
                sx0, _, sx1, _ = sub.bounds
                out.append((y, float(a[j]), float(b[j]), min(sx0, a[j]), max(sx1, b[j])))
                bands.append(shapely.box(a[j], y - spacing / 2, b[j], y + spacing / 2))
    return out


# Two pieces of a row closer than this many spacings, with only flyable ground between them
# (a notch of a ragged edge within the turn margin), are flown as one lane.
BRIDGE_GAP_LANES = 3.0


def bridge(
    f: BaseGeometry,
    ys: NDArray[np.float64],
    row: NDArray[np.int64],
    xa: NDArray[np.float64],
    xb: NDArray[np.float64],
    x0: float,
    x1: float,
    max_gap: float,
) -> tuple[NDArray[np.int64], NDArray[np.float64], NDArray[np.float64]]:
    """Merge consecutive intervals of a row that lie in one flyable interval, gap <= max_gap."""
    if len(row) < 2:
        return row, xa, xb
    order = np.lexsort((xa, row))
    row, xa, xb = row[order], xa[order], xb[order]
    fr, fa, _ = intervals(f, ys, x0, x1)
    width = (x1 - x0) + 10.0
    fkey = np.sort(fr * width + (fa - x0))
    skey = row * width + ((xa + xb) / 2 - x0)
    fid = np.searchsorted(fkey, skey, side="right") - 1
    join = (row[1:] == row[:-1]) & (fid[1:] == fid[:-1]) & (xa[1:] - xb[:-1] <= max_gap)
    starts = np.flatnonzero(np.r_[True, ~join])
    return row[starts], np.minimum.reduceat(xa, starts), np.maximum.reduceat(xb, starts)


def clamp(
    f: BaseGeometry,
    y: NDArray[np.float64],
    xa: NDArray[np.float64],
    xb: NDArray[np.float64],
    ea: NDArray[np.float64],
    eb: NDArray[np.float64],
    x0: float,
    x1: float,
) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    """Clamp stretched lanes [ea, eb] to the flyable interval around [xa, xb] on line y."""
    if not len(y):
        return ea, eb
    fr, fa, fb = intervals(f, y, x0, x1)
    fpieces = shapely.linestrings(
        np.stack([np.column_stack([fa, y[fr]]), np.column_stack([fb, y[fr]])], axis=1)
    )
    mids = shapely.points(np.column_stack([(xa + xb) / 2, y]))
    li, fi = shapely.STRtree(fpieces).query(mids, predicate="dwithin", distance=1e-6)
    same = fr[fi] == li
    li, fi = li[same], fi[same]
    lo = np.full(len(y), -np.inf)
    hi = np.full(len(y), np.inf)
    lo[li] = fa[fi]
    hi[li] = fb[fi]
    # Lanes with no flyable interval found keep their own (inside-area) extent.
    ea = np.where(np.isfinite(lo), np.maximum(ea, lo), xa)
    eb = np.where(np.isfinite(hi), np.minimum(eb, hi), xb)
    return np.minimum(ea, xa), np.maximum(eb, xb)
