"""The fleet file: which drones fly this operation and how to reach them.

A fleet YAML names the operation and lists its vehicles (see ``configs/fleet.example.yaml``)::

    operation: valley-2026-11-23
    gcs_sysid: 245
    vehicles:
      - name: alpha
        connection: udpin://0.0.0.0:14540
        airframe: m350_h20t
        camera: h20t
        camera_stream: tcp://10.0.0.21:5600   # its thermal frame stream (optional)
        backend: pymavlink          # or mavsdk (PX4 only)
        autopilot: px4              # hint: px4 | ardupilot | auto
        signing_key_file: keys/alpha.key

Airframe and camera names are looked up in the catalogues (``groundctl configs list``), so an
unknown name is reported with the file and key. The ``dispatch`` section belongs to dispatch
and is carried through unread.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any, Literal
from urllib.parse import urlsplit

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from groundctl import config
from groundctl.errors import ConfigError, GroundctlError

CONNECTION_SCHEMES = (
    "udp://",
    "udpin://",
    "udpout://",
    "tcp://",
    "tcpout://",
    "tcpin://",
    "serial://",
    "udpin:",
    "udpout:",
    "udp:",
    "tcp:",
    "tcpin:",
    "sim://",
)


STREAM_SCHEMES = ("tcp",)


def parse_stream_url(url: str) -> tuple[str, int]:
    """``tcp://host:port`` -> (host, port); ValueError with a usable message otherwise."""
    parts = urlsplit(url)
    example = "tcp://192.168.1.20:5600"
    if parts.scheme not in STREAM_SCHEMES:
        raise ValueError(
            f"camera stream {url!r}: scheme must be tcp:// (the groundctl frame stream, "
            f"e.g. {example})"
        )
    try:
        port = parts.port
    except ValueError:
        raise ValueError(f"camera stream {url!r}: bad port (e.g. {example})") from None
    if not parts.hostname or port is None or port == 0:
        raise ValueError(f"camera stream {url!r}: needs host and port, e.g. {example}")
    if parts.path not in ("", "/") or parts.query:
        raise ValueError(f"camera stream {url!r}: nothing may follow host:port (e.g. {example})")
    return parts.hostname, port


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class LaunchPoint(_Strict):
    lat: float = Field(ge=-90, le=90)
    lon: float = Field(ge=-180, le=180)


class VehicleConfig(_Strict):
    """One drone of the fleet."""

    name: str = Field(min_length=1, max_length=32, pattern=r"^[A-Za-z0-9_.-]+$")
    connection: str
    airframe: str
    camera: str | None = None
    # The drone's live thermal frame stream (`thermal.framing` over TCP); its frames go
    # through the operation's thermal pipeline. Needs `camera` to place them on the ground.
    camera_stream: str | None = None
    backend: Literal["pymavlink", "mavsdk"] = "pymavlink"
    autopilot: Literal["px4", "ardupilot", "auto"] = "auto"
    # The system id expected on the link; None takes the first unclaimed one that appears.
    sysid: int | None = Field(default=None, ge=1, le=254)
    signing_key_file: Path | None = None
    gcs_sysid: int | None = Field(default=None, ge=1, le=255)
    # Where the drone takes off and lands; None uses the home position it reports.
    launch: LaunchPoint | None = None

    @field_validator("connection")
    @classmethod
    def _known_scheme(cls, url: str) -> str:
        if not url.startswith(CONNECTION_SCHEMES) and not url.startswith("/dev/"):
            raise ValueError(
                f"unknown connection string {url!r}; use udpin://0.0.0.0:14540, "
                "udpout://host:14550, tcp://host:5760, serial:///dev/ttyACM0:57600"
            )
        return url

    @field_validator("camera_stream")
    @classmethod
    def _stream_url(cls, url: str | None) -> str | None:
        if url is not None:
            parse_stream_url(url)
        return url

    @model_validator(mode="after")
    def _stream_needs_camera(self) -> VehicleConfig:
        if self.camera_stream is not None and self.camera is None:
            raise ValueError(
                "camera_stream needs camera: <catalogue name> (e.g. camera: h20t; see "
                "`groundctl configs list`) so detections can be placed on the ground"
            )
        return self

    @model_validator(mode="after")
    def _mavsdk_is_px4_only(self) -> VehicleConfig:
        if self.backend == "mavsdk" and self.autopilot == "ardupilot":
            raise ValueError("backend mavsdk flies PX4 only; use backend: pymavlink for ArduPilot")
        if self.backend == "mavsdk" and self.signing_key_file is not None:
            # MAVSDK-Python has no signing API: the key would be silently unused.
            raise ValueError(
                "backend mavsdk cannot sign MAVLink (MAVSDK-Python has no signing API), so "
                "signing_key_file would be ignored; use backend: pymavlink to sign"
            )
        return self


