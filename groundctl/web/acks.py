"""A coordinator's answer to a hit (confirm, dismiss, found...), as every other answer is made.

It is written to the operation database first (`Store.add_ack`), with an explicit identity:
``by = "web:<name>"`` and ``source = "web:token"`` when the server holds a token (every
request authenticated by it) or ``"web:loopback"`` on an open loopback server. Then, with an
MQTT broker in the dispatch configuration, it is published exactly as `groundctl dispatch
listen --ack` publishes one (`MqttListener.ack`: retained, QoS 1, queued until the broker
takes it): command centres see it, and the ground station flying the search (this server
or a `groundctl fly`) stores it, which ends an overwatch on "found" or "false_alarm".
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import socket
import time
import uuid
from typing import TYPE_CHECKING

from groundctl.dispatch.messages import new_ack
from groundctl.store import Ack, Store

if TYPE_CHECKING:
    from groundctl.dispatch import DispatchConfig, MqttListener

log = logging.getLogger(__name__)


class Acker:
    def __init__(self, store: Store, dispatch: DispatchConfig | None, authenticated: bool) -> None:
        self.store = store
        self.dispatch = dispatch
        self.source = "web:token" if authenticated else "web:loopback"
        self.listener: MqttListener | None = None
        self._task: asyncio.Task[None] | None = None
        self.operation = ""

    @property
    def mqtt(self) -> bool:
        return self.dispatch is not None and self.dispatch.mqtt is not None

    async def start(self, operation: str) -> None:
        self.operation = operation
        if not self.mqtt or not operation:
            return
        from groundctl.dispatch import MqttListener

        assert self.dispatch is not None and self.dispatch.mqtt is not None
        self.listener = MqttListener(
            self.dispatch.mqtt,
            operation=operation,
            prefix=self.dispatch.prefix,
            client_id=f"groundctl-web-{socket.gethostname()}-{os.getpid()}"[:64],
            operator="web",
            auto_receipt=False,
            persistent=False,
        )
        self._task = asyncio.create_task(self._connection(), name="web-acks-mqtt")

    async def _connection(self) -> None:
        assert self.listener is not None
        async for event in self.listener.events(subscribe=False):
            if event.kind == "disconnected":
                log.info("acknowledgements: MQTT %s; retrying", event.payload.get("error"))

    async def close(self) -> None:
        if self.listener is not None and self.listener.pending_acks:
            with contextlib.suppress(TimeoutError):
                await self.listener.flush(timeout_s=5)
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(BaseException):
                await self._task

    async def ack(
        self, hit_id: str, status: str, name: str, note: str, message_id: str, operation: str
    ) -> Ack:
        """Store, then publish. Returns the stored acknowledgement."""
        by = f"web:{name}"
        ack = new_ack(
            hit_id,
            status,
            by=by,
            note=note,
            message_id=message_id,
            ack_id=f"web-{uuid.uuid4().hex}",
            ts=time.time(),
        )
        ack = Ack(**{**ack.__dict__, "source": self.source, "received_at": time.time()})
        await asyncio.to_thread(self.store.add_ack, ack)
        if self.listener is not None:
            # MqttListener names the sender by its operator: this answer's author.
            self.listener.operator = by
            await self.listener.ack(
                hit_id,
                status,
                note=note,
                message_id=message_id,
                ack_id=ack.ack_id,
                operation=operation,
            )
        return ack

    @property
    def pending(self) -> int:
        return self.listener.pending_acks if self.listener is not None else 0
