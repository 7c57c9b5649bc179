"""Person / animal / vehicle-or-hot-object / unknown from physical size, shape, temperature,
contrast and context.

Each class scores every blob with soft (trapezoid) memberships over its features, multiplied
together; a feature that is unknown (no temperature in relative mode, no size without a pose)
scores 1 and so neither helps nor hurts. Memberships have floors so one borderline feature
lowers a class rather than vetoing it. Figures are physical: a lying adult is about
0.5 x 1.7 m, standing seen from above about 0.5 x 0.4 m (longer when viewed obliquely); a
sheep about 0.4 x 1.2 m, with a cooler fleece, and usually in a group, cattle up to
2.6 m; sun-heated rocks and
roofs are warmer than skin and rounder or larger than people; cars are > 3 m².
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

CLASSES = ("person", "animal", "vehicle_or_hot_object")


@dataclass(frozen=True, eq=False)
class Features:
    """Per-blob features (arrays of length N); NaN where unknown."""

    length_m: NDArray[np.float64]
    width_m: NDArray[np.float64]
    area_m2: NDArray[np.float64]
    peak_c: NDArray[np.float64]  # apparent peak temperature (NaN in relative mode)
    contrast_c: NDArray[np.float64]  # peak minus background in °C (NaN in relative mode)
    snr: NDArray[np.float64]
    east_m: NDArray[np.float64]  # ground position, for group context (NaN without a pose)
    north_m: NDArray[np.float64]
    # Relative (8-bit AGC) mode only, NaN otherwise: contrast in intensity levels and where
    # the blob's peak ranks among the frame's pixels.
    contrast_rel: NDArray[np.float64] | None = None
    peak_rank: NDArray[np.float64] | None = None
    # Radiometric mode, NaN otherwise: the blob's mean temperature above its background (°C).
    mean_contrast_c: NDArray[np.float64] | None = None


@dataclass(frozen=True)
class ClassifierConfig:
    min_confidence: float = 0.45  # best class score below this: "unknown"
    group_radius_m: float = 25.0  # animals graze within this of each other
    group_temp_diff_c: float = 4.0  # and their coats read alike within this
    min_area_m2: float = 0.05  # smaller than a hare: noise, a bird, a hot stone
    max_area_m2: float = 40.0  # larger: a building, a field patch


def _trap(
    x: NDArray[np.float64], a: float, b: float, c: float, d: float, floor: float
) -> NDArray[np.float64]:
    """1 on [b, c], falling linearly to `floor` at a and d; 1 where x is NaN (unknown)."""
    m = np.interp(x, (a, b, c, d), (floor, 1.0, 1.0, floor))
    return np.where(np.isnan(x), 1.0, m)


def _trap0(x: NDArray[np.float64], a: float, b: float, c: float, d: float) -> NDArray[np.float64]:
    """Like `_trap` with floor 0, but 0 where x is unknown."""
    m = np.interp(x, (a, b, c, d), (0.0, 1.0, 1.0, 0.0))
    return np.where(np.isnan(m), 0.0, m)  # (np.nan_to_num costs six times as much)


def group_size(
    east_m: NDArray[np.float64],
    north_m: NDArray[np.float64],
    radius_m: float,
    peak_c: NDArray[np.float64] | None = None,
    max_temp_diff_c: float = 4.0,
) -> NDArray[np.int64]:
    """How many other blobs of the frame lie within `radius_m` of each blob (and, when
    temperatures are known, look alike: a flock is one kind of animal)."""
    if len(east_m) < 2 or np.isnan(east_m).all():
        return np.zeros(len(east_m), np.int64)
    d2 = (east_m[:, None] - east_m[None, :]) ** 2 + (north_m[:, None] - north_m[None, :]) ** 2
    near = d2 <= radius_m**2
    if peak_c is not None and not np.isnan(peak_c).all():
        near &= ~(np.abs(peak_c[:, None] - peak_c[None, :]) > max_temp_diff_c)
    return np.sum(near, axis=1) - 1


def classify(
    f: Features, config: ClassifierConfig | None = None
) -> tuple[NDArray[np.object_], NDArray[np.float64], NDArray[np.float64]]:
    """(class names, confidence 0..1, per-class scores (N, 3)) for each blob."""
    cfg = config or ClassifierConfig()
    n = len(f.length_m)
    if n == 0:
        return np.zeros(0, object), np.zeros(0), np.zeros((0, 3))
    elong = f.length_m / np.maximum(f.width_m, 1e-6)
    # Radiometric: how clearly the blob stands out of the scene's own texture. On a sun-lit
    # afternoon the background itself is a few degrees "noisy" (rocks, trails, dry grass), and
    # blobs only a few sigma above it are mostly that texture; a person stands out further.
    clear = np.where(np.isnan(f.contrast_c), 1.0, _trap(f.snr, 8.0, 20.0, 1e9, 1e9, 0.25))
    # A live body's warmest surface (face, eyes, legs, skin) sits a good part of the way from
    # its surroundings to its ~37 °C core - even a fleece's wearer, even wet, even blurred:
    # over cold night ground that is 8 °C and more. Water, a bank or a track that only kept
    # a little of the day's heat is a few degrees warm whatever the night.
    excess = f.contrast_c / np.maximum(37.0 - (f.peak_c - f.contrast_c), 1.0)
    alive = _trap(excess, 0.1, 0.18, 1e9, 1e9, 0.2)
    # Only bodies make a group: blobs of an animal's size that are fully alive-warm and stand
    # clear of the scene's texture, not the banks, tracks and grass a night scene is full of
    # (their mean temperature hugs the background, and so would look alike with anything).
    similar = (_trap(f.area_m2, 0.1, 0.2, 2.2, 3.0, 0.0) > 0.5) & (alive >= 1.0) & (clear >= 1.0)
    # A flock is alike in its coats, not in its peaks: whether a sheep's face or a deer's head
    # is in view moves its warmest pixel by several degrees from one animal to the next,
    # while the fleece or fur that makes up most of each blob reads the same. So where it is
    # known, the blobs' mean temperature decides whether they look alike.
    body_c = f.peak_c
    if f.mean_contrast_c is not None:
        mean_c = f.peak_c - f.contrast_c + f.mean_contrast_c
        body_c = np.where(np.isnan(mean_c), f.peak_c, mean_c)
    groups = group_size(
        np.where(similar, f.east_m, np.nan),
        np.where(similar, f.north_m, np.nan),
        cfg.group_radius_m,
        body_c,
        cfg.group_temp_diff_c,
    )
    grouped = np.where(np.isnan(f.east_m), np.nan, (groups >= 1).astype(np.float64))
    # Company speaks for a quadruped's back (sheep, deer, dogs and cattle are 1.8-4 times as
    # long as wide from above), not against an upright person's compact, roundish outline
    # (shoulders and head, under a metre and under twice as long as wide): a farmer among
    # his flock or a walker passing a herd is still a person.
    # (Radiometric only: relative-mode rules were set on HIT-UAV and are left as they are.)
    upright = _trap0(f.length_m, 0.0, 0.0, 0.8, 1.0) * _trap0(elong, 0.0, 0.0, 1.6, 2.0)
    upright = np.where(np.isnan(f.contrast_c), 0.0, upright)
    in_company = np.where(grouped == 1.0, 1.0 - upright, 0.0)

    person = (
        _trap(f.length_m, 0.25, 0.45, 2.1, 2.8, 0.05)
        * _trap(f.width_m, 0.12, 0.25, 0.7, 1.0, 0.05)
        * _trap(f.area_m2, 0.06, 0.12, 1.3, 2.0, 0.05)
        * _trap(f.peak_c, 5.0, 16.0, 37.5, 41.0, 0.1)
        * _trap(f.contrast_c, 0.5, 2.5, 40.0, 60.0, 0.3)
        * clear
        * alive
        * (1.0 - 0.4 * in_company)
        # Over a metre long but stocky is a quadruped's back (sheep 1.2 x 0.55, deer 1.5 x
        # 0.55: 2-2.7 times as long as wide), not a person: a person that long is lying and
        # lies ~3.5 times as long as wide (1.75 x 0.5); sitting with legs out stays under ~1.1 m.
        * (1.0 - 0.6 * _trap0(f.length_m, 1.0, 1.15, 1e9, 1e9) * _trap0(elong, 0.0, 0.0, 2.4, 2.9))
    )
    animal = (
        _trap(f.length_m, 0.35, 0.6, 2.6, 3.2, 0.05)
        * _trap(f.width_m, 0.15, 0.3, 0.9, 1.25, 0.05)
        * _trap(f.area_m2, 0.08, 0.2, 2.2, 3.0, 0.05)
        * _trap(elong, 1.0, 1.8, 6.0, 9.0, 0.5)
        * _trap(f.peak_c, 0.0, 5.0, 30.0, 36.0, 0.2)
        * _trap(f.contrast_c, 0.4, 1.5, 35.0, 50.0, 0.3)
        * clear
        * alive
        * np.where(np.isnan(grouped), 0.8, 0.55 + 0.45 * in_company)
    )
    # Evidence for a hot object must be present, not merely unknown: NaN sizes count as 0.
    roundish_big = _trap0(elong, 0.0, 0.0, 1.35, 1.7) * _trap0(f.area_m2, 0.8, 1.3, 1e9, 1e9)
    hot = np.maximum.reduce(
        [
            _trap0(f.area_m2, 2.2, 3.5, cfg.max_area_m2, cfg.max_area_m2 * 2),
            _trap0(f.length_m, 2.8, 3.6, 30.0, 60.0),
            np.where(np.isnan(f.peak_c), 0.0, _trap(f.peak_c, 39.0, 44.0, 1e9, 1e9, 0.0)),
            0.85 * roundish_big,
        ]
    )
    if f.contrast_rel is not None and f.peak_rank is not None:
        # Without temperatures, a person must at least be among the warmest things in view
        # and stand out clearly: AGC video is full of lamp rows, kerbs and sun-lit edges.
        # Ramps chosen on the HIT-UAV train split.
        rel = (
            _trap(f.contrast_rel, 40.0, 60.0, 1e9, 1e9, 0.0)
            * _trap(f.peak_rank, 0.99, 0.998, 2.0, 2.0, 0.0)
            * _trap(f.snr, 6.0, 9.0, 1e9, 1e9, 0.0)
        )
        # Without temperature a person and a sheep differ only in size and company; a person
        # taken for an animal may be ignored, an animal taken for a person costs a look.
        animal = animal * np.where(np.isnan(f.contrast_rel), 1.0, 0.6)
        # Nor can a warm structure be told from a hot object by temperature: only something
        # car-shaped (3-20 m², 1.5-4 times as long as wide) is reported as one.
        car_like = _trap0(f.area_m2, 2.0, 3.0, 20.0, 30.0) * _trap0(elong, 1.1, 1.5, 4.0, 5.5)
        hot = np.where(np.isnan(f.contrast_rel), hot, hot * car_like)
    else:
        rel = np.ones(n)
    # Without a pose there are no sizes: a warm blob may be anything, and says so.
    sized = np.where(np.isnan(f.length_m), 0.6, 1.0)
    person *= sized
    animal *= sized
    # A hot or big-round object is not a person or animal to the same degree.
    person *= 1.0 - 0.85 * hot
    animal *= 1.0 - 0.85 * hot
    scores = np.column_stack((person, animal, hot)) * rel[:, None]
    order = np.argsort(-scores, axis=1)
    best = scores[np.arange(n), order[:, 0]]
    second = scores[np.arange(n), order[:, 1]]
    confidence = best * best / (best + second + 1e-9)
    names = np.array(CLASSES, object)[order[:, 0]]
    tiny = f.area_m2 < cfg.min_area_m2
    # Unknown when no class fits; person-or-animal ambiguity lowers the confidence instead.
    names = np.where((best < cfg.min_confidence) | tiny, "unknown", names)
    return names, np.clip(confidence, 0.0, 1.0), scores
