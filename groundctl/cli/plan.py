"""`groundctl plan`: search area (or last-known point) + camera + fleet -> plan JSON, exports,
preview, summary.

Every number on the command line has a physical range, checked here before anything is
planned (`NUMERIC`): a value outside it, NaN or infinity stops with one line, exit 2.
"""

from __future__ import annotations

import dataclasses
import json
import math
from collections.abc import Callable
from pathlib import Path
from typing import Annotated

import numpy as np
import typer
from pydantic import BaseModel, ConfigDict, Field
from rich.table import Table

from groundctl import config
from groundctl.cli import app
from groundctl.cli._plan_preview import draw_preview
from groundctl.cli.context import cli_context, report_console
from groundctl.config import AirframeConfig, CameraConfig
from missions.area import DEFAULT_MAX_AREA_KM2, prepare
from missions.errors import PlanError
from missions.export import geojson, kml, write_qgc
from missions.footprint import Camera, max_alt_for_px_on_person
from missions.io import read_area
from missions.lkp import PATTERNS, PatternSpec, plan_pattern
from missions.plan import Plan
from missions.planner import MAX_DRONES, PlanRequest, make_plan
from missions.poa import CATEGORIES, TERRAINS, TM
from missions.segment import Vehicle
from missions.terrain import Dem

EXPORTS = ("qgc", "kml", "geojson")

# option: (lowest, highest, unit, lowest excluded) — the physical range of each number.
NUMERIC: dict[str, tuple[float, float, str, bool]] = {
    "--alt": (0.0, 10_000.0, " m", True),
    "--min-px-on-person": (0.0, 1000.0, " px", True),
    "--overlap": (0.0, 95.0, " %", False),
    "--drones": (1, MAX_DRONES, "", False),
    "--sweep-deg": (0.0, 360.0, " degrees", False),
    "--speed": (0.0, 60.0, " m/s", True),
    "--turn-margin": (0.0, 1000.0, " m", False),
    "--hole-margin": (0.0, 1000.0, " m", False),
    "--max-alt": (0.0, 10_000.0, " m", True),
    "--max-area-km2": (0.0, 10_000.0, " km²", True),
    "--legs": (1, 400, "", False),
    "--first-bearing": (0.0, 360.0, " degrees", False),
    "--radius": (0.0, 50_000.0, " m", True),
    "--width": (0.0, 10_000.0, " m", True),
}


def _number(option: str, integer: bool = False) -> Callable[[str], float | int]:
    """A parser that refuses anything but a finite number in the option's range."""
    lo, hi, unit, open_lo = NUMERIC[option]

    def parse(text: str) -> float | int:
        try:
            value = float(text)
        except ValueError:
            raise PlanError(f"{option} '{text}': not a number") from None
        bad = not math.isfinite(value) or value > hi or value < lo or (open_lo and value <= lo)
        bad |= option in ("--sweep-deg", "--first-bearing") and value >= hi
        if integer and not bad and value != int(value):
            raise PlanError(f"{option} {text}: give a whole number")
        if bad:
            low = f"above {lo:g}" if open_lo else f"from {lo:g}"
            raise PlanError(f"{option} {text}: must be {low} to {hi:g}{unit}")
        return int(value) if integer else value

    return parse


def camera_from_config(cam: CameraConfig) -> Camera:
    return Camera(
        cam.name, cam.width_px, cam.height_px, cam.hfov_deg, cam.vfov_deg, cam.frame_rate_hz
    )


def vehicle_from_config(af: AirframeConfig, speed_ms: float | None = None) -> Vehicle:
    if speed_ms is not None and speed_ms > af.max_speed_ms:
        raise PlanError(
            f"--speed {speed_ms:g} m/s is above the {af.name}'s top speed "
            f"({af.max_speed_ms:g} m/s); fly slower or pick another --airframe"
        )
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

    model_config = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False)
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


def latlon(option: str, text: str) -> tuple[float, float]:
    try:
        lat_s, lon_s = text.split(",")
        lat, lon = float(lat_s), float(lon_s)
    except ValueError:
        raise PlanError(
            f"{option} '{text}': expected LAT,LON in degrees, e.g. 47.39,8.54"
        ) from None
    if not (math.isfinite(lat) and math.isfinite(lon)) or abs(lat) > 90 or abs(lon) > 180:
        raise PlanError(f"{option} '{text}': latitude must be within ±90, longitude ±180")
    return lat, lon


def _read_line(path: Path) -> tuple[tuple[float, float], ...]:
    """A LineString (GeoJSON, [lon, lat]) as (lat, lon) points: the track of a track line."""
    try:
        doc = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise PlanError(f"{path}: cannot read the track line: {exc}") from None
    geoms = [doc]
    if doc.get("type") == "FeatureCollection":
        geoms = [f.get("geometry") or {} for f in doc.get("features") or []]
    elif doc.get("type") == "Feature":
        geoms = [doc.get("geometry") or {}]
    for g in geoms:
        if g.get("type") == "LineString":
            pts = tuple((float(p[1]), float(p[0])) for p in g.get("coordinates") or [])
            if len(pts) >= 2 and all(abs(a) <= 90 and abs(b) <= 180 for a, b in pts):
                return pts
    raise PlanError(f"{path}: no GeoJSON LineString ([lon, lat]) with two or more points")


