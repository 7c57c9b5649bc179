"""Fly each autopilot flavour with a plain pymavlink script over a lossy link."""

from __future__ import annotations

import pytest
from sim_gcs import HOME, Gcs, M, offset, takeoff, waypoint

from sim import SimFleetThread

SPEEDUP = 20


def _route(n: int = 4) -> list[tuple[float, float]]:
    # A small square-ish route 60-120 m from home.
    legs = [(80, 0), (80, 80), (0, 80), (-20, 40), (40, 40)]
    return [offset(HOME[0], HOME[1], north, east) for north, east in legs[:n]]


@pytest.fixture
def px4(mavic3t):
    with SimFleetThread(
        vehicles=1,
        autopilot="px4",
        airframe=mavic3t,
        home=HOME,
        speedup=SPEEDUP,
        seed=3,
        gcs_port=None,
        api_base_port=None,
        api_local_base_port=0,
    ) as ft:
        gcs = Gcs(ft.vehicles[0].ports.pymavlink_api)
        yield ft, gcs
        gcs.close()


@pytest.fixture
def ardupilot(mavic3t):
    with SimFleetThread(
        vehicles=1,
        autopilot="ardupilot",
        airframe=mavic3t,
        home=HOME,
        speedup=SPEEDUP,
        seed=3,
        gcs_port=None,
        api_base_port=None,
        api_local_base_port=0,
        tcp_base_port=0,
    ) as ft:
        gcs = Gcs(ft.vehicles[0].ports.pymavlink_api)
        yield ft, gcs
        gcs.close()


def _armed(gcs: Gcs) -> bool:
    hb = gcs.last.get("HEARTBEAT")
    return bool(hb and hb.base_mode & M.MAV_MODE_FLAG_SAFETY_ARMED)


def test_px4_flies_mission_over_lossy_link(px4):
    ft, gcs = px4
    v = ft.vehicles[0]
    hb = gcs.wait_type("HEARTBEAT")
    assert hb.autopilot == M.MAV_AUTOPILOT_PX4 and hb.type == M.MAV_TYPE_QUADROTOR
    gcs.wait_type("HOME_POSITION", timeout=30)
    v.faults.loss_pct = 20

    route = _route()
    items = [waypoint(lat, lon, 40.0) for lat, lon in route]
    ack = gcs.upload(items)
    assert ack.type == M.MAV_MISSION_ACCEPTED
    assert ack.opaque_id != 0
    got, opaque = gcs.download()
    assert opaque == ack.opaque_id
    assert [(round(m.x / 1e7, 6), round(m.y / 1e7, 6)) for m in got] == [
        (round(lat, 6), round(lon, 6)) for lat, lon in route
    ]
    cur = gcs.wait_type("MISSION_CURRENT", lambda m: m.total == len(items))
    assert cur.mission_id == ack.opaque_id

    assert gcs.command(M.MAV_CMD_COMPONENT_ARM_DISARM, 1) == M.MAV_RESULT_ACCEPTED
    assert (
        gcs.command(
            M.MAV_CMD_NAV_TAKEOFF, 0, 0, 0, float("nan"), float("nan"), float("nan"), HOME[2] + 15
        )
        == M.MAV_RESULT_ACCEPTED
    )
    gcs.wait_type("GLOBAL_POSITION_INT", lambda m: m.relative_alt > 10_000, timeout=60)
    assert gcs.command(M.MAV_CMD_MISSION_START, 0, 0) == M.MAV_RESULT_ACCEPTED
    hb = gcs.wait_type("HEARTBEAT", lambda m: m.custom_mode == (4 << 16 | 4 << 24))
    assert hb.base_mode & M.MAV_MODE_FLAG_SAFETY_ARMED

    # Watch the flight itself on a clean link: MISSION_ITEM_REACHED is sent (twice, as
    # PX4 does) but a 20 % loss would hide some of them from any observer.
    v.faults.loss_pct = 0
    gcs.wait_until(
        lambda: gcs.reached[-1:] == [len(items) - 1], timeout=90, what="last item reached"
    )
    assert gcs.reached == list(range(len(items)))
    cur = gcs.wait_type("MISSION_CURRENT", lambda m: m.mission_state == M.MISSION_STATE_COMPLETE)
    # PX4 holds at the end of a mission.
    gcs.wait_type("HEARTBEAT", lambda m: m.custom_mode == (4 << 16 | 3 << 24))

    v.faults.loss_pct = 20
    assert gcs.command(M.MAV_CMD_NAV_RETURN_TO_LAUNCH) == M.MAV_RESULT_ACCEPTED
    gcs.wait_type(
        "EXTENDED_SYS_STATE", lambda m: m.landed_state == M.MAV_LANDED_STATE_ON_GROUND, timeout=120
    )
    gcs.wait_until(lambda: not _armed(gcs), timeout=60, what="disarm after landing")
    assert abs(v.lat - HOME[0]) < 2e-5 and abs(v.lon - HOME[1]) < 3e-5  # back within ~2 m
    assert any("Landing detected" in t for _, _, t in v.statustexts)


