"""What a UDP link keeps for, and answers to, strangers (issue #18 item 5), on real sockets.

Datagrams from thousands of new source ports (a flood, a scan, spoofed heartbeats) must not
grow the link's memory: parsers are kept for the addresses vehicles speak from, plus a small
pool for everyone else, and only vehicles' addresses get the GCS heartbeat. Sockets bind
where the URL says; an outgoing socket to a loopback peer binds loopback only.
"""

from __future__ import annotations

import asyncio
import os
import socket

import pytest

from groundctl.link.link import MavLink
from groundctl.link.parsers import STRANGERS

os.environ.setdefault("MAVLINK20", "1")
from pymavlink.dialects.v20 import common as m2

pytestmark = pytest.mark.timeout(60)


def _heartbeat(sysid: int) -> bytes:
    mav = m2.MAVLink(None, srcSystem=sysid, srcComponent=1)
    hb = m2.MAVLink_heartbeat_message(m2.MAV_TYPE_QUADROTOR, m2.MAV_AUTOPILOT_PX4, 0, 0, 3, 3)
    return hb.pack(mav)


async def test_datagrams_from_new_ports_keep_state_bounded() -> None:
    link = await MavLink.open("udpin://127.0.0.1:0", heartbeat_timeout_s=5.0)
    to = ("127.0.0.1", link.local_port)
    vehicle = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    vehicle.bind(("127.0.0.1", 0))
    try:
        vehicle.sendto(_heartbeat(1), to)
        await link.wait_vehicle(1, 5)
        sent = 0
        for i in range(1500):
            s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
            s.bind(("127.0.0.1", 0))
            # half garbage, half heartbeats claiming the known vehicle's system id
            s.sendto(_heartbeat(1) if i % 2 else os.urandom(40), to)
            s.close()
            sent += 1
            if i % 100 == 0:
                vehicle.sendto(_heartbeat(1), to)
                await asyncio.sleep(0.01)
        await asyncio.sleep(0.3)
        assert link.messages_received >= sent // 4, "the datagrams did arrive"
        assert len(link._parsers) <= STRANGERS + 1, len(link._parsers)
        assert link._transport.peers == {vehicle.getsockname()}
        rec = link.vehicles[1]
        assert rec.addresses == {vehicle.getsockname()} and rec.link_ok
        assert len(rec.suspects) <= 16 and len(rec.impostors) <= 64
    finally:
        vehicle.close()
        await link.close()


async def test_sockets_bind_where_the_url_says() -> None:
    listen = await MavLink.open("udpin://127.0.0.1:0")
    out = await MavLink.open(f"udpout://127.0.0.1:{listen.local_port}")
    try:
        assert listen._transport._sock.getsockname()[0] == "127.0.0.1"
        assert out._transport._sock.getsockname()[0] == "127.0.0.1", "loopback peer: loopback only"
    finally:
        await out.close()
        await listen.close()


async def test_a_spoofer_after_a_flood_of_one_shot_ports_is_still_caught() -> None:
    """One-datagram ports fill the suspects of a vehicle; they are forgotten when idle, so a
    source that keeps claiming the vehicle's system id later is still shut out and alarmed."""
    from groundctl.link import LinkEventKind
    from groundctl.link.identity import SUSPECT_IDLE_S

    link = await MavLink.open("udpin://127.0.0.1:0", heartbeat_timeout_s=30.0)
    to = ("127.0.0.1", link.local_port)
    vehicle = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    vehicle.bind(("127.0.0.1", 0))
    spoof = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    spoof.bind(("127.0.0.1", 0))
    events, remove = link.event_queue()
    try:
        vehicle.sendto(_heartbeat(1), to)
        rec = await link.wait_vehicle(1, 5)
        for _ in range(100):
            s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
            s.bind(("127.0.0.1", 0))
            s.sendto(_heartbeat(1), to)
            s.close()
        await asyncio.sleep(SUSPECT_IDLE_S + 0.5)
        alarm = None
        async with asyncio.timeout(10):
            while alarm is None:
                spoof.sendto(_heartbeat(1), to)
                vehicle.sendto(_heartbeat(1), to)
                await asyncio.sleep(0.2)
                while not events.empty():
                    ev = events.get_nowait()
                    if ev.kind == LinkEventKind.DUPLICATE_SYSID:
                        alarm = ev
        port = spoof.getsockname()[1]
        assert alarm.data["sources"][1] == f"127.0.0.1:{port}"
        assert ("127.0.0.1", port) in rec.impostors and rec.addresses == {vehicle.getsockname()}
    finally:
        remove()
        vehicle.close()
        spoof.close()
        await link.close()