def _opt(option: str, help_text: str, integer: bool = False):
    return typer.Option(option, help=help_text, parser=_number(option, integer))


@app.command("plan")
def plan_command(
    ctx: typer.Context,
    camera: Annotated[
        str, typer.Option("--camera", help="Camera name (see `groundctl configs list`).")
    ],
    output: Annotated[Path, typer.Option("-o", "--output", help="Plan JSON to write.")],
    area_file: Annotated[
        Path | None,
        typer.Argument(
            metavar="[AREA]",
            help="Search area: .geojson, .kml, .kmz or QGC .plan (optional for --pattern).",
        ),
    ] = None,
    alt: Annotated[float | None, _opt("--alt", "Altitude above ground, m.")] = None,
    min_px: Annotated[
        float | None,
        _opt("--min-px-on-person", "Plan the highest altitude keeping N px across a 0.5 m person."),
    ] = None,
    overlap: Annotated[
        float, _opt("--overlap", "Side overlap in percent (or a fraction below 1).")
    ] = 20.0,
    drones: Annotated[int, _opt("--drones", f"Number of drones, 1 to {MAX_DRONES}.", True)] = 1,
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
        _opt("--sweep-deg", "Lane bearing, degrees from north (default: per section)."),
    ] = None,
    speed: Annotated[
        float | None, _opt("--speed", "Search speed m/s (default: airframe cruise).")
    ] = None,
    turn_margin: Annotated[
        float | None,
        _opt(
            "--turn-margin",
            "How far outside the area turns may go, m (config planner.turn_margin_m).",
        ),
    ] = None,
    hole_margin: Annotated[
        float | None,
        _opt(
            "--hole-margin",
            "Keep the path this far off every hole, m (config planner.hole_margin_m).",
        ),
    ] = None,
    max_alt: Annotated[
        float | None,
        _opt("--max-alt", "Highest altitude allowed above ground, m (config planner.max_alt_m)."),
    ] = None,
    lkp: Annotated[
        str | None, typer.Option("--lkp", help="Last-known point LAT,LON (IPP).")
    ] = None,
    subject: Annotated[
        str | None,
        typer.Option("--subject", help=f"Lost-person category: {', '.join(CATEGORIES)}."),
    ] = None,
    terrain: Annotated[
        str, typer.Option("--terrain", help=f"Terrain of the statistics: {', '.join(TERRAINS)}.")
    ] = TM,
    pattern: Annotated[
        str, typer.Option("--pattern", help=f"sections (divide the area) or {', '.join(PATTERNS)}.")
    ] = "sections",
    legs: Annotated[
        int | None, _opt("--legs", "Legs of an expanding square (12) or sector (9).", True)
    ] = None,
    first_bearing: Annotated[
        float, _opt("--first-bearing", "Bearing of a pattern's first leg, degrees.")
    ] = 0.0,
    radius: Annotated[
        float | None, _opt("--radius", "Sector search radius, m (default 6 lane spacings).")
    ] = None,
    trackline: Annotated[
        Path | None, typer.Option("--trackline", help="GeoJSON LineString to search along.")
    ] = None,
    width: Annotated[
        float | None, _opt("--width", "Track-line search: width on each side, m.")
    ] = None,
    left: Annotated[
        bool, typer.Option("--left", help="Patterns turn left (IAMSAR default: right).")
    ] = False,
    no_poa_order: Annotated[
        bool,
        typer.Option("--no-poa-order", help="Fly sorties in route order, not by POA x POD / time."),
    ] = False,
    export: Annotated[
        list[str] | None, typer.Option("--export", help="qgc, kml or geojson (repeatable).")
    ] = None,
    preview: Annotated[
        Path | None, typer.Option("--preview", help="PNG picture of the plan.")
    ] = None,
    repair: Annotated[
        bool, typer.Option("--repair", help="Repair a self-intersecting area and write it.")
    ] = False,
    swap_latlon: Annotated[
        bool, typer.Option("--swap-latlon", help="The file has lat and lon swapped.")
    ] = False,
    max_area_km2: Annotated[
        float | None, _opt("--max-area-km2", "Refuse larger areas (config planner.max_area_km2).")
    ] = None,
    firmware: Annotated[
        str, typer.Option("--firmware", help="px4 or ardupilot, for the QGC export.")
    ] = "px4",
) -> None:
    """Plan a search: the area divided into one section per drone (or an IAMSAR pattern from a
    last-known point), swept with S-patterns, sorties per battery."""
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
    if pattern not in ("sections", *PATTERNS):
        raise PlanError(f"--pattern {pattern}: choose sections, {', '.join(PATTERNS)}")
    if area_file is None and pattern == "sections":
        raise PlanError("give the search AREA file, or a --pattern with --lkp (or --trackline)")
    if subject is not None and subject not in CATEGORIES:
        raise PlanError(
            f"--subject {subject}: unknown category; choose from {', '.join(CATEGORIES)}"
        )
    if terrain not in TERRAINS:
        raise PlanError(f"--terrain {terrain}: choose from {', '.join(TERRAINS)}")
    if (alt is None) == (min_px is None):
        raise PlanError("give exactly one of --alt M or --min-px-on-person N")
    frac = overlap / 100.0 if overlap >= 1 else overlap
    if frac >= 0.95:
        raise PlanError(f"--overlap {overlap:g}: side overlap must stay below 95 %")
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
    launches = tuple(latlon("--launch", t) for t in (launch or []))
    lkp_ll = latlon("--lkp", lkp) if lkp is not None else None
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
        lkp=lkp_ll,
        subject=subject,
        terrain=terrain,
        poa_order=not no_poa_order,
    )
    local = None
    if area_file is not None:
        area = read_area(area_file)
        local = prepare(area, max_area_km2=max_area_km2, repair=repair, accept_swapped=swap_latlon)
        req = dataclasses.replace(req, name=area.name)
        if local.repaired:
            repaired_path = output.with_name(output.stem + ".repaired.geojson")
            repaired_path.parent.mkdir(parents=True, exist_ok=True)
            repaired_path.write_text(
                json.dumps(_area_geojson(local.to_search_area())), encoding="utf-8"
            )
            notes.append(
                f"area repaired ({'; '.join(local.notes)}); repaired shape written to {repaired_path}"
            )
    if pattern == "sections":
        plan = make_plan(local, req)  # type: ignore[arg-type]
    else:
        line = _read_line(trackline) if trackline is not None else ()
        spec = PatternSpec(pattern, legs, first_bearing, radius, width, line, not left)  # type: ignore[arg-type]
        plan = plan_pattern(local, req, spec)
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
    summary(plan, notes, written)


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


