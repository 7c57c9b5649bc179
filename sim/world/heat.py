"""Apparent temperatures: backgrounds per cover class and weather, targets per class.

Not a radiative-transfer model, but figures in the range field thermography reports, with the
effects a thermal search depends on: at night grass cools below the air (radiative cooling
under a clear sky) while roads, water and rocks stay warmer; the sun heats bare rock, roofs
and roads in the afternoon far above a person's clothing; rain wets every surface towards the
air temperature and shrinks every contrast, including the target's.
"""

from __future__ import annotations

from dataclasses import dataclass

from sim.world.scenario import Conditions

PRESETS: dict[str, dict[str, float]] = {
    # air °C, rain mm/h, cloud 0..1, sun elevation/azimuth deg, relative humidity 0..1
    "clear_night": dict(
        air_temp_c=8.0, rain_mm_h=0.0, cloud_cover=0.1, sun_elevation_deg=-30,
        sun_azimuth_deg=0, humidity=0.7,
    ),
    "rainy_night": dict(
        air_temp_c=9.0, rain_mm_h=4.0, cloud_cover=1.0, sun_elevation_deg=-35,
        sun_azimuth_deg=0, humidity=0.97,
    ),
    "sunny_afternoon": dict(
        air_temp_c=24.0, rain_mm_h=0.0, cloud_cover=0.1, sun_elevation_deg=45,
        sun_azimuth_deg=225, humidity=0.45,
    ),
    "overcast_day": dict(
        air_temp_c=14.0, rain_mm_h=0.0, cloud_cover=0.9, sun_elevation_deg=30,
        sun_azimuth_deg=180, humidity=0.75,
    ),
    "dawn": dict(
        air_temp_c=5.0, rain_mm_h=0.0, cloud_cover=0.2, sun_elevation_deg=2,
        sun_azimuth_deg=90, humidity=0.9,
    ),
    "dusk": dict(
        air_temp_c=12.0, rain_mm_h=0.0, cloud_cover=0.3, sun_elevation_deg=-3,
        sun_azimuth_deg=280, humidity=0.7,
    ),
}  # fmt: skip


@dataclass(frozen=True)
class Weather:
    """Resolved conditions (preset + overrides)."""

    preset: str
    air_temp_c: float
    rain_mm_h: float
    cloud_cover: float
    sun_elevation_deg: float
    sun_azimuth_deg: float
    humidity: float

    @classmethod
    def from_conditions(cls, c: Conditions) -> Weather:
        base = PRESETS[c.preset]
        vals = {k: getattr(c, k) if getattr(c, k) is not None else v for k, v in base.items()}
        return cls(preset=c.preset, **vals)

    @property
    def sun(self) -> float:
        """Solar heating 0..1: sun height and clear sky."""
        import math

        if self.sun_elevation_deg <= 0:
            return 0.0
        return math.sin(math.radians(self.sun_elevation_deg)) * (1.0 - 0.8 * self.cloud_cover)

    @property
    def wetness(self) -> float:
        """0 dry .. 1 soaked; rain above ~5 mm/h soaks every surface."""
        return min(1.0, self.rain_mm_h / 5.0)

    @property
    def sky_cooling_c(self) -> float:
        """How far exposed surfaces cool below the air at night under this sky."""
        night = 1.0 if self.sun_elevation_deg <= 0 else max(0.0, 1 - self.sun_elevation_deg / 10)
        return night * 4.5 * (1.0 - 0.85 * self.cloud_cover)

    @property
    def sky_temp_c(self) -> float:
        """What a camera looking at the sky reads: cold when clear, near the air under cloud."""
        return self.air_temp_c - 45.0 * (1.0 - self.cloud_cover) - 4.0 * self.cloud_cover

    @property
    def extinction_per_km(self) -> float:
        """LWIR atmospheric extinction (water vapour + rain), 1/km."""
        return 0.05 + 0.25 * self.humidity + 0.12 * self.rain_mm_h


