"""Pixel -> ground: rays through the camera, rotated by gimbal and vehicle attitude, meeting
flat ground or a terrain model.

Frames: camera axes as in `thermal.camera` (x right, y down, z forward). The gimbal at zero
angles looks along the vehicle's nose with the image right along the right wing, so camera
(x, y, z) = body (y, z, x). Body and gimbal rotations are aerospace ZYX (yaw, pitch, roll) in
NED; gimbal pitch -90 looks straight down. Ground points are returned in metres north/east of
the vehicle and as WGS84 lat/lon (a local tangent plane: centimetre-accurate within a few km,
which is all one camera footprint ever spans).
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol, runtime_checkable

import numpy as np
from numpy.typing import ArrayLike, NDArray

from thermal.camera import CameraModel
from thermal.errors import ThermalError
from thermal.frame import Pose

_A = 6378137.0  # WGS84
_E2 = 6.69437999014e-3

# camera (x right, y down, z forward) -> gimbal-zero body axes (x forward, y right, z down)
_CAM_TO_BODY = np.array([[0.0, 0.0, 1.0], [1.0, 0.0, 0.0], [0.0, 1.0, 0.0]])


class GeorefError(ThermalError):
    """A pose or terrain cannot place pixels on the ground."""


@runtime_checkable
class Terrain(Protocol):
    """Anything that gives ground elevation (metres above mean sea level) at WGS84 points."""

    def elevation_m(
        self, lat: NDArray[np.float64], lon: NDArray[np.float64]
    ) -> NDArray[np.float64]: ...


@dataclass(frozen=True)
class FunctionTerrain:
    """Wrap a plain callable ``f(lat, lon) -> elevation_m`` (vectorised) as a Terrain."""

    fn: Callable[[NDArray[np.float64], NDArray[np.float64]], ArrayLike]

    def elevation_m(
        self, lat: NDArray[np.float64], lon: NDArray[np.float64]
    ) -> NDArray[np.float64]:
        return np.broadcast_to(np.asarray(self.fn(lat, lon), np.float64), np.shape(lat)).copy()


@dataclass(frozen=True, eq=False)
class GridTerrain:
    """A north-up elevation grid with a GDAL-style geotransform in degrees.

    ``geotransform = (lon0, dlon, 0, lat0, 0, dlat)`` gives the outer corner of pixel (0, 0);
    `dlat` is negative for the usual north-up raster. Sampled bilinearly at pixel centres;
    points outside the grid, or on nodata, are NaN.
    """

    elevation: NDArray[np.float64]
    geotransform: tuple[float, float, float, float, float, float]
    nodata: float | None = None

    def __post_init__(self) -> None:
        gt = self.geotransform
        if len(gt) != 6 or gt[2] != 0 or gt[4] != 0 or gt[1] == 0 or gt[5] == 0:
            raise GeorefError(f"terrain: unsupported geotransform {gt} (rotated or degenerate)")
        if self.elevation.ndim != 2 or min(self.elevation.shape) < 2:
            raise GeorefError("terrain: elevation grid must be 2-D and at least 2x2")

    def elevation_m(
        self, lat: NDArray[np.float64], lon: NDArray[np.float64]
    ) -> NDArray[np.float64]:
        lon0, dlon, _, lat0, _, dlat = self.geotransform
        col = (np.asarray(lon, np.float64) - lon0) / dlon - 0.5
        row = (np.asarray(lat, np.float64) - lat0) / dlat - 0.5
        rows, cols = self.elevation.shape
        grid = self.elevation.astype(np.float64)
        if self.nodata is not None:
            grid = np.where(grid == self.nodata, np.nan, grid)
        inside = (col >= 0) & (col <= cols - 1) & (row >= 0) & (row <= rows - 1)
        c = np.clip(col, 0, cols - 1.000001)
        r = np.clip(row, 0, rows - 1.000001)
        c0, r0 = np.floor(c).astype(int), np.floor(r).astype(int)
        fc, fr = c - c0, r - r0
        z = (
            grid[r0, c0] * (1 - fc) * (1 - fr)
            + grid[r0, c0 + 1] * fc * (1 - fr)
            + grid[r0 + 1, c0] * (1 - fc) * fr
            + grid[r0 + 1, c0 + 1] * fc * fr
        )
        return np.where(inside, z, np.nan)


# --- local tangent plane ---------------------------------------------------------------------


def metres_per_degree(lat_deg: float) -> tuple[float, float]:
    """(metres per degree of latitude, metres per degree of longitude) at `lat_deg`."""
    s = math.sin(math.radians(lat_deg))
    w = math.sqrt(1.0 - _E2 * s * s)
    m = _A * (1.0 - _E2) / w**3
    n = _A / w
    return math.radians(m), math.radians(n * math.cos(math.radians(lat_deg)))


def offset_to_latlon(
    lat0: float, lon0: float, north_m: ArrayLike, east_m: ArrayLike
) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    m_lat, m_lon = metres_per_degree(lat0)
    return lat0 + np.asarray(north_m) / m_lat, lon0 + np.asarray(east_m) / m_lon


def latlon_to_offset(
    lat0: float, lon0: float, lat: ArrayLike, lon: ArrayLike
) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    m_lat, m_lon = metres_per_degree(lat0)
    return (np.asarray(lat) - lat0) * m_lat, (np.asarray(lon) - lon0) * m_lon


# --- rotations ---------------------------------------------------------------------------------


def rotation_zyx(yaw_deg: float, pitch_deg: float, roll_deg: float) -> NDArray[np.float64]:
    """Body -> NED for aerospace ZYX Euler angles."""
    y, p, r = (math.radians(v) for v in (yaw_deg, pitch_deg, roll_deg))
    cy, sy, cp, sp, cr, sr = (
        math.cos(y),
        math.sin(y),
        math.cos(p),
        math.sin(p),
        math.cos(r),
        math.sin(r),
    )
    return np.array(
        [
            [cy * cp, cy * sp * sr - sy * cr, cy * sp * cr + sy * sr],
            [sy * cp, sy * sp * sr + cy * cr, sy * sp * cr - cy * sr],
            [-sp, cp * sr, cp * cr],
        ]
    )


def camera_to_ned(pose: Pose) -> NDArray[np.float64]:
    """Rotation taking camera-axis vectors to NED."""
    g = pose.gimbal
    r_gimbal = rotation_zyx(g.yaw_deg, g.pitch_deg, g.roll_deg)
    if g.frame == "earth":
        return r_gimbal @ _CAM_TO_BODY
    r_body = rotation_zyx(pose.yaw_deg, pose.pitch_deg, pose.roll_deg)
    return r_body @ r_gimbal @ _CAM_TO_BODY


# --- altitude --------------------------------------------------------------------------------


@dataclass(frozen=True)
class Altitude:
    """The camera's height for ray casting: above the ground below it, and AMSL when known."""

    agl_m: float
    amsl_m: float | None
    source: str  # how it was obtained, for warnings and reports


