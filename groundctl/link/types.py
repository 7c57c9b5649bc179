"""Plain data the link layer hands to the rest of groundctl: identity, telemetry, events.

Every type is a frozen dataclass. Positions are WGS84 degrees; altitudes name their
reference (`alt_amsl_m` above mean sea level, `alt_rel_m` above home).
"""

from __future__ import annotations

import hashlib
import math
import struct
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from enum import IntEnum, StrEnum
from typing import Any

__all__ = [
    "Attitude",
    "Autopilot",
    "Battery",
    "EventStream",
    "FlightMode",
    "Gps",
    "Home",
    "Identity",
    "LinkEvent",
    "LinkEventKind",
    "MissionItem",
    "MissionProgress",
    "MissionType",
    "OrbitResult",
    "Position",
    "StatusText",
    "VehicleState",
    "coerce_items",
    "mission_hash",
]


class Autopilot(StrEnum):
    PX4 = "px4"
    ARDUPILOT = "ardupilot"
    UNKNOWN = "unknown"


class MissionType(IntEnum):
    """MAV_MISSION_TYPE: the three plans a vehicle stores."""

    MISSION = 0
    FENCE = 1
    RALLY = 2


class FlightMode(StrEnum):
    """Autopilot-neutral flight mode. `VehicleState.mode_name` keeps the autopilot's own name."""

    UNKNOWN = "unknown"
    MANUAL = "manual"
    STABILIZED = "stabilized"
    ACRO = "acro"
    ALTITUDE = "altitude"
    POSITION = "position"
    HOLD = "hold"  # PX4 AUTO.LOITER, ArduPilot LOITER/BRAKE
    MISSION = "mission"  # PX4 AUTO.MISSION, ArduPilot AUTO
    RETURN = "return"  # PX4 AUTO.RTL, ArduPilot RTL/SMART_RTL
    LAND = "land"
    TAKEOFF = "takeoff"
    GUIDED = "guided"  # ArduPilot GUIDED (go-to / takeoff target)
    ORBIT = "orbit"  # PX4 orbit, ArduPilot CIRCLE
    OFFBOARD = "offboard"
    READY = "ready"


@dataclass(frozen=True)
class Identity:
    """Who a vehicle is. `uid` is AUTOPILOT_VERSION.uid (None until the vehicle answered)."""

    sysid: int
    compid: int
    autopilot: Autopilot
    vehicle_type: str  # MAV_TYPE name without prefix, lower case: "quadrotor", "hexarotor"...
    mav_type: int
    uid: int | None = None
    firmware: str | None = None  # "1.15.0" from flight_sw_version
    capabilities: int = 0  # MAV_PROTOCOL_CAPABILITY bit mask
    backend: str = "pymavlink"
    url: str = ""


@dataclass(frozen=True)
class Position:
    lat: float
    lon: float
    alt_amsl_m: float
    alt_rel_m: float
    vn_ms: float = 0.0
    ve_ms: float = 0.0
    vd_ms: float = 0.0
    heading_deg: float | None = None

    @property
    def ground_speed_ms(self) -> float:
        return math.hypot(self.vn_ms, self.ve_ms)


@dataclass(frozen=True)
class Attitude:
    roll_deg: float
    pitch_deg: float
    yaw_deg: float


@dataclass(frozen=True)
class Battery:
    remaining_pct: float | None  # None when the autopilot does not estimate it
    voltage_v: float | None
    current_a: float | None = None


@dataclass(frozen=True)
class Gps:
    fix_type: int  # GPS_FIX_TYPE: 0-1 none, 2 2D, 3 3D, 4 DGPS, 5 RTK float, 6 RTK fixed
    satellites: int
    hdop: float | None = None

    @property
    def has_3d_fix(self) -> bool:
        return self.fix_type >= 3


@dataclass(frozen=True)
class Home:
    lat: float
    lon: float
    alt_amsl_m: float


@dataclass(frozen=True)
class MissionProgress:
    """Mission progress as the vehicle reports it (MISSION_CURRENT, MISSION_ITEM_REACHED).

    `total` counts the items the vehicle holds (on ArduPilot this includes home at seq 0).
    `mission_id` is MISSION_CURRENT.mission_id (0 when the autopilot does not send it).
    `reached` holds every seq reported by MISSION_ITEM_REACHED since the last upload.
    """

    current_seq: int = 0
    total: int = 0
    mission_id: int = 0
    reached: tuple[int, ...] = ()
    mission_state: int = (
        0  # MISSION_STATE: 0 unknown, 1 no mission, 2 not started, 3 active, 4 paused, 5 complete
    )


