"""Refusals a real autopilot gives, and failsafes that take over the flight."""

from __future__ import annotations

import math
import time

import pytest
from sim_gcs import HOME, Gcs, M, offset

from sim import SimFleetThread

SPEEDUP = 20
NAN = math.nan


def _fleet(mavic3t, autopilot: str = "px4", **kw):
    return SimFleetThread(
        vehicles=1,
        autopilot=autopilot,
        airframe=mavic3t,
        home=HOME,
        speedup=SPEEDUP,
        seed=11,
        gcs_port=None,
        api_base_port=None,
        api_local_base_port=0,
        **kw,
    )


def _takeoff(gcs: Gcs, flavour: str, alt: float = 20.0) -> None:
    if flavour == "ardupilot":
        assert gcs.set_mode_ap(4) == M.MAV_RESULT_ACCEPTED
    assert gcs.command(M.MAV_CMD_COMPONENT_ARM_DISARM, 1) == M.MAV_RESULT_ACCEPTED
    if flavour == "px4":
        r = gcs.command(M.MAV_CMD_NAV_TAKEOFF, 0, 0, 0, NAN, NAN, NAN, HOME[2] + alt)
    else:
        r = gcs.command(M.MAV_CMD_NAV_TAKEOFF, 0, 0, 0, 0, 0, 0, alt)
    assert r == M.MAV_RESULT_ACCEPTED
    gcs.wait_type("GLOBAL_POSITION_INT", lambda m: m.relative_alt > (alt - 3) * 1000, timeout=60)


def _mode(gcs: Gcs) -> int:
    return gcs.wait_type("HEARTBEAT").custom_mode


PX4_RTL = 4 << 16 | 5 << 24
PX4_LAND = 4 << 16 | 6 << 24
PX4_HOLD = 4 << 16 | 3 << 24


def test_px4_refuses_arm_without_gps_home_or_battery(mavic3t):
    with _fleet(mavic3t, gps_warmup_s=1e9) as ft:
        v = ft.vehicles[0]
        gcs = Gcs(v.ports.pymavlink_api)
        gcs.wait_type("HEARTBEAT")
        assert gcs.command(M.MAV_CMD_COMPONENT_ARM_DISARM, 1) == M.MAV_RESULT_DENIED
        gcs.wait_until(lambda: any("GPS fix" in t for t in gcs.statustexts), 10, "GPS text")
        assert any("home position not set" in t for t in gcs.statustexts)
        # Unknown command.
        assert gcs.command(31337) == M.MAV_RESULT_UNSUPPORTED
        assert gcs.command(M.MAV_CMD_DO_ORBIT, 50, 5, 0, NAN, NAN, NAN, NAN) == M.MAV_RESULT_DENIED
        ft.call(lambda: setattr(v, "gps_fix_at_s", 0.0))
        gcs.wait_type("HOME_POSITION", timeout=30)
        v.faults.set_battery(10)
        assert gcs.command(M.MAV_CMD_COMPONENT_ARM_DISARM, 1) == M.MAV_RESULT_DENIED
        gcs.wait_until(lambda: any("low battery" in t for t in gcs.statustexts), 10, "battery text")
        v.faults.set_battery(90)
        assert gcs.command(M.MAV_CMD_COMPONENT_ARM_DISARM, 1) == M.MAV_RESULT_ACCEPTED
        # Armed on the ground: disarming is fine; flying and mode refusals next.
        assert gcs.command(M.MAV_CMD_COMPONENT_ARM_DISARM, 0) == M.MAV_RESULT_ACCEPTED
        assert gcs.set_mode_px4(4, 4) == M.MAV_RESULT_DENIED  # no mission uploaded
        gcs.close()


