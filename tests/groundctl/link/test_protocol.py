"""Command and mission protocols against a scripted pymavlink peer over real loopback UDP."""

from __future__ import annotations

import asyncio
import os

import pytest
from link_peer import Peer, PeerScript, m2

from groundctl.link import CommandDenied, MissionType, Timeout, UnsupportedError
from groundctl.link.commands import send_command
from groundctl.link.link import MavLink
from groundctl.link.missionproto import download_plan, upload_plan
from groundctl.link.pymav import PymavVehicle
from groundctl.link.types import MissionItem

pytestmark = pytest.mark.timeout(60)


async def _setup(
    script: PeerScript | None = None,
    sysid: int = 1,
    key: bytes | None = None,
    peer_key: bytes | None = None,
):
    link = await MavLink.open("udpin://127.0.0.1:0", heartbeat_timeout_s=1.0, signing_key=key)
    peer = Peer(sysid, link.local_port, script, signing_key=peer_key)
    await peer.start()
    return link, peer


def _items(n: int) -> list[MissionItem]:
    return [
        MissionItem(
            i,
            m2.MAV_FRAME_GLOBAL_RELATIVE_ALT_INT,
            m2.MAV_CMD_NAV_WAYPOINT,
            0,
            0,
            0,
            float("nan"),
            473977000 + i * 100,
            85455000,
            30.0,
        )
        for i in range(n)
    ]


async def test_discovery_identity_and_gcs_heartbeat() -> None:
    link, peer = await _setup(PeerScript(uid=0xABCDEF))
    try:
        rec = await link.wait_vehicle(1, timeout_s=10)
        v = PymavVehicle(link, rec)
        await v.telemetry.wait_for(lambda s: s.position is not None, 10, "position")
        for _ in range(50):
            if rec.uid:
                break
            await asyncio.sleep(0.1)
        ident = v.identity
        assert (
            ident.autopilot == "px4" and ident.uid == 0xABCDEF and ident.vehicle_type == "quadrotor"
        )
        assert ident.firmware == "1.15.0"
        st = v.telemetry.state()
        assert st.link_ok and st.position.lat == pytest.approx(47.3977)
        await asyncio.sleep(1.2)
        hbs = [m for m in peer.received if m.get_type() == "HEARTBEAT"]
        assert hbs and hbs[0].get_srcSystem() == 255 and hbs[0].type == m2.MAV_TYPE_GCS
        await v.close()
    finally:
        await peer.stop()
        await link.close()


async def test_command_results() -> None:
    script = PeerScript(
        command_results={
            m2.MAV_CMD_COMPONENT_ARM_DISARM: [(m2.MAV_RESULT_DENIED, 0)],
            m2.MAV_CMD_DO_SET_MODE: [
                (m2.MAV_RESULT_TEMPORARILY_REJECTED, 0),
                (m2.MAV_RESULT_TEMPORARILY_REJECTED, 0),
                (m2.MAV_RESULT_ACCEPTED, 0),
            ],
            m2.MAV_CMD_PREFLIGHT_CALIBRATION: [
                (m2.MAV_RESULT_IN_PROGRESS, 40),
                (m2.MAV_RESULT_ACCEPTED, 100),
            ],
            m2.MAV_CMD_DO_ORBIT: [(m2.MAV_RESULT_UNSUPPORTED, 0)],
        },
        ignore_commands={m2.MAV_CMD_NAV_RETURN_TO_LAUNCH: 2, m2.MAV_CMD_NAV_LAND: 99},
        statustext_before_ack={m2.MAV_CMD_COMPONENT_ARM_DISARM: "Preflight Fail: No GPS fix"},
    )
    link, peer = await _setup(script)
    try:
        await link.wait_vehicle(1, 10)
        with pytest.raises(CommandDenied) as e:
            await send_command(link, 1, 1, m2.MAV_CMD_COMPONENT_ARM_DISARM, [1])
        assert e.value.result_name == "DENIED" and "No GPS fix" in e.value.reason
        # TEMPORARILY_REJECTED twice, then accepted: retried with backoff
        await send_command(link, 1, 1, m2.MAV_CMD_DO_SET_MODE, [1, 4, 3])
        assert sum(c.command == m2.MAV_CMD_DO_SET_MODE for c in peer.commands) == 3
        progress: list[int] = []
        await send_command(
            link, 1, 1, m2.MAV_CMD_PREFLIGHT_CALIBRATION, [1], on_progress=progress.append
        )
        assert progress == [40]
        with pytest.raises(UnsupportedError):
            await send_command(link, 1, 1, m2.MAV_CMD_DO_ORBIT, [10], use_int=True)
        # two lost commands: resent with the confirmation field counting up
        await send_command(link, 1, 1, m2.MAV_CMD_NAV_RETURN_TO_LAUNCH, timeout_s=0.3)
        confs = [
            c.confirmation for c in peer.commands if c.command == m2.MAV_CMD_NAV_RETURN_TO_LAUNCH
        ]
        assert confs == [0, 1, 2]
        with pytest.raises(Timeout):
            await send_command(link, 1, 1, m2.MAV_CMD_NAV_LAND, timeout_s=0.2, retries=2)
    finally:
        await peer.stop()
        await link.close()


