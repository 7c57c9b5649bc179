"""What an autopilot accepts in a mission, fence or rally upload, as data.

The simulator's mission protocol (`sim.missionproto`) checks every uploaded item against the
rules of its flavour and answers with the same MAV_MISSION_RESULT the real autopilot sends.
`CASES` lists concrete uploads and the answer each autopilot gives; the simulator's tests run
them against `groundctl sim`, and tests/sitl runs the PX4 ones against a real PX4 SITL.

PX4 v1.16.0, from src/modules/mavlink/mavlink_mission.cpp (parse_mavlink_mission_item,
handle_mission_item_both, handle_mission_count, handle_mission_set_current) and
src/modules/navigator/mission_base.cpp (updateMavlinkMission, checkMissionRestart), checked
against PX4 SITL (SIH) v1.16.0 (docs/px4-conformance.md):

- A transfer starts in float mode: PX4 asks with MISSION_REQUEST until the ground station
  sends a MISSION_ITEM_INT (or downloads with MISSION_REQUEST_INT); each item message sets
  the mode for itself. A global _INT frame in a float MISSION_ITEM is UNSUPPORTED_FRAME.
- Positional commands in MAV_FRAME_GLOBAL / GLOBAL_RELATIVE_ALT (and their _INT frames in
  int mode) only; position-less commands in MAV_FRAME_MISSION only; any other pairing of
  frame and command is UNSUPPORTED; terrain and local frames are UNSUPPORTED_FRAME.
- Fence or rally commands in a mission are ERROR; a fence polygon of fewer than 3 vertices
  is ERROR; more items than the storage holds is NO_SPACE at MISSION_COUNT.
- After an upload that flags no item current, the previous mission's index is kept (capped
  at count - 1); an upload of the very same mission (same CRC) changes nothing at all.
- MAV_CMD_DO_SET_MISSION_CURRENT is UNSUPPORTED; the MISSION_SET_CURRENT message is honoured
  (no ACK, MISSION_CURRENT says so) or refused with a STATUSTEXT when out of range.

ArduPilot Copter 4.5, from libraries/AP_Mission (mavlink_int_to_mission_cmd) and
GCS_MAVLink (MissionItemProtocol): asks with MISSION_REQUEST_INT, takes a location command
in any global frame, relative, absolute or terrain, _INT or not, or MAV_FRAME_MISSION (as
absolute), does not check a DO command's frame, refuses unknown commands (UNSUPPORTED),
honours DO_SET_MISSION_CURRENT. Not run against ArduPilot SITL here: the table says so.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

MISSION, FENCE, RALLY = 0, 1, 2

# MAV_MISSION_RESULT
ACCEPTED = 0
ERROR = 1
UNSUPPORTED_FRAME = 2
UNSUPPORTED = 3
NO_SPACE = 4
INVALID_PARAM1 = 6
INVALID_PARAM5_X = 10
INVALID_PARAM6_Y = 11
INVALID_PARAM7 = 12
RESULT_NAMES = {
    0: "ACCEPTED", 1: "ERROR", 2: "UNSUPPORTED_FRAME", 3: "UNSUPPORTED", 4: "NO_SPACE",
    6: "INVALID_PARAM1", 10: "INVALID_PARAM5_X", 11: "INVALID_PARAM6_Y", 12: "INVALID_PARAM7",
}  # fmt: skip

# MAV_FRAME
GLOBAL, LOCAL_NED, MISSION_FRAME, GLOBAL_REL, LOCAL_ENU = 0, 1, 2, 3, 4
GLOBAL_INT, GLOBAL_REL_INT, TERRAIN, TERRAIN_INT = 5, 6, 10, 11

# MAV_CMD groups
FENCE_CMDS = frozenset({5000, 5001, 5002, 5003, 5004})
RALLY_CMDS = frozenset({5100})
ROI_CMDS = frozenset({80, 201})  # NAV_ROI, DO_SET_ROI

# PX4: commands with a position (accepted only in a global frame).
PX4_POSITIONAL = frozenset(
    {16, 17, 19, 21, 22, 31, 80, 201, 195, 84, 85, 4501} | FENCE_CMDS | RALLY_CMDS
)
# PX4: commands without one (accepted only in MAV_FRAME_MISSION).
PX4_POSITIONLESS = frozenset(
    {
        177, 80, 201, 42600, 211, 178, 179, 189, 2003, 203, 204, 205, 1000, 532, 1001, 2000,
        2001, 2500, 2501, 200, 206, 260, 214, 530, 534, 3000, 93, 20, 196, 197, 112, 114, 187,
    }
)  # fmt: skip
# ArduPilot Copter: commands AP_Mission stores (location or not).
AP_LOCATION = frozenset({16, 17, 18, 19, 20, 21, 22, 30, 31, 82, 84, 85, 94, 195, 201})
AP_OTHER = frozenset(
    {
        92, 93, 112, 114, 115, 177, 178, 179, 181, 182, 183, 184, 189, 197, 202, 203, 205,
        206, 207, 208, 211, 212, 215, 216, 222, 223, 600, 601, 1000, 2000, 2001, 2500, 2501,
        42600,
    }
)  # fmt: skip


@dataclass(frozen=True)
class Rules:
    """One autopilot's rules for the mission protocol."""

    name: str
    capacity: Mapping[int, int]  # items per plan type
    asks_int_first: bool  # the first MISSION_REQUEST of a transfer is the _INT one
    set_current_command_result: int  # MAV_RESULT of MAV_CMD_DO_SET_MISSION_CURRENT
    keeps_index_after_upload: bool
    verified: str  # how the table was checked
    extra: Mapping[str, Any] = field(default_factory=dict)


