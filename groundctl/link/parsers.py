"""MAVLink parsers per source address, bounded (issue #18 item 5).

A parser holds the state of a frame split across reads, so each source gets its own and
interleaved datagrams from different vehicles never mix. Only the addresses a vehicle speaks
from (`pin`) keep theirs for good; any other source (a new port per datagram, a scan, a
flood) shares a small least-recently-used pool, so memory stays flat whatever arrives. All
parsers share one table of signing timestamps, so a signed frame replayed from another port
is as stale as from the first.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Callable
from typing import Any

from groundctl.link.transport import Address

__all__ = ["STRANGERS", "ParserPool"]

STRANGERS = 64  # parsers kept for sources that are no vehicle's (least recently used first out)


class ParserPool:
    def __init__(self, make: Callable[[], Any], strangers: int = STRANGERS) -> None:
        self._make = make
        self._cap = strangers
        self._pinned: dict[Address, Any] = {}
        self._strangers: OrderedDict[Address, Any] = OrderedDict()
        self._stream_timestamps: dict[Any, int] = {}

    def get(self, addr: Address) -> Any:
        p = self._pinned.get(addr)
        if p is not None:
            return p
        p = self._strangers.get(addr)
        if p is not None:
            self._strangers.move_to_end(addr)
            return p
        p = self._strangers[addr] = self._new()
        while len(self._strangers) > self._cap:
            self._strangers.popitem(last=False)
        return p

    def _new(self) -> Any:
        p = self._make()
        p.signing.stream_timestamps = self._stream_timestamps
        return p

    def pin(self, addr: Address) -> None:
        """`addr` is a vehicle's own: its parser stays."""
        if addr not in self._pinned:
            p = self._strangers.pop(addr, None)
            self._pinned[addr] = p if p is not None else self._new()

    def unpin(self, addr: Address) -> None:
        self._pinned.pop(addr, None)

    def __len__(self) -> int:
        return len(self._pinned) + len(self._strangers)
