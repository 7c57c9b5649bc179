"""A bare ground station on plain pymavlink, for the conformance tables: it uploads one case
and reports what the autopilot answered, and probes the mission index. No groundctl code is
involved, so the same calls judge `groundctl sim` and a real PX4 SITL alike.
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass

os.environ.setdefault("MAVLINK20", "1")
from pymavlink import mavutil
from pymavlink.dialects.v20 import common as M

from sim.conformance import FENCE, Case

# Near PX4 SITL's SIH home (47.397742, 8.545594).
LAT0, LON0 = 473977420, 85455940


@dataclass
class Answer:
    result: int | None  # MAV_MISSION_RESULT, None for no answer
    first_request: str  # "MISSION_REQUEST" or "MISSION_REQUEST_INT"
    statustext: str = ""


class Gcs:
    """One vehicle on one connection (`udpin:0.0.0.0:14540`, `udpin:127.0.0.1:PORT`)."""

    def __init__(self, url: str, sysid: int = 1, timeout_s: float = 30.0) -> None:
        self.conn = mavutil.mavlink_connection(url, source_system=246, source_component=190)
        self.sysid = sysid
        self.mav = self.conn.mav
        self._hb_at = 0.0
        # A `udpout:` link is heard only once it has said something: heartbeats first.
        hb = None
        end = time.monotonic() + timeout_s
        while hb is None and time.monotonic() < end:
            self.mav.heartbeat_send(M.MAV_TYPE_GCS, M.MAV_AUTOPILOT_INVALID, 0, 0, 0)
            hb = self.conn.recv_match(
                type="HEARTBEAT",
                blocking=True,
                timeout=1.0,
                condition=f"HEARTBEAT.get_srcSystem() == {sysid}",
            )
        if hb is None:
            raise TimeoutError(f"{url}: no HEARTBEAT from system {sysid} in {timeout_s:.0f} s")
        self.compid = hb.get_srcComponent()
        self.flavour = "ardupilot" if hb.autopilot == M.MAV_AUTOPILOT_ARDUPILOTMEGA else "px4"

    def close(self) -> None:
        self.conn.close()

    def _recv(self, types: list[str], timeout_s: float):
        end = time.monotonic() + timeout_s
        while (left := end - time.monotonic()) > 0:
            if time.monotonic() - self._hb_at > 1.0:
                self._hb_at = time.monotonic()
                self.mav.heartbeat_send(M.MAV_TYPE_GCS, M.MAV_AUTOPILOT_INVALID, 0, 0, 0)
            m = self.conn.recv_match(type=types, blocking=True, timeout=min(left, 0.5))
            if m is not None and m.get_srcSystem() == self.sysid:
                return m
        return None

    def upload(
        self, items: list[tuple], mission_type: int = 0, int_msg: bool = True,
        settle_s: float = 0.1,
    ) -> Answer:  # fmt: skip
        """Upload items as (frame, command, p1, p2, p3, p4, x, y, z) tuples; answer each
        request with MISSION_ITEM_INT (or MISSION_ITEM), whatever the request was. After the
        MISSION_ACK, wait `settle_s` for the STATUSTEXTs that explain it (0: return at once)."""
        self.mav.mission_count_send(self.sysid, self.compid, len(items), mission_type)
        first = ""
        texts: list[str] = []
        for _ in range(4 * len(items) + 8):
            m = self._recv(
                ["MISSION_REQUEST", "MISSION_REQUEST_INT", "MISSION_ACK", "STATUSTEXT"], 3
            )
            if m is None:
                return Answer(None, first, "; ".join(texts))
            t = m.get_type()
            if t == "STATUSTEXT":
                texts.append(m.text.strip())
                continue
            if t == "MISSION_ACK":
                if getattr(m, "mission_type", 0) != mission_type:
                    continue
                time.sleep(settle_s)
                while settle_s and (
                    (s := self.conn.recv_match(type="STATUSTEXT", blocking=False)) is not None
                ):
                    texts.append(s.text.strip())
                return Answer(m.type, first, "; ".join(texts))
            first = first or t
            frame, cmd, p1, p2, p3, p4, x, y, z = items[m.seq]
            if int_msg:
                self.mav.mission_item_int_send(
                    self.sysid, self.compid, m.seq, frame, cmd, 0, 1, p1, p2, p3, p4, x, y, z,
                    mission_type,
                )  # fmt: skip
            else:
                self.mav.mission_item_send(
                    self.sysid, self.compid, m.seq, frame, cmd, 0, 1, p1, p2, p3, p4,
                    x / 1e7, y / 1e7, z, mission_type,
                )  # fmt: skip
        return Answer(None, first, "; ".join(texts))

    def upload_case(self, case: Case) -> Answer:
        n = max(1, int(case.param1)) if case.mission_type == FENCE else 1
        items = [
            (case.frame, case.command, case.param1, 0.0, 0.0, 0.0,
             LAT0 + 1000 * i, LON0 + 1500 * (i % 2), 30.0)
            for i in range(n)
        ]  # fmt: skip
        return self.upload(items, case.mission_type, case.int_msg)

    def waypoints(self, n: int, offset: int = 0) -> list[tuple]:
        """`n` waypoints in MAV_FRAME_GLOBAL_RELATIVE_ALT_INT, distinct per `offset`."""
        return [
            (6, 16, 0.0, 0.0, 0.0, float("nan"), LAT0 + 900 * (i + 1), LON0 + 300 * offset, 30.0)
            for i in range(n)
        ]

    def current(self, timeout_s: float = 3.0) -> int | None:
        """The index of the next MISSION_CURRENT heard after now."""
        self._drain()
        m = self._recv(["MISSION_CURRENT"], timeout_s)
        return None if m is None else m.seq

    def set_current_message(self, seq: int) -> None:
        self.mav.mission_set_current_send(self.sysid, self.compid, seq)

    def command(self, command: int, *params: float) -> int | None:
        """COMMAND_LONG; the MAV_RESULT of its ACK (None for none)."""
        p = [float(x) for x in params] + [0.0] * (7 - len(params))
        self._drain()
        self.mav.command_long_send(self.sysid, self.compid, command, 0, *p)
        end = time.monotonic() + 3.0
        while time.monotonic() < end:
            m = self._recv(["COMMAND_ACK"], end - time.monotonic())
            if m is not None and m.command == command:
                return m.result
        return None

    def _drain(self) -> None:
        while self.conn.recv_match(blocking=False) is not None:
            pass
