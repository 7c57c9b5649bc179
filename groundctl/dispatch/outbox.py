"""The outbox pump every sink shares: send what is due, record what the receiver acknowledged,
back off on failure, and pick up where the last process stopped (the queue is in SQLite).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
import time
from collections.abc import Sequence

from groundctl.dispatch.config import RetryConfig
from groundctl.errors import DispatchError
from groundctl.store import OutboxMessage, Store, StoredHit

log = logging.getLogger("groundctl.dispatch")


class SinkDown(Exception):
    """The connection to the receiver is gone; the whole sink reconnects after a backoff."""


RETRYABLE = (SinkDown, OSError, TimeoutError)


def leaves(group: BaseExceptionGroup) -> list[BaseException]:
    out: list[BaseException] = []
    for e in group.exceptions:
        out.extend(leaves(e) if isinstance(e, BaseExceptionGroup) else [e])
    return out


def jittered(delay_s: float) -> float:
    # Spread retries of many stations after a broker outage so they do not reconnect at once.
    return delay_s * random.uniform(0.8, 1.2)


class OutboxSink:
    """Base of a sink that sends outbox rows. Subclasses implement connect / send / disconnect;
    `send` raises SinkDown for a lost connection and any other exception for a message the
    receiver refused (that message alone is retried later, with its own backoff)."""

    batch_size = 50
    poll_s = 1.0  # how often to look for rows another process queued

    def __init__(self, name: str, store: Store, operation: str, retry: RetryConfig) -> None:
        self.name = name
        self.store = store
        self.operation = operation
        self.retry = retry
        self.wake = asyncio.Event()
        self.connected = asyncio.Event()
        self.sent_count = 0
        self.last_error: str | None = None

    async def connect(self) -> None:
        raise NotImplementedError

    async def disconnect(self) -> None:
        raise NotImplementedError

    async def send(self, msg: OutboxMessage, hit: StoredHit | None) -> None:
        raise NotImplementedError

    async def send_batch(
        self, items: Sequence[tuple[OutboxMessage, StoredHit | None]]
    ) -> list[BaseException | None]:
        results = await asyncio.gather(*(self.send(m, h) for m, h in items), return_exceptions=True)
        return [r if isinstance(r, BaseException) else None for r in results]

    async def idle(self) -> None:
        """Called when nothing is due; a sink may queue re-sends here."""

    async def run(self) -> None:
        """Connect, pump, and on a lost connection reconnect with a capped exponential backoff.
        Returns only when cancelled; a DispatchError (bad password, bad config) propagates."""
        failures = 0
        while True:
            sent_before, started = self.sent_count, time.monotonic()
            try:
                await self.connect()
                self.connected.set()
                if failures:
                    log.info("%s: connected again after %d failed attempts", self.name, failures)
                await self.session()
            except DispatchError:
                raise
            except RETRYABLE as exc:
                self.last_error = str(exc) or type(exc).__name__
            except ExceptionGroup as group:
                # from a session's TaskGroup: a fatal error wins, anything unexpected too
                fatal = group.subgroup(DispatchError)
                if fatal is not None:
                    raise leaves(fatal)[0] from None
                if any(not isinstance(e, RETRYABLE) for e in leaves(group)):
                    raise
                self.last_error = "; ".join(
                    sorted({str(e) or type(e).__name__ for e in leaves(group)})
                )
            self.connected.clear()
            with contextlib.suppress(Exception):
                await self.disconnect()
            # A connection that worked for a while, or delivered something, starts the
            # backoff over; one that fails at once (a file sink whose write fails, a broker
            # that drops us at once) keeps backing off.
            if self.sent_count > sent_before or time.monotonic() - started > self.retry.max_s:
                failures = 0
            delay = jittered(self.retry.delay_s(failures))
            failures += 1
            log.warning("%s: %s; retrying in %.1f s", self.name, self.last_error, delay)
            await asyncio.sleep(delay)

    async def session(self) -> None:
        """One connected session: by default just the pump; MQTT adds its subscriptions."""
        await self.pump()

    async def pump(self) -> None:
        while True:
            batch = self.store.due(self.name, limit=self.batch_size)
            if not batch:
                await self.idle()
                batch = self.store.due(self.name, limit=self.batch_size)
            if not batch:
                await self._wait()
                continue
            items: list[tuple[OutboxMessage, StoredHit | None]] = []
            stale: list[int] = []
            for msg in batch:
                hit = None
                if msg.kind == "hit":
                    hit = self.store.hit(msg.subject)
                    if hit is None or hit.revision != msg.revision:
                        stale.append(msg.id)
                        continue
                items.append((msg, hit))
            if stale:
                self.store.mark_superseded(stale)
            results = await self.send_batch(items)
            sent = [m.id for (m, _), err in zip(items, results, strict=True) if err is None]
            if sent:
                self.store.mark_sent(sent)
                self.sent_count += len(sent)
            down: BaseException | None = None
            for (msg, _), err in zip(items, results, strict=True):
                if err is None:
                    continue
                if isinstance(err, DispatchError):
                    raise err
                if isinstance(err, SinkDown | OSError | TimeoutError):
                    down = err
                    continue
                delay = jittered(self.retry.delay_s(msg.attempts))
                self.store.mark_failed(msg.id, str(err), time.time() + delay)
                log.warning("%s: %s refused: %s", self.name, msg.message_id, err)
            if down is not None:
                raise SinkDown(str(down) or type(down).__name__)

    async def _wait(self) -> None:
        next_at = self.store.next_due_at(self.name)
        timeout = self.poll_s
        if next_at is not None:
            timeout = max(0.01, min(timeout, next_at - time.time()))
        self.wake.clear()
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self.wake.wait(), timeout)
