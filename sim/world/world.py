"""The simulated world: terrain, ground cover, weather and targets on one local metric grid.

Everything a camera needs is baked at load time into rasters over the search area plus a
margin (x east, y north, metres, sample i at ``x0 + i * res_m``), so that rendering is a few
vectorised look-ups per frame: elevation (m AMSL), background apparent temperature (°C),
canopy crowns (0/1) and canopy height (m), grass height (m).
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import cv2
import numpy as np
from numpy.typing import NDArray

from missions.geodesy import LocalFrame
from sim.world import shapes
from sim.world.grid import Grid, fractal_noise
from sim.world.heat import TargetHeat, Weather, cover_temp_c, target_heat
from sim.world.scenario import ScenarioError, ScenarioSpec, TargetSpec, read_scenario
from sim.world.terrain import build_elevation

COVER_CLASSES = ("grass", "field", "bare", "forest", "rock", "water", "road", "roof")
_GRASS_DEFAULT = {"field": 0.4, "forest": 0.25}
MAX_GRID = 2400  # samples per side; beyond it the resolution coarsens


@dataclass(frozen=True, eq=False)
class WorldTarget:
    id: str
    target: str  # class: person, sheep, car, ...
    posture: str | None
    lat: float
    lon: float
    x_m: float
    y_m: float
    ground_m: float  # terrain elevation under it (m AMSL)
    heading_deg: float
    parts: tuple[shapes.Part, ...]
    heat: TargetHeat
    grass_occlusion: float  # share of its surface hidden by grass/vegetation, 0..1
    canopy_cover: float  # share of its footprint under tree crowns (seen from above), 0..1

    @property
    def visible_fraction(self) -> float:
        """Share of the target a camera straight above would see."""
        return (1.0 - self.grass_occlusion) * (1.0 - self.canopy_cover)

    @property
    def is_person(self) -> bool:
        return self.target in ("person", "child")


@dataclass(frozen=True, eq=False)
class World:
    name: str
    spec: ScenarioSpec
    source: str
    frame: LocalFrame
    grid: Grid
    weather: Weather
    elevation_m: NDArray[np.float32]
    cover: NDArray[np.uint8]  # index into COVER_CLASSES
    canopy: NDArray[np.float32]  # 1 where a tree crown is
    canopy_height_m: NDArray[np.float32]
    grass_height_m: NDArray[np.float32]
    background_c: NDArray[np.float32]
    targets: tuple[WorldTarget, ...]
    area_xy: NDArray[np.float64] = field(repr=False)

    # --- queries ---------------------------------------------------------------------------

    def elevation_at(self, lat: Any, lon: Any) -> NDArray[np.float64]:
        """Ground elevation (m AMSL) at WGS84 points, vectorised."""
        x, y = self.frame.to_local(np.asarray(lat, float), np.asarray(lon, float))
        return self.grid.sample(self.elevation_m, x, y)

    def cover_at(self, lat: float, lon: float) -> str:
        x, y = self.frame.to_local(lat, lon)
        u, v = self.grid.to_px(x, y)
        i = int(np.clip(round(float(u)), 0, self.grid.cols - 1))
        j = int(np.clip(round(float(v)), 0, self.grid.rows - 1))
        return COVER_CLASSES[int(self.cover[j, i])]

    @property
    def home_elevation_m(self) -> float:
        """Ground elevation at the area's centre: the take-off height `alt_rel_m` refers to."""
        x, y = self.area_xy.mean(axis=0)
        return float(self.grid.sample(self.elevation_m, x, y))

    @property
    def area_latlon(self) -> list[tuple[float, float]]:
        return [(float(a), float(b)) for a, b in self.spec.area]

    def area_geojson(self) -> dict[str, Any]:
        """The search area as a GeoJSON FeatureCollection, ready for the planner."""
        ring = [[lon, lat] for lat, lon in self.area_latlon]
        if ring[0] != ring[-1]:
            ring.append(ring[0])
        return {
            "type": "FeatureCollection",
            "features": [
                {
                    "type": "Feature",
                    "properties": {"name": self.name, "scenario": self.source},
                    "geometry": {"type": "Polygon", "coordinates": [ring]},
                }
            ],
        }

    def ground_truth(self) -> list[dict[str, Any]]:
        """Every target: id, class, posture, position, temperature and visible fraction."""
        return [
            {
                "id": t.id,
                "class": t.target,
                "posture": t.posture,
                "lat": round(t.lat, 8),
                "lon": round(t.lon, 8),
                "ground_amsl_m": round(t.ground_m, 2),
                "heading_deg": t.heading_deg,
                "person": t.is_person,
                "temp_c": round(t.heat.body_c, 2),
                "visible_fraction": round(t.visible_fraction, 3),
                "canopy_cover": round(t.canopy_cover, 3),
                "grass_occlusion": round(t.grass_occlusion, 3),
            }
            for t in self.targets
        ]

    def ground_truth_geojson(self) -> dict[str, Any]:
        feats = [
            {
                "type": "Feature",
                "id": g["id"],
                "properties": {k: v for k, v in g.items() if k not in ("lat", "lon")},
                "geometry": {"type": "Point", "coordinates": [g["lon"], g["lat"]]},
            }
            for g in self.ground_truth()
        ]
        return {
            "type": "FeatureCollection",
            "properties": {"scenario": self.name, "weather": self.weather.preset},
            "features": feats,
        }

    def write_ground_truth(self, path: str | Path) -> Path:
        """JSON list (``.json``) or GeoJSON FeatureCollection (``.geojson``) by suffix."""
        p = Path(path)
        doc: Any = (
            self.ground_truth_geojson() if p.suffix.lower() == ".geojson" else self.ground_truth()
        )
        p.write_text(json.dumps(doc, indent=2) + "\n", encoding="utf-8")
        return p


