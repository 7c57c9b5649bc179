"""Exporters: QGroundControl .plan, GeoJSON, KML; read back with our own readers."""

import json

import numpy as np
import shapely
from mission_testkit import H20T, alt_for_swath, box
from shapely.geometry import Point, Polygon

from missions.area import SearchArea, prepare
from missions.export import geojson, kml, qgc_plan, write_qgc
from missions.io import read_area, read_kml_text
from missions.planner import PlanRequest, make_plan
from missions.segment import Vehicle


def _plan(draw, launch=None):
    area = SearchArea(
        (draw.ring(box(0, 0, 800, 500)),), (draw.ring(box(300, 200, 400, 300)),), name="field"
    )
    launches = (draw.ring([launch])[0],) if launch else ()
    return make_plan(
        prepare(area),
        PlanRequest(H20T, alt_for_swath(40), 0.1, vehicles=(Vehicle(),) * 2, launches=launches),
    )


def test_qgc_plan_has_fences_rally_points_and_home(tmp_path, draw):
    plan = _plan(draw, launch=(-300, 250))
    paths = write_qgc(plan, tmp_path, "p")
    assert len(paths) == len(plan.sorties) and paths[0].name == "p-seg1-sortie1.plan"
    doc = json.loads(paths[0].read_text())
    assert doc["fileType"] == "Plan"
    assert doc["rallyPoints"] == {"version": 2, "points": []}
    mission = doc["mission"]
    home = mission["plannedHomePosition"]
    assert np.allclose(home[:2], plan.segments[0].launch)
    cmds = [i["command"] for i in mission["items"]]
    assert cmds[0] == 22 and cmds[-1] == 20 and 178 in cmds
    wp = next(i for i in mission["items"] if i["command"] == 16)
    assert wp["frame"] == 3 and wp["params"][3] is None
    # Polygons are [lat, lon]: the area's first vertex is near 47.4, 8.55.
    fences = doc["geoFence"]["polygons"]
    inclusion = [f for f in fences if f["inclusion"]]
    exclusion = [f for f in fences if not f["inclusion"]]
    assert len(exclusion) == 1 and np.allclose(exclusion[0]["polygon"][0], plan.holes[0][0])
    lat, lon = inclusion[0]["polygon"][0]
    assert abs(lat - 47.4) < 0.05 and abs(lon - 8.55) < 0.05
    # The launch point is outside the area: a corridor fence includes it and the transit.
    frame = prepare(SearchArea((plan.area[0],))).frame
    polys = [Polygon(frame.latlon_to_xy(np.array(f["polygon"]))) for f in inclusion]
    fence = shapely.union_all(polys)
    for w in plan.sorties[0].waypoints:
        assert fence.buffer(0.5).contains(Point(frame.latlon_to_xy([(w.lat, w.lon)])[0]))
    assert fence.contains(Point(frame.latlon_to_xy([plan.sorties[0].launch])[0]))


def test_qgc_plan_reads_back_as_the_same_area(tmp_path, draw):
    plan = _plan(draw)
    p = tmp_path / "s.plan"
    p.write_text(json.dumps(qgc_plan(plan, plan.sorties[0])))
    back = read_area(p)  # inclusion fence -> area, exclusion -> hole
    assert len(back.holes) == 1
    assert np.allclose(back.holes[0], plan.holes[0], atol=1e-8)


def test_geojson_export_is_lon_lat_and_round_trips(tmp_path, draw):
    plan = _plan(draw)
    doc = geojson(plan)
    roles = [f["properties"]["role"] for f in doc["features"]]
    assert roles.count("area") == 1 and roles.count("nofly") == 1
    assert roles.count("segment") == 2 and roles.count("sortie") == len(plan.sorties)
    lon, lat = doc["features"][0]["geometry"]["coordinates"][0][0]
    assert (lat, lon) == plan.area[0][0]
    line = next(f for f in doc["features"] if f["properties"]["role"] == "sortie")
    w0 = plan.sorties[0].waypoints[0]
    assert line["geometry"]["coordinates"][0][:2] == [w0.lon, w0.lat]
    p = tmp_path / "out.geojson"
    p.write_text(json.dumps(doc))
    back = read_area(p)  # the exported plan reads back as its area and hole
    assert len(back.outer) == 1 and len(back.holes) == 1
    assert np.allclose(back.outer[0], plan.area[0]) and np.allclose(back.holes[0], plan.holes[0])


def test_kml_export_reads_back(draw):
    plan = _plan(draw)
    text = kml(plan)
    back = read_kml_text(text)
    assert len(back.outer) == 1 and len(back.holes) == 1
    assert np.allclose(back.outer[0], plan.area[0], atol=1e-8)
    assert text.count("<LineString>") == len(plan.sorties)
