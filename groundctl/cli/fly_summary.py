"""What `groundctl fly` prints: its tables (plain aligned text with full values when the
output is not a terminal) and the final summary, as a table and, with `--json`, as the one
JSON document `groundctl.fly/1` on stdout (README, "Output").
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from rich.console import Console

from groundctl.cli import output

if TYPE_CHECKING:
    from groundctl.fleet.orchestrator import DroneView, Orchestrator
    from groundctl.fleet.preflight import Check

FLY_SCHEMA_VERSION = 1


@dataclass
class Outcome:
    """How the run ended: `result` is complete, partial, failed or interrupted."""

    result: str
    exit_code: int
    why: list[str] = field(default_factory=list)
    signal: str | None = None
    on_exit: str | None = None  # interrupted: what the drones were told (rtl or leave)
    no_go: dict[str, str] = field(default_factory=dict)  # drone -> failed pre-flight checks


def show(console: Console, table: output.Table) -> None:
    """A table on `console`: fitted to a terminal (never cutting a key column), else plain
    aligned text, full values, one line per row."""
    output.show(console, table)


# ---------------------------------------------------------------------- pre-flight, fleet


def preflight_table(results: Mapping[str, Sequence[Check]]) -> output.Table:
    """The go/no-go table as plain cells (what a pipe or a log gets)."""
    from groundctl.fleet.preflight import is_go

    names = [c.name for c in next(iter(results.values()), ())]
    table = output.Table(
        "Pre-flight: go / no-go",
        [
            output.Column("drone", key=True),
            *(output.Column(n) for n in names),
            output.Column("verdict", key=True),
        ],
    )
    for drone, checks in results.items():
        cells = [f"{'ok' if c.ok else 'FAIL'}: {c.detail}" for c in checks]
        table.add_row(drone, *cells, "GO" if is_go(checks) else "NO-GO")
    return table


def final_fleet_table(
    views: Iterable[DroneView],
    swept_fraction: float,
    title: str,
    cameras: Mapping[str, str] | None = None,
    footer: Sequence[str] = (),
) -> tuple[output.Table, list[str]]:
    """The fleet table of `groundctl.fleet.view` as plain cells, for the end of a run (the
    live view stays rich), and the lines under it (the area swept, the footer)."""
    cols = [
        output.Column("drone", key=True),
        output.Column("sysid", priority=3, justify="right"),
        output.Column("phase", priority=1),
        output.Column("mode", priority=2),
        output.Column("battery", priority=1, justify="right"),
        output.Column("sortie", priority=2),
        output.Column("lanes", priority=1, justify="right"),
        output.Column("link", priority=1),
        *([output.Column("camera", priority=2)] if cameras is not None else []),
        output.Column("hits", priority=1, justify="right"),
        output.Column("alt", priority=3, justify="right"),
        output.Column("note", priority=2),
    ]
    table = output.Table(title or None, cols)
    for v in views:
        link = (
            "lost" if not v.link_ok or v.heartbeat_age_s == float("inf") else
            f"ok {v.heartbeat_age_s:.1f}s"
        )  # fmt: skip
        cells = [
            v.name,
            v.sysid or "",
            v.phase,
            v.mode,
            "?" if v.battery_pct is None else f"{v.battery_pct:.0f}%",
            v.job,
            f"{v.lanes_swept}/{v.lanes_total}",
            link,
        ]
        if cameras is not None:
            cells.append(cameras.get(v.name, "-"))
        cells += [v.hits, f"{v.transit_alt_m:.0f} m", v.note]
        table.add_row(*cells)
    return table, [f"area swept: {swept_fraction * 100:3.0f}%", *footer]


# ---------------------------------------------------------------------- the final summary


def summary(
    orch: Orchestrator,
    plan_file: Path,
    db: Path,
    outcome: Outcome,
    elapsed_s: float,
) -> dict[str, Any]:
    """The body of the `groundctl.fly/1` document (see README): the run's outcome from the
    orchestrator's state and the operation database."""
    from groundctl.fleet.journal import plan_digest

    journal = orch.journal
    lanes = sorted(set(orch.all_lanes))
    left = [x for x in lanes if x not in orch.swept]
    swept = len(lanes) - len(left)
    sorties = [s for s in journal.store.sorties() if s.plan_id == journal.plan_id]
    drones = []
    for name, cfg in orch.cfg.items():
        mine = [s for s in sorties if s.detail.get("vehicle") == name]
        flown = {int(x) for s in mine for x in s.detail.get("swept", ())}
        vehicle = orch.vehicles.get(name)
        drones.append(
            {
                "name": name,
                "connection": cfg.connection,
                "sysid": vehicle.sysid if vehicle is not None else cfg.sysid,
                "airframe": cfg.airframe,
                "state": "no-go" if name in outcome.no_go else orch.views[name].phase,
                "sorties": len(mine),
                "lanes_swept": len(flown),
                "reason": orch.lost_why.get(name) or outcome.no_go.get(name),
            }
        )
    hits = journal.store.hits()
    return {
        "operation": orch.fleet.operation,
        "plan": {
            "name": orch.plan.name,
            "file": str(plan_file),
            "digest": plan_digest(journal.plan),
        },
        "database": str(db),
        "result": outcome.result,
        "exit_code": outcome.exit_code,
        "signal": outcome.signal,
        "on_exit": outcome.on_exit,
        "lanes": {
            "total": len(lanes),
            "swept": swept,
            "left": len(left),
            "percent": round(100.0 * swept / len(lanes), 1) if lanes else 100.0,
        },
        "drones": drones,
        "left": {"lanes": left, "why": list(outcome.why)},
        "hits": {
            "total": len(hits),
            "by_class": dict(sorted(Counter(h.target_class for h in hits).items())),
        },
        "elapsed_s": round(elapsed_s, 1),
    }


def summary_table(doc: Mapping[str, Any]) -> output.Table:
    lanes = doc["lanes"]
    table = output.Table(
        f"Summary: {doc['result']}, {lanes['swept']}/{lanes['total']} lanes swept "
        f"({lanes['percent']:g}%) in {doc['elapsed_s']:.0f} s",
        [
            output.Column("drone", key=True),
            output.Column("connection", key=True),
            output.Column("sysid", priority=3, justify="right"),
            output.Column("state", priority=1),
            output.Column("sorties", priority=2, justify="right"),
            output.Column("lanes", priority=2, justify="right"),
            output.Column("reason", priority=1),
        ],
    )
    for d in doc["drones"]:
        table.add_row(
            d["name"], d["connection"], d["sysid"], d["state"], d["sorties"],
            d["lanes_swept"], d["reason"] or "",
        )  # fmt: skip
    hits = doc["hits"]
    if hits["total"]:
        by = ", ".join(f"{n} {c}" for c, n in hits["by_class"].items())
        table.note = f"hits: {hits['total']} ({by})"
    return table


def report(
    console: Console,
    orch: Orchestrator,
    plan_file: Path,
    db: Path,
    outcome: Outcome,
    elapsed_s: float,
    as_json: bool,
) -> int:
    """Print the summary table (on `console`) and, with --json, the document on stdout;
    returns the exit code."""
    doc = summary(orch, plan_file, db, outcome, elapsed_s)
    show(console, summary_table(doc))
    if as_json:
        output.emit_json("fly", doc, FLY_SCHEMA_VERSION)
    return outcome.exit_code
