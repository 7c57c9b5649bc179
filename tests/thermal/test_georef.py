"""Pixel -> ground against hand-computed geometry."""

import math
import warnings

import numpy as np
import pytest

from thermal.camera import CameraModel
from thermal.errors import ThermalError
from thermal.frame import Gimbal, Pose, PoseSigma
from thermal.georef import (
    FunctionTerrain,
    GeorefError,
    GridTerrain,
    RelativeAltitudeWarning,
    georeference,
    latlon_to_offset,
    metres_per_degree,
    resolve_altitude,
)

CAM = CameraModel.from_focal_length(640, 512, 13.5, 12.0, name="h20t")  # f = 1125 px
CENTRE = (CAM.cx, CAM.cy)
LAT0, LON0 = 47.39, 8.54


def ground(px, pose, **kw):
    g = georeference(np.array([px], float), CAM, pose, **kw)
    return float(g.north_m[0]), float(g.east_m[0]), g


def test_camera_constructors_agree():
    by_fov = CameraModel.from_fov(640, 512, math.degrees(2 * math.atan(320 / 1125)))
    assert by_fov.fx == pytest.approx(1125.0)
    assert CAM.fx == pytest.approx(1125.0)
    assert (CAM.cx, CAM.cy) == (319.5, 255.5)
    half = CAM.scaled_to(320, 256)
    assert half.fx == pytest.approx(562.5) and half.cx == pytest.approx(159.5)
    with pytest.raises(ThermalError, match="hfov_deg"):
        CameraModel.from_fov(640, 512, 190)


def test_nadir_centre_is_below_and_image_top_is_the_heading():
    pose = Pose(LAT0, LON0, alt_agl_m=100.0)
    n, e, g = ground(CENTRE, pose)
    assert (n, e) == pytest.approx((0.0, 0.0), abs=1e-6)
    assert g.range_m[0] == pytest.approx(100.0)
    # 0.1 f to the right of centre at 100 m: 10 m to the right = east at heading 0
    n, e, _ = ground((CAM.cx + 112.5, CAM.cy), pose)
    assert (n, e) == pytest.approx((0.0, 10.0), abs=1e-6)
    # above the centre (smaller row) is ahead: north
    n, e, _ = ground((CAM.cx, CAM.cy - 225.0), pose)
    assert (n, e) == pytest.approx((20.0, 0.0), abs=1e-6)
    # heading east: ahead is east, image right is south
    pose_e = Pose(LAT0, LON0, alt_agl_m=100.0, yaw_deg=90.0)
    n, e, _ = ground((CAM.cx + 112.5, CAM.cy - 225.0), pose_e)
    assert (n, e) == pytest.approx((-10.0, 20.0), abs=1e-6)


@pytest.mark.parametrize(
    ("off_nadir", "yaw", "north", "east"),
    [
        (30.0, 0.0, 100 * math.tan(math.radians(30)), 0.0),
        (45.0, 0.0, 100.0, 0.0),
        (45.0, 90.0, 0.0, 100.0),
        (45.0, 180.0, -100.0, 0.0),  # a flipped yaw puts the hit 200 m off: must not happen
        (30.0, 225.0, -57.735 / math.sqrt(2), -57.735 / math.sqrt(2)),
    ],
)
def test_oblique_centre_ray(off_nadir, yaw, north, east):
    pose = Pose(LAT0, LON0, alt_agl_m=100.0, yaw_deg=yaw, gimbal=Gimbal(pitch_deg=off_nadir - 90))
    n, e, g = ground(CENTRE, pose)
    assert (n, e) == pytest.approx((north, east), abs=1e-3)
    assert g.range_m[0] == pytest.approx(100 / math.cos(math.radians(off_nadir)), rel=1e-9)
    assert g.incidence_deg[0] == pytest.approx(off_nadir)
    m_lat, m_lon = metres_per_degree(LAT0)
    assert g.lat[0] == pytest.approx(LAT0 + north / m_lat, abs=1e-9)
    assert g.lon[0] == pytest.approx(LON0 + east / m_lon, abs=1e-9)


