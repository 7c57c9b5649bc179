"""The frame stream's wire format (simulator payload -> ground station, TCP 5600+i).

Each frame on the wire is::

    b"GCTF"                   4 bytes magic
    header_len                4 bytes, unsigned big-endian
    header                    header_len bytes of UTF-8 JSON: the sidecar form of
                              `thermal.frame` plus "dtype" (numpy str, e.g. "<u2") and
                              "shape" ([rows, cols])
    payload                   rows * cols * itemsize bytes, C order

16-bit centi-Kelvin (``"<u2"``, scale gain 0.01, offset -273.15) is the default, as
radiometric cores send it. A reader that meets bad magic or a bad header raises FrameError;
the stream cannot be resynchronised after that and should be reconnected.
"""

from __future__ import annotations

import asyncio
import json
import struct
from typing import Any

import numpy as np
from numpy.typing import NDArray

from thermal.errors import FrameError
from thermal.frame import Scale, ThermalFrame, frame_from_header, header_to_dict

MAGIC = b"GCTF"
_PREFIX = struct.Struct(">4sI")
MAX_HEADER_BYTES = 64 * 1024
MAX_PAYLOAD_BYTES = 64 * 1024 * 1024


def encode(frame: ThermalFrame, scale: Scale | None = None, dtype: str = "<u2") -> bytes:
    """A frame as bytes on the wire; values are stored through `scale` (centi-Kelvin default)."""
    scale = scale or (Scale.centikelvin() if frame.radiometric else Scale("relative"))
    raw = scale.invert(frame.pixels, np.dtype(dtype))
    header = header_to_dict(frame, scale)
    header["dtype"] = np.dtype(dtype).str
    header["shape"] = list(raw.shape)
    return encode_raw(header, raw)


def encode_raw(header: dict[str, Any], raw: NDArray[Any]) -> bytes:
    head = json.dumps(header, separators=(",", ":")).encode()
    return _PREFIX.pack(MAGIC, len(head)) + head + np.ascontiguousarray(raw).tobytes()


def decode_header(prefix: bytes) -> int:
    magic, header_len = _PREFIX.unpack(prefix)
    if magic != MAGIC:
        raise FrameError(f"frame stream: bad magic {magic!r}, expected {MAGIC!r}")
    if header_len > MAX_HEADER_BYTES:
        raise FrameError(f"frame stream: header of {header_len} bytes is too large")
    return header_len


def parse_header(head: bytes) -> tuple[dict[str, Any], np.dtype[Any], tuple[int, int], int]:
    try:
        header = json.loads(head)
        dtype = np.dtype(header["dtype"])
        rows, cols = (int(v) for v in header["shape"])
    except (ValueError, KeyError, TypeError) as exc:
        raise FrameError(f"frame stream: unreadable header ({exc})") from None
    nbytes = rows * cols * dtype.itemsize
    if rows <= 0 or cols <= 0 or nbytes > MAX_PAYLOAD_BYTES:
        raise FrameError(f"frame stream: impossible frame shape {rows}x{cols}")
    return header, dtype, (rows, cols), nbytes


def decode(data: bytes, source: str = "stream") -> ThermalFrame:
    """Decode exactly one frame from bytes."""
    header_len = decode_header(data[: _PREFIX.size])
    head_end = _PREFIX.size + header_len
    header, dtype, shape, nbytes = parse_header(data[_PREFIX.size : head_end])
    payload = data[head_end : head_end + nbytes]
    if len(payload) != nbytes:
        raise FrameError(f"frame stream: payload truncated ({len(payload)} of {nbytes} bytes)")
    raw = np.frombuffer(payload, dtype=dtype).reshape(shape)
    return frame_from_header(header, raw, source)


async def read_frame(reader: asyncio.StreamReader, source: str = "stream") -> ThermalFrame:
    """Read the next frame; raises asyncio.IncompleteReadError at end of stream."""
    header_len = decode_header(await reader.readexactly(_PREFIX.size))
    header, dtype, shape, nbytes = parse_header(await reader.readexactly(header_len))
    payload = await reader.readexactly(nbytes)
    raw = np.frombuffer(payload, dtype=dtype).reshape(shape)
    return frame_from_header(header, raw, source)
