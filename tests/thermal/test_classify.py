"""Person / animal / hot-object scoring from physical sizes and temperatures, and what the
pipeline makes of partly hidden people over a pass."""

import numpy as np

from thermal.camera import CameraModel
from thermal.classify import Features, classify
from thermal.frame import Gimbal, Pose, PoseSigma
from thermal.georef import latlon_to_offset, offset_to_latlon
from thermal.pipeline import Pipeline
from thermal.synthetic import Scene, SceneObject, render, truth_latlon

LAT0, LON0 = 47.39, 8.54


def features(rows):
    """Features from (length_m, width_m, peak_c, contrast_c, snr) rows, far apart."""
    a = np.array(rows, np.float64)
    n = len(a)
    return Features(
        length_m=a[:, 0],
        width_m=a[:, 1],
        area_m2=np.pi / 4 * a[:, 0] * a[:, 1],
        peak_c=a[:, 2],
        contrast_c=a[:, 3],
        snr=a[:, 4],
        east_m=np.arange(n) * 500.0,
        north_m=np.zeros(n),
        contrast_rel=np.full(n, np.nan),
        peak_rank=np.full(n, np.nan),
    )


def test_a_lying_person_and_a_standing_one_are_people():
    names, conf, _ = classify(
        features([(1.7, 0.45, 30.0, 15.0, 80.0), (0.55, 0.4, 31.0, 18.0, 90)])
    )
    assert list(names) == ["person", "person"]
    assert (conf > 0.6).all()


def test_warm_patch_wider_than_a_persons_shoulders_is_not_a_person():
    """Shoulders are ~0.45 m and blur adds ~0.2 m at 80 m: a 2 m patch 0.95 m wide, warm as
    skin, is no person (a sun-heated patch, or two bodies side by side)."""
    names, _, scores = classify(features([(2.1, 0.95, 33.0, 7.0, 40.0)]))
    assert names[0] != "person"
    slim, _, slim_scores = classify(features([(2.0, 0.55, 33.0, 7.0, 40.0)]))
    assert slim[0] == "person"
    assert scores[0, 0] < 0.5 * slim_scores[0, 0]


def test_body_wider_than_cattle_is_not_an_animal():
    """Cattle, the broadest animals we expect, are ~0.8 m across the back."""
    _, _, scores = classify(features([(2.2, 1.15, 29.0, 3.0, 15.0), (2.2, 0.75, 29.0, 3.0, 15.0)]))
    assert scores[0, 1] < 0.5 * scores[1, 1]


def test_lying_person_under_partial_canopy_is_confirmed_over_a_pass():
    """A person lying at the edge of a wood at night, 60 % hidden by crowns, among a few
    warm rocks: a pass at 80 m with navigation noise confirms one person, near the truth, and
    no rock becomes a person or an animal."""
    cam = CameraModel.from_fov(640, 512, 49.4, name="mavic3t")
    person = SceneObject(
        "person", -6.0, 30.0, 1.7, 0.5, 24.0, heading_deg=35.0, visible_fraction=0.4
    )
    rocks = tuple(
        SceneObject("rock", e, n, 1.2, 1.0, 13.0, heading_deg=20.0 * i)
        for i, (e, n) in enumerate([(25.0, 10.0), (-30.0, 55.0), (15.0, 70.0)])
    )
    scene = Scene(LAT0, LON0, (person, *rocks), background_c=7.0, texture_c=1.0, seed=5)
    rng = np.random.default_rng(4)
    pipe = Pipeline(cam, chips=False)
    for k in range(14):
        north = k * 7.0
        lat, lon = offset_to_latlon(LAT0, LON0, north, 0.0)
        true = Pose(float(lat), float(lon), alt_agl_m=80.0)
        n_err, e_err = rng.normal(0, 1.0, 2)
        lat_r, lon_r = offset_to_latlon(LAT0, LON0, north + n_err, e_err)
        reported = Pose(
            float(lat_r), float(lon_r), alt_agl_m=80.0 + rng.normal(0, 1.0),
            yaw_deg=float(rng.normal(0, 0.7)), gimbal=Gimbal(pitch_deg=-90 + float(rng.normal(0, 0.5))),
            sigma=PoseSigma(1.5, 1.0, 0.7),
        )  # fmt: skip
        pipe.process(
            render(scene, cam, true, 80.0, reported_pose=reported, frame_id=k, timestamp=k)
        )
    bodies = [h for h in pipe.hits if h.target_class in ("person", "animal")]
    assert [h.target_class for h in bodies] == ["person"]
    t_lat, t_lon = truth_latlon(scene, person)
    n, e = latlon_to_offset(t_lat, t_lon, bodies[0].lat, bodies[0].lon)
    assert np.hypot(n, e) < 3.0


def test_a_lone_sheep_is_an_animal_and_a_lying_person_of_that_length_is_not():
    """Alone, a stray sheep (1.2 x 0.55 m) has no flock to give it away: its stocky build
    does. A person that long is lying, and slender. (A deer, ~3 times as long as wide, is
    not told from a lying person by shape.)"""
    names, _, _ = classify(
        features(
            [
                (1.2, 0.55, 22.0, 13.0, 70.0),  # stray sheep at dusk
                (1.6, 0.42, 20.0, 8.0, 60.0),  # person lying in wet grass
                (0.95, 0.45, 27.0, 18.0, 100.0),  # person sitting, legs stretched out
            ]
        )
    )
    assert list(names) == ["animal", "person", "person"]


def test_a_few_degrees_warm_at_night_is_not_a_body():
    """On a clear night (ground ~3 °C) a stretch of stream bank or track 4 °C warmer is no
    animal, however animal-sized; a sheep there is 10-20 °C warmer than the grass. In the
    afternoon (ground ~27 °C) a person 3 °C warmer is still a person."""
    names, _, _ = classify(
        features(
            [
                (2.0, 0.7, 7.2, 4.0, 25.0),  # bank of a stream at night
                (1.2, 0.55, 17.0, 14.0, 80.0),  # sheep at night
                (0.6, 0.45, 30.0, 3.0, 17.0),  # person standing, sunny afternoon
            ]
        )
    )
    assert names[0] == "unknown" and list(names[1:]) == ["animal", "person"]
