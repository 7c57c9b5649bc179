"""`groundctl plan`: search area + camera + fleet -> plan JSON, exports, preview, summary."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import cv2
import numpy as np
import typer
from pydantic import BaseModel, ConfigDict, Field
from rich.console import Console
from rich.table import Table

from groundctl import config
from groundctl.cli import app
from groundctl.cli.context import cli_context
from groundctl.config import AirframeConfig, CameraConfig
from missions.area import DEFAULT_MAX_AREA_KM2, prepare
from missions.errors import PlanError
from missions.export import geojson, kml, write_qgc
from missions.footprint import Camera, max_alt_for_px_on_person
from missions.geodesy import LocalFrame
from missions.io import read_area
from missions.plan import Plan
from missions.planner import PlanRequest, make_plan
from missions.segment import Vehicle
from missions.terrain import Dem

EXPORTS = ("qgc", "kml", "geojson")
# BGR, one per vehicle.
COLOURS = [
    (40, 40, 230),
    (0, 160, 255),
    (0, 200, 200),
    (60, 180, 60),
    (200, 160, 0),
    (200, 60, 60),
    (180, 60, 180),
    (110, 110, 110),
]


def camera_from_config(cam: CameraConfig) -> Camera:
    return Camera(
        cam.name, cam.width_px, cam.height_px, cam.hfov_deg, cam.vfov_deg, cam.frame_rate_hz
    )


def vehicle_from_config(af: AirframeConfig, speed_ms: float | None = None) -> Vehicle:
    return Vehicle(
        name=af.name,
        speed_ms=speed_ms or af.cruise_speed_ms,
        usable_endurance_s=af.usable_endurance_s,
        climb_rate_ms=af.climb_rate_ms,
        descent_rate_ms=af.descent_rate_ms,
        accel_ms2=af.max_accel_ms2,
    )


class PlannerSettings(BaseModel):
    """The `planner:` section of the user config file (every key optional)."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    max_area_km2: float = Field(default=DEFAULT_MAX_AREA_KM2, gt=0, le=10_000)
    max_alt_m: float = Field(default=120.0, gt=0, le=10_000)
    turn_margin_m: float = Field(default=0.0, ge=0, le=1000)
    hole_margin_m: float = Field(default=0.0, ge=0, le=1000)


def planner_settings(user_file: Path | None) -> PlannerSettings:
    if user_file is None:
        return PlannerSettings()
    section = config.read_user_file(user_file).get("planner")
    if section is None:
        return PlannerSettings()
    return config.validate(PlannerSettings, section, str(user_file), "planner")


def _latlon(text: str) -> tuple[float, float]:
    try:
        lat_s, lon_s = text.split(",")
        lat, lon = float(lat_s), float(lon_s)
    except ValueError:
        raise PlanError(
            f"--launch '{text}': expected LAT,LON in degrees, e.g. 47.39,8.54"
        ) from None
    if abs(lat) > 90 or abs(lon) > 180:
        raise PlanError(f"--launch '{text}': latitude must be within ±90, longitude ±180")
    return lat, lon


