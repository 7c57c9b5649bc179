"""Rendered geometry: targets of known size at known altitude cover the expected pixels."""

from __future__ import annotations

import math

import numpy as np
import pytest
from worldfix import LAT0, LON0

from missions.geodesy import GEOD
from sim.world import Renderer, SensorModel, load_scenario
from sim.world.render import camera_to_enu
from thermal.frame import Gimbal, Pose

F_PX = 13.5 * 1000 / 12.0  # the test camera's focal length in pixels
CX, CY = 319.5, 255.5
M_PER_DEG_LAT = 111_180.0  # near 46.5 N (WGS84); good to 0.1 % over these few metres


def _m_per_deg_lon() -> float:
    return M_PER_DEG_LAT * math.cos(math.radians(LAT0)) * 1.0017  # ellipsoid radius ratio


def _render(world, cam, pose):
    return Renderer(world, cam, sensor=SensorModel.ideal()).render(pose)


def _mask(rendered, world):
    """Pixels warmer than halfway between the ground and the target's body temperature."""
    img = rendered.celsius
    bg = float(np.median(img))
    body = world.targets[0].heat.body_c
    return img > (bg + body) / 2


def _extent(mask, axis):
    idx = np.flatnonzero(mask.any(axis=axis))
    return idx.max() - idx.min() + 1


@pytest.mark.parametrize("alt_m", [40.0, 100.0])
def test_roof_box_covers_its_physical_size(write_scenario, cam, alt_m):
    # A 10 m x 8 m roof box (top at 4.8 m): from straight above it spans f * L / (alt - 4.8).
    path = write_scenario(
        targets=[{"id": "r", "class": "roof", "lat": LAT0, "lon": LON0, "temp_c": 40}]
    )
    world = load_scenario(path)
    pose = Pose(lat=LAT0, lon=LON0, alt_agl_m=alt_m, gimbal=Gimbal(pitch_deg=-90))
    mask = _mask(_render(world, cam, pose), world)
    d = alt_m - 4.8
    assert abs(_extent(mask, 1) - F_PX * 10.0 / d) <= 1.0  # rows: north-south, its length
    assert abs(_extent(mask, 0) - F_PX * 8.0 / d) <= 1.0  # cols: east-west, its width


@pytest.mark.parametrize("alt_m", [30.0, 60.0])
def test_lying_person_length_and_width(write_scenario, cam, alt_m):
    # Lying along east-west: head front 0.88 m ahead (centre 0.11 m up), feet 0.90 m behind
    # (0.10 m up), torso 0.48 m wide (0.13 m up).
    t = {
        "id": "p",
        "class": "person",
        "posture": "lying",
        "lat": LAT0,
        "lon": LON0,
        "heading_deg": 90,
    }
    world = load_scenario(write_scenario(targets=[t]))
    pose = Pose(lat=LAT0, lon=LON0, alt_agl_m=alt_m, gimbal=Gimbal(pitch_deg=-90))
    rendered = _render(world, cam, pose)
    mask = _mask(rendered, world)
    length = F_PX * (0.88 / (alt_m - 0.11) + 0.90 / (alt_m - 0.10))
    width = F_PX * 0.48 / (alt_m - 0.13)
    assert abs(_extent(mask, 0) - length) <= 1.0
    assert abs(_extent(mask, 1) - width) <= 1.0
    view = rendered.targets["p"]
    assert view.visible_px == view.silhouette_px == mask.sum()

    # Turn the drone to face east: the same person now lies along the image's vertical.
    turned = Pose(lat=LAT0, lon=LON0, alt_agl_m=alt_m, yaw_deg=90, gimbal=Gimbal(pitch_deg=-90))
    mask = _mask(_render(world, cam, turned), world)
    assert abs(_extent(mask, 1) - length) <= 1.0
    assert abs(_extent(mask, 0) - width) <= 1.0


