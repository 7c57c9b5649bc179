"""MAVLink link layer: connections, protocols and the `Vehicle` interface with two backends.

Fleet code uses `open_vehicle` / `LinkManager` and the `Vehicle` interface only; the
backends (`groundctl.link.pymav`, `groundctl.link.mavsdk_backend`) stay behind it.
"""

from groundctl.link.errors import (
    CommandDenied,
    DuplicateSysidError,
    LinkLostError,
    MissionTransferError,
    ParamError,
    Timeout,
    UnsupportedError,
)
from groundctl.link.manager import LinkManager, open_vehicle
from groundctl.link.types import (
    Attitude,
    Autopilot,
    Battery,
    EventStream,
    FlightMode,
    Gps,
    Home,
    Identity,
    LinkEvent,
    LinkEventKind,
    MissionItem,
    MissionProgress,
    MissionType,
    OrbitResult,
    Position,
    StatusText,
    VehicleState,
    coerce_items,
    mission_hash,
)
from groundctl.link.vehicle import Action, MissionPlans, Params, Telemetry, Vehicle

__all__ = [
    "Action",
    "Attitude",
    "Autopilot",
    "Battery",
    "CommandDenied",
    "DuplicateSysidError",
    "EventStream",
    "FlightMode",
    "Gps",
    "Home",
    "Identity",
    "LinkEvent",
    "LinkEventKind",
    "LinkLostError",
    "LinkManager",
    "MissionItem",
    "MissionPlans",
    "MissionProgress",
    "MissionTransferError",
    "MissionType",
    "OrbitResult",
    "ParamError",
    "Params",
    "Position",
    "StatusText",
    "Telemetry",
    "Timeout",
    "UnsupportedError",
    "Vehicle",
    "VehicleState",
    "coerce_items",
    "mission_hash",
    "open_vehicle",
]
