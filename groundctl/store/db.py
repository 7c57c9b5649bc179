"""`Store`: the SQLite database of one operation, assembled from one module per capability.

One connection per `Store`, WAL mode, `synchronous=FULL` so that a committed hit survives a
power cut, not only a crash. Every public method is one short transaction and is safe to call
from several threads (a lock serialises them); other processes may open the same file at
the same time (WAL readers never block the writer, writers wait up to `busy_timeout_s`).

    base.py        connection, lock, transactions, migrations (`StoreBase`, `StoreError`)
    operations.py  the operation, plans, sorties, flights
    journal.py     vehicle events, the command journal
    tracks.py      telemetry tracks (thinned)
    hits.py        hits, sightings, chips
    acks.py        acknowledgements, with identity and authorisation
    outbox.py      the per-sink outbox of dispatch
"""

from __future__ import annotations

import sqlite3
from pathlib import Path

from groundctl.store.acks import AcksMixin
from groundctl.store.base import StoreError
from groundctl.store.hits import HitsMixin
from groundctl.store.journal import JournalMixin
from groundctl.store.operations import OperationsMixin
from groundctl.store.outbox import OutboxMixin
from groundctl.store.thinning import Thinning
from groundctl.store.tracks import TracksMixin

__all__ = ["Store", "StoreError"]


class Store(OperationsMixin, JournalMixin, TracksMixin, HitsMixin, AcksMixin, OutboxMixin):
    """The database of one operation. Open with `Store.open(path)`; close with `close()`
    or use it as a context manager."""

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

    def __enter__(self) -> Store:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
