"""Options of `groundctl plan` and `groundctl replan`: physical ranges, points, lines, and
the conversions from the catalogue's cameras and airframes."""

from __future__ import annotations

import json
import math
from collections.abc import Callable
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field

from groundctl import config
from groundctl.config import AirframeConfig, CameraConfig
from missions.area import DEFAULT_MAX_AREA_KM2
from missions.errors import PlanError
from missions.footprint import Camera
from missions.planner import MAX_DRONES
from missions.segment import Vehicle

# option: (lowest, highest, unit, lowest excluded) — the physical range of each number.
NUMERIC: dict[str, tuple[float, float, str, bool]] = {
    "--alt": (0.0, 10_000.0, " m", True),
    "--min-px-on-person": (0.0, 1000.0, " px", True),
    "--overlap": (0.0, 95.0, " %", False),
    "--drones": (1, MAX_DRONES, "", False),
    "--sweep-deg": (0.0, 360.0, " degrees", False),
    "--speed": (0.0, 60.0, " m/s", True),
    "--turn-margin": (0.0, 1000.0, " m", False),
    "--hole-margin": (0.0, 1000.0, " m", False),
    "--max-alt": (0.0, 10_000.0, " m", True),
    "--max-area-km2": (0.0, 10_000.0, " km²", True),
    "--legs": (1, 400, "", False),
    "--first-bearing": (0.0, 360.0, " degrees", False),
    "--radius": (0.0, 50_000.0, " m", True),
    "--width": (0.0, 10_000.0, " m", True),
}


def _number(option: str, integer: bool = False) -> Callable[[str], float | int]:
    """A parser that refuses anything but a finite number in the option's range."""
    lo, hi, unit, open_lo = NUMERIC[option]

    def parse(text: str) -> float | int:
        try:
            value = float(text)
        except ValueError:
            raise PlanError(f"{option} '{text}': not a number") from None
        bad = not math.isfinite(value) or value > hi or value < lo or (open_lo and value <= lo)
        bad |= option in ("--sweep-deg", "--first-bearing") and value >= hi
        if integer and not bad and value != int(value):
            raise PlanError(f"{option} {text}: give a whole number")
        if bad:
            low = f"above {lo:g}" if open_lo else f"from {lo:g}"
            raise PlanError(f"{option} {text}: must be {low} to {hi:g}{unit}")
        return int(value) if integer else value

    return parse


def camera_from_config(cam: CameraConfig) -> Camera:
    return Camera(
        cam.name, cam.width_px, cam.height_px, cam.hfov_deg, cam.vfov_deg, cam.frame_rate_hz
    )


def vehicle_from_config(af: AirframeConfig, speed_ms: float | None = None) -> Vehicle:
    if speed_ms is not None and speed_ms > af.max_speed_ms:
        raise PlanError(
            f"--speed {speed_ms:g} m/s is above the {af.name}'s top speed "
            f"({af.max_speed_ms:g} m/s); fly slower or pick another --airframe"
        )
    return Vehicle(
        name=af.name,
        speed_ms=speed_ms or af.cruise_speed_ms,
        usable_endurance_s=af.usable_endurance_s,
        climb_rate_ms=af.climb_rate_ms,
        descent_rate_ms=af.descent_rate_ms,
        accel_ms2=af.max_accel_ms2,
    )


class PlannerSettings(BaseModel):
    """The `planner:` section of the user config file (every key optional)."""

    model_config = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False)
    max_area_km2: float = Field(default=DEFAULT_MAX_AREA_KM2, gt=0, le=10_000)
    max_alt_m: float = Field(default=120.0, gt=0, le=10_000)
    turn_margin_m: float = Field(default=0.0, ge=0, le=1000)
    hole_margin_m: float | None = Field(default=None, ge=0, le=1000)


def planner_settings(user_file: Path | None) -> PlannerSettings:
    if user_file is None:
        return PlannerSettings()
    section = config.read_user_file(user_file).get("planner")
    if section is None:
        return PlannerSettings()
    return config.validate(PlannerSettings, section, str(user_file), "planner")


def latlon(option: str, text: str) -> tuple[float, float]:
    try:
        lat_s, lon_s = text.split(",")
        lat, lon = float(lat_s), float(lon_s)
    except ValueError:
        raise PlanError(
            f"{option} '{text}': expected LAT,LON in degrees, e.g. 47.39,8.54"
        ) from None
    if not (math.isfinite(lat) and math.isfinite(lon)) or abs(lat) > 90 or abs(lon) > 180:
        raise PlanError(f"{option} '{text}': latitude must be within ±90, longitude ±180")
    return lat, lon


def _read_line(path: Path) -> tuple[tuple[float, float], ...]:
    """A LineString (GeoJSON, [lon, lat]) as (lat, lon) points: the track of a track line."""
    try:
        doc = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise PlanError(f"{path}: cannot read the track line: {exc}") from None
    geoms = [doc]
    if doc.get("type") == "FeatureCollection":
        geoms = [f.get("geometry") or {} for f in doc.get("features") or []]
    elif doc.get("type") == "Feature":
        geoms = [doc.get("geometry") or {}]
    for g in geoms:
        if g.get("type") == "LineString":
            pts = tuple((float(p[1]), float(p[0])) for p in g.get("coordinates") or [])
            if len(pts) >= 2 and all(abs(a) <= 90 and abs(b) <= 180 for a, b in pts):
                return pts
    raise PlanError(f"{path}: no GeoJSON LineString ([lon, lat]) with two or more points")
