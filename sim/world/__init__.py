"""The simulated world and thermal camera: people, animals and decoys to find.

Public API (what the vehicle simulator and benchmarks use)::

    from sim.world import load_scenario, CameraPayload, StaticPoseSource

    world = load_scenario("configs/scenarios/ditch_rain_night.yaml")  # -> World
    payload = CameraPayload(
        world,
        camera,            # any object with groundctl CameraConfig's fields (CameraSpec)
        pose_source,       # has poses() -> (true_pose, estimated_pose, timestamp_s)
        vehicle_id=1,      # MAVLink system id, written into every frame header
        port=None,         # None: 5600 + vehicle_id - 1; 0: a free port (see payload.port)
        rate_hz=None,      # None: the camera's frame_rate_hz, at most 9 Hz
        record_dir=None,   # a folder: frame_NNNNNN.tiff (u16 centi-Kelvin) + .json sidecar
                           # + .truth.json (targets in view); truth.geojson on start()
    )
    await payload.start()   # or: async with payload: ...
    ...                     # clients on payload.port receive thermal.framing frames
    await payload.stop()

* ``World`` (`sim.world.world`): terrain, cover, weather and targets baked on a local metric
  grid; ``world.ground_truth()`` / ``world.write_ground_truth("truth.geojson")`` list every
  target (id, class, posture, lat, lon, visible fraction); ``world.area_geojson()`` is the
  search area for the planner.
* Poses are `thermal.frame.Pose`: the frame is rendered from the TRUE pose and the ESTIMATED
  pose goes into the header. Give ``alt_amsl_m`` (best), else ``alt_agl_m`` (over the terrain
  below), else ``alt_rel_m`` (over the ground at the area's centre).
* ``Renderer(world, camera, seed).render(pose, frame_id) -> Rendered`` (`sim.world.render`):
  one radiometric frame in °C (float32) plus per-target pixel counts; `SensorModel.ideal()`
  switches blur, noise, FPN, vignetting and atmosphere off.
* ``StaticPoseSource(pose)``: a pose source that never moves.
* ``world.elevation_at(lat, lon)``: terrain height (m AMSL), for the vehicles' ground.
* A payload renders only while a client is connected or it records; frames are rendered
  in a worker thread (OpenCV and numpy release the GIL), the pose is read on the event loop.
  Beyond the area plus its margin the world continues as a mirror image of itself.
* Errors: `ScenarioError` (a `sim.errors.SimError`) names the file, the key and the reason.
"""

from sim.world.payload import CameraPayload, PoseSource, StaticPoseSource, stream_port
from sim.world.render import CameraSpec, Rendered, Renderer, SensorModel, TargetView
from sim.world.scenario import ScenarioError, read_scenario
from sim.world.world import World, WorldTarget, build_world, load_scenario

__all__ = [
    "CameraPayload",
    "CameraSpec",
    "PoseSource",
    "Rendered",
    "Renderer",
    "ScenarioError",
    "SensorModel",
    "StaticPoseSource",
    "TargetView",
    "World",
    "WorldTarget",
    "build_world",
    "load_scenario",
    "read_scenario",
    "stream_port",
]
