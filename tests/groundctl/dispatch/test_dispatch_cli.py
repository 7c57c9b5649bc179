"""`groundctl dispatch listen`: the real CLI in a subprocess against a real broker."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import threading
import time

from hitgen import make_hit

from groundctl.dispatch import DispatchConfig, Dispatcher, MqttConfig, RetryConfig
from groundctl.dispatch.aio import cancel_and_wait
from groundctl.store import Store

FAST = RetryConfig(initial_s=0.1, max_s=1.0)


async def publish_hits(tmp_path, broker_url: str, n: int, **mqtt) -> Store:
    """A station publishes `n` hits (retained, so a listener started later gets them)."""
    store = Store.open(tmp_path / "station.sqlite", operation="ridge")
    cfg = DispatchConfig(mqtt=MqttConfig(url=broker_url, **mqtt), retry=FAST, station="gs-1")
    dispatcher = Dispatcher(store, cfg, "ridge")
    task = asyncio.create_task(dispatcher.run())
    for i in range(1, n + 1):
        dispatcher.submit_hit(make_hit(i))
    async with asyncio.timeout(60):
        while store.pending_count("mqtt"):
            await asyncio.sleep(0.05)
    await cancel_and_wait(task)
    await dispatcher.close()
    return store


def station_receiving(store: Store, dispatcher_cfg: DispatchConfig):
    """Run a station (its ack subscription) in a thread while the CLI runs."""
    stop = threading.Event()

    async def run() -> None:
        dispatcher = Dispatcher(store, dispatcher_cfg, "ridge")
        task = asyncio.create_task(dispatcher.run())
        while not stop.is_set():
            await asyncio.sleep(0.05)
        await cancel_and_wait(task)
        await dispatcher.close()

    thread = threading.Thread(target=asyncio.run, args=(run(),), daemon=True)
    thread.start()
    return stop, thread


def wait_until(predicate, timeout_s: float = 60.0) -> None:
    deadline = time.monotonic() + timeout_s
    while not predicate():
        assert time.monotonic() < deadline, "condition not reached in time"
        time.sleep(0.05)


def desk_key(tmp_path, run_cli, desk: str):
    """A key made with `groundctl dispatch keygen`, as a coordinator would."""
    key = tmp_path / f"{desk}.key"
    made = run_cli("dispatch", "keygen", str(key), "--desk", desk)
    assert made.returncode == 0, made.stderr
    assert f"ack_keys: {{{desk}: {key}}}" in made.stdout
    return key


async def test_listen_prints_hits_saves_chips_and_receipts(tmp_path, broker, run_cli):
    store = await publish_hits(tmp_path, broker.url, 2)
    key = desk_key(tmp_path, run_cli, "desk-7")
    stop, thread = station_receiving(
        store,
        DispatchConfig(mqtt=MqttConfig(url=broker.url), retry=FAST, ack_keys={"desk-7": key}),
    )
    try:
        result = await asyncio.to_thread(
            run_cli,
            "dispatch", "listen", "--mqtt", broker.url, "--operation", "ridge",
            "--count", "2", "--operator", "desk-7", "--client-id", "cc-test",
            env={"GROUNDCTL_NO_STDIN": "1"},
        )  # fmt: skip
        assert result.returncode == 0, result.stderr
        out = result.stdout
        assert "hit-0001" in out and "hit-0002" in out and "person" in out
        assert f"{make_hit(1).lat:.7f}" in out
        chip = tmp_path / "chips" / "ridge" / "hit-0001-r1.png"
        assert chip.read_bytes() == make_hit(1).chip_png
        # the automatic receipts reached the station
        wait_until(lambda: {a.hit_id for a in store.acks()} == {"hit-0001", "hit-0002"})
        assert {a.by for a in store.acks()} == {"desk-7"}
        # ...unsigned (this listener has no key): recorded, but not the hits' status
        assert {(a.identity, a.authorised) for a in store.acks()} == {("", False)}
        assert store.hit("hit-0001").status is None

        sent = await asyncio.to_thread(
            run_cli,
            "dispatch", "listen", "--mqtt", broker.url, "--operation", "ridge",
            "--ack", "hit-0002=found:conscious, hypothermic", "--operator", "desk-7",
            "--ack-key", str(key),
        )  # fmt: skip
        assert sent.returncode == 0, sent.stderr
        assert "sent hit-0002: found" in sent.stdout
        wait_until(lambda: store.hit("hit-0002").status == "found")
        assert store.acks("hit-0002")[-1].note == "conscious, hypothermic"
        assert store.hit("hit-0002").ack.identity == "key:desk-7"
    finally:
        stop.set()
        thread.join(timeout=30)
    store.close()


async def test_listen_interactive_acknowledgement(tmp_path, broker, run_cli):
    store = await publish_hits(tmp_path, broker.url, 1)
    key = desk_key(tmp_path, run_cli, "desk-2")
    stop, thread = station_receiving(
        store,
        DispatchConfig(mqtt=MqttConfig(url=broker.url), retry=FAST, ack_keys={"desk-2": key}),
    )
    env = {**os.environ, "HOME": str(tmp_path), "COLUMNS": "200", "PYTHONUNBUFFERED": "1"}
    env.pop("GROUNDCTL_CONFIG", None)
    proc = subprocess.Popen(
        [sys.executable, "-m", "groundctl", "dispatch", "listen", "--mqtt", broker.url,
         "--operator", "desk-2", "--no-receipt", "--ack-key", str(key)],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        cwd=tmp_path, env=env,
    )  # fmt: skip
    lines: list[str] = []
    reader = threading.Thread(target=lambda: lines.extend(iter(proc.stdout.readline, "")))
    reader.start()
    try:
        await asyncio.to_thread(wait_until, lambda: any("hit-0001" in line for line in lines))
        proc.stdin.write("1 dispatched team Bravo, ETA 20 min\n")
        proc.stdin.flush()
        await asyncio.to_thread(
            wait_until, lambda: store.hit("hit-0001").status == "team_dispatched"
        )
        ack = store.acks("hit-0001")[-1]
        assert (ack.by, ack.note) == ("desk-2", "team Bravo, ETA 20 min")
        # the listener shows acknowledgements too (its own, echoed by the broker)
        await asyncio.to_thread(
            wait_until,
            lambda: any("team_dispatched by desk-2 (signed with key desk-2)" in ln for ln in lines),
        )
        proc.stdin.write("1 maybe\n")
        proc.stdin.flush()
        await asyncio.to_thread(
            wait_until, lambda: any("unknown acknowledgement 'maybe'" in line for line in lines)
        )
    finally:
        proc.terminate()
        proc.wait(timeout=30)
        reader.join(timeout=10)
        stop.set()
        thread.join(timeout=30)
    store.close()


def test_listen_wrong_password_is_one_line_error(tls_broker, certs, run_cli):
    result = run_cli(
        "dispatch", "listen", "--mqtt", tls_broker.url, "--ca-file", str(certs.ca),
        "--username", "centre", "--password", "wrong", "--count", "1",
    )  # fmt: skip
    assert result.returncode == 2
    assert result.stderr.startswith("groundctl: error: MQTT broker mqtts://127.0.0.1:")
    assert "refused the login of user 'centre'" in result.stderr
    assert "Traceback" not in result.stderr


def test_listen_without_broker_or_bad_ack_says_how_to_fix(run_cli):
    result = run_cli("dispatch", "listen")
    assert result.returncode == 2 and "--mqtt" in result.stderr
    result = run_cli(
        "dispatch", "listen", "--mqtt", "mqtt://127.0.0.1:1", "--operation", "x",
        "--ack", "hit-1=maybe",
    )  # fmt: skip
    assert result.returncode == 2
    assert "unknown acknowledgement 'maybe'" in result.stderr


async def test_ack_signed_with_the_config_files_own_desk_key(tmp_path, broker, run_cli):
    """`dispatch.sign_acks_as` in the config file: no --ack-key needed on every command."""
    store = await publish_hits(tmp_path, broker.url, 1)
    key = tmp_path / "web-1.key"
    assert run_cli("dispatch", "keygen", str(key), "--desk", "web-1").returncode == 0
    user = tmp_path / "centre.yaml"
    user.write_text(
        f"dispatch:\n  mqtt: {{url: '{broker.url}'}}\n"
        f"  sign_acks_as: {{desk: web-1, key_file: '{key}'}}\n"
    )
    stop, thread = station_receiving(
        store,
        DispatchConfig(mqtt=MqttConfig(url=broker.url), retry=FAST, ack_keys={"web-1": key}),
    )
    try:
        sent = await asyncio.to_thread(
            run_cli, "--config", str(user), "dispatch", "listen", "--operation", "ridge",
            "--ack", "hit-0001=found",
        )  # fmt: skip
        assert sent.returncode == 0, sent.stderr
        wait_until(lambda: store.hit("hit-0001").status == "found")
        assert store.hit("hit-0001").ack.identity == "key:web-1"
    finally:
        stop.set()
        thread.join(timeout=30)
    store.close()
