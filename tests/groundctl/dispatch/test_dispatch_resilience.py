"""The acceptance test of dispatch: nothing is lost when the broker or the station dies.

A ground station runs as a real separate process and publishes 500 hits (50 of them updated
to a second revision) through a real mosquitto. While it does, the broker is killed with
SIGKILL and restarted twice, and the station process is killed with SIGKILL and started
again once. A command centre (MqttListener, persistent session) must end up with every hit
at its final revision, each message id handed to it exactly once, and its automatic receipts
and an operator's acknowledgement must be stored by the station.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import subprocess
import sys
import time
from pathlib import Path

import yaml
from hitgen import final_revisions

from groundctl.dispatch import MqttConfig, MqttListener, RetryConfig
from groundctl.dispatch.acksig import load_key, new_key_file
from groundctl.dispatch.aio import cancel_and_wait
from groundctl.store import Store

HERE = Path(__file__).parent
COUNT = 500


def start_station(tmp_path: Path, config: Path, tag: str) -> subprocess.Popen[str]:
    log = open(tmp_path / f"station-{tag}.log", "w")  # noqa: SIM115 - closed with the process
    return subprocess.Popen(
        [
            sys.executable,
            str(HERE / "ground_station.py"),
            str(tmp_path / "station.sqlite"),
            str(config),
            "ridge",
            str(COUNT),
            "60",  # hits per second offered by the thermal pipeline
        ],
        stdout=log,
        stderr=subprocess.STDOUT,
        text=True,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )


async def until(predicate, what: str, timeout_s: float = 90.0) -> None:
    deadline = time.monotonic() + timeout_s
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        await asyncio.sleep(0.05)


async def test_500_hits_survive_broker_and_station_crashes(tmp_path, broker):
    key = tmp_path / "desk-1.key"
    new_key_file(key)
    config = tmp_path / "operation.yaml"
    config.write_text(
        yaml.safe_dump(
            {
                "dispatch": {
                    "station": "gs-ridge",
                    "retry": {"initial_s": 0.1, "max_s": 1.0},
                    "mqtt": {"url": broker.url, "reannounce_s": 3.0},
                    "ack_keys": {"desk-1": str(key)},
                }
            }
        )
    )
    listener = MqttListener(
        MqttConfig(url=broker.url),
        operation="ridge",
        client_id="command-centre",
        operator="desk-1",
        retry=RetryConfig(initial_s=0.1, max_s=1.0),
        key=("desk-1", load_key(key)),
    )
    delivered: list[str] = []  # message ids handed to the application
    statuses: list[str] = []
    disconnects = 0

    async def listen() -> None:
        nonlocal disconnects
        async for event in listener.events():
            if event.kind == "hit":
                delivered.append(event.payload["message_id"])
            elif event.kind == "status":
                statuses.append(event.payload["state"])
            elif event.kind == "disconnected":
                disconnects += 1

    listen_task = asyncio.create_task(listen())
    stations = [start_station(tmp_path, config, "1")]
    try:
        unique = lambda: len(listener.hits)  # noqa: E731

        await until(lambda: unique() >= 100, "100 hits before the first broker crash")
        broker.kill()
        await asyncio.sleep(0.5)
        await asyncio.to_thread(broker.start)

        await until(lambda: unique() >= 220, "220 hits before the station crash")
        offline_before = statuses.count("offline")
        stations[0].kill()  # SIGKILL: no clean shutdown, no offline message of its own
        stations[0].wait(timeout=30)
        # the broker publishes the station's last will
        await until(lambda: statuses.count("offline") > offline_before, "the last will")
        stations.append(start_station(tmp_path, config, "2"))

        await until(lambda: unique() >= 350, "350 hits before the second broker crash")
        broker.kill()
        await asyncio.sleep(0.5)
        await asyncio.to_thread(broker.start)

        expected = final_revisions(COUNT)
        await until(
            lambda: {h: d["revision"] for h, d in listener.hits.items()} == expected,
            "every hit at its final revision",
            timeout_s=120,
        )
        # exactly once per message id, after de-duplication
        assert len(delivered) == len(set(delivered))
        assert set(expected) == set(listener.hits)
        # repeats did reach the listener (re-sends after crashes, retained copies after each
        # re-subscription) and were dropped by message id
        assert listener.duplicates > 0

        # an operator's answer reaches the station's store
        await listener.ack("hit-0123", "found", note="conscious, hypothermic")
        with Store.open(tmp_path / "station.sqlite") as store:

            def acked() -> bool:
                acks = store.acks()
                return {a.hit_id for a in acks if a.status == "received"} == set(expected) and any(
                    a.hit_id == "hit-0123" and a.status == "found" for a in acks
                )

            try:
                await until(acked, "receipts of all hits and the operator's answer", timeout_s=60)
            except AssertionError:
                got = {a.hit_id for a in store.acks() if a.status == "received"}
                missing = sorted(set(expected) - got)
                raise AssertionError(
                    f"{len(missing)} receipts missing, e.g. {missing[:5]}; pending acks at "
                    f"the listener: {listener.pending_acks}"
                ) from None
            assert store.hit("hit-0123").status == "found"
            assert len(store.hits()) == COUNT
            # the store holds every revision's sightings: 3 for version 1, 4 for version 2
            assert store.hit("hit-0010").sighting_count == 4
            await until(lambda: store.pending_count("mqtt") == 0, "an empty outbox")
        assert disconnects >= 2  # the listener did live through both broker crashes
    finally:
        for p in stations:
            if p.poll() is None:
                p.terminate()
                with contextlib.suppress(subprocess.TimeoutExpired):
                    p.wait(timeout=20)
            if p.poll() is None:
                p.kill()
        await cancel_and_wait(listen_task)
    assert stations[-1].returncode == 0, (tmp_path / "station-2.log").read_text()
    print(
        f"\ndelivered {len(delivered)} message ids for {COUNT} hits; "
        f"{listener.duplicates} duplicate deliveries dropped"
    )
