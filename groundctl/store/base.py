"""The connection every capability of `Store` shares: one SQLite connection, one lock, one
short transaction per public method, and the migrations run on open."""

from __future__ import annotations

import json
import sqlite3
import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from groundctl.errors import GroundctlError
from groundctl.store.models import TrackPoint
from groundctl.store.schema import MIGRATIONS, SCHEMA_VERSION
from groundctl.store.thinning import Thinning


class StoreError(GroundctlError):
    """The operation database cannot be opened, is from a newer groundctl, or a row is missing."""


# "Leave this field as it is" for update methods whose fields may legitimately be None.
UNSET: Any = object()


def to_json(value: Any) -> str:
    return json.dumps(value, separators=(",", ":"), sort_keys=True)


def from_json(text: str | None) -> Any:
    return None if text is None else json.loads(text)


class StoreBase:
    """Connection, lock, transactions and migrations; the capabilities build on it."""

    def __init__(
        self, conn: sqlite3.Connection, path: Path, thinning: Thinning = Thinning()
    ) -> None:
        self._conn = conn
        self.path = path
        self.thinning = thinning
        self._lock = threading.RLock()
        self._last_kept: dict[int, TrackPoint] = {}

    def close(self) -> None:
        with self._lock:
            self._conn.close()

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
