"""Thermal renderer throughput: can the simulator feed three drones at 9 Hz (>= 30 frames/s)?

Three measurements on every shipped scenario, 640x512 frames of the H20T camera flying a
sweep at 60 m over the search area:

1. one renderer, nadir camera, frames rendered back to back (median ms per frame -> fps);
2. the same with the gimbal at -45 deg (longer rays, more terrain stepping), and at -20 deg
   (rays skimming the slopes: the slow case of the terrain search);
3. three renderers in three threads at once, as three simulated drones run (aggregate fps);

and end to end: three `CameraPayload` frame streams at 9 Hz on loopback ports, each with a
client reading frames, for a few seconds (frames received per second per vehicle).

Run: .venv/bin/python bench/render_bench.py [--frames N] [--stream-seconds S]
Writes bench/results/render.json.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import statistics
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from groundctl import config  # noqa: E402
from sim.world import CameraPayload, Renderer, World, load_scenario  # noqa: E402
from thermal.frame import Gimbal, Pose  # noqa: E402
from thermal.framing import read_frame  # noqa: E402

SCENARIOS = sorted((ROOT / "configs" / "scenarios").glob("*.yaml"))
TARGET_FPS = 30.0


def sweep(world: World, n: int, pitch_deg: float, alt_agl_m: float = 60.0) -> list[Pose]:
    """Poses along an S-pattern over the area's bounding box."""
    lo, hi = world.area_xy.min(axis=0), world.area_xy.max(axis=0)
    s = np.linspace(0, 1, n)
    lanes = 4
    lane = np.minimum((s * lanes).astype(int), lanes - 1)
    along = (s * lanes) % 1.0
    along = np.where(lane % 2 == 0, along, 1 - along)
    x = lo[0] + (hi[0] - lo[0]) * (lane + 0.5) / lanes
    y = lo[1] + (hi[1] - lo[1]) * along
    lat, lon = world.frame.to_wgs84(x, y)
    yaw = np.where(lane % 2 == 0, 0.0, 180.0)
    return [
        Pose(
            lat=float(a), lon=float(b), alt_agl_m=alt_agl_m, yaw_deg=float(c),
            gimbal=Gimbal(pitch_deg=pitch_deg),
        )
        for a, b, c in zip(lat, lon, yaw, strict=True)
    ]  # fmt: skip


def time_frames(renderer: Renderer, poses: list[Pose]) -> list[float]:
    renderer.render(poses[0], 0)  # warm up
    out = []
    for i, pose in enumerate(poses, 1):
        t0 = time.perf_counter()
        renderer.render(pose, i)
        out.append(time.perf_counter() - t0)
    return out


def parallel_fps(world: World, camera, poses: list[Pose], workers: int = 3) -> float:
    renderers = [Renderer(world, camera, seed=k) for k in range(workers)]
    for r in renderers:
        r.render(poses[0], 0)

    def run(k: int) -> None:
        for i, pose in enumerate(poses, 1):
            renderers[k].render(pose, i)

    t0 = time.perf_counter()
    with ThreadPoolExecutor(workers) as pool:
        list(pool.map(run, range(workers)))
    return workers * len(poses) / (time.perf_counter() - t0)


class _Sweep:
    """A pose source flying the sweep in real time."""

    def __init__(self, poses: list[Pose], rate_hz: float) -> None:
        self.poses_list, self.rate, self.t0 = poses, rate_hz, time.monotonic()

    def poses(self) -> tuple[Pose, Pose, float]:
        i = int((time.monotonic() - self.t0) * self.rate) % len(self.poses_list)
        p = self.poses_list[i]
        return p, p, time.time()