@app.command("plan")
def plan_command(
    ctx: typer.Context,
    area_file: Annotated[
        Path, typer.Argument(metavar="AREA", help="Search area: .geojson, .kml, .kmz or QGC .plan.")
    ],
    camera: Annotated[
        str, typer.Option("--camera", help="Camera name (see `groundctl configs list`).")
    ],
    output: Annotated[Path, typer.Option("-o", "--output", help="Plan JSON to write.")],
    alt: Annotated[float | None, typer.Option("--alt", help="Altitude above ground, m.")] = None,
    min_px: Annotated[
        float | None,
        typer.Option(
            "--min-px-on-person",
            help="Plan the highest altitude that keeps N pixels across a 0.5 m wide person.",
        ),
    ] = None,
    overlap: Annotated[
        float, typer.Option("--overlap", help="Side overlap in percent (or a fraction below 1).")
    ] = 20.0,
    drones: Annotated[
        int, typer.Option("--drones", min=1, max=64, help="Number of drones (segments).")
    ] = 1,
    airframe: Annotated[
        list[str] | None,
        typer.Option("--airframe", help="Airframe name; once for all drones or once per drone."),
    ] = None,
    launch: Annotated[
        list[str] | None,
        typer.Option(
            "--launch", help="Launch point LAT,LON; once for all drones or once per drone."
        ),
    ] = None,
    dem: Annotated[
        Path | None, typer.Option("--dem", help="GeoTIFF DEM: keep the altitude above ground.")
    ] = None,
    sweep_deg: Annotated[
        float | None,
        typer.Option(
            "--sweep-deg", help="Lane bearing in degrees from north (default: chosen per part)."
        ),
    ] = None,
    speed: Annotated[
        float | None, typer.Option("--speed", help="Search speed m/s (default: airframe cruise).")
    ] = None,
    turn_margin: Annotated[
        float | None,
        typer.Option(
            "--turn-margin",
            min=0,
            help="How far outside the area lanes and turns may go, m (config planner.turn_margin_m, default 0).",
        ),
    ] = None,
    hole_margin: Annotated[
        float | None,
        typer.Option(
            "--hole-margin",
            min=0,
            help="Keep the path this far off every hole, m (config planner.hole_margin_m, default 0).",
        ),
    ] = None,
    max_alt: Annotated[
        float | None,
        typer.Option(
            "--max-alt",
            help="Highest altitude allowed above ground, m (config planner.max_alt_m, default 120).",
        ),
    ] = None,
    export: Annotated[
        list[str] | None, typer.Option("--export", help="qgc, kml or geojson (repeatable).")
    ] = None,
    preview: Annotated[
        Path | None, typer.Option("--preview", help="PNG picture of the plan.")
    ] = None,
    repair: Annotated[
        bool,
        typer.Option(
            "--repair", help="Repair a self-intersecting area and write the repaired shape."
        ),
    ] = False,
    swap_latlon: Annotated[
        bool, typer.Option("--swap-latlon", help="The file has latitude and longitude swapped.")
    ] = False,
    max_area_km2: Annotated[
        float | None,
        typer.Option(
            "--max-area-km2",
            help=f"Refuse areas larger than this (config planner.max_area_km2, default {DEFAULT_MAX_AREA_KM2:g}).",
        ),
    ] = None,
    firmware: Annotated[
        str, typer.Option("--firmware", help="px4 or ardupilot, for the QGC export.")
    ] = "px4",
) -> None:
    """Plan an S-pattern search of AREA for a fleet: segments per drone, sorties per battery."""
    cli = cli_context(ctx)
    settings = planner_settings(cli.user_file)
    turn_margin = settings.turn_margin_m if turn_margin is None else turn_margin
    hole_margin = settings.hole_margin_m if hole_margin is None else hole_margin
    max_alt = settings.max_alt_m if max_alt is None else max_alt
    max_area_km2 = settings.max_area_km2 if max_area_km2 is None else max_area_km2
    exports = [e.lower() for e in (export or [])]
    for e in exports:
        if e not in EXPORTS:
            raise PlanError(f"--export {e}: unknown format; choose from {', '.join(EXPORTS)}")
    if (alt is None) == (min_px is None):
        raise PlanError("give exactly one of --alt M or --min-px-on-person N")
    frac = overlap / 100.0 if overlap >= 1 else overlap
    cam = camera_from_config(cli.camera(camera))
    notes: list[str] = []
    if min_px is not None:
        alt_m = max_alt_for_px_on_person(cam, min_px)
        if alt_m > max_alt:
            notes.append(
                f"{min_px:g} px on a person allows {alt_m:.0f} m; capped at --max-alt {max_alt:g} m"
            )
            alt_m = max_alt
    else:
        alt_m = float(alt)  # type: ignore[arg-type]
        if alt_m > max_alt:
            raise PlanError(
                f"--alt {alt_m:g} m is above --max-alt {max_alt:g} m; lower it or raise --max-alt"
            )
    names = airframe or ["mavic3t"]
    if len(names) not in (1, drones):
        raise PlanError(
            f"{len(names)} --airframe values for {drones} drones; give one for all or one per drone"
        )
    frames = [cli.airframe(n) for n in names]
    vehicles = tuple(
        vehicle_from_config(frames[i if len(frames) > 1 else 0], speed) for i in range(drones)
    )
    launches = tuple(_latlon(t) for t in (launch or []))

    area = read_area(area_file)
    local = prepare(area, max_area_km2=max_area_km2, repair=repair, accept_swapped=swap_latlon)
    if local.repaired:
        repaired_path = output.with_name(output.stem + ".repaired.geojson")
        repaired_path.parent.mkdir(parents=True, exist_ok=True)
        repaired_path.write_text(
            json.dumps(_area_geojson(local.to_search_area())), encoding="utf-8"
        )
        notes.append(
            f"area repaired ({'; '.join(local.notes)}); repaired shape written to {repaired_path}"
        )
    dem_obj = Dem.read(dem) if dem else None
    req = PlanRequest(
        camera=cam,
        alt_agl_m=alt_m,
        side_overlap=frac,
        vehicles=vehicles,
        launches=launches,
        sweep_deg=sweep_deg,
        turn_margin_m=turn_margin,
        hole_margin_m=hole_margin,
        dem=dem_obj,
        name=area.name,
    )
    plan = make_plan(local, req)
    plan.dump(output)
    written = [str(output)]
    if "qgc" in exports:
        written += [str(p) for p in write_qgc(plan, output.parent, output.stem, firmware)]
    if "kml" in exports:
        p = output.with_suffix(".kml")
        p.write_text(kml(plan), encoding="utf-8")
        written.append(str(p))
    if "geojson" in exports:
        p = output.with_suffix(".geojson")
        p.write_text(json.dumps(geojson(plan)), encoding="utf-8")
        written.append(str(p))
    if preview:
        draw_preview(plan, preview)
        written.append(str(preview))
    _summary(plan, notes, written)


