"""The one place configs are loaded and validated.

Built-in catalogues live in `configs/*.yaml`. A user file (``--config FILE``, the
``GROUNDCTL_CONFIG`` variable, or ``~/.config/groundctl/config.yaml``) may override any field
of a built-in entry or add new entries, under the same section names::

    cameras:
      h20t:            # override one field of a built-in camera
        frame_rate_hz: 8.7
    airframes:
      my_quad:         # a new airframe: every field required
        ...

Errors name the file, the key and the reason, e.g.
``my.yaml: cameras.h20t.hfov_deg: must be greater than 0 (got -3)``.
"""

from __future__ import annotations

import math
import os
from collections.abc import Mapping
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal, TypeVar

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from groundctl.errors import ConfigError

if TYPE_CHECKING:
    from thermal.camera import CameraModel

CONFIG_DIR = Path(
    os.environ.get("GROUNDCTL_CONFIGS", Path(__file__).resolve().parent.parent / "configs")
)

M = TypeVar("M", bound=BaseModel)


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class CameraConfig(_Strict):
    """A thermal camera: sensor, optics and output. Angles in degrees."""

    name: str
    model: str
    width_px: int = Field(gt=0, le=8192)
    height_px: int = Field(gt=0, le=8192)
    pixel_pitch_um: float = Field(gt=0, le=100)
    focal_length_mm: float = Field(gt=0, le=500)
    hfov_deg: float = Field(gt=0, lt=180)
    vfov_deg: float = Field(gt=0, lt=180)
    frame_rate_hz: float = Field(gt=0, le=1000)
    radiometric: bool
    netd_mk: float = Field(default=50.0, gt=0, le=500)
    # OpenCV order k1, k2, p1, p2, k3; zero for a rectified or unknown lens.
    distortion: tuple[float, float, float, float, float] = (0.0, 0.0, 0.0, 0.0, 0.0)

    @model_validator(mode="after")
    def _optics_agree(self) -> CameraConfig:
        # Published FOVs include lens distortion, so allow some slack against the pinhole
        # value; a mistyped focal length or pitch is off by far more than this.
        sensor_w_mm = self.width_px * self.pixel_pitch_um / 1000.0
        pinhole_hfov = math.degrees(2 * math.atan(sensor_w_mm / 2 / self.focal_length_mm))
        if abs(pinhole_hfov - self.hfov_deg) > 0.15 * self.hfov_deg:
            raise ValueError(
                f"hfov_deg {self.hfov_deg:g} disagrees with width_px x pixel_pitch_um / "
                f"focal_length_mm, which give {pinhole_hfov:.1f}; check the three figures"
            )
        if self.vfov_deg > self.hfov_deg * 1.01 and self.height_px <= self.width_px:
            raise ValueError("vfov_deg is larger than hfov_deg on a landscape sensor")
        return self

    @property
    def focal_length_px(self) -> float:
        return self.focal_length_mm * 1000.0 / self.pixel_pitch_um


class AirframeConfig(_Strict):
    """An airframe's flight envelope and battery, as published by its maker."""

    name: str
    model: str
    kind: Literal["multicopter", "fixed_wing_vtol"]
    cruise_speed_ms: float = Field(gt=0, le=60)
    max_speed_ms: float = Field(gt=0, le=80)
    climb_rate_ms: float = Field(gt=0, le=30)
    descent_rate_ms: float = Field(gt=0, le=30)
    max_accel_ms2: float = Field(default=4.0, gt=0, le=30)
    yaw_rate_dps: float = Field(default=90.0, gt=0, le=720)
    endurance_min: float = Field(gt=0, le=600)
    battery_reserve_pct: float = Field(ge=0, lt=60)
    battery_wh: float = Field(gt=0, le=10000)
    battery_cells: int = Field(gt=0, le=24)
    mass_kg: float = Field(gt=0, le=100)
    max_wind_ms: float = Field(gt=0, le=40)
    min_turn_radius_m: float = Field(default=0.0, ge=0, le=1000)

    @model_validator(mode="after")
    def _speeds_ordered(self) -> AirframeConfig:
        if self.cruise_speed_ms > self.max_speed_ms:
            raise ValueError(
                f"cruise_speed_ms {self.cruise_speed_ms:g} is above max_speed_ms "
                f"{self.max_speed_ms:g}"
            )
        return self

    @property
    def usable_endurance_s(self) -> float:
        """Flight time before the battery reserve is reached."""
        return self.endurance_min * 60.0 * (1.0 - self.battery_reserve_pct / 100.0)


SECTIONS: dict[str, type[_Strict]] = {"cameras": CameraConfig, "airframes": AirframeConfig}


def read_yaml(path: Path) -> Any:
    """Parse a YAML file, turning every failure into a ConfigError that names the file."""
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError(str(path), None, "file not found") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(str(path), None, f"cannot read: {exc}") from None
    try:
        return yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"line {mark.line + 1}, column {mark.column + 1}" if mark else None
        problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
        raise ConfigError(str(path), where, f"not valid YAML: {problem}") from None