def test_ardupilot_refusals(mavic3t):
    with _fleet(mavic3t, "ardupilot") as ft:
        v = ft.vehicles[0]
        gcs = Gcs(v.ports.pymavlink_api)
        gcs.wait_type("HOME_POSITION", timeout=30)
        assert gcs.set_mode_ap(3) == M.MAV_RESULT_ACCEPTED  # AUTO
        assert gcs.command(M.MAV_CMD_COMPONENT_ARM_DISARM, 1) == M.MAV_RESULT_DENIED
        gcs.wait_until(lambda: any("Mode not armable" in t for t in gcs.statustexts), 10, "text")
        assert gcs.set_mode_ap(4) == M.MAV_RESULT_ACCEPTED  # GUIDED
        v.faults.gps_loss()
        assert gcs.command(M.MAV_CMD_COMPONENT_ARM_DISARM, 1) == M.MAV_RESULT_DENIED
        gcs.wait_until(lambda: any("PreArm: Need 3D Fix" in t for t in gcs.statustexts), 10, "text")
        v.faults.gps_restore()
        # Take-off while disarmed fails; DO_ORBIT is a PX4 command.
        assert gcs.command(M.MAV_CMD_NAV_TAKEOFF, 0, 0, 0, 0, 0, 0, 10) == M.MAV_RESULT_FAILED
        assert gcs.command(M.MAV_CMD_DO_ORBIT, 50) == M.MAV_RESULT_UNSUPPORTED
        gcs.close()


@pytest.mark.parametrize("autopilot", ["px4", "ardupilot"])
def test_low_battery_returns_then_lands(mavic3t, autopilot):
    with _fleet(mavic3t, autopilot) as ft:
        v = ft.vehicles[0]
        gcs = Gcs(v.ports.pymavlink_api)
        gcs.wait_type("HOME_POSITION", timeout=30)
        _takeoff(gcs, autopilot)
        lat, lon = offset(HOME[0], HOME[1], 60, 0)
        assert (
            gcs.command_int(
                M.MAV_CMD_DO_REPOSITION,
                M.MAV_FRAME_GLOBAL_RELATIVE_ALT_INT,
                (-1, 1, 0, NAN),
                round(lat * 1e7),
                round(lon * 1e7),
                25,
            )
            == 0
        )
        gcs.wait_until(lambda: abs(v.lat - lat) < 2e-5, 60, "at the reposition point")
        if autopilot == "px4":
            v.faults.set_battery(6.5)  # below BAT_CRIT_THR 7 %: COM_LOW_BAT_ACT 3 returns
            gcs.wait_type("HEARTBEAT", lambda m: m.custom_mode == PX4_RTL, timeout=30)
            assert any("Critical battery level! Executing RTL" in t for t in gcs.statustexts)
        else:
            v.faults.set_battery(18)  # resting voltage below BATT_LOW_VOLT: BATT_FS_LOW_ACT 2
            gcs.wait_type("HEARTBEAT", lambda m: m.custom_mode == 6, timeout=30)
            assert any("Battery 1 is low" in t for t in gcs.statustexts)
        bat = gcs.wait_type("BATTERY_STATUS", lambda m: m.charge_state >= 2)
        assert bat.battery_remaining < 20
        gcs.wait_type(
            "EXTENDED_SYS_STATE",
            lambda m: m.landed_state == M.MAV_LANDED_STATE_ON_GROUND,
            timeout=120,
        )
        assert abs(v.lat - HOME[0]) < 3e-5
        gcs.close()


@pytest.mark.parametrize("autopilot", ["px4", "ardupilot"])
def test_gcs_link_loss_action_set_by_parameter(mavic3t, autopilot):
    with _fleet(mavic3t, autopilot) as ft:
        v = ft.vehicles[0]
        gcs = Gcs(v.ports.pymavlink_api)
        gcs.wait_type("HOME_POSITION", timeout=30)
        if autopilot == "px4":
            assert gcs.set_param("NAV_DLL_ACT", _px4_int(3)) == _px4_int(3)  # land
            gcs.set_param("COM_DL_LOSS_T", _px4_int(5))
        else:
            assert gcs.set_param("FS_GCS_ENABLE", 1) == 1.0  # RTL
            gcs.set_param("FS_GCS_TIMEOUT", 5)
        _takeoff(gcs, autopilot)
        gcs.heartbeats = False
        want = PX4_LAND if autopilot == "px4" else 6
        gcs.wait_type("HEARTBEAT", lambda m: m.custom_mode == want, timeout=60)
        text = "Connection to ground station lost" if autopilot == "px4" else "GCS Failsafe"
        assert any(text in t for t in gcs.statustexts)
        gcs.heartbeats = True
        gcs.wait_until(
            lambda: any("Data link regained" in t for t in gcs.statustexts), 20, "regained"
        )
        gcs.close()


