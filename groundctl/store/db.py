"""`Store`: the SQLite database of one operation.

One connection per `Store`, WAL mode, `synchronous=FULL` so that a committed hit survives a
power cut, not only a crash. Every public method is one short transaction and is safe to call
from several threads (a lock serialises them); other processes may open the same file at
the same time (WAL readers never block the writer, writers wait up to `busy_timeout_s`).
"""

from __future__ import annotations

import hashlib
import json
import sqlite3
import threading
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from groundctl.errors import GroundctlError
from groundctl.store.models import (
    ACK_STATUSES,
    Ack,
    Command,
    Flight,
    Operation,
    OutboxMessage,
    Plan,
    Sortie,
    StoredHit,
    TrackPoint,
    UpsertResult,
    VehicleEvent,
    message_id,
)
from groundctl.store.schema import MIGRATIONS, SCHEMA_VERSION
from groundctl.store.thinning import Thinning, keep_point
from thermal.hit import Hit


class StoreError(GroundctlError):
    """The operation database cannot be opened, is from a newer groundctl, or a row is missing."""


_UNSET: Any = object()


def _json(value: Any) -> str:
    return json.dumps(value, separators=(",", ":"), sort_keys=True)


def _load(text: str | None) -> Any:
    return None if text is None else json.loads(text)


