"""The whole pipeline: coverage, hole avoidance, fleets, sorties; property tests."""

import itertools
import math
import time
from dataclasses import replace

import numpy as np
import pytest
import shapely
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from mission_testkit import H20T, alt_for_swath, box, flown_geometry, measured_coverage
from shapely.geometry import Polygon

from missions.area import SearchArea, prepare
from missions.errors import PlanError
from missions.plan import MAV_CMD_NAV_RETURN_TO_LAUNCH, MAV_CMD_NAV_TAKEOFF, Plan, mission_items
from missions.planner import PlanRequest, make_plan
from missions.segment import Vehicle

ALT = alt_for_swath(40.0)


def _l_shape(draw):
    outer = [(0, 0), (1000, 0), (1000, 350), (450, 350), (450, 700), (0, 700)]
    return SearchArea((draw.ring(outer),), (draw.ring(box(150, 400, 300, 500)),), name="L")


def test_l_shape_with_hole_three_drones(draw):
    local = prepare(_l_shape(draw))
    req = PlanRequest(H20T, ALT, 0.1, vehicles=(Vehicle(speed_ms=10),) * 3)
    plan = make_plan(local, req)
    assert len(plan.segments) == 3
    flown = flown_geometry(plan, local.frame)
    assert flown.intersection(local.holes.buffer(-0.05)).length == 0
    assert local.area.buffer(0.05).covers(flown)
    assert measured_coverage(plan, local.frame, local.searchable) > 0.995
    times = [s.stats.est_time_s for s in plan.segments]
    assert max(times) / np.mean(times) < 1.10
    # Every lane id is swept by some sortie, and sorties start after their take-off.
    swept = {w.lane_id for s in plan.sorties for w in s.waypoints if w.lane_id is not None}
    assert swept == set(range(len(swept)))
    assert plan.stats.coverage_pct > 99.5
    assert 0 < plan.segments[0].stats.pod < 1
    # Round trip through JSON keeps everything.
    assert Plan.from_json(plan.to_json()) == plan


def test_mission_items_of_a_planned_sortie(draw):
    plan = make_plan(prepare(_l_shape(draw)), PlanRequest(H20T, ALT, 0.1))
    items = mission_items(plan.sorties[0])
    assert (
        items[0].command == MAV_CMD_NAV_TAKEOFF
        and items[-1].command == MAV_CMD_NAV_RETURN_TO_LAUNCH
    )
    assert all(abs(i.z - ALT) < 1e-6 for i in items if i.command == 16)


def test_short_battery_makes_several_sorties_each_within_endurance(draw):
    local = prepare(SearchArea((draw.ring(box(0, 0, 1000, 1000)),)))
    v = Vehicle("short", speed_ms=10.0, usable_endurance_s=900.0)
    plan = make_plan(
        local, PlanRequest(H20T, ALT, 0.1, vehicles=(v, v), launches=(draw.ring([(-50, -50)])[0],))
    )
    for seg in plan.segments:
        assert len(seg.sorties) >= 2
        for s in seg.sorties:
            assert s.est_time_s <= 900.0  # within the usable battery, routed transits included
            assert s.waypoints[-1].kind == "transit"  # back over launch before RTL
    assert measured_coverage(plan, local.frame, local.searchable) > 0.995


def test_launch_points_per_drone_and_bad_launch(draw):
    local = prepare(
        SearchArea((draw.ring(box(0, 0, 1000, 600)),), (draw.ring(box(400, 200, 600, 400)),))
    )
    west, east = draw.ring([(-100, 300), (1100, 300)])
    plan = make_plan(
        local, PlanRequest(H20T, ALT, 0.1, vehicles=(Vehicle(),) * 2, launches=(west, east))
    )
    got = sorted(s.launch for s in plan.segments)
    assert np.allclose(got, sorted([west, east]), atol=1e-7)
    # Each drone sweeps the half near its own launch point.
    for seg in plan.segments:
        xy = local.frame.latlon_to_xy(
            [(w.lat, w.lon) for s in seg.sorties for w in s.waypoints if w.kind != "transit"]
        )
        lx = local.frame.latlon_to_xy([seg.launch])[0, 0]
        assert abs(np.median(xy[:, 0]) - lx) < 700
    inside_hole = draw.ring([(500, 300)])[0]
    with pytest.raises(PlanError, match="inside a hole"):
        make_plan(local, PlanRequest(H20T, ALT, launches=(inside_hole,)))
    with pytest.raises(PlanError, match="3 launch points for 2 drones"):
        make_plan(
            local, PlanRequest(H20T, ALT, vehicles=(Vehicle(),) * 2, launches=(west, east, west))
        )
    far = draw.ring([(50_000, 0)])[0]
    with pytest.raises(PlanError, match="km from the area"):
        make_plan(local, PlanRequest(H20T, ALT, launches=(far,)))