def test_off_axis_pixel_at_45_degrees():
    # Row 0.2 f above centre with the camera pitched 45 down: the ray is 45 - atan(0.2)
    # degrees below the horizon... i.e. atan(0.2) further from nadir than the axis.
    pose = Pose(LAT0, LON0, alt_agl_m=100.0, gimbal=Gimbal(pitch_deg=-45.0))
    n, e, _ = ground((CAM.cx, CAM.cy - 0.2 * CAM.fy), pose)
    assert n == pytest.approx(100 * math.tan(math.radians(45) + math.atan(0.2)), rel=1e-9)
    assert e == pytest.approx(0.0, abs=1e-9)


def test_vehicle_attitude_and_earth_frame_gimbal():
    # Right wing down 10 degrees with a body-fixed nadir camera: the view tilts left (west).
    rolled = Pose(LAT0, LON0, alt_agl_m=100.0, roll_deg=10.0)
    n, e, _ = ground(CENTRE, rolled)
    assert (n, e) == pytest.approx((0.0, -100 * math.tan(math.radians(10))), abs=1e-6)
    # Nose up 5 degrees + gimbal 45 down in the body: 40 degrees below the horizon ahead.
    pitched = Pose(LAT0, LON0, alt_agl_m=100.0, pitch_deg=5.0, gimbal=Gimbal(pitch_deg=-45.0))
    n, _, _ = ground(CENTRE, pitched)
    assert n == pytest.approx(100 / math.tan(math.radians(40)), rel=1e-9)
    # A stabilised (earth-frame) gimbal ignores the vehicle's yaw and roll (DJI XMP).
    earth = Pose(
        LAT0, LON0, alt_agl_m=100.0, yaw_deg=90.0, roll_deg=8.0,
        gimbal=Gimbal(pitch_deg=-45.0, yaw_deg=0.0, frame="earth"),
    )  # fmt: skip
    n, e, _ = ground(CENTRE, earth)
    assert (n, e) == pytest.approx((100.0, 0.0), abs=1e-6)


def test_ray_above_horizon_is_invalid_not_a_crash():
    pose = Pose(LAT0, LON0, alt_agl_m=100.0, gimbal=Gimbal(pitch_deg=0.0))
    g = georeference(np.array([CENTRE, (CAM.cx, CAM.cy - 100)]), CAM, pose)
    assert not g.valid.any()
    assert np.isnan(g.lat).all()


def test_distortion_is_removed_before_casting():
    cam = CameraModel.from_focal_length(640, 512, 13.5, 12.0, distortion=(-0.3, 0.1, 0, 0, 0))
    # A point 10 m east at 100 m projects (with distortion) somewhere; casting it back must
    # land 10 m east again.
    px = cam.project(np.array([[0.1, 0.0, 1.0]]))[0]
    assert px[0] < cam.cx + 112.5  # barrel distortion pulls it inwards
    g = georeference(px[None, :], cam, Pose(LAT0, LON0, alt_agl_m=100.0))
    assert (g.north_m[0], g.east_m[0]) == pytest.approx((0.0, 10.0), abs=1e-3)


def plane_terrain(base_m=400.0, slope=0.2):
    """Ground rising `slope` metres per metre northwards from `base_m` at LAT0."""
    m_lat, _ = metres_per_degree(LAT0)
    return FunctionTerrain(lambda lat, lon: base_m + slope * (np.asarray(lat) - LAT0) * m_lat)


def grid_plane(base_m=400.0, slope=0.2):
    m_lat, _m_lon = metres_per_degree(LAT0)
    d = 1e-4  # ~11 m cells
    lats = LAT0 + 0.01 - (np.arange(300) + 0.5) * d
    elev = base_m + slope * (lats - LAT0) * m_lat
    grid = np.repeat(elev[:, None], 300, axis=1)
    return GridTerrain(grid, (LON0 - 0.015, d, 0.0, LAT0 + 0.01, 0.0, -d))


