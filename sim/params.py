"""Parameters each flavour exposes: the ones ground stations read and the failsafes use.

PX4 sends integer parameters byte-wise (the int32 bits in PARAM_VALUE's float field);
ArduPilot casts every value to float. Both are what real autopilots do, and what MAVSDK
and QGroundControl expect from each.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass

INT32 = 6  # MAV_PARAM_TYPE_INT32
REAL32 = 9  # MAV_PARAM_TYPE_REAL32
INT8 = 2  # MAV_PARAM_TYPE_INT8


@dataclass(frozen=True)
class ParamSpec:
    name: str
    default: float
    type: int = REAL32


def _p(name: str, default: float, kind: int = REAL32) -> ParamSpec:
    return ParamSpec(name, default, kind)


PX4_PARAMS: tuple[ParamSpec, ...] = (
    _p("SYS_AUTOSTART", 4001, INT32),
    _p("MAV_SYS_ID", 1, INT32),
    _p("MAV_TYPE", 2, INT32),
    _p("NAV_DLL_ACT", 0, INT32),  # 0 off, 1 hold, 2 return, 3 land, 5 terminate
    _p("COM_DL_LOSS_T", 10, INT32),
    _p("NAV_RCL_ACT", 2, INT32),
    _p("COM_RC_IN_MODE", 4, INT32),  # 4: no RC needed (SITL with a GCS only)
    _p("COM_LOW_BAT_ACT", 3, INT32),  # 0 warn, 1 return at critical, 2 land, 3 return+land
    _p("BAT_LOW_THR", 0.15),
    _p("BAT_CRIT_THR", 0.07),
    _p("BAT_EMERGEN_THR", 0.05),
    _p("COM_ARM_WO_GPS", 0, INT32),
    _p("COM_DISARM_LAND", 2.0),
    _p("COM_DISARM_PRFLT", 10.0),
    _p("COM_POS_FS_DELAY", 1, INT32),
    _p("RTL_RETURN_ALT", 60.0),
    _p("RTL_DESCEND_ALT", 30.0),
    _p("RTL_LAND_DELAY", 0.0),
    _p("MIS_TAKEOFF_ALT", 2.5),
    _p("MIS_DIST_1WP", 900.0),
    _p("MPC_XY_CRUISE", 10.0),
    _p("MPC_XY_VEL_MAX", 15.0),
    _p("MPC_Z_VEL_MAX_UP", 3.0),
    _p("MPC_Z_VEL_MAX_DN", 1.5),
    _p("MPC_Z_V_AUTO_UP", 3.0),
    _p("MPC_Z_V_AUTO_DN", 1.5),
    _p("MPC_TKO_SPEED", 1.5),
    _p("MPC_LAND_SPEED", 0.7),
    _p("NAV_ACC_RAD", 2.0),
    _p("NAV_LOITER_RAD", 80.0),
    _p("GF_ACTION", 2, INT32),  # 0 none, 1 warn, 2 hold, 3 return, 4 terminate, 5 land
    _p("GF_MAX_HOR_DIST", 0.0),
    _p("GF_MAX_VER_DIST", 0.0),
    _p("COM_OBL_RC_ACT", 0, INT32),
    _p("SIM_WIND_SPD", 0.0),
    _p("SIM_WIND_DIR", 0.0),
    _p("SIM_WIND_GUST", 0.0),
)

ARDUPILOT_PARAMS: tuple[ParamSpec, ...] = (
    _p("SYSID_THISMAV", 1, INT8),
    _p("FRAME_CLASS", 1, INT8),
    _p("MAV_GCS_SYSID", 255, INT8),
    _p("SYSID_MYGCS", 255, INT8),
    _p("FS_GCS_ENABLE", 0, INT8),  # 0 off, 1 RTL, 2 continue mission in AUTO, 5 land
    _p("FS_GCS_TIMEOUT", 5.0),
    _p("FS_EKF_ACTION", 1, INT8),  # 1 land
    _p("BATT_FS_LOW_ACT", 2, INT8),  # 0 none, 1 land, 2 RTL, 3 SmartRTL, 5 terminate
    _p("BATT_FS_CRT_ACT", 1, INT8),
    _p("BATT_LOW_VOLT", 0.0),  # set from the airframe's cell count at start
    _p("BATT_CRT_VOLT", 0.0),
    _p("BATT_ARM_VOLT", 0.0),
    _p("BATT_CAPACITY", 0.0),
    _p("RTL_ALT", 1500.0),  # centimetres
    _p("RTL_ALT_FINAL", 0.0),
    _p("RTL_LOIT_TIME", 5000.0),
    _p("LAND_SPEED", 50.0),  # cm/s
    _p("WPNAV_SPEED", 1000.0),  # cm/s
    _p("WPNAV_SPEED_UP", 250.0),
    _p("WPNAV_SPEED_DN", 150.0),
    _p("WPNAV_RADIUS", 200.0),  # cm
    _p("CIRCLE_RADIUS", 1000.0),  # cm
    _p("CIRCLE_RATE", 20.0),  # deg/s, positive clockwise
    _p("FENCE_ENABLE", 1, INT8),
    _p("FENCE_ACTION", 1, INT8),  # 0 report, 1 RTL or land, 2 land, 4 brake
    _p("FENCE_ALT_MAX", 100.0),
    _p("FENCE_TYPE", 7, INT8),
    _p("ARMING_CHECK", 1, INT8),
    _p("DISARM_DELAY", 10, INT8),
    _p("SIM_WIND_SPD", 0.0),
    _p("SIM_WIND_DIR", 0.0),
    _p("SIM_WIND_TURB", 0.0),
)


class ParamTable:
    """Parameters of one vehicle: values by name, in a stable order for index access."""

    def __init__(self, flavour: str, specs: tuple[ParamSpec, ...]) -> None:
        self.flavour = flavour
        self.specs = {s.name: s for s in specs}
        self.names = [s.name for s in specs]
        self.values = {s.name: float(s.default) for s in specs}

    def __getitem__(self, name: str) -> float:
        return self.values[name]

    def __setitem__(self, name: str, value: float) -> None:
        spec = self.specs[name]
        self.values[name] = float(round(value)) if spec.type != REAL32 else float(value)

    def __contains__(self, name: str) -> bool:
        return name in self.values

    def index(self, name: str) -> int:
        return self.names.index(name)

    def wire_value(self, name: str) -> float:
        """The float sent in PARAM_VALUE for this parameter."""
        value = self.values[name]
        if self.flavour == "px4" and self.specs[name].type == INT32:
            return struct.unpack("<f", struct.pack("<i", int(value)))[0]
        return value

    def from_wire(self, name: str, wire: float) -> float:
        if self.flavour == "px4" and self.specs[name].type == INT32:
            return float(struct.unpack("<i", struct.pack("<f", wire))[0])
        return float(wire)


def param_table(flavour: str) -> ParamTable:
    return ParamTable(flavour, PX4_PARAMS if flavour == "px4" else ARDUPILOT_PARAMS)