PX4 = Rules(
    "px4",
    {MISSION: 10000, FENCE: 64, RALLY: 32},  # SITL's CONFIG_NUM_MISSION_ITMES_SUPPORTED, dataman
    asks_int_first=False,
    set_current_command_result=3,  # MAV_RESULT_UNSUPPORTED
    keeps_index_after_upload=True,
    verified="PX4 v1.16.0 source and PX4 SITL (SIH) v1.16.0",
)
ARDUPILOT = Rules(
    "ardupilot",
    {MISSION: 724, FENCE: 84, RALLY: 10},
    asks_int_first=True,
    set_current_command_result=0,
    keeps_index_after_upload=False,
    verified="ArduPilot 4.5 source only (no ArduPilot SITL run here)",
)
RULES = {"px4": PX4, "ardupilot": ARDUPILOT}


def check_item(
    rules: Rules, item: Any, int_mode: bool, mission_type: int
) -> tuple[int, str] | None:
    """The MAV_MISSION_RESULT and reason an autopilot refuses `item` with, or None.

    `item` has frame, command, param1, x, y, z (x, y in degE7); `int_mode` is whether it came
    in a MISSION_ITEM_INT.
    """
    if rules.name == "px4":
        return _check_px4(item, int_mode, mission_type)
    return _check_ardupilot(item, mission_type)


def _check_px4(it: Any, int_mode: bool, mission_type: int) -> tuple[int, str] | None:
    frame, cmd = int(it.frame), int(it.command)
    global_frames = {GLOBAL, GLOBAL_REL} | ({GLOBAL_INT, GLOBAL_REL_INT} if int_mode else set())
    if frame in global_frames:
        if cmd not in PX4_POSITIONAL:
            return UNSUPPORTED, f"command {cmd} takes no position (use MAV_FRAME_MISSION)"
        if cmd in ROI_CMDS and int(it.param1) not in (0, 3):
            return INVALID_PARAM1, f"ROI mode {int(it.param1)} needs MAV_FRAME_MISSION"
    elif frame == MISSION_FRAME:
        if cmd not in PX4_POSITIONLESS:
            return UNSUPPORTED, f"command {cmd} needs a global frame"
        if cmd in ROI_CMDS and int(it.param1) not in (0, 1, 2):
            return INVALID_PARAM1, f"ROI mode {int(it.param1)} needs a global frame"
    else:
        why = "an _INT frame in a float MISSION_ITEM" if frame in (5, 6) else f"frame {frame}"
        return UNSUPPORTED_FRAME, f"{why} is not supported"
    if mission_type == MISSION and cmd in FENCE_CMDS | RALLY_CMDS:
        return ERROR, f"command {cmd} belongs in a fence or rally plan"
    if mission_type == FENCE and cmd in (5001, 5002) and int(it.param1 + 0.5) < 3:
        return ERROR, "a fence polygon needs at least 3 vertices"
    return None


def _check_ardupilot(it: Any, mission_type: int) -> tuple[int, str] | None:
    frame, cmd = int(it.frame), int(it.command)
    if mission_type == FENCE:
        if cmd not in FENCE_CMDS:
            return UNSUPPORTED, f"command {cmd} is no fence item"
        if cmd in (5001, 5002) and it.param1 < 3:
            return ERROR, "a fence polygon needs at least 3 vertices"
        return None
    if mission_type == RALLY:
        return None if cmd in RALLY_CMDS else (UNSUPPORTED, f"command {cmd} is no rally point")
    if cmd not in AP_LOCATION | AP_OTHER:
        return UNSUPPORTED, f"command {cmd} is not supported"
    if cmd in AP_LOCATION:
        if not -90e7 <= it.x <= 90e7:
            return INVALID_PARAM5_X, "latitude out of range"
        if not -180e7 <= it.y <= 180e7:
            return INVALID_PARAM6_Y, "longitude out of range"
        if not math.isfinite(it.z):
            return INVALID_PARAM7, "altitude is not a number"
        if frame not in (MISSION_FRAME, GLOBAL, GLOBAL_INT, GLOBAL_REL, GLOBAL_REL_INT, TERRAIN,
                         TERRAIN_INT):  # fmt: skip
            return UNSUPPORTED_FRAME, f"frame {frame} is not supported"
    return None