def _random_area(seed: int, n_holes: int):
    rng = np.random.default_rng(seed)
    k = int(rng.integers(5, 14))
    ang = np.sort(rng.uniform(0, 2 * math.pi, k))
    r = rng.uniform(250, 600, k)
    outer = Polygon(np.column_stack([r * np.cos(ang), r * np.sin(ang)]))
    if not outer.is_valid or outer.area < 50_000:
        return None
    holes = []
    for _ in range(n_holes):
        c = rng.uniform(-300, 300, 2)
        h = shapely.affinity.rotate(
            Polygon.from_bounds(
                c[0] - rng.uniform(20, 80),
                c[1] - rng.uniform(20, 80),
                c[0] + rng.uniform(20, 80),
                c[1] + rng.uniform(20, 80),
            ),
            rng.uniform(0, 90),
        )
        if outer.buffer(-60).contains(h) and all(h.distance(o) > 60 for o in holes):
            holes.append(h)
    return outer, holes


def _random_request(draw, seed: int, n_holes: int, drones: int, margin: float):
    got = _random_area(seed, n_holes)
    if got is None:
        return None
    outer, holes = got
    area = SearchArea(
        (draw.ring(list(outer.exterior.coords)[:-1]),),
        tuple(draw.ring(list(h.exterior.coords)[:-1]) for h in holes),
    )
    req = PlanRequest(H20T, ALT, 0.1, vehicles=(Vehicle(),) * drones, turn_margin_m=margin)
    return prepare(area), req


def _check_random_case(draw, seed: int, n_holes: int, drones: int, margin: float) -> None:
    got = _random_request(draw, seed, n_holes, drones, margin)
    if got is None:
        return
    local, req = got
    plan = make_plan(local, req)
    flown = flown_geometry(plan, local.frame, include_transit=True)
    # Never inside a hole, not even on the legs to and from launch.
    assert flown.intersection(local.holes.buffer(-0.05)).length < 1e-6
    # The sweep stays within the area plus the turn margin.
    assert local.area.buffer(margin + 0.05).covers(flown_geometry(plan, local.frame))
    cover = measured_coverage(plan, local.frame, local.searchable)
    assert cover > (0.995 if margin else 0.98), cover


@settings(
    max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    seed=st.integers(0, 10_000),
    n_holes=st.integers(0, 3),
    drones=st.integers(1, 3),
    margin=st.sampled_from([0.0, 20.0]),
)
def test_property_random_polygons_with_holes(draw, seed, n_holes, drones, margin):
    _check_random_case(draw, seed, n_holes, drones, margin)


# Cases drawn before: (2, 2, 3, 20.0) failed one run (coverage 0.9713) and passed on every
# other machine and load; the others had the lowest coverage in a hunt of ~2,000 cases.
@pytest.mark.parametrize(
    ("seed", "n_holes", "drones", "margin"),
    [
        (2, 2, 3, 20.0),
        (6985, 3, 1, 20.0),
        (5836, 1, 3, 20.0),
        (3080, 1, 2, 0.0),
        (39, 3, 3, 0.0),
        (7381, 3, 3, 0.0),
        (1095, 1, 3, 0.0),
    ],
)
def test_random_polygons_drawn_before(draw, seed, n_holes, drones, margin):
    _check_random_case(draw, seed, n_holes, drones, margin)


def test_plan_does_not_depend_on_the_machines_speed(draw, monkeypatch):
    """The re-cuts that balance the drones are bounded by work, not by a clock: a slow or
    busy machine (here a CPU clock that jumps a second at every reading) plans exactly what
    a fast one does, so a failure seen on one machine reproduces on any other."""
    local, req = _random_request(draw, 2, 2, 3, 20.0)
    first = make_plan(local, req)
    ticks = itertools.count()
    monkeypatch.setattr(time, "process_time", lambda: float(next(ticks)))
    monkeypatch.setattr(time, "perf_counter", lambda: float(next(ticks)))
    slow = make_plan(local, req)
    assert [s.waypoints for s in slow.sorties] == [s.waypoints for s in first.sorties]
    assert slow.stats.max_segment_time_s == first.stats.max_segment_time_s


def test_hole_margin_keeps_the_path_off_holes(draw):
    local = prepare(_l_shape(draw))
    plan = make_plan(
        local,
        PlanRequest(
            H20T,
            ALT,
            0.2,
            vehicles=(Vehicle(),) * 2,
            hole_margin_m=8.0,
            launches=(draw.ring([(900, -50)])[0],),
        ),
    )
    flown = flown_geometry(plan, local.frame, include_transit=True)
    assert flown.distance(local.holes) >= 8.0 - 0.05
    assert plan.hole_margin_m == 8.0
    # The camera still sees the ground between the path and the hole.
    assert measured_coverage(plan, local.frame, local.searchable) > 0.99
    with pytest.raises(PlanError, match="half the footprint"):
        make_plan(local, PlanRequest(H20T, ALT, hole_margin_m=30.0))