class TransitConfig(_Strict):
    """Staggered transit altitudes: drone i transits at base + i * step (metres above home)."""

    base_alt_m: float = Field(default=40.0, ge=5, le=500)
    step_m: float = Field(default=10.0, ge=3, le=100)


class OverwatchConfig(_Strict):
    """Keeping a confirmed person in view until the ground team arrives."""

    hold_alt_m: float = Field(default=50.0, ge=10, le=400)
    orbit_radius_m: float = Field(default=0.0, ge=0, le=500)  # 0: hold position (multicopter)
    # The relief arrives this long before the current drone must leave, so there is overlap.
    handover_margin_s: float = Field(default=60.0, ge=0, le=1800)


class FleetConfig(_Strict):
    """A whole fleet file."""

    operation: str = Field(min_length=1, max_length=80, pattern=r"^[A-Za-z0-9_.-]+$")
    gcs_sysid: int = Field(default=245, ge=1, le=255)
    vehicles: tuple[VehicleConfig, ...] = Field(min_length=1)
    transit: TransitConfig = TransitConfig()
    overwatch: OverwatchConfig = OverwatchConfig()
    # A battery swap on the ground: how long the orchestrator waits before the next sortie.
    battery_swap_s: float = Field(default=180.0, ge=0, le=7200)
    # A drone silent this long is given up: its unswept lanes go to the others. If it is
    # heard again it is brought home and given work again.
    lost_after_s: float = Field(default=30.0, ge=3, le=600)
    # Owned by dispatch (issue 7); carried through unread.
    dispatch: dict[str, Any] | None = None
    # SQLite journal; relative paths are relative to the fleet file.
    database: Path | None = None

    @model_validator(mode="after")
    def _unique(self) -> FleetConfig:
        names = [v.name for v in self.vehicles]
        dup = sorted({n for n in names if names.count(n) > 1})
        if dup:
            raise ValueError(f"vehicle names must be unique; repeated: {', '.join(dup)}")
        ids = [v.sysid for v in self.vehicles if v.sysid is not None]
        dup_ids = sorted({i for i in ids if ids.count(i) > 1})
        if dup_ids:
            raise ValueError(
                f"two vehicles claim system id {dup_ids[0]}; every drone needs its own "
                "MAV_SYS_ID (PX4) / SYSID_THISMAV (ArduPilot)"
            )
        conns = [v.connection for v in self.vehicles]
        for url in sorted({c for c in conns if conns.count(c) > 1}):
            unnamed = [v.name for v in self.vehicles if v.connection == url and v.sysid is None]
            if unnamed:
                raise ValueError(
                    f"vehicles {', '.join(unnamed)} share {url} with others and need a sysid "
                    "each, or one would be taken for the other"
                )
        gcs = {v.gcs_sysid or self.gcs_sysid for v in self.vehicles}
        if gcs & set(ids):
            raise ValueError(f"a vehicle's sysid equals the GCS system id {sorted(gcs & set(ids))}")
        return self

    def vehicle(self, name: str) -> VehicleConfig:
        for v in self.vehicles:
            if v.name == name:
                return v
        raise KeyError(name)


