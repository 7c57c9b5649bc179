"""Group context in radiometric mode: which neighbours make a flock, and what company may
and may not do to a person."""

import math

import numpy as np

from thermal.camera import CameraModel
from thermal.classify import Features, classify
from thermal.frame import Pose
from thermal.georef import latlon_to_offset, offset_to_latlon
from thermal.pipeline import Pipeline
from thermal.synthetic import Scene, SceneObject, render, truth_latlon

LAT0, LON0 = 47.39, 8.54


def features(rows):
    """Features from (length_m, width_m, peak_c, contrast_c, mean_contrast_c, snr, east_m,
    north_m) rows, as the radiometric pipeline measures them."""
    a = np.array(rows, np.float64)
    n = len(a)
    return Features(
        length_m=a[:, 0],
        width_m=a[:, 1],
        area_m2=np.pi / 4 * a[:, 0] * a[:, 1],
        peak_c=a[:, 2],
        contrast_c=a[:, 3],
        mean_contrast_c=a[:, 4],
        snr=a[:, 5],
        east_m=a[:, 6],
        north_m=a[:, 7],
        contrast_rel=np.full(n, np.nan),
        peak_rank=np.full(n, np.nan),
    )


def test_a_flock_is_told_by_its_coats_not_by_which_faces_show():
    """Three sheep grazing within 15 m at dusk; the middle one has its face up, so its peak
    is 6 °C above the others' while all three fleeces read the same. It is one of the
    flock, not a lone person-sized body."""
    names, _, scores = classify(
        features(
            [
                (1.15, 0.50, 17.0, 9.0, 5.0, 60.0, 0.0, 0.0),
                (1.25, 0.45, 23.5, 15.5, 5.5, 90.0, 12.0, 5.0),  # face up
                (1.10, 0.48, 18.0, 10.0, 5.2, 65.0, -10.0, 8.0),
            ]
        )
    )
    assert list(names) == ["animal", "animal", "animal"]
    assert scores[1, 1] > scores[1, 0]


def test_a_lukewarm_bank_beside_a_person_does_not_make_a_flock():
    """A person lying in grass at night, a third hidden (a modest 6.5 °C peak contrast), 15 m
    from a stretch of stream bank that kept a little of the day's heat and peaks at about the
    same temperature. The bank is no body, so the person is not 'one of a group'."""
    names, _, _ = classify(
        features(
            [
                (1.65, 0.50, 12.2, 6.5, 3.0, 120.0, 0.0, 0.0),  # lying person
                (1.30, 0.60, 11.0, 3.0, 1.5, 30.0, 15.0, 0.0),  # warm bank
            ]
        )
    )
    assert names[0] == "person"


def test_a_person_standing_among_sheep_is_still_a_person():
    """The farmer among his flock: his outline from above (shoulders and head, 0.6 x 0.42 m)
    is no quadruped's back, whatever company he keeps; the sheep beside him stay animals."""
    names, _, _ = classify(
        features(
            [
                (0.60, 0.42, 24.0, 17.0, 2.0, 85.0, 0.0, 0.0),  # standing person
                (1.20, 0.50, 20.0, 14.0, 7.0, 80.0, 15.0, 0.0),
                (1.15, 0.55, 19.0, 13.0, 6.8, 75.0, 12.0, 10.0),
            ]
        )
    )
    assert list(names) == ["person", "animal", "animal"]


def test_pass_over_a_flock_with_its_shepherd_confirms_him_and_no_sheep_as_a_person():
    """Rendered frames at dusk: six sheep, some with the warm face up (a small 30 °C patch at
    the front of a 16 °C fleece), and their shepherd standing among them. A pass at 80 m
    confirms the shepherd as a person - not as one more of the flock - and the sheep as
    animals."""
    cam = CameraModel.from_fov(640, 512, 49.4, name="mavic3t")
    sheep_at = [(-8.0, 0.0, 20.0), (6.0, 4.0, 100.0), (-2.0, 12.0, 160.0), (10.0, -8.0, 60.0)]
    sheep_at += [(-12.0, -10.0, 130.0), (3.0, -14.0, 10.0)]
    objs = []
    for i, (e, n, heading) in enumerate(sheep_at):
        objs.append(SceneObject("animal", e, n, 1.2, 0.5, 16.0, heading_deg=heading))
        if i % 2 == 0:  # face up: the head at the front end shows
            h = math.radians(heading)
            objs.append(
                SceneObject(
                    "face", e + 0.62 * math.sin(h), n + 0.62 * math.cos(h), 0.26, 0.16, 30.0,
                    heading_deg=heading,
                )
            )  # fmt: skip
    # Clothing at dusk reads about 24 °C; from 80 m his shoulders, head and pack make an
    # outline 0.7 x 0.45 m - well within 4 °C and 25 m of sheep with their faces up.
    shepherd = SceneObject("person", 1.0, 2.0, 0.7, 0.45, 24.0, heading_deg=30.0)
    scene = Scene(LAT0, LON0, (*objs, shepherd), background_c=9.0, texture_c=0.8, seed=3)
    pipe = Pipeline(cam, chips=False)
    for k in range(8):
        lat, lon = offset_to_latlon(LAT0, LON0, -20.0 + k * 6.0, 2.0)
        pose = Pose(float(lat), float(lon), alt_agl_m=80.0)
        pipe.process(render(scene, cam, pose, 80.0, frame_id=k, timestamp=float(k)))
    people = [h for h in pipe.hits if h.target_class == "person"]
    assert len(people) == 1
    t_lat, t_lon = truth_latlon(scene, shepherd)
    n, e = latlon_to_offset(t_lat, t_lon, people[0].lat, people[0].lon)
    assert math.hypot(n, e) < 2.0
    animals = [h for h in pipe.hits if h.target_class == "animal"]
    assert len(animals) >= 4
