"""Lanes and cells: placement, staying inside, decomposition around holes and bays."""

import numpy as np
import pytest
import shapely
from shapely.geometry import LineString, Polygon

from missions.coverage import candidate_bearings, lay_lanes


def _lines(lanes):
    return shapely.linestrings(np.stack([lanes.p0, lanes.p1], axis=1))


def test_rectangle_lanes_start_half_a_spacing_in_and_follow_the_long_side():
    rect = Polygon.from_bounds(0, 0, 1000, 400)
    lanes = lay_lanes(rect, rect, 40.0)
    assert len(lanes) == 10
    ys = np.sort(lanes.p0[:, 1])
    assert ys[0] == pytest.approx(20.0) and ys[-1] == pytest.approx(380.0)
    assert np.allclose(np.diff(ys), 40.0)
    assert np.allclose(lanes.length_m, 1000.0)
    assert len(np.unique(lanes.cell)) == 1


def test_given_bearing_is_used():
    rect = Polygon.from_bounds(0, 0, 1000, 400)
    lanes = lay_lanes(rect, rect, 40.0, bearing_deg=0.0)  # north-south lanes
    assert len(lanes) == 25
    assert np.allclose(lanes.p0[:, 0], lanes.p1[:, 0])


def test_candidate_bearings_include_the_narrow_direction():
    rot = shapely.affinity.rotate(Polygon.from_bounds(0, 0, 1000, 100), 30, origin=(0, 0))
    b = candidate_bearings(rot)[0]
    assert b == pytest.approx(60.0, abs=0.5)  # lanes along the long side at 30° from east


def test_concave_u_shape_lanes_stay_inside_and_split_into_cells():
    u = Polygon(
        [(0, 0), (900, 0), (900, 900), (600, 900), (600, 300), (300, 300), (300, 900), (0, 900)]
    )
    lanes = lay_lanes(u, u, 40.0, bearing_deg=90.0)  # east-west lanes cross the bay
    lines = _lines(lanes)
    assert np.all(shapely.covers(u.buffer(1e-6), lines))
    # Below the bay one cell, above it two arms: at least three cells.
    assert len(np.unique(lanes.cell)) >= 3
    covered = shapely.union_all(shapely.buffer(lines, 20.0, cap_style="flat")).intersection(u)
    assert covered.area / u.area > 0.999


def test_hole_splits_lanes_and_lanes_never_enter_it():
    outer = Polygon.from_bounds(0, 0, 1000, 1000)
    hole = Polygon.from_bounds(400, 400, 600, 600)
    area = outer.difference(hole)
    lanes = lay_lanes(area, area, 40.0, bearing_deg=90.0)
    lines = _lines(lanes)
    assert shapely.length(shapely.intersection(lines, hole.buffer(-1e-6))).max() == 0
    assert len(np.unique(lanes.cell)) >= 3


def test_slanted_edges_are_covered_by_stretching_into_the_turn_margin():
    tri = Polygon([(0, 0), (1000, 0), (0, 600)])
    flyable = tri.buffer(20.0)
    lanes = lay_lanes(tri, flyable, 40.0, bearing_deg=90.0)
    lines = _lines(lanes)
    assert np.all(shapely.covers(flyable.buffer(1e-6), lines))
    covered = shapely.union_all(shapely.buffer(lines, 20.0, cap_style="flat")).intersection(tri)
    assert covered.area / tri.area > 0.995
    # Without a margin the lanes stay inside and coverage is only slightly lower.
    inner = lay_lanes(tri, tri, 40.0, bearing_deg=90.0)
    assert np.all(shapely.covers(tri.buffer(1e-6), _lines(inner)))


def test_thin_sliver_between_rows_gets_a_lane():
    # A 12 m wide arm sticking out between two rows would be missed by row lines alone.
    body = Polygon.from_bounds(0, 0, 400, 80)
    arm = Polygon.from_bounds(380, 80, 900, 92)
    area = body.union(arm)
    lanes = lay_lanes(area, area, 40.0, bearing_deg=90.0)
    lines = _lines(lanes)
    covered = shapely.union_all(shapely.buffer(lines, 20.0, cap_style="flat")).intersection(area)
    assert covered.area / area.area > 0.99
    assert any(
        LineString([p, q]).intersects(Polygon.from_bounds(600, 80, 700, 92))
        for p, q in zip(lanes.p0, lanes.p1, strict=True)
    )


def test_each_cell_gets_its_own_direction_when_that_saves_turns():
    # A thin L: one bearing for all would sweep one arm across with 22 short lanes.
    thin_l = Polygon([(0, 0), (1000, 0), (1000, 120), (120, 120), (120, 1000), (0, 1000)])
    lanes = lay_lanes(thin_l, thin_l, 40.0)
    bearings = sorted(set(np.round(lanes.sweep_deg).tolist()))
    assert bearings == [0.0, 90.0]
    assert len(lanes) == 6
    lines = _lines(lanes)
    covered = shapely.union_all(shapely.buffer(lines, 20.0, cap_style="flat")).intersection(thin_l)
    assert covered.area / thin_l.area > 0.999
    # A given bearing is kept everywhere.
    fixed = lay_lanes(thin_l, thin_l, 40.0, bearing_deg=90.0)
    assert set(np.round(fixed.sweep_deg).tolist()) == {90.0} and len(fixed) > 20