@pytest.mark.parametrize("variant", ["plain", "legacy_requests", "repeated_requests", "lost_items"])
async def test_mission_upload_variants(variant: str) -> None:
    script = PeerScript(
        legacy_requests=variant == "legacy_requests",
        request_each_twice=variant == "repeated_requests",
        drop_every_nth_item=7 if variant == "lost_items" else 0,
    )
    link, peer = await _setup(script)
    try:
        await link.wait_vehicle(1, 10)
        items = _items(25)
        await upload_plan(link, 1, 1, items, MissionType.MISSION, timeout_s=0.5)
        assert [it.seq for it in peer.stored] == list(range(25))
        assert [it.x for it in peer.stored] == [
            it.x for it in items
        ] or variant == "legacy_requests"
        if variant != "legacy_requests":
            got = await download_plan(link, 1, 1, MissionType.MISSION)
            assert [g.content_key() for g in got] == [i.content_key() for i in items]
    finally:
        await peer.stop()
        await link.close()


async def test_messages_filtered_by_sysid() -> None:
    link = await MavLink.open("udpin://127.0.0.1:0", heartbeat_timeout_s=1.0)
    a, b = Peer(1, link.local_port), Peer(2, link.local_port)
    await a.start()
    await b.start()
    try:
        va = PymavVehicle(link, await link.wait_vehicle(1, 10))
        vb = PymavVehicle(link, await link.wait_vehicle(2, 10))
        await va.mission.upload(_items(5))
        await vb.mission.upload(_items(9))
        assert len(a.stored) == 5 and len(b.stored) == 9
        # each vehicle received only its own commands
        await va.action.arm()
        await asyncio.sleep(0.2)
        assert any(c.command == m2.MAV_CMD_COMPONENT_ARM_DISARM for c in a.commands)
        assert not any(c.command == m2.MAV_CMD_COMPONENT_ARM_DISARM for c in b.commands)
        assert await va.mission.matches(_items(5)) and not await vb.mission.matches(_items(5))
        for v in (va, vb):
            await v.close()
    finally:
        await a.stop()
        await b.stop()
        await link.close()


async def test_link_lost_and_restored_keeps_state() -> None:
    link, peer = await _setup()
    try:
        v = PymavVehicle(link, await link.wait_vehicle(1, 10))
        await v.mission.upload(_items(4))
        events = v.telemetry.events()
        peer.paused = True
        ev = await asyncio.wait_for(anext(events), 10)
        while ev.kind != "link_lost":
            ev = await asyncio.wait_for(anext(events), 10)
        assert not v.telemetry.state().link_ok
        peer.paused = False
        while ev.kind != "link_restored":
            ev = await asyncio.wait_for(anext(events), 10)
        st = v.telemetry.state()
        assert st.link_ok and st.mission.total == 4
        assert await v.mission.matches(_items(4))
        await v.close()
    finally:
        await peer.stop()
        await link.close()


async def test_signed_link(tmp_path) -> None:
    key = os.urandom(32)
    keyfile = tmp_path / "fleet.key"
    keyfile.write_text(key.hex())
    link = await MavLink.open("udpin://127.0.0.1:0", signing_key_file=keyfile)
    good = Peer(1, link.local_port, signing_key=key)
    bad = Peer(2, link.local_port, signing_key=os.urandom(32))
    plain = Peer(3, link.local_port)
    for p in (good, bad, plain):
        await p.start()
    try:
        rec = await link.wait_vehicle(1, 10)
        await asyncio.sleep(1.0)
        assert set(link.vehicles) == {1}, "unsigned or wrongly signed vehicles must be ignored"
        await send_command(link, 1, rec.compid, m2.MAV_CMD_DO_SET_MODE, [1, 4, 3])
        # our outgoing messages carry a signature the vehicle can check
        assert good.received and all(m._signed for m in good.received if m.get_type() != "BAD_DATA")
    finally:
        for p in (good, bad, plain):
            await p.stop()
        await link.close()
