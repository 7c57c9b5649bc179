"""`groundctl plan`: search area (or last-known point) + camera + fleet -> plan JSON, exports,
preview, summary.

Every number on the command line has a physical range, checked here before anything is
planned (`NUMERIC`): a value outside it, NaN or infinity stops with one line, exit 2.
"""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path
from typing import Annotated

import typer

from groundctl.cli import app
from groundctl.cli import output as out
from groundctl.cli._plan_json import PLAN_SCHEMA_VERSION, document
from groundctl.cli._plan_options import (
    _number,
    _read_line,
    camera_from_config,
    latlon,
    planner_settings,
    vehicle_from_config,
)
from groundctl.cli._plan_preview import draw_preview
from groundctl.cli._plan_report import _area_geojson, summary
from groundctl.cli.context import cli_context
from missions.area import prepare
from missions.errors import PlanError
from missions.export import geojson, kml, write_qgc
from missions.footprint import max_alt_for_px_on_person
from missions.io import read_area
from missions.lkp import PATTERNS, PatternSpec, plan_pattern
from missions.planner import MAX_DRONES, PlanRequest, make_plan
from missions.poa import CATEGORIES, TERRAINS, TM
from missions.terrain import Dem

EXPORTS = ("qgc", "kml", "geojson")
PREVIEW_SUFFIXES = (".png", ".jpg", ".jpeg")


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
            "Keep the path this far off every hole, m (config planner.hole_margin_m; default "
            "10, or a quarter of the footprint if that is less).",
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
    as_json: Annotated[
        bool,
        typer.Option(
            "--json",
            help="Print the plan's summary as one JSON document (groundctl.plan/1) on stdout; "
            "the human report goes to stderr.",
        ),
    ] = False,
) -> None:
    """Plan a search: the area divided into one section per drone (or an IAMSAR pattern from a
    last-known point), swept with S-patterns, sorties per battery."""
    # Where it writes, before any work: a folder, a missing permission, a full disk.
    out.check_output_path(output, "--output", create_parents=True)
    if preview is not None:
        out.check_output_path(preview, "--preview", suffixes=PREVIEW_SUFFIXES, create_parents=True)
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
    exported: list[str] = []
    if "qgc" in exports:
        exported += [str(p) for p in write_qgc(plan, output.parent, output.stem, firmware)]
    if "kml" in exports:
        p = output.with_suffix(".kml")
        p.write_text(kml(plan), encoding="utf-8")
        exported.append(str(p))
    if "geojson" in exports:
        p = output.with_suffix(".geojson")
        p.write_text(json.dumps(geojson(plan)), encoding="utf-8")
        exported.append(str(p))
    written += exported
    if preview:
        draw_preview(plan, preview)
        written.append(str(preview))
    summary(plan, notes, written, out.console(stderr=True) if as_json else None)
    if as_json:
        endurance = {v.name: v.usable_endurance_s for v in vehicles}
        body = document(plan, endurance, output, exported, preview, notes)
        out.emit_json("plan", body, PLAN_SCHEMA_VERSION)
