"""The per-frame path: detect -> measure on the ground -> classify -> sightings -> confirmed hits."""

from __future__ import annotations

import math
import warnings
from collections.abc import Callable
from dataclasses import dataclass, field

import cv2
import numpy as np
from numpy.typing import NDArray

from thermal.badpixel import BadPixelFilter
from thermal.camera import CameraModel
from thermal.classify import ClassifierConfig, Features, classify
from thermal.confirm import ConfirmConfig, Confirmer
from thermal.detect import Blobs, DetectorConfig, detect, detect_cold
from thermal.errors import ThermalError
from thermal.frame import ThermalFrame
from thermal.georef import Altitude, Terrain, georeference, resolve_altitude
from thermal.hit import Hit, Sighting, TargetClass
from thermal.patchnet import (
    PatchClassifier,
    PatchScores,
    default_classifier,
    find_people,
    learned_classes,
)
from thermal.peaks import PeakConfig

CameraSource = CameraModel | Callable[[ThermalFrame], CameraModel | None] | None


@dataclass(frozen=True)
class Detection:
    """One classified blob of one frame; ground fields are NaN without camera and pose."""

    pixel_xy: tuple[float, float]
    bbox: tuple[int, int, int, int]  # x, y, w, h
    area_px: int
    target_class: TargetClass
    confidence: float
    snr: float
    contrast: float  # °C or intensity levels above the local background
    temp_c: float | None
    length_m: float
    width_m: float
    lat: float
    lon: float
    uncertainty_m: float


@dataclass(frozen=True)
class FrameResult:
    frame: ThermalFrame
    detections: tuple[Detection, ...]
    sightings: tuple[Sighting, ...]
    hits: tuple[Hit, ...]  # confirmed or updated by this frame
    noise: float
    altitude: Altitude | None
    note: str = ""  # why the frame could not be placed on the ground, if it could not
    rejected_bad_pixels: int = 0


@dataclass(frozen=True)
class Measured:
    """Blobs with ground measurements (arrays, length N)."""

    blobs: Blobs
    features: Features
    lat: NDArray[np.float64]
    lon: NDArray[np.float64]
    uncertainty_m: NDArray[np.float64]


def measure(
    blobs: Blobs,
    frame: ThermalFrame,
    camera: CameraModel | None,
    altitude: Altitude | None,
    terrain: Terrain | None = None,
) -> Measured:
    """Blob sizes in metres and ground positions (NaN where no camera/pose/altitude)."""
    n = len(blobs)
    nan = np.full(n, np.nan)
    lat = lon = unc = east = north = length = width = area = nan
    if n and camera is not None and frame.pose is not None and altitude is not None:
        c, s = np.cos(blobs.angle_rad), np.sin(blobs.angle_rad)
        a, b = blobs.major_px / 2, blobs.minor_px / 2
        x, y = blobs.x, blobs.y
        pts = np.concatenate(
            [
                np.column_stack((x, y)),
                np.column_stack((x - a * c, y - a * s)),
                np.column_stack((x + a * c, y + a * s)),
                np.column_stack((x + b * s, y - b * c)),
                np.column_stack((x - b * s, y + b * c)),
            ]
        )
        g = georeference(pts, camera, frame.pose, altitude, terrain)
        e, no = g.east_m.reshape(5, n), g.north_m.reshape(5, n)
        length = np.hypot(e[2] - e[1], no[2] - no[1])
        width = np.hypot(e[4] - e[3], no[4] - no[3])
        area = blobs.area_px * (length * width) / np.maximum(blobs.major_px * blobs.minor_px, 1e-6)
        ok = g.valid.reshape(5, n).all(axis=0)
        lat = np.where(ok, g.lat[:n], np.nan)
        lon = np.where(ok, g.lon[:n], np.nan)
        unc = np.where(ok, g.uncertainty_m[:n], np.nan)
        east, north = np.where(ok, e[0], np.nan), np.where(ok, no[0], np.nan)
        length, width, area = (np.where(ok, v, np.nan) for v in (length, width, area))
    radiometric = frame.radiometric
    features = Features(
        length_m=length,
        width_m=width,
        area_m2=area,
        peak_c=blobs.peak.astype(np.float64) if radiometric else nan,
        contrast_c=blobs.contrast.astype(np.float64) if radiometric else nan,
        snr=blobs.snr.astype(np.float64),
        east_m=east,
        north_m=north,
        contrast_rel=nan if radiometric else blobs.contrast.astype(np.float64),
        peak_rank=nan if radiometric else blobs.peak_rank.astype(np.float64),
        mean_contrast_c=blobs.mean_contrast.astype(np.float64) if radiometric else nan,
    )
    return Measured(blobs, features, lat, lon, unc)


