"""Relative mode: candidate peaks, scale-normalised patches and the learned classifier."""

import threading

import cv2
import numpy as np
import pytest

from thermal.errors import FrameError, ThermalError
from thermal.patchnet import CLASSES, PatchClassifier, default_classifier
from thermal.peaks import PATCH_GSD_M, PATCH_PX, find_peaks, patches


def field(shape=(256, 320), seed=0):
    """An 8-bit AGC-like field: smooth gradient plus grain."""
    rng = np.random.default_rng(seed)
    rows, cols = shape
    yy, xx = np.mgrid[0:rows, 0:cols]
    img = 90 + 20 * np.sin(xx / 70.0) + 10 * np.cos(yy / 45.0) + rng.normal(0, 1.5, shape)
    return img.astype(np.float32)


def add_body(img, x, y, length_px, width_px, level, angle_deg=30.0):
    mask = np.zeros(img.shape, np.uint8)
    cv2.ellipse(mask, (x, y), (length_px // 2, width_px // 2), angle_deg, 0, 360, 1, -1)
    out = img.copy()
    out[mask > 0] += level
    return cv2.GaussianBlur(out, (0, 0), 0.8)


def test_a_warm_body_makes_one_peak_on_it_and_grain_makes_none():
    gsd = 0.1
    img = add_body(field(), 150, 120, 17, 5, 60.0)
    p = find_peaks(img, gsd)
    on_body = np.hypot(p.x - 150, p.y - 120) < 6
    assert on_body.sum() == 1
    assert p.height[on_body][0] > 40
    # The top-hat flattens the field's gradient: what is left of it is below the threshold
    # (but at the frame's edge, where the opening cannot see the ramp go on; the classifier
    # judges those).
    q = find_peaks(field(seed=3), gsd)
    interior = (q.x > 15) & (q.x < 305) & (q.y > 15) & (q.y < 241)
    assert interior.sum() <= 2


def test_a_warm_area_larger_than_a_person_is_flattened():
    # A sun-lit roof 8 m across: the top-hat removes its inside, leaving at most its edges.
    img = field()
    img[60:140, 100:180] += 60.0
    p = find_peaks(img, 0.1)
    inside = (p.x > 110) & (p.x < 170) & (p.y > 70) & (p.y < 130)
    assert not inside.any()


def test_patches_are_resampled_to_the_model_scale():
    # The same ground seen at 0.06 and 0.12 m/px gives the same patch.
    fine = add_body(field((512, 640)), 320, 256, 28, 8, 60.0)
    coarse = cv2.resize(fine, (320, 256), interpolation=cv2.INTER_AREA)
    a = patches(fine, np.array([320.0]), np.array([256.0]), np.array([0.06]))
    b = patches(coarse, np.array([159.75]), np.array([127.75]), np.array([0.12]))
    assert a.shape == (1, 3, PATCH_PX, PATCH_PX)
    assert np.corrcoef(a[0, 0].ravel(), b[0, 0].ravel())[0, 1] > 0.97
    # Channel 0 is relative to the patch median, so a brighter scene gives the same values.
    c = patches(fine + 30.0, np.array([320.0]), np.array([256.0]), np.array([0.06]))
    assert np.allclose(a[0, 0], c[0, 0], atol=1e-4)
    assert PATCH_GSD_M * PATCH_PX > 1.7 + 0.8  # a lying adult with margin


def test_no_peaks_no_patches_and_bad_frames_are_refused():
    assert patches(field(), np.zeros(0), np.zeros(0), np.zeros(0)).shape == (0, 3, 32, 32)
    with pytest.raises(FrameError, match="2-D frame"):
        find_peaks(np.zeros((4, 4), np.float32), 0.1)


def test_classifier_gives_probabilities_and_is_thread_safe():
    clf = default_classifier()
    img = add_body(field(), 150, 120, 17, 5, 60.0)
    x = patches(img, np.array([150.0, 40.0]), np.array([120.0, 40.0]), np.array([0.1, 0.1]))
    s = clf.scores(x)
    assert s.probs.shape == (2, len(CLASSES))
    assert np.allclose(s.probs.sum(axis=1), 1.0, atol=1e-5)
    assert 0.0 < clf.person_threshold < 1.0
    other = []
    t = threading.Thread(target=lambda: other.append(clf.scores(x).probs))
    t.start()
    t.join()
    assert np.allclose(other[0], s.probs, atol=1e-6)
    assert clf.scores(x[:0]).probs.shape == (0, 3)


def test_missing_or_corrupt_model_is_a_clear_error(tmp_path):
    with pytest.raises(ThermalError, match=r"missing or unreadable.*train_patchnet"):
        PatchClassifier(tmp_path)
    (tmp_path / "patchnet.json").write_text('{"person_threshold": 0.9}')
    (tmp_path / "patchnet.onnx").write_bytes(b"not a model")
    with pytest.raises(ThermalError, match="OpenCV cannot load"):
        PatchClassifier(tmp_path)


# --- the pipeline's relative mode -------------------------------------------------------------

from thermal.camera import CameraModel  # noqa: E402
from thermal.frame import Pose, ThermalFrame  # noqa: E402
from thermal.georef import offset_to_latlon  # noqa: E402
from thermal.pipeline import Pipeline  # noqa: E402
from thermal.synthetic import Scene, SceneObject, render  # noqa: E402

CAM = CameraModel.from_focal_length(640, 512, 13.5, 12.0, name="h20t")  # ~7 cm/px at 80 m
LAT0, LON0 = 47.39, 8.54


def agc_frame(objects, seed=0, north=0.0):
    """A radiometric render turned into what an 8-bit AGC video frame holds."""
    lat, lon = offset_to_latlon(LAT0, LON0, north, 0.0)
    pose = Pose(float(lat), float(lon), alt_agl_m=80.0)
    scene = Scene(LAT0, LON0, tuple(objects), texture_c=2.0, seed=seed)
    frame = render(scene, CAM, pose, 80.0, frame_id=seed, timestamp=float(seed))
    lo, hi = np.percentile(frame.pixels, [0.5, 99.99])
    grey = np.clip((frame.pixels - lo) / (hi - lo) * 255, 0, 255).astype(np.uint8)
    return ThermalFrame(grey.astype(np.float32), "relative", pose=pose, frame_id=seed,
                        timestamp=float(seed))  # fmt: skip


def test_relative_video_finds_a_lying_person_and_places_it():
    person = SceneObject("person", 4.0, 2.0, 1.7, 0.5, 22.0, heading_deg=40.0)
    pipe = Pipeline(CAM)
    results = [pipe.process(agc_frame([person], seed=k, north=2.0 * k)) for k in range(3)]
    for r in results:
        people = [d for d in r.detections if d.target_class == "person"]
        assert len(people) == 1, r.detections
        assert people[0].temp_c is None  # no temperatures in AGC video
        assert people[0].confidence >= default_classifier().person_threshold
        assert people[0].length_m == pytest.approx(1.7, rel=0.35)
    lat, lon = offset_to_latlon(LAT0, LON0, 2.0, 4.0)
    (hit,) = pipe.hits
    assert hit.target_class == "person"
    north_err = (hit.lat - lat) * 111_200
    east_err = (hit.lon - lon) * 111_200 * np.cos(np.radians(LAT0))
    assert np.hypot(north_err, east_err) < 1.5


def test_relative_video_without_people_reports_nothing():
    pipe = Pipeline(CAM)
    for k in range(3):
        assert pipe.process(agc_frame([], seed=k)).detections == ()
    assert pipe.hits == []


def test_rules_only_relative_mode_remains_available():
    person = SceneObject("person", 4.0, 2.0, 1.7, 0.5, 22.0)
    dets = Pipeline(CAM, patch_model=None).process(agc_frame([person])).detections
    assert len(dets) == 1 and dets[0].temp_c is None


def test_learned_classes_put_people_first_and_vehicles_only_when_sure():
    from thermal.patchnet import PatchScores, learned_classes

    clf = default_classifier()
    t, v = clf.person_threshold + 1e-3, clf.vehicle_threshold + 1e-4  # above, in float32
    probs = np.array(
        [
            [1 - t, t, 0.0],  # just a person
            [0.0, t, 1 - t],  # person and vehicle alike: a person (costs a look, not a life)
            [1 - v, 0.0, v],  # a sure vehicle
            [0.1, 0.0, 0.9],  # a likely vehicle: not reported (a roof, a kerb)
            [0.9, 0.05, 0.05],
        ],
        np.float32,
    )
    names, conf = learned_classes(PatchScores(probs), clf)
    assert names.tolist() == [
        "person", "person", "vehicle_or_hot_object", "unknown", "unknown",
    ]  # fmt: skip
    assert conf[0] == pytest.approx(t) and conf[2] == pytest.approx(v)