def test_by_default_the_path_keeps_a_clearance_off_holes(draw):
    """A lane that ends on a no-fly zone's edge makes the drone run on into the zone as it
    turns (on the bench valley every simulated drone was held by "Geofence breached"). By
    default lanes end, and transits pass, a clearance off every hole: 10 m, or a quarter of
    the footprint's short side if less. The camera still sees up to the hole."""
    local = prepare(_l_shape(draw))
    launch = draw.ring([(900, -50)])[0]
    req = PlanRequest(H20T, ALT, 0.1, vehicles=(Vehicle(),) * 2, launches=(launch,))
    plan = make_plan(local, req)
    short_side = min(plan.camera.footprint_w_m, plan.camera.footprint_h_m)
    assert short_side / 4 < 10.0
    assert plan.hole_margin_m == pytest.approx(short_side / 4, abs=0.01)
    flown = flown_geometry(plan, local.frame, include_transit=True)
    assert flown.distance(local.holes) >= plan.hole_margin_m - 0.05
    # Lanes still run up to the clearance (nothing near the hole is given up), and the
    # ground between their ends and the hole is seen.
    ends = local.frame.latlon_to_xy(
        [(w.lat, w.lon) for s in plan.sorties for w in s.waypoints if w.kind == "lane_end"]
    )
    gap = shapely.distance(local.holes, shapely.points(ends))
    assert np.sum(gap < plan.hole_margin_m + 1.0) >= 2
    assert measured_coverage(plan, local.frame, local.searchable) > 0.995
    assert plan.stats.coverage_pct > 99.5
    # Higher up, the clearance is 10 m. A coordinator may ask for less, but never under 1 m:
    # PX4 refuses a whole mission with a waypoint on a no-fly zone's edge.
    high = make_plan(local, replace(req, alt_agl_m=2 * ALT))
    assert high.hole_margin_m == 10.0
    zero = make_plan(local, replace(req, hole_margin_m=0.0))
    assert zero.hole_margin_m == 1.0
    assert 0.95 <= flown_geometry(zero, local.frame, include_transit=True).distance(local.holes) < 2


def _lane_ends(plan: Plan) -> list[list[int]]:
    return [[w.lane_id for w in s.waypoints if w.kind == "lane_end"] for s in plan.sorties]


def _cut_pieces(plan: Plan) -> list[tuple[int, int]]:
    """(first piece, second piece) of each lane cut mid-way: one ends where the other starts."""
    ends = {
        (w.lat, w.lon): w.lane_id for s in plan.sorties for w in s.waypoints if w.kind == "lane_end"
    }
    return [
        (ends[(w.lat, w.lon)], w.lane_id)
        for s in plan.sorties
        for w in s.waypoints
        if w.kind == "lane_start" and (w.lat, w.lon) in ends
    ]


def test_a_lane_split_between_sorties_has_one_id_per_piece(draw):
    """Progress is kept per lane id: a shared id would count the second piece swept after the
    first and drop it from a resumed or handed-over search."""
    local = prepare(SearchArea((draw.ring(box(0, 0, 1000, 1000)),)))
    v = Vehicle("short", speed_ms=10.0, usable_endurance_s=900.0)
    plan = make_plan(
        local, PlanRequest(H20T, ALT, 0.1, vehicles=(v, v), launches=(draw.ring([(-50, -50)])[0],))
    )
    per_sortie = _lane_ends(plan)
    ends = [x for lanes in per_sortie for x in lanes]
    assert len(ends) == len(set(ends))  # each id is swept once, by one sortie
    for s in plan.sorties:
        starts = [w.lane_id for w in s.waypoints if w.kind == "lane_start"]
        assert (
            starts == list(s.lane_ids) == [w.lane_id for w in s.waypoints if w.kind == "lane_end"]
        )
    cuts = _cut_pieces(plan)
    assert len(cuts) >= 1  # a battery ends mid-lane here
    assert all(a != b for a, b in cuts)

    # A plan written before pieces had ids of their own shares the id; loading renumbers it.
    second = {b: a for a, b in cuts}
    raw = plan.model_dump(mode="json")
    for seg in raw["segments"]:
        seg["lane_ids"] = list(dict.fromkeys(second.get(x, x) for x in seg["lane_ids"]))
        for s in seg["sorties"]:
            s["lane_ids"] = [second.get(x, x) for x in s["lane_ids"]]
            for w in s["waypoints"]:
                w["lane_id"] = second.get(w["lane_id"], w["lane_id"])
    old = Plan.model_validate(raw)
    assert len({x for lanes in _lane_ends(old) for x in lanes}) < len(ends)
    again = Plan.from_json(old.to_json())
    assert _lane_ends(again) == per_sortie and again == plan
