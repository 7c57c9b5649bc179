"""Plan exporters: QGroundControl .plan (one per sortie), KML, GeoJSON.

* QGC ``.plan``: ``mission`` with ``plannedHomePosition`` [lat, lon, alt] and SimpleItems
  (take-off, speed, waypoints, return to launch; frame 3 = relative altitude), ``geoFence``
  with the search area as inclusion polygon(s) (grown by the turn margin) and every hole as
  an exclusion polygon, ``rallyPoints`` (empty). Polygons are ``[lat, lon]``. MAVSDK's and
  QGC's importers need ``geoFence`` and ``rallyPoints`` even when empty.
* GeoJSON (``[lon, lat]``): the area, holes (``role: nofly``), each segment's outline and
  each sortie's path as features.
* KML (``lon,lat,alt``): the same, as placemarks with styles per vehicle.
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any
from xml.sax.saxutils import escape

import numpy as np
import shapely
from shapely.geometry import Polygon

from missions.geodesy import LocalFrame
from missions.plan import (
    MAV_CMD_NAV_TAKEOFF,
    MAV_CMD_NAV_WAYPOINT,
    Plan,
    Ring,
    Sortie,
    mission_items,
)

QGC_FRAME_GLOBAL_RELATIVE_ALT = 3
QGC_FRAME_MISSION = 2
FIRMWARE = {"px4": 12, "ardupilot": 3, "generic": 0}
VEHICLE_MULTIROTOR = 2


def _grow(ring: Ring, metres: float) -> list[list[float]]:
    """A (lat, lon) ring grown outwards by `metres` (unchanged for 0), as [[lat, lon], ...]."""
    if metres <= 0:
        return [[round(a, 8), round(b, 8)] for a, b in ring]
    pts = np.asarray(ring, dtype=float)
    frame = LocalFrame.for_area(pts[:, 0], pts[:, 1])
    grown = Polygon(frame.latlon_to_xy(pts)).buffer(metres, join_style="mitre")
    grown = shapely.simplify(grown, 0.5)
    ll = frame.xy_to_latlon(np.asarray(grown.exterior.coords)[:-1])
    return [[round(float(a), 8), round(float(b), 8)] for a, b in ll]


# Half-width of the inclusion fence around the legs between launch and the area.
CORRIDOR_HALF_WIDTH_M = 30.0


def _transit_corridors(sortie: Sortie) -> list[list[list[float]]]:
    """An inclusion polygon around the launch point and every transit leg (to and from
    launch, and between parts of the area that do not touch), so that a drone is inside a
    fence from take-off to landing."""
    pts = [sortie.launch] + [(w.lat, w.lon) for w in sortie.waypoints] + [sortie.launch]
    kinds = ["transit"] + [w.kind for w in sortie.waypoints] + ["transit"]
    legs = [
        (pts[i], pts[i + 1])
        for i in range(len(pts) - 1)
        if kinds[i] == "transit" or kinds[i + 1] == "transit"
    ]
    arr = np.asarray(pts, dtype=float)
    frame = LocalFrame.for_area(arr[:, 0], arr[:, 1])
    lines = [shapely.LineString(frame.latlon_to_xy(np.asarray(leg, float))) for leg in legs]
    shape = shapely.union_all([ln.buffer(CORRIDOR_HALF_WIDTH_M) for ln in lines])
    shape = shapely.simplify(shape, 1.0)
    # One inclusion polygon per piece: PX4 and ArduPilot keep a drone inside any of them.
    out = []
    for poly in shapely.get_parts(shape):
        if isinstance(poly, Polygon) and not poly.is_empty:
            ll = frame.xy_to_latlon(np.asarray(poly.exterior.coords)[:-1])
            out.append([[round(float(a), 8), round(float(b), 8)] for a, b in ll])
    return out


def qgc_plan(plan: Plan, sortie: Sortie, firmware: str = "px4") -> dict[str, Any]:
    """One sortie as a QGroundControl .plan document."""
    items = []
    for n, it in enumerate(mission_items(sortie)):
        if it.command in (MAV_CMD_NAV_TAKEOFF, MAV_CMD_NAV_WAYPOINT):
            frame = QGC_FRAME_GLOBAL_RELATIVE_ALT
            params = [it.param1, it.param2, it.param3, it.param4, it.x / 1e7, it.y / 1e7, it.z]
        else:  # speed change, return to launch: no position
            frame = QGC_FRAME_MISSION
            params = [it.param1, it.param2, it.param3, it.param4, 0, 0, 0]
        item = {
            "type": "SimpleItem",
            "autoContinue": True,
            "command": it.command,
            "doJumpId": n + 1,
            "frame": frame,
            "params": [None if isinstance(p, float) and math.isnan(p) else p for p in params],
        }
        if frame == QGC_FRAME_GLOBAL_RELATIVE_ALT:
            item.update({"AMSLAltAboveTerrain": None, "Altitude": it.z, "AltitudeMode": 1})
        items.append(item)
    lat0, lon0 = sortie.launch
    fences = [
        {"inclusion": True, "polygon": _grow(r, plan.turn_margin_m + 1.0), "version": 1}
        for r in plan.area
    ]
    for corridor in _transit_corridors(sortie):
        fences.append({"inclusion": True, "polygon": corridor, "version": 1})
    fences += [
        {"inclusion": False, "polygon": [[round(a, 8), round(b, 8)] for a, b in r], "version": 1}
        for r in plan.holes
    ]
    return {
        "fileType": "Plan",
        "version": 1,
        "groundStation": "groundctl",
        "mission": {
            "version": 2,
            "firmwareType": FIRMWARE.get(firmware, 0),
            "vehicleType": VEHICLE_MULTIROTOR,
            "cruiseSpeed": sortie.waypoints[0].speed_ms,
            "hoverSpeed": sortie.waypoints[0].speed_ms,
            "globalPlanAltitudeMode": 1,
            "plannedHomePosition": [lat0, lon0, 0],
            "items": items,
        },
        "geoFence": {"version": 2, "circles": [], "polygons": fences},
        "rallyPoints": {"version": 2, "points": []},
    }


def write_qgc(plan: Plan, out_dir: str | Path, stem: str, firmware: str = "px4") -> list[Path]:
    """One .plan per sortie: ``<stem>-seg<N>-sortie<M>.plan``. Returns the paths."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    paths = []
    for seg in plan.segments:
        for s in seg.sorties:
            p = out / f"{stem}-seg{seg.index + 1}-sortie{s.index + 1}.plan"
            p.write_text(json.dumps(qgc_plan(plan, s, firmware), indent=1), encoding="utf-8")
            paths.append(p)
    return paths


