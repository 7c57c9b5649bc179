"""Cursor-on-Target: the fields TAK requires, and delivery over real UDP multicast, TCP and TLS."""

from __future__ import annotations

import asyncio
import contextlib
import re
import socket
import ssl
import xml.etree.ElementTree as ET
from datetime import datetime

import pytest
from hitgen import make_hit

from groundctl.dispatch import CotConfig, DispatchConfig, Dispatcher, RetryConfig
from groundctl.dispatch.aio import cancel_and_wait
from groundctl.dispatch.cot import HIT_TYPE, UAV_TYPE, hit_event, vehicle_event, vehicle_uid
from groundctl.store import Store

FAST = RetryConfig(initial_s=0.1, max_s=1.0)
TIME = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{1,6})?Z$")
SEVEN = re.compile(r"^-?\d{1,3}\.\d{7}$")
TYPE = re.compile(r"^[abtcy](-[A-Za-z0-9.]+)+$")  # CoT type atoms, e.g. a-f-A-M-H-Q
HOW = re.compile(r"^[hm](-[a-z])+$")


def check_tak_event(data: bytes) -> ET.Element:
    """Everything TAK's CoT event schema (event.xsd, point.xsd) requires of an event."""
    assert data.startswith(b"<?xml version='1.0' encoding='utf-8'?>")
    event = ET.fromstring(data)
    assert event.tag == "event"
    for attr in ("version", "uid", "type", "time", "start", "stale", "how"):
        assert event.get(attr), f"missing required attribute {attr}"
    assert event.get("version") == "2.0"
    assert TYPE.match(event.get("type")), event.get("type")
    assert HOW.match(event.get("how")), event.get("how")
    times = {}
    for attr in ("time", "start", "stale"):
        assert TIME.match(event.get(attr)), f"{attr}={event.get(attr)}"
        times[attr] = datetime.fromisoformat(event.get(attr).replace("Z", "+00:00"))
    assert times["time"] <= times["stale"] and times["start"] < times["stale"]
    points = event.findall("point")
    assert len(points) == 1
    point = points[0]
    for attr in ("lat", "lon", "hae", "ce", "le"):
        assert point.get(attr) is not None, f"point lacks {attr}"
        float(point.get(attr))
    assert SEVEN.match(point.get("lat")) and SEVEN.match(point.get("lon"))
    assert -90 <= float(point.get("lat")) <= 90 and -180 <= float(point.get("lon")) <= 180
    assert float(point.get("ce")) >= 0 and float(point.get("le")) >= 0
    detail = event.find("detail")
    assert detail is not None and detail.find("contact").get("callsign")
    return event


def test_hit_event_fields(tmp_path):
    with Store.open(tmp_path / "op.sqlite", operation="ridge") as store:
        store.upsert_hit(make_hit(9))
        hit = store.hit("hit-0009")
    now = 1_763_900_000.25
    event = check_tak_event(hit_event(hit, "ridge", now, stale_s=3600))
    assert event.get("type") == HIT_TYPE
    assert event.get("uid") == "groundctl.ridge.hit.hit-0009"
    assert event.get("time") == "2025-11-23T12:13:20.250Z"
    assert event.get("stale") == "2025-11-23T13:13:20.250Z"
    point = event.find("point")
    assert point.get("lat") == f"{hit.lat:.7f}" and point.get("lon") == f"{hit.lon:.7f}"
    assert float(point.get("ce")) == pytest.approx(hit.uncertainty_m, abs=0.05)
    assert point.get("hae") == "9999999.0"  # unknown ground height, CoT's convention
    link = event.find("detail/link")
    assert link.get("uid") == vehicle_uid("ridge", hit.vehicle_ids[-1])
    assert (link.get("relation"), link.get("type")) == ("p-p", UAV_TYPE)
    remarks = event.find("detail/remarks").text
    assert "person" in remarks and "hit-0009" in remarks


def test_vehicle_event_fields():
    data = vehicle_event(
        "ridge", 3, 46.51234567, 7.91, 1_763_900_000.0, 30.0, alt_hae_m=1834.2, course_deg=-90.0,
        speed_ms=12.0,
    )  # fmt: skip
    event = check_tak_event(data)
    assert event.get("type") == UAV_TYPE and event.get("how") == "m-g"
    assert event.find("point").get("lat") == "46.5123457"
    assert event.find("point").get("hae") == "1834.2"
    track = event.find("detail/track")
    assert (track.get("course"), track.get("speed")) == ("270.0", "12.0")


@contextlib.asynccontextmanager
async def running(dispatcher: Dispatcher):
    task = asyncio.create_task(dispatcher.run())
    try:
        yield task
    finally:
        await cancel_and_wait(task)
        await dispatcher.close()


async def recv_datagrams(sock: socket.socket, n: int, timeout_s: float = 30.0) -> list[bytes]:
    loop = asyncio.get_running_loop()
    out = []
    async with asyncio.timeout(timeout_s):
        while len(out) < n:
            out.append(await loop.sock_recv(sock, 65536))
    return out


