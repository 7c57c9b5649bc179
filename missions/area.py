"""Search areas: the WGS84 input shape, its validation, and its local metric form.

`SearchArea` is what readers produce: outer boundaries and holes as (lat, lon) rings.
`prepare` validates it and returns a `LocalArea` (shapely geometry in metres, see
`missions.geodesy.LocalFrame`) the planner works on. Every refusal is an `AreaError` that says
what is wrong, where (in lat, lon), and how to fix it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

import numpy as np
import shapely
from shapely.geometry import MultiPolygon, Polygon
from shapely.geometry.base import BaseGeometry

from missions.errors import AreaError
from missions.geodesy import LocalFrame

LatLon = tuple[float, float]
Ring = tuple[LatLon, ...]

DEFAULT_MAX_AREA_KM2 = 100.0
# Below this share of the outer area left after removing holes, there is nothing to search.
MIN_SEARCHABLE_SHARE = 0.005


@dataclass(frozen=True)
class SearchArea:
    """Outer boundaries and holes (no-fly, already searched) as (lat, lon) rings."""

    outer: tuple[Ring, ...]
    holes: tuple[Ring, ...] = ()
    name: str = ""
    source: str = ""

    def swapped(self) -> SearchArea:
        """The same area with every (lat, lon) pair read the other way round."""

        def sw(rings: tuple[Ring, ...]) -> tuple[Ring, ...]:
            return tuple(tuple((b, a) for a, b in r) for r in rings)

        return SearchArea(sw(self.outer), sw(self.holes), self.name, self.source)


@dataclass(frozen=True)
class LocalArea:
    """A validated area in a local metric frame (x east, y north, metres)."""

    frame: LocalFrame
    area: BaseGeometry  # union of the outer boundaries (their own inner rings removed)
    holes: BaseGeometry  # union of the holes, clipped to nothing in particular
    searchable: BaseGeometry  # area minus holes
    source: SearchArea
    repaired: bool = False
    notes: tuple[str, ...] = field(default=())

    def to_search_area(self) -> SearchArea:
        """The (possibly repaired) area back in WGS84, e.g. to write with --repair."""
        outer = tuple(_ring_latlon(self.frame, p.exterior) for p in _polys(self.area))
        holes = [_ring_latlon(self.frame, r) for p in _polys(self.area) for r in p.interiors]
        holes += [_ring_latlon(self.frame, p.exterior) for p in _polys(self.holes)]
        return SearchArea(outer, tuple(holes), self.source.name, self.source.source)


def _ring_latlon(frame: LocalFrame, ring: shapely.LinearRing) -> Ring:
    ll = frame.xy_to_latlon(np.asarray(ring.coords)[:-1])
    return tuple((float(a), float(b)) for a, b in ll)


def _polys(geom: BaseGeometry) -> list[Polygon]:
    return [g for g in shapely.get_parts(geom) if isinstance(g, Polygon) and not g.is_empty]


def _describe(area: SearchArea) -> str:
    return f"{area.source}: " if area.source else ""


def _in_range(area: SearchArea) -> bool:
    pts = np.array([p for r in (*area.outer, *area.holes) for p in r], dtype=float)
    return bool(
        np.all(np.isfinite(pts))
        and np.all(np.abs(pts[:, 0]) <= 90)
        and np.all(np.abs(pts[:, 1]) <= 180)
    )


def _sane(area: SearchArea, max_area_km2: float) -> bool:
    """Whether this reading of the coordinates gives a plausible search area."""
    if not _in_range(area):
        return False
    pts = np.array([p for r in area.outer for p in r], dtype=float)
    try:
        frame = LocalFrame.for_area(pts[:, 0], pts[:, 1])
    except AreaError:
        return False
    a = sum(Polygon(frame.latlon_to_xy(r)).area for r in area.outer)
    return 0 < a <= max_area_km2 * 1e6 * 4


def _check_rings(area: SearchArea) -> None:
    where = _describe(area)
    if not area.outer:
        raise AreaError(
            f"{where}no search area polygon found; give a Polygon/MultiPolygon (GeoJSON), "
            "a Placemark with a Polygon (KML) or a survey/inclusion polygon (.plan)"
        )
    for kind, rings in (("area boundary", area.outer), ("hole", area.holes)):
        for i, ring in enumerate(rings):
            distinct = {(round(a, 9), round(b, 9)) for a, b in ring}
            if len(distinct) < 3:
                raise AreaError(
                    f"{where}{kind} {i + 1} has {len(distinct)} distinct point(s); a polygon "
                    "needs at least 3"
                )


def prepare(
    area: SearchArea,
    *,
    max_area_km2: float = DEFAULT_MAX_AREA_KM2,
    repair: bool = False,
    accept_swapped: bool = False,
) -> LocalArea:
    """Validate `area` and move it into a local metric frame.

    Refuses: empty input, degenerate rings, coordinates that only make sense with latitude
    and longitude swapped (unless `accept_swapped`), self-intersections (unless `repair`,
    which keeps the polygonal part of shapely's `make_valid`), areas above `max_area_km2`,
    and holes that leave nothing to search.
    """
    _check_rings(area)
    where = _describe(area)
    if not _sane(area, max_area_km2) and _sane(area.swapped(), max_area_km2):
        if accept_swapped:
            area = area.swapped()
        else:
            lat, lon = area.outer[0][0]
            raise AreaError(
                f"{where}latitude and longitude look swapped: the first point reads as lat "
                f"{lat:g}, lon {lon:g}, and only the swapped reading gives a sane area. GeoJSON "
                "and KML list longitude first; fix the file or pass --swap-latlon"
            )
    pts = np.array([p for r in area.outer for p in r], dtype=float)
    frame = LocalFrame.for_area(pts[:, 0], pts[:, 1])
    outer_polys = [Polygon(frame.latlon_to_xy(r)) for r in area.outer]
    hole_polys = [Polygon(frame.latlon_to_xy(r)) for r in area.holes]
    repaired = False
    notes: list[str] = []
    fixed: list[list[BaseGeometry]] = [[], []]
    for k, (kind, polys) in enumerate((("area boundary", outer_polys), ("hole", hole_polys))):
        for i, poly in enumerate(polys):
            if poly.is_valid:
                fixed[k].append(poly)
                continue
            reason = shapely.is_valid_reason(poly)
            if not repair:
                raise AreaError(f"{where}{kind} {i + 1}: {_explain(reason, frame)}")
            good = shapely.make_valid(poly)
            good = shapely.union_all([g for g in _polys(good)] or [Polygon()])
            fixed[k].append(good)
            repaired = True
            notes.append(f"{kind} {i + 1} repaired ({reason.split('[')[0]})")
    outer = shapely.union_all(fixed[0])
    holes = shapely.union_all(fixed[1]) if fixed[1] else Polygon()
    if outer.is_empty or outer.area < 1.0:
        raise AreaError(f"{where}the search area has no extent (all points on one line?)")
    if outer.area > max_area_km2 * 1e6:
        raise AreaError(
            f"{where}the area is {outer.area / 1e6:.1f} km², above the limit of "
            f"{max_area_km2:g} km²; split it into smaller areas, or raise the limit with "
            "--max-area-km2 if this is really meant"
        )
    searchable = shapely.difference(outer, holes)
    if searchable.area < MIN_SEARCHABLE_SHARE * outer.area:
        raise AreaError(
            f"{where}the holes cover {100 * (1 - searchable.area / outer.area):.1f}% of the "
            "area, leaving nothing to search; check that the no-fly/excluded polygons are "
            "marked as holes and the search area as the outer boundary"
        )
    return LocalArea(frame, outer, holes, searchable, area, repaired, tuple(notes))


def _explain(reason: str, frame: LocalFrame) -> str:
    m = re.search(r"\[([-\d.eE+]+)\s+([-\d.eE+]+)\]", reason)
    kind = reason.split("[")[0].strip()
    if m:
        lat, lon = frame.to_wgs84(float(m.group(1)), float(m.group(2)))
        place = f" at lat {float(lat):.6f}, lon {float(lon):.6f}"
    else:
        place = ""
    if "Self-intersection" in kind or "Ring Self-intersection" in kind:
        return (
            f"the boundary crosses itself{place}; fix the vertex order, or pass --repair to "
            "use the repaired shape (written next to the plan as *.repaired.geojson)"
        )
    return f"invalid polygon ({kind}){place}; fix it or pass --repair"


def multipolygon(geom: BaseGeometry) -> MultiPolygon:
    """Any polygonal geometry as a MultiPolygon (empty parts dropped)."""
    return MultiPolygon(_polys(geom))
