"""Digital elevation models from GeoTIFF, and terrain-following waypoints.

`Dem.read` reads a single-band GeoTIFF with tifffile and the GeoTIFF tags
ModelPixelScale (33550), ModelTiepoint (33922) and GeoKeyDirectory (34735): geographic
WGS84 (EPSG:4326) or any projected EPSG code pyproj knows, PixelIsArea or PixelIsPoint,
GDAL_NODATA (42113) honoured. `Dem.elevation(lat, lon)` interpolates bilinearly, vectorised.
`write_dem` writes such a file (for tests, the simulator, and users without GDAL).

`terrain_profile_points` adds waypoints to a path wherever the ground under a straight leg
departs from a straight line by more than a tolerance (Douglas-Peucker on the profile), so
a drone flying leg by leg keeps its height above ground within that tolerance.
"""

from __future__ import annotations

import contextlib
import itertools
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import shapely
import tifffile
from numpy.typing import ArrayLike, NDArray
from pyproj import CRS, Transformer

from missions.errors import PlanError
from missions.geodesy import LocalFrame

TAG_PIXEL_SCALE = 33550
TAG_TIEPOINT = 33922
TAG_GEOKEYS = 34735
TAG_NODATA = 42113
KEY_RASTER_TYPE = 1025
KEY_GEOGRAPHIC = 2048
KEY_PROJECTED = 3072
PIXEL_IS_POINT = 2


@dataclass(frozen=True)
class Dem:
    z: NDArray[np.float64]  # (rows, cols) metres above mean sea level
    x0: float  # CRS coordinate of the centre of pixel (0, 0)
    y0: float
    sx: float  # pixel size in CRS units, x to the right
    sy: float  # pixel size in CRS units, y downwards (positive)
    crs: CRS
    source: str = ""
    _to_crs: Transformer = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        tf = Transformer.from_crs(CRS.from_epsg(4326), self.crs, always_xy=True)
        object.__setattr__(self, "_to_crs", tf)

    @classmethod
    def read(cls, path: str | Path) -> Dem:
        p = Path(path)
        try:
            with tifffile.TiffFile(p) as tif:
                page = tif.pages[0]
                tags = {t.code: t.value for t in page.tags.values()}
                z = page.asarray().astype(np.float64)
        except FileNotFoundError:
            raise PlanError(f"{p}: DEM file not found") from None
        except Exception as exc:  # tifffile raises many types for a non-TIFF
            raise PlanError(f"{p}: not a readable GeoTIFF DEM ({exc})") from None
        if TAG_PIXEL_SCALE not in tags or TAG_TIEPOINT not in tags:
            raise PlanError(
                f"{p}: a TIFF without GeoTIFF georeferencing (ModelPixelScale/ModelTiepoint "
                "tags); export the DEM as a GeoTIFF"
            )
        if z.ndim == 3:
            z = z[..., 0] if z.shape[-1] < z.shape[0] else z[0]
        if z.ndim != 2:
            raise PlanError(f"{p}: expected a single-band elevation raster, got shape {z.shape}")
        sx, sy = float(tags[TAG_PIXEL_SCALE][0]), float(tags[TAG_PIXEL_SCALE][1])
        ti, tj, _, tx, ty, _ = (float(v) for v in tags[TAG_TIEPOINT][:6])
        keys = _geokeys(tags.get(TAG_GEOKEYS))
        epsg = keys.get(KEY_PROJECTED) or keys.get(KEY_GEOGRAPHIC) or 4326
        try:
            crs = CRS.from_epsg(int(epsg))
        except Exception:
            raise PlanError(f"{p}: unknown EPSG code {epsg} in the GeoTIFF keys") from None
        # Centre of pixel (0, 0): PixelIsArea tie points name a pixel's corner.
        half = 0.0 if keys.get(KEY_RASTER_TYPE) == PIXEL_IS_POINT else 0.5
        x0 = tx + (half - ti) * sx
        y0 = ty - (half - tj) * sy
        nodata = tags.get(TAG_NODATA)
        if nodata is not None:
            with contextlib.suppress(ValueError):
                z = np.where(z == float(str(nodata).strip("\x00 ")), np.nan, z)
        return cls(z, x0, y0, sx, sy, crs, str(p))

    @property
    def resolution_m(self) -> float:
        if self.crs.is_geographic:
            return float(self.sy * 111_320.0)
        return float(min(self.sx, self.sy))

    def elevation(self, lat: ArrayLike, lon: ArrayLike) -> NDArray[np.float64]:
        """Ground elevation (m AMSL) at each point, bilinear; PlanError off the DEM."""
        x, y = self._to_crs.transform(np.asarray(lon, float), np.asarray(lat, float))
        col = (np.asarray(x) - self.x0) / self.sx
        row = (self.y0 - np.asarray(y)) / self.sy
        rows, cols = self.z.shape
        if np.any((col < -0.5) | (col > cols - 0.5) | (row < -0.5) | (row > rows - 0.5)):
            raise PlanError(
                f"{self.source or 'DEM'}: the plan reaches beyond the DEM's coverage; give a "
                "DEM that covers the whole area and the launch points"
            )
        c = np.clip(col, 0, cols - 1)
        r = np.clip(row, 0, rows - 1)
        c0 = np.clip(np.floor(c).astype(int), 0, max(cols - 2, 0))
        r0 = np.clip(np.floor(r).astype(int), 0, max(rows - 2, 0))
        c1 = np.minimum(c0 + 1, cols - 1)
        r1 = np.minimum(r0 + 1, rows - 1)
        fc, fr = c - c0, r - r0
        z = self.z
        out = (
            z[r0, c0] * (1 - fc) * (1 - fr)
            + z[r0, c1] * fc * (1 - fr)
            + z[r1, c0] * (1 - fc) * fr
            + z[r1, c1] * fc * fr
        )
        if np.any(~np.isfinite(out)):
            raise PlanError(
                f"{self.source or 'DEM'}: no elevation (nodata) under part of the plan; fill "
                "the DEM's voids"
            )
        return out


