"""Readers: files, folders, videos, RTSP and the simulator's frame stream -> ThermalFrame.

- 16-bit TIFF/PNG: radiometric through a `Scale` (sidecar's, the caller's, or centi-Kelvin).
- float TIFF: °C.
- FLIR radiometric JPEG: °C through the file's own Planck constants (`thermal.flir`).
- 8-bit images (incl. DJI R-JPEG, whose radiometric block needs DJI's SDK) and video/RTSP:
  relative intensity.
- A JSON sidecar next to an image (``frame_7.tiff`` + ``frame_7.json``, format in
  `thermal.frame`) gives scale, pose, time and ids; otherwise pose comes from DJI XMP or
  EXIF GPS where present.
- ``*.gctf``: a recording of the frame stream (`thermal.framing` records back to back);
  ``tcp://host:port``: the live stream itself.

`iter_frames` never stops on a bad file: it is skipped, counted in a `SkipLog`, and a
`SkippedFileWarning` says which file and why.
"""

from __future__ import annotations

import asyncio
import json
import os
import socket
import warnings
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, BinaryIO

import cv2
import numpy as np
import tifffile
from numpy.typing import NDArray

from thermal import exif, flir, framing
from thermal.errors import FrameError
from thermal.frame import Pose, Scale, ThermalFrame, frame_from_header

IMAGE_EXTS = {".tif", ".tiff", ".png", ".jpg", ".jpeg", ".pgm", ".bmp"}
VIDEO_EXTS = {".mp4", ".avi", ".mkv", ".mov", ".m4v", ".ts", ".mpg", ".mpeg", ".webm"}
STREAM_EXTS = {".gctf"}
URL_SCHEMES = ("rtsp://", "rtsps://", "http://", "https://", "udp://", "rtp://", "tcp://")

# Plausible range of apparent temperatures (°C) a thermal camera outdoors reports; values
# far outside mean the scale is wrong (e.g. a 16-bit image that is not centi-Kelvin).
PLAUSIBLE_C = (-80.0, 700.0)


class SkippedFileWarning(UserWarning):
    """A file was skipped because it could not be read."""


@dataclass
class SkipLog:
    skipped: list[tuple[str, str]] = field(default_factory=list)

    def add(self, source: str, reason: str) -> None:
        self.skipped.append((source, reason))
        warnings.warn(f"skipped {source}: {reason}", SkippedFileWarning, stacklevel=3)

    @property
    def count(self) -> int:
        return len(self.skipped)


@dataclass(frozen=True)
class ReadOptions:
    scale: Scale | None = None  # for 16-bit images without a sidecar (default centi-Kelvin)
    camera: str | None = None  # camera name for frames that do not carry one
    vehicle_id: int | None = None


def is_url(path: str | os.PathLike[str]) -> bool:
    return str(path).lower().startswith(URL_SCHEMES)


# --- single files ------------------------------------------------------------------------------


def read_file(
    path: str | os.PathLike[str], options: ReadOptions | None = None, frame_id: int = 0
) -> ThermalFrame:
    """Read one image file (with its sidecar, if any). Raises FrameError when unreadable."""
    opts = options or ReadOptions()
    p = Path(path)
    src = str(p)
    try:
        data = p.read_bytes()
    except OSError as exc:
        raise FrameError(f"{src}: cannot read ({exc.strerror or exc})") from None
    if not data:
        raise FrameError(f"{src}: empty file")
    sidecar = _sidecar(p)
    ext = p.suffix.lower()
    pose: Pose | None = None
    timestamp: float | None = None
    if ext in (".jpg", ".jpeg"):
        if data[:2] != b"\xff\xd8":
            raise FrameError(f"{src}: not a JPEG file (bad signature)")
        info = exif.exif_from_jpeg(data)
        xmp = exif.xmp_packet(data[:200_000])
        pose = exif.dji_pose(xmp, info) if xmp and "drone-dji" in xmp else None
        pose = pose or exif.exif_pose(info)
        timestamp = info.timestamp
        fff = flir.app1_fff(data)
        if fff is not None:
            raw, cal = flir.parse_fff(fff)
            pixels = flir.raw_to_celsius(raw, cal)
            _check_plausible(pixels, src, "FLIR Planck constants")
            return _finish(pixels, "celsius", src, sidecar, pose, timestamp, opts, frame_id)
        raw = _decode_image(data, src)
    elif ext in (".tif", ".tiff"):
        raw, tiff_pose = _read_tiff(p)
        pose = tiff_pose
    else:
        raw = _decode_image(data, src)
    if sidecar is not None:
        frame = frame_from_header(sidecar, raw, src)
        if frame.radiometric:
            _check_plausible(frame.pixels, src, "the sidecar's scale")
        return _stamp(frame, opts, frame_id, fallback_pose=pose)
    if np.issubdtype(raw.dtype, np.floating):
        pixels = raw.astype(np.float32)
        _check_plausible(pixels, src, "float values taken as °C")
        return _finish(pixels, "celsius", src, None, pose, timestamp, opts, frame_id)
    if raw.dtype == np.uint8:
        return _finish(
            raw.astype(np.float32), "relative", src, None, pose, timestamp, opts, frame_id
        )
    if raw.dtype in (np.uint16, np.int16):
        scale = opts.scale or Scale.centikelvin()
        pixels = scale.apply(raw)
        if scale.unit == "celsius":
            _check_plausible(pixels, src, f"scale gain {scale.gain:g} offset {scale.offset:g}")
        return _finish(pixels, scale.unit, src, None, pose, timestamp, opts, frame_id)
    raise FrameError(f"{src}: unsupported pixel type {raw.dtype}; expected 8/16-bit or float")


