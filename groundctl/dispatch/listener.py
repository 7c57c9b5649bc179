"""The command centre's side of MQTT dispatch (`groundctl dispatch listen`).

Every message is checked by `inbound` before it becomes an event: a hit whose id, operation
or coordinates are not what they must be is logged and dropped, so nothing downstream (the
console, the chip folder) ever sees it. Acknowledgements this desk sends are signed with its
key when it has one (see `acksig`); ones it receives are verified with the keys it knows.
"""

from __future__ import annotations

import asyncio
import logging
import socket
import time
from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass, field
from typing import Any

import aiomqtt

from groundctl.dispatch.acksig import sign
from groundctl.dispatch.config import MqttConfig, RetryConfig
from groundctl.dispatch.ids import check_identifier
from groundctl.dispatch.inbound import json_object, parse_ack, parse_hit
from groundctl.dispatch.messages import Topics, ack_payload, dumps, new_ack
from groundctl.dispatch.mqtt_client import client_for, connect, disconnect
from groundctl.dispatch.outbox import SinkDown, jittered
from groundctl.errors import DispatchError
from groundctl.store import Ack

log = logging.getLogger("groundctl.dispatch")


class BrokerUnreachable(DispatchError):
    """No connection to the broker could be made for `give_up_s`: the command failed at its
    job (exit 1); nothing the user typed was wrong."""


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
    `give_up_s`: stop with a DispatchError when no connection could be made for that long
    (None: keep trying, for a console that must survive a broker restart).
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
        key: tuple[str, bytes] | None = None,
        trusted_keys: Mapping[str, bytes] | None = None,
        give_up_s: float | None = None,
    ) -> None:
        if operation != "+":
            check_identifier(operation, "operation")
        self.cfg = cfg
        self.topics = Topics(prefix, operation)
        self.client_id = client_id or cfg.client_id or f"groundctl-cc-{socket.gethostname()}"
        self.retry = retry
        self.persistent = persistent
        self.operator = operator or self.client_id
        self.auto_receipt = auto_receipt
        self.key = key  # (name, secret) this desk signs its acknowledgements with
        self.trusted_keys = dict(trusted_keys or {})
        if key is not None:
            self.trusted_keys.setdefault(key[0], key[1])
        self.give_up_s = give_up_s
        self._client: aiomqtt.Client | None = None
        self._connected = asyncio.Event()
        self.seen: set[str] = set()  # message ids
        self.latest_revision: dict[str, int] = {}
        self.hits: dict[str, dict[str, Any]] = {}
        self.status: dict[str, str] = {}  # hit id -> latest ack status
        self.duplicates = 0
        self.rejected = 0  # messages dropped as malformed or hostile
        self._acks_seen: set[str] = set()
        self._pending_acks: list[tuple[str, str, Ack]] = []  # (topic, operation, ack)
        self._ack_wake = asyncio.Event()

    async def events(
        self, *, include_duplicates: bool = False, subscribe: bool = True
    ) -> AsyncIterator[ListenerEvent]:
        """Connect (and reconnect) and yield what arrives; `subscribe=False` only keeps a
        connection for `ack` to send on."""
        failures = 0
        down_since: float | None = None
        while True:
            client = client_for(
                self.cfg, client_id=self.client_id, clean_session=not self.persistent
            )
            try:
                await connect(client, self.cfg)
            except SinkDown as exc:
                now = time.monotonic()
                down_since = now if down_since is None else down_since
                if self.give_up_s is not None and now - down_since >= self.give_up_s:
                    raise BrokerUnreachable(
                        f"could not reach the MQTT broker {self.cfg.url} for "
                        f"{now - down_since:.0f} s ({failures + 1} attempts; last: {exc})"
                    ) from None
                delay = jittered(self.retry.delay_s(failures))
                if self.give_up_s is not None:
                    delay = min(delay, max(0.05, down_since + self.give_up_s - now))
                failures += 1
                yield ListenerEvent("disconnected", "", "", {"error": str(exc), "retry_s": delay})
                await asyncio.sleep(delay)
                continue
            failures, down_since = 0, None
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
                    event = self._checked_event(message)
                    if event is None:
                        continue
                    if event.kind == "hit" and self.auto_receipt:
                        await self._receipt(event)
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

    async def _receipt(self, event: ListenerEvent) -> None:
        hit_id = str(event.payload["id"])
        # A live repeat of a hit we already receipted means the station has not got the
        # receipt (a broker crash can lose it): send it again, same id. A retained copy
        # after re-subscribing is no such sign.
        first = hit_id not in self.status
        again = event.duplicate and not event.retained
        if first or (again and self.status[hit_id] == "received"):
            await self.ack(
                hit_id,
                "received",
                message_id=event.payload.get("message_id"),
                ack_id=f"{self.client_id}:{hit_id}:received",
                operation=event.operation,
            )

    def _checked_event(self, message: aiomqtt.Message) -> ListenerEvent | None:
        topic = str(message.topic)
        try:
            return self._event(message)
        except DispatchError as exc:
            self.rejected += 1
            log.warning("listener: ignored a message on %r: %s", topic[:200], exc)
            return None

    def _event(self, message: aiomqtt.Message) -> ListenerEvent | None:
        topic = str(message.topic)
        kind, operation = self.topics.kind_of(topic)
        if kind == "unknown":
            return None
        check_identifier(operation, "operation (topic level)")
        raw = bytes(message.payload or b"")  # type: ignore[arg-type]
        if not raw:
            return None  # a retained message being cleared
        if kind == "ack":
            ack = parse_ack(
                raw,
                topic,
                operation=operation,
                keys=self.trusted_keys,
                topic_hit=topic.split("/")[-2],
            )
            duplicate = ack.ack_id in self._acks_seen
            self._acks_seen.add(ack.ack_id)
            if not duplicate:
                self.status[ack.hit_id] = ack.status
            doc = {**ack_payload(ack), "identity": ack.identity, "authorised": ack.authorised}
            return ListenerEvent("ack", operation, topic, doc, ack, duplicate)
        doc = json_object(raw, f"message on {topic[:200]}")
        if kind != "hit":
            return ListenerEvent(kind, operation, topic, doc)
        doc = {**doc, **parse_hit(doc, operation)}
        if topic.split("/")[-1] != doc["id"]:
            raise DispatchError(f"hit {doc['id']} came on another hit's topic")
        mid, hit_id, revision = doc["message_id"], doc["id"], doc["revision"]
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
        """Send an acknowledgement (retained, QoS 1), signed with this desk's key if it has
        one; queued until connected if need be."""
        check_identifier(hit_id, "hit id")
        doc = self.hits.get(hit_id, {})
        op = operation or doc.get("operation") or self.topics.operation
        if op == "+":
            raise DispatchError(
                f"hit {hit_id} has not been received yet; give --operation to acknowledge it"
            )
        check_identifier(op, "operation")
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
        if all(a.ack_id != ack.ack_id for _, _, a in self._pending_acks):
            topic = Topics(self.topics.prefix, op).ack(hit_id)
            self._pending_acks.append((topic, op, ack))
        self._ack_wake.set()
        return ack

    def wire(self, ack: Ack, operation: str) -> bytes:
        """The bytes an acknowledgement goes out as (signed when this desk has a key)."""
        doc = ack_payload(ack)
        if self.key is not None:
            doc = sign(doc, operation, *self.key)
        return dumps(doc)

    async def _send_acks(self, client: aiomqtt.Client) -> None:
        while True:
            while self._pending_acks:
                topic, op, ack = self._pending_acks[0]
                try:
                    await client.publish(topic, self.wire(ack, op), qos=1, retain=True, timeout=30)
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
