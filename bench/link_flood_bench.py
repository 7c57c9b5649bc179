"""Link memory under a UDP flood from new source addresses (issue #18 item 5).

A link is opened as `groundctl fly` opens it (`open_vehicle` on `udpin://127.0.0.1:PORT`, a
`PymavVehicle` tracking its state) with one simulated PX4 (sim.SimFleet, in this process,
at real-time speed) flying its telemetry to it. A separate process then sends N datagrams
(default 100,000), each from a new source address: sockets bound to 127.0.0.2-127.0.0.9
(loopback takes any 127/8 source) on ports 20000-64999, opened in batches, each sending
once and closed. A third of the datagrams are garbage, a third heartbeats claiming the
flying vehicle's system id, a third positions for it.

Resident memory (VmRSS from /proc/self/status, in the link's process) is read after warm-up,
right after the flood and after a settle time. Target: flat within +-20 MB.

Run: .venv/bin/python bench/link_flood_bench.py [--datagrams N] [--root DIR]
(--root: import groundctl from another checkout, e.g. an export of main, for a baseline;
results then go to bench/results/link_flood_<label>.json). Prints a table, writes
bench/results/link_flood.json.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import json
import os
import platform
import socket
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent.parent
HOME = (47.397742, 8.545594, 488.0)

SENDER = r"""
import os, socket, sys, time
os.environ["MAVLINK20"] = "1"
from pymavlink.dialects.v20 import common as m2
port, n = int(sys.argv[1]), int(sys.argv[2])
mav = m2.MAVLink(None, srcSystem=1, srcComponent=1)
hb = m2.MAVLink_heartbeat_message(m2.MAV_TYPE_QUADROTOR, m2.MAV_AUTOPILOT_PX4, 0, 0, 3, 3)
payloads = []
for i in range(n):
    k = i % 3
    if k == 0:
        payloads.append(os.urandom(40))
    elif k == 1:
        payloads.append(hb.pack(mav))
    else:
        pos = m2.MAVLink_global_position_int_message(i, 90000000, 10000000, 0, 0, 0, 0, 0, 0)
        payloads.append(pos.pack(mav))
sent = skipped = 0
addr = 0
BATCH = 500
t0 = time.monotonic()
while sent < n:
    socks = []
    while len(socks) < BATCH and sent + len(socks) < n:
        ip = "127.0.0.%d" % (2 + (addr // 45000) % 8)
        p = 20000 + addr % 45000
        addr += 1
        s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        try:
            s.bind((ip, p))
        except OSError:
            s.close()
            skipped += 1
            continue
        socks.append(s)
    for s in socks:
        s.sendto(payloads[sent], ("127.0.0.1", port))
        s.close()
        sent += 1
    time.sleep(0.03)  # let the link drain its socket: the figure is memory, not loss
print(sent, skipped, addr, round(time.monotonic() - t0, 2))
"""


def rss_mb() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024.0
    return float("nan")


def free_port() -> int:
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


async def run(n: int, settle_s: float) -> dict:
    from groundctl.link import open_vehicle
    from sim import SimFleet

    port = free_port()
    async with SimFleet(
        vehicles=1, autopilot="px4", home=HOME, speedup=1.0, seed=1, gcs_port=port,
        gcs_local_base_port=0, api_base_port=None, api_local_base_port=None, tcp_base_port=None,
    ) as fleet:  # fmt: skip
        v = await open_vehicle(f"udpin://127.0.0.1:{port}", sysid=1, timeout_s=20)
        link = v.link  # type: ignore[attr-defined]
        await v.telemetry.wait_for(lambda s: s.home is not None, 30, "home")
        await asyncio.sleep(3.0)
        gc.collect()
        before = rss_mb()
        msgs0 = link.messages_received
        t0 = time.monotonic()
        proc = await asyncio.create_subprocess_exec(
            sys.executable, "-c", SENDER, str(port), str(n),
            stdout=subprocess.PIPE, env={**os.environ, "PYTHONPATH": ""},
        )  # fmt: skip
        out, _ = await proc.communicate()
        flood_s = time.monotonic() - t0
        await asyncio.sleep(0.5)
        after = rss_mb()
        peak_parsers = len(link._parsers)
        peers = len(link._transport.peers)
        await asyncio.sleep(settle_s)
        gc.collect()
        settled = rss_mb()
        sent, skipped = out.decode().split()[:2]
        st = v.telemetry.state()
        a = fleet.vehicles[0]
        result = {
            "datagrams_sent": int(sent),
            "source_addresses": int(sent),
            "ports_skipped_in_use": int(skipped),
            "messages_decoded": link.messages_received - msgs0,
            "flood_s": round(flood_s, 2),
            "rss_before_mb": round(before, 1),
            "rss_after_mb": round(after, 1),
            "rss_settled_mb": round(settled, 1),
            "rss_growth_mb": round(max(after, settled) - before, 1),
            "parsers_kept": peak_parsers,
            "udp_peers": peers,
            "vehicle_link_ok": st.link_ok,
            "vehicle_reboots_seen": st.reboots,
            "position_is_the_vehicles": bool(
                st.position is not None
                and abs(st.position.lat - a.lat) < 1e-3
                and abs(st.position.lon - a.lon) < 1e-3
            ),
        }
        await v.close()
        return result


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--datagrams", type=int, default=100_000)
    ap.add_argument("--settle-s", type=float, default=5.0)
    ap.add_argument("--root", type=Path, default=HERE, help="checkout to import groundctl from")
    ap.add_argument("--label", default="", help="suffix of the results file (with --root)")
    args = ap.parse_args()
    sys.path.insert(0, str(args.root.resolve()))
    if str(HERE) not in sys.path:
        sys.path.append(str(HERE))
    import logging

    logging.basicConfig(level=logging.CRITICAL)  # the flood's alarms are expected here
    r = asyncio.run(run(args.datagrams, args.settle_s))
    r["target"] = "rss_growth_mb within +-20"
    r["ok"] = abs(r["rss_growth_mb"]) <= 20
    if args.root.resolve() == HERE:
        rev = subprocess.run(
            ["git", "-C", str(HERE), "rev-parse", "--short", "HEAD"], capture_output=True, text=True
        ).stdout.strip()
        r["code"] = f"this checkout at {rev or '?'}"
    else:
        r["code"] = str(args.root)
    r["machine"] = f"{platform.machine()} {os.cpu_count()} cpus, python {platform.python_version()}"
    width = max(len(k) for k in r)
    for k, val in r.items():
        print(f"{k:<{width}}  {val}")
    out = HERE / "bench" / "results" / f"link_flood{'_' + args.label if args.label else ''}.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(r, indent=2) + "\n")
    print(f"wrote {out.relative_to(HERE)}")


if __name__ == "__main__":
    main()
