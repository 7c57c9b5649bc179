"""The coordinator's map under load: 10 simulated drones at 10 Hz and 1000 hits.

A real `groundctl serve` (its own process) flies 10 simulated PX4 drones (in this process,
over real MAVLink sockets, as the vehicles of a fleet file) with 1000 hits already in the
operation database, and Debian's chromium shows the page. Measured:

* page load: from navigation to the page drawn with all 1000 hits (the first snapshot
  applied), median and worst of `--loads` loads;
* latency: from a drone's state leaving the link layer in the server (the moment
  `Telemetry.subscribe` yields it, stamped `t_link`) to the browser receiving it, over
  `--seconds` of flight (p50, p95, max), and the states per second the browser got;
* server CPU: user + system time of the server process over the same window, in % of one
  core (the link, the orchestrator and the web server together).

Targets: p95 latency <= 250 ms, page load <= 1 s, server CPU <= 25 % of one core.

    .venv/bin/python bench/web_bench.py [--drones 10] [--hits 1000] [--seconds 30]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

import httpx
import yaml
from rich.console import Console
from rich.table import Table

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from groundctl import config  # noqa: E402
from groundctl.store import Store  # noqa: E402
from sim.fleet import SimFleetThread  # noqa: E402
from tests.groundctl.dispatch.hitgen import make_hit  # noqa: E402
from tests.web.conftest import CHROMIUM, CHROMIUM_ARGS, start_server, stop_server  # noqa: E402

HOME = (47.3955, 8.5500)
TARGETS = {"latency_p95_ms": 250.0, "page_load_s": 1.0, "server_cpu_pct": 25.0}


def square(lat: float, lon: float, size_m: float) -> dict:
    dlat, dlon = size_m / 111_200.0, size_m / 75_300.0
    ring = [[lon, lat], [lon + dlon, lat], [lon + dlon, lat + dlat], [lon, lat + dlat], [lon, lat]]
    return {"type": "Polygon", "coordinates": [ring]}


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def percentile(values: list[float], q: float) -> float:
    s = sorted(values)
    return s[min(len(s) - 1, max(0, round(q / 100 * (len(s) - 1))))]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--drones", type=int, default=10)
    ap.add_argument("--hits", type=int, default=1000)
    ap.add_argument("--seconds", type=float, default=30.0)
    ap.add_argument("--loads", type=int, default=5)
    ap.add_argument("--speedup", type=float, default=2.0)
    args = ap.parse_args()
    console = Console()
    tmp = Path(tempfile.mkdtemp(prefix="web-bench-"))
    db = tmp / "bench.sqlite"
    with Store.open(db, operation="bench") as store:
        for i in range(args.hits):
            store.upsert_hit(make_hit(i))
    from playwright.sync_api import sync_playwright

    # Position at 5 Hz and attitude at 10 Hz simulated: at speedup 2 every drone's state
    # changes at least 10 times a second, and the server passes on at most 10 a second.
    with SimFleetThread(
        vehicles=args.drones,
        airframe=config.airframe("mavic3t"),
        home=(*HOME, 400.0),
        speedup=args.speedup,
        gcs_port=None,
        api_base_port=0,
        home_spacing_m=5.0,
    ) as sim:
        fleet = {
            "operation": "bench",
            "vehicles": [
                {"name": f"d{i + 1}", "connection": v.ports.api_url, "sysid": v.sysid,
                 "airframe": "mavic3t"}
                for i, v in enumerate(sim.vehicles)
            ],
        }  # fmt: skip
        (tmp / "fleet.yaml").write_text(yaml.safe_dump(fleet))
        server = start_server(tmp, "--db", str(db), "--fleet", str(tmp / "fleet.yaml"))
        try:
            result = measure(server, args, console, sync_playwright)
        finally:
            stop_server(server)
    table = Table(title=f"web map: {args.drones} drones at 10 Hz, {args.hits} hits")
    for col in ("measure", "value", "target"):
        table.add_column(col, justify="right" if col != "measure" else "left")
    table.add_row("page load median", f"{result['page_load_median_s']:.3f} s", "")
    table.add_row("page load worst", f"{result['page_load_s']:.3f} s", "<= 1 s")
    table.add_row("state latency p50", f"{result['latency_p50_ms']:.0f} ms", "")
    table.add_row("state latency p95", f"{result['latency_p95_ms']:.0f} ms", "<= 250 ms")
    table.add_row("state latency max", f"{result['latency_max_ms']:.0f} ms", "")
    table.add_row("states received", f"{result['states_per_s']:.0f} /s", f"{args.drones * 10} /s")
    table.add_row("server CPU", f"{result['server_cpu_pct']:.1f} %", "<= 25 %")
    console.print(table)
    ok = all(result[k] <= v for k, v in TARGETS.items())
    out = ROOT / "bench" / "results" / "web.json"
    out.write_text(
        json.dumps(
            {
                "drones": args.drones,
                "hits": args.hits,
                "seconds": args.seconds,
                "targets": TARGETS,
                "met": ok,
                "results": result,
            },
            indent=2,
        )
        + "\n"
    )
    console.print(f"wrote {out.relative_to(ROOT)}; targets {'met' if ok else 'NOT met'}")


def measure(server, args, console, sync_playwright) -> dict:
    base = server.base
    with httpx.Client(base_url=base, timeout=120) as c, sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        page = browser.new_page(viewport={"width": 1400, "height": 900})
        loads = []
        for _ in range(args.loads):
            page.goto(base)
            page.wait_for_function("window.gc && gc.readyAt !== null", timeout=60_000)
            assert page.evaluate("gc.hits.hits.size") == args.hits
            loads.append(page.evaluate("gc.readyAt") / 1000.0)
        lat, lon = HOME[0] + 0.001, HOME[1] - 0.004
        plan = c.post(
            "/api/plans",
            json={"area": square(lat, lon, 600), "camera": "h20t", "alt_m": 60,
                  "drones": args.drones, "launches": [list(HOME)], "name": "bench"},
        )  # fmt: skip
        plan.raise_for_status()
        r = c.post("/api/flight", json={"plan_id": plan.json()["id"]})
        r.raise_for_status()
        with console.status("drones taking off..."):
            page.wait_for_function(
                f"[...gc.fleet.drones.values()].filter(d => d.state.in_air).length >= {args.drones}",
                timeout=180_000,
            )
        page.evaluate("gc.latency = []")
        cpu0, t0 = cpu_seconds(server.proc.pid), time.monotonic()
        with console.status(f"measuring for {args.seconds:.0f} s..."):
            time.sleep(args.seconds)
        cpu1, t1 = cpu_seconds(server.proc.pid), time.monotonic()
        latencies = page.evaluate("gc.latency")
        c.delete("/api/flight", params={"on_exit": "leave"})
        browser.close()
    ms = [x * 1000 for x in latencies]
    return {
        "page_load_s": max(loads),
        "page_load_median_s": statistics.median(loads),
        "latency_p50_ms": percentile(ms, 50),
        "latency_p95_ms": percentile(ms, 95),
        "latency_max_ms": max(ms),
        "states": len(ms),
        "states_per_s": len(ms) / (t1 - t0),
        "server_cpu_pct": 100.0 * (cpu1 - cpu0) / (t1 - t0),
    }


if __name__ == "__main__":
    main()
