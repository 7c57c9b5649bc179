"""Errors of the link layer. All are `groundctl.errors.LinkError`, so the CLI prints them."""

from __future__ import annotations

from groundctl.errors import LinkError

__all__ = [
    "CommandDenied",
    "DuplicateSysidError",
    "LinkError",
    "LinkLostError",
    "MissionTransferError",
    "ParamError",
    "Timeout",
    "UnsupportedError",
]

# MAV_RESULT names, so messages read "DENIED" rather than "2".
MAV_RESULT_NAMES = {
    0: "ACCEPTED",
    1: "TEMPORARILY_REJECTED",
    2: "DENIED",
    3: "UNSUPPORTED",
    4: "FAILED",
    5: "IN_PROGRESS",
    6: "CANCELLED",
    7: "COMMAND_LONG_ONLY",
    8: "COMMAND_INT_ONLY",
    9: "UNSUPPORTED_MAV_FRAME",
}


class Timeout(LinkError):
    """The vehicle did not answer in time (after every retry the protocol allows)."""


class LinkLostError(LinkError):
    """The vehicle's heartbeat stopped; the exchange cannot complete until it comes back."""


class CommandDenied(LinkError):
    """A command was answered with a refusal (DENIED, FAILED, TEMPORARILY_REJECTED, ...).

    `result` is the MAV_RESULT code, `reason` the STATUSTEXT the vehicle sent just before
    (PX4 and ArduPilot explain pre-arm refusals that way), or "" when it said nothing.
    `resent` is True when the refusal answered a re-send: the first try may have been carried
    out with its ACK lost, and a command that cannot be repeated (take-off) is then refused.
    """

    def __init__(
        self, sysid: int, command: str, result: int, reason: str = "", *, resent: bool = False
    ) -> None:
        self.sysid = sysid
        self.resent = resent
        self.command = command
        self.result = result
        self.result_name = MAV_RESULT_NAMES.get(result, str(result))
        self.reason = reason
        msg = f"vehicle {sysid}: {command} refused: {self.result_name}"
        if reason:
            msg += f" ({reason})"
        super().__init__(msg)


class UnsupportedError(CommandDenied):
    """The vehicle does not implement the command (MAV_RESULT_UNSUPPORTED)."""


class MissionTransferError(LinkError):
    """A mission/fence/rally upload or download was refused or broke off.

    `ack_type` is the MAV_MISSION_RESULT the vehicle sent (None for a local timeout).
    """

    def __init__(self, message: str, ack_type: int | None = None) -> None:
        self.ack_type = ack_type
        super().__init__(message)


class ParamError(LinkError):
    """A parameter does not exist or could not be set to the requested value."""


class DuplicateSysidError(LinkError):
    """Two different autopilots (different AUTOPILOT_VERSION uids) use one system id.

    Raised by every command to that system id until the conflict is resolved: we never guess
    which of the two a command would reach.
    """

    def __init__(self, sysid: int, uids: tuple[int, ...]) -> None:
        self.sysid = sysid
        self.uids = uids
        ids = ", ".join(f"{u:#x}" for u in uids)
        super().__init__(
            f"system id {sysid} is used by {len(uids)} different autopilots (uids {ids}); "
            "give each vehicle its own MAV_SYS_ID (PX4) / SYSID_THISMAV (ArduPilot) and reboot it"
        )
