from pathlib import Path

import pytest

from groundctl import config
from groundctl.errors import ConfigError


def write(tmp_path: Path, text: str, name: str = "user.yaml") -> Path:
    path = tmp_path / name
    path.write_text(text)
    return path


def test_builtin_catalogues_hold_the_required_cameras_and_airframes():
    cams = config.catalog("cameras")
    assert {"boson640_8.7mm", "boson640_14mm", "boson640_18mm", "h20t", "mavic3t"} <= set(cams)
    assert any(name.startswith("xt2_640") for name in cams)
    frames = config.catalog("airframes")
    kinds = {af.kind for af in frames.values()}
    assert kinds == {"multicopter", "fixed_wing_vtol"}
    assert frames["m350_h20t"].battery_wh > frames["mavic3t"].battery_wh


def test_camera_optics_are_consistent():
    h20t = config.camera("h20t")
    # 13.5 mm on 12 um pixels: focal length of 1125 px
    assert h20t.focal_length_px == pytest.approx(1125.0)
    assert h20t.radiometric


def test_usable_endurance_keeps_the_reserve():
    mavic = config.airframe("mavic3t")
    assert mavic.usable_endurance_s == pytest.approx(38 * 60 * 0.75)


def test_user_file_overrides_one_field_and_adds_an_entry(tmp_path):
    user = write(
        tmp_path,
        """
cameras:
  h20t:
    frame_rate_hz: 8.7
airframes:
  my_quad:
    model: Club quad
    kind: multicopter
    cruise_speed_ms: 8
    max_speed_ms: 12
    climb_rate_ms: 3
    descent_rate_ms: 2
    endurance_min: 25
    battery_reserve_pct: 30
    battery_wh: 99
    battery_cells: 6
    mass_kg: 2.1
    max_wind_ms: 10
""",
    )
    h20t = config.camera("h20t", user)
    assert h20t.frame_rate_hz == 8.7
    assert h20t.hfov_deg == 31.8  # untouched fields keep the catalogue value
    assert config.airframe("my_quad", user).endurance_min == 25
    assert config.camera("h20t").frame_rate_hz == 30  # built-in unchanged


@pytest.mark.parametrize(
    ("text", "key", "reason"),
    [
        ("cameras:\n  h20t:\n    lens_mm: 13\n", "cameras.h20t.lens_mm", "unknown key"),
        ("cameras:\n  h20t:\n    hfov_deg: -3\n", "cameras.h20t.hfov_deg", "greater than 0"),
        ("cameras:\n  h20t:\n    hfov_deg: 90\n", "cameras.h20t", "disagrees"),
        (
            "airframes:\n  mavic3t:\n    cruise_speed_ms: 40\n",
            "airframes.mavic3t",
            "above max_speed",
        ),
        ("airframes:\n  mavic3t:\n    kind: blimp\n", "airframes.mavic3t.kind", "multicopter"),
        ("airframes:\n  new:\n    model: x\n", "airframes.new.kind", "required key is missing"),
        ("cameras:\n  h20t: 5\n", "cameras.h20t", "expected a mapping"),
        ("camera:\n  h20t: {}\n", "camera", "unknown section"),
        ("cameras: [1, 2]\n", "cameras", "expected a mapping"),
        ("cameras:\n  h20t:\n  bad: [\n", "line", "not valid YAML"),
    ],
)
def test_bad_user_config_names_file_key_and_reason(tmp_path, text, key, reason):
    user = write(tmp_path, text)
    with pytest.raises(ConfigError) as err:
        config.catalog("cameras", user)
        config.catalog("airframes", user)
    message = str(err.value)
    assert message.startswith(str(user))
    assert key in message
    assert reason in message
    assert "\n" not in message


def test_missing_file_and_unknown_name(tmp_path):
    with pytest.raises(ConfigError, match="file not found"):
        config.catalog("cameras", tmp_path / "nope.yaml")
    with pytest.raises(ConfigError, match="no camera named 'x640'; known: boson640"):
        config.camera("x640")
