"""Pose from image metadata: EXIF GPS (any JPEG/TIFF) and DJI's XMP (drone-dji namespace).

DJI writes, in XMP: ``GpsLatitude``, ``GpsLongitude`` (some firmware spells it
``GpsLongtitude``), ``AbsoluteAltitude`` (AMSL), ``RelativeAltitude`` (above take-off, NOT
above the ground), ``FlightRoll/Pitch/YawDegree`` (vehicle attitude) and
``GimbalRoll/Pitch/YawDegree`` in the earth frame (yaw is a compass heading).
"""

from __future__ import annotations

import contextlib
import re
import struct
from dataclasses import dataclass
from datetime import UTC, datetime

from thermal.frame import Gimbal, Pose, PoseSigma

_XMP_START = b"<x:xmpmeta"
_XMP_END = b"</x:xmpmeta>"


@dataclass(frozen=True)
class ExifInfo:
    lat: float | None = None
    lon: float | None = None
    alt_amsl_m: float | None = None
    timestamp: float | None = None  # DateTimeOriginal, taken as UTC


def jpeg_segments(jpeg: bytes) -> list[tuple[int, bytes]]:
    """(marker, payload) of the metadata segments before the image data."""
    out, pos = [], 2
    while pos + 4 <= len(jpeg) and jpeg[pos] == 0xFF:
        marker = jpeg[pos + 1]
        if marker in (0xD9, 0xDA):
            break
        (length,) = struct.unpack(">H", jpeg[pos + 2 : pos + 4])
        out.append((marker, jpeg[pos + 4 : pos + 2 + length]))
        pos += 2 + length
    return out


def exif_from_jpeg(jpeg: bytes) -> ExifInfo:
    for marker, seg in jpeg_segments(jpeg):
        if marker == 0xE1 and seg[:6] == b"Exif\x00\x00":
            try:
                return _parse_tiff_exif(seg[6:])
            except (struct.error, IndexError, ValueError, ZeroDivisionError):
                return ExifInfo()  # damaged EXIF: no pose rather than no frame
    return ExifInfo()


def _parse_tiff_exif(t: bytes) -> ExifInfo:
    bo = {b"II": "<", b"MM": ">"}[t[:2]]
    (ifd0,) = struct.unpack(bo + "I", t[4:8])

    def entries(off: int) -> dict[int, tuple[int, int, bytes]]:
        (n,) = struct.unpack(bo + "H", t[off : off + 2])
        out = {}
        for k in range(min(n, 512)):
            e = t[off + 2 + 12 * k : off + 14 + 12 * k]
            tag, typ, count = struct.unpack(bo + "HHI", e[:8])
            size = {1: 1, 2: 1, 3: 2, 4: 4, 5: 8, 7: 1, 9: 4, 10: 8}.get(typ, 1) * count
            if size <= 4:
                data = e[8 : 8 + size]
            else:
                (p,) = struct.unpack(bo + "I", e[8:12])
                data = t[p : p + size]
            out[tag] = (typ, count, data)
        return out

    def rationals(v: tuple[int, int, bytes]) -> list[float]:
        vals = struct.unpack(f"{bo}{2 * v[1]}I", v[2])
        return [a / b for a, b in zip(vals[::2], vals[1::2], strict=True)]

    def dms(v: tuple[int, int, bytes]) -> float:
        d, m, s = rationals(v)
        return d + m / 60 + s / 3600

    ifd = entries(ifd0)
    info: dict[str, float | None] = {}
    if 0x8769 in ifd:  # Exif IFD: DateTimeOriginal
        (p,) = struct.unpack(bo + "I", ifd[0x8769][2][:4])
        sub = entries(p)
        if 0x9003 in sub:
            text = sub[0x9003][2].split(b"\x00")[0].decode("ascii", "replace")
            with contextlib.suppress(ValueError):
                info["timestamp"] = (
                    datetime.strptime(text, "%Y:%m:%d %H:%M:%S").replace(tzinfo=UTC).timestamp()
                )
    if 0x8825 in ifd:
        (p,) = struct.unpack(bo + "I", ifd[0x8825][2][:4])
        gps = entries(p)
        if 2 in gps and 4 in gps:
            lat, lon = dms(gps[2]), dms(gps[4])
            if gps.get(1, (0, 0, b"N"))[2][:1] == b"S":
                lat = -lat
            if gps.get(3, (0, 0, b"E"))[2][:1] == b"W":
                lon = -lon
            info["lat"], info["lon"] = lat, lon
        if 6 in gps:
            alt = rationals(gps[6])[0]
            below = 5 in gps and gps[5][2][:1] == b"\x01"
            info["alt_amsl_m"] = -alt if below else alt
    return ExifInfo(**info)  # type: ignore[arg-type]


def xmp_packet(data: bytes) -> str | None:
    start = data.find(_XMP_START)
    if start < 0:
        return None
    end = data.find(_XMP_END, start)
    return data[start : end + len(_XMP_END)].decode("utf-8", "replace") if end > 0 else None


def _xmp_values(xmp: str) -> dict[str, str]:
    """drone-dji:Name values, whether written as attributes or as elements."""
    vals = dict(re.findall(r'drone-dji:(\w+)="([^"]*)"', xmp))
    vals.update(re.findall(r"<drone-dji:(\w+)>([^<]*)</drone-dji:\1>", xmp))
    return vals


def _num(vals: dict[str, str], *names: str) -> float | None:
    for n in names:
        if n in vals:
            try:
                return float(vals[n].strip())
            except ValueError:
                return None
    return None


def dji_pose(xmp: str, exif: ExifInfo | None = None) -> Pose | None:
    """A pose from DJI XMP (falling back to EXIF GPS for the position); None without one."""
    vals = _xmp_values(xmp)
    lat = _num(vals, "GpsLatitude", "Latitude")
    lon = _num(vals, "GpsLongitude", "GpsLongtitude", "Longitude")
    if exif is not None:
        lat = lat if lat is not None else exif.lat
        lon = lon if lon is not None else exif.lon
    if lat is None or lon is None or not vals:
        return None
    gimbal_pitch = _num(vals, "GimbalPitchDegree")
    return Pose(
        lat=lat,
        lon=lon,
        alt_amsl_m=_num(vals, "AbsoluteAltitude") or (exif.alt_amsl_m if exif else None),
        alt_rel_m=_num(vals, "RelativeAltitude"),
        roll_deg=_num(vals, "FlightRollDegree") or 0.0,
        pitch_deg=_num(vals, "FlightPitchDegree") or 0.0,
        yaw_deg=_num(vals, "FlightYawDegree") or 0.0,
        gimbal=Gimbal(
            roll_deg=_num(vals, "GimbalRollDegree") or 0.0,
            pitch_deg=-90.0 if gimbal_pitch is None else gimbal_pitch,
            yaw_deg=_num(vals, "GimbalYawDegree") or 0.0,
            frame="earth",
        ),
        # DJI's AbsoluteAltitude is barometric/GNSS and commonly off by 10-30 m.
        sigma=PoseSigma(horizontal_m=2.0, vertical_m=5.0, attitude_deg=1.0),
    )


def exif_pose(exif: ExifInfo) -> Pose | None:
    """Position-only pose from EXIF GPS: the camera's attitude is unknown, assumed straight
    down, with a large attitude uncertainty to say so."""
    if exif.lat is None or exif.lon is None:
        return None
    return Pose(
        lat=exif.lat,
        lon=exif.lon,
        alt_amsl_m=exif.alt_amsl_m,
        sigma=PoseSigma(horizontal_m=3.0, vertical_m=10.0, attitude_deg=5.0),
    )