def test_ardupilot_flies_mission_over_lossy_link(ardupilot):
    ft, gcs = ardupilot
    v = ft.vehicles[0]
    hb = gcs.wait_type("HEARTBEAT")
    assert hb.autopilot == M.MAV_AUTOPILOT_ARDUPILOTMEGA and hb.custom_mode == 0  # STABILIZE
    gcs.wait_type("HOME_POSITION", timeout=30)
    v.faults.loss_pct = 20

    route = _route(3)
    # ArduPilot: item 0 is home (its content is replaced by the vehicle's home).
    items = [waypoint(0.0, 0.0, 0.0), takeoff(20.0)] + [
        waypoint(lat, lon, 30.0) for lat, lon in route
    ]
    ack = gcs.upload(items)
    assert ack.type == M.MAV_MISSION_ACCEPTED
    got, opaque = gcs.download()
    assert opaque == ack.opaque_id and len(got) == len(items)
    assert abs(got[0].x / 1e7 - HOME[0]) < 1e-6 and abs(got[0].z - HOME[2]) < 0.5

    assert gcs.command(M.MAV_CMD_COMPONENT_ARM_DISARM, 1) == M.MAV_RESULT_ACCEPTED  # in STABILIZE
    assert gcs.command(M.MAV_CMD_COMPONENT_ARM_DISARM, 0) == M.MAV_RESULT_ACCEPTED
    # Take-off needs GUIDED.
    assert gcs.set_mode_ap(4) == M.MAV_RESULT_ACCEPTED
    assert gcs.command(M.MAV_CMD_COMPONENT_ARM_DISARM, 1) == M.MAV_RESULT_ACCEPTED
    assert gcs.command(M.MAV_CMD_NAV_TAKEOFF, 0, 0, 0, 0, 0, 0, 10) == M.MAV_RESULT_ACCEPTED
    gcs.wait_type("GLOBAL_POSITION_INT", lambda m: m.relative_alt > 7_000, timeout=60)
    assert gcs.command(M.MAV_CMD_MISSION_START, 0, 0) == M.MAV_RESULT_ACCEPTED
    gcs.wait_type("HEARTBEAT", lambda m: m.custom_mode == 3)  # AUTO

    v.faults.loss_pct = 0
    last = len(items) - 1
    gcs.wait_until(lambda: gcs.reached[-1:] == [last], timeout=90, what="last item reached")
    # Every item flown in order; ArduPilot says MISSION_ITEM_REACHED once, and the ones sent
    # while the link was still lossy may be missing on the ground.
    assert v.reached == list(range(1, len(items)))
    assert set(gcs.reached) <= set(v.reached) and gcs.reached == sorted(gcs.reached)

    v.faults.loss_pct = 20
    assert gcs.set_mode_ap(6) == M.MAV_RESULT_ACCEPTED  # RTL
    gcs.wait_type(
        "EXTENDED_SYS_STATE", lambda m: m.landed_state == M.MAV_LANDED_STATE_ON_GROUND, timeout=120
    )
    gcs.wait_until(lambda: not _armed(gcs), timeout=60, what="disarm after landing")
    assert abs(v.lat - HOME[0]) < 2e-5 and abs(v.lon - HOME[1]) < 3e-5
