"""When overwatch may hold a person, and which drones it may take: it follows the evidence.

- Only a confirmed person is held: one seen from at least two positions (camera positions
  `MIN_BASELINE_M` apart, or two drones), or one the coordinator confirmed (an authorised
  "team_dispatched" acknowledgement). One look, or many from one spot, can be a sheep or a
  warm stone seen the same way again.
- Never two watches on one person: a hit within a body length plus the two positions'
  uncertainty of a person already held is that person again (a lying body seen in pieces, or
  a second ground station's fix), not a second one.
- Overwatch never takes the last searching drone while lanes remain and people are still
  missing (`fly --missing N`, default 1): the person it would hold counts as found, the
  others held as found, and the rest are still out there.
"""

from __future__ import annotations

import math
from collections.abc import Iterable

from groundctl.fleet.assign import distance_m
from thermal.hit import Hit

BODY_LENGTH_M = 1.8  # a lying adult
MIN_BASELINE_M = 10.0  # camera positions this far apart see a body from two sides
CONFIRMED_BY_COORDINATOR = ("team_dispatched",)


def same_person(a: Hit, b: Hit) -> bool:
    """Whether two person hits are one body: within a body length plus two sigma of the
    two positions' combined uncertainty."""
    gate = BODY_LENGTH_M + 2.0 * math.hypot(a.uncertainty_m, b.uncertainty_m)
    return distance_m((a.lat, a.lon), (b.lat, b.lon)) <= gate


def confirmed_person(vehicle_ids: Iterable[int], seen_from_m: float, ack_status: str | None) -> str:
    """Why this person hit is confirmed ("" when it is not)."""
    if ack_status in CONFIRMED_BY_COORDINATOR:
        return f"coordinator: {ack_status}"
    if len(set(vehicle_ids)) >= 2:
        return "seen by two drones"
    if seen_from_m >= MIN_BASELINE_M:
        return f"seen from positions {seen_from_m:.0f} m apart"
    return ""


def must_keep_searcher(missing: int, others_held: int, lanes_remain: bool) -> bool:
    """Whether the last searching drone must stay in the search for a new watch: lanes
    remain and, with this person and the `others_held` found, people are still missing."""
    return lanes_remain and missing - others_held - 1 > 0
