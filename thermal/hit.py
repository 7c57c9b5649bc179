"""Sightings and confirmed hits: what the pipeline hands to the store, dispatch and the map."""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Literal

TargetClass = Literal["person", "animal", "vehicle_or_hot_object", "unknown"]


@dataclass(frozen=True)
class Sighting:
    """One detection in one frame, placed on the ground."""

    frame_id: int
    timestamp: float  # seconds since the Unix epoch, UTC
    vehicle_id: int | None
    lat: float
    lon: float
    uncertainty_m: float  # one-sigma horizontal radius
    target_class: TargetClass
    confidence: float  # 0..1
    temp_c: float | None = None  # peak apparent temperature, when radiometric
    size_m: tuple[float, float] | None = None  # (length, width) on the ground
    pixel_xy: tuple[float, float] | None = None  # blob centre (col, row) in the frame
    camera_at: tuple[float, float] | None = None  # (lat, lon) the camera looked from


@dataclass(frozen=True)
class Hit:
    """A target confirmed over several sightings. `id` is stable for the target's life,
    so receivers can drop duplicates of the same message."""

    id: str
    target_class: TargetClass
    confidence: float
    lat: float
    lon: float
    uncertainty_m: float
    first_seen: float
    last_seen: float
    sightings: tuple[Sighting, ...]
    vehicle_ids: tuple[int, ...]
    chip_png: bytes | None = None  # a small false-colour thermal crop around the target
    temp_c: float | None = None


def seen_from_m(sightings: Iterable[Sighting], target_class: str | None = None) -> float:
    """How far apart the camera positions of these sightings (of `target_class`, if given)
    were: the baseline between the two most distant looks, 0 with fewer than two."""
    at = [
        s.camera_at
        for s in sightings
        if s.camera_at is not None and (target_class is None or s.target_class == target_class)
    ]
    best = 0.0
    for i, (lat1, lon1) in enumerate(at):
        for lat2, lon2 in at[i + 1 :]:
            north = (lat2 - lat1) * 111_132.0
            east = (lon2 - lon1) * 111_320.0 * math.cos(math.radians((lat1 + lat2) / 2))
            best = max(best, math.hypot(north, east))
    return best
