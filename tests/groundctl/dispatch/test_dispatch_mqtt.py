"""MQTT dispatch against a real mosquitto: topics, payloads, acks, TLS, passwords, status."""

from __future__ import annotations

import asyncio
import base64
import contextlib

import aiomqtt
import pytest
from hitgen import chip, make_hit

from groundctl.dispatch import DispatchConfig, Dispatcher, MqttConfig, MqttListener, RetryConfig
from groundctl.dispatch.acksig import load_key, new_key_file
from groundctl.dispatch.aio import cancel_and_wait
from groundctl.errors import DispatchError
from groundctl.store import Store

FAST = RetryConfig(initial_s=0.1, max_s=1.0)


async def collect(listener: MqttListener, sink: list, until, timeout_s: float = 60.0) -> None:
    """Run the listener until `until(events)` holds."""

    async def run() -> None:
        async for event in listener.events(include_duplicates=True):
            sink.append(event)
            if until(sink):
                return

    await asyncio.wait_for(run(), timeout_s)


@contextlib.asynccontextmanager
async def listening(listener: MqttListener):
    """Run the listener in the background; yields its (growing) list of events."""
    events: list = []

    async def run() -> None:
        async for event in listener.events(include_duplicates=True):
            events.append(event)

    task = asyncio.create_task(run())
    try:
        await wait_for(lambda: any(e.kind == "connected" for e in events))
        yield events
    finally:
        await cancel_and_wait(task)


@contextlib.asynccontextmanager
async def running(dispatcher: Dispatcher):
    task = asyncio.create_task(dispatcher.run())
    try:
        yield task
    finally:
        await cancel_and_wait(task)
        await dispatcher.close()


async def wait_for(predicate, timeout_s: float = 60.0) -> None:
    deadline = asyncio.get_running_loop().time() + timeout_s
    while not predicate():
        assert asyncio.get_running_loop().time() < deadline, "condition not reached in time"
        await asyncio.sleep(0.05)


async def test_hit_topic_payload_ack_roundtrip_and_status(tmp_path, broker):
    store = Store.open(tmp_path / "op.sqlite", operation="ridge")
    key = tmp_path / "desk-1.key"
    new_key_file(key)
    cfg = DispatchConfig(
        mqtt=MqttConfig(url=broker.url), retry=FAST, station="gs-1", ack_keys={"desk-1": key}
    )
    dispatcher = Dispatcher(store, cfg, "ridge")
    listener = MqttListener(
        MqttConfig(url=broker.url),
        operation="ridge",
        client_id="cc-1",
        operator="desk-1",
        key=("desk-1", load_key(key)),
    )
    async with running(dispatcher), listening(listener) as events:
        await dispatcher.wait_connected()
        dispatcher.submit_hit(make_hit(7))
        dispatcher.progress({"covered_pct": 12.5, "segments_done": 1})
        dispatcher.vehicle_state(2, lat=46.5, lon=7.9, alt_amsl_m=1500.0, battery_pct=71.0)
        await wait_for(lambda: {e.kind for e in events} >= {"hit", "progress", "vehicle", "status"})
        hit = next(e for e in events if e.kind == "hit")
        assert hit.topic == "groundctl/ridge/hits/hit-0007"
        doc = hit.payload
        assert doc["id"] == "hit-0007" and doc["message_id"] == "hit-0007:1"
        assert doc["class"] == "person" and doc["vehicle"] == 2
        assert doc["lat"] == pytest.approx(make_hit(7).lat, abs=1e-7)
        assert doc["uncertainty_m"] == 6.0 and doc["time"].endswith("Z")
        assert base64.b64decode(doc["chip_png_base64"]) == chip(7)
        progress = next(e for e in events if e.kind == "progress")
        assert progress.payload["covered_pct"] == 12.5
        vehicle = next(e for e in events if e.kind == "vehicle")
        assert vehicle.topic == "groundctl/ridge/vehicles/2/state"
        assert vehicle.payload["battery_pct"] == 71.0
        assert any(e.payload.get("state") == "online" for e in events if e.kind == "status")

        # The automatic receipt and an operator's answer both reach the station's store.
        await wait_for(lambda: [a.status for a in store.acks("hit-0007")] == ["received"])
        sent = await listener.ack("hit-0007", "team_dispatched", note="team Bravo, ETA 20 min")
        await wait_for(lambda: len(store.acks("hit-0007")) == 2)
        stored = store.acks("hit-0007")[-1]
        assert (stored.ack_id, stored.status, stored.by) == (
            sent.ack_id,
            "team_dispatched",
            "desk-1",
        )
        assert stored.note == "team Bravo, ETA 20 min" and stored.message_id == "hit-0007:1"
        assert store.hit("hit-0007").status == "team_dispatched"

        # An update gets a new message id; the same hit again sends nothing.
        assert not dispatcher.submit_hit(make_hit(7)).changed
        dispatcher.submit_hit(make_hit(7, version=2))
        await wait_for(lambda: any(e.kind == "hit" and e.update for e in events))
        update = next(e for e in events if e.kind == "hit" and e.update)
        assert update.payload["message_id"] == "hit-0007:2"
        assert update.payload["sightings"] == 4
    # A clean shutdown says offline (retained), so a late-joining centre sees it.
    async with aiomqtt.Client("127.0.0.1", broker.port) as late:
        await late.subscribe("groundctl/ridge/#")
        seen = {}
        async with asyncio.timeout(20):
            async for m in late.messages:
                seen[str(m.topic)] = m.payload
                if {"groundctl/ridge/status", "groundctl/ridge/hits/hit-0007/ack"} <= seen.keys():
                    break
        assert b'"offline"' in seen["groundctl/ridge/status"]
        assert b"team_dispatched" in seen["groundctl/ridge/hits/hit-0007/ack"]
    store.close()


