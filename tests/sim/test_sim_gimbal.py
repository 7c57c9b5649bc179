"""The simulated camera's gimbal: stabilised (nadir whatever the attitude) or body-fixed, and
a frame header that georeferences to where the renderer put things."""

from __future__ import annotations

import asyncio
import math

import cv2
import numpy as np
import pytest
import yaml

from sim import SimFleet
from sim.fleet import world_terrain
from sim.gimbal import GimbalModel, GimbalSpec, euler_zyx, rotation_zyx
from sim.vehicle import ACCEPTED, UNSUPPORTED
from sim.world import ScenarioError, load_scenario
from thermal.camera import CameraModel
from thermal.frame import Pose
from thermal.framing import read_frame
from thermal.georef import camera_to_ned, georeference, latlon_to_offset

M_ARM, M_TAKEOFF, M_REPOSITION = 400, 22, 192
M_MOUNT, M_PITCHYAW = 205, 1000
NAN = math.nan
LAT0, LON0, GROUND_M = 46.5000, 7.5000, 600.0

# Cruise (nose down 20-40 deg), turns (rolled 25-35 deg), both, at any heading.
ATTITUDES = [  # roll, pitch, yaw
    (0.0, -20.0, 0.0),
    (0.0, -40.0, 137.0),
    (30.0, 0.0, 270.0),
    (-35.0, -10.0, 45.0),
    (25.0, -35.0, 300.0),
    (-5.0, 8.0, 190.0),  # braking: nose up
]


def _axis_off_nadir_deg(camera_to_ned_r: np.ndarray) -> float:
    optical = camera_to_ned_r @ np.array([0.0, 0.0, 1.0])  # camera z, in NED
    return math.degrees(math.acos(np.clip(optical[2], -1, 1)))


def _image_right_bearing_deg(camera_to_ned_r: np.ndarray) -> float:
    x = camera_to_ned_r @ np.array([1.0, 0.0, 0.0])
    return math.degrees(math.atan2(x[1], x[0])) % 360


def _angle_diff(a: float, b: float) -> float:
    return abs((a - b + 180.0) % 360.0 - 180.0)


# --- the model --------------------------------------------------------------------------------


@pytest.mark.parametrize("att", ATTITUDES)
def test_stabilised_camera_looks_straight_down_and_follows_the_heading(att):
    roll, pitch, yaw = att
    g = GimbalModel(seed=5)
    for _ in range(40):  # 10 s of residual error
        g.step(0.25)
    o = g.orient(roll, pitch, yaw)
    assert not o.at_limit
    assert o.off_nadir_deg < 1.0
    # The image's right edge points to the right wing's side of the heading (yaw-follow).
    assert _angle_diff(_image_right_bearing_deg(o.camera_to_ned), yaw + 90) < 1.0
    # The header's earth-frame angles make exactly the camera's rotation.
    body = Pose(LAT0, LON0, alt_agl_m=80.0, roll_deg=roll, pitch_deg=pitch, yaw_deg=yaw)
    true, est = g.mount(body, body)
    assert true.gimbal.frame == "earth" == est.gimbal.frame
    assert np.allclose(camera_to_ned(true), o.camera_to_ned, atol=1e-9)
    assert np.allclose(camera_to_ned(est), o.camera_to_ned, atol=1e-9)


def test_residual_error_is_small_seeded_and_not_zero():
    def errors(seed: int) -> list[float]:
        g = GimbalModel(seed=seed)
        out = []
        for _ in range(400):
            g.step(0.25)
            out.append(g.orient(10.0, -30.0, 20.0).off_nadir_deg)
        return out

    a, b, c = errors(1), errors(1), errors(2)
    assert a == b and a != c
    assert 0.02 < float(np.median(a)) < 0.5 and max(a) < 1.0
    # Switched off: exactly nadir.
    g = GimbalModel(GimbalSpec(residual_deg=0.0), seed=1)
    g.step(0.25)
    assert g.orient(10.0, -30.0, 20.0).off_nadir_deg < 1e-6


def test_estimated_header_carries_the_autopilots_attitude_error():
    g = GimbalModel(GimbalSpec(residual_deg=0.0))
    true_body = Pose(LAT0, LON0, alt_agl_m=80.0, roll_deg=5.0, pitch_deg=-30.0, yaw_deg=90.0)
    est_body = Pose(LAT0, LON0, alt_agl_m=80.0, roll_deg=5.0, pitch_deg=-29.0, yaw_deg=92.0)
    true, est = g.mount(true_body, est_body)
    # The payload believes the camera is where the body estimate plus its encoders put it:
    # about 1 deg off nadir and turned 2 deg, as a body-fixed camera's header would be.
    r = camera_to_ned(est)
    assert 0.7 < _axis_off_nadir_deg(r) < 1.3
    assert _angle_diff(_image_right_bearing_deg(r), 92 + 90) < 0.5
    assert _axis_off_nadir_deg(camera_to_ned(true)) < 1e-6


