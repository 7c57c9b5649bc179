"""Planning for the page: the same planner and exports as `groundctl plan`.

The one place where the web map calls `missions` to plan (the planner's public entry point,
`prepare` + `make_plan`, with the CLI's camera / airframe / settings conversions), so that a
change of the planner's API is adapted here only.
"""

from __future__ import annotations

import io
import json
import zipfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from groundctl import config
from groundctl.cli.plan import camera_from_config, planner_settings, vehicle_from_config
from missions.area import SearchArea, prepare
from missions.errors import PlanError
from missions.export import geojson, kml, qgc_plan
from missions.footprint import max_alt_for_px_on_person
from missions.io import read_geojson_doc, read_kml_text, read_kmz_bytes, read_qgc_plan_doc
from missions.plan import Plan
from missions.planner import PlanRequest, make_plan
from missions.terrain import Dem

EXPORTS = ("plan", "qgc", "kml", "geojson")


@dataclass(frozen=True)
class PlanParams:
    """What the page's plan form gives (validated by `schemas.PlanIn`)."""

    camera: str
    alt_m: float | None
    min_px_on_person: float | None
    overlap_pct: float
    drones: int
    airframes: Sequence[str]
    launches: Sequence[tuple[float, float]]
    sweep_deg: float | None
    speed_ms: float | None
    turn_margin_m: float | None
    hole_margin_m: float | None
    name: str


def read_area_bytes(data: bytes, filename: str) -> SearchArea:
    """An uploaded GeoJSON / KML / KMZ / QGC .plan file (read in memory, never written)."""
    suffix = Path(filename).suffix.lower()
    name = Path(filename).name
    if suffix in (".geojson", ".json", ".plan"):
        try:
            doc = json.loads(data.decode("utf-8-sig"))
        except (ValueError, UnicodeDecodeError) as exc:
            raise PlanError(f"{name}: not JSON ({exc})") from None
        return (read_qgc_plan_doc if suffix == ".plan" else read_geojson_doc)(doc, name)
    if suffix == ".kml":
        return read_kml_text(data.decode("utf-8-sig", errors="replace"), name)
    if suffix == ".kmz":
        return read_kmz_bytes(data, name)
    raise PlanError(f"{name}: unknown area format; give .geojson, .json, .kml, .kmz or .plan")


def area_from_geojson(doc: Any) -> SearchArea:
    return read_geojson_doc(doc, "area")


def make(area: SearchArea, p: PlanParams, user_file: Path | None, dem: Dem | None) -> Plan:
    """Plan `area` as `groundctl plan` would with the same options."""
    settings = planner_settings(user_file)
    cam = camera_from_config(config.camera(p.camera, user_file))
    if p.min_px_on_person is not None:
        alt_m = min(max_alt_for_px_on_person(cam, p.min_px_on_person), settings.max_alt_m)
    else:
        alt_m = float(p.alt_m)  # type: ignore[arg-type]
        if alt_m > settings.max_alt_m:
            raise PlanError(
                f"alt_m {alt_m:g} m is above the highest allowed {settings.max_alt_m:g} m "
                "(config planner.max_alt_m)"
            )
    frames = [config.airframe(n, user_file) for n in p.airframes]
    vehicles = tuple(
        vehicle_from_config(frames[i if len(frames) > 1 else 0], p.speed_ms)
        for i in range(p.drones)
    )
    local = prepare(area, max_area_km2=settings.max_area_km2)
    req = PlanRequest(
        camera=cam,
        alt_agl_m=alt_m,
        side_overlap=p.overlap_pct / 100.0,
        vehicles=vehicles,
        launches=tuple(p.launches),
        sweep_deg=p.sweep_deg,
        turn_margin_m=settings.turn_margin_m if p.turn_margin_m is None else p.turn_margin_m,
        hole_margin_m=settings.hole_margin_m if p.hole_margin_m is None else p.hole_margin_m,
        dem=dem,
        name=p.name or area.name,
    )
    return make_plan(local, req)


def export(plan: Plan, fmt: str, stem: str, firmware: str = "px4") -> tuple[bytes, str, str]:
    """(content, media type, file name) of an export, built in memory."""
    if fmt == "plan":
        return plan.to_json().encode(), "application/json", f"{stem}.json"
    if fmt == "kml":
        return kml(plan).encode(), "application/vnd.google-earth.kml+xml", f"{stem}.kml"
    if fmt == "geojson":
        return json.dumps(geojson(plan)).encode(), "application/geo+json", f"{stem}.geojson"
    if fmt == "qgc":
        buf = io.BytesIO()
        with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zf:
            for seg in plan.segments:
                for s in seg.sorties:
                    doc = qgc_plan(plan, s, firmware)
                    name = f"{stem}-seg{seg.index + 1}-sortie{s.index + 1}.plan"
                    zf.writestr(name, json.dumps(doc, indent=1))
        return buf.getvalue(), "application/zip", f"{stem}-qgc.zip"
    raise PlanError(f"unknown export format {fmt!r}; choose from {', '.join(EXPORTS)}")
