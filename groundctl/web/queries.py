"""Read-only queries of the operation database for the map (its own SQLite connection).

The map needs what `groundctl.store` keeps in a shape a browser draws: the latest of each
table since a cursor (track points, acks, events by row id; hits by update time), the active
sorties with their swept lanes, the ground teams' latest positions, which drone holds
overwatch over which hit. `Store` writes; this module only reads, so a `groundctl fly`
writing the same file in another process is seen as soon as it commits.
"""

from __future__ import annotations

import json
import sqlite3
import threading
from pathlib import Path
from typing import Any

TEAM_EVENT = "team_position"
# Events worth a line in the page's log (the rest stay in the database).
LOG_KINDS = (
    "overwatch_start",
    "overwatch_end",
    "on_station",
    "handover",
    "vehicle_lost",
    "vehicle_recovered",
    "low_battery",
    "battery_swap",
    "preflight",
    "error",
    "link_lost",
    "link_restored",
    "web_flight",
)
ACTIVE_SORTIE = ("uploading", "flying", "returning", "overwatch")


def _load(text: str | None) -> Any:
    return {} if not text else json.loads(text)


class Reader:
    """Queries over one operation database; safe to call from several threads."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._conn = sqlite3.connect(
            f"file:{path}?mode=ro", uri=True, check_same_thread=False, timeout=10
        )
        self._conn.row_factory = sqlite3.Row
        self._lock = threading.Lock()

    def close(self) -> None:
        with self._lock:
            self._conn.close()

    def _rows(self, sql: str, args: tuple[Any, ...] = ()) -> list[sqlite3.Row]:
        with self._lock:
            return self._conn.execute(sql, args).fetchall()

    def data_version(self) -> int:
        """Changes whenever any connection (any process) commits to the file."""
        with self._lock:
            return int(self._conn.execute("PRAGMA data_version").fetchone()[0])

    # ------------------------------------------------------------------ operation, plans
    def operation(self) -> dict[str, Any] | None:
        rows = self._rows("SELECT name, created_at, detail FROM operations ORDER BY id")
        if not rows:
            return None
        r = rows[0]
        return {
            "name": r["name"],
            "created_at": r["created_at"],
            "lkp": _load(r["detail"]).get("lkp"),
        }

    def plans(self) -> list[dict[str, Any]]:
        rows = self._rows("SELECT id, name, created_at FROM plans ORDER BY id")
        return [dict(r) for r in rows]

    def plan_doc(self, plan_id: int) -> dict[str, Any] | None:
        rows = self._rows("SELECT plan FROM plans WHERE id = ?", (plan_id,))
        return json.loads(rows[0]["plan"]) if rows else None

    def flown_plan_id(self) -> int | None:
        """The plan of the latest sortie: the one being flown (or flown last)."""
        rows = self._rows(
            "SELECT plan_id FROM sorties WHERE plan_id IS NOT NULL ORDER BY id DESC LIMIT 1"
        )
        return int(rows[0]["plan_id"]) if rows else None

    # ------------------------------------------------------------------ sorties
    def sorties(self) -> list[dict[str, Any]]:
        """Every sortie, without the flown waypoints (see `sortie_lanes`)."""
        rows = self._rows(
            "SELECT id, plan_id, sysid, segment, role, status, progress, started_at, ended_at,"
            " json_extract(detail, '$.vehicle') AS vehicle, json_extract(detail, '$.hit') AS hit,"
            " json_extract(detail, '$.swept') AS swept, json_extract(detail, '$.lanes') AS lanes"
            " FROM sorties ORDER BY id"
        )
        out = []
        for r in rows:
            d = dict(r)
            d["swept"] = json.loads(d["swept"]) if d["swept"] else []
            d["lanes"] = json.loads(d["lanes"]) if d["lanes"] else []
            out.append(d)
        return out

    def sortie_waypoints(self, plan_id: int) -> list[list[dict[str, Any]]]:
        """The waypoints each search sortie of a plan flew (rebuilt sorties included)."""
        rows = self._rows(
            "SELECT json_extract(detail, '$.sortie.waypoints') AS wps FROM sorties"
            " WHERE plan_id = ? AND role = 'search'",
            (plan_id,),
        )
        return [json.loads(r["wps"]) for r in rows if r["wps"]]

    def overwatch(self) -> dict[str, dict[str, Any]]:
        """hit id -> the drone over it (or on its way), from the active overwatch sorties."""
        rows = self._rows(
            "SELECT sysid, status, json_extract(detail, '$.vehicle') AS vehicle,"
            " json_extract(detail, '$.hit') AS hit FROM sorties WHERE role = 'overwatch'"
            " AND status IN ('uploading', 'flying', 'overwatch') ORDER BY id"
        )
        return {r["hit"]: {"vehicle": r["vehicle"], "sysid": r["sysid"]} for r in rows if r["hit"]}

    # ------------------------------------------------------------------ tracks
    def last_track_id(self) -> int:
        return int(self._rows("SELECT COALESCE(MAX(id), 0) AS m FROM track_points")[0]["m"])

    def track_since(self, last_id: int, limit: int = 5000) -> list[dict[str, Any]]:
        rows = self._rows(
            "SELECT id, sysid, sortie_id, ts, lat, lon, alt_rel_m, heading_deg, speed_ms,"
            " battery_pct FROM track_points WHERE id > ? ORDER BY id LIMIT ?",
            (last_id, limit),
        )
        return [dict(r) for r in rows]

    def recent_tracks(self, per_vehicle: int = 300) -> list[dict[str, Any]]:
        """The latest `per_vehicle` points of every vehicle, oldest first."""
        rows = self._rows(
            "SELECT * FROM (SELECT id, sysid, sortie_id, ts, lat, lon, alt_rel_m, heading_deg,"
            " speed_ms, battery_pct, ROW_NUMBER() OVER (PARTITION BY sysid ORDER BY id DESC)"
            " AS k FROM track_points) WHERE k <= ? ORDER BY id",
            (per_vehicle,),
        )
        return [{k: r[k] for k in r.keys() if k != "k"} for r in rows]  # noqa: SIM118 (a Row iterates values)

    # ------------------------------------------------------------------ hits, acks
    def hits(self, since: float | None = None, ids: list[str] | None = None) -> list[dict]:
        sql = (
            "SELECT h.id, h.revision, h.target_class, h.confidence, h.lat, h.lon,"
            " h.uncertainty_m, h.first_seen, h.last_seen, h.vehicle_ids, h.temp_c,"
            " h.sighting_count, h.updated_at,"
            " (SELECT status FROM acks a WHERE a.hit_id = h.id"
            "  ORDER BY a.ts DESC, a.received_at DESC LIMIT 1) AS status,"
            " (SELECT by FROM acks a WHERE a.hit_id = h.id"
            "  ORDER BY a.ts DESC, a.received_at DESC LIMIT 1) AS status_by,"
            " EXISTS(SELECT 1 FROM chips c WHERE c.hit_id = h.id) AS has_chip FROM hits h"
        )
        args: tuple[Any, ...] = ()
        if ids is not None:
            sql += f" WHERE h.id IN ({','.join('?' * len(ids))})"
            args = tuple(ids)
        elif since is not None:
            sql += " WHERE h.updated_at >= ?"
            args = (since,)
        rows = self._rows(sql + " ORDER BY h.created_at, h.id", args)
        out = []
        for r in rows:
            d = dict(r)
            d["vehicle_ids"] = json.loads(d["vehicle_ids"])
            d["has_chip"] = bool(d["has_chip"])
            out.append(d)
        return out

    def last_ack_rowid(self) -> int:
        return int(self._rows("SELECT COALESCE(MAX(rowid), 0) AS m FROM acks")[0]["m"])

    def acks_since(self, rowid: int) -> list[dict[str, Any]]:
        rows = self._rows(
            "SELECT rowid AS rowid, ack_id, hit_id, status, by, note, ts, source FROM acks"
            " WHERE rowid > ? ORDER BY rowid",
            (rowid,),
        )
        return [dict(r) for r in rows]

    # ------------------------------------------------------------------ events, teams
    def last_event_id(self) -> int:
        return int(self._rows("SELECT COALESCE(MAX(id), 0) AS m FROM vehicle_events")[0]["m"])

    def events_since(self, last_id: int, limit: int = 500) -> list[dict[str, Any]]:
        kinds = (*LOG_KINDS, TEAM_EVENT)
        rows = self._rows(
            "SELECT id, ts, sysid, kind, severity, message, data FROM vehicle_events"
            f" WHERE id > ? AND kind IN ({','.join('?' * len(kinds))}) ORDER BY id LIMIT ?",
            (last_id, *kinds, limit),
        )
        return [{**dict(r), "data": _load(r["data"])} for r in rows]

    def recent_events(self, n: int = 50) -> list[dict[str, Any]]:
        rows = self._rows(
            "SELECT id, ts, sysid, kind, severity, message, data FROM vehicle_events"
            f" WHERE kind IN ({','.join('?' * len(LOG_KINDS))}) ORDER BY id DESC LIMIT ?",
            (*LOG_KINDS, n),
        )
        return [{**dict(r), "data": _load(r["data"])} for r in reversed(rows)]

    def teams(self) -> list[dict[str, Any]]:
        """The latest position of every ground team."""
        rows = self._rows(
            "SELECT e.id, e.ts, e.message AS team, e.data FROM vehicle_events e"
            " JOIN (SELECT message, MAX(id) AS id FROM vehicle_events WHERE kind = ?"
            " GROUP BY message) last ON last.id = e.id ORDER BY e.message",
            (TEAM_EVENT,),
        )
        return [{"team": r["team"], "ts": r["ts"], **_load(r["data"])} for r in rows]
