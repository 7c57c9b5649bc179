"""What the simulator needs to know about an airframe.

`sim` never imports `groundctl`: callers pass any object with these fields, normally
``groundctl.config.airframe(name)``. `GENERIC_QUAD` is used when none is given.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol


class AirframeLike(Protocol):
    """The fields of groundctl's AirframeConfig the simulator reads (speeds m/s, rates)."""

    @property
    def name(self) -> str: ...
    @property
    def kind(self) -> str: ...  # "multicopter" or "fixed_wing_vtol"
    @property
    def cruise_speed_ms(self) -> float: ...
    @property
    def max_speed_ms(self) -> float: ...
    @property
    def climb_rate_ms(self) -> float: ...
    @property
    def descent_rate_ms(self) -> float: ...
    @property
    def max_accel_ms2(self) -> float: ...
    @property
    def yaw_rate_dps(self) -> float: ...
    @property
    def endurance_min(self) -> float: ...
    @property
    def battery_reserve_pct(self) -> float: ...
    @property
    def battery_wh(self) -> float: ...
    @property
    def battery_cells(self) -> int: ...
    @property
    def mass_kg(self) -> float: ...
    @property
    def max_wind_ms(self) -> float: ...


@dataclass(frozen=True)
class Airframe:
    """A plain airframe record, for scripts that do not load groundctl's catalogue."""

    name: str = "generic_quad"
    kind: str = "multicopter"
    cruise_speed_ms: float = 10.0
    max_speed_ms: float = 15.0
    climb_rate_ms: float = 5.0
    descent_rate_ms: float = 3.0
    max_accel_ms2: float = 4.0
    yaw_rate_dps: float = 90.0
    endurance_min: float = 30.0
    battery_reserve_pct: float = 25.0
    battery_wh: float = 100.0
    battery_cells: int = 4
    mass_kg: float = 1.5
    max_wind_ms: float = 12.0


GENERIC_QUAD = Airframe()
