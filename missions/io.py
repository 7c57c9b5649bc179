"""Area readers: GeoJSON, KML, KMZ and QGroundControl .plan -> `SearchArea`.

* GeoJSON (RFC 7946, ``[lon, lat]``): Polygon, MultiPolygon, GeometryCollection, Feature,
  FeatureCollection. Features whose property ``role`` is ``nofly``/``no-fly``/``exclude``/
  ``hole`` become holes; a polygon's own inner rings are holes too. Features with role
  ``segment``/``sortie`` (from our own GeoJSON export) are skipped, so an exported plan
  reads back as its area.
* KML (``lon,lat[,alt]``) and KMZ (zipped KML): every Placemark Polygon's outer boundary is
  area, its inner boundaries holes; a placemark whose name, description or ExtendedData
  ``role`` says no-fly/exclude is a hole.
* QGroundControl ``.plan`` (``[lat, lon]``): survey / corridor polygons of the mission and
  geofence inclusion polygons and circles are area; exclusion polygons and circles are holes.
"""

from __future__ import annotations

import json
import math
import re
import xml.etree.ElementTree as ET
import zipfile
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

from missions.area import LatLon, Ring, SearchArea
from missions.errors import AreaError

HOLE_ROLES = frozenset({"nofly", "no-fly", "no_fly", "exclude", "exclusion", "hole", "searched"})
# Features our own exports add around the area (segment outlines): not part of the area.
SKIP_ROLES = frozenset({"segment", "sortie", "path"})
SUFFIXES = (".geojson", ".json", ".kml", ".kmz", ".plan")


def read_area(path: str | Path) -> SearchArea:
    """Read a search area from a file; the format comes from the suffix, checked by content."""
    p = Path(path)
    suffix = p.suffix.lower()
    if suffix not in SUFFIXES:
        raise AreaError(
            f"{p}: unsupported file type '{suffix or '(none)'}'; give a search area as "
            ".geojson/.json, .kml, .kmz or a QGroundControl .plan"
        )
    try:
        data = p.read_bytes()
    except OSError as exc:
        raise AreaError(f"{p}: cannot read: {exc.strerror or exc}") from None
    if not data.strip():
        raise AreaError(f"{p}: the file is empty; it should hold a search area polygon")
    if suffix == ".kmz":
        area = read_kmz_bytes(data, str(p))
    elif suffix == ".kml":
        area = read_kml_text(_text(data, p), str(p))
    else:
        doc = _json(data, p)
        if suffix == ".plan" or (isinstance(doc, dict) and doc.get("fileType") == "Plan"):
            area = read_qgc_plan_doc(doc, str(p))
        else:
            area = read_geojson_doc(doc, str(p))
    return SearchArea(area.outer, area.holes, name=area.name or p.stem, source=str(p))


def _text(data: bytes, p: Path) -> str:
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise AreaError(f"{p}: not a text file (is it really {p.suffix}?)") from None


def _json(data: bytes, p: Path) -> Any:
    try:
        return json.loads(_text(data, p))
    except json.JSONDecodeError as exc:
        raise AreaError(
            f"{p}: not valid JSON at line {exc.lineno}, column {exc.colno}: {exc.msg}"
        ) from None


# ---------------------------------------------------------------- GeoJSON


def _num_pair(pt: Any, where: str) -> LatLon:
    if not isinstance(pt, list | tuple) or len(pt) < 2:
        raise AreaError(f"{where}: expected a position [lon, lat], got {pt!r}")
    try:
        lon, lat = float(pt[0]), float(pt[1])
    except (TypeError, ValueError):
        raise AreaError(f"{where}: position {pt!r} is not numeric") from None
    if not (math.isfinite(lat) and math.isfinite(lon)):
        raise AreaError(f"{where}: position {pt!r} is not finite")
    return (lat, lon)


def _ring(coords: Any, where: str, latlon_order: bool = False) -> Ring:
    if not isinstance(coords, list):
        raise AreaError(f"{where}: expected a list of positions")
    pts = [_num_pair(pt, f"{where}[{i}]") for i, pt in enumerate(coords)]
    if latlon_order:
        pts = [(b, a) for a, b in pts]
    if len(pts) > 1 and pts[0] == pts[-1]:
        pts = pts[:-1]
    return tuple(pts)