@dataclass(frozen=True)
class StatusText:
    severity: int  # MAV_SEVERITY: 0 emergency .. 7 debug
    text: str
    time_s: float  # monotonic time it was heard


@dataclass(frozen=True)
class VehicleState:
    """A snapshot of everything known about one vehicle. Fields are None until first heard."""

    sysid: int
    position: Position | None = None
    attitude: Attitude | None = None
    battery: Battery | None = None
    gps: Gps | None = None
    home: Home | None = None
    mode: FlightMode = FlightMode.UNKNOWN
    mode_name: str = ""  # the autopilot's own name: "AUTO.MISSION", "GUIDED", ...
    armed: bool = False
    in_air: bool = False
    system_status: int = 0  # MAV_STATE
    mission: MissionProgress = field(default_factory=MissionProgress)
    last_statustext: StatusText | None = None
    link_ok: bool = False
    last_heartbeat_age_s: float = math.inf
    uptime_ms: int = 0  # time_boot_ms of the latest message that carries it
    duplicate_sysid: bool = False
    reboots: int = 0

    def evolve(self, **changes: Any) -> VehicleState:
        return replace(self, **changes)


class LinkEventKind(StrEnum):
    DISCOVERED = "discovered"  # first heartbeat of a vehicle on a link
    LINK_LOST = "link_lost"  # no heartbeat for heartbeat_timeout_s
    LINK_RESTORED = "link_restored"
    REBOOTED = "rebooted"  # uptime went backwards: the autopilot restarted
    DUPLICATE_SYSID = "duplicate_sysid"  # two uids for one sysid
    STATUSTEXT = "statustext"
    ITEM_REACHED = "item_reached"
    MODE_CHANGED = "mode_changed"
    ARMED = "armed"
    DISARMED = "disarmed"


@dataclass(frozen=True)
class LinkEvent:
    kind: LinkEventKind
    sysid: int
    time_s: float  # time.monotonic()
    detail: str = ""
    data: Mapping[str, Any] = field(default_factory=dict)


class EventStream:
    """An async iterator of `LinkEvent`s that is subscribed from the moment it is created,
    so nothing is missed between `telemetry.events()` and the first `await`."""

    def __init__(self, subscribers: list[Any]) -> None:
        import asyncio

        self._subscribers = subscribers
        self._queue: asyncio.Queue[LinkEvent] = asyncio.Queue()
        subscribers.append(self._queue)

    def __aiter__(self) -> EventStream:
        return self

    async def __anext__(self) -> LinkEvent:
        if self._queue not in self._subscribers:
            raise StopAsyncIteration
        return await self._queue.get()

    async def aclose(self) -> None:
        if self._queue in self._subscribers:
            self._subscribers.remove(self._queue)

    def __del__(self) -> None:
        if self._queue in self._subscribers:
            self._subscribers.remove(self._queue)


@dataclass(frozen=True)
class OrbitResult:
    """How an orbit request was carried out: a real orbit or (ArduPilot) hold over the point."""

    orbiting: bool
    detail: str


@dataclass(frozen=True)
class MissionItem:
    """One MISSION_ITEM_INT. `x`, `y` are lat/lon ×1e7 for global frames; `z` altitude in metres."""

    seq: int
    frame: int
    command: int
    param1: float = 0.0
    param2: float = 0.0
    param3: float = 0.0
    param4: float = 0.0
    x: int = 0
    y: int = 0
    z: float = 0.0
    current: int = 0
    autocontinue: int = 1
    mission_type: MissionType = MissionType.MISSION

    @property
    def params(self) -> tuple[float, float, float, float]:
        return (self.param1, self.param2, self.param3, self.param4)

    def content_key(self) -> tuple[Any, ...]:
        """What makes two items the same on the vehicle (float32 rounding like the wire)."""

        def f32(v: float) -> float | str:
            if math.isnan(v):
                return "nan"  # NaN != NaN would make every mission with NaN params differ
            return struct.unpack("<f", struct.pack("<f", v))[0]

        return (
            self.seq,
            self.frame,
            self.command,
            *(f32(p) for p in self.params),
            int(self.x),
            int(self.y),
            f32(self.z),
            int(self.autocontinue),
        )


