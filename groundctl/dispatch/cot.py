"""Cursor-on-Target for TAK (ATAK, WinTAK, iTAK, TAK Server): XML events and their transport.

A hit is a sensor point of interest `b-m-p-s-p-i` with a `<link relation="p-p">` to the
drone that saw it; a drone is `a-f-A-M-H-Q` (friendly, air, military, rotary wing, UAV).
A hit's uid is stable for the target, so TAK replaces the marker when an update arrives
(that is TAK's own de-duplication). Coordinates are written with 7 decimals (~1 cm);
unknown height / linear error use CoT's 9999999.0.

Transports: `udp://group:port` (SA multicast, default 239.2.3.1:6969, or unicast),
`tcp://host:port` (TAK Server plain streaming, usually 8087), `tls://host:port` (8089, with
the server's CA and usually a client certificate).
"""

from __future__ import annotations

import asyncio
import contextlib
import ipaddress
import math
import re
import socket
import ssl
import xml.etree.ElementTree as ET
from urllib.parse import urlsplit

from groundctl.dispatch.config import CotConfig
from groundctl.dispatch.messages import iso_time
from groundctl.errors import DispatchError
from groundctl.store import StoredHit

UNKNOWN = 9999999.0
HIT_TYPE = "b-m-p-s-p-i"
UAV_TYPE = "a-f-A-M-H-Q"


def hit_uid(operation: str, hit_id: str) -> str:
    return f"groundctl.{operation}.hit.{hit_id}"


def vehicle_uid(operation: str, sysid: int) -> str:
    return f"groundctl.{operation}.uav.{sysid}"


# Characters XML 1.0 cannot carry at all (control characters other than tab and newlines,
# surrogates, U+FFFE/U+FFFF): a name from elsewhere must not make the whole event unreadable.
_XML_INVALID = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]")


def _xml_text(text: str) -> str:
    return _XML_INVALID.sub("?", str(text))


def _f7(x: float) -> str:
    return f"{x:.7f}"


def _f1(x: float) -> str:
    return f"{x:.1f}"


def event_xml(
    *,
    uid: str,
    event_type: str,
    how: str,
    lat: float,
    lon: float,
    now: float,
    stale_s: float,
    hae_m: float | None = None,
    ce_m: float | None = None,
    le_m: float | None = None,
    callsign: str,
    remarks: str = "",
    links: tuple[tuple[str, str, str], ...] = (),  # (uid, type, relation)
    course_deg: float | None = None,
    speed_ms: float | None = None,
) -> bytes:
    """One CoT 2.0 `<event>` as UTF-8 bytes with an XML declaration. Text is cleaned of
    characters XML cannot carry; an unknown height or error is CoT's 9999999; a position
    that is not a finite WGS84 one is refused (DispatchError)."""
    if not (math.isfinite(lat) and math.isfinite(lon) and abs(lat) <= 90 and abs(lon) <= 180):
        raise DispatchError(f"CoT {uid}: {lat}, {lon} is not a position")
    uid, callsign, remarks = _xml_text(uid), _xml_text(callsign), _xml_text(remarks)
    links = tuple(tuple(_xml_text(x) for x in link) for link in links)  # type: ignore[misc]
    hae_m, ce_m, le_m = (
        v if v is not None and math.isfinite(v) else None for v in (hae_m, ce_m, le_m)
    )
    event = ET.Element(
        "event",
        {
            "version": "2.0",
            "uid": uid,
            "type": event_type,
            "time": iso_time(now),
            "start": iso_time(now),
            "stale": iso_time(now + stale_s),
            "how": how,
        },
    )
    ET.SubElement(
        event,
        "point",
        {
            "lat": _f7(lat),
            "lon": _f7(lon),
            "hae": _f1(UNKNOWN if hae_m is None else hae_m),
            "ce": _f1(UNKNOWN if ce_m is None else ce_m),
            "le": _f1(UNKNOWN if le_m is None else le_m),
        },
    )
    detail = ET.SubElement(event, "detail")
    ET.SubElement(detail, "contact", {"callsign": callsign})
    for link_uid, link_type, relation in links:
        ET.SubElement(detail, "link", {"uid": link_uid, "type": link_type, "relation": relation})
    if course_deg is not None or speed_ms is not None:
        ET.SubElement(
            detail,
            "track",
            {
                "course": _f1((course_deg if math.isfinite(course_deg or 0.0) else 0.0) % 360.0),
                "speed": _f1(speed_ms if speed_ms is not None and math.isfinite(speed_ms) else 0.0),
            },
        )
    if remarks:
        ET.SubElement(detail, "remarks").text = remarks
    return ET.tostring(event, encoding="utf-8", xml_declaration=True)


