"""Every input format, and every way a file can be wrong."""

import json
import zipfile

import pytest
from mission_testkit import box

from missions.errors import AreaError
from missions.io import read_area

OUTER = box(0, 0, 600, 400)
HOLE = box(100, 100, 200, 180)
NOFLY = box(400, 200, 500, 300)


def _close(a, b, tol=1e-7):
    return all(
        abs(x - y) < tol for p, q in zip(a, b, strict=True) for x, y in zip(p, q, strict=True)
    )


def test_geojson_polygon_with_inner_ring(tmp_path, draw):
    doc = {"type": "Polygon", "coordinates": [draw.geojson_ring(OUTER), draw.geojson_ring(HOLE)]}
    p = tmp_path / "a.geojson"
    p.write_text(json.dumps(doc))
    area = read_area(p)
    assert len(area.outer) == 1 and len(area.holes) == 1
    # GeoJSON is [lon, lat]; the area is (lat, lon), unclosed.
    assert _close(area.outer[0], draw.ring(OUTER))
    assert _close(area.holes[0], draw.ring(HOLE))


def test_geojson_multipolygon_feature_and_collection_with_nofly(tmp_path, draw):
    multi = {
        "type": "Feature",
        "properties": {"name": "two fields"},
        "geometry": {
            "type": "MultiPolygon",
            "coordinates": [[draw.geojson_ring(OUTER)], [draw.geojson_ring(box(700, 0, 900, 200))]],
        },
    }
    p = tmp_path / "m.json"
    p.write_text(json.dumps(multi))
    area = read_area(p)
    assert len(area.outer) == 2 and area.name == "two fields"
    p2 = tmp_path / "fc.geojson"
    p2.write_text(draw.geojson(OUTER, holes=[HOLE], hole_features=[NOFLY]))
    area = read_area(p2)
    assert len(area.outer) == 1 and len(area.holes) == 2
    assert _close(area.holes[1], draw.ring(NOFLY))


def _kml(draw, *placemarks):
    def coords(xy):
        r = draw.ring(xy)
        return " ".join(f"{lon},{lat},0" for lat, lon in [*r, r[0]])

    body = []
    for name, outer, inner, extra in placemarks:
        inner_xml = "".join(
            f"<innerBoundaryIs><LinearRing><coordinates>{coords(h)}</coordinates></LinearRing></innerBoundaryIs>"
            for h in inner
        )
        body.append(
            f"<Placemark><name>{name}</name>{extra}<Polygon><outerBoundaryIs><LinearRing>"
            f"<coordinates>{coords(outer)}</coordinates></LinearRing></outerBoundaryIs>{inner_xml}"
            "</Polygon></Placemark>"
        )
    return (
        '<?xml version="1.0" encoding="UTF-8"?><kml xmlns="http://www.opengis.net/kml/2.2">'
        f"<Document><name>valley</name>{''.join(body)}</Document></kml>"
    )


def test_kml_outer_inner_and_nofly_placemarks(tmp_path, draw):
    text = _kml(
        draw,
        ("search area", OUTER, [HOLE], ""),
        ("No-Fly: mast", NOFLY, [], ""),
        (
            "lake",
            box(250, 250, 300, 300),
            [],
            '<ExtendedData><Data name="role"><value>exclude</value></Data></ExtendedData>',
        ),
    )
    p = tmp_path / "a.kml"
    p.write_text(text)
    area = read_area(p)
    assert len(area.outer) == 1 and len(area.holes) == 3
    assert _close(area.outer[0], draw.ring(OUTER))
    assert area.name == "valley"


def test_kmz(tmp_path, draw):
    p = tmp_path / "a.kmz"
    with zipfile.ZipFile(p, "w") as z:
        z.writestr("doc.kml", _kml(draw, ("area", OUTER, [HOLE], "")))
    area = read_area(p)
    assert len(area.outer) == 1 and len(area.holes) == 1


def _qgc(draw, survey=None, fences=(), circles=()):
    items = [{"type": "SimpleItem", "command": 22, "params": [0, 0, 0, 0, 0, 0, 50]}]
    if survey is not None:
        items.append(
            {
                "type": "ComplexItem",
                "complexItemType": "survey",
                "polygon": [list(p) for p in draw.ring(survey)],
                "TransectStyleComplexItem": {},
            }
        )
    return {
        "fileType": "Plan",
        "version": 1,
        "mission": {"items": items, "plannedHomePosition": [47.4, 8.55, 0]},
        "geoFence": {
            "version": 2,
            "polygons": [
                {"inclusion": inc, "polygon": [list(p) for p in draw.ring(r)], "version": 1}
                for inc, r in fences
            ],
            "circles": [
                {"inclusion": inc, "circle": {"center": list(c), "radius": r}, "version": 1}
                for inc, c, r in circles
            ],
        },
        "rallyPoints": {"version": 2, "points": []},
    }


