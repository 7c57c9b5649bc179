"""Rows of the operation database, as frozen dataclasses."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any, Literal

# What an id from outside may look like before it names a topic level or a file (hit ids,
# operation names, desk names): letters, digits, `_`, `.`, `@`, `-`, starting with a letter,
# digit or `_` (never `.` or `..`), at most 128 characters. See `groundctl.dispatch.ids`.
IDENTIFIER = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.@-]{0,127}")

AckStatus = Literal["received", "team_dispatched", "found", "false_alarm"]
ACK_STATUSES: tuple[str, ...] = ("received", "team_dispatched", "found", "false_alarm")
OutboxState = Literal["pending", "sent", "superseded"]


@dataclass(frozen=True)
class Operation:
    id: int
    name: str
    created_at: float
    ended_at: float | None
    notes: str
    area_geojson: dict[str, Any] | None
    detail: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Plan:
    id: int
    name: str
    created_at: float
    plan: dict[str, Any]


@dataclass(frozen=True)
class Sortie:
    """One vehicle's assignment: a search segment or an overwatch turn."""

    id: int
    plan_id: int | None
    sysid: int
    segment: str | None
    role: str  # "search", "overwatch", "relay", ...
    status: str  # "planned", "uploading", "flying", "returning", "landed", "done", "aborted"
    created_at: float
    started_at: float | None
    ended_at: float | None
    progress: float  # 0..1 of the segment covered
    detail: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Flight:
    """Take-off to landing of one vehicle."""

    id: int
    sysid: int
    sortie_id: int | None
    takeoff_at: float
    landed_at: float | None
    detail: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class VehicleEvent:
    id: int
    ts: float
    sysid: int | None
    sortie_id: int | None
    kind: str  # "armed", "mode", "statustext", "failsafe", "link_lost", ...
    severity: str  # "debug", "info", "warning", "error", "critical"
    message: str
    data: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Command:
    """One entry of the command journal: what was asked of a vehicle and what it answered."""

    id: int
    ts: float
    sysid: int
    command: str
    params: dict[str, Any]
    result: str | None
    result_at: float | None
    detail: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class TrackPoint:
    sysid: int
    ts: float
    lat: float
    lon: float
    alt_amsl_m: float | None = None
    alt_rel_m: float | None = None
    heading_deg: float | None = None
    speed_ms: float | None = None
    battery_pct: float | None = None
    sortie_id: int | None = None


@dataclass(frozen=True)
class StoredHit:
    """A hit as stored: the latest revision of the target, plus its acknowledgement state."""

    id: str
    revision: int
    target_class: str
    confidence: float
    lat: float
    lon: float
    uncertainty_m: float
    first_seen: float
    last_seen: float
    vehicle_ids: tuple[int, ...]
    temp_c: float | None
    sighting_count: int
    created_at: float
    updated_at: float
    chip_png: bytes | None = None
    # The latest *authorised* acknowledgement (see `Ack`) and its status; None when no
    # authorised ack came. Unauthorised acks are stored and counted, never acted upon.
    status: str | None = None
    ack: Ack | None = None
    unverified_acks: int = 0  # acks stored for this hit that are not authorised

    @property
    def message_id(self) -> str:
        return message_id(self.id, self.revision)


def message_id(hit_id: str, revision: int) -> str:
    """Stable per revision: a duplicate delivery has the same id, an update a new one."""
    return f"{hit_id}:{revision}"


@dataclass(frozen=True)
class OutboxMessage:
    id: int
    sink: str
    kind: str  # "hit", "progress", ...
    subject: str  # hit id for hits
    revision: int
    message_id: str
    payload: dict[str, Any] | None
    state: str
    created_at: float
    attempts: int
    next_attempt_at: float
    last_error: str | None
    sent_at: float | None


@dataclass(frozen=True)
class Ack:
    """A command centre's (or the ground station's own) answer about a hit.

    `by` is the name the author gave, for display. `identity` is who it provably came from:
    `"local"` for an ack the ground station made itself (its operator, its simulated ground
    team: an `Ack` built in-process), `"key:<name>"` for an ack from the network whose
    signature checked out against the key `<name>` configured under `dispatch.ack_keys`, and
    `""` for one from the network that nobody vouches for. `authorised` is whether it may
    change what the fleet does (end an overwatch): an ack from the network is authorised only
    when its signature checked out. Acks from the network are built by
    `groundctl.dispatch.messages.parse_ack`, the only door in, which sets both fields.
    """

    ack_id: str
    hit_id: str
    status: str
    ts: float
    message_id: str | None = None
    by: str = ""
    note: str = ""
    received_at: float = 0.0
    source: str = ""
    identity: str = "local"
    authorised: bool = True


@dataclass(frozen=True)
class UpsertResult:
    hit_id: str
    revision: int
    changed: bool  # False when the hit was identical to the stored revision
    created: bool  # True the first time this hit id is seen
