"""A small hand-built plan for fleet tests: a rectangle swept by east-west lanes.

Built directly on the `missions.plan` model so fleet tests do not depend on the planner.
"""

from __future__ import annotations

from missions.plan import CameraSettings, Plan, PlanStats, Segment, SegmentStats, Sortie, Waypoint

ORIGIN = (47.3977, 8.5456)
M_LAT = 1 / 111_200.0
M_LON = 1 / 75_200.0


_origin = [ORIGIN]


def at(north_m: float, east_m: float) -> tuple[float, float]:
    o = _origin[0]
    return (o[0] + north_m * M_LAT, o[1] + east_m * M_LON)


def make_plan(
    segments: int = 3,
    lanes_per_sortie: int = 3,
    sorties_per_segment: int = 1,
    lane_len_m: float = 60.0,
    spacing_m: float = 20.0,
    alt_m: float = 30.0,
    speed_ms: float = 10.0,
    origin: tuple[float, float] = ORIGIN,
) -> Plan:
    _origin[0] = origin
    try:
        return _make_plan(
            segments, lanes_per_sortie, sorties_per_segment, lane_len_m, spacing_m, alt_m, speed_ms
        )
    finally:
        _origin[0] = ORIGIN


def _make_plan(
    segments: int,
    lanes_per_sortie: int,
    sorties_per_segment: int,
    lane_len_m: float,
    spacing_m: float,
    alt_m: float,
    speed_ms: float,
) -> Plan:
    segs = []
    lane_id = 0
    n_lanes_seg = lanes_per_sortie * sorties_per_segment
    for g in range(segments):
        east0 = 40.0 + g * (lane_len_m + 20.0)
        launch = at(-20.0, east0 + lane_len_m / 2)
        sorties = []
        seg_lanes = []
        for k in range(sorties_per_segment):
            wps = [
                Waypoint(
                    lat=at(0, east0)[0],
                    lon=at(0, east0)[1],
                    alt_rel_m=alt_m,
                    speed_ms=speed_ms,
                    kind="transit",
                )
            ]
            ids = []
            for i in range(lanes_per_sortie):
                row = k * lanes_per_sortie + i
                north = row * spacing_m
                a, b = (east0, east0 + lane_len_m) if row % 2 == 0 else (east0 + lane_len_m, east0)
                for kind, e in (("lane_start", a), ("lane_end", b)):
                    lat, lon = at(north, e)
                    wps.append(
                        Waypoint(
                            lat=lat,
                            lon=lon,
                            alt_rel_m=alt_m,
                            speed_ms=speed_ms,
                            kind=kind,
                            lane_id=lane_id,
                        )
                    )
                ids.append(lane_id)
                lane_id += 1
            wps.append(
                Waypoint(
                    lat=launch[0], lon=launch[1], alt_rel_m=alt_m, speed_ms=speed_ms, kind="transit"
                )
            )
            length = lanes_per_sortie * (lane_len_m + spacing_m) + 100
            sorties.append(
                Sortie(
                    index=k,
                    segment=g,
                    launch=launch,
                    waypoints=tuple(wps),
                    est_time_s=length / speed_ms,
                    length_m=length,
                    lane_ids=tuple(ids),
                )
            )
            seg_lanes += ids
        stats = SegmentStats(
            area_m2=lane_len_m * spacing_m * n_lanes_seg,
            lane_length_m=lane_len_m * n_lanes_seg,
            length_m=sum(s.length_m for s in sorties),
            est_time_s=sum(s.est_time_s for s in sorties),
            turns=n_lanes_seg,
            pod=0.8,
        )
        segs.append(
            Segment(
                index=g,
                speed_ms=speed_ms,
                launch=launch,
                lane_ids=tuple(seg_lanes),
                sorties=tuple(sorties),
                stats=stats,
            )
        )
    width = 40.0 + segments * (lane_len_m + 20.0)
    height = n_lanes_seg * spacing_m
    area = (at(-10, 30), at(-10, width), at(height, width), at(height, 30))
    cam = CameraSettings(
        name="h20t",
        alt_agl_m=alt_m,
        footprint_w_m=spacing_m * 1.2,
        footprint_h_m=spacing_m,
        gsd_m=0.03,
        lane_spacing_m=spacing_m,
        side_overlap=0.2,
        px_on_person=15,
    )
    total = sum(s.stats.est_time_s for s in segs)
    stats = PlanStats(
        area_m2=width * height,
        searchable_m2=width * height,
        length_m=sum(s.stats.length_m for s in segs),
        lane_length_m=lane_len_m * lane_id,
        max_segment_time_s=max(s.stats.est_time_s for s in segs),
        mean_segment_time_s=total / segments,
        turns=lane_id,
        coverage_pct=100,
        pod=0.8,
        sorties=segments * sorties_per_segment,
    )
    return Plan(name="fleet-test", area=(area,), camera=cam, stats=stats, segments=tuple(segs))
