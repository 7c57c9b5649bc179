"""Fleet files: the example loads, and each kind of mistake names file, key and reason."""

from __future__ import annotations

from pathlib import Path

import pytest

from groundctl.errors import ConfigError
from groundctl.fleet.config import fleet_from_urls, load_fleet

EXAMPLE = Path(__file__).resolve().parents[3] / "configs" / "fleet.example.yaml"

GOOD = """
operation: t1
vehicles:
  - name: a
    connection: udpin://0.0.0.0:14540
    airframe: mavic3t
  - name: b
    connection: tcp://127.0.0.1:5760
    airframe: m350_h20t
    camera: h20t
    autopilot: ardupilot
dispatch:
  mqtt: {host: localhost}
"""


def write(tmp_path: Path, text: str) -> Path:
    p = tmp_path / "fleet.yaml"
    p.write_text(text)
    return p


def test_example_fleet_loads():
    fleet = load_fleet(EXAMPLE)
    assert [v.name for v in fleet.vehicles] == ["alpha", "bravo", "charlie"]
    assert fleet.vehicle("bravo").backend == "mavsdk"
    assert fleet.vehicle("charlie").gcs_sysid == 255
    assert fleet.gcs_sysid == 245


def test_minimal_fleet_with_defaults_and_dispatch_passthrough(tmp_path):
    fleet = load_fleet(write(tmp_path, GOOD))
    assert fleet.vehicle("a").backend == "pymavlink" and fleet.vehicle("a").autopilot == "auto"
    assert fleet.dispatch == {"mqtt": {"host": "localhost"}}
    assert fleet.transit.step_m > 0


@pytest.mark.parametrize(
    "edit, key, reason",
    [
        (
            ("airframe: mavic3t", "airframe: nope"),
            "fleet.vehicles.0.airframe",
            "no airframe named 'nope'",
        ),
        (("camera: h20t", "camera: nope"), "fleet.vehicles.1.camera", "no camera named 'nope'"),
        (
            ("udpin://0.0.0.0:14540", "http://x"),
            "fleet.vehicles.0.connection",
            "unknown connection",
        ),
        (("- name: b", "- name: a"), "fleet", "repeated: a"),
        (
            ("autopilot: ardupilot", "autopilot: ardupilot\n    backend: mavsdk"),
            "fleet.vehicles.1",
            "PX4 only",
        ),
        (
            ("airframe: mavic3t", "airframe: mavic3t\n    colour: red"),
            "fleet.vehicles.0.colour",
            "unknown key",
        ),
        (
            ("operation: t1", "operation: t1\ngcs_sysid: 300"),
            "fleet.gcs_sysid",
            "less than or equal",
        ),
    ],
)
def test_mistakes_name_file_key_and_reason(tmp_path, edit, key, reason):
    path = write(tmp_path, GOOD.replace(*edit, 1))
    with pytest.raises(ConfigError) as err:
        load_fleet(path)
    assert err.value.source == str(path)
    assert err.value.key == key
    assert reason in err.value.reason


def test_duplicate_sysids_are_refused(tmp_path):
    text = GOOD.replace("airframe: mavic3t", "airframe: mavic3t\n    sysid: 3").replace(
        "autopilot: ardupilot", "autopilot: ardupilot\n    sysid: 3"
    )
    with pytest.raises(ConfigError, match="two vehicles claim system id 3"):
        load_fleet(write(tmp_path, text))


def test_missing_signing_key_file(tmp_path):
    text = GOOD.replace("airframe: mavic3t", "airframe: mavic3t\n    signing_key_file: k.key")
    with pytest.raises(ConfigError, match=r"signing_key_file.*not found"):
        load_fleet(write(tmp_path, text))
    (tmp_path / "k.key").write_bytes(b"\x01" * 32)
    fleet = load_fleet(write(tmp_path, text))
    assert fleet.vehicle("a").signing_key_file == tmp_path / "k.key"


