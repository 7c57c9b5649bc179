"""A system id claimed by a second source never takes over a flying drone (issue #18, item 1).

The real simulator over real UDP sockets: a drone flies; then a second simulated vehicle with
the same system id (another autopilot uid), or a spoofer sending heartbeats and positions for
system id 1 from another port, talks to the same ground port.
"""

from __future__ import annotations

import asyncio
import os
import socket

import pytest

from groundctl.link import LinkEventKind
from groundctl.link.link import MavLink
from groundctl.link.pymav import PymavVehicle

os.environ.setdefault("MAVLINK20", "1")
from pymavlink.dialects.v20 import common as m2

sim = pytest.importorskip("sim")

pytestmark = [pytest.mark.timeout(120), pytest.mark.slow]

HOME = (47.397742, 8.545594, 488.0)
FAR = (47.41, 8.56, 500.0)  # the second vehicle's home, about 1.7 km away


def fleet_kw(link: MavLink, **kw):
    return dict(
        autopilot="px4", speedup=10, seed=1, gcs_port=link.local_port, gcs_local_base_port=0,
        api_base_port=None, api_local_base_port=0, tcp_base_port=0, **kw,
    )  # fmt: skip


async def airborne(link: MavLink, fleet) -> PymavVehicle:
    v = PymavVehicle(link, await link.wait_vehicle(1, 20))
    await v.telemetry.wait_for(
        lambda s: s.home is not None and s.gps is not None and s.gps.has_3d_fix and v.rec.uid,
        60,
        "GPS fix, home and uid",
    )
    await v.action.arm()
    await v.action.takeoff(20)
    await v.telemetry.wait_for(
        lambda s: s.position is not None and s.position.alt_rel_m > 15, 60, "take-off altitude"
    )
    return v


def near(st, lat: float, lon: float) -> bool:
    return abs(st.position.lat - lat) < 2e-4 and abs(st.position.lon - lon) < 2e-4


async def test_second_vehicle_with_same_sysid_never_takes_over_a_flying_drone(caplog) -> None:
    link = await MavLink.open("udpin://127.0.0.1:0", heartbeat_timeout_s=2.0)
    try:
        async with sim.SimFleet(vehicles=1, home=HOME, uids=[0xAAAA], **fleet_kw(link)) as f1:
            v = await airborne(link, f1)
            own = v.rec.address
            events = v.telemetry.events()
            async with sim.SimFleet(vehicles=1, home=FAR, uids=[0xBBBB], **fleet_kw(link)) as f2:
                seen = []
                async with asyncio.timeout(20):
                    while LinkEventKind.DUPLICATE_SYSID not in [e.kind for e in seen]:
                        seen.append(await anext(events))
                dup = next(e for e in seen if e.kind == LinkEventKind.DUPLICATE_SYSID)
                assert set(dup.data["uids"]) == {0xAAAA, 0xBBBB}
                # Several seconds of both talking: nothing of the second is merged.
                for _ in range(12):
                    await asyncio.sleep(0.5)
                    st = v.telemetry.state()
                    a = f1.vehicles[0]
                    assert st.link_ok and st.armed and st.position.alt_rel_m > 10
                    assert near(st, a.lat, a.lon), "position is the flying drone's"
                while not events._queue.empty():
                    seen.append(events._queue.get_nowait())
                kinds = {e.kind for e in seen}
                assert LinkEventKind.REBOOTED not in kinds and LinkEventKind.LINK_LOST not in kinds
                assert v.telemetry.state().reboots == 0
                assert v.rec.address == own and v.rec.addresses == {own}
                # It is still commanded, at its own address only: return to launch.
                await v.action.return_to_launch()
                await v.telemetry.wait_for(lambda s: "RTL" in s.mode_name, 20, "RTL")
                assert "RTL" in f1.vehicles[0].mode_name
                b = f2.vehicles[0]
                assert not b.armed and "RTL" not in b.mode_name, "the other vehicle untouched"
                assert dup.data["sources"][0] == f"{own[0]}:{own[1]}"
                assert dup.data["sources"][1] != dup.data["sources"][0]
                assert any(
                    r.levelname == "ERROR" and dup.data["sources"][1] in r.getMessage()
                    for r in caplog.records
                ), "a log error names the other source"
            await events.aclose()
            await v.close()
    finally:
        await link.close()


async def test_spoofed_heartbeats_and_positions_are_not_merged() -> None:
    link = await MavLink.open("udpin://127.0.0.1:0", heartbeat_timeout_s=2.0)
    spoof = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    spoof.bind(("127.0.0.1", 0))
    mav = m2.MAVLink(None, srcSystem=1, srcComponent=1)
    try:
        async with sim.SimFleet(vehicles=1, home=HOME, **fleet_kw(link)) as fleet:
            v = await airborne(link, fleet)
            events = v.telemetry.events()

            async def spoofing() -> None:
                t = 0
                while True:
                    t += 1
                    hb = m2.MAVLink_heartbeat_message(
                        m2.MAV_TYPE_QUADROTOR, m2.MAV_AUTOPILOT_PX4, 0, 0, 3, 3
                    )
                    pos = m2.MAVLink_global_position_int_message(
                        10 * t, int(FAR[0] * 1e7), int(FAR[1] * 1e7), 0, 0, 0, 0, 0, 0
                    )
                    for msg in (hb, pos):
                        spoof.sendto(msg.pack(mav), ("127.0.0.1", link.local_port))
                    await asyncio.sleep(0.1)

            task = asyncio.create_task(spoofing())
            try:
                seen = []
                async with asyncio.timeout(15):
                    while LinkEventKind.DUPLICATE_SYSID not in [e.kind for e in seen]:
                        seen.append(await anext(events))
                        st = v.telemetry.state()
                        assert near(st, fleet.vehicles[0].lat, fleet.vehicles[0].lon)
                assert v.telemetry.state().reboots == 0
                assert LinkEventKind.REBOOTED not in {e.kind for e in seen}
                # The spoofer's heartbeats do not keep a dead drone "alive".
                fleet.vehicles[0].faults.kill()
                async with asyncio.timeout(10):
                    while (await anext(events)).kind != LinkEventKind.LINK_LOST:
                        pass
                assert not v.telemetry.state().link_ok
                assert near(v.telemetry.state(), HOME[0], HOME[1])
            finally:
                task.cancel()
            await events.aclose()
            await v.close()
    finally:
        spoof.close()
        await link.close()
