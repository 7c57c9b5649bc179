"""Lanes confirmed by the track, progress home, and the energy model's pure parts."""

from __future__ import annotations

import math

from groundctl.fleet.energy import Speeds, return_time_s
from groundctl.fleet.trackcheck import LaneTrack, ProgressWatch
from groundctl.link import MissionItem
from groundctl.link.types import same_items

LAT0, LON0 = 47.3977, 8.5456
M_LAT = 1 / 111_200.0
M_LON = 1 / 75_200.0


def at(n_m: float, e_m: float) -> tuple[float, float]:
    return LAT0 + n_m * M_LAT, LON0 + e_m * M_LON


def lanes(n: int):
    starts = {i: at(20 * i, 0 if i % 2 == 0 else 200) for i in range(n)}
    ends = {i: at(20 * i, 200 if i % 2 == 0 else 0) for i in range(n)}
    return starts, ends


def test_lanes_flown_start_then_end_even_with_sparse_fixes():
    starts, ends = lanes(3)
    track = LaneTrack(starts, ends)
    # Fixes 60 m apart along lane 0, then lane 1: the segments between fixes pass the points.
    for e in range(-30, 231, 60):
        track.add(*at(0, e))
    assert track.flown_lanes() == {0}
    for e in range(230, -31, -60):
        track.add(*at(20, e))
    assert track.flown_lanes() == {0, 1}


def test_a_jump_past_the_lanes_flies_nothing():
    """A stale mission index sends the drone from home straight to the last item: it passes
    near lane ends on the way, but never starts those lanes there."""
    starts, ends = lanes(4)
    track = LaneTrack(starts, ends)
    for k in range(0, 101):
        track.add(*at(-50 + 1.4 * k, 200))  # north along the east edge, over the lane ends
    assert track.flown_lanes() == set()


def test_reattached_mid_lane_counts_the_lane():
    starts, ends = lanes(2)
    track = LaneTrack(starts, ends, started={0})
    track.add(*at(0, 150))
    track.add(*at(0, 205))
    assert track.flown_lanes() == {0}


def test_progress_watch_stalls_only_without_movement():
    w = ProgressWatch(stall_s=30)
    w.update(0, *at(0, 0), 60)
    w.update(20, *at(0, 50), 60)  # moving home
    assert not w.stalled(45)
    w.update(45, *at(0, 51), 60)  # hovering: 1 m is no progress
    assert w.stalled(51) and math.isclose(w.idle_s(51), 31)
    w.update(52, *at(0, 51), 58)  # descending again
    assert not w.stalled(60)


def test_return_time_uses_the_vehicles_speeds():
    px4 = Speeds(cruise_ms=5.0, descent_ms=1.5, land_ms=0.7)
    t = return_time_s(500.0, 60.0, px4)
    assert math.isclose(t, 100 + 50 / 1.5 + 10 / 0.7)


def test_read_back_matches_what_px4_keeps():
    sent = MissionItem(0, 6, 16, 0.0, 0.0, 5.0, -90.0, 473977420, 85455940, 30.0)
    back = MissionItem(0, 6, 16, 0.0, 0.0, 0.0, 270.0, 473977420, 85455940, 30.0)  # PX4 form
    assert same_items([back], [sent])
    fence = MissionItem(0, 0, 5001, 4.0, 0, 0, 0, 473977420, 85455940, 0.0)
    fence_back = MissionItem(0, 5, 5001, 4.0, 0, 0, 0, 473977420, 85455940, 0.0)
    assert same_items([fence_back], [fence])  # GLOBAL sent, GLOBAL_INT read back
    moved = MissionItem(0, 6, 16, 0.0, 0.0, 0.0, 0.0, 473977421, 85455940, 30.0)
    assert not same_items([moved], [sent])
