"""Backends of `Vehicle`, by name: the manager opens vehicles through here, never by
importing a backend, and each backend joins when its module is imported.

A backend registers an opener: ``async opener(manager, url, **options) -> Vehicle``. Known
backends are imported on first use, so the MAVSDK library loads only for a MAVSDK vehicle.
"""

from __future__ import annotations

import importlib
from collections.abc import Awaitable, Callable
from typing import Any

from groundctl.errors import LinkError

__all__ = ["BACKENDS", "Opener", "opener", "register"]

Opener = Callable[..., Awaitable[Any]]

# Backend name -> the module that registers it.
BACKENDS = {"pymavlink": "groundctl.link.pymav", "mavsdk": "groundctl.link.mavsdk_backend"}
_openers: dict[str, Opener] = {}


def register(name: str, fn: Opener) -> None:
    """Make `fn` the opener of backend `name` (called by the backend's module)."""
    _openers[name] = fn


def opener(name: str) -> Opener:
    """The opener of backend `name`, importing its module the first time."""
    if name not in _openers:
        module = BACKENDS.get(name)
        if module is None:
            raise LinkError(f"unknown backend {name!r}; use one of: {', '.join(BACKENDS)}")
        importlib.import_module(module)
    return _openers[name]
