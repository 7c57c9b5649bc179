"""MAVLink transports of a simulated vehicle, with fault injection.

Every link applies its vehicle's `LinkFaults` in both directions: packet loss, one-way
latency, duplication and reordering. Faults are drawn from their own random stream so that
turning them on does not change the flight itself.
"""

from __future__ import annotations

import asyncio
import random
from collections.abc import Callable
from dataclasses import dataclass, field

from pymavlink.dialects.v20 import common as mavlink2

from sim.errors import SimError

Deliver = Callable[[object, "Link"], None]


@dataclass
class LinkFaults:
    """Faults applied to every packet of every link of one vehicle, both directions."""

    loss_pct: float = 0.0
    latency_ms: float = 0.0
    duplicate_pct: float = 0.0
    reorder_pct: float = 0.0
    rng: random.Random = field(default_factory=random.Random, repr=False)


class Link:
    """Base: outgoing bytes go through the faults; incoming bytes are parsed and delivered."""

    kind = "link"

    def __init__(self, faults: LinkFaults, deliver: Deliver) -> None:
        self.faults = faults
        self.deliver = deliver
        self._held_out: bytes | None = None
        self._held_in: tuple[bytes, object] | None = None
        self.enabled = True
        self.rx_packets = 0
        self.tx_packets = 0

    # -- outgoing --
    def send(self, data: bytes) -> None:
        if not self.enabled:
            return
        self._through_faults(data, None, self._raw_send_later, "out")

    def _raw_send_later(self, data: bytes, _peer: object) -> None:
        self.tx_packets += 1
        self._raw_send(data)

    def _raw_send(self, data: bytes) -> None:  # pragma: no cover - abstract
        raise NotImplementedError

    # -- incoming --
    def received(self, data: bytes, peer: object) -> None:
        if not self.enabled:
            return
        self._through_faults(data, peer, self._parse_and_deliver, "in")

    def _parser(self, peer: object) -> mavlink2.MAVLink:  # pragma: no cover - abstract
        raise NotImplementedError

    def _parse_and_deliver(self, data: bytes, peer: object) -> None:
        if not self.enabled:
            return
        try:
            msgs = self._parser(peer).parse_buffer(data) or []
        except mavlink2.MAVError:
            return
        for msg in msgs:
            if msg.get_type() != "BAD_DATA":
                self.rx_packets += 1
                self.deliver(msg, self)

    def _through_faults(
        self, data: bytes, peer: object, sink: Callable[[bytes, object], None], way: str
    ) -> None:
        f = self.faults
        rng = f.rng
        if f.loss_pct > 0 and rng.random() * 100.0 < f.loss_pct:
            return
        out = [(data, peer)]
        if f.reorder_pct > 0:
            held = self._held_out if way == "out" else self._held_in
            if held is None and rng.random() * 100.0 < f.reorder_pct:
                if way == "out":
                    self._held_out = data
                else:
                    self._held_in = (data, peer)
                return
            if held is not None:
                out.append(held if way == "in" else (held, peer))  # type: ignore[arg-type]
                if way == "out":
                    self._held_out = None
                else:
                    self._held_in = None
        if f.duplicate_pct > 0 and rng.random() * 100.0 < f.duplicate_pct:
            out.append((data, peer))
        if f.latency_ms > 0:
            loop = asyncio.get_running_loop()
            for d, p in out:
                loop.call_later(f.latency_ms / 1000.0, sink, d, p)
        else:
            for d, p in out:
                sink(d, p)

    def close(self) -> None:
        self.enabled = False


class _UdpProtocol(asyncio.DatagramProtocol):
    def __init__(self, link: UdpLink) -> None:
        self.link = link

    def datagram_received(self, data: bytes, addr: tuple[str, int]) -> None:
        self.link.learn(addr)
        self.link.received(data, addr)

    def error_received(self, exc: Exception) -> None:
        # ICMP port unreachable from a ground station not yet listening: keep going.
        pass