def _area_geojson(area) -> dict:
    def ring(r):
        pts = [[lon, lat] for lat, lon in r]
        return [*pts, pts[0]]

    feats = [
        {
            "type": "Feature",
            "properties": {},
            "geometry": {"type": "Polygon", "coordinates": [ring(r)]},
        }
        for r in area.outer
    ]
    feats += [
        {
            "type": "Feature",
            "properties": {"role": "nofly"},
            "geometry": {"type": "Polygon", "coordinates": [ring(r)]},
        }
        for r in area.holes
    ]
    return {"type": "FeatureCollection", "features": feats}


def _mmss(s: float) -> str:
    return f"{int(s // 60)}:{int(s % 60):02d}"


def _summary(plan: Plan, notes: list[str], written: list[str]) -> None:
    console = Console()
    cam, st = plan.camera, plan.stats
    console.print(
        f"[bold]{plan.name or 'plan'}[/]: {st.area_m2 / 1e6:.3f} km² ({st.searchable_m2 / 1e6:.3f} km² searchable), "
        f"{cam.name} at {cam.alt_agl_m:.1f} m AGL: footprint {cam.footprint_w_m:.1f} x {cam.footprint_h_m:.1f} m, "
        f"GSD {cam.gsd_m * 100:.1f} cm ({cam.px_on_person:.1f} px on a person), lanes {cam.lane_spacing_m:.1f} m apart; "
        f"altitude {plan.altitude_ref.replace('_', ' ')}"
    )
    table = Table(title="Segments", title_justify="left")
    for col in (
        "seg",
        "vehicle",
        "launch",
        "sorties",
        "lanes km",
        "path km",
        "time",
        "turns",
        "area km²",
        "POD",
    ):
        table.add_column(col, justify="right" if col not in ("vehicle", "launch") else "left")
    for seg in plan.segments:
        s = seg.stats
        table.add_row(
            str(seg.index + 1),
            seg.vehicle or "",
            f"{seg.launch[0]:.5f},{seg.launch[1]:.5f}",
            str(len(seg.sorties)),
            f"{s.lane_length_m / 1000:.2f}",
            f"{s.length_m / 1000:.2f}",
            _mmss(s.est_time_s),
            str(s.turns),
            f"{s.area_m2 / 1e6:.3f}",
            f"{s.pod:.2f}",
        )
    table.add_section()
    table.add_row(
        "all",
        "",
        "",
        str(st.sorties),
        f"{st.lane_length_m / 1000:.2f}",
        f"{st.length_m / 1000:.2f}",
        f"max {_mmss(st.max_segment_time_s)}",
        str(st.turns),
        f"{st.searchable_m2 / 1e6:.3f}",
        f"{st.pod:.2f}",
    )
    console.print(table)
    console.print(
        f"coverage {st.coverage_pct:.2f}% of the searchable area; planned in {st.planning_s * 1000:.0f} ms"
    )
    for n in notes:
        console.print(f"[yellow]note:[/] {n}")
    console.print("wrote " + ", ".join(written))


