"""Outbox sinks other than MQTT: Cursor-on-Target, a GeoJSON file, an HTTP webhook."""

from __future__ import annotations

import asyncio
import json
import os
import ssl
import time
import urllib.error
import urllib.request
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from groundctl.dispatch.config import CotConfig, RetryConfig, WebhookConfig
from groundctl.dispatch.cot import CotTransport, hit_event, vehicle_event
from groundctl.dispatch.messages import feature_collection, hit_feature
from groundctl.dispatch.outbox import OutboxSink, SinkDown
from groundctl.errors import DispatchError
from groundctl.store import OutboxMessage, Store, StoredHit


class CotSink(OutboxSink):
    """Hits (from the outbox) and drone positions (rate-limited, not queued) to TAK.

    UDP has no acknowledgement: a datagram handed to the kernel counts as sent. TCP/TLS count
    a message as sent once written and drained; a lost connection re-sends (TAK replaces
    the marker with the same uid, so a repeat is harmless)."""

    def __init__(
        self, cfg: CotConfig, store: Store, operation: str, retry: RetryConfig = RetryConfig()
    ) -> None:
        super().__init__(cfg.sink_name, store, operation, retry)
        self.cfg = cfg
        self.transport = CotTransport(cfg)
        self._vehicle_sent_at: dict[int, float] = {}
        self._last_refresh = time.monotonic()

    async def connect(self) -> None:
        await self.transport.connect()

    async def idle(self) -> None:
        if self.cfg.refresh_s <= 0:
            return
        now = time.monotonic()
        if now - self._last_refresh < min(self.cfg.refresh_s, 30.0):
            return
        self._last_refresh = now
        self.store.requeue_sent(self.name, self.cfg.refresh_s, unacknowledged_only=False)

    async def disconnect(self) -> None:
        await self.transport.close()

    async def close(self) -> None:
        await self.disconnect()

    async def send(self, msg: OutboxMessage, hit: StoredHit | None) -> None:
        if hit is None:
            return  # CoT carries hits and positions only; other kinds are not for TAK
        data = hit_event(hit, self.operation, time.time(), self.cfg.hit_stale_s)
        try:
            await self.transport.send(data)
        except (OSError, TimeoutError) as exc:
            await self.transport.close()
            raise SinkDown(f"CoT {self.cfg.url}: {exc}") from None

    async def send_batch(
        self, items: Sequence[tuple[OutboxMessage, StoredHit | None]]
    ) -> list[BaseException | None]:
        # One stream: send in order, stop at the first failure (the rest stay pending).
        results: list[BaseException | None] = []
        for i, (msg, hit) in enumerate(items):
            try:
                await self.send(msg, hit)
            except SinkDown as exc:
                return [*results, *([exc] * (len(items) - i))]
            results.append(None)
        return results

    async def vehicle_position(
        self,
        sysid: int,
        lat: float,
        lon: float,
        *,
        alt_hae_m: float | None = None,
        course_deg: float | None = None,
        speed_ms: float | None = None,
        remarks: str = "",
    ) -> bool:
        """Send a drone position if its rate limit allows; False when held back or offline."""
        now = time.monotonic()
        if now - self._vehicle_sent_at.get(sysid, -1e9) < self.cfg.vehicle_interval_s:
            return False
        if not self.connected.is_set():
            return False
        self._vehicle_sent_at[sysid] = now
        try:
            data = vehicle_event(
                self.operation,
                sysid,
                lat,
                lon,
                time.time(),
                self.cfg.vehicle_stale_s,
                alt_hae_m=alt_hae_m,
                course_deg=course_deg,
                speed_ms=speed_ms,
                remarks=remarks,
            )
        except DispatchError:
            return False  # no position to show yet (NaN before a GPS fix)
        try:
            await self.transport.send(data)
        except (OSError, TimeoutError):
            return False
        return True


class GeoJsonFileSink(OutboxSink):
    """Keeps a GeoJSON FeatureCollection of every hit up to date on disk (atomic replace),
    for QGIS, a shared drive, or anything that polls a file."""

    batch_size = 500

    def __init__(
        self, path: Path, store: Store, operation: str, retry: RetryConfig = RetryConfig()
    ) -> None:
        super().__init__(f"geojson:{path}", store, operation, retry)
        self.path = Path(path)
        if self.path.is_dir():
            raise DispatchError(
                f"{self.path} is a folder; give the GeoJSON file's name, "
                f"e.g. {self.path / 'hits.geojson'}"
            )

    async def connect(self) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)

    async def disconnect(self) -> None:
        return None

    async def close(self) -> None:
        return None

    async def send_batch(
        self, items: Sequence[tuple[OutboxMessage, StoredHit | None]]
    ) -> list[BaseException | None]:
        doc = feature_collection(self.store.hits(), self.operation)
        try:
            await asyncio.to_thread(_write_atomic, self.path, json.dumps(doc, indent=1))
        except OSError as exc:
            return [exc] * len(items)
        return [None] * len(items)


def _write_atomic(path: Path, text: str) -> None:
    tmp = path.with_name(path.name + ".tmp")
    with open(tmp, "w", encoding="utf-8") as fh:
        fh.write(text)
        fh.flush()
        os.fsync(fh.fileno())
    os.replace(tmp, path)


class WebhookError(Exception):
    """The webhook answered, but not with 2xx (the message is retried on its own)."""


class WebhookSink(OutboxSink):
    """POSTs each hit revision as a GeoJSON Feature; a 2xx answer is the acknowledgement.
    The `Idempotency-Key` header carries the message id so the receiver can drop repeats."""

    batch_size = 10

    def __init__(
        self, cfg: WebhookConfig, store: Store, operation: str, retry: RetryConfig = RetryConfig()
    ) -> None:
        super().__init__(cfg.sink_name, store, operation, retry)
        self.cfg = cfg
        self._ctx = ssl.create_default_context(cafile=str(cfg.ca_file) if cfg.ca_file else None)

    async def connect(self) -> None:
        return None

    async def disconnect(self) -> None:
        return None

    async def close(self) -> None:
        return None

    async def send(self, msg: OutboxMessage, hit: StoredHit | None) -> None:
        if hit is not None:
            doc: dict[str, Any] = hit_feature(hit, self.operation)
        else:
            doc = {"kind": msg.kind, "subject": msg.subject, **(msg.payload or {})}
        await asyncio.to_thread(self._post, json.dumps(doc).encode("utf-8"), msg.message_id)

    def _post(self, body: bytes, message_id: str) -> None:
        req = urllib.request.Request(
            self.cfg.url,
            data=body,
            method="POST",
            headers={
                "Content-Type": "application/geo+json",
                "Idempotency-Key": message_id,
                "User-Agent": "groundctl-dispatch",
                **self.cfg.headers,
            },
        )
        try:
            with urllib.request.urlopen(req, timeout=self.cfg.timeout_s, context=self._ctx) as r:
                r.read()
        except urllib.error.HTTPError as exc:
            raise WebhookError(f"HTTP {exc.code} {exc.reason}") from None
        except (urllib.error.URLError, OSError) as exc:
            reason = getattr(exc, "reason", exc)
            raise WebhookError(f"{self.cfg.url} unreachable: {reason}") from None
