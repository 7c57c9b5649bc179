"""A scripted MAVLink peer for protocol tests: a real pymavlink endpoint on a loopback socket.

It is not a simulator (that is `sim/`): it answers exactly as a test scripts it, so protocol
corner cases (IN_PROGRESS, TEMPORARILY_REJECTED, repeated MISSION_REQUESTs, legacy
MISSION_REQUEST, signing) can be produced on demand over a real UDP socket.
"""

from __future__ import annotations

import asyncio
import os
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

os.environ.setdefault("MAVLINK20", "1")
from pymavlink.dialects.v20 import common as m2


@dataclass
class PeerScript:
    # command id -> list of (result, progress) answers given in turn (last one repeats)
    command_results: dict[int, list[tuple[int, int]]] = field(default_factory=dict)
    ignore_commands: dict[int, int] = field(default_factory=dict)  # command -> times to ignore
    statustext_before_ack: dict[int, str] = field(default_factory=dict)
    legacy_requests: bool = False  # ask with MISSION_REQUEST instead of MISSION_REQUEST_INT
    request_each_twice: bool = False  # repeat every request (lossy radio)
    drop_every_nth_item: int = 0  # ignore the n-th MISSION_ITEM received (forces re-request)
    uid: int = 0x1234
    autopilot: int = m2.MAV_AUTOPILOT_PX4
    custom_mode: int = 0


