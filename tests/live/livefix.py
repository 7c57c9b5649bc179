"""A small scenario world and its plan for the live thermal tests (real planner, real sim)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Any

import yaml

# A 180 m x 150 m grass field at night; the person stands near a lane of the plan below.
AREA = [[47.39800, 8.54500], [47.39800, 8.54740], [47.39665, 8.54740], [47.39665, 8.54500]]
PERSON = (47.39730, 8.54620)
CAR = (47.39680, 8.54700)


# A strip of four lanes through the person's position, for single-drone flights.
STRIP = [[47.39755, 8.54500], [47.39755, 8.54740], [47.39700, 8.54740], [47.39700, 8.54500]]


def write_scenario(
    directory: Path,
    targets: list[dict[str, Any]] | None = None,
    area: list[list[float]] = AREA,
) -> Path:
    doc = {
        "name": "live-test-field",
        "seed": 3,
        "area": area,
        "margin_m": 100,
        "terrain": {"kind": "flat", "elevation_m": 480},
        "cover": {"default": "grass", "grass_height_m": 0.1},
        "conditions": {"preset": "clear_night"},
        "targets": targets
        if targets is not None
        else [
            {"id": "walker", "class": "person", "posture": "standing",
             "lat": PERSON[0], "lon": PERSON[1]},
            {"id": "parked", "class": "car", "lat": CAR[0], "lon": CAR[1], "temp_c": 14.0},
        ],
    }  # fmt: skip
    path = directory / "scenario.yaml"
    path.write_text(yaml.safe_dump(doc, sort_keys=False))
    return path


def write_plan(
    directory: Path, drones: int = 2, alt_m: float = 40.0, area: list[list[float]] = AREA
) -> Path:
    """Plan the scenario's area with the real planner (`groundctl plan`)."""
    ring = [[lon, lat] for lat, lon in area] + [[area[0][1], area[0][0]]]
    area = directory / "area.geojson"
    area.write_text(
        '{"type": "Feature", "properties": {}, "geometry": {"type": "Polygon", '
        f'"coordinates": [{ring}]}}}}'
    )
    out = directory / "plan.json"
    subprocess.run(
        [sys.executable, "-m", "groundctl", "plan", str(area), "--camera", "h20t",
         "--alt", str(alt_m), "--drones", str(drones), "--airframe", "mavic3t", "-o", str(out)],
        check=True, capture_output=True, timeout=120,
    )  # fmt: skip
    return out


def distance_m(a: tuple[float, float], b: tuple[float, float]) -> float:
    return float(((a[0] - b[0]) * 111_200.0) ** 2 + ((a[1] - b[1]) * 75_300.0) ** 2) ** 0.5