def test_commanded_pitch_and_yaw_hold_in_the_earth_frame():
    g = GimbalModel(GimbalSpec(residual_deg=0.0))
    assert g.command(-45.0, 30.0)
    for roll, pitch, yaw in ATTITUDES:
        hdr, _ = g.mount(*(2 * [Pose(LAT0, LON0, 80.0, None, None, roll, pitch, yaw)]))
        # 45 deg below the horizon, towards heading + 30, not rolled.
        r = camera_to_ned(hdr)
        optical = r @ np.array([0.0, 0.0, 1.0])
        assert math.degrees(math.asin(optical[2])) == pytest.approx(45.0, abs=1e-6)
        bearing = math.degrees(math.atan2(optical[1], optical[0]))
        assert _angle_diff(bearing, yaw + 30) < 1e-6
        image_right = r @ np.array([1.0, 0.0, 0.0])
        assert abs(image_right[2]) < 1e-9  # horizon level
        assert hdr.gimbal.pitch_deg == pytest.approx(-45.0)
        assert hdr.gimbal.roll_deg == pytest.approx(0.0, abs=1e-6)
    # NaN keeps the current value; a command is clamped to what the gimbal may be asked.
    assert g.command(NAN, NAN) and (g.pitch_cmd_deg, g.yaw_cmd_deg) == (-45.0, 30.0)
    g.command(-120.0, None)
    assert g.pitch_cmd_deg == -90.0
    g.command(50.0, None)
    assert g.pitch_cmd_deg == 30.0


def test_mechanical_limits_let_the_body_tilt_the_camera():
    g = GimbalModel(GimbalSpec(residual_deg=0.0))  # roll joint +-45, pitch joint -135..45
    o = g.orient(60.0, 0.0, 0.0)  # a 60 deg bank: 15 deg more than the roll joint gives
    assert o.at_limit and o.joints_deg[1] == pytest.approx(-45.0)
    assert o.off_nadir_deg == pytest.approx(15.0, abs=0.01)
    # Looking up 30 deg with the nose 30 deg down needs +60 on the pitch joint: stops at 45.
    g.command(30.0, None)
    o = g.orient(0.0, -30.0, 0.0)
    assert o.at_limit and o.joints_deg[2] == pytest.approx(45.0)
    assert o.off_nadir_deg - 90.0 == pytest.approx(15.0, abs=0.01)  # 15 deg above horizon
    # Within the limits nothing is clipped, and a tighter gimbal clips sooner.
    assert not GimbalModel().orient(40.0, -30.0, 0.0).at_limit
    tight = GimbalModel(GimbalSpec(roll_joint_deg=20.0, residual_deg=0.0))
    assert tight.orient(30.0, 0.0, 0.0).off_nadir_deg == pytest.approx(10.0, abs=0.01)


def test_fixed_camera_tilts_with_the_body():
    g = GimbalModel(GimbalSpec(mode="fixed"))
    assert not g.command(-45.0, 0.0)  # a body-fixed camera cannot be pointed
    for roll, pitch, yaw in ATTITUDES:
        true, _ = g.mount(*(2 * [Pose(LAT0, LON0, 80.0, None, None, roll, pitch, yaw)]))
        assert true.gimbal.frame == "vehicle" and true.gimbal.pitch_deg == -90.0
        # Tilted off nadir by the body's attitude (the angle between body z and down).
        tilt = math.degrees(math.acos(math.cos(math.radians(roll)) * math.cos(math.radians(pitch))))
        assert _axis_off_nadir_deg(camera_to_ned(true)) == pytest.approx(tilt, abs=1e-6)


def test_euler_angles_round_trip_through_gimbal_lock():
    rng = np.random.default_rng(0)
    for _ in range(300):
        yaw, roll = rng.uniform(-180, 180, 2)
        pitch = rng.choice([rng.uniform(-90, 90), -90 + rng.normal(0, 0.05), -90.0])
        r = rotation_zyx(yaw, pitch, roll)
        hint = rng.uniform(-180, 180)
        y2, p2, r2 = euler_zyx(r, hint)
        assert np.allclose(rotation_zyx(y2, p2, r2), r, atol=1e-9)
        assert _angle_diff(y2, hint) <= 90.0 + 1e-9 or abs(abs(p2) - 90) < 1e-6


# --- the scenario's gimbal section -----------------------------------------------------------


