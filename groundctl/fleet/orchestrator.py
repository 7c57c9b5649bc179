"""Flying a plan with a fleet: one asyncio task per drone, one per overwatch.

Each drone loops: take the next job from its queue, check it (pre-flight), upload mission
and geofence (only if the drone does not already hold them), arm, take off to its own transit
altitude, fly the mission while folding MISSION_ITEM_REACHED / MISSION_CURRENT into swept
lanes, come home (mission end, low battery, or an overwatch order), land, have its battery
swapped, and go again with the rest of its lanes first. A drone whose link stays lost is
given up: its unswept lanes are rebuilt into sorties for the others.

Everything is journaled (`Journal`), so a restarted ground station reattaches to drones in
the air: same mission on board (`Vehicle.mission.matches`) means no upload, no restart.

Times: `time_scale` is simulated seconds per wall second (1 for real drones). Durations
from airframes (flight times, battery swap) are divided by it; battery drain is measured.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import math
import time
from collections import deque
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass

from groundctl.config import AirframeConfig
from groundctl.errors import LinkError
from groundctl.fleet import assign, preflight, progress
from groundctl.fleet.config import FleetConfig, VehicleConfig
from groundctl.fleet.flight import RETURN_MARGIN_PCT, DroneLost, airborne, holds, whereabouts
from groundctl.fleet.journal import ActiveSortie, Journal
from groundctl.fleet.overwatch import OverwatchMixin, Watch
from groundctl.fleet.sortie import (
    Job,
    build_mission,
    fence_items,
    lane_geometry,
    planned_jobs,
    sortie_for_lanes,
)
from groundctl.link import (
    Autopilot,
    FlightMode,
    MissionType,
    Vehicle,
    VehicleState,
    coerce_items,
)
from groundctl.link import mission_hash as content_hash
from groundctl.store import TrackPoint
from missions.plan import Plan, unique_lane_pieces

log = logging.getLogger(__name__)

BatterySwap = Callable[[str], Awaitable[None]]


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


class Orchestrator(OverwatchMixin):
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
        self._side: list[asyncio.Task[None]] = []
        self._rtl_alt_set: set[str] = set()
        self._lost_link: set[str] = set()
        self.cfg: dict[str, VehicleConfig] = {
            v.name: v for v in fleet.vehicles if v.name in vehicles
        }
        self.transit_alt = assign.transit_altitudes(
            list(self.cfg), fleet.transit.base_alt_m, fleet.transit.step_m
        )
        self.all_lanes: list[int] = [lane for s in plan.sorties for lane in s.lane_ids]
        self.lane_start, self.lane_end, self.lane_sweep_s = lane_geometry(plan)
        self.swept: set[int] = journal.swept_lanes()
        self.queues: dict[str, deque[Job]] = {n: deque() for n in self.cfg}
        self.current: dict[str, Job | None] = dict.fromkeys(self.cfg)
        self.lost: set[str] = set()
        self.views = {n: DroneView(n, transit_alt_m=self.transit_alt[n]) for n in self.cfg}
        self.watches: dict[str, Watch] = {}
        self.uploads: dict[str, int] = dict.fromkeys(self.cfg, 0)
        self._orders: dict[str, asyncio.Queue[Watch]] = {n: asyncio.Queue() for n in self.cfg}
        self._wake = asyncio.Event()
        self._stop = asyncio.Event()
        self._uptime_hist: dict[str, deque[tuple[float, int]]] = {
            n: deque(maxlen=100) for n in self.cfg
        }
        self._battery_hist: dict[str, deque[tuple[float, float]]] = {
            n: deque(maxlen=200) for n in self.cfg
        }
        self._reattach: dict[str, ActiveSortie] = {}
        self._rebuilt = 0
        self._tasks: list[asyncio.Task[None]] = []
        launches = [self.launch_of(n) for n in self.cfg]
        self.fence = fence_items(plan, launches)

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

    def wall(self, sim_s: float) -> float:
        """Wall seconds for `sim_s` seconds of flight, at the measured pace of the vehicles."""
        return sim_s / self.pace()

    def pace(self) -> float:
        """Vehicle seconds per wall second, from the autopilots' own boot clocks (1 for real
        drones; a loaded simulator runs slower than its nominal speed-up, and this sees it)."""
        rates = []
        for hist in self._uptime_hist.values():
            if len(hist) >= 2 and hist[-1][0] - hist[0][0] >= 2.0:
                rates.append((hist[-1][1] - hist[0][1]) / 1000.0 / (hist[-1][0] - hist[0][0]))
        if not rates:
            return self.time_scale
        rates.sort()
        return max(0.05, rates[len(rates) // 2])

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

    def drop(self, name: str, why: str) -> None:
        """Take a drone out before it flies (a pre-flight NO-GO): its work goes to the others."""
        self._on_lost(name, why)
        self.views[name].phase = "no-go"

    def stop(self) -> None:
        """Stop the orchestration (drones keep doing what they do; the journal has it all)."""
        self._stop.set()
        for t in self._tasks:
            t.cancel()

    async def return_all(self) -> None:
        for name, v in self.vehicles.items():
            if name in self.lost:
                continue
            with contextlib.suppress(LinkError):
                st = v.telemetry.state()
                if airborne(st):
                    async with self.journal.command(v.sysid, "RTL", {"reason": "operator"}):
                        await v.action.return_to_launch()

    def _finished_for(self, name: str) -> bool:
        return (
            self.search_done()
            and not self.queues[name]
            and not any(not w.ended.is_set() for w in self.watches.values())
        )

    async def _drone(self, name: str) -> None:
        view = self.views[name]
        failures = 0
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
                    "airborne_without_sortie",
                    "return to launch",
                    sysid=view.sysid,
                    severity="warning",
                )
                await self._land(name, "in the air with no sortie")
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
                    if job is None:
                        continue
                    try:
                        await self._fly(name, job)
                        failures = 0
                    except LinkError as exc:
                        # Refused or failed before take-off: try again, then give up on it.
                        failures += 1
                        view.note = str(exc)
                        self.journal.event(
                            "sortie_failed", str(exc), sysid=view.sysid, severity="error"
                        )
                        self.queues[name].appendleft(job)
                        if failures >= 3:
                            raise DroneLost(f"3 sorties in a row failed: {exc}") from None
                        await asyncio.sleep(2.0)
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
                    await asyncio.wait_for(self._wake.wait(), timeout=1.0)
        except DroneLost as exc:
            self._on_lost(name, str(exc))

    # ------------------------------------------------------------------ telemetry
    def _observe(self, name: str) -> VehicleState:
        st = self.vehicles[name].telemetry.state()
        v = self.views[name]
        v.sysid = st.sysid
        v.mode = st.mode_name or st.mode.value
        v.link_ok = st.link_ok
        v.heartbeat_age_s = st.last_heartbeat_age_s
        if st.uptime_ms and st.link_ok:
            up = self._uptime_hist[name]
            if up and st.uptime_ms < up[-1][1]:
                up.clear()  # the autopilot rebooted
            if not up or st.uptime_ms != up[-1][1]:
                up.append((time.monotonic(), st.uptime_ms))
            while len(up) > 2 and up[-1][0] - up[0][0] > 10.0:
                up.popleft()
        if st.battery is not None and st.battery.remaining_pct is not None:
            v.battery_pct = st.battery.remaining_pct
            hist = self._battery_hist[name]
            if hist and abs(hist[-1][1] - v.battery_pct) > 5.0:
                hist.clear()  # a swap or a jump in the estimate: the old slope means nothing
            if not hist or hist[-1][1] != v.battery_pct:
                hist.append((time.monotonic(), v.battery_pct))
        return st

    def drain_pct_per_s(self, name: str) -> float:
        """Battery drain in % per wall second: measured over the last samples of this flight,
        else the airframe's nominal figure."""
        nominal = 100.0 / self.wall(self.airframe(name).endurance_min * 60.0)
        hist = [h for h in self._battery_hist[name]]
        if len(hist) >= 3 and hist[-1][0] - hist[0][0] > 1.0 and hist[0][1] > hist[-1][1]:
            return max(nominal * 0.5, (hist[0][1] - hist[-1][1]) / (hist[-1][0] - hist[0][0]))
        return nominal

    def return_s(self, name: str, st: VehicleState) -> float:
        """Wall seconds to fly home and land from where the drone is."""
        af = self.airframe(name)
        if st.position is None:
            return 0.0
        home = (st.home.lat, st.home.lon) if st.home else self.launch_of(name)
        d = assign.distance_m((st.position.lat, st.position.lon), home)
        return self.wall(
            d / af.cruise_speed_ms + max(st.position.alt_rel_m, 0) / af.descent_rate_ms
        )

    def leave_threshold_pct(self, name: str, st: VehicleState) -> float:
        """Battery at which the drone must turn for home: reserve + the flight home + margin."""
        af = self.airframe(name)
        return (
            af.battery_reserve_pct
            + RETURN_MARGIN_PCT
            + self.return_s(name, st) * self.drain_pct_per_s(name)
        )

    async def _check_link(
        self, name: str, st: VehicleState, lost_since: list[float | None]
    ) -> None:
        if st.link_ok:
            if lost_since[0] is not None:
                self.journal.event("link_restored", sysid=st.sysid)
            lost_since[0] = None
            return
        now = time.monotonic()
        if lost_since[0] is None:
            lost_since[0] = now
            self.journal.event("link_lost", sysid=st.sysid, severity="warning")
            self.views[name].note = "link lost"
        elif now - lost_since[0] > self.lost_after_s:
            raise DroneLost(f"no link for {now - lost_since[0]:.0f} s")

    # ------------------------------------------------------------------ one search sortie
    async def _prepare(
        self, name: str, job: Job | None, need_s: float, fence_uploaded: bool = True
    ) -> None:
        """On the ground: wait for a battery good enough, swapping it if needed; pre-flight."""
        v = self.vehicles[name]
        af = self.airframe(name)
        need_pct = preflight.battery_needed_pct(need_s, af)
        st = self._observe(name)
        if st.battery is not None and (st.battery.remaining_pct or 0) < need_pct:
            await self._swap(name)
        deadline = time.monotonic() + self.step_timeout_s
        while True:
            st = self._observe(name)
            checks = preflight.evaluate(
                preflight.PreflightState(
                    name=name,
                    link_ok=st.link_ok,
                    heartbeat_age_s=None
                    if math.isinf(st.last_heartbeat_age_s)
                    else st.last_heartbeat_age_s,
                    gps_fix_type=st.gps.fix_type if st.gps else 0,
                    satellites=st.gps.satellites if st.gps else 0,
                    home_set=st.home is not None,
                    battery_pct=st.battery.remaining_pct if st.battery else None,
                    battery_needed_pct=min(need_pct, 100.0),
                    fence_uploaded=fence_uploaded,
                )
            )
            if preflight.is_go(checks):
                self.journal.event("preflight", "GO", sysid=v.sysid, job=job.id if job else "")
                return
            bad = "; ".join(f"{c.name}: {c.detail}" for c in checks if not c.ok)
            self.views[name].note = f"no-go: {bad}"
            if time.monotonic() > deadline:
                self.journal.event("preflight", f"NO-GO: {bad}", sysid=v.sysid, severity="error")
                raise DroneLost(f"pre-flight failed: {bad}")
            await asyncio.sleep(0.5)

    async def _swap(self, name: str) -> None:
        view = self.views[name]
        view.phase = "battery swap"
        sysid = self.sysid(name)
        self.journal.event("battery_swap", sysid=sysid)
        if self.battery_swap is not None:
            await self.battery_swap(name)
        else:
            await asyncio.sleep(self.wall(self.fleet.battery_swap_s))
        self._battery_hist[name].clear()

    async def _upload(self, name: str, job_id: str, items: list, mtype: MissionType) -> None:
        v = self.vehicles[name]
        what = "mission" if mtype == MissionType.MISSION else "fence"
        if await v.mission.matches(items, mtype):
            self.journal.event(f"{what}_on_board", sysid=v.sysid, job=job_id)
            return
        async with self.journal.command(
            v.sysid, f"upload_{what}", {"job": job_id, "items": len(items)}
        ) as info:
            info["opaque_id"] = await v.mission.upload(items, mtype)
        self.uploads[name] += 1

    async def _set_rtl_alt(self, name: str) -> None:
        """Return at this drone's own transit altitude, so returns are staggered too."""
        if name in self._rtl_alt_set:
            return
        v = self.vehicles[name]
        alt = self.transit_alt[name]
        ap = v.identity.autopilot == Autopilot.ARDUPILOT
        param, value = ("RTL_ALT", alt * 100.0) if ap else ("RTL_RETURN_ALT", alt)
        try:
            async with self.journal.command(v.sysid, "param_set", {param: value}):
                await v.params.set(param, value)
            self._rtl_alt_set.add(name)
        except LinkError as exc:
            # Not fatal: the transit legs in the mission are staggered regardless.
            self.journal.event(
                "rtl_alt", f"could not set {param}: {exc}", sysid=v.sysid, severity="warning"
            )
            self._rtl_alt_set.add(name)

    async def _takeoff(self, name: str, alt_m: float) -> None:
        v = self.vehicles[name]
        st = self._observe(name)
        # Arm in a mode that takes off: ArduPilot arms for a take-off in GUIDED; neither
        # autopilot arms in the RTL/LAND mode the last landing left it in.
        if v.identity.autopilot == Autopilot.ARDUPILOT and st.mode != FlightMode.GUIDED:
            async with self.journal.command(v.sysid, "set_mode", {"mode": "guided"}):
                await v.action.set_mode(FlightMode.GUIDED)
        elif st.mode in (FlightMode.RETURN, FlightMode.LAND, FlightMode.MISSION):
            async with self.journal.command(v.sysid, "set_mode", {"mode": "hold"}):
                await v.action.set_mode(FlightMode.HOLD)
        async with self.journal.command(v.sysid, "arm"):
            await v.action.arm()
        async with self.journal.command(v.sysid, "takeoff", {"alt_rel_m": alt_m}):
            await v.action.takeoff(alt_m)
        self.views[name].phase = "takeoff"
        await v.telemetry.wait_for(
            lambda s: s.position is not None and s.position.alt_rel_m >= 0.8 * alt_m,
            timeout_s=self.step_timeout_s,
            what=f"climb to {alt_m:.0f} m",
        )

    async def _fly(self, name: str, job: Job, reattach: ActiveSortie | None = None) -> None:
        v = self.vehicles[name]
        view = self.views[name]
        alt = self.transit_alt[name]
        items, lane_end = build_mission(job.sortie, alt)
        link_items = coerce_items(items)
        st = self._observe(name)
        if reattach is not None:
            if airborne(st) and await holds(v, link_items):
                self.current[name] = job
                view.job, view.lanes_total = job.id, len(job.lanes)
                self.journal.event(
                    "reattached", sysid=v.sysid, sortie_id=reattach.sortie_id, job=job.id
                )
                await self._fly_from_air(name, job, reattach.sortie_id, lane_end, st)
                return
            self.journal.update_job(reattach.sortie_id, status="aborted")
            if airborne(st):
                # In the air with some other mission on board: bring it home first.
                self.journal.event(
                    "reattach_mismatch", "mission on board differs; RTL", sysid=v.sysid
                )
                await self._land(name, "mission on board differs")
            left = self._left(job)
            if left is None:
                return
            job = left
            items, lane_end = build_mission(job.sortie, alt)
            link_items = coerce_items(items)
        self.current[name] = job
        view.job, view.lanes_total, view.lanes_swept = job.id, len(job.lanes), 0
        sortie_id = self.journal.add_job(job, name, v.sysid, content_hash(link_items))
        view.phase = "upload"
        try:
            await self._upload(name, job.id, link_items, MissionType.MISSION)
            await self._upload(name, job.id, self.fence, MissionType.FENCE)
            await self._set_rtl_alt(name)
            view.phase = "pre-flight"
            climb = 2 * alt / self.airframe(name).climb_rate_ms
            await self._prepare(name, job, job.sortie.est_time_s + climb)
        except (LinkError, DroneLost):
            self.journal.update_job(sortie_id, status="aborted")
            raise
        self.journal.update_job(sortie_id, status="flying")
        try:
            await self._takeoff(name, alt)
            async with self.journal.command(v.sysid, "start_mission", {"job": job.id}):
                await v.action.start_mission()
        except LinkError as exc:
            self.journal.event(
                "error", str(exc), sysid=v.sysid, severity="error", sortie_id=sortie_id
            )
            if not airborne(self._observe(name)):
                # Never got off the ground: the drone loop retries, then gives up on it.
                self.journal.update_job(sortie_id, status="aborted", end_reason=str(exc))
                self.current[name] = None
                with contextlib.suppress(LinkError):
                    if self._observe(name).armed:
                        await v.action.disarm()
                raise
            await self._end_sortie(name, job, sortie_id, f"error: {exc}")
            return
        await self._fly_from_air(name, job, sortie_id, lane_end, self._observe(name))

    async def _fly_from_air(
        self, name: str, job: Job, sortie_id: int, lane_end: dict[int, int], st: VehicleState
    ) -> None:
        try:
            reason = await self._follow(name, job, sortie_id, lane_end, st.mode)
        except LinkError as exc:
            self.journal.event(
                "error", str(exc), sysid=st.sysid, severity="error", sortie_id=sortie_id
            )
            reason = f"error: {exc}"
        await self._end_sortie(name, job, sortie_id, reason)

    async def _follow(
        self, name: str, job: Job, sortie_id: int, lane_end: dict[int, int], mode0: FlightMode
    ) -> str:
        """Watch the mission until it ends; return why it ended."""
        v = self.vehicles[name]
        view = self.views[name]
        view.phase = "search"
        lost_since: list[float | None] = [None]
        seen_mission = mode0 in (FlightMode.MISSION, FlightMode.RETURN, FlightMode.LAND)
        last_seq = max(lane_end.values(), default=0)
        while True:
            await asyncio.sleep(self.poll_s)
            st = self._observe(name)
            await self._check_link(name, st, lost_since)
            if not st.link_ok:
                continue
            done = progress.swept_lanes(lane_end, st.mission.reached, st.mission.current_seq)
            new = done - self.swept
            if new:
                self.swept |= new
                self._wake.set()
            swept_here = [x for x in job.lanes if x in self.swept or x in done]
            if len(swept_here) != view.lanes_swept or new:
                view.lanes_swept = len(swept_here)
                self.journal.update_job(
                    sortie_id,
                    swept=[x for x in job.lanes if x in done],
                    progress=len(swept_here) / max(1, len(job.lanes)),
                )
            if st.mode == FlightMode.MISSION:
                seen_mission = True
            if len(swept_here) == len(job.lanes):
                return "sortie complete"
            if not st.armed and not st.in_air and seen_mission:
                raise DroneLost("landed or disarmed in the middle of its mission")
            if (
                seen_mission
                and st.mode in (FlightMode.RETURN, FlightMode.LAND)
                and st.mission.current_seq <= last_seq
            ):
                return f"autopilot switched to {st.mode_name or st.mode.value}"
            pct = st.battery.remaining_pct if st.battery else None
            if pct is not None and pct <= self.leave_threshold_pct(name, st):
                self.journal.event(
                    "low_battery",
                    f"{pct:.0f}%",
                    sysid=v.sysid,
                    severity="warning",
                    sortie_id=sortie_id,
                )
                return f"low battery {pct:.0f}%"
            if not self._orders[name].empty():
                return "overwatch"

    def _orphaned_lanes(self) -> list[int]:
        """Unswept lanes that no drone has queued or is flying (a safety net: whatever the
        bookkeeping missed must not leave the fleet idling with the search unfinished)."""
        if any(self.queues[n] or self.current[n] for n in self.cfg if n not in self.lost):
            return []
        return list(dict.fromkeys(progress.remaining(self.all_lanes, self.swept)))

    def _adopt(self, name: str, lanes: list[int]) -> None:
        self._rebuilt += 1
        seg = next(s.segment for s in self.plan.sorties if lanes[0] in s.lane_ids)
        sortie = sortie_for_lanes(self.plan, lanes, self.launch_of(name), seg, 100 + self._rebuilt)
        self.queues[name].append(Job(f"o{self._rebuilt}", sortie))
        self.journal.event(
            "orphan_lanes", f"{len(lanes)} unassigned lanes to {name}", lanes=lanes,
            sysid=self.sysid(name), severity="warning",
        )  # fmt: skip

    async def _end_sortie(self, name: str, job: Job, sortie_id: int, reason: str) -> None:
        """Close a sortie: what is left of it is flown next (by this drone, or by the others
        when this one goes on overwatch); come home unless an overwatch takes the drone."""
        view = self.views[name]
        view.note = reason
        self.current[name] = None
        left = self._left(job)
        self.journal.event(
            "sortie_end",
            reason,
            sysid=view.sysid,
            sortie_id=sortie_id,
            left=list(left.lanes) if left else [],
        )
        if reason == "overwatch":
            self.journal.update_job(sortie_id, status="done", end_reason=reason)
            if left is not None:
                self._redistribute(name, [left], exclude={name})
            return
        if left is not None:
            self.queues[name].appendleft(left)
        self.journal.update_job(sortie_id, status="returning", end_reason=reason)
        await self._land(name, reason)
        self.journal.update_job(sortie_id, status="done")

    async def _land(self, name: str, reason: str) -> None:
        """Return to launch (unless already on the way or down) and wait until disarmed."""
        v = self.vehicles[name]
        view = self.views[name]
        view.phase = "return"
        st = self._observe(name)
        if airborne(st) and st.mode not in (FlightMode.RETURN, FlightMode.LAND):
            async with self.journal.command(v.sysid, "RTL", {"reason": reason}):
                await v.action.return_to_launch()
        lost_since: list[float | None] = [None]
        deadline = time.monotonic() + max(self.step_timeout_s, self.return_s(name, st) * 3)
        while True:
            st = self._observe(name)
            await self._check_link(name, st, lost_since)
            if st.link_ok and not st.in_air and not st.armed:
                break
            if time.monotonic() > deadline:
                raise DroneLost("did not land after return to launch")
            await asyncio.sleep(self.poll_s)
        view.phase = "landed"

    # ------------------------------------------------------------------ journal feeders
    async def _record(self, name: str) -> None:
        """Journal what the vehicle says (STATUSTEXT, modes, arming, link, reboots) and its
        track (thinned by the store), so nothing a drone reported is lost."""
        v = self.vehicles[name]

        async def events() -> None:
            async for ev in v.telemetry.events():
                if ev.kind == "item_reached":
                    continue  # folded into swept lanes; one row per waypoint is noise
                sev = (
                    "warning" if ev.kind in ("link_lost", "rebooted", "duplicate_sysid") else "info"
                )
                if ev.kind == "statustext" and ev.data.get("severity", 6) <= 4:
                    sev = "warning"
                self.journal.event(
                    f"vehicle.{ev.kind.value}", ev.detail, sysid=ev.sysid, severity=sev
                )
                if ev.kind == "link_restored" and name in self._lost_link:
                    self._recover(name)

        async def track() -> None:
            while True:
                await asyncio.sleep(max(0.2, 1.0 / self.pace()))
                st = v.telemetry.state()
                where = whereabouts(st)
                if where is not None:
                    self.journal.store.add_track_point(
                        TrackPoint(sysid=st.sysid, ts=time.time(), **where)
                    )

        await asyncio.gather(events(), track())

    def _recover(self, name: str) -> None:
        """A drone given up for a lost link is heard again: it comes home and takes work."""
        if self._stop.is_set():
            return
        self._lost_link.discard(name)
        self.lost.discard(name)
        self.views[name].phase, self.views[name].note = "recovered", "link back"
        self.journal.event("vehicle_recovered", sysid=self.views[name].sysid, severity="warning")
        self._tasks.append(asyncio.create_task(self._drone(name), name=f"drone-{name}"))

    def _on_lost(self, name: str, why: str) -> None:
        self.lost.add(name)
        if why.startswith("no link"):
            self._lost_link.add(name)
        view = self.views[name]
        view.phase, view.note = "LOST", why
        self.journal.event("vehicle_lost", why, sysid=view.sysid, severity="critical")
        jobs = [
            j
            for j in ([self.current[name]] if self.current[name] else []) + list(self.queues[name])
        ]
        self.queues[name].clear()
        self.current[name] = None
        for a in self.journal.active():
            if a.vehicle == name:
                self.journal.update_job(a.sortie_id, status="lost")
        self._redistribute(name, jobs, exclude=self.lost)
        for w in self.watches.values():
            w.leave(name, time.monotonic())
        self._wake.set()

    def _redistribute(self, name: str, jobs: list[Job], exclude: set[str]) -> None:
        lanes = [x for j in jobs if j is not None for x in progress.remaining(j.lanes, self.swept)]
        lanes = list(dict.fromkeys(lanes))
        others = [n for n in self.cfg if n not in exclude and n not in self.lost]
        if not lanes:
            return
        if not others and name not in self.lost:
            self.queues[name].extend(j for j in jobs if j is not None)
            return
        if not others:
            self.journal.event(
                "unassigned", f"{len(lanes)} lanes with no drone left", severity="critical"
            )
            return
        slots = [
            assign.Slot(
                n,
                self.launch_of(n),
                self.airframe(n).cruise_speed_ms,
                busy_until_s=sum(j.sortie.est_time_s for j in self.queues[n]),
            )
            for n in others
        ]
        for who, part in assign.reassign_lanes(
            lanes, slots, self.lane_start, self.lane_end, self.lane_sweep_s
        ).items():
            self._rebuilt += 1
            seg = self.plan.sorties[0].segment
            for s in self.plan.sorties:
                if part[0] in s.lane_ids:
                    seg = s.segment
            sortie = sortie_for_lanes(
                self.plan, part, self.launch_of(who), seg, 100 + self._rebuilt
            )
            job = Job(f"r{self._rebuilt}.{name}", sortie)
            self.queues[who].append(job)
            self.journal.event(
                "reassigned",
                f"{len(part)} lanes of {name} to {who}",
                sysid=self.sysid(who),
                lanes=part,
            )
        self._wake.set()
