"""Everything that arrives from the network, checked before anything else looks at it.

Whoever can publish on the broker writes these messages, so every field is hostile until
checked: identifiers against `ids.IDENTIFIER`, numbers finite and in range, text bounded.
Each parser returns a clean value or raises `DispatchError` saying what was wrong; callers
log it and drop the message. Nothing here touches a file or a socket.
"""

from __future__ import annotations

import base64
import binascii
import json
import math
from collections.abc import Mapping
from typing import Any

from groundctl.dispatch.acksig import verify
from groundctl.dispatch.ids import check_identifier
from groundctl.errors import DispatchError
from groundctl.store import ACK_STATUSES, Ack

MAX_PAYLOAD_BYTES = 4 * 1024 * 1024  # a hit with its chip is a few kB; refuse floods early
MAX_TEXT = 2000  # a note, a name
MAX_CHIP_BYTES = 2 * 1024 * 1024
PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


def json_object(payload: bytes, what: str) -> dict[str, Any]:
    """A JSON object from the wire, or DispatchError."""
    if len(payload) > MAX_PAYLOAD_BYTES:
        raise DispatchError(f"{what} is {len(payload)} bytes, more than {MAX_PAYLOAD_BYTES}")
    try:
        doc = json.loads(payload)
    except (ValueError, UnicodeDecodeError, RecursionError) as exc:
        raise DispatchError(f"{what} is not JSON: {str(exc)[:120]}") from None
    if not isinstance(doc, dict):
        raise DispatchError(f"{what} is not a JSON object")
    return doc


def number(
    doc: Mapping[str, Any],
    key: str,
    what: str,
    *,
    lo: float = -math.inf,
    hi: float = math.inf,
    default: float | None = None,
) -> float:
    """A finite number within lo..hi (a missing or null field gives `default` if one is set)."""
    value = doc.get(key)
    if value is None and default is not None:
        return default
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise DispatchError(f"{what}: {key} must be a number (got {_short(value)})")
    x = float(value)
    if not math.isfinite(x) or not lo <= x <= hi:
        raise DispatchError(f"{what}: {key} {x!r} is outside {lo:g}..{hi:g}")
    return x


def text(doc: Mapping[str, Any], key: str, what: str, *, limit: int = MAX_TEXT) -> str:
    """An optional string field, at most `limit` characters ("" when missing or null)."""
    value = doc.get(key)
    if value is None:
        return ""
    if not isinstance(value, str):
        raise DispatchError(f"{what}: {key} must be a string (got {_short(value)})")
    if len(value) > limit:
        raise DispatchError(f"{what}: {key} is {len(value)} characters, more than {limit}")
    return value


def _short(value: Any) -> str:
    shown = repr(value)
    return shown if len(shown) <= 40 else shown[:37] + "..."


# ---------------------------------------------------------------------- acknowledgements


def parse_ack(
    payload: bytes,
    source: str = "",
    *,
    operation: str | None = None,
    keys: Mapping[str, bytes] | None = None,
    topic_hit: str | None = None,
) -> Ack:
    """An acknowledgement from the wire. It is authorised (identity `key:<name>`) only when
    it is signed for `operation` with one of `keys`; otherwise it is kept as unauthorised
    (identity ""). `topic_hit`: the hit id level of the topic it came on, which must agree
    with the payload. DispatchError says what is wrong with a malformed one."""
    what = f"acknowledgement on {source}" if source else "acknowledgement"
    doc = json_object(payload, what)
    missing = [k for k in ("ack_id", "hit_id", "status", "ts") if k not in doc]
    if missing:
        raise DispatchError(f"{what} lacks {', '.join(missing)}")
    status = doc["status"]
    if status not in ACK_STATUSES:
        raise DispatchError(
            f"{what} has unknown status {_short(status)}; known: {', '.join(ACK_STATUSES)}"
        )
    hit_id = check_identifier(doc["hit_id"], f"{what}: hit_id")
    if topic_hit is not None and topic_hit != hit_id:
        raise DispatchError(f"{what} is about hit {hit_id}, but was sent on {topic_hit}'s topic")
    ack_id = doc["ack_id"]
    if not isinstance(ack_id, str) or not 0 < len(ack_id) <= 200:
        raise DispatchError(f"{what}: ack_id must be a string of 1 to 200 characters")
    message_id = doc.get("message_id")
    if message_id is not None and (not isinstance(message_id, str) or len(message_id) > 200):
        raise DispatchError(f"{what}: message_id must be a string of at most 200 characters")
    key_name = None
    if keys and operation is not None:
        key_name = verify(doc, operation, keys)
    return Ack(
        ack_id=ack_id,
        hit_id=hit_id,
        status=str(status),
        ts=number(doc, "ts", what, lo=0.0, hi=1e11),
        message_id=message_id,
        by=text(doc, "by", what, limit=200),
        note=text(doc, "note", what),
        source=source,
        identity="" if key_name is None else f"key:{key_name}",
        authorised=key_name is not None,
    )


