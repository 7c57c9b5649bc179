"""What runs beside the orchestrator during `groundctl fly`: live thermal search and dispatch.

`LiveOps.start` reads every drone's camera stream through one thermal pipeline
(`thermal_live.LiveThermal`) into the operation database, where the orchestrator's overwatch
trigger finds confirmed people; with a `dispatch:` configuration the same `Dispatcher` that
`groundctl dispatch` documents sends hits (and drone positions, and search progress) to MQTT /
Cursor-on-Target / a GeoJSON file. In a simulation, a simulated ground team can reach a
watched person after a while and report them found, which ends that overwatch exactly as a
real team's acknowledgement over MQTT does.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections import Counter
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from rich.console import Console
from rich.table import Table

from groundctl import config
from groundctl.config import camera_model
from groundctl.errors import GroundctlError
from groundctl.fleet.config import FleetConfig
from groundctl.fleet.flight import whereabouts
from groundctl.fleet.thermal_live import CameraStream, LiveThermal
from groundctl.store import Ack, Store, StoredHit

if TYPE_CHECKING:
    from groundctl.dispatch import DispatchConfig, Dispatcher
    from groundctl.fleet.orchestrator import Orchestrator
    from thermal.georef import Terrain
    from thermal.hit import Hit

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class ThermalOptions:
    """The live-search options of `groundctl fly`."""

    scenario: Path | None = None  # --sim only: the world the simulated cameras see
    sim_camera: str | None = None  # --sim only: camera of the simulated drones (plan's)
    dispatch: DispatchConfig | None = None
    terrain: Terrain | None = None  # ground elevation for georeferencing (a DEM)
    found_after_s: float | None = None  # --sim only: simulated ground team's arrival
    drain_s: float = 15.0  # at the end, how long to wait for sinks to deliver
    missing: int = 1  # how many people the search is for (`fly --missing`)


class LiveOps:
    def __init__(
        self,
        orch: Orchestrator,
        store: Store,
        live: LiveThermal | None,
        dispatcher: Dispatcher | None,
        opts: ThermalOptions,
        time_scale: float,
    ) -> None:
        self.orch = orch
        self.store = store
        self.live = live
        self.dispatcher = dispatcher
        self.opts = opts
        self.time_scale = time_scale
        self.dispatch_error = ""
        self.tasks: list[asyncio.Task[Any]] = []

    @classmethod
    def start(
        cls,
        orch: Orchestrator,
        fleet: FleetConfig,
        store: Store,
        opts: ThermalOptions,
        terrain: Terrain | None,
        time_scale: float,
        user_file: Path | None,
        console: Console,
    ) -> LiveOps | None:
        """Start what is configured; None when there is no camera stream and no dispatch."""
        dispatcher = None
        cfg = opts.dispatch
        if cfg is not None and (cfg.mqtt or cfg.cot or cfg.geojson_file or cfg.webhooks):
            from groundctl.dispatch import Dispatcher

            dispatcher = Dispatcher(store, cfg, fleet.operation)
        streams = [
            CameraStream(
                v.name,
                v.camera_stream,
                orch.vehicles[v.name].sysid,
                camera_model(config.camera(v.camera, user_file)),
            )
            for v in fleet.vehicles
            if v.camera_stream and v.camera and v.name in orch.vehicles
        ]
        if not streams and dispatcher is None:
            return None
        ops = cls(orch, store, None, dispatcher, opts, time_scale)
        if streams:
            ops.live = LiveThermal(
                streams, store, terrain=terrain, dispatcher=dispatcher, on_hit=ops._on_hit
            )
            ops.tasks.append(asyncio.create_task(ops.live.run(), name="live-thermal"))
            console.print(
                f"live thermal search on {len(streams)} camera stream(s): "
                + ", ".join(f"{s.name} {s.url}" for s in streams),
                highlight=False,
            )
        if dispatcher is not None:
            ops.tasks.append(asyncio.create_task(ops._dispatch(), name="dispatch"))
            ops.tasks.append(asyncio.create_task(ops._positions(), name="dispatch-positions"))
            console.print(f"dispatch: {', '.join(dispatcher.sink_names)}", highlight=False)
        if opts.found_after_s is not None:
            ops.tasks.append(asyncio.create_task(ops._ground_team(), name="sim-ground-team"))
        return ops

    # ------------------------------------------------------------------ tasks
    def _on_hit(self, hit: Hit, names: list[str]) -> None:
        assert self.live is not None
        self.orch.note_hit(hit)  # where the cameras were: overwatch holds confirmed people only
        for n in names:
            if n in self.orch.views:
                self.orch.views[n].hits = self.live.hits_by(n)

    async def _dispatch(self) -> None:
        assert self.dispatcher is not None
        try:
            await self.dispatcher.run()
        except GroundctlError as exc:
            # A sink refused us for good (a bad password): the hits are in the store and go
            # out with `groundctl dispatch` once fixed; the flight goes on.
            self.dispatch_error = str(exc)
            log.error("dispatch stopped: %s", exc)

    async def _positions(self) -> None:
        """Drone positions and search progress to the command centre (sinks rate-limit)."""
        assert self.dispatcher is not None
        while True:
            await asyncio.sleep(1.0)
            for v in self.orch.vehicles.values():
                st = v.telemetry.state()
                where = whereabouts(st)
                if where is None:
                    continue
                with contextlib.suppress(Exception):
                    self.dispatcher.vehicle_state(
                        st.sysid, mode=st.mode_name or st.mode.value, **where
                    )
            self.dispatcher.progress(
                {
                    "swept_pct": round(self.orch.fraction_swept * 100, 1),
                    "hits": len(self.live.hits) if self.live else 0,
                }
            )

    async def _ground_team(self) -> None:
        """Simulation only: a team reaches each watched person `found_after_s` simulated
        seconds after the overwatch started and reports them found (an acknowledgement in
        the store, as `groundctl dispatch ack` / an MQTT ack would write it)."""
        assert self.opts.found_after_s is not None
        started: dict[str, float] = {}
        wait_s = self.opts.found_after_s / max(self.time_scale, 1e-6)
        while True:
            now = time.monotonic()
            for hit_id, watch in list(self.orch.watches.items()):
                if watch.ended.is_set():
                    continue
                t0 = started.setdefault(hit_id, now)
                if now - t0 >= wait_s:
                    self.store.add_ack(
                        Ack(
                            ack_id=f"sim-team-{hit_id}",
                            hit_id=hit_id,
                            status="found",
                            ts=time.time(),
                            by="simulated ground team",
                            source="sim",
                        )
                    )
            await asyncio.sleep(0.5)

    # ------------------------------------------------------------------ view
    def camera_cells(self) -> dict[str, str] | None:
        if self.live is None:
            return None
        return {n: st.summary() for n, st in self.live.status.items()}

    def footer(self) -> list[str]:
        lines = []
        if self.live is not None:
            t = self.live.totals()
            lines.append(
                f"thermal: {len(self.live.hits)} hit(s), {t['processed']} frames processed, "
                f"{t['dropped']} dropped (detection behind), {t['malformed']} malformed"
            )
            if self.live.last_hit is not None:
                hit, names = self.live.last_hit
                lines.append(f"last hit: {describe(hit, names)}")
        if self.dispatcher is not None:
            state = self.dispatch_error or f"{self.dispatcher.pending()} message(s) pending"
            lines.append(f"dispatch: {state}")
        return lines

    # ------------------------------------------------------------------ end
    async def finish(self, console: Console) -> None:
        """At the end of the operation: let the sinks deliver, print the hits."""
        if self.dispatcher is not None and not self.dispatch_error:
            deadline = time.monotonic() + self.opts.drain_s
            while self.dispatcher.pending() and time.monotonic() < deadline:
                await asyncio.sleep(0.2)
            left = self.dispatcher.pending()
            if left:
                console.print(
                    f"[yellow]dispatch: {left} message(s) not yet delivered; they stay queued "
                    "in the operation database (`groundctl dispatch` sends them)[/]"
                )
        if self.live is not None:
            t = self.live.totals()
            console.print(
                f"thermal: {t['frames']} frames received, {t['processed']} processed, "
                f"{t['dropped']} dropped, {t['malformed']} malformed, "
                f"{t['reconnects']} reconnects",
                highlight=False,
            )
        console.print(hits_table(self.store.hits()))

    async def close(self) -> None:
        for t in self.tasks:
            t.cancel()
        await asyncio.gather(*self.tasks, return_exceptions=True)
        if self.dispatcher is not None:
            await self.dispatcher.close()


def describe(hit: Hit, names: list[str]) -> str:
    when = datetime.fromtimestamp(hit.last_seen, UTC).strftime("%H:%M:%S")
    by = ", ".join(names) or "?"
    return (
        f"{hit.target_class} {hit.confidence:.2f} at {hit.lat:.6f}, {hit.lon:.6f} "
        f"±{hit.uncertainty_m:.0f} m by {by}, {when} UTC ({hit.id[:8]})"
    )


def hits_table(hits: list[StoredHit], max_rows: int = 40) -> Table:
    """The operation's hits, people first, then by confidence (at most `max_rows`; the
    database and the dispatch sinks have them all)."""
    order = {"person": 0, "animal": 1, "vehicle_or_hot_object": 2}
    counts = Counter(h.target_class for h in hits)
    summary = ", ".join(f"{n} {c}" for c, n in counts.most_common())
    table = Table(
        title=f"{len(hits)} hit(s) in the operation database" + (f": {summary}" if hits else ""),
        caption=f"(the {len(hits) - max_rows} least likely not shown)"
        if len(hits) > max_rows
        else None,
    )
    for col in (
        "hit",
        "class",
        "conf",
        "lat",
        "lon",
        "±m",
        "sightings",
        "drones",
        "temp",
        "last seen",
        "status",
    ):
        table.add_column(col, justify="right" if col in ("conf", "±m", "sightings") else "left")
    ranked = sorted(hits, key=lambda h: (order.get(h.target_class, 9), -h.confidence))
    for h in ranked[:max_rows]:
        style = "bold" if h.target_class == "person" else ""
        table.add_row(
            h.id[:8],
            h.target_class,
            f"{h.confidence:.2f}",
            f"{h.lat:.6f}",
            f"{h.lon:.6f}",
            f"{h.uncertainty_m:.1f}",
            str(h.sighting_count),
            ",".join(str(v) for v in h.vehicle_ids),
            "" if h.temp_c is None else f"{h.temp_c:.1f} °C",
            datetime.fromtimestamp(h.last_seen, UTC).strftime("%H:%M:%S"),
            h.status or "",
            style=style,
        )
    return table
