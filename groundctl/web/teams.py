"""Ground teams: where they are (MQTT, Cursor-on-Target, or a phone's browser) and how far and
which way each has to go to every confirmed find.

Positions go to the operation database as events (`kind = team_position`, the team's name as
message), so every browser, and a restarted server, sees the same teams.

    MQTT   <prefix>/<operation>/teams/<team>/position   {"lat": .., "lon": .., "accuracy_m": ..}
    CoT    a ground unit's position event (type a-f-G-*), callsign from <contact>, over UDP
    phone  the page /team, which shares the browser's location with POST /api/teams/<team>/position
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import math
import time
import xml.etree.ElementTree as ET
from typing import Any
from urllib.parse import urlparse

from pyproj import Geod

from groundctl.store import Store
from groundctl.web.queries import TEAM_EVENT

log = logging.getLogger(__name__)
GEOD = Geod(ellps="WGS84")
# A hit the coordinator (or a command centre) has sent a team to, or that was found.
CONFIRMED = ("team_dispatched", "found")


def guidance(teams: list[dict[str, Any]], hits: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Each team with the distance (m) and bearing (degrees from true north) to every
    confirmed hit."""
    targets = [h for h in hits if h.get("status") in CONFIRMED]
    out = []
    for t in teams:
        legs = []
        if targets:
            n = len(targets)
            az, _, dist = GEOD.inv(
                [t["lon"]] * n,
                [t["lat"]] * n,
                [h["lon"] for h in targets],
                [h["lat"] for h in targets],
            )
            legs = [
                {
                    "hit_id": h["id"],
                    "target_class": h["target_class"],
                    "distance_m": round(float(d), 1),
                    "bearing_deg": round(float(a) % 360.0, 1),
                }
                for h, a, d in zip(targets, az, dist, strict=True)
            ]
        out.append({**t, "to": legs})
    return out


def record_position(
    store: Store,
    team: str,
    lat: float,
    lon: float,
    *,
    accuracy_m: float | None = None,
    source: str,
    ts: float | None = None,
) -> None:
    if not (math.isfinite(lat) and math.isfinite(lon)) or abs(lat) > 90 or abs(lon) > 180:
        raise ValueError(f"team {team}: {lat}, {lon} is not a WGS84 position")
    data: dict[str, Any] = {"lat": lat, "lon": lon, "source": source}
    if accuracy_m is not None:
        data["accuracy_m"] = accuracy_m
    store.record_event(TEAM_EVENT, team, data=data, ts=ts or time.time())


# ---------------------------------------------------------------------- MQTT
async def listen_mqtt(cfg: Any, prefix: str, operation: str, store: Store) -> None:
    """Team positions from the broker of the dispatch configuration; reconnects forever."""
    from groundctl.dispatch.messages import Topics
    from groundctl.dispatch.mqtt import client_for, connect, disconnect
    from groundctl.dispatch.outbox import SinkDown

    base = Topics(prefix, operation).base
    topic = f"{base}/teams/+/position"
    delay = 0.5
    while True:
        client = client_for(cfg, client_id=None, clean_session=True)
        try:
            await connect(client, cfg)
            await client.subscribe(topic, qos=1)
            delay = 0.5
            async for message in client.messages:
                team = str(message.topic).split("/")[-2]
                try:
                    doc = json.loads(bytes(message.payload or b""))  # type: ignore[arg-type]
                    await asyncio.to_thread(
                        record_position,
                        store,
                        team,
                        float(doc["lat"]),
                        float(doc["lon"]),
                        accuracy_m=doc.get("accuracy_m"),
                        source="mqtt",
                        ts=float(doc["ts"]) if doc.get("ts") else None,
                    )
                except (ValueError, KeyError, TypeError) as exc:
                    log.warning("team position on %s ignored: %s", message.topic, exc)
        except SinkDown as exc:
            log.info("team positions over MQTT: %s; retrying", exc)
        except Exception as exc:  # the broker went away mid-session
            log.info("team positions over MQTT: %s; reconnecting", exc)
        finally:
            with contextlib.suppress(Exception):
                await disconnect(client)
        await asyncio.sleep(delay)
        delay = min(10.0, delay * 2)


# ---------------------------------------------------------------------- Cursor-on-Target
def parse_cot(data: bytes) -> tuple[str, float, float, float | None] | None:
    """(callsign, lat, lon, ce metres) of a ground unit's CoT position event, else None."""
    try:
        root = ET.fromstring(data)
    except ET.ParseError:
        return None
    if root.tag != "event" or not root.get("type", "").startswith("a-f-G"):
        return None
    point = root.find("point")
    if point is None:
        return None
    contact = root.find("detail/contact")
    name = (contact.get("callsign") if contact is not None else None) or root.get("uid", "")
    try:
        lat, lon = float(point.get("lat", "nan")), float(point.get("lon", "nan"))
        ce = float(point.get("ce", "nan"))
    except ValueError:
        return None
    if not name or not math.isfinite(lat) or not math.isfinite(lon):
        return None
    return name[:40], lat, lon, (ce if math.isfinite(ce) and ce < 9_999_999 else None)


class _CotProtocol(asyncio.DatagramProtocol):
    def __init__(self, store: Store) -> None:
        self.store = store

    def datagram_received(self, data: bytes, addr: Any) -> None:
        got = parse_cot(data[:65536])
        if got is None:
            return
        name, lat, lon, ce = got
        try:
            record_position(self.store, name, lat, lon, accuracy_m=ce, source="cot")
        except ValueError as exc:
            log.warning("CoT from %s ignored: %s", addr, exc)


async def listen_cot(url: str, store: Store) -> asyncio.DatagramTransport:
    """Hear ground units' CoT position events on `udp://HOST:PORT`."""
    u = urlparse(url)
    if u.scheme != "udp" or u.port is None:
        raise ValueError(f"cot_listen {url!r}: expected udp://HOST:PORT, e.g. udp://0.0.0.0:4242")
    loop = asyncio.get_running_loop()
    transport, _ = await loop.create_datagram_endpoint(
        lambda: _CotProtocol(store), local_addr=(u.hostname or "0.0.0.0", u.port)
    )
    return transport
