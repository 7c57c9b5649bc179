"""IAMSAR patterns and the probability model: geometry against hand-computed legs."""

import json
import math

import numpy as np
import pytest
import shapely
from mission_testkit import H20T, alt_for_swath, box
from shapely.geometry import LineString

from missions.area import SearchArea, prepare
from missions.errors import PlanError
from missions.footprint import footprint
from missions.legcheck import check_plan
from missions.lkp import PatternSpec, plan_pattern
from missions.patterns import expanding_square, sector, trackline
from missions.plan import Plan
from missions.planner import PlanRequest, make_plan
from missions.poa import MILE_M, RingModel, isrid_distances_m
from missions.segment import Vehicle

ALT = alt_for_swath(40.0)


def test_expanding_square_legs_by_hand():
    pts = expanding_square(np.zeros(2), 50.0, legs=6, first_bearing_deg=0.0)
    # N 50, E 50, S 100, W 100, N 150, E 150 (turns to the right).
    assert np.allclose(
        pts, [(0, 0), (0, 50), (50, 50), (50, -50), (-50, -50), (-50, 100), (100, 100)], atol=1e-9
    )
    left = expanding_square(np.zeros(2), 50.0, legs=3, first_bearing_deg=90.0, right=False)
    assert np.allclose(left, [(0, 0), (50, 0), (50, 50), (-50, 50)], atol=1e-9)


def test_sector_legs_by_hand():
    pts = sector(np.zeros(2), 100.0, first_bearing_deg=0.0)
    h = 100 * math.sqrt(3) / 2
    expected = [
        (0, 0),
        (0, 100),
        (h, 50),
        (0, 0),  # first triangle, back on the datum
        (-h, -50),
        (-h, 50),
        (0, 0),  # straight on through the datum
        (h, -50),
        (0, -100),
        (0, 0),
    ]
    assert np.allclose(pts, expected, atol=1e-9)
    legs = np.linalg.norm(np.diff(pts, axis=0), axis=1)
    assert np.allclose(legs, 100.0)
    # The six radials through the datum are 60 degrees apart.
    radial = [p for p in pts if np.linalg.norm(p) > 1]
    bearings = sorted(math.degrees(math.atan2(x, y)) % 360 for x, y in radial)
    assert np.allclose(np.diff(bearings), 60.0)


def test_trackline_lanes_by_hand():
    line = LineString([(0, 0), (1000, 0)])
    lanes = trackline(line, 40.0, width_m=60.0)  # 120 m in all: 3 lanes
    assert len(lanes) == 3
    ys = [lane[0][1] for lane in lanes]
    assert np.allclose(sorted(ys), [-40, 0, 40])
    assert lanes[0][0][0] < lanes[0][-1][0] and lanes[1][0][0] > lanes[1][-1][0]  # back and forth
    with pytest.raises(PlanError, match="width must be positive"):
        trackline(line, 40.0, width_m=0)


def _spacing():
    return footprint(H20T, ALT, 0.1).spacing_m


def test_patterns_stay_inside_the_area_and_out_of_holes(draw):
    area = SearchArea((draw.ring(box(-600, -600, 600, 600)),), (draw.ring(box(80, 80, 180, 180)),))
    local = prepare(area)
    lkp = draw.ring([(0, 0)])[0]
    req = PlanRequest(H20T, ALT, 0.1, vehicles=(Vehicle(),) * 2, lkp=lkp, hole_margin_m=3)
    holes = local.holes.buffer(-0.05)
    allowed = local.area.buffer(0.05)
    line_xy = [draw.ring([(-500, -400), (0, 100), (500, 450)])]
    for spec in (
        PatternSpec("expanding-square", legs=16),
        PatternSpec("sector", radius_m=500),
        PatternSpec("trackline", width_m=60, line=line_xy[0]),
    ):
        plan = plan_pattern(local, req, spec)
        assert plan.pattern == spec.kind and check_plan(plan) == []
        for s in plan.sorties:
            xy = local.frame.latlon_to_xy([(w.lat, w.lon) for w in s.waypoints])
            path = LineString(xy)
            assert path.intersection(holes).length == 0
            sweep = [w for w in s.waypoints if w.kind != "transit"]
            sxy = local.frame.latlon_to_xy([(w.lat, w.lon) for w in sweep])
            assert allowed.covers(LineString(sxy)) if len(sxy) > 1 else True
    # The expanding square's legs grow by one spacing every second leg: lane lengths from the
    # plan (round the hole cut some) are multiples of the lane spacing outside the cut ones.
    plan = plan_pattern(local, req, PatternSpec("expanding-square", legs=8))
    sp = plan.camera.lane_spacing_m
    assert sp == pytest.approx(_spacing(), rel=1e-3)
    wps = [w for s in plan.sorties for w in s.waypoints if w.kind in ("lane_start", "lane_end")]
    xy = local.frame.latlon_to_xy([(w.lat, w.lon) for w in wps])
    lens = np.linalg.norm(xy[1::2] - xy[::2], axis=1)
    whole = [x for x in lens if x > 1]
    assert sum(np.isclose(x / sp, round(x / sp), atol=0.02) for x in whole) >= len(whole) - 3


