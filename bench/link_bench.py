"""Link-layer benchmark.

1. Mission upload time for 100 and 1000 items at 0% and 20% packet loss (both directions),
   against the simulator (sim.SimFleet, PX4 flavour) over loopback UDP. Median of repeats.
2. Telemetry messages decoded per second with 1 and 10 vehicles: real simulator telemetry is
   captured once, then replayed as fast as possible from a separate process (one UDP socket
   per vehicle) into a `MavLink` with a `PymavVehicle` per vehicle, so the figure is the
   link's decode + routing + state-tracking capacity, not the simulator's send rate. For
   reference, the same replay into pymavlink's own blocking `mavutil` receive loop.

Run: .venv/bin/python bench/link_bench.py [--quick]. Prints a table, writes bench/results/link.json.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import math
import os
import platform
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from groundctl.link.link import MavLink  # noqa: E402
from groundctl.link.pymav import PymavVehicle  # noqa: E402
from sim import SimFleet  # noqa: E402

HOME = (47.397742, 8.545594, 488.0)


def mission(n: int) -> list[dict]:
    return [
        {
            "seq": i,
            "frame": 6,
            "command": 16,
            "params": (0, 0, 0, math.nan),
            "x": round((HOME[0] + 0.00005 * (i // 2)) * 1e7),
            "y": round((HOME[1] + (0.0004 if i % 4 in (1, 2) else 0.0)) * 1e7),
            "z": 40.0,
        }
        for i in range(n)
    ]


async def bench_upload(n_items: int, loss_pct: float, repeats: int) -> dict:
    link = await MavLink.open("udpin://127.0.0.1:0", heartbeat_timeout_s=5.0)
    times: list[float] = []
    try:
        async with SimFleet(
            vehicles=1,
            autopilot="px4",
            home=HOME,
            speedup=1,
            seed=1,
            gcs_port=link.local_port,
            gcs_local_base_port=0,
            api_base_port=None,
            api_local_base_port=0,
            tcp_base_port=0,
        ) as fleet:
            v = PymavVehicle(link, await link.wait_vehicle(1, 20))
            fleet.vehicles[0].faults.loss_pct = loss_pct
            items = mission(n_items)
            for _ in range(repeats):
                t0 = time.perf_counter()
                await v.mission.upload(items)
                times.append(time.perf_counter() - t0)
                assert len(fleet.vehicles[0].plans[0]) == n_items
            await v.close()
    finally:
        await link.close()
    return {
        "items": n_items,
        "loss_pct": loss_pct,
        "median_s": statistics.median(times),
        "runs_s": times,
    }


async def capture(n_vehicles: int, seconds: float) -> dict[int, list[bytes]]:
    """Datagrams the simulator sends to a GCS, per vehicle (sysid), as raw bytes."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.bind(("127.0.0.1", 0))
    sock.setblocking(False)
    port = sock.getsockname()[1]
    by_addr: dict[tuple[str, int], list[bytes]] = {}
    async with SimFleet(
        vehicles=n_vehicles,
        autopilot="px4",
        home=HOME,
        speedup=5,
        seed=1,
        gcs_port=port,
        gcs_local_base_port=0,
        api_base_port=None,
        api_local_base_port=0,
        tcp_base_port=0,
    ):
        loop = asyncio.get_running_loop()
        end = time.monotonic() + seconds
        while time.monotonic() < end:
            try:
                data, addr = await asyncio.wait_for(loop.sock_recvfrom(sock, 65536), 0.5)
            except TimeoutError:
                continue
            by_addr.setdefault(addr, []).append(data)
    sock.close()
    # Keep only frames after each vehicle's first (so the replay starts clean), keyed 1..n.
    return {i + 1: frames for i, frames in enumerate(by_addr.values())}


REPLAYER = r"""
import json, socket, sys, time
port, path, seconds = int(sys.argv[1]), sys.argv[2], float(sys.argv[3])
streams = [[bytes.fromhex(h) for h in s] for s in json.load(open(path))]
socks = [socket.socket(socket.AF_INET, socket.SOCK_DGRAM) for _ in streams]
end = time.monotonic() + seconds
i = 0
while time.monotonic() < end:
    for s, frames in zip(socks, streams):
        for _ in range(20):
            s.sendto(frames[i % len(frames)], ("127.0.0.1", port))
            i += 1
    time.sleep(0)
"""


def replay_process(port: int, streams: list[list[bytes]], seconds: float) -> subprocess.Popen:
    fd, path = tempfile.mkstemp(suffix=".json")
    with os.fdopen(fd, "w") as f:
        json.dump([[b.hex() for b in s] for s in streams], f)
    return subprocess.Popen([sys.executable, "-c", REPLAYER, str(port), path, str(seconds)])


