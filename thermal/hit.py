"""Sightings and confirmed hits: what the pipeline hands to the store, dispatch and the map."""

from __future__ import annotations

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
