"""Nothing unsafe reaches a drone: every straight leg of an uploaded mission avoids the holes."""

import numpy as np
import pytest
import shapely
from mission_testkit import H20T, alt_for_swath, box
from shapely.geometry import LineString, Polygon

from missions.area import SearchArea, prepare
from missions.errors import MissionError
from missions.legcheck import (
    UnsafePlanError,
    check_plan,
    check_sortie,
    ensure_plan_safe,
    reroute_sortie,
)
from missions.plan import (
    MAV_CMD_NAV_RETURN_TO_LAUNCH,
    MAV_CMD_NAV_TAKEOFF,
    MAV_CMD_NAV_WAYPOINT,
    mission_items,
)
from missions.planner import PlanRequest, make_plan
from missions.segment import Vehicle

ALT = alt_for_swath(40.0)


def _mission_legs_in_holes(plan, local) -> float:
    """Metres of the uploaded missions' legs (take-off and return included) inside holes,
    measured here independently of the planner and of missions.legcheck."""
    holes = shapely.union_all([Polygon(local.frame.latlon_to_xy(r)) for r in plan.holes])
    total = 0.0
    for s in plan.sorties:
        pts = []
        for it in mission_items(s):
            if it.command == MAV_CMD_NAV_RETURN_TO_LAUNCH:
                pts.append(s.launch)
            elif it.x or it.y:
                pts.append((it.x / 1e7, it.y / 1e7))
        line = LineString(local.frame.latlon_to_xy(pts))
        total += line.intersection(holes.buffer(-0.05)).length
    return total


def _u_valley(draw):
    """A concave U: two arms joined at the south, with no-fly zones across the west arm and
    in the gap's mouth, between a launch point and the far lanes."""
    outer = [
        (0, 0),
        (1400, 0),
        (1400, 1200),
        (1000, 1200),
        (1000, 400),
        (400, 400),
        (400, 1200),
        (0, 1200),
    ]
    holes = [box(100, 600, 300, 700), box(1050, 150, 1300, 250)]
    return SearchArea((draw.ring(outer),), tuple(draw.ring(h) for h in holes), name="U")


@pytest.mark.parametrize(
    "launch_xy",
    [(200, 1300), (200, 500), (1200, -100), (700, 800)],
    ids=["north-of-west-hole", "south-of-west-hole", "south-east", "in-the-gap"],
)
def test_no_leg_through_a_hole_from_either_side(draw, launch_xy):
    local = prepare(_u_valley(draw))
    launch = draw.ring([launch_xy])[0]
    v = Vehicle("short", speed_ms=10.0, usable_endurance_s=600.0)
    plan = make_plan(
        local, PlanRequest(H20T, ALT, 0.1, vehicles=(v,) * 3, launches=(launch,), hole_margin_m=5)
    )
    assert len(plan.sorties) > 3  # several sorties: many take-off and return legs
    assert check_plan(plan) == []
    assert _mission_legs_in_holes(plan, local) == 0.0
    # The take-off leg (launch -> first waypoint) is among the legs checked.
    first = mission_items(plan.sorties[0])
    assert first[0].command == MAV_CMD_NAV_TAKEOFF


def _with_leg_through_hole(plan, local):
    """A copy of the plan whose first sortie jumps straight across the first hole."""
    hole = Polygon(local.frame.latlon_to_xy(plan.holes[0]))
    s = plan.sorties[0]
    cx, cy = hole.centroid.x, hole.centroid.y
    w = hole.bounds[2] - hole.bounds[0]
    a, b = local.frame.xy_to_latlon([(cx - w, cy), (cx + w, cy)])
    wp = s.waypoints[1]
    bad = [
        wp.model_copy(update={"lat": float(a[0]), "lon": float(a[1]), "kind": "turn"}),
        wp.model_copy(update={"lat": float(b[0]), "lon": float(b[1]), "kind": "turn"}),
    ]
    wps = (*s.waypoints[:2], *bad, *s.waypoints[2:])
    bad_sortie = s.model_copy(update={"waypoints": wps})
    seg = plan.segments[0]
    seg2 = seg.model_copy(update={"sorties": (bad_sortie, *seg.sorties[1:])})
    return plan.model_copy(update={"segments": (seg2, *plan.segments[1:])}), w