# A download may name an item's frame differently from the upload: PX4 answers in int mode
# with the _INT frame whatever frame the item came in; ArduPilot with the float one.
_FRAME_CLASS = {0: 0, 5: 0, 3: 3, 6: 3, 10: 10, 11: 10}
# Params an autopilot keeps of a positional item (PX4 v1.16 mavlink_mission.cpp, parse/format
# mission item): NAV_WAYPOINT its hold time and acceptance radius, a fence vertex its vertex
# count, ...; the rest (yaw, which PX4 also wraps to 0-360) comes back changed or as 0.
_KEPT_PARAMS: dict[int, tuple[int, ...]] = {
    16: (0, 1), 17: (2,), 19: (0, 2), 21: (1,), 22: (),
    5001: (0,), 5002: (0,), 5003: (0,), 5004: (0,), 5100: (),
}  # fmt: skip


def _f32(v: float) -> float | str:
    if math.isnan(v):
        return "nan"
    return struct.unpack("<f", struct.pack("<f", v))[0]


def held_key(it: MissionItem) -> tuple[Any, ...]:
    """What of an item survives a round trip through the autopilot (upload, then download)."""
    frame = _FRAME_CLASS.get(it.frame, it.frame)
    if it.frame == 2:  # MAV_FRAME_MISSION: every param is kept as sent
        params = tuple(_f32(p) for p in it.params)
    else:
        kept = _KEPT_PARAMS.get(it.command, (0, 1, 2, 3))
        params = tuple(_f32(it.params[i]) for i in kept)
    return (it.seq, frame, it.command, params, int(it.x), int(it.y), _f32(it.z))


def same_items(held: Sequence[MissionItem], ours: Sequence[MissionItem]) -> bool:
    """Does the plan `held` (downloaded from the vehicle) hold exactly `ours`?"""
    return len(held) == len(ours) and all(
        held_key(a) == held_key(b) for a, b in zip(held, ours, strict=True)
    )


def _get(obj: Any, name: str, default: Any = None) -> Any:
    if isinstance(obj, Mapping):
        return obj.get(name, default)
    return getattr(obj, name, default)


def coerce_items(
    items: Iterable[Any], mission_type: MissionType = MissionType.MISSION
) -> list[MissionItem]:
    """Accept mission items as the planner gives them (any object or mapping with seq, frame,
    command, params or param1..4, x, y, z) and return `MissionItem`s numbered 0..n-1.

    Raises ValueError saying which item is malformed.
    """
    out: list[MissionItem] = []
    for i, it in enumerate(items):
        if isinstance(it, MissionItem):
            out.append(replace(it, seq=i, mission_type=mission_type))
            continue
        try:
            params = _get(it, "params")
            if params is None:
                params = tuple(float(_get(it, f"param{k}", 0.0) or 0.0) for k in range(1, 5))
            params = tuple(float(p) for p in params)
            if len(params) < 4:
                params = params + (0.0,) * (4 - len(params))
            x, y = _get(it, "x"), _get(it, "y")
            if x is None and _get(it, "lat") is not None:
                x, y = round(float(_get(it, "lat")) * 1e7), round(float(_get(it, "lon")) * 1e7)
            out.append(
                MissionItem(
                    seq=i,
                    frame=int(_get(it, "frame", 3)),
                    command=int(_get(it, "command")),
                    param1=params[0],
                    param2=params[1],
                    param3=params[2],
                    param4=params[3],
                    x=int(x or 0),
                    y=int(y or 0),
                    z=float(_get(it, "z", _get(it, "alt_m", 0.0)) or 0.0),
                    current=0,
                    autocontinue=int(_get(it, "autocontinue", 1)),
                    mission_type=mission_type,
                )
            )
        except (TypeError, ValueError) as e:
            raise ValueError(f"mission item {i} ({it!r}) is malformed: {e}") from e
    return out


def mission_hash(items: Iterable[MissionItem]) -> str:
    """A content hash of a mission, independent of how the items were built."""
    h = hashlib.sha256()
    for it in items:
        h.update(repr(it.content_key()).encode())
    return h.hexdigest()[:16]