def test_target_position_in_the_image(write_scenario, cam):
    # 8 m east and 5 m south of the drone at 60 m: right of and below the centre.
    lat = LAT0 - 5.0 / M_PER_DEG_LAT
    lon = LON0 + 8.0 / _m_per_deg_lon()
    world = load_scenario(
        write_scenario(targets=[{"id": "s", "class": "sheep", "lat": lat, "lon": lon}])
    )
    rendered = _render(world, cam, Pose(lat=LAT0, lon=LON0, alt_agl_m=60.0))
    col, row = rendered.targets["s"].centre_px
    assert col == pytest.approx(CX + F_PX * 8.0 / 60.0, abs=0.5)
    assert row == pytest.approx(CY + F_PX * 5.0 / 60.0, abs=0.5)
    ys, xs = np.nonzero(_mask(rendered, world))
    assert abs(xs.mean() - col) < 3 and abs(ys.mean() - row) < 6  # body around its ground point


def test_oblique_gimbal_looks_ahead(write_scenario, cam):
    # Gimbal 45 deg down, nose north, 50 m up: the ground point 50 m north is the image centre.
    lat = LAT0 + 50.0 / M_PER_DEG_LAT
    world = load_scenario(
        write_scenario(targets=[{"id": "c", "class": "car", "lat": lat, "lon": LON0}])
    )
    pose = Pose(lat=LAT0, lon=LON0, alt_agl_m=50.0, gimbal=Gimbal(pitch_deg=-45))
    view = _render(world, cam, pose).targets["c"]
    assert view.centre_px == pytest.approx((CX, CY), abs=0.5)
    # Rolled 10 deg right, a vehicle-frame gimbal looks left of the nose: the car moves right.
    rolled = Pose(lat=LAT0, lon=LON0, alt_agl_m=50.0, roll_deg=10, gimbal=Gimbal(pitch_deg=-45))
    assert _render(world, cam, rolled).targets["c"].centre_px[0] > CX + 50
    # An earth-frame gimbal (DJI) ignores the vehicle's roll.
    earth = Pose(
        lat=LAT0, lon=LON0, alt_agl_m=50.0, roll_deg=10, gimbal=Gimbal(pitch_deg=-45, frame="earth")
    )
    assert _render(world, cam, earth).targets["c"].centre_px == pytest.approx((CX, CY), abs=0.5)


def test_amsl_and_agl_altitudes_agree(write_scenario, cam):
    world = load_scenario(
        write_scenario(
            targets=[{"id": "r", "class": "roof", "lat": LAT0, "lon": LON0, "temp_c": 40}]
        )
    )
    agl = _render(world, cam, Pose(lat=LAT0, lon=LON0, alt_agl_m=70.0)).celsius
    amsl = _render(world, cam, Pose(lat=LAT0, lon=LON0, alt_amsl_m=570.0)).celsius
    assert np.array_equal(agl, amsl)


def test_lens_distortion_is_consistent_between_rays_and_targets(write_scenario, cam):
    # Barrel distortion pulls a target near the corner towards the centre; its silhouette must
    # still sit where the ray-cast ground around it is (both use the same lens model).
    lat = LAT0 + 10.0 / M_PER_DEG_LAT
    lon = LON0 + 14.0 / _m_per_deg_lon()
    t = {"id": "r", "class": "rock", "lat": lat, "lon": lon, "temp_c": 40}
    world = load_scenario(write_scenario(targets=[t]))
    pose = Pose(lat=LAT0, lon=LON0, alt_agl_m=60.0)
    pinhole = _render(world, cam, pose).targets["r"].centre_px
    barrel = type(cam)(distortion=(-0.25, 0.05, 0.0, 0.0, 0.0))
    rendered = _render(world, barrel, pose)
    col, row = rendered.targets["r"].centre_px
    assert math.hypot(col - CX, row - CY) < math.hypot(pinhole[0] - CX, pinhole[1] - CY) - 5
    ys, xs = np.nonzero(rendered.celsius > 30)
    # The blob is centred on the projected ground point, to within its own lean (rock: 0.45 m
    # up, so its top sits a little outwards of its foot).
    assert abs(xs.mean() - col) < 4 and abs(ys.mean() - row) < 4
    # The ray cast through that pixel lands on the target's ground position.
    r = Renderer(world, barrel, sensor=SensorModel.ideal())
    _, u, v, *_ = r._cast(r.camera_position(pose), camera_to_enu(pose))
    g = world.grid
    x = g.x0 + u[round(row), round(col)] * g.res_m
    y = g.y0 + v[round(row), round(col)] * g.res_m
    tgt = world.targets[0]
    assert math.hypot(x - tgt.x_m, y - tgt.y_m) < 0.2


