"""MQTT: the ground station's sink and the command centre's listener (aiomqtt 2.x).

Topic tree under `<prefix>/<operation>/` (see `messages.Topics`):

    hits/<hit_id>        QoS 1, retained, JSON hit (a late-joining centre gets every hit)
    hits/<hit_id>/ack    QoS 1, retained, JSON acknowledgement from a command centre
    vehicles/<sysid>/state  QoS 0, rate-limited, latest position and battery
    progress             QoS 1, retained, search progress
    status               QoS 1, retained, online / offline (the last will says offline)

A hit counts as delivered when the broker's PUBACK arrives (aiomqtt's publish returns). The
broker may still lose it (a crash before it saved it): hits that no command centre has
acknowledged after `reannounce_s` are published again with the same message id.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import socket
import time
from collections.abc import Mapping
from typing import Any

import aiomqtt

from groundctl.dispatch.config import MqttConfig, RetryConfig
from groundctl.dispatch.inbound import parse_ack
from groundctl.dispatch.listener import ListenerEvent, MqttListener
from groundctl.dispatch.messages import (
    Topics,
    dumps,
    hit_payload,
    status_payload,
    vehicle_state_payload,
)
from groundctl.dispatch.mqtt_client import client_for, connect, disconnect
from groundctl.dispatch.outbox import OutboxSink, SinkDown
from groundctl.errors import DispatchError
from groundctl.store import OutboxMessage, Store, StoredHit

__all__ = ["ListenerEvent", "MqttListener", "MqttSink", "client_for", "connect", "disconnect"]

log = logging.getLogger("groundctl.dispatch")


class MqttSink(OutboxSink):
    """Publishes hits from the outbox; vehicle state, progress and status directly."""

    batch_size = 100

    def __init__(
        self,
        cfg: MqttConfig,
        store: Store,
        operation: str,
        *,
        prefix: str = "groundctl",
        station: str | None = None,
        retry: RetryConfig = RetryConfig(),
        name: str = "mqtt",
        ack_keys: Mapping[str, bytes] | None = None,
    ) -> None:
        super().__init__(name, store, operation, retry)
        self.cfg = cfg
        # Keys of the desks whose acknowledgements may steer the fleet (see acksig).
        self.ack_keys = dict(ack_keys or {})
        self.topics = Topics(prefix, operation)
        self.station = station or socket.gethostname()
        self.client_id = cfg.client_id or f"groundctl-{operation}-{self.station}"[:64]
        self._client: aiomqtt.Client | None = None
        self._states: dict[int, dict[str, Any]] = {}
        self._state_sent_at: dict[int, float] = {}
        self._state_wake = asyncio.Event()
        self._progress: dict[str, Any] | None = None
        self._progress_dirty = asyncio.Event()
        self.on_ack: list[Any] = []  # callables(Ack) run for each new acknowledgement
        self._last_reannounce = time.monotonic()

    # -------------------------------------------------------------- producer side (sync)
    def vehicle_state(self, sysid: int, state: dict[str, Any]) -> None:
        """Latest state of a vehicle; published at most every `state_interval_s` (QoS 0)."""
        self._states[sysid] = vehicle_state_payload(sysid, state, time.time())
        self._state_wake.set()

    def progress(self, progress: dict[str, Any]) -> None:
        self._progress = {**progress, "ts": time.time()}
        self._progress_dirty.set()

    # -------------------------------------------------------------- connection
    async def connect(self) -> None:
        will = aiomqtt.Will(
            self.topics.status,
            dumps(status_payload(self.station, "offline", time.time())),
            qos=1,
            retain=True,
        )
        # A persistent session, so acknowledgements sent while we were away are queued for us.
        client = client_for(self.cfg, client_id=self.client_id, clean_session=False, will=will)
        await connect(client, self.cfg)
        self._client = client
        try:
            await client.publish(
                self.topics.status,
                dumps(status_payload(self.station, "online", time.time())),
                qos=1,
                retain=True,
            )
            await client.subscribe(self.topics.all_acks, qos=1)
        except aiomqtt.MqttError as exc:
            raise SinkDown(f"MQTT session set-up failed: {exc}") from None
        if self._progress is not None:
            self._progress_dirty.set()
        log.info("%s: connected to %s as %s", self.name, self.cfg.url, self.client_id)

    async def disconnect(self) -> None:
        client, self._client = self._client, None
        if client is not None:
            await disconnect(client)

    async def close(self) -> None:
        """Say offline (the will only fires on an unexpected loss) and disconnect."""
        client = self._client
        if client is not None:
            with contextlib.suppress(Exception):
                await client.publish(
                    self.topics.status,
                    dumps(status_payload(self.station, "offline", time.time())),
                    qos=1,
                    retain=True,
                    timeout=5,
                )
        await self.disconnect()

    async def session(self) -> None:
        async with asyncio.TaskGroup() as tg:
            tg.create_task(self.pump())
            tg.create_task(self._read_acks())
            tg.create_task(self._publish_states())
            tg.create_task(self._publish_progress())

    # -------------------------------------------------------------- sending
    async def send(self, msg: OutboxMessage, hit: StoredHit | None) -> None:
        client = self._client
        if client is None:
            raise SinkDown("not connected")
        if msg.kind == "hit":
            assert hit is not None
            doc = hit_payload(hit, self.operation, chip=self.cfg.chip, chip_url=self.cfg.chip_url)
            topic, retain = self.topics.hit(hit.id), True
        else:
            doc, topic, retain = msg.payload or {}, f"{self.topics.base}/{msg.subject}", False
        try:
            await client.publish(topic, dumps(doc), qos=1, retain=retain, timeout=20)
        except aiomqtt.MqttError as exc:
            raise SinkDown(f"publish failed: {exc}") from None

    async def idle(self) -> None:
        if self.cfg.reannounce_s <= 0:
            return
        if time.monotonic() - self._last_reannounce < min(self.cfg.reannounce_s, 30.0):
            return
        self._last_reannounce = time.monotonic()
        n = self.store.reannounce_unacknowledged(self.name, self.cfg.reannounce_s)
        if n:
            log.info("%s: re-announcing %d unacknowledged hits", self.name, n)

    async def _read_acks(self) -> None:
        client = self._client
        assert client is not None
        try:
            async for message in client.messages:
                topic = str(message.topic)
                kind, operation = self.topics.kind_of(topic)
                if kind != "ack" or operation != self.topics.base.rsplit("/", 1)[-1]:
                    continue
                try:
                    ack = parse_ack(
                        bytes(message.payload or b""),  # type: ignore[arg-type]
                        topic,
                        operation=self.operation,
                        keys=self.ack_keys,
                        topic_hit=topic.split("/")[-2],
                    )
                except DispatchError as exc:
                    log.warning("%s: ignored: %s", self.name, exc)
                    continue
                if self.store.hit(ack.hit_id, with_chip=False) is None:
                    log.warning("%s: ignored an ack for unknown hit %s", self.name, ack.hit_id)
                    continue
                if self.store.add_ack(ack):
                    log.info(
                        "%s: hit %s acknowledged: %s by %s (%s)",
                        self.name,
                        ack.hit_id,
                        ack.status,
                        ack.by,
                        ack.identity if ack.authorised else "unauthorised, not acted upon",
                    )
                    for callback in self.on_ack:
                        callback(ack)
        except aiomqtt.MqttError as exc:
            raise SinkDown(f"connection lost: {exc}") from None

    async def _publish_states(self) -> None:
        while True:
            await self._state_wake.wait()
            self._state_wake.clear()
            now = time.monotonic()
            waits = []
            for sysid, doc in list(self._states.items()):
                due = self._state_sent_at.get(sysid, 0.0) + self.cfg.state_interval_s
                if now < due:
                    waits.append(due - now)
                    continue
                del self._states[sysid]
                self._state_sent_at[sysid] = now
                client = self._client
                if client is None:
                    return
                try:
                    await client.publish(self.topics.vehicle_state(sysid), dumps(doc), qos=0)
                except aiomqtt.MqttError as exc:
                    raise SinkDown(f"publish failed: {exc}") from None
            if waits:
                # Wake again when the earliest held-back state may go out.
                asyncio.get_running_loop().call_later(min(waits), self._state_wake.set)

    async def _publish_progress(self) -> None:
        while True:
            await self._progress_dirty.wait()
            self._progress_dirty.clear()
            client = self._client
            if client is None or self._progress is None:
                continue
            try:
                await client.publish(
                    self.topics.progress, dumps(self._progress), qos=1, retain=True, timeout=20
                )
            except aiomqtt.MqttError as exc:
                self._progress_dirty.set()
                raise SinkDown(f"publish failed: {exc}") from None
