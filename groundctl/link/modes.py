"""Flight-mode encoding per autopilot: PX4 custom main/sub modes, ArduPilot Copter numbers.

PX4 packs custom_mode as main mode in bits 16-23 and sub mode in bits 24-31 and is set with
DO_SET_MODE(base=CUSTOM_MODE_ENABLED, main, sub). ArduPilot Copter uses plain mode numbers
(ArduCopter/mode.h), set with DO_SET_MODE(base=CUSTOM_MODE_ENABLED, number).
"""

from __future__ import annotations

from groundctl.errors import LinkError
from groundctl.link.types import Autopilot, FlightMode

__all__ = ["decode_mode", "encode_mode"]

PX4_MAIN = {
    "MANUAL": 1,
    "ALTCTL": 2,
    "POSCTL": 3,
    "AUTO": 4,
    "ACRO": 5,
    "OFFBOARD": 6,
    "STABILIZED": 7,
    "RATTITUDE": 8,
}
PX4_AUTO_SUB = {
    "READY": 1,
    "TAKEOFF": 2,
    "LOITER": 3,
    "MISSION": 4,
    "RTL": 5,
    "LAND": 6,
    "RTGS": 7,
    "FOLLOW_TARGET": 8,
    "PRECLAND": 9,
}

_PX4_MODE: dict[str, FlightMode] = {
    "MANUAL": FlightMode.MANUAL,
    "ALTCTL": FlightMode.ALTITUDE,
    "POSCTL": FlightMode.POSITION,
    "ACRO": FlightMode.ACRO,
    "OFFBOARD": FlightMode.OFFBOARD,
    "STABILIZED": FlightMode.STABILIZED,
    "RATTITUDE": FlightMode.STABILIZED,
    "AUTO.READY": FlightMode.READY,
    "AUTO.TAKEOFF": FlightMode.TAKEOFF,
    "AUTO.LOITER": FlightMode.HOLD,
    "AUTO.MISSION": FlightMode.MISSION,
    "AUTO.RTL": FlightMode.RETURN,
    "AUTO.LAND": FlightMode.LAND,
    "AUTO.RTGS": FlightMode.RETURN,
    "AUTO.FOLLOW_TARGET": FlightMode.GUIDED,
    "AUTO.PRECLAND": FlightMode.LAND,
}
_PX4_PREFERRED: dict[FlightMode, str] = {
    FlightMode.MANUAL: "MANUAL",
    FlightMode.STABILIZED: "STABILIZED",
    FlightMode.ACRO: "ACRO",
    FlightMode.ALTITUDE: "ALTCTL",
    FlightMode.POSITION: "POSCTL",
    FlightMode.HOLD: "AUTO.LOITER",
    FlightMode.MISSION: "AUTO.MISSION",
    FlightMode.RETURN: "AUTO.RTL",
    FlightMode.LAND: "AUTO.LAND",
    FlightMode.TAKEOFF: "AUTO.TAKEOFF",
    FlightMode.OFFBOARD: "OFFBOARD",
    FlightMode.GUIDED: "AUTO.LOITER",  # PX4 has no GUIDED; reposition works from hold
}

AP_COPTER = {
    "STABILIZE": 0, "ACRO": 1, "ALT_HOLD": 2, "AUTO": 3, "GUIDED": 4, "LOITER": 5, "RTL": 6,
    "CIRCLE": 7, "LAND": 9, "DRIFT": 11, "SPORT": 13, "FLIP": 14, "AUTOTUNE": 15, "POSHOLD": 16,
    "BRAKE": 17, "THROW": 18, "AVOID_ADSB": 19, "GUIDED_NOGPS": 20, "SMART_RTL": 21,
}  # fmt: skip
_AP_NAMES = {v: k for k, v in AP_COPTER.items()}
_AP_MODE: dict[str, FlightMode] = {
    "STABILIZE": FlightMode.STABILIZED,
    "ACRO": FlightMode.ACRO,
    "ALT_HOLD": FlightMode.ALTITUDE,
    "AUTO": FlightMode.MISSION,
    "GUIDED": FlightMode.GUIDED,
    "LOITER": FlightMode.HOLD,
    "RTL": FlightMode.RETURN,
    "SMART_RTL": FlightMode.RETURN,
    "CIRCLE": FlightMode.ORBIT,
    "LAND": FlightMode.LAND,
    "POSHOLD": FlightMode.POSITION,
    "BRAKE": FlightMode.HOLD,
    "GUIDED_NOGPS": FlightMode.GUIDED,
}
_AP_PREFERRED: dict[FlightMode, str] = {
    FlightMode.STABILIZED: "STABILIZE",
    FlightMode.MANUAL: "STABILIZE",
    FlightMode.ACRO: "ACRO",
    FlightMode.ALTITUDE: "ALT_HOLD",
    FlightMode.POSITION: "POSHOLD",
    FlightMode.HOLD: "LOITER",
    FlightMode.MISSION: "AUTO",
    FlightMode.RETURN: "RTL",
    FlightMode.LAND: "LAND",
    FlightMode.GUIDED: "GUIDED",
    FlightMode.ORBIT: "CIRCLE",
    FlightMode.TAKEOFF: "GUIDED",
}


