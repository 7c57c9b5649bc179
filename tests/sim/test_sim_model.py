"""Flight model: determinism with a seed, endurance against the airframe, wind."""

from __future__ import annotations

import itertools
import math

import pytest
from sim_gcs import HOME

from groundctl.config import airframe as load_airframe
from sim import SimFleet
from sim.physics import endurance_hover_s
from sim.vehicle import ACCEPTED

M_ARM, M_TAKEOFF, M_REPOSITION = 400, 22, 192
NAN = math.nan


async def _fly_track(seed: int, mavic3t, wind_ms: float = 0.0) -> list[tuple[float, ...]]:
    fleet = SimFleet(
        vehicles=1,
        autopilot="px4",
        airframe=mavic3t,
        home=HOME,
        seed=seed,
        gust_ms=2.0,
        wind_ms=wind_ms,
        gcs_port=None,
        api_local_base_port=None,
        manual_clock=True,
    )
    async with fleet:
        v = fleet.vehicles[0]
        await fleet.advance(3.0)
        assert v.command(M_ARM, [1, 0, 0, 0, 0, 0, 0]) == ACCEPTED
        assert v.command(M_TAKEOFF, [0, 0, 0, NAN, NAN, NAN, HOME[2] + 30]) == ACCEPTED
        await fleet.advance(10.0)
        lat, lon = HOME[0] + 0.002, HOME[1]
        assert v.command(M_REPOSITION, [-1, 1, 0, NAN, lat, lon, HOME[2] + 30]) == ACCEPTED
        track = []
        for _ in range(40):
            await fleet.advance(1.0)
            track.append((*v.estimated(), v.battery_pct, v.body.roll_deg))
        return track


async def test_same_seed_same_flight_other_seed_differs(mavic3t):
    a = await _fly_track(7, mavic3t)
    b = await _fly_track(7, mavic3t)
    c = await _fly_track(8, mavic3t)
    assert a == b
    assert a != c
    # Reached the reposition point ~222 m north in the 40 s.
    assert abs(a[-1][0] - (HOME[0] + 0.002)) < 3e-5


@pytest.mark.parametrize("name", ["mavic3t", "m350_h20t"])
def test_hover_endurance_matches_airframe(name):
    af = load_airframe(name)
    assert endurance_hover_s(af) == pytest.approx(af.endurance_min * 60, rel=0.10)


def test_vtol_cruise_endurance_matches_airframe():
    af = load_airframe("trinity_f90")
    assert endurance_hover_s(af) == pytest.approx(af.endurance_min * 60, rel=0.10)


async def test_flown_hover_endurance_and_battery_curve(mavic3t):
    """Hover until empty with the battery failsafe off: flight time within 10 % of the spec."""
    async with SimFleet(
        vehicles=1,
        autopilot="px4",
        airframe=mavic3t,
        home=HOME,
        seed=1,
        gcs_port=None,
        api_local_base_port=None,
        manual_clock=True,
    ) as fleet:
        v = fleet.vehicles[0]
        v.params["COM_LOW_BAT_ACT"] = 0
        await fleet.advance(3.0)
        assert v.command(M_ARM, [1, 0, 0, 0, 0, 0, 0]) == ACCEPTED
        assert v.command(M_TAKEOFF, [0, 0, 0, NAN, NAN, NAN, HOME[2] + 20]) == ACCEPTED
        start = fleet.sim_time_s
        volts = []
        while v.battery_pct > 0.0 and fleet.sim_time_s - start < 2 * 3600:
            await fleet.advance(60.0)
            volts.append(v.battery.voltage_v)
        flown_min = (fleet.sim_time_s - start) / 60
        assert flown_min == pytest.approx(mavic3t.endurance_min, rel=0.10)
        # Voltage falls monotonically from ~4.2 V per cell toward ~3.0 V per cell.
        assert volts[0] > 3.9 * mavic3t.battery_cells
        assert volts[-1] < 3.4 * mavic3t.battery_cells
        assert all(x >= y - 0.05 for x, y in itertools.pairwise(volts))


async def test_headwind_slows_ground_speed_and_costs_energy(mavic3t):
    calm = await _fly_track(3, mavic3t, wind_ms=0.0)
    # Wind FROM the north (0 deg) blows against a northward leg.
    windy = await _fly_track(3, mavic3t, wind_ms=8.0)
    assert windy[20][0] < calm[20][0] - 2e-5  # less far north after the same time
    assert windy[-1][3] < calm[-1][3]  # more battery used


