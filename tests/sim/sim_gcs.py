"""A small synchronous pymavlink ground station for the simulator tests.

Plain pymavlink, as a user's script would be: GCS heartbeats at 1 Hz (wall), commands
re-sent until acknowledged, the ground side of the mission protocol with retries.
"""

from __future__ import annotations

import math
import os
import time
from collections.abc import Callable, Iterable
from typing import Any

os.environ.setdefault("MAVLINK20", "1")

from pymavlink import mavutil

from sim import mavext

mavext.install(mavutil.mavlink)
M = mavutil.mavlink
HOME = (47.397742, 8.545594, 488.0)


class Gcs:
    def __init__(self, url: str, target: int = 1, sysid: int = 255) -> None:
        self.conn = mavutil.mavlink_connection(url, source_system=sysid, source_component=190)
        self.target = target
        self.statustexts: list[str] = []
        self.reached: list[int] = []
        self.last: dict[str, Any] = {}
        self._hb_at = 0.0
        self.heartbeats = True

    def close(self) -> None:
        self.conn.close()

    def _tick(self) -> None:
        now = time.monotonic()
        if self.heartbeats and now - self._hb_at >= 1.0:
            self._hb_at = now
            self.conn.mav.heartbeat_send(M.MAV_TYPE_GCS, M.MAV_AUTOPILOT_INVALID, 0, 0, 0)

    def recv(self, timeout: float = 0.2) -> Any | None:
        self._tick()
        msg = self.conn.recv_match(blocking=True, timeout=timeout)
        if msg is None:
            return None
        if msg.get_srcSystem() != self.target:
            return msg
        t = msg.get_type()
        self.last[t] = msg
        if t == "STATUSTEXT":
            self.statustexts.append(msg.text)
        elif t == "MISSION_ITEM_REACHED" and (not self.reached or self.reached[-1] != msg.seq):
            self.reached.append(msg.seq)
        return msg

    def wait(self, pred: Callable[[Any], bool], timeout: float = 30.0, what: str = "") -> Any:
        end = time.monotonic() + timeout
        while time.monotonic() < end:
            msg = self.recv()
            if msg is not None and msg.get_srcSystem() == self.target and pred(msg):
                return msg
        raise TimeoutError(
            f"timed out waiting for {what or pred}; last texts {self.statustexts[-5:]}"
        )

    def wait_type(
        self, t: str, cond: Callable[[Any], bool] = lambda m: True, timeout: float = 30.0
    ) -> Any:
        return self.wait(lambda m: m.get_type() == t and cond(m), timeout, t)

    def wait_until(self, cond: Callable[[], bool], timeout: float = 60.0, what: str = "") -> None:
        end = time.monotonic() + timeout
        while time.monotonic() < end:
            self.recv()
            if cond():
                return
        raise TimeoutError(f"timed out waiting for {what}; last texts {self.statustexts[-5:]}")

    def command(self, cmd: int, *params: float, tries: int = 10, timeout: float = 1.0) -> int:
        p = list(params) + [0.0] * (7 - len(params))
        for attempt in range(tries):
            self.conn.mav.command_long_send(self.target, 1, cmd, attempt, *p)
            end = time.monotonic() + timeout
            while time.monotonic() < end:
                msg = self.recv(0.1)
                if msg is not None and msg.get_type() == "COMMAND_ACK" and msg.command == cmd:
                    return int(msg.result)
        raise TimeoutError(f"no COMMAND_ACK for command {cmd}")

    def command_int(
        self, cmd: int, frame: int, p: Iterable[float], x: int, y: int, z: float, tries: int = 10
    ) -> int:
        p1, p2, p3, p4 = list(p)
        for _ in range(tries):
            self.conn.mav.command_int_send(
                self.target, 1, frame, cmd, 0, 0, p1, p2, p3, p4, x, y, z
            )
            end = time.monotonic() + 1.0
            while time.monotonic() < end:
                msg = self.recv(0.1)
                if msg is not None and msg.get_type() == "COMMAND_ACK" and msg.command == cmd:
                    return int(msg.result)
        raise TimeoutError(f"no COMMAND_ACK for command {cmd}")

    def set_mode_px4(self, main: int, sub: int = 0) -> int:
        return self.command(M.MAV_CMD_DO_SET_MODE, M.MAV_MODE_FLAG_CUSTOM_MODE_ENABLED, main, sub)

    def set_mode_ap(self, number: int) -> int:
        return self.command(M.MAV_CMD_DO_SET_MODE, M.MAV_MODE_FLAG_CUSTOM_MODE_ENABLED, number)

    def set_param(self, name: str, value: float, tries: int = 10) -> float:
        for _ in range(tries):
            self.conn.mav.param_set_send(
                self.target, 1, name.encode(), value, M.MAV_PARAM_TYPE_REAL32
            )
            end = time.monotonic() + 1.0
            while time.monotonic() < end:
                msg = self.recv(0.1)
                if msg is not None and msg.get_type() == "PARAM_VALUE" and msg.param_id == name:
                    return float(msg.param_value)
        raise TimeoutError(f"no PARAM_VALUE for {name}")

    def upload(self, items: list[tuple], mission_type: int = 0, timeout: float = 60.0) -> Any:
        """Upload items (frame, command, p1..p4, lat, lon, alt); returns the MISSION_ACK."""
        count = len(items)
        end = time.monotonic() + timeout
        last_seq: int | None = None  # the last item we sent
        last_tx = -10.0

        def send_item(seq: int) -> None:
            frame, cmd, p1, p2, p3, p4, lat, lon, alt = items[seq]
            self.conn.mav.mission_item_int_send(
                self.target,
                1,
                seq,
                frame,
                cmd,
                0,
                1,
                p1,
                p2,
                p3,
                p4,
                round(lat * 1e7),
                round(lon * 1e7),
                alt,
                mission_type,
            )

        while time.monotonic() < end:
            if time.monotonic() - last_tx > 1.5:
                # Protocol timeout: resend what we sent last (the count, or the last item:
                # the vehicle then repeats its request or its lost MISSION_ACK).
                if last_seq is None:
                    self.conn.mav.mission_count_send(self.target, 1, count, mission_type)
                else:
                    send_item(last_seq)
                last_tx = time.monotonic()
            msg = self.recv(0.1)
            if msg is None or msg.get_srcSystem() != self.target:
                continue
            t = msg.get_type()
            if t in ("MISSION_REQUEST_INT", "MISSION_REQUEST") and msg.mission_type == mission_type:
                last_seq = msg.seq
                last_tx = time.monotonic()
                send_item(msg.seq)
            elif t == "MISSION_ACK" and msg.mission_type == mission_type:
                return msg
        raise TimeoutError("mission upload timed out")

    def download(self, mission_type: int = 0, timeout: float = 60.0) -> tuple[list[Any], int]:
        """Download a plan with retries; returns (items, opaque_id)."""
        end = time.monotonic() + timeout
        count: int | None = None
        opaque = 0
        items: dict[int, Any] = {}
        sent_at = 0.0
        while time.monotonic() < end:
            now = time.monotonic()
            if now - sent_at > 0.5:
                sent_at = now
                if count is None:
                    self.conn.mav.mission_request_list_send(self.target, 1, mission_type)
                else:
                    missing = next(i for i in range(count) if i not in items)
                    self.conn.mav.mission_request_int_send(self.target, 1, missing, mission_type)
            msg = self.recv(0.05)
            if msg is None or msg.get_srcSystem() != self.target:
                continue
            t = msg.get_type()
            if t == "MISSION_COUNT" and msg.mission_type == mission_type and count is None:
                count = msg.count
                opaque = msg.opaque_id
                sent_at = 0.0
            elif t == "MISSION_ITEM_INT" and msg.mission_type == mission_type and count is not None:
                items[msg.seq] = msg
                sent_at = 0.0
            if count is not None and len(items) == count:
                self.conn.mav.mission_ack_send(self.target, 1, 0, mission_type, opaque)
                return [items[i] for i in range(count)], opaque
        raise TimeoutError("mission download timed out")


def waypoint(
    lat: float, lon: float, alt_rel: float, hold_s: float = 0.0, accept_m: float = 0.0
) -> tuple:
    return (
        M.MAV_FRAME_GLOBAL_RELATIVE_ALT_INT,
        M.MAV_CMD_NAV_WAYPOINT,
        hold_s,
        accept_m,
        0.0,
        math.nan,
        lat,
        lon,
        alt_rel,
    )


def takeoff(alt_rel: float, lat: float = 0.0, lon: float = 0.0) -> tuple:
    return (
        M.MAV_FRAME_GLOBAL_RELATIVE_ALT_INT,
        M.MAV_CMD_NAV_TAKEOFF,
        0.0,
        0.0,
        0.0,
        math.nan,
        lat,
        lon,
        alt_rel,
    )


def offset(lat: float, lon: float, north_m: float, east_m: float) -> tuple[float, float]:
    return (lat + north_m / 111_320.0, lon + east_m / (111_320.0 * math.cos(math.radians(lat))))