def _scenario(tmp_path, **extra) -> object:
    doc = {
        "name": "gimbal-test",
        "seed": 3,
        "area": [
            [LAT0 + 0.002, LON0 - 0.003],
            [LAT0 + 0.002, LON0 + 0.003],
            [LAT0 - 0.002, LON0 + 0.003],
            [LAT0 - 0.002, LON0 - 0.003],
        ],
        "terrain": {"kind": "flat", "elevation_m": GROUND_M},
        "conditions": {"preset": "clear_night"},
        "targets": [
            {"id": "p1", "class": "person", "posture": "lying", "lat": LAT0, "lon": LON0},
        ],
        **extra,
    }
    p = tmp_path / "gimbal.yaml"
    p.write_text(yaml.safe_dump(doc, sort_keys=False))
    return p


def test_scenario_gimbal_section(tmp_path):
    assert load_scenario(_scenario(tmp_path)).spec.gimbal == GimbalSpec()
    spec = load_scenario(_scenario(tmp_path, gimbal={"mode": "fixed", "pitch_deg": -60})).spec
    assert spec.gimbal.mode == "fixed" and spec.gimbal.pitch_deg == -60
    assert load_scenario(_scenario(tmp_path, gimbal={"mode": "stabilized"})).spec.gimbal.mode == (
        "stabilised"
    )
    with pytest.raises(ScenarioError, match=r"gimbal\.mode.*stabilised.*fixed"):
        load_scenario(_scenario(tmp_path, gimbal={"mode": "gyro"}))
    with pytest.raises(ScenarioError, match=r"gimbal: pitch_deg -100.0 is outside"):
        load_scenario(_scenario(tmp_path, gimbal={"pitch_deg": -100}))
    with pytest.raises(ScenarioError, match=r"gimbal\.tilt: unknown key.*pitch_deg"):
        load_scenario(_scenario(tmp_path, gimbal={"tilt": 3}))


# --- a flying vehicle, its frame stream, and georeferencing ---------------------------------


class _Cam:
    """A camera with the fields the renderer needs (what groundctl's CameraConfig has)."""

    name = "testcam"
    width_px, height_px = 640, 512
    pixel_pitch_um, focal_length_mm = 12.0, 13.5
    frame_rate_hz, netd_mk, radiometric = 30.0, 50.0, True
    distortion = (0.0, 0.0, 0.0, 0.0, 0.0)


def _fleet(world) -> SimFleet:
    return SimFleet(
        vehicles=1,
        autopilot="px4",
        home=(LAT0 - 0.0015, LON0, GROUND_M),
        seed=4,
        gcs_port=None,
        api_local_base_port=None,
        manual_clock=True,
        terrain=world_terrain(world),
    )


async def _cruise(fleet: SimFleet) -> None:
    """Take off to 80 m and fly north at cruise speed until the airframe is pitched over."""
    v = fleet.vehicles[0]
    await fleet.advance(3.0)
    assert v.command(M_ARM, [1, 0, 0, 0, 0, 0, 0]) == ACCEPTED
    assert v.command(M_TAKEOFF, [0, 0, 0, NAN, NAN, NAN, GROUND_M + 80]) == ACCEPTED
    await fleet.advance(25.0)
    far = [-1, 1, 0, NAN, LAT0 + 0.02, LON0, GROUND_M + 80]
    assert v.command(M_REPOSITION, far) == ACCEPTED
    await fleet.advance(6.0)
    assert v.body.pitch_deg < -10.0, v.body.pitch_deg  # pitched forward, flying fast


async def _frame_over_person(fleet: SimFleet, world, east_m: float, north_m: float):
    """Put the cruising drone `east_m`/`north_m` from the person (attitude as flown), with
    no navigation error, and read one streamed frame."""
    v = fleet.vehicles[0]
    px, py = v.to_local(LAT0, LON0)
    v.body.x, v.body.y = px - east_m, py - north_m
    v.body.alt_amsl = GROUND_M + 80.0
    v.gps_err[:] = [0.0, 0.0, 0.0]
    v._att_err[:] = [0.0, 0.0, 0.0]
    (payload,) = await fleet.start_cameras(world, _Cam(), base_port=0)
    reader, writer = await asyncio.open_connection("127.0.0.1", payload.port)
    try:
        frame = await asyncio.wait_for(read_frame(reader), 60)
    finally:
        writer.close()
        for p in fleet.cameras:
            await p.stop()
        fleet.cameras.clear()
    return frame, v.poses()[0]


