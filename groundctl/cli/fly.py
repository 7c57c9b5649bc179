"""`groundctl fly`: fly a plan with a fleet of PX4/ArduPilot drones (or simulated ones)."""

from __future__ import annotations

import asyncio
import contextlib
import signal
import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.console import Console

from groundctl.cli import app, fly_summary, output
from groundctl.cli.context import cli_context
from groundctl.cli.fly_steps import (
    _connect,
    _dispatch_config,
    _flyable_plan,
    _interrupted,
    _operation_name,
    _parse_latlon,
    _preflight_table,
)
from groundctl.cli.fly_summary import Outcome, final_fleet_table
from groundctl.errors import ConfigError

# The fleet, link and plan modules load inside the command: a broken import there must not
# take every other subcommand of the CLI down with it.
if TYPE_CHECKING:
    from groundctl.fleet.config import FleetConfig
    from groundctl.fleet.live_ops import LiveOps, ThermalOptions
    from groundctl.link import Vehicle
    from missions.plan import Plan


async def _fly(
    plan: Plan,
    fleet: FleetConfig,
    db: Path,
    on_exit: str,
    live: bool,
    sim_n: int,
    sim_flavour: str,
    speedup: float,
    overwatch_at: tuple[float, float] | None,
    user_file: Path | None,
    console: Console,
    thermal: ThermalOptions | None = None,
    plan_file: Path | None = None,
    as_json: bool = False,
) -> int:
    from rich.live import Live

    from groundctl import config
    from groundctl.fleet.config import parse_fleet
    from groundctl.fleet.journal import Journal
    from groundctl.fleet.live_ops import LiveOps, ThermalOptions
    from groundctl.fleet.orchestrator import Orchestrator
    from groundctl.fleet.view import fleet_table
    from thermal.hit import Hit

    started = time.monotonic()
    thermal = thermal or ThermalOptions()
    sim_handle = None
    swap = None
    time_scale = 1.0
    terrain = thermal.terrain
    if sim_n:
        from groundctl.fleet.simfleet import start_sim

        sim_airframe = fleet.vehicles[0].airframe
        world, sim_kwargs = None, {}
        if thermal.scenario is not None:
            from sim.fleet import world_terrain
            from sim.world import load_scenario
            from thermal.georef import FunctionTerrain

            with console.status(f"building the world of {thermal.scenario}..."):
                world = await asyncio.to_thread(load_scenario, thermal.scenario)
            sim_kwargs["terrain"] = world_terrain(world)
            # The pipeline gets the world's elevation, as a deployment with a DEM would.
            terrain = FunctionTerrain(lambda la, lo: world.elevation_at(la, lo))
        sim_handle = await start_sim(
            plan,
            sim_n,
            flavour=sim_flavour,
            speedup=speedup,
            airframe=config.airframe(sim_airframe, user_file),
            **sim_kwargs,
        )
        cam_name = thermal.sim_camera or plan.camera.name
        if world is not None:
            await sim_handle.start_cameras(world, config.camera(cam_name, user_file))
        fleet = parse_fleet(
            {
                "operation": fleet.operation,
                "vehicles": [
                    {
                        "name": f"sim{i + 1}",
                        "connection": url,
                        "airframe": sim_airframe,
                        "sysid": sysid,
                    }
                    | (
                        {"camera": cam_name, "camera_stream": sim_handle.streams[i]}
                        if sim_handle.streams
                        else {}
                    )
                    for i, (url, sysid) in enumerate(sim_handle.endpoints)
                ],
                "dispatch": fleet.dispatch,
            },
            "--sim",
            user_file,
        )
        sim_handle.swap_s = fleet.battery_swap_s
        swap, time_scale = sim_handle.swap_battery, speedup
    airframes = {v.airframe: config.airframe(v.airframe, user_file) for v in fleet.vehicles}
    vehicles: dict[str, Vehicle] = {}
    journal = Journal.open(db, fleet.operation, plan)
    journal.notify = lambda line: console.print(line, markup=False, highlight=False, soft_wrap=True)
    live_ops: LiveOps | None = None
    try:
        with console.status(f"connecting to {len(fleet.vehicles)} vehicle(s)..."):
            vehicles = await _connect(fleet, timeout_s=30.0)
        orch = Orchestrator(
            plan,
            fleet,
            vehicles,
            journal,
            airframes,
            time_scale=time_scale,
            battery_swap=swap,
            lost_after_s=max(5.0, fleet.lost_after_s / time_scale),
            missing=thermal.missing,
        )
        orch.assign_plan()

        def finish(outcome: Outcome) -> int:
            return fly_summary.report(
                console, orch, plan_file or Path(plan.name), db, outcome,
                time.monotonic() - started, as_json,
            )  # fmt: skip

        no_go: dict[str, str] = {}
        go = await _preflight_table(orch, console, no_go)
        if not any(go.values()):
            journal.event("search_incomplete", "no drone is GO", severity="critical")
            console.print("[red]no drone is GO; fix the checks above and try again[/]")
            why = ["no drone is GO", *(f"{n}: {r}" for n, r in no_go.items())]
            return finish(Outcome("failed", 1, why, no_go=no_go))
        for name, ok in go.items():
            if not ok and not orch._reattach.get(name):
                console.print(f"[yellow]{name} is NO-GO: its segments go to the others[/]")
                orch.drop(name, no_go.get(name, "pre-flight NO-GO"))
        signals: list[str] = []
        interrupted = asyncio.Event()
        loop = asyncio.get_running_loop()

        def on_signal(name: str) -> None:
            signals.append(name)
            interrupted.set()

        with contextlib.suppress(NotImplementedError):
            loop.add_signal_handler(signal.SIGINT, on_signal, "SIGINT")
            loop.add_signal_handler(signal.SIGTERM, on_signal, "SIGTERM")
        live_ops = LiveOps.start(
            orch, fleet, journal.store, thermal, terrain, time_scale, user_file, console
        )
        run = asyncio.create_task(orch.run(assigned=True))
        if overwatch_at is not None:
            lat, lon = overwatch_at
            orch.overwatch(
                Hit(
                    id="manual-1",
                    target_class="person",
                    confidence=1.0,
                    lat=lat,
                    lon=lon,
                    uncertainty_m=5.0,
                    first_seen=0.0,
                    last_seen=0.0,
                    sightings=(),
                    vehicle_ids=(),
                )
            )
        waiter = asyncio.create_task(interrupted.wait())

        def render():
            return fleet_table(
                orch.views.values(),
                orch.fraction_swept,
                f"{fleet.operation}: {plan.name}",
                cameras=live_ops.camera_cells() if live_ops else None,
                footer=live_ops.footer() if live_ops else (),
                width=console.width,
            )

        with (
            Live(render(), console=console, refresh_per_second=2, transient=False)
            if live and console.is_terminal
            else contextlib.nullcontext() as lv
        ):
            while not run.done() and not waiter.done():
                await asyncio.wait({run, waiter}, timeout=0.5, return_when=asyncio.FIRST_COMPLETED)
                if lv is not None:
                    lv.update(render())
        if waiter.done() and not run.done():
            code, choice = await _interrupted(orch, run, on_exit, signals[0], console, live_ops)
            done = "returned to launch" if choice == "rtl" else "left flying their missions"
            why = [f"stopped by {signals[0]}: drones {done}", *orch.unswept_report()[1:]]
            return finish(Outcome("interrupted", code, why, signals[0], choice))
        waiter.cancel()
        await run
        table, under = final_fleet_table(
            orch.views.values(), orch.fraction_swept, f"{fleet.operation}: {plan.name}",
            live_ops.camera_cells() if live_ops else None,
            live_ops.footer() if live_ops else (),
        )  # fmt: skip
        fly_summary.show(console, table)
        for line in under:
            console.print(line, markup=False, highlight=False, soft_wrap=True)
        if live_ops is not None:
            await live_ops.finish(console)
        if not orch.search_done():
            report = orch.unswept_report()
            journal.event(
                "search_incomplete", "; ".join(report), severity="critical", announce=False
            )
            console.print(
                f"[bold red]search incomplete: {orch.fraction_swept * 100:.0f}% of lanes swept[/]"
            )
            for line in report:
                console.print(f"  {line}", markup=False, highlight=False, soft_wrap=True)
            result = "partial" if orch.swept & set(orch.all_lanes) else "failed"
            return finish(Outcome(result, 1, report[1:]))
        console.print(
            f"[bold green]search complete: {orch.fraction_swept * 100:.0f}% of lanes swept[/]"
        )
        return finish(Outcome("complete", 0))
    finally:
        if live_ops is not None:
            await live_ops.close()
        for v in vehicles.values():
            with contextlib.suppress(Exception):
                await v.close()
        journal.close()
        if sim_handle is not None:
            await sim_handle.stop()