def test_qgc_plan_survey_polygon_and_exclusion_fences(tmp_path, draw):
    centre = draw.ring([(300, 50)])[0]
    doc = _qgc(
        draw,
        survey=OUTER,
        fences=[(True, box(-100, -100, 700, 500)), (False, NOFLY)],
        circles=[(False, centre, 20.0)],
    )
    p = tmp_path / "survey.plan"
    p.write_text(json.dumps(doc))
    area = read_area(p)
    # The survey polygon is the area; the bigger inclusion fence is not.
    assert len(area.outer) == 1 and _close(area.outer[0], draw.ring(OUTER))
    assert len(area.holes) == 2 and len(area.holes[1]) == 64


def test_qgc_plan_inclusion_fence_is_the_area_without_survey(tmp_path, draw):
    p = tmp_path / "fence.plan"
    p.write_text(json.dumps(_qgc(draw, fences=[(True, OUTER), (False, HOLE)])))
    area = read_area(p)
    assert _close(area.outer[0], draw.ring(OUTER)) and len(area.holes) == 1


@pytest.mark.parametrize(
    ("name", "content", "match"),
    [
        ("a.shp", b"xx", "unsupported file type '.shp'"),
        ("noext", b"xx", "unsupported file type"),
        ("empty.geojson", b"  \n", "empty"),
        (
            "bad.geojson",
            b'{"type": "Polygon", "coordinates": [[[0,0],[1',
            "not valid JSON at line 1",
        ),
        (
            "pts.geojson",
            b'{"type": "Feature", "geometry": {"type": "Point", "coordinates": [8, 47]}}',
            "no search area polygon",
        ),
        (
            "nofly-only.geojson",
            b'{"type": "FeatureCollection", "features": [{"type": "Feature", "properties": {"role": "nofly"}, "geometry": {"type": "Polygon", "coordinates": [[[8,47],[8.01,47],[8.01,47.01],[8,47]]]}}]}',
            "no search area polygon",
        ),
        ("x.geojson", b"[1, 2]", "not GeoJSON"),
        (
            "bad-pos.geojson",
            b'{"type": "Polygon", "coordinates": [[[8, "n"], [8.1, 47], [8, 47.1]]]}',
            r"coordinates\[0\]\[0\]: position .* is not numeric",
        ),
        ("a.kml", b"<kml><Document></Document></kml>", "no Placemark with a Polygon"),
        ("b.kml", b"<html><body/></html>", "not KML"),
        ("c.kml", b"<kml><Document", "not valid KML"),
        (
            "d.kml",
            b"<kml><Placemark><Polygon><outerBoundaryIs><LinearRing><coordinates>8,47 x,y</coordinates></LinearRing></outerBoundaryIs></Polygon></Placemark></kml>",
            "coordinate 2 'x,y' is not lon,lat",
        ),
        ("a.kmz", b"PK not really", "not a KMZ"),
        (
            "a.plan",
            b'{"fileType": "Plan", "mission": {"items": []}, "geoFence": {}}',
            "no survey polygon and no inclusion geofence",
        ),
        ("b.plan", b'{"type": "FeatureCollection"}', "not a QGroundControl plan"),
        ("bin.kml", b"\xff\xfe\x00\x00garbage\x80", "not a text file"),
    ],
)
def test_bad_files_say_what_is_wrong(tmp_path, name, content, match):
    p = tmp_path / name
    p.write_bytes(content)
    with pytest.raises(AreaError, match=match):
        read_area(p)


def test_missing_file(tmp_path):
    with pytest.raises(AreaError, match="cannot read"):
        read_area(tmp_path / "nope.geojson")


def test_kmz_without_kml(tmp_path):
    p = tmp_path / "e.kmz"
    with zipfile.ZipFile(p, "w") as z:
        z.writestr("image.png", b"123")
    with pytest.raises(AreaError, match=r"holds no \.kml"):
        read_area(p)
