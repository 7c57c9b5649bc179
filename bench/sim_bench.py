"""How fast can the simulator run? Highest speedup held with 1, 3 and 10 vehicles.

For each fleet size, runs the fleet (all telemetry streams on, one ground socket receiving
every vehicle's GCS link, every vehicle flying an orbit for the whole trial) at increasing
speedups for a few wall seconds each, and reports the highest speedup whose achieved
simulated/wall ratio stayed within 5 % of the target, plus the CPU time per vehicle per
wall second at that speedup.

Then a long search as a user runs it (`--search`, on by default): the bench valley
(configs/areas/valley_3km2.geojson) planned for 3 drones with a boson640_8.7mm at 80 m (two
sorties each), flown with `groundctl fly --sim 3 --speedup 20`; reported: lanes swept, exit
code, sorties per drone, sorties cut short by a low battery, battery swaps, wall time.
Writes bench/results/sim.json.

    .venv/bin/python bench/sim_bench.py [--seconds 4] [--sizes 1,3,10] [--no-search]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import math
import re
import statistics
import time
from pathlib import Path

from sim.airframe import Airframe
from sim.fleet import SimFleet

HOME = (47.397742, 8.545594, 488.0)
SPEEDUPS = (1, 5, 10, 20, 40, 60, 100, 150, 200, 300, 500, 1000)
RESULTS = Path(__file__).resolve().parent / "results" / "sim.json"


class _Sink(asyncio.DatagramProtocol):
    """The ground side: receives (and counts) every datagram, like a GCS socket."""

    def __init__(self) -> None:
        self.packets = 0

    def datagram_received(self, data: bytes, addr: tuple[str, int]) -> None:
        self.packets += 1


async def _run(n: int, speedup: float, seconds: float) -> dict[str, float]:
    loop = asyncio.get_running_loop()
    sink = _Sink()
    transport, _ = await loop.create_datagram_endpoint(lambda: sink, local_addr=("127.0.0.1", 0))
    port = transport.get_extra_info("sockname")[1]
    try:
        async with SimFleet(
            vehicles=n,
            autopilot="px4",
            # A long-endurance quad: no battery failsafe may land it during a fast trial.
            airframe=Airframe(name="bench_quad", endurance_min=600.0),
            home=HOME,
            speedup=speedup,
            seed=1,
            gcs_port=port,
            gcs_local_base_port=0,
            api_base_port=None,
            api_local_base_port=0,
            gps_warmup_s=0.0,
        ) as fleet:
            await asyncio.sleep(0.3)
            for v in fleet.vehicles:
                assert v.command(400, [1, 0, 0, 0, 0, 0, 0]) == 0, v.statustexts[-3:]
                v.command(22, [0, 0, 0, math.nan, math.nan, math.nan, HOME[2] + 30])
            # Orbits keep every vehicle flying (and its physics busy) for the whole trial.
            for i, v in enumerate(fleet.vehicles):
                lat = HOME[0] + 0.01 * math.cos(i)
                lon = HOME[1] + 0.01 * math.sin(i)
                assert v.command(34, [200, 10, 0, math.nan, lat, lon, HOME[2] + 40]) == 0
            sim0, wall0, cpu0 = fleet.sim_time_s, time.monotonic(), time.process_time()
            pk0 = sink.packets
            await asyncio.sleep(seconds)
            sim1, wall1, cpu1 = fleet.sim_time_s, time.monotonic(), time.process_time()
            return {
                "vehicles": n,
                "target": speedup,
                "achieved": (sim1 - sim0) / (wall1 - wall0),
                "cpu_per_vehicle": (cpu1 - cpu0) / (wall1 - wall0) / n,
                "packets_per_s": (sink.packets - pk0) / (wall1 - wall0),
            }
    finally:
        transport.close()


async def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seconds", type=float, default=4.0, help="wall seconds per trial")
    ap.add_argument("--sizes", default="1,3,10")
    ap.add_argument("--search", action=argparse.BooleanOptionalAction, default=True)
    args = ap.parse_args()
    sizes = [int(s) for s in args.sizes.split(",")]
    rows = []
    for n in sizes:
        best = None
        for s in SPEEDUPS:
            r = await _run(n, s, args.seconds)
            held = r["achieved"] >= 0.95 * s
            print(
                f"  {n:>2} vehicles  target {s:>4}x  achieved {r['achieved']:7.1f}x  "
                f"cpu/vehicle {100 * r['cpu_per_vehicle']:5.1f} %  "
                f"{r['packets_per_s']:7.0f} pkt/s  {'held' if held else 'NOT held'}",
                flush=True,
            )
            if not held:
                break
            best = r
        rows.append(
            {
                "vehicles": n,
                "max_speedup_held": best["target"] if best else 0,
                "achieved_at_max": round(best["achieved"], 1) if best else 0,
                "cpu_per_vehicle_pct": round(100 * best["cpu_per_vehicle"], 1) if best else None,
                "gcs_packets_per_s": round(best["packets_per_s"]) if best else None,
            }
        )
    print()
    print(f"{'vehicles':>8} {'max speedup held':>17} {'CPU per vehicle':>16} {'GCS pkt/s':>10}")
    for r in rows:
        print(
            f"{r['vehicles']:>8} {r['max_speedup_held']:>16}x {r['cpu_per_vehicle_pct']:>15}% "
            f"{r['gcs_packets_per_s']:>10}"
        )
    held = [r["max_speedup_held"] for r in rows]
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(
        json.dumps(
            {
                "benchmark": "sim",
                "cores": __import__("os").cpu_count(),
                "trial_seconds": args.seconds,
                "rows": rows,
                "valley_search": search_trial() if args.search else None,
                "median_max_speedup": statistics.median(held) if held else 0,
                "note": "CPU per vehicle is process CPU time / wall time / vehicles at the "
                "highest speedup held (1.0 = one full core); measured on a shared, noisy machine",
            },
            indent=2,
        )
    )
    print(f"wrote {RESULTS}")


def search_trial() -> dict[str, object]:
    """Plan and fly the bench valley on the simulator, as `groundctl` users would."""
    import subprocess
    import sys
    import tempfile

    from groundctl.store import Store

    root = Path(__file__).resolve().parent.parent
    with tempfile.TemporaryDirectory() as tmp:
        cli = [sys.executable, "-m", "groundctl"]
        plan = [*cli, "plan", str(root / "configs/areas/valley_3km2.geojson"), "--camera",
                "boson640_8.7mm", "--alt", "80", "--drones", "3", "-o", "valley.json"]  # fmt: skip
        subprocess.run(plan, cwd=tmp, check=True, capture_output=True)
        t0 = time.monotonic()
        fly = [*cli, "fly", "valley.json", "--sim", "3", "--speedup", "20", "--no-live",
               "--db", "op.sqlite"]  # fmt: skip
        r = subprocess.run(fly, cwd=tmp, capture_output=True, text=True, timeout=3600)
        wall = time.monotonic() - t0
        store = Store.open(Path(tmp) / "op.sqlite")
        sorties = [x for x in store.sorties() if x.role == "search"]
        cut = [x for x in sorties if str(x.detail.get("end_reason", "")).startswith("low battery")]
        swept = re.search(r"(\d+)% of lanes swept", r.stdout)
        out = {
            "exit_code": r.returncode,
            "lanes_swept_pct": int(swept.group(1)) if swept else None,
            "sorties": len(sorties),
            "sorties_per_drone": sorted(
                sum(1 for x in sorties if x.sysid == i) for i in {x.sysid for x in sorties}
            ),
            "cut_by_low_battery": len(cut),
            "battery_swaps": len([e for e in store.events() if e.kind == "battery_swap"]),
            "wall_s": round(wall),
        }
        store.close()
    print("\nvalley search (3 drones, boson640_8.7mm, 80 m, --sim 3 --speedup 20):")
    for k, v in out.items():
        print(f"  {k:>20}: {v}")
    return out


if __name__ == "__main__":
    asyncio.run(main())