def _sidecar(p: Path) -> dict[str, Any] | None:
    side = p.with_suffix(".json")
    if not side.is_file():
        return None
    try:
        doc = json.loads(side.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise FrameError(f"{side}: sidecar is not valid JSON ({exc})") from None
    if not isinstance(doc, dict):
        raise FrameError(f"{side}: sidecar must be a JSON object")
    return doc


def _decode_image(data: bytes, src: str) -> NDArray[Any]:
    img = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_UNCHANGED)
    if img is None:
        raise FrameError(f"{src}: not a readable image (corrupt or truncated)")
    return _to_grey(img, src)


def _to_grey(img: NDArray[Any], src: str) -> NDArray[Any]:
    if img.ndim == 3:
        if img.shape[2] == 1:
            return img[:, :, 0]
        # A palette-rendered thermal image: luminance is the best relative measure there is.
        code = cv2.COLOR_BGRA2GRAY if img.shape[2] == 4 else cv2.COLOR_BGR2GRAY
        return cv2.cvtColor(img, code)
    if img.ndim != 2:
        raise FrameError(f"{src}: unsupported image shape {img.shape}")
    return img


def _read_tiff(p: Path) -> tuple[NDArray[Any], Pose | None]:
    try:
        with tifffile.TiffFile(p) as tif:
            page = tif.pages[0]
            raw = page.asarray()
            xmp = page.tags.get(700)
            xmp_text = None
            if xmp is not None:
                v = xmp.value
                xmp_text = v.decode("utf-8", "replace") if isinstance(v, bytes) else str(v)
    except Exception as exc:  # tifffile raises many types on damaged files
        raise FrameError(f"{p}: not a readable TIFF ({type(exc).__name__}: {exc})") from None
    pose = exif.dji_pose(xmp_text) if xmp_text and "drone-dji" in xmp_text else None
    return _to_grey(np.asarray(raw), str(p)), pose


