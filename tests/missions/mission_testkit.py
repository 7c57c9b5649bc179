"""Helpers for the planner tests: areas drawn in metres around a fixed place."""

from __future__ import annotations

import json
import math

import numpy as np
import shapely
from shapely.geometry import LineString, Polygon

from missions.footprint import Camera
from missions.geodesy import LocalFrame
from missions.plan import Plan

ORIGIN = (47.40, 8.55)
H20T = Camera("h20t", 640, 512, 31.8, 25.6, 30.0)


def alt_for_swath(width_m: float, cam: Camera = H20T) -> float:
    return width_m / (2 * math.tan(math.radians(cam.hfov_deg) / 2))


class Draw:
    """Rings in metres (x east, y north) around ORIGIN -> (lat, lon) rings."""

    frame = LocalFrame.aeqd(*ORIGIN)

    def ring(self, xy) -> tuple[tuple[float, float], ...]:
        ll = self.frame.xy_to_latlon(np.asarray(xy, dtype=float))
        return tuple((float(a), float(b)) for a, b in ll)

    def geojson_ring(self, xy) -> list[list[float]]:
        pts = [[lon, lat] for lat, lon in self.ring(xy)]
        return [*pts, pts[0]]

    def geojson(self, outer, holes=(), hole_features=()) -> str:
        feats = [
            {
                "type": "Feature",
                "properties": {"name": "test area"},
                "geometry": {
                    "type": "Polygon",
                    "coordinates": [
                        self.geojson_ring(outer),
                        *[self.geojson_ring(h) for h in holes],
                    ],
                },
            }
        ]
        feats += [
            {
                "type": "Feature",
                "properties": {"role": "nofly"},
                "geometry": {"type": "Polygon", "coordinates": [self.geojson_ring(h)]},
            }
            for h in hole_features
        ]
        return json.dumps({"type": "FeatureCollection", "features": feats})


def flown_geometry(plan: Plan, frame: LocalFrame, include_transit: bool = False):
    """Every sortie's path (without the legs to and from launch) as lines in `frame`."""
    lines = []
    for seg in plan.segments:
        for s in seg.sorties:
            wps = [w for w in s.waypoints if include_transit or w.kind != "transit"]
            if len(wps) >= 2:
                lines.append(LineString(frame.latlon_to_xy([(w.lat, w.lon) for w in wps])))
    return shapely.MultiLineString(lines)


def measured_coverage(plan: Plan, frame: LocalFrame, searchable) -> float:
    flown = flown_geometry(plan, frame)
    covered = shapely.intersection(flown.buffer(plan.camera.footprint_w_m / 2), searchable)
    return covered.area / searchable.area


def box(x0, y0, x1, y1):
    return list(Polygon.from_bounds(x0, y0, x1, y1).exterior.coords)[:-1]
