"""GeoTIFF DEM reading and terrain-following altitudes."""

import itertools

import numpy as np
import pytest
import tifffile
from mission_testkit import H20T, ORIGIN, box

from missions.area import SearchArea, prepare
from missions.errors import PlanError
from missions.planner import PlanRequest, make_plan
from missions.terrain import Dem, write_dem

STEP = 0.0002  # degrees, ~15-22 m


def _hill_dem(path, slope_m_per_px=0.0, hill_m=80.0):
    lat0, lon0 = ORIGIN
    rows, cols = 120, 120
    r, c = np.mgrid[0:rows, 0:cols].astype(float)
    z = 400.0 + slope_m_per_px * c + hill_m * np.exp(-(((r - 60) / 15) ** 2 + ((c - 60) / 15) ** 2))
    west, north = lon0 - cols / 2 * STEP, lat0 + rows / 2 * STEP
    write_dem(path, z, west, north, STEP)
    return z, west, north


def test_dem_round_trip_and_bilinear_on_a_plane(tmp_path):
    p = tmp_path / "plane.tif"
    lat0, lon0 = ORIGIN
    cols = np.arange(50, dtype=float)
    z = np.tile(100.0 + 2.0 * cols, (40, 1))  # rises 2 m per pixel eastwards
    write_dem(p, z, lon0, lat0, STEP)
    dem = Dem.read(p)
    assert dem.z.shape == (40, 50) and dem.crs.to_epsg() == 4326
    # Pixel centres: column c at lon0 + (c + 0.5) * STEP.
    lon = lon0 + (10.5 + 0.25) * STEP
    lat = lat0 - 5.5 * STEP
    assert dem.elevation([lat], [lon])[0] == pytest.approx(100 + 2 * 10.25, abs=1e-3)
    with pytest.raises(PlanError, match="beyond the DEM"):
        dem.elevation([lat0 + 1], [lon0])


def test_not_a_geotiff(tmp_path):
    p = tmp_path / "plain.tif"
    tifffile.imwrite(p, np.zeros((4, 4), np.float32))
    with pytest.raises(PlanError, match="without GeoTIFF georeferencing"):
        Dem.read(p)
    q = tmp_path / "text.tif"
    q.write_text("hello")
    with pytest.raises(PlanError, match="not a readable GeoTIFF"):
        Dem.read(q)
    with pytest.raises(PlanError, match="not found"):
        Dem.read(tmp_path / "none.tif")


def test_terrain_following_keeps_height_above_ground(tmp_path, draw):
    p = tmp_path / "hill.tif"
    _hill_dem(p, slope_m_per_px=0.5)
    dem = Dem.read(p)
    local = prepare(SearchArea((draw.ring(box(-500, -400, 500, 400)),)))
    tol = 3.0
    plan = make_plan(local, PlanRequest(H20T, 60.0, 0.1, dem=dem, terrain_tol_m=tol))
    assert plan.altitude_ref == "terrain"
    wps = [w for s in plan.sorties for w in s.waypoints]
    assert any(w.kind == "terrain" for w in wps)
    assert all(w.alt_amsl_m is not None for w in wps)
    # At every waypoint the height above ground is exactly the planned one.
    ground = dem.elevation([w.lat for w in wps], [w.lon for w in wps])
    assert np.allclose([w.alt_amsl_m for w in wps] - ground, 60.0, atol=0.02)
    # Between waypoints (flying straight), within the tolerance plus interpolation slack.
    for s in plan.sorties:
        ll = np.array([(w.lat, w.lon, w.alt_amsl_m) for w in s.waypoints])
        for a, b in itertools.pairwise(ll):
            t = np.linspace(0, 1, 25)
            pts = a + (b - a) * t[:, None]
            agl = pts[:, 2] - dem.elevation(pts[:, 0], pts[:, 1])
            assert np.all(np.abs(agl - 60.0) < tol + 1.0)
    # alt_rel is relative to the launch point's ground.
    launch = plan.sorties[0].launch
    home = dem.elevation([launch[0]], [launch[1]])[0]
    assert all(abs(w.alt_rel_m - (w.alt_amsl_m - home)) < 0.02 for w in wps)


def test_dem_must_cover_the_area(tmp_path, draw):
    p = tmp_path / "small.tif"
    write_dem(p, np.full((5, 5), 300.0), ORIGIN[1], ORIGIN[0], STEP)
    local = prepare(SearchArea((draw.ring(box(-500, -400, 500, 400)),)))
    with pytest.raises(PlanError, match="beyond the DEM"):
        make_plan(local, PlanRequest(H20T, 60.0, dem=Dem.read(p)))
