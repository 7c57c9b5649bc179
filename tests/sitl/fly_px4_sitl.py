#!/usr/bin/env python3
"""Fly one short mission on PX4 SITL with nothing but pymavlink, as any PX4 user would.

    python tests/sitl/fly_px4_sitl.py                         # PX4 SITL: udpin:0.0.0.0:14540
    python tests/sitl/fly_px4_sitl.py --url udpin:127.0.0.1:PORT --timeout 300

It knows nothing of groundctl: it listens where PX4 SITL sends (vehicle 0 sends from UDP
14580 to 14540), uploads a take-off, three waypoints and a return in the frames PX4 accepts
(answering every request with MISSION_ITEM_INT), makes item 0 current with
MISSION_SET_CURRENT (re-sent until MISSION_CURRENT says so), arms, switches to AUTO.MISSION
and waits until the drone has reached every waypoint and landed. Exit 0 on success;
otherwise 1 with the step that failed. `groundctl sim` keeps PX4 SITL's ports, so the same
script flies it unchanged.
"""

from __future__ import annotations

import argparse
import math
import os
import sys
import time

os.environ.setdefault("MAVLINK20", "1")
from pymavlink import mavutil

M = mavutil.mavlink
PX4_AUTO, PX4_MISSION = 4, 4  # custom main mode AUTO, sub mode MISSION


class Failed(Exception):
    pass


def wait(conn, types, timeout, cond=lambda m: True, what="message"):
    end = time.monotonic() + timeout
    last_hb = 0.0
    while time.monotonic() < end:
        if time.monotonic() - last_hb > 1.0:
            last_hb = time.monotonic()
            conn.mav.heartbeat_send(M.MAV_TYPE_GCS, M.MAV_AUTOPILOT_INVALID, 0, 0, 0)
        m = conn.recv_match(type=types, blocking=True, timeout=0.5)
        if m is not None and m.get_srcSystem() == conn.target_system and cond(m):
            return m
    raise Failed(f"no {what} within {timeout:.0f} s")


def command(conn, cmd, *params, timeout=5.0):
    p = [float(x) for x in params] + [0.0] * (7 - len(params))
    for attempt in range(3):
        conn.mav.command_long_send(conn.target_system, conn.target_component, cmd, attempt, *p)
        try:
            ack = wait(conn, "COMMAND_ACK", timeout, lambda m: m.command == cmd, f"ACK of {cmd}")
        except Failed:
            continue
        if ack.result != M.MAV_RESULT_ACCEPTED:
            raise Failed(f"command {cmd} refused: result {ack.result}")
        return
    raise Failed(f"command {cmd}: no ACK")


def mission(lat0, lon0, alt):
    """Take-off, a 60 m triangle north-east of home, return: (frame, cmd, params, lat, lon, z)."""
    dlat, dlon = 60 / 111_320, 60 / (111_320 * math.cos(math.radians(lat0)))
    rel, mis = M.MAV_FRAME_GLOBAL_RELATIVE_ALT_INT, M.MAV_FRAME_MISSION
    nan = float("nan")
    return [
        (rel, M.MAV_CMD_NAV_TAKEOFF, (0, 0, 0, nan), lat0, lon0, alt),
        (mis, M.MAV_CMD_DO_CHANGE_SPEED, (1, 5, -1, 0), 0, 0, 0),
        (rel, M.MAV_CMD_NAV_WAYPOINT, (0, 0, 0, nan), lat0 + dlat, lon0, alt),
        (rel, M.MAV_CMD_NAV_WAYPOINT, (0, 0, 0, nan), lat0 + dlat, lon0 + dlon, alt),
        (rel, M.MAV_CMD_NAV_WAYPOINT, (0, 0, 0, nan), lat0, lon0 + dlon, alt),
        (mis, M.MAV_CMD_NAV_RETURN_TO_LAUNCH, (0, 0, 0, 0), 0, 0, 0),
    ]


def upload(conn, items):
    conn.mav.mission_count_send(conn.target_system, conn.target_component, len(items), 0)
    while True:
        m = wait(conn, ["MISSION_REQUEST", "MISSION_REQUEST_INT", "MISSION_ACK"], 5, what="request")
        if m.get_type() == "MISSION_ACK":
            if m.type != M.MAV_MISSION_ACCEPTED:
                raise Failed(f"mission refused: MAV_MISSION_RESULT {m.type}")
            return
        frame, cmd, (p1, p2, p3, p4), lat, lon, z = items[m.seq]
        conn.mav.mission_item_int_send(
            conn.target_system, conn.target_component, m.seq, frame, cmd, 0, 1,
            p1, p2, p3, p4, round(lat * 1e7), round(lon * 1e7), z, 0,
        )  # fmt: skip


def set_current(conn, seq: int) -> None:
    """MISSION_SET_CURRENT until MISSION_CURRENT names `seq`. PX4 v1.16 answers an upload that
    changed the mission with the kept index a moment later: a MISSION_SET_CURRENT sent right
    after the MISSION_ACK can be overtaken, and MISSION_CURRENT keeps the old index."""
    for _attempt in range(5):
        conn.mav.mission_set_current_send(conn.target_system, conn.target_component, seq)
        try:
            wait(conn, "MISSION_CURRENT", 2, lambda m: m.seq == seq, what=f"MISSION_CURRENT {seq}")
            return
        except Failed:
            continue
    raise Failed(f"no MISSION_CURRENT {seq} after 5 MISSION_SET_CURRENT")


def fly(url: str, timeout_s: float, alt: float) -> None:
    conn = mavutil.mavlink_connection(url, source_system=245)
    hb = conn.wait_heartbeat(timeout=60)
    if hb is None:
        raise Failed(f"no HEARTBEAT on {url}")
    print(f"vehicle {conn.target_system} (autopilot {hb.autopilot}) on {url}")
    home = wait(conn, "HOME_POSITION", 60, what="home position (GPS fix)")
    lat0, lon0 = home.latitude / 1e7, home.longitude / 1e7
    items = mission(lat0, lon0, alt)
    upload(conn, items)
    print(f"uploaded {len(items)} items")
    set_current(conn, 0)
    command(conn, M.MAV_CMD_COMPONENT_ARM_DISARM, 1)
    command(conn, M.MAV_CMD_DO_SET_MODE, M.MAV_MODE_FLAG_CUSTOM_MODE_ENABLED, PX4_AUTO, PX4_MISSION)
    print("armed, flying the mission")
    last_wp = len(items) - 2
    reached: set[int] = set()
    end = time.monotonic() + timeout_s
    while last_wp not in reached:
        m = wait(conn, "MISSION_ITEM_REACHED", end - time.monotonic(), what="every waypoint")
        if m.seq not in reached:
            reached.add(m.seq)
            print(f"reached item {m.seq}")
    wait(
        conn, "HEARTBEAT", end - time.monotonic(),
        lambda m: not m.base_mode & M.MAV_MODE_FLAG_SAFETY_ARMED, what="landing and disarm",
    )  # fmt: skip
    print("landed and disarmed: mission flown")


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--url", default="udpin:0.0.0.0:14540", help="pymavlink connection string")
    ap.add_argument("--timeout", type=float, default=600.0, help="seconds for the flight")
    ap.add_argument("--alt", type=float, default=20.0, help="metres above home")
    args = ap.parse_args()
    try:
        fly(args.url, args.timeout, args.alt)
    except Failed as e:
        print(f"failed: {e}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
