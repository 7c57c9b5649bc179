"""Overwatch relay: who relieves the drone over a found person, and when. Pure functions.

The drone on station must leave when the battery it has left is what it needs to fly home
plus its reserve. Its relief has to be over the target `margin_s` before that moment, so
there is an overlap and never a gap. Times are seconds on one clock (the orchestrator's).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass


@dataclass(frozen=True)
class OnStation:
    name: str
    must_leave_at_s: float


@dataclass(frozen=True)
class Candidate:
    name: str
    ready_at_s: float  # earliest time it can set off (on the ground charged, or done sweeping)
    transit_s: float  # flight from where it will be to the target
    on_station_s: float  # how long it could then stay before it must leave itself


@dataclass(frozen=True)
class Relief:
    name: str
    depart_at_s: float
    arrive_at_s: float
    leave_at_s: float  # when this relief itself must leave
    overlap_s: float  # time both drones are over the target (negative: a gap)


def must_leave_at(
    now_s: float,
    battery_pct: float,
    reserve_pct: float,
    drain_pct_per_s: float,
    return_s: float,
) -> float:
    """When a drone on station must turn for home: what remains above the reserve, minus the
    flight home, at the current drain."""
    if drain_pct_per_s <= 0:
        raise ValueError("drain_pct_per_s must be positive")
    spare_s = (battery_pct - reserve_pct) / drain_pct_per_s - return_s
    return now_s + max(0.0, spare_s)


def plan_relief(
    watcher: OnStation, candidates: Sequence[Candidate], margin_s: float
) -> Relief | None:
    """The relief for `watcher`: among drones that can be over the target `margin_s` before
    it must leave, the one that then stays longest; if none can, the one arriving first
    (its negative overlap is the gap, reported so the coordinator can act)."""
    if not candidates:
        return None
    deadline = watcher.must_leave_at_s - margin_s
    options = []
    for c in candidates:
        # Set off as late as still arrives by the deadline: keeps its battery for the watch.
        depart = max(c.ready_at_s, deadline - c.transit_s)
        arrive = depart + c.transit_s
        options.append(
            Relief(
                name=c.name,
                depart_at_s=depart,
                arrive_at_s=arrive,
                leave_at_s=arrive + c.on_station_s,
                overlap_s=watcher.must_leave_at_s - arrive,
            )
        )
    on_time = [r for r in options if r.arrive_at_s <= deadline + 1e-9]
    if on_time:
        return max(on_time, key=lambda r: (r.leave_at_s, -r.depart_at_s))
    return min(options, key=lambda r: r.arrive_at_s)


def uncovered_s(intervals: Sequence[tuple[float, float]], start_s: float, end_s: float) -> float:
    """Total time in [start_s, end_s] with no drone on station, given (arrive, leave) pairs."""
    t = start_s
    gap = 0.0
    for a, b in sorted(intervals):
        if a > t:
            gap += min(a, end_s) - t
        t = max(t, b)
        if t >= end_s:
            break
    if t < end_s:
        gap += end_s - t
    return max(0.0, gap)
