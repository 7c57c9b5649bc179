"""Simulated MAVLink autopilots, a world to search and a thermal camera that sees it.

Talks to the ground only over MAVLink and its frame stream; never imports groundctl.

Python API (stable; tests and the ground station's own tests start it in-process)::

    from sim import SimFleet
    async with SimFleet(
        vehicles=3,                    # sysid i+1 unless sysids=[...] is given
        autopilot="px4",               # or "ardupilot"
        airframe=groundctl.config.airframe("mavic3t"),  # any AirframeLike; default GENERIC_QUAD
        home=(47.3977, 8.5456, 488.0), # (lat, lon[, alt_amsl]) of vehicle 0
        speedup=10,                    # simulated time = wall time x speedup
        seed=1,                        # same seed, same commands -> same flight
        gcs_port=14550,                # every vehicle sends to 127.0.0.1:gcs_port (None: off)
        gcs_local_base_port=18570,     # ... from its own UDP port 18570+i (0: any free port)
        api_base_port=14540,           # vehicle i sends its API stream to 14540+i (None: no
                                       # fixed target), as PX4 SITL does ...
        api_local_base_port=14580,     # ... from 14580+i, which also answers whoever sends to it
                                       # (0: any free port; None: no API link)
        tcp_base_port=5760,            # ardupilot only: TCP server on tcp_base_port+10*i (0: free)
        home_spacing_m=5.0,            # vehicle i starts i*spacing metres east of home
        wind_ms=0, wind_from_deg=0, gust_ms=0,
        gps_warmup_s=2.0,              # simulated seconds to the first GPS fix (home set then)
        loss_pct=0, latency_ms=0,      # link faults for every vehicle at start
        sysids=None, uids=None,        # override ids (e.g. duplicate sysids, distinct uids)
        terrain=None,                  # callable (lat, lon) -> ground alt_amsl; default flat
        manual_clock=False,            # True: time moves only by `await fleet.advance(sim_s)`
    ) as fleet:
        v = fleet.vehicles[0]
        v.sysid, v.uid, v.flavour
        v.ports.api_url        # "udpin://127.0.0.1:14540" (MAVSDK syntax; the GCS listens), or
                               # "udpout://127.0.0.1:PORT" without a fixed target
        v.ports.pymavlink_api  # "udpin:127.0.0.1:14540"
        v.ports.tcp_url, v.ports.pymavlink_tcp   # ardupilot TCP, else None
        v.ports.gcs_url        # "udpin://127.0.0.1:14550": where a GCS listens for the fleet
        # true state
        v.lat, v.lon, v.alt_amsl, v.alt_rel, v.body (x/y metres, velocities, roll/pitch/yaw_deg)
        v.battery_pct, v.battery.voltage_v, v.mode (sim.modes.Mode), v.mode_name, v.armed,
        v.landed, v.home_latlon, v.mission_progress (seq, count), v.reached (item seqs),
        v.plans[0|1|2] (mission/fence/rally items), v.statustexts [(sim_s, severity, text)]
        v.estimated()          # (lat, lon, alt_amsl) with GPS error, as in GLOBAL_POSITION_INT
        v.poses()              # (true Pose, estimated Pose, unix timestamp) for the camera;
                               # gimbal angles from v.gimbal (sim.gimbal: stabilised, earth
                               # frame, nadir by default; MOUNT_CONTROL/GIMBAL_MANAGER point it)
        v.params["NAV_DLL_ACT"] = 2   # parameters, as PARAM_SET would
        v.command(mav_cmd, [p1..p7])  # in-process COMMAND_LONG; returns MAV_RESULT
        v.load_plan([sim.mission.Item, ...], mission_type=0)  # in-process upload; opaque id
        # faults
        v.faults.loss_pct = 20; v.faults.latency_ms = 50
        v.faults.duplicate_pct = 5; v.faults.reorder_pct = 5
        v.faults.kill(); v.faults.restart(); v.faults.gps_loss(); v.faults.gps_restore()
        v.faults.motor_failure(); v.faults.set_battery(12.0)
        v.faults.storage_failure()    # every upload answered MAV_MISSION_ERROR (PX4's SD gone)
        v.faults.drop_next_ack(mav_cmd, times=1)  # lose ACKs; the command is carried out
        v.faults.execute_resent_commands = True    # as real autopilots: a re-send runs again
                                                   # (default: answered with the first result)
        fleet.sim_time_s, fleet.clock.unix_s(), fleet.table()
        # thermal camera streams (sim.world): one TCP frame stream per vehicle
        await fleet.start_cameras(world, camera, base_port=5600)  # 0: free ports, see .port
        # (gimbal=sim.gimbal.GimbalSpec(...) overrides the scenario's gimbal: section)
        # with SimFleet(..., terrain=sim.fleet.world_terrain(world)) to fly over its terrain

For synchronous scripts, ``with SimFleetThread(**same_kwargs) as ft: ft.vehicles[0]...``
runs the fleet on a background thread; ``ft.call(fn)`` runs fn on the simulator's loop.

Modules: `sim.vehicle` (state, input dispatch, faults), `sim.telemetry` (streams and their
rates), `sim.commands` (MAV_CMDs), `sim.modecontrol` (mode changes), `sim.missionproto` (mission
protocol, judged by `sim.conformance`: what PX4 v1.16 and ArduPilot accept), `sim.failsafes`,
`sim.flight` (navigation, mission execution, failsafes), `sim.physics` (point mass, wind,
battery), `sim.gimbal` (the camera mount: stabilised gimbal or body-fixed), `sim.modes` (PX4/ArduPilot custom_mode), `sim.params`, `sim.link` (UDP/TCP + faults),
`sim.clock` (simulated time; which timeouts also hold in wall time).
`sim.mavext.install(dialect)` adds the mission opaque-id extension fields to a pymavlink
dialect (pymavlink 2.4.50 predates them); the simulator sends them.
"""

from sim.airframe import GENERIC_QUAD, Airframe, AirframeLike
from sim.fleet import Ports, SimFleet, SimFleetThread
from sim.link import LinkFaults
from sim.modes import Mode
from sim.vehicle import Faults, SimVehicle

__all__ = [
    "GENERIC_QUAD",
    "Airframe",
    "AirframeLike",
    "Faults",
    "LinkFaults",
    "Mode",
    "Ports",
    "SimFleet",
    "SimFleetThread",
    "SimVehicle",
]
