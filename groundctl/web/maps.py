"""Map backgrounds that work without the internet.

By default the page draws a blank background with a graticule. `web.tiles` (or `serve
--tiles`) gives either an XYZ URL template the browsers fetch from themselves, or a local
MBTiles / PMTiles file of raster tiles that this server serves at `/tiles/{z}/{x}/{y}`. A DEM
given to the planner (`serve --dem`) is also drawn as a hillshade.
"""

from __future__ import annotations

import sqlite3
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import cv2
import numpy as np
from pyproj import CRS, Transformer

from groundctl.errors import ConfigError
from missions.terrain import Dem

MEDIA = {"png": "image/png", "jpg": "image/jpeg", "jpeg": "image/jpeg", "webp": "image/webp"}


class TileSource:
    def media_type(self) -> str:
        raise NotImplementedError

    def tile(self, z: int, x: int, y: int) -> bytes | None:
        raise NotImplementedError


class MBTiles(TileSource):
    def __init__(self, path: Path) -> None:
        try:
            self.conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True, check_same_thread=False)
            meta = dict(self.conn.execute("SELECT name, value FROM metadata").fetchall())
        except sqlite3.Error as exc:
            raise ConfigError(str(path), "web.tiles", f"not an MBTiles file ({exc})") from None
        fmt = str(meta.get("format", "png")).lower()
        if fmt not in MEDIA:
            raise ConfigError(
                str(path), "web.tiles", f"tiles of format {fmt!r}; the map draws png, jpg or webp"
            )
        self.fmt = fmt
        self._lock = threading.Lock()

    def media_type(self) -> str:
        return MEDIA[self.fmt]

    def tile(self, z: int, x: int, y: int) -> bytes | None:
        with self._lock:
            row = self.conn.execute(
                "SELECT tile_data FROM tiles WHERE zoom_level = ? AND tile_column = ?"
                " AND tile_row = ?",
                (z, x, (1 << z) - 1 - y),  # MBTiles rows count from the south (TMS)
            ).fetchone()
        return bytes(row[0]) if row else None


class PMTiles(TileSource):
    def __init__(self, path: Path) -> None:
        from pmtiles.reader import MmapSource, Reader
        from pmtiles.tile import TileType

        self._fh = path.open("rb")
        try:
            self.reader = Reader(MmapSource(self._fh))
            kind = self.reader.header()["tile_type"]
        except Exception as exc:
            raise ConfigError(str(path), "web.tiles", f"not a PMTiles v3 file ({exc})") from None
        types = {TileType.PNG: "png", TileType.JPEG: "jpg", TileType.WEBP: "webp"}
        if kind not in types:
            raise ConfigError(
                str(path), "web.tiles", f"tiles of type {kind}; the map draws png, jpg or webp"
            )
        self.fmt = types[kind]
        self._lock = threading.Lock()

    def media_type(self) -> str:
        return MEDIA[self.fmt]

    def tile(self, z: int, x: int, y: int) -> bytes | None:
        with self._lock:
            return self.reader.get(z, x, y)


@dataclass(frozen=True)
class Background:
    kind: str  # "none" | "xyz" | "local"
    url: str | None = None
    attribution: str = ""
    source: TileSource | None = None

    def doc(self) -> dict[str, Any]:
        return {"kind": self.kind, "url": self.url, "attribution": self.attribution}


def background(tiles: str | None, attribution: str = "") -> Background:
    if not tiles:
        return Background("none")
    if tiles.startswith(("http://", "https://")):
        if not all(k in tiles for k in ("{z}", "{x}", "{y}")):
            raise ConfigError(
                "web.tiles", None, f"{tiles!r}: an XYZ URL needs {{z}}, {{x}} and {{y}}"
            )
        return Background("xyz", tiles, attribution)
    path = Path(tiles).expanduser()
    if not path.is_file():
        raise ConfigError("web.tiles", None, f"{path}: no such tile file (.mbtiles or .pmtiles)")
    if path.suffix.lower() == ".mbtiles":
        src: TileSource = MBTiles(path)
    elif path.suffix.lower() == ".pmtiles":
        src = PMTiles(path)
    else:
        raise ConfigError("web.tiles", None, f"{path}: give an .mbtiles or .pmtiles file")
    return Background("local", "tiles/{z}/{x}/{y}", attribution, src)


# ---------------------------------------------------------------------- hillshade
def hillshade(dem: Dem, azimuth_deg: float = 315.0, altitude_deg: float = 45.0) -> np.ndarray:
    """Shaded relief of the DEM grid (0..1), lit from `azimuth_deg` at `altitude_deg`."""
    z = np.where(np.isfinite(dem.z), dem.z, np.nanmean(dem.z))
    if dem.crs.is_geographic:
        lat = np.radians(dem.y0)
        dx, dy = dem.sx * 111_320.0 * np.cos(lat), dem.sy * 111_320.0
    else:
        dx, dy = dem.sx, dem.sy
    dz_dy, dz_dx = np.gradient(z, dy, dx)  # rows run south, so dz_dy is -d/dnorth
    slope = np.arctan(np.hypot(dz_dx, dz_dy))
    aspect = np.arctan2(-dz_dy, -dz_dx)
    az = np.radians(90.0 - azimuth_deg)
    alt = np.radians(altitude_deg)
    shade = np.sin(alt) * np.cos(slope) + np.cos(alt) * np.sin(slope) * np.cos(az - aspect)
    return np.clip(shade, 0.0, 1.0)


def hillshade_png(dem: Dem, max_px: int = 1500) -> tuple[bytes, list[list[float]]]:
    """The hillshade resampled onto a regular lat/lon grid: (PNG with alpha, [[s, w], [n, e]])."""
    shade = hillshade(dem)
    rows, cols = shade.shape
    to_ll = Transformer.from_crs(dem.crs, CRS.from_epsg(4326), always_xy=True)
    xs = dem.x0 + np.array([-0.5, cols - 0.5, cols - 0.5, -0.5]) * dem.sx
    ys = dem.y0 - np.array([-0.5, -0.5, rows - 0.5, rows - 0.5]) * dem.sy
    lon, lat = to_ll.transform(xs, ys)
    s, n, w, e = float(np.min(lat)), float(np.max(lat)), float(np.min(lon)), float(np.max(lon))
    out_w = min(max_px, cols)
    out_h = min(max_px, rows)
    glon, glat = np.meshgrid(np.linspace(w, e, out_w), np.linspace(n, s, out_h))
    to_dem = Transformer.from_crs(CRS.from_epsg(4326), dem.crs, always_xy=True)
    gx, gy = to_dem.transform(glon, glat)
    col = ((gx - dem.x0) / dem.sx).astype(np.float32)
    row = ((dem.y0 - gy) / dem.sy).astype(np.float32)
    grey = cv2.remap((shade * 255).astype(np.uint8), col, row, cv2.INTER_LINEAR,
                     borderMode=cv2.BORDER_CONSTANT, borderValue=0)  # fmt: skip
    inside = cv2.remap(np.full(shade.shape, 255, np.uint8), col, row, cv2.INTER_NEAREST,
                       borderMode=cv2.BORDER_CONSTANT, borderValue=0)  # fmt: skip
    # Dark where shaded, transparent where lit: the layers above stay readable.
    alpha = np.where(inside > 0, 255 - grey, 0).astype(np.uint8)
    rgba = np.dstack([np.zeros_like(grey)] * 3 + [alpha])
    ok, png = cv2.imencode(".png", rgba)
    if not ok:
        raise ConfigError("--dem", None, "could not draw the hillshade")
    return png.tobytes(), [[s, w], [n, e]]