def _px4_int(value: int) -> float:
    """PX4 sends INT32 parameters byte-wise in PARAM_VALUE's float."""
    import struct

    return struct.unpack("<f", struct.pack("<i", value))[0]


def test_fence_breach_returns_home(mavic3t):
    with _fleet(mavic3t, "ardupilot") as ft:
        v = ft.vehicles[0]
        gcs = Gcs(v.ports.pymavlink_api)
        gcs.wait_type("HOME_POSITION", timeout=30)
        # An inclusion square of 80 m around home.
        corners = [
            offset(HOME[0], HOME[1], n, e) for n, e in [(-40, -40), (-40, 40), (40, 40), (40, -40)]
        ]
        fence = [
            (
                M.MAV_FRAME_GLOBAL_INT,
                M.MAV_CMD_NAV_FENCE_POLYGON_VERTEX_INCLUSION,
                4,
                0,
                0,
                0,
                lat,
                lon,
                0,
            )
            for lat, lon in corners
        ]
        ack = gcs.upload(fence, mission_type=M.MAV_MISSION_TYPE_FENCE)
        assert ack.type == M.MAV_MISSION_ACCEPTED
        assert gcs.wait_type("MISSION_CURRENT", lambda m: m.fence_id != 0).fence_id == ack.opaque_id
        _takeoff(gcs, "ardupilot")
        lat, lon = offset(HOME[0], HOME[1], 100, 0)
        assert (
            gcs.command_int(
                M.MAV_CMD_DO_REPOSITION,
                M.MAV_FRAME_GLOBAL_RELATIVE_ALT_INT,
                (-1, 1, 0, NAN),
                round(lat * 1e7),
                round(lon * 1e7),
                20,
            )
            == 0
        )
        gcs.wait_type("HEARTBEAT", lambda m: m.custom_mode == 6, timeout=60)  # RTL
        assert any("Fence Breach" in t for t in gcs.statustexts)
        north_m = (v.lat - HOME[0]) * 111_320
        assert 35 < north_m < 60  # turned back just past the 40 m edge
        gcs.close()


def test_gps_loss_and_motor_failure_land(mavic3t):
    with SimFleetThread(
        vehicles=2,
        autopilot="px4",
        airframe=mavic3t,
        home=HOME,
        speedup=SPEEDUP,
        seed=2,
        gcs_port=None,
        api_base_port=None,
        api_local_base_port=0,
    ) as ft:
        gcs = [Gcs(v.ports.pymavlink_api, target=v.sysid) for v in ft.vehicles]
        for g in gcs:
            g.wait_type("HOME_POSITION", timeout=30)
            _takeoff(g, "px4")
        a, b = ft.vehicles
        a.faults.gps_loss()
        b.faults.motor_failure()
        gcs[0].wait_type("GPS_RAW_INT", lambda m: m.fix_type < 2, timeout=30)
        gcs[0].wait_type("HEARTBEAT", lambda m: m.custom_mode == PX4_LAND, timeout=30)
        gcs[1].wait_type("HEARTBEAT", lambda m: m.custom_mode == PX4_LAND, timeout=30)
        for g in gcs:
            g.wait_type(
                "EXTENDED_SYS_STATE",
                lambda m: m.landed_state == M.MAV_LANDED_STATE_ON_GROUND,
                timeout=90,
            )
        assert any("Motor failure" in t for t in gcs[1].statustexts)
        # A vehicle with a failed motor refuses to arm again.
        gcs[1].wait_until(lambda: not b.armed, 60, "disarm")
        assert gcs[1].command(M.MAV_CMD_COMPONENT_ARM_DISARM, 1) == M.MAV_RESULT_DENIED
        for g in gcs:
            g.close()


