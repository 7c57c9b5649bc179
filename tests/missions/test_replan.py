"""Planned against flown, and `groundctl replan` on a real operation database."""

import json
import time

import numpy as np
import shapely
from mission_testkit import box

from groundctl.store import Store, TrackPoint
from missions.area import SearchArea, prepare
from missions.flown import FlightTrack, camera_of, detection_probability, flown_coverage, replan
from missions.footprint import Camera
from missions.legcheck import check_plan
from missions.plan import Plan
from missions.planner import PlanRequest, make_plan
from missions.segment import Vehicle

BOSON = Camera("boson640_8.7mm", 640, 512, 50.0, 40.0, 60.0)


def _plan(draw, drones=3, endurance=900.0):
    area = SearchArea(
        (draw.ring(box(0, 0, 1200, 900)),), (draw.ring(box(500, 350, 650, 500)),), name="field"
    )
    v = Vehicle(
        "mavic3t",
        speed_ms=10.0,
        usable_endurance_s=endurance,
        climb_rate_ms=6,
        descent_rate_ms=6,
        accel_ms2=4,
    )
    return make_plan(prepare(area), PlanRequest(BOSON, 80.0, 0.1, vehicles=(v,) * drones))


def _walk(plan, local, sorties, stop=1.0, t0=1000.0, seed=0, alt=80.0):
    """A drone's track along its sorties (10 m apart, 1 m of noise); `stop` cuts the last
    sortie short at that share of its path (a drone lost or a sortie aborted there)."""
    rng = np.random.default_rng(seed)
    t, pts = t0, []
    for n, s in enumerate(sorties):
        xy = local.frame.latlon_to_xy([s.launch] + [(w.lat, w.lon) for w in s.waypoints])
        cum = np.r_[0, np.cumsum(np.linalg.norm(np.diff(xy, axis=0), axis=1))]
        end = cum[-1] * (stop if n == len(sorties) - 1 else 1.0)
        ss = np.arange(0, end, 10.0)
        p = np.column_stack([np.interp(ss, cum, xy[:, 0]), np.interp(ss, cum, xy[:, 1])])
        p += rng.normal(0, 1.0, p.shape)
        for si, q in zip(ss, local.frame.xy_to_latlon(p), strict=True):
            pts.append((t + si / 10.0, float(q[0]), float(q[1]), alt))
        t += end / 10.0 + 300.0
    return pts


def _track(pts):
    a = np.asarray(pts)
    return FlightTrack(a[:, 0], a[:, 1], a[:, 2], a[:, 3], np.full(len(a), 10.0))


def _swath(plan, local):
    """The new plan's sweep (turns included), as the plan bench measures coverage."""
    lines = []
    for s in plan.sorties:
        wps = [w for w in s.waypoints if w.kind != "transit"]
        if len(wps) > 1:
            lines.append(
                shapely.LineString(local.frame.latlon_to_xy([(w.lat, w.lon) for w in wps]))
            )
    return shapely.MultiLineString(lines).buffer(plan.camera.footprint_w_m / 2)


def test_detection_probability_falls_with_height_and_blur():
    p = detection_probability(np.array([0.05, 0.12, 0.25, 0.5]), np.zeros(4), 0.01)
    assert np.all(np.diff(p) < 0) and p[0] > 0.99 and p[-1] < 0.5
    blurred = detection_probability(np.array([0.12]), np.array([25.0]), 0.01)
    assert blurred[0] < p[1]


