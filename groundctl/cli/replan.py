"""`groundctl replan OPERATION_DB`: what the flights of an operation really covered, and a
plan for the rest that `groundctl fly` takes as it is.

Reads the operation database through `groundctl.store` (the plan `fly` recorded, its
sorties and the drones' tracks), measures the ground swept per segment
(`missions.flown.flown_coverage`) and writes a plan for the gaps alone
(`missions.flown.replan`): missed strips, aborted sorties, a lost drone's remainder.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import numpy as np
import typer
from rich.table import Table

from groundctl.cli import app
from groundctl.cli._plan_options import _number, latlon, vehicle_from_config
from groundctl.cli._plan_preview import draw_preview
from groundctl.cli._plan_report import summary
from groundctl.cli.context import cli_context, report_console
from groundctl.store import Store
from missions.errors import PlanError
from missions.export import geojson, write_qgc
from missions.flown import (
    MICROBOLOMETER_TIME_CONSTANT_S,
    FlightTrack,
    camera_of,
    flown_coverage,
    replan,
)
from missions.plan import Plan
from missions.planner import PlanRequest
from missions.terrain import Dem


def _stored_plan(store: Store, name: str | None):
    plans = store.plans()
    if name is not None:
        plans = [p for p in plans if p.name == name or p.name.split("#")[0] == name]
    if not plans:
        raise PlanError(
            "the operation database holds no plan"
            + (f" named '{name}'" if name else "")
            + "; fly a plan with `groundctl fly PLAN --db ...` first"
        )
    stored = plans[-1]
    try:
        return stored, Plan.model_validate(stored.plan)
    except Exception as exc:  # pydantic's ValidationError: a damaged or foreign record
        raise PlanError(f"plan '{stored.name}' in the database is not readable: {exc}") from None


def _tracks(store: Store, plan_id: int, dem: Dem | None) -> list[FlightTrack]:
    sorties = [s for s in store.sorties() if s.plan_id == plan_id]
    since = min((s.created_at for s in sorties), default=None)
    out = []
    for sysid in sorted({s.sysid for s in sorties}):
        pts = [p for p in store.track(sysid, since=since) if p.alt_rel_m is not None]
        if len(pts) < 2:
            continue
        lat = np.array([p.lat for p in pts])
        lon = np.array([p.lon for p in pts])
        height = np.array([p.alt_rel_m for p in pts], dtype=float)
        if dem is not None:
            amsl = np.array([p.alt_amsl_m if p.alt_amsl_m is not None else np.nan for p in pts])
            if np.all(np.isfinite(amsl)):
                height = amsl - dem.elevation(lat, lon)
        speed = np.array([p.speed_ms if p.speed_ms is not None else np.nan for p in pts])
        out.append(
            FlightTrack(
                np.array([p.ts for p in pts]),
                lat,
                lon,
                height,
                speed if np.all(np.isfinite(speed)) else None,
            )
        )
    return out


@app.command("replan")
def replan_command(
    ctx: typer.Context,
    db: Annotated[
        Path, typer.Argument(metavar="OPERATION_DB", help="The operation's SQLite database.")
    ],
    output: Annotated[Path, typer.Option("-o", "--output", help="Plan JSON for the gaps.")] = Path(
        "replan.json"
    ),
    plan_name: Annotated[
        str | None, typer.Option("--plan", help="Plan name in the database (default: the last).")
    ] = None,
    drones: Annotated[
        int | None,
        typer.Option(
            "--drones",
            help="Drones for the gaps (default: as planned).",
            parser=_number("--drones", True),
        ),
    ] = None,
    airframe: Annotated[
        list[str] | None, typer.Option("--airframe", help="Airframe; once or per drone.")
    ] = None,
    launch: Annotated[
        list[str] | None, typer.Option("--launch", help="Launch LAT,LON; once or per drone.")
    ] = None,
    dem: Annotated[
        Path | None, typer.Option("--dem", help="GeoTIFF DEM (needed for terrain-following plans).")
    ] = None,
    time_constant_ms: Annotated[
        float,
        typer.Option("--time-constant-ms", help="Detector time constant for motion blur, ms."),
    ] = MICROBOLOMETER_TIME_CONSTANT_S * 1000,
    min_p: Annotated[
        float,
        typer.Option("--min-p", help="Detection probability a pass needs to count as covered."),
    ] = 0.5,
    export: Annotated[
        list[str] | None, typer.Option("--export", help="qgc or geojson (repeatable).")
    ] = None,
    preview: Annotated[
        Path | None, typer.Option("--preview", help="PNG picture of the new plan.")
    ] = None,
) -> None:
    """Measure what an operation's flights swept and plan the gaps (missed strips, aborted
    sorties, a lost drone's remainder)."""
    cli = cli_context(ctx)
    if not db.is_file():
        raise PlanError(f"{db}: no such operation database")
    if not 0 < time_constant_ms <= 100 or not 0 < min_p < 1:
        raise PlanError("--time-constant-ms must be 0-100 ms and --min-p between 0 and 1")
    for e in export or []:
        if e not in ("qgc", "geojson"):
            raise PlanError(f"--export {e}: choose qgc or geojson")
    dem_obj = Dem.read(dem) if dem else None
    store = Store.open(db)
    try:
        stored, plan = _stored_plan(store, plan_name)
        tracks = _tracks(store, stored.id, dem_obj)
    finally:
        store.close()
    if plan.altitude_ref == "terrain" and dem_obj is None:
        raise PlanError("the plan follows the terrain: give the same --dem to replan its gaps")
    cov = flown_coverage(plan, tracks, time_constant_s=time_constant_ms / 1000, min_p=min_p)
    console = report_console()
    table = Table(
        title=f"Flown: {plan.name or 'plan'} ({len(tracks)} tracks)", title_justify="left"
    )
    for col in ("seg", "planned km²", "covered", "POD"):
        table.add_column(col, justify="right")
    for s in cov.segments:
        table.add_row(
            str(s.index + 1), f"{s.area_m2 / 1e6:.3f}", f"{s.covered_share:.1%}", f"{s.pod:.2f}"
        )
    table.add_section()
    table.add_row(
        "all",
        f"{cov.local.searchable.area / 1e6:.3f}",
        f"{cov.covered_share:.1%}",
        f"{cov.pod:.2f}",
    )
    console.print(table)
    console.print(f"missed: {cov.gaps.area / 1e6:.3f} km²")
    k = drones or len(plan.segments)
    names = airframe or [s.vehicle or "mavic3t" for s in plan.segments][:k]
    names = names + [names[-1]] * (k - len(names))
    if len(names) not in (1, k):
        raise PlanError(
            f"{len(names)} --airframe values for {k} drones; give one for all or one per drone"
        )
    frames = [cli.airframe(n) for n in names]
    speed = plan.segments[0].speed_ms if plan.segments else None
    vehicles = tuple(
        vehicle_from_config(f, speed if speed is not None and speed <= f.max_speed_ms else None)
        for f in (frames[i if len(frames) > 1 else 0] for i in range(k))
    )
    launches = (
        tuple(latlon("--launch", t) for t in launch) if launch else (plan.segments[0].launch,)
    )
    req = PlanRequest(
        camera=camera_of(plan),
        alt_agl_m=plan.camera.alt_agl_m,
        side_overlap=plan.camera.side_overlap,
        vehicles=vehicles,
        launches=launches,
        turn_margin_m=plan.turn_margin_m,
        hole_margin_m=plan.hole_margin_m,
        dem=dem_obj,
        name=f"{plan.name or 'plan'} (gaps)",
    )
    new = replan(plan, cov, req)
    new.dump(output)
    written = [str(output)]
    if "qgc" in (export or []):
        written += [str(p) for p in write_qgc(new, output.parent, output.stem)]
    if "geojson" in (export or []):
        p = output.with_suffix(".geojson")
        p.write_text(json.dumps(geojson(new)), encoding="utf-8")
        written.append(str(p))
    if preview:
        draw_preview(new, preview)
        written.append(str(preview))
    summary(new, [], written)
