"""Scenario files: validation errors name file, key and reason; the shipped scenarios build."""

from __future__ import annotations

import functools
import json

import numpy as np
import pytest
import tifffile
from worldfix import LAT0, LON0, SCENARIOS

from missions.io import read_geojson_doc
from sim.world import ScenarioError, load_scenario
from sim.world.heat import target_heat


@pytest.mark.parametrize(
    ("overrides", "key", "reason"),
    [
        ({"targets": [{"class": "person", "postur": "lying", "lat": LAT0, "lon": LON0}]},
         "targets.0.postur", "unknown key; known keys are: id, class, posture"),
        ({"targets": [{"class": "unicorn", "lat": LAT0, "lon": LON0}]}, "targets.0.class", "'person'"),
        ({"targets": [{"class": "sheep", "posture": "lying", "lat": LAT0, "lon": LON0}]},
         "targets.0", "posture applies to people only"),
        ({"targets": [{"class": "person", "lat": 95.0, "lon": LON0}]}, "targets.0.lat", "less than or equal to 90"),
        ({"targets": [{"class": "dog", "lat": LAT0 + 0.05, "lon": LON0}]}, "targets.0", "outside the area"),
        ({"cover": {"patches": [{"class": "forest", "polygon": [[1, 2], [3, 4], [5, 6]], "canopy_fraction": 1.5}]}},
         "cover.patches.0.canopy_fraction", "less than or equal to 1"),
        ({"cover": {"patches": [{"class": "road"}]}}, "cover.patches.0", "exactly one of 'polygon'"),
        ({"terrain": {"kind": "geotiff"}}, "terrain", "needs 'path'"),
        ({"terrain": {"kind": "geotiff", "path": "missing.tif"}}, "terrain.path", "not found"),
        ({"conditions": {"preset": "blizzard"}}, "conditions.preset", "'clear_night'"),
        ({"area": [[LAT0, LON0], [LAT0, LON0 + 0.001]]}, "area", "at least 3"),
        ({"weather": {"preset": "dawn"}}, "weather", "unknown key; known keys are: name"),
    ],
)  # fmt: skip
def test_errors_name_file_key_and_reason(write_scenario, overrides, key, reason):
    path = write_scenario(**overrides)
    with pytest.raises(ScenarioError) as err:
        load_scenario(path)
    assert err.value.file == str(path)
    assert err.value.key == key
    assert reason in err.value.reason
    assert str(err.value).startswith(f"{path}: {key}: ")


def test_unreadable_files(tmp_path):
    with pytest.raises(ScenarioError, match="file not found"):
        load_scenario(tmp_path / "nope.yaml")
    bad = tmp_path / "bad.yaml"
    bad.write_text("name: x\narea: [[1, 2]\n")
    with pytest.raises(ScenarioError, match=r"bad.yaml: line \d+, column \d+: not valid YAML"):
        load_scenario(bad)
    bad.write_text("- just\n- a list\n")
    with pytest.raises(ScenarioError, match="expected a mapping of fields, got list"):
        load_scenario(bad)


def _write_dem(path, lat0, lon0, rows=200, cols=200, step=0.00005):
    """A GeoTIFF DEM in EPSG:4326: a plane rising 1 m per 0.0001 deg of latitude northwards."""
    lats = lat0 + (np.arange(rows) - rows / 2 + 0.5) * -step
    elev = np.repeat((600 + (lats - lat0) * 1e4)[:, None], cols, axis=1).astype(np.float32)
    geokeys = (1, 1, 0, 3, 1024, 0, 1, 2, 1025, 0, 1, 1, 2048, 0, 1, 4326)
    tifffile.imwrite(
        path,
        elev,
        extratags=[
            (33550, "d", 3, (step, step, 0.0)),
            (33922, "d", 6, (0, 0, 0, lon0 - cols / 2 * step, lat0 + rows / 2 * step, 0)),
            (34735, "H", len(geokeys), geokeys),
        ],
    )