# Params PX4 keeps of a positional item (format_mavlink_mission_item); the rest read back 0.
PX4_KEPT_PARAMS: dict[int, tuple[int, ...]] = {
    16: (0, 1, 3), 17: (2, 3), 19: (0, 1, 2, 3), 21: (1, 3), 22: (3,), 31: (0, 1, 3),
    84: (3,), 85: (3,), 5001: (0,), 5002: (0,), 5003: (0,), 5004: (0,),
}  # fmt: skip


@dataclass(frozen=True)
class Case:
    """One upload and the MAV_MISSION_RESULT each autopilot answers it with."""

    what: str
    frame: int
    command: int
    int_msg: bool = True  # sent as MISSION_ITEM_INT (else MISSION_ITEM)
    mission_type: int = MISSION
    param1: float = 0.0
    expect: Mapping[str, int] = field(default_factory=dict)


# The conformance table: every case is a one-item upload (a fence polygon gets its vertices).
CASES: tuple[Case, ...] = (
    Case("waypoint, GLOBAL_RELATIVE_ALT_INT, MISSION_ITEM_INT", GLOBAL_REL_INT, 16,
         expect={"px4": ACCEPTED, "ardupilot": ACCEPTED}),
    Case("waypoint, GLOBAL_RELATIVE_ALT_INT, float MISSION_ITEM", GLOBAL_REL_INT, 16,
         int_msg=False, expect={"px4": UNSUPPORTED_FRAME, "ardupilot": ACCEPTED}),
    Case("waypoint, GLOBAL_RELATIVE_ALT, float MISSION_ITEM", GLOBAL_REL, 16, int_msg=False,
         expect={"px4": ACCEPTED, "ardupilot": ACCEPTED}),
    Case("waypoint, GLOBAL_INT", GLOBAL_INT, 16, expect={"px4": ACCEPTED, "ardupilot": ACCEPTED}),
    Case("waypoint, GLOBAL_TERRAIN_ALT_INT", TERRAIN_INT, 16,
         expect={"px4": UNSUPPORTED_FRAME, "ardupilot": ACCEPTED}),
    Case("waypoint, LOCAL_NED", LOCAL_NED, 16,
         expect={"px4": UNSUPPORTED_FRAME, "ardupilot": UNSUPPORTED_FRAME}),
    Case("waypoint, MISSION frame", MISSION_FRAME, 16,
         expect={"px4": UNSUPPORTED, "ardupilot": ACCEPTED}),
    Case("take-off, GLOBAL_RELATIVE_ALT_INT", GLOBAL_REL_INT, 22,
         expect={"px4": ACCEPTED, "ardupilot": ACCEPTED}),
    Case("loiter turns, GLOBAL_RELATIVE_ALT_INT", GLOBAL_REL_INT, 18,
         expect={"px4": UNSUPPORTED, "ardupilot": ACCEPTED}),
    Case("DO_CHANGE_SPEED, MISSION frame", MISSION_FRAME, 178, param1=1.0,
         expect={"px4": ACCEPTED, "ardupilot": ACCEPTED}),
    Case("DO_CHANGE_SPEED, GLOBAL_RELATIVE_ALT_INT", GLOBAL_REL_INT, 178, param1=1.0,
         expect={"px4": UNSUPPORTED, "ardupilot": ACCEPTED}),
    Case("RETURN_TO_LAUNCH, MISSION frame", MISSION_FRAME, 20,
         expect={"px4": ACCEPTED, "ardupilot": ACCEPTED}),
    Case("RETURN_TO_LAUNCH, GLOBAL_RELATIVE_ALT_INT", GLOBAL_REL_INT, 20,
         expect={"px4": UNSUPPORTED, "ardupilot": ACCEPTED}),
    Case("DO_SET_ROI mode WPNEXT in a global frame", GLOBAL_REL_INT, 201, param1=1.0,
         expect={"px4": INVALID_PARAM1, "ardupilot": ACCEPTED}),
    Case("unknown command 31999", MISSION_FRAME, 31999,
         expect={"px4": UNSUPPORTED, "ardupilot": UNSUPPORTED}),
    Case("fence vertex in a mission", GLOBAL_INT, 5001, param1=3.0,
         expect={"px4": ERROR, "ardupilot": UNSUPPORTED}),
    Case("fence polygon of 3 vertices, GLOBAL", GLOBAL, 5001, mission_type=FENCE, param1=3.0,
         expect={"px4": ACCEPTED, "ardupilot": ACCEPTED}),
    Case("fence polygon claiming 2 vertices", GLOBAL, 5002, mission_type=FENCE, param1=2.0,
         expect={"px4": ERROR, "ardupilot": ERROR}),
    Case("rally point, GLOBAL_RELATIVE_ALT", GLOBAL_REL, 5100, mission_type=RALLY,
         expect={"px4": ACCEPTED, "ardupilot": ACCEPTED}),
)  # fmt: skip
