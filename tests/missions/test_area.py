"""Validation of search areas: each refusal says what, where and how to fix it."""

import re

import numpy as np
import pytest
from mission_testkit import box

from missions.area import SearchArea, prepare
from missions.errors import AreaError
from missions.geodesy import LocalFrame


def test_valid_area_with_holes_is_moved_to_metres(draw):
    area = SearchArea((draw.ring(box(0, 0, 1000, 500)),), (draw.ring(box(100, 100, 200, 200)),))
    local = prepare(area)
    assert local.area.area == pytest.approx(500_000, rel=1e-3)
    assert local.searchable.area == pytest.approx(490_000, rel=1e-3)


def test_self_intersection_names_the_place_and_repair_fixes_it(draw):
    bowtie = draw.ring([(0, 0), (400, 400), (400, 0), (0, 400)])
    area = SearchArea((bowtie,), source="bowtie.geojson")
    with pytest.raises(AreaError) as err:
        prepare(area)
    msg = str(err.value)
    assert "bowtie.geojson" in msg and "crosses itself" in msg and "--repair" in msg
    # The crossing is at the centre (200, 200) m.
    lat, lon = draw.frame.to_wgs84(200.0, 200.0)
    m = re.search(r"at lat ([-\d.]+), lon ([-\d.]+)", msg)
    assert m and abs(float(m.group(1)) - lat) < 1e-5 and abs(float(m.group(2)) - lon) < 1e-5
    local = prepare(area, repair=True)
    assert local.repaired and local.area.area == pytest.approx(80_000, rel=1e-3)
    back = local.to_search_area()
    assert len(back.outer) == 2  # the two triangles of the bow tie


def test_swapped_latitude_and_longitude_are_detected():
    # Near Sydney (-33.9, 151.2) the swapped reading puts "latitude" at 151: only one
    # reading is sane, so a file written [lat, lon] where [lon, lat] belongs is caught.
    frame = LocalFrame.aeqd(-33.86, 151.21)
    ll = frame.xy_to_latlon(np.array(box(0, 0, 500, 500), dtype=float))
    swapped = tuple((float(lon), float(lat)) for lat, lon in ll)
    area = SearchArea((swapped,), source="x.geojson")
    with pytest.raises(AreaError, match=r"swapped.*--swap-latlon"):
        prepare(area)
    local = prepare(area, accept_swapped=True)
    assert local.area.area == pytest.approx(250_000, rel=1e-3)


def test_area_above_the_limit(draw):
    area = SearchArea((draw.ring(box(0, 0, 5000, 5000)),))
    with pytest.raises(AreaError, match=r"25\.0 km².*limit of 10 km².*--max-area-km2"):
        prepare(area, max_area_km2=10)
    assert prepare(area, max_area_km2=30).area.area > 0


def test_holes_that_swallow_the_area(draw):
    area = SearchArea((draw.ring(box(0, 0, 100, 100)),), (draw.ring(box(-10, -10, 110, 110)),))
    with pytest.raises(AreaError, match=r"holes cover 100\.0% of the area"):
        prepare(area)


def test_empty_and_degenerate_input(draw):
    with pytest.raises(AreaError, match="no search area polygon"):
        prepare(SearchArea(()))
    with pytest.raises(AreaError, match="2 distinct point"):
        prepare(SearchArea((draw.ring([(0, 0), (10, 0), (0, 0)]),)))
    with pytest.raises(AreaError, match="no extent"):
        prepare(SearchArea((draw.ring([(0, 0), (10, 0), (20, 0)]),)))
    with pytest.raises(AreaError, match="hole 1 has 1 distinct"):
        prepare(SearchArea((draw.ring(box(0, 0, 10, 10)),), (draw.ring([(1, 1), (1, 1), (1, 1)]),)))


def test_self_intersecting_hole(draw):
    area = SearchArea(
        (draw.ring(box(0, 0, 1000, 1000)),),
        (draw.ring([(100, 100), (300, 300), (300, 100), (100, 300)]),),
    )
    with pytest.raises(AreaError, match="hole 1: the boundary crosses itself"):
        prepare(area)
    assert prepare(area, repair=True).holes.area == pytest.approx(20_000, rel=1e-3)