def decode_mode(autopilot: Autopilot, custom_mode: int) -> tuple[FlightMode, str]:
    """HEARTBEAT custom_mode -> (neutral mode, the autopilot's own name)."""
    if autopilot == Autopilot.PX4:
        main = (custom_mode >> 16) & 0xFF
        sub = (custom_mode >> 24) & 0xFF
        main_name = next((k for k, v in PX4_MAIN.items() if v == main), None)
        if main_name is None:
            return FlightMode.UNKNOWN, f"PX4({main},{sub})"
        name = main_name
        if main_name == "AUTO":
            sub_name = next((k for k, v in PX4_AUTO_SUB.items() if v == sub), None)
            name = f"AUTO.{sub_name}" if sub_name else "AUTO"
        elif main_name == "POSCTL" and sub == 1:  # PX4_CUSTOM_SUB_MODE_POSCTL_ORBIT
            return FlightMode.ORBIT, "POSCTL.ORBIT"
        return _PX4_MODE.get(name, FlightMode.UNKNOWN), name
    if autopilot == Autopilot.ARDUPILOT:
        name = _AP_NAMES.get(custom_mode, f"MODE{custom_mode}")
        return _AP_MODE.get(name, FlightMode.UNKNOWN), name
    return FlightMode.UNKNOWN, str(custom_mode)


def encode_mode(autopilot: Autopilot, mode: FlightMode | str) -> tuple[float, float, float, str]:
    """Mode -> DO_SET_MODE params (base_mode, custom/main, sub) and the autopilot's name.

    `mode` is a FlightMode or the autopilot's own mode name ("AUTO.LOITER", "GUIDED").
    """
    custom_enabled = 1.0  # MAV_MODE_FLAG_CUSTOM_MODE_ENABLED
    if autopilot == Autopilot.PX4:
        name = mode.upper() if isinstance(mode, str) and not isinstance(mode, FlightMode) else None
        if isinstance(mode, FlightMode):
            name = _PX4_PREFERRED.get(mode)
        elif (
            name is not None
            and name not in _PX4_MODE
            and name.lower() in FlightMode._value2member_map_
        ):
            name = _PX4_PREFERRED.get(FlightMode(name.lower()))
        if name is None or name not in _PX4_MODE:
            raise LinkError(f"PX4 has no flight mode {mode!r}; known: {', '.join(_PX4_MODE)}")
        main, _, sub = name.partition(".")
        return custom_enabled, float(PX4_MAIN[main]), float(PX4_AUTO_SUB[sub]) if sub else 0.0, name
    if autopilot == Autopilot.ARDUPILOT:
        if isinstance(mode, FlightMode):
            name = _AP_PREFERRED.get(mode)
        else:
            name = mode.upper()
            if name not in AP_COPTER and name.lower() in FlightMode._value2member_map_:
                name = _AP_PREFERRED.get(FlightMode(name.lower()))
        if name is None or name not in AP_COPTER:
            raise LinkError(
                f"ArduPilot Copter has no flight mode {mode!r}; known: {', '.join(AP_COPTER)}"
            )
        return custom_enabled, float(AP_COPTER[name]), 0.0, name
    raise LinkError(f"cannot set mode {mode!r}: autopilot not identified yet")
