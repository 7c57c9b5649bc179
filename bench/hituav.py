"""HIT-UAV helpers shared by the thermal benchmark and the patch-classifier training script.

HIT-UAV: Suo et al., "HIT-UAV: A high-altitude infrared thermal dataset for Unmanned Aerial
Vehicle-based object detection", Scientific Data 10, 227 (2023), CC BY 4.0. File names are
`T_ALT_ANGLE_W_ID` (T 0 day / 1 night, ALT metres, ANGLE degrees from horizontal).
"""

from __future__ import annotations

import sys
import xml.etree.ElementTree as ET
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from thermal.camera import CameraModel  # noqa: E402
from thermal.frame import Gimbal, Pose  # noqa: E402
from thermal.georef import georeference, resolve_altitude  # noqa: E402

# The HIT-UAV camera (DJI Zenmuse XT2 class, 640x512, 17 um): an effective focal length of
# 19 mm. People there are 10-30 px. Chosen on the train split.
HIT_UAV_CAMERA = CameraModel.from_focal_length(640, 512, 19.0, 17.0, name="hit-uav")


def pose_from_name(stem: str) -> tuple[bool, Pose]:
    """(night?, pose) from a HIT-UAV file name."""
    when, alt, angle = stem.split("_")[:3]
    return when == "1", Pose(0.0, 0.0, alt_agl_m=float(alt), gimbal=Gimbal(pitch_deg=-float(angle)))


def gsd_m(pose: Pose, x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Across-ray ground sample distance (m/px) at pixels (x, y)."""
    g = georeference(np.column_stack((x, y)), HIT_UAV_CAMERA, pose, resolve_altitude(pose))
    return np.where(g.valid, g.range_m / HIT_UAV_CAMERA.fx, np.nan)


def voc_boxes(path: Path) -> list[tuple[str, tuple[float, float, float, float]]]:
    out = []
    for o in ET.parse(path).getroot().iter("object"):
        b = o.find("bndbox")
        if b is not None:
            box = tuple(float(b.findtext(k, "0")) for k in ("xmin", "ymin", "xmax", "ymax"))
            out.append((o.findtext("name", ""), box))
    return out  # type: ignore[return-value]
