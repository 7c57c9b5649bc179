"""MAVLink 2 signing on the pymavlink link (issue #18 item 4), byte for byte on real UDP.

With a key, every datagram the link sends is signed with it, and every unsigned datagram
(MAVLink 1, MAVLink 2 without a signature, a message id pymavlink does not know, or a wrong
key) is dropped before it can reach a vehicle's state.
"""

from __future__ import annotations

import asyncio
import os
import socket
import time

import pytest

from groundctl.link.link import MavLink

os.environ.setdefault("MAVLINK20", "1")
from pymavlink.dialects.v20 import common as m2

pytestmark = pytest.mark.timeout(30)

KEY = bytes(range(32))


def _mav(key: bytes | None, sysid: int = 1) -> m2.MAVLink:
    mav = m2.MAVLink(None, srcSystem=sysid, srcComponent=1)
    if key is not None:
        mav.signing.secret_key = key
        mav.signing.sign_outgoing = True
        mav.signing.link_id = 1
        mav.signing.timestamp = int((time.time() - 1420070400) * 1e5)
    return mav


def _heartbeat() -> m2.MAVLink_heartbeat_message:
    return m2.MAVLink_heartbeat_message(m2.MAV_TYPE_QUADROTOR, m2.MAV_AUTOPILOT_PX4, 0, 0, 3, 3)


def _sock() -> socket.socket:
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.bind(("127.0.0.1", 0))
    s.setblocking(False)
    return s


async def _drain(s: socket.socket, seconds: float) -> list[bytes]:
    out: list[bytes] = []
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        try:
            out.append(s.recv(65536))
        except BlockingIOError:
            await asyncio.sleep(0.02)
    return out


async def test_every_datagram_sent_is_signed_with_the_key() -> None:
    vehicle = _sock()
    link = await MavLink.open(f"udpout://127.0.0.1:{vehicle.getsockname()[1]}", signing_key=KEY)
    try:
        # A signed vehicle speaks: the link discovers it and asks for AUTOPILOT_VERSION.
        vehicle.sendto(_heartbeat().pack(_mav(KEY)), ("127.0.0.1", link.local_port))
        await link.wait_vehicle(1, 5)
        cmd = m2.MAVLink_command_long_message(1, 1, m2.MAV_CMD_DO_SET_MODE, 0, 1, 4, 3, 0, 0, 0, 0)
        link.send(cmd, sysid=1)
        got = await _drain(vehicle, 1.5)
    finally:
        await link.close()
        vehicle.close()
    checker = _mav(KEY)
    checker.signing.sign_outgoing = False
    types = []
    for data in got:
        assert data[0] == m2.PROTOCOL_MARKER_V2 and data[2] & m2.MAVLINK_IFLAG_SIGNED, data[:10]
        for m in checker.parse_buffer(data) or []:
            assert m.get_type() != "BAD_DATA" and m.get_signed(), m
            types.append(m.get_type())
    assert {"HEARTBEAT", "COMMAND_LONG"} <= set(types), types


async def test_unsigned_and_wrongly_signed_datagrams_are_dropped() -> None:
    link = await MavLink.open("udpin://127.0.0.1:0", signing_key=KEY)
    heard: list[str] = []
    link.add_listener(None, lambda m: heard.append(m.get_type()))
    spoof = _sock()
    to = ("127.0.0.1", link.local_port)
    plain = _mav(None)
    # An unsigned MAVLink 2 frame of a message id outside pymavlink's dialect (pymavlink
    # returns those undecoded, before its signature check).
    unknown = bytes([0xFD, 1, 0, 0, 0, 1, 1]) + (60999).to_bytes(3, "little") + b"\x00\x00\x00"
    try:
        spoof.sendto(_heartbeat().pack(_mav(KEY)), to)  # the right key is heard
        await link.wait_vehicle(1, 5)
        assert heard == ["HEARTBEAT"]
        for data in (
            _heartbeat().pack(plain),  # MAVLink 2, no signature
            _heartbeat().pack(plain, force_mavlink1=True),  # MAVLink 1
            _heartbeat().pack(_mav(os.urandom(32))),  # signed with another key
            _heartbeat().pack(_mav(None, sysid=2)),  # an unsigned vehicle
            unknown,
        ):
            spoof.sendto(data, to)
        await asyncio.sleep(0.5)
        assert heard == ["HEARTBEAT"] and set(link.vehicles) == {1}, heard
        assert link.bad_signatures >= 5
    finally:
        spoof.close()
        await link.close()
