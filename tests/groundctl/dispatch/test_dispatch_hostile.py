"""Whoever can publish on the broker is hostile (#18 items 2 and 6), against a real mosquitto.

- `dispatch listen` writes chips only under `--chips`, whatever a message's operation, id
  or revision says, and survives every malformed message.
- An acknowledgement changes what the fleet does only when it is signed with a key the
  station trusts: an anonymous, forged, replayed or cross-operation "false alarm" is kept
  (unauthorised) and never ends the overwatch of a person.
"""

from __future__ import annotations

import asyncio
import base64
import json
import os
import subprocess
import sys
import threading
import time

import aiomqtt
import pytest
from hitgen import chip, make_hit
from test_dispatch_cli import publish_hits, station_receiving, wait_until

from groundctl.dispatch import DispatchConfig, Dispatcher, MqttConfig, MqttListener, RetryConfig
from groundctl.dispatch.acksig import load_key, new_key_file, sign
from groundctl.dispatch.aio import cancel_and_wait
from groundctl.dispatch.messages import ack_payload, dumps, new_ack
from groundctl.fleet.overwatch import OverwatchMixin, Watch
from groundctl.store import Store
from thermal.hit import Hit

FAST = RetryConfig(initial_s=0.1, max_s=1.0)


def hit_doc(hit_id: str, operation: str = "ridge", **extra) -> bytes:
    doc = {
        "schema": "groundctl.hit/1",
        "id": hit_id,
        "message_id": f"{hit_id}:1",
        "revision": 1,
        "operation": operation,
        "class": "person",
        "confidence": 0.9,
        "lat": 46.5,
        "lon": 7.9,
        "uncertainty_m": 3.0,
        "time": "2026-01-01T00:00:00.000Z",
        "vehicle": 2,
        "chip_png_base64": base64.b64encode(b"attacker's bytes").decode(),
    }
    doc.update(extra)
    return json.dumps(doc).encode()


def files_under(root) -> set[str]:
    return {
        os.path.relpath(os.path.join(d, f), root) for d, _, files in os.walk(root) for f in files
    }


