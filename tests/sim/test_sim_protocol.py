"""Protocol details a ground station relies on: ids, parameters, streams, commands, faults."""

from __future__ import annotations

import math
import struct
import time

import pytest
from sim_gcs import HOME, Gcs, M, offset, takeoff, waypoint

from sim import SimFleetThread

NAN = math.nan


def _fleet(airframe, autopilot="px4", vehicles=1, **kw) -> SimFleetThread:
    """A simulated fleet on free ports with no broadcast ground station, at HOME."""
    return SimFleetThread(
        vehicles=vehicles,
        autopilot=autopilot,
        airframe=airframe,
        home=HOME,
        gcs_port=None,
        api_base_port=None,
        api_local_base_port=0,
        **kw,
    )


def test_autopilot_version_params_and_message_intervals(mavic3t):
    with _fleet(
        mavic3t,
        vehicles=2,
        speedup=5,
        seed=1,
        sysids=[7, 7],
        uids=[0x1111, 0x2222],
    ) as ft:
        uids = set()
        for v in ft.vehicles:
            gcs = Gcs(v.ports.pymavlink_api, target=7)
            assert gcs.command(M.MAV_CMD_REQUEST_MESSAGE, M.MAVLINK_MSG_ID_AUTOPILOT_VERSION) == 0
            # Sent before the ACK, so the command loop may already have received it.
            av = gcs.last.get("AUTOPILOT_VERSION") or gcs.wait_type("AUTOPILOT_VERSION")
            caps = av.capabilities
            for bit in (
                M.MAV_PROTOCOL_CAPABILITY_MISSION_INT,
                M.MAV_PROTOCOL_CAPABILITY_COMMAND_INT,
                M.MAV_PROTOCOL_CAPABILITY_MAVLINK2,
                M.MAV_PROTOCOL_CAPABILITY_MISSION_FENCE,
                M.MAV_PROTOCOL_CAPABILITY_MISSION_RALLY,
                M.MAV_PROTOCOL_CAPABILITY_PARAM_ENCODE_BYTEWISE,
            ):
                assert caps & bit
            uids.add(av.uid)
            gcs.close()
        assert uids == {0x1111, 0x2222}  # same sysid, told apart by uid

        v = ft.vehicles[0]
        gcs = Gcs(v.ports.pymavlink_api, target=7)
        # Full parameter list, PX4 integers byte-wise.
        gcs.conn.mav.param_request_list_send(7, 1)
        params: dict[str, float] = {}
        end = time.monotonic() + 20
        total = None
        while time.monotonic() < end and (total is None or len(params) < total):
            m = gcs.recv(0.1)
            if m is not None and m.get_type() == "PARAM_VALUE":
                params[m.param_id] = m.param_value
                total = m.param_count
        assert total is not None and len(params) == total
        for name in (
            "NAV_DLL_ACT",
            "COM_DL_LOSS_T",
            "COM_LOW_BAT_ACT",
            "RTL_RETURN_ALT",
            "MIS_TAKEOFF_ALT",
        ):
            assert name in params
        assert struct.unpack("<i", struct.pack("<f", params["COM_DL_LOSS_T"]))[0] == 10
        assert params["RTL_RETURN_ALT"] == 60.0
        # Streams: switch GPS_RAW_INT off, then ask for LOCAL_POSITION_NED at 2 Hz.
        assert gcs.command(M.MAV_CMD_SET_MESSAGE_INTERVAL, M.MAVLINK_MSG_ID_GPS_RAW_INT, -1) == 0
        assert (
            gcs.command(
                M.MAV_CMD_SET_MESSAGE_INTERVAL, M.MAVLINK_MSG_ID_LOCAL_POSITION_NED, 500_000
            )
            == 0
        )
        gcs.wait_type("LOCAL_POSITION_NED", timeout=10)
        gcs.last.pop("GPS_RAW_INT", None)
        t_end = time.monotonic() + 2.0
        while time.monotonic() < t_end:
            gcs.recv(0.1)
        assert "GPS_RAW_INT" not in gcs.last
        assert gcs.command(M.MAV_CMD_SET_MESSAGE_INTERVAL, 99999, 1000) == M.MAV_RESULT_UNSUPPORTED
        gcs.close()


