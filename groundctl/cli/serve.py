"""`groundctl serve`: the coordinator's web map of one operation."""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path
from typing import Annotated

import typer

from groundctl.cli import app
from groundctl.cli.context import cli_context
from groundctl.errors import ConfigError


@app.command()
def serve(
    ctx: typer.Context,
    db: Annotated[
        Path, typer.Option("--db", help="Operation database (the one `groundctl fly --db` writes).")
    ] = Path("operation.sqlite"),
    bind: Annotated[
        str | None,
        typer.Option(
            "--bind",
            metavar="ADDR:PORT",
            help="Where to listen (default 127.0.0.1:8420; any other address needs a token).",
        ),
    ] = None,
    token: Annotated[
        str | None,
        typer.Option(
            "--token",
            envvar="GROUNDCTL_WEB_TOKEN",
            help="Token every request must carry (default: config web.token; generated and "
            "printed when binding beyond loopback).",
        ),
    ] = None,
    sim: Annotated[
        int, typer.Option("--sim", min=0, max=20, help="Fly N simulated drones from the map.")
    ] = 0,
    scenario: Annotated[
        Path | None,
        typer.Option("--scenario", help="--sim: the world their thermal cameras see."),
    ] = None,
    speedup: Annotated[
        float, typer.Option("--speedup", min=1.0, max=200.0, help="--sim: simulation speed-up.")
    ] = 5.0,
    sim_flavour: Annotated[
        str, typer.Option("--sim-autopilot", help="--sim: px4 or ardupilot.")
    ] = "px4",
    found_after: Annotated[
        float | None,
        typer.Option(
            "--sim-found-after",
            metavar="SECONDS",
            min=0.0,
            help="--sim: a simulated ground team reports a watched person found after this long.",
        ),
    ] = None,
    fleet_file: Annotated[
        Path | None, typer.Option("--fleet", help="Fly the real drones of this fleet file.")
    ] = None,
    dispatch_file: Annotated[
        Path | None,
        typer.Option(
            "--dispatch-config",
            help="YAML with a dispatch: section (MQTT...); default: the fleet file's, else the "
            "config file's.",
        ),
    ] = None,
    dem: Annotated[
        Path | None,
        typer.Option("--dem", help="GeoTIFF DEM: terrain for the planner, hillshade on the map."),
    ] = None,
    tiles: Annotated[
        str | None,
        typer.Option(
            "--tiles", help="Map background: an XYZ URL template or a .mbtiles / .pmtiles file."
        ),
    ] = None,
    operation: Annotated[
        str | None,
        typer.Option("--operation", help="Operation name for a new database (default: its stem)."),
    ] = None,
    cot_listen: Annotated[
        str | None,
        typer.Option(
            "--cot-listen", help="udp://HOST:PORT where ground teams' CoT positions arrive."
        ),
    ] = None,
) -> None:
    """Serve the coordinator's map: draw and plan a search, fly it, watch the drones and
    their thermal cameras, confirm hits and guide the ground teams. Everything goes through
    the operation database: a `groundctl fly --db` running beside it shows on the map."""
    from groundctl.dispatch import dispatch_config, load_dispatch_config
    from groundctl.fleet.config import load_fleet
    from groundctl.web.server import quiet_logs, serve
    from groundctl.web.settings import (
        DEFAULT_BIND,
        ServeOptions,
        parse_bind,
        resolve_token,
        web_config,
    )

    cli = cli_context(ctx)
    cfg = web_config(cli.user_file)
    host, port = parse_bind(bind or cfg.bind or DEFAULT_BIND)
    the_token, generated = resolve_token(host, token, cfg)
    if sim and fleet_file is not None:
        raise ConfigError("groundctl serve", None, "give --sim N or --fleet FILE, not both")
    if not sim:
        for name, value in (("--scenario", scenario), ("--sim-found-after", found_after)):
            if value is not None:
                raise ConfigError(name, None, "only with --sim N (simulated drones)")
    if sim_flavour not in ("px4", "ardupilot"):
        raise ConfigError(
            "--sim-autopilot", None, f"must be px4 or ardupilot (got {sim_flavour!r})"
        )
    if scenario is not None and not scenario.is_file():
        raise ConfigError(str(scenario), None, "scenario file not found (see configs/scenarios/)")
    fleet = load_fleet(fleet_file, cli.user_file) if fleet_file is not None else None
    if dispatch_file is not None:
        dispatch = load_dispatch_config(dispatch_file)
    elif fleet is not None and fleet.dispatch is not None:
        dispatch = dispatch_config(fleet.dispatch, str(fleet_file))
    elif cli.user_file is not None:
        from groundctl.config import read_user_file

        section = read_user_file(cli.user_file).get("dispatch")
        dispatch = dispatch_config(section, str(cli.user_file)) if section else None
    else:
        dispatch = None
    dem_path = dem or cfg.dem
    if dem_path is not None and not dem_path.is_file():
        raise ConfigError(str(dem_path), None, "DEM file not found")
    if db.exists() and not db.is_file():
        raise ConfigError(str(db), None, "not a file; give the operation database's path")
    opts = ServeOptions(
        db=db,
        host=host,
        port=port,
        token=the_token,
        token_generated=generated,
        operation=operation,
        sim=sim,
        scenario=scenario,
        speedup=speedup,
        sim_autopilot=sim_flavour,
        fleet_file=fleet_file,
        dispatch=dispatch,
        dem=dem_path,
        tiles=tiles or cfg.tiles,
        tiles_attribution=cfg.tiles_attribution,
        cot_listen=cot_listen or cfg.cot_listen,
        found_after_s=found_after,
        user_file=cli.user_file,
        **({"node_modules": cfg.node_modules} if cfg.node_modules else {}),
    )

    def announce(url: str, bound_port: int) -> None:
        if generated:
            print(f"groundctl map: {url}?token={the_token}", flush=True)
            print("  (the token is shown only now; every request needs it)", flush=True)
        else:
            print(f"groundctl map: {url}", flush=True)
            if the_token is not None:
                print("  (token required: the one you gave, as ?token= or a Bearer header)")
        print(f"  operation database: {db}   (Ctrl-C stops the server)", flush=True)

    quiet_logs()
    try:
        asyncio.run(serve(opts, announce))
    except KeyboardInterrupt:
        print("groundctl serve: stopped", file=sys.stderr)
