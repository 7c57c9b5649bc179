"""`groundctl sim`: simulated PX4/ArduPilot drones, their world and thermal camera."""

from __future__ import annotations

import asyncio
import contextlib
import signal
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.table import Table

from groundctl.cli import app
from groundctl.cli.context import cli_context
from sim.errors import SimError

sim_app = typer.Typer(
    help="Simulated PX4/ArduPilot drones, their world and thermal camera.",
    invoke_without_command=True,
)
app.add_typer(sim_app, name="sim")

DEFAULT_HOME = "47.397742,8.545594,488"
# --fault NAME -> the `sim.Faults` method that starts it.
SIM_FAULTS = {"storage": "storage_failure", "mission-storage": "mission_storage_failure"}


def parse_home(text: str) -> tuple[float, ...]:
    parts = [p for p in text.replace(" ", "").split(",") if p]
    try:
        values = tuple(float(p) for p in parts)
    except ValueError:
        values = ()
    if len(values) not in (2, 3):
        raise SimError(
            f"--home {text!r}: expected LAT,LON or LAT,LON,ALT_AMSL in degrees and metres, "
            "e.g. --home 47.3977,8.5456,488"
        )
    if not (-90 <= values[0] <= 90 and -180 <= values[1] <= 180):
        raise SimError(f"--home {text!r}: latitude must be within -90..90, longitude -180..180")
    return values


@sim_app.callback(invoke_without_command=True)
def run_sim(
    ctx: typer.Context,
    vehicles: Annotated[int, typer.Option("--vehicles", "-n", help="Number of vehicles.")] = 1,
    autopilot: Annotated[
        str, typer.Option("--autopilot", help="Autopilot to behave like: px4 or ardupilot.")
    ] = "px4",
    airframe: Annotated[
        str, typer.Option("--airframe", help="Airframe from the catalogue (configs list).")
    ] = "mavic3t",
    home: Annotated[
        str | None,
        typer.Option(
            "--home",
            help="Home of vehicle 1: LAT,LON[,ALT_AMSL] (default: scenario centre or Zurich).",
        ),
    ] = None,
    speedup: Annotated[
        float, typer.Option("--speedup", help="Simulated time per wall second.")
    ] = 1.0,
    seed: Annotated[int, typer.Option("--seed", help="Random seed (same seed, same flight).")] = 0,
    home_spacing: Annotated[
        float, typer.Option("--home-spacing", help="Metres between vehicles' homes (east).")
    ] = 5.0,
    loss: Annotated[float, typer.Option("--loss", help="Packet loss % on every link.")] = 0.0,
    latency: Annotated[float, typer.Option("--latency", help="One-way link latency in ms.")] = 0.0,
    duplicate: Annotated[
        float, typer.Option("--duplicate", help="Duplicated packets % on every link.")
    ] = 0.0,
    reorder: Annotated[
        float, typer.Option("--reorder", help="Reordered packets % on every link.")
    ] = 0.0,
    wind: Annotated[float, typer.Option("--wind", help="Mean wind speed, m/s.")] = 0.0,
    wind_from: Annotated[
        float, typer.Option("--wind-from", help="Wind direction (from), degrees.")
    ] = 0.0,
    gust: Annotated[float, typer.Option("--gust", help="Gust strength (1 sigma), m/s.")] = 0.0,
    gcs_port: Annotated[
        int,
        typer.Option(
            "--gcs-port", help="UDP port every vehicle sends to (PX4 SITL: 14550; 0: off)."
        ),
    ] = 14550,
    gcs_local_base_port: Annotated[
        int,
        typer.Option(
            "--gcs-local-base-port",
            help="Vehicle i sends to the GCS port from UDP base+i (PX4 SITL: 18570; 0: any).",
        ),
    ] = 18570,
    api_base_port: Annotated[
        int,
        typer.Option(
            "--api-base-port",
            help="Vehicle i sends its API stream to UDP base+i, where a ground station listens "
            "(PX4 SITL: 14540, so udpin://0.0.0.0:14540 works; 0: no fixed target).",
        ),
    ] = 14540,
    api_local_base_port: Annotated[
        int,
        typer.Option(
            "--api-local-base-port",
            help="...from its own UDP port base+i, which also answers whoever sends to it "
            "(PX4 SITL: 14580; 0: any free port).",
        ),
    ] = 14580,
    tcp_base_port: Annotated[
        int, typer.Option("--tcp-base-port", help="ArduPilot: TCP server on base+10*i.")
    ] = 5760,
    scenario: Annotated[
        Path | None,
        typer.Option(
            "--scenario", help="Scenario YAML: terrain and a thermal camera stream per vehicle."
        ),
    ] = None,
    camera: Annotated[
        str, typer.Option("--camera", help="Camera for --scenario streams.")
    ] = "h20t",
    stream_base_port: Annotated[
        int, typer.Option("--stream-base-port", help="Frame stream of vehicle i on TCP base+i.")
    ] = 5600,
    fault: Annotated[
        list[str] | None,
        typer.Option(
            "--fault",
            help="Start with a fault (repeatable): storage = every mission, fence and rally "
            "upload refused with MAV_MISSION_ERROR, as on a PX4 whose SD card failed; "
            "mission-storage = mission uploads only.",
        ),
    ] = None,
    duration: Annotated[
        float | None,
        typer.Option(
            "--duration", help="Stop after this many wall seconds (default: until Ctrl-C)."
        ),
    ] = None,
) -> None:
    """Run N simulated autopilots until Ctrl-C (MAVLink like PX4/ArduPilot SITL)."""
    if ctx.invoked_subcommand is not None:
        return
    if autopilot not in ("px4", "ardupilot"):
        raise SimError(f"--autopilot {autopilot!r}: choose px4 or ardupilot")
    for name, value in (("--loss", loss), ("--duplicate", duplicate), ("--reorder", reorder)):
        if not 0 <= value <= 100:
            raise SimError(f"{name} {value}: must be a percentage between 0 and 100")
    if latency < 0:
        raise SimError(f"--latency {latency}: must be 0 or more milliseconds")
    for f in fault or ():
        if f not in SIM_FAULTS:
            raise SimError(f"--fault {f!r}: choose one of {', '.join(SIM_FAULTS)}")
    cli = cli_context(ctx)
    frame_af = cli.airframe(airframe)
    world = None
    cam = None
    if scenario is not None:
        from sim.world import load_scenario

        world = load_scenario(scenario)
        cam = cli.camera(camera)
    if home is not None:
        home_t = parse_home(home)
    elif world is not None:
        lats, lons = zip(*world.area_latlon, strict=True)
        home_t = (sum(lats) / len(lats), sum(lons) / len(lons))
    else:
        home_t = parse_home(DEFAULT_HOME)
    kwargs: dict[str, Any] = dict(
        vehicles=vehicles,
        autopilot=autopilot,
        airframe=frame_af,
        home=home_t,
        speedup=speedup,
        seed=seed,
        home_spacing_m=home_spacing,
        loss_pct=loss,
        latency_ms=latency,
        wind_ms=wind,
        wind_from_deg=wind_from,
        gust_ms=gust,
        gcs_port=gcs_port or None,
        gcs_local_base_port=gcs_local_base_port,
        api_base_port=api_base_port or None,
        api_local_base_port=api_local_base_port,
        tcp_base_port=tcp_base_port,
    )
    if world is not None:
        from sim.fleet import world_terrain

        kwargs["terrain"] = world_terrain(world)
    faults: dict[str, Any] = {"duplicate_pct": duplicate, "reorder_pct": reorder}
    faults.update({SIM_FAULTS[f]: True for f in fault or ()})
    asyncio.run(_serve(kwargs, faults, world, cam, stream_base_port, duration))