class UdpLink(Link):
    """A UDP socket bound locally that sends to a fixed target and to whoever talks to it.

    Like PX4's mavlink UDP instances: packets go to the configured remote, and a ground
    station that sends to the local port is answered at its own address.
    """

    kind = "udp"

    def __init__(
        self,
        faults: LinkFaults,
        deliver: Deliver,
        bind: tuple[str, int],
        target: tuple[str, int] | None = None,
    ) -> None:
        super().__init__(faults, deliver)
        self.bind = bind
        self.target = target
        self.peers: list[tuple[str, int]] = [target] if target else []
        self.transport: asyncio.DatagramTransport | None = None
        self._mav = mavlink2.MAVLink(None)
        self._mav.robust_parsing = True

    async def start(self) -> None:
        loop = asyncio.get_running_loop()
        try:
            transport, _ = await loop.create_datagram_endpoint(
                lambda: _UdpProtocol(self), local_addr=self.bind
            )
        except OSError as exc:
            raise SimError(
                f"cannot bind UDP {self.bind[0]}:{self.bind[1]}: {exc.strerror or exc}; "
                "another simulator or ground station may be using it — choose other ports"
            ) from None
        self.transport = transport  # type: ignore[assignment]
        self.bind = transport.get_extra_info("sockname")[:2]

    @property
    def port(self) -> int:
        return int(self.bind[1])

    def learn(self, addr: tuple[str, int]) -> None:
        if addr not in self.peers:
            self.peers.append(addr)
            if len(self.peers) > 4:
                # Keep the configured target; forget the oldest learned peer.
                del self.peers[1 if self.target else 0]

    def _parser(self, peer: object) -> mavlink2.MAVLink:
        return self._mav

    def _raw_send(self, data: bytes) -> None:
        if self.transport is None or self.transport.is_closing():
            return
        for peer in self.peers:
            self.transport.sendto(data, peer)

    def close(self) -> None:
        super().close()
        if self.transport is not None:
            self.transport.close()


class TcpServerLink(Link):
    """ArduPilot SITL's TCP server (5760 + 10 i): every connected client gets the stream."""

    kind = "tcp"

    def __init__(self, faults: LinkFaults, deliver: Deliver, bind: tuple[str, int]) -> None:
        super().__init__(faults, deliver)
        self.bind = bind
        self.server: asyncio.base_events.Server | None = None
        self.clients: dict[asyncio.StreamWriter, mavlink2.MAVLink] = {}

    async def start(self) -> None:
        try:
            self.server = await asyncio.start_server(self._client, self.bind[0], self.bind[1])
        except OSError as exc:
            raise SimError(
                f"cannot listen on TCP {self.bind[0]}:{self.bind[1]}: {exc.strerror or exc}; "
                "choose another --tcp-base-port"
            ) from None
        self.bind = self.server.sockets[0].getsockname()[:2]

    @property
    def port(self) -> int:
        return int(self.bind[1])

    async def _client(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        parser = mavlink2.MAVLink(None)
        parser.robust_parsing = True
        self.clients[writer] = parser
        try:
            while self.enabled:
                data = await reader.read(4096)
                if not data:
                    break
                self.received(data, writer)
        except (ConnectionError, asyncio.CancelledError):
            pass
        finally:
            self.clients.pop(writer, None)
            writer.close()

    def _parser(self, peer: object) -> mavlink2.MAVLink:
        return self.clients.get(peer) or mavlink2.MAVLink(None)  # type: ignore[call-overload]

    def _raw_send(self, data: bytes) -> None:
        for writer in list(self.clients):
            if writer.is_closing():
                continue
            # A client that stops reading must not grow our memory without bound.
            if writer.transport.get_write_buffer_size() < 1 << 20:
                writer.write(data)

    def close(self) -> None:
        super().close()
        for writer in list(self.clients):
            writer.close()
        self.clients.clear()
        if self.server is not None:
            self.server.close()
