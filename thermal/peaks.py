"""Candidate heat peaks and scale-normalised patches around them, for the learned classifier.

In 8-bit AGC video a person is often not among the brightest things in view (sun-lit
ground, roofs and kerbs are), and the hysteresis blobs of `thermal.detect` merge a person
with the warm things beside them. So relative mode casts a wide net instead: every local
maximum of a white top-hat whose element is larger than a person (so a person survives it
whole) but smaller than a field or a roof (so those are flattened), a few noise sigmas above
the residual's median. On HIT-UAV's train split this finds about 96 % of the people at some
300 peaks per frame; `thermal.patchnet` then decides which peaks are people.

Patches are resampled to a fixed ground sample distance (`PATCH_GSD_M`) from each peak's own
range, so one model serves every lens and altitude, and an oblique view's near and far rows
alike.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np
from numpy.typing import NDArray

from thermal.detect import Blobs
from thermal.errors import FrameError

PATCH_PX = 32
PATCH_GSD_M = 0.08  # a 32-px patch covers 2.6 m: a lying adult (1.7 m) with margin
CONTEXT_GSD_M = 0.24  # and 7.7 m around it: on a road, by a wall, in a field
PATCH_CHANNELS = 3


@dataclass(frozen=True)
class PeakConfig:
    tophat_m: float = 2.5  # structuring element: larger than a person, smaller than a roof
    min_separation_m: float = 0.8  # one peak per body
    k_sigma: float = 4.0  # peak height above the top-hat's median, in noise sigmas
    noise_floor: float = 0.5  # intensity levels: 8-bit quantisation and JPEG blocking
    assumed_gsd_m: float = 0.12  # when the frame has no pose to measure it
    max_peaks: int = 600  # strongest kept; a frame with more is clutter throughout


@dataclass(frozen=True, eq=False)
class Peaks:
    x: NDArray[np.int64]  # column
    y: NDArray[np.int64]  # row
    height: NDArray[np.float32]  # top-hat value at the peak (intensity levels)
    noise: float  # the top-hat's noise sigma
    tophat: NDArray[np.float32]  # the smoothed top-hat image (for measuring blobs)

    def __len__(self) -> int:
        return len(self.x)


def find_peaks(
    pixels: NDArray[np.float32], gsd_m: float | None, config: PeakConfig | None = None
) -> Peaks:
    """Local maxima of the frame's top-hat at person scale; `gsd_m` at the frame centre."""
    cfg = config or PeakConfig()
    img = np.asarray(pixels, np.float32)
    if img.ndim != 2 or min(img.shape) < 8:
        raise FrameError(f"peak finder needs a 2-D frame of at least 8x8 pixels, got {img.shape}")
    gsd = gsd_m if gsd_m and np.isfinite(gsd_m) and gsd_m > 0 else cfg.assumed_gsd_m
    size = max(3, round(cfg.tophat_m / gsd)) | 1
    # A square element: separable, so the opening costs the same at any altitude.
    element = cv2.getStructuringElement(cv2.MORPH_RECT, (size, size))
    tophat = cv2.morphologyEx(img, cv2.MORPH_TOPHAT, element)
    # Smooth at about a body's width so one person makes one maximum, not one per limb.
    tophat = cv2.GaussianBlur(tophat, (0, 0), max(0.8, 0.15 / gsd))
    sample = tophat[::4, ::4].ravel()
    med = float(np.median(sample))
    noise = max(1.4826 * float(np.median(np.abs(sample - med))), cfg.noise_floor)
    sep = max(3, int(cfg.min_separation_m / gsd)) | 1
    local_max = cv2.dilate(tophat, cv2.getStructuringElement(cv2.MORPH_RECT, (sep, sep)))
    mask = (tophat >= local_max) & (tophat > med + cfg.k_sigma * noise)
    ys, xs = np.nonzero(mask)
    height = tophat[ys, xs]
    if len(xs) > cfg.max_peaks:
        keep = np.argpartition(-height, cfg.max_peaks)[: cfg.max_peaks]
        xs, ys, height = xs[keep], ys[keep], height[keep]
    return Peaks(xs.astype(np.int64), ys.astype(np.int64), height, noise, tophat)


def patches(
    pixels: NDArray[np.float32],
    x: NDArray[np.floating] | NDArray[np.integer],
    y: NDArray[np.floating] | NDArray[np.integer],
    gsd_m: NDArray[np.float64],
) -> NDArray[np.float32]:
    """(N, PATCH_CHANNELS, PATCH_PX, PATCH_PX) model input around each peak, resampled from
    its own ground sample distance `gsd_m`: 0 the body at PATCH_GSD_M relative to its
    surroundings (the patch's rim), 1 the same at CONTEXT_GSD_M, 2 the body's absolute level
    (where the camera's AGC puts it), each scaled to about unit range."""
    n = len(x)
    if n == 0:
        return np.zeros((0, PATCH_CHANNELS, PATCH_PX, PATCH_PX), np.float32)
    img = np.asarray(pixels, np.float32)
    fine = _resample(img, x, y, PATCH_GSD_M / np.asarray(gsd_m, np.float64))
    # The context is read from a 3x-reduced frame so it averages rather than aliases.
    small = cv2.resize(img, None, fx=1 / 3, fy=1 / 3, interpolation=cv2.INTER_AREA)
    sx, sy = img.shape[1] / small.shape[1], img.shape[0] / small.shape[0]
    step = CONTEXT_GSD_M / np.asarray(gsd_m, np.float64) / sx
    context = _resample(
        small, (np.asarray(x) + 0.5) / sx - 0.5, (np.asarray(y) + 0.5) / sy - 0.5, step
    )
    out = np.empty((n, PATCH_CHANNELS, PATCH_PX, PATCH_PX), np.float32)
    out[:, 0] = (fine - _rim_mean(fine)) / 64.0
    out[:, 1] = (context - _rim_mean(context)) / 64.0
    out[:, 2] = fine / 128.0 - 1.0
    return out


