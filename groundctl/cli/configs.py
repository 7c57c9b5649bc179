"""`groundctl configs list|show`: the camera and airframe catalogues."""

from __future__ import annotations

from typing import Annotated

import typer
import yaml

from groundctl import config
from groundctl.cli import app, output
from groundctl.cli.context import cli_context
from groundctl.errors import ConfigError

configs_app = typer.Typer(help="List and show cameras and airframes.", no_args_is_help=True)
app.add_typer(configs_app, name="configs")


@configs_app.command("list")
def list_configs(
    ctx: typer.Context,
    json_: Annotated[
        bool,
        typer.Option(
            "--json",
            help="Print one JSON document {schema: groundctl.configs/1, cameras: [...], "
            "airframes: [...]}, every field of every entry.",
        ),
    ] = False,
) -> None:
    """List every camera and airframe, built-in and from the user config."""
    user_file = cli_context(ctx).user_file
    cameras = list(config.catalog("cameras", user_file).values())
    airframes = list(config.catalog("airframes", user_file).values())
    if json_:
        output.emit_json(
            "configs",
            {
                "cameras": [c.model_dump(mode="json") for c in cameras],
                "airframes": [a.model_dump(mode="json") for a in airframes],
            },
        )
        return
    cams = output.Table(
        "Cameras",
        [
            output.Column("name", key=True),
            output.Column("model", priority=1),
            output.Column("resolution", priority=2),
            output.Column("radiometric", priority=2),
            output.Column("HFOV x VFOV", priority=3),
            output.Column("focal", priority=4, justify="right"),
            output.Column("fps", priority=5, justify="right"),
        ],
    )
    for cam in cameras:
        cams.add_row(
            cam.name,
            cam.model,
            f"{cam.width_px}x{cam.height_px}",
            "yes" if cam.radiometric else "no",
            f"{cam.hfov_deg:g}° x {cam.vfov_deg:g}°",
            f"{cam.focal_length_mm:g} mm",
            f"{cam.frame_rate_hz:g}",
        )
    frames = output.Table(
        "Airframes",
        [
            output.Column("name", key=True),
            output.Column("model", priority=1),
            output.Column("kind", priority=2),
            output.Column("endurance", priority=2, justify="right"),
            output.Column("cruise", priority=3, justify="right"),
            output.Column("max", priority=4, justify="right"),
            output.Column("reserve", priority=5, justify="right"),
        ],
    )
    for af in airframes:
        frames.add_row(
            af.name,
            af.model,
            af.kind,
            f"{af.endurance_min:g} min",
            f"{af.cruise_speed_ms:g} m/s",
            f"{af.max_speed_ms:g} m/s",
            f"{af.battery_reserve_pct:g} %",
        )
    output.print_tables([cams, frames])


@configs_app.command("show")
def show_config(
    ctx: typer.Context,
    name: Annotated[str, typer.Argument(help="Camera or airframe name (see `configs list`).")],
) -> None:
    """Show every field of one camera or airframe, as YAML."""
    user_file = cli_context(ctx).user_file
    found = {
        section: entries[name]
        for section in config.SECTIONS
        if name in (entries := config.catalog(section, user_file))
    }
    if not found:
        known = sorted({n for s in config.SECTIONS for n in config.catalog(s, user_file)})
        raise ConfigError(
            "groundctl configs show",
            name,
            f"no camera or airframe of that name; known: {', '.join(known)}",
        )
    for section, entry in found.items():
        print(
            yaml.safe_dump(
                {section: {name: entry.model_dump(mode="json", exclude={"name"})}},
                sort_keys=False,
                allow_unicode=True,
            ).rstrip()
        )
