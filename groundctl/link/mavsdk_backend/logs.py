"""MAVSDK's own log lines go to Python logging, never to the pilot's terminal.

MAVSDK's C++ core prints every line it logs ("[12:00:01|Debug] MAVLink: info: ...") to
stdout unless a callback takes them. Here they go to the ``groundctl.link.mavsdk`` logger,
one level down (MAVSDK's "warn" is our info): what the vehicle says reaches the operator
through its STATUSTEXT events anyway, and MAVSDK's own chatter stays in the log.
"""

from __future__ import annotations

import logging

log = logging.getLogger("groundctl.link.mavsdk")

_routed = False


def route_mavsdk_logs() -> None:
    """Install the callback once per process (MAVSDK keeps one for the whole library)."""
    global _routed
    if _routed:
        return
    from mavsdk.logging import LogLevel, log_subscribe

    levels = {
        LogLevel.DEBUG: logging.DEBUG,
        LogLevel.INFO: logging.DEBUG,
        LogLevel.WARN: logging.INFO,
        LogLevel.ERROR: logging.WARNING,
    }

    def handler(level: LogLevel, message: str, file: str | None, line: int) -> bool:
        log.log(levels.get(level, logging.DEBUG), "%s", message)
        return True  # handled: MAVSDK prints nothing itself

    log_subscribe(handler)
    _routed = True
