"""`Dispatcher`: the one object the fleet and the thermal pipeline hand their results to."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import shlex
from collections.abc import Callable
from typing import Any

from groundctl.dispatch.acksig import load_keys
from groundctl.dispatch.config import DispatchConfig, check_output_file
from groundctl.dispatch.mqtt import MqttSink
from groundctl.dispatch.outbox import OutboxSink, leaves
from groundctl.dispatch.sinks import CotSink, GeoJsonFileSink, WebhookSink
from groundctl.errors import ConfigError, GroundctlError
from groundctl.store import Ack, Store, UpsertResult
from thermal.hit import Hit

log = logging.getLogger("groundctl.dispatch")


class Dispatcher:
    """Stores hits first, then has every configured sink deliver them.

        dispatcher = Dispatcher(store, config, operation="ridge")
        task = asyncio.create_task(dispatcher.run())    # sinks connect, retry, resume
        dispatcher.submit_hit(hit)                       # committed to SQLite, then sent
        await dispatcher.submit(hit)                     # the same, fsync off the loop
        dispatcher.vehicle_state(2, lat=..., lon=..., alt_amsl_m=..., battery_pct=...)
        dispatcher.progress({"covered_pct": 42.0, ...})
        dispatcher.undelivered()                         # {sink: messages not yet delivered}
        await dispatcher.close()

    With no sink configured it is just the store. A configuration that cannot work (a GeoJSON
    file that is a folder, an unreadable ack key) is refused here, before anything flies.
    """

    def __init__(self, store: Store, config: DispatchConfig, operation: str) -> None:
        self.store = store
        self.config = config
        self.operation = operation
        self.sinks: list[OutboxSink] = []
        self.mqtt: MqttSink | None = None
        if config.geojson_file is not None:
            # `model_copy(update=...)` (fly's --hits-geojson) skips the model's validators
            try:
                check_output_file(config.geojson_file)
            except ValueError as exc:
                raise ConfigError("dispatch", "geojson_file", str(exc)) from None
        ack_keys = load_keys(config.ack_keys)
        if config.mqtt is not None:
            self.mqtt = MqttSink(
                config.mqtt,
                store,
                operation,
                prefix=config.prefix,
                station=config.station,
                retry=config.retry,
                ack_keys=ack_keys,
            )
            self.sinks.append(self.mqtt)
        self.cot = [CotSink(c, store, operation, config.retry) for c in config.cot]
        self.sinks.extend(self.cot)
        if config.geojson_file is not None:
            self.sinks.append(GeoJsonFileSink(config.geojson_file, store, operation, config.retry))
        self.sinks.extend(WebhookSink(w, store, operation, config.retry) for w in config.webhooks)
        self.sink_names = [s.name for s in self.sinks]
        self._tasks: list[asyncio.Task[None]] = []

    def on_ack(self, callback: Callable[[Ack], Any]) -> None:
        if self.mqtt is not None:
            self.mqtt.on_ack.append(callback)

    def submit_hit(self, hit: Hit) -> UpsertResult:
        """Commit the hit (and its outbox rows) to the store, then wake the sinks."""
        result = self.store.upsert_hit(hit, sinks=self.sink_names)
        if result.changed:
            for sink in self.sinks:
                sink.wake.set()
        return result

    async def submit(self, hit: Hit) -> UpsertResult:
        """`submit_hit` with the SQLite commit (an fsync) off the event loop, so sinks keep
        sending while the disk works. Returns once the hit is durable."""
        result = await asyncio.to_thread(self.store.upsert_hit, hit, self.sink_names)
        if result.changed:
            for sink in self.sinks:
                sink.wake.set()
        return result

    def vehicle_state(
        self,
        sysid: int,
        *,
        lat: float,
        lon: float,
        alt_amsl_m: float | None = None,
        alt_rel_m: float | None = None,
        heading_deg: float | None = None,
        speed_ms: float | None = None,
        battery_pct: float | None = None,
        mode: str | None = None,
    ) -> None:
        """Latest position of a drone; sinks rate-limit it (not stored here: tracks are the
        fleet's, via `Store.add_track_point`)."""
        state = {
            "lat": round(lat, 7),
            "lon": round(lon, 7),
            "alt_amsl_m": alt_amsl_m,
            "alt_rel_m": alt_rel_m,
            "heading_deg": heading_deg,
            "speed_ms": speed_ms,
            "battery_pct": battery_pct,
            "mode": mode,
        }
        if self.mqtt is not None:
            self.mqtt.vehicle_state(sysid, state)
        for cot in self.cot:
            task = asyncio.get_running_loop().create_task(
                cot.vehicle_position(
                    sysid,
                    lat,
                    lon,
                    alt_hae_m=alt_amsl_m,
                    course_deg=heading_deg,
                    speed_ms=speed_ms,
                    remarks="" if battery_pct is None else f"battery {battery_pct:.0f} %",
                )
            )
            self._tasks.append(task)
            task.add_done_callback(self._tasks.remove)

    def progress(self, progress: dict[str, Any]) -> None:
        if self.mqtt is not None:
            self.mqtt.progress(progress)

    async def run(self) -> None:
        """Run every sink until cancelled; a sink's fatal error (bad password) propagates."""
        self._remember_config()
        for sink in self.sinks:
            n = self.store.backfill(sink.name)
            if n:
                log.info("%s: queued %d hits it had not been given", sink.name, n)
        if not self.sinks:
            await asyncio.Event().wait()
        try:
            async with asyncio.TaskGroup() as tg:
                for sink in self.sinks:
                    tg.create_task(sink.run(), name=sink.name)
        except ExceptionGroup as group:
            fatal = group.subgroup(GroundctlError)
            if fatal is not None:
                raise leaves(fatal)[0] from None
            raise

    async def wait_connected(self, timeout_s: float = 30.0) -> None:
        await asyncio.wait_for(asyncio.gather(*(s.connected.wait() for s in self.sinks)), timeout_s)

    def pending(self) -> int:
        return sum(self.store.pending_count(name) for name in self.sink_names)

    def undelivered(self) -> dict[str, int]:
        """Messages queued and not yet delivered, per sink (empty when all went out). A
        command that ends with any left should exit non-zero and say `flush_command()`."""
        counts = {name: self.store.pending_count(name) for name in self.sink_names}
        return {name: n for name, n in counts.items() if n}

    def flush_command(self) -> str:
        """The command that sends what is left once the receivers are back."""
        return f"groundctl dispatch flush --db {shlex.quote(str(self.store.path))}"

    def _remember_config(self) -> None:
        """Keep this configuration (without a literal password) in the operation database,
        so `groundctl dispatch flush --db FILE` can send the rest without being told again."""
        doc = self.config.model_dump(mode="json", exclude={"mqtt": {"password"}})
        with contextlib.suppress(GroundctlError):
            if self.store.operation() is not None:
                self.store.update_operation(detail={"dispatch": doc})

    async def close(self) -> None:
        for sink in self.sinks:
            with contextlib.suppress(Exception):
                await sink.close()  # type: ignore[attr-defined]