def test_upload_survives_duplicates_reordering_and_latency(mavic3t):
    with _fleet(mavic3t, speedup=5, seed=1) as ft:
        v = ft.vehicles[0]
        v.faults.loss_pct = 10
        v.faults.duplicate_pct = 25
        v.faults.reorder_pct = 25
        v.faults.latency_ms = 40
        gcs = Gcs(v.ports.pymavlink_api)
        items = [waypoint(*offset(HOME[0], HOME[1], 10 * i, 5 * i), 30 + i) for i in range(12)]
        ack = gcs.upload(items)
        assert ack.type == M.MAV_MISSION_ACCEPTED
        got, opaque = gcs.download()
        assert opaque == ack.opaque_id
        assert [m.z for m in got] == [30.0 + i for i in range(12)]
        # Rally points and a clear.
        rally = [
            (
                M.MAV_FRAME_GLOBAL_RELATIVE_ALT_INT,
                M.MAV_CMD_NAV_RALLY_POINT,
                0,
                0,
                0,
                0,
                HOME[0],
                HOME[1],
                30,
            )
        ]
        assert gcs.upload(rally, mission_type=M.MAV_MISSION_TYPE_RALLY).type == 0
        assert len(v.plans[2]) == 1
        for _ in range(10):
            gcs.conn.mav.mission_clear_all_send(1, 1, M.MAV_MISSION_TYPE_MISSION)
            try:
                gcs.wait_type("MISSION_ACK", lambda m: m.mission_type == 0, timeout=2)
                break
            except TimeoutError:
                continue
        assert v.plans[0] == [] and len(v.plans[2]) == 1
        got, opaque = gcs.download()
        assert got == [] and opaque == 0
        gcs.close()


def test_flight_commands_px4(mavic3t):
    with _fleet(mavic3t, speedup=20, seed=4) as ft:
        v = ft.vehicles[0]
        gcs = Gcs(v.ports.pymavlink_api)
        gcs.wait_type("HOME_POSITION", timeout=30)
        items = [takeoff(20)] + [
            waypoint(*offset(HOME[0], HOME[1], 100 * (i + 1), 0), 20) for i in range(4)
        ]
        assert gcs.upload(items).type == 0
        assert gcs.command(M.MAV_CMD_COMPONENT_ARM_DISARM, 1) == 0
        # PX4 v1.16 refuses the command and honours the message (MISSION_CURRENT says so).
        assert gcs.command(M.MAV_CMD_DO_SET_MISSION_CURRENT, 2) == M.MAV_RESULT_UNSUPPORTED
        gcs.conn.mav.mission_set_current_send(1, 1, 2)
        gcs.wait_type("MISSION_CURRENT", lambda m: m.seq == 2)
        assert gcs.command(M.MAV_CMD_MISSION_START) == 0
        gcs.wait_until(lambda: 2 in gcs.reached, 60, "item 2")
        assert 1 not in gcs.reached  # started at item 2
        # Pause: PX4 holds; continue resumes the mission.
        assert gcs.command(M.MAV_CMD_DO_PAUSE_CONTINUE, 0) == 0
        gcs.wait_type("HEARTBEAT", lambda m: m.custom_mode == (4 << 16 | 3 << 24))
        assert gcs.command(M.MAV_CMD_DO_CHANGE_SPEED, 1, 4.0, -1) == 0
        assert gcs.command(M.MAV_CMD_DO_PAUSE_CONTINUE, 1) == 0
        gcs.wait_type("HEARTBEAT", lambda m: m.custom_mode == (4 << 16 | 4 << 24))
        gcs.wait_type("VFR_HUD", lambda m: 3.0 < m.groundspeed < 4.6, timeout=30)
        gcs.wait_until(lambda: gcs.reached[-1:] == [4], 90, "last item")
        # Orbit around a point 50 m east: the vehicle circles at ~radius.
        c_lat, c_lon = offset(HOME[0], HOME[1], 400, 50)
        r = gcs.command_int(
            M.MAV_CMD_DO_ORBIT,
            M.MAV_FRAME_GLOBAL_RELATIVE_ALT_INT,
            (30, 5, 0, 0),
            round(c_lat * 1e7),
            round(c_lon * 1e7),
            25,
        )
        assert r == 0
        time.sleep(4)
        cx, cy = v.to_local(c_lat, c_lon)
        assert abs(math.hypot(v.body.x - cx, v.body.y - cy) - 30) < 4
        # Gimbal: nadir by default, settable.
        # (earth-frame angles of a stabilised gimbal, within its residual error)
        assert abs(v.poses()[0].gimbal.pitch_deg + 90) < 1
        assert gcs.command(M.MAV_CMD_DO_GIMBAL_MANAGER_PITCHYAW, -45, 0) == 0
        true, est, ts = v.poses()
        assert abs(true.gimbal.pitch_deg + 45) < 1 and abs(true.alt_agl_m - 25) < 2
        assert abs(ts - ft.fleet.clock.unix_s()) < 5
        # The estimated pose is what GLOBAL_POSITION_INT reports: near, not equal.
        north_err_m = (est.lat - true.lat) * 111_320
        assert abs(north_err_m) + abs(est.lon - true.lon) > 0 and abs(north_err_m) < 5
        gcs.close()


