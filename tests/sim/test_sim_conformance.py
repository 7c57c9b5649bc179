"""The simulator answers mission uploads exactly as the autopilot it stands for: every case of
the conformance table (`sim.conformance.CASES`, checked against PX4 v1.16 SITL), PX4's mission
index across uploads, and its MISSION_SET_CURRENT, through a bare pymavlink ground station."""

from __future__ import annotations

import time

import pytest

from sim import SimFleetThread
from sim.conformance import CASES, RESULT_NAMES, UNSUPPORTED
from tests.sitl.mavgcs import Gcs


@pytest.fixture(scope="module", params=["px4", "ardupilot"])
def gcs(request):
    with SimFleetThread(
        vehicles=1,
        autopilot=request.param,
        speedup=5,
        gcs_port=None,
        api_base_port=None,
        api_local_base_port=0,
        tcp_base_port=None,
    ) as ft:
        g = Gcs(ft.vehicles[0].ports.pymavlink_api)
        g.flavour = request.param
        yield g
        g.close()


@pytest.mark.parametrize("case", CASES, ids=[c.what for c in CASES])
def test_upload_answered_like_the_autopilot(gcs, case):
    answer = gcs.upload_case(case)
    expected = case.expect[gcs.flavour]
    assert answer.result == expected, (
        f"{case.what}: {RESULT_NAMES.get(answer.result, answer.result)}, "
        f"expected {RESULT_NAMES[expected]} ({answer.statustext})"
    )


def test_do_change_speed_in_a_global_frame_is_unsupported_on_px4():
    with SimFleetThread(
        vehicles=1, speedup=5, gcs_port=None, api_base_port=None, api_local_base_port=0
    ) as ft:
        g = Gcs(ft.vehicles[0].ports.pymavlink_api)
        speed = (6, 178, 1.0, 10.0, -1.0, 0.0, 0, 0, 0.0)  # GLOBAL_RELATIVE_ALT_INT
        answer = g.upload([g.waypoints(1)[0], speed])
        assert answer.result == UNSUPPORTED
        assert "Invalid item" in answer.statustext
        assert ft.vehicles[0].plans[0] == []  # nothing of the refused mission was kept
        g.close()


def test_px4_transfer_starts_in_float_mode_and_follows_the_items():
    with SimFleetThread(
        vehicles=1, speedup=5, gcs_port=None, api_base_port=None, api_local_base_port=0
    ) as ft:
        g = Gcs(ft.vehicles[0].ports.pymavlink_api)
        assert g.upload(g.waypoints(2), int_msg=True).first_request == "MISSION_REQUEST"
        assert g.upload(g.waypoints(2, 1), int_msg=True).first_request == "MISSION_REQUEST_INT"
        assert g.upload(g.waypoints(2, 2), int_msg=False).result == 2  # _INT frame, float item
        assert g.upload(g.waypoints(2, 3), int_msg=True).first_request == "MISSION_REQUEST"
        g.close()


def test_px4_keeps_the_mission_index_across_uploads():
    """As PX4 v1.16 SITL does: a new mission flagged with no current item keeps the old
    index (capped), the same mission again changes nothing, MISSION_SET_CURRENT moves it and
    DO_SET_MISSION_CURRENT is refused."""
    with SimFleetThread(
        vehicles=1, speedup=5, gcs_port=None, api_base_port=None, api_local_base_port=0
    ) as ft:
        g = Gcs(ft.vehicles[0].ports.pymavlink_api)
        assert g.upload(g.waypoints(4)).result == 0
        assert g.current() == 65535  # PX4 reports -1 until its navigator takes the mission
        assert g.command(224, 1) == 3  # MAV_CMD_DO_SET_MISSION_CURRENT: UNSUPPORTED
        g.set_current_message(3)
        time.sleep(0.3)
        assert g.current() == 3
        assert g.upload(g.waypoints(6, 1)).result == 0
        assert g.current() == 3  # a new mission starts where the old one was
        g.set_current_message(5)
        time.sleep(0.3)
        assert g.upload(g.waypoints(6, 1)).result == 0
        assert g.current() == 5  # the same mission again: nothing changes
        assert g.upload(g.waypoints(2, 2)).result == 0
        assert g.current() == 1  # capped at count - 1
        g.set_current_message(7)
        time.sleep(0.3)
        assert g.current() == 1  # out of range: refused (by STATUSTEXT), index unchanged
        g.close()


def test_px4_set_current_right_after_an_upload_is_overtaken_by_the_kept_index():
    """As PX4 v1.16 SITL does: its navigator answers an upload that changed the mission with
    the kept index a moment later. A MISSION_SET_CURRENT sent at once after the MISSION_ACK
    is overtaken: MISSION_CURRENT goes on naming the kept index. Sent again, it takes."""
    with SimFleetThread(
        vehicles=1, speedup=5, gcs_port=None, api_base_port=None, api_local_base_port=0
    ) as ft:
        g = Gcs(ft.vehicles[0].ports.pymavlink_api)
        assert g.upload(g.waypoints(6)).result == 0
        g.set_current_message(2)
        time.sleep(0.3)
        assert g.current() == 2
        assert g.upload(g.waypoints(7, 1), settle_s=0.0).result == 0
        g.set_current_message(0)  # at once, as a plain script does
        time.sleep(0.3)
        assert g.current() == 2  # the navigator's late answer: the kept index
        g.set_current_message(0)
        time.sleep(0.3)
        assert g.current() == 0
        g.set_current_message(3)
        time.sleep(0.3)
        assert g.upload(g.waypoints(7, 2)).result == 0
        g.set_current_message(0)  # after the navigator's answer: it takes at once
        time.sleep(0.3)
        assert g.current() == 0
        g.close()
