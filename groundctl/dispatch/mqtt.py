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
import json
import logging
import socket
import ssl
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

import aiomqtt

from groundctl.dispatch.config import MqttConfig, RetryConfig
from groundctl.dispatch.cot import tls_context
from groundctl.dispatch.messages import (
    Topics,
    ack_payload,
    dumps,
    hit_payload,
    new_ack,
    parse_ack,
    status_payload,
    vehicle_state_payload,
)
from groundctl.dispatch.outbox import OutboxSink, SinkDown, jittered
from groundctl.errors import DispatchError
from groundctl.store import Ack, OutboxMessage, Store, StoredHit

log = logging.getLogger("groundctl.dispatch")

_AUTH_CODES = {
    4,
    5,
    134,
    135,
}  # MQTT 3.1.1 and MQTT 5 "bad user name or password" / "not authorised"


def _rc_value(exc: aiomqtt.MqttCodeError) -> int:
    rc = exc.rc
    return int(getattr(rc, "value", rc) or 0)


def client_for(
    cfg: MqttConfig,
    *,
    client_id: str | None,
    clean_session: bool,
    will: aiomqtt.Will | None = None,
    timeout_s: float = 15.0,
) -> aiomqtt.Client:
    ctx: ssl.SSLContext | None = None
    if cfg.tls:
        ctx = tls_context(cfg.ca_file, cfg.cert_file, cfg.key_file, cfg.tls_insecure)
    client = aiomqtt.Client(
        cfg.host,
        cfg.port,
        username=cfg.username,
        password=cfg.resolved_password(),
        identifier=client_id,
        clean_session=clean_session,
        will=will,
        keepalive=cfg.keepalive_s,
        timeout=timeout_s,
        tls_context=ctx,
        tls_insecure=cfg.tls_insecure if ctx is not None else None,
        max_inflight_messages=50,
    )
    # A full outbox batch is in flight at once by design; aiomqtt would warn past 10.
    client.pending_calls_threshold = 1000
    return client


async def connect(client: aiomqtt.Client, cfg: MqttConfig) -> None:
    """Enter the client's context, turning refusals a user must fix into DispatchError and
    transient ones (broker down, network) into SinkDown."""
    try:
        await client.__aenter__()
    except aiomqtt.MqttCodeError as exc:
        if _rc_value(exc) in _AUTH_CODES:
            who = f"user '{cfg.username}'" if cfg.username else "an anonymous client"
            raise DispatchError(
                f"MQTT broker {cfg.url} refused the login of {who}: bad user name or password "
                f"or not authorised ({exc}); check dispatch.mqtt username / password"
            ) from None
        raise SinkDown(f"MQTT broker {cfg.url} refused the connection: {exc}") from None
    except aiomqtt.MqttError as exc:
        text = str(exc)
        if "CERTIFICATE_VERIFY_FAILED" in text or "certificate verify failed" in text:
            raise DispatchError(
                f"MQTT broker {cfg.url}: its TLS certificate is not trusted ({text}); check "
                "dispatch.mqtt ca_file (or tls_insecure for a host name mismatch)"
            ) from None
        raise SinkDown(f"MQTT broker {cfg.url} unreachable: {text}") from None