def chip_png(pixels: NDArray[np.float32], x: float, y: float, size: int = 48) -> bytes:
    """A small false-colour crop centred on (x, y), contrast-stretched to its own range."""
    rows, cols = pixels.shape
    h = size // 2
    x0, y0 = max(0, int(x) - h), max(0, int(y) - h)
    crop = pixels[y0 : min(rows, int(y) + h), x0 : min(cols, int(x) + h)]
    lo, hi = float(np.min(crop)), float(np.max(crop))
    scaled = ((crop - lo) * (255.0 / max(hi - lo, 1e-6))).astype(np.uint8)
    ok, buf = cv2.imencode(".png", cv2.applyColorMap(scaled, cv2.COLORMAP_INFERNO))
    return buf.tobytes() if ok else b""


@dataclass
class Pipeline:
    """Stateful per-stream (or per-operation) pipeline: bad-pixel memory and confirmation."""

    camera: CameraSource = None
    terrain: Terrain | None = None
    takeoff_amsl_m: float | None = None
    detector: DetectorConfig = field(default_factory=DetectorConfig)
    classifier: ClassifierConfig = field(default_factory=ClassifierConfig)
    confirm: ConfirmConfig = field(default_factory=ConfirmConfig)
    chips: bool = True
    report_unknown: bool = False  # make sightings of "unknown" blobs too
    # Look for people colder than the ground too when a tenth of the view is warmer than
    # this (sun-heated rock, scree, tarmac); None switches it off.
    cold_above_c: float | None = 34.0
    # Relative (8-bit AGC) frames: candidate peaks judged by the learned patch classifier
    # (`thermal.patchnet`); None falls back to the hand-set rules of `thermal.classify`.
    patch_model: PatchClassifier | None = field(default_factory=default_classifier)
    peaks: PeakConfig = field(default_factory=PeakConfig)
    confirmer: Confirmer = field(init=False)
    _bad: dict[tuple[int | None, tuple[int, int]], BadPixelFilter] = field(
        init=False, default_factory=dict
    )

    def __post_init__(self) -> None:
        self.confirmer = Confirmer(self.confirm)

    @property
    def hits(self) -> list[Hit]:
        return self.confirmer.hits

    def camera_for(self, frame: ThermalFrame) -> CameraModel | None:
        cam = self.camera(frame) if callable(self.camera) else self.camera
        if cam is None:
            return None
        rows, cols = frame.shape
        return cam.scaled_to(cols, rows)

    def process(self, frame: ThermalFrame) -> FrameResult:
        key = (frame.vehicle_id, frame.shape)
        bad = self._bad.get(key)
        if bad is None:
            bad = self._bad[key] = BadPixelFilter(frame.shape)
        camera = self.camera_for(frame)
        altitude, note = None, ""
        if frame.pose is None:
            note = "no pose: detections are not placed on the ground"
        elif camera is None:
            note = "no camera model: detections are not placed on the ground (use --camera)"
        else:
            try:
                with warnings.catch_warnings():
                    warnings.simplefilter("default")
                    altitude = resolve_altitude(frame.pose, self.terrain, self.takeoff_amsl_m)
            except ThermalError as exc:
                note = str(exc)
        learned: PatchScores | None = None
        if not frame.radiometric and self.patch_model is not None:

            def gsd_at(x: NDArray[np.float64], y: NDArray[np.float64]) -> NDArray[np.float64]:
                if camera is None or frame.pose is None or altitude is None:
                    return np.full(len(x), np.nan)
                xy = np.column_stack((x, y))
                g = georeference(xy, camera, frame.pose, altitude, self.terrain)
                return np.where(g.valid, g.range_m / camera.fx, np.nan)

            blobs, learned = find_people(
                frame.pixels,
                gsd_at,
                self.patch_model,
                self.peaks,
                bad.mask,
                placed=altitude is not None,
            )
        else:
            blobs = detect(frame.pixels, frame.radiometric, self.detector, bad.mask)
        cold = np.zeros(len(blobs), bool)
        if frame.radiometric and self.cold_above_c is not None:
            hot_ground = float(np.percentile(frame.pixels[::8, ::8], 90))
            if hot_ground >= self.cold_above_c:
                cb = detect_cold(frame.pixels, self.detector, bad.mask)
                blobs = blobs.concat(cb)
                cold = np.concatenate([cold, np.ones(len(cb), bool)])
        m = measure(blobs, frame, camera, altitude, self.terrain)
        is_bad = bad.observe(
            blobs.x, blobs.y, blobs.area_px,
            m.lat if altitude else None, m.lon if altitude else None,
        )  # fmt: skip
        if learned is not None and self.patch_model is not None:
            names, conf = learned_classes(learned, self.patch_model)
        else:
            names, conf, _ = classify(m.features, self.classifier)
        if cold.any():
            # A cool spot on hot ground is a person (or an animal) only at body-surface
            # temperatures; shadows and water are cooler, and nothing cold is a hot object.
            body = (blobs.peak >= 27.0) & (blobs.peak <= 38.0)
            keep_cls = np.isin(names, ("person", "animal")) & body
            names = np.where(cold & ~keep_cls, "unknown", names)
        detections, sightings, chips = [], [], []
        tentative: list[Sighting] = []
        for i in np.flatnonzero(~is_bad):
            placed = math.isfinite(m.lat[i])
            temp = float(blobs.peak[i]) if frame.radiometric else None
            det = Detection(
                pixel_xy=(float(blobs.x[i]), float(blobs.y[i])),
                bbox=tuple(int(v) for v in blobs.bbox[i]),  # type: ignore[arg-type]
                area_px=int(blobs.area_px[i]),
                target_class=names[i],
                confidence=float(conf[i]),
                snr=float(blobs.snr[i]),
                contrast=float(blobs.contrast[i]),
                temp_c=temp,
                length_m=float(m.features.length_m[i]),
                width_m=float(m.features.width_m[i]),
                lat=float(m.lat[i]),
                lon=float(m.lon[i]),
                uncertainty_m=float(m.uncertainty_m[i]),
            )
            detections.append(det)
            if placed:
                sighting = Sighting(
                    frame_id=frame.frame_id,
                    timestamp=frame.timestamp,
                    vehicle_id=frame.vehicle_id,
                    lat=det.lat,
                    lon=det.lon,
                    uncertainty_m=det.uncertainty_m,
                    target_class=det.target_class,
                    confidence=det.confidence,
                    temp_c=temp,
                    size_m=(det.length_m, det.width_m),
                    pixel_xy=det.pixel_xy,
                    camera_at=(frame.pose.lat, frame.pose.lon) if frame.pose else None,
                )
                if names[i] != "unknown" or self.report_unknown:
                    sightings.append(sighting)
                    chips.append(chip_png(frame.pixels, *det.pixel_xy) if self.chips else None)
                elif frame.radiometric:
                    # Tentative: corroborates a body seen clearly in another frame (a person
                    # glimpsed through canopy), never makes a hit (`thermal.confirm`).
                    tentative.append(sighting)
        hits = self.confirmer.add([*sightings, *tentative], [*chips, *[None] * len(tentative)])
        return FrameResult(
            frame, tuple(detections), tuple(sightings), tuple(hits), blobs.noise, altitude,
            note, int(is_bad.sum()),
        )  # fmt: skip