def test_a_leg_through_a_hole_is_named_and_refused(draw):
    local = prepare(
        SearchArea((draw.ring(box(0, 0, 1000, 600)),), (draw.ring(box(400, 200, 600, 400)),))
    )
    plan = make_plan(local, PlanRequest(H20T, ALT, 0.1))
    assert check_plan(plan) == []
    bad_plan, width = _with_leg_through_hole(plan, local)
    got = check_plan(bad_plan)
    across = [v for v in got if v.problem == "hole" and abs(v.metres - width) < 1.0]
    assert len(across) == 1  # the leg across the whole hole
    v = across[0]
    assert (v.segment, v.sortie, v.hole) == (0, 0, 0)
    # The item index is the mission item that flies the leg (take-off is item 0).
    items = mission_items(bad_plan.sorties[0])
    assert (items[v.item].x / 1e7, items[v.item].y / 1e7) == pytest.approx(v.end, abs=1e-6)
    with pytest.raises(UnsafePlanError) as err:
        ensure_plan_safe(bad_plan)
    assert isinstance(err.value, MissionError)
    msg = str(err.value)
    assert "segment 1 sortie 1 item" in msg and "inside hole 0" in msg and "\n" not in msg
    # Re-routing the sortie takes the leg round the hole, and the result passes.
    fixed = reroute_sortie(bad_plan, bad_plan.sorties[0])
    assert check_sortie(bad_plan, fixed) == []
    assert any(w.kind == "transit" for w in fixed.waypoints[2:-1])


def test_take_off_and_return_legs_are_checked(draw):
    local = prepare(
        SearchArea((draw.ring(box(0, 0, 1000, 600)),), (draw.ring(box(-300, -100, -100, 700)),))
    )
    west = draw.ring([(-400, 300)])[0]
    plan = make_plan(local, PlanRequest(H20T, ALT, 0.1, launches=(west,)))
    assert check_plan(plan) == []  # the planner routes round the hole outside the area
    s = plan.sorties[0]
    # Strip the routed transits: the take-off leg and the return leg cross the hole.
    core = [w for w in s.waypoints if w.kind != "transit"]
    straight = s.model_copy(update={"waypoints": tuple(core)})
    got = check_sortie(plan, straight)
    items = [v.item for v in got if v.problem == "hole"]
    mi = mission_items(straight)
    first_wp = next(it.seq for it in mi if it.command == MAV_CMD_NAV_WAYPOINT)
    assert first_wp in items  # the leg flown to the first waypoint after take-off
    assert mi[-1].seq in items  # the return-to-launch leg
    assert all(v.transit for v in got)
    assert check_sortie(plan, reroute_sortie(plan, straight)) == []


def test_a_leg_leaving_the_area_beyond_the_turn_margin_is_refused(draw):
    local = prepare(SearchArea((draw.ring(box(0, 0, 1000, 600)),)))
    plan = make_plan(local, PlanRequest(H20T, ALT, 0.1, turn_margin_m=10))
    s = plan.sorties[0]
    i = next(i for i, w in enumerate(s.waypoints) if w.kind == "lane_end")
    out = draw.ring([(500, 700)])[0]
    w = s.waypoints[i].model_copy(
        update={"lat": float(out[0]), "lon": float(out[1]), "kind": "turn"}
    )
    bad = s.model_copy(update={"waypoints": (*s.waypoints[: i + 1], w, *s.waypoints[i + 1 :])})
    got = check_sortie(plan, bad)
    assert got and all(v.problem == "outside" and not v.transit for v in got)
    assert "outside the area plus the turn margin" in str(got[0])
    a, b = draw.frame.latlon_to_xy([(s.waypoints[i].lat, s.waypoints[i].lon)])[0], (500, 700)
    c = draw.frame.latlon_to_xy([(s.waypoints[i + 1].lat, s.waypoints[i + 1].lon)])[0]
    allowed = Polygon(box(0, 0, 1000, 600)).buffer(10)
    expected = LineString([a, b, c]).difference(allowed).length
    assert np.isclose(sum(v.metres for v in got), expected, rtol=0.01)
