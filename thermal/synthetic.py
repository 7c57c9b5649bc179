"""Synthetic radiometric frames of a flat world with people, animals and decoys.

For tests and benchmarks where the simulator's world is not at hand: every pixel's ray meets
flat ground (so objects appear with the right size, shape and perspective for the pose),
objects are ellipses with a temperature, partly hidden by grass or canopy via
`visible_fraction`, over a background that varies smoothly on the ground (fixed in the world,
so it moves through the image as the drone flies), plus optics blur, sensor noise and
optional bad pixels. Not a physics model: enough to exercise detection, georeferencing and
confirmation against known truth.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import cv2
import numpy as np
from numpy.typing import NDArray

from thermal.camera import CameraModel
from thermal.frame import Pose, ThermalFrame
from thermal.georef import camera_to_ned, latlon_to_offset


@dataclass(frozen=True)
class SceneObject:
    kind: str  # truth label: person, animal, rock, vehicle, ...
    east_m: float  # from the scene origin
    north_m: float
    length_m: float
    width_m: float
    temp_c: float  # apparent surface temperature
    heading_deg: float = 0.0  # long axis, clockwise from north
    visible_fraction: float = 1.0  # grass / canopy: how much of the signal gets through


@dataclass(frozen=True)
class Scene:
    lat0: float
    lon0: float
    objects: tuple[SceneObject, ...] = ()
    background_c: float = 8.0
    texture_c: float = 0.8  # amplitude of smooth background variation (fields, hedges)
    noise_c: float = 0.05  # sensor NETD
    seed: int = 0
    bad_pixels: tuple[tuple[int, int], ...] = ()  # (col, row) stuck hot in every frame


def _texture(
    scene: Scene, east: NDArray[np.float64], north: NDArray[np.float64]
) -> NDArray[np.float64]:
    rng = np.random.default_rng(scene.seed + 7)
    out = np.zeros_like(east)
    for wavelength in (180.0, 70.0, 31.0):
        k = 2 * math.pi / wavelength
        th, ph = rng.uniform(0, 2 * math.pi, 2)
        out += np.sin(k * (east * math.cos(th) + north * math.sin(th)) + ph)
    return scene.texture_c / 3.0 * out


def render(
    scene: Scene,
    camera: CameraModel,
    true_pose: Pose,
    alt_agl_m: float,
    *,
    reported_pose: Pose | None = None,
    frame_id: int = 0,
    timestamp: float = 0.0,
    vehicle_id: int | None = 1,
    rng: np.random.Generator | None = None,
) -> ThermalFrame:
    """One frame as seen from `true_pose`; the frame carries `reported_pose` (default: the
    true one) as a navigation system with errors would report it."""
    rng = rng or np.random.default_rng(scene.seed + frame_id)
    w, h = camera.width_px, camera.height_px
    xs, ys = np.meshgrid(np.arange(w, dtype=np.float64), np.arange(h, dtype=np.float64))
    rays = camera.rays(np.column_stack((xs.ravel(), ys.ravel()))) @ camera_to_ned(true_pose).T
    down = rays[:, 2]
    sky = down <= 1e-3
    t = np.where(sky, np.nan, alt_agl_m / np.where(sky, 1.0, down))
    n0, e0 = latlon_to_offset(scene.lat0, scene.lon0, true_pose.lat, true_pose.lon)
    north = n0 + rays[:, 0] * t
    east = e0 + rays[:, 1] * t
    gsd = t / camera.fx / np.maximum(down, 0.05)
    img = scene.background_c + _texture(scene, east, north)
    for obj in scene.objects:
        de, dn = east - obj.east_m, north - obj.north_m
        if not np.any(np.abs(de) + np.abs(dn) < obj.length_m + 50):
            continue
        hd = math.radians(obj.heading_deg)
        u = de * math.sin(hd) + dn * math.cos(hd)  # along the long axis
        v = de * math.cos(hd) - dn * math.sin(hd)
        a, b = obj.length_m / 2, obj.width_m / 2
        r = np.sqrt((u / a) ** 2 + (v / b) ** 2)
        cover = np.clip(0.5 - (r - 1.0) * b / np.maximum(gsd, 1e-3), 0.0, 1.0)
        img = img + cover * obj.visible_fraction * (obj.temp_c - img)
    img = np.where(sky, scene.background_c - 20.0, img).reshape(h, w).astype(np.float32)
    img = cv2.GaussianBlur(img, (0, 0), 0.6)  # optics
    img += rng.normal(0.0, scene.noise_c, img.shape).astype(np.float32)
    for col, row in scene.bad_pixels:
        img[row, col] = scene.background_c + 25.0
    return ThermalFrame(
        pixels=img,
        unit="celsius",
        timestamp=timestamp,
        frame_id=frame_id,
        vehicle_id=vehicle_id,
        camera=camera.name or None,
        pose=reported_pose or true_pose,
        source=f"synthetic:{frame_id}",
    )


def truth_latlon(scene: Scene, obj: SceneObject) -> tuple[float, float]:
    from thermal.georef import offset_to_latlon

    lat, lon = offset_to_latlon(scene.lat0, scene.lon0, obj.north_m, obj.east_m)
    return float(lat), float(lon)
