"""From swept sections to a `Plan`: sorties per battery, transits, waypoints, statistics.

Each section's route (`missions.sweep.SweepLine`) is split into the fewest sorties its
drone's battery allows (`missions.segment.split_sorties`). A sortie flies from its launch
point to the start of its piece and back along the shortest path that avoids every hole
(`missions.route.Router` on the transit region); the estimate of a sortie, with those routed
legs, must fit the battery, or the section is split again with a smaller budget.

Time model (the energy model the simulator's battery follows): a sortie takes
length / speed + one stop-and-go (speed / acceleration) per corner sharper than 20 degrees +
climb to and descent from the search altitude; it is planned to at most
`SORTIE_BUDGET_SHARE` of the airframe's usable endurance.

With a probability model, each sortie gets its POA (the probability of the ground its lanes
sweep) and POD (1 - exp(-W L / A), the exponential detection law), sorties of a section are
flown in decreasing order of POA x POD / time (the ratio rule of optimal search: the most
probability found per minute first), and the plan carries the cumulative probability of
success against flight time.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import shapely
from numpy.typing import NDArray
from shapely.geometry.base import BaseGeometry

from missions.area import LocalArea, _ring_latlon, multipolygon
from missions.footprint import Footprint
from missions.plan import Segment, SegmentStats, Sortie, Waypoint
from missions.poa import RingModel
from missions.route import Router
from missions.segment import SORTIE_BUDGET_SHARE, Track, Vehicle, split_sorties
from missions.sweep import SweepLine, cut_polyline
from missions.terrain import Dem, terrain_profile_points


@dataclass(frozen=True)
class Altitude:
    alt_agl_m: float
    dem: Dem | None = None
    terrain_tol_m: float = 5.0


@dataclass(frozen=True)
class Flown:
    """One sortie before it becomes a `Sortie`: local points, kinds, ids and its numbers."""

    xy: NDArray[np.float64]  # from the first point after take-off back to launch
    kinds: list[str]
    ids: list[int | None]
    est_s: float
    length_m: float
    turns: int
    lane_p0: NDArray[np.float64]
    lane_p1: NDArray[np.float64]
    poa: float | None = None
    pod: float | None = None


def path_length(xy: NDArray[np.float64]) -> float:
    return float(np.linalg.norm(np.diff(xy, axis=0), axis=1).sum()) if len(xy) > 1 else 0.0


def count_turns(xy: NDArray[np.float64]) -> int:
    if len(xy) < 3:
        return 0
    d = np.diff(xy, axis=0)
    d = d[np.linalg.norm(d, axis=1) > 1e-6]
    if len(d) < 2:
        return 0
    ang = np.arctan2(d[:, 1], d[:, 0])
    dang = np.abs((np.diff(ang) + np.pi) % (2 * np.pi) - np.pi)
    return int(np.sum(dang > np.radians(20)))


def lane_rects(
    p0: NDArray[np.float64], p1: NDArray[np.float64], width: float, reach_m: float = 0.0
) -> BaseGeometry:
    """The ground the lanes sweep: `width` across, and `reach_m` past each end (what the
    camera sees ahead of and behind the drone, up to half the footprint's length)."""
    if not len(p0):
        return shapely.Polygon()
    if reach_m > 0:
        d = p1 - p0
        n = np.linalg.norm(d, axis=1, keepdims=True)
        u = np.divide(d, n, out=np.zeros_like(d), where=n > 0)
        p0, p1 = p0 - reach_m * u, p1 + reach_m * u
    lines = shapely.linestrings(np.stack([p0, p1], axis=1))
    return shapely.union_all(shapely.buffer(lines, width / 2, cap_style="flat"))


def _lanes_of(pts, kinds) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    m = np.array(
        [kinds[i] == "lane_start" and kinds[i + 1] == "lane_end" for i in range(len(kinds) - 1)],
        dtype=bool,
    )
    if not m.any():
        return np.zeros((0, 2)), np.zeros((0, 2))
    return pts[:-1][m], pts[1:][m]


def fly_sorties(
    line: SweepLine, home: NDArray[np.float64], v: Vehicle, alt_m: float, transit: Router
) -> list[Flown]:
    """The section's route cut into sorties that each fit the battery, transits routed."""
    track = Track.from_polyline(line.xy)
    cum = track.cum
    budget = SORTIE_BUDGET_SHARE * v.usable_endurance_s
    cap = budget
    out: list[Flown] = []
    for _ in range(6):
        pieces = split_sorties(track, 0, len(track.s) - 1, home, v, alt_m, cap_s=cap)
        out = []
        for a, b in pieces:
            pts, kinds, ids = cut_polyline(line, cum, float(track.s[a]), float(track.s[b]))
            t_in = transit.path(home, pts[0])
            t_out = transit.path(pts[-1], home)
            xy = np.vstack([t_in[1:-1], pts, t_out[1:]])
            fk = ["transit"] * (len(t_in) - 2) + kinds + ["transit"] * (len(t_out) - 1)
            fid = [None] * (len(t_in) - 2) + ids + [None] * (len(t_out) - 1)
            path = np.vstack([home, xy])
            length = path_length(path)
            turns = count_turns(path)
            est = length / v.speed_ms + turns * v.turn_penalty_s + v.climb_descent_s(alt_m)
            p0, p1 = _lanes_of(pts, kinds)
            out.append(Flown(xy, fk, fid, est, length, turns, p0, p1))
        worst = max(f.est_s for f in out)
        if worst <= budget:
            break
        # Routed transits are longer than the straight estimate: plan to a smaller budget.
        cap *= 0.995 * budget / worst
    return out


def score_sorties(
    flown: list[Flown],
    model: RingModel | None,
    target: BaseGeometry,
    fp: Footprint,
    order: bool = True,
) -> list[Flown]:
    """Each sortie with its POA and POD; in ratio-rule order when there is a model (without
    one, sorties keep their route order and get no POA/POD: not worth the geometry)."""
    if not flown or model is None:
        return flown
    bands = [
        shapely.intersection(lane_rects(f.lane_p0, f.lane_p1, fp.spacing_m), target) for f in flown
    ]
    out = []
    poas = model.poa(bands)
    for f, band, poa in zip(flown, bands, poas, strict=True):
        lane_len = float(np.linalg.norm(f.lane_p1 - f.lane_p0, axis=1).sum())
        a = float(band.area)
        pod = 1 - math.exp(-fp.width_m * lane_len / a) if a > 0 else 0.0
        out.append(
            Flown(
                f.xy,
                f.kinds,
                f.ids,
                f.est_s,
                f.length_m,
                f.turns,
                f.lane_p0,
                f.lane_p1,
                float(min(max(poa, 0.0), 1.0)),
                min(max(pod, 0.0), 1.0),
            )
        )
    if order:
        out.sort(key=lambda f: -(f.poa or 0.0) * (f.pod or 0.0) / max(f.est_s, 1e-9))
    return out


def waypoints(
    local: LocalArea,
    alt: Altitude,
    xy: NDArray[np.float64],
    kinds: list[str],
    ids: list[int | None],
    speed_ms: float,
    home_ground_m: float | None,
) -> tuple[Waypoint, ...]:
    if alt.dem is None or home_ground_m is None:
        ll = local.frame.xy_to_latlon(xy)
        return tuple(
            Waypoint(
                lat=round(float(la), 8),
                lon=round(float(lo), 8),
                alt_rel_m=alt.alt_agl_m,
                speed_ms=speed_ms,
                kind=kd,  # type: ignore[arg-type]
                lane_id=lid,
            )
            for (la, lo), kd, lid in zip(ll, kinds, ids, strict=True)
        )
    pts, src = terrain_profile_points(local.frame, alt.dem, xy, alt.terrain_tol_m)
    ll = local.frame.xy_to_latlon(pts)
    ground = alt.dem.elevation(ll[:, 0], ll[:, 1])
    out = []
    for j in range(len(pts)):
        s = src[j]
        if s >= 0:
            kd, lid = kinds[s], ids[s]
        else:
            # Inserted between original points -s-1 and -s: on a lane if that leg is one.
            i = -s - 1
            on_lane = kinds[i] == "lane_start" and kinds[i + 1] == "lane_end"
            kd = "terrain" if on_lane or kinds[i] != "transit" else "transit"
            lid = ids[i] if on_lane else None
        amsl = float(ground[j]) + alt.alt_agl_m
        out.append(
            Waypoint(
                lat=round(float(ll[j, 0]), 8),
                lon=round(float(ll[j, 1]), 8),
                alt_rel_m=round(amsl - home_ground_m, 2),
                alt_amsl_m=round(amsl, 2),
                speed_ms=speed_ms,
                kind=kd,  # type: ignore[arg-type]
                lane_id=lid,
            )
        )
    return tuple(out)


def segment(
    local: LocalArea,
    index: int,
    v: Vehicle,
    home: NDArray[np.float64],
    flown: list[Flown],
    line: SweepLine | None,
    target: BaseGeometry,
    fp: Footprint,
    alt: Altitude,
    model: RingModel | None,
    section: BaseGeometry | None = None,
) -> Segment:
    """The `Segment` of one drone; its outline and area are its section when given, else
    the ground its lanes sweep."""
    home_ll = tuple(round(float(c), 8) for c in local.frame.xy_to_latlon(home)[0])
    home_ground = None
    if alt.dem is not None:
        home_ground = float(alt.dem.elevation(np.array([home_ll[0]]), np.array([home_ll[1]]))[0])
    sorties, lane_ids = [], []
    t = 0.0
    for si, f in enumerate(flown):
        lids = tuple(dict.fromkeys(i for i in f.ids if i is not None))
        lane_ids += [i for i in lids if i not in lane_ids]
        sorties.append(
            Sortie(
                index=si,
                segment=index,
                launch=home_ll,  # type: ignore[arg-type]
                waypoints=waypoints(local, alt, f.xy, f.kinds, f.ids, v.speed_ms, home_ground),
                est_time_s=round(f.est_s, 1),
                length_m=round(f.length_m, 1),
                lane_ids=lids,
                poa=None if f.poa is None else round(f.poa, 5),
                pod=None if f.pod is None else round(f.pod, 4),
                start_s=round(t, 1),
            )
        )
        t += f.est_s
    p0 = np.vstack([f.lane_p0 for f in flown]) if flown else np.zeros((0, 2))
    p1 = np.vstack([f.lane_p1 for f in flown]) if flown else np.zeros((0, 2))
    if section is not None and not section.is_empty:
        band = shapely.intersection(section, target)
    else:
        band = shapely.intersection(lane_rects(p0, p1, fp.spacing_m), target)
    lane_len = float(np.linalg.norm(p1 - p0, axis=1).sum())
    area_k = float(band.area)
    pod = 1 - math.exp(-fp.width_m * lane_len / area_k) if area_k > 0 else 0.0
    poa = float(model.poa([band])[0]) if model is not None and area_k > 0 else None
    return Segment(
        index=index,
        vehicle=v.name,
        speed_ms=v.speed_ms,
        launch=home_ll,  # type: ignore[arg-type]
        lane_ids=tuple(lane_ids),
        sorties=tuple(sorties),
        stats=SegmentStats(
            area_m2=round(area_k, 1),
            lane_length_m=round(lane_len, 1),
            length_m=round(sum(f.length_m for f in flown), 1),
            est_time_s=round(sum(f.est_s for f in flown), 1),
            turns=sum(f.turns for f in flown),
            pod=round(min(max(pod, 0.0), 1.0), 4),
        ),
        outline=tuple(_ring_latlon(local.frame, p.exterior) for p in multipolygon(band).geoms),
        poa=None if poa is None else round(min(max(poa, 0.0), 1.0), 5),
        sweep_deg=line.bearings if line is not None else (),
    )


def pos_curve(segments: list[Segment]) -> tuple[tuple[float, float], ...]:
    """Cumulative probability of success against flight time: every drone flies its sorties
    back to back from t = 0, each sortie adding POA x POD evenly over its duration."""
    spans = [
        (s.start_s or 0.0, (s.start_s or 0.0) + s.est_time_s, (s.poa or 0.0) * (s.pod or 0.0))
        for seg in segments
        for s in seg.sorties
    ]
    if not spans:
        return ()
    times = np.unique(np.round(np.r_[0.0, [a for a, _, _ in spans], [b for _, b, _ in spans]], 1))
    pos = np.zeros(len(times))
    for a, b, gain in spans:
        pos += gain * np.clip((times - a) / max(b - a, 1e-9), 0.0, 1.0)
    return tuple(
        (round(float(t), 1), round(float(min(p, 1.0)), 5)) for t, p in zip(times, pos, strict=True)
    )
