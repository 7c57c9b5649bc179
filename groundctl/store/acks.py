"""Acknowledgements: every answer about a hit is kept with who provably sent it and whether
it is authorised; only authorised ones become a hit's status (see `models.Ack`)."""

from __future__ import annotations

import sqlite3
import time

from groundctl.store.base import StoreBase, StoreError
from groundctl.store.models import ACK_STATUSES, Ack


class AcksMixin(StoreBase):
    def add_ack(self, ack: Ack) -> bool:
        """Store an answer about a hit, with its identity and whether it is authorised;
        False when this ack id was already stored (a repeat changes nothing, so a replayed
        or forged copy of an authorised ack's id cannot overwrite it)."""
        if ack.status not in ACK_STATUSES:
            raise StoreError(
                f"unknown acknowledgement status '{ack.status}'; known: {', '.join(ACK_STATUSES)}"
            )
        with self._tx() as db:
            cur = db.execute(
                "INSERT OR IGNORE INTO acks(ack_id, hit_id, message_id, status, by, note, ts,"
                " received_at, source, identity, authorised)"
                " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
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
                    ack.identity,
                    int(bool(ack.authorised)),
                ),
            )
            return cur.rowcount == 1

    def acks(self, hit_id: str | None = None, *, authorised: bool | None = None) -> list[Ack]:
        """The acks of one hit (or all), oldest first; `authorised=True` / `False` keeps only
        those that are / are not."""
        sql, args = "SELECT * FROM acks WHERE 1=1", []
        if hit_id is not None:
            sql, args = sql + " AND hit_id = ?", [*args, hit_id]
        if authorised is not None:
            sql, args = sql + " AND authorised = ?", [*args, int(authorised)]
        return [ack_row(r) for r in self._query(sql + " ORDER BY ts, ack_id", args)]


def ack_row(r: sqlite3.Row, prefix: str = "") -> Ack:
    """An `Ack` from a row of `acks` (columns optionally prefixed, as in a join)."""
    return Ack(
        ack_id=r[prefix + "ack_id"],
        hit_id=r[prefix + "hit_id"],
        status=r[prefix + "status"],
        ts=r[prefix + "ts"],
        message_id=r[prefix + "message_id"],
        by=r[prefix + "by"],
        note=r[prefix + "note"],
        received_at=r[prefix + "received_at"],
        source=r[prefix + "source"],
        identity=r[prefix + "identity"],
        authorised=bool(r[prefix + "authorised"]),
    )
