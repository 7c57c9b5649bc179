"""Pure fleet decisions: assignment, altitudes, lane progress, reassignment, relay, pre-flight."""

from __future__ import annotations

import pytest

from groundctl import config
from groundctl.fleet import assign, preflight, progress, relay
from tests.groundctl.fleet.planfix import make_plan

BASE = (47.0, 8.0)


def offset(north_m: float, east_m: float) -> tuple[float, float]:
    return (BASE[0] + north_m / 111_200.0, BASE[1] + east_m / 75_800.0)


def test_assignment_balances_work_by_finish_time():
    works = [
        assign.Work(f"s{i}", offset(0, 500), offset(0, 600), sweep_s=s)
        for i, s in enumerate([600, 500, 400, 300, 200, 100])
    ]
    slots = [assign.Slot(n, BASE, 10.0) for n in ("a", "b", "c")]
    out = assign.assign(works, slots)
    assert sorted(x for ids in out.values() for x in ids) == sorted(w.id for w in works)
    load = {
        n: sum(next(w.sweep_s for w in works if w.id == i) for i in ids) for n, ids in out.items()
    }
    # LPT on 600..100 over 3 drones gives 700 each
    assert set(load.values()) == {700}


def test_assignment_prefers_the_drone_launching_near_the_segment():
    near, far = offset(0, 3000), offset(0, -3000)
    works = [assign.Work("east", offset(0, 3100), offset(0, 3200), 300)]
    slots = [assign.Slot("west_pad", far, 10.0), assign.Slot("east_pad", near, 10.0)]
    assert assign.assign(works, slots) == {"west_pad": [], "east_pad": ["east"]}


def test_assignment_counts_a_busy_drone_as_busy():
    works = [assign.Work("w", offset(0, 100), offset(0, 200), 300)]
    slots = [assign.Slot("busy", BASE, 10.0, busy_until_s=5000), assign.Slot("free", BASE, 10.0)]
    assert assign.assign(works, slots)["free"] == ["w"]


def test_assignment_without_drones_is_an_error():
    with pytest.raises(ValueError, match="no drone"):
        assign.assign([assign.Work("w", BASE, BASE, 1)], [])


def test_transit_altitudes_are_distinct_and_stepped():
    alts = assign.transit_altitudes(["a", "b", "c"], 40, 10)
    assert alts == {"a": 40, "b": 50, "c": 60}
    assert len(set(alts.values())) == 3


def test_lanes_swept_from_reached_and_current_items():
    ends = {"L0": 2, "L1": 4, "L2": 6}
    # item 4 reached was lost on the radio, but the drone is now at item 6: L1 is done
    assert progress.swept_lanes(ends, reached=[2], current_seq=6) == {"L0", "L1"}
    assert progress.swept_lanes(ends, reached=[], current_seq=0) == set()
    assert progress.swept_lanes(ends, mission_finished=True) == {"L0", "L1", "L2"}


def test_resume_at_first_unswept_lane():
    lanes = ["L0", "L1", "L2", "L3"]
    assert progress.first_unswept(lanes, {"L0", "L1"}) == "L2"
    assert progress.remaining(lanes, {"L0", "L2"}) == ["L1", "L3"]
    assert progress.first_unswept(lanes, set(lanes)) is None
    assert progress.fraction_swept(lanes, {"L0"}) == 0.25


def test_lost_drones_lanes_are_split_into_contiguous_pieces_for_the_others():
    lanes = [f"L{i}" for i in range(7)]
    start = {x: offset(i * 20, 0) for i, x in enumerate(lanes)}
    end = {x: offset(i * 20, 400) for i, x in enumerate(lanes)}
    sweep = dict.fromkeys(lanes, 40.0)
    out = assign.reassign_lanes(
        lanes, [assign.Slot("a", BASE, 10), assign.Slot("b", BASE, 10)], start, end, sweep
    )
    got = sorted(x for v in out.values() for x in v)
    assert got == sorted(lanes)
    for piece in out.values():
        idx = [lanes.index(x) for x in piece]
        assert idx == list(range(idx[0], idx[0] + len(idx)))  # contiguous
    assert len(out) == 2
    assert assign.reassign_lanes([], [assign.Slot("a", BASE, 10)], {}, {}, {}) == {}


