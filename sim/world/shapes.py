"""Target bodies at physical size: a few ellipsoids and boxes per class and posture.

Each part is given in the target's own frame: forward along its heading, right, up from the
ground, in metres; `semi` are half-extents. ``hot`` parts (head, face, bonnet, embers) take
the class's hot temperature, the rest its body temperature. Sizes are adult averages.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import numpy as np
from numpy.typing import NDArray


@dataclass(frozen=True)
class Part:
    kind: Literal["ellipsoid", "box"]
    centre: tuple[float, float, float]  # forward, right, up (m)
    semi: tuple[float, float, float]  # half extents (m)
    hot: bool = False


def _e(f: float, r: float, u: float, a: float, b: float, c: float, hot: bool = False) -> Part:
    return Part("ellipsoid", (f, r, u), (a, b, c), hot)


def _b(f: float, r: float, u: float, a: float, b: float, c: float, hot: bool = False) -> Part:
    return Part("box", (f, r, u), (a, b, c), hot)


_PERSON: dict[str, tuple[Part, ...]] = {
    "standing": (
        _e(0, 0, 0.45, 0.14, 0.20, 0.45),  # legs
        _e(0, 0, 1.20, 0.14, 0.24, 0.33),  # torso
        _e(0, 0, 1.63, 0.11, 0.09, 0.12, hot=True),  # head
    ),
    "sitting": (
        _e(0.25, 0, 0.15, 0.30, 0.18, 0.12),  # thighs along the ground
        _e(0, 0, 0.55, 0.14, 0.22, 0.30),  # torso
        _e(0, 0, 0.97, 0.11, 0.09, 0.12, hot=True),
    ),
    "crouching": (
        _e(0.05, 0, 0.35, 0.30, 0.22, 0.33),
        _e(0.10, 0, 0.80, 0.11, 0.09, 0.12, hot=True),
    ),
    "lying": (
        _e(-0.45, 0, 0.10, 0.45, 0.16, 0.10),  # legs
        _e(0.30, 0, 0.13, 0.33, 0.24, 0.13),  # torso
        _e(0.76, 0, 0.11, 0.12, 0.09, 0.11, hot=True),  # head
    ),
}

SHAPES: dict[str, tuple[Part, ...]] = {
    "sheep": (
        _e(0, 0, 0.55, 0.55, 0.28, 0.25),
        _e(0.62, 0, 0.70, 0.13, 0.08, 0.10, hot=True),
    ),
    "dog": (
        _e(0, 0, 0.45, 0.38, 0.13, 0.14),
        _e(0.45, 0, 0.62, 0.11, 0.07, 0.08, hot=True),
    ),
    "deer": (
        _e(0, 0, 0.95, 0.70, 0.22, 0.28),
        _e(0.85, 0, 1.45, 0.14, 0.08, 0.10, hot=True),
        _e(0, 0, 0.40, 0.50, 0.15, 0.40),
    ),
    "cattle": (
        _e(0, 0, 1.05, 1.05, 0.40, 0.40),
        _e(0, 0, 0.40, 0.80, 0.30, 0.40),
        _e(1.15, 0, 1.15, 0.25, 0.18, 0.18, hot=True),
    ),
    "car": (
        _b(0, 0, 0.50, 2.25, 0.90, 0.40),
        _b(-0.3, 0, 1.15, 1.20, 0.80, 0.28),
        _b(1.65, 0, 0.92, 0.55, 0.80, 0.03, hot=True),  # warm bonnet
    ),
    "campfire": (
        _e(0, 0, 0.10, 0.70, 0.70, 0.10),  # warm ring of stones and ash
        _e(0, 0, 0.25, 0.30, 0.30, 0.25, hot=True),  # embers and flame
    ),
    "rock": (_e(0, 0, 0.45, 1.10, 0.80, 0.50), _e(0.2, 0.1, 0.75, 0.6, 0.45, 0.25, hot=True)),
    "roof": (_b(0, 0, 4.5, 5.0, 4.0, 0.3), _b(0, 0, 4.85, 4.5, 2.0, 0.05, hot=True)),
}


def parts_for(target: str, posture: str | None, scale: float = 1.0) -> tuple[Part, ...]:
    if target in ("person", "child"):
        parts = _PERSON[posture or "standing"]
        # A child of ~8 years: about 0.7 of an adult's length.
        scale = scale * (0.7 if target == "child" else 1.0)
    else:
        parts = SHAPES[target]
    if scale == 1.0:
        return parts
    return tuple(
        Part(
            p.kind,
            (p.centre[0] * scale, p.centre[1] * scale, p.centre[2] * scale),
            (p.semi[0] * scale, p.semi[1] * scale, p.semi[2] * scale),
            p.hot,
        )
        for p in parts
    )


def height_m(parts: tuple[Part, ...]) -> float:
    return max(p.centre[2] + p.semi[2] for p in parts)


def footprint_area_m2(parts: tuple[Part, ...]) -> float:
    """Area seen from straight above (union approximated by the largest part plus the rest)."""
    areas = [(np.pi if p.kind == "ellipsoid" else 4.0) * p.semi[0] * p.semi[1] for p in parts]
    return float(sum(areas))


def _unit_sphere(n_lat: int = 17, n_lon: int = 48) -> NDArray[np.float64]:
    lat = np.linspace(-np.pi / 2, np.pi / 2, n_lat)
    lon = np.linspace(0, 2 * np.pi, n_lon, endpoint=False)
    la, lo = np.meshgrid(lat, lon, indexing="ij")
    return np.stack([np.cos(la) * np.cos(lo), np.cos(la) * np.sin(lo), np.sin(la)], -1).reshape(
        -1, 3
    )


_SPHERE = _unit_sphere()
_CUBE = np.array([[x, y, z] for x in (-1, 1) for y in (-1, 1) for z in (-1, 1)], np.float64)


def surface_points(part: Part) -> NDArray[np.float64]:
    """Points on the part's surface in the target frame (forward, right, up); their
    projected convex hull is the part's silhouette from any viewpoint."""
    unit = _SPHERE if part.kind == "ellipsoid" else _CUBE
    return unit * np.asarray(part.semi) + np.asarray(part.centre)
