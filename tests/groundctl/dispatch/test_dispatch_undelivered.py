"""Nothing hangs and nothing is silently left behind (#18 item 9, dispatch side).

- `dispatch listen --ack` with the broker unreachable stops with one clear line, exit 1;
- a GeoJSON sink given a folder is refused when configured; one that fails at run time
  backs off instead of retrying every second;
- what a run could not deliver is reported (`Dispatcher.undelivered`) with a command that
  exists and sends it: `groundctl dispatch flush --db FILE`.
"""

from __future__ import annotations

import asyncio
import json
import logging
import shlex
import time

import pytest
from hitgen import make_hit

from groundctl.dispatch import (
    DispatchConfig,
    Dispatcher,
    MqttConfig,
    RetryConfig,
    dispatch_config,
)
from groundctl.dispatch.aio import cancel_and_wait
from groundctl.errors import ConfigError
from groundctl.store import Store


def test_ack_with_broker_unreachable_stops_with_one_line(run_cli):
    started = time.monotonic()
    result = run_cli(
        "dispatch", "listen", "--mqtt", "mqtt://127.0.0.1:1", "--operation", "ridge",
        "--ack", "hit-1=found", "--give-up-after", "2",
    )  # fmt: skip
    took = time.monotonic() - started
    assert result.returncode == 1, result.stderr
    assert "Traceback" not in result.stderr
    errors = [ln for ln in result.stderr.splitlines() if ln.startswith("groundctl: error:")]
    assert len(errors) == 1
    assert "could not reach the MQTT broker mqtt://127.0.0.1:1" in errors[0]
    assert "the acknowledgements were not sent" in errors[0]
    assert took < 30


def test_ack_with_a_hostile_hit_id_is_refused(run_cli):
    result = run_cli(
        "dispatch", "listen", "--mqtt", "mqtt://127.0.0.1:1", "--operation", "ridge",
        "--ack", "../../x=found",
    )  # fmt: skip
    assert result.returncode == 2 and "is not an identifier" in result.stderr


async def test_geojson_sink_given_a_folder_is_refused_when_configured(tmp_path):
    folder = tmp_path / "hits"
    folder.mkdir()
    with pytest.raises(ConfigError, match=r"op.yaml: dispatch.geojson_file: .* is a folder"):
        dispatch_config({"geojson_file": str(folder)}, "op.yaml")
    # fly's --hits-geojson sets the field without validation: the Dispatcher checks again
    cfg = DispatchConfig().model_copy(update={"geojson_file": folder})
    with (
        Store.open(tmp_path / "op.sqlite", operation="ridge") as store,
        pytest.raises(ConfigError, match="is a folder"),
    ):
        Dispatcher(store, cfg, "ridge")


async def test_geojson_sink_failing_at_run_time_backs_off(tmp_path, caplog):
    path = tmp_path / "hits.geojson"
    retry = RetryConfig(initial_s=0.05, max_s=0.8)
    store = Store.open(tmp_path / "op.sqlite", operation="ridge")
    dispatcher = Dispatcher(store, DispatchConfig(geojson_file=path, retry=retry), "ridge")
    path.mkdir()  # the file became a folder after the check: every write fails
    caplog.set_level(logging.WARNING, logger="groundctl.dispatch")
    task = asyncio.create_task(dispatcher.run())
    dispatcher.submit_hit(make_hit(1))
    await asyncio.sleep(4.0)
    await cancel_and_wait(task)
    retries = [r for r in caplog.records if "retrying in" in r.getMessage()]
    # without backoff: one try per 0.05 s, ~80 lines; with it: 0.05, 0.1, ... 0.8, 0.8 ...
    assert 3 <= len(retries) <= 10, len(retries)
    assert dispatcher.undelivered() == {f"geojson:{path}": 1}
    store.close()


async def test_undelivered_and_the_flush_command_that_sends_it(tmp_path, broker, run_cli):
    db = tmp_path / "op.sqlite"
    store = Store.open(db, operation="ridge")
    cfg = DispatchConfig(
        mqtt=MqttConfig(url=broker.url), retry=RetryConfig(initial_s=0.1, max_s=0.5)
    )
    dispatcher = Dispatcher(store, cfg, "ridge")
    broker.stop()  # down for the whole "flight"
    task = asyncio.create_task(dispatcher.run())
    for i in range(1, 4):
        dispatcher.submit_hit(make_hit(i))
    await asyncio.sleep(1.0)
    await cancel_and_wait(task)
    await dispatcher.close()
    assert dispatcher.undelivered() == {"mqtt": 3}
    command = dispatcher.flush_command()
    assert command == f"groundctl dispatch flush --db {shlex.quote(str(db))}"
    store.close()

    args = shlex.split(command)[1:]
    # still down: it says what is left and exits 1
    down = await asyncio.to_thread(run_cli, *args, "--timeout", "2")
    assert down.returncode == 1, down.stderr
    assert "mqtt" in down.stdout and "Traceback" not in down.stderr
    # back: the very command sends everything (with the configuration the run used)
    await asyncio.to_thread(broker.start)
    up = await asyncio.to_thread(run_cli, *args, "--json")
    assert up.returncode == 0, up.stderr
    doc = json.loads(up.stdout)
    assert doc["schema"] == "groundctl.dispatch-flush/1"
    assert (doc["operation"], doc["delivered"], doc["left"]) == ("ridge", {"mqtt": 3}, {})
    with Store.open(db) as store:
        assert store.pending_count() == 0


def test_flush_bad_input_is_one_line(run_cli, tmp_path):
    result = run_cli("dispatch", "flush", "--db", str(tmp_path / "missing.sqlite"))
    assert result.returncode == 2 and "no such operation database" in result.stderr
    Store.open(tmp_path / "bare.sqlite", operation="x").close()
    result = run_cli("dispatch", "flush", "--db", str(tmp_path / "bare.sqlite"))
    assert result.returncode == 2 and "--dispatch-config" in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1
