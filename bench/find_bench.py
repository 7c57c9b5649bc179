"""Time to find: how soon a missing person is first under a camera, plan against plan.

For each bench area, lost-person category and last-known point (the searchable point nearest
the area's centroid, and two more drawn at random inside it, seeded), persons are placed by
the category's ISRID ring model (`missions.poa.RingModel`, conditioned on being in the
searchable area). Three drones (h20t, 40 m swath, 10 m/s, 30 min battery, one launch point)
fly, each sortie after the last with no wait for the battery swap:

* ours: sections from the last-known point, swept ring by ring, sorties by POA x POD / time;
* ours without POA: the same planner given no last-known point or subject (bare sections);
* lawnmower: one QGC-style survey of the whole area (one lane direction, lanes in row
  order, links routed round holes), its route cut into three time-balanced pieces, each
  cut into sorties by battery.

A drone's position is followed along its waypoints at its speed, with a stop-and-go
(speed / acceleration) at every corner and the climb at the start of each sortie; a person
is found when the drone passes within half the footprint width. Reported: the mean and
90th-percentile time to find (persons never under a camera count as not found, and are
left out of the times), and ours / lawnmower.

Run: .venv/bin/python bench/find_bench.py [--persons N]. Writes bench/results/find.json.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
import time
from pathlib import Path

import numpy as np
import shapely

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from missions.area import prepare  # noqa: E402
from missions.assemble import fly_sorties  # noqa: E402
from missions.coverage import best_bearing, lay_lanes  # noqa: E402
from missions.footprint import Camera, footprint  # noqa: E402
from missions.io import read_area  # noqa: E402
from missions.patterns import split_line  # noqa: E402
from missions.plan import Plan  # noqa: E402
from missions.planner import (  # noqa: E402
    Ground,
    PlanRequest,
    assemble_plan,
    default_launch,
    make_plan,
)
from missions.poa import RingModel  # noqa: E402
from missions.route import Router  # noqa: E402
from missions.segment import Track, Vehicle, partition  # noqa: E402
from missions.sweep import SweepLine  # noqa: E402

CAMERA = Camera("h20t", 640, 512, 31.8, 25.6, 30.0)
ALT_M = 40.0 / (2 * math.tan(math.radians(CAMERA.hfov_deg) / 2))
OVERLAP = 0.0
VEHICLE = Vehicle("m350_h20t", speed_ms=10.0, usable_endurance_s=30 * 60, accel_ms2=3.0)
DRONES = 3
AREAS = ("l_shape_hole", "valley_3km2", "big_25km2_10holes")
CATEGORIES = ("dementia", "hiker")
TURN_MARGIN_M = 20.0
STEP_M = 5.0


def lkps(local, n_random: int, rng) -> list[np.ndarray]:
    s = local.searchable
    c = s.centroid
    near = shapely.ops.nearest_points(s, c)[0] if not s.contains(c) else c
    out = [np.array([near.x, near.y])]
    x0, y0, x1, y1 = s.bounds
    while len(out) < 1 + n_random:
        p = rng.uniform([x0, y0], [x1, y1])
        if shapely.contains_xy(s, p[0], p[1]):
            out.append(p)
    return out


def lawnmower(local, req: PlanRequest) -> Plan:
    """One QGC-style survey over the whole area, cut among the drones, then by battery."""
    t0 = time.perf_counter()
    fp = footprint(req.camera, req.alt_agl_m, req.side_overlap)
    ground = Ground.of(local, req.turn_margin_m, req.hole_margin_m)
    parts = sorted(shapely.get_parts(ground.lane_ground), key=lambda p: -p.area)
    bearing = best_bearing(parts[0], ground.flyable, fp.spacing_m)
    lanes = lay_lanes(ground.lane_ground, ground.flyable, fp.spacing_m, bearing)
    # Row order across the whole area, ignoring cells: the survey's transects, back and forth.
    b = math.radians(bearing)
    along = np.array([math.sin(b), math.cos(b)])
    across = np.array([-along[1], along[0]])
    mid = (lanes.p0 + lanes.p1) / 2
    order = np.lexsort((mid @ along, np.round(mid @ across, 1)))
    starts, ends = [], []
    for k, i in enumerate(order):
        a, z = lanes.p0[i], lanes.p1[i]
        if (z - a) @ along < 0:
            a, z = z, a
        if k % 2:
            a, z = z, a
        starts.append(a)
        ends.append(z)
    st, en = np.asarray(starts), np.asarray(ends)
    router = Router(ground.flyable, inset_m=float(np.clip(fp.spacing_m / 4, 2.0, 10.0)))
    links = router.connect(en[:-1], st[1:], ground.transit)
    pts, kinds, ids = [], [], []
    for k in range(len(st)):
        pts += [st[k], en[k]]
        kinds += ["lane_start", "lane_end"]
        ids += [k, k]
        if k + 1 < len(st):
            mid_pts = links[k][1:-1]
            outside = not bool(router.visible(links[k][:-1], links[k][1:]).all())
            if outside and not len(mid_pts):
                mid_pts = (links[k][:1] + links[k][-1:]) / 2
            pts.extend(mid_pts)
            kinds += ["transit" if outside else "turn"] * len(mid_pts)
            ids += [None] * len(mid_pts)
    line = SweepLine(np.asarray(pts), kinds, ids, st, en, 0, (bearing,))
    launch_xy = np.repeat(default_launch(local)[None], len(req.vehicles), axis=0)
    track = Track.from_polyline(line.xy)
    got = partition(track, launch_xy, list(req.vehicles), req.alt_agl_m, sorties=True)
    assert got is not None
    pieces = split_line(line, [(float(track.s[a]), float(track.s[b])) for a, b in got[0]])
    flown = [
        fly_sorties(p, launch_xy[i], req.vehicles[i], req.alt_agl_m, ground.transit)
        if p is not None
        else []
        for i, p in enumerate(pieces)
    ]
    return assemble_plan(ground, req, fp, pieces, flown, launch_xy, None, t0)


def find_times(plan: Plan, local, persons: np.ndarray, v: Vehicle) -> np.ndarray:
    """First time (s) each person is within half the footprint width of a drone."""
    half = plan.camera.footprint_w_m / 2
    best = np.full(len(persons), np.inf)
    tree = shapely.STRtree(shapely.points(persons))
    for seg in plan.segments:
        t = 0.0
        for s in seg.sorties:
            xy = local.frame.latlon_to_xy(
                [s.launch] + [(w.lat, w.lon) for w in s.waypoints] + [s.launch]
            )
            d = np.linalg.norm(np.diff(xy, axis=0), axis=1)
            keep = d > 1e-6
            a, b, d = xy[:-1][keep], xy[1:][keep], d[keep]
            ang = np.arctan2(b[:, 1] - a[:, 1], b[:, 0] - a[:, 0])
            corner = np.r_[0, np.abs((np.diff(ang) + np.pi) % (2 * np.pi) - np.pi) > np.radians(20)]
            leg_t = d / v.speed_ms + corner * v.turn_penalty_s
            t_start = t + plan.camera.alt_agl_m / v.climb_rate_ms + np.r_[0, np.cumsum(leg_t)[:-1]]
            for i in range(len(a)):
                n = max(int(d[i] // STEP_M), 1)
                u = np.linspace(0, 1, n + 1)
                pts = a[i] + (b[i] - a[i]) * u[:, None]
                ts = t_start[i] + corner[i] * v.turn_penalty_s + u * d[i] / v.speed_ms
                pi, si = tree.query(shapely.points(pts), predicate="dwithin", distance=half)
                if len(pi):
                    np.minimum.at(best, si, ts[pi])
            t += s.est_time_s
    return best


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--persons", type=int, default=1500)
    ap.add_argument("--random-lkps", type=int, default=2)
    ap.add_argument("--areas", nargs="*", default=AREAS)
    args = ap.parse_args()
    rng = np.random.default_rng(2024)
    rows = []
    head = (
        f"{'area':<18} {'subject':<9} {'lkp':>3} {'ours min':>8} {'p90':>6} {'noPOA':>7} {'p90':>6} "
        f"{'mower':>7} {'p90':>6} {'ours/mower':>10} {'found%':>6}"
    )
    print(
        f"{DRONES} drones, h20t 40 m swath at {ALT_M:.0f} m, {VEHICLE.speed_ms:g} m/s, "
        f"{VEHICLE.usable_endurance_s / 60:g} min battery, {args.persons} persons per case"
    )
    print(head)
    print("-" * len(head))
    base = dict(
        camera=CAMERA,
        alt_agl_m=ALT_M,
        side_overlap=OVERLAP,
        vehicles=(VEHICLE,) * DRONES,
        turn_margin_m=TURN_MARGIN_M,
    )
    for name in args.areas:
        local = prepare(read_area(ROOT / "configs" / "areas" / f"{name}.geojson"))
        mower = lawnmower(local, PlanRequest(**base))
        bare = make_plan(local, PlanRequest(**base))
        for li, lkp_xy in enumerate(lkps(local, args.random_lkps, rng)):
            lkp = tuple(float(x) for x in local.frame.xy_to_latlon(lkp_xy)[0])
            for cat in CATEGORIES:
                model = RingModel.isrid(lkp_xy, cat)
                persons = model.sample(rng, args.persons, local.searchable)
                ours = make_plan(local, PlanRequest(**base, lkp=lkp, subject=cat))
                res = {}
                for label, plan in (("ours", ours), ("no_poa", bare), ("lawnmower", mower)):
                    t = find_times(plan, local, persons, VEHICLE)
                    ok = np.isfinite(t)
                    res[label] = {
                        "mean_min": float(t[ok].mean() / 60),
                        "p90_min": float(np.percentile(t[ok], 90) / 60),
                        "found_pct": float(100 * ok.mean()),
                    }
                ratio = res["ours"]["mean_min"] / res["lawnmower"]["mean_min"]
                row = {
                    "area": name,
                    "subject": cat,
                    "lkp": lkp,
                    "lkp_index": li,
                    **res,
                    "ours_over_lawnmower": ratio,
                }
                rows.append(row)
                print(
                    f"{name:<18} {cat:<9} {li:>3} {res['ours']['mean_min']:>8.1f} "
                    f"{res['ours']['p90_min']:>6.1f} {res['no_poa']['mean_min']:>7.1f} "
                    f"{res['no_poa']['p90_min']:>6.1f} {res['lawnmower']['mean_min']:>7.1f} "
                    f"{res['lawnmower']['p90_min']:>6.1f} {ratio:>10.2f} "
                    f"{res['ours']['found_pct']:>6.1f}"
                )
    summary = {}
    for cat in CATEGORIES:
        r = [x["ours_over_lawnmower"] for x in rows if x["subject"] == cat]
        summary[f"{cat}_mean_ratio"] = float(np.mean(r))
        summary[f"{cat}_max_ratio"] = float(np.max(r))
    print("summary: " + ", ".join(f"{k} {v:.2f}" for k, v in summary.items()))
    out = ROOT / "bench" / "results" / "find.json"
    out.write_text(
        json.dumps(
            {
                "setup": {
                    "drones": DRONES,
                    "swath_m": 40.0,
                    "alt_m": ALT_M,
                    "speed_ms": VEHICLE.speed_ms,
                    "usable_endurance_s": VEHICLE.usable_endurance_s,
                    "persons": args.persons,
                    "battery_swap_s": 0,
                    "detect_within_m": 20.0,
                },
                "target": "mean time to find <= 0.6 x lawnmower (dementia, hiker; 3 drones)",
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
