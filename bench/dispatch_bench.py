"""Dispatch throughput and latency, end to end through a real mosquitto broker.

For each run: a station (`Dispatcher`) submits N hits as fast as the pipeline could hand
them over — each one committed to SQLite (WAL, synchronous=FULL) with its outbox row before
it is sent — and a command-centre `MqttListener` (with automatic receipts) receives them.
Reported: hits per second from the first submission to the last hit received for a burst
(the store's commit rate alone for comparison), and the submit-to-receive latency of 100
more hits offered at 20 per second (a realistic rate). Median of the repeats.

    .venv/bin/python bench/dispatch_bench.py [--hits 1000] [--repeats 3]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path

from rich.console import Console
from rich.table import Table

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests" / "groundctl" / "dispatch"))

from hitgen import make_hit  # noqa: E402
from mosquitto_broker import Mosquitto, make_certs  # noqa: E402

from groundctl.dispatch import (  # noqa: E402
    DispatchConfig,
    Dispatcher,
    MqttConfig,
    MqttListener,
    RetryConfig,
)
from groundctl.dispatch.aio import cancel_and_wait  # noqa: E402
from groundctl.store import Store  # noqa: E402


async def one_run(
    workdir: Path, n: int, tls: bool, paced: int = 100, paced_hz: float = 20.0
) -> dict[str, float]:
    certs = make_certs(workdir / "certs") if tls else None
    users = {"station": "pw-station", "centre": "pw-centre"} if tls else None
    broker = Mosquitto(workdir / "broker", users=users, certs=certs)
    broker.start()
    try:
        extra = (
            {"ca_file": certs.ca, "username": "station", "password": "pw-station"} if certs else {}
        )
        store = Store.open(workdir / "station.sqlite", operation="bench")
        cfg = DispatchConfig(
            mqtt=MqttConfig(url=broker.url, **extra), retry=RetryConfig(initial_s=0.1, max_s=1.0)
        )
        dispatcher = Dispatcher(store, cfg, "bench")
        centre_extra = (
            {"ca_file": certs.ca, "username": "centre", "password": "pw-centre"} if certs else {}
        )
        listener = MqttListener(
            MqttConfig(url=broker.url, **centre_extra), operation="bench", client_id="bench-cc"
        )
        hits = [make_hit(i) for i in range(n)]
        received_at: dict[str, float] = {}
        submitted_at: dict[str, float] = {}
        connected = asyncio.Event()

        async def listen() -> None:
            async for event in listener.events():
                if event.kind == "connected":
                    connected.set()
                elif event.kind == "hit":
                    received_at.setdefault(event.payload["id"], time.perf_counter())
                    if len(received_at) == n:
                        return

        listening = asyncio.create_task(listen())
        running = asyncio.create_task(dispatcher.run())
        await asyncio.wait_for(connected.wait(), 60)
        await dispatcher.wait_connected()

        # Burst: the pipeline hands over hits as fast as the store takes them.
        burst = hits[: n - paced]
        t0 = time.perf_counter()
        for hit in burst:
            submitted_at[hit.id] = time.perf_counter()
            await dispatcher.submit(hit)
        t_submitted = time.perf_counter()
        async with asyncio.timeout(300):
            while len(received_at) < len(burst):
                await asyncio.sleep(0.01)
        t_end = time.perf_counter()
        # Paced: a realistic rate (hits are rare), for the latency a coordinator sees.
        for hit in hits[n - paced :]:
            submitted_at[hit.id] = time.perf_counter()
            await dispatcher.submit(hit)
            await asyncio.sleep(1.0 / paced_hz)
        await asyncio.wait_for(listening, 300)
        await cancel_and_wait(running)
        await dispatcher.close()
        latencies = sorted(received_at[h.id] - submitted_at[h.id] for h in hits[n - paced :])
        store.close()

        # The store alone: how fast hits can be made durable.
        with Store.open(workdir / "commit-only.sqlite", operation="bench") as s:
            c0 = time.perf_counter()
            for hit in hits:
                s.upsert_hit(hit, sinks=["mqtt"])
            commit_rate = n / (time.perf_counter() - c0)
        return {
            "hits_per_s": len(burst) / (t_end - t0),
            "submit_per_s": len(burst) / (t_submitted - t0),
            "store_commits_per_s": commit_rate,
            "latency_median_ms": 1000 * statistics.median(latencies),
            "latency_p95_ms": 1000 * latencies[int(0.95 * (len(latencies) - 1))],
        }
    finally:
        broker.kill()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--hits", type=int, default=1000, help="burst hits + 100 paced")
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    console = Console()
    results = {}
    for tls in (False, True):
        label = "mqtts + password" if tls else "mqtt"
        runs = []
        for r in range(args.repeats):
            with tempfile.TemporaryDirectory(prefix="dispatch-bench-") as d:
                runs.append(asyncio.run(one_run(Path(d), args.hits + 100, tls)))
            console.print(f"{label} run {r + 1}: {runs[-1]['hits_per_s']:.0f} hits/s")
        results[label] = {k: statistics.median(run[k] for run in runs) for k in runs[0]}

    table = Table(
        title=f"dispatch through mosquitto: burst of {args.hits} hits, then 100 at 20/s (median of {args.repeats})"
    )
    for col in (
        "transport",
        "hits/s end to end",
        "submit/s",
        "store commits/s",
        "latency median ms @20/s",
        "p95 ms @20/s",
    ):
        table.add_column(col, justify="right")
    for label, m in results.items():
        table.add_row(
            label,
            f"{m['hits_per_s']:.0f}",
            f"{m['submit_per_s']:.0f}",
            f"{m['store_commits_per_s']:.0f}",
            f"{m['latency_median_ms']:.1f}",
            f"{m['latency_p95_ms']:.1f}",
        )
    console.print(table)
    out = ROOT / "bench" / "results" / "dispatch.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(
        json.dumps({"hits": args.hits, "repeats": args.repeats, "results": results}, indent=2)
    )
    console.print(f"wrote {out.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