def parse_fleet(data: Any, source: str, user_file: Path | None = None) -> FleetConfig:
    """Validate a fleet document; check airframe/camera names and key files exist."""
    if not isinstance(data, Mapping):
        raise ConfigError(source, None, "expected a mapping with 'operation' and 'vehicles'")
    fleet = config.validate(FleetConfig, data, source, "fleet")
    base = Path(source).parent if Path(source).exists() else Path.cwd()
    for i, v in enumerate(fleet.vehicles):
        key = f"fleet.vehicles.{i}"
        for section, name in (("airframes", v.airframe), ("cameras", v.camera)):
            if name is None:
                continue
            try:
                config.lookup(section, name, user_file)
            except ConfigError as exc:
                raise ConfigError(source, f"{key}.{section[:-1]}", exc.reason) from None
        if v.signing_key_file is not None:
            path = (
                v.signing_key_file
                if v.signing_key_file.is_absolute()
                else base / v.signing_key_file
            )
            if not path.is_file():
                raise ConfigError(
                    source,
                    f"{key}.signing_key_file",
                    f"key file {path} not found; write the 32-byte key (hex or raw) there",
                )
    _one_key_per_link(fleet, base, source)
    return fleet


def _link_key(url: str) -> str:
    """Vehicles whose URLs name the same socket share one link (`LinkManager`)."""
    from groundctl.link.url import parse_url

    try:
        return str(parse_url(url))
    except GroundctlError:
        return url


def _one_key_per_link(fleet: FleetConfig, base: Path, source: str) -> None:
    """A link signs everything or nothing, with one key: vehicles sharing a link must agree,
    or one of them would fly unsigned (or be unreachable) without a word."""
    from groundctl.link.link import load_signing_key

    links: dict[str, list[tuple[int, VehicleConfig]]] = {}
    for i, v in enumerate(fleet.vehicles):
        links.setdefault(_link_key(v.connection), []).append((i, v))
    for url, group in links.items():
        keys: dict[str, bytes | None] = {}
        for i, v in group:
            f = v.signing_key_file
            try:
                keys[v.name] = (
                    None if f is None else load_signing_key(f if f.is_absolute() else base / f)
                )
            except GroundctlError as exc:
                raise ConfigError(
                    source, f"fleet.vehicles.{i}.signing_key_file", str(exc)
                ) from None
        if len(set(keys.values())) <= 1:
            continue
        first = keys[group[0][1].name]
        i = next(i for i, v in group if keys[v.name] != first)
        names = ", ".join(keys)
        with_key = [n for n, k in keys.items() if k is not None]
        if None in keys.values():
            why = f"only {', '.join(with_key)} {'has' if len(with_key) == 1 else 'have'} a key"
        else:
            why = "their keys differ"
        raise ConfigError(
            source,
            f"fleet.vehicles.{i}.signing_key_file",
            f"vehicles {names} share the link {url} but {why}; one link signs every packet "
            "with one key: give them all the same signing_key_file, or none",
        )


def load_fleet(path: Path, user_file: Path | None = None) -> FleetConfig:
    """Read and validate a fleet YAML file."""
    fleet = parse_fleet(config.read_yaml(path), str(path), user_file)
    updates: dict[str, Any] = {}
    if fleet.database is not None and not fleet.database.is_absolute():
        updates["database"] = path.parent / fleet.database
    keys = []
    for v in fleet.vehicles:
        f = v.signing_key_file
        keys.append(
            v.model_copy(update={"signing_key_file": path.parent / f})
            if f and not f.is_absolute()
            else v
        )
    updates["vehicles"] = tuple(keys)
    return fleet.model_copy(update=updates)


def fleet_from_urls(
    urls: list[str], airframe: str, operation: str = "adhoc", user_file: Path | None = None
) -> FleetConfig:
    """A fleet for `groundctl fly --connect URL ...`: one vehicle per URL, named v1, v2..."""
    vehicles = [
        {"name": f"v{i + 1}", "connection": u, "airframe": airframe} for i, u in enumerate(urls)
    ]
    return parse_fleet({"operation": operation, "vehicles": vehicles}, "--connect", user_file)