async def test_listen_never_writes_outside_its_chips_folder(tmp_path, broker):
    work = tmp_path / "work"
    work.mkdir()
    outside = tmp_path / "outside"
    outside.mkdir()
    (work / "chips").mkdir()
    # a chips sub-folder that someone made a symlink pointing out of the folder
    (work / "chips" / "linked").symlink_to(outside, target_is_directory=True)
    png = base64.b64encode(chip(1)).decode()
    retained = [  # waiting on the broker when the listener subscribes
        ("groundctl/ridge/hits/x1", hit_doc("x1", operation=str(tmp_path / "pwn"))),
        ("groundctl/ridge/hits/x2", hit_doc("../../x2", chip_png_base64=png)),
        ("groundctl/../hits/x3", hit_doc("x3", operation="..", chip_png_base64=png)),
        ("groundctl/ridge/hits/x4", hit_doc("x4", revision="../../x")),
        ("groundctl/ridge/hits/x5", hit_doc("x5")),  # a hit, but its chip is no PNG
        ("groundctl/ridge/hits/x6", hit_doc("x6", chip_png_base64="!!not base64!!")),
        ("groundctl/ridge/hits/x7", hit_doc("x7", lat="NaN", chip_png_base64=png)),
        ("groundctl/ridge/hits/x8", hit_doc("x8", **{"class": "[bold red]x[/]", "lat": 1e400})),
        ("groundctl/ridge/hits/x10", b"\xff\xfe not json"),
        ("groundctl/ridge/hits/x11", b"[1, 2, 3]"),
        ("groundctl/ridge/hits/x12", b"[" * 100_000),
        ("groundctl/ridge/hits/x13/ack", b'{"ack_id": 1, "hit_id": "../x", "status": "found"}'),
        ("groundctl/ridge/status", b'{"station": "\\u001b[2J", "state": "online"}'),
        ("groundctl/ridge/progress", b'{"covered_pct": "lots"}'),
    ]
    live = [  # published once it listens, so they come after every retained one
        ("groundctl/linked/hits/x9", hit_doc("x9", operation="linked", chip_png_base64=png)),
        ("groundctl/ridge/hits/ok-1", hit_doc("ok-1", chip_png_base64=png)),
    ]
    async with aiomqtt.Client("127.0.0.1", broker.port) as attacker:
        for topic, payload in retained:
            await attacker.publish(topic, payload, qos=1, retain=True)
    env = {**os.environ, "HOME": str(tmp_path), "COLUMNS": "80", "GROUNDCTL_NO_STDIN": "1"}
    env.pop("GROUNDCTL_CONFIG", None)
    proc = subprocess.Popen(
        [sys.executable, "-m", "groundctl", "dispatch", "listen", "--mqtt", broker.url,
         "--count", "4", "--chips", "chips", "--no-receipt", "--client-id", "cc-hostile"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=work,
        env={**env, "PYTHONUNBUFFERED": "1"},
    )  # fmt: skip
    lines: list[str] = []
    reader = threading.Thread(target=lambda: lines.extend(iter(proc.stdout.readline, "")))
    reader.start()
    try:
        await asyncio.to_thread(wait_until, lambda: any("connected to" in ln for ln in lines), 60)
        async with aiomqtt.Client("127.0.0.1", broker.port) as attacker:
            for topic, payload in live:
                await attacker.publish(topic, payload, qos=1)
        returncode = await asyncio.to_thread(proc.wait, 120)
    finally:
        if proc.poll() is None:
            proc.kill()
        reader.join(timeout=30)
    stdout, stderr = "".join(lines), proc.stderr.read()
    proc.stderr.close()
    assert returncode == 0, stderr
    assert "Traceback" not in stderr + stdout
    assert files_under(outside) == set()
    assert not (tmp_path / "pwn").exists() and not (tmp_path / "x2-r1.png").exists()
    assert files_under(work) == {"chips/ridge/ok-1-r1.png"}
    assert (work / "chips" / "ridge" / "ok-1-r1.png").read_bytes() == chip(1)
    rows = [ln.split() for ln in stdout.splitlines() if ln.split() and ln.split()[0].isdigit()]
    assert [r[3] for r in rows] == ["x5", "x6", "x9", "ok-1"]
    assert "refused to write" in stdout  # x9's chip: the symlinked folder points out
    assert stdout.count("not saved") == 3  # x5, x6, x9
    assert "\x1b[2J" not in stdout  # no terminal escape from the network
    assert stderr.count("ignored") >= 10  # x1-x4, x7, x8, x10-x13, one line each


async def test_hit_folder_of_another_operation_cannot_be_named_by_the_payload(tmp_path, broker):
    """The payload's operation must agree with the topic it came on."""
    listener = MqttListener(MqttConfig(url=broker.url), operation="ridge", auto_receipt=False)
    events: list = []

    async def run() -> None:
        async for event in listener.events():
            events.append(event)

    task = asyncio.create_task(run())
    try:
        await asyncio.to_thread(wait_until, lambda: any(e.kind == "connected" for e in events))
        async with aiomqtt.Client("127.0.0.1", broker.port) as attacker:
            await attacker.publish("groundctl/ridge/hits/h1", hit_doc("h1", operation="valley"))
            await attacker.publish("groundctl/ridge/hits/h2", hit_doc("h2"))
        await asyncio.to_thread(wait_until, lambda: any(e.kind == "hit" for e in events), 30)
    finally:
        await cancel_and_wait(task)
    assert [e.payload["id"] for e in events if e.kind == "hit"] == ["h2"]
    assert listener.rejected == 1


async def consume(listener: MqttListener, **kw) -> None:
    async for _ in listener.events(**kw):
        pass


class Watcher(OverwatchMixin):
    """The overwatch trigger of the real `Orchestrator` (its mixin), on a real store, with the
    orchestrator's flying parts replaced by a record of what it would have done."""

    def __init__(self, store: Store) -> None:
        self.journal = type("J", (), {"store": store})()
        self.watches: dict[str, Watch] = {}
        self.min_person_confidence = 0.5
        self.ended: list[str] = []
        # Overwatch holds confirmed people only: the pipeline saw these from two positions.
        self.seen_from = {"hit-0001": 25.0, "hit-0002": 25.0}
        self.duplicate_of: dict[str, str] = {}
        self._unconfirmed: set[str] = set()

    def overwatch(self, hit: Hit, why: str = "") -> Watch:
        self.watches[hit.id] = Watch(hit)
        return self.watches[hit.id]

    def end_overwatch(self, hit_id: str) -> None:
        self.ended.append(hit_id)
        self.watches[hit_id].ended.set()


async def test_only_a_trusted_desk_ends_an_overwatch(tmp_path, broker):
    key_file = tmp_path / "desk-1.key"
    new_key_file(key_file)
    key = load_key(key_file)
    store = Store.open(tmp_path / "op.sqlite", operation="ridge")
    cfg = DispatchConfig(mqtt=MqttConfig(url=broker.url), retry=FAST, ack_keys={"desk-1": key_file})
    dispatcher = Dispatcher(store, cfg, "ridge")
    runner = asyncio.create_task(dispatcher.run())
    watcher = Watcher(store)
    watching = asyncio.create_task(watcher._watch_store_hits())
    try:
        await dispatcher.wait_connected()
        dispatcher.submit_hit(make_hit(1))  # a person
        dispatcher.submit_hit(make_hit(2))
        await asyncio.to_thread(wait_until, lambda: "hit-0001" in watcher.watches, 30)

        def forged(hit_id: str, status: str, **kw) -> bytes:
            return dumps(ack_payload(new_ack(hit_id, status, by="desk-1", ts=time.time(), **kw)))

        genuine_other = sign(
            ack_payload(new_ack("hit-0002", "false_alarm", by="desk-1", ts=time.time())),
            "ridge",
            "desk-1",
            key,
        )
        attacks = [
            ("hit-0001", forged("hit-0001", "false_alarm")),  # anonymous
            (  # a key name the station trusts, signed with a guess
                "hit-0001",
                dumps(
                    sign(
                        ack_payload(new_ack("hit-0001", "false_alarm", ts=time.time())),
                        "ridge",
                        "desk-1",
                        b"0" * 64,
                    )
                ),
            ),
            (  # desk-1's genuine ack for another operation, replayed here
                "hit-0001",
                dumps(
                    sign(
                        ack_payload(new_ack("hit-0001", "found", by="desk-1", ts=time.time())),
                        "valley",
                        "desk-1",
                        key,
                    )
                ),
            ),
            # desk-1's genuine ack for hit 2, re-addressed to hit 1 (payload edited)
            ("hit-0001", dumps({**genuine_other, "hit_id": "hit-0001"})),
            # the same, left as it was but sent on hit 1's topic
            ("hit-0001", dumps(genuine_other)),
        ]
        async with aiomqtt.Client("127.0.0.1", broker.port) as attacker:
            for hit_id, payload in attacks:
                await attacker.publish(f"groundctl/ridge/hits/{hit_id}/ack", payload, qos=1)
        await asyncio.to_thread(
            wait_until, lambda: store.hit("hit-0001", with_chip=False).unverified_acks == 4, 30
        )
        await asyncio.sleep(2.5)  # the trigger looks every second: give it two looks
        assert watcher.ended == []
        assert store.hit("hit-0001", with_chip=False).status is None
        assert all(not a.authorised and a.identity == "" for a in store.acks("hit-0001"))

        # The desk's own signed answer, through the real listener, ends it.
        desk = MqttListener(
            MqttConfig(url=broker.url), operation="ridge", operator="desk-1",
            key=("desk-1", key), auto_receipt=False, persistent=False,
        )  # fmt: skip
        await desk.ack("hit-0001", "found", note="team Bravo has her")
        conn = asyncio.create_task(consume(desk, subscribe=False))
        try:
            await desk.flush(30)
        finally:
            await cancel_and_wait(conn)
        await asyncio.to_thread(wait_until, lambda: watcher.ended == ["hit-0001"], 30)
        hit = store.hit("hit-0001", with_chip=False)
        assert (hit.status, hit.ack.identity, hit.ack.by) == ("found", "key:desk-1", "desk-1")
    finally:
        watching.cancel()
        await cancel_and_wait(runner)
        await dispatcher.close()
        store.close()


async def test_unknown_key_file_refused_before_anything_runs(tmp_path):
    store = Store.open(tmp_path / "op.sqlite", operation="ridge")
    short = tmp_path / "short.key"
    short.write_text("tooshort\n")
    for keys, message in (
        ({"desk-1": tmp_path / "missing.key"}, "cannot read the key file"),
        ({"desk-1": short}, "at least 32 characters"),
    ):
        cfg = DispatchConfig(ack_keys=keys)
        with pytest.raises(Exception, match=message):
            Dispatcher(store, cfg, "ridge")
    with pytest.raises(Exception, match="not an identifier"):
        DispatchConfig(ack_keys={"../desk": short})
    store.close()


async def test_listener_receipts_stay_unauthorised_without_a_key(tmp_path, broker):
    store = await publish_hits(tmp_path, broker.url, 1)
    stop, thread = station_receiving(store, DispatchConfig(mqtt=MqttConfig(url=broker.url)))
    listener = MqttListener(MqttConfig(url=broker.url), operation="ridge", operator="anyone")
    task = asyncio.create_task(consume(listener))
    try:
        await asyncio.to_thread(wait_until, lambda: len(store.acks("hit-0001")) == 1, 60)
    finally:
        await cancel_and_wait(task)
        stop.set()
        thread.join(timeout=30)
    (ack,) = store.acks("hit-0001")
    assert (ack.status, ack.by, ack.authorised) == ("received", "anyone", False)
    store.close()
