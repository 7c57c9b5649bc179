"""Sensor statistics (NETD, fixed-pattern noise, vignetting) and determinism with a seed."""

from __future__ import annotations

import numpy as np
import pytest
from worldfix import LAT0, LON0

from sim.world import Renderer, SensorModel, load_scenario
from thermal.frame import Pose

POSE = Pose(lat=LAT0, lon=LON0, alt_agl_m=60.0)
NOISE_ONLY = SensorModel(0.0, True, 0.0, 0.0, 0.0, False)


@pytest.fixture
def world(write_scenario):
    target = {"id": "p", "class": "person", "lat": LAT0, "lon": LON0}
    return load_scenario(write_scenario(targets=[target]))


def test_temporal_noise_matches_netd(world, cam):
    r = Renderer(world, cam, seed=1, sensor=NOISE_ONLY)
    ideal = Renderer(world, cam, sensor=SensorModel.ideal()).render(POSE).celsius
    frames = np.stack([r.render(POSE, i).celsius for i in range(1, 9)])
    noise = frames - ideal
    assert abs(float(noise.mean())) < 0.002
    assert float(noise.std()) == pytest.approx(0.050, rel=0.03)
    # Independent from frame to frame and from pixel to pixel.
    a, b = noise[0].ravel(), noise[1].ravel()
    assert abs(np.corrcoef(a, b)[0, 1]) < 0.02
    assert abs(np.corrcoef(noise[0, :, :-1].ravel(), noise[0, :, 1:].ravel())[0, 1]) < 0.02
    # A camera with a worse NETD is noisier.
    noisy = Renderer(world, type(cam)(netd_mk=120.0), seed=1, sensor=NOISE_ONLY)
    assert float((noisy.render(POSE, 1).celsius - ideal).std()) == pytest.approx(0.120, rel=0.03)


def test_fixed_pattern_noise_and_vignetting(world, cam):
    ideal = Renderer(world, cam, sensor=SensorModel.ideal()).render(POSE).celsius
    fpn_only = SensorModel(0.0, False, 0.04, 0.02, 0.0, False)
    a = Renderer(world, cam, seed=7, sensor=fpn_only)
    pattern = a.render(POSE, 1).celsius - ideal
    # Fixed: the same in every frame and from every pose of this camera.
    elsewhere = Pose(lat=LAT0 + 0.0003, lon=LON0, alt_agl_m=80.0)
    other_ideal = Renderer(world, cam, sensor=SensorModel.ideal()).render(elsewhere).celsius
    again = a.render(elsewhere, 2).celsius - other_ideal
    assert np.allclose(pattern, again, atol=1e-4)
    assert float(pattern.std()) == pytest.approx(np.hypot(0.04, 0.02), rel=0.08)
    columns = pattern.mean(axis=0)  # pixel FPN averages out down a column, column FPN stays
    assert float(columns.std()) == pytest.approx(0.02, rel=0.25)

    vignette = SensorModel(0.0, False, 0.0, 0.0, 0.35, False)
    v = Renderer(world, cam, sensor=vignette).render(POSE).celsius - ideal
    assert v[250:262, 314:326].mean() == pytest.approx(0.0, abs=0.01)
    assert v[:8, :8].mean() == pytest.approx(-0.35, abs=0.03)
    assert v[-8:, -8:].mean() == pytest.approx(-0.35, abs=0.03)


def test_blur_spreads_a_hot_edge(world, cam):
    sharp = Renderer(world, cam, sensor=SensorModel.ideal()).render(POSE).celsius
    blurred = Renderer(world, cam, sensor=SensorModel(0.7, False, 0, 0, 0, False)).render(POSE)
    # Same heat, spread out: the peak drops, the total stays.
    assert blurred.celsius.max() < sharp.max() - 0.2
    assert float(blurred.celsius.sum()) == pytest.approx(float(sharp.sum()), rel=1e-3)


def test_deterministic_with_a_seed(write_scenario, cam):
    path = write_scenario(
        terrain={"kind": "procedural", "elevation_m": 500, "relief_m": 30, "feature_m": 200},
        targets=[
            {"id": "flock", "class": "sheep", "lat": LAT0, "lon": LON0, "count": 8, "spread_m": 30}
        ],
    )
    w1, w2 = load_scenario(path), load_scenario(path)
    assert w1.ground_truth() == w2.ground_truth()
    assert np.array_equal(w1.elevation_m, w2.elevation_m)
    assert np.array_equal(w1.background_c, w2.background_c)
    pose = Pose(lat=LAT0, lon=LON0, alt_agl_m=70.0, yaw_deg=20.0)
    f1 = Renderer(w1, cam, seed=5).render(pose, 3).celsius
    f2 = Renderer(w2, cam, seed=5).render(pose, 3).celsius
    assert np.array_equal(f1, f2)
    # Another frame id or another seed: other noise, same scene.
    f3 = Renderer(w1, cam, seed=5).render(pose, 4).celsius
    f4 = Renderer(w1, cam, seed=6).render(pose, 3).celsius
    assert not np.array_equal(f1, f3) and not np.array_equal(f1, f4)
    assert float(np.abs(f1 - f3).mean()) < 0.2
    # Another scenario seed: the flock stands elsewhere.
    other = write_scenario(
        name="other.yaml",
        seed=4,
        terrain={"kind": "procedural", "elevation_m": 500, "relief_m": 30, "feature_m": 200},
        targets=[
            {"id": "flock", "class": "sheep", "lat": LAT0, "lon": LON0, "count": 8, "spread_m": 30}
        ],
    )
    assert load_scenario(other).ground_truth() != w1.ground_truth()
