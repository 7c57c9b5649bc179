"""A drone given up, and its lanes handed to the others. `ReassignMixin` is part of
`Orchestrator`.

Why each drone was given up is kept (`lost_why`), so that a search that ends with lanes
unswept can say which lanes are left and why.
"""

from __future__ import annotations

import asyncio
import time
from collections import deque
from typing import Any

from groundctl.fleet import assign, progress
from groundctl.fleet.parts import Parts
from groundctl.fleet.sortie import Job, sortie_for_lanes
from missions.plan import Plan


class ReassignMixin(Parts):
    plan: Plan
    cfg: dict[str, Any]
    journal: Any
    views: dict[str, Any]
    queues: dict[str, deque[Job]]
    current: dict[str, Job | None]
    swept: set[int]
    lost: set[str]
    lost_why: dict[str, str]
    watches: dict[str, Any]
    all_lanes: list[int]
    lane_start: dict[int, tuple[float, float]]
    lane_end: dict[int, tuple[float, float]]
    lane_sweep_s: dict[int, float]
    _lost_link: set[str]
    _wake: asyncio.Event
    _rebuilt: int

    def drop(self, name: str, why: str) -> None:
        """Take a drone out before it flies (a pre-flight NO-GO): its work goes to the others."""
        self._on_lost(name, why)
        self.views[name].phase = "no-go"

    def _on_lost(self, name: str, why: str) -> None:
        self.lost.add(name)
        self.lost_why[name] = why
        if why.startswith("no link"):
            self._lost_link.add(name)
        view = self.views[name]
        view.phase, view.note = "LOST", why
        self.journal.event("vehicle_lost", why, sysid=view.sysid, severity="critical")
        jobs = ([self.current[name]] if self.current[name] else []) + list(self.queues[name])
        self.queues[name].clear()
        self.current[name] = None
        for a in self.journal.active():
            if a.vehicle == name:
                self.journal.update_job(a.sortie_id, status="lost")
        self._redistribute(name, [j for j in jobs if j is not None], exclude=self.lost)
        for w in self.watches.values():
            w.leave(name, time.monotonic())
        self._wake.set()

    def _orphaned_lanes(self) -> list[int]:
        """Unswept lanes that no drone has queued or is flying (a safety net: whatever the
        bookkeeping missed must not leave the fleet idling with the search unfinished)."""
        if any(self.queues[n] or self.current[n] for n in self.cfg if n not in self.lost):
            return []
        return list(dict.fromkeys(progress.remaining(self.all_lanes, self.swept)))

    def _adopt(self, name: str, lanes: list[int]) -> None:
        self._rebuilt += 1
        seg = next(s.segment for s in self.plan.sorties if lanes[0] in s.lane_ids)
        sortie = sortie_for_lanes(
            self.plan,
            lanes,
            self.launch_of(name),
            seg,
            100 + self._rebuilt,
            self.airframe(name),
        )
        self.queues[name].append(Job(f"o{self._rebuilt}", sortie))
        self.journal.event(
            "orphan_lanes", f"{len(lanes)} unassigned lanes to {name}", lanes=lanes,
            sysid=self.sysid(name), severity="warning",
        )  # fmt: skip

    def _redistribute(self, name: str, jobs: list[Job], exclude: set[str]) -> None:
        lanes = [x for j in jobs for x in progress.remaining(j.lanes, self.swept)]
        lanes = list(dict.fromkeys(lanes))
        others = [n for n in self.cfg if n not in exclude and n not in self.lost]
        if not lanes:
            return
        if not others and name not in self.lost:
            self.queues[name].extend(jobs)
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
                self.plan, part, self.launch_of(who), seg, 100 + self._rebuilt, self.airframe(who)
            )
            self.queues[who].append(Job(f"r{self._rebuilt}.{name}", sortie))
            self.journal.event(
                "reassigned",
                f"{len(part)} lanes of {name} to {who}",
                sysid=self.sysid(who),
                lanes=part,
            )
        self._wake.set()

    def unswept_report(self) -> list[str]:
        """What is left of the search and why, one line each (empty when all is swept)."""
        left = progress.remaining(self.all_lanes, self.swept)
        if not left:
            return []
        lines = [f"{len(set(left))} of {len(set(self.all_lanes))} lanes not swept"]
        for name, why in self.lost_why.items():
            lines.append(f"{name} gave up: {why}")
        if not self.lost_why:
            lines.append("no drone was lost: the search was stopped")
        return lines
