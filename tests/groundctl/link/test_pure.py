"""Mode encoding, item coercion and extension-field decoding (no sockets)."""

from __future__ import annotations

import math
import os

import pytest

from groundctl.errors import LinkError
from groundctl.link import Autopilot, FlightMode, MissionType, coerce_items, mission_hash
from groundctl.link.ext import ext_u32
from groundctl.link.modes import decode_mode, encode_mode

os.environ.setdefault("MAVLINK20", "1")
from pymavlink.dialects.v20 import common as m2


@pytest.mark.parametrize(
    ("name", "main", "sub", "mode"),
    [
        ("AUTO.MISSION", 4, 4, FlightMode.MISSION),
        ("AUTO.LOITER", 4, 3, FlightMode.HOLD),
        ("AUTO.RTL", 4, 5, FlightMode.RETURN),
        ("AUTO.LAND", 4, 6, FlightMode.LAND),
        ("AUTO.TAKEOFF", 4, 2, FlightMode.TAKEOFF),
        ("POSCTL", 3, 0, FlightMode.POSITION),
        ("OFFBOARD", 6, 0, FlightMode.OFFBOARD),
    ],
)
def test_px4_custom_mode_bits(name: str, main: int, sub: int, mode: FlightMode) -> None:
    base, p_main, p_sub, got = encode_mode(Autopilot.PX4, name)
    assert (base, p_main, p_sub, got) == (1.0, main, sub, name)
    # main mode in bits 16-23, sub mode in bits 24-31 of HEARTBEAT.custom_mode
    assert decode_mode(Autopilot.PX4, (main << 16) | (sub << 24)) == (mode, name)
    assert encode_mode(Autopilot.PX4, mode)[3] == name


@pytest.mark.parametrize(
    ("name", "number", "mode"),
    [("STABILIZE", 0, FlightMode.STABILIZED), ("AUTO", 3, FlightMode.MISSION), ("GUIDED", 4, FlightMode.GUIDED),
     ("LOITER", 5, FlightMode.HOLD), ("RTL", 6, FlightMode.RETURN), ("LAND", 9, FlightMode.LAND), ("BRAKE", 17, FlightMode.HOLD)],
)  # fmt: skip
def test_ardupilot_copter_mode_numbers(name: str, number: int, mode: FlightMode) -> None:
    assert encode_mode(Autopilot.ARDUPILOT, name)[:2] == (1.0, number)
    assert decode_mode(Autopilot.ARDUPILOT, number) == (mode, name)


def test_unknown_modes_are_clear_errors() -> None:
    with pytest.raises(LinkError, match="PX4 has no flight mode 'GUIDED_NOGPS'"):
        encode_mode(Autopilot.PX4, "GUIDED_NOGPS")
    with pytest.raises(LinkError, match="ArduPilot Copter has no flight mode"):
        encode_mode(Autopilot.ARDUPILOT, "AUTO.MISSION")
    assert decode_mode(Autopilot.ARDUPILOT, 99)[0] == FlightMode.UNKNOWN


def test_planner_items_are_accepted_and_hashed_by_content() -> None:
    from missions.plan import MissionItem as PlanItem

    plan_items = [
        PlanItem(
            seq=5 + i,
            frame=6,
            command=16,
            current=0,
            autocontinue=1,
            param1=0,
            param2=0,
            param3=0,
            param4=math.nan,
            x=473977000 + i,
            y=85455000,
            z=30.0,
        )
        for i in range(3)
    ]
    dicts = [
        {
            "seq": i,
            "frame": 6,
            "command": 16,
            "params": (0, 0, 0, math.nan),
            "x": 473977000 + i,
            "y": 85455000,
            "z": 30,
        }
        for i in range(3)
    ]
    a, b = coerce_items(plan_items), coerce_items(dicts, MissionType.MISSION)
    assert [it.seq for it in a] == [0, 1, 2], "renumbered from 0"
    assert mission_hash(a) == mission_hash(b), "NaN params and int/float z compare equal"
    assert mission_hash(a) != mission_hash(coerce_items(dicts[:2]))
    with pytest.raises(ValueError, match="mission item 1"):
        coerce_items([dicts[0], {"frame": 6}])


def test_opaque_id_read_from_extension_bytes() -> None:
    """pymavlink 2.4.50 lacks MISSION_ACK.opaque_id; it is read from the frame itself."""
    sender = m2.MAVLink(None, srcSystem=1, srcComponent=1)
    ack = m2.MAVLink_mission_ack_message(255, 190, 0, 0)
    frame = bytearray(ack.pack(sender))
    # append opaque_id 0xDEADBEEF after the known payload and fix length + CRC like a sender
    payload = bytes(frame[10 : 10 + frame[1]]).ljust(4, b"\0") + (0xDEADBEEF).to_bytes(4, "little")
    from pymavlink.generator.mavcrc import x25crc

    header = bytes([0xFD, len(payload)]) + bytes(frame[2:10])
    crc = x25crc(header[1:] + payload)
    crc.accumulate(bytes([ack.crc_extra]))
    wire = header + payload + crc.crc.to_bytes(2, "little")
    parsed = m2.MAVLink(None).parse_buffer(wire)[0]
    assert parsed.get_type() == "MISSION_ACK"
    assert ext_u32(parsed, "opaque_id") == 0xDEADBEEF
    plain = m2.MAVLink(None).parse_buffer(bytes(frame))[0]
    assert ext_u32(plain, "opaque_id") == 0
