"""A ground station process for the end-to-end tests and the benchmark.

    python ground_station.py DB CONFIG.yaml OPERATION COUNT [RATE_HZ]

Submits the deterministic hit schedule (hitgen) through a real `Dispatcher` — after a
restart it submits the schedule again: hits already stored are unchanged and not re-queued,
while the outbox resumes what the killed process had not delivered. Prints `submitted N`,
then `idle` whenever the outbox is empty; exits cleanly (offline status) on SIGTERM.
"""

from __future__ import annotations

import asyncio
import logging
import signal
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))

from hitgen import make_hit, schedule

from groundctl.dispatch import Dispatcher, load_dispatch_config
from groundctl.dispatch.aio import cancel_and_wait
from groundctl.errors import GroundctlError
from groundctl.store import Store


async def main(db: Path, config: Path, operation: str, count: int, rate_hz: float) -> int:
    store = Store.open(db, operation=operation)
    dispatcher = Dispatcher(store, load_dispatch_config(config), operation)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    loop.add_signal_handler(signal.SIGTERM, stop.set)
    runner = asyncio.create_task(dispatcher.run())

    async def produce() -> None:
        n = 0
        for i, version in schedule(count):
            if dispatcher.submit_hit(make_hit(i, version)).changed:
                n += 1
            if rate_hz > 0:
                await asyncio.sleep(1.0 / rate_hz)
        print(f"submitted {n}", flush=True)
        idle_said = False
        while True:
            idle = dispatcher.pending() == 0
            if idle and not idle_said:
                print("idle", flush=True)
            idle_said = idle
            await asyncio.sleep(0.2)

    producer = asyncio.create_task(produce())
    stopper = asyncio.create_task(stop.wait())
    done, _ = await asyncio.wait({runner, producer, stopper}, return_when=asyncio.FIRST_COMPLETED)
    for task in (producer, stopper):
        task.cancel()
    if runner in done:
        try:
            runner.result()
        except GroundctlError as exc:
            print(f"error: {exc}", file=sys.stderr, flush=True)
            return 2
    await cancel_and_wait(runner)
    await dispatcher.close()
    store.close()
    return 0


if __name__ == "__main__":
    logging.basicConfig(level=logging.WARNING, format="gs %(levelname)s %(message)s")
    args = sys.argv[1:]
    sys.exit(
        asyncio.run(
            main(
                Path(args[0]),
                Path(args[1]),
                args[2],
                int(args[3]),
                float(args[4]) if len(args) > 4 else 0.0,
            )
        )
    )
