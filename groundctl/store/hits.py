"""Hits: one row per target (latest revision), its sightings and chips; an upsert queues
the new revision for every sink in the same transaction."""

from __future__ import annotations

import hashlib
import math
import sqlite3
import time
from collections.abc import Sequence
from typing import Any

from groundctl.store.acks import ack_row
from groundctl.store.base import StoreBase, StoreError, from_json, to_json
from groundctl.store.models import IDENTIFIER, StoredHit, UpsertResult
from groundctl.store.outbox import enqueue_hit
from thermal.hit import Hit


class HitsMixin(StoreBase):
    def upsert_hit(self, hit: Hit, sinks: Sequence[str] = ()) -> UpsertResult:
        """Store a hit (new or updated) and, in the same transaction, queue it for `sinks`.

        An update that changes anything a receiver shows gets the next revision and a new
        message id; an identical re-submission changes nothing and queues nothing. Sightings
        and chips accumulate: an update never drops what an earlier revision had.
        """
        _check_hit(hit)
        sha = _hit_sha(hit)
        now = time.time()
        with self._tx() as db:
            row = db.execute(
                "SELECT revision, content_sha, last_seen FROM hits WHERE id = ?", (hit.id,)
            ).fetchone()
            created = row is None
            if row is not None and row["content_sha"] == sha:
                return UpsertResult(hit.id, int(row["revision"]), changed=False, created=False)
            if row is not None and hit.last_seen < row["last_seen"]:
                # An older state of the target (a replay after a pipeline restart): keep its
                # sightings, but do not send receivers back in time.
                self._add_sightings(db, hit, int(row["revision"]))
                return UpsertResult(hit.id, int(row["revision"]), changed=False, created=False)
            revision = 1 if row is None else int(row["revision"]) + 1
            values = (
                revision,
                sha,
                hit.target_class,
                float(hit.confidence),
                float(hit.lat),
                float(hit.lon),
                float(hit.uncertainty_m),
                float(hit.first_seen),
                float(hit.last_seen),
                to_json(list(hit.vehicle_ids)),
                hit.temp_c,
            )
            if created:
                db.execute(
                    "INSERT INTO hits(revision, content_sha, target_class, confidence, lat, lon,"
                    " uncertainty_m, first_seen, last_seen, vehicle_ids, temp_c, id,"
                    " sighting_count, created_at, updated_at)"
                    " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 0, ?, ?)",
                    (*values, hit.id, now, now),
                )
            else:
                db.execute(
                    "UPDATE hits SET revision = ?, content_sha = ?, target_class = ?,"
                    " confidence = ?, lat = ?, lon = ?, uncertainty_m = ?, first_seen = ?,"
                    " last_seen = ?, vehicle_ids = ?, temp_c = ?, updated_at = ? WHERE id = ?",
                    (*values, now, hit.id),
                )
            self._add_sightings(db, hit, revision)
            for sink in sinks:
                enqueue_hit(db, sink, hit.id, revision, now)
        return UpsertResult(hit.id, revision, changed=True, created=created)

    def _add_sightings(self, db: sqlite3.Connection, hit: Hit, revision: int) -> None:
        db.executemany(
            "INSERT OR IGNORE INTO sightings(hit_id, frame_id, ts, vehicle_id, lat, lon,"
            " uncertainty_m, target_class, confidence, temp_c, size_m, pixel_xy)"
            " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            [
                (
                    hit.id,
                    s.frame_id,
                    s.timestamp,
                    s.vehicle_id,
                    s.lat,
                    s.lon,
                    s.uncertainty_m,
                    s.target_class,
                    s.confidence,
                    s.temp_c,
                    None if s.size_m is None else to_json(list(s.size_m)),
                    None if s.pixel_xy is None else to_json(list(s.pixel_xy)),
                )
                for s in hit.sightings
            ],
        )
        db.execute(
            "UPDATE hits SET sighting_count ="
            " (SELECT COUNT(*) FROM sightings WHERE hit_id = ?) WHERE id = ?",
            (hit.id, hit.id),
        )
        if hit.chip_png:
            db.execute(
                "INSERT OR IGNORE INTO chips(hit_id, revision, sha256, png) VALUES (?, ?, ?, ?)",
                (hit.id, revision, hashlib.sha256(hit.chip_png).hexdigest(), hit.chip_png),
            )

    def hit(self, hit_id: str, *, with_chip: bool = True) -> StoredHit | None:
        rows = self._query(_HIT_SELECT + " WHERE h.id = ?", (hit_id,))
        if not rows:
            return None
        chip = self.chip(hit_id) if with_chip else None
        return _stored_hit(rows[0], chip)

    def hits(self, since: float | None = None) -> list[StoredHit]:
        """Every hit, latest revision, without chips (use `chip(hit_id)`), oldest first."""
        if since is None:
            rows = self._query(_HIT_SELECT + " ORDER BY h.created_at, h.id")
        else:
            rows = self._query(
                _HIT_SELECT + " WHERE h.updated_at >= ? ORDER BY h.created_at, h.id", (since,)
            )
        return [_stored_hit(r, None) for r in rows]

    def chip(self, hit_id: str) -> bytes | None:
        rows = self._query(
            "SELECT png FROM chips WHERE hit_id = ? ORDER BY id DESC LIMIT 1", (hit_id,)
        )
        return bytes(rows[0]["png"]) if rows else None

    def sightings(self, hit_id: str) -> list[dict[str, Any]]:
        rows = self._query("SELECT * FROM sightings WHERE hit_id = ? ORDER BY ts, id", (hit_id,))
        return [
            {
                "frame_id": r["frame_id"],
                "timestamp": r["ts"],
                "vehicle_id": r["vehicle_id"],
                "lat": r["lat"],
                "lon": r["lon"],
                "uncertainty_m": r["uncertainty_m"],
                "target_class": r["target_class"],
                "confidence": r["confidence"],
                "temp_c": r["temp_c"],
                "size_m": from_json(r["size_m"]),
                "pixel_xy": from_json(r["pixel_xy"]),
            }
            for r in rows
        ]