async def test_px4_armed_in_mission_mode_takes_off_and_flies_it(mavic3t):
    from sim.mission import FRAME_GLOBAL_RELATIVE_ALT_INT, NAV_WAYPOINT, Item

    async with SimFleet(
        vehicles=1,
        autopilot="px4",
        airframe=mavic3t,
        home=HOME,
        seed=1,
        gcs_port=None,
        api_local_base_port=None,
        manual_clock=True,
    ) as fleet:
        v = fleet.vehicles[0]
        await fleet.advance(3.0)
        wps = [(HOME[0] + 0.0005 * (i + 1), HOME[1]) for i in range(2)]
        items = [
            Item(
                0,
                FRAME_GLOBAL_RELATIVE_ALT_INT,
                NAV_WAYPOINT,
                0,
                1,
                0,
                0,
                0,
                NAN,
                round(lat * 1e7),
                round(lon * 1e7),
                25.0,
            )
            for lat, lon in wps
        ]
        assert v.load_plan(items) != 0
        assert v.command(176, [1, 4, 4, 0, 0, 0, 0]) == ACCEPTED  # AUTO.MISSION
        assert v.command(M_ARM, [1, 0, 0, 0, 0, 0, 0]) == ACCEPTED
        await fleet.advance(60.0)
        assert v.reached == [0, 1]
        assert v.mode_name == "AUTO.LOITER" and abs(v.alt_rel - 25) < 1.5


@pytest.mark.parametrize(
    ("name", "min_m", "max_m"), [("trinity_f90", 50.0, 1e9), ("mavic3t", 0.0, 5.0)]
)
async def test_turning_back_fixed_wing_needs_its_turn_radius(name, min_m, max_m):
    af = load_airframe(name)
    async with SimFleet(
        vehicles=1,
        autopilot="px4",
        airframe=af,
        home=HOME,
        seed=1,
        gcs_port=None,
        api_local_base_port=None,
        manual_clock=True,
    ) as fleet:
        v = fleet.vehicles[0]
        await fleet.advance(3.0)
        assert v.command(M_ARM, [1, 0, 0, 0, 0, 0, 0]) == ACCEPTED
        assert v.command(M_TAKEOFF, [0, 0, 0, NAN, NAN, NAN, HOME[2] + 50]) == ACCEPTED
        await fleet.advance(30.0)
        north = HOME[0] + 0.01  # ~1.1 km north, then back south of home
        assert v.command(M_REPOSITION, [-1, 1, 0, NAN, north, HOME[1], HOME[2] + 50]) == ACCEPTED
        await fleet.advance(40.0)
        assert math.hypot(v.body.vx, v.body.vy) > 0.8 * af.cruise_speed_ms
        x0 = v.body.x
        south = HOME[0] - 0.01
        assert v.command(M_REPOSITION, [-1, 1, 0, NAN, south, HOME[1], HOME[2] + 50]) == ACCEPTED
        excursion = 0.0
        for _ in range(60):
            await fleet.advance(1.0)
            excursion = max(excursion, abs(v.body.x - x0))
        assert min_m <= excursion <= max_m
        assert v.body.vy < 0  # heading south in the end


@pytest.mark.parametrize("autopilot", ["px4", "ardupilot"])
async def test_orbit_and_circle_modes(mavic3t, autopilot):
    async with SimFleet(
        vehicles=1,
        autopilot=autopilot,
        airframe=mavic3t,
        home=HOME,
        seed=1,
        gcs_port=None,
        api_local_base_port=None,
        manual_clock=True,
    ) as fleet:
        v = fleet.vehicles[0]
        await fleet.advance(3.0)
        if autopilot == "ardupilot":
            assert v.command(176, [1, 7, 0, 0, 0, 0, 0]) == 4  # CIRCLE on the ground: refused
            assert v.command(176, [1, 4, 0, 0, 0, 0, 0]) == ACCEPTED  # GUIDED
        assert v.command(M_ARM, [1, 0, 0, 0, 0, 0, 0]) == ACCEPTED
        alt = [0, 0, 0, NAN, NAN, NAN, HOME[2] + 30] if autopilot == "px4" else [0] * 6 + [30]
        assert v.command(M_TAKEOFF, alt) == ACCEPTED
        await fleet.advance(15.0)
        if autopilot == "px4":
            lat, lon = HOME[0] + 0.0005, HOME[1]
            assert v.command(34, [40, 5, 0, NAN, lat, lon, HOME[2] + 30]) == ACCEPTED
            cx, cy = v.to_local(lat, lon)
            radius, custom = 40.0, (3 << 16) | (1 << 24)
        else:
            assert v.command(176, [1, 7, 0, 0, 0, 0, 0]) == ACCEPTED  # CIRCLE
            cx, cy = v.orbit.cx, v.orbit.cy
            radius, custom = 10.0, 7
        await fleet.advance(90.0)
        assert v.build(0).custom_mode == custom  # HEARTBEAT
        angles = []
        for _ in range(10):
            await fleet.advance(2.0)
            assert abs(math.hypot(v.body.x - cx, v.body.y - cy) - radius) < 2.0
            angles.append(math.atan2(v.body.x - cx, v.body.y - cy))
        assert len({round(a, 1) for a in angles}) > 5  # going round, not parked
