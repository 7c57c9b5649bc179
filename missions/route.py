"""Routes: shortest paths that stay inside a free region, and the S-order of cells.

`Router` answers "how do I get from p to q without leaving `free`": a straight line when it
fits (checked for many legs at once), otherwise the shortest path through a visibility graph
of the region's reflex corners, built lazily on the first leg that needs it (all-pairs
shortest paths by a vectorised Floyd-Warshall, so each later query is a few array ops).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import shapely
import shapely.ops
from numpy.typing import NDArray
from shapely.geometry.base import BaseGeometry

from missions.coverage import Lanes
from missions.errors import PlanError

# Graph nodes sit this far inside the free region, so legs between them are strictly inside;
# the inset region is simplified by 0.9 of it, which drops the jags of a ragged boundary.
NODE_INSET_M = 4.0
# The inset of the fallback graph for strips too narrow for the normal one.
FINE_INSET_M = 0.3
# Tolerance of the "is this leg inside" test, for endpoints computed on the boundary.
CHECK_TOL_M = 0.01


def _reflex_vertices(geom: BaseGeometry) -> NDArray[np.float64]:
    """Vertices where the free region's interior angle exceeds 180 degrees."""
    out = []
    for poly in shapely.get_parts(shapely.orient_polygons(geom)):
        for ring in [poly.exterior, *poly.interiors]:
            c = np.asarray(ring.coords)[:-1]
            if len(c) < 3:
                continue
            prev = c - np.roll(c, 1, axis=0)
            nxt = np.roll(c, -1, axis=0) - c
            cross = prev[:, 0] * nxt[:, 1] - prev[:, 1] * nxt[:, 0]
            out.append(c[cross < 0])
    return np.vstack(out) if out else np.zeros((0, 2))


