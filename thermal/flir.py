"""FLIR radiometric JPEG: the raw thermal image and Planck constants from the FFF in APP1.

A FLIR R-JPEG carries a FLIR "FFF" file split over APP1 segments, each starting with
``b"FLIR\\0"``, a version byte (1), the segment's index and the index of the last segment.
Concatenated, the pieces form::

    "FFF\\0", creator[16], version u32 (100..199 means big-endian header), directory offset
    u32, entry count u32, ...                                             (64-byte header)
    directory: 32-byte entries (type u16, subtype u16, version u32, id u32, offset u32,
    length u32, parent u32, object u32, checksum u32)

Record type 1 (RawData) holds the raw sensor counts: byte-order mark u16 (2), width u16 at
0x02, height u16 at 0x04, the image at 0x20 either as 16-bit words in the record's byte order
or as a PNG whose 16-bit samples are little-endian (so PNG decoders see them byte-swapped).
Record type 0x20 (CameraInfo) holds floats: emissivity 0x20, object distance 0x24,
reflected / atmospheric / IR-window temperatures in kelvin at 0x28 / 0x2C / 0x30, window
transmission 0x34, relative humidity 0x3C, Planck R1 0x58, B 0x5C, F 0x60, atmospheric
transmission alpha1/alpha2/beta1/beta2/X at 0x70..0x80, Planck O (i32) 0x308, R2 0x30C.

Temperatures follow FLIR's radiometric chain (as documented by ExifTool and the R
`Thermimage` package): the raw count is corrected for atmosphere, IR window and reflected
radiation, then inverted through Planck's law ``T = B / ln(R1 / (R2 (raw + O)) + F)``.
"""

from __future__ import annotations

import math
import struct
from dataclasses import dataclass

import cv2
import numpy as np
from numpy.typing import NDArray

from thermal.errors import FrameError

RAW_DATA = 0x0001
CAMERA_INFO = 0x0020
_PNG = b"\x89PNG\r\n\x1a\n"


@dataclass(frozen=True)
class FlirCalibration:
    planck_r1: float
    planck_r2: float
    planck_b: float
    planck_f: float
    planck_o: float
    emissivity: float = 1.0
    object_distance_m: float = 0.0
    reflected_temp_c: float = 20.0
    atmospheric_temp_c: float = 20.0
    ir_window_temp_c: float = 20.0
    ir_window_transmission: float = 1.0
    relative_humidity: float = 0.5  # 0..1
    alpha1: float = 0.006569
    alpha2: float = 0.01262
    beta1: float = -0.002276
    beta2: float = -0.00667
    atm_x: float = 1.9
    camera_model: str = ""


def app1_fff(jpeg: bytes) -> bytes | None:
    """The FFF file spread over a JPEG's FLIR APP1 segments, or None if there is none."""
    if jpeg[:2] != b"\xff\xd8":
        return None
    pos, parts = 2, {}
    while pos + 4 <= len(jpeg):
        if jpeg[pos] != 0xFF:
            raise FrameError("JPEG: marker expected; the file is damaged")
        marker = jpeg[pos + 1]
        if marker in (0xD9, 0xDA):  # end of image, start of scan: no more metadata
            break
        if 0xD0 <= marker <= 0xD7 or marker == 0x01:
            pos += 2
            continue
        (length,) = struct.unpack(">H", jpeg[pos + 2 : pos + 4])
        seg = jpeg[pos + 4 : pos + 2 + length]
        if len(seg) != length - 2:
            raise FrameError("JPEG: segment runs past the end of the file (truncated?)")
        if marker == 0xE1 and seg[:5] == b"FLIR\x00" and len(seg) >= 8:
            parts[seg[6]] = seg[8:]
        pos += 2 + length
    if not parts:
        return None
    if sorted(parts) != list(range(len(parts))):
        raise FrameError(f"FLIR APP1 segments incomplete: have {sorted(parts)}")
    return b"".join(parts[i] for i in sorted(parts))


def parse_fff(fff: bytes) -> tuple[NDArray[np.uint16], FlirCalibration]:
    """(raw counts, calibration) from an FFF file."""
    if len(fff) < 64 or fff[:4] not in (b"FFF\x00", b"AFF\x00"):
        raise FrameError("FLIR FFF: bad header (not an FFF file)")
    # The header's byte order is whichever makes the format version read 100..199.
    orders = [o for o in (">", "<") if 100 <= struct.unpack(o + "I", fff[0x14:0x18])[0] < 200]
    if not orders:
        raise FrameError("FLIR FFF: unknown format version (not a FLIR radiometric file?)")
    bo = orders[0]
    dir_off, n_entries = struct.unpack(bo + "II", fff[0x18:0x20])
    if dir_off + 32 * n_entries > len(fff) or n_entries > 4096:
        raise FrameError("FLIR FFF: record directory runs past the end of the data")
    records: dict[int, bytes] = {}
    for k in range(n_entries):
        e = fff[dir_off + 32 * k : dir_off + 32 * (k + 1)]
        rtype, _, _, _, off, length = struct.unpack(bo + "HHIIII", e[:20])
        if rtype and off + length <= len(fff):
            records.setdefault(rtype, fff[off : off + length])
    if RAW_DATA not in records:
        raise FrameError("FLIR FFF: no RawData record (not a radiometric image)")
    if CAMERA_INFO not in records:
        raise FrameError("FLIR FFF: no CameraInfo record (no Planck constants)")
    return _raw_image(records[RAW_DATA]), _camera_info(records[CAMERA_INFO])


