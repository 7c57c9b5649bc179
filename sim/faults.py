"""Fault injection for one simulated vehicle (`SimVehicle.faults`)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from sim.link import LinkFaults

if TYPE_CHECKING:
    from sim.vehicle import SimVehicle

__all__ = ["Faults"]


class Faults:
    """Fault injection for one vehicle: link faults as attributes, the rest as methods."""

    def __init__(self, vehicle: SimVehicle) -> None:
        self._v = vehicle

    def _lf(self) -> LinkFaults:
        return self._v.link_faults

    loss_pct = property(
        lambda s: s._lf().loss_pct, lambda s, v: setattr(s._lf(), "loss_pct", float(v))
    )
    latency_ms = property(
        lambda s: s._lf().latency_ms, lambda s, v: setattr(s._lf(), "latency_ms", float(v))
    )
    duplicate_pct = property(
        lambda s: s._lf().duplicate_pct, lambda s, v: setattr(s._lf(), "duplicate_pct", float(v))
    )
    reorder_pct = property(
        lambda s: s._lf().reorder_pct, lambda s, v: setattr(s._lf(), "reorder_pct", float(v))
    )

    def drop_next_ack(self, command: int, times: int = 1) -> None:
        """Lose the next `times` COMMAND_ACKs for `command` (the command itself is carried out)."""
        self._v.acks_to_drop[command] = self._v.acks_to_drop.get(command, 0) + times

    @property
    def execute_resent_commands(self) -> bool:
        """True: a re-sent command is executed again, as real PX4 and ArduPilot do."""
        return self._v.execute_resent_commands

    @execute_resent_commands.setter
    def execute_resent_commands(self, on: bool) -> None:
        self._v.execute_resent_commands = bool(on)

    def kill(self) -> None:
        self._v.kill()

    def restart(self) -> None:
        self._v.restart()

    def gps_loss(self) -> None:
        self._v.lose_gps()

    def gps_restore(self) -> None:
        self._v.restore_gps()

    def motor_failure(self) -> None:
        self._v.fail_motor()

    def storage_failure(self, on: bool = True, plans: tuple[int, ...] = (0, 1, 2)) -> None:
        """The autopilot cannot store plans of these types (PX4 with its SD card gone): every
        item is answered MAV_MISSION_ERROR with the autopilot's STATUSTEXT."""
        self._v.storage_failed = frozenset(plans) if on else frozenset()

    def mission_storage_failure(self) -> None:
        """Only mission uploads fail (geofence and rally points still store)."""
        self.storage_failure(True, (0,))

    def set_battery(self, pct: float) -> None:
        """Jump the battery to `pct` percent (e.g. to trigger the low-battery failsafe)."""
        self._v.battery.set_soc(pct / 100.0)
