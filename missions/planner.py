"""The planning pipeline: a validated area + camera + fleet -> `missions.plan.Plan`.

    LocalArea -> footprint -> sections (one per drone, `missions.partition`) -> per section:
    lanes in its own direction, linked into a route (`missions.sweep`) -> sorties per battery
    with routed transits (`missions.assemble`) -> Plan -> every leg checked
    (`missions.legcheck`)

Each stage is a pure function in its own module; this module wires them together. With a
last-known point and a subject category, the probability rings of `missions.poa` shape the
sections (all start near the point), the order in which each section is swept (ring by ring,
outwards) and the order of the sorties (most probability per minute first).
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field, replace

import numpy as np
import shapely
from numpy.typing import NDArray
from shapely.geometry import Polygon
from shapely.geometry.base import BaseGeometry

from missions.area import LatLon, LocalArea, _ring_latlon, multipolygon
from missions.assemble import (
    Altitude,
    Flown,
    fly_sorties,
    lane_rects,
    pos_curve,
    score_sorties,
    segment,
)
from missions.errors import PlanError
from missions.footprint import Camera, Footprint, footprint
from missions.legcheck import TRANSIT_ROOM_M, ensure_plan_safe
from missions.partition import split_sections
from missions.plan import CameraSettings, Pattern, Plan, PlanStats, PoaRing, unique_lane_pieces
from missions.poa import TM, RingModel
from missions.route import Router
from missions.segment import Vehicle
from missions.sweep import SweepLine, sweep_section
from missions.terrain import Dem

MAX_DRONES = 20


@dataclass(frozen=True)
class PlanRequest:
    camera: Camera
    alt_agl_m: float
    side_overlap: float = 0.2
    vehicles: tuple[Vehicle, ...] = (Vehicle(),)
    launches: tuple[LatLon, ...] = ()  # none (default launch), one for all, or one each
    sweep_deg: float | None = None  # lane bearing from north; None = chosen per section
    turn_margin_m: float = 0.0
    # Keep the path this far off holes (the camera still sees up to them); None = the
    # default clearance for the footprint (`default_hole_margin_m`).
    hole_margin_m: float | None = None
    dem: Dem | None = field(default=None, compare=False)
    terrain_tol_m: float = 5.0
    name: str = ""
    lkp: LatLon | None = None  # last-known point: sections start there
    subject: str | None = None  # lost-person category (missions.poa.CATEGORIES)
    terrain: str = TM
    poa_order: bool = True  # order sorties by POA x POD / time (with a subject)


@dataclass(frozen=True)
class Ground:
    """The geometry of one planning job, local metres."""

    local: LocalArea
    target: BaseGeometry  # ground to sweep (the searchable area, or the gaps of a replan)
    avoid: BaseGeometry  # holes grown by the hole margin: never flown over
    lane_ground: BaseGeometry  # target minus `avoid`
    flyable: BaseGeometry  # area grown by the turn margin, minus `avoid`
    transit: Router  # anywhere near the area but the holes
    edge: BaseGeometry  # target inside the hole margin: seen from beside, never flown over
    hole_margin_m: float = 0.0

    @classmethod
    def of(
        cls, local: LocalArea, turn_margin_m: float, hole_margin_m: float, target=None
    ) -> Ground:
        tgt = local.searchable if target is None else target
        avoid = local.holes.buffer(hole_margin_m) if hole_margin_m > 0 else local.holes
        lane_ground = shapely.difference(tgt, avoid) if hole_margin_m > 0 else tgt
        grown = local.area.buffer(turn_margin_m) if turn_margin_m > 0 else local.area
        flyable = shapely.difference(grown, avoid)
        box = shapely.box(
            *(np.asarray(local.area.bounds) + np.r_[-1, -1, 1, 1] * (TRANSIT_ROOM_M + 100))
        )
        transit = Router(shapely.difference(box, avoid))
        edge = shapely.difference(tgt, lane_ground) if hole_margin_m > 0 else Polygon()
        return cls(local, tgt, avoid, lane_ground, flyable, transit, edge, hole_margin_m)

    def with_edge(self, section: BaseGeometry) -> BaseGeometry:
        """A section with the strips of hole margin next to it, for its lanes to see."""
        if self.edge.is_empty or section.is_empty:
            return section
        near = shapely.intersection(self.edge, section.buffer(self.hole_margin_m + 1.0))
        return shapely.union(section, near)


def reach_m(hole_margin_m: float, footprint_h_m: float) -> float:
    """How far past a lane's end it sees the ground it stops short of (a hole's margin):
    the camera looks half a footprint ahead."""
    return min(hole_margin_m, footprint_h_m / 2)


def default_launch(local: LocalArea) -> NDArray[np.float64]:
    """The point of the area's boundary nearest its centre: a road-side take-off spot."""
    c = local.searchable.centroid
    ring = local.area.boundary
    q = ring.interpolate(ring.project(c))
    return np.array([q.x, q.y])