def _check_plausible(pixels: NDArray[np.float32], src: str, how: str) -> None:
    sample = pixels[:: max(1, pixels.shape[0] // 32), :: max(1, pixels.shape[1] // 32)]
    med = float(np.nanmedian(sample)) if np.isfinite(sample).any() else float("nan")
    lo, hi = PLAUSIBLE_C
    if not lo <= med <= hi:
        raise FrameError(
            f"{src}: median temperature {med:.1f} °C from {how} is implausible; "
            "give the right scale (e.g. --scale-gain/--scale-offset) or a sidecar"
        )


def _finish(
    pixels: NDArray[np.float32],
    unit: str,
    src: str,
    sidecar: dict[str, Any] | None,
    pose: Pose | None,
    timestamp: float | None,
    opts: ReadOptions,
    frame_id: int,
) -> ThermalFrame:
    if sidecar is not None:
        # Pixels already in their unit (e.g. a FLIR JPEG): the sidecar adds pose and ids only.
        meta = {**sidecar, "scale": {"unit": unit, "gain": 1.0, "offset": 0.0}}
        return _stamp(frame_from_header(meta, pixels, src), opts, frame_id, fallback_pose=pose)
    if timestamp is None:
        try:
            timestamp = Path(src).stat().st_mtime
        except OSError:
            timestamp = 0.0
    return ThermalFrame(
        pixels=pixels,
        unit=unit,  # type: ignore[arg-type]
        timestamp=timestamp,
        frame_id=frame_id,
        vehicle_id=opts.vehicle_id,
        camera=opts.camera,
        pose=pose,
        source=src,
    )


def _stamp(
    frame: ThermalFrame, opts: ReadOptions, frame_id: int, fallback_pose: Pose | None
) -> ThermalFrame:
    if frame.camera and frame.pose and frame.vehicle_id is not None:
        return frame
    return ThermalFrame(
        pixels=frame.pixels,
        unit=frame.unit,
        timestamp=frame.timestamp,
        frame_id=frame.frame_id or frame_id,
        vehicle_id=frame.vehicle_id if frame.vehicle_id is not None else opts.vehicle_id,
        camera=frame.camera or opts.camera,
        pose=frame.pose or fallback_pose,
        source=frame.source,
    )


# --- sequences -------------------------------------------------------------------------------


def iter_stream_file(path: str | os.PathLike[str]) -> Iterator[ThermalFrame]:
    """Frames of a frame-stream recording; stops (FrameError) at the first damaged record."""
    with open(path, "rb") as fh:
        yield from _records(fh, str(path), "record {n} truncated")


def _records(fh: BinaryIO, src: str, truncated: str) -> Iterator[ThermalFrame]:
    """Frame-stream records read back to back from a file or a socket, until a clean end;
    `truncated` (with ``{n}``, the record number) says what a cut-off record means here."""
    n = 0
    while True:
        prefix = fh.read(8)
        if not prefix:
            return
        if len(prefix) < 8:
            raise FrameError(f"{src}: " + truncated.format(n=n))
        head = fh.read(framing.decode_header(prefix))
        _, _, _, nbytes = framing.parse_header(head)
        yield framing.decode(prefix + head + fh.read(nbytes), f"{src}#{n}")
        n += 1


def iter_video(
    source: str | os.PathLike[str], options: ReadOptions | None = None
) -> Iterator[ThermalFrame]:
    """Frames of a video file or stream URL (RTSP, ...) in relative mode."""
    opts = options or ReadOptions()
    src = str(source)
    cap = cv2.VideoCapture(src)
    if not cap.isOpened():
        raise FrameError(
            f"{src}: cannot open video (unsupported codec, bad file or unreachable URL)"
        )
    try:
        n = 0
        while True:
            ok, img = cap.read()
            if not ok:
                break
            grey = _to_grey(img, src)
            yield ThermalFrame(
                pixels=grey.astype(np.float32),
                unit="relative",
                timestamp=cap.get(cv2.CAP_PROP_POS_MSEC) / 1000.0,
                frame_id=n,
                vehicle_id=opts.vehicle_id,
                camera=opts.camera,
                source=f"{src}#{n}",
            )
            n += 1
        if n == 0:
            raise FrameError(f"{src}: video has no readable frames")
    finally:
        cap.release()


def list_inputs(path: str | os.PathLike[str]) -> list[str]:
    """The files `iter_frames` would read, in order (a URL is one input)."""
    if is_url(path):
        return [str(path)]
    p = Path(path)
    if p.is_dir():
        exts = IMAGE_EXTS | VIDEO_EXTS | STREAM_EXTS
        return [str(f) for f in sorted(p.iterdir()) if f.is_file() and f.suffix.lower() in exts]
    if p.exists():
        return [str(p)]
    raise FrameError(f"{p}: no such file or folder")


def iter_frames(
    path: str | os.PathLike[str],
    options: ReadOptions | None = None,
    skips: SkipLog | None = None,
) -> Iterator[ThermalFrame]:
    """Every frame under `path` (file, folder, video, URL, stream recording). Unreadable
    files are skipped into `skips`; nothing else stops the run."""
    skips = skips if skips is not None else SkipLog()
    for index, item in enumerate(list_inputs(path)):
        ext = Path(item).suffix.lower()
        try:
            if item.lower().startswith("tcp://"):
                yield from iter_socket_stream(item)
            elif is_url(item) or ext in VIDEO_EXTS:
                yield from iter_video(item, options)
            elif ext in STREAM_EXTS:
                yield from iter_stream_file(item)
            else:
                yield read_file(item, options, frame_id=index)
        except FrameError as exc:
            skips.add(item, str(exc).removeprefix(f"{item}: "))
        except OSError as exc:
            skips.add(item, f"cannot read ({exc})")


def iter_socket_stream(url: str, timeout_s: float = 30.0) -> Iterator[ThermalFrame]:
    """Frames from a live frame stream at ``tcp://host:port`` (the simulator's payload or a
    drone's), blocking, until the sender closes the connection."""
    hostport = url[len("tcp://") :].rstrip("/")
    host, _, port = hostport.rpartition(":")
    if not host or not port.isdigit():
        raise FrameError(f"{url}: expected tcp://HOST:PORT")
    with socket.create_connection((host.strip("[]"), int(port)), timeout=timeout_s) as sock:
        yield from _records(sock.makefile("rb"), url, "stream ended inside frame {n}")


async def iter_stream(host: str, port: int) -> AsyncIterator[ThermalFrame]:
    """Frames from a live frame stream (the simulator's or a payload's TCP feed)."""
    reader, writer = await asyncio.open_connection(host, port)
    try:
        while True:
            try:
                yield await framing.read_frame(reader, f"tcp://{host}:{port}")
            except asyncio.IncompleteReadError:
                return
    finally:
        writer.close()