@app.command()
def fly(
    ctx: typer.Context,
    plan_file: Annotated[
        Path, typer.Argument(metavar="PLAN", help="Plan JSON from `groundctl plan` or the web map.")
    ],
    fleet_file: Annotated[
        Path | None, typer.Option("--fleet", help="Fleet YAML (see configs/fleet.example.yaml).")
    ] = None,
    connect: Annotated[
        list[str] | None,
        typer.Option("--connect", help="Connection URL of one drone (repeat for more)."),
    ] = None,
    sim: Annotated[
        int, typer.Option("--sim", min=0, max=20, help="Start N simulated drones and fly them.")
    ] = 0,
    sim_flavour: Annotated[
        str, typer.Option("--sim-autopilot", help="px4 or ardupilot (simulated drones).")
    ] = "px4",
    speedup: Annotated[
        float, typer.Option("--speedup", min=1.0, max=200.0, help="Simulation speed-up.")
    ] = 10.0,
    airframe: Annotated[
        str, typer.Option("--airframe", help="Airframe of --connect / --sim drones.")
    ] = "mavic3t",
    operation: Annotated[
        str, typer.Option("--operation", help="Operation name (--connect/--sim).")
    ] = "",
    db: Annotated[
        Path | None,
        typer.Option("--db", help="Operation database (journal). Default: <operation>.sqlite"),
    ] = None,
    on_exit: Annotated[
        str, typer.Option("--on-exit", help="On Ctrl-C: rtl, leave, or ask.")
    ] = "ask",
    overwatch: Annotated[
        str | None,
        typer.Option(
            "--overwatch", metavar="LAT,LON", help="Keep a drone over this point (a found person)."
        ),
    ] = None,
    live: Annotated[bool, typer.Option("--live/--no-live", help="Live table of the fleet.")] = True,
    scenario: Annotated[
        Path | None,
        typer.Option(
            "--scenario",
            help="--sim: scenario YAML; every simulated drone streams its thermal camera's "
            "view of it, searched live.",
        ),
    ] = None,
    sim_camera: Annotated[
        str | None,
        typer.Option("--sim-camera", help="--sim: camera of the simulated drones (the plan's)."),
    ] = None,
    found_after: Annotated[
        float | None,
        typer.Option(
            "--sim-found-after",
            metavar="SECONDS",
            min=0.0,
            help="--sim: a simulated ground team reports a watched person found this many "
            "simulated seconds after overwatch starts (default: never; Ctrl-C ends).",
        ),
    ] = None,
    dispatch_file: Annotated[
        Path | None,
        typer.Option(
            "--dispatch-config",
            help="YAML with a dispatch: section (MQTT, CoT, ...); default: the fleet file's.",
        ),
    ] = None,
    hits_geojson: Annotated[
        Path | None,
        typer.Option("--hits-geojson", help="Keep a GeoJSON file of every hit up to date."),
    ] = None,
    dem: Annotated[
        Path | None,
        typer.Option("--dem", help="GeoTIFF DEM: place live detections on the terrain."),
    ] = None,
    as_json: Annotated[
        bool,
        typer.Option(
            "--json",
            help="Print the final summary as one JSON document (groundctl.fly/1) on stdout; "
            "everything else goes to stderr.",
        ),
    ] = False,
    missing: Annotated[
        int,
        typer.Option(
            "--missing",
            min=1,
            max=1000,
            help="How many people are missing (overwatch keeps the last searcher until held).",
        ),
    ] = 1,
) -> None:
    """Fly PLAN with a fleet: assign segments, pre-flight go/no-go, upload, launch, watch, keep
    the search going through battery swaps and lost drones. Restarting reattaches.

    Drones with a camera_stream in the fleet file (or --sim with --scenario) are searched
    live: confirmed hits go to the operation database, start an overwatch for a person, and
    go out through dispatch when configured."""
    from groundctl.fleet.config import fleet_from_urls, load_fleet, parse_fleet
    from groundctl.fleet.live_ops import ThermalOptions

    cctx = cli_context(ctx)
    if on_exit not in ("rtl", "leave", "ask"):
        raise ConfigError("--on-exit", None, f"must be rtl, leave or ask (got {on_exit!r})")
    if on_exit == "ask" and not sys.stdin.isatty():
        on_exit = "rtl"
    if sim_flavour not in ("px4", "ardupilot"):
        raise ConfigError(
            "--sim-autopilot", None, f"must be px4 or ardupilot (got {sim_flavour!r})"
        )
    sources = sum(bool(x) for x in (fleet_file, connect, sim))
    if sources != 1:
        raise ConfigError(
            "groundctl fly",
            None,
            "give exactly one of --fleet FILE, --connect URL (repeatable) or --sim N",
        )
    plan = _flyable_plan(plan_file)
    if fleet_file is not None:
        fleet = load_fleet(fleet_file, cctx.user_file)
    elif connect:
        op = _operation_name(operation, plan, plan_file, "adhoc")
        fleet = fleet_from_urls(list(connect), airframe, op, cctx.user_file)
    else:
        fleet = parse_fleet(
            {
                "operation": _operation_name(operation, plan, plan_file, "sim"),
                "vehicles": [
                    {"name": "placeholder", "connection": "sim://0", "airframe": airframe}
                ],
            },
            "--sim",
            cctx.user_file,
        )
    if not sim:
        for name, value in (
            ("--scenario", scenario),
            ("--sim-camera", sim_camera),
            ("--sim-found-after", found_after),
        ):
            if value is not None:
                raise ConfigError(name, None, "only with --sim N (simulated drones)")
    if scenario is not None and not scenario.is_file():
        raise ConfigError(str(scenario), None, "scenario file not found (see configs/scenarios/)")
    if sim_camera is not None:
        cctx.camera(sim_camera)  # an unknown name is a ConfigError naming the catalogue
    elif sim and scenario is not None:
        cctx.camera(plan.camera.name)
    path = db or fleet.database or Path(f"{fleet.operation}.sqlite")
    overwatch_at = _parse_latlon(overwatch) if overwatch else None
    terrain = None
    if dem is not None:
        from groundctl.cli.detect import DemTerrain
        from missions.terrain import Dem

        terrain = DemTerrain(Dem.read(dem))
    thermal = ThermalOptions(
        scenario=scenario,
        sim_camera=sim_camera,
        dispatch=_dispatch_config(fleet, fleet_file, dispatch_file, hits_geojson),
        terrain=terrain,
        found_after_s=found_after,
        missing=missing,
    )
    # Plain text with full lines when not a terminal. --json: stdout carries the one
    # document, and the pilot's lines go to stderr.
    console = output.console(stderr=as_json)
    code = asyncio.run(
        _fly(
            plan,
            fleet,
            path,
            on_exit,
            live,
            sim,
            sim_flavour,
            speedup,
            overwatch_at,
            cctx.user_file,
            console,
            thermal,
            plan_file,
            as_json,
        )
    )
    if code:
        raise typer.Exit(code)
