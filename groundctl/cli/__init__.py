"""The `groundctl` command line.

Each subcommand lives in its own module and registers itself on `app`. Domain errors from any
package are printed as one or two lines and exit with code 2; no traceback reaches a user.
"""

from __future__ import annotations

import importlib
import pkgutil
import re
import sys
from pathlib import Path
from typing import Annotated

import typer

from groundctl import __version__
from groundctl.cli.context import CliContext
from groundctl.errors import GroundctlError
from missions.errors import MissionError
from sim.errors import SimError
from thermal.errors import ThermalError

USER_ERRORS = (GroundctlError, MissionError, ThermalError, SimError)

app = typer.Typer(
    name="groundctl",
    help="Drone-fleet ground control and thermal search for search-and-rescue air units.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    rich_markup_mode="rich",
)


def _print_version(value: bool) -> None:
    if value:
        print(f"groundctl {__version__}")
        raise typer.Exit()


@app.callback()
def _root(
    ctx: typer.Context,
    version: Annotated[
        bool,
        typer.Option(
            "--version", callback=_print_version, is_eager=True, help="Print the version."
        ),
    ] = False,
    config: Annotated[
        Path | None,
        typer.Option(
            "--config",
            envvar="GROUNDCTL_CONFIG",
            help="User config YAML that overrides or adds catalogue entries.",
        ),
    ] = None,
) -> None:
    ctx.obj = CliContext(user_config=config)


def _register_subcommands() -> None:
    """Import every module of this package: each registers its subcommand on `app`.

    Discovery instead of a list keeps each subcommand in its own file, touched by nobody else.
    """
    for module in sorted(pkgutil.iter_modules(__path__), key=lambda m: m.name):
        if not module.name.startswith("_") and module.name not in ("context", "output"):
            importlib.import_module(f"{__name__}.{module.name}")


_register_subcommands()


def main(argv: list[str] | None = None) -> None:
    try:
        app(args=argv, prog_name="groundctl")
    except USER_ERRORS as exc:
        # A message may quote what the user or a file gave: no terminal escapes from it.
        text = re.sub(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]", "?", str(exc))
        print(f"groundctl: error: {text}", file=sys.stderr)
        sys.exit(2)
    except KeyboardInterrupt:
        print("groundctl: interrupted", file=sys.stderr)
        sys.exit(130)