_ACK_COLUMNS = (
    "ack_id", "hit_id", "message_id", "status", "by", "note", "ts", "received_at", "source",
    "identity", "authorised",
)  # fmt: skip
# A hit with its latest authorised ack (the status the fleet acts on) and how many
# unauthorised ones were ignored.
_HIT_SELECT = (
    "SELECT h.*, "
    + ", ".join(f"a.{c} AS ack_{c}" for c in _ACK_COLUMNS)
    + ", (SELECT COUNT(*) FROM acks u WHERE u.hit_id = h.id AND u.authorised = 0)"
    " AS unverified_acks FROM hits h LEFT JOIN acks a ON a.ack_id = ("
    "SELECT x.ack_id FROM acks x WHERE x.hit_id = h.id AND x.authorised = 1"
    " ORDER BY x.ts DESC, x.received_at DESC, x.ack_id DESC LIMIT 1)"
)


def _check_hit(hit: Hit) -> None:
    """A hit must be one every receiver can take: an id that is a safe topic level and file
    name, a class, finite numbers in range. Anything else is a bug upstream, refused here
    rather than stored and sent to fail at every receiver."""

    def bad(what: str) -> StoreError:
        return StoreError(f"hit {hit.id!r}: {what}; not stored")

    if not isinstance(hit.id, str) or not IDENTIFIER.fullmatch(hit.id):
        raise bad("the id must be 1-128 letters, digits, '_', '.', '@' or '-'")
    if not isinstance(hit.target_class, str) or not 0 < len(hit.target_class) <= 40:
        raise bad("the class must be a name of 1 to 40 characters")
    checks = {
        "lat": (hit.lat, -90.0, 90.0),
        "lon": (hit.lon, -180.0, 180.0),
        "confidence": (hit.confidence, 0.0, 1.0),
        "uncertainty_m": (hit.uncertainty_m, 0.0, 1e7),
        "first_seen": (hit.first_seen, 0.0, 1e11),
        "last_seen": (hit.last_seen, 0.0, 1e11),
        "temp_c": (-273.15 if hit.temp_c is None else hit.temp_c, -273.15, 2000.0),
    }
    for name, (value, lo, hi) in checks.items():
        try:
            x = float(value)
        except (TypeError, ValueError):
            raise bad(f"{name} is not a number") from None
        if not (math.isfinite(x) and lo <= x <= hi):
            raise bad(f"{name} {x!r} is outside {lo:g}..{hi:g}")
    if any(
        isinstance(v, bool) or not isinstance(v, int) or not 0 <= v <= 255 for v in hit.vehicle_ids
    ):
        raise bad("vehicle ids must be MAVLink system ids 0..255")


def _hit_sha(hit: Hit) -> str:
    content = {
        "class": hit.target_class,
        "confidence": round(float(hit.confidence), 6),
        "lat": round(float(hit.lat), 8),
        "lon": round(float(hit.lon), 8),
        "uncertainty_m": round(float(hit.uncertainty_m), 3),
        "first_seen": hit.first_seen,
        "last_seen": hit.last_seen,
        "vehicles": list(hit.vehicle_ids),
        "sightings": len(hit.sightings),
        "temp_c": hit.temp_c,
        "chip": hashlib.sha256(hit.chip_png).hexdigest() if hit.chip_png else None,
    }
    return hashlib.sha256(to_json(content).encode()).hexdigest()


def _stored_hit(r: sqlite3.Row, chip: bytes | None) -> StoredHit:
    return StoredHit(
        id=r["id"],
        revision=r["revision"],
        target_class=r["target_class"],
        confidence=r["confidence"],
        lat=r["lat"],
        lon=r["lon"],
        uncertainty_m=r["uncertainty_m"],
        first_seen=r["first_seen"],
        last_seen=r["last_seen"],
        vehicle_ids=tuple(from_json(r["vehicle_ids"])),
        temp_c=r["temp_c"],
        sighting_count=r["sighting_count"],
        created_at=r["created_at"],
        updated_at=r["updated_at"],
        chip_png=chip,
        status=r["ack_status"],
        ack=None if r["ack_ack_id"] is None else ack_row(r, "ack_"),
        unverified_acks=r["unverified_acks"],
    )
