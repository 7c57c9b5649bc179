"""The outbox: one row per message per sink, sent, retried with backoff, superseded by a
newer revision, re-queued when nobody acknowledged it."""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Sequence
from typing import Any

from groundctl.store.base import StoreBase, from_json, to_json
from groundctl.store.models import OutboxMessage, message_id


def enqueue_hit(db: sqlite3.Connection, sink: str, hit_id: str, revision: int, now: float) -> None:
    """Queue revision `revision` of a hit for `sink` (inside the caller's transaction)."""
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


class OutboxMixin(StoreBase):
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
                (sink, kind, subject, message_id, to_json(payload), now, now),
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
                enqueue_hit(db, sink, r["id"], int(r["revision"]), now)
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


def _outbox(r: sqlite3.Row) -> OutboxMessage:
    return OutboxMessage(
        id=r["id"],
        sink=r["sink"],
        kind=r["kind"],
        subject=r["subject"],
        revision=r["revision"],
        message_id=r["message_id"],
        payload=from_json(r["payload"]),
        state=r["state"],
        created_at=r["created_at"],
        attempts=r["attempts"],
        next_attempt_at=r["next_attempt_at"],
        last_error=r["last_error"],
        sent_at=r["sent_at"],
    )
