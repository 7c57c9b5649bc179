"""Simulated time: wall time times the speedup, advanced in fixed physics steps.

Protocol rates (HEARTBEAT at 1 Hz...) run in simulated time, like a PX4 lockstep SITL with a
speed factor. Timeouts that a ground station's own timers race against (GCS link loss,
auto-disarm before take-off, mission re-requests) must also hold in wall time, so a ground
station with standard timeouts still works at any speedup: see `Clock.elapsed`.
"""

from __future__ import annotations

import time

PHYSICS_DT_S = 0.05
# A timeout of T simulated seconds also needs min(T, this) wall seconds to expire: a ground
# station retrying over a lossy link at wall-clock pace must not be outrun by the vehicle.
WALL_FLOOR_S = 10.0


class Clock:
    """Simulated seconds since start; `manual` clocks advance only when told (tests)."""

    def __init__(self, speedup: float, epoch_s: float | None = None, manual: bool = False) -> None:
        if not speedup > 0:
            raise ValueError("speedup must be positive")
        self.speedup = float(speedup)
        self.manual = manual
        self.sim_s = 0.0
        self.epoch_s = time.time() if epoch_s is None else epoch_s
        self._wall0 = time.monotonic()

    def wall(self) -> float:
        return self.sim_s if self.manual else time.monotonic() - self._wall0

    def unix_s(self) -> float:
        """Simulated time as a Unix timestamp (the start is the real start time)."""
        return self.epoch_s + self.sim_s

    def elapsed(self, since_sim: float, since_wall: float, timeout_s: float) -> bool:
        """True once `timeout_s` passed in simulated time and, when sped up, enough wall time."""
        if self.sim_s - since_sim < timeout_s:
            return False
        if self.manual or self.speedup <= 1.0:
            return True
        return self.wall() - since_wall >= min(timeout_s, WALL_FLOOR_S)
