"""The live thermal view: each drone's newest processed frame, false-coloured, with the
pipeline's detections drawn on it, as JPEG (a websocket for the page, MJPEG for any viewer).

Frames come from the thermal pipeline of the flight this server runs (`flying.PipelineTap`),
so the boxes are exactly what the search saw. A JPEG is encoded only while someone watches,
at most `max_fps` per viewer, in a worker thread.
"""

from __future__ import annotations

import asyncio
import threading
import time
from typing import TYPE_CHECKING, Any

import cv2
import numpy as np

if TYPE_CHECKING:
    from thermal.pipeline import FrameResult

# BGR per class.
CLASS_COLOURS = {
    "person": (60, 60, 255),
    "animal": (60, 220, 60),
    "vehicle_or_hot_object": (255, 200, 60),
    "unknown": (200, 200, 200),
}


class FrameStore:
    """The newest processed frame of every vehicle (by MAVLink system id)."""

    def __init__(self) -> None:
        self._latest: dict[int, tuple[int, FrameResult]] = {}
        self._lock = threading.Lock()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._changed = asyncio.Event()
        self.frames = 0

    def bind(self, loop: asyncio.AbstractEventLoop) -> None:
        self._loop = loop

    def put(self, result: FrameResult) -> None:
        """Called from the pipeline's worker thread."""
        vid = result.frame.vehicle_id
        if vid is None:
            return
        with self._lock:
            seq = self._latest.get(vid, (0, result))[0] + 1
            self._latest[vid] = (seq, result)
            self.frames += 1
        if self._loop is not None:
            self._loop.call_soon_threadsafe(self._wake)

    def _wake(self) -> None:
        self._changed.set()
        self._changed = asyncio.Event()

    def latest(self, sysid: int) -> tuple[int, FrameResult] | None:
        with self._lock:
            return self._latest.get(sysid)

    async def next(self, sysid: int, after: int, timeout_s: float = 5.0) -> tuple[int, Any]:
        """The first frame of `sysid` newer than sequence number `after` (or None on timeout)."""
        deadline = time.monotonic() + timeout_s
        while True:
            got = self.latest(sysid)
            if got is not None and got[0] > after:
                return got
            left = deadline - time.monotonic()
            if left <= 0:
                return after, None
            waiter = self._changed
            try:
                await asyncio.wait_for(waiter.wait(), left)
            except TimeoutError:
                return after, None


def render(result: FrameResult, name: str, width_px: int = 640) -> bytes:
    """The frame as a JPEG: false colour, detection boxes with class and confidence."""
    px = result.frame.pixels
    finite = px[np.isfinite(px)]
    lo, hi = np.percentile(finite, (1.0, 99.7)) if finite.size else (0.0, 1.0)
    scaled = np.clip((px - lo) / max(float(hi - lo), 1e-6) * 255.0, 0, 255)
    img = cv2.applyColorMap(np.nan_to_num(scaled).astype(np.uint8), cv2.COLORMAP_INFERNO)
    scale = width_px / img.shape[1]
    if scale != 1.0:
        img = cv2.resize(img, (width_px, round(img.shape[0] * scale)), interpolation=cv2.INTER_AREA)
    for d in result.detections:
        x, y, w, h = (round(v * scale) for v in d.bbox)
        colour = CLASS_COLOURS.get(d.target_class, (200, 200, 200))
        pad = 4
        cv2.rectangle(img, (x - pad, y - pad), (x + w + pad, y + h + pad), colour, 2)
        label = f"{d.target_class.split('_')[0]} {d.confidence:.0%}"
        if d.temp_c is not None:
            label += f" {d.temp_c:.0f}C"
        cv2.putText(
            img, label, (x - pad, max(12, y - pad - 4)), cv2.FONT_HERSHEY_SIMPLEX, 0.45,
            colour, 1, cv2.LINE_AA,
        )  # fmt: skip
    pose = result.frame.pose
    alt = f" {pose.alt_rel_m:.0f} m" if pose is not None and pose.alt_rel_m is not None else ""
    when = time.strftime("%H:%M:%S", time.gmtime(result.frame.timestamp or time.time()))
    text = f"{name}{alt} {when} UTC  {len(result.detections)} detection(s)"
    cv2.putText(img, text, (6, 16), cv2.FONT_HERSHEY_SIMPLEX, 0.45, (255, 255, 255), 1, cv2.LINE_AA)
    ok, jpg = cv2.imencode(".jpg", img, [cv2.IMWRITE_JPEG_QUALITY, 80])
    return jpg.tobytes() if ok else b""


def meta(result: FrameResult, seq: int) -> dict[str, Any]:
    return {
        "type": "frame",
        "seq": seq,
        "ts": result.frame.timestamp,
        "frame_id": result.frame.frame_id,
        "detections": [
            {
                "class": d.target_class,
                "confidence": round(d.confidence, 3),
                "bbox": list(d.bbox),
                "temp_c": d.temp_c,
                "lat": None if np.isnan(d.lat) else d.lat,
                "lon": None if np.isnan(d.lon) else d.lon,
            }
            for d in result.detections
        ],
    }
