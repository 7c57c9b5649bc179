"""Links shared between vehicles: one socket per connection string, vehicles cached by sysid."""

from __future__ import annotations

import asyncio
import weakref
from pathlib import Path

from groundctl.link import registry
from groundctl.link.link import MavLink
from groundctl.link.url import parse_url
from groundctl.link.vehicle import Vehicle

__all__ = ["LinkManager", "default_manager", "open_vehicle"]


class LinkManager:
    """Opens each connection string once and hands out `Vehicle`s on it.

    >>> mgr = LinkManager(gcs_sysid=250)
    >>> v1 = await mgr.vehicle("udpin://0.0.0.0:14550", sysid=1)
    >>> v2 = await mgr.vehicle("udpin://0.0.0.0:14550", sysid=2)   # same socket
    >>> everyone = await mgr.discover("udpin://0.0.0.0:14550", wait_s=3)
    """

    def __init__(self, *, gcs_sysid: int = 255, heartbeat_timeout_s: float = 3.0) -> None:
        self.gcs_sysid = gcs_sysid
        self.heartbeat_timeout_s = heartbeat_timeout_s
        self.links: dict[str, MavLink] = {}
        self._vehicles: dict[tuple[str, int, str], Vehicle] = {}
        self._lock = asyncio.Lock()

    async def link(
        self,
        url: str,
        *,
        signing_key_file: str | Path | None = None,
        gcs_sysid: int | None = None,
        heartbeat_timeout_s: float | None = None,
    ) -> MavLink:
        key = str(parse_url(url))
        async with self._lock:
            link = self.links.get(key)
            if link is None:
                link = await MavLink.open(
                    url,
                    gcs_sysid=gcs_sysid or self.gcs_sysid,
                    heartbeat_timeout_s=heartbeat_timeout_s or self.heartbeat_timeout_s,
                    signing_key_file=signing_key_file,
                )
                self.links[key] = link
            return link

    async def vehicle(
        self,
        url: str,
        *,
        sysid: int | None = None,
        backend: str = "pymavlink",
        gcs_sysid: int | None = None,
        signing_key_file: str | Path | None = None,
        heartbeat_timeout_s: float | None = None,
        timeout_s: float = 30.0,
    ) -> Vehicle:
        """The vehicle `sysid` (the first heard if None) on `url`, through `backend`."""
        open_fn = registry.opener(backend)
        key = str(parse_url(url))
        if sysid is not None and (key, sysid, backend) in self._vehicles:
            return self._vehicles[(key, sysid, backend)]
        v: Vehicle = await open_fn(
            self,
            url,
            sysid=sysid,
            gcs_sysid=gcs_sysid or self.gcs_sysid,
            signing_key_file=signing_key_file,
            heartbeat_timeout_s=heartbeat_timeout_s,
            timeout_s=timeout_s,
        )
        vkey = (key, v.sysid, backend)
        if vkey in self._vehicles:
            return self._vehicles[vkey]
        self._vehicles[vkey] = v
        # When the last vehicle on a link is closed, the link (socket, heartbeat) goes too.
        v._on_close = lambda: self._release(vkey)  # type: ignore[attr-defined]
        return v

    def cached(self, url: str, sysid: int, backend: str) -> Vehicle | None:
        """A vehicle this manager already handed out (backends check before making one)."""
        return self._vehicles.get((str(parse_url(url)), sysid, backend))

    def _release(self, vkey: tuple[str, int, str]) -> asyncio.Task[None] | None:
        self._vehicles.pop(vkey, None)
        url = vkey[0]
        if any(k[0] == url for k in self._vehicles):
            return None
        link = self.links.pop(url, None)
        return None if link is None else asyncio.get_running_loop().create_task(link.close())

    async def discover(self, url: str, *, wait_s: float = 3.0, **kw: object) -> list[Vehicle]:
        """Every vehicle heard on `url` within `wait_s` (pymavlink backend)."""
        link = await self.link(url, **kw)  # type: ignore[arg-type]
        await asyncio.sleep(wait_s)
        return [await self.vehicle(url, sysid=s, timeout_s=1) for s in sorted(link.vehicles)]

    async def close(self) -> None:
        for v in list(self._vehicles.values()):
            v._on_close = None  # type: ignore[attr-defined]
            await v.close()
        for link in list(self.links.values()):
            await link.close()
        self._vehicles.clear()
        self.links.clear()


_defaults: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, LinkManager] = (
    weakref.WeakKeyDictionary()
)


def default_manager() -> LinkManager:
    """The manager `open_vehicle` uses: one per event loop (sockets belong to a loop)."""
    loop = asyncio.get_running_loop()
    mgr = _defaults.get(loop)
    if mgr is None:
        mgr = _defaults[loop] = LinkManager()
    return mgr


async def open_vehicle(
    url: str,
    *,
    sysid: int | None = None,
    backend: str = "pymavlink",
    gcs_sysid: int = 255,
    signing_key_file: str | None = None,
    heartbeat_timeout_s: float = 3.0,
    timeout_s: float = 30.0,
) -> Vehicle:
    """Connect to one vehicle at `url` (first one heard if `sysid` is None).

    `backend` is "pymavlink" (PX4, ArduPilot) or "mavsdk" (PX4 only). Links are shared: two
    vehicles on one URL use one socket (see `LinkManager` to manage several links explicitly
    and to discover every vehicle on a link).
    """
    return await default_manager().vehicle(
        url,
        sysid=sysid,
        backend=backend,
        gcs_sysid=gcs_sysid,
        signing_key_file=signing_key_file,
        heartbeat_timeout_s=heartbeat_timeout_s,
        timeout_s=timeout_s,
    )