class Peer(asyncio.DatagramProtocol):
    def __init__(
        self,
        sysid: int,
        gcs_port: int,
        script: PeerScript | None = None,
        signing_key: bytes | None = None,
    ) -> None:
        self.sysid = sysid
        self.gcs = ("127.0.0.1", gcs_port)
        self.script = script or PeerScript()
        self.mav = m2.MAVLink(None, srcSystem=sysid, srcComponent=1)
        self.mav.robust_parsing = True
        if signing_key:
            self.mav.signing.secret_key = signing_key
            self.mav.signing.sign_outgoing = True
            self.mav.signing.link_id = 1
            self.mav.signing.timestamp = int((time.time() - 1420070400) * 1e5)
        self.received: list[Any] = []
        self.commands: list[Any] = []
        self.items: list[Any] = []
        self.mission_count = 0
        self.stored: list[Any] = []
        self.transport: asyncio.DatagramTransport | None = None
        self.paused = False
        self._hb: asyncio.Task[None] | None = None
        self._item_counter = 0
        self._want = -1
        self._boot = time.monotonic()
        self.on_message: Callable[[Any], None] | None = None

    async def start(self) -> None:
        loop = asyncio.get_running_loop()
        self.transport, _ = await loop.create_datagram_endpoint(
            lambda: self, local_addr=("127.0.0.1", 0)
        )
        self._hb = asyncio.create_task(self._heartbeats())

    async def stop(self) -> None:
        if self._hb:
            self._hb.cancel()
        if self.transport:
            self.transport.close()

    def send(self, msg: Any) -> None:
        if self.transport is not None and not self.paused:
            self.transport.sendto(msg.pack(self.mav), self.gcs)
            self.mav.seq = (self.mav.seq + 1) % 256

    async def _heartbeats(self) -> None:
        while True:
            s = self.script
            self.send(
                m2.MAVLink_heartbeat_message(
                    m2.MAV_TYPE_QUADROTOR,
                    s.autopilot,
                    m2.MAV_MODE_FLAG_CUSTOM_MODE_ENABLED,
                    s.custom_mode,
                    m2.MAV_STATE_STANDBY,
                    3,
                )
            )
            ms = int((time.monotonic() - self._boot) * 1000)
            self.send(
                m2.MAVLink_global_position_int_message(
                    ms, 473977000, 85455000, 500000, 0, 0, 0, 0, 0
                )
            )
            self.send(m2.MAVLink_mission_current_message(0, len(self.stored) or 65535, 0, 0))
            await asyncio.sleep(0.2)

    def datagram_received(self, data: bytes, addr: Any) -> None:
        try:
            msgs = self.mav.parse_buffer(data) or []
        except m2.MAVError:
            return
        for m in msgs:
            if m.get_type() == "BAD_DATA":
                continue
            self.received.append(m)
            if self.on_message:
                self.on_message(m)
            handler = getattr(self, "_on_" + m.get_type().lower(), None)
            if handler is not None and getattr(m, "target_system", self.sysid) in (0, self.sysid):
                handler(m)

    # -- commands ---------------------------------------------------------------------------

    def _on_command_long(self, m: Any) -> None:
        self.commands.append(m)
        s = self.script
        if s.ignore_commands.get(m.command, 0) > 0:
            s.ignore_commands[m.command] -= 1
            return
        if (
            m.command == m2.MAV_CMD_REQUEST_MESSAGE
            and int(m.param1) == m2.MAVLINK_MSG_ID_AUTOPILOT_VERSION
        ):
            self.send(m2.MAVLink_command_ack_message(m.command, 0, 0, 0, 255, 190))
            self.send(
                m2.MAVLink_autopilot_version_message(
                    m2.MAV_PROTOCOL_CAPABILITY_MISSION_INT | m2.MAV_PROTOCOL_CAPABILITY_MAVLINK2,
                    0x010F0000,
                    0,
                    0,
                    0,
                    [0] * 8,
                    [0] * 8,
                    [0] * 8,
                    0,
                    0,
                    s.uid,
                )
            )
            return
        answers = s.command_results.get(m.command, [(m2.MAV_RESULT_ACCEPTED, 0)])
        if m.command in s.statustext_before_ack:
            self.send(
                m2.MAVLink_statustext_message(
                    m2.MAV_SEVERITY_CRITICAL, s.statustext_before_ack[m.command].encode()
                )
            )
        result, progress = answers.pop(0) if len(answers) > 1 else answers[0]
        self.send(m2.MAVLink_command_ack_message(m.command, result, progress, 0, 255, 190))
        if result == m2.MAV_RESULT_IN_PROGRESS:
            final = answers.pop(0) if answers else (m2.MAV_RESULT_ACCEPTED, 0)
            asyncio.get_running_loop().call_later(
                0.3,
                lambda: self.send(
                    m2.MAVLink_command_ack_message(m.command, final[0], 100, 0, 255, 190)
                ),
            )

    _on_command_int = _on_command_long

    # -- missions ---------------------------------------------------------------------------

    def _request(self, seq: int, mission_type: int) -> None:
        self._want = seq
        cls = (
            m2.MAVLink_mission_request_message
            if self.script.legacy_requests
            else m2.MAVLink_mission_request_int_message
        )
        for _ in range(2 if self.script.request_each_twice else 1):
            self.send(cls(255, 190, seq, mission_type))

    def _on_mission_count(self, m: Any) -> None:
        self.mission_count = m.count
        self.items = [None] * m.count
        if m.count == 0:
            self.stored = []
            self.send(m2.MAVLink_mission_ack_message(255, 190, 0, m.mission_type))
        else:
            self._request(0, m.mission_type)

    def _on_mission_item_int(self, m: Any) -> None:
        self._item_counter += 1
        n = self.script.drop_every_nth_item
        if n and self._item_counter % n == 0:
            asyncio.get_running_loop().call_later(0.1, self._request, self._want, m.mission_type)
            return
        if m.seq != self._want:
            return
        self.items[m.seq] = m
        if m.seq + 1 < self.mission_count:
            self._request(m.seq + 1, m.mission_type)
        else:
            self.stored = list(self.items)
            self.send(m2.MAVLink_mission_ack_message(255, 190, 0, m.mission_type))

    _on_mission_item = _on_mission_item_int

    def _on_mission_request_list(self, m: Any) -> None:
        self.send(m2.MAVLink_mission_count_message(255, 190, len(self.stored), m.mission_type))

    def _on_mission_request_int(self, m: Any) -> None:
        it = self.stored[m.seq]
        self.send(
            m2.MAVLink_mission_item_int_message(
                255,
                190,
                it.seq,
                it.frame,
                it.command,
                it.current,
                it.autocontinue,
                it.param1,
                it.param2,
                it.param3,
                it.param4,
                it.x,
                it.y,
                it.z,
                it.mission_type,
            )
        )

    def _on_mission_clear_all(self, m: Any) -> None:
        self.stored = []
        self.send(m2.MAVLink_mission_ack_message(255, 190, 0, m.mission_type))