async def test_tls_with_generated_ca_and_password(tmp_path, tls_broker, certs):
    store = Store.open(tmp_path / "op.sqlite", operation="night")
    station = MqttConfig(
        url=tls_broker.url, ca_file=certs.ca, username="station", password="s3cret-station"
    )
    dispatcher = Dispatcher(store, DispatchConfig(mqtt=station, retry=FAST), "night")
    centre = MqttConfig(
        url=tls_broker.url, ca_file=certs.ca, username="centre", password="s3cret-centre"
    )
    listener = MqttListener(centre, operation="night", client_id="cc-tls")
    events: list = []
    async with running(dispatcher):
        dispatcher.submit_hit(make_hit(1))
        await collect(listener, events, lambda ev: any(e.kind == "hit" for e in ev))
        assert next(e for e in events if e.kind == "hit").payload["id"] == "hit-0001"
        await wait_for(lambda: len(store.acks("hit-0001")) == 1)
    assert "mqtts" in tls_broker.url
    store.close()


async def test_wrong_password_refused_with_clear_error(tmp_path, tls_broker, certs):
    store = Store.open(tmp_path / "op.sqlite", operation="night")
    bad = MqttConfig(url=tls_broker.url, ca_file=certs.ca, username="station", password="nope")
    dispatcher = Dispatcher(store, DispatchConfig(mqtt=bad, retry=FAST), "night")
    with pytest.raises(DispatchError) as err:
        await asyncio.wait_for(dispatcher.run(), 60)
    text = str(err.value)
    assert "refused the login of user 'station'" in text
    assert "bad user name or password" in text and "dispatch.mqtt" in text
    # nothing was lost: the hit waits in the outbox for a corrected password
    dispatcher.submit_hit(make_hit(3))
    assert store.pending_count("mqtt") == 1
    store.close()


async def test_untrusted_broker_certificate_refused(tmp_path, tls_broker, certs):
    store = Store.open(tmp_path / "op.sqlite", operation="night")
    wrong_ca = MqttConfig(
        url=tls_broker.url, ca_file=certs.other_ca, username="station", password="s3cret-station"
    )
    dispatcher = Dispatcher(store, DispatchConfig(mqtt=wrong_ca, retry=FAST), "night")
    with pytest.raises(DispatchError, match="TLS certificate is not trusted"):
        await asyncio.wait_for(dispatcher.run(), 60)
    store.close()


async def test_listener_wrong_password(tls_broker, certs):
    bad = MqttConfig(url=tls_broker.url, ca_file=certs.ca, username="centre", password="x")
    listener = MqttListener(bad, operation="night")
    with pytest.raises(DispatchError, match="refused the login of user 'centre'"):
        async for _ in listener.events():
            pass


async def test_station_queues_while_broker_down_then_delivers(tmp_path, broker):
    """Hits submitted while the broker is down wait in the outbox and go out on reconnect."""
    store = Store.open(tmp_path / "op.sqlite", operation="ridge")
    dispatcher = Dispatcher(
        store, DispatchConfig(mqtt=MqttConfig(url=broker.url), retry=FAST), "ridge"
    )
    listener = MqttListener(MqttConfig(url=broker.url), operation="ridge", client_id="cc-q")
    events: list = []
    async with running(dispatcher):
        await dispatcher.wait_connected()
        broker.kill()
        for i in range(20):
            dispatcher.submit_hit(make_hit(i))
        await asyncio.sleep(0.5)
        assert store.pending_count("mqtt") == 20
        await asyncio.to_thread(broker.start)
        await collect(
            listener,
            events,
            lambda ev: len({e.payload["id"] for e in ev if e.kind == "hit"}) == 20,
        )
        await wait_for(lambda: store.pending_count("mqtt") == 0)
    store.close()


async def test_vehicle_state_rate_limited_latest_wins(tmp_path, broker):
    store = Store.open(tmp_path / "op.sqlite", operation="ridge")
    mqtt = MqttConfig(url=broker.url, state_interval_s=1.0)
    dispatcher = Dispatcher(store, DispatchConfig(mqtt=mqtt, retry=FAST), "ridge")
    listener = MqttListener(MqttConfig(url=broker.url), operation="ridge", client_id="cc-v")
    async with running(dispatcher), listening(listener) as events:
        await dispatcher.wait_connected()
        for k in range(50):  # 50 updates within ~0.5 s
            dispatcher.vehicle_state(3, lat=46.5 + k * 1e-5, lon=7.9, battery_pct=90.0 - k * 0.1)
            await asyncio.sleep(0.01)
        states = lambda: [e.payload for e in events if e.kind == "vehicle"]  # noqa: E731
        await wait_for(lambda: any(s["lat"] == round(46.5 + 49e-5, 7) for s in states()))
        await asyncio.sleep(1.5)
    # the first update went out at once, the latest after the interval; the rest were dropped
    assert 2 <= len(states()) <= 3
    assert states()[0]["lat"] == 46.5
    assert states()[-1]["battery_pct"] == pytest.approx(85.1)
    store.close()


async def test_no_sink_configured_is_the_store_alone(tmp_path):
    store = Store.open(tmp_path / "op.sqlite", operation="ridge")
    dispatcher = Dispatcher(store, DispatchConfig(), "ridge")
    async with running(dispatcher):
        result = await dispatcher.submit(make_hit(1))
        assert result.created and store.hit("hit-0001") is not None
        dispatcher.vehicle_state(1, lat=46.5, lon=7.9)
        dispatcher.progress({"covered_pct": 1.0})
    assert store.outbox() == [] and dispatcher.pending() == 0
    store.close()