def resolve_altitude(
    pose: Pose,
    terrain: Terrain | None = None,
    takeoff_amsl_m: float | None = None,
) -> Altitude:
    """Pick the best height of the camera above the ground.

    A DJI `RelativeAltitude` is above the take-off point, not above the ground: over a valley
    or a hillside it is wrong by the height difference. With a terrain model and the take-off
    elevation it is corrected; without them it is used as-is with a warning.
    """
    ground = None
    if terrain is not None:
        ground = float(terrain.elevation_m(np.array([pose.lat]), np.array([pose.lon]))[0])
        if not math.isfinite(ground):
            ground = None
    if pose.alt_amsl_m is not None and ground is not None:
        return Altitude(pose.alt_amsl_m - ground, pose.alt_amsl_m, "amsl-dem")
    if pose.alt_agl_m is not None:
        amsl = ground + pose.alt_agl_m if ground is not None else pose.alt_amsl_m
        return Altitude(pose.alt_agl_m, amsl, "agl")
    if pose.alt_rel_m is not None:
        if takeoff_amsl_m is not None and ground is not None:
            amsl = takeoff_amsl_m + pose.alt_rel_m
            return Altitude(amsl - ground, amsl, "relative-corrected")
        warnings.warn(
            "altitude is relative to take-off (e.g. DJI RelativeAltitude), not above the ground; "
            "positions are off wherever the ground is higher or lower than the take-off point. "
            "Give a DEM (--dem) and the take-off elevation to correct it.",
            RelativeAltitudeWarning,
            stacklevel=2,
        )
        return Altitude(pose.alt_rel_m, None, "relative")
    raise GeorefError(
        f"pose at {pose.lat:.6f},{pose.lon:.6f} has no usable altitude (need alt_agl_m, "
        "alt_rel_m, or alt_amsl_m with a DEM)"
    )


class RelativeAltitudeWarning(UserWarning):
    """Altitude above take-off was used as altitude above ground."""


# --- ground intersection -----------------------------------------------------------------------


@dataclass(frozen=True, eq=False)
class GroundPoints:
    north_m: NDArray[np.float64]  # from the vehicle
    east_m: NDArray[np.float64]
    lat: NDArray[np.float64]
    lon: NDArray[np.float64]
    range_m: NDArray[np.float64]  # slant range camera -> ground
    incidence_deg: NDArray[np.float64]  # ray angle from the vertical
    uncertainty_m: NDArray[np.float64]  # one-sigma horizontal
    valid: NDArray[np.bool_]  # False where the ray misses the ground (above the horizon)


