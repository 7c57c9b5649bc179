"""What one `groundctl serve` holds: the operation's database, the browsers, the flight."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import re
from pathlib import Path
from typing import Any

from groundctl.store import Store
from groundctl.web import maps
from groundctl.web.acks import Acker
from groundctl.web.flying import Flight, FlightSpec
from groundctl.web.hub import Hub
from groundctl.web.queries import Reader
from groundctl.web.settings import ServeOptions
from groundctl.web.state import Watcher
from groundctl.web.thermal_view import FrameStore
from missions.terrain import Dem

log = logging.getLogger(__name__)


class Ops:
    def __init__(self, opts: ServeOptions) -> None:
        self.opts = opts
        self.store = Store.open(opts.db)  # creates the file (and schema) if it is new
        self.reader = Reader(opts.db)
        self.hub = Hub()
        self.frames = FrameStore()
        self.live_states: dict[str, dict[str, Any]] = {}
        self.flight: Flight | None = None
        self.watcher = Watcher(self.reader, self.hub, self.live_extras)
        self.acker = Acker(self.store, opts.dispatch, authenticated=opts.token is not None)
        self.background = maps.background(opts.tiles, opts.tiles_attribution)
        self.dem = Dem.read(opts.dem) if opts.dem else None
        self._hillshade: tuple[bytes, list[list[float]]] | None = None
        self.tasks: list[asyncio.Task[Any]] = []
        self._cot: asyncio.DatagramTransport | None = None

    # ------------------------------------------------------------------ operation
    def operation_name(self) -> str:
        op = self.store.operation()
        if op is not None:
            return op.name
        name = self.opts.operation or re.sub(r"[^A-Za-z0-9_.-]", "-", self.opts.db.stem)
        return name or "operation"

    def ensure_operation(self) -> str:
        """The operation's name, creating its row on first use (a `fly` started later with
        the same database must use the same name)."""
        name = self.operation_name()
        if self.store.operation() is None:
            self.store.ensure_operation(name)
        return name

    # ------------------------------------------------------------------ life
    async def start(self) -> None:
        loop = asyncio.get_running_loop()
        self.frames.bind(loop)
        self.tasks.append(asyncio.create_task(self.hub.run_flusher(), name="hub-flusher"))
        self.tasks.append(asyncio.create_task(self.watcher.run(), name="db-watcher"))
        d = self.opts.dispatch
        if d is not None and d.mqtt is not None:
            from groundctl.web.teams import listen_mqtt

            op = self.operation_name()
            await self.acker.start(op)
            self.tasks.append(
                asyncio.create_task(listen_mqtt(d.mqtt, d.prefix, op, self.store), name="teams")
            )
        if self.opts.cot_listen:
            from groundctl.web.teams import listen_cot

            self._cot = await listen_cot(self.opts.cot_listen, self.store)

    async def close(self) -> None:
        if self.flight is not None and self.flight.running:
            await self.flight.stop("rtl")
        await self.acker.close()
        if self._cot is not None:
            self._cot.close()
        for t in self.tasks:
            t.cancel()
        for t in self.tasks:
            with contextlib.suppress(BaseException):
                await t
        self.reader.close()
        self.store.close()

    # ------------------------------------------------------------------ live
    def live_extras(self) -> dict[str, Any]:
        return {
            "flight": self.flight.summary() if self.flight is not None else None,
            "vehicles": list(self.live_states.values()),
        }

    def on_state(self, state: dict[str, Any]) -> None:
        self.live_states[state["name"]] = state
        self.hub.vehicle(state)

    def spec(self) -> FlightSpec:
        o = self.opts
        return FlightSpec(
            sim_n=o.sim,
            scenario=o.scenario,
            speedup=o.speedup,
            sim_autopilot=o.sim_autopilot,
            fleet_file=o.fleet_file,
            dispatch=o.dispatch,
            found_after_s=o.found_after_s,
            user_file=o.user_file,
        )

    def start_flight(self, plan: Any, plan_id: int, on_exit: str) -> Flight:
        op = self.ensure_operation()
        if self.acker.operation != op and self.acker.mqtt and self.acker.listener is None:
            asyncio.get_running_loop().create_task(self.acker.start(op))
        self.live_states.clear()
        flight = Flight(
            plan, plan_id, self.spec(), self.opts.db, op, self.on_state, self.frames.put, on_exit
        )
        self.flight = flight
        flight.start()
        self.tasks.append(asyncio.create_task(self._announce(flight), name="flight-status"))
        return flight

    async def _announce(self, flight: Flight) -> None:
        """The flight's status to every browser whenever it changes."""
        last = None
        while True:
            s = flight.summary()
            key = (s["status"], s["message"], s["swept_pct"], bool(s["preflight"]))
            if key != last:
                last = key
                self.hub.broadcast({"type": "flight", "flight": s})
            if not flight.running and s["status"] not in ("starting", "flying"):
                return
            await asyncio.sleep(0.5)

    def vehicle_sysid(self, name: str) -> int | None:
        if self.flight is not None and name in self.flight.sysids:
            return self.flight.sysids[name]
        st = self.live_states.get(name)
        return int(st["sysid"]) if st else None

    # ------------------------------------------------------------------ map
    def hillshade(self) -> tuple[bytes, list[list[float]]] | None:
        if self.dem is None:
            return None
        if self._hillshade is None:
            self._hillshade = maps.hillshade_png(self.dem)
        return self._hillshade

    @property
    def static_dir(self) -> Path:
        return Path(__file__).parent / "static"
