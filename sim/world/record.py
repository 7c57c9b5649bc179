"""Recording frames to a folder: 16-bit centi-Kelvin TIFFs with JSON sidecars.

The layout `groundctl detect` reads::

    DIR/frame_000001.tiff   uint16, raw = (°C + 273.15) * 100
    DIR/frame_000001.json   the sidecar form of `thermal.frame` (header_to_dict)
    DIR/frame_000001.truth.json   what was really in view (simulator only): per target its
                            id, class, projected ground point (col, row) and pixel counts
    DIR/truth.geojson       every target of the scenario (written when a payload starts)

The sidecar is written after its TIFF and renamed into place, so a reader that sees a
sidecar always finds a complete image beside it.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import numpy as np
import tifffile

from sim.errors import SimError
from thermal.frame import Scale, ThermalFrame, frame_from_header, header_to_dict


class FrameRecorder:
    def __init__(self, directory: str | Path, scale: Scale | None = None) -> None:
        self.dir = Path(directory)
        self.scale = scale or Scale.centikelvin()
        try:
            self.dir.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise SimError(f"cannot create recording folder {self.dir}: {exc}") from None
        self.count = 0

    def paths(self, frame_id: int) -> tuple[Path, Path]:
        stem = f"frame_{frame_id:06d}"
        return self.dir / f"{stem}.tiff", self.dir / f"{stem}.json"

    def write(self, frame: ThermalFrame, truth: list[dict[str, Any]] | None = None) -> Path:
        """Write one frame (and what was in view, if given); returns the TIFF's path."""
        tiff, sidecar = self.paths(frame.frame_id)
        scale = self.scale if frame.radiometric else Scale("relative")
        raw = scale.invert(frame.pixels, np.uint16)
        tmp = sidecar.with_suffix(".json.part")
        try:
            tifffile.imwrite(tiff, raw, photometric="minisblack")
            tmp.write_text(json.dumps(header_to_dict(frame, scale), indent=1), "utf-8")
            os.replace(tmp, sidecar)
            if truth is not None:
                doc = {"frame_id": frame.frame_id, "timestamp": frame.timestamp, "targets": truth}
                tiff.with_suffix(".truth.json").write_text(json.dumps(doc, indent=1), "utf-8")
        except OSError as exc:
            raise SimError(f"cannot record frame {frame.frame_id} to {self.dir}: {exc}") from None
        self.count += 1
        return tiff


def read_recorded(tiff: str | Path) -> ThermalFrame:
    """Read back one recorded frame (TIFF + sidecar)."""
    p = Path(tiff)
    header = json.loads(p.with_suffix(".json").read_text("utf-8"))
    return frame_from_header(header, tifffile.imread(p), str(p))
