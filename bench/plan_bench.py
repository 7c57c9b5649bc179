"""Mission planner benchmark: coverage, safety, efficiency, balance, sections and speed.

For every area in configs/areas and 1, 3 and 8 drones, plan with a 40 m camera swath (h20t
at the altitude giving 40 m) and measure the plan independently of the planner, in a UTM
frame (the planner works in AEQD), on what a drone is sent:

* holes m / out m: metres of the uploaded missions' straight legs (`mission_items`:
  take-off at the launch point, every waypoint, and the return-to-launch leg home) inside a
  hole, and (sweep legs) outside the area beyond the turn margin; clear m: the closest any
  of those legs comes to a hole (a turn at a lane end overshoots it by a few metres);
* coverage %: the flown path without the transit legs, buffered by half the footprint
  width, intersected with area - holes, over the searchable area;
* efficiency: lane length / flown length, leaving out only each sortie's legs between the
  launch point and its section (launch to the first sweep waypoint and back);
* balance: longest / mean drone time; LB ratio: longest drone time / lower bound, the bound
  being searchable area / (spacing x speed x drones) plus the shortest launch transit (the
  battery round trips a long search needs are not in it: `lb_batt` adds the fewest);
* sections: each drone's swept ground is one polygon (parts), the convex hulls of different
  drones' sections overlap by `hull ov` of the searchable area, and no transit leg inside a
  sortie crosses another drone's section (`x-sec m`: metres of such legs inside another
  section, shrunk by half a lane spacing); `launch x m` is the same for the legs between
  the launch point and the section, which may cross to reach it;
* planning wall time (and CPU time): median of several runs;
* replan: for 3 drones, tracks that follow the plan (10 m apart, 1 m noise) but with one
  drone lost halfway through its first sortie, or one sortie aborted at a third; `replan`
  for the gaps with the drones left; `replan cover %` is the share of the missed ground
  its sweep (turns included) covers, `again %` the share of its lanes' footprint on ground
  already covered, against `own %`, the share of the original plan's sweep that its own
  lanes and turns cover twice.

Run: .venv/bin/python bench/plan_bench.py [--repeat N]. Writes bench/results/plan.json.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import statistics
import sys
import time
from pathlib import Path

import numpy as np
import shapely
from shapely.geometry import Polygon

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from missions.area import prepare  # noqa: E402
from missions.footprint import Camera  # noqa: E402
from missions.geodesy import LocalFrame  # noqa: E402
from missions.io import read_area  # noqa: E402
from missions.legcheck import check_plan  # noqa: E402
from missions.plan import (  # noqa: E402
    MAV_CMD_NAV_RETURN_TO_LAUNCH,
    MAV_CMD_NAV_TAKEOFF,
    MAV_CMD_NAV_WAYPOINT,
    Plan,
    mission_items,
)
from missions.planner import PlanRequest, make_plan  # noqa: E402
from missions.segment import Vehicle  # noqa: E402

SWATH_M = 40.0
OVERLAP = 0.0
CAMERA = Camera("h20t", 640, 512, 31.8, 25.6, 30.0)
ALT_M = SWATH_M / (2 * math.tan(math.radians(CAMERA.hfov_deg) / 2))
VEHICLE = Vehicle("m350_h20t", speed_ms=10.0, usable_endurance_s=30 * 60, accel_ms2=3.0)
DRONES = (1, 3, 8)
AREAS = ("rectangle_1km2", "l_shape_hole", "valley_3km2", "concave_1000", "big_25km2_10holes")
TARGETS = {
    "coverage_pct": ">= 99.5",
    "in_holes_m": "0 (exported/uploaded legs, take-off and return included)",
    "hole_clear_m": ">= the hole margin (default 10 m, a quarter of the footprint if less)",
    "outside_m": "0 (beyond the turn margin)",
    "efficiency": ">= 0.90",
    "balance": "<= 1.10",
    "lb_ratio": "<= 1.15",
    "section_parts": "1",
    "hull_overlap": "<= 0.05",
    "cross_section_m": "0",
    "plan_s": "< 1 (25 km²)",
}


def _frame(plan: Plan) -> LocalFrame:
    pts = np.array([p for r in plan.area for p in r])
    return LocalFrame.utm(float(pts[:, 0].mean()), float(pts[:, 1].mean()))


def mission_legs(plan: Plan, frame: LocalFrame) -> list[tuple[int, np.ndarray, list[str]]]:
    """Per sortie: (segment, positions flown in order incl. launch and home, kinds)."""
    out = []
    for s in plan.sorties:
        pos, kinds = [], []
        wps = iter(s.waypoints)
        for it in mission_items(s):
            if it.command in (MAV_CMD_NAV_TAKEOFF, MAV_CMD_NAV_WAYPOINT):
                pos.append((it.x / 1e7, it.y / 1e7))
                kinds.append("launch" if it.command == MAV_CMD_NAV_TAKEOFF else next(wps).kind)
            elif it.command == MAV_CMD_NAV_RETURN_TO_LAUNCH:
                pos.append(s.launch)
                kinds.append("launch")
        out.append((s.segment, frame.latlon_to_xy(pos), kinds))
    return out


def _m(v: float | None) -> str:
    return "-" if v is None else f"{v:.1f}"


def measure(plan: Plan, margin_m: float, speed_ms: float) -> dict[str, float]:
    frame = _frame(plan)
    area = shapely.union_all([Polygon(frame.latlon_to_xy(np.asarray(r))) for r in plan.area])
    holes = shapely.union_all(
        [Polygon(frame.latlon_to_xy(np.asarray(r))) for r in plan.holes] or [Polygon()]
    )
    searchable = shapely.difference(area, holes)
    inner_holes = holes.buffer(-0.05)
    allowed = area.buffer(margin_m + 0.05)
    width, spacing = plan.camera.footprint_w_m, plan.camera.lane_spacing_m
    sections = [
        shapely.union_all([Polygon(frame.latlon_to_xy(np.asarray(r))) for r in seg.outline])
        for seg in plan.segments
    ]
    shrunk = [s.buffer(-spacing / 2) for s in sections]
    sweeps, lane_len, flown_len = [], 0.0, 0.0
    in_holes = outside = cross = launch_cross = 0.0
    clear = math.inf
    for seg_i, xy, kinds in mission_legs(plan, frame):
        legs = shapely.linestrings(np.stack([xy[:-1], xy[1:]], axis=1))
        in_holes += float(shapely.length(shapely.intersection(legs, inner_holes)).sum())
        if not holes.is_empty:
            clear = min(clear, float(shapely.distance(holes, legs).min()))
        sweep_idx = [i for i, k in enumerate(kinds) if k not in ("transit", "launch")]
        if not sweep_idx:
            continue
        a, b = sweep_idx[0], sweep_idx[-1]
        seg_len = np.linalg.norm(np.diff(xy, axis=0), axis=1)
        flown_len += float(seg_len[a:b].sum())
        lane_len += float(
            sum(
                seg_len[i]
                for i in range(a, b)
                if kinds[i] in ("lane_start", "terrain") and kinds[i + 1] in ("lane_end", "terrain")
            )
        )
        inner = [i for i in range(a, b) if "transit" not in (kinds[i], kinds[i + 1])]
        outside += float(shapely.length(shapely.difference(legs[inner], allowed)).sum())
        mid_transit = [i for i in range(a, b) if "transit" in (kinds[i], kinds[i + 1])]
        launch_legs = list(range(0, a)) + list(range(b, len(legs)))
        others = shapely.union_all([s for j, s in enumerate(shrunk) if j != seg_i] or [Polygon()])
        cross += float(shapely.length(shapely.intersection(legs[mid_transit], others)).sum())
        launch_cross += float(shapely.length(shapely.intersection(legs[launch_legs], others)).sum())
        sweeps.append(shapely.LineString(xy[a : b + 1]))
    flown = shapely.MultiLineString([s for s in sweeps if s.length > 0])
    covered = shapely.intersection(flown.buffer(width / 2), searchable)
    times = [seg.stats.est_time_s for seg in plan.segments]
    k = len(plan.segments)
    launches = frame.latlon_to_xy([seg.launch for seg in plan.segments])
    shortest = min(shapely.distance(searchable, shapely.points(launches))) / speed_ms
    sweep_s = searchable.area / (spacing * speed_ms * k)
    lower = sweep_s + shortest
    n_batt = math.ceil(sweep_s / VEHICLE.usable_endurance_s)
    lower_batt = lower + (n_batt - 1) * (2 * shortest + VEHICLE.overhead_s(plan.camera.alt_agl_m))
    hulls = [shapely.convex_hull(s) for s in sections]
    overlap = sum(
        shapely.intersection(hulls[i], hulls[j]).area for i in range(k) for j in range(i + 1, k)
    )
    return {
        "coverage_pct": 100 * covered.area / searchable.area,
        "in_holes_m": in_holes,
        "hole_clear_m": clear if math.isfinite(clear) else None,
        "outside_m": outside,
        "efficiency": lane_len / flown_len if flown_len else 0.0,
        "max_seg_min": max(times) / 60,
        "mean_seg_min": statistics.mean(times) / 60,
        "balance": max(times) / statistics.mean(times),
        "lb_ratio": max(times) / lower,
        "lb_batt_ratio": max(times) / lower_batt,
        "section_parts": max(len(shapely.get_parts(s)) for s in sections),
        "hull_overlap": overlap / searchable.area,
        "cross_section_m": cross,
        "launch_cross_m": launch_cross,
        "sorties": plan.stats.sorties,
        "path_km": plan.stats.length_m / 1000,
    }


def _walk(plan: Plan, frame: LocalFrame, sorties, stop: float, seed: int):
    """A drone's track along its sorties; the last is cut at `stop` of its path."""
    from missions.flown import FlightTrack

    rng = np.random.default_rng(seed)
    t, rows = 0.0, []
    for n, s in enumerate(sorties):
        xy = frame.latlon_to_xy([s.launch] + [(w.lat, w.lon) for w in s.waypoints])
        cum = np.r_[0, np.cumsum(np.linalg.norm(np.diff(xy, axis=0), axis=1))]
        end = cum[-1] * (stop if n == len(sorties) - 1 else 1.0)
        ss = np.arange(0, end, 10.0)
        p = np.column_stack([np.interp(ss, cum, xy[:, 0]), np.interp(ss, cum, xy[:, 1])])
        p += rng.normal(0, 1.0, p.shape)
        ll = frame.xy_to_latlon(p)
        rows.append(np.column_stack([t + ss / 10.0, ll]))
        t += end / 10.0 + 300.0
    a = np.vstack(rows)
    alt = np.full(len(a), plan.camera.alt_agl_m)
    return FlightTrack(a[:, 0], a[:, 1], a[:, 2], alt, np.full(len(a), 10.0))


