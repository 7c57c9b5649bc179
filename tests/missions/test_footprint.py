import math

import pytest
from mission_testkit import H20T

from missions.errors import PlanError
from missions.footprint import PERSON_WIDTH_M, footprint, max_alt_for_px_on_person


def test_footprint_gsd_and_spacing_from_the_field_of_view():
    fp = footprint(H20T, 100.0, side_overlap=0.2)
    width = 2 * 100 * math.tan(math.radians(31.8 / 2))
    assert fp.width_m == pytest.approx(width)
    assert fp.height_m == pytest.approx(2 * 100 * math.tan(math.radians(25.6 / 2)))
    assert fp.gsd_m == pytest.approx(width / 640)
    assert fp.spacing_m == pytest.approx(0.8 * width)
    assert fp.px_on_person == pytest.approx(PERSON_WIDTH_M / fp.gsd_m)


@pytest.mark.parametrize("px", [2, 5, 10])
def test_max_altitude_for_pixels_on_a_person_is_the_tight_bound(px):
    alt = max_alt_for_px_on_person(H20T, px)
    assert footprint(H20T, alt).px_on_person == pytest.approx(px)
    assert footprint(H20T, alt * 1.01).px_on_person < px
    # 5 px across a person with the H20T thermal camera: about 112 m.
    if px == 5:
        assert alt == pytest.approx(112.0, abs=1.0)


def test_bad_footprint_inputs():
    with pytest.raises(PlanError, match="above ground"):
        footprint(H20T, 0)
    with pytest.raises(PlanError, match="fraction"):
        footprint(H20T, 50, side_overlap=20)
    with pytest.raises(PlanError, match="positive"):
        max_alt_for_px_on_person(H20T, 0)