@dataclass
class Router:
    free: BaseGeometry
    inset_m: float = NODE_INSET_M
    _check: BaseGeometry = field(init=False, repr=False)
    _nodes: NDArray[np.float64] | None = field(default=None, init=False, repr=False)
    _dist: NDArray[np.float64] | None = field(default=None, init=False, repr=False)
    _next: NDArray[np.int64] | None = field(default=None, init=False, repr=False)
    _inset: BaseGeometry | None = field(default=None, init=False, repr=False)
    _fine: Router | None = field(default=None, init=False, repr=False)

    def __post_init__(self) -> None:
        self._check = self.free.buffer(CHECK_TOL_M)
        shapely.prepare(self._check)

    def visible(self, a: NDArray[np.float64], b: NDArray[np.float64]) -> NDArray[np.bool_]:
        """Whether each straight leg a[i] -> b[i] stays inside the free region."""
        a = np.asarray(a, dtype=float).reshape(-1, 2)
        b = np.asarray(b, dtype=float).reshape(-1, 2)
        if not len(a):
            return np.zeros(0, dtype=bool)
        same = np.all(np.abs(a - b) < 1e-9, axis=1)
        b = np.where(same[:, None], b + 1e-6, b)
        return shapely.covers(self._check, shapely.linestrings(np.stack([a, b], axis=1)))

    def _build(self) -> None:
        inset = self.free.buffer(-self.inset_m, join_style="mitre")
        # Simplify within the inset so that the graph stays small on jagged boundaries
        # while every node is still inside the free region.
        inset = inset.simplify(self.inset_m * 0.9)
        nodes = _reflex_vertices(inset)
        # Node-to-node legs are tested against the (smaller, simpler) inset region.
        check = inset.buffer(CHECK_TOL_M)
        shapely.prepare(check)
        n = len(nodes)
        dist = np.full((n, n), np.inf)
        np.fill_diagonal(dist, 0.0)
        if n > 1:
            i, j = np.triu_indices(n, 1)
            ok = shapely.covers(check, shapely.linestrings(np.stack([nodes[i], nodes[j]], axis=1)))
            d = np.linalg.norm(nodes[i] - nodes[j], axis=1)
            dist[i[ok], j[ok]] = d[ok]
            dist[j[ok], i[ok]] = d[ok]
        nxt = np.tile(np.arange(n), (n, 1))
        for k in range(n):
            via = dist[:, k : k + 1] + dist[k : k + 1, :]
            better = via < dist
            dist = np.where(better, via, dist)
            nxt = np.where(better, nxt[:, k : k + 1], nxt)
        self._nodes, self._dist, self._next, self._inset = nodes, dist, nxt, inset

    def path(self, p: NDArray[np.float64], q: NDArray[np.float64]) -> NDArray[np.float64]:
        """Shortest path p -> q inside the free region, as an (M, 2) array from p to q."""
        p = np.asarray(p, dtype=float)
        q = np.asarray(q, dtype=float)
        if self.visible(p, q)[0]:
            return np.vstack([p, q])
        if self._nodes is None:
            self._build()
        assert self._nodes is not None and self._dist is not None and self._next is not None
        nodes = self._nodes
        # Most legs that need routing are short detours: try the nodes near the leg first.
        span = float(np.linalg.norm(q - p))
        detour = np.linalg.norm(nodes - p, axis=1) + np.linalg.norm(nodes - q, axis=1)
        near = np.flatnonzero(detour <= 1.5 * span + 200.0)
        for cand in (near, np.arange(len(nodes))):
            got = self._via(p, q, cand)
            if got is not None:
                return got
        # An end deep in a notch of a ragged boundary may see no node: step onto the inset
        # region first (the nearest point of it is visible from almost anywhere).
        assert self._inset is not None
        p2, q2 = self._onto_inset(p), self._onto_inset(q)
        got = self._via(p2, q2, np.arange(len(nodes)))
        if got is not None and self.visible(np.vstack([p, got[-1]]), np.vstack([got[0], q])).all():
            return np.vstack([p, got, q])
        # A strip narrower than twice the inset has no nodes at all: retry on a graph that
        # hugs the boundary (bigger, so only built when needed).
        if self.inset_m > FINE_INSET_M:
            if self._fine is None:
                self._fine = Router(self.free, inset_m=FINE_INSET_M)
            return self._fine.path(p, q)
        raise PlanError(
            "no way found between two parts of the area inside the flyable region "
            f"(from x={p[0]:.0f} y={p[1]:.0f} m to x={q[0]:.0f} y={q[1]:.0f} m); are "
            "they separated by a hole? Plan the parts separately or widen --turn-margin"
        )

    def _same_part(self, p: NDArray[np.float64], q: NDArray[np.float64]) -> bool:
        """Whether p and q lie in one polygon of the free region (parts touching at a point
        are separate: nothing can be flown through a point)."""
        pp, qq = shapely.Point(p), shapely.Point(q)
        return any(
            part.distance(pp) < 2 * CHECK_TOL_M and part.distance(qq) < 2 * CHECK_TOL_M
            for part in shapely.get_parts(self.free)
        )

    def _onto_inset(self, p: NDArray[np.float64]) -> NDArray[np.float64]:
        assert self._inset is not None
        pt = shapely.Point(p)
        if self._inset.is_empty or shapely.covers(self._inset, pt):
            return p
        q = shapely.ops.nearest_points(self._inset, pt)[0]
        return np.array([q.x, q.y])

    def _via(
        self, p: NDArray[np.float64], q: NDArray[np.float64], cand: NDArray[np.int64]
    ) -> NDArray[np.float64] | None:
        assert self._nodes is not None and self._dist is not None and self._next is not None
        nodes = self._nodes
        n = len(cand)
        if not n:
            return None
        vp = self.visible(np.tile(p, (n, 1)), nodes[cand])
        vq = self.visible(nodes[cand], np.tile(q, (n, 1)))
        if not vp.any() or not vq.any():
            return None
        ip, iq = cand[vp], cand[vq]
        dp = np.linalg.norm(nodes[ip] - p, axis=1)
        dq = np.linalg.norm(nodes[iq] - q, axis=1)
        total = dp[:, None] + self._dist[np.ix_(ip, iq)] + dq[None, :]
        a, b = np.unravel_index(int(np.argmin(total)), total.shape)
        if not np.isfinite(total[a, b]):
            return None
        i, j = int(ip[a]), int(iq[b])
        seq = [i]
        while i != j:
            i = int(self._next[i, j])
            seq.append(i)
        return np.vstack([p, nodes[seq], q])

    def connect(
        self, a: NDArray[np.float64], b: NDArray[np.float64], fallback: Router | None = None
    ) -> list[NDArray[np.float64]]:
        """Paths for many legs: straight where they fit (one vectorised test), else routed.

        Legs between parts of the region that do not touch (two separate fields) go through
        `fallback` (e.g. anywhere but the holes) if given.
        """
        ok = self.visible(a, b)
        out = []
        for k in range(len(a)):
            if ok[k]:
                out.append(np.vstack([a[k], b[k]]))
                continue
            try:
                out.append(self.path(a[k], b[k]))
            except PlanError:
                if fallback is None or self._same_part(a[k], b[k]):
                    raise
                out.append(fallback.path(a[k], b[k]))
        return out