def _warm_blob_px(pixels: np.ndarray) -> tuple[float, float] | None:
    hot = (pixels > np.median(pixels) + 8).astype(np.uint8)
    n, _, stats, centroids = cv2.connectedComponentsWithStats(hot)
    if n < 2:
        return None
    best = 1 + int(np.argmax(stats[1:, cv2.CC_STAT_AREA]))
    return float(centroids[best][0]), float(centroids[best][1])


def _georef_m(frame, px: tuple[float, float]) -> float:
    cam = CameraModel.from_focal_length(640, 512, 13.5, 12.0)
    g = georeference(np.array([px]), cam, frame.pose)
    north, east = latlon_to_offset(LAT0, LON0, g.lat[0], g.lon[0])
    return float(math.hypot(north, east))


async def test_cruising_drone_sees_the_person_below_where_the_header_says(tmp_path):
    world = load_scenario(_scenario(tmp_path))
    async with _fleet(world) as fleet:
        await _cruise(fleet)
        v = fleet.vehicles[0]
        pitch = v.body.pitch_deg
        # Straight above the person: a stabilised camera has them in the middle of the image.
        frame, true = await _frame_over_person(fleet, world, 0.0, 0.0)
        assert _axis_off_nadir_deg(camera_to_ned(true)) < 1.0
        assert frame.pose.pitch_deg == pytest.approx(pitch) and frame.pose.gimbal.frame == "earth"
        blob = _warm_blob_px(frame.pixels)
        assert blob is not None
        assert math.hypot(blob[0] - 319.5, blob[1] - 255.5) < 20  # < 1.5 m at 80 m
        assert _georef_m(frame, blob) < 1.0
        # Off to one side and behind: still where georeferencing the header puts them.
        frame, _ = await _frame_over_person(fleet, world, 12.0, -15.0)
        blob = _warm_blob_px(frame.pixels)
        assert blob is not None and math.hypot(blob[0] - 319.5, blob[1] - 255.5) > 150
        assert _georef_m(frame, blob) < 1.0
        # A turn: rolled, still nadir.
        v.body.roll_deg = 28.0
        frame, true = await _frame_over_person(fleet, world, 0.0, 0.0)
        assert _axis_off_nadir_deg(camera_to_ned(true)) < 1.0
        blob = _warm_blob_px(frame.pixels)
        assert blob is not None and _georef_m(frame, blob) < 1.0


async def test_fixed_camera_looks_where_the_body_points(tmp_path):
    world = load_scenario(_scenario(tmp_path, gimbal={"mode": "fixed"}))
    async with _fleet(world) as fleet:
        await _cruise(fleet)
        v = fleet.vehicles[0]
        pitch = v.body.pitch_deg
        # Straight above the person, the nose-down camera looks behind them: not in view.
        frame, true = await _frame_over_person(fleet, world, 0.0, 0.0)
        # (the scenario's fixed mount is on now: it cannot be pointed)
        assert v.command(M_PITCHYAW, [-45, 0, 0, 0, 0, 0, 0]) == UNSUPPORTED
        assert frame.pose.gimbal.frame == "vehicle"
        assert _axis_off_nadir_deg(camera_to_ned(true)) > abs(pitch) - 1.0 > 9.0
        assert _warm_blob_px(frame.pixels) is None
        # Seen where the tilted camera looks (80 m x tan(pitch) behind), and georeferenced
        # right: the header describes the body-fixed camera.
        behind_m = 80.0 * math.tan(math.radians(-pitch))
        frame, _ = await _frame_over_person(fleet, world, 0.0, -behind_m)
        blob = _warm_blob_px(frame.pixels)
        assert blob is not None and _georef_m(frame, blob) < 1.0


async def test_mavlink_gimbal_commands_point_the_stabilised_camera(tmp_path):
    world = load_scenario(_scenario(tmp_path))
    async with _fleet(world) as fleet:
        await _cruise(fleet)
        v = fleet.vehicles[0]
        assert v.command(M_PITCHYAW, [-45, 90, 0, 0, 0, 0, 0]) == ACCEPTED
        await fleet.advance(1.0)
        true = v.poses()[0]
        optical = camera_to_ned(true) @ np.array([0.0, 0.0, 1.0])
        assert math.degrees(math.asin(optical[2])) == pytest.approx(45.0, abs=1.0)
        bearing = math.degrees(math.atan2(optical[1], optical[0]))
        assert _angle_diff(bearing, v.body.yaw_deg + 90) < 1.0
        # DO_MOUNT_CONTROL (pitch, roll, yaw), as a mission item would send it.
        assert v.command(M_MOUNT, [-90, 0, 0, 0, 0, 0, 0]) == ACCEPTED
        assert _axis_off_nadir_deg(camera_to_ned(v.poses()[0])) < 1.0
        assert v.gimbal_pitch_deg == -90 and v.gimbal_yaw_deg == 0
