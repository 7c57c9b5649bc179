"""Connection strings: MAVSDK URLs, the older `udp://` form and pymavlink's forms.

Accepted (host may be a name, IPv4 address, or empty for "all interfaces"):

    udpin://0.0.0.0:14540     listen for vehicles on UDP (also `udp://:14540`, `udpin:0.0.0.0:14540`)
    udpout://host:14550       send to a vehicle at host:port (also `udpout:host:port`)
    tcpout://127.0.0.1:5760   connect over TCP (also `tcp://host:port`, `tcp:host:port`)
    serial:///dev/ttyACM0:57600   serial port and baud rate (also `/dev/ttyACM0:57600`)
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Literal

from groundctl.errors import LinkError

__all__ = ["ACCEPTED_FORMS", "Endpoint", "parse_url"]

Kind = Literal["udpin", "udpout", "tcpout", "serial"]

ACCEPTED_FORMS = (
    "udpin://0.0.0.0:14540, udp://:14540, udpout://HOST:PORT, tcpout://HOST:PORT, "
    "tcp://HOST:PORT, serial:///dev/ttyACM0:57600, or pymavlink's udpin:HOST:PORT, "
    "udpout:HOST:PORT, tcp:HOST:PORT"
)

_SCHEMES: dict[str, Kind] = {
    "udpin": "udpin",
    "udp": "udpin",  # MAVSDK's older form: udp://[host]:port listens
    "udpout": "udpout",
    "udpbcast": "udpout",
    "tcpout": "tcpout",
    "tcp": "tcpout",
    "serial": "serial",
}


@dataclass(frozen=True)
class Endpoint:
    kind: Kind
    host: str = ""
    port: int = 0
    device: str = ""
    baud: int = 57600

    def __str__(self) -> str:
        if self.kind == "serial":
            return f"serial://{self.device}:{self.baud}"
        return f"{self.kind}://{self.host}:{self.port}"

    @property
    def mavlink_connection_string(self) -> str:
        """The same endpoint in pymavlink's `mavutil.mavlink_connection` syntax."""
        if self.kind == "serial":
            return self.device
        return {"udpin": "udpin", "udpout": "udpout", "tcpout": "tcp"}[
            self.kind
        ] + f":{self.host}:{self.port}"


def _bad(url: str, why: str) -> LinkError:
    return LinkError(f"connection string {url!r}: {why}; accepted forms: {ACCEPTED_FORMS}")


def _port(url: str, text: str, allow_zero: bool = False) -> int:
    # Port 0 (listen on any free port) only makes sense for udpin; tests use it.
    if not text.isdigit() or not (0 if allow_zero else 1) <= int(text) < 65536:
        raise _bad(url, f"port {text!r} is not a number from 1 to 65535")
    return int(text)


def parse_url(url: str) -> Endpoint:
    """Parse a connection string; `LinkError` listing the accepted forms if it is not one."""
    if not isinstance(url, str) or not url.strip():
        raise _bad(str(url), "empty")
    s = url.strip()
    m = re.fullmatch(r"([a-z]+):(//)?(.*)", s)
    if m is None:
        if s.startswith("/dev/") or re.fullmatch(r"COM\d+(:\d+)?", s):
            m = re.fullmatch(r"(serial):(//)?(.*)", "serial://" + s)
            assert m is not None
        else:
            raise _bad(url, "no scheme")
    scheme, rest = m.group(1), m.group(3)
    kind = _SCHEMES.get(scheme)
    if kind is None:
        raise _bad(url, f"unknown scheme {scheme!r}")
    if kind == "serial":
        dev, _, baud = rest.rpartition(":")
        if not dev:
            dev, baud = rest, "57600"
        if not dev or not baud.isdigit() or int(baud) <= 0:
            raise _bad(url, "serial needs DEVICE:BAUD, e.g. serial:///dev/ttyUSB0:57600")
        return Endpoint("serial", device=dev, baud=int(baud))
    host, sep, port = rest.rpartition(":")
    if not sep:
        raise _bad(url, "missing :PORT")
    host = host.strip("[]")
    if kind == "udpin":
        host = host or "0.0.0.0"
    elif not host:
        raise _bad(url, f"{scheme} needs a host to connect to")
    return Endpoint(kind, host=host, port=_port(url, port, allow_zero=kind == "udpin"))