# Lanes end, and transits pass, this far off a no-fly zone unless the coordinator says
# otherwise. A multicopter turning at a lane end runs on past it (PX4 flies jerk-limited
# corners, the simulator overshoots too), so a lane that ends on the zone's edge trips the
# exclusion fence: on the bench valley every drone was held by "Geofence breached" with a
# margin of 0, and flew every lane with 5 m or more. Capped at a quarter of the footprint's
# short side, so the camera, which sees half the footprint ahead, still sees up to the hole.
DEFAULT_HOLE_MARGIN_M = 10.0


def default_hole_margin_m(fp: Footprint) -> float:
    return round(min(DEFAULT_HOLE_MARGIN_M, 0.25 * min(fp.width_m, fp.height_m)), 2)


# Never closer: PX4 tests each waypoint against its exclusion fences (pnpoly, whichever side
# a point on the edge falls) and refuses a whole mission with one inside ("Geofence violation
# for waypoint N"); a lane end on a zone's edge was refused by PX4 v1.16 SITL.
MIN_HOLE_MARGIN_M = 1.0


def resolve_request(req: PlanRequest, fp: Footprint) -> PlanRequest:
    """The request with its defaults that depend on the footprint filled in, checked."""
    if req.hole_margin_m is None:
        req = replace(req, hole_margin_m=default_hole_margin_m(fp))
    elif 0 <= req.hole_margin_m < MIN_HOLE_MARGIN_M:
        req = replace(req, hole_margin_m=MIN_HOLE_MARGIN_M)
    check_request(req, fp)
    return req


def check_request(req: PlanRequest, fp: Footprint) -> None:
    k = len(req.vehicles)
    if not 1 <= k <= MAX_DRONES:
        raise PlanError(f"{k} drones: plan for 1 to {MAX_DRONES} drones")
    if not 0 <= req.turn_margin_m <= 1000:
        raise PlanError(f"turn margin must be 0..1000 m (got {req.turn_margin_m:g} m)")
    assert req.hole_margin_m is not None, "resolve_request fills the hole margin in"
    if not 0 <= req.hole_margin_m <= 1000:
        raise PlanError(f"hole margin must be 0..1000 m (got {req.hole_margin_m:g} m)")
    if req.hole_margin_m >= fp.width_m / 2:
        raise PlanError(
            f"hole margin {req.hole_margin_m:g} m is not below half the footprint "
            f"({fp.width_m / 2:.1f} m): the ground next to holes would never be seen; lower "
            "it or fly higher"
        )
    if req.sweep_deg is not None and not 0 <= req.sweep_deg < 360:
        raise PlanError(f"sweep bearing must be 0..360 degrees (got {req.sweep_deg:g})")
    if len(req.launches) not in (0, 1, k):
        raise PlanError(
            f"{len(req.launches)} launch points for {k} drones; give one launch point for all "
            "drones or one per drone"
        )


def launch_points(ground: Ground, req: PlanRequest) -> NDArray[np.float64]:
    local, k = ground.local, len(req.vehicles)
    if req.launches:
        xy = local.frame.latlon_to_xy(np.asarray(req.launches, dtype=float))
        if len(xy) == 1:
            xy = np.repeat(xy, k, axis=0)
    else:
        xy = np.repeat(default_launch(local)[None, :], k, axis=0)
    for i, p in enumerate(xy):
        lat, lon = local.frame.xy_to_latlon(p)[0]
        if shapely.contains_xy(ground.avoid, p[0], p[1]):
            raise PlanError(
                f"launch point {i + 1} ({lat:.6f}, {lon:.6f}) is inside a hole (no-fly zone); "
                "move it"
            )
        far = shapely.distance(local.area, shapely.Point(p))
        if far > TRANSIT_ROOM_M:
            raise PlanError(
                f"launch point {i + 1} ({lat:.6f}, {lon:.6f}) is {far / 1000:.1f} km from the "
                f"area; launch within {TRANSIT_ROOM_M / 1000:.0f} km of it (lat, lon order?)"
            )
    return xy


def ring_model(local: LocalArea, req: PlanRequest) -> RingModel | None:
    if req.subject is None:
        return None
    if req.lkp is None:
        raise PlanError("a subject category needs a last-known point (--lkp LAT,LON)")
    return RingModel.isrid(local.frame.latlon_to_xy([req.lkp])[0], req.subject, req.terrain)


