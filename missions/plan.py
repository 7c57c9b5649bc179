"""The search plan: data model, versioned JSON, and MAVLink mission items.

This module is the contract between the planner (`missions.planner`) and everything that flies
a plan (`groundctl fly`, the link layer, the simulator). It is stable: fields are only ever
added, with defaults, and ``format_version`` is bumped when a reader must change.

Structure (all coordinates WGS84 degrees, altitudes in metres with the reference named)::

    Plan
      format, format_version, created (ISO 8601 UTC), name
      area:  [ring, ...]       outer boundaries, each ring [(lat, lon), ...] (not closed)
      holes: [ring, ...]       no-fly / excluded rings the path never enters
      camera: CameraSettings   camera name, alt_agl_m, footprint, GSD, lane spacing, gimbal
      altitude_ref             "relative_home" (no DEM) or "terrain" (DEM given: alt_rel_m
                               keeps alt_agl_m above ground, alt_amsl_m is set too)
      turn_margin_m            how far outside the area turns may go (0 = never)
      hole_margin_m            how far the path keeps off every hole
      pattern                  "sections" (the area divided among the drones),
                               "expanding-square", "sector", "trackline", or "replan"
      lkp, subject, terrain    last-known point (lat, lon) and the lost-person category and
                               terrain of the probability model (None without one)
      rings: [PoaRing]         the probability rings round the LKP: radius_m, share, poa
      replan_of                name of the plan whose gaps this plan flies (replan only)
      stats: PlanStats         area, length, times, turns, coverage %, POD; with a
                               probability model also poa, pos and pos_curve [(t_s, pos)]
      segments: [Segment]      one per vehicle (its section of the area)
        index, vehicle (airframe hint), speed_ms, launch (lat, lon), lane_ids, stats,
        outline, poa?, sweep_deg (lane bearings)
        sorties: [Sortie]      one per battery, in flying order
          index, segment, launch, est_time_s, length_m, lane_ids, poa?, pod?, start_s?
          waypoints: [Waypoint]  lat, lon, alt_rel_m, alt_amsl_m?, speed_ms, kind, lane_id

Every number has a physical range, checked on load (`PlanError` naming the field): speeds
0-60 m/s, altitudes -500..10000 m, margins 0-1000 m, bearings 0-360 degrees, times up to
10 days, probabilities 0-1; NaN and infinity are refused everywhere.

Waypoint kinds: ``transit`` (to/from launch or between cells), ``lane_start`` and
``lane_end`` (the camera sweep runs between them), ``turn`` (a routed corner between two
lanes), ``terrain`` (inserted on a lane or transit to follow the ground).

Lane ids are unique per piece: a lane split between two sorties (a segment or a battery
ending mid-lane) has one id per piece (`unique_lane_pieces`), so that a lane counts as swept
exactly when its own ``lane_end`` is reached.

A sortie's waypoints begin at the first point after take-off and end back over its launch
point; `mission_items` adds take-off, the speed, and return-to-launch. `Sortie.resume_from`
cuts a sortie to start at a given lane, so an interrupted sortie resumes at its first
unswept lane.

Load and save with `Plan.load(path)` / `plan.dump(path)` or `Plan.from_json(text)` /
`plan.to_json()`; a malformed file raises `PlanError` saying what and where.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from missions.errors import PlanError

PLAN_FORMAT = "groundctl.plan"
PLAN_FORMAT_VERSION = 1

Lat = Annotated[float, Field(ge=-90, le=90)]
Lon = Annotated[float, Field(ge=-180, le=180)]
LatLon = tuple[Lat, Lon]
Ring = tuple[LatLon, ...]
WaypointKind = Literal["transit", "lane_start", "lane_end", "turn", "terrain"]
AltitudeRef = Literal["relative_home", "terrain"]
Pattern = Literal["sections", "expanding-square", "sector", "trackline", "replan"]

# MAVLink constants (common.xml) used by the mission items; plain ints so that this module
# does not need pymavlink.
MAV_FRAME_GLOBAL = 0
MAV_FRAME_GLOBAL_RELATIVE_ALT_INT = 6
# Position-less items (speed, return to launch, other DO_*) go in MAV_FRAME_MISSION: PX4
# refuses them in a global frame (MAV_MISSION_UNSUPPORTED), and the MAVLink spec asks for it.
MAV_FRAME_MISSION = 2
MAV_CMD_NAV_WAYPOINT = 16
MAV_CMD_NAV_RETURN_TO_LAUNCH = 20
MAV_CMD_NAV_TAKEOFF = 22
MAV_CMD_DO_CHANGE_SPEED = 178
MAV_MISSION_TYPE_MISSION = 0
SPEED_TYPE_GROUND = 1


class _Model(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid", allow_inf_nan=False)


# Physical ranges of plan fields (see the module docstring).
MAX_SPEED_MS = 60.0
MIN_ALT_M, MAX_ALT_M = -500.0, 10_000.0
MAX_MARGIN_M = 1000.0
MAX_TIME_S = 864_000.0  # 10 days
MAX_LENGTH_M = 1e8
MAX_AREA_M2 = 1e11


class Waypoint(_Model):
    lat: float = Field(ge=-90, le=90)
    lon: float = Field(ge=-180, le=180)
    alt_rel_m: float = Field(ge=MIN_ALT_M, le=MAX_ALT_M)
    alt_amsl_m: float | None = Field(default=None, ge=MIN_ALT_M, le=MAX_ALT_M)
    speed_ms: float = Field(gt=0, le=MAX_SPEED_MS)
    kind: WaypointKind
    lane_id: int | None = Field(default=None, ge=0)


class CameraSettings(_Model):
    name: str
    alt_agl_m: float = Field(gt=0, le=MAX_ALT_M)
    footprint_w_m: float = Field(gt=0, le=1e5, description="across track")
    footprint_h_m: float = Field(gt=0, le=1e5, description="along track")
    gsd_m: float = Field(gt=0, le=1e3)
    lane_spacing_m: float = Field(gt=0, le=1e5)
    side_overlap: float = Field(ge=0, lt=1)
    gimbal_pitch_deg: float = Field(default=-90.0, ge=-90, le=0)
    px_on_person: float = Field(gt=0, le=1e5, description="pixels across a 0.5 m wide person")


class SegmentStats(_Model):
    area_m2: float = Field(ge=0, le=MAX_AREA_M2)
    lane_length_m: float = Field(ge=0, le=MAX_LENGTH_M)
    length_m: float = Field(ge=0, le=MAX_LENGTH_M)
    est_time_s: float = Field(ge=0, le=MAX_TIME_S)
    turns: int = Field(ge=0)
    pod: float = Field(ge=0, le=1, description="1 - exp(-W L / A)")


class PlanStats(_Model):
    area_m2: float = Field(ge=0, le=MAX_AREA_M2)
    searchable_m2: float = Field(ge=0, le=MAX_AREA_M2)
    length_m: float = Field(ge=0, le=MAX_LENGTH_M)
    lane_length_m: float = Field(ge=0, le=MAX_LENGTH_M)
    max_segment_time_s: float = Field(ge=0, le=MAX_TIME_S)
    mean_segment_time_s: float = Field(ge=0, le=MAX_TIME_S)
    turns: int = Field(ge=0)
    coverage_pct: float = Field(ge=0, le=100)
    pod: float = Field(ge=0, le=1)
    sorties: int = Field(ge=0)
    planning_s: float = Field(default=0.0, ge=0, le=MAX_TIME_S)
    # With a probability model: POA of the searchable area (the rest is outside it), the
    # probability of success of the whole plan, and its growth with flight time.
    poa: float | None = Field(default=None, ge=0, le=1)
    pos: float | None = Field(default=None, ge=0, le=1)
    pos_curve: tuple[tuple[float, float], ...] = ()


class PoaRing(_Model):
    """One ring of the probability model round the last-known point."""

    radius_m: float = Field(gt=0, le=1e6, description="outer radius")
    share: float = Field(ge=0, le=1, description="of the subject's probability")
    poa: float = Field(ge=0, le=1, description="of it inside the searchable area")


class Sortie(_Model):
    index: int = Field(ge=0)
    segment: int = Field(ge=0)
    launch: LatLon
    waypoints: tuple[Waypoint, ...]
    est_time_s: float = Field(ge=0, le=MAX_TIME_S)
    length_m: float = Field(ge=0, le=MAX_LENGTH_M)
    lane_ids: tuple[int, ...]
    poa: float | None = Field(default=None, ge=0, le=1)
    pod: float | None = Field(default=None, ge=0, le=1)
    start_s: float | None = Field(default=None, ge=0, le=MAX_TIME_S)

    def resume_from(self, lane_id: int) -> Sortie:
        """This sortie cut to start at the start of lane `lane_id` (e.g. the first lane not
        yet swept when a sortie was interrupted). No transit is added in front: the vehicle
        flies straight from where it is to that lane's start, at the lane's altitude."""
        for i, wp in enumerate(self.waypoints):
            if wp.kind == "lane_start" and wp.lane_id == lane_id:
                ids = self.lane_ids[self.lane_ids.index(lane_id) :]
                return self.model_copy(update={"waypoints": self.waypoints[i:], "lane_ids": ids})
        raise PlanError(
            f"sortie {self.segment}.{self.index} has no lane {lane_id}; its lanes are "
            f"{list(self.lane_ids)}"
        )


class Segment(_Model):
    index: int = Field(ge=0)
    vehicle: str | None = None
    speed_ms: float = Field(gt=0, le=MAX_SPEED_MS)
    launch: LatLon
    lane_ids: tuple[int, ...]
    sorties: tuple[Sortie, ...]
    stats: SegmentStats
    # The ground this segment sweeps, as (lat, lon) rings (outer first); for maps.
    outline: tuple[Ring, ...] = ()
    poa: float | None = Field(default=None, ge=0, le=1)
    sweep_deg: tuple[float, ...] = ()


class Plan(_Model):
    format: Literal["groundctl.plan"] = PLAN_FORMAT
    format_version: int = PLAN_FORMAT_VERSION
    created: str = Field(default_factory=lambda: datetime.now(UTC).isoformat(timespec="seconds"))
    name: str = ""
    area: tuple[Ring, ...]
    holes: tuple[Ring, ...] = ()
    camera: CameraSettings
    altitude_ref: AltitudeRef = "relative_home"
    turn_margin_m: float = Field(default=0.0, ge=0, le=MAX_MARGIN_M)
    hole_margin_m: float = Field(default=0.0, ge=0, le=MAX_MARGIN_M)
    sweep_deg: float | None = Field(default=None, ge=0, lt=360)
    stats: PlanStats
    segments: tuple[Segment, ...]
    pattern: Pattern = "sections"
    lkp: LatLon | None = None
    subject: str | None = None
    terrain: str | None = None
    rings: tuple[PoaRing, ...] = ()
    replan_of: str | None = None

    @property
    def sorties(self) -> list[Sortie]:
        return [s for seg in self.segments for s in seg.sorties]

    def to_json(self, indent: int | None = 1) -> str:
        return self.model_dump_json(indent=indent)

    @classmethod
    def from_json(cls, text: str, source: str = "plan") -> Plan:
        try:
            raw = json.loads(text)
        except json.JSONDecodeError as exc:
            raise PlanError(f"{source}: not JSON (line {exc.lineno}): {exc.msg}") from None
        if not isinstance(raw, dict) or raw.get("format") != PLAN_FORMAT:
            raise PlanError(
                f'{source}: not a groundctl plan (no "format": "{PLAN_FORMAT}"); '
                "make one with `groundctl plan`"
            )
        version = raw.get("format_version")
        if not isinstance(version, int) or version > PLAN_FORMAT_VERSION:
            raise PlanError(
                f"{source}: plan format_version {version!r} is newer than this groundctl "
                f"understands ({PLAN_FORMAT_VERSION}); upgrade groundctl"
            )
        try:
            # Plans written before lane pieces had their own ids are renumbered on load.
            return unique_lane_pieces(cls.model_validate(raw))
        except ValidationError as exc:
            err = exc.errors(include_url=False)[0]
            where = ".".join(str(p) for p in err["loc"])
            raise PlanError(f"{source}: {where}: {err['msg']}") from None

    @classmethod
    def load(cls, path: str | Path) -> Plan:
        p = Path(path)
        try:
            text = p.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            raise PlanError(f"{p}: cannot read plan: {exc}") from None
        return cls.from_json(text, str(p))

    def dump(self, path: str | Path) -> None:
        p = Path(path)
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_text(self.to_json(), encoding="utf-8")


def unique_lane_pieces(plan: Plan) -> Plan:
    """The plan with one lane id per piece of a lane.

    Where a segment or a battery ends in the middle of a lane, the lane is flown in two
    pieces by two sorties. Progress is kept per lane id (a lane is swept when its
    ``lane_end`` is reached), so pieces sharing an id would count the whole lane swept after
    the first piece and lose the second from a resumed or handed-over search. The first
    sortie keeps the id, later pieces get new ids above every id in the plan.
    """
    ids = [w.lane_id for s in plan.sorties for w in s.waypoints if w.lane_id is not None]
    next_id = max(ids, default=-1) + 1
    seen: set[int] = set()
    segments, changed = [], False
    for seg in plan.segments:
        sorties = []
        for sortie in seg.sorties:
            new = {}
            for lane in sortie.lane_ids:
                if lane in seen:
                    new[lane], next_id = next_id, next_id + 1
                seen.add(lane)
            if new:
                changed = True
                wps = tuple(
                    w.model_copy(update={"lane_id": new[w.lane_id]}) if w.lane_id in new else w
                    for w in sortie.waypoints
                )
                lane_ids = tuple(new.get(x, x) for x in sortie.lane_ids)
                sortie = sortie.model_copy(update={"waypoints": wps, "lane_ids": lane_ids})
            sorties.append(sortie)
        lane_ids = tuple(dict.fromkeys(x for s in sorties for x in s.lane_ids))
        segments.append(seg.model_copy(update={"sorties": tuple(sorties), "lane_ids": lane_ids}))
    return plan.model_copy(update={"segments": tuple(segments)}) if changed else plan


@dataclass(frozen=True)
class MissionItem:
    """One MAVLink MISSION_ITEM_INT as plain data; the link layer uploads these as they are."""

    seq: int
    frame: int
    command: int
    current: int
    autocontinue: int
    param1: float
    param2: float
    param3: float
    param4: float
    x: int  # latitude * 1e7
    y: int  # longitude * 1e7
    z: float  # metres, in `frame`'s reference
    mission_type: int = MAV_MISSION_TYPE_MISSION

    @property
    def params(self) -> tuple[float, float, float, float]:
        return (self.param1, self.param2, self.param3, self.param4)


def _e7(deg: float) -> int:
    return round(deg * 1e7)


def mission_items(
    sortie: Sortie,
    *,
    takeoff_alt_m: float | None = None,
    home_item: bool = False,
    home_alt_amsl_m: float = 0.0,
) -> list[MissionItem]:
    """The sortie as MAVLink mission items: take-off, speed, waypoints, return to launch.

    Waypoint altitudes are relative to home (MAV_FRAME_GLOBAL_RELATIVE_ALT_INT), which holds
    with a DEM too: the planner folds terrain into `alt_rel_m`. ArduPilot treats item 0 as
    home: pass ``home_item=True`` to put the launch point there (PX4 ignores no item, so leave
    it off for PX4). The take-off climbs to the first waypoint's altitude unless given.
    """
    if not sortie.waypoints:
        raise PlanError(f"sortie {sortie.segment}.{sortie.index} has no waypoints")
    first = sortie.waypoints[0]
    alt_takeoff = first.alt_rel_m if takeoff_alt_m is None else takeoff_alt_m
    lat0, lon0 = sortie.launch
    nan = math.nan
    rows: list[tuple[int, int, tuple[float, float, float, float], float, float, float]] = []
    if home_item:
        rows.append(
            (MAV_FRAME_GLOBAL, MAV_CMD_NAV_WAYPOINT, (0, 0, 0, 0), lat0, lon0, home_alt_amsl_m)
        )
    rows.append(
        (
            MAV_FRAME_GLOBAL_RELATIVE_ALT_INT,
            MAV_CMD_NAV_TAKEOFF,
            (0, 0, 0, nan),
            lat0,
            lon0,
            alt_takeoff,
        )
    )
    speed = None
    for wp in sortie.waypoints:
        if wp.speed_ms != speed:
            speed = wp.speed_ms
            rows.append(
                (
                    MAV_FRAME_MISSION,
                    MAV_CMD_DO_CHANGE_SPEED,
                    (SPEED_TYPE_GROUND, speed, -1, 0),
                    0.0,
                    0.0,
                    0.0,
                )
            )
        rows.append(
            (
                MAV_FRAME_GLOBAL_RELATIVE_ALT_INT,
                MAV_CMD_NAV_WAYPOINT,
                (0, 0, 0, nan),
                wp.lat,
                wp.lon,
                wp.alt_rel_m,
            )
        )
    rows.append(
        (
            MAV_FRAME_MISSION,
            MAV_CMD_NAV_RETURN_TO_LAUNCH,
            (0, 0, 0, 0),
            0.0,
            0.0,
            0.0,
        )
    )
    return [
        MissionItem(
            seq=i,
            frame=frame,
            command=cmd,
            current=0,
            autocontinue=1,
            param1=float(p[0]),
            param2=float(p[1]),
            param3=float(p[2]),
            param4=float(p[3]),
            x=_e7(lat),
            y=_e7(lon),
            z=float(z),
        )
        for i, (frame, cmd, p, lat, lon, z) in enumerate(rows)
    ]
