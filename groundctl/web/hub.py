"""Every open browser's websocket, and what is sent to all of them.

Each client has a bounded queue drained by its own sender: a browser that cannot keep up is
disconnected (it reconnects and catches up from the database) instead of holding the others
back or growing memory. Vehicle states are coalesced per vehicle and flushed every
`flush_s`, one message for all drones.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from dataclasses import dataclass, field
from typing import Any

from starlette.websockets import WebSocket, WebSocketDisconnect

log = logging.getLogger(__name__)


def dumps(msg: dict[str, Any]) -> str:
    return json.dumps(msg, separators=(",", ":"), allow_nan=False, default=str)


@dataclass(eq=False)
class Client:
    ws: WebSocket
    queue: asyncio.Queue[str | None] = field(default_factory=lambda: asyncio.Queue(maxsize=2000))


class Hub:
    def __init__(self, flush_s: float = 0.05) -> None:
        self.clients: set[Client] = set()
        self.flush_s = flush_s
        self._vehicles: dict[str, dict[str, Any]] = {}
        self._wake = asyncio.Event()
        self.sent = 0

    def broadcast(self, msg: dict[str, Any]) -> None:
        if not self.clients:
            return
        text = dumps(msg)
        for c in list(self.clients):
            try:
                c.queue.put_nowait(text)
            except asyncio.QueueFull:
                log.warning("a browser fell behind; dropping it (it reconnects and catches up)")
                self.clients.discard(c)
                with contextlib.suppress(asyncio.QueueFull):
                    c.queue.put_nowait(None)

    def vehicle(self, state: dict[str, Any]) -> None:
        """A vehicle's latest live state; sent with the next flush."""
        self._vehicles[state["name"]] = state
        self._wake.set()

    async def run_flusher(self) -> None:
        while True:
            await self._wake.wait()
            self._wake.clear()
            if self._vehicles:
                items, self._vehicles = list(self._vehicles.values()), {}
                self.broadcast({"type": "vehicles", "items": items})
            await asyncio.sleep(self.flush_s)

    async def serve(self, ws: WebSocket, snapshot: Any) -> None:
        """Send `await snapshot()` then every broadcast, until the browser goes."""
        client = Client(ws)
        self.clients.add(client)  # before the snapshot: nothing between is missed
        try:
            await ws.send_text(dumps(await snapshot()))
            reader = asyncio.create_task(self._read(ws, client))
            try:
                while (text := await client.queue.get()) is not None:
                    await ws.send_text(text)
                    self.sent += 1
            finally:
                reader.cancel()
        except (WebSocketDisconnect, RuntimeError, OSError):
            pass
        finally:
            self.clients.discard(client)
            with contextlib.suppress(Exception):
                await ws.close()

    async def _read(self, ws: WebSocket, client: Client) -> None:
        """Browsers only listen; reading notices a closed socket."""
        try:
            while True:
                msg = await ws.receive()
                if msg["type"] == "websocket.disconnect":
                    break
        except Exception:
            pass
        with contextlib.suppress(asyncio.QueueFull):
            client.queue.put_nowait(None)
