"""Telemetry tracks, thinned on the way in (see `store.thinning`)."""

from __future__ import annotations

import sqlite3

from groundctl.store.base import StoreBase
from groundctl.store.models import TrackPoint
from groundctl.store.thinning import keep_point


class TracksMixin(StoreBase):
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