def draw_preview(plan: Plan, path: Path, width_px: int = 1200) -> None:
    """Area (grey), holes (red), segments (one colour per vehicle), lanes and transits."""
    pts = np.array([p for r in plan.area for p in r], dtype=float)
    frame = LocalFrame.for_area(pts[:, 0], pts[:, 1])
    all_xy = [frame.latlon_to_xy(np.asarray(r)) for r in plan.area]
    sortie_xy = [
        (seg.index, frame.latlon_to_xy(np.array([(w.lat, w.lon) for w in s.waypoints])), s)
        for seg in plan.segments
        for s in seg.sorties
    ]
    launch_xy = frame.latlon_to_xy(np.array([seg.launch for seg in plan.segments]))
    ext = np.vstack([*all_xy, *(x for _, x, _ in sortie_xy), launch_xy])
    lo, hi = ext.min(axis=0), ext.max(axis=0)
    margin = 30
    scale = (width_px - 2 * margin) / max(hi[0] - lo[0], 1.0)
    height_px = int((hi[1] - lo[1]) * scale) + 2 * margin
    if height_px > 2 * width_px:
        scale *= 2 * width_px / height_px
        height_px = int((hi[1] - lo[1]) * scale) + 2 * margin

    def px(xy: np.ndarray) -> np.ndarray:
        p = np.column_stack(
            [(xy[:, 0] - lo[0]) * scale + margin, (hi[1] - xy[:, 1]) * scale + margin]
        )
        return np.round(p).astype(np.int32)

    img = np.full((height_px, width_px, 3), 255, np.uint8)
    for r in all_xy:
        cv2.fillPoly(img, [px(r)], (225, 225, 225))
    overlay = img.copy()
    for seg in plan.segments:
        colour = COLOURS[seg.index % len(COLOURS)]
        for ring in seg.outline:
            cv2.fillPoly(overlay, [px(frame.latlon_to_xy(np.asarray(ring)))], colour)
    img = cv2.addWeighted(overlay, 0.25, img, 0.75, 0)
    for r in plan.holes:
        cv2.fillPoly(img, [px(frame.latlon_to_xy(np.asarray(r)))], (80, 80, 200))
    for r in all_xy:
        cv2.polylines(img, [px(r)], True, (40, 40, 40), 2, cv2.LINE_AA)
    for seg_i, xy, s in sortie_xy:
        colour = COLOURS[seg_i % len(COLOURS)]
        p = px(xy)
        for j in range(len(p) - 1):
            w0, w1 = s.waypoints[j], s.waypoints[j + 1]
            on_lane = w0.lane_id is not None and w0.lane_id == w1.lane_id
            thick = 2 if on_lane else 1
            c = colour if w0.kind != "transit" and w1.kind != "transit" else (90, 90, 90)
            cv2.line(img, tuple(p[j]), tuple(p[j + 1]), c, thick, cv2.LINE_AA)
    for i, p in enumerate(px(launch_xy)):
        cv2.circle(img, tuple(p), 7, (0, 0, 0), -1, cv2.LINE_AA)
        cv2.circle(img, tuple(p), 5, COLOURS[i % len(COLOURS)], -1, cv2.LINE_AA)
    cam = plan.camera
    label = f"{plan.name}  {len(plan.segments)} drones  {cam.alt_agl_m:.0f} m AGL  lanes {cam.lane_spacing_m:.0f} m  coverage {plan.stats.coverage_pct:.1f}%"
    cv2.putText(img, label, (margin, 20), cv2.FONT_HERSHEY_SIMPLEX, 0.5, (0, 0, 0), 1, cv2.LINE_AA)
    path.parent.mkdir(parents=True, exist_ok=True)
    if not cv2.imwrite(str(path), img):
        raise PlanError(f"{path}: cannot write the preview (is the suffix .png or .jpg?)")
