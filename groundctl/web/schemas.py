"""Request bodies, validated before anything is done with them (extra keys refused)."""

from __future__ import annotations

import math
import re
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

NAME = re.compile(r"^[\w][\w .@-]{0,39}$")

# What the page's buttons send, and the statuses of `groundctl dispatch listen`.
ACK_ALIASES = {
    "confirm": "team_dispatched",
    "dismiss": "false_alarm",
    "received": "received",
    "team_dispatched": "team_dispatched",
    "dispatched": "team_dispatched",
    "found": "found",
    "false_alarm": "false_alarm",
    "false": "false_alarm",
}


class _In(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


def _latlon(value: Any) -> tuple[float, float]:
    if not isinstance(value, list | tuple) or len(value) != 2:
        raise ValueError("expected [lat, lon] in degrees")
    lat, lon = (float(v) for v in value)
    if not (math.isfinite(lat) and math.isfinite(lon)) or abs(lat) > 90 or abs(lon) > 180:
        raise ValueError("latitude must be within ±90 and longitude within ±180 degrees")
    return lat, lon


class PlanIn(_In):
    area: dict[str, Any]  # GeoJSON: Feature, FeatureCollection or Polygon; role nofly = hole
    name: str = Field(default="", max_length=80)
    camera: str = Field(min_length=1, max_length=60)
    alt_m: float | None = Field(default=None, gt=0, le=10_000)
    min_px_on_person: float | None = Field(default=None, gt=0, le=1000)
    overlap_pct: float = Field(default=20.0, ge=0, lt=100)
    drones: int = Field(default=1, ge=1, le=64)
    airframes: list[str] = Field(default_factory=lambda: ["mavic3t"], min_length=1, max_length=64)
    launches: list[Any] = Field(default_factory=list, max_length=64)
    lkp: Any = None  # last known point [lat, lon], kept with the plan
    sweep_deg: float | None = Field(default=None, ge=0, le=360)
    speed_ms: float | None = Field(default=None, gt=0, le=60)
    turn_margin_m: float | None = Field(default=None, ge=0, le=1000)
    hole_margin_m: float | None = Field(default=None, ge=0, le=1000)

    @field_validator("launches")
    @classmethod
    def _launches(cls, v: list[Any]) -> list[tuple[float, float]]:
        return [_latlon(p) for p in v]

    @field_validator("lkp")
    @classmethod
    def _lkp(cls, v: Any) -> tuple[float, float] | None:
        return None if v is None else _latlon(v)

    @model_validator(mode="after")
    def _one_altitude(self) -> PlanIn:
        if (self.alt_m is None) == (self.min_px_on_person is None):
            raise ValueError("give exactly one of alt_m or min_px_on_person")
        if len(self.airframes) not in (1, self.drones):
            raise ValueError(
                f"{len(self.airframes)} airframes for {self.drones} drones; give one for all "
                "or one per drone"
            )
        if len(self.launches) not in (0, 1, self.drones):
            raise ValueError(
                f"{len(self.launches)} launch points for {self.drones} drones; give none, one "
                "for all or one per drone"
            )
        return self


class AckIn(_In):
    status: str
    by: str = Field(min_length=1, max_length=40)
    note: str = Field(default="", max_length=500)

    @field_validator("status")
    @classmethod
    def _status(cls, v: str) -> str:
        s = ACK_ALIASES.get(v.strip().lower())
        if s is None:
            raise ValueError(
                f"unknown acknowledgement {v!r}; use confirm, dismiss, found, received, "
                "team_dispatched or false_alarm"
            )
        return s

    @field_validator("by")
    @classmethod
    def _by(cls, v: str) -> str:
        if not NAME.match(v):
            raise ValueError("a name of 1-40 letters, digits, spaces or . @ - _")
        return v


class FlightIn(_In):
    plan_id: int = Field(ge=1)
    on_exit: Literal["rtl", "leave"] = "rtl"


class TeamPositionIn(_In):
    lat: float = Field(ge=-90, le=90)
    lon: float = Field(ge=-180, le=180)
    accuracy_m: float | None = Field(default=None, ge=0, le=100_000)
    ts: float | None = Field(default=None, gt=0)


def team_name(name: str) -> str:
    if not NAME.match(name):
        raise ValueError("a team name of 1-40 letters, digits, spaces or . @ - _")
    return name