# --- building ----------------------------------------------------------------------------------


def load_scenario(path: str | Path) -> World:
    """Read, validate and build a scenario file into a World (raises ScenarioError)."""
    p = Path(path)
    return build_world(read_scenario(p), str(p), base_dir=p.parent)


def build_world(spec: ScenarioSpec, source: str, base_dir: Path | None = None) -> World:
    lats = np.array([a for a, _ in spec.area])
    lons = np.array([b for _, b in spec.area])
    try:
        frame = LocalFrame.for_area(lats, lons)
    except Exception as exc:  # AreaError from missions: report it against the scenario
        raise ScenarioError(source, "area", str(exc)) from None
    area_xy = frame.latlon_to_xy(np.column_stack([lats, lons]))
    _check_points(spec, frame, area_xy, source)

    lo = area_xy.min(axis=0) - spec.margin_m
    hi = area_xy.max(axis=0) + spec.margin_m
    span = float(max(hi - lo))
    res = spec.terrain.resolution_m or max(0.5, span / MAX_GRID)
    cols = math.ceil((hi[0] - lo[0]) / res) + 1
    rows = math.ceil((hi[1] - lo[1]) / res) + 1
    grid = Grid(float(lo[0]), float(lo[1]), float(res), cols, rows)
    rng_seed = spec.terrain.seed if spec.terrain.seed is not None else spec.seed

    elevation = build_elevation(spec.terrain, frame, grid, rng_seed, source, base_dir)
    weather = Weather.from_conditions(spec.conditions)
    cover, canopy_frac, canopy_h, grass_h = _rasterise_cover(spec, frame, grid)
    canopy = _canopy_crowns(canopy_frac, grid, spec.seed)
    background = _background(cover, elevation, grid, weather, spec.seed)
    targets = _resolve_targets(spec, frame, grid, elevation, canopy, grass_h, weather)
    return World(
        name=spec.name,
        spec=spec,
        source=source,
        frame=frame,
        grid=grid,
        weather=weather,
        elevation_m=elevation,
        cover=cover,
        canopy=canopy,
        canopy_height_m=np.where(canopy > 0, canopy_h, 0).astype(np.float32),
        grass_height_m=grass_h,
        background_c=background,
        targets=targets,
        area_xy=area_xy,
    )


def _check_points(spec: ScenarioSpec, frame: LocalFrame, area_xy: NDArray, source: str) -> None:
    """Targets and features must lie within the area plus its margin."""
    lo = area_xy.min(axis=0) - spec.margin_m
    hi = area_xy.max(axis=0) + spec.margin_m
    for i, t in enumerate(spec.targets):
        x, y = frame.to_local(t.lat, t.lon)
        if not (lo[0] <= x <= hi[0] and lo[1] <= y <= hi[1]):
            raise ScenarioError(
                source,
                f"targets.{i}",
                f"target at {t.lat:.6f},{t.lon:.6f} is {_dist_out(x, y, lo, hi):.0f} m outside "
                f"the area and its margin ({spec.margin_m:g} m); move it or widen margin_m",
            )