def test_lost_drone_coverage_and_replan_of_its_gaps(draw):
    plan = _plan(draw)
    local = prepare(SearchArea(plan.area, plan.holes))
    segs = plan.segments
    tracks = [
        _track(_walk(plan, local, segs[0].sorties, seed=1)),
        _track(_walk(plan, local, segs[1].sorties, seed=2)),
        _track(_walk(plan, local, segs[2].sorties[:1], stop=0.5, seed=3)),  # lost halfway
    ]
    cov = flown_coverage(plan, tracks)
    assert cov.segments[0].covered_share > 0.99 and cov.segments[1].covered_share > 0.99
    assert 0.2 < cov.segments[2].covered_share < 0.7
    assert cov.segments[2].pod < cov.segments[0].pod
    # Flown higher, the same tracks see less: a smaller footprint share is good enough but
    # the POD falls (fewer pixels on a person).
    high = flown_coverage(plan, [_track(_walk(plan, local, segs[0].sorties, alt=160.0))])
    assert high.segments[0].pod < cov.segments[0].pod
    v = Vehicle("mavic3t", speed_ms=10.0, usable_endurance_s=900.0, accel_ms2=4)
    req = PlanRequest(camera_of(plan), 80.0, 0.1, vehicles=(v, v), launches=(segs[0].launch,))
    new = replan(plan, cov, req)
    assert new.pattern == "replan" and new.replan_of == "field" and check_plan(new) == []
    sw = _swath(new, local)
    assert shapely.intersection(sw, cov.gaps).area / cov.gaps.area >= 0.995
    # Nothing already covered is swept again beyond the plan's own overlap: the share of the
    # replan's lane swaths on covered ground stays below the share of the plan's sweep that
    # its own lanes and turns cover twice.
    swept = shapely.union_all(_swaths(new, local, lanes_only=True))
    again = shapely.intersection(swept, cov.covered).area / swept.area
    own = _swaths(plan, local)
    overlap = 1 - shapely.union_all(own).area / sum(g.area for g in own)
    assert again <= overlap


def _swaths(plan, local, lanes_only=False):
    """The footprint of every sweep leg (lanes, and turns unless `lanes_only`)."""
    out = []
    for s in plan.sorties:
        for a, b in zip(s.waypoints[:-1], s.waypoints[1:], strict=True):
            lane = a.kind == "lane_start" and b.kind == "lane_end"
            if "transit" in (a.kind, b.kind) or (lanes_only and not lane):
                continue
            ab = local.frame.latlon_to_xy([(a.lat, a.lon), (b.lat, b.lon)])
            if np.linalg.norm(ab[1] - ab[0]) > 0.1:
                line = shapely.LineString(ab)
                out.append(line.buffer(plan.camera.footprint_w_m / 2, cap_style="flat"))
    return out


def test_replan_cli_on_an_operation_database(run_cli, tmp_path, draw):
    plan = _plan(draw, drones=2, endurance=600.0)
    local = prepare(SearchArea(plan.area, plan.holes))
    assert len(plan.segments[0].sorties) >= 2
    db = tmp_path / "op.sqlite"
    with Store.open(db, operation="field") as store:
        pid = store.add_plan(f"{plan.name}#abc", json.loads(plan.to_json(None)))
        for sysid, seg in ((1, plan.segments[0]), (2, plan.segments[1])):
            store.add_sortie(sysid, plan_id=pid, segment=str(seg.index), role="search")
        # Drone 1 flies everything; drone 2's first sortie is aborted a third of the way.
        for sysid, pts in (
            (1, _walk(plan, local, plan.segments[0].sorties, t0=time.time(), seed=4)),
            (2, _walk(plan, local, plan.segments[1].sorties[:1], 0.33, time.time(), seed=5)),
        ):
            for ts, lat, lon, alt in pts:
                store.add_track_point(
                    TrackPoint(sysid=sysid, ts=ts, lat=lat, lon=lon, alt_rel_m=alt, speed_ms=10.0)
                )
    out = tmp_path / "gaps.json"
    png = tmp_path / "gaps.png"
    r = run_cli("replan", str(db), "-o", str(out), "--preview", str(png), "--export", "qgc")
    assert r.returncode == 0, r.stderr
    assert "covered" in r.stdout and "missed" in r.stdout
    new = Plan.load(out)
    assert new.pattern == "replan" and check_plan(new) == [] and png.exists()
    assert len(new.segments) == 2 and list(tmp_path.glob("gaps-seg1-sortie1.plan"))
    # The gaps are the rest of segment 2: its ground, less what the aborted sortie saw.
    seg2 = shapely.union_all(
        [shapely.Polygon(local.frame.latlon_to_xy(r)) for r in plan.segments[1].outline]
    )
    new_ground = shapely.union_all(
        [shapely.Polygon(local.frame.latlon_to_xy(r)) for s in new.segments for r in s.outline]
    )
    assert 0.5 * seg2.area < new_ground.area < 0.95 * seg2.area
    assert shapely.intersection(new_ground, seg2).area > 0.9 * new_ground.area
    r = run_cli("replan", str(tmp_path / "none.sqlite"), "-o", str(out))
    assert r.returncode == 2 and "no such operation database" in r.stderr
    assert "Traceback" not in r.stderr
