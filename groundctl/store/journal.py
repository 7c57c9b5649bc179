"""Vehicle events and the command journal: what each drone said, and what it was asked."""

from __future__ import annotations

import sqlite3
import time
from typing import Any

from groundctl.store.base import StoreBase, StoreError, from_json, to_json
from groundctl.store.models import Command, VehicleEvent


class JournalMixin(StoreBase):
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
                (ts or time.time(), sysid, sortie_id, kind, severity, message, to_json(data or {})),
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
                from_json(r["data"]),
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
                    to_json(params or {}),
                    result,
                    now if result is not None else None,
                    to_json(detail or {}),
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
                "detail": to_json({**old.detail, **(detail or {})}),
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


def _command(r: sqlite3.Row) -> Command:
    return Command(
        r["id"],
        r["ts"],
        r["sysid"],
        r["command"],
        from_json(r["params"]),
        r["result"],
        r["result_at"],
        from_json(r["detail"]),
    )
