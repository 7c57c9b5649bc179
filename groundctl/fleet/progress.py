"""Which lanes a drone has swept, from what its autopilot reports: pure functions.

A lane is swept when the drone reaches the waypoint that ends it. MISSION_ITEM_REACHED says so
directly but can be lost on a lossy radio; MISSION_CURRENT repeats at ~1 Hz, and a current item
past a lane's end item means that lane is done too. Both are folded in, so one lost message
never leaves a swept lane to be flown again, nor marks an unflown lane swept.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence


def swept_lanes(
    lane_end_seq: Mapping[str, int],
    reached: Iterable[int] = (),
    current_seq: int | None = None,
    mission_finished: bool = False,
) -> set[str]:
    """Lanes done, given the mission items reached and the current item.

    `lane_end_seq` maps a lane id to the seq of the mission item ending it.
    """
    done_items = set(reached)
    out = {lane for lane, seq in lane_end_seq.items() if seq in done_items}
    if current_seq is not None:
        out |= {lane for lane, seq in lane_end_seq.items() if seq < current_seq}
    if mission_finished:
        out |= set(lane_end_seq)
    return out


def remaining(lanes: Sequence[str], swept: Iterable[str]) -> list[str]:
    """The unswept lanes of a sortie in flying order: the next sortie starts at the first."""
    done = set(swept)
    return [lane for lane in lanes if lane not in done]


def first_unswept(lanes: Sequence[str], swept: Iterable[str]) -> str | None:
    rest = remaining(lanes, swept)
    return rest[0] if rest else None


def fraction_swept(lanes: Sequence[str], swept: Iterable[str]) -> float:
    if not lanes:
        return 1.0
    done = set(swept)
    return sum(1 for lane in lanes if lane in done) / len(lanes)
