"""Elevation models on the world grid: flat, procedural (fractal noise) or a GeoTIFF DEM,
with hollows and ditches carved in (the places people and sheep are found in)."""

from __future__ import annotations

import contextlib
from pathlib import Path

import cv2
import numpy as np
from numpy.typing import NDArray

from missions.geodesy import LocalFrame
from sim.world.grid import Grid, fractal_noise
from sim.world.scenario import ScenarioError, TerrainSpec

# GeoTIFF tags (GeoTIFF 1.1): pixel scale, tie point, GeoKey directory.
_PIXEL_SCALE, _TIEPOINT, _GEOKEYS, _NODATA = 33550, 33922, 34735, 42113
_GEOGRAPHIC_TYPE, _PROJECTED_TYPE, _RASTER_TYPE = 2048, 3072, 1025


def build_elevation(
    spec: TerrainSpec,
    frame: LocalFrame,
    grid: Grid,
    seed: int,
    source: str,
    base_dir: Path | None,
) -> NDArray[np.float32]:
    shape = (grid.rows, grid.cols)
    if spec.kind == "flat":
        elev = np.full(shape, spec.elevation_m, np.float32)
    elif spec.kind == "procedural":
        noise = fractal_noise(shape, spec.feature_m / grid.res_m, seed + 11, octaves=6)
        # Scale to `relief_m` peak to peak (about +-2.5 sigma).
        elev = (spec.elevation_m + noise * (spec.relief_m / 5.0)).astype(np.float32)
    else:
        path = Path(spec.path or "")
        if not path.is_absolute() and base_dir is not None:
            path = base_dir / path
        elev = read_geotiff_dem(path, frame, grid, source)
    _carve(elev, spec, frame, grid)
    return elev


def _carve(elev: NDArray[np.float32], spec: TerrainSpec, frame: LocalFrame, grid: Grid) -> None:
    if not spec.hollows and not spec.ditches:
        return
    gx, gy = grid.xy()
    for h in spec.hollows:
        cx, cy = frame.to_local(h.lat, h.lon)
        r2 = ((gx - cx) ** 2 + (gy - cy) ** 2) / h.radius_m**2
        elev -= (h.depth_m * np.clip(1.0 - r2, 0, None) ** 2).astype(np.float32)
    for d in spec.ditches:
        xy = frame.latlon_to_xy(np.asarray(d.line, float))
        u, v = grid.to_px(xy[:, 0], xy[:, 1])
        line = np.zeros(elev.shape, np.uint8)
        pts = np.round(np.column_stack([u, v]) * 16).astype(np.int32)
        cv2.polylines(line, [pts], False, 255, thickness=1, shift=4)
        # Distance (m) from every sample to the ditch's centre line.
        dist = cv2.distanceTransform(255 - line, cv2.DIST_L2, 5) * grid.res_m
        half = d.width_m / 2.0
        profile = np.clip(1.0 - (dist / half) ** 2, 0, None)
        elev -= (d.depth_m * profile).astype(np.float32)


def read_geotiff_dem(path: Path, frame: LocalFrame, grid: Grid, source: str) -> NDArray[np.float32]:
    """A north-up GeoTIFF elevation raster in geographic WGS84 (EPSG:4326) degrees,
    resampled bilinearly onto the world grid."""
    import tifffile

    key = "terrain.path"
    if not path.is_file():
        raise ScenarioError(source, key, f"GeoTIFF {path} not found")
    try:
        with tifffile.TiffFile(path) as tif:
            page = tif.pages[0]
            data = page.asarray().astype(np.float64)
            tags = page.tags
            scale = tags[_PIXEL_SCALE].value if _PIXEL_SCALE in tags else None
            tie = tags[_TIEPOINT].value if _TIEPOINT in tags else None
            geokeys = tags[_GEOKEYS].value if _GEOKEYS in tags else None
            nodata = tags[_NODATA].value if _NODATA in tags else None
    except (OSError, ValueError, tifffile.TiffFileError) as exc:
        raise ScenarioError(source, key, f"cannot read GeoTIFF {path}: {exc}") from None
    if data.ndim != 2:
        raise ScenarioError(
            source, key, f"{path}: expected one band of elevations, got {data.shape}"
        )
    if scale is None or tie is None:
        raise ScenarioError(
            source, key, f"{path}: no GeoTIFF georeference (ModelPixelScale + ModelTiepoint)"
        )
    if geokeys is not None and _geokey(geokeys, _PROJECTED_TYPE) is not None:
        raise ScenarioError(
            source,
            key,
            f"{path}: projected CRS (EPSG:{_geokey(geokeys, _PROJECTED_TYPE)}) is not supported; "
            "reproject it to EPSG:4326 (gdalwarp -t_srs EPSG:4326)",
        )
    if geokeys is not None and _geokey(geokeys, _GEOGRAPHIC_TYPE) not in (None, 4326):
        raise ScenarioError(source, key, f"{path}: geographic CRS must be EPSG:4326 (WGS84)")
    if nodata is not None:
        with contextlib.suppress(ValueError):
            data[data == float(str(nodata).strip("\x00"))] = np.nan
    i0, j0, _, lon0, lat0, _ = (float(v) for v in tie[:6])
    dlon, dlat = float(scale[0]), float(scale[1])
    # PixelIsArea (default): the tie point is the corner of pixel (0, 0); centres are half in.
    pixel_is_point = geokeys is not None and _geokey(geokeys, _RASTER_TYPE) == 2
    half = 0.0 if pixel_is_point else 0.5
    gx, gy = grid.xy()
    lat, lon = frame.to_wgs84(gx.ravel(), gy.ravel())
    col = (np.asarray(lon) - lon0) / dlon + i0 - half
    row = (lat0 - np.asarray(lat)) / dlat + j0 - half
    rows, cols = data.shape
    outside = (col < -0.5) | (col > cols - 0.5) | (row < -0.5) | (row > rows - 0.5)
    if outside.mean() > 0.01:
        raise ScenarioError(
            source,
            key,
            f"{path} covers only {100 * (1 - outside.mean()):.0f}% of the area and its margin; "
            "use a larger DEM or a smaller margin_m",
        )
    filled = np.where(np.isnan(data), np.nanmean(data), data).astype(np.float32)
    out = cv2.remap(
        filled,
        col.reshape(gx.shape).astype(np.float32),
        row.reshape(gx.shape).astype(np.float32),
        cv2.INTER_LINEAR,
        borderMode=cv2.BORDER_REPLICATE,
    )
    return out.astype(np.float32)


def _geokey(directory: tuple[int, ...], key_id: int) -> int | None:
    """Value of a SHORT GeoKey stored inline in the GeoKeyDirectory, if present."""
    d = list(directory)
    for k in range(4, len(d) - 3, 4):
        if d[k] == key_id and d[k + 1] == 0:
            return int(d[k + 3])
    return None
