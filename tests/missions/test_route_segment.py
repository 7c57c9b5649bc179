"""Routing around holes and time-balanced segmentation."""

import numpy as np
import pytest
import shapely
from shapely.geometry import LineString, Polygon

from missions.errors import PlanError
from missions.route import Router
from missions.segment import Track, Vehicle, partition, piece_time, split_sorties


def test_straight_when_visible_and_around_a_hole_when_not():
    outer = Polygon.from_bounds(0, 0, 1000, 1000)
    hole = Polygon.from_bounds(300, 300, 700, 700)
    router = Router(outer.difference(hole))
    direct = router.path(np.array([100.0, 100.0]), np.array([900.0, 100.0]))
    assert len(direct) == 2
    around = router.path(np.array([100.0, 500.0]), np.array([900.0, 500.0]))
    line = LineString(around)
    assert line.intersection(hole.buffer(-0.01)).length == 0
    assert outer.covers(line)
    # Shortest way: over a corner pair of the hole, e.g. 100,500 -> 300,700 -> 700,700 -> 900,500.
    # Graph nodes keep NODE_INSET_M (4 m) off the corners, which costs a few metres.
    best = 2 * np.hypot(200, 200) + 400
    assert best < line.length < best + 15


def test_transit_stays_inside_a_concave_area():
    u = Polygon(
        [(0, 0), (900, 0), (900, 900), (600, 900), (600, 300), (300, 300), (300, 900), (0, 900)]
    )
    router = Router(u)
    path = LineString(router.path(np.array([150.0, 850.0]), np.array([750.0, 850.0])))
    assert u.buffer(0.02).covers(path)
    assert path.length > 1200  # down one arm and up the other, not across the bay


def test_unreachable_part_is_an_error():
    two = shapely.union_all(
        [Polygon.from_bounds(0, 0, 100, 100), Polygon.from_bounds(300, 0, 400, 100)]
    )
    with pytest.raises(PlanError, match="no way found"):
        Router(two).path(np.array([50.0, 50.0]), np.array([350.0, 50.0]))


def _zigzag(n_lanes=20, length=1000.0, spacing=40.0):
    pts = []
    for i in range(n_lanes):
        y = i * spacing
        xs = (0.0, length) if i % 2 == 0 else (length, 0.0)
        pts += [(xs[0], y), (xs[1], y)]
    return Track.from_polyline(np.array(pts))


def test_partition_balances_time_for_vehicles_of_different_speed():
    track = _zigzag()
    fast, slow = Vehicle("fast", speed_ms=15.0), Vehicle("slow", speed_ms=5.0)
    launch = np.array([[500.0, -100.0]] * 3)
    got = partition(track, launch, [fast, slow, fast], 60.0)
    assert got is not None
    pieces, longest = got
    assert longest == pytest.approx(
        max(
            piece_time(track, a, b, launch[0], v, 60.0)
            for (a, b), v in zip(pieces, [fast, slow, fast], strict=True)
        ),
        abs=1.0,
    )
    times = [
        piece_time(track, a, b, launch[0], v, 60.0)
        for (a, b), v in zip(pieces, [fast, slow, fast], strict=True)
    ]
    assert max(times) / np.mean(times) < 1.05
    # The pieces are contiguous and cover the whole route.
    assert pieces[0][0] == 0 and pieces[-1][1] == len(track.s) - 1
    assert all(pieces[i][1] == pieces[i + 1][0] for i in range(2))
    lengths = [track.s[b] - track.s[a] for a, b in pieces]
    assert lengths[1] < lengths[0] / 2  # the slow drone gets far less route


def test_sorties_each_fit_the_usable_battery():
    track = _zigzag()
    v = Vehicle("short", speed_ms=10.0, usable_endurance_s=600.0)
    launch = np.array([0.0, -50.0])
    sorties = split_sorties(track, 0, len(track.s) - 1, launch, v, 60.0)
    assert len(sorties) >= 4
    for a, b in sorties:
        assert piece_time(track, a, b, launch, v, 60.0) <= 600.0 + 1e-6
    assert sorties[0][0] == 0 and sorties[-1][1] == len(track.s) - 1


def test_launch_too_far_for_the_battery():
    track = _zigzag()
    v = Vehicle("tiny", speed_ms=10.0, usable_endurance_s=120.0)
    with pytest.raises(PlanError, match="too far"):
        split_sorties(track, 0, len(track.s) - 1, np.array([0.0, -50.0]), v, 60.0)
