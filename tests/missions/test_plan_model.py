import json
import math

import pytest

from missions.errors import PlanError
from missions.plan import (
    MAV_CMD_DO_CHANGE_SPEED,
    MAV_CMD_NAV_RETURN_TO_LAUNCH,
    MAV_CMD_NAV_TAKEOFF,
    MAV_CMD_NAV_WAYPOINT,
    MAV_FRAME_GLOBAL_RELATIVE_ALT_INT,
    CameraSettings,
    Plan,
    PlanStats,
    Segment,
    SegmentStats,
    Sortie,
    Waypoint,
    mission_items,
)


def _plan() -> Plan:
    wps = (
        Waypoint(lat=47.0, lon=8.0, alt_rel_m=60, speed_ms=12, kind="transit"),
        Waypoint(lat=47.001, lon=8.0, alt_rel_m=60, speed_ms=8, kind="lane_start", lane_id=0),
        Waypoint(lat=47.001, lon=8.01, alt_rel_m=60, speed_ms=8, kind="lane_end", lane_id=0),
        Waypoint(lat=47.0015, lon=8.01, alt_rel_m=60, speed_ms=8, kind="lane_start", lane_id=1),
        Waypoint(lat=47.0015, lon=8.0, alt_rel_m=60, speed_ms=8, kind="lane_end", lane_id=1),
        Waypoint(lat=47.0, lon=8.0, alt_rel_m=60, speed_ms=12, kind="transit"),
    )
    sortie = Sortie(
        index=0,
        segment=0,
        launch=(47.0, 8.0),
        waypoints=wps,
        est_time_s=300,
        length_m=1700,
        lane_ids=(0, 1),
    )
    st = SegmentStats(
        area_m2=1e5, lane_length_m=1500, length_m=1700, est_time_s=300, turns=1, pod=0.7
    )
    seg = Segment(
        index=0,
        vehicle="mavic3t",
        speed_ms=8,
        launch=(47.0, 8.0),
        lane_ids=(0, 1),
        sorties=(sortie,),
        stats=st,
    )
    cam = CameraSettings(
        name="h20t",
        alt_agl_m=60,
        footprint_w_m=34,
        footprint_h_m=27,
        gsd_m=0.05,
        lane_spacing_m=27,
        side_overlap=0.2,
        px_on_person=9.4,
    )
    stats = PlanStats(
        area_m2=1e5,
        searchable_m2=1e5,
        length_m=1700,
        lane_length_m=1500,
        max_segment_time_s=300,
        mean_segment_time_s=300,
        turns=1,
        coverage_pct=99.9,
        pod=0.7,
        sorties=1,
    )
    return Plan(
        area=(((47.0, 8.0), (47.01, 8.0), (47.01, 8.01)),), camera=cam, stats=stats, segments=(seg,)
    )


def test_json_round_trip(tmp_path):
    plan = _plan()
    path = tmp_path / "p.json"
    plan.dump(path)
    back = Plan.load(path)
    assert back == plan
    raw = json.loads(path.read_text())
    assert raw["format"] == "groundctl.plan" and raw["format_version"] == 1
    assert raw["segments"][0]["sorties"][0]["waypoints"][1]["kind"] == "lane_start"


def test_bad_plan_files_say_what_and_where(tmp_path):
    with pytest.raises(PlanError, match="not JSON"):
        Plan.from_json("{oops")
    with pytest.raises(PlanError, match="not a groundctl plan"):
        Plan.from_json('{"fileType": "Plan"}')
    with pytest.raises(PlanError, match="newer"):
        Plan.from_json('{"format": "groundctl.plan", "format_version": 99}')
    raw = json.loads(_plan().to_json())
    raw["segments"][0]["sorties"][0]["waypoints"][0]["lat"] = 123
    with pytest.raises(PlanError, match=r"segments\.0\.sorties\.0\.waypoints\.0\.lat"):
        Plan.from_json(json.dumps(raw))
    with pytest.raises(PlanError, match="cannot read"):
        Plan.load(tmp_path / "missing.json")


def test_mission_items_take_off_speed_waypoints_rtl():
    sortie = _plan().segments[0].sorties[0]
    items = mission_items(sortie)
    assert [i.seq for i in items] == list(range(len(items)))
    assert items[0].command == MAV_CMD_NAV_TAKEOFF and items[0].z == 60
    assert items[-1].command == MAV_CMD_NAV_RETURN_TO_LAUNCH
    cmds = [i.command for i in items]
    assert cmds.count(MAV_CMD_NAV_WAYPOINT) == len(sortie.waypoints)
    speeds = [i.param2 for i in items if i.command == MAV_CMD_DO_CHANGE_SPEED]
    assert speeds == [12, 8, 12]
    wp = next(i for i in items if i.command == MAV_CMD_NAV_WAYPOINT)
    assert wp.frame == MAV_FRAME_GLOBAL_RELATIVE_ALT_INT and wp.x == 470000000 and wp.y == 80000000
    assert math.isnan(wp.param4)
    ardu = mission_items(sortie, home_item=True)
    assert (
        len(ardu) == len(items) + 1
        and ardu[0].frame == 0
        and ardu[1].command == MAV_CMD_NAV_TAKEOFF
    )


def test_resume_starts_at_first_unswept_lane():
    sortie = _plan().segments[0].sorties[0]
    resumed = sortie.resume_from(1)
    assert resumed.lane_ids == (1,)
    assert resumed.waypoints[0].kind == "lane_start" and resumed.waypoints[0].lane_id == 1
    with pytest.raises(PlanError, match="no lane 7"):
        sortie.resume_from(7)