def _dist_out(x: float, y: float, lo: NDArray, hi: NDArray) -> float:
    dx = max(lo[0] - x, 0.0, x - hi[0])
    dy = max(lo[1] - y, 0.0, y - hi[1])
    return math.hypot(dx, dy)


def _px(frame: LocalFrame, grid: Grid, latlon: list[tuple[float, float]]) -> NDArray[np.int32]:
    """WGS84 points -> int32 pixel coordinates with 4 fractional bits (cv2 `shift=4`)."""
    xy = frame.latlon_to_xy(np.asarray(latlon, float))
    u, v = grid.to_px(xy[:, 0], xy[:, 1])
    return np.round(np.column_stack([u, v]) * 16).astype(np.int32)


def _rasterise_cover(
    spec: ScenarioSpec, frame: LocalFrame, grid: Grid
) -> tuple[NDArray[np.uint8], NDArray[np.float32], NDArray[np.float32], NDArray[np.float32]]:
    shape = (grid.rows, grid.cols)
    default = spec.cover.default
    cover = np.full(shape, COVER_CLASSES.index(default), np.uint8)
    canopy_frac = np.zeros(shape, np.float32)
    canopy_h = np.zeros(shape, np.float32)
    grass_default = (
        spec.cover.grass_height_m if default == "grass" else _GRASS_DEFAULT.get(default, 0)
    )
    grass = np.full(shape, grass_default, np.float32)
    if default == "forest":
        canopy_frac[:] = 0.7
        canopy_h[:] = 15.0
    for patch in spec.cover.patches:
        mask = np.zeros(shape, np.uint8)
        if patch.polygon is not None:
            cv2.fillPoly(mask, [_px(frame, grid, patch.polygon)], 1, cv2.LINE_8, shift=4)
        else:
            thick = max(1, round(patch.width_m / grid.res_m))
            pts = _px(frame, grid, patch.line or []) // 16
            cv2.polylines(mask, [pts], False, 1, thickness=thick)
        m = mask.astype(bool)
        cover[m] = COVER_CLASSES.index(patch.cover)
        grass_h = patch.grass_height_m
        if grass_h is None:
            grass_h = spec.cover.grass_height_m if patch.cover == "grass" else 0.0
            grass_h = _GRASS_DEFAULT.get(patch.cover, grass_h)
        grass[m] = grass_h
        canopy_frac[m] = patch.canopy_fraction if patch.cover == "forest" else 0.0
        canopy_h[m] = patch.canopy_height_m if patch.cover == "forest" else 0.0
    return cover, canopy_frac, canopy_h, grass


def _canopy_crowns(frac: NDArray[np.float32], grid: Grid, seed: int) -> NDArray[np.float32]:
    """Tree crowns covering `frac` of each forest patch: blobs ~7 m across."""
    if not np.any(frac > 0):
        return np.zeros_like(frac)
    noise = fractal_noise(frac.shape, 7.0 / grid.res_m, seed + 101, octaves=2)
    crowns = np.zeros_like(frac)
    for level in np.unique(frac[frac > 0]):
        m = frac == level
        thresh = np.quantile(noise[m], 1.0 - float(level))
        crowns[m & (noise > thresh)] = 1.0
    return crowns