def georeference(
    pixels_xy: ArrayLike,
    camera: CameraModel,
    pose: Pose,
    altitude: Altitude | None = None,
    terrain: Terrain | None = None,
    max_range_m: float = 5000.0,
) -> GroundPoints:
    """Ground positions of (N, 2) pixel coordinates (col, row)."""
    altitude = altitude or resolve_altitude(pose, terrain)
    if altitude.agl_m <= 0:
        raise GeorefError(
            f"camera height above ground is {altitude.agl_m:.1f} m ({altitude.source}); "
            "check the altitude reference and the DEM"
        )
    rays = camera.rays(pixels_xy) @ camera_to_ned(pose).T
    down = rays[:, 2]
    if terrain is not None and altitude.amsl_m is not None:
        t = _march(rays, pose, altitude.amsl_m, terrain, max_range_m)
    else:
        with np.errstate(divide="ignore", invalid="ignore"):
            t = np.where(down > 1e-6, altitude.agl_m / down, np.nan)
        t[t > max_range_m] = np.nan
    valid = np.isfinite(t)
    north, east = rays[:, 0] * t, rays[:, 1] * t
    lat, lon = offset_to_latlon(pose.lat, pose.lon, north, east)
    incidence = np.degrees(np.arccos(np.clip(down, -1.0, 1.0)))
    return GroundPoints(
        north, east, lat, lon, t, incidence, _uncertainty(t, down, camera, pose), valid
    )


def _uncertainty(
    range_m: NDArray[np.float64], down: NDArray[np.float64], camera: CameraModel, pose: Pose
) -> NDArray[np.float64]:
    """One-sigma horizontal error on flat ground, first order in the pose errors.

    Ground distance x = h tan(theta): dx/dh = tan(theta), dx/dtheta = h / cos^2(theta) =
    range / cos(theta); a pixel spans range / f metres across the ray, more along it.
    """
    s = pose.sigma
    cos_t = np.clip(down, 0.05, 1.0)
    tan_t = np.sqrt(1.0 - cos_t**2) / cos_t
    att = math.radians(s.attitude_deg) * range_m / cos_t
    pixel = range_m / camera.fx / cos_t
    return np.sqrt(s.horizontal_m**2 + (s.vertical_m * tan_t) ** 2 + att**2 + (0.5 * pixel) ** 2)


def _march(
    rays: NDArray[np.float64],
    pose: Pose,
    cam_amsl_m: float,
    terrain: Terrain,
    max_range_m: float,
    step_m: float = 2.0,
) -> NDArray[np.float64]:
    """Distance along each ray to its first crossing of the terrain (NaN if none).

    Coarse fixed steps find the first sample below the ground, then bisection refines the
    crossing to a few centimetres; all rays advance together (vectorised).
    """
    n = len(rays)
    t = np.full(n, np.nan)
    if n == 0:
        return t
    steps = np.arange(0.0, max_range_m + step_m, step_m)
    chunk = 512
    found = np.zeros(n, bool)
    lo = np.zeros(n)
    hi = np.zeros(n)
    for start in range(0, len(steps) - 1, chunk):
        ts = steps[start : start + chunk + 1]
        above = _height_above_ground(rays, pose, cam_amsl_m, terrain, ts)  # (n, k)
        below = ~(above > 0)  # NaN (off the DEM) counts as not-yet-crossed only when finite
        below &= np.isfinite(above)
        below[:, 0] = False
        idx = np.argmax(below, axis=1)
        hit = below[np.arange(n), idx] & ~found
        lo[hit], hi[hit] = ts[idx[hit] - 1], ts[idx[hit]]
        found |= hit
        if found.all():
            break
    if not found.any():
        return t
    r = rays[found]
    a, b = lo[found], hi[found]
    for _ in range(12):
        mid = 0.5 * (a + b)
        above = _height_above_ground(r, pose, cam_amsl_m, terrain, mid[:, None])[:, 0]
        up = above > 0
        a = np.where(up, mid, a)
        b = np.where(up, b, mid)
    t[found] = 0.5 * (a + b)
    return t


def _height_above_ground(
    rays: NDArray[np.float64],
    pose: Pose,
    cam_amsl_m: float,
    terrain: Terrain,
    ts: NDArray[np.float64],
) -> NDArray[np.float64]:
    ts2 = np.broadcast_to(ts, (len(rays), np.shape(ts)[-1])) if np.ndim(ts) == 1 else ts
    north = rays[:, 0:1] * ts2
    east = rays[:, 1:2] * ts2
    alt = cam_amsl_m - rays[:, 2:3] * ts2
    lat, lon = offset_to_latlon(pose.lat, pose.lon, north, east)
    ground = terrain.elevation_m(lat.ravel(), lon.ravel()).reshape(lat.shape)
    return alt - ground


def gsd_m(camera: CameraModel, range_m: float) -> float:
    """Ground sample distance across the ray at slant `range_m`."""
    return range_m / camera.fx