# A first plan whose drones' times differ by more than this is cut again (same directions),
# each drone's estimate corrected by what its section really took.
RECUT_SPREAD = 1.04
RECUT_ROUNDS = 8
RECUT_DAMPING = 0.7
# No new cut that would take the lanes routed over all rounds past this (a round routes
# about as many as the one before; the 25 km² plan keeps one round and < 1 s). A bound on
# work, not on a clock: the plan must not depend on the machine's speed or load (a CPU-time
# budget planned the same request differently on a busy machine, so a failure seen there
# did not reproduce anywhere else).
RECUT_LANE_BUDGET = 480


def make_plan(local: LocalArea, req: PlanRequest) -> Plan:
    t0 = time.perf_counter()
    fp = footprint(req.camera, req.alt_agl_m, req.side_overlap)
    req = resolve_request(req, fp)
    ground = Ground.of(local, req.turn_margin_m, req.hole_margin_m)
    launch_xy = launch_points(ground, req)
    model = ring_model(local, req)
    lkp_xy = local.frame.latlon_to_xy([req.lkp])[0] if req.lkp is not None else None
    k = len(req.vehicles)
    offsets = np.zeros(k)
    corrections: list[tuple[BaseGeometry, float]] = []
    tree: dict[tuple[int, ...], float] = {}
    best = None
    routed = 0
    for _ in range(RECUT_ROUNDS):
        sections, estimate = split_sections(
            ground.lane_ground,
            ground.flyable,
            launch_xy,
            req.vehicles,
            fp.spacing_m,
            req.alt_agl_m,
            lkp_xy,
            offsets,
            tree,
            corrections,
        )
        lines, flown = route_sections(ground, req, fp, sections, launch_xy, lkp_xy, model)
        times = np.array([sum(f.est_s for f in fl) for fl in flown])
        if best is None or times.max() < best[0].max():
            best = (times, sections, lines, flown)
        spread = times.max() / max(times.mean(), 1e-9)
        lanes = sum(line.n_lanes for line in lines if line is not None)
        routed += lanes
        late = routed + lanes > RECUT_LANE_BUDGET
        if k == 1 or spread <= RECUT_SPREAD or late or not np.all(times > 0):
            break
        # What each section's sweep really took beyond the estimate (its sorties' round
        # trips taken out, so that the next cut still counts whole sorties).
        n = np.array([len(fl) for fl in flown])
        offsets = times - estimate[:, 0]
        missed = times - n * estimate[:, 2] - estimate[:, 1]
        # Corrections add up over rounds: each round adds what is still missed, damped.
        have = np.array([_extra_in(sec, corrections) for sec in sections])
        corrections = corrections + [
            (sec, RECUT_DAMPING * float(m - h))
            for sec, m, h in zip(sections, missed, have, strict=True)
        ]
    _, sections, lines, flown = best
    return assemble_plan(ground, req, fp, lines, flown, launch_xy, model, t0, sections=sections)


def _extra_in(section: BaseGeometry, corrections: list[tuple[BaseGeometry, float]]) -> float:
    """Seconds of the corrections that lie on `section` (each spread evenly on its ground)."""
    out = 0.0
    for geom, seconds in corrections:
        if geom.area > 0:
            out += seconds * shapely.intersection(geom, section).area / geom.area
    return out


def route_sections(
    ground: Ground,
    req: PlanRequest,
    fp: Footprint,
    sections: list[BaseGeometry],
    launch_xy: NDArray[np.float64],
    lkp_xy: NDArray[np.float64] | None,
    model: RingModel | None,
) -> tuple[list[SweepLine | None], list[list[Flown]]]:
    """Each section swept in its own direction and cut into sorties."""
    rings = model.rings()[:-1] if model is not None else None
    pad = max(req.turn_margin_m, fp.spacing_m)
    lines: list[SweepLine | None] = []
    flown: list[list[Flown]] = []
    next_id = 0
    reach = reach_m(req.hole_margin_m or 0.0, fp.height_m)
    for i, sec in enumerate(sections):
        fly_i = shapely.intersection(ground.flyable, sec.buffer(pad))
        start = lkp_xy if lkp_xy is not None else launch_xy[i]
        line = sweep_section(
            ground.with_edge(sec),
            fly_i,
            fp.spacing_m,
            req.sweep_deg,
            ground.transit,
            start,
            next_id,
            rings,
            reach,
        )
        lines.append(line)
        fl: list[Flown] = []
        if line is not None and len(line) > 1:
            next_id += line.n_lanes
            fl = fly_sorties(line, launch_xy[i], req.vehicles[i], req.alt_agl_m, ground.transit)
            fl = score_sorties(fl, model, ground.target, fp, req.poa_order)
        flown.append(fl)
    return lines, flown


