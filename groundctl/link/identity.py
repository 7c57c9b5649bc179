"""Which source speaks for a system id: one vehicle, one link, never a merge of two.

The first source address a vehicle's heartbeat came from is its own link. Another source
claiming the same system id (a second vehicle left at the same MAV_SYS_ID, a spoofer, or the
same autopilot on a second path) is a *suspect*: none of its messages reach the vehicle's
state (no heartbeat, no position, no "reboot") until it proves, by an AUTOPILOT_VERSION uid
equal to the vehicle's, that it is the same autopilot. A suspect whose heartbeat names
another autopilot or airframe, whose uid differs, or that keeps talking for `GRACE_S` without
proving itself while the vehicle's own link is alive is an *impostor*: it is ignored for
good, and the link alarms once per impostor (a log error naming both sources and a
DUPLICATE_SYSID event). Commands keep going to the vehicle's own address, so an airborne
drone can still be brought home.
"""

from __future__ import annotations

import logging
import time
from collections import deque
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from groundctl.link.transport import Address
from groundctl.link.types import Autopilot, LinkEventKind, StatusText

if TYPE_CHECKING:
    from groundctl.link.link import MavLink

log = logging.getLogger("groundctl.link.link")

__all__ = ["GRACE_S", "SourceGuard", "VehicleRecord", "fmt_address", "version_uid"]

GRACE_S = 3.0  # a suspect that has not proved its identity by then is an impostor
ASK_EVERY_S = 1.0  # AUTOPILOT_VERSION requests to a suspect
MAX_SUSPECTS = 16  # per vehicle, so a flood of spoofing ports cannot grow memory
SUSPECT_IDLE_S = 5.0  # a suspect silent this long is forgotten (a one-datagram port)
MAX_IMPOSTORS = 64


@dataclass
class VehicleRecord:
    """What the link knows about one system id: identity, liveness, who speaks for it."""

    sysid: int
    compid: int
    autopilot: Autopilot
    mav_type: int
    address: Address
    addresses: set[Address] = field(default_factory=set)
    last_heartbeat_s: float = 0.0
    link_ok: bool = True
    uid: int | None = None
    uids: set[int] = field(default_factory=set)
    firmware: str | None = None
    capabilities: int = 0
    # Two uids answered over the vehicle's own address (a router or a radio in between):
    # which one a command reaches is unknown, so commands are refused.
    duplicate: bool = False
    # Another source claims this sysid and was shut out (see the module doc).
    conflict: bool = False
    suspects: dict[Address, Suspect] = field(default_factory=dict)
    impostors: dict[Address, str] = field(default_factory=dict)  # address -> why
    ignored: int = 0  # messages from impostors and suspects, not merged
    statustexts: deque[StatusText] = field(default_factory=lambda: deque(maxlen=32))
    version_requested_s: float = 0.0


@dataclass
class Suspect:
    first_s: float
    last_s: float = 0.0
    asked_s: float = 0.0
    uid: int | None = None


def version_uid(m: Any) -> int:
    return int(m.uid) or int.from_bytes(bytes(getattr(m, "uid2", b"") or b""), "little")


def fmt_address(addr: Address) -> str:
    if isinstance(addr, tuple) and len(addr) == 2:
        return f"{addr[0]}:{addr[1]}"
    return str(addr)


class SourceGuard:
    """Admits or shuts out a source address for a known vehicle record."""

    def __init__(self, link: MavLink, autopilots: dict[int, Autopilot]) -> None:
        self.link = link
        self.autopilots = autopilots

    def admit(self, rec: VehicleRecord, m: Any, addr: Address) -> bool:
        """True when a message from `addr` (not one of `rec.addresses`) may be merged."""
        if addr in rec.impostors:
            rec.ignored += 1
            return False
        now = time.monotonic()
        s = rec.suspects.get(addr)
        if s is None:
            if len(rec.suspects) >= MAX_SUSPECTS:
                for a in [a for a, x in rec.suspects.items() if now - x.last_s > SUSPECT_IDLE_S]:
                    del rec.suspects[a]
            if len(rec.suspects) >= MAX_SUSPECTS:
                rec.ignored += 1
                return False
            s = rec.suspects[addr] = Suspect(now)
        s.last_s = now
        rec.ignored += 1
        mtype = m.get_type()
        if mtype == "HEARTBEAT":
            ap = self.autopilots.get(m.autopilot, Autopilot.UNKNOWN)
            if ap != rec.autopilot or m.type != rec.mav_type:
                self._impostor(rec, addr, f"its heartbeat says {ap} type {m.type}")
                return False
        elif mtype == "AUTOPILOT_VERSION":
            s.uid = version_uid(m) or None
        if s.uid is not None and rec.uid is not None:
            if s.uid != rec.uid:
                self._impostor(rec, addr, f"autopilot uid {s.uid:#x}")
                return False
            return self._adopt(rec, addr, f"same autopilot uid {s.uid:#x}")
        if not rec.link_ok and rec.uid is None:
            # Never identified (no AUTOPILOT_VERSION support) and its own link is gone: the
            # next source is re-learned, as a vehicle rebooted onto another port would be.
            return self._adopt(rec, addr, "own link lost, vehicle has no uid")
        if rec.link_ok and now - s.first_s > GRACE_S:
            self._impostor(rec, addr, f"no matching uid in {GRACE_S:.0f} s")
            return False
        if now - s.asked_s >= ASK_EVERY_S:
            s.asked_s = now
            self.link._request_version(rec, addr, remember=False)
        return False

    def _adopt(self, rec: VehicleRecord, addr: Address, why: str) -> bool:
        rec.suspects.pop(addr, None)
        rec.ignored -= 1
        # A second path to the same autopilot; or, its own link lost, the one it came back on
        # (a reboot onto another port), which replaces the old.
        self.link.own_address(rec, addr, replace=not rec.link_ok)
        log.info("%s: vehicle %d also heard at %s (%s)", self.link.url, rec.sysid, addr, why)
        return True

    def _impostor(self, rec: VehicleRecord, addr: Address, why: str) -> None:
        s = rec.suspects.pop(addr, None)
        if len(rec.impostors) >= MAX_IMPOSTORS:
            rec.impostors.pop(next(iter(rec.impostors)))
        rec.impostors[addr] = why
        rec.conflict = True
        own, other = fmt_address(rec.address), fmt_address(addr)
        detail = (
            f"system id {rec.sysid} is also claimed by {other} ({why}); it is ignored and "
            f"vehicle {rec.sysid} is commanded at its own link {own} only; give each vehicle "
            "its own MAV_SYS_ID (PX4) / SYSID_THISMAV (ArduPilot)"
        )
        log.error("%s: %s", self.link.url, detail)
        uids = set(rec.uids) | ({s.uid} if s is not None and s.uid else set())
        self.link._emit(
            LinkEventKind.DUPLICATE_SYSID,
            rec.sysid,
            detail,
            {"sources": (own, other), "uids": tuple(sorted(uids))},
        )
