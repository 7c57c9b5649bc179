"""Sections: one compact, connected piece of the area per drone, balanced by flight time.

The method follows DARP (Kapoutsis, Chatzichristofis & Kosmatopoulos, "DARP: Divide Areas
Algorithm for Optimal Multi-Robot Coverage Path Planning", J. Intell. Robot. Syst. 86,
2017): the area is a grid of cells; each cell goes to the drone whose (weighted) distance to
it is smallest; the weights are adjusted iteratively until every drone's share is balanced;
cells cut off from their drone's region are handed to a neighbour. Three changes fit
aerial search:

* distances are geodesic (octile distance through the flyable region, around holes and
  round the bends of a concave area), so a section never reaches across a ridge or a no-fly
  zone; the assignment is a power diagram on them (cost d² − w, Aurenhammer, Hoffmann &
  Aronov, "Minkowski-type theorems and least-squares clustering", Algorithmica 20, 1998),
  whose cells are convex in open ground: compact sections whose hulls barely overlap;
* the balanced quantity is each drone's estimated flight time: sweep time of its share
  (lanes, turns), plus the round trips from its own launch point that its battery needs;
* drones usually take off from one road-side spot, so the seeds are not the drones' start
  cells (DARP's choice, kept when each drone has its own launch point) but the centres of a
  work-weighted k-means, moved to their section's centre between rounds (Lloyd), which
  makes the sections compact. Given a last-known point, the seeds sit around it instead and
  stay there: every drone gets a share of the most probable ground and sweeps outwards.

`split_sections` returns one polygon per drone (empty when a drone gets nothing); the
polygons tile the target ground exactly (shared borders simplified together with
`shapely.coverage_simplify`).
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass

import cv2
import numpy as np
import shapely
from numpy.typing import NDArray
from shapely.geometry import Polygon
from shapely.geometry.base import BaseGeometry

from missions.bisect import bisect
from missions.grid import _CROSS, Grid, geodesic, make_grid
from missions.segment import SORTIE_BUDGET_SHARE as BUDGET_SHARE
from missions.segment import Vehicle

# Cells of the DARP grid: enough for 20 sections of ~100 cells, few enough to be fast; the
# bisection works on a finer one.
MAX_CELLS = 2600
BISECT_CELLS = 12000
BALANCE_ROUNDS = 80
LLOYD_ROUNDS = 6


@dataclass(frozen=True)
class TimeModel:
    """Estimated flight time of a share of the target, as the planner later flies it."""

    spacing_m: float
    alt_m: float
    vehicles: tuple[Vehicle, ...]
    home_dist: NDArray[np.float64]  # (K, n) geodesic distance from drone k's launch to cell
    offsets: NDArray[np.float64]  # (K,) seconds to add to each drone's estimate

    def times(self, labels: NDArray[np.int64], work: NDArray[np.float64]) -> NDArray[np.float64]:
        k = len(self.vehicles)
        area = np.bincount(labels, weights=work, minlength=k)
        out = np.zeros(k)
        for i, v in enumerate(self.vehicles):
            a = area[i]
            if a <= 0:
                continue
            own = labels == i
            sweep = a / (self.spacing_m * v.speed_ms)
            # Lanes about as long as the section is wide: two corners and a link per lane.
            lanes = math.sqrt(a) / self.spacing_m
            sweep += lanes * (2 * v.turn_penalty_s + self.spacing_m / v.speed_ms)
            d_mean = float(np.average(self.home_dist[i, own], weights=work[own]))
            trip = 2 * d_mean / v.speed_ms + v.overhead_s(self.alt_m)
            room = max(BUDGET_SHARE * v.usable_endurance_s - trip, 0.1 * v.usable_endurance_s)
            n = max(1.0, sweep / room)
            out[i] = sweep + n * trip + self.offsets[i]
        return out


def _components(mask: NDArray[np.uint8]) -> tuple[int, NDArray[np.int32]]:
    n, lab = cv2.connectedComponents(mask, connectivity=4)
    return n, lab


def _repair(
    labels2d: NDArray[np.int64], seeds_ij: list[tuple[int, int]], target: NDArray[np.bool_]
) -> NDArray[np.int64]:
    """Cells cut off from their drone's main region go to the neighbour region that borders
    them most (DARP's connectivity rule), until every region is one 4-connected piece."""
    lab = labels2d.copy()
    k = len(seeds_ij)
    for _ in range(8):
        changed = False
        for i in range(k):
            mask = ((lab == i) & target).astype(np.uint8)
            n, comp = _components(mask)
            if n <= 2:
                continue
            si, sj = seeds_ij[i]
            keep = comp[si, sj]
            if keep == 0:  # the seed cell itself went elsewhere: keep the largest piece
                sizes = np.bincount(comp.ravel(), minlength=n)
                sizes[0] = 0
                keep = int(np.argmax(sizes))
            for c in range(1, n):
                if c == keep:
                    continue
                piece = comp == c
                ring = cv2.dilate(piece.astype(np.uint8), _CROSS).astype(bool) & ~piece & target
                nb = lab[ring]
                nb = nb[(nb >= 0) & (nb != i)]
                if len(nb):
                    lab[piece] = int(np.bincount(nb).argmax())
                    changed = True
        if not changed:
            break
    return lab


def _kmeans_seeds(xy: NDArray[np.float64], wt: NDArray[np.float64], k: int, start: NDArray):
    """Work-weighted k-means (farthest-point start from `start`, then Lloyd), deterministic."""
    seeds = [xy[int(np.argmax(np.linalg.norm(xy - start, axis=1)))]]
    for _ in range(1, k):
        d = np.min(np.linalg.norm(xy[:, None, :] - np.asarray(seeds)[None], axis=2), axis=1)
        seeds.append(xy[int(np.argmax(d))])
    c = np.asarray(seeds, dtype=float)
    for _ in range(15):
        lab = np.argmin(np.linalg.norm(xy[:, None, :] - c[None], axis=2), axis=1)
        for i in range(k):
            m = lab == i
            if m.any():
                c[i] = np.average(xy[m], axis=0, weights=wt[m])
    return c


def _snap(xy: NDArray[np.float64], pts: NDArray[np.float64]) -> NDArray[np.int64]:
    """Index of the cell centre (of `xy`) nearest each point."""
    return np.argmin(np.linalg.norm(xy[None, :, :] - pts[:, None, :], axis=2), axis=1)


def assign(
    grid: Grid,
    seeds_xy: NDArray[np.float64],
    model: TimeModel,
    cells: NDArray[np.int64],
    rounds: int = BALANCE_ROUNDS,
) -> tuple[NDArray[np.int64], NDArray[np.float64]]:
    """Balanced power-diagram labels (K per target cell) on geodesic distances from seeds."""
    h, w = grid.shape
    k = len(seeds_xy)
    dist = geodesic(grid, seeds_xy).reshape(k, -1)[:, cells]
    dist = np.where(np.isfinite(dist), dist, 1e9)
    work = grid.work.ravel()[cells]
    d2 = dist**2
    scale = float(np.median(d2.min(axis=0))) + grid.cell**2
    wts = np.zeros(k)
    target = np.zeros((h, w), bool)
    target.ravel()[cells] = True
    si, sj = grid.index(seeds_xy)
    seeds_ij = list(zip(si.tolist(), sj.tolist(), strict=True))
    best, best_spread = None, math.inf
    step = 0.5
    for r in range(rounds):
        lab = np.argmin(d2 - wts[:, None], axis=0)
        if r % 8 == 7 or r == rounds - 1:
            full = np.full(h * w, -1, np.int64)
            full[cells] = lab
            lab = _repair(full.reshape(h, w), seeds_ij, target).ravel()[cells]
        t = model.times(lab, work)
        spread = t.max() / max(t.mean(), 1e-9)
        if spread < best_spread and np.all(t > 0):
            best, best_spread = lab.copy(), spread
        if spread < 1.01:
            break
        rel = (t.mean() - t) / max(t.mean(), 1e-9)
        wts += step * rel * scale
        step *= 0.97
    if best is None:
        best = np.argmin(d2 - wts[:, None], axis=0)
    full = np.full(h * w, -1, np.int64)
    full[cells] = best
    best = _repair(full.reshape(h, w), seeds_ij, target).ravel()[cells]
    return best, model.times(best, work)


def split_sections(
    target: BaseGeometry,
    flyable: BaseGeometry,
    launches: NDArray[np.float64],
    vehicles: tuple[Vehicle, ...],
    spacing_m: float,
    alt_m: float,
    lkp: NDArray[np.float64] | None = None,
    offsets: NDArray[np.float64] | None = None,
    tree: dict[tuple[int, ...], float] | None = None,
    corrections: list[tuple[BaseGeometry, float]] | None = None,
) -> tuple[list[BaseGeometry], NDArray[np.float64]]:
    """One section of `target` per vehicle (in vehicle order), balanced by flight time.

    By recursive straight cuts (`missions.bisect`; through the last-known point where that
    keeps the balance), falling back to the geodesic DARP partition (seeded round the
    last-known point, if any) where straight cuts cannot keep sections in one piece. `corrections` (a calibration from a first
    plan: each section and the seconds its real route took beyond the estimate) spread that
    time over the section's ground for the cuts; the DARP fallback takes `offsets`, seconds
    per drone, instead. Returns the sections and, for each, the estimated time, sweep time and sortie
    round trip, without corrections."""
    k = len(vehicles)
    if k == 1:
        return [target], np.zeros((1, 3))
    launches = np.asarray(launches, dtype=float).reshape(-1, 2)
    if len(launches) == 1:
        launches = np.repeat(launches, k, axis=0)
    fine = make_grid(target, flyable, np.zeros((0, 2)), BISECT_CELLS)
    if corrections:
        fine = _with_extra(fine, corrections)
    got = bisect(fine, target, launches, list(vehicles), spacing_m, alt_m, tree=tree, lkp=lkp)
    if got is not None:
        return _merge_crumbs(got[0]), got[1]
    grid = make_grid(
        target, flyable, np.vstack([launches] + ([lkp[None]] if lkp is not None else []))
    )
    cells = np.flatnonzero(grid.work.ravel() > 0)
    xy = grid.centres().reshape(-1, 2)[cells]
    work = grid.work.ravel()[cells]
    home = geodesic(grid, launches).reshape(len(launches), -1)[:, cells]
    home = np.where(np.isfinite(home), home, np.linalg.norm(xy[None] - launches[:, None], axis=2))
    off = np.zeros(k) if offsets is None else np.asarray(offsets, dtype=float)
    model = TimeModel(spacing_m, alt_m, tuple(vehicles), home, off)
    distinct = np.unique(np.round(launches, 1), axis=0)
    if lkp is not None:
        # Seeds on a small ring round the last-known point: every section starts there.
        ang = np.linspace(0, 2 * np.pi, k, endpoint=False) + np.pi / 2
        rho = 1.5 * grid.cell
        ring = lkp[None] + rho * np.column_stack([np.cos(ang), np.sin(ang)])
        seeds = xy[_snap(xy, ring)]
        lloyd = 0
    elif len(distinct) == k:
        seeds = xy[_snap(xy, launches)]  # DARP: each drone's region grows from its own start
        lloyd = 0
    else:
        seeds = _kmeans_seeds(xy, work, k, launches.mean(axis=0))
        seeds = xy[_snap(xy, seeds)]
        lloyd = LLOYD_ROUNDS
    lab, t = assign(grid, seeds, model, cells)
    for _ in range(lloyd):
        new = seeds.copy()
        for i in range(k):
            m = lab == i
            if m.any():
                c = np.average(xy[m], axis=0, weights=work[m])
                own = np.flatnonzero(m)
                new[i] = xy[own[int(np.argmin(np.linalg.norm(xy[own] - c, axis=1)))]]
        if np.allclose(new, seeds):
            break
        seeds = new
        lab, t = assign(grid, seeds, model, cells)
    est = np.column_stack([t - off, t - off, np.zeros(k)])
    return _polygons(grid, cells, lab, k, target), est


def _with_extra(grid: Grid, corrections: list[tuple[BaseGeometry, float]]) -> Grid:
    """The grid with each correction's seconds spread over its ground's cells."""
    c = grid.centres().reshape(-1, 2)
    work = grid.work.ravel()
    extra = np.zeros(len(work))
    for geom, seconds in corrections:
        inside = shapely.contains_xy(geom, c[:, 0], c[:, 1]) & (work > 0)
        tot = work[inside].sum()
        if tot > 0:
            extra[inside] += seconds * work[inside] / tot
    return dataclasses.replace(grid, extra=extra.reshape(grid.shape))


def _polygons(
    grid: Grid, cells: NDArray[np.int64], lab: NDArray[np.int64], k: int, target: BaseGeometry
) -> list[BaseGeometry]:
    h, w = grid.shape
    full = np.full(h * w, -1, np.int64)
    full[cells] = lab
    full = full.reshape(h, w)
    # Every cell of the grid gets the label of the nearest labelled cell, so that the
    # labelled boxes tile the whole box around the target: no ground falls between sections.
    unl = (full < 0).astype(np.uint8)
    if unl.any():
        _, near = cv2.distanceTransformWithLabels(
            unl, cv2.DIST_L2, 5, labelType=cv2.DIST_LABEL_PIXEL
        )
        zi, zj = np.nonzero(unl == 0)
        # distanceTransformWithLabels numbers the zero pixels in row-major order from 1.
        full = full[zi, zj][near - 1].reshape(h, w)
    ii, jj = np.indices((h, w))
    boxes = shapely.box(
        grid.x0 + jj.ravel() * grid.cell,
        grid.y0 + ii.ravel() * grid.cell,
        grid.x0 + (jj.ravel() + 1) * grid.cell,
        grid.y0 + (ii.ravel() + 1) * grid.cell,
    )
    flat = full.ravel()
    polys = [shapely.coverage_union_all(boxes[flat == i]) for i in range(k)]
    polys = list(shapely.coverage_simplify(np.array(polys, dtype=object), 0.6 * grid.cell))
    sections = [shapely.intersection(p, target) for p in polys]
    return _merge_crumbs(sections)


def _merge_crumbs(sections: list[BaseGeometry]) -> list[BaseGeometry]:
    """Each section as one polygon: its smaller parts go to the neighbour they share the
    longest border with (the area's own separate parts stay where they are if nobody
    borders them)."""
    out = [
        shapely.union_all([g for g in shapely.get_parts(s) if isinstance(g, Polygon)])
        for s in sections
    ]
    for i in range(len(out)):
        parts = [g for g in shapely.get_parts(out[i]) if isinstance(g, Polygon) and g.area > 0]
        if len(parts) <= 1:
            continue
        parts.sort(key=lambda g: -g.area)
        keep = [parts[0]]
        for p in parts[1:]:
            grown = p.buffer(1e-3)
            shared = [
                (shapely.length(shapely.intersection(grown.boundary, out[j].buffer(1e-3))), j)
                for j in range(len(out))
                if j != i and not out[j].is_empty
            ]
            shared = [s for s in shared if s[0] > 1e-2]
            if shared:
                j = max(shared)[1]
                out[j] = shapely.union(out[j], p)
            else:
                keep.append(p)
        out[i] = shapely.union_all(keep)
    return out
