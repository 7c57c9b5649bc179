"""The fleet's journal in the operation database (`groundctl.store`).

Every command sent and every event heard goes in, and each sortie's state (which lanes, which
are swept, the mission's content hash, flying or landed), so that a restarted `groundctl fly`
knows which drones are in the air doing what, and reattaches without re-uploading.

Fleet-specific facts live in the store's `sorties.detail` JSON: ``vehicle`` (fleet name),
``job`` (stable job id), ``lanes``, ``swept``, ``mission_hash``, ``sortie`` (the flown
`missions.plan.Sortie` as JSON, so a rebuilt sortie survives a restart too).
"""

from __future__ import annotations

import hashlib
import json
import time
from collections.abc import AsyncIterator, Callable, Iterable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from groundctl.fleet.sortie import Job
from groundctl.store import Store
from missions.plan import Plan, Sortie

ACTIVE = ("uploading", "flying", "returning", "overwatch")


@dataclass(frozen=True)
class ActiveSortie:
    """A sortie the journal says was in progress when the last ground station stopped."""

    sortie_id: int
    vehicle: str
    sysid: int
    job: Job
    status: str
    swept: frozenset[int]
    mission_hash: str


def plan_digest(plan: Plan) -> str:
    return hashlib.sha256(plan.to_json(indent=None).encode()).hexdigest()[:16]


# Events a pilot must see as they happen, whatever the output mode (besides every warning,
# error and critical one): one line each through `Journal.notify`.
ANNOUNCED = frozenset(
    {"reassigned", "sortie_end", "battery_swap", "reattached", "vehicle_recovered", "orphan_lanes"}
)


class Journal:
    """The operation's record. `notify`, when set, gets one line per announced event and per
    failed command (the CLI prints them above the live table, or alone with --no-live)."""

    def __init__(self, store: Store, plan: Plan) -> None:
        self.store = store
        self.plan = plan
        self.notify: Callable[[str], None] | None = None
        self.names: dict[int, str] = {}
        digest = plan_digest(plan)
        name = f"{plan.name or 'plan'}#{digest}"
        existing = [p for p in store.plans() if p.name == name]
        self.plan_id = (
            existing[-1].id if existing else store.add_plan(name, json.loads(plan.to_json(None)))
        )

    @classmethod
    def open(cls, path: Path, operation: str, plan: Plan) -> Journal:
        return cls(Store.open(path, operation=operation), plan)

    def close(self) -> None:
        self.store.close()

    # ---------------------------------------------------------------- sorties
    def add_job(self, job: Job, vehicle: str, sysid: int, mission_hash: str) -> int:
        return self.store.add_sortie(
            sysid,
            plan_id=self.plan_id,
            segment=str(job.sortie.segment),
            role=job.role,
            status="uploading",
            detail={
                "vehicle": vehicle,
                "job": job.id,
                "lanes": list(job.lanes),
                "swept": [],
                "mission_hash": mission_hash,
                "sortie": json.loads(job.sortie.model_dump_json()),
            },
        )

    def update_job(
        self,
        sortie_id: int,
        status: str | None = None,
        swept: Iterable[int] | None = None,
        progress: float | None = None,
        **detail: Any,
    ) -> None:
        kw: dict[str, Any] = {}
        if status is not None:
            kw["status"] = status
            now = time.time()
            if status == "flying":
                kw["started_at"] = now
            elif status in ("done", "landed", "lost", "aborted"):
                kw["ended_at"] = now
        if progress is not None:
            kw["progress"] = min(1.0, max(0.0, progress))
        if swept is not None:
            detail["swept"] = sorted(swept)
        if detail:
            kw["detail"] = detail
        self.store.update_sortie(sortie_id, **kw)

    def swept_lanes(self) -> set[int]:
        """Every lane any sortie of this plan has swept."""
        out: set[int] = set()
        for s in self.store.sorties():
            if s.plan_id == self.plan_id:
                out.update(int(x) for x in s.detail.get("swept", ()))
        return out

    def active(self) -> list[ActiveSortie]:
        out = []
        for s in self.store.sorties():
            if s.plan_id != self.plan_id or s.status not in ACTIVE or "sortie" not in s.detail:
                continue
            d = s.detail
            out.append(
                ActiveSortie(
                    sortie_id=s.id,
                    vehicle=str(d["vehicle"]),
                    sysid=s.sysid,
                    job=Job(str(d["job"]), Sortie.model_validate(d["sortie"]), s.role),
                    status=s.status,
                    swept=frozenset(int(x) for x in d.get("swept", ())),
                    mission_hash=str(d.get("mission_hash", "")),
                )
            )
        return out

    # ---------------------------------------------------------------- commands, events
    @asynccontextmanager
    async def command(
        self, sysid: int, command: str, params: dict[str, Any] | None = None
    ) -> AsyncIterator[dict[str, Any]]:
        """Journal a command around its execution: the result is ACCEPTED, or the error."""
        cid = self.store.record_command(sysid, command, params or {})
        extra: dict[str, Any] = {}
        try:
            yield extra
        except BaseException as exc:
            self.store.record_command_result(cid, f"FAILED: {exc}"[:500], extra)
            if isinstance(exc, Exception):
                self._say(sysid, f"{command} failed: {exc}")
            raise
        self.store.record_command_result(cid, "ACCEPTED", extra)

    def event(
        self,
        kind: str,
        message: str = "",
        *,
        sysid: int | None = None,
        severity: str = "info",
        sortie_id: int | None = None,
        announce: bool = True,
        **data: Any,
    ) -> None:
        """Record an event; announce it (`notify`) if it is a warning or worse or one of
        `ANNOUNCED`, unless `announce` is False (the caller says it itself)."""
        self.store.record_event(
            kind, message, sysid=sysid, severity=severity, sortie_id=sortie_id, data=data
        )
        if not announce:
            return
        if severity in ("warning", "error", "critical") or kind in ANNOUNCED:
            self._say(sysid, f"{kind.replace('_', ' ')}{': ' + message if message else ''}")

    def _say(self, sysid: int | None, text: str) -> None:
        if self.notify is None:
            return
        who = self.names.get(sysid, f"sysid {sysid}") if sysid is not None else "fleet"
        line = " ".join(f"{time.strftime('%H:%M:%S')} {who}: {text}".split())
        self.notify(line)
