"""Mission, fence and rally plans as the vehicle stores them.

Items are kept in MISSION_ITEM_INT form (lat/lon as int degE7). Each stored plan gets an
opaque id (a CRC of its items) that the vehicle reports in MISSION_ACK, MISSION_COUNT and
MISSION_CURRENT, so a ground station can tell whether its copy is current without
downloading it (MAVLink mission protocol, "opaque_id").
"""

from __future__ import annotations

import math
import struct
import zlib
from dataclasses import dataclass

import shapely
from shapely.geometry import Point, Polygon

MISSION = 0  # MAV_MISSION_TYPE_MISSION
FENCE = 1
RALLY = 2
ALL = 255
TYPES = (MISSION, FENCE, RALLY)

# MAV_CMD values the mission executor understands.
NAV_WAYPOINT = 16
NAV_LOITER_UNLIM = 17
NAV_LOITER_TURNS = 18
NAV_LOITER_TIME = 19
NAV_RETURN_TO_LAUNCH = 20
NAV_LAND = 21
NAV_TAKEOFF = 22
NAV_DELAY = 93
NAV_VTOL_TAKEOFF = 84
NAV_VTOL_LAND = 85
CONDITION_DELAY = 112
DO_JUMP = 177
DO_CHANGE_SPEED = 178
DO_MOUNT_CONTROL = 205
DO_GIMBAL_MANAGER_PITCHYAW = 1000
FENCE_RETURN_POINT = 5000
FENCE_POLYGON_INCLUSION = 5001
FENCE_POLYGON_EXCLUSION = 5002
FENCE_CIRCLE_INCLUSION = 5003
FENCE_CIRCLE_EXCLUSION = 5004
RALLY_POINT = 5100

NAV_COMMANDS = frozenset(
    {
        NAV_WAYPOINT,
        NAV_LOITER_UNLIM,
        NAV_LOITER_TURNS,
        NAV_LOITER_TIME,
        NAV_RETURN_TO_LAUNCH,
        NAV_LAND,
        NAV_TAKEOFF,
        NAV_DELAY,
        NAV_VTOL_TAKEOFF,
        NAV_VTOL_LAND,
    }
)

# MAV_FRAME values accepted for positions.
FRAME_GLOBAL = 0
FRAME_MISSION = 2
FRAME_GLOBAL_RELATIVE_ALT = 3
FRAME_GLOBAL_INT = 5
FRAME_GLOBAL_RELATIVE_ALT_INT = 6
FRAME_GLOBAL_TERRAIN_ALT = 10
FRAME_GLOBAL_TERRAIN_ALT_INT = 11
SUPPORTED_FRAMES = frozenset({0, 2, 3, 5, 6, 10, 11})
AMSL_FRAMES = frozenset({FRAME_GLOBAL, FRAME_GLOBAL_INT})


@dataclass(frozen=True)
class Item:
    """One stored item, fields as in MISSION_ITEM_INT."""

    seq: int
    frame: int
    command: int
    current: int
    autocontinue: int
    param1: float
    param2: float
    param3: float
    param4: float
    x: int  # lat degE7 (or a local x for non-global frames)
    y: int  # lon degE7
    z: float
    mission_type: int = MISSION

    @property
    def lat(self) -> float:
        return self.x / 1e7

    @property
    def lon(self) -> float:
        return self.y / 1e7

    @classmethod
    def from_msg(cls, msg: object, is_int: bool) -> Item:
        def get(name: str) -> float:
            return float(getattr(msg, name))

        x, y = (
            (int(get("x")), int(get("y")))
            if is_int
            else (
                round(get("x") * 1e7),
                round(get("y") * 1e7),
            )
        )
        return cls(
            seq=int(get("seq")),
            frame=int(get("frame")),
            command=int(get("command")),
            current=int(get("current")),
            autocontinue=int(get("autocontinue")),
            param1=get("param1"),
            param2=get("param2"),
            param3=get("param3"),
            param4=get("param4"),
            x=x,
            y=y,
            z=get("z"),
            mission_type=int(getattr(msg, "mission_type", MISSION)),
        )


def opaque_id(items: list[Item]) -> int:
    """A stable 32-bit id of a plan's content; 0 means "no plan"."""
    if not items:
        return 0
    crc = 0
    for it in items:
        crc = zlib.crc32(
            struct.pack(
                "<HHHffffiif",
                it.seq,
                it.frame,
                it.command,
                it.param1,
                it.param2,
                it.param3,
                it.param4,
                it.x,
                it.y,
                it.z,
            ),
            crc,
        )
    return crc or 1


