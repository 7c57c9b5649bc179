"""`groundctl detect PATH`: run the thermal pipeline over recorded footage.

PATH is an image, a folder of images (with JSON sidecars or DJI/FLIR metadata), a video, an
RTSP/HTTP URL, a frame-stream recording (``.gctf``) or a live stream (``tcp://host:port``). Confirmed hits are printed as a table
and written as GeoJSON or CSV; ``--annotate DIR`` writes every frame with detections, boxes
and labels drawn, for a person to check.
"""

from __future__ import annotations

import base64
import contextlib
import csv
import json
import logging
import sys
import time
import warnings
from collections.abc import Sequence
from pathlib import Path
from typing import Annotated, Any

import cv2
import numpy as np
import typer
from pyproj import Transformer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from groundctl.cli import app
from groundctl.cli import output as out
from groundctl.cli._detect_json import (
    DETECT_SCHEMA_VERSION,
    detection_row,
    document,
    input_of,
    iso,
)
from groundctl.cli.context import CliContext, cli_context, report_console
from groundctl.config import camera_model
from groundctl.errors import ConfigError
from missions.errors import MissionError
from thermal.camera import CameraModel
from thermal.confirm import ConfirmConfig
from thermal.errors import ThermalError
from thermal.frame import Scale, ThermalFrame
from thermal.georef import RelativeAltitudeWarning
from thermal.hit import Hit
from thermal.pipeline import Detection, FrameResult, Pipeline
from thermal.readers import (
    ReadOptions,
    SkipLog,
    is_url,
    iter_frames,
    list_inputs,
)

COLOURS = {  # BGR
    "person": (60, 60, 255),
    "animal": (60, 200, 60),
    "vehicle_or_hot_object": (255, 160, 40),
    "unknown": (200, 200, 200),
}


class DemTerrain:
    """A `missions.terrain.Dem` as a `thermal.georef.Terrain`: NaN off the DEM or on voids,
    because a ray being marched may well leave the DEM before it meets the ground."""

    def __init__(self, dem: Any) -> None:
        self.dem = dem
        self._to_crs = Transformer.from_crs("EPSG:4326", dem.crs, always_xy=True)

    def elevation_m(self, lat: np.ndarray, lon: np.ndarray) -> np.ndarray:
        lat, lon = np.asarray(lat, float), np.asarray(lon, float)
        x, y = self._to_crs.transform(lon, lat)
        col = (np.asarray(x) - self.dem.x0) / self.dem.sx
        row = (self.dem.y0 - np.asarray(y)) / self.dem.sy
        rows, cols = self.dem.z.shape
        inside = (col >= -0.5) & (col <= cols - 0.5) & (row >= -0.5) & (row <= rows - 0.5)
        out = np.full(lat.shape, np.nan)
        if inside.any():
            # voids under these points: leave NaN
            with contextlib.suppress(MissionError):
                out[inside] = self.dem.elevation(lat[inside], lon[inside])
        return out


class CameraResolver:
    """Frames name their camera (sidecar `camera`); look each name up once."""

    def __init__(self, ctx: CliContext, forced: str | None, console: Console) -> None:
        self.ctx, self.console = ctx, console
        self.cache: dict[str, CameraModel | None] = {}
        self.forced = camera_model(ctx.camera(forced)) if forced else None

    def __call__(self, frame: ThermalFrame) -> CameraModel | None:
        if self.forced is not None:
            return self.forced
        name = frame.camera
        if not name:
            return None
        if name not in self.cache:
            try:
                self.cache[name] = camera_model(self.ctx.camera(name))
            except ConfigError as exc:
                self.console.print(
                    f"[yellow]warning:[/] {exc}; frames of camera '{name}' are not placed on the ground"
                )
                self.cache[name] = None
        return self.cache[name]


