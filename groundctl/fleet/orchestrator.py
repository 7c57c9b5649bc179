"""Flying a plan with a fleet: one asyncio task per drone, one per overwatch.

Each drone is a small state machine (`Orchestrator._drone`): take the next job from its queue,
fly it (the steps: `launch` on the ground, `search` in the air, `homecoming` back down),
have its battery swapped when the next job needs more than it has, and go again with the
rest of its lanes first. A drone whose link stays lost, whose uploads are refused, or whose
sorties sweep nothing twice in a row is given up (`reassign`): its lanes go to the others.

Everything is journaled (`Journal`), so a restarted ground station reattaches to drones in
the air: same mission on board (`Vehicle.mission.matches`) means no upload, no restart.

Times: `time_scale` is simulated seconds per wall second (1 for real drones). Durations
from airframes (flight times, battery swap) are divided by the measured pace (`energy`).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import math
from collections import deque
from collections.abc import Mapping
from dataclasses import dataclass

from groundctl.config import AirframeConfig
from groundctl.errors import LinkError
from groundctl.fleet import assign, progress
from groundctl.fleet.config import FleetConfig, VehicleConfig
from groundctl.fleet.energy import EnergyMixin
from groundctl.fleet.flight import DroneLost, airborne
from groundctl.fleet.homecoming import ReturnMixin
from groundctl.fleet.journal import ActiveSortie, Journal
from groundctl.fleet.launch import BatterySwap, LaunchMixin
from groundctl.fleet.observe import ObserveMixin
from groundctl.fleet.overwatch import OverwatchMixin, Watch
from groundctl.fleet.reassign import ReassignMixin
from groundctl.fleet.search import SearchMixin
from groundctl.fleet.sortie import (
    Job,
    fence_items,
    lane_geometry,
    planned_jobs,
    sortie_for_lanes,
)
from groundctl.link import FlightMode, MissionTransferError, Vehicle
from missions.plan import Plan, unique_lane_pieces

log = logging.getLogger(__name__)

__all__ = ["BatterySwap", "DroneView", "Orchestrator"]

# Launches that fail on the ground in a row before a drone is given up.
MAX_FAILED_LAUNCHES = 3
# Sorties in a row that sweep no lane (low battery, refused start, ...) before it is given up.
MAX_FRUITLESS_SORTIES = 2


@dataclass
class DroneView:
    """What the live table shows for one drone; updated by its task."""

    name: str
    sysid: int = 0
    phase: str = "idle"
    mode: str = ""
    battery_pct: float | None = None
    job: str = ""
    lanes_total: int = 0
    lanes_swept: int = 0
    link_ok: bool = False
    heartbeat_age_s: float = math.inf
    hits: int = 0
    transit_alt_m: float = 0.0
    note: str = ""


class Orchestrator(
    LaunchMixin, SearchMixin, ReturnMixin, ReassignMixin, ObserveMixin, EnergyMixin, OverwatchMixin
):
    """The fleet's state and each drone's state machine; the steps live in the mixins."""

    def __init__(
        self,
        plan: Plan,
        fleet: FleetConfig,
        vehicles: Mapping[str, Vehicle],
        journal: Journal,
        airframes: Mapping[str, AirframeConfig],
        *,
        time_scale: float = 1.0,
        battery_swap: BatterySwap | None = None,
        lost_after_s: float = 20.0,
        poll_s: float = 0.2,
        step_timeout_s: float = 120.0,
        hits_from_store: bool = True,
        min_person_confidence: float = 0.5,
        missing: int = 1,
    ) -> None:
        # One id per lane piece, whoever built the plan: progress is kept per lane id.
        self.plan = plan = unique_lane_pieces(plan)
        self.fleet = fleet
        self.vehicles = dict(vehicles)
        self.journal = journal
        self.airframes = dict(airframes)
        self.time_scale = time_scale
        self.battery_swap = battery_swap
        self.lost_after_s = lost_after_s
        self.poll_s = poll_s
        self.step_timeout_s = step_timeout_s
        self.hits_from_store = hits_from_store
        self.min_person_confidence = min_person_confidence
        self.missing = missing  # how many people the search is for (overwatch.watchrules)
        self.seen_from: dict[str, float] = {}  # hit id -> camera baseline of its looks, m
        self.duplicate_of: dict[str, str] = {}  # hit id -> the watched hit it is
        self._unconfirmed: set[str] = set()
        journal.event("search_for", f"{missing} missing", missing=missing, announce=False)
        self.cfg: dict[str, VehicleConfig] = {
            v.name: v for v in fleet.vehicles if v.name in vehicles
        }
        names = list(self.cfg)
        self.transit_alt = assign.transit_altitudes(
            names, fleet.transit.base_alt_m, fleet.transit.step_m
        )
        self.all_lanes: list[int] = [lane for s in plan.sorties for lane in s.lane_ids]
        self.lane_start, self.lane_end, self.lane_sweep_s = lane_geometry(plan)
        self.swept: set[int] = journal.swept_lanes()
        self.queues: dict[str, deque[Job]] = {n: deque() for n in names}
        self.current: dict[str, Job | None] = dict.fromkeys(names)
        self.lost: set[str] = set()
        self.lost_why: dict[str, str] = {}
        self.views = {n: DroneView(n, transit_alt_m=self.transit_alt[n]) for n in names}
        self.watches: dict[str, Watch] = {}
        self.uploads: dict[str, int] = dict.fromkeys(names, 0)
        self._orders: dict[str, asyncio.Queue[Watch]] = {n: asyncio.Queue() for n in names}
        self._wake = asyncio.Event()
        self._stop = asyncio.Event()
        self._uptime_hist = {n: deque(maxlen=100) for n in names}
        self._battery_hist = {n: deque(maxlen=200) for n in names}
        self._speeds = {}
        self._held = {}
        self._rtl_alt_set: set[str] = set()
        self._lost_link: set[str] = set()
        self._reattach: dict[str, ActiveSortie] = {}
        self._rebuilt = 0
        self._tasks: list[asyncio.Task[None]] = []
        self._side: list[asyncio.Task[None]] = []
        self.fence = fence_items(plan, [self.launch_of(n) for n in names])
        journal.names = {v.sysid: n for n, v in self.vehicles.items() if v is not None}

    # ------------------------------------------------------------------ helpers
    def launch_of(self, name: str) -> tuple[float, float]:
        c = self.cfg[name]
        if c.launch is not None:
            return (c.launch.lat, c.launch.lon)
        st = self.vehicles[name].telemetry.state()
        if st.home is not None:
            return (st.home.lat, st.home.lon)
        return self.plan.segments[0].launch

    def airframe(self, name: str) -> AirframeConfig:
        return self.airframes[self.cfg[name].airframe]

    def sysid(self, name: str) -> int:
        return self.vehicles[name].sysid

    @property
    def fraction_swept(self) -> float:
        return progress.fraction_swept(self.all_lanes, self.swept)

    def search_done(self) -> bool:
        return not progress.remaining(self.all_lanes, self.swept)

    def _left(self, job: Job, taken: set[int] | frozenset[int] = frozenset()) -> Job | None:
        """What is left of a job: its lanes not swept (nor `taken` by another drone), as a
        sortie resuming at the first of them. None when nothing is left."""
        left = [x for x in job.lanes if x not in self.swept and x not in taken]
        if not left:
            return None
        if tuple(left) == job.lanes:
            return job
        base = job.id.rstrip("+")
        if tuple(left) == job.lanes[job.lanes.index(left[0]) :]:
            sortie = job.sortie.resume_from(left[0])
        else:
            s = job.sortie
            sortie = sortie_for_lanes(self.plan, left, s.launch, s.segment, s.index)
            # Without the drone's airframe, keep the whole job's estimate (never less).
            sortie = sortie.model_copy(update={"est_time_s": max(sortie.est_time_s, s.est_time_s)})
        return Job(base + "+", sortie, job.role)

    # ------------------------------------------------------------------ set-up
    def assign_plan(self) -> None:
        """Hand the plan's segments (minus swept lanes) to the drones."""
        active = {a.vehicle: a for a in self.journal.active() if a.vehicle in self.cfg}
        self._reattach = dict(active)
        for a in active.values():
            self.swept |= set(a.swept)
        # Lanes a drone in the air is still flying are its own; the rest is handed out.
        taken = {x for a in active.values() for x in a.job.lanes}
        by_segment: dict[int, list[Job]] = {}
        for job in planned_jobs(self.plan):
            left = self._left(job, taken)
            if left is not None:
                by_segment.setdefault(job.sortie.segment, []).append(left)
        works = []
        for seg, jobs in by_segment.items():
            first, last = jobs[0].lanes[0], jobs[-1].lanes[-1]
            works.append(
                assign.Work(
                    str(seg),
                    self.lane_start[first],
                    self.lane_end[last],
                    sum(self.lane_sweep_s[x] for j in jobs for x in j.lanes),
                )
            )
        slots = [
            assign.Slot(n, self.launch_of(n), self.airframe(n).cruise_speed_ms) for n in self.cfg
        ]
        for name, segs in assign.assign(works, slots).items():
            for seg in segs:
                self.queues[name].extend(by_segment[int(seg)])

    # ------------------------------------------------------------------ run
    async def run(self, assigned: bool = False) -> None:
        """Fly until every lane is swept, no overwatch is on, and every drone is down."""
        if not assigned:
            self.assign_plan()
        side = [asyncio.create_task(self._record(n), name=f"record-{n}") for n in self.cfg]
        if self.hits_from_store:
            side.append(asyncio.create_task(self._watch_store_hits(), name="hits"))
        self._side = side
        self._tasks += [
            asyncio.create_task(self._drone(n), name=f"drone-{n}")
            for n in self.cfg
            if n not in self.lost
        ]
        try:
            while True:
                # Overwatch relay tasks are appended while we wait; wait for those too.
                pending = [t for t in self._tasks if not t.done()]
                if not pending:
                    break
                await asyncio.wait(pending, return_when=asyncio.FIRST_COMPLETED)
            for t in self._tasks:
                if not t.cancelled() and t.exception() is not None:
                    raise t.exception()  # type: ignore[misc]
        finally:
            for t in self._tasks + side:
                t.cancel()
            await asyncio.gather(*self._tasks, *side, return_exceptions=True)

    def stop(self) -> None:
        """Stop the orchestration (drones keep doing what they do; the journal has it all)."""
        self._stop.set()
        for t in self._tasks:
            t.cancel()

    def _finished_for(self, name: str) -> bool:
        return (
            self.search_done()
            and not self.queues[name]
            and not any(not w.ended.is_set() for w in self.watches.values())
        )

    async def _drone(self, name: str) -> None:
        """One drone's state machine: first telemetry -> (reattach | bring home) -> then, in a
        loop, watch / search / adopt orphans / idle until the search is done."""
        view = self.views[name]
        try:
            # Decide nothing on an empty snapshot: wait for position, battery and mode/armed.
            try:
                await self.vehicles[name].telemetry.wait_for(
                    lambda s: (
                        s.position is not None
                        and s.battery is not None
                        and s.mode != FlightMode.UNKNOWN
                    ),
                    timeout_s=self.step_timeout_s,
                    what="first telemetry",
                )
            except LinkError as exc:
                raise DroneLost(str(exc)) from None
            active = self._reattach.pop(name, None)
            if isinstance(active, ActiveSortie):
                await self._fly(name, active.job, reattach=active)
            elif airborne(self._observe(name)):
                # In the air with nothing we know of for it to do (a watch of an earlier
                # ground station, or a link that came back): bring it home, then use it.
                self.journal.event(
                    "airborne_without_sortie", "return to launch", sysid=view.sysid,
                    severity="warning",
                )  # fmt: skip
                await self._land(name, "in the air with no sortie")
            failures = fruitless = 0
            while not self._stop.is_set():
                if not self._orders[name].empty():
                    if self.queues[name]:
                        # Its search work goes to the others while it watches.
                        jobs = list(self.queues[name])
                        self.queues[name].clear()
                        self._redistribute(name, jobs, exclude={name})
                    await self._fly_watch(name, self._orders[name].get_nowait())
                    continue
                if self.queues[name]:
                    job = self._left(self.queues[name].popleft())
                    if job is not None:
                        failures, fruitless = await self._search_step(
                            name, job, failures, fruitless
                        )
                    continue
                if self._finished_for(name):
                    view.phase = "done"
                    self._wake.set()
                    return
                orphans = self._orphaned_lanes()
                if orphans:
                    self._adopt(name, orphans)
                    continue
                view.phase = "idle"
                self._wake.clear()
                with contextlib.suppress(TimeoutError):
                    async with asyncio.timeout(1.0):
                        await self._wake.wait()
        except DroneLost as exc:
            self._on_lost(name, str(exc))

    async def _search_step(
        self, name: str, job: Job, failures: int, fruitless: int
    ) -> tuple[int, int]:
        """Fly one search job; count launches that failed and sorties that swept nothing, and
        give the drone up (DroneLost) before either repeats without end."""
        view = self.views[name]
        try:
            swept = await self._fly(name, job)
        except MissionTransferError as exc:
            # A refused plan is refused again: retrying cannot help.
            raise DroneLost(f"upload refused: {exc}") from None
        except LinkError as exc:
            failures += 1
            view.note = str(exc)
            self.journal.event("sortie_failed", str(exc), sysid=view.sysid, severity="error")
            self.queues[name].appendleft(job)
            if failures >= MAX_FAILED_LAUNCHES:
                raise DroneLost(f"{failures} launches in a row failed: {exc}") from None
            await asyncio.sleep(2.0)
            return failures, fruitless
        fruitless = fruitless + 1 if swept == 0 and view.note != "overwatch" else 0
        if fruitless >= MAX_FRUITLESS_SORTIES:
            raise DroneLost(
                f"{fruitless} sorties in a row swept no lane (last: {view.note})"
            ) from None
        return 0, fruitless