def hit_event(hit: StoredHit, operation: str, now: float, stale_s: float) -> bytes:
    vehicle = hit.vehicle_ids[-1] if hit.vehicle_ids else None
    links = ((vehicle_uid(operation, vehicle), UAV_TYPE, "p-p"),) if vehicle is not None else ()
    temp = "" if hit.temp_c is None else f", {hit.temp_c:.1f} °C"
    status = f", status {hit.status}" if hit.status else ""
    remarks = (
        f"groundctl {operation}: {hit.target_class} {hit.confidence:.0%}{temp}, "
        f"±{hit.uncertainty_m:.0f} m, {hit.sighting_count} sightings, "
        f"last seen {iso_time(hit.last_seen)}{status} [hit {hit.id} rev {hit.revision}]"
    )
    return event_xml(
        uid=hit_uid(operation, hit.id),
        event_type=HIT_TYPE,
        how="m-f",  # fused from several thermal sightings
        lat=hit.lat,
        lon=hit.lon,
        now=now,
        stale_s=stale_s,
        ce_m=hit.uncertainty_m,
        callsign=f"{hit.target_class.upper()} {hit.id}",
        remarks=remarks,
        links=links,
    )


def vehicle_event(
    operation: str,
    sysid: int,
    lat: float,
    lon: float,
    now: float,
    stale_s: float,
    *,
    alt_hae_m: float | None = None,
    course_deg: float | None = None,
    speed_ms: float | None = None,
    callsign: str | None = None,
    remarks: str = "",
) -> bytes:
    return event_xml(
        uid=vehicle_uid(operation, sysid),
        event_type=UAV_TYPE,
        how="m-g",
        lat=lat,
        lon=lon,
        now=now,
        stale_s=stale_s,
        hae_m=alt_hae_m,
        ce_m=5.0,
        le_m=10.0 if alt_hae_m is not None else None,
        callsign=callsign or f"{operation} UAV {sysid}",
        remarks=remarks,
        course_deg=course_deg,
        speed_ms=speed_ms,
    )


def tls_context(
    ca_file: object | None, cert_file: object | None, key_file: object | None, insecure: bool
) -> ssl.SSLContext:
    try:
        ctx = ssl.create_default_context(cafile=str(ca_file) if ca_file else None)
        if cert_file and key_file:
            ctx.load_cert_chain(str(cert_file), str(key_file))
    except (OSError, ssl.SSLError) as exc:
        raise DispatchError(f"cannot load TLS files ({ca_file}, {cert_file}): {exc}") from None
    if insecure:
        ctx.check_hostname = False
    return ctx


class CotTransport:
    """Sends CoT events over UDP (multicast or unicast), TCP or TLS; reconnects on demand."""

    def __init__(self, cfg: CotConfig) -> None:
        self.cfg = cfg
        parts = urlsplit(cfg.url)
        self.scheme = parts.scheme
        self.host = parts.hostname or ""
        self.port = parts.port or {"udp": 6969, "tcp": 8087}.get(parts.scheme, 8089)
        self._sock: socket.socket | None = None
        self._writer: asyncio.StreamWriter | None = None
        self._reader: asyncio.StreamReader | None = None

    @property
    def connected(self) -> bool:
        return self._sock is not None or self._writer is not None

    async def connect(self) -> None:
        if self.connected:
            return
        if self.scheme == "udp":
            sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
            if ipaddress.ip_address(socket.gethostbyname(self.host)).is_multicast:
                sock.setsockopt(socket.IPPROTO_IP, socket.IP_MULTICAST_TTL, self.cfg.ttl)
                sock.setsockopt(socket.IPPROTO_IP, socket.IP_MULTICAST_LOOP, 1)
                if self.cfg.interface:
                    sock.setsockopt(
                        socket.IPPROTO_IP,
                        socket.IP_MULTICAST_IF,
                        socket.inet_aton(self.cfg.interface),
                    )
            sock.setblocking(False)
            self._sock = sock
            return
        ctx = None
        if self.scheme in ("tls", "ssl"):
            ctx = tls_context(
                self.cfg.ca_file, self.cfg.cert_file, self.cfg.key_file, self.cfg.tls_insecure
            )
        try:
            self._reader, self._writer = await asyncio.wait_for(
                asyncio.open_connection(self.host, self.port, ssl=ctx), timeout=15
            )
        except ssl.SSLCertVerificationError as exc:
            raise DispatchError(
                f"TAK server {self.cfg.url}: certificate not trusted ({exc.verify_message}); "
                "check ca_file in the dispatch.cot entry"
            ) from None

    async def send(self, data: bytes) -> None:
        """Write one event; raises OSError when the connection is gone."""
        await self.connect()
        if self._sock is not None:
            self._sock.sendto(data, (self.host, self.port))
            return
        assert self._writer is not None and self._reader is not None
        # TAK servers never half-close: EOF means the server went away. Writing anyway would
        # "succeed" into the kernel buffer and be lost with the next RST.
        if self._writer.is_closing() or self._reader.at_eof():
            await self.close()
            raise ConnectionResetError(f"TAK server {self.cfg.url} closed the connection")
        self._writer.write(data)
        await asyncio.wait_for(self._writer.drain(), timeout=15)

    async def close(self) -> None:
        if self._sock is not None:
            self._sock.close()
            self._sock = None
        if self._writer is not None:
            writer, self._writer, self._reader = self._writer, None, None
            writer.close()
            with contextlib.suppress(OSError, TimeoutError, ssl.SSLError):
                await asyncio.wait_for(writer.wait_closed(), timeout=5)