async def stream_rates(world: World, camera, seconds: float, rate_hz: float = 9.0) -> list[float]:
    poses = sweep(world, 200, -90.0)
    payloads = [
        CameraPayload(
            world, camera, _Sweep(poses, rate_hz), vehicle_id=k + 1, port=0, rate_hz=rate_hz
        )
        for k in range(3)
    ]
    for p in payloads:
        await p.start()
    counts = [0, 0, 0]

    async def client(k: int) -> None:
        reader, writer = await asyncio.open_connection("127.0.0.1", payloads[k].port)
        await read_frame(reader)  # the first frame: streams are up
        t_end = time.monotonic() + seconds
        try:
            while time.monotonic() < t_end:
                await read_frame(reader)
                counts[k] += 1
        finally:
            writer.close()

    try:
        await asyncio.gather(*(client(k) for k in range(3)))
    finally:
        for p in payloads:
            await p.stop()
    return [c / seconds for c in counts]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--frames", type=int, default=40, help="frames per measurement")
    ap.add_argument("--stream-seconds", type=float, default=6.0)
    args = ap.parse_args()
    camera = config.camera("h20t")
    rows = []
    for path in SCENARIOS:
        t0 = time.perf_counter()
        world = load_scenario(path)
        build_s = time.perf_counter() - t0
        renderer = Renderer(world, camera, seed=1)
        nadir = time_frames(renderer, sweep(world, args.frames, -90.0))
        oblique = time_frames(renderer, sweep(world, args.frames, -45.0))
        shallow = time_frames(renderer, sweep(world, max(args.frames // 2, 5), -20.0))
        par = parallel_fps(world, camera, sweep(world, max(args.frames // 2, 5), -90.0))
        rows.append(
            {
                "scenario": path.stem,
                "grid": f"{world.grid.cols}x{world.grid.rows}@{world.grid.res_m:g}m",
                "build_s": round(build_s, 2),
                "nadir_ms_median": round(statistics.median(nadir) * 1000, 1),
                "nadir_ms_p90": round(float(np.percentile(nadir, 90)) * 1000, 1),
                "nadir_fps": round(1 / statistics.median(nadir), 1),
                "oblique45_ms_median": round(statistics.median(oblique) * 1000, 1),
                "oblique45_fps": round(1 / statistics.median(oblique), 1),
                "shallow20_ms_median": round(statistics.median(shallow) * 1000, 1),
                "three_threads_fps": round(par, 1),
            }
        )
        r = rows[-1]
        print(
            f"{r['scenario']:<24} {r['grid']:>18} build {r['build_s']:5.2f}s | "
            f"nadir {r['nadir_ms_median']:5.1f} ms ({r['nadir_fps']:5.1f} fps, p90 "
            f"{r['nadir_ms_p90']:5.1f}) | -45deg {r['oblique45_ms_median']:5.1f} ms "
            f"({r['oblique45_fps']:5.1f} fps) | -20deg {r['shallow20_ms_median']:5.1f} ms | "
            f"3 threads {r['three_threads_fps']:5.1f} fps",
            flush=True,
        )
    world = load_scenario(ROOT / "configs" / "scenarios" / "ditch_rain_night.yaml")
    rates = asyncio.run(stream_rates(world, camera, args.stream_seconds))
    print(
        f"\nend to end: 3 payload streams at 9 Hz over TCP, received "
        f"{', '.join(f'{r:.1f}' for r in rates)} frames/s per vehicle "
        f"({sum(rates):.1f} total, target 27)"
    )
    worst = min(r["nadir_fps"] for r in rows)
    print(f"slowest scenario, one thread, nadir: {worst:.1f} fps (target >= {TARGET_FPS:g})")
    result = {
        "benchmark": "render",
        "frame": "640x512 (h20t)",
        "machine": {"cpus": os.cpu_count(), "python": platform.python_version(),
                    "load_avg_1m": round(os.getloadavg()[0], 2)},
        "target_fps": TARGET_FPS,
        "scenarios": rows,
        "stream_9hz_x3_fps_per_vehicle": [round(r, 2) for r in rates],
        "slowest_nadir_fps": worst,
    }  # fmt: skip
    out = ROOT / "bench" / "results" / "render.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(result, indent=2) + "\n")
    print(f"wrote {out.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