def test_geotiff_terrain(write_scenario, tmp_path):
    _write_dem(tmp_path / "dem.tif", LAT0, LON0)
    world = load_scenario(
        write_scenario(terrain={"kind": "geotiff", "path": "dem.tif"}, margin_m=100)
    )
    lats = np.array([LAT0, LAT0 + 0.001, LAT0 - 0.0012])
    got = world.elevation_at(lats, np.full(3, LON0 + 0.0005))
    assert got == pytest.approx(600 + (lats - LAT0) * 1e4, abs=0.05)
    # A DEM smaller than the area is refused with a way out.
    _write_dem(tmp_path / "small.tif", LAT0, LON0, rows=20, cols=20)
    with pytest.raises(ScenarioError, match=r"covers only .* use a larger DEM"):
        load_scenario(
            write_scenario(name="s2.yaml", terrain={"kind": "geotiff", "path": "small.tif"})
        )


SHIPPED = sorted(SCENARIOS.glob("*.yaml"))


def test_at_least_the_four_field_stories_ship():
    names = {p.stem for p in SHIPPED}
    assert {
        "ditch_rain_night",
        "hiker_forest_afternoon",
        "sheep_hollows_dusk",
        "decoys_only_night",
    } <= names


@pytest.mark.parametrize("path", SHIPPED, ids=lambda p: p.stem)
def test_shipped_scenarios_build(path, tmp_path):
    world = _shipped(path.name)
    assert world.targets
    # The search area is a valid planner input.
    area = read_geojson_doc(world.area_geojson(), str(path))
    assert len(area.outer) == 1
    # Ground truth exports as JSON and GeoJSON.
    gt = json.loads(world.write_ground_truth(tmp_path / "t.json").read_text())
    gj = json.loads(world.write_ground_truth(tmp_path / "t.geojson").read_text())
    assert len(gt) == len(gj["features"]) == len(world.targets)
    for g in gt:
        assert {"id", "class", "posture", "lat", "lon", "visible_fraction"} <= g.keys()
        assert 0.0 <= g["visible_fraction"] <= 1.0


@functools.cache
def _shipped(name: str):
    """Each shipped scenario is built once per test session (a second or two each)."""
    return load_scenario(SCENARIOS / name)


def _by_id(world):
    return {t.id: t for t in world.targets}


def test_ditch_scenario_tells_the_story():
    w = _shipped("ditch_rain_night.yaml")
    p = _by_id(w)["missing-person"]
    assert p.target == "person" and p.posture == "lying"
    assert w.weather.rain_mm_h > 0 and w.weather.sun_elevation_deg < 0
    assert p.ground_m < w.home_elevation_m - 0.7  # down in the ditch
    assert 0.2 < p.visible_fraction < 0.6  # hidden by grass, not invisible
    assert w.cover_at(p.lat, p.lon) == "grass"


def test_hiker_scenario_tells_the_story():
    w = _shipped("hiker_forest_afternoon.yaml")
    t = _by_id(w)
    hiker = t["hiker"]
    assert 0.2 < hiker.canopy_cover < 0.8  # partial canopy
    rocks = [x for x in w.targets if x.target == "rock"]
    assert len(rocks) >= 3
    assert all(r.heat.body_c > hiker.heat.hot_c for r in rocks)  # sun-heated decoys
    assert np.ptp(w.elevation_m) > 50  # mountain relief


def test_sheep_scenario_tells_the_story():
    w = _shipped("sheep_hollows_dusk.yaml")
    sheep = [t for t in w.targets if t.target == "sheep"]
    assert len(sheep) == 12
    strays = [t for t in sheep if t.id.startswith("stray")]
    assert len(strays) == 3
    for s in strays:  # each lies in a hollow: metres below the hillside 20 m around it
        ring = np.linspace(0, 2 * np.pi, 16, endpoint=False)
        around = w.grid.sample(w.elevation_m, s.x_m + 20 * np.cos(ring), s.y_m + 20 * np.sin(ring))
        assert s.ground_m < around.mean() - 2.0
    assert w.weather.preset == "dusk"
    assert target_heat("sheep", w.weather).body_c > w.weather.air_temp_c + 5


def test_decoy_scenario_has_no_people():
    w = _shipped("decoys_only_night.yaml")
    assert not any(t.is_person for t in w.targets)
    classes = {t.target for t in w.targets}
    assert {"car", "campfire", "roof", "cattle", "deer", "dog", "rock"} <= classes