@pytest.mark.parametrize("pitch_deg", [-90.0, -45.0, -30.0])
def test_rays_land_on_the_first_ground_they_meet(write_scenario, cam, pitch_deg):
    # Rolling hills with 80 m of relief: every pixel's hit lies on the terrain, and the ray is
    # above the ground all the way there (it did not pass through a hill).
    terrain = {"kind": "procedural", "elevation_m": 500, "relief_m": 80, "feature_m": 150}
    world = load_scenario(write_scenario(terrain=terrain, margin_m=600))
    r = Renderer(world, cam, sensor=SensorModel.ideal())
    pose = Pose(
        lat=LAT0, lon=LON0, alt_agl_m=40.0, yaw_deg=35.0, gimbal=Gimbal(pitch_deg=pitch_deg)
    )
    cam_pos = np.array(r.camera_position(pose))
    t, u, v, _du, _dv, dz, hit = r._cast(tuple(cam_pos), camera_to_enu(pose))
    g = world.grid
    rows, cols = np.mgrid[5:512:23, 7:640:29]
    sel = hit[rows, cols]
    rows, cols = rows[sel], cols[sel]
    assert len(rows) > 200
    x = g.x0 + u[rows, cols] * g.res_m
    y = g.y0 + v[rows, cols] * g.res_m
    z_ray = cam_pos[2] + t[rows, cols] * dz[rows, cols]
    z_ground = g.sample(world.elevation_m, x, y)
    err = np.abs(z_ray - z_ground)
    assert np.percentile(err, 95) < 0.06 and np.median(err) < 0.02
    # Along the way (40 samples up to 98 % of the hit) the ray stays above the ground.
    frac = np.linspace(0.02, 0.98, 40)[:, None]
    xs = cam_pos[0] + (x - cam_pos[0]) * frac
    ys = cam_pos[1] + (y - cam_pos[1]) * frac
    zs = cam_pos[2] + (z_ray - cam_pos[2]) * frac
    below = zs < g.sample(world.elevation_m, xs, ys) - 0.05
    assert below.any(axis=0).mean() < 0.01


def test_gimbal_yaw_in_vehicle_and_earth_frames(write_scenario, cam):
    lon_e, lat_e, _ = GEOD.fwd(LON0, LAT0, 90.0, 50.0)  # exactly 50 m east
    east = {"id": "e", "class": "car", "lat": lat_e, "lon": lon_e}
    world = load_scenario(write_scenario(targets=[east]))
    # Nose north, gimbal turned 90 deg right and 45 down: the car 50 m east is dead centre.
    pan = Pose(lat=LAT0, lon=LON0, alt_agl_m=50.0, gimbal=Gimbal(pitch_deg=-45, yaw_deg=90))
    assert _render(world, cam, pan).targets["e"].centre_px == pytest.approx((CX, CY), abs=0.5)
    # Nose east, gimbal straight ahead: the same view.
    nose = Pose(lat=LAT0, lon=LON0, alt_agl_m=50.0, yaw_deg=90, gimbal=Gimbal(pitch_deg=-45))
    assert _render(world, cam, nose).targets["e"].centre_px == pytest.approx((CX, CY), abs=0.5)
    # Nose south, an earth-frame gimbal at heading 90 (DJI style): still east.
    earth = Pose(
        lat=LAT0, lon=LON0, alt_agl_m=50.0, yaw_deg=180,
        gimbal=Gimbal(pitch_deg=-45, yaw_deg=90, frame="earth"),
    )  # fmt: skip
    assert _render(world, cam, earth).targets["e"].centre_px == pytest.approx((CX, CY), abs=0.5)
