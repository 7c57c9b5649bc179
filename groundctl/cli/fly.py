"""`groundctl fly`: fly a plan with a fleet of PX4/ArduPilot drones (or simulated ones)."""

from __future__ import annotations

import asyncio
import contextlib
import signal
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.console import Console

from groundctl.cli import app
from groundctl.cli.context import cli_context
from groundctl.errors import ConfigError, GroundctlError

# The fleet, link and plan modules load inside the command: a broken import there must not
# take every other subcommand of the CLI down with it.
if TYPE_CHECKING:
    from groundctl.fleet.config import FleetConfig
    from groundctl.fleet.orchestrator import Orchestrator
    from groundctl.link import Vehicle
    from missions.plan import Plan


def _parse_latlon(text: str) -> tuple[float, float]:
    try:
        lat, lon = (float(x) for x in text.split(","))
    except ValueError:
        raise ConfigError(
            "--overwatch", None, f"expected LAT,LON in degrees (got {text!r})"
        ) from None
    if not (-90 <= lat <= 90 and -180 <= lon <= 180):
        raise ConfigError("--overwatch", None, f"{text!r} is not a WGS84 position")
    return lat, lon


async def _connect(fleet: FleetConfig, timeout_s: float) -> dict[str, Vehicle]:
    from groundctl.link import open_vehicle

    async def one(v):
        try:
            return v.name, await open_vehicle(
                v.connection,
                sysid=v.sysid,
                backend=v.backend,
                gcs_sysid=v.gcs_sysid or fleet.gcs_sysid,
                signing_key_file=str(v.signing_key_file) if v.signing_key_file else None,
                timeout_s=timeout_s,
            )
        except GroundctlError as exc:
            raise type(exc)(f"{v.name} ({v.connection}): {exc}") from None

    pairs = await asyncio.gather(*(one(v) for v in fleet.vehicles))
    return dict(pairs)


