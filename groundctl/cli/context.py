"""State the root command hands to every subcommand."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import typer

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