def test_resent_command_answered_with_first_result_or_executed_again(mavic3t):
    with _fleet(mavic3t, autopilot="ardupilot", speedup=20, seed=4) as ft:
        v = ft.vehicles[0]
        gcs = Gcs(v.ports.pymavlink_api)
        gcs.wait_type("HOME_POSITION", timeout=30)
        assert gcs.set_mode_ap(4) == M.MAV_RESULT_ACCEPTED  # GUIDED
        assert gcs.command(M.MAV_CMD_COMPONENT_ARM_DISARM, 1) == M.MAV_RESULT_ACCEPTED
        # Three ACKs lost, 1 s apart: the fourth try, by its higher confirmation, is known
        # as a re-send and gets the first answer even after the 3 s a COMMAND_INT has.
        v.faults.drop_next_ack(M.MAV_CMD_NAV_TAKEOFF, 3)
        t0 = time.monotonic()
        assert gcs.command(M.MAV_CMD_NAV_TAKEOFF, 0, 0, 0, NAN, 0, 0, 10) == 0
        assert time.monotonic() - t0 > 3.0 and v.acks_to_drop[M.MAV_CMD_NAV_TAKEOFF] == 0
        assert not v.landed
        # Real autopilots execute a re-send again: ArduPilot refuses a take-off in the air.
        v.faults.execute_resent_commands = True
        r = gcs.command(M.MAV_CMD_NAV_TAKEOFF, 0, 0, 0, NAN, 0, 0, 10)
        assert r == M.MAV_RESULT_FAILED
        gcs.close()


def test_kill_and_restart(mavic3t):
    with _fleet(mavic3t, autopilot="ardupilot", speedup=5, seed=4, tcp_base_port=0) as ft:
        v = ft.vehicles[0]
        gcs = Gcs(v.ports.pymavlink_tcp)  # ArduPilot's TCP port
        first = gcs.wait_type("GLOBAL_POSITION_INT", timeout=20)
        v.faults.kill()
        time.sleep(0.5)
        while gcs.recv(0.3) is not None:
            pass
        assert gcs.recv(1.0) is None  # silent
        v.faults.restart()
        gcs.wait_until(lambda: any("booted" in t for t in gcs.statustexts), 20, "boot text")
        again = gcs.wait_type("GLOBAL_POSITION_INT", timeout=20)
        assert again.time_boot_ms < first.time_boot_ms + 20_000
        gcs.close()


def test_stream_rates_follow_simulated_time_and_vtol_identity():
    from groundctl.config import airframe

    with _fleet(airframe("trinity_f90"), speedup=4, seed=1) as ft:
        gcs = Gcs(ft.vehicles[0].ports.pymavlink_api)
        counts: dict[str, int] = {}
        boot: list[int] = []
        end = time.monotonic() + 4.0
        while time.monotonic() < end:
            m = gcs.recv(0.1)
            if m is None:
                continue
            counts[m.get_type()] = counts.get(m.get_type(), 0) + 1
            if m.get_type() == "GLOBAL_POSITION_INT":
                boot.append(m.time_boot_ms)
            if m.get_type() == "HEARTBEAT":
                assert m.type == 22  # MAV_TYPE_VTOL_FIXEDROTOR
            if m.get_type() == "EXTENDED_SYS_STATE":
                assert m.vtol_state == M.MAV_VTOL_STATE_MC
        sim_s = (boot[-1] - boot[0]) / 1000
        assert sim_s > 5
        # Per simulated second: HEARTBEAT 1 Hz, GLOBAL_POSITION_INT 5 Hz, ATTITUDE 10 Hz.
        assert counts["HEARTBEAT"] / sim_s == pytest.approx(1.0, rel=0.3)
        assert counts["GLOBAL_POSITION_INT"] / sim_s == pytest.approx(5.0, rel=0.3)
        assert counts["ATTITUDE"] / sim_s == pytest.approx(10.0, rel=0.3)
        for t in (
            "SYS_STATUS",
            "BATTERY_STATUS",
            "GPS_RAW_INT",
            "HOME_POSITION",
            "VFR_HUD",
            "MISSION_CURRENT",
        ):
            assert counts.get(t, 0) >= 1, t
        gcs.close()