def _sweep(plan: Plan, frame: LocalFrame, lanes_only: bool = False):
    out = []
    for s in plan.sorties:
        for a, b in zip(s.waypoints[:-1], s.waypoints[1:], strict=True):
            lane = a.kind == "lane_start" and b.kind == "lane_end"
            if "transit" in (a.kind, b.kind) or (lanes_only and not lane):
                continue
            ab = frame.latlon_to_xy([(a.lat, a.lon), (b.lat, b.lon)])
            if np.linalg.norm(ab[1] - ab[0]) > 0.1:
                line = shapely.LineString(ab)
                out.append(line.buffer(plan.camera.footprint_w_m / 2, cap_style="flat"))
    return out


def replan_cases(local, margin: float) -> list[dict]:
    """Lost drone and aborted sortie, 3 drones: how much of the missed ground the replan
    covers and how much it sees twice."""
    from missions.flown import camera_of, flown_coverage, replan

    v = VEHICLE
    req = PlanRequest(CAMERA, ALT_M, 0.1, vehicles=(v,) * 3, turn_margin_m=margin)
    plan = make_plan(local, req)
    frame = local.frame
    segs = plan.segments
    out = []
    for case, last in (("drone lost halfway", (2, 0, 0.5)), ("sortie aborted", (1, 0, 0.33))):
        tracks = []
        for i, seg in enumerate(segs):
            sorties = list(seg.sorties)
            stop = 1.0
            if i == last[0]:
                sorties, stop = sorties[: last[1] + 1], last[2]
                rest = list(seg.sorties)[last[1] + 1 :]
                if case == "sortie aborted" and rest:
                    # The aborted sortie is cut short; the drone flies its other sorties.
                    tracks.append(_walk(plan, frame, rest, 1.0, 10 + i))
            if sorties:
                tracks.append(_walk(plan, frame, sorties, stop, i))
        cov = flown_coverage(plan, [t for t in tracks if len(t.t_s) > 1])
        k = 2 if case == "drone lost halfway" else 3
        rreq = PlanRequest(camera_of(plan), ALT_M, 0.1, vehicles=(v,) * k, turn_margin_m=margin)
        new = replan(plan, cov, rreq)
        sweep = shapely.union_all(_sweep(new, frame)).buffer(0)
        lanes = shapely.union_all(_sweep(new, frame, lanes_only=True))
        own = _sweep(plan, frame)
        out.append(
            {
                "case": case,
                "missed_km2": cov.gaps.area / 1e6,
                "replan_cover_pct": 100
                * shapely.intersection(sweep, cov.gaps).area
                / cov.gaps.area,
                "again_pct": 100 * shapely.intersection(lanes, cov.covered).area / lanes.area,
                "own_overlap_pct": 100
                * (1 - shapely.union_all(own).area / sum(g.area for g in own)),
                "legs_in_holes": len(check_plan(new)),
            }
        )
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeat", type=int, default=3, help="planning runs per case (median)")
    ap.add_argument("--turn-margin", type=float, default=None, help="default: half a spacing")
    ap.add_argument("--areas", nargs="*", default=AREAS)
    args = ap.parse_args()
    spacing = SWATH_M * (1 - OVERLAP)
    margin = spacing / 2 if args.turn_margin is None else args.turn_margin
    rows = []
    head = (
        f"{'area':<18} {'km²':>5} {'K':>2} {'cover%':>6} {'holes m':>7} {'clear m':>7} {'out m':>5} "
        f"{'effic':>5} {'max min':>7} {'bal':>5} {'LB x':>5} {'LBb x':>5} {'parts':>5} "
        f"{'hull ov':>7} {'x-sec m':>7} {'launch x m':>10} {'sort':>4} {'plan ms':>7} {'cpu ms':>6}"
    )
    print(
        f"swath {SWATH_M:g} m (h20t at {ALT_M:.1f} m), side overlap {OVERLAP:.0%}, "
        f"lanes {spacing:g} m, turn margin {margin:g} m, {VEHICLE.speed_ms:g} m/s, "
        f"{VEHICLE.usable_endurance_s / 60:g} min usable battery"
    )
    print(head)
    print("-" * len(head))
    for name in args.areas:
        local = prepare(read_area(ROOT / "configs" / "areas" / f"{name}.geojson"))
        for k in DRONES:
            req = PlanRequest(
                camera=CAMERA,
                alt_agl_m=ALT_M,
                side_overlap=OVERLAP,
                vehicles=(VEHICLE,) * k,
                turn_margin_m=margin,
            )
            walls, cpus = [], []
            plan = None
            for _ in range(args.repeat):
                t0, c0 = time.perf_counter(), time.process_time()
                plan = make_plan(local, req)
                walls.append(time.perf_counter() - t0)
                cpus.append(time.process_time() - c0)
            assert plan is not None
            m = measure(plan, margin, VEHICLE.speed_ms)
            m["plan_s"] = statistics.median(walls)
            m["plan_cpu_s"] = statistics.median(cpus)
            row = {"area": name, "area_km2": local.searchable.area / 1e6, "drones": k, **m}
            rows.append(row)
            print(
                f"{name:<18} {row['area_km2']:>5.2f} {k:>2} {m['coverage_pct']:>6.2f} "
                f"{m['in_holes_m']:>7.2f} {_m(m['hole_clear_m']):>7} {m['outside_m']:>5.1f} "
                f"{m['efficiency']:>5.3f} "
                f"{m['max_seg_min']:>7.1f} {m['balance']:>5.3f} {m['lb_ratio']:>5.2f} "
                f"{m['lb_batt_ratio']:>5.2f} {m['section_parts']:>5} {m['hull_overlap']:>7.3f} "
                f"{m['cross_section_m']:>7.1f} {m['launch_cross_m']:>10.1f} {m['sorties']:>4} "
                f"{m['plan_s'] * 1000:>7.0f} {m['plan_cpu_s'] * 1000:>6.0f}"
            )
    summary = {
        "min_coverage_pct": min(r["coverage_pct"] for r in rows),
        "max_in_holes_m": max(r["in_holes_m"] for r in rows),
        "min_hole_clear_m": min(
            (r["hole_clear_m"] for r in rows if r["hole_clear_m"] is not None), default=None
        ),
        "max_outside_m": max(r["outside_m"] for r in rows),
        "min_efficiency": min(r["efficiency"] for r in rows),
        "max_balance": max(r["balance"] for r in rows),
        "max_lb_ratio": max(r["lb_ratio"] for r in rows),
        "max_lb_batt_ratio": max(r["lb_batt_ratio"] for r in rows),
        "max_section_parts": max(r["section_parts"] for r in rows),
        "max_hull_overlap": max(r["hull_overlap"] for r in rows),
        "max_cross_section_m": max(r["cross_section_m"] for r in rows),
        "max_plan_s_25km2": max(
            (r["plan_s"] for r in rows if r["area"] == "big_25km2_10holes"), default=0.0
        ),
        "max_plan_cpu_s_25km2": max(
            (r["plan_cpu_s"] for r in rows if r["area"] == "big_25km2_10holes"), default=0.0
        ),
        "load_average_1min": os.getloadavg()[0],
    }
    replans = []
    print(
        f"{'area':<18} {'replan case':<20} {'missed km²':>10} {'cover %':>8} {'again %':>8} {'own %':>6}"
    )
    for name in args.areas:
        if name not in ("l_shape_hole", "valley_3km2", "big_25km2_10holes"):
            continue
        local = prepare(read_area(ROOT / "configs" / "areas" / f"{name}.geojson"))
        for r in replan_cases(local, margin):
            replans.append({"area": name, **r})
            print(
                f"{name:<18} {r['case']:<20} {r['missed_km2']:>10.3f} {r['replan_cover_pct']:>8.2f} "
                f"{r['again_pct']:>8.1f} {r['own_overlap_pct']:>6.1f}"
            )
    if replans:
        summary["min_replan_cover_pct"] = min(r["replan_cover_pct"] for r in replans)
        summary["max_replan_again_minus_own_pct"] = max(
            r["again_pct"] - r["own_overlap_pct"] for r in replans
        )
    print("summary: " + ", ".join(f"{k} {v:.3f}" for k, v in summary.items()))
    out = ROOT / "bench" / "results" / "plan.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(
        json.dumps(
            {
                "setup": {
                    "swath_m": SWATH_M,
                    "side_overlap": OVERLAP,
                    "alt_m": ALT_M,
                    "turn_margin_m": margin,
                    "speed_ms": VEHICLE.speed_ms,
                    "usable_endurance_s": VEHICLE.usable_endurance_s,
                    "repeat": args.repeat,
                },
                "targets": TARGETS,
                "summary": summary,
                "cases": rows,
                "replan": replans,
            },
            indent=1,
        ),
        encoding="utf-8",
    )
    print(f"wrote {out.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
