"""Operations, plans, sorties and flights: what was planned, who flew which part, when."""

from __future__ import annotations

import sqlite3
import time
from typing import Any

from groundctl.store.base import UNSET, StoreBase, StoreError, from_json, to_json
from groundctl.store.models import Flight, Operation, Plan, Sortie


class OperationsMixin(StoreBase):
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
            area_geojson=from_json(r["area_geojson"]),
            detail=from_json(r["detail"]),
        )

    def update_operation(
        self,
        *,
        ended_at: float | None = UNSET,
        notes: str = UNSET,
        area_geojson: dict[str, Any] | None = UNSET,
        detail: dict[str, Any] = UNSET,
    ) -> Operation:
        op = self.operation()
        if op is None:
            raise StoreError(f"{self.path}: no operation yet; call ensure_operation(name) first")
        fields: dict[str, Any] = {}
        if ended_at is not UNSET:
            fields["ended_at"] = ended_at
        if notes is not UNSET:
            fields["notes"] = notes
        if area_geojson is not UNSET:
            fields["area_geojson"] = None if area_geojson is None else to_json(area_geojson)
        if detail is not UNSET:
            fields["detail"] = to_json({**op.detail, **detail})
        self._update("operations", op.id, fields)
        result = self.operation()
        assert result is not None
        return result

    def add_plan(self, name: str, plan: dict[str, Any], created_at: float | None = None) -> int:
        """Store a plan (any JSON-serialisable document, e.g. `missions` Plan exported)."""
        with self._tx() as db:
            cur = db.execute(
                "INSERT INTO plans(name, created_at, plan) VALUES (?, ?, ?)",
                (name, created_at or time.time(), to_json(plan)),
            )
            return int(cur.lastrowid or 0)

    def plan(self, plan_id: int) -> Plan:
        rows = self._query("SELECT * FROM plans WHERE id = ?", (plan_id,))
        if not rows:
            raise StoreError(f"{self.path}: no plan with id {plan_id}")
        r = rows[0]
        return Plan(r["id"], r["name"], r["created_at"], from_json(r["plan"]))

    def plans(self) -> list[Plan]:
        rows = self._query("SELECT * FROM plans ORDER BY id")
        return [Plan(r["id"], r["name"], r["created_at"], from_json(r["plan"])) for r in rows]

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
                    to_json(detail or {}),
                ),
            )
            return int(cur.lastrowid or 0)

    def update_sortie(
        self,
        sortie_id: int,
        *,
        status: str = UNSET,
        progress: float = UNSET,
        started_at: float | None = UNSET,
        ended_at: float | None = UNSET,
        detail: dict[str, Any] = UNSET,
    ) -> Sortie:
        """Change some fields of a sortie; `detail` is merged into the stored detail."""
        fields: dict[str, Any] = {}
        if status is not UNSET:
            fields["status"] = status
        if progress is not UNSET:
            if not 0.0 <= progress <= 1.0:
                raise StoreError(f"sortie progress must be within 0..1 (got {progress})")
            fields["progress"] = progress
        if started_at is not UNSET:
            fields["started_at"] = started_at
        if ended_at is not UNSET:
            fields["ended_at"] = ended_at
        if detail is not UNSET:
            fields["detail"] = to_json({**self.sortie(sortie_id).detail, **detail})
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
                (sysid, sortie_id, takeoff_at, to_json(detail or {})),
            )
            return int(cur.lastrowid or 0)

    def end_flight(
        self, flight_id: int, landed_at: float, detail: dict[str, Any] | None = None
    ) -> Flight:
        old = self.flight(flight_id)
        self._update(
            "flights",
            flight_id,
            {"landed_at": landed_at, "detail": to_json({**old.detail, **(detail or {})})},
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
        detail=from_json(r["detail"]),
    )


def _flight(r: sqlite3.Row) -> Flight:
    return Flight(
        r["id"], r["sysid"], r["sortie_id"], r["takeoff_at"], r["landed_at"], from_json(r["detail"])
    )