async def bench_decode(streams: list[list[bytes]], seconds: float) -> float:
    link = await MavLink.open("udpin://127.0.0.1:0", heartbeat_timeout_s=5.0)
    proc = replay_process(link.local_port, streams, seconds + 1.0)
    try:
        vehicles = []
        for sysid in range(1, len(streams) + 1):
            vehicles.append(PymavVehicle(link, await link.wait_vehicle(sysid, 10)))
        await asyncio.sleep(0.5)
        n0, t0 = link.messages_received, time.perf_counter()
        await asyncio.sleep(seconds)
        rate = (link.messages_received - n0) / (time.perf_counter() - t0)
        for v in vehicles:
            await v.close()
        return rate
    finally:
        proc.wait()
        await link.close()


def bench_mavutil(streams: list[list[bytes]], seconds: float) -> float:
    os.environ["MAVLINK20"] = "1"
    from pymavlink import mavutil

    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    conn = mavutil.mavlink_connection(f"udpin:127.0.0.1:{port}", source_system=255)
    proc = replay_process(port, streams, seconds + 1.0)
    count = 0
    stop = threading.Event()

    def run() -> None:
        nonlocal count
        while not stop.is_set():
            if conn.recv_match(blocking=True, timeout=0.2) is not None:
                count += 1

    th = threading.Thread(target=run, daemon=True)
    th.start()
    time.sleep(0.5)
    n0, t0 = count, time.perf_counter()
    time.sleep(seconds)
    rate = (count - n0) / (time.perf_counter() - t0)
    stop.set()
    th.join()
    proc.wait()
    conn.close()
    return rate


async def main() -> None:
    # The telemetry replay loops a capture, so uptimes jump back: not reboots worth logging.
    logging.disable(logging.WARNING)
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("--quick", action="store_true", help="one repeat, shorter telemetry runs")
    args = ap.parse_args()
    repeats = 1 if args.quick else 3
    secs = 1.5 if args.quick else 3.0

    uploads = []
    for n in (100, 1000):
        for loss in (0.0, 20.0):
            # One run for the lossy rows: they are slow (the simulated vehicle re-requests a
            # lost item after 0.4 s) and their spread is reported by the loss itself.
            r = await bench_upload(n, loss, 1 if loss else repeats)
            uploads.append(r)
            print(f"upload {n:5d} items, {loss:4.0f}% loss: {r['median_s']:7.2f} s", flush=True)

    frames = await capture(10, 3.0)
    telemetry = []
    for n in (1, 10):
        streams = [frames[i] for i in sorted(frames)[:n]]
        # Median of three: the machine is shared and noisy.
        ours = statistics.median([await bench_decode(streams, secs) for _ in range(3)])
        ref = statistics.median([bench_mavutil(streams, secs) for _ in range(3)])
        telemetry.append({"vehicles": n, "msgs_per_s": ours, "mavutil_thread_msgs_per_s": ref})
        print(
            f"telemetry {n:2d} vehicles: {ours:9.0f} msg/s (mavutil thread: {ref:9.0f} msg/s)",
            flush=True,
        )

    print()
    print("| mission upload | 0% loss | 20% loss |")
    print("| --- | --- | --- |")
    for n in (100, 1000):
        row = {r["loss_pct"]: r["median_s"] for r in uploads if r["items"] == n}
        print(f"| {n} items | {row[0.0]:.2f} s | {row[20.0]:.2f} s |")
    print()
    print(
        "| telemetry decode | groundctl.link (asyncio, per-vehicle state) | pymavlink mavutil (thread, decode only) |"
    )
    print("| --- | --- | --- |")
    for t in telemetry:
        print(
            f"| {t['vehicles']} vehicle(s) | {t['msgs_per_s']:.0f} msg/s | {t['mavutil_thread_msgs_per_s']:.0f} msg/s |"
        )

    out = ROOT / "bench" / "results" / "link.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(
        json.dumps(
            {
                "bench": "link",
                "machine": {"python": platform.python_version(), "cpus": os.cpu_count()},
                "note": "upload against sim.SimFleet (PX4) over loopback UDP, loss on both directions; telemetry = real sim frames replayed at full speed from another process",
                "upload": uploads,
                "telemetry": telemetry,
            },
            indent=1,
        )
    )
    print(f"\nwrote {out.relative_to(ROOT)}")


if __name__ == "__main__":
    asyncio.run(main())