def _polygon(coords: Any, where: str) -> tuple[Ring, list[Ring]]:
    if not isinstance(coords, list) or not coords:
        raise AreaError(f"{where}: a Polygon needs at least its outer ring")
    outer = _ring(coords[0], f"{where}.coordinates[0]")
    inner = [_ring(r, f"{where}.coordinates[{i + 1}]") for i, r in enumerate(coords[1:])]
    return outer, inner


def _geometry(geom: Any, where: str) -> Iterator[tuple[Ring, list[Ring]]]:
    if not isinstance(geom, dict):
        return
    kind = geom.get("type")
    if kind == "Polygon":
        yield _polygon(geom.get("coordinates"), where)
    elif kind == "MultiPolygon":
        for i, poly in enumerate(geom.get("coordinates") or []):
            yield _polygon(poly, f"{where}.coordinates[{i}]")
    elif kind == "GeometryCollection":
        for i, g in enumerate(geom.get("geometries") or []):
            yield from _geometry(g, f"{where}.geometries[{i}]")


def _is_hole(props: Any) -> bool:
    if not isinstance(props, dict):
        return False
    role = str(props.get("role", "")).strip().lower()
    return role in HOLE_ROLES


def read_geojson_doc(doc: Any, source: str = "geojson") -> SearchArea:
    if not isinstance(doc, dict) or "type" not in doc:
        raise AreaError(f'{source}: not GeoJSON (no "type" member at the top level)')
    outer: list[Ring] = []
    holes: list[Ring] = []
    name = ""

    def feature(f: Any, where: str) -> None:
        nonlocal name
        props = f.get("properties") if isinstance(f, dict) else None
        if isinstance(props, dict) and str(props.get("role", "")).lower() in SKIP_ROLES:
            return
        hole = _is_hole(props)
        if not hole and isinstance(props, dict) and not name:
            name = str(props.get("name", ""))
        for o, inner in _geometry(f.get("geometry") if isinstance(f, dict) else None, where):
            (holes if hole else outer).append(o)
            holes.extend(inner)

    kind = doc.get("type")
    if kind == "FeatureCollection":
        for i, f in enumerate(doc.get("features") or []):
            feature(f, f"{source}: features[{i}].geometry")
    elif kind == "Feature":
        feature(doc, f"{source}: geometry")
    else:
        for o, inner in _geometry(doc, source):
            outer.append(o)
            holes.extend(inner)
    if not outer:
        raise AreaError(
            f"{source}: no search area polygon found (GeoJSON type {kind}); give a Polygon or "
            'MultiPolygon, with no-fly zones as features with "role": "nofly"'
        )
    return SearchArea(tuple(outer), tuple(holes), name=name, source=source)


# ---------------------------------------------------------------- KML / KMZ


def _strip_ns(root: ET.Element) -> None:
    for el in root.iter():
        if isinstance(el.tag, str) and "}" in el.tag:
            el.tag = el.tag.split("}", 1)[1]


def _kml_coords(el: ET.Element | None, where: str) -> Ring:
    if el is None or not (el.text or "").strip():
        raise AreaError(f"{where}: a LinearRing without <coordinates>")
    pts = []
    for i, tok in enumerate(el.text.split()):
        parts = tok.split(",")
        try:
            lon, lat = float(parts[0]), float(parts[1])
        except (ValueError, IndexError):
            raise AreaError(f"{where}: coordinate {i + 1} '{tok}' is not lon,lat[,alt]") from None
        pts.append((lat, lon))
    if len(pts) > 1 and pts[0] == pts[-1]:
        pts = pts[:-1]
    return tuple(pts)


_NOFLY = re.compile(r"no[\s_-]?fly|exclu|restricted|\bhole\b", re.IGNORECASE)


def _placemark_is_hole(pm: ET.Element) -> bool:
    for data in pm.iter("Data"):
        if data.get("name", "").lower() == "role":
            return (data.findtext("value") or "").strip().lower() in HOLE_ROLES
    for sd in pm.iter("SimpleData"):
        if sd.get("name", "").lower() == "role":
            return (sd.text or "").strip().lower() in HOLE_ROLES
    text = " ".join(filter(None, [pm.findtext("name"), pm.findtext("description")]))
    return bool(_NOFLY.search(text))