def test_must_leave_keeps_reserve_and_return_flight():
    # 60% left, reserve 25%, 0.1 %/s drain -> 350 s above reserve, minus 50 s home
    assert relay.must_leave_at(100, 60, 25, 0.1, 50) == pytest.approx(400)
    assert relay.must_leave_at(100, 20, 25, 0.1, 50) == 100


def test_relief_arrives_before_the_watcher_leaves():
    w = relay.OnStation("a", must_leave_at_s=1000)
    cands = [
        relay.Candidate("b", ready_at_s=0, transit_s=100, on_station_s=900),
        relay.Candidate("c", ready_at_s=0, transit_s=100, on_station_s=1500),
        relay.Candidate("late", ready_at_s=990, transit_s=100, on_station_s=5000),
    ]
    r = relay.plan_relief(w, cands, margin_s=60)
    assert r is not None and r.name == "c"
    assert r.arrive_at_s <= 940 and r.overlap_s >= 60
    assert r.depart_at_s == pytest.approx(840)  # sets off as late as still on time


def test_relief_when_nobody_is_on_time_reports_the_gap():
    w = relay.OnStation("a", must_leave_at_s=100)
    r = relay.plan_relief(w, [relay.Candidate("b", 200, 50, 900)], margin_s=10)
    assert r is not None and r.overlap_s == pytest.approx(-150)
    assert relay.plan_relief(w, [], 10) is None


def test_uncovered_time_between_intervals():
    assert relay.uncovered_s([(0, 100), (90, 200)], 0, 200) == 0
    assert relay.uncovered_s([(0, 100), (110, 200)], 0, 200) == pytest.approx(10)
    assert relay.uncovered_s([(10, 50)], 0, 100) == pytest.approx(60)


def test_battery_needed_includes_reserve():
    af = config.airframe("mavic3t")  # 38 min, 25% reserve
    assert preflight.battery_needed_pct(38 * 60 / 2, af) == pytest.approx(75)


def _state(**kw):
    base = dict(
        name="a",
        link_ok=True,
        heartbeat_age_s=0.5,
        gps_fix_type=3,
        satellites=12,
        home_set=True,
        battery_pct=95,
        battery_needed_pct=60,
        fence_uploaded=True,
        plan_distance_m=400.0,
        reach_m=20_000.0,
    )
    return preflight.PreflightState(**{**base, **kw})


def test_preflight_go_and_each_no_go_reason():
    assert preflight.is_go(preflight.evaluate(_state()))
    for bad, check in [
        (dict(link_ok=False), "link"),
        (dict(heartbeat_age_s=None), "link"),
        (dict(gps_fix_type=2), "gps"),
        (dict(satellites=4), "gps"),
        (dict(home_set=False), "home"),
        (dict(battery_pct=50), "battery"),
        (dict(battery_pct=None), "battery"),
        (dict(fence_uploaded=False), "geofence"),
        (dict(plan_distance_m=4_300_000.0), "reach"),
    ]:
        checks = preflight.evaluate(_state(**bad))
        assert not preflight.is_go(checks)
        assert [c.name for c in checks if not c.ok] == [check]


def test_reach_is_half_the_range_and_distance_is_to_the_nearest_waypoint():
    af = config.airframe("mavic3t")
    assert preflight.reach_m(af) == pytest.approx(af.usable_endurance_s * af.cruise_speed_ms / 2)
    plan = make_plan()
    lats, lons = preflight.plan_points(plan)
    home = plan.segments[0].launch
    assert preflight.nearest_m(home, lats, lons) < 100
    assert 4_200_000 < preflight.nearest_m((home[0] - 38.7, home[1]), lats, lons) < 4_400_000
    swapped = (home[1], home[0])  # latitude and longitude swapped
    assert preflight.nearest_m(swapped, lats, lons) > 5_000_000


def test_go_no_go_table_names_every_drone_and_verdict():
    from rich.console import Console

    table = preflight.go_no_go_table(
        {
            "alpha": preflight.evaluate(_state()),
            "bravo": preflight.evaluate(_state(battery_pct=40)),
        }
    )
    console = Console(width=200, record=True)
    console.print(table)
    text = console.export_text()
    assert "alpha" in text and "bravo" in text
    assert "NO-GO" in text and "swap the battery" in text