@app.command("detect")
def detect_command(
    ctx: typer.Context,
    path: Annotated[
        str,
        typer.Argument(
            help="Image, folder, video, RTSP URL, .gctf recording or tcp://HOST:PORT stream."
        ),
    ],
    camera: Annotated[
        str | None,
        typer.Option(
            "--camera",
            help="Camera name (see `groundctl configs list`); default: each frame's own.",
        ),
    ] = None,
    dem: Annotated[
        Path | None,
        typer.Option("--dem", help="GeoTIFF DEM: ray-march the terrain instead of flat ground."),
    ] = None,
    output: Annotated[
        Path | None, typer.Option("-o", "--output", help="Write hits to FILE.geojson or FILE.csv.")
    ] = None,
    annotate: Annotated[
        Path | None,
        typer.Option("--annotate", help="Write frames with detections drawn to this folder."),
    ] = None,
    min_frames: Annotated[
        int, typer.Option("--min-frames", min=1, help="Frames a target needs to be confirmed.")
    ] = 2,
    scale_gain: Annotated[
        float | None,
        typer.Option(
            "--scale-gain", help="16-bit images without sidecar: °C = raw * gain + offset."
        ),
    ] = None,
    scale_offset: Annotated[float, typer.Option("--scale-offset", help="See --scale-gain.")] = 0.0,
    takeoff_amsl: Annotated[
        float | None,
        typer.Option(
            "--takeoff-amsl",
            help="Take-off elevation (m AMSL): with --dem, corrects altitudes relative to take-off.",
        ),
    ] = None,
    vehicle_id: Annotated[
        int | None, typer.Option("--vehicle-id", help="Vehicle id for frames that carry none.")
    ] = None,
    as_json: Annotated[
        bool,
        typer.Option(
            "--json",
            help="Print the run as one JSON document (groundctl.detect/1) on stdout: inputs "
            "read and skipped, every detection, confirmed hits; the report goes to stderr.",
        ),
    ] = False,
) -> None:
    """Find people and animals in thermal footage and place confirmed hits on the map.

    Exit 2 when nothing could be read: a single input that is not a readable image, video
    or stream, or a folder whose files were all skipped."""
    started = time.monotonic()
    console = out.console(stderr=True) if as_json else report_console()
    # tifffile logs its own complaint about a broken file; the skip list already says it
    logging.getLogger("tifffile").setLevel(logging.CRITICAL)
    if output is not None and output.suffix.lower() not in (".geojson", ".json", ".csv"):
        raise ThermalError(f"{output}: output must end in .geojson, .json or .csv")
    inputs = list_inputs(path) if not is_url(path) else [path]
    if not inputs:
        raise ThermalError(f"{path}: no images, videos or recordings found in this folder")
    if output is not None:
        out.check_output_path(output, "--output", create_parents=True)
    if annotate is not None:
        out.check_output_path(annotate, "--annotate", kind="folder")
    terrain = None
    if dem is not None:
        from missions.terrain import Dem  # only when asked for: pyproj set-up is not free

        terrain = DemTerrain(Dem.read(dem))
    if scale_gain is not None and scale_gain == 0:
        raise ThermalError("--scale-gain must not be 0")
    options = ReadOptions(
        scale=Scale("celsius", scale_gain, scale_offset) if scale_gain is not None else None,
        camera=camera,
        vehicle_id=vehicle_id,
    )
    pipe = Pipeline(
        camera=CameraResolver(cli_context(ctx), camera, console),
        terrain=terrain,
        takeoff_amsl_m=takeoff_amsl,
        confirm=ConfirmConfig(min_frames=min_frames),
    )
    skips = SkipLog()
    stats = {"frames": 0, "detections": 0, "unplaced": 0, "bad_pixels": 0}
    notes: set[str] = set()
    rows: list[dict[str, Any]] = []
    processed: dict[str, None] = {}  # inputs that gave a frame, in order
    relative_alt = False
    videoish = any(
        is_url(i)
        or Path(i).suffix.lower() not in (".tif", ".tiff", ".png", ".jpg", ".jpeg", ".pgm", ".bmp")
        for i in inputs
    )
    with (
        warnings.catch_warnings(record=True) as caught,
        Progress(
            TextColumn("[bold]detect"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
            TextColumn("{task.fields[status]}"), console=Console(stderr=True), transient=True,
            disable=not out.is_terminal(sys.stderr),
        ) as progress,
    ):  # fmt: skip
        warnings.simplefilter("always")
        task = progress.add_task("frames", total=None if videoish else len(inputs), status="")
        for frame in iter_frames(path, options, skips):
            result = pipe.process(frame)
            stats["frames"] += 1
            processed[input_of(frame.source)] = None
            shown = [d for d in result.detections if d.target_class != "unknown"]
            stats["detections"] += len(shown)
            rows += [detection_row(result, d) for d in shown]
            stats["bad_pixels"] += result.rejected_bad_pixels
            if result.note:
                notes.add(result.note)
                stats["unplaced"] += 1
            if annotate is not None and shown:
                _annotate(result, shown, annotate)
            progress.update(
                task,
                advance=1,
                status=f"{stats['detections']} detections, {len(pipe.hits)} hits, {skips.count} skipped",
            )
        relative_alt = any(issubclass(w.category, RelativeAltitudeWarning) for w in caught)
    if stats["frames"] == 0:
        raise ThermalError(_nothing_read(path, inputs, skips))
    hits = pipe.hits
    if output is not None:
        with out.writing(output, "--output"):
            _write_hits(output, hits)  # before printing anything else: nothing found is lost
    _report(console, hits, stats, skips, notes, relative_alt, output)
    if as_json:
        msgs = [f"{stats['unplaced']} frame(s): {n}" for n in sorted(notes)]
        if relative_alt:
            msgs.insert(0, RELATIVE_ALT)
        body = document(
            path, inputs, list(processed), skips.skipped, stats["frames"], rows, hits, msgs,
            {"output": output, "annotate": annotate}, time.monotonic() - started,
        )  # fmt: skip
        out.emit_json("detect", body, DETECT_SCHEMA_VERSION)


RELATIVE_ALT = (
    "altitudes are relative to take-off (DJI RelativeAltitude), not above the ground: "
    "positions are off where the ground is higher or lower than the take-off point. Give "
    "--dem and --takeoff-amsl to correct them."
)


def _nothing_read(path: str, inputs: Sequence[str], skips: SkipLog) -> str:
    """The one line for a run that read no frame at all (exit 2)."""
    if len(inputs) == 1 and not Path(path).is_dir():
        reasons = [r for s, r in skips.skipped if s == inputs[0]] or ["no frames in it"]
        return f"{inputs[0]}: {reasons[0]}"
    first = f"; first: {skips.skipped[0][0]}: {skips.skipped[0][1]}" if skips.skipped else ""
    return f"{path}: nothing could be read ({skips.count} of {len(inputs)} inputs skipped{first})"


def _annotate(result: FrameResult, shown: Sequence[Detection], folder: Path) -> None:
    px = result.frame.pixels
    lo, hi = np.percentile(
        px[:: max(1, px.shape[0] // 64), :: max(1, px.shape[1] // 64)], [1, 99.9]
    )
    grey = np.clip((px - lo) * (255.0 / max(hi - lo, 1e-6)), 0, 255).astype(np.uint8)
    img = cv2.cvtColor(grey, cv2.COLOR_GRAY2BGR)
    for d in shown:
        x, y, w, h = d.bbox
        colour = COLOURS.get(d.target_class, (200, 200, 200))
        cv2.rectangle(img, (x - 2, y - 2), (x + w + 1, y + h + 1), colour, 1)
        label = f"{d.target_class.split('_')[0]} {d.confidence:.2f}"
        if d.temp_c is not None:
            label += f" {d.temp_c:.1f}C"
        cv2.putText(
            img, label, (x, max(10, y - 5)), cv2.FONT_HERSHEY_SIMPLEX, 0.35, colour, 1, cv2.LINE_AA
        )
    stem = Path(result.frame.source.split("#")[0]).stem or "frame"
    name = f"{stem}_{result.frame.vehicle_id or 0}_{result.frame.frame_id:06d}.png"
    cv2.imwrite(str(folder / name), img)


def _hit_properties(h: Hit) -> dict[str, Any]:
    return {
        "id": h.id,
        "class": h.target_class,
        "confidence": h.confidence,
        "uncertainty_m": h.uncertainty_m,
        "first_seen": iso(h.first_seen),
        "last_seen": iso(h.last_seen),
        "sightings": len(h.sightings),
        "vehicle_ids": list(h.vehicle_ids),
        "temp_c": None if h.temp_c is None else round(h.temp_c, 2),
    }


def _write_hits(path: Path, hits: Sequence[Hit]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    if path.suffix.lower() == ".csv":
        with path.open("w", newline="", encoding="utf-8") as fh:
            w = csv.writer(fh)
            w.writerow(
                [
                    "id",
                    "class",
                    "confidence",
                    "lat",
                    "lon",
                    "uncertainty_m",
                    "first_seen",
                    "last_seen",
                    "sightings",
                    "vehicle_ids",
                    "temp_c",
                ]
            )
            for h in hits:
                p = _hit_properties(h)
                w.writerow(
                    [h.id, h.target_class, p["confidence"], f"{h.lat:.7f}", f"{h.lon:.7f}", p["uncertainty_m"],
                     p["first_seen"], p["last_seen"], p["sightings"], " ".join(map(str, h.vehicle_ids)),
                     "" if p["temp_c"] is None else p["temp_c"]]
                )  # fmt: skip
        return
    features = []
    for h in hits:
        props = _hit_properties(h)
        if h.chip_png:
            props["chip_png_base64"] = base64.b64encode(h.chip_png).decode("ascii")
        features.append(
            {
                "type": "Feature",
                "geometry": {"type": "Point", "coordinates": [round(h.lon, 7), round(h.lat, 7)]},
                "properties": props,
            }
        )
    path.write_text(
        json.dumps({"type": "FeatureCollection", "features": features}, indent=1), encoding="utf-8"
    )


def _report(
    console: Console,
    hits: Sequence[Hit],
    stats: dict[str, int],
    skips: SkipLog,
    notes: set[str],
    relative_alt: bool,
    output: Path | None,
) -> None:
    table = out.Table(
        f"Confirmed hits ({len(hits)})",
        [
            out.Column("id", key=True),
            out.Column("class", key=True),
            out.Column("conf", priority=1, justify="right"),
            out.Column("lat", key=True, justify="right"),
            out.Column("lon", key=True, justify="right"),
            out.Column("± m", priority=1, justify="right"),
            out.Column("seen", priority=3, justify="right"),
            out.Column("first seen (UTC)", priority=2),
            out.Column("vehicles", priority=4),
            out.Column("°C", priority=2, justify="right"),
        ],
    )
    for h in sorted(hits, key=lambda h: (h.target_class != "person", -h.confidence)):
        table.add_row(
            h.id, h.target_class, f"{h.confidence:.2f}", f"{h.lat:.6f}", f"{h.lon:.6f}",
            f"{h.uncertainty_m:.1f}", len(h.sightings), iso(h.first_seen)[11:19],
            ",".join(map(str, h.vehicle_ids)) or "-", "-" if h.temp_c is None else f"{h.temp_c:.1f}",
        )  # fmt: skip
    out.show(console, table)
    console.print(
        f"{stats['frames']} frames, {stats['detections']} detections, {len(hits)} confirmed hits, "
        f"{skips.count} files skipped, {stats['bad_pixels']} bad-pixel blobs suppressed"
    )
    for source, reason in skips.skipped[:10]:
        console.print(f"[yellow]skipped[/] {source}: {reason}")
    if skips.count > 10:
        console.print(f"[yellow]... and {skips.count - 10} more skipped[/]")
    if relative_alt:
        console.print(f"[yellow]warning:[/] {RELATIVE_ALT}")
    for note in sorted(notes):
        console.print(f"[yellow]note:[/] {stats['unplaced']} frame(s): {note}")
    if output is not None:
        console.print(f"hits written to {output}")
