"""Mission planner benchmark: coverage, safety, efficiency, balance and speed.

For every area in configs/areas and 1, 3 and 8 drones, plan with a 40 m camera swath
(h20t at the altitude giving 40 m) and measure the plan independently of the planner:

* coverage %: the whole flown path (lanes, turns, links; not the take-off/return legs)
  buffered by half the footprint width, in a UTM frame (the planner uses AEQD), intersected
  with area - holes, divided by the searchable area;
* metres of that path inside holes, and outside the area beyond the turn margin;
* efficiency: covered area / (path length x footprint width);
* balance: longest / mean segment time;
* planning wall time (and CPU time, which is what the wall time would be on an idle core;
  the machine is shared): median of several runs.

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
from shapely.geometry import LineString, Polygon

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from missions.area import prepare  # noqa: E402
from missions.footprint import Camera  # noqa: E402
from missions.geodesy import LocalFrame  # noqa: E402
from missions.io import read_area  # noqa: E402
from missions.plan import Plan  # noqa: E402
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
    "outside_m": "0 (beyond the turn margin)",
    "efficiency": ">= 0.90",
    "balance": "<= 1.10",
    "plan_s": "< 0.2 (1 km²), < 2 (25 km²)",
}


def measure(plan: Plan, margin_m: float) -> dict[str, float]:
    pts = np.array([p for r in plan.area for p in r])
    frame = LocalFrame.utm(float(pts[:, 0].mean()), float(pts[:, 1].mean()))
    area = shapely.union_all([Polygon(frame.latlon_to_xy(np.asarray(r))) for r in plan.area])
    holes = shapely.union_all(
        [Polygon(frame.latlon_to_xy(np.asarray(r))) for r in plan.holes] or [Polygon()]
    )
    searchable = shapely.difference(area, holes)
    paths = []
    for seg in plan.segments:
        for s in seg.sorties:
            wps = [w for w in s.waypoints if w.kind != "transit"]
            if len(wps) >= 2:
                paths.append(LineString(frame.latlon_to_xy([(w.lat, w.lon) for w in wps])))
            elif wps:
                paths.append(shapely.Point(frame.latlon_to_xy([(wps[0].lat, wps[0].lon)])[0]))
    flown = shapely.MultiLineString([p for p in paths if isinstance(p, LineString)])
    width = plan.camera.footprint_w_m
    covered = shapely.intersection(flown.buffer(width / 2), searchable)
    length = float(flown.length)
    # Inside a hole, not along its edge: 5 cm of tolerance.
    in_holes = float(shapely.intersection(flown, holes.buffer(-0.05)).length)
    allowed = area.buffer(margin_m + 0.05)
    outside = float(shapely.difference(flown, allowed).length)
    times = [seg.stats.est_time_s for seg in plan.segments]
    return {
        "coverage_pct": 100 * covered.area / searchable.area,
        "in_holes_m": in_holes,
        "outside_m": outside,
        "efficiency": covered.area / (length * width),
        "max_seg_min": max(times) / 60,
        "mean_seg_min": statistics.mean(times) / 60,
        "balance": max(times) / statistics.mean(times),
        "sorties": plan.stats.sorties,
        "path_km": length / 1000,
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeat", type=int, default=3, help="planning runs per case (median)")
    ap.add_argument("--turn-margin", type=float, default=None, help="default: half a spacing")
    args = ap.parse_args()
    spacing = SWATH_M * (1 - OVERLAP)
    margin = spacing / 2 if args.turn_margin is None else args.turn_margin
    rows = []
    head = (
        f"{'area':<20} {'km²':>6} {'K':>2} {'cover%':>7} {'holes m':>8} {'out m':>6} "
        f"{'effic':>6} {'max min':>8} {'mean min':>8} {'bal':>5} {'sort':>4} {'plan ms':>8} "
        f"{'cpu ms':>7}"
    )
    print(
        f"swath {SWATH_M:g} m (h20t at {ALT_M:.1f} m), side overlap {OVERLAP:.0%}, "
        f"lanes {spacing:g} m, turn margin {margin:g} m, {VEHICLE.speed_ms:g} m/s, "
        f"{VEHICLE.usable_endurance_s / 60:g} min usable battery"
    )
    print(head)
    print("-" * len(head))
    for name in AREAS:
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
            m = measure(plan, margin)
            m["plan_s"] = statistics.median(walls)
            # CPU time of the planning process: what the wall time would be on an idle core.
            m["plan_cpu_s"] = statistics.median(cpus)
            row = {"area": name, "area_km2": local.searchable.area / 1e6, "drones": k, **m}
            rows.append(row)
            print(
                f"{name:<20} {row['area_km2']:>6.2f} {k:>2} {m['coverage_pct']:>7.2f} "
                f"{m['in_holes_m']:>8.2f} {m['outside_m']:>6.2f} {m['efficiency']:>6.3f} "
                f"{m['max_seg_min']:>8.1f} {m['mean_seg_min']:>8.1f} {m['balance']:>5.3f} "
                f"{m['sorties']:>4} {m['plan_s'] * 1000:>8.0f} {m['plan_cpu_s'] * 1000:>7.0f}"
            )
    summary = {
        "min_coverage_pct": min(r["coverage_pct"] for r in rows),
        "max_in_holes_m": max(r["in_holes_m"] for r in rows),
        "max_outside_m": max(r["outside_m"] for r in rows),
        "min_efficiency": min(r["efficiency"] for r in rows),
        "max_balance": max(r["balance"] for r in rows),
        "max_plan_s_1km2": max(r["plan_s"] for r in rows if r["area"] == "rectangle_1km2"),
        "max_plan_s_25km2": max(r["plan_s"] for r in rows if r["area"] == "big_25km2_10holes"),
        "max_plan_cpu_s_1km2": max(r["plan_cpu_s"] for r in rows if r["area"] == "rectangle_1km2"),
        "max_plan_cpu_s_25km2": max(
            r["plan_cpu_s"] for r in rows if r["area"] == "big_25km2_10holes"
        ),
        "load_average_1min": os.getloadavg()[0],
    }
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
            },
            indent=1,
        ),
        encoding="utf-8",
    )
    print(f"wrote {out.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
