"""`groundctl sim render` and `groundctl sim truth`: look at a scenario without flying it."""

from __future__ import annotations

import json
import math
import sys
from pathlib import Path
from typing import Annotated

import cv2
import numpy as np
import typer

from groundctl.cli.context import cli_context
from groundctl.cli.output import check_input_file, check_output_path, writing
from groundctl.cli.sim import sim_app
from groundctl.errors import ConfigError
from sim.world import Renderer, World, load_scenario
from sim.world.record import FrameRecorder
from thermal.frame import Gimbal, Pose, ThermalFrame

ScenarioOpt = Annotated[
    Path, typer.Option("--scenario", "-s", help="Scenario YAML (see configs/scenarios/).")
]


MAX_ALT_M = 5000.0  # a camera above this sees nothing of a person; the renderer's bound
PICTURE_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp", ".tif", ".tiff")


def _parse_at(text: str) -> tuple[float, float, float]:
    parts = text.replace(" ", "").split(",")
    try:
        lat, lon, alt = (float(p) for p in parts)
    except ValueError:
        raise ConfigError(
            "--at", None, f"expected LAT,LON,ALT in degrees and metres, got {text!r}"
        ) from None
    if not (-90 <= lat <= 90 and -180 <= lon <= 180):
        raise ConfigError("--at", None, f"{lat},{lon} is not a WGS84 position (lat, lon)")
    if not 0 < alt <= MAX_ALT_M:
        raise ConfigError(
            "--at", None, f"altitude {alt:g} m must be above the ground, at most {MAX_ALT_M:g} m"
        )
    return lat, lon, alt


def _load(scenario: Path) -> World:
    check_input_file(scenario, "--scenario", max_bytes=16 << 20)
    try:
        return load_scenario(scenario)
    except RecursionError:  # PyYAML recurses once per nesting level
        raise ConfigError(str(scenario), None, "not valid YAML: nested too deeply") from None


def false_colour(
    celsius: np.ndarray, lo: float | None = None, hi: float | None = None
) -> np.ndarray:
    """A BGR picture of a radiometric frame (inferno palette), stretched to the 1..99.9 %
    percentiles so that a person stands out from the ground."""
    lo = float(np.percentile(celsius, 1)) if lo is None else lo
    hi = float(np.percentile(celsius, 99.9)) if hi is None else hi
    scaled = np.clip((celsius - lo) / max(hi - lo, 1e-3) * 255.0, 0, 255).astype(np.uint8)
    return cv2.applyColorMap(scaled, cv2.COLORMAP_INFERNO)