async def disconnect(client: aiomqtt.Client) -> None:
    with contextlib.suppress(Exception):
        await asyncio.wait_for(client.__aexit__(None, None, None), timeout=5)
    # aiomqtt keeps the reason of an unexpected disconnection in a future nobody reads
    # after the context is left; read it so asyncio does not log it as lost.
    fut = getattr(client, "_disconnected", None)
    if isinstance(fut, asyncio.Future) and fut.done() and not fut.cancelled():
        fut.exception()


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
    ) -> None:
        super().__init__(name, store, operation, retry)
        self.cfg = cfg
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
                try:
                    ack = parse_ack(bytes(message.payload or b""), topic)  # type: ignore[arg-type]
                except DispatchError as exc:
                    log.warning("%s: ignored: %s", self.name, exc)
                    continue
                if self.store.add_ack(ack):
                    log.info(
                        "%s: hit %s acknowledged: %s by %s",
                        self.name,
                        ack.hit_id,
                        ack.status,
                        ack.by,
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


# ---------------------------------------------------------------------- listener


@dataclass(frozen=True)
class ListenerEvent:
    kind: str  # "hit", "ack", "vehicle", "progress", "status", "connected", "disconnected"
    operation: str
    topic: str
    payload: dict[str, Any] = field(default_factory=dict)
    ack: Ack | None = None
    duplicate: bool = False  # a message id already seen (dropped unless asked for)
    update: bool = False  # a newer revision of a hit already shown
    retained: bool = False  # the broker's stored copy, sent on (re-)subscription


class MqttListener:
    """The command centre's side: every hit exactly once per revision, acks, vehicle states.

    Uses a persistent session (stable `client_id`), so hits published while the listener
    was away are delivered when it returns; reconnects with backoff after a broker restart.
    """

    def __init__(
        self,
        cfg: MqttConfig,
        *,
        operation: str = "+",
        prefix: str = "groundctl",
        client_id: str | None = None,
        retry: RetryConfig = RetryConfig(initial_s=0.5, max_s=10.0),
        persistent: bool = True,
        operator: str = "",
        auto_receipt: bool = True,
    ) -> None:
        self.cfg = cfg
        self.topics = Topics(prefix, operation)
        self.client_id = client_id or cfg.client_id or f"groundctl-cc-{socket.gethostname()}"
        self.retry = retry
        self.persistent = persistent
        self.operator = operator or self.client_id
        self.auto_receipt = auto_receipt
        self._client: aiomqtt.Client | None = None
        self._connected = asyncio.Event()
        self.seen: set[str] = set()  # message ids
        self.latest_revision: dict[str, int] = {}
        self.hits: dict[str, dict[str, Any]] = {}
        self.status: dict[str, str] = {}  # hit id -> latest ack status
        self.duplicates = 0
        self._acks_seen: set[str] = set()
        self._pending_acks: list[tuple[str, Ack]] = []
        self._ack_wake = asyncio.Event()

    async def events(
        self, *, include_duplicates: bool = False, subscribe: bool = True
    ) -> AsyncIterator[ListenerEvent]:
        """Connect (and reconnect) and yield what arrives; `subscribe=False` only keeps a
        connection for `ack` to send on."""
        failures = 0
        first = True
        while True:
            client = client_for(
                self.cfg, client_id=self.client_id, clean_session=not self.persistent
            )
            try:
                await connect(client, self.cfg)
            except SinkDown as exc:
                if first and failures == 0:
                    log.warning("listener: %s", exc)
                delay = jittered(self.retry.delay_s(failures))
                failures += 1
                yield ListenerEvent("disconnected", "", "", {"error": str(exc), "retry_s": delay})
                await asyncio.sleep(delay)
                continue
            first, failures = False, 0
            self._client = client
            # Acks go out from their own task: a publish waiting for a PUBACK from a broker
            # that just died must not hold up noticing the disconnection.
            sender = asyncio.create_task(self._send_acks(client))
            try:
                topics = (
                    self.topics.all_hits,
                    self.topics.all_acks,
                    self.topics.all_vehicles,
                    self.topics.progress,
                    self.topics.status,
                )
                for topic in topics if subscribe else ():
                    await client.subscribe(topic, qos=1)
                self._connected.set()
                yield ListenerEvent("connected", "", "", {"url": self.cfg.url})
                async for message in client.messages:
                    event = self._event(message)
                    if event is None:
                        continue
                    if event.kind == "hit" and self.auto_receipt:
                        hit_id = str(event.payload.get("id"))
                        # A live repeat of a hit we already receipted means the station has
                        # not got the receipt (a broker crash can lose it): send it again, same
                        # id. A retained copy after re-subscribing is no such sign.
                        first = hit_id not in self.status
                        again = event.duplicate and not event.retained
                        if first or (again and self.status[hit_id] == "received"):
                            await self.ack(
                                hit_id,
                                "received",
                                message_id=event.payload.get("message_id"),
                                ack_id=f"{self.client_id}:{hit_id}:received",
                            )
                    if event.duplicate and not include_duplicates:
                        continue
                    yield event
            except aiomqtt.MqttError as exc:
                self._connected.clear()
                self._client = None
                sender.cancel()
                yield ListenerEvent("disconnected", "", "", {"error": str(exc)})
                await disconnect(client)
                await asyncio.sleep(jittered(self.retry.initial_s))
            finally:
                sender.cancel()
                self._connected.clear()
                if self._client is client:
                    self._client = None
                    await disconnect(client)

    def _event(self, message: aiomqtt.Message) -> ListenerEvent | None:
        topic = str(message.topic)
        kind, operation = self.topics.kind_of(topic)
        raw = bytes(message.payload or b"")  # type: ignore[arg-type]
        if kind == "ack":
            try:
                ack = parse_ack(raw, topic)
            except DispatchError as exc:
                log.warning("listener: ignored: %s", exc)
                return None
            duplicate = ack.ack_id in self._acks_seen
            self._acks_seen.add(ack.ack_id)
            if not duplicate:
                self.status[ack.hit_id] = ack.status
            return ListenerEvent("ack", operation, topic, ack_payload(ack), ack, duplicate)
        try:
            doc = json.loads(raw) if raw else {}
        except ValueError:
            log.warning("listener: ignored non-JSON message on %s", topic)
            return None
        if not isinstance(doc, dict):
            return None
        if kind == "hit":
            mid = str(doc.get("message_id", ""))
            hit_id = str(doc.get("id", ""))
            revision = int(doc.get("revision", 0))
            if mid in self.seen or revision < self.latest_revision.get(hit_id, 0):
                self.duplicates += 1
                return ListenerEvent(
                    "hit", operation, topic, doc, duplicate=True, retained=bool(message.retain)
                )
            self.seen.add(mid)
            update = hit_id in self.latest_revision
            self.latest_revision[hit_id] = revision
            self.hits[hit_id] = doc
            return ListenerEvent(
                "hit", operation, topic, doc, update=update, retained=bool(message.retain)
            )
        return ListenerEvent(kind, operation, topic, doc)

    async def ack(
        self,
        hit_id: str,
        status: str,
        *,
        note: str = "",
        message_id: str | None = None,
        ack_id: str | None = None,
        operation: str | None = None,
    ) -> Ack:
        """Send an acknowledgement (retained, QoS 1); queued until connected if need be."""
        doc = self.hits.get(hit_id, {})
        op = operation or doc.get("operation") or self.topics.operation
        if op == "+":
            raise DispatchError(
                f"hit {hit_id} has not been received yet; give --operation to acknowledge it"
            )
        ack = new_ack(
            hit_id,
            status,
            by=self.operator,
            note=note,
            message_id=message_id or doc.get("message_id"),
            ack_id=ack_id,
            ts=time.time(),
        )
        self.status[hit_id] = status
        if all(a.ack_id != ack.ack_id for _, a in self._pending_acks):
            self._pending_acks.append((Topics(self.topics.prefix, op).ack(hit_id), ack))
        self._ack_wake.set()
        return ack

    async def _send_acks(self, client: aiomqtt.Client) -> None:
        while True:
            while self._pending_acks:
                topic, ack = self._pending_acks[0]
                try:
                    await client.publish(
                        topic, dumps(ack_payload(ack)), qos=1, retain=True, timeout=30
                    )
                except aiomqtt.MqttError:
                    return  # the message loop notices the disconnection and reconnects
                self._pending_acks.pop(0)
            self._ack_wake.clear()
            await self._ack_wake.wait()

    async def flush(self, timeout_s: float = 30.0) -> None:
        """Wait until every acknowledgement given to `ack` has been accepted by the broker."""
        async with asyncio.timeout(timeout_s):
            while self._pending_acks:
                await asyncio.sleep(0.05)

    @property
    def pending_acks(self) -> int:
        return len(self._pending_acks)
