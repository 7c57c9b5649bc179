import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from missions.errors import AreaError
from missions.geodesy import LocalFrame, geodesic_distance_m

PLACES = [(47.3977, 8.5456), (-33.86, 151.21), (64.1, -21.9), (0.0, 179.99), (35.7, 139.7)]


@pytest.mark.parametrize(("lat", "lon"), PLACES)
def test_round_trip_below_one_centimetre(lat, lon):
    rng = np.random.default_rng(1)
    lats = lat + rng.uniform(-0.2, 0.2, 500)
    lons = lon + rng.uniform(-0.2, 0.2, 500)
    lons = (lons + 180) % 360 - 180
    frame = LocalFrame.for_area(lats, lons)
    x, y = frame.to_local(lats, lons)
    back_lat, back_lon = frame.to_wgs84(x, y)
    err = geodesic_distance_m(lats, lons, back_lat, back_lon)
    assert float(np.max(err)) < 0.01


@pytest.mark.parametrize(("lat", "lon"), PLACES)
def test_local_distances_match_geodesic_within_a_tenth_of_a_percent(lat, lon):
    rng = np.random.default_rng(2)
    a = np.column_stack([lat + rng.uniform(-0.15, 0.15, 300), lon + rng.uniform(-0.15, 0.15, 300)])
    b = np.column_stack([lat + rng.uniform(-0.15, 0.15, 300), lon + rng.uniform(-0.15, 0.15, 300)])
    a[:, 1] = (a[:, 1] + 180) % 360 - 180
    b[:, 1] = (b[:, 1] + 180) % 360 - 180
    frame = LocalFrame.for_area(np.r_[a[:, 0], b[:, 0]], np.r_[a[:, 1], b[:, 1]])
    local = np.linalg.norm(frame.latlon_to_xy(a) - frame.latlon_to_xy(b), axis=1)
    true = geodesic_distance_m(a[:, 0], a[:, 1], b[:, 0], b[:, 1])
    assert np.all(np.abs(local - true) <= 0.001 * true + 1e-6)


def test_axes_point_east_and_north():
    frame = LocalFrame.aeqd(47.0, 8.0)
    x, y = frame.to_local(47.001, 8.0)
    assert abs(x) < 0.01 and y == pytest.approx(111.2, abs=0.5)
    x, y = frame.to_local(47.0, 8.001)
    assert x == pytest.approx(75.9, abs=0.5) and abs(y) < 0.5


def test_utm_zone_is_chosen_from_the_point():
    assert LocalFrame.utm(47.4, 8.5).crs.to_epsg() == 32632
    assert LocalFrame.utm(-33.9, 151.2).crs.to_epsg() == 32756
    with pytest.raises(AreaError, match="outside UTM"):
        LocalFrame.utm(85.0, 0.0)


def test_bad_coordinates_are_refused_with_a_hint():
    with pytest.raises(AreaError, match="swapped"):
        LocalFrame.for_area([147.4], [8.5])
    with pytest.raises(AreaError, match="finite"):
        LocalFrame.for_area([float("nan")], [8.5])
    with pytest.raises(AreaError, match="split it"):
        LocalFrame.for_area([47.0, 49.0], [8.0, 8.0])
    with pytest.raises(AreaError, match="no vertices"):
        LocalFrame.for_area([], [])


@settings(max_examples=50, deadline=None)
@given(
    st.floats(-79, 83),
    st.floats(-179.5, 179.5),
    st.lists(st.tuples(st.floats(-0.1, 0.1), st.floats(-0.1, 0.1)), min_size=1, max_size=20),
)
def test_round_trip_property(lat, lon, offsets):
    pts = np.array([(lat + d_lat, lon + d_lon) for d_lat, d_lon in offsets])
    frame = LocalFrame.for_area(pts[:, 0], pts[:, 1])
    back = frame.xy_to_latlon(frame.latlon_to_xy(pts))
    err = geodesic_distance_m(pts[:, 0], pts[:, 1], back[:, 0], back[:, 1])
    assert float(np.max(err)) < 0.01
