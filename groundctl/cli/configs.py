"""`groundctl configs list|show`: the camera and airframe catalogues."""

from __future__ import annotations

from typing import Annotated

import typer
import yaml
from rich.console import Console
from rich.table import Table

from groundctl import config
from groundctl.cli import app
from groundctl.cli.context import cli_context
from groundctl.errors import ConfigError

configs_app = typer.Typer(help="List and show cameras and airframes.", no_args_is_help=True)
app.add_typer(configs_app, name="configs")


@configs_app.command("list")
def list_configs(ctx: typer.Context) -> None:
    """List every camera and airframe, built-in and from the user config."""
    user_file = cli_context(ctx).user_file
    console = Console()
    cams = Table(title="Cameras", title_justify="left")
    for col in ("name", "model", "resolution", "HFOV x VFOV", "focal", "fps", "radiometric"):
        cams.add_column(col)
    for cam in config.catalog("cameras", user_file).values():
        cams.add_row(
            cam.name,
            cam.model,
            f"{cam.width_px}x{cam.height_px}",
            f"{cam.hfov_deg:g}° x {cam.vfov_deg:g}°",
            f"{cam.focal_length_mm:g} mm",
            f"{cam.frame_rate_hz:g}",
            "yes" if cam.radiometric else "no",
        )
    frames = Table(title="Airframes", title_justify="left")
    for col in ("name", "model", "kind", "cruise", "max", "endurance", "reserve"):
        frames.add_column(col)
    for af in config.catalog("airframes", user_file).values():
        frames.add_row(
            af.name,
            af.model,
            af.kind,
            f"{af.cruise_speed_ms:g} m/s",
            f"{af.max_speed_ms:g} m/s",
            f"{af.endurance_min:g} min",
            f"{af.battery_reserve_pct:g} %",
        )
    console.print(cams)
    console.print(frames)


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
