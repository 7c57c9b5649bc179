"""Plan -> what a drone flies: mission items, lane bookkeeping, rebuilt sorties, geofence."""

from __future__ import annotations

from shapely.geometry import Point, Polygon

from groundctl.fleet import sortie as so
from groundctl.fleet.journal import Journal
from groundctl.store import Store
from missions.plan import (
    MAV_CMD_NAV_RETURN_TO_LAUNCH,
    MAV_CMD_NAV_TAKEOFF,
    MAV_CMD_NAV_WAYPOINT,
    Plan,
)
from tests.groundctl.fleet.planfix import at, make_plan


def test_mission_takes_off_to_the_drones_transit_altitude_and_marks_lane_ends():
    plan = make_plan(segments=1, lanes_per_sortie=3)
    s = plan.sorties[0]
    items, lane_end = so.build_mission(s, transit_alt_m=55.0)
    assert items[0].command == MAV_CMD_NAV_TAKEOFF and items[0].z == 55.0
    assert items[-1].command == MAV_CMD_NAV_RETURN_TO_LAUNCH
    assert sorted(lane_end) == list(s.lane_ids)
    for lane, seq in lane_end.items():
        wp = next(w for w in s.waypoints if w.kind == "lane_end" and w.lane_id == lane)
        assert items[seq].command == MAV_CMD_NAV_WAYPOINT
        assert items[seq].x == round(wp.lat * 1e7) and items[seq].z == wp.alt_rel_m
    # lane ends are in flying order and transit legs fly at the transit altitude
    assert [lane_end[x] for x in s.lane_ids] == sorted(lane_end.values())
    wps = [it for it in items if it.command == MAV_CMD_NAV_WAYPOINT]
    assert wps[0].z == 55.0 and wps[-1].z == 55.0


def test_resumed_sortie_gets_a_transit_leg_at_its_altitude():
    s = make_plan(segments=1, lanes_per_sortie=4).sorties[0]
    rest = s.resume_from(s.lane_ids[2])
    flown = so.with_transit_alt(rest, 70.0)
    assert flown.waypoints[0].kind == "transit" and flown.waypoints[0].alt_rel_m == 70.0
    assert (flown.waypoints[0].lat, flown.waypoints[0].lon) == (
        rest.waypoints[0].lat,
        rest.waypoints[0].lon,
    )
    _, lane_end = so.build_mission(rest, 70.0)
    assert sorted(lane_end) == list(s.lane_ids[2:])


def test_sortie_for_lanes_rebuilds_lanes_from_the_plan():
    plan = make_plan(segments=2, lanes_per_sortie=3)
    lanes = [1, 2, 3]  # across two segments
    launch = at(-30, 0)
    s = so.sortie_for_lanes(plan, lanes, launch, segment=0, index=9)
    assert s.lane_ids == (1, 2, 3)
    assert s.waypoints[0].kind == "transit" and s.waypoints[-1].kind == "transit"
    assert (s.waypoints[-1].lat, s.waypoints[-1].lon) == launch
    kinds = [(w.kind, w.lane_id) for w in s.waypoints[1:-1]]
    assert kinds == [
        ("lane_start", 1),
        ("lane_end", 1),
        ("lane_start", 2),
        ("lane_end", 2),
        ("lane_start", 3),
        ("lane_end", 3),
    ]
    assert s.est_time_s > 0 and s.length_m > 3 * 60
    _, lane_end = so.build_mission(s, 40.0)
    assert sorted(lane_end) == lanes


def test_geofence_includes_area_and_launch_pads_and_excludes_holes():
    plan = make_plan(segments=2)
    hole = (at(5, 50), at(5, 60), at(15, 60), at(15, 50))
    plan = plan.model_copy(update={"holes": (hole,)})
    pad = at(-80, 0)
    items = so.fence_items(plan, [pad], margin_m=20)
    inc = [
        (i.x / 1e7, i.y / 1e7)
        for i in items
        if i.command == so.MAV_CMD_NAV_FENCE_POLYGON_VERTEX_INCLUSION
    ]
    exc = [
        (i.x / 1e7, i.y / 1e7)
        for i in items
        if i.command == so.MAV_CMD_NAV_FENCE_POLYGON_VERTEX_EXCLUSION
    ]
    assert all(i.param1 == len(inc) for i in items[: len(inc)]) and len(exc) == 4
    poly = Polygon([(lon, lat) for lat, lon in inc])
    for lat, lon in [*plan.area[0], pad]:
        assert poly.contains(Point(lon, lat))
    assert [i.seq for i in items] == list(range(len(items)))
    assert all(i.mission_type == 1 for i in items)


def test_journal_keeps_sorties_and_swept_lanes_across_reopen(tmp_path):
    plan = make_plan(segments=1)
    db = tmp_path / "op.sqlite"
    j = Journal.open(db, "op1", plan)
    job = so.planned_jobs(plan)[0]
    sid = j.add_job(job, "alpha", 1, "abc")
    j.update_job(sid, status="flying", swept=[0, 1], progress=2 / 3)
    j.event("low_battery", "22%", sysid=1)
    j.close()
    j2 = Journal(Store.open(db, operation="op1"), Plan.from_json(plan.to_json()))
    assert j2.plan_id == j.plan_id
    assert j2.swept_lanes() == {0, 1}
    (act,) = j2.active()
    assert act.vehicle == "alpha" and act.job.id == job.id and act.job.sortie == job.sortie
    assert act.swept == {0, 1} and act.mission_hash == "abc"
    assert [e.kind for e in j2.store.events(sysid=1)] == ["low_battery"]
    j2.update_job(sid, status="done")
    assert j2.active() == []


async def test_journal_records_command_results(tmp_path):
    plan = make_plan(segments=1)
    j = Journal.open(tmp_path / "op.sqlite", "op1", plan)
    async with j.command(3, "arm"):
        pass
    try:
        async with j.command(3, "takeoff", {"alt_rel_m": 30}):
            raise RuntimeError("DENIED")
    except RuntimeError:
        pass
    cmds = j.store.commands(sysid=3)
    assert [(c.command, c.result) for c in cmds] == [
        ("arm", "ACCEPTED"),
        ("takeoff", "FAILED: DENIED"),
    ]
