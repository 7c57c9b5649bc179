"""Hot-spot detection: value minus a robust local background, thresholded at the frame's noise.

The background is a median of a coarse grid (the frame area-averaged into `cell_px` cells,
median-filtered over `median_cells` cells, then bilinearly upsampled): a person covers a few
cells at most, so the median ignores them while following slopes, field edges and
vignetting. Noise is the MAD of the residual, so the same threshold works in °C and in
8-bit relative intensity. Blobs are grown from the low threshold and kept when their peak
reaches the high one (hysteresis); their shape comes from second moments, all vectorised.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np
from numpy.typing import NDArray

from thermal.errors import FrameError


@dataclass(frozen=True)
class DetectorConfig:
    cell_px: int = 8  # background grid cell; the median window is cell_px * median_cells
    median_cells: int = 5  # 3 or 5 (OpenCV's float median filter supports only these)
    k_high: float = 6.0  # seed: peak above background, in noise sigmas
    k_low: float = 3.0  # region: pixels above background, in noise sigmas
    min_contrast_c: float = 0.6  # radiometric: a seed must also be this much warmer (°C)
    min_contrast_rel: float = 25.0  # relative: and this many intensity levels brighter
    noise_floor_c: float = 0.03  # a sensor's NETD: never trust a noise estimate below it
    noise_floor_rel: float = 1.0  # 8-bit quantisation
    min_area_px: int = 2  # a single hot pixel is a defect: optics blur any real source
    max_blobs: int = 200  # keep the strongest; beyond this a frame is clutter

    def __post_init__(self) -> None:
        if self.median_cells not in (3, 5):
            raise ValueError("median_cells must be 3 or 5")
        if self.cell_px < 1 or self.k_low <= 0 or self.k_high < self.k_low:
            raise ValueError("need cell_px >= 1 and 0 < k_low <= k_high")


@dataclass(frozen=True, eq=False)
class Blobs:
    """Per-blob arrays (length N). Pixel coordinates are (col, row)."""

    x: NDArray[np.float64]  # centroid
    y: NDArray[np.float64]
    bbox: NDArray[np.int32]  # (N, 4): x, y, w, h
    area_px: NDArray[np.int32]
    peak: NDArray[np.float32]  # highest value in the blob (°C or intensity)
    contrast: NDArray[np.float32]  # peak minus local background
    mean_contrast: NDArray[np.float32]
    snr: NDArray[np.float32]  # contrast / noise sigma
    major_px: NDArray[np.float64]  # full axis lengths of the equivalent ellipse
    minor_px: NDArray[np.float64]
    angle_rad: NDArray[np.float64]  # major axis direction in the image (atan2(dy, dx))
    peak_rank: NDArray[np.float32]  # share of the frame's pixels cooler than the peak, 0..1
    clutter: NDArray[np.float32]  # share of the blob's surroundings that is warm too, 0..1
    extent_ratio: NDArray[np.float32]  # bounding box long / short side at the low threshold
    noise: float  # the frame's noise sigma
    background: float  # the frame's median background

    def __len__(self) -> int:
        return len(self.x)

    def subset(self, keep: NDArray[np.bool_]) -> Blobs:
        fields = {
            k: (v[keep] if isinstance(v, np.ndarray) else v) for k, v in self.__dict__.items()
        }
        return Blobs(**fields)

    def concat(self, other: Blobs) -> Blobs:
        fields = {
            k: (np.concatenate([v, getattr(other, k)]) if isinstance(v, np.ndarray) else v)
            for k, v in self.__dict__.items()
        }
        return Blobs(**fields)


def detect_cold(
    pixels: NDArray[np.float32],
    config: DetectorConfig | None = None,
    suppress: NDArray[np.bool_] | None = None,
) -> Blobs:
    """Blobs COLDER than their surroundings (radiometric only), with `peak` the blob's lowest
    temperature and `contrast` how much colder it is. On a sunny afternoon bare rock, scree
    and tarmac reach 40-50 °C and a person on them is a cool spot, not a warm one."""
    b = detect(-np.asarray(pixels, np.float32), True, config, suppress)
    return Blobs(**{**b.__dict__, "peak": -b.peak, "background": -b.background})


def detect(
    pixels: NDArray[np.float32],
    radiometric: bool,
    config: DetectorConfig | None = None,
    suppress: NDArray[np.bool_] | None = None,
) -> Blobs:
    """Find warm blobs in one frame. `suppress` masks known-bad pixels (True = ignore)."""
    cfg = config or DetectorConfig()
    img = np.asarray(pixels)
    if img.ndim != 2 or min(img.shape) < 8:
        raise FrameError(f"detector needs a 2-D frame of at least 8x8 pixels, got {img.shape}")
    if img.dtype != np.float32:
        img = img.astype(np.float32)
    if not np.isfinite(img[:: max(1, img.shape[0] // 16), :: max(1, img.shape[1] // 16)]).all():
        img = np.nan_to_num(img, nan=float(np.nanmedian(img)), posinf=0.0, neginf=0.0)
    rows, cols = img.shape
    small_w = max(3, round(cols / cfg.cell_px))
    small_h = max(3, round(rows / cfg.cell_px))
    small = cv2.resize(img, (small_w, small_h), interpolation=cv2.INTER_AREA)
    small = cv2.medianBlur(small, cfg.median_cells)
    background = cv2.resize(small, (cols, rows), interpolation=cv2.INTER_LINEAR)
    resid = cv2.subtract(img, background, dst=background)  # in place: one frame buffer less
    if suppress is not None:
        resid[suppress] = 0.0

    # MAD on a sparse sample: the noise level of 6k pixels is as good as of a million.
    step = max(1, int(np.sqrt(rows * cols / 6000)))
    sample = resid[::step, ::step].ravel()
    mid = len(sample) // 2
    med = float(np.partition(sample, mid)[mid])
    mad = float(np.partition(np.abs(sample - med), mid)[mid])
    floor = cfg.noise_floor_c if radiometric else cfg.noise_floor_rel
    noise = max(1.4826 * mad, floor)
    min_contrast = cfg.min_contrast_c if radiometric else cfg.min_contrast_rel
    low = med + cfg.k_low * noise
    high = max(med + cfg.k_high * noise, med + min_contrast)
    flat = small.ravel()
    half = len(flat) // 2  # np.median's value, by partition (a third of its cost)
    part = np.partition(flat, (half - 1, half)) if len(flat) % 2 == 0 else np.partition(flat, half)
    bg_level = float(part[half]) if len(flat) % 2 else float((part[half - 1] + part[half]) / 2)

    seeds = (resid > high).view(np.uint8)
    if cv2.countNonZero(seeds) == 0:  # the common case: nothing warm in view
        return _empty(noise, bg_level)
    # Seeds per grid cell, then one flood fill of the low mask per blob: far cheaper than
    # labelling the whole frame when, as usual, a few blobs are in view.
    if cfg.cell_px == 8 and rows == small_h * 8 and cols == small_w * 8:
        # Eight mask bytes are one uint64: a cell row is one integer per cell, so "any seed
        # in the cell" is a max over its eight rows (a quarter of the cost of resizing).
        tiles = (seeds.view(np.uint64).reshape(small_h, 8, small_w).max(axis=1) != 0).view(np.uint8)
    else:
        tiles = (
            cv2.resize(seeds * 255, (small_w, small_h), interpolation=cv2.INTER_AREA) > 0
        ).view(np.uint8)
    # Clusters of seed cells; within each, fill from the strongest unfilled seed until none
    # is left (a cluster may hold several blobs close together).
    # (BBDT: two to three times faster than the default on a small grid; same components)
    _, _, cl_stats, _ = cv2.connectedComponentsWithStatsWithAlgorithm(
        tiles, 8, cv2.CV_32S, cv2.CCL_BBDT
    )
    labels = (resid > low).view(np.uint8)
    sy, sx = rows / small_h, cols / small_w
    out: list[tuple[float, ...]] = []
    boxes: list[tuple[int, int, int, int]] = []
    label = 2
    for c in np.argsort(-cl_stats[1:, cv2.CC_STAT_AREA], kind="stable") + 1:
        tx0, ty0, tw, th = cl_stats[c, :4]
        x0, y0 = max(0, int(tx0 * sx) - 1), max(0, int(ty0 * sy) - 1)
        x1, y1 = min(cols, int((tx0 + tw) * sx) + 2), min(rows, int((ty0 + th) * sy) + 2)
        res_cl, seed_cl, lab_cl = resid[y0:y1, x0:x1], seeds[y0:y1, x0:x1], labels[y0:y1, x0:x1]
        while label <= 255 and len(out) < cfg.max_blobs:
            open_seeds = cv2.bitwise_and(seed_cl, cv2.compare(lab_cl, 1, cv2.CMP_EQ))
            _, vmax, _, (px, py) = cv2.minMaxLoc(res_cl, open_seeds)
            if vmax < high or not open_seeds[py, px]:
                break
            area, rect = _fill(labels, x0 + px, y0 + py, label, (x0, y0, x1, y1))
            _measure_blob(labels, resid, img, label, area, rect, med, cfg, out, boxes)
            label += 1
    if not out:
        return _empty(noise, bg_level)
    a = np.array(out, np.float64)
    cxx, cyy, cxy = a[:, 2] + 1 / 12, a[:, 3] + 1 / 12, a[:, 4]
    # (+1/12: a pixel is a unit square, so a 1-px-wide blob still has width)
    half_tr = (cxx + cyy) / 2
    disc = np.sqrt(((cxx - cyy) / 2) ** 2 + cxy**2)
    l1, l2 = half_tr + disc, np.maximum(half_tr - disc, 1e-6)
    contrast = (a[:, 6] - med).astype(np.float32)
    return Blobs(
        x=a[:, 0],
        y=a[:, 1],
        bbox=np.array(boxes, np.int32).reshape(-1, 4),
        area_px=a[:, 5].astype(np.int32),
        peak=a[:, 8].astype(np.float32),
        contrast=contrast,
        mean_contrast=(a[:, 7] - med).astype(np.float32),
        snr=(contrast / noise).astype(np.float32),
        major_px=4.0 * np.sqrt(l1),  # uniform ellipse: variance along an axis = (axis/4)^2
        minor_px=4.0 * np.sqrt(l2),
        angle_rad=0.5 * np.arctan2(2 * cxy, cxx - cyy),
        # In relative (AGC) video the warmest things in view are mapped near white: where a
        # blob ranks in its own frame is a scale-free measure of "warmer than the scene".
        peak_rank=(img[::step, ::step].ravel()[None, :] < a[:, 8:9]).mean(axis=1, dtype=np.float32),
        clutter=a[:, 9].astype(np.float32),
        extent_ratio=a[:, 10].astype(np.float32),
        noise=noise,
        background=bg_level,
    )


def _fill(
    labels: NDArray[np.uint8], x: int, y: int, label: int, box: tuple[int, int, int, int]
) -> tuple[int, tuple[int, int, int, int]]:
    """Flood-fill the low-mask region holding (x, y) with `label`; (area, bounding rect).

    Filled first within the seed cluster's box plus a margin (OpenCV's fill costs in
    proportion to the image it is given); a region reaching that window's edge inside the
    frame may go on, so it is undone and filled again on the whole frame."""
    rows, cols = labels.shape
    m = 16
    wx0, wy0 = max(0, box[0] - m), max(0, box[1] - m)
    wx1, wy1 = min(cols, box[2] + m), min(rows, box[3] + m)
    win = labels[wy0:wy1, wx0:wx1]
    flags = 8 | cv2.FLOODFILL_FIXED_RANGE
    area, _, _, (rx, ry, rw, rh) = cv2.floodFill(win, None, (x - wx0, y - wy0), label, 0, 0, flags)
    inside = (
        (rx > 0 or wx0 == 0)
        and (ry > 0 or wy0 == 0)
        and (rx + rw < wx1 - wx0 or wx1 == cols)
        and (ry + rh < wy1 - wy0 or wy1 == rows)
    )
    if inside:
        return int(area), (wx0 + rx, wy0 + ry, rw, rh)
    sub = win[ry : ry + rh, rx : rx + rw]
    sub[sub == label] = 1
    area, _, _, rect = cv2.floodFill(labels, None, (x, y), label, 0, 0, flags)
    return int(area), rect


def _measure_blob(
    labels: NDArray[np.uint8],
    resid: NDArray[np.float32],
    img: NDArray[np.float32],
    label: int,
    area: int,
    rect: tuple[int, int, int, int],
    med: float,
    cfg: DetectorConfig,
    out: list[tuple[float, ...]],
    boxes: list[tuple[int, int, int, int]],
) -> None:
    if area < cfg.min_area_px:
        return
    bx, by, bw, bh = rect
    # (cv2.compare: a third of numpy's time on these small strided windows)
    roi = cv2.compare(labels[by : by + bh, bx : bx + bw], label, cv2.CMP_EQ)
    res_roi = resid[by : by + bh, bx : bx + bw]
    _, rmax, _, _ = cv2.minMaxLoc(res_roi, roi)
    mean_res = cv2.mean(res_roi, roi)[0]
    _, vmax_img, _, _ = cv2.minMaxLoc(img[by : by + bh, bx : bx + bw], roi)
    # Shape at half the peak contrast: the low threshold follows the blur tails of a
    # strong source outwards, which would make a warm person look bigger than a cool one.
    core = cv2.bitwise_and(roi, (res_roi >= med + 0.5 * (rmax - med)).view(np.uint8))
    m = cv2.moments(core, binaryImage=True)
    # Clutter: the share of the surroundings (a margin of one blob size) that is also above
    # the low threshold. A person in a field stands alone; lamp rows, kerbs, roof edges and
    # sun-lit structures come with warm neighbours.
    pad = max(bw, bh)
    ring = labels[max(0, by - pad) : by + bh + pad, max(0, bx - pad) : bx + bw + pad]
    ring_px = ring.size - int(area)
    warm_px = cv2.countNonZero(ring) - int(area)
    out.append(
        (
            bx + m["m10"] / m["m00"], by + m["m01"] / m["m00"],
            m["mu20"] / m["m00"], m["mu02"] / m["m00"], m["mu11"] / m["m00"],
            m["m00"], rmax, mean_res, vmax_img,
            warm_px / max(ring_px, 1), max(bw, bh) / max(min(bw, bh), 1),
        )
    )  # fmt: skip
    boxes.append(rect)


def _empty(noise: float, background: float) -> Blobs:
    f = np.zeros(0, np.float64)
    f32 = np.zeros(0, np.float32)
    return Blobs(
        f, f, np.zeros((0, 4), np.int32), np.zeros(0, np.int32),
        f32, f32, f32, f32, f, f, f, f32, f32, f32, noise, background,
    )  # fmt: skip
