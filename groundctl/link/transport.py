"""Byte transports under a MAVLink link: UDP in/out and TCP on asyncio, serial in a thread.

A transport delivers `(data, address)` to a callback and sends bytes to one address or to
every known peer. UDP-in learns peers from the datagrams it receives, so several vehicles
talking to one GCS port are each answered at their own address. TCP reconnects by itself.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import socket
import threading
from collections.abc import Callable
from typing import Any

from groundctl.errors import LinkError
from groundctl.link.url import Endpoint

log = logging.getLogger(__name__)

Address = Any  # (host, port) for UDP; a constant for stream transports
OnData = Callable[[bytes, Address], None]

STREAM_PEER = ("stream", 0)


class Transport:
    peers: set[Address]

    async def open(self, on_data: OnData) -> None:
        raise NotImplementedError

    def send(self, data: bytes, address: Address | None = None) -> None:
        raise NotImplementedError

    async def close(self) -> None:
        raise NotImplementedError

    @property
    def local_port(self) -> int:
        return 0


class _Datagram(asyncio.DatagramProtocol):
    def __init__(self, on_data: OnData) -> None:
        self.on_data = on_data

    def datagram_received(self, data: bytes, addr: Address) -> None:
        self.on_data(data, addr)

    def error_received(self, exc: Exception) -> None:
        # ICMP port unreachable while a vehicle is down: expected, it comes back.
        log.debug("udp error: %s", exc)


class UdpTransport(Transport):
    def __init__(self, endpoint: Endpoint) -> None:
        self.endpoint = endpoint
        self.peers = set()
        self._transport: asyncio.DatagramTransport | None = None
        self._on_data: OnData | None = None

    async def open(self, on_data: OnData) -> None:
        loop = asyncio.get_running_loop()
        self._on_data = on_data
        ep = self.endpoint

        def received(data: bytes, addr: Address) -> None:
            if ep.kind == "udpin":
                self.peers.add(addr)
            on_data(data, addr)

        try:
            if ep.kind == "udpin":
                tr, _ = await loop.create_datagram_endpoint(
                    lambda: _Datagram(received), local_addr=(ep.host, ep.port), reuse_port=False
                )
            else:
                addr = (socket.gethostbyname(ep.host), ep.port)
                tr, _ = await loop.create_datagram_endpoint(
                    lambda: _Datagram(received), local_addr=("0.0.0.0", 0), allow_broadcast=True
                )
                self.peers.add(addr)
        except OSError as e:
            raise LinkError(f"{ep}: cannot open UDP socket: {e.strerror or e}") from e
        sock = tr.get_extra_info("socket")
        with contextlib.suppress(OSError):
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4 << 20)
        self._transport = tr

    @property
    def local_port(self) -> int:
        if self._transport is None:
            return 0
        return self._transport.get_extra_info("sockname")[1]

    def send(self, data: bytes, address: Address | None = None) -> None:
        tr = self._transport
        if tr is None or tr.is_closing():
            return
        targets = [address] if address is not None else list(self.peers)
        for a in targets:
            tr.sendto(data, a)

    async def close(self) -> None:
        if self._transport is not None:
            self._transport.close()
            self._transport = None


class TcpTransport(Transport):
    """TCP client that reconnects with backoff when the autopilot (or SITL) drops it."""

    def __init__(self, endpoint: Endpoint) -> None:
        self.endpoint = endpoint
        self.peers = {STREAM_PEER}
        self._writer: asyncio.StreamWriter | None = None
        self._task: asyncio.Task[None] | None = None
        self._closed = False
        self.connected = asyncio.Event()

    async def open(self, on_data: OnData) -> None:
        await self._connect()  # the first connection must work: a typo should fail loudly
        self._task = asyncio.create_task(self._run(on_data), name=f"tcp {self.endpoint}")

    async def _connect(self) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
        ep = self.endpoint
        try:
            reader, writer = await asyncio.wait_for(asyncio.open_connection(ep.host, ep.port), 10)
        except (OSError, TimeoutError) as e:
            raise LinkError(f"{ep}: cannot connect: {e}") from e
        self._pending = reader
        self._writer = writer
        self.connected.set()
        return reader, writer

    async def _run(self, on_data: OnData) -> None:
        reader = self._pending
        backoff = 0.2
        while not self._closed:
            try:
                data = await reader.read(65536)
            except (OSError, ConnectionError):
                data = b""
            if data:
                backoff = 0.2
                on_data(data, STREAM_PEER)
                continue
            self.connected.clear()
            self._writer = None
            while not self._closed:
                await asyncio.sleep(backoff)
                backoff = min(backoff * 2, 2.0)
                try:
                    reader, _ = await self._connect()
                    log.info("%s: reconnected", self.endpoint)
                    break
                except LinkError:
                    continue

    def send(self, data: bytes, address: Address | None = None) -> None:
        w = self._writer
        if w is not None and not w.is_closing():
            w.write(data)

    async def close(self) -> None:
        self._closed = True
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self._task
        if self._writer is not None:
            self._writer.close()


class SerialTransport(Transport):
    """Serial port through pymavlink's mavserial, read in a thread (pyserial is blocking)."""

    def __init__(self, endpoint: Endpoint) -> None:
        self.endpoint = endpoint
        self.peers = {STREAM_PEER}
        self._port: Any = None
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    async def open(self, on_data: OnData) -> None:
        from pymavlink import mavutil

        loop = asyncio.get_running_loop()
        try:
            self._port = mavutil.mavserial(
                self.endpoint.device, baud=self.endpoint.baud, autoreconnect=True
            )
        except Exception as e:  # pyserial raises its own SerialException
            raise LinkError(f"{self.endpoint}: cannot open serial port: {e}") from e

        def reader() -> None:
            while not self._stop.is_set():
                try:
                    data = self._port.recv(4096)
                except Exception:
                    data = b""
                if data:
                    loop.call_soon_threadsafe(on_data, bytes(data), STREAM_PEER)

        self._thread = threading.Thread(target=reader, daemon=True, name=f"serial {self.endpoint}")
        self._thread.start()

    def send(self, data: bytes, address: Address | None = None) -> None:
        if self._port is not None:
            self._port.write(data)

    async def close(self) -> None:
        self._stop.set()
        if self._port is not None:
            self._port.close()


def make_transport(endpoint: Endpoint) -> Transport:
    if endpoint.kind in ("udpin", "udpout"):
        return UdpTransport(endpoint)
    if endpoint.kind == "tcpout":
        return TcpTransport(endpoint)
    return SerialTransport(endpoint)
