"""What the orchestrator's steps use of one another, declared in one place.

`Orchestrator` is a small state machine over step mixins (`launch`, `search`, `homecoming`,
`reassign`, `observe`, `energy`); each mixin derives from `Parts` so that what it calls on
`self` is named here, whichever mixin defines it. Annotations only: nothing is set here.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from groundctl.config import AirframeConfig
from groundctl.fleet.sortie import Job
from groundctl.link import VehicleState


class Parts:
    # orchestrator
    airframe: Callable[[str], AirframeConfig]
    launch_of: Callable[[str], tuple[float, float]]
    sysid: Callable[[str], int]
    _left: Callable[..., Job | None]
    _drone: Callable[[str], Awaitable[None]]
    # energy
    wall: Callable[[float], float]
    pace: Callable[[], float]
    _track_clocks: Callable[[str, VehicleState], None]
    leave_threshold_pct: Callable[[str, VehicleState], float]
    sortie_need_pct: Callable[[str, float], float]
    # observe
    _observe: Callable[[str], VehicleState]
    _check_link: Callable[[str, VehicleState, list[float | None]], Awaitable[None]]
    # launch
    flight_need_s: Callable[[str, Job], float]
    _prepare: Callable[..., Awaitable[None]]
    _upload: Callable[..., Awaitable[None]]
    _set_rtl_alt: Callable[[str], Awaitable[None]]
    _takeoff: Callable[[str, float], Awaitable[None]]
    _ready_to_arm: Callable[[str], Awaitable[None]]
    forget_plans: Callable[[str], None]
    # homecoming
    _land: Callable[[str, str], Awaitable[None]]
    _end_sortie: Callable[[str, Job, int, str], Awaitable[None]]
    # reassign
    _redistribute: Callable[[str, list[Job], set[str]], None]
    lost_why: dict[str, str]
