"""What `groundctl serve` was started with: the `web:` section of the user config file and the
command line, checked once, before anything listens."""

from __future__ import annotations

import ipaddress
import secrets
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from pydantic import BaseModel, ConfigDict, Field

from groundctl import config
from groundctl.errors import ConfigError

if TYPE_CHECKING:
    from groundctl.dispatch import DispatchConfig

DEFAULT_BIND = "127.0.0.1:8420"
# Where `make` installs the page's libraries (package.json at the root of the source tree).
SOURCE_ROOT = Path(__file__).resolve().parents[2]


class WebConfig(BaseModel):
    """The `web:` section of the user config file (every key optional)."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    token: str | None = Field(default=None, min_length=16, max_length=200)
    bind: str | None = None
    # An XYZ template (https://.../{z}/{x}/{y}.png) the browsers fetch themselves, or a local
    # .mbtiles / .pmtiles file this server serves.
    tiles: str | None = None
    tiles_attribution: str = Field(default="", max_length=300)
    dem: Path | None = None  # GeoTIFF: the planner's terrain and the map's hillshade
    cot_listen: str | None = None  # udp://0.0.0.0:4242: ground teams' positions as CoT
    node_modules: Path | None = None  # where leaflet and leaflet-geoman are installed


def web_config(user_file: Path | None) -> WebConfig:
    if user_file is None:
        return WebConfig()
    section = config.read_user_file(user_file).get("web")
    if section is None:
        return WebConfig()
    return config.validate(WebConfig, section, str(user_file), "web")


def parse_bind(text: str) -> tuple[str, int]:
    """`ADDR:PORT` (or `[v6]:PORT`) -> (host, port); port 0 takes any free port."""
    host, sep, port_s = text.rpartition(":")
    host = host.strip("[]")
    try:
        port = int(port_s)
    except ValueError:
        port = -1
    if not sep or not host or not 0 <= port <= 65535:
        raise ConfigError(
            "--bind",
            None,
            f"expected ADDR:PORT, e.g. 127.0.0.1:8420 or 0.0.0.0:8420 (got {text!r})",
        )
    return host, port


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False  # a host name: it may resolve anywhere


@dataclass(frozen=True)
class ServeOptions:
    db: Path
    host: str
    port: int
    token: str | None  # required on every request when set
    token_generated: bool = False
    operation: str | None = None
    sim: int = 0
    scenario: Path | None = None
    speedup: float = 5.0
    sim_autopilot: str = "px4"
    fleet_file: Path | None = None
    dispatch: DispatchConfig | None = None
    dem: Path | None = None
    tiles: str | None = None
    tiles_attribution: str = ""
    cot_listen: str | None = None
    found_after_s: float | None = None
    user_file: Path | None = None
    node_modules: Path = SOURCE_ROOT / "node_modules"

    @property
    def folder(self) -> Path:
        """The operation's folder: nothing the server is asked to do writes outside it."""
        return self.db.resolve().parent

    @property
    def flying(self) -> str:
        if self.fleet_file is not None:
            return "fleet"
        return "sim" if self.sim else "none"


def resolve_token(host: str, given: str | None, cfg: WebConfig) -> tuple[str | None, bool]:
    """The token in force and whether it was generated here. Loopback without a configured
    token is open; any other bind always has one."""
    token = given or cfg.token
    if token is not None and len(token) < 16:
        raise ConfigError("--token", None, "a token needs at least 16 characters")
    if token is None and not is_loopback(host):
        return secrets.token_urlsafe(24), True
    return token, False