PX4_MISSION = 4 << 16 | 4 << 24


def _until(gcs: Gcs, cond, timeout: float = 30.0) -> None:
    end = time.monotonic() + timeout
    while not cond():
        assert time.monotonic() < end, f"timed out; last texts {gcs.statustexts[-5:]}"
        gcs.recv()


@pytest.mark.parametrize("flavour", ["px4", "ardupilot"])
def test_a_waypoint_in_a_no_fly_zone_makes_px4_refuse_the_mission(mavic3t, flavour):
    """PX4 v1.16 SITL, seen flying a lane that ended on a no-fly zone's edge: it tests every
    mission position against the fence when either changes, says "Geofence violation for
    waypoint N", ACKs AUTO.MISSION and then stays where it is ("Switching to Mission is
    currently not available"). ArduPilot checks no waypoint and flies the mission."""
    fleet = SimFleetThread(
        vehicles=1, autopilot=flavour, airframe=mavic3t, home=HOME, speedup=60, seed=11,
        gcs_port=None, api_base_port=None, api_local_base_port=0,
    )  # fmt: skip
    with fleet as ft:
        v = ft.vehicles[0]
        gcs = Gcs(v.ports.pymavlink_api)
        gcs.wait_type("HOME_POSITION", timeout=30)
        # A 40 m no-fly square 60 m north of home; the second waypoint is inside it.
        zone = [
            offset(HOME[0], HOME[1], n, e) for n, e in [(40, -20), (40, 20), (80, 20), (80, -20)]
        ]
        fence = [
            (M.MAV_FRAME_GLOBAL_INT, M.MAV_CMD_NAV_FENCE_POLYGON_VERTEX_EXCLUSION, 4, 0, 0, 0,
             lat, lon, 0)
            for lat, lon in zone
        ]  # fmt: skip
        assert gcs.upload(fence, mission_type=M.MAV_MISSION_TYPE_FENCE).type == 0
        wps = [offset(HOME[0], HOME[1], n, 30) for n in (0, 60, 120)]
        wps[1] = offset(HOME[0], HOME[1], 60, 0)
        mission = [
            (M.MAV_FRAME_GLOBAL_RELATIVE_ALT_INT, M.MAV_CMD_NAV_WAYPOINT, 0, 0, 0, 0, lat, lon, 20)
            for lat, lon in wps
        ]
        if flavour == "ardupilot":
            mission = [mission[0], *mission]  # item 0 is ArduPilot's home
        assert gcs.upload(mission).type == M.MAV_MISSION_ACCEPTED
        _takeoff(gcs, flavour)
        if flavour == "px4":
            _until(
                gcs, lambda: any("Geofence violation for waypoint 2" in t for t in gcs.statustexts)
            )
            assert gcs.set_mode_px4(4, 4) == M.MAV_RESULT_ACCEPTED
            _until(
                gcs, lambda: any("Switching to Mission is currently" in t for t in gcs.statustexts)
            )
            gcs.wait_type("HEARTBEAT", lambda m: m.custom_mode == PX4_HOLD, timeout=30)
            assert _mode(gcs) != PX4_MISSION
            north_m = (v.lat - HOME[0]) * 111_320
            assert abs(north_m) < 5  # still over home
        else:
            assert gcs.command(M.MAV_CMD_MISSION_START, 0, 0) == M.MAV_RESULT_ACCEPTED
            # It flies into the zone, and its fence failsafe turns it back.
            _until(gcs, lambda: any("Fence Breach" in t for t in gcs.statustexts), timeout=60)
            assert not any("Geofence violation" in t for t in gcs.statustexts)
        gcs.close()
