"""Occlusion: tree crowns, grass and the rims of hollows hide part or all of a target."""

from __future__ import annotations

import pytest
from worldfix import LAT0, LON0

from sim.world import Renderer, SensorModel, load_scenario
from thermal.frame import Gimbal, Pose

D = 0.0006  # ~ 67 m north-south, 46 m east-west
FOREST = [[LAT0 + D, LON0 - D], [LAT0 + D, LON0 + D], [LAT0 - D, LON0 + D], [LAT0 - D, LON0 - D]]


def _forest(fraction):
    return {
        "default": "grass",
        "grass_height_m": 0.0,
        "patches": [
            {"class": "forest", "polygon": FOREST, "canopy_fraction": fraction, "grass_height_m": 0}
        ],
    }


PERSON = {"id": "p", "class": "person", "posture": "standing", "lat": LAT0, "lon": LON0}
NADIR = Pose(lat=LAT0, lon=LON0, alt_agl_m=60.0, gimbal=Gimbal(pitch_deg=-90))


def _view(world, cam, pose=NADIR):
    return Renderer(world, cam, sensor=SensorModel.ideal()).render(pose)


def test_full_canopy_hides_the_person(write_scenario, cam):
    world = load_scenario(write_scenario(cover=_forest(1.0), targets=[PERSON]))
    assert world.targets[0].canopy_cover == 1.0
    assert world.targets[0].visible_fraction == 0.0
    out = _view(world, cam)
    view = out.targets["p"]
    assert view.silhouette_px > 20 and view.visible_px == 0
    # Nothing person-warm reaches the sensor.
    assert out.celsius.max() < world.targets[0].heat.body_c - 5


def test_open_forest_shows_the_person(write_scenario, cam):
    world = load_scenario(write_scenario(cover=_forest(0.0), targets=[PERSON]))
    view = _view(world, cam).targets["p"]
    assert view.visible_px == view.silhouette_px > 20


def test_partial_canopy_hides_part_of_a_group(write_scenario, cam):
    group = {**PERSON, "count": 30, "spread_m": 25}
    world = load_scenario(write_scenario(cover=_forest(0.5), targets=[group]))
    cover = [t.canopy_cover for t in world.targets]
    mean = sum(cover) / len(cover)
    assert 0.3 < mean < 0.7
    assert any(c < 0.2 for c in cover) and any(c > 0.8 for c in cover)
    high = Pose(lat=LAT0, lon=LON0, alt_agl_m=120.0)
    views = _view(world, cam, high).targets
    seen = sum(v.visible_px for v in views.values()) / sum(v.silhouette_px for v in views.values())
    assert 0.15 < seen < 0.85
    # Near the image centre (little parallax between crowns and ground) the camera agrees
    # with the ground truth's canopy cover, which is taken from straight above.
    checked = 0
    for t in world.targets:
        v = views.get(t.id)
        if v is None or abs(v.centre_px[0] - 319.5) + abs(v.centre_px[1] - 255.5) > 80:
            continue
        if t.canopy_cover in (0.0, 1.0):
            assert v.visible_fraction == pytest.approx(1.0 - t.canopy_cover, abs=0.35)
            checked += 1
    assert checked >= 2


def test_grass_conceals_a_lying_person(write_scenario, cam):
    lying = {**PERSON, "posture": "lying", "concealment": 0.6}
    world = load_scenario(write_scenario(targets=[lying]))
    assert world.targets[0].visible_fraction == pytest.approx(0.4)
    view = _view(world, cam, Pose(lat=LAT0, lon=LON0, alt_agl_m=30.0)).targets["p"]
    assert 0.2 < view.visible_fraction < 0.6
    # Tall grass from the cover model hides more of a lying than of a standing person.
    cover = {"default": "grass", "grass_height_m": 0.5}
    tall = load_scenario(
        write_scenario(
            cover=cover,
            targets=[
                {**PERSON, "id": "lying", "posture": "lying"},
                {**PERSON, "id": "standing", "lat": LAT0 + 0.0001},
            ],
        )
    )
    vis = {t.id: t.visible_fraction for t in tall.targets}
    assert vis["lying"] < 0.5 < vis["standing"]


def test_hollow_rim_hides_a_sheep_from_a_low_angle(write_scenario, cam):
    hollow = {"lat": LAT0, "lon": LON0, "radius_m": 8.0, "depth_m": 2.5}
    sheep = {"id": "s", "class": "sheep", "lat": LAT0, "lon": LON0}
    terrain = {"kind": "flat", "elevation_m": 500, "hollows": [hollow]}
    world = load_scenario(write_scenario(terrain=terrain, targets=[sheep]))
    assert world.targets[0].ground_m == pytest.approx(497.5, abs=0.05)
    # Straight above: in full view.
    above = _view(world, cam, Pose(lat=LAT0, lon=LON0, alt_agl_m=50.0)).targets["s"]
    assert above.visible_px == above.silhouette_px > 50
    # From 120 m south, 20 m up, looking at it ~9 deg below the horizon: behind the rim.
    south = LAT0 - 120.0 / 111_180.0
    low = Pose(lat=south, lon=LON0, alt_amsl_m=520.0, gimbal=Gimbal(pitch_deg=-10.5))
    hidden = _view(world, cam, low).targets["s"]
    assert hidden.silhouette_px > 0 and hidden.visible_px == 0
    # The same view over flat ground sees it.
    flat = load_scenario(write_scenario(name="flat.yaml", targets=[sheep]))
    seen = _view(flat, cam, low).targets["s"]
    assert seen.visible_px == seen.silhouette_px > 0