@pytest.mark.parametrize("terrain", [plane_terrain(), grid_plane()], ids=["function", "grid"])
def test_ray_march_over_a_slope(terrain):
    # Camera 100 m above the ground below it, looking 45 down towards rising ground:
    # 100 - n = 0.2 n  ->  n = 100 / 1.2.
    pose = Pose(LAT0, LON0, alt_amsl_m=500.0, gimbal=Gimbal(pitch_deg=-45.0))
    alt = resolve_altitude(pose, terrain)
    assert alt.agl_m == pytest.approx(100.0, abs=1e-6)
    n, e, _g = ground(CENTRE, pose, altitude=alt, terrain=terrain)
    assert n == pytest.approx(100 / 1.2, abs=0.05)
    assert e == pytest.approx(0.0, abs=1e-6)
    # Looking back down the slope (south): 100 + 0.2 s... ground falls away: s = 100 / 0.8.
    back = Pose(LAT0, LON0, alt_amsl_m=500.0, yaw_deg=180.0, gimbal=Gimbal(pitch_deg=-45.0))
    n, _, _ = ground(CENTRE, back, terrain=terrain)
    assert n == pytest.approx(-125.0, abs=0.05)


def test_relative_altitude_warns_and_is_corrected_with_a_dem():
    # Took off at 500 m AMSL, now 100 m above take-off over a valley floor at 450 m.
    pose = Pose(LAT0, LON0, alt_rel_m=100.0, gimbal=Gimbal(pitch_deg=-45.0))
    with pytest.warns(RelativeAltitudeWarning, match="take-off"):
        naive = resolve_altitude(pose)
    assert naive.agl_m == 100.0
    valley = FunctionTerrain(lambda lat, lon: np.full(np.shape(lat), 450.0))
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        fixed = resolve_altitude(pose, valley, takeoff_amsl_m=500.0)
    assert (fixed.agl_m, fixed.amsl_m, fixed.source) == (150.0, 600.0, "relative-corrected")
    n, _, _ = ground(CENTRE, pose, altitude=fixed, terrain=valley)
    assert n == pytest.approx(150.0, abs=0.05)


def test_uncertainty_from_pose_sigma_grows_off_nadir():
    sigma = PoseSigma(horizontal_m=1.5, vertical_m=2.0, attitude_deg=1.0)
    nadir = Pose(LAT0, LON0, alt_agl_m=100.0, sigma=sigma)
    _, _, g = ground(CENTRE, nadir)
    expected = math.sqrt(1.5**2 + (math.radians(1.0) * 100) ** 2 + (0.5 * 100 / 1125) ** 2)
    assert g.uncertainty_m[0] == pytest.approx(expected, rel=1e-6)
    oblique = Pose(LAT0, LON0, alt_agl_m=100.0, sigma=sigma, gimbal=Gimbal(pitch_deg=-45.0))
    _, _, g45 = ground(CENTRE, oblique)
    # attitude error at 45 degrees: range / cos = 2h; height error: tan 45 = 1
    expected45 = math.sqrt(
        1.5**2 + 2.0**2 + (math.radians(1.0) * 200) ** 2 + (0.5 * 200 / 1125) ** 2
    )
    assert g45.uncertainty_m[0] == pytest.approx(expected45, rel=1e-6)


def test_altitude_errors_are_clear():
    with pytest.raises(GeorefError, match="no usable altitude"):
        resolve_altitude(Pose(LAT0, LON0))
    with pytest.raises(GeorefError, match="height above ground"):
        georeference(np.array([CENTRE]), CAM, Pose(LAT0, LON0, alt_agl_m=-5.0))
    with pytest.raises(GeorefError, match="geotransform"):
        GridTerrain(np.zeros((3, 3)), (0, 0, 0, 0, 0, 0))


def test_local_offsets_round_trip():
    n, e = latlon_to_offset(LAT0, LON0, LAT0 + 0.001, LON0 + 0.002)
    m_lat, m_lon = metres_per_degree(LAT0)
    assert (n, e) == pytest.approx((0.001 * m_lat, 0.002 * m_lon))
    assert m_lat == pytest.approx(111_180, rel=2e-3)