async def test_udp_multicast_delivers_hits_and_positions(tmp_path):
    group = "239.2.3.1"
    rx = socket.socket(socket.AF_INET, socket.SOCK_DGRAM, socket.IPPROTO_UDP)
    rx.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    rx.bind(("0.0.0.0", 0))
    rx.setsockopt(
        socket.IPPROTO_IP,
        socket.IP_ADD_MEMBERSHIP,
        socket.inet_aton(group) + socket.inet_aton("127.0.0.1"),
    )
    rx.setblocking(False)
    port = rx.getsockname()[1]
    cot = CotConfig(url=f"udp://{group}:{port}", interface="127.0.0.1", vehicle_interval_s=60)
    store = Store.open(tmp_path / "op.sqlite", operation="ridge")
    dispatcher = Dispatcher(store, DispatchConfig(cot=[cot], retry=FAST), "ridge")
    async with running(dispatcher):
        await dispatcher.wait_connected()
        dispatcher.submit_hit(make_hit(1))
        dispatcher.submit_hit(make_hit(2))
        for k in range(5):  # rate-limited: only the first position goes out within 60 s
            dispatcher.vehicle_state(2, lat=46.5 + k * 1e-4, lon=7.9, alt_amsl_m=1500.0)
        got = await recv_datagrams(rx, 3)
        await asyncio.sleep(0.3)
        with contextlib.suppress(BlockingIOError):
            extra = rx.recv(65536)
            pytest.fail(f"rate limit let another event through: {extra[:80]!r}")
    events = [check_tak_event(d) for d in got]
    uids = sorted(e.get("uid") for e in events)
    assert uids == [
        "groundctl.ridge.hit.hit-0001",
        "groundctl.ridge.hit.hit-0002",
        "groundctl.ridge.uav.2",
    ]
    assert store.pending_count() == 0
    rx.close()
    store.close()


class TakServer:
    """A minimal TAK-like streaming server: collects CoT events from every connection."""

    def __init__(self, ssl_ctx: ssl.SSLContext | None = None) -> None:
        self.ssl = ssl_ctx
        self.events: list[bytes] = []
        self.connections = 0
        self.drop_first_after: int | None = None  # close the 1st connection after n events
        self._server: asyncio.Server | None = None

    async def start(self) -> int:
        self._server = await asyncio.start_server(self._handle, "127.0.0.1", 0, ssl=self.ssl)
        return self._server.sockets[0].getsockname()[1]

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.connections += 1
        first = self.connections == 1
        buf, n = b"", 0
        try:
            while chunk := await reader.read(65536):
                buf += chunk
                while b"</event>" in buf:
                    end = buf.index(b"</event>") + len(b"</event>")
                    self.events.append(buf[:end])
                    buf, n = buf[end:], n + 1
                    if first and self.drop_first_after is not None and n >= self.drop_first_after:
                        writer.transport.abort()  # a TAK server restart, seen from the client
                        return
        except (ConnectionError, ssl.SSLError, asyncio.CancelledError):
            pass  # a client gone, or the test shutting the server down
        finally:
            writer.close()

    async def stop(self) -> None:
        if self._server is not None:
            self._server.close()


async def wait_for(predicate, timeout_s: float = 60.0) -> None:
    async with asyncio.timeout(timeout_s):
        while not predicate():
            await asyncio.sleep(0.05)


async def test_tcp_stream_reconnects_and_delivers_every_hit(tmp_path):
    server = TakServer()
    server.drop_first_after = 3
    port = await server.start()
    store = Store.open(tmp_path / "op.sqlite", operation="ridge")
    cot = CotConfig(url=f"tcp://127.0.0.1:{port}")
    dispatcher = Dispatcher(store, DispatchConfig(cot=[cot], retry=FAST), "ridge")
    async with running(dispatcher):
        for i in range(3):
            dispatcher.submit_hit(make_hit(i))
        await wait_for(lambda: server.connections >= 1 and len(server.events) >= 3)
        await asyncio.sleep(0.3)  # the server has dropped the connection by now
        for i in range(3, 12):
            dispatcher.submit_hit(make_hit(i))
            await asyncio.sleep(0.02)
        await wait_for(
            lambda: (
                {ET.fromstring(e).get("uid") for e in server.events}
                >= {f"groundctl.ridge.hit.hit-{i:04d}" for i in range(12)}
            )
        )
        await wait_for(lambda: store.pending_count() == 0)
    assert server.connections >= 2
    for e in server.events:
        check_tak_event(b"<?xml version='1.0' encoding='utf-8'?>" + e.split(b"?>", 1)[-1])
    await server.stop()
    store.close()


async def test_tls_stream_with_client_certificate(tmp_path, certs):
    ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH, cafile=str(certs.ca))
    ctx.load_cert_chain(str(certs.server_cert), str(certs.server_key))
    ctx.verify_mode = ssl.CERT_REQUIRED  # like TAK Server on 8089: client certificates only
    server = TakServer(ctx)
    port = await server.start()
    store = Store.open(tmp_path / "op.sqlite", operation="ridge")
    cot = CotConfig(
        url=f"tls://127.0.0.1:{port}",
        ca_file=certs.ca,
        cert_file=certs.client_cert,
        key_file=certs.client_key,
    )
    dispatcher = Dispatcher(store, DispatchConfig(cot=[cot], retry=FAST), "ridge")
    async with running(dispatcher):
        dispatcher.submit_hit(make_hit(5))
        await wait_for(lambda: len(server.events) >= 1)
    assert ET.fromstring(server.events[0]).get("uid") == "groundctl.ridge.hit.hit-0005"
    await server.stop()
    store.close()