async def _serve(
    kwargs: dict[str, Any],
    faults: dict[str, Any],
    world: Any,
    cam: Any,
    stream_base: int,
    duration: float | None,
) -> None:
    from sim.fleet import SimFleet

    console = Console()
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    payloads: list[Any] = []
    async with SimFleet(**kwargs) as fleet:
        for v in fleet.vehicles:
            for name, value in faults.items():
                if callable(getattr(v.faults, name)):
                    getattr(v.faults, name)()
                else:
                    setattr(v.faults, name, value)
        if world is not None:
            payloads = list(await fleet.start_cameras(world, cam, stream_base))
        _print_table(console, fleet, payloads)
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), duration)
    console.print(f"stopped after {fleet.sim_time_s:.0f} s simulated")


def _print_table(console: Console, fleet: Any, payloads: list[Any]) -> None:
    table = Table(
        title=f"{len(fleet.vehicles)} simulated {fleet.autopilot} vehicle(s), speedup {fleet.speedup:g}x"
    )
    for col in (
        "sysid",
        "home lat, lon",
        "API (ground station connects)",
        "sends to GCS",
        "TCP",
        "thermal stream",
    ):
        table.add_column(col)
    for i, row in enumerate(fleet.table()):
        lat, lon = row["home"][0], row["home"][1]
        stream = f"tcp://127.0.0.1:{payloads[i].port}" if payloads else "-"
        table.add_row(
            str(row["sysid"]),
            f"{lat:.6f}, {lon:.6f}",
            row["api"] or "-",
            (row["gcs"] or "-").replace("udpin://", "udp://"),
            row["tcp"] or "-",
            stream,
        )
    console.print(table)
    console.print("running; Ctrl-C to stop", highlight=False)