def test_pattern_without_an_area_uses_its_own_extent(draw):
    lkp = draw.ring([(0, 0)])[0]
    req = PlanRequest(H20T, ALT, 0.1, lkp=lkp)
    plan = plan_pattern(None, req, PatternSpec("expanding-square", legs=10))
    assert plan.stats.coverage_pct > 90 and len(plan.sorties) == 1
    assert plan.segments[0].launch == pytest.approx(lkp, abs=1e-7)  # take off at the datum
    with pytest.raises(PlanError, match="needs the datum"):
        plan_pattern(None, PlanRequest(H20T, ALT, 0.1), PatternSpec("sector"))


def test_isrid_rings_and_poa():
    r = isrid_distances_m("hiker", "temperate-mountainous")
    assert r == pytest.approx(np.array([0.7, 1.9, 3.6, 11.3]) * MILE_M)
    assert isrid_distances_m("dementia", "urban")[1] == pytest.approx(0.7 * MILE_M)
    with pytest.raises(PlanError, match="no published distances"):
        isrid_distances_m("child-13-15", "urban")
    model = RingModel.isrid(np.zeros(2), "dementia")
    disc = shapely.Point(0, 0).buffer(model.radii_m[0], quad_segs=64)
    assert model.poa([disc])[0] == pytest.approx(0.25, rel=2e-3)
    ring2 = shapely.Point(0, 0).buffer(model.radii_m[1], quad_segs=64)
    half = shapely.intersection(ring2, shapely.box(0, -1e5, 1e5, 1e5))  # half the 50 % disc
    assert model.poa([half])[0] == pytest.approx(0.25, rel=2e-3)
    # Samples follow the rings: a quarter inside the first.
    rng = np.random.default_rng(3)
    big = shapely.Point(0, 0).buffer(3 * model.radii_m[-1])
    pts = model.sample(rng, 4000, big)
    d = np.linalg.norm(pts, axis=1)
    assert np.mean(d <= model.radii_m[0]) == pytest.approx(0.25, abs=0.03)
    assert np.mean(d <= model.radii_m[2]) == pytest.approx(0.75, abs=0.03)


def test_plan_with_a_subject_orders_sorties_by_probability_per_minute(draw):
    local = prepare(SearchArea((draw.ring(box(0, 0, 2000, 1400)),)))
    lkp = draw.ring([(300, 300)])[0]
    v = Vehicle("short", speed_ms=10.0, usable_endurance_s=700.0)
    req = PlanRequest(H20T, ALT, 0.1, vehicles=(v,) * 2, lkp=lkp, subject="dementia")
    plan = make_plan(local, req)
    assert plan.subject == "dementia" and plan.lkp == lkp and len(plan.rings) == 5
    assert 0 < plan.stats.poa < 1
    for seg in plan.segments:
        assert len(seg.sorties) >= 2
        ratios = [s.poa * s.pod / s.est_time_s for s in seg.sorties]
        assert ratios == sorted(ratios, reverse=True)
    curve = np.asarray(plan.stats.pos_curve)
    assert np.all(np.diff(curve[:, 0]) > 0) and np.all(np.diff(curve[:, 1]) >= -1e-9)
    assert curve[-1, 1] == pytest.approx(plan.stats.pos)
    assert plan.stats.pos <= plan.stats.poa
    # Without the ordering the same sorties are flown in route order: success comes later.
    flat = make_plan(local, PlanRequest(**{**req.__dict__, "poa_order": False}))
    t = np.linspace(0, curve[-1, 0], 50)
    fc = np.asarray(flat.stats.pos_curve)
    assert np.interp(t, curve[:, 0], curve[:, 1]).mean() >= np.interp(t, fc[:, 0], fc[:, 1]).mean()
    assert Plan.from_json(plan.to_json()) == plan


def test_plan_cli_pattern_from_lkp(run_cli, tmp_path):
    out = tmp_path / "ss.json"
    png = tmp_path / "ss.png"
    r = run_cli(
        "plan",
        "--camera",
        "h20t",
        "--alt",
        "60",
        "--lkp",
        "46.80,9.83",
        "--pattern",
        "expanding-square",
        "--legs",
        "10",
        "--first-bearing",
        "45",
        "--subject",
        "dementia",
        "-o",
        str(out),
        "--preview",
        str(png),
        "--export",
        "qgc",
    )
    assert r.returncode == 0, r.stderr
    plan = Plan.load(out)
    assert plan.pattern == "expanding-square" and plan.subject == "dementia"
    assert png.exists() and list(tmp_path.glob("ss-seg1-sortie1.plan"))
    assert "probability of success by flight time" in r.stdout
    line = tmp_path / "trail.geojson"
    line.write_text(
        json.dumps({"type": "LineString", "coordinates": [[9.83, 46.80], [9.835, 46.805]]})
    )
    r = run_cli(
        "plan",
        "--camera",
        "h20t",
        "--alt",
        "60",
        "--pattern",
        "trackline",
        "--trackline",
        str(line),
        "--width",
        "50",
        "--drones",
        "2",
        "-o",
        str(out),
    )
    assert r.returncode == 0, r.stderr
    assert Plan.load(out).pattern == "trackline" and len(Plan.load(out).segments) == 2
