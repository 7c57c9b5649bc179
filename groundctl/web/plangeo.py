"""A plan as the map draws it (segments, lanes, launches) and the ground swept so far."""

from __future__ import annotations

import itertools
from dataclasses import dataclass
from typing import Any

import numpy as np
import shapely
from shapely.geometry import mapping

from missions.geodesy import LocalFrame
from missions.plan import Plan, unique_lane_pieces


def _lonlat(ring: Any, close: bool = True) -> list[list[float]]:
    pts = [[float(b), float(a)] for a, b in ring]
    return [*pts, pts[0]] if close and pts else pts


@dataclass
class PlanGeometry:
    """One plan's lanes (by the lane ids the fleet reports progress with) and map layers."""

    plan_id: int
    plan: Plan
    lanes: dict[int, np.ndarray]  # lane id -> (N, 2) lat, lon
    lane_segment: dict[int, int]
    swath_m: float
    frame: LocalFrame

    @classmethod
    def of(cls, plan_id: int, plan: Plan) -> PlanGeometry:
        # The fleet keeps progress per lane piece (see missions.plan.unique_lane_pieces).
        plan = unique_lane_pieces(plan)
        lanes: dict[int, list[tuple[float, float]]] = {}
        lane_segment: dict[int, int] = {}
        for seg in plan.segments:
            for s in seg.sorties:
                _add_lanes(lanes, [w.model_dump() for w in s.waypoints])
                for lane in s.lane_ids:
                    lane_segment[lane] = seg.index
        pts = np.array([p for r in plan.area for p in r], dtype=float)
        frame = LocalFrame.for_area(pts[:, 0], pts[:, 1])
        return cls(
            plan_id,
            plan,
            {k: np.asarray(v, dtype=float) for k, v in lanes.items()},
            lane_segment,
            plan.camera.footprint_w_m,
            frame,
        )

    def add_flown(self, sortie_waypoints: list[list[dict[str, Any]]]) -> None:
        """Lanes of sorties rebuilt during the flight (their ids are new)."""
        extra: dict[int, list[tuple[float, float]]] = {}
        for wps in sortie_waypoints:
            _add_lanes(extra, wps)
        for k, v in extra.items():
            if k not in self.lanes:
                self.lanes[k] = np.asarray(v, dtype=float)

    def map_doc(self) -> dict[str, Any]:
        """GeoJSON-ish layers: area, holes, segment outlines, lanes, routes, launches, stats."""
        p = self.plan
        segments = []
        for seg in p.segments:
            s = seg.stats
            segments.append(
                {
                    "index": seg.index,
                    "vehicle": seg.vehicle,
                    "launch": list(seg.launch),
                    "outline": [_lonlat(r) for r in seg.outline],
                    "sorties": len(seg.sorties),
                    "routes": [[[w.lat, w.lon] for w in so.waypoints] for so in seg.sorties],
                    "stats": {
                        "area_m2": s.area_m2,
                        "lane_length_m": s.lane_length_m,
                        "length_m": s.length_m,
                        "est_time_s": s.est_time_s,
                        "turns": s.turns,
                        "pod": s.pod,
                    },
                }
            )
        lanes = [
            {"id": k, "segment": self.lane_segment.get(k, -1), "coords": v.round(7).tolist()}
            for k, v in self.lanes.items()
        ]
        return {
            "id": self.plan_id,
            "name": p.name,
            "area": [_lonlat(r) for r in p.area],
            "holes": [_lonlat(r) for r in p.holes],
            "camera": p.camera.model_dump(),
            "stats": p.stats.model_dump(),
            "segments": segments,
            "lanes": lanes,
        }

    def swept_area(self, swept: set[int]) -> dict[str, Any] | None:
        """The ground under the camera along every swept lane, as a GeoJSON geometry."""
        ids = [k for k in swept if k in self.lanes and len(self.lanes[k]) >= 2]
        if not ids:
            return None
        lines = shapely.linestrings(
            [self.frame.latlon_to_xy(self.lanes[k]) for k in ids]  # type: ignore[arg-type]
        )
        area = shapely.union_all(shapely.buffer(lines, self.swath_m / 2, cap_style="flat"))
        area = shapely.simplify(area, 0.5)
        back = shapely.transform(area, lambda xy: self.frame.xy_to_latlon(xy)[:, ::-1])
        return mapping(back)


def _add_lanes(lanes: dict[int, list[tuple[float, float]]], wps: list[dict[str, Any]]) -> None:
    for w0, w1 in itertools.pairwise(wps):
        lane = w0.get("lane_id")
        if lane is None or lane != w1.get("lane_id"):
            continue
        pts = lanes.setdefault(int(lane), [])
        if not pts:
            pts.append((w0["lat"], w0["lon"]))
        pts.append((w1["lat"], w1["lon"]))
