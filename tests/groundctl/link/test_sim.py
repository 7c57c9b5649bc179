"""The link layer against the simulator (`sim/`): real MAVLink over real UDP/TCP sockets."""

from __future__ import annotations

import asyncio
import contextlib
import math

import pytest

from groundctl.link import (
    FlightMode,
    LinkEventKind,
    MissionType,
    Vehicle,
)
from groundctl.link.link import MavLink
from groundctl.link.manager import LinkManager
from groundctl.link.pymav import PymavVehicle

sim = pytest.importorskip("sim")
if not hasattr(sim, "SimFleet"):  # the simulator is built in parallel (issue 4)
    pytest.skip("sim.SimFleet not available", allow_module_level=True)

pytestmark = [pytest.mark.timeout(120), pytest.mark.slow]

HOME = (47.397742, 8.545594, 488.0)
SPEEDUP = 10


def square(n: int = 8, alt: float = 30.0, *, start: int = 0) -> list[dict]:
    """A small sweep as the planner gives it: NAV_WAYPOINTs, relative altitude frame."""
    lat0, lon0 = HOME[0] + 0.0003, HOME[1]
    pts = []
    for i in range(start, start + n):
        lat = lat0 + 0.0002 * (i // 2)
        lon = lon0 + (0.0004 if i % 4 in (1, 2) else 0.0)
        pts.append(
            {
                "seq": i,
                "frame": 6,
                "command": 16,
                "params": (0, 0, 0, math.nan),
                "x": round(lat * 1e7),
                "y": round(lon * 1e7),
                "z": alt,
            }
        )
    return pts


@contextlib.asynccontextmanager
async def flying(n: int = 1, autopilot: str = "px4", **kw):
    link = await MavLink.open(
        "udpin://127.0.0.1:0", heartbeat_timeout_s=kw.pop("heartbeat_timeout_s", 2.0)
    )
    try:
        async with sim.SimFleet(
            vehicles=n, autopilot=autopilot, home=HOME, speedup=SPEEDUP, seed=1,
            gcs_port=link.local_port, gcs_local_base_port=0, api_base_port=None, api_local_base_port=0, tcp_base_port=0, **kw,
        ) as fleet:  # fmt: skip
            yield link, fleet
    finally:
        await link.close()


async def ready(link: MavLink, sysid: int = 1) -> PymavVehicle:
    v = PymavVehicle(link, await link.wait_vehicle(sysid, 20))
    await v.telemetry.wait_for(
        lambda s: s.home is not None and s.gps is not None and s.gps.has_3d_fix,
        60,
        "GPS fix and home",
    )
    return v


async def fly_mission(v: Vehicle, items: list[dict]) -> None:
    await v.action.arm()
    await v.telemetry.wait_for(lambda s: s.armed, 10, "armed")
    await v.action.takeoff(20)
    await v.telemetry.wait_for(
        lambda s: s.position is not None and s.position.alt_rel_m > 15, 60, "take-off altitude"
    )
    await v.action.start_mission()
    await v.telemetry.wait_for(lambda s: s.mode == FlightMode.MISSION, 20, "mission mode")
    await v.telemetry.wait_for(
        lambda s: len(s.mission.reached) >= len(items), 90, "every item reached"
    )


async def test_px4_mode_arm_takeoff_mission_and_no_reupload() -> None:
    async with flying(1, "px4") as (link, fleet):
        v = await ready(link)
        assert v.identity.autopilot == "px4" and v.identity.uid == fleet.vehicles[0].uid
        stream = v.telemetry.subscribe()
        first, second = await anext(stream), await anext(stream)
        assert first.sysid == second.sysid == 1 and second.position is not None
        await stream.aclose()
        items = square(8)
        opaque = await v.mission.upload(items)
        assert opaque != 0
        await v.action.set_mode("AUTO.LOITER")
        await v.telemetry.wait_for(lambda s: s.mode_name == "AUTO.LOITER", 10, "hold")
        # identical mission: recognised by the opaque id, nothing sent
        await v.telemetry.wait_for(
            lambda s: s.mission.mission_id == opaque, 10, "MISSION_CURRENT id"
        )
        requests: list[object] = []
        remove = link.add_listener(
            1, lambda m: requests.append(m) if m.get_type().startswith("MISSION_REQUEST") else None
        )
        assert not await v.mission.upload_if_changed(items)
        assert await v.mission.upload_if_changed(square(9))  # a different one is uploaded
        remove()
        assert requests, "the changed mission must have been uploaded"
        assert len(fleet.vehicles[0].plans[0]) == 9
        # a restarted ground station only knows the id from its journal: still no re-upload
        fresh = PymavVehicle(link, link.vehicles[1])
        known = v.mission.last_upload[0][1]
        assert await fresh.mission.matches(square(9), known_id=known)
        assert not await fresh.mission.matches(square(9, alt=35), known_id=known + 1)
        await fresh.close()
        await fly_mission(v, square(9))
        assert list(fleet.vehicles[0].reached)[-1] == 8
        await v.action.return_to_launch()
        await v.telemetry.wait_for(lambda s: s.mode == FlightMode.RETURN, 10, "RTL")
        await v.close()


async def test_ardupilot_guided_takeoff_mission_start_and_home_item() -> None:
    async with flying(1, "ardupilot") as (link, fleet):
        v = await ready(link)
        assert v.identity.autopilot == "ardupilot"
        items = square(6)
        await v.mission.upload(items)
        # seq 0 is home on ArduPilot: the vehicle holds one more item, we see ours only
        assert len(fleet.vehicles[0].plans[0]) == 7
        back = await v.mission.download()
        assert [b.content_key()[1:] for b in back] == [
            b.content_key()[1:]
            for b in __import__("groundctl.link", fromlist=["coerce_items"]).coerce_items(items)
        ]
        assert await v.mission.matches(items)
        # caller numbering (no home) both ways: item 2 is the vehicle's seq 3
        await v.action.set_current_item(2)
        await v.telemetry.wait_for(lambda s: s.mission.current_seq == 2, 10, "current item 2")
        assert fleet.vehicles[0].mission_progress[0] == 3
        await v.action.set_current_item(0)
        await v.action.set_mode(FlightMode.GUIDED)
        await v.telemetry.wait_for(lambda s: s.mode_name == "GUIDED", 10, "GUIDED")
        await fly_mission(v, items)
        assert v.telemetry.state().mode_name == "AUTO"
        await v.action.land()
        await v.telemetry.wait_for(lambda s: s.mode == FlightMode.LAND, 10, "LAND")
        await v.close()


async def test_ardupilot_takeoff_survives_a_lost_ack_and_a_refused_resend() -> None:
    """Real ArduPilot executes a re-sent take-off again and refuses it once airborne."""
    from pymavlink.dialects.v20 import common as M

    from groundctl.link.errors import CommandDenied

    async with flying(1, "ardupilot") as (link, fleet):
        sv = fleet.vehicles[0]
        sv.faults.execute_resent_commands = True
        v = await ready(link)
        await v.action.set_mode(FlightMode.GUIDED)
        await v.action.arm()
        await v.telemetry.wait_for(lambda s: s.armed, 10, "armed")
        sv.faults.drop_next_ack(M.MAV_CMD_NAV_TAKEOFF)
        await v.action.takeoff(15)
        assert sv.acks_to_drop[M.MAV_CMD_NAV_TAKEOFF] == 0  # the first ACK was really lost
        await v.telemetry.wait_for(
            lambda s: s.position is not None and s.position.alt_rel_m > 10, 60, "climb"
        )
        # A refusal for a real reason still reaches the caller.
        await v.action.land()
        await v.telemetry.wait_for(lambda s: not s.armed, 90, "landed and disarmed")
        with pytest.raises(CommandDenied) as refused:
            await v.action.takeoff(15)
        assert not refused.value.resent and "FAILED" in str(refused.value)
        await v.close()


async def test_ardupilot_over_tcp_and_params() -> None:
    async with sim.SimFleet(
        vehicles=1,
        autopilot="ardupilot",
        home=HOME,
        speedup=SPEEDUP,
        seed=2,
        gcs_port=None,
        api_base_port=None,
        api_local_base_port=0,
        tcp_base_port=0,
    ) as fleet:
        mgr = LinkManager(gcs_sysid=250)
        try:
            v = await mgr.vehicle(fleet.vehicles[0].ports.tcp_url, sysid=1, timeout_s=20)
            assert v.identity.autopilot == "ardupilot"
            await v.params.set("RTL_ALT", 4500)
            assert await v.params.get("RTL_ALT") == 4500
            assert fleet.vehicles[0].params["RTL_ALT"] == 4500
        finally:
            await mgr.close()


async def test_upload_with_20pct_loss_and_200ms_latency() -> None:
    async with flying(1, "px4", loss_pct=20, latency_ms=200, heartbeat_timeout_s=5.0) as (
        link,
        fleet,
    ):
        v = PymavVehicle(link, await link.wait_vehicle(1, 30))
        items = square(20)
        await v.mission.upload(items)
        held = fleet.vehicles[0].plans[0]
        assert len(held) == 20 and [it.x for it in held] == [it["x"] for it in items]
        fence = [
            {
                "seq": i,
                "frame": 0,
                "command": 5001,
                "params": (4, 0, 0, 0),
                "x": round((HOME[0] + dlat) * 1e7),
                "y": round((HOME[1] + dlon) * 1e7),
                "z": 0,
            }
            for i, (dlat, dlon) in enumerate(
                [(-0.01, -0.01), (0.01, -0.01), (0.01, 0.01), (-0.01, 0.01)]
            )
        ]
        await v.mission.upload(fence, MissionType.FENCE)
        assert len(fleet.vehicles[0].plans[1]) == 4
        rally = [
            {
                "seq": i,
                "frame": 6,
                "command": 5100,
                "params": (0, 0, 0, 0),
                "x": round((HOME[0] + 0.001 * i) * 1e7),
                "y": round(HOME[1] * 1e7),
                "z": 30,
            }
            for i in range(2)
        ]
        await v.mission.upload(rally, MissionType.RALLY)
        back = await v.mission.download(MissionType.RALLY)
        assert [(b.command, b.x) for b in back] == [(5100, r["x"]) for r in rally]
        assert [(b.command, b.x) for b in await v.mission.download(MissionType.FENCE)] == [
            (5001, f["x"]) for f in fence
        ]
        await v.close()


async def test_duplicate_sysids_are_reported() -> None:
    async with flying(2, "px4", sysids=[1, 1], uids=[0xAAAA, 0xBBBB]) as (link, _fleet):
        rec = await link.wait_vehicle(1, 20)
        v = PymavVehicle(link, rec)
        events = v.telemetry.events()
        ev = await asyncio.wait_for(anext(events), 20)
        while ev.kind != LinkEventKind.DUPLICATE_SYSID:
            ev = await asyncio.wait_for(anext(events), 20)
        assert set(ev.data["uids"]) == {0xAAAA, 0xBBBB}
        # Two ports: the first is the vehicle's own link, the other is shut out (see
        # test_identity.py); the vehicle stays commandable at its own address.
        assert v.rec.conflict and not v.rec.duplicate and len(v.rec.addresses) == 1
        assert ev.data["sources"][1] in ev.detail
        await v.mission.upload(square(3))
        own = [fv for fv in _fleet.vehicles if fv.uid == v.rec.uid]
        assert len(own) == 1 and len(own[0].plans[0]) == 3
        assert [len(fv.plans[0]) for fv in _fleet.vehicles if fv.uid != v.rec.uid] == [0]
        await v.close()


async def test_link_loss_reboot_and_reconnect_keep_state() -> None:
    async with flying(2, "px4") as (link, fleet):
        v1, v2 = await ready(link, 1), await ready(link, 2)
        items = square(5)
        opaque = await v1.mission.upload(items)
        await v2.mission.upload(square(7))
        events = v1.telemetry.events()
        fleet.vehicles[0].faults.kill()
        seen = []
        while LinkEventKind.LINK_LOST not in seen:
            seen.append((await asyncio.wait_for(anext(events), 20)).kind)
        st = v1.telemetry.state()
        assert not st.link_ok and st.mission.total == 5 and st.home is not None
        assert v2.telemetry.state().link_ok, "the other vehicle on the link is unaffected"
        fleet.vehicles[0].faults.restart()
        while not {LinkEventKind.LINK_RESTORED, LinkEventKind.REBOOTED} <= set(seen):
            seen.append((await asyncio.wait_for(anext(events), 30)).kind)
        st = await v1.telemetry.wait_for(
            lambda s: s.mission.mission_id == opaque, 20, "mission id after reboot"
        )
        assert st.link_ok and st.reboots == 1
        assert not await v1.mission.upload_if_changed(items), (
            "same mission after reconnect: no re-upload"
        )
        assert len(fleet.vehicles[1].plans[0]) == 7, "no waypoint leaked into the other vehicle"
        for v in (v1, v2):
            await v.close()


async def test_mavsdk_backend_flies_a_mission_on_px4() -> None:
    from groundctl.link.mavsdk_backend import MavsdkVehicle

    async with sim.SimFleet(
        vehicles=1,
        autopilot="px4",
        home=HOME,
        speedup=SPEEDUP,
        seed=3,
        gcs_port=None,
        api_base_port=None,
        api_local_base_port=0,
        tcp_base_port=0,
    ) as fleet:
        v = await MavsdkVehicle.connect(fleet.vehicles[0].ports.api_url, sysid=1, timeout_s=30)
        try:
            assert v.identity.backend == "mavsdk" and v.identity.uid == fleet.vehicles[0].uid
            await v.telemetry.wait_for(
                lambda s: s.home is not None and s.gps is not None and s.gps.fix_type >= 3,
                60,
                "GPS and home",
            )
            items = square(5)
            await v.mission.upload(items)
            assert len(fleet.vehicles[0].plans[0]) == 5
            assert await v.mission.matches(items)
            await fly_mission(v, items)
            assert list(fleet.vehicles[0].reached)[-1] == 4
        finally:
            await v.close()


@pytest.mark.parametrize("autopilot", ["px4", "ardupilot"])
async def test_in_flight_actions(autopilot: str) -> None:
    """pause/resume, speed, go-to, orbit (ArduPilot: hold over the point), RTL."""
    async with flying(1, autopilot) as (link, fleet):
        v = await ready(link)
        sv = fleet.vehicles[0]
        items = square(8)
        await v.mission.upload(items)
        await v.action.arm()
        await v.action.takeoff(20)
        await v.telemetry.wait_for(lambda s: s.position.alt_rel_m > 15, 60, "take-off altitude")
        await v.action.start_mission()
        await v.telemetry.wait_for(lambda s: len(s.mission.reached) >= 2, 60, "two items")
        await v.action.pause()
        await v.telemetry.wait_for(lambda s: s.position.ground_speed_ms < 0.5, 30, "stopped")
        held = len(v.telemetry.state().mission.reached)
        await v.action.set_speed(4.0)
        await v.action.resume()
        await v.telemetry.wait_for(lambda s: len(s.mission.reached) > held, 60, "mission resumed")
        home = v.telemetry.state().home
        target = (HOME[0] + 0.0006, HOME[1] + 0.0006, home.alt_amsl_m + 25)
        await v.action.goto(*target)
        await v.telemetry.wait_for(
            lambda s: (
                abs(s.position.lat - target[0]) < 2e-5 and abs(s.position.lon - target[1]) < 2e-5
            ),
            60,
            "go-to point",
        )
        result = await v.action.orbit(target[0], target[1], target[2], radius_m=15)
        assert result.orbiting == (autopilot == "px4"), result
        if autopilot == "px4":

            def on_circle(s) -> bool:
                dn = (s.position.lat - target[0]) * 111_320
                de = (s.position.lon - target[1]) * 111_320 * math.cos(math.radians(target[0]))
                return abs(math.hypot(dn, de) - 15) < 4 and s.position.ground_speed_ms > 1

            await v.telemetry.wait_for(on_circle, 60, "flying the 15 m circle")
        await v.action.return_to_launch()
        await v.telemetry.wait_for(lambda s: s.mode == FlightMode.RETURN, 10, "RTL")
        assert sv.armed
        await v.close()


async def test_open_vehicle_udpout_gcs_sysid_and_link_released() -> None:
    """ArduPilot only counts heartbeats of its own GCS id (MAV_GCS_SYSID) for failsafes."""
    from groundctl.link import open_vehicle
    from groundctl.link.manager import default_manager

    async with sim.SimFleet(
        vehicles=1,
        autopilot="ardupilot",
        home=HOME,
        speedup=SPEEDUP,
        seed=4,
        gcs_port=None,
        api_base_port=None,
        api_local_base_port=0,
        tcp_base_port=0,
    ) as fleet:
        sv = fleet.vehicles[0]
        sv.params["MAV_GCS_SYSID"] = 200
        url = sv.ports.api_url
        v = await open_vehicle(url, sysid=1, gcs_sysid=200, timeout_s=20)
        assert v is await open_vehicle(url, sysid=1)
        await v.telemetry.wait_for(lambda s: s.gps is not None, 30, "GPS")
        for _ in range(50):
            if sv._gcs_seen:  # the simulator's own record of a GCS heartbeat it accepted
                break
            await asyncio.sleep(0.1)
        else:
            pytest.fail("the vehicle never accepted our heartbeat as its GCS")
        await v.close()
        await asyncio.sleep(0.1)
        assert not default_manager().links, "closing the last vehicle closes its link"


async def test_tcp_link_reconnects_after_the_autopilot_restarts() -> None:
    """The TCP server (ArduPilot SITL's 5760) goes away and comes back: the same Vehicle
    object reconnects by itself and keeps its state."""
    import socket

    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    kw = dict(
        vehicles=1,
        autopilot="ardupilot",
        home=HOME,
        speedup=SPEEDUP,
        gcs_port=None,
        api_base_port=None,
        api_local_base_port=0,
        tcp_base_port=port,
    )
    mgr = LinkManager(heartbeat_timeout_s=1.5)
    try:
        async with sim.SimFleet(seed=5, **kw):
            v = await mgr.vehicle(f"tcp://127.0.0.1:{port}", sysid=1, timeout_s=20)
            await v.telemetry.wait_for(lambda st: st.home is not None, 30, "home")
            await v.mission.upload(square(4))
            events = v.telemetry.events()
        seen = []
        while LinkEventKind.LINK_LOST not in seen:
            seen.append((await asyncio.wait_for(anext(events), 20)).kind)
        async with sim.SimFleet(seed=5, **kw) as fleet:
            # (No REBOOTED expected: the new autopilot's uptime already exceeds the old one
            # when TCP reconnects, and uptime going backwards is what identifies a reboot.)
            while LinkEventKind.LINK_RESTORED not in seen:
                seen.append((await asyncio.wait_for(anext(events), 30)).kind)
            st = v.telemetry.state()
            assert st.link_ok and st.home is not None
            assert await v.mission.upload_if_changed(square(4)), (
                "the new autopilot lacks the mission"
            )
            assert len(fleet.vehicles[0].plans[0]) == 5  # home + 4
    finally:
        await mgr.close()