def validate(model: type[M], data: Any, source: str, key: str) -> M:
    """Validate `data` against `model`; errors name `source` and the dotted key."""
    if not isinstance(data, Mapping):
        raise ConfigError(source, key, f"expected a mapping of fields, got {_kind(data)}")
    try:
        return model.model_validate(dict(data))
    except ValidationError as exc:
        raise _config_error(exc, source, key, model) from None


def _config_error(
    exc: ValidationError, source: str, key: str, model: type[BaseModel]
) -> ConfigError:
    err = exc.errors(include_url=False)[0]
    loc = ".".join(str(p) for p in err["loc"])
    full_key = f"{key}.{loc}" if loc else key
    if err["type"] == "extra_forbidden":
        known = ", ".join(f for f in model.model_fields if f != "name")
        reason = f"unknown key; known keys are: {known}"
    elif err["type"] == "missing":
        reason = "required key is missing"
    else:
        reason = err["msg"].removeprefix("Value error, ")
        if "input" in err and not isinstance(err["input"], Mapping):
            reason += f" (got {err['input']!r})"
    more = len(exc.errors()) - 1
    if more:
        reason += f" (and {more} more problem{'s' if more > 1 else ''} in this entry)"
    return ConfigError(source, full_key, reason)


def _kind(value: Any) -> str:
    return "nothing" if value is None else type(value).__name__


def default_user_file() -> Path | None:
    env = os.environ.get("GROUNDCTL_CONFIG")
    if env:
        return Path(env)
    home = Path.home() / ".config" / "groundctl" / "config.yaml"
    return home if home.is_file() else None


def _mapping(data: Any, source: str, key: str | None) -> Mapping[str, Any]:
    if data is None:
        return {}
    if not isinstance(data, Mapping):
        raise ConfigError(source, key, f"expected a mapping, got {_kind(data)}")
    return data


# Top-level sections of a user config file; catalogues and the settings other modules load.
USER_SECTIONS: frozenset[str] = frozenset(
    {*SECTIONS, "fleet", "dispatch", "operation", "planner", "web"}
)


def read_user_file(path: Path) -> Mapping[str, Any]:
    doc = _mapping(read_yaml(path), str(path), None)
    for section in doc:
        if section not in USER_SECTIONS:
            raise ConfigError(
                str(path),
                str(section),
                f"unknown section; known sections are: {', '.join(sorted(USER_SECTIONS))}",
            )
    return doc


@cache
def _catalog_cached(section: str, user_file: Path | None) -> dict[str, Any]:
    builtin_path = CONFIG_DIR / f"{section}.yaml"
    sources: list[tuple[str, Mapping[str, Any]]] = [
        (str(builtin_path), _mapping(read_yaml(builtin_path), str(builtin_path), None))
    ]
    if user_file is not None:
        user = read_user_file(user_file)
        sources.append((str(user_file), _mapping(user.get(section), str(user_file), section)))
    merged: dict[str, tuple[dict[str, Any], str]] = {}
    for source, entries in sources:
        for name, fields in entries.items():
            key = f"{section}.{name}"
            base, _ = merged.get(str(name), ({}, source))
            merged[str(name)] = ({**base, **_mapping(fields, source, key)}, source)
    model = SECTIONS[section]
    return {
        name: validate(model, {**fields, "name": name}, source, f"{section}.{name}")
        for name, (fields, source) in merged.items()
    }


def catalog(section: str, user_file: Path | None = None) -> dict[str, Any]:
    """All entries of a section, built-ins merged with the user file, validated."""
    if section not in SECTIONS:
        raise ConfigError("groundctl", section, f"no such catalogue; known: {', '.join(SECTIONS)}")
    return _catalog_cached(section, user_file.resolve() if user_file else None)


def lookup(section: str, name: str, user_file: Path | None = None) -> Any:
    entries = catalog(section, user_file)
    try:
        return entries[name]
    except KeyError:
        singular = section.removesuffix("s")
        raise ConfigError(
            str(user_file or CONFIG_DIR / f"{section}.yaml"),
            None,
            f"no {singular} named '{name}'; known: {', '.join(sorted(entries))} "
            f"(see `groundctl configs list`)",
        ) from None


def camera(name: str, user_file: Path | None = None) -> CameraConfig:
    return lookup("cameras", name, user_file)


def airframe(name: str, user_file: Path | None = None) -> AirframeConfig:
    return lookup("airframes", name, user_file)


def camera_model(cam: CameraConfig) -> CameraModel:
    """The catalogue's camera as intrinsics for the thermal pipeline."""
    from thermal.camera import CameraModel

    return CameraModel.from_focal_length(
        cam.width_px,
        cam.height_px,
        cam.focal_length_mm,
        cam.pixel_pitch_um,
        distortion=cam.distortion,
        name=cam.name,
    )