def _rim_mean(p: NDArray[np.float32]) -> NDArray[np.float32]:
    """Mean of each patch's outer 3-pixel rim, (N, 1, 1): the body's surroundings."""
    inner = p[:, 3:-3, 3:-3].sum(axis=(1, 2))
    rim = (p.sum(axis=(1, 2)) - inner) / (PATCH_PX**2 - (PATCH_PX - 6) ** 2)
    return rim[:, None, None].astype(np.float32)


def _resample(
    img: NDArray[np.float32],
    x: NDArray[np.floating] | NDArray[np.integer],
    y: NDArray[np.floating] | NDArray[np.integer],
    step: NDArray[np.float64],
) -> NDArray[np.float32]:
    """(N, PATCH_PX, PATCH_PX) bilinear samples on a grid of `step` source pixels centred
    on each (x, y): one `cv2.remap` for all of them."""
    n = len(x)
    offs = np.arange(PATCH_PX, dtype=np.float64) - (PATCH_PX - 1) / 2
    map_x = np.asarray(x, np.float64)[:, None, None] + step[:, None, None] * offs[None, None, :]
    map_y = np.asarray(y, np.float64)[:, None, None] + step[:, None, None] * offs[None, :, None]
    shape = (n * PATCH_PX, PATCH_PX)
    return cv2.remap(
        img,
        np.broadcast_to(map_x, (n, PATCH_PX, PATCH_PX)).reshape(shape).astype(np.float32),
        np.broadcast_to(map_y, (n, PATCH_PX, PATCH_PX)).reshape(shape).astype(np.float32),
        cv2.INTER_LINEAR,
        borderMode=cv2.BORDER_REPLICATE,
    ).reshape(n, PATCH_PX, PATCH_PX)


def blobs_at(
    pixels: NDArray[np.float32], peaks: Peaks, keep: NDArray[np.intp], gsd_m: NDArray[np.float64]
) -> Blobs:
    """`Blobs` for the chosen peaks: each one's region is the connected part of the top-hat
    above half the peak's height, within 3 m of it (a body, not the field it lies in)."""
    img = np.asarray(pixels, np.float32)
    rows, cols = img.shape
    th = peaks.tophat
    stats = []
    for i, g in zip(keep, np.asarray(gsd_m)[keep], strict=True):
        px, py, h = int(peaks.x[i]), int(peaks.y[i]), float(peaks.height[i])
        r = max(4, int(3.0 / g))
        x0, y0 = max(0, px - r), max(0, py - r)
        win = th[y0 : min(rows, py + r + 1), x0 : min(cols, px + r + 1)]
        _, labels = cv2.connectedComponents((win >= 0.5 * h).view(np.uint8), connectivity=8)
        region = (labels == labels[py - y0, px - x0]).view(np.uint8)
        m = cv2.moments(region, binaryImage=True)
        bx, by, bw, bh = cv2.boundingRect(region)
        mean_th = cv2.mean(win, region)[0]
        _, peak_level, _, _ = cv2.minMaxLoc(
            img[y0 : y0 + win.shape[0], x0 : x0 + win.shape[1]], region
        )
        stats.append(
            (
                x0 + m["m10"] / m["m00"], y0 + m["m01"] / m["m00"],
                m["mu20"] / m["m00"], m["mu02"] / m["m00"], m["mu11"] / m["m00"], m["m00"],
                h, mean_th, peak_level, x0 + bx, y0 + by, bw, bh,
                float((win >= 0.5 * h).mean()) - m["m00"] / win.size,
            )
        )  # fmt: skip
    a = np.array(stats, np.float64).reshape(-1, 14)
    cxx, cyy, cxy = a[:, 2] + 1 / 12, a[:, 3] + 1 / 12, a[:, 4]
    half_tr = (cxx + cyy) / 2
    disc = np.sqrt(((cxx - cyy) / 2) ** 2 + cxy**2)
    l1, l2 = half_tr + disc, np.maximum(half_tr - disc, 1e-6)
    sample = img[::4, ::4].ravel()
    bw, bh = a[:, 11], a[:, 12]
    return Blobs(
        x=a[:, 0],
        y=a[:, 1],
        bbox=a[:, 9:13].astype(np.int32),
        area_px=a[:, 5].astype(np.int32),
        peak=a[:, 8].astype(np.float32),
        contrast=a[:, 6].astype(np.float32),
        mean_contrast=a[:, 7].astype(np.float32),
        snr=(a[:, 6] / peaks.noise).astype(np.float32),
        major_px=4.0 * np.sqrt(l1),
        minor_px=4.0 * np.sqrt(l2),
        angle_rad=0.5 * np.arctan2(2 * cxy, cxx - cyy),
        peak_rank=(sample[None, :] < a[:, 8:9]).mean(axis=1, dtype=np.float32),
        clutter=np.clip(a[:, 13], 0.0, 1.0).astype(np.float32),
        extent_ratio=(np.maximum(bw, bh) / np.maximum(np.minimum(bw, bh), 1)).astype(np.float32),
        noise=peaks.noise,
        background=float(np.median(sample)),
    )