@sim_app.command("render")
def render_cmd(
    ctx: typer.Context,
    scenario: ScenarioOpt,
    at: Annotated[
        str,
        typer.Option(
            "--at", help="Camera position LAT,LON,ALT; ALT in metres above the ground below."
        ),
    ],
    output: Annotated[Path, typer.Option("--output", "-o", help="False-colour PNG to write.")],
    camera: Annotated[str, typer.Option("--camera", help="Camera from the catalogue.")] = "h20t",
    yaw: Annotated[float, typer.Option("--yaw", help="Vehicle heading, deg from north.")] = 0.0,
    gimbal_pitch: Annotated[
        float, typer.Option("--gimbal-pitch", help="Gimbal pitch, deg; -90 looks straight down.")
    ] = -90.0,
    seed: Annotated[int, typer.Option("--seed", help="Sensor noise seed.")] = 0,
    tiff: Annotated[
        bool,
        typer.Option("--tiff", help="Also write the radiometric TIFF + JSON sidecar beside -o."),
    ] = False,
) -> None:
    """Render one thermal frame of a scenario as a false-colour picture."""
    lat, lon, alt = _parse_at(at)
    if not -90.0 <= gimbal_pitch <= 30.0:
        raise ConfigError("--gimbal-pitch", None, f"{gimbal_pitch:g} is outside -90..30 degrees")
    if not math.isfinite(yaw):
        raise ConfigError("--yaw", None, f"{yaw:g} is not a heading in degrees")
    if not 0 <= seed < 2**63:
        raise ConfigError("--seed", None, f"{seed} must be a whole number >= 0")
    check_output_path(output, "--output", suffixes=PICTURE_SUFFIXES, create_parents=True)
    if tiff:
        if output.suffix.lower() in (".tif", ".tiff"):
            raise ConfigError(
                "--output", None, "with --tiff the radiometric frame is the .tiff: give a .png"
            )
        for extra in (output.with_suffix(".tiff"), output.with_suffix(".json")):
            check_output_path(extra, "--tiff", create_parents=True)
    cam = cli_context(ctx).camera(camera)
    world = _load(scenario)
    x, y = world.frame.to_local(lat, lon)
    lo = world.area_xy.min(axis=0) - world.spec.margin_m
    hi = world.area_xy.max(axis=0) + world.spec.margin_m
    if not (lo[0] <= x <= hi[0] and lo[1] <= y <= hi[1]):
        print(
            f"note: {lat:.6f},{lon:.6f} is outside {world.name}'s area and margin; the world "
            "beyond is a mirror image of it and holds no targets",
            file=sys.stderr,
        )
    pose = Pose(
        lat=lat, lon=lon, alt_agl_m=alt, yaw_deg=yaw % 360.0, gimbal=Gimbal(pitch_deg=gimbal_pitch)
    )
    rendered = Renderer(world, cam, seed=seed).render(pose, 1)
    with writing(output, "--output"):
        output.parent.mkdir(parents=True, exist_ok=True)
        try:
            written = cv2.imwrite(str(output), false_colour(rendered.celsius))
        except cv2.error:
            written = False
        if not written:
            raise OSError(0, "OpenCV could not write the picture")
    img = rendered.celsius
    print(
        f"{output}: {world.name} from {lat:.6f},{lon:.6f} at {alt:g} m AGL with {cam.name}, "
        f"{img.min():.1f}..{img.max():.1f} °C"
    )
    for view in rendered.targets.values():
        print(
            f"  {view.id}: {view.visible_px} of {view.silhouette_px} px visible "
            f"at ({view.centre_px[0]:.0f}, {view.centre_px[1]:.0f})"
        )
    if tiff:
        frame = ThermalFrame(img, "celsius", frame_id=1, camera=cam.name, pose=pose)
        final = output.with_suffix(".tiff")
        with writing(final, "--tiff"):
            rec = FrameRecorder(output.parent)
            path = rec.write(frame)
            path.replace(final)
            rec.paths(1)[1].replace(final.with_suffix(".json"))
        print(
            f"{final}: radiometric frame (16-bit centi-Kelvin) + {final.with_suffix('.json').name}"
        )


@sim_app.command("truth")
def truth_cmd(
    scenario: ScenarioOpt,
    output: Annotated[
        Path,
        typer.Option("--output", "-o", help="Ground truth: .geojson (FeatureCollection) or .json."),
    ],
    area: Annotated[
        Path | None,
        typer.Option("--area", help="Also write the search area as GeoJSON, for `groundctl plan`."),
    ] = None,
) -> None:
    """Export a scenario's ground truth (every target's id, class, posture, position and
    visible fraction) for scoring detections."""
    check_output_path(output, "--output", suffixes=(".geojson", ".json"), create_parents=True)
    if area is not None:
        check_output_path(area, "--area", suffixes=(".geojson", ".json"), create_parents=True)
    world = _load(scenario)
    with writing(output, "--output"):
        output.parent.mkdir(parents=True, exist_ok=True)
        world.write_ground_truth(output)
    people = sum(t.is_person for t in world.targets)
    print(f"{output}: {len(world.targets)} targets ({people} people) in {world.name}")
    if area is not None:
        with writing(area, "--area"):
            area.parent.mkdir(parents=True, exist_ok=True)
            area.write_text(json.dumps(world.area_geojson(), indent=2) + "\n", encoding="utf-8")
        print(f"{area}: search area")
