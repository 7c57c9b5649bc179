"""`groundctl sim render` and `groundctl sim truth`, run as a user would."""

from __future__ import annotations

import json

import cv2
import numpy as np
import tifffile
from worldfix import LAT0, LON0, SCENARIOS

DITCH = SCENARIOS / "ditch_rain_night.yaml"


def test_render_writes_a_false_colour_picture_and_radiometric_frame(run_cli, tmp_path):
    out = tmp_path / "look" / "frame.png"
    # Straight above the missing person in the ditch, 50 m up.
    res = run_cli(
        "sim", "render", "--scenario", str(DITCH), "--at", "31.623524,120.4498,50",
        "--camera", "mavic3t", "--yaw", "30", "-o", str(out), "--tiff",
    )  # fmt: skip
    assert res.returncode == 0, res.stderr
    assert "missing-person" in res.stdout
    img = cv2.imread(str(out))
    assert img.shape == (512, 640, 3)
    assert len(np.unique(img.reshape(-1, 3), axis=0)) > 50  # a palette, not a flat picture
    raw = tifffile.imread(out.with_suffix(".tiff"))
    side = json.loads(out.with_suffix(".json").read_text())
    assert raw.dtype == np.uint16
    celsius = raw * side["scale"]["gain"] + side["scale"]["offset"]
    assert side["camera"] == "mavic3t" and side["pose"]["yaw_deg"] == 30
    assert side["pose"]["alt_agl_m"] == 50
    assert 15 < celsius.max() < 25  # the person, damped by rain
    assert 5 < float(np.median(celsius)) < 12  # wet grass at night


def test_render_reports_bad_input_in_one_line(run_cli, tmp_path):
    out = str(tmp_path / "f.png")
    res = run_cli("sim", "render", "--scenario", str(DITCH), "--at", "31.62,120.45", "-o", out)
    assert res.returncode == 2
    assert res.stderr.strip() == (
        "groundctl: error: --at: expected LAT,LON,ALT in degrees and metres, got '31.62,120.45'"
    )
    bad = tmp_path / "bad.yaml"
    bad.write_text(f"name: x\narea: [[{LAT0}, {LON0}], [{LAT0}, 7.6], [46.6, 7.6]]\nseed: many\n")
    res = run_cli("sim", "render", "--scenario", str(bad), "--at", f"{LAT0},{LON0},50", "-o", out)
    assert res.returncode == 2 and "Traceback" not in res.stderr
    assert f"{bad}: seed: " in res.stderr and "valid integer" in res.stderr
    res = run_cli(
        "sim", "render", "--scenario", str(DITCH), "--at", "31.62,120.45,50", "--camera", "nope", "-o", out
    )  # fmt: skip
    assert res.returncode == 2 and "no camera named 'nope'" in res.stderr
    # Far outside the scenario: rendered, with a note that nothing is out there.
    res = run_cli("sim", "render", "--scenario", str(DITCH), "--at", "31.70,120.45,50", "-o", out)
    assert res.returncode == 0 and "outside ditch-rain-night's area" in res.stderr


def test_truth_exports_targets_and_the_area(run_cli, tmp_path):
    truth, area = tmp_path / "truth.geojson", tmp_path / "area.geojson"
    scenario = SCENARIOS / "sheep_hollows_dusk.yaml"
    res = run_cli("sim", "truth", "-s", str(scenario), "-o", str(truth), "--area", str(area))
    assert res.returncode == 0, res.stderr
    doc = json.loads(truth.read_text())
    assert doc["type"] == "FeatureCollection" and len(doc["features"]) == 14
    stray = next(f for f in doc["features"] if f["id"] == "stray-2")
    assert stray["geometry"]["coordinates"] == [-3.103866, 54.448381]
    assert stray["properties"]["class"] == "sheep"
    assert json.loads(area.read_text())["features"][0]["geometry"]["type"] == "Polygon"
