"""Detector and classifier on synthetic frames with known truth."""

import numpy as np
import pytest

from thermal.camera import CameraModel
from thermal.detect import DetectorConfig, detect
from thermal.frame import Gimbal, Pose, ThermalFrame
from thermal.georef import offset_to_latlon
from thermal.pipeline import Pipeline
from thermal.synthetic import Scene, SceneObject, render

CAM = CameraModel.from_focal_length(640, 512, 13.5, 12.0, name="h20t")  # ~7 cm/px at 80 m
LAT0, LON0 = 47.39, 8.54


def pose_at(north=0.0, east=0.0, agl=80.0, **kw):
    lat, lon = offset_to_latlon(LAT0, LON0, north, east)
    return Pose(float(lat), float(lon), alt_agl_m=agl, **kw)


def one_frame(objects, *, background=8.0, pose=None, seed=0, **scene_kw):
    scene = Scene(LAT0, LON0, tuple(objects), background_c=background, seed=seed, **scene_kw)
    pose = pose or pose_at()
    return scene, render(scene, CAM, pose, pose.alt_agl_m, frame_id=seed)


def detections(objects, **kw):
    _, frame = one_frame(objects, **kw)
    return Pipeline(CAM).process(frame).detections


def nearest(dets, east, north):
    """The detection nearest a scene position (the frame is at the origin, heading north)."""
    lat, lon = offset_to_latlon(LAT0, LON0, north, east)
    d = [np.hypot(x.lat - lat, x.lon - lon) for x in dets]
    assert d, "nothing detected"
    return dets[int(np.argmin(d))]


def test_lying_person_at_night_is_a_person_of_the_right_size():
    dets = detections([SceneObject("person", 4.0, 2.0, 1.7, 0.5, 27.0, heading_deg=35.0)])
    assert len(dets) == 1
    d = dets[0]
    assert d.target_class == "person" and d.confidence > 0.6
    assert d.length_m == pytest.approx(1.7, rel=0.2)
    assert d.width_m == pytest.approx(0.5, rel=0.3)
    assert d.temp_c == pytest.approx(27.0, abs=1.5)


def test_standing_person_seen_from_above():
    dets = detections([SceneObject("person", -6.0, 5.0, 0.5, 0.45, 30.0)])
    assert [d.target_class for d in dets] == ["person"]


def test_person_in_grass_at_night_still_found():
    # The old man in the ditch: only a third of his heat gets through the grass.
    dets = detections([SceneObject("person", 3.0, -4.0, 1.7, 0.5, 24.0, visible_fraction=0.35)],
                      background=6.0)  # fmt: skip
    assert len(dets) == 1
    assert dets[0].target_class == "person"


def test_sheep_flock_is_animals_not_people():
    flock = [
        SceneObject("animal", 10.0, 8.0, 1.2, 0.42, 17.0, heading_deg=20.0),
        SceneObject("animal", 13.0, 11.0, 1.15, 0.4, 16.5, heading_deg=80.0),
        SceneObject("animal", 7.0, 12.0, 1.2, 0.45, 17.5, heading_deg=140.0),
    ]
    dets = detections(flock, background=7.0)
    assert len(dets) == 3
    assert all(d.target_class == "animal" for d in dets)


def test_afternoon_warm_rock_and_car_are_not_people():
    objs = [
        SceneObject("rock", -8.0, 6.0, 1.5, 1.2, 44.0),
        SceneObject("vehicle", 8.0, -6.0, 4.5, 1.8, 38.0, heading_deg=90.0),
        SceneObject("person", 2.0, 9.0, 1.7, 0.5, 33.0, heading_deg=10.0),
    ]
    dets = detections(objs, background=26.0)
    assert nearest(dets, -8.0, 6.0).target_class == "vehicle_or_hot_object"
    assert nearest(dets, 8.0, -6.0).target_class == "vehicle_or_hot_object"
    assert nearest(dets, 2.0, 9.0).target_class == "person"


def test_noise_only_frames_give_nothing():
    for seed in range(12):
        _, frame = one_frame([], seed=seed, texture_c=1.5)
        assert len(detect(frame.pixels, True)) == 0, f"false blob with seed {seed}"


def test_single_hot_pixel_is_a_defect_not_a_target():
    _, frame = one_frame([], bad_pixels=((100, 200), (400, 300)))
    assert len(detect(frame.pixels, True)) == 0


