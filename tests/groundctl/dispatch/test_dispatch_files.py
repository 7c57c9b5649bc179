"""GeoJSON file and HTTP webhook sinks, and the `dispatch:` config section."""

from __future__ import annotations

import asyncio
import contextlib
import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import ClassVar

import pytest
from hitgen import make_hit

from groundctl.dispatch import (
    DispatchConfig,
    Dispatcher,
    RetryConfig,
    WebhookConfig,
    load_dispatch_config,
)
from groundctl.dispatch.aio import cancel_and_wait
from groundctl.errors import ConfigError
from groundctl.store import Store

FAST = RetryConfig(initial_s=0.05, max_s=0.5)


@contextlib.asynccontextmanager
async def running(dispatcher: Dispatcher):
    task = asyncio.create_task(dispatcher.run())
    try:
        yield task
    finally:
        await cancel_and_wait(task)
        await dispatcher.close()


async def wait_for(predicate, timeout_s: float = 60.0) -> None:
    async with asyncio.timeout(timeout_s):
        while not predicate():
            await asyncio.sleep(0.05)


async def test_geojson_file_has_every_hit_lon_lat(tmp_path):
    path = tmp_path / "out" / "hits.geojson"
    store = Store.open(tmp_path / "op.sqlite", operation="ridge")
    dispatcher = Dispatcher(store, DispatchConfig(geojson_file=path, retry=FAST), "ridge")
    async with running(dispatcher):
        for i in range(5):
            dispatcher.submit_hit(make_hit(i))
        dispatcher.submit_hit(make_hit(0, version=2))
        await wait_for(lambda: store.pending_count() == 0)
    doc = json.loads(path.read_text())
    assert doc["type"] == "FeatureCollection"
    features = {f["id"]: f for f in doc["features"]}
    assert sorted(features) == [f"hit-{i:04d}" for i in range(5)]
    hit = make_hit(0, version=2)
    f = features["hit-0000"]
    assert f["geometry"]["coordinates"] == [round(hit.lon, 7), round(hit.lat, 7)]  # [lon, lat]
    assert f["properties"]["revision"] == 2 and f["properties"]["class"] == "animal"
    store.close()


class Hook(BaseHTTPRequestHandler):
    failures_left = 0
    received: ClassVar[list[tuple[str, dict]]] = []

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers["Content-Length"]))
        if type(self).failures_left > 0:
            type(self).failures_left -= 1
            self.send_response(503)
            self.end_headers()
            return
        type(self).received.append((self.headers["Idempotency-Key"], json.loads(body)))
        self.send_response(204)
        self.end_headers()

    def log_message(self, *args) -> None:
        pass


async def test_webhook_retries_until_2xx(tmp_path):
    Hook.failures_left, Hook.received = 3, []
    server = ThreadingHTTPServer(("127.0.0.1", 0), Hook)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    url = f"http://127.0.0.1:{server.server_address[1]}/hooks/sar"
    store = Store.open(tmp_path / "op.sqlite", operation="ridge")
    cfg = DispatchConfig(webhooks=[WebhookConfig(url=url, headers={"X-Team": "north"})], retry=FAST)
    dispatcher = Dispatcher(store, cfg, "ridge")
    async with running(dispatcher):
        dispatcher.submit_hit(make_hit(4))
        await wait_for(lambda: store.pending_count() == 0)
    server.shutdown()
    assert Hook.failures_left == 0  # it was refused three times, then accepted
    [(key, feature)] = Hook.received
    assert key == "hit-0004:1"
    assert feature["type"] == "Feature" and feature["properties"]["message_id"] == "hit-0004:1"
    [row] = store.outbox(f"webhook:{url}")
    assert row.attempts == 4 and row.state == "sent"
    store.close()


def test_config_section_validated_with_file_and_key(tmp_path):
    good = tmp_path / "op.yaml"
    good.write_text(
        "dispatch:\n"
        "  prefix: sar/north\n"
        "  mqtt: {url: 'mqtts://broker:8883', username: gs, password_env: GS_PW}\n"
        "  cot: [{url: 'udp://239.2.3.1:6969'}, {url: 'tls://tak:8089', ca_file: ca.pem}]\n"
        "  webhooks: [{url: 'https://cad.example.org/hook'}]\n"
    )
    cfg = load_dispatch_config(good)
    assert cfg.mqtt.tls and cfg.mqtt.port == 8883 and cfg.prefix == "sar/north"
    assert [c.sink_name for c in cfg.cot] == ["cot:udp://239.2.3.1:6969", "cot:tls://tak:8089"]
    with pytest.raises(ConfigError, match="environment variable GS_PW is not set"):
        cfg.mqtt.resolved_password()

    bad = tmp_path / "bad.yaml"
    bad.write_text("dispatch:\n  mqtt: {url: 'http://broker:1883'}\n")
    with pytest.raises(ConfigError) as err:
        load_dispatch_config(bad)
    assert err.value.source == str(bad) and err.value.key == "dispatch.mqtt.url"
    assert "mqtt://" in err.value.reason

    typo = tmp_path / "typo.yaml"
    typo.write_text("dispatch:\n  mqtt: {url: 'mqtt://b', pasword: x}\n")
    with pytest.raises(ConfigError) as err:
        load_dispatch_config(typo)
    assert err.value.key == "dispatch.mqtt.pasword" and "unknown key" in err.value.reason
    assert "password" in err.value.reason  # the keys of the mqtt section are listed

    listed = _write(tmp_path / "l.yaml", "dispatch:\n  cot: [{url: 'udp://h:1'}, {url: 'x'}]\n")
    with pytest.raises(ConfigError) as err:
        load_dispatch_config(listed)
    assert err.value.key == "dispatch.cot.1.url"

    cert = tmp_path / "cert.yaml"
    cert.write_text("dispatch:\n  cot: [{url: 'tls://tak:8089', cert_file: a.pem}]\n")
    assert load_dispatch_config(cert).cot[0].cert_file is not None
    only_cert = tmp_path / "mq.yaml"
    only_cert.write_text("dispatch:\n  mqtt: {url: 'mqtts://b', cert_file: a.pem}\n")
    with pytest.raises(ConfigError, match="both cert_file and key_file"):
        load_dispatch_config(only_cert)

    assert load_dispatch_config(_write(tmp_path / "none.yaml", "fleet: {}\n")).mqtt is None


def _write(path, text):
    path.write_text(text)
    return path