def test_missing_file_and_no_vehicles(tmp_path):
    with pytest.raises(ConfigError, match="file not found"):
        load_fleet(tmp_path / "none.yaml")
    with pytest.raises(ConfigError, match="vehicles"):
        load_fleet(write(tmp_path, "operation: x\nvehicles: []\n"))


def test_fleet_from_connect_urls():
    fleet = fleet_from_urls(["udpin://0.0.0.0:14540", "tcp://127.0.0.1:5760"], "mavic3t")
    assert [v.name for v in fleet.vehicles] == ["v1", "v2"]


def test_vehicles_sharing_a_link_need_their_sysids(tmp_path):
    text = GOOD.replace("tcp://127.0.0.1:5760", "udpin://0.0.0.0:14540")
    with pytest.raises(ConfigError, match=r"a, b share udpin://0.0.0.0:14540 .* need a sysid"):
        load_fleet(write(tmp_path, text))
    text = text.replace("airframe: mavic3t", "airframe: mavic3t\n    sysid: 1").replace(
        "autopilot: ardupilot", "autopilot: ardupilot\n    sysid: 2"
    )
    fleet = load_fleet(write(tmp_path, text))
    assert [v.sysid for v in fleet.vehicles] == [1, 2]


def test_mavsdk_with_a_signing_key_is_refused(tmp_path):
    """Issue #18 item 4: MAVSDK-Python cannot sign; the key must not be silently unused."""
    (tmp_path / "k.key").write_bytes(b"\x01" * 32)
    text = GOOD.replace(
        "airframe: mavic3t", "airframe: mavic3t\n    backend: mavsdk\n    signing_key_file: k.key"
    )
    with pytest.raises(ConfigError, match="backend mavsdk cannot sign") as err:
        load_fleet(write(tmp_path, text))
    assert "\n" not in str(err.value)


SHARED = """
operation: t1
vehicles:
  - name: a
    connection: udpin://0.0.0.0:14550
    airframe: mavic3t
    sysid: 1{a}
  - name: b
    connection: {b_url}
    airframe: mavic3t
    sysid: 2{b}
"""


@pytest.mark.parametrize(
    ("a", "b", "b_url", "why"),
    [
        ("", "k1.key", "udpin://0.0.0.0:14550", "only b has a key"),
        ("k1.key", "", "udpin:0.0.0.0:14550", "only a has a key"),  # same socket, other spelling
        ("k1.key", "k2.key", "udpin://0.0.0.0:14550", "their keys differ"),
    ],
)
def test_vehicles_sharing_a_link_must_share_its_key(tmp_path, a, b, b_url, why):
    (tmp_path / "k1.key").write_bytes(b"\x01" * 32)
    (tmp_path / "k2.key").write_text("02" * 32)
    key = "\n    signing_key_file: {}"
    text = SHARED.format(a=key.format(a) if a else "", b=key.format(b) if b else "", b_url=b_url)
    with pytest.raises(ConfigError, match="one link signs every packet") as err:
        load_fleet(write(tmp_path, text))
    assert why in err.value.reason and "udpin://0.0.0.0:14550" in err.value.reason
    assert err.value.key.endswith("signing_key_file")


def test_vehicles_sharing_a_link_with_one_key_load(tmp_path):
    (tmp_path / "k1.key").write_bytes(b"\x01" * 32)
    (tmp_path / "same.key").write_text("01" * 32)  # the same key, written as hex
    key = "\n    signing_key_file: {}"
    text = SHARED.format(
        a=key.format("k1.key"), b=key.format("same.key"), b_url="udpin://0.0.0.0:14550"
    )
    fleet = load_fleet(write(tmp_path, text))
    assert fleet.vehicle("b").signing_key_file == tmp_path / "same.key"
    # different links may use different keys, or none
    text = SHARED.format(a=key.format("k1.key"), b="", b_url="udpin://0.0.0.0:14551")
    assert load_fleet(write(tmp_path, text)).vehicle("b").signing_key_file is None
