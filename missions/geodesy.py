"""WGS84 <-> local metric frame: the one place the planner changes coordinates.

Public boundaries speak WGS84 ``(lat, lon)`` in degrees; geometry inside `missions` is in
metres, x east and y north, in a frame chosen from the area:

* ``LocalFrame.for_area`` picks an azimuthal-equidistant projection centred on the area.
  Distances from the centre are exact and scale error stays below 1e-4 out to ~90 km, far
  better than a UTM zone's up to 1e-3 at the zone edges.
* ``LocalFrame.utm`` uses the UTM zone of a point, for exports that want a standard CRS.

All conversions take and return numpy arrays (or scalars) and are vectorised by pyproj.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
from numpy.typing import ArrayLike, NDArray
from pyproj import CRS, Geod, Transformer

from missions.errors import AreaError

WGS84 = CRS.from_epsg(4326)
GEOD = Geod(ellps="WGS84")

# An AEQD frame stays within 1e-4 scale error to about this radius; beyond it, refuse rather
# than plan on distorted geometry.
MAX_FRAME_RADIUS_M = 90_000.0


@dataclass(frozen=True)
class LocalFrame:
    """A local metric frame (x east, y north, metres) and its transforms to and from WGS84."""

    crs: CRS
    origin_lat: float
    origin_lon: float
    _to_local: Transformer = field(repr=False, compare=False)
    _to_wgs84: Transformer = field(repr=False, compare=False)

    @classmethod
    def _from_crs(cls, crs: CRS, lat: float, lon: float) -> LocalFrame:
        return cls(
            crs=crs,
            origin_lat=lat,
            origin_lon=lon,
            _to_local=Transformer.from_crs(WGS84, crs, always_xy=True),
            _to_wgs84=Transformer.from_crs(crs, WGS84, always_xy=True),
        )

    @classmethod
    def aeqd(cls, lat: float, lon: float) -> LocalFrame:
        """Azimuthal-equidistant frame centred on (lat, lon)."""
        _check_latlon(lat, lon)
        crs = CRS.from_proj4(
            f"+proj=aeqd +lat_0={lat:.9f} +lon_0={lon:.9f} +x_0=0 +y_0=0 "
            "+ellps=WGS84 +units=m +no_defs"
        )
        return cls._from_crs(crs, lat, lon)

    @classmethod
    def utm(cls, lat: float, lon: float) -> LocalFrame:
        """The UTM zone (WGS84) that holds (lat, lon)."""
        _check_latlon(lat, lon)
        if not -80.0 <= lat <= 84.0:
            raise AreaError(f"latitude {lat:.4f} is outside UTM coverage (-80..84); use aeqd")
        zone = int((lon + 180.0) // 6.0) % 60 + 1
        epsg = (32600 if lat >= 0 else 32700) + zone
        return cls._from_crs(CRS.from_epsg(epsg), lat, lon)

    @classmethod
    def for_area(cls, lats: ArrayLike, lons: ArrayLike) -> LocalFrame:
        """The frame for an area given by its vertices: AEQD at the centre of its extent."""
        lat = np.asarray(lats, dtype=float).ravel()
        lon = np.asarray(lons, dtype=float).ravel()
        if lat.size == 0:
            raise AreaError("the area has no vertices")
        _check_latlon(lat, lon)
        # Centre on the middle of the extent, unwrapping longitudes across the antimeridian.
        lon_c = float(np.degrees(np.angle(np.mean(np.exp(1j * np.radians(lon))))))
        frame = cls.aeqd(float((lat.min() + lat.max()) / 2), lon_c)
        _, _, dist = GEOD.inv(
            np.full(lat.shape, frame.origin_lon), np.full(lat.shape, frame.origin_lat), lon, lat
        )
        if float(np.max(dist)) > MAX_FRAME_RADIUS_M:
            raise AreaError(
                f"the area reaches {float(np.max(dist)) / 1000:.0f} km from its centre; one "
                f"plan covers at most {MAX_FRAME_RADIUS_M / 1000:.0f} km: split it into smaller areas"
            )
        return frame

    def to_local(self, lat: ArrayLike, lon: ArrayLike) -> tuple[Any, Any]:
        """WGS84 degrees -> (x east, y north) metres. Scalars in, scalars out."""
        x, y = self._to_local.transform(lon, lat)
        return x, y

    def to_wgs84(self, x: ArrayLike, y: ArrayLike) -> tuple[Any, Any]:
        """(x east, y north) metres -> (lat, lon) degrees. Scalars in, scalars out."""
        lon, lat = self._to_wgs84.transform(x, y)
        return lat, lon

    def latlon_to_xy(self, latlon: ArrayLike) -> NDArray[np.float64]:
        """An (N, 2) array of (lat, lon) -> an (N, 2) array of (x, y)."""
        pts = np.asarray(latlon, dtype=float).reshape(-1, 2)
        x, y = self.to_local(pts[:, 0], pts[:, 1])
        return np.column_stack([x, y])

    def xy_to_latlon(self, xy: ArrayLike) -> NDArray[np.float64]:
        """An (N, 2) array of (x, y) -> an (N, 2) array of (lat, lon)."""
        pts = np.asarray(xy, dtype=float).reshape(-1, 2)
        lat, lon = self.to_wgs84(pts[:, 0], pts[:, 1])
        return np.column_stack([lat, lon])


def geodesic_distance_m(lat1: ArrayLike, lon1: ArrayLike, lat2: ArrayLike, lon2: ArrayLike) -> Any:
    """Ellipsoidal distance in metres (pyproj.Geod), vectorised."""
    _, _, dist = GEOD.inv(lon1, lat1, lon2, lat2)
    return dist


def _check_latlon(lat: ArrayLike, lon: ArrayLike) -> None:
    lat_a = np.asarray(lat, dtype=float)
    lon_a = np.asarray(lon, dtype=float)
    if not (np.all(np.isfinite(lat_a)) and np.all(np.isfinite(lon_a))):
        raise AreaError("coordinates must be finite numbers (found NaN or infinity)")
    if np.any(np.abs(lat_a) > 90.0):
        bad = float(lat_a.flat[int(np.argmax(np.abs(lat_a)))])
        raise AreaError(f"latitude {bad:g} is outside -90..90; are latitude and longitude swapped?")
    if np.any(np.abs(lon_a) > 180.0):
        bad = float(lon_a.flat[int(np.argmax(np.abs(lon_a)))])
        raise AreaError(f"longitude {bad:g} is outside -180..180")
