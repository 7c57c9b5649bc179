"""Flying a plan from the page: what `groundctl fly` runs, in this server's event loop.

The one place where the web map drives the fleet: simulated drones (`fleet.simfleet`, as
`fly --sim N [--scenario]`) or the vehicles of a fleet file, the connection and pre-flight
checks of `groundctl fly`, the `Orchestrator` and `LiveOps` (live thermal search and dispatch).
Everything goes to the operation database as with `fly`; on top, this module hands the page
each drone's state as it leaves the link (`on_state`) and each processed camera frame with
its detections (`on_frame`), which a flight in another process cannot give.
"""

from __future__ import annotations

import asyncio
import contextlib
import io
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from rich.console import Console

from groundctl import config
from groundctl.errors import GroundctlError
from sim.errors import SimError

if TYPE_CHECKING:
    from groundctl.dispatch import DispatchConfig
    from groundctl.link import Vehicle, VehicleState
    from missions.plan import Plan
    from thermal.pipeline import FrameResult

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class FlightSpec:
    """How this server flies: `serve --sim N [--scenario FILE]` or `serve --fleet FILE`."""

    sim_n: int = 0
    scenario: Path | None = None
    speedup: float = 5.0
    sim_autopilot: str = "px4"
    fleet_file: Path | None = None
    dispatch: DispatchConfig | None = None
    found_after_s: float | None = None
    user_file: Path | None = None
    state_interval_s: float = 0.1  # the page gets each drone's state at most this often


class PipelineTap:
    """The thermal pipeline, passing each frame's result to `on_frame` as well."""

    def __init__(self, inner: Any, on_frame: Callable[[FrameResult], None]) -> None:
        self._inner = inner
        self._on_frame = on_frame

    def process(self, frame: Any) -> FrameResult:
        result = self._inner.process(frame)
        with contextlib.suppress(Exception):
            self._on_frame(result)
        return result

    def __getattr__(self, name: str) -> Any:
        return getattr(self._inner, name)


