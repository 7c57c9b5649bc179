"""One MAVLink connection shared by several vehicles.

Decodes with pymavlink (MAVLink 2, one parser per source so interleaved datagrams from
different vehicles never mix; bounded, see `parsers`), routes every message by (sysid, compid) of the autopilot that
sent it, sends the GCS HEARTBEAT at 1 Hz, discovers vehicles and identifies them
(HEARTBEAT + AUTOPILOT_VERSION via REQUEST_MESSAGE), detects duplicate system ids through the
AUTOPILOT_VERSION uid (behind one address), shuts out any other source that claims a known
system id without proving the same uid (`identity.SourceGuard`), and declares a vehicle's
link lost after `heartbeat_timeout_s` (restored when heartbeats return). State lives here and in the vehicle objects, never in the
socket, so a dropped connection loses nothing.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import time
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

os.environ.setdefault("MAVLINK20", "1")
from pymavlink.dialects.v20 import common as mavlink2

from groundctl.errors import LinkError
from groundctl.link.identity import SourceGuard, VehicleRecord, version_uid
from groundctl.link.parsers import ParserPool
from groundctl.link.transport import Address, Transport, make_transport
from groundctl.link.types import Autopilot, LinkEvent, LinkEventKind, StatusText
from groundctl.link.url import Endpoint, parse_url

log = logging.getLogger(__name__)

__all__ = ["MavLink", "VehicleRecord", "load_signing_key", "mavlink2"]

Message = Any  # a pymavlink MAVLink_message
Listener = Callable[[Message], None]

_AUTOPILOTS = {
    mavlink2.MAV_AUTOPILOT_PX4: Autopilot.PX4,
    mavlink2.MAV_AUTOPILOT_ARDUPILOTMEGA: Autopilot.ARDUPILOT,
}
# Heartbeats from these are not vehicles: other ground stations, cameras, gimbals, ...
_NOT_AUTOPILOT_TYPES = {
    mavlink2.MAV_TYPE_GCS,
    mavlink2.MAV_TYPE_ONBOARD_CONTROLLER,
    mavlink2.MAV_TYPE_GIMBAL,
    mavlink2.MAV_TYPE_CAMERA,
    mavlink2.MAV_TYPE_ADSB,
    mavlink2.MAV_TYPE_ANTENNA_TRACKER,
}


# With a signing key, only RADIO_STATUS from a local radio may come unsigned (as ArduPilot).
_UNSIGNED_OK = frozenset({mavlink2.MAVLINK_MSG_ID_RADIO_STATUS})


def load_signing_key(path: str | Path) -> bytes:
    """A MAVLink 2 signing key: 32 raw bytes, or 64 hex digits, in a file."""
    p = Path(path).expanduser()
    try:
        raw = p.read_bytes()
    except OSError as e:
        raise LinkError(f"signing key file {p}: cannot read: {e.strerror or e}") from e
    if len(raw) == 32:
        return raw
    text = raw.strip()
    try:
        key = bytes.fromhex(text.decode("ascii"))
    except (UnicodeDecodeError, ValueError):
        key = b""
    if len(key) != 32:
        raise LinkError(
            f"signing key file {p}: must hold 32 raw bytes or 64 hex digits (got {len(raw)} bytes); "
            'create one with: python -c "import os;print(os.urandom(32).hex())" > key'
        )
    return key


class MavLink:
    """An open MAVLink connection. Use `await MavLink.open(url, ...)`."""

    def __init__(
        self,
        endpoint: Endpoint,
        *,
        gcs_sysid: int = 255,
        gcs_compid: int = mavlink2.MAV_COMP_ID_MISSIONPLANNER,
        heartbeat_timeout_s: float = 3.0,
        heartbeat_interval_s: float = 1.0,
        signing_key: bytes | None = None,
    ) -> None:
        if not 1 <= gcs_sysid <= 255:
            raise LinkError(f"GCS system id {gcs_sysid} out of range 1..255")
        self.endpoint = endpoint
        self.url = str(endpoint)
        self.gcs_sysid = gcs_sysid
        self.gcs_compid = gcs_compid
        self.heartbeat_timeout_s = heartbeat_timeout_s
        self.heartbeat_interval_s = heartbeat_interval_s
        self.signing_key = signing_key
        self.vehicles: dict[int, VehicleRecord] = {}
        self.messages_received = 0
        self.bad_signatures = 0
        self._transport: Transport = make_transport(endpoint)
        self._parsers = ParserPool(self._new_parser)
        self._encoder = self._new_mav()
        self._listeners: dict[int, list[Listener]] = {}
        self._all_listeners: list[Listener] = []
        self._event_queues: list[asyncio.Queue[LinkEvent]] = []
        self._tasks: list[asyncio.Task[None]] = []
        self._discovered = asyncio.Condition()
        self.command_locks: dict[tuple[int, int], asyncio.Lock] = {}
        self._guard = SourceGuard(self, _AUTOPILOTS)
        self._closed = False

    # -- lifecycle -------------------------------------------------------------------------

    @classmethod
    async def open(
        cls,
        url: str,
        *,
        gcs_sysid: int = 255,
        heartbeat_timeout_s: float = 3.0,
        signing_key_file: str | Path | None = None,
        signing_key: bytes | None = None,
    ) -> MavLink:
        key = signing_key
        if signing_key_file is not None:
            key = load_signing_key(signing_key_file)
        link = cls(
            parse_url(url),
            gcs_sysid=gcs_sysid,
            heartbeat_timeout_s=heartbeat_timeout_s,
            signing_key=key,
        )
        await link._start()
        return link

    async def _start(self) -> None:
        await self._transport.open(self._on_data)
        if self.endpoint.kind == "udpin" and self.endpoint.port == 0:
            self.url = f"udpin://{self.endpoint.host}:{self.local_port}"
        self._tasks.append(asyncio.create_task(self._heartbeat_loop(), name=f"gcs hb {self.url}"))
        self._tasks.append(asyncio.create_task(self._watchdog(), name=f"watchdog {self.url}"))

    async def close(self) -> None:
        self._closed = True
        for t in self._tasks:
            t.cancel()
        for t in self._tasks:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await t
        await self._transport.close()

    @property
    def local_port(self) -> int:
        return self._transport.local_port

    # -- codec -----------------------------------------------------------------------------

    def _new_mav(self) -> mavlink2.MAVLink:
        mav = mavlink2.MAVLink(None, srcSystem=self.gcs_sysid, srcComponent=self.gcs_compid)
        mav.robust_parsing = True
        if self.signing_key is not None:
            mav.signing.secret_key = self.signing_key
            mav.signing.sign_outgoing = True
            mav.signing.link_id = 0
            mav.signing.timestamp = int((max(time.time(), 1420070400) - 1420070400) * 1e5)
            mav.signing.allow_unsigned_callback = lambda _m, msgid: msgid in _UNSIGNED_OK
        return mav

    def _new_parser(self) -> mavlink2.MAVLink:
        parser = self._new_mav()
        parser.signing.sign_outgoing = False
        return parser

    def own_address(self, rec: VehicleRecord, addr: Address, *, replace: bool = False) -> None:
        """`addr` speaks for `rec` (its first heartbeat, or proved by its uid): its parser is
        kept and the GCS heartbeat goes there. `replace`: the old addresses are gone."""
        if replace:
            for old in rec.addresses - {addr}:
                self._parsers.unpin(old)
                self._transport.forget_peer(old)
            rec.addresses = set()
            rec.address = addr
        rec.addresses.add(addr)
        self._parsers.pin(addr)
        self._transport.add_peer(addr)

    def send(self, msg: Message, sysid: int | None = None) -> None:
        """Encode (signing if configured) and send, to the vehicle's address or to every peer."""
        buf = msg.pack(self._encoder)
        self._encoder.seq = (self._encoder.seq + 1) % 256
        rec = self.vehicles.get(sysid) if sysid else None
        if rec is not None and len(rec.addresses) <= 1:
            self._transport.send(buf, rec.address)
        elif rec is not None:
            for a in rec.addresses:
                self._transport.send(buf, a)
        else:
            self._transport.send(buf)

    def _on_data(self, data: bytes, addr: Address) -> None:
        parser = self._parsers.get(addr)
        try:
            msgs = parser.parse_buffer(data)
        except mavlink2.MAVError as e:
            log.debug("%s: undecodable data from %s: %s", self.url, addr, e)
            return
        if not msgs:
            return
        for m in msgs:
            self._dispatch(m, addr)

    def _dispatch(self, m: Message, addr: Address) -> None:
        mtype = m.get_type()
        if mtype == "BAD_DATA":
            if "signature" in str(getattr(m, "reason", "")).lower():
                self.bad_signatures += 1
            return
        if (
            self.signing_key is not None
            and not m.get_signed()
            and m.get_msgId() not in _UNSIGNED_OK
        ):
            # pymavlink checks signatures of the messages it knows only: one of an id missing
            # from its dialect comes back unsigned as UNKNOWN_<id>, and is dropped here.
            self.bad_signatures += 1
            return
        self.messages_received += 1
        sysid = m.get_srcSystem()
        compid = m.get_srcComponent()
        if sysid == self.gcs_sysid and compid == self.gcs_compid:
            return  # our own heartbeat echoed by a router
        rec = self.vehicles.get(sysid)
        # Another source for a known sysid: merged only once it proves to be the same
        # autopilot; a second vehicle or a spoofer never touches this one's state.
        if (
            rec is not None
            and compid == rec.compid
            and addr not in rec.addresses
            and not self._guard.admit(rec, m, addr)
        ):
            return
        if mtype == "HEARTBEAT":
            rec = self._on_heartbeat(m, sysid, compid, addr, rec)
        if rec is None or compid != rec.compid:
            return  # not an autopilot we know; other components are not mixed in
        if mtype == "AUTOPILOT_VERSION":
            self._on_version(rec, m)
        elif mtype == "STATUSTEXT":
            st = StatusText(m.severity, m.text.strip(), time.monotonic())
            rec.statustexts.append(st)
        for fn in self._listeners.get(sysid, ()):
            fn(m)
        for fn in self._all_listeners:
            fn(m)

    def _on_heartbeat(
        self, m: Message, sysid: int, compid: int, addr: Address, rec: VehicleRecord | None
    ) -> VehicleRecord | None:
        if m.type in _NOT_AUTOPILOT_TYPES or m.autopilot == mavlink2.MAV_AUTOPILOT_INVALID:
            return rec
        now = time.monotonic()
        if rec is None:
            rec = VehicleRecord(
                sysid=sysid,
                compid=compid,
                autopilot=_AUTOPILOTS.get(m.autopilot, Autopilot.UNKNOWN),
                mav_type=m.type,
                address=addr,
                last_heartbeat_s=now,
            )
            self.vehicles[sysid] = rec
            self.own_address(rec, addr)
            log.info("%s: discovered vehicle %d (%s)", self.url, sysid, rec.autopilot)
            self._emit(LinkEventKind.DISCOVERED, sysid, f"{rec.autopilot} type {m.type}")
            self._request_version(rec, addr)
            self._notify_discovered()
        elif compid != rec.compid:
            return rec
        rec.last_heartbeat_s = now
        if not rec.link_ok:
            rec.link_ok = True
            log.warning("%s: vehicle %d link restored", self.url, sysid)
            self._emit(LinkEventKind.LINK_RESTORED, sysid, "heartbeat back")
            self._request_version(rec, addr)
        elif now - rec.version_requested_s > (2.0 if rec.uid is None else 15.0):
            # Re-asked now and then: a duplicate behind one address (a router, a serial
            # radio) only shows up as a second uid in answers over time.
            self._request_version(rec, None)
        return rec

    def _request_version(
        self, rec: VehicleRecord, addr: Address | None = None, *, remember: bool = True
    ) -> None:
        if remember:
            rec.version_requested_s = time.monotonic()
        msg = mavlink2.MAVLink_command_long_message(
            rec.sysid, rec.compid, mavlink2.MAV_CMD_REQUEST_MESSAGE, 0,
            mavlink2.MAVLINK_MSG_ID_AUTOPILOT_VERSION, 0, 0, 0, 0, 0, 0,
        )  # fmt: skip
        buf = msg.pack(self._encoder)
        self._encoder.seq = (self._encoder.seq + 1) % 256
        for a in [addr] if addr is not None else list(rec.addresses):
            self._transport.send(buf, a)

    def _on_version(self, rec: VehicleRecord, m: Message) -> None:
        uid = version_uid(m)
        v = m.flight_sw_version
        rec.firmware = f"{(v >> 24) & 0xFF}.{(v >> 16) & 0xFF}.{(v >> 8) & 0xFF}"
        rec.capabilities = int(m.capabilities)
        if not uid:
            return
        rec.uids.add(uid)
        if rec.uid is None:
            rec.uid = uid
        elif uid != rec.uid and not rec.duplicate:
            rec.duplicate = True
            ids = ", ".join(f"{u:#x}" for u in sorted(rec.uids))
            log.error("%s: system id %d used by two autopilots (uids %s)", self.url, rec.sysid, ids)
            self._emit(
                LinkEventKind.DUPLICATE_SYSID,
                rec.sysid,
                f"system id {rec.sysid} is used by autopilots with uids {ids}",
                {"uids": tuple(sorted(rec.uids))},
            )

    # -- loops -----------------------------------------------------------------------------

    async def _heartbeat_loop(self) -> None:
        hb = mavlink2.MAVLink_heartbeat_message(
            mavlink2.MAV_TYPE_GCS,
            mavlink2.MAV_AUTOPILOT_INVALID,
            0,
            0,
            mavlink2.MAV_STATE_ACTIVE,
            3,
        )
        while True:
            self.send(hb)
            await asyncio.sleep(self.heartbeat_interval_s)

    async def _watchdog(self) -> None:
        while True:
            await asyncio.sleep(min(0.25, self.heartbeat_timeout_s / 4))
            now = time.monotonic()
            for rec in self.vehicles.values():
                if rec.link_ok and now - rec.last_heartbeat_s > self.heartbeat_timeout_s:
                    rec.link_ok = False
                    log.warning("%s: vehicle %d link lost", self.url, rec.sysid)
                    self._emit(
                        LinkEventKind.LINK_LOST,
                        rec.sysid,
                        f"no heartbeat for {now - rec.last_heartbeat_s:.1f} s",
                    )
                    # A rebooted vehicle may come back on another port: that source is
                    # adopted once its uid matches (identity.SourceGuard), never blindly.

    # -- subscriptions ---------------------------------------------------------------------

    def add_listener(self, sysid: int | None, fn: Listener) -> Callable[[], None]:
        """Call `fn(msg)` for every message of vehicle `sysid` (None: every vehicle)."""
        lst = self._all_listeners if sysid is None else self._listeners.setdefault(sysid, [])
        lst.append(fn)
        return lambda: lst.remove(fn) if fn in lst else None

    @contextlib.contextmanager
    def collect(self, sysid: int, types: Iterable[str], maxsize: int = 0) -> Any:
        """A queue receiving this vehicle's messages of `types` while the block runs."""
        wanted = set(types)
        q: asyncio.Queue[Message] = asyncio.Queue(maxsize)

        def fn(m: Message) -> None:
            if m.get_type() in wanted:
                if q.full():
                    q.get_nowait()
                q.put_nowait(m)

        remove = self.add_listener(sysid, fn)
        try:
            yield q
        finally:
            remove()

    def _emit(
        self, kind: LinkEventKind, sysid: int, detail: str = "", data: dict[str, Any] | None = None
    ) -> None:
        ev = LinkEvent(kind, sysid, time.monotonic(), detail, data or {})
        for q in self._event_queues:
            q.put_nowait(ev)

    def event_queue(self) -> tuple[asyncio.Queue[LinkEvent], Callable[[], None]]:
        q: asyncio.Queue[LinkEvent] = asyncio.Queue()
        self._event_queues.append(q)
        return q, lambda: self._event_queues.remove(q) if q in self._event_queues else None

    def _notify_discovered(self) -> None:
        async def notify() -> None:
            async with self._discovered:
                self._discovered.notify_all()

        asyncio.get_running_loop().create_task(notify())

    async def wait_vehicle(
        self, sysid: int | None = None, timeout_s: float = 30.0
    ) -> VehicleRecord:
        """Wait for a vehicle's first heartbeat (any vehicle if `sysid` is None)."""

        def found() -> VehicleRecord | None:
            if sysid is None:
                return next(iter(self.vehicles.values()), None)
            return self.vehicles.get(sysid)

        try:
            async with asyncio.timeout(timeout_s):
                async with self._discovered:
                    await self._discovered.wait_for(lambda: found() is not None)
        except TimeoutError:
            who = f"vehicle {sysid}" if sysid else "any vehicle"
            raise LinkError(
                f"{self.url}: no heartbeat from {who} in {timeout_s:.0f} s; check the "
                "connection string, that the vehicle is powered and sends to this port"
            ) from None
        rec = found()
        assert rec is not None
        return rec

    def recent_statustext(self, sysid: int, since_s: float) -> str:
        rec = self.vehicles.get(sysid)
        if rec is None:
            return ""
        texts = [s.text for s in rec.statustexts if s.time_s >= since_s and s.severity <= 5]
        return "; ".join(texts[-2:])