class Store:
    """The database of one operation. Open with `Store.open(path)`; close with `close()`
    or use it as a context manager."""

    def __init__(
        self, conn: sqlite3.Connection, path: Path, thinning: Thinning = Thinning()
    ) -> None:
        self._conn = conn
        self.path = path
        self.thinning = thinning
        self._lock = threading.RLock()
        self._last_kept: dict[int, TrackPoint] = {}

    # ------------------------------------------------------------------ lifecycle
    @classmethod
    def open(
        cls,
        path: str | Path,
        operation: str | None = None,
        *,
        thinning: Thinning = Thinning(),
        busy_timeout_s: float = 30.0,
    ) -> Store:
        """Open (creating if needed) the database at `path` and bring its schema up to date.

        With `operation`, the operation row is created on first use; opening the database of
        another operation under a different name is refused (one database per operation).
        """
        path = Path(path)
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            conn = sqlite3.connect(
                path, timeout=busy_timeout_s, isolation_level=None, check_same_thread=False
            )
            conn.row_factory = sqlite3.Row
            conn.execute("PRAGMA journal_mode=WAL")
            conn.execute("PRAGMA synchronous=FULL")
            conn.execute("PRAGMA foreign_keys=ON")
        except sqlite3.DatabaseError as exc:
            raise StoreError(
                f"{path}: not a groundctl operation database ({exc}); "
                "give a new file name or the database the operation was started with"
            ) from None
        except (sqlite3.Error, OSError) as exc:
            raise StoreError(f"{path}: cannot open the operation database: {exc}") from None
        store = cls(conn, path, thinning)
        try:
            store._migrate()
        except sqlite3.DatabaseError as exc:
            conn.close()
            raise StoreError(
                f"{path}: not a groundctl operation database ({exc}); "
                "give a new file name or the database the operation was started with"
            ) from None
        except BaseException:
            conn.close()
            raise
        if operation is not None:
            store.ensure_operation(operation)
        return store

    def close(self) -> None:
        with self._lock:
            self._conn.close()

    def __enter__(self) -> Store:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _migrate(self) -> None:
        with self._lock:
            version = self._conn.execute("PRAGMA user_version").fetchone()[0]
            if version > SCHEMA_VERSION:
                raise StoreError(
                    f"{self.path}: database schema version {version} is newer than this "
                    f"groundctl understands ({SCHEMA_VERSION}); upgrade groundctl"
                )
            for number in range(version, SCHEMA_VERSION):
                # executescript commits on its own; the BEGIN makes each step atomic with
                # the version bump, so a crash mid-migration leaves the previous version.
                script = MIGRATIONS[number]
                self._conn.executescript(
                    f"BEGIN IMMEDIATE;\n{script}\nPRAGMA user_version = {number + 1};\nCOMMIT;"
                )

    @property
    def schema_version(self) -> int:
        with self._lock:
            return int(self._conn.execute("PRAGMA user_version").fetchone()[0])

    @contextmanager
    def _tx(self) -> Iterator[sqlite3.Connection]:
        with self._lock:
            self._conn.execute("BEGIN IMMEDIATE")
            try:
                yield self._conn
            except BaseException:
                self._conn.execute("ROLLBACK")
                raise
            self._conn.execute("COMMIT")

    def _query(self, sql: str, args: Sequence[Any] = ()) -> list[sqlite3.Row]:
        with self._lock:
            return self._conn.execute(sql, args).fetchall()

    # ------------------------------------------------------------------ operation
    def ensure_operation(self, name: str, notes: str = "") -> Operation:
        if not name.strip():
            raise StoreError("an operation needs a non-empty name")
        with self._tx() as db:
            rows = db.execute("SELECT name FROM operations").fetchall()
            others = [r["name"] for r in rows if r["name"] != name]
            if others:
                raise StoreError(
                    f"{self.path} is the database of operation '{others[0]}', not '{name}'; "
                    "each operation has its own database file"
                )
            db.execute(
                "INSERT OR IGNORE INTO operations(name, created_at, notes) VALUES (?, ?, ?)",
                (name, time.time(), notes),
            )
        op = self.operation()
        assert op is not None
        return op

    def operation(self) -> Operation | None:
        """The operation this database belongs to, or None before `ensure_operation`."""
        rows = self._query("SELECT * FROM operations ORDER BY id LIMIT 1")
        if not rows:
            return None
        r = rows[0]
        return Operation(
            id=r["id"],
            name=r["name"],
            created_at=r["created_at"],
            ended_at=r["ended_at"],
            notes=r["notes"],
            area_geojson=_load(r["area_geojson"]),
            detail=_load(r["detail"]),
        )

    def update_operation(
        self,
        *,
        ended_at: float | None = _UNSET,
        notes: str = _UNSET,
        area_geojson: dict[str, Any] | None = _UNSET,
        detail: dict[str, Any] = _UNSET,
    ) -> Operation:
        op = self.operation()
        if op is None:
            raise StoreError(f"{self.path}: no operation yet; call ensure_operation(name) first")
        fields: dict[str, Any] = {}
        if ended_at is not _UNSET:
            fields["ended_at"] = ended_at
        if notes is not _UNSET:
            fields["notes"] = notes
        if area_geojson is not _UNSET:
            fields["area_geojson"] = None if area_geojson is None else _json(area_geojson)
        if detail is not _UNSET:
            fields["detail"] = _json({**op.detail, **detail})
        self._update("operations", op.id, fields)
        result = self.operation()
        assert result is not None
        return result

    def _update(self, table: str, row_id: int, fields: dict[str, Any]) -> None:
        if not fields:
            return
        assignments = ", ".join(f"{name} = ?" for name in fields)
        with self._tx() as db:
            cur = db.execute(
                f"UPDATE {table} SET {assignments} WHERE id = ?", (*fields.values(), row_id)
            )
            if cur.rowcount == 0:
                raise StoreError(f"{self.path}: no {table[:-1]} with id {row_id}")

    # ------------------------------------------------------------------ plans, sorties, flights
    def add_plan(self, name: str, plan: dict[str, Any], created_at: float | None = None) -> int:
        """Store a plan (any JSON-serialisable document, e.g. `missions` Plan exported)."""
        with self._tx() as db:
            cur = db.execute(
                "INSERT INTO plans(name, created_at, plan) VALUES (?, ?, ?)",
                (name, created_at or time.time(), _json(plan)),
            )
            return int(cur.lastrowid or 0)

    def plan(self, plan_id: int) -> Plan:
        rows = self._query("SELECT * FROM plans WHERE id = ?", (plan_id,))
        if not rows:
            raise StoreError(f"{self.path}: no plan with id {plan_id}")
        r = rows[0]
        return Plan(r["id"], r["name"], r["created_at"], _load(r["plan"]))

    def plans(self) -> list[Plan]:
        rows = self._query("SELECT * FROM plans ORDER BY id")
        return [Plan(r["id"], r["name"], r["created_at"], _load(r["plan"])) for r in rows]

    def add_sortie(
        self,
        sysid: int,
        *,
        plan_id: int | None = None,
        segment: str | None = None,
        role: str = "search",
        status: str = "planned",
        detail: dict[str, Any] | None = None,
        created_at: float | None = None,
    ) -> int:
        with self._tx() as db:
            cur = db.execute(
                "INSERT INTO sorties(plan_id, sysid, segment, role, status, created_at, detail)"
                " VALUES (?, ?, ?, ?, ?, ?, ?)",
                (
                    plan_id,
                    sysid,
                    segment,
                    role,
                    status,
                    created_at or time.time(),
                    _json(detail or {}),
                ),
            )
            return int(cur.lastrowid or 0)

    def update_sortie(
        self,
        sortie_id: int,
        *,
        status: str = _UNSET,
        progress: float = _UNSET,
        started_at: float | None = _UNSET,
        ended_at: float | None = _UNSET,
        detail: dict[str, Any] = _UNSET,
    ) -> Sortie:
        """Change some fields of a sortie; `detail` is merged into the stored detail."""
        fields: dict[str, Any] = {}
        if status is not _UNSET:
            fields["status"] = status
        if progress is not _UNSET:
            if not 0.0 <= progress <= 1.0:
                raise StoreError(f"sortie progress must be within 0..1 (got {progress})")
            fields["progress"] = progress
        if started_at is not _UNSET:
            fields["started_at"] = started_at
        if ended_at is not _UNSET:
            fields["ended_at"] = ended_at
        if detail is not _UNSET:
            fields["detail"] = _json({**self.sortie(sortie_id).detail, **detail})
        self._update("sorties", sortie_id, fields)
        return self.sortie(sortie_id)

    def sortie(self, sortie_id: int) -> Sortie:
        rows = self._query("SELECT * FROM sorties WHERE id = ?", (sortie_id,))
        if not rows:
            raise StoreError(f"{self.path}: no sortie with id {sortie_id}")
        return _sortie(rows[0])

    def sorties(self, sysid: int | None = None, status: str | None = None) -> list[Sortie]:
        sql, args = "SELECT * FROM sorties WHERE 1=1", []
        if sysid is not None:
            sql, args = sql + " AND sysid = ?", [*args, sysid]
        if status is not None:
            sql, args = sql + " AND status = ?", [*args, status]
        return [_sortie(r) for r in self._query(sql + " ORDER BY id", args)]

    def add_flight(
        self,
        sysid: int,
        takeoff_at: float,
        sortie_id: int | None = None,
        detail: dict[str, Any] | None = None,
    ) -> int:
        with self._tx() as db:
            cur = db.execute(
                "INSERT INTO flights(sysid, sortie_id, takeoff_at, detail) VALUES (?, ?, ?, ?)",
                (sysid, sortie_id, takeoff_at, _json(detail or {})),
            )
            return int(cur.lastrowid or 0)

    def end_flight(
        self, flight_id: int, landed_at: float, detail: dict[str, Any] | None = None
    ) -> Flight:
        old = self.flight(flight_id)
        self._update(
            "flights",
            flight_id,
            {"landed_at": landed_at, "detail": _json({**old.detail, **(detail or {})})},
        )
        return self.flight(flight_id)

    def flight(self, flight_id: int) -> Flight:
        rows = self._query("SELECT * FROM flights WHERE id = ?", (flight_id,))
        if not rows:
            raise StoreError(f"{self.path}: no flight with id {flight_id}")
        return _flight(rows[0])

    def flights(self, sysid: int | None = None) -> list[Flight]:
        if sysid is None:
            return [_flight(r) for r in self._query("SELECT * FROM flights ORDER BY id")]
        rows = self._query("SELECT * FROM flights WHERE sysid = ? ORDER BY id", (sysid,))
        return [_flight(r) for r in rows]

    # ------------------------------------------------------------------ events, commands
    def record_event(
        self,
        kind: str,
        message: str = "",
        *,
        sysid: int | None = None,
        severity: str = "info",
        data: dict[str, Any] | None = None,
        sortie_id: int | None = None,
        ts: float | None = None,
    ) -> int:
        with self._tx() as db:
            cur = db.execute(
                "INSERT INTO vehicle_events(ts, sysid, sortie_id, kind, severity, message, data)"
                " VALUES (?, ?, ?, ?, ?, ?, ?)",
                (ts or time.time(), sysid, sortie_id, kind, severity, message, _json(data or {})),
            )
            return int(cur.lastrowid or 0)

    def events(
        self, sysid: int | None = None, kind: str | None = None, since: float | None = None
    ) -> list[VehicleEvent]:
        sql, args = "SELECT * FROM vehicle_events WHERE 1=1", []
        if sysid is not None:
            sql, args = sql + " AND sysid = ?", [*args, sysid]
        if kind is not None:
            sql, args = sql + " AND kind = ?", [*args, kind]
        if since is not None:
            sql, args = sql + " AND ts >= ?", [*args, since]
        return [
            VehicleEvent(
                r["id"],
                r["ts"],
                r["sysid"],
                r["sortie_id"],
                r["kind"],
                r["severity"],
                r["message"],
                _load(r["data"]),
            )
            for r in self._query(sql + " ORDER BY ts, id", args)
        ]

    def record_command(
        self,
        sysid: int,
        command: str,
        params: dict[str, Any] | None = None,
        *,
        result: str | None = None,
        ts: float | None = None,
        detail: dict[str, Any] | None = None,
    ) -> int:
        """Journal a command sent to a vehicle; fill in its result later with
        `record_command_result` (or pass `result` when it is already known)."""
        now = ts or time.time()
        with self._tx() as db:
            cur = db.execute(
                "INSERT INTO commands(ts, sysid, command, params, result, result_at, detail)"
                " VALUES (?, ?, ?, ?, ?, ?, ?)",
                (
                    now,
                    sysid,
                    command,
                    _json(params or {}),
                    result,
                    now if result is not None else None,
                    _json(detail or {}),
                ),
            )
            return int(cur.lastrowid or 0)

    def record_command_result(
        self, command_id: int, result: str, detail: dict[str, Any] | None = None
    ) -> Command:
        old = self.command(command_id)
        self._update(
            "commands",
            command_id,
            {
                "result": result,
                "result_at": time.time(),
                "detail": _json({**old.detail, **(detail or {})}),
            },
        )
        return self.command(command_id)

    def command(self, command_id: int) -> Command:
        rows = self._query("SELECT * FROM commands WHERE id = ?", (command_id,))
        if not rows:
            raise StoreError(f"{self.path}: no command with id {command_id}")
        return _command(rows[0])

    def commands(self, sysid: int | None = None) -> list[Command]:
        if sysid is None:
            return [_command(r) for r in self._query("SELECT * FROM commands ORDER BY id")]
        rows = self._query("SELECT * FROM commands WHERE sysid = ? ORDER BY id", (sysid,))
        return [_command(r) for r in rows]

    # ------------------------------------------------------------------ tracks
    def add_track_point(self, point: TrackPoint, *, force: bool = False) -> bool:
        """Store a telemetry point if the thinning rule keeps it; returns whether it was kept.

        Call it for every telemetry update; `force=True` keeps the point regardless (e.g. at
        take-off, landing or a hit)."""
        with self._lock:
            last = self._last_kept.get(point.sysid)
            if last is None:
                last = self._last_track_point(point.sysid)
            if not force and not keep_point(last, point, self.thinning):
                return False
            with self._tx() as db:
                db.execute(
                    "INSERT INTO track_points(sysid, sortie_id, ts, lat, lon, alt_amsl_m,"
                    " alt_rel_m, heading_deg, speed_ms, battery_pct)"
                    " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                    (
                        point.sysid,
                        point.sortie_id,
                        point.ts,
                        point.lat,
                        point.lon,
                        point.alt_amsl_m,
                        point.alt_rel_m,
                        point.heading_deg,
                        point.speed_ms,
                        point.battery_pct,
                    ),
                )
            self._last_kept[point.sysid] = point
            return True

    def _last_track_point(self, sysid: int) -> TrackPoint | None:
        rows = self._query(
            "SELECT * FROM track_points WHERE sysid = ? ORDER BY ts DESC, id DESC LIMIT 1",
            (sysid,),
        )
        return _track_point(rows[0]) if rows else None

    def track(
        self, sysid: int, since: float | None = None, sortie_id: int | None = None
    ) -> list[TrackPoint]:
        sql, args = "SELECT * FROM track_points WHERE sysid = ?", [sysid]
        if since is not None:
            sql, args = sql + " AND ts >= ?", [*args, since]
        if sortie_id is not None:
            sql, args = sql + " AND sortie_id = ?", [*args, sortie_id]
        return [_track_point(r) for r in self._query(sql + " ORDER BY ts, id", args)]

    # ------------------------------------------------------------------ hits
    def upsert_hit(self, hit: Hit, sinks: Sequence[str] = ()) -> UpsertResult:
        """Store a hit (new or updated) and, in the same transaction, queue it for `sinks`.

        An update that changes anything a receiver shows gets the next revision and a new
        message id; an identical re-submission changes nothing and queues nothing. Sightings
        and chips accumulate: an update never drops what an earlier revision had.
        """
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
                _json(list(hit.vehicle_ids)),
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
                self._enqueue_hit(db, sink, hit.id, revision, now)
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
                    None if s.size_m is None else _json(list(s.size_m)),
                    None if s.pixel_xy is None else _json(list(s.pixel_xy)),
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

    def _enqueue_hit(
        self, db: sqlite3.Connection, sink: str, hit_id: str, revision: int, now: float
    ) -> None:
        # An unsent older revision is of no use to a receiver once a newer one exists.
        db.execute(
            "UPDATE outbox SET state = 'superseded' WHERE sink = ? AND kind = 'hit'"
            " AND subject = ? AND state = 'pending' AND revision < ?",
            (sink, hit_id, revision),
        )
        db.execute(
            "INSERT OR IGNORE INTO outbox(sink, kind, subject, revision, message_id, state,"
            " created_at, next_attempt_at) VALUES (?, 'hit', ?, ?, ?, 'pending', ?, ?)",
            (sink, hit_id, revision, message_id(hit_id, revision), now, now),
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
                "size_m": _load(r["size_m"]),
                "pixel_xy": _load(r["pixel_xy"]),
            }
            for r in rows
        ]

    # ------------------------------------------------------------------ acknowledgements
    def add_ack(self, ack: Ack) -> bool:
        """Store a command centre's answer; False when this ack id was already stored."""
        if ack.status not in ACK_STATUSES:
            raise StoreError(
                f"unknown acknowledgement status '{ack.status}'; known: {', '.join(ACK_STATUSES)}"
            )
        with self._tx() as db:
            cur = db.execute(
                "INSERT OR IGNORE INTO acks(ack_id, hit_id, message_id, status, by, note, ts,"
                " received_at, source) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    ack.ack_id,
                    ack.hit_id,
                    ack.message_id,
                    ack.status,
                    ack.by,
                    ack.note,
                    ack.ts,
                    ack.received_at or time.time(),
                    ack.source,
                ),
            )
            return cur.rowcount == 1

    def acks(self, hit_id: str | None = None) -> list[Ack]:
        if hit_id is None:
            rows = self._query("SELECT * FROM acks ORDER BY ts, ack_id")
        else:
            rows = self._query("SELECT * FROM acks WHERE hit_id = ? ORDER BY ts, ack_id", (hit_id,))
        return [
            Ack(
                ack_id=r["ack_id"],
                hit_id=r["hit_id"],
                status=r["status"],
                ts=r["ts"],
                message_id=r["message_id"],
                by=r["by"],
                note=r["note"],
                received_at=r["received_at"],
                source=r["source"],
            )
            for r in rows
        ]

    # ------------------------------------------------------------------ outbox
    def enqueue(
        self,
        sink: str,
        kind: str,
        subject: str,
        message_id: str,
        payload: dict[str, Any] | None = None,
    ) -> bool:
        """Queue a non-hit message for a sink; False when that message id is already queued."""
        now = time.time()
        with self._tx() as db:
            cur = db.execute(
                "INSERT OR IGNORE INTO outbox(sink, kind, subject, message_id, payload, state,"
                " created_at, next_attempt_at) VALUES (?, ?, ?, ?, ?, 'pending', ?, ?)",
                (sink, kind, subject, message_id, _json(payload), now, now),
            )
            return cur.rowcount == 1

    def backfill(self, sink: str) -> int:
        """Queue every hit a sink has never been given (a sink added mid-operation); returns
        how many were queued."""
        now = time.time()
        with self._tx() as db:
            rows = db.execute(
                "SELECT id, revision FROM hits h WHERE NOT EXISTS (SELECT 1 FROM outbox o"
                " WHERE o.sink = ? AND o.kind = 'hit' AND o.subject = h.id"
                " AND o.revision = h.revision)",
                (sink,),
            ).fetchall()
            for r in rows:
                self._enqueue_hit(db, sink, r["id"], int(r["revision"]), now)
        return len(rows)

    def due(self, sink: str, limit: int = 100, now: float | None = None) -> list[OutboxMessage]:
        """Pending messages of a sink whose retry time has come, oldest first."""
        rows = self._query(
            "SELECT * FROM outbox WHERE sink = ? AND state = 'pending' AND next_attempt_at <= ?"
            " ORDER BY id LIMIT ?",
            (sink, time.time() if now is None else now, limit),
        )
        return [_outbox(r) for r in rows]

    def next_due_at(self, sink: str) -> float | None:
        rows = self._query(
            "SELECT MIN(next_attempt_at) AS t FROM outbox WHERE sink = ? AND state = 'pending'",
            (sink,),
        )
        return rows[0]["t"]

    def pending_count(self, sink: str | None = None) -> int:
        if sink is None:
            rows = self._query("SELECT COUNT(*) AS n FROM outbox WHERE state = 'pending'")
        else:
            rows = self._query(
                "SELECT COUNT(*) AS n FROM outbox WHERE sink = ? AND state = 'pending'", (sink,)
            )
        return int(rows[0]["n"])

    def outbox(self, sink: str | None = None) -> list[OutboxMessage]:
        if sink is None:
            return [_outbox(r) for r in self._query("SELECT * FROM outbox ORDER BY id")]
        return [
            _outbox(r)
            for r in self._query("SELECT * FROM outbox WHERE sink = ? ORDER BY id", (sink,))
        ]

    def mark_sent(self, outbox_ids: Sequence[int]) -> None:
        """The receiver acknowledged these messages (MQTT PUBACK, HTTP 2xx, TCP write)."""
        now = time.time()
        with self._tx() as db:
            db.executemany(
                "UPDATE outbox SET state = 'sent', sent_at = ?, attempts = attempts + 1,"
                " last_error = NULL WHERE id = ? AND state = 'pending'",
                [(now, i) for i in outbox_ids],
            )

    def mark_superseded(self, outbox_ids: Sequence[int]) -> None:
        with self._tx() as db:
            db.executemany(
                "UPDATE outbox SET state = 'superseded' WHERE id = ? AND state = 'pending'",
                [(i,) for i in outbox_ids],
            )

    def mark_failed(self, outbox_id: int, error: str, retry_at: float) -> None:
        with self._tx() as db:
            db.execute(
                "UPDATE outbox SET attempts = attempts + 1, last_error = ?, next_attempt_at = ?"
                " WHERE id = ? AND state = 'pending'",
                (error[:500], retry_at, outbox_id),
            )

    def reannounce_unacknowledged(self, sink: str, older_than_s: float) -> int:
        """Queue again the hits sent to `sink` more than `older_than_s` ago that no command
        centre has acknowledged yet (the message id is unchanged, so receivers that did get
        it drop the copy). Covers a broker that acknowledged and then lost a message."""
        return self.requeue_sent(sink, older_than_s, unacknowledged_only=True)

    def requeue_sent(self, sink: str, older_than_s: float, *, unacknowledged_only: bool) -> int:
        """Queue again the latest revision of hits last sent to `sink` more than
        `older_than_s` ago (e.g. a periodic CoT refresh, which also covers lost datagrams)."""
        now = time.time()
        ack_clause = (
            " AND NOT EXISTS (SELECT 1 FROM acks WHERE acks.hit_id = outbox.subject)"
            if unacknowledged_only
            else ""
        )
        with self._tx() as db:
            cur = db.execute(
                "UPDATE outbox SET state = 'pending', next_attempt_at = ?"
                " WHERE sink = ? AND kind = 'hit' AND state = 'sent' AND sent_at <= ?"
                " AND revision = (SELECT revision FROM hits WHERE hits.id = outbox.subject)"
                + ack_clause,
                (now, sink, now - older_than_s),
            )
            return cur.rowcount