async def _preflight_table(orch: Orchestrator, console: Console) -> dict[str, bool]:
    """Upload each drone's geofence, then evaluate and print the go/no-go table."""
    from groundctl.errors import LinkError
    from groundctl.fleet import preflight
    from groundctl.link import MissionType

    async def settled(v: Vehicle) -> None:
        # A drone just connected may still be getting its fix and home: give it a moment.
        with contextlib.suppress(LinkError):
            await v.telemetry.wait_for(
                lambda s: (
                    s.gps is not None
                    and s.gps.fix_type >= 3
                    and s.home is not None
                    and s.battery is not None
                ),
                timeout_s=20.0,
                what="GPS fix and home",
            )

    await asyncio.gather(*(settled(v) for v in orch.vehicles.values()))
    results = {}
    for name, v in orch.vehicles.items():
        fence_ok = True
        try:
            if not await v.mission.matches(orch.fence, MissionType.FENCE):
                async with orch.journal.command(
                    v.sysid, "upload_fence", {"items": len(orch.fence)}
                ):
                    await v.mission.upload(orch.fence, MissionType.FENCE)
        except GroundctlError:
            fence_ok = False
        st = v.telemetry.state()
        first = orch.queues[name][0] if orch.queues[name] else None
        need = first.sortie.est_time_s if first else 0.0
        results[name] = preflight.evaluate(
            preflight.PreflightState(
                name=name,
                link_ok=st.link_ok,
                heartbeat_age_s=None
                if st.last_heartbeat_age_s == float("inf")
                else st.last_heartbeat_age_s,
                gps_fix_type=st.gps.fix_type if st.gps else 0,
                satellites=st.gps.satellites if st.gps else 0,
                home_set=st.home is not None,
                battery_pct=st.battery.remaining_pct if st.battery else None,
                battery_needed_pct=min(
                    100.0, preflight.battery_needed_pct(need, orch.airframe(name))
                ),
                fence_uploaded=fence_ok,
            )
        )
    console.print(preflight.go_no_go_table(results))
    return {n: preflight.is_go(c) for n, c in results.items()}


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
) -> int:
    from rich.live import Live

    from groundctl import config
    from groundctl.fleet.config import parse_fleet
    from groundctl.fleet.journal import Journal
    from groundctl.fleet.orchestrator import Orchestrator
    from groundctl.fleet.view import fleet_table
    from thermal.hit import Hit

    sim_handle = None
    swap = None
    time_scale = 1.0
    if sim_n:
        from groundctl.fleet.simfleet import start_sim

        sim_airframe = fleet.vehicles[0].airframe
        sim_handle = await start_sim(
            plan, sim_n, flavour=sim_flavour, speedup=speedup, airframe=sim_airframe
        )
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
                    for i, (url, sysid) in enumerate(sim_handle.endpoints)
                ],
            },
            "--sim",
        )
        swap, time_scale = sim_handle.swap_battery, speedup
    airframes = {v.airframe: config.airframe(v.airframe, user_file) for v in fleet.vehicles}
    vehicles: dict[str, Vehicle] = {}
    journal = Journal.open(db, fleet.operation, plan)
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
        )
        orch.assign_plan()
        go = await _preflight_table(orch, console)
        if not any(go.values()):
            console.print("[red]no drone is GO; fix the checks above and try again[/]")
            return 2
        for name, ok in go.items():
            if not ok and not orch._reattach.get(name):
                console.print(f"[yellow]{name} is NO-GO: its segments go to the others[/]")
                orch.drop(name, "pre-flight NO-GO")
        interrupted = asyncio.Event()
        loop = asyncio.get_running_loop()
        with contextlib.suppress(NotImplementedError):
            loop.add_signal_handler(signal.SIGINT, interrupted.set)
            loop.add_signal_handler(signal.SIGTERM, interrupted.set)
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
                orch.views.values(), orch.fraction_swept, f"{fleet.operation}: {plan.name}"
            )

        with (
            Live(render(), console=console, refresh_per_second=2, transient=False)
            if live
            else contextlib.nullcontext() as lv
        ):
            while not run.done() and not waiter.done():
                await asyncio.wait({run, waiter}, timeout=0.5, return_when=asyncio.FIRST_COMPLETED)
                if lv is not None:
                    lv.update(render())
        if waiter.done() and not run.done():
            orch.stop()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await run
            choice = on_exit
            if choice == "ask":
                choice = (
                    "rtl"
                    if typer.confirm(
                        "Return all drones to launch? (no: leave them flying)", default=True
                    )
                    else "leave"
                )
            if choice == "rtl":
                await orch.return_all()
                console.print("[yellow]all drones ordered to return to launch[/]")
            else:
                console.print(
                    "[yellow]drones left flying their missions; `groundctl fly` again reattaches[/]"
                )
            return 130
        waiter.cancel()
        await run
        console.print(render())
        console.print(
            f"[bold green]search complete: {orch.fraction_swept * 100:.0f}% of lanes swept[/]"
        )
        return 0
    finally:
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
) -> None:
    """Fly PLAN with a fleet: assign segments, pre-flight go/no-go, upload, launch, watch, keep
    the search going through battery swaps and lost drones. Restarting reattaches."""
    from groundctl.fleet.config import fleet_from_urls, load_fleet, parse_fleet
    from missions.plan import Plan

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
    plan = Plan.load(plan_file)
    op = operation or plan.name or plan_file.stem
    if fleet_file is not None:
        fleet = load_fleet(fleet_file, cctx.user_file)
    elif connect:
        fleet = fleet_from_urls(list(connect), airframe, op.replace(" ", "-") or "adhoc")
    else:
        fleet = parse_fleet(
            {
                "operation": op.replace(" ", "-") or "sim",
                "vehicles": [
                    {"name": "placeholder", "connection": "sim://0", "airframe": airframe}
                ],
            },
            "--sim",
        )
    path = db or fleet.database or Path(f"{fleet.operation}.sqlite")
    overwatch_at = _parse_latlon(overwatch) if overwatch else None
    console = Console()
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
        )
    )
    if code:
        raise typer.Exit(code)