def summary(plan: Plan, notes: list[str], written: list[str]) -> None:
    console = report_console()
    cam, st = plan.camera, plan.stats
    console.print(
        f"[bold]{plan.name or 'plan'}[/] ({plan.pattern}): {st.area_m2 / 1e6:.3f} km² "
        f"({st.searchable_m2 / 1e6:.3f} km² to search), {cam.name} at {cam.alt_agl_m:.1f} m AGL: "
        f"footprint {cam.footprint_w_m:.1f} x {cam.footprint_h_m:.1f} m, GSD {cam.gsd_m * 100:.1f} cm "
        f"({cam.px_on_person:.1f} px on a person), lanes {cam.lane_spacing_m:.1f} m apart; "
        f"altitude {plan.altitude_ref.replace('_', ' ')}"
    )
    table = Table(title="Segments (one section per drone)", title_justify="left")
    cols = [
        "seg",
        "vehicle",
        "launch",
        "sorties",
        "lanes km",
        "path km",
        "time",
        "turns",
        "area km²",
        "lanes °",
        "POD",
    ]
    if plan.subject:
        cols.append("POA")
    for col in cols:
        table.add_column(col, justify="right" if col not in ("vehicle", "launch") else "left")
    for seg in plan.segments:
        s = seg.stats
        row = [
            str(seg.index + 1),
            seg.vehicle or "",
            f"{seg.launch[0]:.5f},{seg.launch[1]:.5f}",
            str(len(seg.sorties)),
            f"{s.lane_length_m / 1000:.2f}",
            f"{s.length_m / 1000:.2f}",
            _mmss(s.est_time_s),
            str(s.turns),
            f"{s.area_m2 / 1e6:.3f}",
            "/".join(f"{b:.0f}" for b in seg.sweep_deg),
            f"{s.pod:.2f}",
        ]
        if plan.subject:
            row.append(f"{seg.poa or 0:.3f}")
        table.add_row(*row)
    table.add_section()
    total = [
        "all",
        "",
        "",
        str(st.sorties),
        f"{st.lane_length_m / 1000:.2f}",
        f"{st.length_m / 1000:.2f}",
        f"max {_mmss(st.max_segment_time_s)}",
        str(st.turns),
        f"{st.searchable_m2 / 1e6:.3f}",
        "",
        f"{st.pod:.2f}",
    ]
    if plan.subject:
        total.append(f"{st.poa or 0:.3f}")
    table.add_row(*total)
    console.print(table)
    console.print(
        f"coverage {st.coverage_pct:.2f}% of the ground to search; planned in {st.planning_s * 1000:.0f} ms"
    )
    if plan.subject and st.pos_curve:
        curve = st.pos_curve
        marks = [t for t in (600, 1200, 1800, 3600, 7200) if t < curve[-1][0]] + [curve[-1][0]]
        pos = np.interp(marks, [t for t, _ in curve], [p for _, p in curve])
        console.print(
            f"{plan.subject} ({plan.terrain}), ISRID rings {', '.join(f'{r.radius_m / 1000:.1f}' for r in plan.rings[:-1])} km: "
            f"POA in the area {st.poa:.1%}; probability of success by flight time: "
            + ", ".join(f"{_mmss(m)} {p:.1%}" for m, p in zip(marks, pos, strict=True))
        )
    for n in notes:
        console.print(f"[yellow]note:[/] {n}")
    console.print("wrote " + ", ".join(written))