def path_length(path: NDArray[np.float64]) -> float:
    return float(np.linalg.norm(np.diff(path, axis=0), axis=1).sum()) if len(path) > 1 else 0.0


@dataclass(frozen=True)
class Route:
    """An ordered sweep: lanes flown in order, each start->end, with routed links between."""

    order: NDArray[np.int64]  # lane indices in flight order
    start: NDArray[np.float64]  # (N, 2) where each flown lane starts
    end: NDArray[np.float64]  # (N, 2)
    links: list[NDArray[np.float64]]  # links[i] joins end[i] to start[i + 1] (M, 2)


def _cell_ends(
    lanes: Lanes,
) -> tuple[NDArray[np.int64], NDArray[np.float64], NDArray[np.float64], NDArray[np.int64]]:
    """For each cell and each of its 4 entry variants: entry point, exit point, and the
    variant that flies the same cell backwards (entry and exit swapped)."""
    cells = np.unique(lanes.cell)
    entries = np.zeros((len(cells), 4, 2))
    exits = np.zeros((len(cells), 4, 2))
    rev = np.zeros((len(cells), 4), dtype=np.int64)
    for ci, c in enumerate(cells):
        idx = np.flatnonzero(lanes.cell == c)
        idx = idx[np.argsort(lanes.row[idx], kind="stable")]
        odd = (len(idx) - 1) % 2 == 1
        for v in range(4):
            seq = idx[::-1] if v & 1 else idx
            flip0 = bool(v & 2)
            last_flipped = flip0 ^ odd
            entries[ci, v] = lanes.p1[seq[0]] if flip0 else lanes.p0[seq[0]]
            exits[ci, v] = lanes.p0[seq[-1]] if last_flipped else lanes.p1[seq[-1]]
            rev[ci, v] = (1 - (v & 1)) | (0 if last_flipped else 2)
    return cells, entries, exits, rev


def _improve(
    seq: NDArray[np.int64],
    var: NDArray[np.int64],
    entries: NDArray[np.float64],
    exits: NDArray[np.float64],
    rev: NDArray[np.int64],
    start: NDArray[np.float64],
    max_passes: int = 30,
) -> None:
    """2-opt on the cell sequence (reversing a run flies its cells backwards) and the
    best entry variant of each cell given its neighbours, in place, on straight-line
    link lengths."""
    m = len(seq)
    for _ in range(max_passes):
        changed = False
        for i in range(m):
            e = entries[seq, var]
            x = exits[seq, var]
            a = start if i == 0 else x[i - 1]
            j = np.arange(i, m)
            nxt = np.where((j + 1 < m)[:, None], e[np.minimum(j + 1, m - 1)], np.nan)
            has = j + 1 < m
            old = np.linalg.norm(a - e[i]) + np.where(has, np.linalg.norm(x[j] - nxt, axis=1), 0)
            new = np.linalg.norm(a - x[j], axis=1) + np.where(
                has, np.linalg.norm(e[i] - nxt, axis=1), 0
            )
            delta = np.nan_to_num(new - old, nan=0.0)
            k = int(np.argmin(delta))
            if delta[k] < -1e-6:
                jj = i + k
                seg = seq[i : jj + 1][::-1].copy()
                seq[i : jj + 1] = seg
                var[i : jj + 1] = rev[seg, var[i : jj + 1][::-1]]
                changed = True
        for i in range(m):
            a = start if i == 0 else exits[seq[i - 1], var[i - 1]]
            cost = np.linalg.norm(entries[seq[i]] - a, axis=1)
            if i + 1 < m:
                cost = cost + np.linalg.norm(
                    exits[seq[i]] - entries[seq[i + 1], var[i + 1]], axis=1
                )
            v = int(np.argmin(cost))
            if cost[v] < cost[var[i]] - 1e-6:
                var[i] = v
                changed = True
        if not changed:
            break


