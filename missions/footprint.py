"""Camera footprint on flat ground at nadir: size, ground sample distance, lane spacing.

The camera is mounted with its long (width) side across track, the usual mapping setup, so
the swath is the horizontal field of view. The reverse question a coordinator asks — how
high can we fly and still put N pixels across a person — is `max_alt_for_px_on_person`.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from missions.errors import PlanError

PERSON_WIDTH_M = 0.5


@dataclass(frozen=True)
class Camera:
    """What the planner needs of a camera (groundctl converts its CameraConfig to this)."""

    name: str
    width_px: int
    height_px: int
    hfov_deg: float
    vfov_deg: float
    frame_rate_hz: float = 30.0


@dataclass(frozen=True)
class Footprint:
    alt_agl_m: float
    width_m: float  # across track
    height_m: float  # along track
    gsd_m: float  # metres per pixel across track
    spacing_m: float  # distance between lanes
    side_overlap: float

    @property
    def px_on_person(self) -> float:
        return PERSON_WIDTH_M / self.gsd_m


def footprint(camera: Camera, alt_agl_m: float, side_overlap: float = 0.2) -> Footprint:
    if not alt_agl_m > 0:
        raise PlanError(f"altitude must be above ground (got {alt_agl_m:g} m)")
    if not 0 <= side_overlap < 0.95:
        raise PlanError(
            f"side overlap {side_overlap:g} is outside 0..0.95 (give a fraction: 0.2 = 20%)"
        )
    w = 2 * alt_agl_m * math.tan(math.radians(camera.hfov_deg) / 2)
    h = 2 * alt_agl_m * math.tan(math.radians(camera.vfov_deg) / 2)
    return Footprint(alt_agl_m, w, h, w / camera.width_px, w * (1 - side_overlap), side_overlap)


def max_alt_for_px_on_person(camera: Camera, px: float, person_m: float = PERSON_WIDTH_M) -> float:
    """The highest altitude above ground that keeps at least `px` pixels across `person_m`."""
    if not px > 0:
        raise PlanError(f"pixels on a person must be positive (got {px:g})")
    gsd = person_m / px
    return gsd * camera.width_px / (2 * math.tan(math.radians(camera.hfov_deg) / 2))
