"""Which drone flies what, at which transit altitude: pure decisions, no I/O.

Segments are handed out longest-processing-time first to the drone that would finish them
earliest, counting the transit from its launch point there and back at its cruise speed, so a
mixed fleet shares the work by what each airframe can do rather than one segment each.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from missions.geodesy import GEOD


@dataclass(frozen=True)
class Work:
    """A piece of search work: a segment, or the unswept rest of one."""

    id: str
    start: tuple[float, float]  # (lat, lon) where the sweep begins
    end: tuple[float, float]  # (lat, lon) where it ends
    sweep_s: float  # flying time of the sweep itself at the planned speed


@dataclass(frozen=True)
class Slot:
    """A drone as the assigner sees it."""

    name: str
    launch: tuple[float, float]  # (lat, lon)
    cruise_speed_ms: float
    busy_until_s: float = 0.0  # already committed work (seconds from now)


def distance_m(a: tuple[float, float], b: tuple[float, float]) -> float:
    """Geodesic distance between two (lat, lon) points."""
    _, _, d = GEOD.inv(a[1], a[0], b[1], b[0])
    return float(d)


def work_time_s(work: Work, slot: Slot) -> float:
    """Launch -> sweep start, the sweep, sweep end -> launch."""
    transit = distance_m(slot.launch, work.start) + distance_m(work.end, slot.launch)
    return transit / slot.cruise_speed_ms + work.sweep_s


def assign(works: Sequence[Work], slots: Sequence[Slot]) -> dict[str, list[str]]:
    """Map each drone name to the work ids it flies, in flying order.

    LPT greedy: the longest work first, each to the drone whose finish time it raises least.
    Deterministic for equal inputs (ties go to the earlier drone in `slots`).
    """
    if not slots:
        raise ValueError("no drone available to assign work to")
    load = np.array([s.busy_until_s for s in slots], dtype=float)
    out: dict[str, list[str]] = {s.name: [] for s in slots}
    for w in sorted(works, key=lambda w: -w.sweep_s):
        finish = load + np.array([work_time_s(w, s) for s in slots])
        k = int(np.argmin(finish))
        load[k] = finish[k]
        out[slots[k].name].append(w.id)
    return out


def transit_altitudes(names: Sequence[str], base_alt_m: float, step_m: float) -> dict[str, float]:
    """One transit altitude per drone, `step_m` apart, so transits and returns never share a
    height: two drones crossing paths on the way out or home are vertically separated."""
    return {n: base_alt_m + i * step_m for i, n in enumerate(names)}


def split_lanes(lanes: Sequence[str], helpers: int) -> list[list[str]]:
    """Cut an ordered run of lanes into `helpers` contiguous pieces of near-equal length,
    keeping neighbouring lanes together so each piece is still an S-pattern."""
    if helpers <= 0:
        raise ValueError("need at least one helper")
    parts = np.array_split(np.arange(len(lanes)), min(helpers, max(len(lanes), 1)))
    return [[lanes[i] for i in p] for p in parts if len(p)]


def reassign_lanes(
    unswept: Sequence[str],
    candidates: Sequence[Slot],
    lane_start: Mapping[str, tuple[float, float]],
    lane_end: Mapping[str, tuple[float, float]],
    lane_sweep_s: Mapping[str, float],
) -> dict[str, list[str]]:
    """A lost drone's unswept lanes, handed to the others.

    The lanes are cut into as many contiguous pieces as there are candidates (fewer if there
    are fewer lanes), then the pieces are assigned like segments, so the least busy and
    closest drones take them.
    """
    if not unswept:
        return {}
    pieces = split_lanes(list(unswept), len(candidates))
    works = [
        Work(
            id=str(i),
            start=lane_start[p[0]],
            end=lane_end[p[-1]],
            sweep_s=float(sum(lane_sweep_s[x] for x in p)),
        )
        for i, p in enumerate(pieces)
    ]
    by_work = assign(works, candidates)
    return {
        name: [lane for wid in ids for lane in pieces[int(wid)]]
        for name, ids in by_work.items()
        if ids
    }