class Flight:
    """One flight of one plan; `start()`, then `await stop()` or wait for `done`."""

    def __init__(
        self,
        plan: Plan,
        plan_id: int,
        spec: FlightSpec,
        db: Path,
        operation: str,
        on_state: Callable[[dict[str, Any]], None],
        on_frame: Callable[[FrameResult], None],
        on_exit: str = "rtl",
    ) -> None:
        self.plan, self.plan_id, self.spec, self.db = plan, plan_id, spec, db
        self.operation = operation
        self.on_state, self.on_frame, self.on_exit = on_state, on_frame, on_exit
        self.status = "starting"  # starting | flying | complete | stopped | failed
        self.message = ""
        self.preflight = ""
        self.started_at = time.time()
        self.ended_at: float | None = None
        self.vehicles: dict[str, Vehicle] = {}
        self.sysids: dict[str, int] = {}
        self.orch: Any = None
        self._stop = asyncio.Event()
        self._task: asyncio.Task[None] | None = None

    # ------------------------------------------------------------------ control
    def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name="web-flight")

    @property
    def running(self) -> bool:
        return self._task is not None and not self._task.done()

    async def stop(self, on_exit: str | None = None) -> None:
        if on_exit is not None:
            self.on_exit = on_exit
        self._stop.set()
        if self._task is not None:
            with contextlib.suppress(BaseException):
                await self._task

    def summary(self) -> dict[str, Any]:
        orch = self.orch
        return {
            "plan_id": self.plan_id,
            "status": self.status,
            "message": self.message,
            "preflight": self.preflight,
            "started_at": self.started_at,
            "ended_at": self.ended_at,
            "swept_pct": round(orch.fraction_swept * 100, 1) if orch is not None else 0.0,
            "vehicles": dict(self.sysids),
            "mode": "fleet" if self.spec.fleet_file else "sim",
        }

    # ------------------------------------------------------------------ the flight
    async def _run(self) -> None:  # the same steps as `groundctl fly`, in order
        from groundctl.cli.fly import _connect, _preflight_table
        from groundctl.fleet.config import load_fleet, parse_fleet
        from groundctl.fleet.journal import Journal
        from groundctl.fleet.live_ops import LiveOps, ThermalOptions
        from groundctl.fleet.orchestrator import Orchestrator

        spec, plan = self.spec, self.plan
        console = Console(file=io.StringIO(), width=120, color_system=None)
        sim_handle = journal = live_ops = None
        feeds: list[asyncio.Task[None]] = []
        swap, time_scale, terrain = None, 1.0, None
        try:
            if spec.fleet_file is not None:
                fleet = load_fleet(spec.fleet_file, spec.user_file)
                fleet = fleet.model_copy(update={"operation": self.operation})
            else:
                from groundctl.fleet.simfleet import start_sim

                sim_kwargs: dict[str, Any] = {}
                world = None
                if spec.scenario is not None:
                    from sim.fleet import world_terrain
                    from sim.world import load_scenario
                    from thermal.georef import FunctionTerrain

                    world = await asyncio.to_thread(load_scenario, spec.scenario)
                    sim_kwargs["terrain"] = world_terrain(world)
                    terrain = FunctionTerrain(lambda la, lo: world.elevation_at(la, lo))
                airframe = "mavic3t"
                sim_handle = await start_sim(
                    plan,
                    spec.sim_n,
                    flavour=spec.sim_autopilot,
                    speedup=spec.speedup,
                    airframe=airframe,
                    **sim_kwargs,
                )
                cam = plan.camera.name
                if world is not None:
                    await sim_handle.start_cameras(world, config.camera(cam, spec.user_file))
                fleet = parse_fleet(
                    {
                        "operation": self.operation,
                        "vehicles": [
                            {"name": f"sim{i + 1}", "connection": url, "airframe": airframe}
                            | {"sysid": sysid}
                            | (
                                {"camera": cam, "camera_stream": sim_handle.streams[i]}
                                if sim_handle.streams
                                else {}
                            )
                            for i, (url, sysid) in enumerate(sim_handle.endpoints)
                        ],
                    },
                    "--sim",
                    spec.user_file,
                )
                swap, time_scale = sim_handle.swap_battery, spec.speedup
            airframes = {
                v.airframe: config.airframe(v.airframe, spec.user_file) for v in fleet.vehicles
            }
            journal = await asyncio.to_thread(Journal.open, self.db, self.operation, plan)
            self.vehicles = await _connect(fleet, timeout_s=30.0)
            self.sysids = {n: v.sysid for n, v in self.vehicles.items()}
            for name, v in self.vehicles.items():
                feeds.append(asyncio.create_task(self._feed(name, v), name=f"feed-{name}"))
            orch = Orchestrator(
                plan,
                fleet,
                self.vehicles,
                journal,
                airframes,
                time_scale=time_scale,
                battery_swap=swap,
                lost_after_s=max(5.0, fleet.lost_after_s / time_scale),
            )
            self.orch = orch
            orch.assign_plan()
            go = await _preflight_table(orch, console)
            self.preflight = console.file.getvalue()  # type: ignore[attr-defined]
            if not any(go.values()):
                raise GroundctlError("no drone is GO; see the pre-flight checks")
            for name, ok in go.items():
                if not ok and not orch._reattach.get(name):
                    orch.drop(name, "pre-flight NO-GO")
            thermal = ThermalOptions(
                dispatch=spec.dispatch, terrain=terrain, found_after_s=spec.found_after_s
            )
            live_ops = LiveOps.start(
                orch, fleet, journal.store, thermal, terrain, time_scale, spec.user_file, console
            )
            if live_ops is not None and live_ops.live is not None:
                live_ops.live.pipeline = PipelineTap(live_ops.live.pipeline, self.on_frame)
            journal.event("web_flight", f"flight of plan {self.plan_id} started from the map")
            self.status = "flying"
            run = asyncio.create_task(orch.run(assigned=True))
            stop = asyncio.create_task(self._stop.wait())
            await asyncio.wait({run, stop}, return_when=asyncio.FIRST_COMPLETED)
            if not run.done():
                orch.stop()
                with contextlib.suppress(BaseException):
                    await run
                if self.on_exit == "rtl":
                    await orch.return_all()
                self.status = "stopped"
                self.message = (
                    "stopped: all drones ordered home"
                    if self.on_exit == "rtl"
                    else "stopped: drones left flying their missions"
                )
            else:
                stop.cancel()
                run.result()
                self.status = "complete"
                self.message = f"search complete: {orch.fraction_swept * 100:.0f}% of lanes swept"
            journal.event("web_flight", self.message)
        except (GroundctlError, SimError) as exc:
            self.status, self.message = "failed", str(exc)
        except Exception as exc:  # shown on the page; the server goes on
            log.exception("flight failed")
            self.status, self.message = "failed", f"{type(exc).__name__}: {exc}"
        finally:
            self.ended_at = time.time()
            for t in feeds:
                t.cancel()
            if live_ops is not None:
                with contextlib.suppress(Exception):
                    await live_ops.close()
            for v in self.vehicles.values():
                with contextlib.suppress(Exception):
                    await v.close()
            if journal is not None:
                journal.close()
            if sim_handle is not None:
                with contextlib.suppress(Exception):
                    await sim_handle.stop()

    async def _feed(self, name: str, v: Vehicle) -> None:
        """Each state as it leaves the link, stamped, to the page."""
        async for st in v.telemetry.subscribe(self.spec.state_interval_s):
            t_link = time.time()
            with contextlib.suppress(Exception):
                self.on_state(self._state(name, st, t_link))

    def _state(self, name: str, st: VehicleState, t_link: float) -> dict[str, Any]:
        d: dict[str, Any] = {
            "name": name,
            "sysid": st.sysid,
            "t_link": t_link,
            "mode": st.mode_name or st.mode.value,
            "armed": st.armed,
            "in_air": st.in_air,
            "link_ok": st.link_ok,
        }
        if st.position is not None:
            p = st.position
            d.update(
                lat=p.lat,
                lon=p.lon,
                alt_rel_m=round(p.alt_rel_m, 1),
                heading_deg=p.heading_deg,
                speed_ms=round(p.ground_speed_ms, 1),
            )
        if st.battery is not None and st.battery.remaining_pct is not None:
            d["battery_pct"] = round(st.battery.remaining_pct, 1)
        view = self.orch.views.get(name) if self.orch is not None else None
        if view is not None:
            d.update(
                phase=view.phase,
                job=view.job,
                lanes_swept=view.lanes_swept,
                lanes_total=view.lanes_total,
                hits=view.hits,
                note=view.note,
            )
        return d