def read_kml_text(text: str, source: str = "kml") -> SearchArea:
    try:
        root = ET.fromstring(text)
    except ET.ParseError as exc:
        raise AreaError(f"{source}: not valid KML/XML ({exc})") from None
    _strip_ns(root)
    if root.tag != "kml":
        raise AreaError(f"{source}: not KML (root element <{root.tag}>, expected <kml>)")
    outer: list[Ring] = []
    holes: list[Ring] = []
    name = root.findtext(".//Document/name") or ""
    for n, pm in enumerate(root.iter("Placemark")):
        hole = _placemark_is_hole(pm)
        label = pm.findtext("name") or f"Placemark {n + 1}"
        for poly in pm.iter("Polygon"):
            where = f"{source}: {label}"
            ob = poly.find("outerBoundaryIs/LinearRing/coordinates")
            ring = _kml_coords(ob, f"{where} outerBoundaryIs")
            (holes if hole else outer).append(ring)
            for ib in poly.findall("innerBoundaryIs/LinearRing/coordinates"):
                holes.append(_kml_coords(ib, f"{where} innerBoundaryIs"))
    if not outer:
        raise AreaError(
            f"{source}: no Placemark with a Polygon found (lines and points are not areas); "
            "draw the search area as a polygon"
        )
    return SearchArea(tuple(outer), tuple(holes), name=name, source=source)


def read_kmz_bytes(data: bytes, source: str = "kmz") -> SearchArea:
    import io

    try:
        with zipfile.ZipFile(io.BytesIO(data)) as z:
            names = [n for n in z.namelist() if n.lower().endswith(".kml")]
            if not names:
                raise AreaError(f"{source}: the KMZ archive holds no .kml file")
            # doc.kml by convention, else the first KML in the archive.
            main = "doc.kml" if "doc.kml" in names else names[0]
            text = z.read(main).decode("utf-8-sig")
    except zipfile.BadZipFile:
        raise AreaError(f"{source}: not a KMZ (zip) archive") from None
    return read_kml_text(text, f"{source}!{main}")


# ---------------------------------------------------------------- QGroundControl .plan


def _circle(center: Any, radius: Any, where: str) -> Ring:
    """A fence circle as a 64-gon (radius in metres), in (lat, lon)."""
    lat0, lon0 = _num_pair(center, where)[::-1]  # .plan centres are [lat, lon]
    r = float(radius)
    if r <= 0:
        raise AreaError(f"{where}: circle radius {r:g} must be positive")
    from missions.geodesy import GEOD

    az = [i * 360.0 / 64 for i in range(64)]
    lons, lats, _ = GEOD.fwd([lon0] * 64, [lat0] * 64, az, [r] * 64)
    return tuple(zip(lats, lons, strict=True))


def _items(items: Iterable[Any]) -> Iterator[dict[str, Any]]:
    for it in items:
        if isinstance(it, dict):
            yield it
            # Complex items can nest (e.g. structure scans hold a TransectStyleComplexItem).
            for v in it.values():
                if isinstance(v, dict) and "polygon" in v:
                    yield v


def read_qgc_plan_doc(doc: Any, source: str = "plan") -> SearchArea:
    if not isinstance(doc, dict) or doc.get("fileType") != "Plan":
        raise AreaError(f'{source}: not a QGroundControl plan ("fileType": "Plan" missing)')
    outer: list[Ring] = []
    holes: list[Ring] = []
    mission = doc.get("mission") or {}
    for i, it in enumerate(_items(mission.get("items") or [])):
        if "polygon" in it and isinstance(it["polygon"], list) and it["polygon"]:
            outer.append(_ring(it["polygon"], f"{source}: mission.items[{i}].polygon", True))
    fence = doc.get("geoFence") or {}
    inclusions: list[Ring] = []
    for i, fp in enumerate(fence.get("polygons") or []):
        ring = _ring(fp.get("polygon"), f"{source}: geoFence.polygons[{i}]", True)
        (inclusions if fp.get("inclusion", True) else holes).append(ring)
    for i, fc in enumerate(fence.get("circles") or []):
        c = fc.get("circle") or {}
        ring = _circle(c.get("center"), c.get("radius", 0), f"{source}: geoFence.circles[{i}]")
        (inclusions if fc.get("inclusion", True) else holes).append(ring)
    # An inclusion fence usually bounds the survey with some room: it is the search area
    # only when the plan has no survey polygon.
    if not outer:
        outer = inclusions
    if not outer:
        raise AreaError(
            f"{source}: the .plan holds no survey polygon and no inclusion geofence; draw the "
            "search area as a Survey or an inclusion fence in QGroundControl"
        )
    return SearchArea(tuple(outer), tuple(holes), source=source)
