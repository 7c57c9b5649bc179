"""Shared helpers of the sim.world tests: a test camera and small scenario documents.

(A module of its own with a unique name: `conftest` is a name every test folder uses.)
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[3]
SCENARIOS = ROOT / "configs" / "scenarios"

LAT0, LON0 = 46.5000, 7.5000
# ~ 111 m per 0.001 deg of latitude; 0.0015 deg of longitude ~ 115 m here
AREA = [
    [LAT0 + 0.001, LON0 - 0.0015],
    [LAT0 + 0.001, LON0 + 0.0015],
    [LAT0 - 0.001, LON0 + 0.0015],
    [LAT0 - 0.001, LON0 - 0.0015],
]


@dataclass(frozen=True)
class Cam:
    """A camera with groundctl CameraConfig's fields (sim must not import groundctl)."""

    name: str = "testcam"
    model: str = "test"
    width_px: int = 640
    height_px: int = 512
    pixel_pitch_um: float = 12.0
    focal_length_mm: float = 13.5
    hfov_deg: float = 31.8
    vfov_deg: float = 25.6
    frame_rate_hz: float = 30.0
    radiometric: bool = True
    netd_mk: float = 50.0
    distortion: tuple[float, float, float, float, float] = (0.0, 0.0, 0.0, 0.0, 0.0)

    @property
    def focal_length_px(self) -> float:
        return self.focal_length_mm * 1000.0 / self.pixel_pitch_um


def scenario_doc(**overrides: Any) -> dict[str, Any]:
    doc: dict[str, Any] = {
        "name": "test",
        "seed": 3,
        "area": AREA,
        "margin_m": 150,
        "terrain": {"kind": "flat", "elevation_m": 500},
        "cover": {"default": "grass", "grass_height_m": 0.0},
        "conditions": {"preset": "clear_night"},
        "targets": [],
    }
    doc.update(overrides)
    return doc
