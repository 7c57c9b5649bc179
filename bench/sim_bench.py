"""How fast can the simulator run? Highest speedup held with 1, 3 and 10 vehicles.

For each fleet size, runs the fleet (all telemetry streams on, one ground socket receiving
every vehicle's GCS link, every vehicle flying an orbit for the whole trial) at increasing
speedups for a few wall seconds each, and reports the highest speedup whose achieved
simulated/wall ratio stayed within 5 % of the target, plus the CPU time per vehicle per
wall second at that speedup. Writes bench/results/sim.json.

    .venv/bin/python bench/sim_bench.py [--seconds 4] [--sizes 1,3,10]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import math
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
                "median_max_speedup": statistics.median(held) if held else 0,
                "note": "CPU per vehicle is process CPU time / wall time / vehicles at the "
                "highest speedup held (1.0 = one full core); measured on a shared, noisy machine",
            },
            indent=2,
        )
    )
    print(f"wrote {RESULTS}")


if __name__ == "__main__":
    asyncio.run(main())
