"""Domain errors of the product layer.

Every error a user can cause says what was wrong, where, and how to fix it. The CLI prints
`str(error)` and exits with code 2; it never shows a traceback for these.
"""

from __future__ import annotations


class GroundctlError(Exception):
    """Base of every error groundctl reports to a user."""


class ConfigError(GroundctlError):
    """A config file or value is wrong. Names the file, the key and the reason."""

    def __init__(self, source: str, key: str | None, reason: str) -> None:
        self.source = source
        self.key = key
        self.reason = reason
        where = f"{source}: {key}" if key else source
        super().__init__(f"{where}: {reason}")


class LinkError(GroundctlError):
    """A MAVLink connection or protocol exchange failed."""


class DispatchError(GroundctlError):
    """A dispatch sink (MQTT, CoT, webhook) could not be configured or reached."""
