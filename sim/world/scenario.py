"""Scenario files: the YAML form of a simulated search (terrain, cover, weather, targets).

Positions are WGS84 ``[lat, lon]`` pairs (the order QGroundControl uses; GeoJSON exports
flip them). A minimal scenario::

    name: ditch-at-midnight
    seed: 7
    area: [[47.3970, 8.5450], [47.3970, 8.5500], [47.3940, 8.5500], [47.3940, 8.5450]]
    terrain: {kind: flat, elevation_m: 410}
    cover:
      default: grass
      patches:
        - {class: forest, polygon: [[...], ...], canopy_fraction: 0.6}
        - {class: road, line: [[...], [...]], width_m: 5}
    conditions: {preset: rainy_night}
    targets:
      - {id: missing, class: person, posture: lying, lat: 47.3955, lon: 8.5475}
      - {id: flock, class: sheep, lat: 47.3960, lon: 8.5470, count: 9, spread_m: 25}

Sections (every field optional except name and area):

* ``terrain``: ``kind`` flat | procedural (``relief_m`` peak to peak, ``feature_m``
  wavelength, ``seed``) | geotiff (``path`` to a north-up EPSG:4326 elevation GeoTIFF,
  relative to the scenario file); ``elevation_m`` base height AMSL; ``hollows``
  (lat, lon, radius_m, depth_m) and ``ditches`` (line, width_m, depth_m) carved into any kind.
* ``cover``: ``default`` class and ``patches`` of grass, field, bare, forest (with
  ``canopy_fraction`` and ``canopy_height_m``), rock, water, road, roof; each a ``polygon`` or
  a ``line`` with ``width_m``; ``grass_height_m`` hides low targets.
* ``conditions``: ``preset`` clear_night | rainy_night | sunny_afternoon | overcast_day |
  dawn | dusk, and any of air_temp_c, rain_mm_h, cloud_cover, sun_elevation_deg,
  sun_azimuth_deg, humidity to override it.
* ``targets``: ``class`` person | child | sheep | dog | deer | cattle | car | campfire | rock |
  roof, ``posture`` (people: standing, sitting, crouching, lying), ``heading_deg``, optional
  ``temp_c`` and ``concealment`` (0..1) overrides, ``size_scale``, and ``count`` + ``spread_m``
  for a flock or herd (ids ``<id>-1``, ``<id>-2``, ...; placed from the scenario's ``seed``).
* ``gimbal``: the drones' camera mount (`sim.gimbal.GimbalSpec`): ``mode`` stabilised
  (default: earth-frame pitch, roll 0, yaw following the heading) | fixed (tilts with the
  body), ``pitch_deg`` (default -90, nadir), ``yaw_deg``, joint limits, ``residual_deg``.

Every error names the file, the dotted key and the reason, like the groundctl config loader.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from sim.errors import SimError
from sim.gimbal import GimbalSpec

CoverClass = Literal["grass", "forest", "rock", "water", "road", "field", "bare", "roof"]
TargetClass = Literal[
    "person", "child", "sheep", "dog", "deer", "cattle", "car", "campfire", "rock", "roof"
]
Posture = Literal["standing", "sitting", "lying", "crouching"]
Preset = Literal["clear_night", "rainy_night", "sunny_afternoon", "overcast_day", "dawn", "dusk"]


class ScenarioError(SimError):
    """A scenario file is unreadable or invalid: names the file, the key and the reason."""

    def __init__(self, file: str, key: str | None, reason: str) -> None:
        self.file, self.key, self.reason = file, key, reason
        where = f"{file}: {key}" if key else file
        super().__init__(f"{where}: {reason}")


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)


LatLon = tuple[float, float]


class Hollow(_Strict):
    """A bowl-shaped dip (a hollow, a sinkhole): smooth, `depth_m` deep at the centre."""

    lat: float = Field(ge=-90, le=90)
    lon: float = Field(ge=-180, le=180)
    radius_m: float = Field(gt=0, le=500)
    depth_m: float = Field(gt=0, le=50)


class Ditch(_Strict):
    """A ditch or gully along a polyline, `width_m` across its rim."""

    line: list[LatLon] = Field(min_length=2)
    width_m: float = Field(gt=0, le=50)
    depth_m: float = Field(gt=0, le=20)


class TerrainSpec(_Strict):
    kind: Literal["flat", "procedural", "geotiff"] = "flat"
    elevation_m: float = Field(default=0.0, ge=-500, le=9000)
    # procedural: fractal noise of this amplitude (peak to peak) and feature wavelength
    relief_m: float = Field(default=40.0, ge=0, le=3000)
    feature_m: float = Field(default=400.0, gt=5, le=20000)
    seed: int | None = None
    # geotiff: a north-up elevation raster in EPSG:4326 (GeoTIFF tie point + pixel scale)
    path: str | None = None
    resolution_m: float | None = Field(default=None, gt=0.05, le=100)
    hollows: list[Hollow] = []
    ditches: list[Ditch] = []

    @model_validator(mode="after")
    def _kind_fields(self) -> TerrainSpec:
        if self.kind == "geotiff" and not self.path:
            raise ValueError("kind 'geotiff' needs 'path' (a GeoTIFF elevation file)")
        if self.kind != "geotiff" and self.path:
            raise ValueError(f"'path' is only used with kind 'geotiff', not {self.kind!r}")
        return self


class CoverPatch(_Strict):
    cover: CoverClass = Field(alias="class")
    polygon: list[LatLon] | None = Field(default=None, min_length=3)
    line: list[LatLon] | None = Field(default=None, min_length=2)
    width_m: float = Field(default=4.0, gt=0, le=200)
    canopy_fraction: float = Field(default=0.7, ge=0, le=1)
    canopy_height_m: float = Field(default=15.0, gt=0, le=80)
    grass_height_m: float | None = Field(default=None, ge=0, le=3)

    @model_validator(mode="after")
    def _one_shape(self) -> CoverPatch:
        if (self.polygon is None) == (self.line is None):
            raise ValueError("give exactly one of 'polygon' (an area) or 'line' (with width_m)")
        return self


class CoverSpec(_Strict):
    default: CoverClass = "grass"
    grass_height_m: float = Field(default=0.15, ge=0, le=3)
    patches: list[CoverPatch] = []


class Conditions(_Strict):
    """Time of day and weather. A preset fills every field not given explicitly."""

    preset: Preset = "clear_night"
    air_temp_c: float | None = Field(default=None, ge=-50, le=55)
    rain_mm_h: float | None = Field(default=None, ge=0, le=200)
    cloud_cover: float | None = Field(default=None, ge=0, le=1)
    sun_elevation_deg: float | None = Field(default=None, ge=-90, le=90)
    sun_azimuth_deg: float | None = Field(default=None, ge=0, le=360)
    humidity: float | None = Field(default=None, ge=0, le=1)


class TargetSpec(_Strict):
    id: str | None = None
    target: TargetClass = Field(alias="class")
    posture: Posture | None = None
    lat: float = Field(ge=-90, le=90)
    lon: float = Field(ge=-180, le=180)
    heading_deg: float = Field(default=0.0, ge=-360, le=360)
    # Overrides of the class model: apparent surface temperature and how hidden it is.
    temp_c: float | None = Field(default=None, ge=-50, le=1200)
    concealment: float | None = Field(default=None, ge=0, le=1)
    size_scale: float = Field(default=1.0, gt=0.2, le=5)
    # A group (flock, herd): `count` individuals scattered within `spread_m` of lat/lon.
    count: int = Field(default=1, ge=1, le=500)
    spread_m: float = Field(default=0.0, ge=0, le=2000)

    @model_validator(mode="after")
    def _posture(self) -> TargetSpec:
        if self.posture is not None and self.target not in ("person", "child"):
            raise ValueError(f"posture applies to people only, not to {self.target!r}")
        if self.count > 1 and self.spread_m <= 0:
            raise ValueError("a group (count > 1) needs spread_m > 0")
        return self


class ScenarioSpec(_Strict):
    name: str = Field(min_length=1)
    description: str = ""
    seed: int = 0
    area: list[LatLon] = Field(min_length=3)
    margin_m: float = Field(default=250.0, ge=0, le=5000)
    terrain: TerrainSpec = TerrainSpec()
    cover: CoverSpec = CoverSpec()
    conditions: Conditions = Conditions()
    targets: list[TargetSpec] = []
    gimbal: GimbalSpec = GimbalSpec()

    @model_validator(mode="after")
    def _unique_ids(self) -> ScenarioSpec:
        seen: set[str] = set()
        for t in self.targets:
            if t.id is not None and t.id in seen:
                raise ValueError(f"target id {t.id!r} is used twice")
            if t.id is not None:
                seen.add(t.id)
        return self


def _kind(value: Any) -> str:
    return "nothing" if value is None else type(value).__name__


def read_scenario_yaml(path: Path) -> Any:
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ScenarioError(str(path), None, "file not found") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ScenarioError(str(path), None, f"cannot read: {exc}") from None
    try:
        return yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"line {mark.line + 1}, column {mark.column + 1}" if mark else None
        problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
        raise ScenarioError(str(path), where, f"not valid YAML: {problem}") from None


def parse_scenario(data: Any, source: str) -> ScenarioSpec:
    """Validate a parsed YAML document; errors name `source`, the dotted key and the reason."""
    if not isinstance(data, Mapping):
        raise ScenarioError(source, None, f"expected a mapping of fields, got {_kind(data)}")
    try:
        return ScenarioSpec.model_validate(dict(data))
    except ValidationError as exc:
        raise _scenario_error(exc, source) from None


def read_scenario(path: str | Path) -> ScenarioSpec:
    p = Path(path)
    return parse_scenario(read_scenario_yaml(p), str(p))


_MODELS_BY_KEY: dict[str, type[BaseModel]] = {
    "terrain": TerrainSpec,
    "cover": CoverSpec,
    "conditions": Conditions,
    "targets": TargetSpec,
    "patches": CoverPatch,
    "hollows": Hollow,
    "ditches": Ditch,
    "gimbal": GimbalSpec,
}


def _scenario_error(exc: ValidationError, source: str) -> ScenarioError:
    err = exc.errors(include_url=False)[0]
    loc = [str(p) for p in err["loc"]]
    key = ".".join(loc)
    if err["type"] == "extra_forbidden":
        # The model the unknown key sits in: the nearest named section above it.
        model: type[BaseModel] = ScenarioSpec
        for part in reversed(loc[:-1]):
            if part in _MODELS_BY_KEY:
                model = _MODELS_BY_KEY[part]
                break
        known = ", ".join(f.alias or name for name, f in model.model_fields.items())
        reason = f"unknown key; known keys are: {known}"
    elif err["type"] == "missing":
        reason = "required key is missing"
    else:
        reason = err["msg"].removeprefix("Value error, ")
        if "input" in err and not isinstance(err["input"], Mapping | list):
            reason += f" (got {err['input']!r})"
    more = len(exc.errors()) - 1
    if more:
        reason += f" (and {more} more problem{'s' if more > 1 else ''})"
    return ScenarioError(source, key or None, reason)