def validate(items: list[Item], mission_type: int) -> tuple[int, str] | None:
    """First problem of an uploaded plan as (MAV_MISSION_RESULT, reason), or None."""
    for it in items:
        if it.frame not in SUPPORTED_FRAMES:
            return (
                1,
                f"item {it.seq}: unsupported frame {it.frame}",
            )  # MAV_MISSION_UNSUPPORTED_FRAME
        if it.frame != FRAME_MISSION and it.command not in (DO_JUMP, DO_CHANGE_SPEED):
            if not (-90e7 <= it.x <= 90e7):
                return 5, f"item {it.seq}: latitude out of range"  # INVALID_PARAM5_X
            if not (-180e7 <= it.y <= 180e7):
                return 6, f"item {it.seq}: longitude out of range"  # INVALID_PARAM6_Y
        if not math.isfinite(it.z) and it.command in NAV_COMMANDS:
            return 7, f"item {it.seq}: altitude is not a number"  # INVALID_PARAM7
        if (
            mission_type == FENCE
            and it.command
            in (
                FENCE_POLYGON_INCLUSION,
                FENCE_POLYGON_EXCLUSION,
            )
            and it.param1 < 3
        ):
            return 3, f"item {it.seq}: a fence polygon needs at least 3 vertices"  # INVALID
    return None


@dataclass(frozen=True)
class Fence:
    """Fence zones in the vehicle's local frame (metres)."""

    inclusion: shapely.Geometry | None
    exclusion: shapely.Geometry | None

    def breached(self, x: float, y: float) -> bool:
        if self.inclusion is not None and not shapely.contains_xy(self.inclusion, x, y):
            return True
        return self.exclusion is not None and bool(shapely.contains_xy(self.exclusion, x, y))


# Items whose position PX4's mission check tests against the geofence
# (MissionBlock::item_contains_position).
POSITION_COMMANDS = frozenset(
    {
        NAV_WAYPOINT,
        NAV_LOITER_UNLIM,
        NAV_LOITER_TURNS,
        NAV_LOITER_TIME,
        NAV_LAND,
        NAV_TAKEOFF,
        NAV_VTOL_TAKEOFF,
        NAV_VTOL_LAND,
    }
)


def fence_violation(items: list[Item], fence: Fence | None, to_local) -> int | None:
    """Index of the first item whose position is outside the fence, or None.

    PX4 checks every mission position against the geofence whenever the mission or the
    fence changes (mission_feasibility_checker.cpp): one waypoint inside an exclusion zone
    (a lane ending on a no-fly zone's edge, rounded inwards) makes the whole mission invalid,
    "Geofence violation for waypoint N", and AUTO.MISSION is refused. Items without a
    position of their own (lat and lon 0: here) are not checked."""
    if fence is None:
        return None
    for i, it in enumerate(items):
        positioned = it.command in POSITION_COMMANDS and not (it.x == 0 and it.y == 0)
        if positioned and fence.breached(*to_local(it.lat, it.lon)):
            return i
    return None


def build_fence(items: list[Item], to_local) -> Fence | None:
    """Fence zones from FENCE items; `to_local(lat, lon) -> (x, y)` in metres."""
    inc: list[shapely.Geometry] = []
    exc: list[shapely.Geometry] = []
    i = 0
    while i < len(items):
        it = items[i]
        if it.command in (FENCE_POLYGON_INCLUSION, FENCE_POLYGON_EXCLUSION):
            n = max(3, int(it.param1))
            verts = items[i : i + n]
            pts = [to_local(v.lat, v.lon) for v in verts]
            (inc if it.command == FENCE_POLYGON_INCLUSION else exc).append(Polygon(pts))
            i += n
            continue
        if it.command in (FENCE_CIRCLE_INCLUSION, FENCE_CIRCLE_EXCLUSION):
            cx, cy = to_local(it.lat, it.lon)
            circle = Point(cx, cy).buffer(max(it.param1, 0.1), quad_segs=16)
            (inc if it.command == FENCE_CIRCLE_INCLUSION else exc).append(circle)
        i += 1
    if not inc and not exc:
        return None
    inclusion = shapely.union_all(inc) if inc else None
    exclusion = shapely.union_all(exc) if exc else None
    for g in (inclusion, exclusion):
        if g is not None:
            shapely.prepare(g)
    return Fence(inclusion, exclusion)
