"""MAVSDK (the `mavsdk` native binding) flies a mission on a simulated PX4 vehicle."""

from __future__ import annotations

import asyncio
import socket
import time

import pytest
from sim_gcs import HOME, offset

from sim import SimFleet


async def _wait(cond, timeout: float, what: str) -> None:
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if await cond():
            return
        await asyncio.sleep(0.1)
    raise TimeoutError(what)


def _free_udp_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.mark.parametrize("via", ["api", "gcs"])
async def test_mavsdk_uploads_and_flies_mission_on_px4(mavic3t, via):
    """MAVSDK connects either to the vehicle's API port (udpout) or listens where the vehicle
    sends its GCS link (udpin), the two ways PX4 SITL is reached."""
    from mavsdk.asyncio import ComponentType, Configuration, Mavsdk
    from mavsdk.asyncio.plugins.action import ActionAsync
    from mavsdk.asyncio.plugins.mission import MissionAsync
    from mavsdk.asyncio.plugins.telemetry import TelemetryAsync
    from mavsdk.autopilot import Autopilot
    from mavsdk.plugins.mission import MissionItem, MissionPlan

    async with SimFleet(
        vehicles=1,
        autopilot="px4",
        airframe=mavic3t,
        home=HOME,
        speedup=10,
        seed=5,
        gcs_port=_free_udp_port() if via == "gcs" else None,
        gcs_local_base_port=0,
        api_base_port=None,
        api_local_base_port=0 if via == "api" else None,
    ) as fleet:
        v = fleet.vehicles[0]
        url = v.ports.api_url if via == "api" else v.ports.gcs_url
        config = Configuration.create_with_component_type(ComponentType.GROUND_STATION)
        async with Mavsdk(config) as mav:
            await mav.add_any_connection(url)
            system = await mav.first_autopilot(timeout_s=30.0)
            assert system is not None
            assert await system.autopilot_type() == Autopilot.PX4
            telemetry = TelemetryAsync(system)
            action = ActionAsync(system)
            mission = MissionAsync(system)

            async def home_ok() -> bool:
                h = await telemetry.health()
                return bool(h.is_home_position_ok and h.is_global_position_ok)

            await _wait(home_ok, 60, "MAVSDK health: home and global position")
            legs = [(40, 0), (40, 40), (0, 40)]
            items = []
            for north, east in legs:
                lat, lon = offset(HOME[0], HOME[1], north, east)
                items.append(
                    MissionItem(
                        latitude_deg=lat,
                        longitude_deg=lon,
                        relative_altitude_m=20.0,
                        speed_m_s=8.0,
                        is_fly_through=True,
                        acceptance_radius_m=2.0,
                    )
                )
            await mission.upload_mission(MissionPlan(items))
            downloaded = await mission.download_mission()
            assert len(downloaded.mission_items) == len(items)
            assert abs(downloaded.mission_items[1].latitude_deg - items[1].latitude_deg) < 1e-6

            await action.arm()
            await mission.start_mission()
            await _wait(mission.is_mission_finished, 120, "mission finished")
            progress = await mission.mission_progress()
            assert progress.current == progress.total == len(items)
            # MAVSDK puts a DO_CHANGE_SPEED after each waypoint: three waypoints reached.
            nav = [it.seq for it in v.plans[0] if it.command == 16]
            assert v.reached == nav and len(nav) == len(items)
            end = offset(HOME[0], HOME[1], 0, 40)
            assert abs(v.lat - end[0]) < 3e-5 and abs(v.lon - end[1]) < 4e-5

            await action.return_to_launch()
            await _wait(lambda: _false_async(not v.armed), 120, "landed and disarmed after RTL")
            assert abs(v.lat - HOME[0]) < 3e-5


async def _false_async(value: bool) -> bool:
    return value
