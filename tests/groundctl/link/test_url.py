import pytest

from groundctl.errors import LinkError
from groundctl.link.url import Endpoint, parse_url


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("udpin://0.0.0.0:14540", Endpoint("udpin", "0.0.0.0", 14540)),
        ("udp://:14540", Endpoint("udpin", "0.0.0.0", 14540)),
        ("udp://127.0.0.1:14541", Endpoint("udpin", "127.0.0.1", 14541)),
        ("udpout://10.0.0.2:14550", Endpoint("udpout", "10.0.0.2", 14550)),
        ("tcpout://127.0.0.1:5760", Endpoint("tcpout", "127.0.0.1", 5760)),
        ("tcp://sitl.local:5770", Endpoint("tcpout", "sitl.local", 5770)),
        ("udpin:0.0.0.0:14550", Endpoint("udpin", "0.0.0.0", 14550)),
        ("udpout:host:1234", Endpoint("udpout", "host", 1234)),
        ("tcp:127.0.0.1:5760", Endpoint("tcpout", "127.0.0.1", 5760)),
        ("serial:///dev/ttyACM0:57600", Endpoint("serial", device="/dev/ttyACM0", baud=57600)),
        ("serial:///dev/ttyUSB0:921600", Endpoint("serial", device="/dev/ttyUSB0", baud=921600)),
        ("/dev/ttyUSB1:115200", Endpoint("serial", device="/dev/ttyUSB1", baud=115200)),
    ],
)
def test_accepted_forms(url: str, expected: Endpoint) -> None:
    assert parse_url(url) == expected


@pytest.mark.parametrize(
    "url",
    [
        "",
        "14550",
        "http://host:80",
        "udpout://:14550",
        "udpin://0.0.0.0",
        "tcp://h:99999",
        "udp://:abc",
    ],
)
def test_bad_strings_name_the_accepted_forms(url: str) -> None:
    with pytest.raises(LinkError) as e:
        parse_url(url)
    assert "accepted forms" in str(e.value)
    assert "udpin://0.0.0.0:14540" in str(e.value)


def test_round_trip_to_pymavlink_syntax() -> None:
    assert parse_url("tcp://127.0.0.1:5760").mavlink_connection_string == "tcp:127.0.0.1:5760"
    assert parse_url("udp://:14540").mavlink_connection_string == "udpin:0.0.0.0:14540"