def _background(
    cover: NDArray[np.uint8], elevation: NDArray[np.float32], grid: Grid, w: Weather, seed: int
) -> NDArray[np.float32]:
    table = [cover_temp_c(c, w) for c in COVER_CLASSES]
    mean = np.array([t for t, _ in table], np.float32)[cover]
    amp = np.array([a for _, a in table], np.float32)[cover]
    # Patchiness from tussocks (~1 m) to drainage and soil moisture (~20 m).
    texture = fractal_noise(cover.shape, 20.0 / grid.res_m, seed + 7, octaves=6, persistence=0.75)
    bg = mean + amp * texture
    # Soften class edges a little: real boundaries are not one sample sharp.
    bg = cv2.GaussianBlur(bg, (0, 0), 0.6)
    # Terrain: at night cold air drains into hollows; by day sun-facing slopes warm up.
    local_mean = cv2.blur(elevation, (max(3, int(60 / grid.res_m)) | 1,) * 2)
    if w.sun <= 0.05:
        pooling = np.clip(local_mean - elevation, 0, 20) * 0.35 * (1 - w.cloud_cover * 0.7)
        bg -= pooling.astype(np.float32)
    if w.sun > 0:
        gy, gx = np.gradient(elevation.astype(np.float32), grid.res_m)
        az, el = math.radians(w.sun_azimuth_deg), math.radians(max(w.sun_elevation_deg, 0))
        sun = np.array([math.sin(az) * math.cos(el), math.cos(az) * math.cos(el), math.sin(el)])
        norm = np.sqrt(gx * gx + gy * gy + 1)
        incidence = (-gx * sun[0] - gy * sun[1] + sun[2]) / norm
        bg += (np.clip(incidence, 0, None) - sun[2]) * 12.0 * w.sun
    return bg.astype(np.float32)


def _resolve_targets(
    spec: ScenarioSpec,
    frame: LocalFrame,
    grid: Grid,
    elevation: NDArray[np.float32],
    canopy: NDArray[np.float32],
    grass_h: NDArray[np.float32],
    w: Weather,
) -> tuple[WorldTarget, ...]:
    out: list[WorldTarget] = []
    rng = np.random.default_rng(spec.seed + 3)
    for index, t in enumerate(spec.targets):
        x0, y0 = frame.to_local(t.lat, t.lon)
        base_id = t.id or f"{t.target}-{index + 1}"
        if t.count == 1:
            members = [(base_id, float(x0), float(y0), t.heading_deg)]
        else:
            r = t.spread_m * np.sqrt(rng.uniform(0, 1, t.count))
            a = rng.uniform(0, 2 * np.pi, t.count)
            headings = rng.uniform(0, 360, t.count)
            members = [
                (
                    f"{base_id}-{k + 1}",
                    x0 + r[k] * np.sin(a[k]),
                    y0 + r[k] * np.cos(a[k]),
                    headings[k],
                )
                for k in range(t.count)
            ]
        for tid, x, y, heading in members:
            out.append(
                _target(
                    t,
                    tid,
                    float(x),
                    float(y),
                    float(heading),
                    frame,
                    grid,
                    elevation,
                    canopy,
                    grass_h,
                    w,
                )
            )
    return tuple(out)


def _target(
    t: TargetSpec,
    tid: str,
    x: float,
    y: float,
    heading: float,
    frame: LocalFrame,
    grid: Grid,
    elevation: NDArray[np.float32],
    canopy: NDArray[np.float32],
    grass_h: NDArray[np.float32],
    w: Weather,
) -> WorldTarget:
    posture = t.posture or ("standing" if t.target in ("person", "child") else None)
    parts = shapes.parts_for(t.target, posture, t.size_scale)
    lat, lon = frame.to_wgs84(x, y)
    ground = float(grid.sample(elevation, x, y))
    # Canopy over the footprint: sample crowns on a disc the size of the target.
    radius = max(max(p.semi[0], p.semi[1]) + abs(p.centre[0]) for p in parts)
    ox, oy = np.meshgrid(np.linspace(-radius, radius, 9), np.linspace(-radius, radius, 9))
    inside = ox**2 + oy**2 <= radius**2
    canopy_cover = float(np.mean(grid.sample(canopy, x + ox[inside], y + oy[inside])))
    if t.concealment is not None:
        grass_occ = t.concealment
    else:
        grass = float(grid.sample(grass_h, x, y))
        # Taller grass hides more of a lower body, saturating: some heat always leaks through.
        grass_occ = 0.75 * (1.0 - math.exp(-grass / shapes.height_m(parts)))
    return WorldTarget(
        id=tid,
        target=t.target,
        posture=posture,
        lat=float(lat),
        lon=float(lon),
        x_m=x,
        y_m=y,
        ground_m=ground,
        heading_deg=heading % 360.0,
        parts=parts,
        heat=target_heat(t.target, w, t.temp_c),
        grass_occlusion=grass_occ,
        canopy_cover=canopy_cover,
    )
