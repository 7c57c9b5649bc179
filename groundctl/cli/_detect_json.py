"""`groundctl detect --json`: the run as one JSON document, `groundctl.detect/1`, on stdout
(README, "Output for people and for scripts"): what was read and skipped, every detection
of every frame, the confirmed hits, counts by class.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Iterable, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from thermal.hit import Hit
from thermal.pipeline import Detection, FrameResult

DETECT_SCHEMA_VERSION = 1


def iso(t: float) -> str:
    return datetime.fromtimestamp(t, UTC).isoformat().replace("+00:00", "Z")


def _num(x: float | None, digits: int) -> float | None:
    """Rounded, or None for a value that is missing or not a number (JSON has no NaN)."""
    return None if x is None or not math.isfinite(x) else round(float(x), digits)


def input_of(source: str) -> str:
    """The input a frame came from: a video's or a stream's frames are `SOURCE#N`."""
    return source.rsplit("#", 1)[0] if "#" in source else source


def detection_row(result: FrameResult, d: Detection) -> dict[str, Any]:
    frame = result.frame
    placed = math.isfinite(d.lat) and math.isfinite(d.lon)
    return {
        "source": frame.source,
        "frame": frame.frame_id,
        "vehicle_id": frame.vehicle_id,
        "time": iso(frame.timestamp) if frame.timestamp > 0 else None,
        "class": d.target_class,
        "confidence": _num(d.confidence, 3),
        "bbox_px": [int(v) for v in d.bbox],
        "centre_px": [_num(d.pixel_xy[0], 1), _num(d.pixel_xy[1], 1)],
        "area_px": int(d.area_px),
        "temp_c": _num(d.temp_c, 2),
        "lat": _num(d.lat, 7) if placed else None,
        "lon": _num(d.lon, 7) if placed else None,
        "uncertainty_m": _num(d.uncertainty_m, 1) if placed else None,
    }


def hit_row(h: Hit) -> dict[str, Any]:
    return {
        "id": h.id,
        "class": h.target_class,
        "confidence": _num(h.confidence, 3),
        "lat": round(h.lat, 7),
        "lon": round(h.lon, 7),
        "uncertainty_m": _num(h.uncertainty_m, 1),
        "first_seen": iso(h.first_seen),
        "last_seen": iso(h.last_seen),
        "sightings": len(h.sightings),
        "vehicle_ids": list(h.vehicle_ids),
        "temp_c": _num(h.temp_c, 2),
    }


def _by_class(classes: Iterable[str]) -> dict[str, int]:
    return dict(sorted(Counter(classes).items()))


def document(
    path: str,
    inputs: Sequence[str],
    processed: Sequence[str],
    skipped: Sequence[tuple[str, str]],
    frames: int,
    detections: Sequence[dict[str, Any]],
    hits: Sequence[Hit],
    notes: Sequence[str],
    files: dict[str, Path | None],
    elapsed_s: float,
) -> dict[str, Any]:
    """The body of `groundctl.detect/1`."""
    return {
        "path": path,
        "inputs": {
            "total": len(inputs),
            "processed": list(processed),
            "skipped": [{"source": s, "reason": r} for s, r in skipped],
        },
        "frames": frames,
        "detections": list(detections),
        "hits": [hit_row(h) for h in hits],
        "counts": {
            "detections": _by_class(d["class"] for d in detections),
            "hits": _by_class(h.target_class for h in hits),
        },
        "notes": list(notes),
        "files": {k: None if v is None else str(v) for k, v in files.items()},
        "elapsed_s": round(elapsed_s, 2),
    }
