"""Wire formats of dispatch messages (pure functions): MQTT topics and JSON, GeoJSON features.

Every hit message carries `id` (stable for the target) and `message_id` (`<id>:<revision>`):
a receiver drops a message whose `message_id` it has seen (QoS 1 may deliver twice, the
station re-sends after a crash) and replaces what it shows when a higher revision arrives.
"""

from __future__ import annotations

import base64
import json
import math
import re
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from groundctl.dispatch.inbound import parse_ack as parse_ack  # it lived here before
from groundctl.errors import DispatchError
from groundctl.store import ACK_STATUSES, Ack, StoredHit

SCHEMA = "groundctl.hit/1"
_TOPIC_UNSAFE = re.compile(r"[+#/\x00\s]")


def iso_time(ts: float) -> str:
    """UTC ISO 8601 with milliseconds and Z, the form CoT and most receivers parse."""
    dt = datetime.fromtimestamp(ts, tz=UTC)
    return dt.strftime("%Y-%m-%dT%H:%M:%S.") + f"{dt.microsecond // 1000:03d}Z"


def topic_part(text: str) -> str:
    """A string usable as one MQTT topic level (no wildcards, separators or spaces)."""
    return _TOPIC_UNSAFE.sub("_", text) or "_"


@dataclass(frozen=True)
class Topics:
    prefix: str
    operation: str  # a name, or "+" to match every operation (listeners)

    @property
    def base(self) -> str:
        op = self.operation if self.operation == "+" else topic_part(self.operation)
        return f"{self.prefix}/{op}"

    def hit(self, hit_id: str) -> str:
        return f"{self.base}/hits/{topic_part(hit_id)}"

    def ack(self, hit_id: str) -> str:
        return f"{self.hit(hit_id)}/ack"

    def vehicle_state(self, sysid: int) -> str:
        return f"{self.base}/vehicles/{sysid}/state"

    @property
    def progress(self) -> str:
        return f"{self.base}/progress"

    @property
    def status(self) -> str:
        return f"{self.base}/status"

    @property
    def all_hits(self) -> str:
        return f"{self.base}/hits/+"

    @property
    def all_acks(self) -> str:
        return f"{self.base}/hits/+/ack"

    @property
    def all_vehicles(self) -> str:
        return f"{self.base}/vehicles/+/state"

    def kind_of(self, topic: str) -> tuple[str, str]:
        """(kind, operation) of a received topic: kind is hit, ack, vehicle, progress, status."""
        levels = topic.split("/")
        n = len(self.prefix.split("/"))
        rest = levels[n + 1 :]
        operation = levels[n] if len(levels) > n else ""
        if len(rest) == 2 and rest[0] == "hits":
            return "hit", operation
        if len(rest) == 3 and rest[0] == "hits" and rest[2] == "ack":
            return "ack", operation
        if len(rest) == 3 and rest[0] == "vehicles":
            return "vehicle", operation
        if rest in (["progress"], ["status"]):
            return rest[0], operation
        return "unknown", operation


def hit_payload(
    hit: StoredHit,
    operation: str,
    *,
    chip: str = "base64",
    chip_url: str | None = None,
) -> dict[str, Any]:
    """The JSON document of one hit revision (MQTT payload, webhook property set)."""
    doc: dict[str, Any] = {
        "schema": SCHEMA,
        "id": hit.id,
        "message_id": hit.message_id,
        "revision": hit.revision,
        "operation": operation,
        "class": hit.target_class,
        "confidence": round(hit.confidence, 4),
        "lat": round(hit.lat, 7),
        "lon": round(hit.lon, 7),
        "uncertainty_m": round(hit.uncertainty_m, 2),
        "time": iso_time(hit.last_seen),
        "first_seen": iso_time(hit.first_seen),
        "last_seen": iso_time(hit.last_seen),
        "vehicle": hit.vehicle_ids[-1] if hit.vehicle_ids else None,
        "vehicle_ids": list(hit.vehicle_ids),
        "sightings": hit.sighting_count,
        "temp_c": None if hit.temp_c is None else round(hit.temp_c, 2),
    }
    if chip == "base64" and hit.chip_png:
        doc["chip_png_base64"] = base64.b64encode(hit.chip_png).decode("ascii")
    elif chip == "url" and chip_url:
        doc["chip_url"] = chip_url.format(hit_id=hit.id, operation=operation)
    return doc


def hit_feature(hit: StoredHit, operation: str) -> dict[str, Any]:
    """A GeoJSON Feature (RFC 7946: coordinates are [lon, lat])."""
    props = hit_payload(hit, operation, chip="none")
    props.pop("lat")
    props.pop("lon")
    props["status"] = hit.status
    return {
        "type": "Feature",
        "id": hit.id,
        "geometry": {"type": "Point", "coordinates": [round(hit.lon, 7), round(hit.lat, 7)]},
        "properties": props,
    }


def feature_collection(hits: list[StoredHit], operation: str) -> dict[str, Any]:
    return {"type": "FeatureCollection", "features": [hit_feature(h, operation) for h in hits]}


def new_ack(
    hit_id: str,
    status: str,
    *,
    by: str = "",
    note: str = "",
    message_id: str | None = None,
    ack_id: str | None = None,
    ts: float,
) -> Ack:
    if status not in ACK_STATUSES:
        raise DispatchError(
            f"unknown acknowledgement '{status}'; use one of: {', '.join(ACK_STATUSES)}"
        )
    return Ack(
        ack_id=ack_id or uuid.uuid4().hex,
        hit_id=hit_id,
        status=status,
        ts=ts,
        message_id=message_id,
        by=by,
        note=note,
    )


def ack_payload(ack: Ack) -> dict[str, Any]:
    return {
        "ack_id": ack.ack_id,
        "hit_id": ack.hit_id,
        "message_id": ack.message_id,
        "status": ack.status,
        "by": ack.by,
        "note": ack.note,
        "ts": ack.ts,
        "time": iso_time(ack.ts),
    }


def vehicle_state_payload(sysid: int, state: dict[str, Any], ts: float) -> dict[str, Any]:
    return {"sysid": sysid, "time": iso_time(ts), "ts": ts, **state}


def status_payload(station: str, state: str, ts: float) -> dict[str, Any]:
    return {"station": station, "state": state, "time": iso_time(ts), "ts": ts}


def finite(value: Any) -> Any:
    """`value` with every NaN or infinity (a telemetry field not yet known) made null:
    strict JSON, which every receiver parses."""
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, dict):
        return {k: finite(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [finite(v) for v in value]
    return value


def dumps(doc: dict[str, Any]) -> bytes:
    return json.dumps(finite(doc), separators=(",", ":"), allow_nan=False).encode("utf-8")