_HIT_SELECT = (
    "SELECT h.*, (SELECT status FROM acks a WHERE a.hit_id = h.id"
    " ORDER BY a.ts DESC, a.received_at DESC LIMIT 1) AS status FROM hits h"
)


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
    return hashlib.sha256(_json(content).encode()).hexdigest()


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
        vehicle_ids=tuple(_load(r["vehicle_ids"])),
        temp_c=r["temp_c"],
        sighting_count=r["sighting_count"],
        created_at=r["created_at"],
        updated_at=r["updated_at"],
        chip_png=chip,
        status=r["status"],
    )


def _sortie(r: sqlite3.Row) -> Sortie:
    return Sortie(
        id=r["id"],
        plan_id=r["plan_id"],
        sysid=r["sysid"],
        segment=r["segment"],
        role=r["role"],
        status=r["status"],
        created_at=r["created_at"],
        started_at=r["started_at"],
        ended_at=r["ended_at"],
        progress=r["progress"],
        detail=_load(r["detail"]),
    )


def _flight(r: sqlite3.Row) -> Flight:
    return Flight(
        r["id"], r["sysid"], r["sortie_id"], r["takeoff_at"], r["landed_at"], _load(r["detail"])
    )


def _command(r: sqlite3.Row) -> Command:
    return Command(
        r["id"],
        r["ts"],
        r["sysid"],
        r["command"],
        _load(r["params"]),
        r["result"],
        r["result_at"],
        _load(r["detail"]),
    )


def _track_point(r: sqlite3.Row) -> TrackPoint:
    return TrackPoint(
        sysid=r["sysid"],
        ts=r["ts"],
        lat=r["lat"],
        lon=r["lon"],
        alt_amsl_m=r["alt_amsl_m"],
        alt_rel_m=r["alt_rel_m"],
        heading_deg=r["heading_deg"],
        speed_ms=r["speed_ms"],
        battery_pct=r["battery_pct"],
        sortie_id=r["sortie_id"],
    )


def _outbox(r: sqlite3.Row) -> OutboxMessage:
    return OutboxMessage(
        id=r["id"],
        sink=r["sink"],
        kind=r["kind"],
        subject=r["subject"],
        revision=r["revision"],
        message_id=r["message_id"],
        payload=_load(r["payload"]),
        state=r["state"],
        created_at=r["created_at"],
        attempts=r["attempts"],
        next_attempt_at=r["next_attempt_at"],
        last_error=r["last_error"],
        sent_at=r["sent_at"],
    )
