"""Byte transports under a MAVLink link: UDP in/out, TCP and serial, all on the asyncio loop.

A transport delivers `(data, address)` to a callback and sends bytes to one address or to
every known peer. UDP-in is told its peers by the link (`add_peer`: the addresses vehicles
speak from), never by whoever sends a datagram, so several vehicles talking to one GCS port
are each answered at their own address and a flood from new ports costs no memory here.
UDP sockets bind where the URL says (`udpin://0.0.0.0:P`: every interface); an outgoing
`udpout://` socket binds the interface that reaches its peer (127.0.0.1 for a loopback
peer), not every interface. TCP and serial reconnect by themselves.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import socket
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

    def add_peer(self, address: Address) -> None:
        """A vehicle speaks from `address`: send broadcasts (the GCS heartbeat) there too."""

    def forget_peer(self, address: Address) -> None:
        """No vehicle speaks from `address` any more."""

    @property
    def local_port(self) -> int:
        return 0


class UdpTransport(Transport):
    """UDP on a non-blocking socket watched by the loop. Each readiness event drains every
    queued datagram (measured in bench/link_bench.py: ~1.5x the rate of one loop turn per
    datagram with `create_datagram_endpoint`, since telemetry is one message per datagram)."""

    MAX_BATCH = 256  # datagrams per readiness event, so one busy link cannot starve the loop

    def __init__(self, endpoint: Endpoint) -> None:
        self.endpoint = endpoint
        self.peers = set()
        self._sock: socket.socket | None = None
        self._on_data: OnData | None = None
        self._target: Address | None = None

    async def open(self, on_data: OnData) -> None:
        loop = asyncio.get_running_loop()
        self._on_data = on_data
        ep = self.endpoint
        sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        try:
            with contextlib.suppress(OSError):
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4 << 20)
            if ep.kind == "udpin":
                sock.bind((ep.host, ep.port))
            else:
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_BROADCAST, 1)
                addr = (socket.gethostbyname(ep.host), ep.port)
                sock.bind((_local_address_for(addr), 0))
                self._target = addr
                self.peers.add(addr)
        except OSError as e:
            sock.close()
            raise LinkError(f"{ep}: cannot open UDP socket: {e.strerror or e}") from e
        sock.setblocking(False)
        self._sock = sock
        loop.add_reader(sock.fileno(), self._readable)

    def _readable(self) -> None:
        sock = self._sock
        if sock is None:
            return
        on_data = self._on_data
        assert on_data is not None
        for _ in range(self.MAX_BATCH):
            try:
                data, addr = sock.recvfrom(65536)
            except (BlockingIOError, InterruptedError):
                return
            except OSError as e:
                # ICMP port unreachable while a vehicle is down: expected, it comes back.
                log.debug("udp error: %s", e)
                return
            on_data(data, addr)

    @property
    def local_port(self) -> int:
        return 0 if self._sock is None else self._sock.getsockname()[1]

    @property
    def local_address(self) -> tuple[str, int] | None:
        return None if self._sock is None else self._sock.getsockname()

    def add_peer(self, address: Address) -> None:
        if self.endpoint.kind == "udpin":
            self.peers.add(address)

    def forget_peer(self, address: Address) -> None:
        if address != self._target:
            self.peers.discard(address)

    def send(self, data: bytes, address: Address | None = None) -> None:
        sock = self._sock
        if sock is None:
            return
        for a in [address] if address is not None else list(self.peers):
            try:
                sock.sendto(data, a)
            except OSError as e:  # buffer full or unreachable: MAVLink retries
                log.debug("udp send to %s failed: %s", a, e)

    async def close(self) -> None:
        if self._sock is not None:
            with contextlib.suppress(Exception):
                asyncio.get_running_loop().remove_reader(self._sock.fileno())
            self._sock.close()
            self._sock = None


def _local_address_for(peer: tuple[str, int]) -> str:
    """The local address the system routes `peer` through (127.0.0.1 for a loopback peer),
    so an outgoing socket does not also listen on every other interface. A broadcast peer, or
    one with no route yet, gets every interface."""
    if peer[0].startswith("127."):
        return "127.0.0.1"
    probe = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    try:
        probe.connect(peer)  # no packet is sent: this only asks the routing table
        local = probe.getsockname()[0]
    except OSError:
        return "0.0.0.0"
    finally:
        probe.close()
    return "0.0.0.0" if peer[0].endswith(".255") or local == "0.0.0.0" else local


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
    """A serial port (USB telemetry radio, autopilot USB) driven by the asyncio loop (POSIX).

    Raw 8N1 at the given baud via termios, non-blocking reads through `loop.add_reader`, so
    no thread and no pyserial. An unplugged radio is reopened every second until it is back.
    """

    def __init__(self, endpoint: Endpoint) -> None:
        self.endpoint = endpoint
        self.peers = {STREAM_PEER}
        self._fd: int | None = None
        self._on_data: OnData | None = None
        self._reopen: asyncio.Task[None] | None = None
        self._closed = False

    def _open_fd(self) -> int:
        import termios
        import tty

        baud = getattr(termios, f"B{self.endpoint.baud}", None)
        if baud is None:
            raise LinkError(
                f"{self.endpoint}: baud rate {self.endpoint.baud} is not supported by this system"
            )
        try:
            fd = os.open(self.endpoint.device, os.O_RDWR | os.O_NOCTTY | os.O_NONBLOCK)
        except OSError as e:
            raise LinkError(f"{self.endpoint}: cannot open serial port: {e.strerror or e}") from e
        try:
            tty.setraw(fd)
            attrs = termios.tcgetattr(fd)
            attrs[4] = attrs[5] = baud  # ispeed, ospeed
            attrs[2] |= termios.CLOCAL | termios.CREAD
            termios.tcsetattr(fd, termios.TCSANOW, attrs)
        except termios.error as e:
            os.close(fd)
            raise LinkError(f"{self.endpoint}: not a serial port: {e}") from e
        return fd

    async def open(self, on_data: OnData) -> None:
        self._on_data = on_data
        self._attach(self._open_fd())

    def _attach(self, fd: int) -> None:
        self._fd = fd
        asyncio.get_running_loop().add_reader(fd, self._readable)

    def _readable(self) -> None:
        fd = self._fd
        if fd is None:
            return
        try:
            data = os.read(fd, 4096)
        except BlockingIOError:
            return
        except OSError:
            data = b""
        if data:
            assert self._on_data is not None
            self._on_data(data, STREAM_PEER)
            return
        # EOF / EIO: the device went away (USB radio unplugged).
        self._detach()
        if not self._closed and self._reopen is None:
            self._reopen = asyncio.get_running_loop().create_task(self._reopen_loop())

    def _detach(self) -> None:
        if self._fd is not None:
            asyncio.get_running_loop().remove_reader(self._fd)
            with contextlib.suppress(OSError):
                os.close(self._fd)
            self._fd = None

    async def _reopen_loop(self) -> None:
        try:
            while not self._closed:
                await asyncio.sleep(1.0)
                try:
                    self._attach(self._open_fd())
                    log.info("%s: serial port back", self.endpoint)
                    return
                except LinkError:
                    continue
        finally:
            self._reopen = None

    def send(self, data: bytes, address: Address | None = None) -> None:
        if self._fd is None:
            return
        try:
            os.write(self._fd, data)
        except (BlockingIOError, OSError) as e:
            # A full output buffer drops this frame, as a radio would; MAVLink retries.
            log.debug("%s: write failed: %s", self.endpoint, e)

    async def close(self) -> None:
        self._closed = True
        if self._reopen is not None:
            self._reopen.cancel()
        self._detach()


def make_transport(endpoint: Endpoint) -> Transport:
    if endpoint.kind in ("udpin", "udpout"):
        return UdpTransport(endpoint)
    if endpoint.kind == "tcpout":
        return TcpTransport(endpoint)
    return SerialTransport(endpoint)
