"""Apparent temperatures: people, animals and backgrounds per weather, rain damping."""

from __future__ import annotations

import numpy as np
import pytest
from worldfix import LAT0, LON0

from sim.world import Renderer, SensorModel, load_scenario
from sim.world.heat import Weather, cover_temp_c, target_heat
from sim.world.scenario import Conditions
from thermal.frame import Gimbal, Pose

PRESETS = ["clear_night", "rainy_night", "sunny_afternoon", "overcast_day", "dawn", "dusk"]


@pytest.mark.parametrize("preset", PRESETS)
def test_clothed_person_surface_is_20_to_35_c(preset):
    w = Weather.from_conditions(Conditions(preset=preset))
    for who in ("person", "child"):
        heat = target_heat(who, w)
        assert 18.0 <= heat.body_c <= 35.0, (preset, who, heat)
        assert heat.body_c <= heat.hot_c <= 35.0  # face and hands: warmest, below the core
        if w.rain_mm_h == 0:
            assert heat.body_c >= 20.0


def test_rain_damps_the_target_and_the_ground():
    dry = Weather.from_conditions(Conditions(preset="clear_night", air_temp_c=9.0))
    wet = Weather.from_conditions(Conditions(preset="rainy_night", air_temp_c=9.0))
    grass_dry, _ = cover_temp_c("grass", dry)
    grass_wet, _ = cover_temp_c("grass", wet)
    contrast_dry = target_heat("person", dry).body_c - grass_dry
    contrast_wet = target_heat("person", wet).body_c - grass_wet
    assert 0 < contrast_wet < contrast_dry - 2.0
    # Wet surfaces sit near the air: the spread between cover classes shrinks.
    spread = {
        w.preset: np.ptp([cover_temp_c(c, w)[0] for c in ("grass", "road", "water", "rock")])
        for w in (dry, wet)
    }
    assert spread["rainy_night"] < 0.5 * spread["clear_night"]


def test_backgrounds_follow_the_weather():
    night = Weather.from_conditions(Conditions(preset="clear_night"))
    grass, _ = cover_temp_c("grass", night)
    assert grass < night.air_temp_c - 2  # radiative cooling under a clear sky
    assert cover_temp_c("road", night)[0] > grass + 3  # asphalt keeps the day's heat
    assert cover_temp_c("water", night)[0] > grass + 3
    sun = Weather.from_conditions(Conditions(preset="sunny_afternoon"))
    rock, _ = cover_temp_c("rock", sun)
    # Sun-heated rock and roofs are hotter than a person: the decoys of a summer search.
    assert rock > target_heat("person", sun).hot_c + 5
    assert target_heat("rock", sun).body_c > target_heat("person", sun).hot_c + 5
    assert target_heat("roof", sun).body_c > target_heat("person", sun).hot_c
    # Sheep fleece insulates: cooler than a dog's coat, warm face.
    assert target_heat("sheep", night).body_c < target_heat("dog", night).body_c
    assert target_heat("sheep", night).hot_c > 28
    assert target_heat("car", night).hot_c > 40  # engine bay just after parking


def _render_person(write_scenario, cam, preset):
    path = write_scenario(
        conditions={"preset": preset, "air_temp_c": 9.0},
        targets=[{"id": "p", "class": "person", "posture": "lying", "lat": LAT0, "lon": LON0}],
    )
    world = load_scenario(path)
    r = Renderer(world, cam, sensor=SensorModel.ideal())
    out = r.render(Pose(lat=LAT0, lon=LON0, alt_agl_m=30.0))
    return world, out.celsius


def test_rendered_person_and_ground_temperatures(write_scenario, cam):
    world, img = _render_person(write_scenario, cam, "clear_night")
    heat = world.targets[0].heat
    assert img.max() == pytest.approx(heat.hot_c, abs=0.01)  # ideal sensor: no blur or noise
    person = img[img > heat.body_c - 0.5]
    assert np.median(person) == pytest.approx(heat.body_c, abs=0.01)
    ground = np.median(img)
    assert ground == pytest.approx(cover_temp_c("grass", world.weather)[0], abs=1.0)
    # In rain the same person stands out far less.
    _, wet = _render_person(write_scenario, cam, "rainy_night")
    assert wet.max() - np.median(wet) < img.max() - ground - 2.0


def test_sky_and_atmosphere(write_scenario, cam):
    world = load_scenario(write_scenario())
    r = Renderer(world, cam, sensor=SensorModel(0.0, False, 0.0, 0.0, 0.0, True))
    # Looking at the horizon: the top half is clear night sky, far colder than the ground.
    img = r.render(Pose(lat=LAT0, lon=LON0, alt_agl_m=30.0, gimbal=Gimbal(pitch_deg=0.0))).celsius
    assert np.allclose(img[:200], world.weather.sky_temp_c)
    assert world.weather.sky_temp_c < world.weather.air_temp_c - 30
    # Far ground is pulled towards the air temperature by the atmosphere.
    grass, _ = cover_temp_c("grass", world.weather)
    near = float(np.median(img[500:]))
    far = float(np.median(img[270:275]))  # ~1 deg down: 1.7 km away
    assert abs(far - world.weather.air_temp_c) < abs(near - world.weather.air_temp_c)
    assert abs(near - grass) < 1.5