def order_cells(lanes: Lanes, start_xy: NDArray[np.float64]) -> tuple[list[int], list[int]]:
    """Cells in a short order from `start_xy`, each with its entry variant: greedy nearest
    entry first, then improved by 2-opt.

    Variant bits: 1 = enter at the last row, 2 = first lane flown p1 -> p0.
    """
    cells, entries, exits, rev = _cell_ends(lanes)
    todo = np.ones(len(cells), dtype=bool)
    start = np.asarray(start_xy, dtype=float)
    pos = start
    seq, var = [], []
    for _ in range(len(cells)):
        d = np.linalg.norm(entries - pos, axis=2)
        d[~todo] = np.inf
        ci, v = np.unravel_index(int(np.argmin(d)), d.shape)
        seq.append(int(ci))
        var.append(int(v))
        todo[ci] = False
        pos = exits[ci, v]
    seq_a, var_a = np.asarray(seq), np.asarray(var)
    _improve(seq_a, var_a, entries, exits, rev, start)
    return [int(cells[c]) for c in seq_a], [int(v) for v in var_a]


def build_route(
    lanes: Lanes,
    router: Router,
    start_xy: NDArray[np.float64],
    fallback: Router | None = None,
) -> Route:
    """S-order inside each cell, cells in a short order, links routed inside `router.free`
    (through `fallback` between parts of the area that do not touch)."""
    if not len(lanes):
        raise PlanError("the area is too small or thin for a single lane at this altitude")
    # Lanes on fractional rows pick up ground the rows missed, usually at a lane's end:
    # they are inserted where they lengthen the route least, typically into a turn.
    extra = lanes.row != np.round(lanes.row)
    main_idx = np.flatnonzero(~extra)
    if not len(main_idx):
        main_idx, extra = np.arange(len(lanes)), np.zeros(len(lanes), dtype=bool)
    main = Lanes(
        lanes.p0[main_idx],
        lanes.p1[main_idx],
        lanes.cell[main_idx],
        lanes.row[main_idx],
        lanes.sweep_deg[main_idx],
    )
    cells, variants = order_cells(main, start_xy)
    order, starts, ends = [], [], []
    for c, v in zip(cells, variants, strict=True):
        idx = np.flatnonzero(main.cell == c)
        idx = idx[np.argsort(main.row[idx], kind="stable")]
        if v & 1:
            idx = idx[::-1]
        flip = bool(v & 2)
        for i in idx:
            a, b = (main.p1[i], main.p0[i]) if flip else (main.p0[i], main.p1[i])
            order.append(int(main_idx[i]))
            starts.append(a)
            ends.append(b)
            flip = not flip
    start_pt = np.asarray(start_xy, dtype=float)
    for r in np.flatnonzero(extra)[np.argsort(-lanes.length_m[extra])]:
        st, en = np.asarray(starts), np.asarray(ends)
        # Insert before position k: between ends[k-1] (or the start point) and starts[k]
        # (or nothing, after the last lane).
        prev = np.vstack([start_pt, en])
        nxt = np.vstack([st, np.full((1, 2), np.nan)])
        base = np.nan_to_num(np.linalg.norm(prev - nxt, axis=1))
        a, b = lanes.p0[r], lanes.p1[r]
        ab = float(np.linalg.norm(a - b))

        c1, c2 = (
            np.linalg.norm(prev - u, axis=1)
            + ab
            + np.nan_to_num(np.linalg.norm(w - nxt, axis=1))
            - base
            for u, w in ((a, b), (b, a))
        )
        k1, k2 = int(np.argmin(c1)), int(np.argmin(c2))
        k, (u, w) = (k1, (a, b)) if c1[k1] <= c2[k2] else (k2, (b, a))
        order.insert(k, int(r))
        starts.insert(k, u)
        ends.insert(k, w)
    start = np.asarray(starts)
    end = np.asarray(ends)
    links = router.connect(end[:-1], start[1:], fallback)
    return Route(np.asarray(order), start, end, links)
