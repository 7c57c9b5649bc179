"""Flight modes and their MAVLink encoding for the two autopilot flavours.

The simulator flies one set of internal modes; each flavour maps them to its HEARTBEAT
custom_mode. PX4 packs the main mode into bits 16-23 and the sub mode into bits 24-31;
ArduPilot Copter uses plain mode numbers.
"""

from __future__ import annotations

from enum import StrEnum


class Mode(StrEnum):
    MANUAL = "MANUAL"
    STABILIZED = "STABILIZED"
    ALTCTL = "ALTCTL"
    POSCTL = "POSCTL"
    OFFBOARD = "OFFBOARD"  # PX4 offboard; ArduPilot GUIDED
    TAKEOFF = "TAKEOFF"
    HOLD = "HOLD"  # PX4 AUTO.LOITER; ArduPilot LOITER
    MISSION = "MISSION"  # PX4 AUTO.MISSION; ArduPilot AUTO
    RTL = "RTL"
    LAND = "LAND"
    BRAKE = "BRAKE"
    ORBIT = "ORBIT"  # PX4 Orbit (POSCTL sub mode 1); ArduPilot CIRCLE


PX4_MAIN = {
    "MANUAL": 1,
    "ALTCTL": 2,
    "POSCTL": 3,
    "AUTO": 4,
    "ACRO": 5,
    "OFFBOARD": 6,
    "STABILIZED": 7,
}
PX4_AUTO_SUB = {"READY": 1, "TAKEOFF": 2, "LOITER": 3, "MISSION": 4, "RTL": 5, "LAND": 6}

_PX4: dict[Mode, tuple[int, int]] = {
    Mode.MANUAL: (1, 0),
    Mode.ALTCTL: (2, 0),
    Mode.POSCTL: (3, 0),
    Mode.ORBIT: (3, 1),
    Mode.OFFBOARD: (6, 0),
    Mode.STABILIZED: (7, 0),
    Mode.TAKEOFF: (4, 2),
    Mode.HOLD: (4, 3),
    Mode.MISSION: (4, 4),
    Mode.RTL: (4, 5),
    Mode.LAND: (4, 6),
}

# ArduPilot Copter mode numbers (ArduCopter/mode.h).
AP_COPTER = {
    "STABILIZE": 0,
    "ACRO": 1,
    "ALT_HOLD": 2,
    "AUTO": 3,
    "GUIDED": 4,
    "LOITER": 5,
    "RTL": 6,
    "CIRCLE": 7,
    "LAND": 9,
    "DRIFT": 11,
    "SPORT": 13,
    "POSHOLD": 16,
    "BRAKE": 17,
    "SMART_RTL": 21,
}
_AP: dict[Mode, int] = {
    Mode.STABILIZED: 0,
    Mode.ALTCTL: 2,
    Mode.MISSION: 3,
    Mode.OFFBOARD: 4,
    Mode.HOLD: 5,
    Mode.RTL: 6,
    Mode.LAND: 9,
    Mode.POSCTL: 16,
    Mode.BRAKE: 17,
    Mode.ORBIT: 7,
}
_AP_NAMES = {v: k for k, v in AP_COPTER.items()}


def px4_custom_mode(mode: Mode) -> int:
    main, sub = _PX4.get(mode, _PX4[Mode.HOLD])
    return (main << 16) | (sub << 24)


def px4_decode(custom_mode: int) -> Mode | None:
    main = (custom_mode >> 16) & 0xFF
    sub = (custom_mode >> 24) & 0xFF
    if main == 4:
        # AUTO with sub mode 0 or READY means "whatever auto" — PX4 treats it as mission.
        sub = sub or 4
        if sub == 1:
            sub = 3
    elif main != 3:
        sub = 0
    for mode, code in _PX4.items():
        if code == (main, sub):
            return mode
    return None


def ap_custom_mode(mode: Mode) -> int:
    return _AP.get(mode, _AP[Mode.HOLD])


def ap_decode(custom_mode: int) -> Mode | None:
    for mode, number in _AP.items():
        if number == custom_mode:
            return mode
    return None


def custom_mode(flavour: str, mode: Mode) -> int:
    return px4_custom_mode(mode) if flavour == "px4" else ap_custom_mode(mode)


def decode(flavour: str, custom: int) -> Mode | None:
    return px4_decode(custom) if flavour == "px4" else ap_decode(custom)


def mode_name(flavour: str, mode: Mode) -> str:
    """The name a pilot sees in the ground station for this mode."""
    if flavour == "px4":
        return {
            Mode.HOLD: "AUTO.LOITER",
            Mode.MISSION: "AUTO.MISSION",
            Mode.RTL: "AUTO.RTL",
            Mode.LAND: "AUTO.LAND",
            Mode.TAKEOFF: "AUTO.TAKEOFF",
            Mode.ORBIT: "ORBIT",
        }.get(mode, mode.value)
    return _AP_NAMES.get(ap_custom_mode(mode), mode.value)
