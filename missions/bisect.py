"""Sections by recursive bisection: straight cuts, balanced by flight time.

The area is cut in two by a straight line, the drones in two groups (one per side), and each
side again, until every drone has one section: recursive coordinate bisection (Berger &
Bokhari, "A partitioning strategy for nonuniform problems on multiprocessors", IEEE Trans.
Computers C-36, 1987), with the cut placed where both groups' estimated flight times (sweep,
turns, and the battery round trips from their launch points) are equal, and its direction
chosen among the area's natural sweep directions and every 15 degrees for (1) two connected
sides, (2) a short cut. Straight cuts along or across the lanes cost no partial lanes, and a
convex area gives convex sections whose hulls do not overlap at all.

All candidate cuts are evaluated on a fine raster of the ground (`missions.partition.Grid`),
with prefix sums: one numpy sort per direction. Only the chosen cut is applied to the exact
geometry. When no direction gives connected sides (a cut across a winding valley always
crosses it more than once), the caller falls back to the geodesic DARP partition.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import cv2
import numpy as np
import shapely
from numpy.typing import NDArray
from shapely import affinity
from shapely.geometry import Polygon
from shapely.geometry.base import BaseGeometry

from missions.coverage import candidate_bearings
from missions.grid import Grid
from missions.segment import SORTIE_BUDGET_SHARE as BUDGET_SHARE
from missions.segment import Vehicle

# A side is "one piece" if its other pieces hold less than this share of its ground.
CRUMB_SHARE = 0.01
ANGLE_STEP_DEG = 15.0
GRANULARITY_WEIGHT = 0.75
SLANT_PENALTY = 0.15
LKP_WEIGHT = 2.0
LKP_IMBALANCE = 0.04


@dataclass(frozen=True)
class Cut:
    angle_deg: float  # direction of the cut line, math angle
    offset: float  # the line is {p : p . n = offset}, n its unit normal
    score: float


def _group_time(
    area, gx, gy, launch, vs: list[Vehicle], spacing, alt, width=None, extra=0.0, parts=False
):
    """Per-drone time of a group of drones sharing ground of `area` m² centred at (gx, gy)
    whose narrower extent is `width` (lanes run along the longer one): the sweep, a
    stop-and-go corner pair and a link per lane, and the round trips from the launch point
    the battery needs. `extra` is sweep time (all drones together) the estimate misses.
    With `parts`, also the sweep time and the round-trip time of one sortie."""
    m = len(vs)
    v = float(np.mean([x.speed_ms for x in vs]))
    pen = float(np.mean([x.turn_penalty_s for x in vs]))
    endurance = float(np.mean([x.usable_endurance_s for x in vs]))
    over = float(np.mean([x.overhead_s(alt) for x in vs]))
    a = np.maximum(area, 1e-9)
    lanes = (np.sqrt(a) if width is None else np.asarray(width)) / spacing + 1.0
    sweep = a / (spacing * v) + lanes * (2 * pen + spacing / v) + extra
    d = np.hypot(gx - launch[0], gy - launch[1])
    trip = 2 * d / v + over
    room = np.maximum(BUDGET_SHARE * endurance - trip, 0.1 * endurance)
    per = sweep / m
    # One drone flies whole sorties; a group shares its last one.
    n = np.ceil(per / room - 0.02) if m == 1 else per / room
    n = np.maximum(1.0, n)
    total = np.where(area > 0, per + n * trip, 0.0)
    return (total, sweep, trip) if parts else total


def _crumbs(mask2d: NDArray[np.bool_], work2d: NDArray[np.float64]) -> float:
    """Ground of a raster side outside its largest 4-connected piece, m²."""
    n, lab = cv2.connectedComponents(mask2d.astype(np.uint8), connectivity=4)
    if n <= 2:
        return 0.0
    w = np.bincount(lab.ravel(), weights=work2d.ravel(), minlength=n)[1:]
    return float(w.sum() - w.max())


def _extent(p: NDArray[np.float64]) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    """Prefix and suffix extents (max - min) of a sequence."""
    pre = np.maximum.accumulate(p) - np.minimum.accumulate(p)
    suf = (np.maximum.accumulate(p[::-1]) - np.minimum.accumulate(p[::-1]))[::-1]
    return pre, suf


def best_cut(
    grid: Grid,
    region: NDArray[np.bool_],
    geom: BaseGeometry,
    launches: NDArray[np.float64],
    vehicles: list[Vehicle],
    k1: int,
    spacing: float,
    alt: float,
    offsets: NDArray[np.float64] | None = None,
    balance: bool = True,
    angle: float | None = None,
    lkp: NDArray[np.float64] | None = None,
) -> tuple[Cut, list[int], list[int]] | None:
    """The best straight cut of `region` (raster mask) into k1 and k - k1 drones' ground.

    With `balance`, the cut sits where both groups' estimated times are equal; without, it
    may sit anywhere between a quarter and three quarters of the ground (splitting a
    section into pieces that are swept one after the other). A cut is scored by the links
    its sides will need between lanes (the narrower extent of each side over the lane
    spacing, per metre of lane), the ground it leaves cut off from its side, and its
    length."""
    k = len(vehicles)
    h, w = grid.shape
    offsets = np.zeros(k) if offsets is None else offsets
    work2d = np.where(region, grid.work, 0.0)
    idx = np.flatnonzero(region.ravel() & (grid.work.ravel() > 0))
    if len(idx) < 4:
        return None
    xy = grid.centres().reshape(-1, 2)[idx]
    wk = grid.work.ravel()[idx]
    ex = grid.extra.ravel()[idx] if grid.extra is not None else np.zeros(len(idx))
    # Through a last-known point, either side of the cut may get the smaller group.
    turn = 360.0 if lkp is not None else 180.0
    angles = set(np.arange(0.0, turn, ANGLE_STEP_DEG).round(3))
    natural: set[float] = set()
    for b in candidate_bearings(geom, 4):
        m = (90.0 - b) % 180.0
        natural |= {round(m, 3), round((m + 90.0) % 180.0, 3)}
        if turn > 180.0:
            natural |= {round(m + 180.0, 3), round((m + 270.0) % 360.0, 3)}
    angles |= natural
    if angle is not None:
        angles = {angle}
    best: tuple[Cut, list[int], list[int]] | None = None
    for ang in sorted(angles):
        t = math.radians(ang)
        nrm = np.array([-math.sin(t), math.cos(t)])
        along = np.array([math.cos(t), math.sin(t)])
        s = xy @ nrm
        order = np.argsort(s, kind="stable")
        s_o, u_o = s[order], (xy @ along)[order]
        # Drones whose launch lies on the low side of the cut fly the low side.
        by = np.argsort(launches @ nrm, kind="stable")
        lo_g, hi_g = [int(i) for i in by[:k1]], [int(i) for i in by[k1:]]
        cw = np.cumsum(wk[order])
        tot_w = cw[-1]
        cex = np.cumsum(ex[order])
        pre_u, suf_u = _extent(u_o)
        width_lo = np.minimum(s_o - s_o[0], pre_u)
        width_hi = np.r_[np.minimum(s_o[-1] - s_o[1:], suf_u[1:]), 0.0]
        if balance:
            cx = np.cumsum(wk[order] * xy[order, 0])
            cy = np.cumsum(wk[order] * xy[order, 1])
            aw, bw = np.maximum(cw, 1e-9), np.maximum(tot_w - cw, 1e-9)
            t_lo = (
                float(np.mean(offsets[lo_g]))
                + cex / len(lo_g)
                + _group_time(
                    cw,
                    cx / aw,
                    cy / aw,
                    launches[lo_g].mean(axis=0),
                    [vehicles[i] for i in lo_g],
                    spacing,
                    alt,
                    width_lo,
                )
            )
            t_hi = (
                float(np.mean(offsets[hi_g]))
                + (cex[-1] - cex) / len(hi_g)
                + _group_time(
                    tot_w - cw,
                    (cx[-1] - cx) / bw,
                    (cy[-1] - cy) / bw,
                    launches[hi_g].mean(axis=0),
                    [vehicles[i] for i in hi_g],
                    spacing,
                    alt,
                    width_hi,
                )
            )
            diff = np.abs(t_lo - t_hi) / np.maximum(np.maximum(t_lo, t_hi), 1e-9)
            cands = [int(np.argmin(diff))]
            if lkp is not None:
                cands.append(int(np.searchsorted(s_o, float(lkp @ nrm))) - 1)
        else:
            cands = [int(np.searchsorted(cw, q * tot_w)) for q in (0.25, 0.35, 0.5, 0.65, 0.75)]
        for j in sorted(set(cands)):
            j = min(max(j, 0), len(order) - 2)
            offset = float((s_o[j] + s_o[j + 1]) / 2)
            side = np.zeros(h * w, bool)
            side[idx[s < offset]] = True
            side2d = side.reshape(h, w)
            lo_mask, hi_mask = region & side2d, region & ~side2d
            crumbs = (_crumbs(lo_mask, work2d) + _crumbs(hi_mask, work2d)) / tot_w
            # Lanes each side needs (along its longer extent), times the link between two.
            lanes_lo = width_lo[j] / spacing + 1
            lanes_hi = width_hi[j] / spacing + 1
            links = (lanes_lo + lanes_hi) * spacing * spacing / tot_w
            # A side whose lanes run along the cut can only gain or lose whole lanes: its
            # time can be balanced to one lane at best.
            n_lo, n_hi = s_o[j] - s_o[0], s_o[-1] - s_o[j + 1]
            gran = max(
                spacing / max(n_lo, spacing) if pre_u[j] >= n_lo else 0.0,
                spacing / max(n_hi, spacing) if suf_u[j + 1] >= n_hi else 0.0,
            )
            imbalance = float(diff[j]) if balance else 0.0
            # With a last-known point, cuts through it give every drone ground near it, as
            # long as they stay balanced.
            near = 0.0
            if lkp is not None:
                near = abs(offset - float(lkp @ nrm)) / math.sqrt(tot_w)
                imbalance += 10.0 * max(imbalance - LKP_IMBALANCE, 0.0)
            across = np.count_nonzero(lo_mask[:, :-1] & hi_mask[:, 1:]) + np.count_nonzero(
                hi_mask[:, :-1] & lo_mask[:, 1:]
            )
            across += np.count_nonzero(lo_mask[:-1] & hi_mask[1:]) + np.count_nonzero(
                hi_mask[:-1] & lo_mask[1:]
            )
            cut_len = across * grid.cell / (abs(math.cos(t)) + abs(math.sin(t)))
            score = (
                20.0 * crumbs
                + 4.0 * links
                + 5.0 * imbalance
                + (GRANULARITY_WEIGHT * gran if balance else 0.0)
                + 0.05 * cut_len / math.sqrt(tot_w)
                + LKP_WEIGHT * near
                # Cuts along the area's own edges (or across them) leave no slanted lane ends.
                + (0.0 if ang in natural else SLANT_PENALTY)
            )
            if best is None or score < best[0].score:
                best = (Cut(ang, offset, score), lo_g, hi_g)
    return best


def _halfplane(cut: Cut, bounds, low: bool) -> Polygon:
    x0, y0, x1, y1 = bounds
    r = 2 * math.hypot(x1 - x0, y1 - y0) + 10.0
    cx, cy = (x0 + x1) / 2, (y0 + y1) / 2
    t = math.radians(cut.angle_deg)
    nrm = np.array([-math.sin(t), math.cos(t)])
    # Box in the cut's frame: along the line +-r, across from the line to one side.
    base = shapely.box(-r, -r if low else 0.0, r, 0.0 if low else r)
    rot = affinity.rotate(base, cut.angle_deg, origin=(0, 0))
    foot = nrm * cut.offset
    # Centre the box on the point of the line nearest the area's centre.
    along = np.array([math.cos(t), math.sin(t)])
    p = foot + along * (np.array([cx, cy]) @ along)
    return affinity.translate(rot, p[0], p[1])


def _clean(g: BaseGeometry) -> BaseGeometry:
    parts = [p for p in shapely.get_parts(g) if isinstance(p, Polygon) and p.area > 1.0]
    return shapely.union_all(parts) if parts else Polygon()


def _move_crumbs(a: BaseGeometry, b: BaseGeometry) -> tuple[BaseGeometry, BaseGeometry]:
    """Pieces of `a` other than its largest that touch `b` join `b`."""
    parts = sorted(
        (p for p in shapely.get_parts(a) if isinstance(p, Polygon)), key=lambda p: -p.area
    )
    if len(parts) <= 1:
        return a, b
    keep, give = [parts[0]], []
    for p in parts[1:]:
        (give if shapely.distance(p, b) < 1e-6 else keep).append(p)
    if not give:
        return a, b
    return shapely.union_all(keep), _clean(shapely.union_all([b, *give]))


def bisect(
    grid: Grid,
    target: BaseGeometry,
    launches: NDArray[np.float64],
    vehicles: list[Vehicle],
    spacing: float,
    alt: float,
    offsets: NDArray[np.float64] | None = None,
    balance: bool = True,
    max_crumbs: float = 0.15,
    tree: dict[tuple[int, ...], float] | None = None,
    lkp: NDArray[np.float64] | None = None,
) -> tuple[list[BaseGeometry], NDArray[np.float64]] | None:
    """One piece per vehicle by recursive straight cuts (and, for each, the estimated time,
    sweep time and sortie round trip, without corrections), or None if a cut would leave too
    much ground cut off from its side. Ground a cut leaves on the wrong side of a bend goes
    to the other side when it touches it. `tree` records the direction of every cut (keyed
    by the drones it divides); given filled, the same directions are cut again (only the
    positions move), which makes re-balancing with corrected estimates converge: `offsets`
    are seconds added to each drone's estimate (what a first plan found it missed)."""
    k = len(vehicles)
    out: list[BaseGeometry | None] = [None] * k
    centres = grid.centres().reshape(-1, 2)
    h, w = grid.shape
    offsets = np.zeros(k) if offsets is None else np.asarray(offsets, dtype=float)
    model = np.zeros((k, 3))

    def mask_of(g: BaseGeometry) -> NDArray[np.bool_]:
        return shapely.contains_xy(g, centres[:, 0], centres[:, 1]).reshape(h, w) & (grid.work > 0)

    def split(geom: BaseGeometry, mask: NDArray[np.bool_], ids: list[int]) -> bool:
        if len(ids) == 1:
            out[ids[0]] = geom
            c = geom.centroid
            v = vehicles[ids[0]]
            rect = np.asarray(shapely.minimum_rotated_rectangle(geom).exterior.coords)
            width = min(np.linalg.norm(rect[1] - rect[0]), np.linalg.norm(rect[2] - rect[1]))
            est = _group_time(
                np.array([geom.area]),
                c.x,
                c.y,
                launches[ids[0]],
                [v],
                spacing,
                alt,
                width,
                parts=True,
            )
            model[ids[0]] = [float(np.ravel(x)[0]) for x in est]
            return True
        forced = tree.get(tuple(ids)) if tree is not None else None
        got = best_cut(
            grid,
            mask,
            geom,
            launches[ids],
            [vehicles[i] for i in ids],
            len(ids) // 2,
            spacing,
            alt,
            offsets[ids],
            balance,
            forced,
            lkp,
        )
        if got is None or got[0].score >= 20.0 * max_crumbs:
            return False
        cut, lo_g, hi_g = got
        if tree is not None:
            tree[tuple(ids)] = cut.angle_deg
        # Both sides cut by the same line (a difference would leave slivers of rounding).
        lo = _clean(shapely.intersection(geom, _halfplane(cut, geom.bounds, True)))
        hi = _clean(shapely.intersection(geom, _halfplane(cut, geom.bounds, False)))
        lo, hi = _move_crumbs(lo, hi)
        hi, lo = _move_crumbs(hi, lo)
        if lo.is_empty or hi.is_empty:
            return False
        return split(lo, mask_of(lo), [ids[i] for i in lo_g]) and split(
            hi, mask_of(hi), [ids[i] for i in hi_g]
        )

    ok = split(target, grid.work > 0, list(range(k)))
    if not ok or any(o is None for o in out):
        return None
    return [o for o in out if o is not None], model