def _geokeys(raw: object) -> dict[int, int]:
    if raw is None:
        return {}
    vals = [int(v) for v in raw]  # type: ignore[union-attr]
    out = {}
    for i in range(4, 4 + 4 * vals[3], 4):
        key, loc, _, value = vals[i : i + 4]
        if loc == 0:
            out[key] = value
    return out


def write_dem(
    path: str | Path,
    z: ArrayLike,
    west_lon: float,
    north_lat: float,
    step_deg: float | tuple[float, float],
) -> None:
    """Write a WGS84 GeoTIFF DEM: z[row, col], row 0 at `north_lat`, PixelIsArea."""
    sx, sy = (step_deg, step_deg) if np.isscalar(step_deg) else step_deg  # type: ignore[misc]
    geokeys = (1, 1, 0, 3, 1024, 0, 1, 2, 1025, 0, 1, 1, 2048, 0, 1, 4326)
    tifffile.imwrite(
        path,
        np.asarray(z, dtype=np.float32),
        extratags=[
            (TAG_PIXEL_SCALE, 12, 3, (float(sx), float(sy), 0.0), False),
            (TAG_TIEPOINT, 12, 6, (0.0, 0.0, 0.0, float(west_lon), float(north_lat), 0.0), False),
            (TAG_GEOKEYS, 3, len(geokeys), geokeys, False),
        ],
    )


def terrain_profile_points(
    frame: LocalFrame, dem: Dem, xy: NDArray[np.float64], tol_m: float
) -> tuple[NDArray[np.float64], NDArray[np.int64]]:
    """`xy` with points added where the ground departs from each leg's straight profile.

    Returns (points, source): source[j] = i for original point i, or -(i + 1) for a point
    inserted on the leg from i to i + 1.
    """
    xy = np.asarray(xy, dtype=float)
    if len(xy) < 2:
        return xy, np.arange(len(xy))
    step = max(dem.resolution_m, 1.0)
    seg = np.linalg.norm(np.diff(xy, axis=0), axis=1)
    n = np.maximum(np.ceil(seg / step).astype(int), 1)
    leg = np.repeat(np.arange(len(seg)), n + 1)
    t = np.concatenate([np.linspace(0, 1, k + 1) for k in n])
    pts = xy[leg] + (xy[leg + 1] - xy[leg]) * t[:, None]
    ll = frame.xy_to_latlon(pts)
    ground = dem.elevation(ll[:, 0], ll[:, 1])
    d = t * seg[leg]
    # Douglas-Peucker on each leg's (distance, elevation) profile, all legs at once.
    bounds = np.r_[0, np.cumsum(n + 1)]
    profiles = [
        shapely.LineString(np.column_stack([d[a:b], ground[a:b]]))
        for a, b in itertools.pairwise(bounds)
    ]
    kept, kidx = shapely.get_coordinates(
        shapely.simplify(np.array(profiles, dtype=object), tol_m, preserve_topology=False),
        return_index=True,
    )
    out_pts = [xy[:1]]
    out_src = [np.array([0])]
    for i in range(len(seg)):
        dk = kept[kidx == i][:, 0]
        inner = dk[(dk > 1e-6) & (dk < seg[i] - 1e-6)]
        if len(inner):
            u = inner / seg[i]
            out_pts.append(xy[i] + (xy[i + 1] - xy[i]) * u[:, None])
            out_src.append(np.full(len(inner), -(i + 1)))
        out_pts.append(xy[i + 1 : i + 2])
        out_src.append(np.array([i + 1]))
    return np.vstack(out_pts), np.concatenate(out_src)