def assemble_plan(
    ground: Ground,
    req: PlanRequest,
    fp: Footprint,
    lines: list[SweepLine | None],
    flown_all: list[list[Flown]],
    launch_xy: NDArray[np.float64],
    model: RingModel | None,
    t0: float,
    pattern: Pattern = "sections",
    replan_of: str | None = None,
    sections: list[BaseGeometry] | None = None,
) -> Plan:
    """Statistics and the checked `Plan` for one route (cut into sorties) per drone."""
    local = ground.local
    if not any(line is not None and line.n_lanes for line in lines):
        raise PlanError("the area is too small or thin for a single lane at this altitude")
    alt = Altitude(req.alt_agl_m, req.dem, req.terrain_tol_m)
    segments = []
    all_p0, all_p1 = [], []
    for i, line in enumerate(lines):
        v = req.vehicles[i]
        flown = flown_all[i]
        sec = sections[i] if sections is not None else None
        segments.append(
            segment(local, i, v, launch_xy[i], flown, line, ground.target, fp, alt, model, sec)
        )
        all_p0 += [f.lane_p0 for f in flown]
        all_p1 += [f.lane_p1 for f in flown]
    p0 = np.vstack(all_p0) if all_p0 else np.zeros((0, 2))
    p1 = np.vstack(all_p1) if all_p1 else np.zeros((0, 2))
    covered = shapely.intersection(
        lane_rects(p0, p1, fp.width_m, reach_m(req.hole_margin_m or 0.0, fp.height_m)),
        ground.target,
    )
    lane_total = float(np.linalg.norm(p1 - p0, axis=1).sum())
    times = [s.stats.est_time_s for s in segments]
    tgt_area = float(ground.target.area)
    curve = pos_curve(segments) if model is not None else ()
    stats = PlanStats(
        area_m2=round(float(local.area.area), 1),
        searchable_m2=round(tgt_area, 1),
        length_m=round(sum(s.stats.length_m for s in segments), 1),
        lane_length_m=round(lane_total, 1),
        max_segment_time_s=max(times),
        mean_segment_time_s=round(float(np.mean(times)), 1),
        turns=sum(s.stats.turns for s in segments),
        coverage_pct=round(min(100 * covered.area / tgt_area, 100.0), 3),
        pod=round(1 - float(np.exp(-fp.width_m * lane_total / tgt_area)), 4),
        sorties=sum(len(s.sorties) for s in segments),
        planning_s=round(time.perf_counter() - t0, 4),
        poa=round(float(model.poa([ground.target])[0]), 5) if model is not None else None,
        pos=curve[-1][1] if curve else None,
        pos_curve=curve,
    )
    area_rings = tuple(
        _ring_latlon(local.frame, p.exterior) for p in multipolygon(local.area).geoms
    )
    hole_rings = [
        _ring_latlon(local.frame, r) for p in multipolygon(local.area).geoms for r in p.interiors
    ] + [_ring_latlon(local.frame, p.exterior) for p in multipolygon(local.holes).geoms]
    poa_rings = ()
    if model is not None:
        inside = model.poa([shapely.intersection(ground.target, r) for r in model.rings()])
        poa_rings = tuple(
            PoaRing(radius_m=round(r, 1), share=s, poa=round(min(float(p) / s, 1.0), 5))
            for r, s, p in zip(model.radii_m, model.shares, inside, strict=True)
        )
    plan = Plan(
        name=req.name or local.source.name,
        area=area_rings,
        holes=tuple(hole_rings),
        camera=CameraSettings(
            name=req.camera.name,
            alt_agl_m=req.alt_agl_m,
            footprint_w_m=round(fp.width_m, 3),
            footprint_h_m=round(fp.height_m, 3),
            gsd_m=round(fp.gsd_m, 5),
            lane_spacing_m=round(fp.spacing_m, 3),
            side_overlap=req.side_overlap,
            px_on_person=round(fp.px_on_person, 2),
        ),
        altitude_ref="terrain" if req.dem is not None else "relative_home",
        turn_margin_m=req.turn_margin_m,
        hole_margin_m=req.hole_margin_m,
        sweep_deg=req.sweep_deg,
        stats=stats,
        segments=tuple(segments),
        pattern=pattern,
        lkp=req.lkp,
        subject=req.subject,
        terrain=req.terrain if req.subject else None,
        rings=poa_rings,
        replan_of=replan_of,
    )
    plan = unique_lane_pieces(plan)
    ensure_plan_safe(plan)
    return plan