def test_fixed_hot_cluster_is_suppressed_as_the_drone_moves():
    pipe = Pipeline(CAM)
    scene = Scene(LAT0, LON0, (SceneObject("person", 0.0, 60.0, 1.7, 0.5, 28.0),))
    confirmed_at_cluster = []
    rejected = 0
    for k in range(10):
        frame = render(scene, CAM, pose_at(north=k * 8.0), 80.0, frame_id=k, timestamp=k)
        frame.pixels[300:302, 500:502] += 12.0  # a 2x2 stuck cluster
        result = pipe.process(frame)
        rejected += result.rejected_bad_pixels
        for d in result.detections:
            if abs(d.pixel_xy[0] - 500.5) < 2 and abs(d.pixel_xy[1] - 300.5) < 2:
                assert k < 3, f"cluster still reported in frame {k}"
        confirmed_at_cluster = [h for h in pipe.hits if h.sightings[0].pixel_xy[0] > 490]
    assert rejected >= 1
    assert not confirmed_at_cluster
    # ... while the real person, moving through the image, is confirmed
    assert [h.target_class for h in pipe.hits] == ["person"]


def test_relative_8bit_frame_finds_the_person():
    _, frame = one_frame([SceneObject("person", 4.0, 2.0, 1.7, 0.5, 22.0)], texture_c=2.0)
    lo, hi = np.percentile(frame.pixels, [0.5, 99.99])
    grey = np.clip((frame.pixels - lo) / (hi - lo) * 255, 0, 255).astype(np.uint8)
    rel = ThermalFrame(grey.astype(np.float32), "relative", pose=frame.pose, camera="h20t")
    dets = Pipeline(CAM).process(rel).detections
    assert len(dets) == 1
    assert dets[0].temp_c is None
    assert dets[0].length_m == pytest.approx(1.7, rel=0.3)
    assert dets[0].target_class in ("person", "animal")  # no temperature: size cannot tell


def test_oblique_view_measures_size_on_the_ground():
    # 45 degrees off nadir the person is foreshortened in the image but not on the ground.
    pose = pose_at(north=-80.0, gimbal=Gimbal(pitch_deg=-45.0))
    dets = detections([SceneObject("person", 0.0, 0.0, 1.7, 0.5, 28.0, heading_deg=0.0)], pose=pose)
    assert len(dets) == 1
    assert dets[0].length_m == pytest.approx(1.7, rel=0.25)


def test_detector_rejects_bad_input():
    from thermal.errors import FrameError

    with pytest.raises(FrameError, match="2-D"):
        detect(np.zeros((4, 4, 3), np.float32), True)
    with pytest.raises(ValueError, match="median_cells"):
        DetectorConfig(median_cells=4)
    # NaN pixels (dead columns from a damaged frame) do not crash it
    img = np.full((128, 160), 10.0, np.float32)
    img[:, 5] = np.nan
    assert len(detect(img, True)) == 0


def test_person_on_sun_heated_rock_is_found_as_a_cool_spot():
    # Afternoon scree at 45 °C: a hiker (31 °C) is colder than the ground around him.
    hiker = SceneObject("person", 3.0, 2.0, 0.55, 0.45, 31.0)
    shadow = SceneObject(
        "shadow", -8.0, 6.0, 1.6, 0.6, 24.0, heading_deg=60.0
    )  # too cold for a body
    dets = detections([hiker, shadow], background=45.0)
    near = nearest(dets, 3.0, 2.0)
    assert near.target_class == "person"
    assert near.temp_c == pytest.approx(31.0, abs=2.0)
    assert nearest(dets, -8.0, 6.0).target_class == "unknown"
    # ... and the same hiker on cool grass is a warm spot as usual
    assert [d.target_class for d in detections([hiker], background=18.0)] == ["person"]


def test_long_warm_strip_seeded_at_one_end_is_measured_whole():
    """A warm road or roof edge far longer than the seed cluster: the region grows past the
    window the fill starts in and is still measured in one piece."""
    rng = np.random.default_rng(2)
    img = rng.normal(8.0, 0.05, (512, 640)).astype(np.float32)
    img[250:253, 40:600] = 9.0  # low contrast along its length: region, not seed
    img[250:253, 40:46] = 14.0  # one hot end: the only seed
    b = detect(img, True)
    assert len(b) == 1
    assert b.bbox[0, 2] >= 550 and b.bbox[0, 3] <= 5  # the fill went the whole way


def test_frames_of_any_size_give_the_same_blobs_as_cropped_ones():
    """The grid of seed cells takes a shortcut when the frame divides into 8-px cells; a
    frame that does not must find the same targets."""
    rng = np.random.default_rng(9)
    img = rng.normal(8.0, 0.05, (517, 643)).astype(np.float32)
    for x, y in [(100, 100), (323, 257), (600, 480), (7, 9)]:
        img[y - 2 : y + 3, x - 1 : x + 2] += 6.0
    odd = detect(img, True)
    even = detect(np.ascontiguousarray(img[:512, :640]), True)
    assert len(odd) == len(even) == 4
    key = lambda b: sorted(zip(np.round(b.x, 2), np.round(b.y, 2), b.area_px, strict=True))  # noqa: E731
    assert key(odd) == key(even)