def _lonlat(ring: Ring, close: bool = True) -> list[list[float]]:
    pts = [[b, a] for a, b in ring]
    return [*pts, pts[0]] if close and pts else pts


def geojson(plan: Plan) -> dict[str, Any]:
    feats: list[dict[str, Any]] = [
        {
            "type": "Feature",
            "properties": {"role": "area", "name": plan.name},
            "geometry": {"type": "Polygon", "coordinates": [_lonlat(r)]},
        }
        for r in plan.area
    ]
    feats += [
        {
            "type": "Feature",
            "properties": {"role": "nofly"},
            "geometry": {"type": "Polygon", "coordinates": [_lonlat(r)]},
        }
        for r in plan.holes
    ]
    for seg in plan.segments:
        if seg.outline:
            feats.append(
                {
                    "type": "Feature",
                    "properties": {
                        "role": "segment",
                        "segment": seg.index,
                        "vehicle": seg.vehicle,
                        "est_time_s": seg.stats.est_time_s,
                        "pod": seg.stats.pod,
                    },
                    "geometry": {
                        "type": "MultiPolygon",
                        "coordinates": [[_lonlat(r)] for r in seg.outline],
                    },
                }
            )
        for s in seg.sorties:
            feats.append(
                {
                    "type": "Feature",
                    "properties": {
                        "role": "sortie",
                        "segment": seg.index,
                        "sortie": s.index,
                        "est_time_s": s.est_time_s,
                        "length_m": s.length_m,
                    },
                    "geometry": {
                        "type": "LineString",
                        "coordinates": [[w.lon, w.lat, w.alt_rel_m] for w in s.waypoints],
                    },
                }
            )
    return {"type": "FeatureCollection", "features": feats}


COLOURS_KML = [
    "ff0000ff",
    "ff00a5ff",
    "ff00ffff",
    "ff00ff00",
    "ffffff00",
    "ffff0000",
    "ffff00ff",
    "ff808080",
]


def kml(plan: Plan) -> str:
    def coords(ring: Ring) -> str:
        pts = [*ring, ring[0]]
        return " ".join(f"{lon:.8f},{lat:.8f},0" for lat, lon in pts)

    parts = [
        '<?xml version="1.0" encoding="UTF-8"?>',
        '<kml xmlns="http://www.opengis.net/kml/2.2"><Document>',
        f"<name>{escape(plan.name or 'groundctl plan')}</name>",
    ]
    for i, c in enumerate(COLOURS_KML):
        parts.append(
            f'<Style id="v{i}"><LineStyle><color>{c}</color><width>2</width></LineStyle></Style>'
        )
    for r in plan.area:
        parts.append(
            "<Placemark><name>search area</name><Polygon><outerBoundaryIs><LinearRing>"
            f"<coordinates>{coords(r)}</coordinates></LinearRing></outerBoundaryIs></Polygon>"
            "</Placemark>"
        )
    for r in plan.holes:
        parts.append(
            '<Placemark><name>no-fly</name><ExtendedData><Data name="role"><value>nofly'
            "</value></Data></ExtendedData><Polygon><outerBoundaryIs><LinearRing>"
            f"<coordinates>{coords(r)}</coordinates></LinearRing></outerBoundaryIs></Polygon>"
            "</Placemark>"
        )
    for seg in plan.segments:
        for s in seg.sorties:
            line = " ".join(f"{w.lon:.8f},{w.lat:.8f},{w.alt_rel_m:.1f}" for w in s.waypoints)
            parts.append(
                f"<Placemark><name>segment {seg.index + 1} sortie {s.index + 1}</name>"
                f"<styleUrl>#v{seg.index % len(COLOURS_KML)}</styleUrl><LineString>"
                "<altitudeMode>relativeToGround</altitudeMode>"
                f"<coordinates>{line}</coordinates></LineString></Placemark>"
            )
    parts.append("</Document></kml>")
    return "\n".join(parts)
