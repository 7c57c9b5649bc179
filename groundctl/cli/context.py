"""State the root command hands to every subcommand."""

from __future__ import annotations

import os
import sys
from dataclasses import dataclass
from pathlib import Path

import typer
from rich.console import Console

from groundctl import config


@dataclass(frozen=True)
class CliContext:
    user_config: Path | None = None

    @property
    def user_file(self) -> Path | None:
        return self.user_config or config.default_user_file()

    def camera(self, name: str) -> config.CameraConfig:
        return config.camera(name, self.user_file)

    def airframe(self, name: str) -> config.AirframeConfig:
        return config.airframe(name, self.user_file)


def cli_context(ctx: typer.Context) -> CliContext:
    obj = ctx.find_root().obj
    return obj if isinstance(obj, CliContext) else CliContext()


def report_console() -> Console:
    """The console for a command's tables. Piped into a log or `make`, rich would wrap them at
    80 columns, cutting every cell; there they get room unless COLUMNS says otherwise."""
    if sys.stdout.isatty() or os.environ.get("COLUMNS"):
        return Console()
    return Console(width=160)
