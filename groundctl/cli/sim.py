"""`groundctl sim`: simulated PX4/ArduPilot drones, their world and thermal camera."""

from __future__ import annotations

import typer

from groundctl.cli import app

sim_app = typer.Typer(
    help="Simulated PX4/ArduPilot drones, their world and thermal camera.",
    invoke_without_command=True,
)
app.add_typer(sim_app, name="sim")