def _record_order(rec: bytes) -> str:
    return "<" if struct.unpack("<H", rec[:2])[0] == 2 else ">"


def _raw_image(rec: bytes) -> NDArray[np.uint16]:
    if len(rec) < 0x20:
        raise FrameError("FLIR RawData record is too short")
    bo = _record_order(rec)
    width, height = struct.unpack(bo + "HH", rec[2:6])
    data = rec[0x20:]
    if data[:8] == _PNG:
        img = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_UNCHANGED)
        if img is None or img.dtype != np.uint16 or img.ndim != 2:
            raise FrameError("FLIR RawData: embedded PNG is not a 16-bit greyscale image")
        img = img.byteswap()  # FLIR stores little-endian samples in the big-endian PNG
    else:
        n = width * height
        if width == 0 or height == 0 or len(data) < 2 * n:
            raise FrameError(
                f"FLIR RawData: {width}x{height} image needs {2 * n} bytes, record has {len(data)}"
            )
        img = np.frombuffer(data[: 2 * n], np.dtype(bo + "u2")).reshape(height, width)
    if img.shape != (height, width):
        raise FrameError(
            f"FLIR RawData: image is {img.shape[1]}x{img.shape[0]}, header says {width}x{height}"
        )
    return img.astype(np.uint16)


def _camera_info(rec: bytes) -> FlirCalibration:
    if len(rec) < 0x310:
        raise FrameError(f"FLIR CameraInfo record is too short ({len(rec)} bytes)")
    bo = _record_order(rec)

    def f(off: int) -> float:
        return float(struct.unpack(bo + "f", rec[off : off + 4])[0])

    rh = f(0x3C)
    cal = FlirCalibration(
        planck_r1=f(0x58),
        planck_r2=f(0x30C),
        planck_b=f(0x5C),
        planck_f=f(0x60),
        planck_o=float(struct.unpack(bo + "i", rec[0x308:0x30C])[0]),
        emissivity=f(0x20),
        object_distance_m=f(0x24),
        reflected_temp_c=f(0x28) - 273.15,
        atmospheric_temp_c=f(0x2C) - 273.15,
        ir_window_temp_c=f(0x30) - 273.15,
        ir_window_transmission=f(0x34),
        relative_humidity=rh / 100.0 if rh > 2 else rh,
        alpha1=f(0x70),
        alpha2=f(0x74),
        beta1=f(0x78),
        beta2=f(0x7C),
        atm_x=f(0x80),
        camera_model=rec[0xD4:0xF4].split(b"\x00", 1)[0].decode("latin-1"),
    )
    bad = [
        name
        for name, v in (
            ("PlanckR1", cal.planck_r1),
            ("PlanckR2", cal.planck_r2),
            ("PlanckB", cal.planck_b),
        )
        if not (math.isfinite(v) and v > 0)
    ]
    if bad:
        raise FrameError(f"FLIR CameraInfo: implausible {', '.join(bad)} (corrupt calibration)")
    if not 0.0 < cal.emissivity <= 1.0:
        raise FrameError(f"FLIR CameraInfo: emissivity {cal.emissivity:g} is outside (0, 1]")
    return cal


def _planck_raw(cal: FlirCalibration, temp_c: float) -> float:
    return (
        cal.planck_r1
        / (cal.planck_r2 * (math.exp(cal.planck_b / (temp_c + 273.15)) - cal.planck_f))
        - cal.planck_o
    )


def raw_to_celsius(raw: NDArray[np.uint16], cal: FlirCalibration) -> NDArray[np.float32]:
    """Object temperatures (°C) from raw counts through FLIR's radiometric chain."""
    e = cal.emissivity
    t_atm = cal.atmospheric_temp_c
    h2o = cal.relative_humidity * math.exp(
        1.5587 + 0.06939 * t_atm - 0.00027816 * t_atm**2 + 0.00000068455 * t_atm**3
    )
    half = math.sqrt(max(cal.object_distance_m, 0.0) / 2.0)
    tau = cal.atm_x * math.exp(-half * (cal.alpha1 + cal.beta1 * math.sqrt(h2o))) + (
        1 - cal.atm_x
    ) * math.exp(-half * (cal.alpha2 + cal.beta2 * math.sqrt(h2o)))
    irt = cal.ir_window_transmission or 1.0
    raw_refl = _planck_raw(cal, cal.reflected_temp_c)
    raw_atm = _planck_raw(cal, t_atm)
    raw_wind = _planck_raw(cal, cal.ir_window_temp_c)
    # The object path: window, then atmosphere on both sides of it (split in two halves).
    attn = (
        (1 - tau) / e / tau * raw_atm
        + (1 - tau) / e / tau / irt / tau * raw_atm
        + (1 - irt) / e / tau / irt * raw_wind
        + (1 - e) / e * raw_refl
    )
    raw_obj = raw.astype(np.float64) / e / tau / irt / tau - attn
    with np.errstate(invalid="ignore", divide="ignore"):
        temp = cal.planck_b / np.log(
            cal.planck_r1 / (cal.planck_r2 * (raw_obj + cal.planck_o)) + cal.planck_f
        )
    return (temp - 273.15).astype(np.float32)
