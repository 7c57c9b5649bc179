"""The learned person classifier for relative (8-bit AGC) imagery, run by OpenCV's DNN module.

Without temperatures a person differs from a lamp, a kerb stone or a sun-lit patch of
ground only in shape and texture at a known scale, which hand-set thresholds catch poorly
(on HIT-UAV's validation split: person recall under 0.5 at 4-5 false blobs per image). A
small convolutional network over the scale-normalised patches of `thermal.peaks` does better
(0.77 at night, 0.38 by day, at about one false blob per image; bench/results/thermal.json).
The model ships with the package (`thermal/models/patchnet.onnx`, 26 kB) with its decision
threshold in `patchnet.json`; `scripts/train_patchnet.py` rebuilds both from HIT-UAV's
train split.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable
from dataclasses import dataclass
from functools import cache
from pathlib import Path

import cv2
import numpy as np
from numpy.typing import NDArray

from thermal.detect import Blobs
from thermal.errors import ThermalError
from thermal.peaks import PeakConfig, blobs_at, find_peaks, patches

MODEL_DIR = Path(__file__).resolve().parent / "models"
CLASSES = ("background", "person", "vehicle")
# Vehicles are decoys to a search, not targets: reported only when the model is sure, so
# roofs and sun-lit kerbs do not flood the hits list.
VEHICLE_THRESHOLD = 0.995
ONE_BODY_M = 0.9  # called peaks closer than this are one body (head and hips of a lying adult)


@dataclass(frozen=True)
class PatchScores:
    """Per-peak class probabilities (N, 3) in CLASSES order."""

    probs: NDArray[np.float32]

    @property
    def person(self) -> NDArray[np.float32]:
        return self.probs[:, 1]

    @property
    def vehicle(self) -> NDArray[np.float32]:
        return self.probs[:, 2]


class PatchClassifier:
    """One loaded network. `cv2.dnn.Net` is not safe to share between threads, so each
    thread that calls `scores` gets its own copy."""

    def __init__(self, model_dir: str | Path = MODEL_DIR) -> None:
        d = Path(model_dir)
        self.onnx = d / "patchnet.onnx"
        try:
            meta = json.loads((d / "patchnet.json").read_text())
            self.person_threshold = float(meta["person_threshold"])
            self.vehicle_threshold = float(meta.get("vehicle_threshold", VEHICLE_THRESHOLD))
            self._bytes = self.onnx.read_bytes()
        except (OSError, ValueError, KeyError) as exc:
            raise ThermalError(
                f"patch classifier in {d} is missing or unreadable ({exc}); reinstall groundctl "
                "or rebuild it with scripts/train_patchnet.py"
            ) from None
        self.meta = meta
        self._local = threading.local()
        self._net()  # fail now, not on the first frame

    def _net(self) -> cv2.dnn.Net:
        net = getattr(self._local, "net", None)
        if net is None:
            try:
                net = cv2.dnn.readNetFromONNX(np.frombuffer(self._bytes, np.uint8))
            except cv2.error as exc:
                raise ThermalError(f"{self.onnx}: OpenCV cannot load the model ({exc})") from None
            self._local.net = net
        return net

    def scores(self, patches: NDArray[np.float32]) -> PatchScores:
        if len(patches) == 0:
            return PatchScores(np.zeros((0, len(CLASSES)), np.float32))
        net = self._net()
        net.setInput(np.ascontiguousarray(patches, np.float32))
        logits = np.asarray(net.forward(), np.float32).reshape(len(patches), len(CLASSES))
        z = np.exp(logits - logits.max(axis=1, keepdims=True))
        return PatchScores(z / z.sum(axis=1, keepdims=True))


@cache
def default_classifier() -> PatchClassifier:
    return PatchClassifier()


def find_people(
    pixels: NDArray[np.float32],
    gsd_at: Callable[[NDArray[np.float64], NDArray[np.float64]], NDArray[np.float64]],
    model: PatchClassifier,
    config: PeakConfig,
    suppress: NDArray[np.bool_] | None = None,
    placed: bool = True,
) -> tuple[Blobs, PatchScores]:
    """Relative mode: the frame's candidate peaks, kept where the model calls them a person
    or a vehicle, one per body. `gsd_at(x, y)` gives the ground sample distance (m/px) at
    pixels, NaN where the ray misses the ground; without a pose (`placed` False) the
    config's assumed GSD serves everywhere."""
    rows, cols = pixels.shape

    def gsd(x: NDArray[np.float64], y: NDArray[np.float64]) -> NDArray[np.float64]:
        return gsd_at(x, y) if placed else np.full(len(x), config.assumed_gsd_m)

    centre = float(gsd(np.array([cols / 2]), np.array([rows / 2]))[0])
    peaks = find_peaks(pixels, centre if np.isfinite(centre) else None, config)
    g = gsd(peaks.x.astype(np.float64), peaks.y.astype(np.float64))
    ok = np.isfinite(g)  # above the horizon: not on the ground
    if suppress is not None:
        ok &= ~suppress[peaks.y, peaks.x]
    idx = np.flatnonzero(ok)
    probs = model.scores(patches(pixels, peaks.x[idx], peaks.y[idx], g[idx])).probs
    called = (probs[:, 1] >= model.person_threshold) | (probs[:, 2] >= model.vehicle_threshold)
    idx, probs = idx[called], probs[called]
    order = np.argsort(-probs[:, 1:].max(axis=1), kind="stable")
    idx, probs = idx[order], probs[order]
    # Greedy: a peak is dropped when a surer one lies within ONE_BODY_M of it.
    dist_m = (
        np.hypot(
            peaks.x[idx][:, None] - peaks.x[idx][None, :],
            peaks.y[idx][:, None] - peaks.y[idx][None, :],
        )
        * g[idx][:, None]
    )
    surer_near = np.tril(dist_m < ONE_BODY_M, k=-1).any(axis=1)
    idx, probs = idx[~surer_near], probs[~surer_near]
    return blobs_at(pixels, peaks, idx, g), PatchScores(probs)


def learned_classes(
    learned: PatchScores, model: PatchClassifier
) -> tuple[NDArray[np.object_], NDArray[np.float64]]:
    """Class and confidence from the patch classifier. Without temperatures a sheep and a
    person differ only in size and company, which the size rules of `thermal.classify` judge
    too unreliably at AGC blob edges to overrule a network trained on people: a warm body is
    reported as a person (an animal taken for a person costs a look; a person taken for an
    animal may be ignored). Radiometric video tells them apart by temperature."""
    person, vehicle = learned.person.astype(np.float64), learned.vehicle.astype(np.float64)
    is_body = person >= model.person_threshold
    is_vehicle = ~is_body & (vehicle >= model.vehicle_threshold)
    names = np.where(
        is_body, "person", np.where(is_vehicle, "vehicle_or_hot_object", "unknown")
    ).astype(object)
    return names, np.where(is_vehicle, vehicle, person)