# ---------------------------------------------------------------------- hits


def parse_hit(doc: Mapping[str, Any], topic_operation: str) -> dict[str, Any]:
    """A hit document as a command centre received it, with every field it shows or uses
    checked; the operation must match the topic it came on. Returns the clean fields."""
    what = f"hit on operation {topic_operation!r}"
    hit_id = check_identifier(doc.get("id"), f"{what}: id")
    what = f"hit {hit_id}"
    operation = check_identifier(doc.get("operation", topic_operation), f"{what}: operation")
    if topic_operation not in ("", "+") and operation != topic_operation:
        raise DispatchError(f"{what} names operation {operation!r} but came on {topic_operation!r}")
    revision = doc.get("revision", 0)
    if isinstance(revision, bool) or not isinstance(revision, int) or not 0 <= revision < 2**31:
        raise DispatchError(f"{what}: revision must be a whole number >= 0")
    vehicle = doc.get("vehicle")
    if vehicle is not None and (
        isinstance(vehicle, bool) or not isinstance(vehicle, int) or not 0 <= vehicle <= 255
    ):
        raise DispatchError(f"{what}: vehicle must be a MAVLink system id 0..255")
    chip = doc.get("chip_png_base64")
    if chip is not None and (not isinstance(chip, str) or len(chip) > MAX_CHIP_BYTES * 4 // 3 + 4):
        raise DispatchError(f"{what}: chip_png_base64 must be a base64 string of a small PNG")
    chip_url = text(doc, "chip_url", what, limit=500)
    if chip_url and not chip_url.startswith(("http://", "https://")):
        raise DispatchError(f"{what}: chip_url must be an http(s) URL")
    return {
        "id": hit_id,
        "operation": operation,
        "revision": revision,
        "message_id": text(doc, "message_id", what, limit=200) or f"{hit_id}:{revision}",
        "class": text(doc, "class", what, limit=40) or "?",
        "confidence": number(doc, "confidence", what, lo=0.0, hi=1.0, default=0.0),
        "lat": number(doc, "lat", what, lo=-90.0, hi=90.0),
        "lon": number(doc, "lon", what, lo=-180.0, hi=180.0),
        "uncertainty_m": number(doc, "uncertainty_m", what, lo=0.0, hi=1e7, default=0.0),
        "time": text(doc, "time", what, limit=40),
        "vehicle": vehicle,
        "chip_png_base64": chip,
        "chip_url": chip_url or None,
    }


def decode_chip(data: str, hit_id: str) -> bytes:
    """The PNG bytes of a hit's chip; anything that is not a small PNG is refused (the
    listener writes these bytes to disk)."""
    try:
        raw = base64.b64decode(data, validate=True)
    except (binascii.Error, ValueError):
        raise DispatchError(f"hit {hit_id}: chip_png_base64 is not base64") from None
    if len(raw) > MAX_CHIP_BYTES or not raw.startswith(PNG_MAGIC):
        raise DispatchError(f"hit {hit_id}: the chip is not a PNG of at most 2 MB")
    return raw


def parse_status(doc: Mapping[str, Any]) -> tuple[str, str]:
    """(station, state) of a station's online/offline message."""
    station = text(doc, "station", "status message", limit=200) or "?"
    state = doc.get("state")
    if state not in ("online", "offline"):
        raise DispatchError(
            f"status message: state must be online or offline (got {_short(state)})"
        )
    return station, state


def parse_progress(doc: Mapping[str, Any]) -> float | None:
    """The covered percentage of a progress message (None when it does not say)."""
    for key in ("covered_pct", "swept_pct"):
        if doc.get(key) is not None:
            return number(doc, key, "progress message", lo=0.0, hi=100.0)
    return None