# Per cover class: offset from the air at night (beyond sky cooling), sun gain (°C at full
# sun), texture amplitude (°C, patchiness), share of sky cooling it suffers.
_COVER: dict[str, tuple[float, float, float, float]] = {
    "grass": (0.0, 14.0, 0.8, 1.0),
    "field": (0.5, 18.0, 1.0, 0.9),
    "bare": (0.8, 22.0, 1.2, 0.8),
    "forest": (0.5, 6.0, 0.7, 0.6),  # canopy leaves: close to the air, little sun heating
    "rock": (2.5, 30.0, 1.5, 0.5),  # stores the day's heat
    "water": (4.0, 3.0, 0.2, 0.2),  # lags the air; warm at night, cool in the sun
    "road": (3.5, 28.0, 0.5, 0.5),
    "roof": (0.5, 32.0, 0.6, 1.0),
}


def cover_temp_c(cover: str, w: Weather) -> tuple[float, float]:
    """(mean apparent temperature, texture amplitude) of a cover class in this weather."""
    night_offset, sun_gain, texture, cooling_share = _COVER[cover]
    t = w.air_temp_c + night_offset - cooling_share * w.sky_cooling_c + sun_gain * w.sun
    # Wet surfaces sit at the wet-bulb temperature, a little below the air.
    wet_bulb = w.air_temp_c - 1.5 * (1.0 - w.humidity) - 0.3
    t = t + w.wetness * (wet_bulb - t) * 0.85
    return t, texture * (1.0 - 0.6 * w.wetness)


# Per target class: core (°C), surface insulation share (0 = surface at core, 1 = at air),
# hot-part core (exposed skin, head, engine) for the class's hot part.
_TARGET: dict[str, tuple[float, float, float]] = {
    "person": (34.0, 0.42, 33.0),
    "child": (34.5, 0.40, 33.5),
    "sheep": (39.0, 0.72, 34.0),  # fleece insulates; face and legs show
    "dog": (38.5, 0.40, 35.0),
    "deer": (38.5, 0.50, 34.0),
    "cattle": (38.5, 0.45, 35.0),
}


@dataclass(frozen=True)
class TargetHeat:
    body_c: float
    hot_c: float  # head / face / engine / embers


def target_heat(target: str, w: Weather, override_c: float | None = None) -> TargetHeat:
    """Apparent surface temperatures of a target in this weather."""
    if override_c is not None:
        return TargetHeat(override_c, override_c + (1.5 if target in _TARGET else 0.0))
    if target in _TARGET:
        core, insulation, hot = _TARGET[target]
        # Wet clothing or fur conducts and evaporates: the surface moves towards the air.
        ins = insulation + (0.85 - insulation) * 0.45 * w.wetness
        body = w.air_temp_c + (core - w.air_temp_c) * (1.0 - ins)
        hot_surface = w.air_temp_c + (hot - w.air_temp_c) * (1.0 - 0.35 * w.wetness) * 0.92
        return TargetHeat(body, max(body, hot_surface))
    if target == "car":
        body = w.air_temp_c + 6.0 + 20.0 * w.sun - 3.0 * w.wetness
        return TargetHeat(body, w.air_temp_c + 45.0 * (1.0 - 0.3 * w.wetness))  # warm bonnet
    if target == "campfire":
        return TargetHeat(80.0 - 30.0 * w.wetness, 350.0 - 100.0 * w.wetness)
    if target == "rock":
        t, _ = cover_temp_c("rock", w)
        return TargetHeat(t + 8.0 * w.sun + 2.0, t + 12.0 * w.sun + 2.5)
    if target == "roof":
        t, _ = cover_temp_c("roof", w)
        return TargetHeat(t + 3.0 + 4.0 * w.sun, t + 4.0 + 6.0 * w.sun)
    raise ValueError(f"no heat model for {target!r}")
