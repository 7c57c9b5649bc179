"""The web map's API against the real `groundctl serve`: every bad input is refused with a
one-line error naming the field (4xx, JSON), and the token rule holds on every kind of
request (API, page, library, media, websocket) for loopback and non-loopback binds."""

from __future__ import annotations

import json

import httpx
import pytest
from websockets.exceptions import InvalidStatus
from websockets.sync.client import connect as ws_connect

from groundctl.store import Store
from tests.groundctl.dispatch.hitgen import make_hit
from tests.web.conftest import start_server, stop_server

SQUARE = {
    "type": "Feature",
    "properties": {},
    "geometry": {
        "type": "Polygon",
        "coordinates": [
            [[8.545, 47.397], [8.547, 47.397], [8.547, 47.398], [8.545, 47.398], [8.545, 47.397]]
        ],
    },
}
BOWTIE = {
    "type": "Polygon",
    "coordinates": [
        [[8.545, 47.397], [8.547, 47.398], [8.547, 47.397], [8.545, 47.398], [8.545, 47.397]]
    ],
}
GOOD_PLAN = {"area": SQUARE, "camera": "h20t", "alt_m": 50, "drones": 2}


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("api")
    with Store.open(tmp / "op.sqlite", operation="apitest") as store:
        store.upsert_hit(make_hit(1))
    s = start_server(tmp)
    yield s
    stop_server(s)


@pytest.fixture(scope="module")
def client(server):
    with httpx.Client(base_url=server.base, timeout=60) as c:
        yield c


def refused(r: httpx.Response, status: int, field: str | None, *words: str) -> None:
    assert r.status_code == status, r.text
    body = r.json()
    assert body["field"] == field, body
    assert "\n" not in body["error"] and "Traceback" not in body["error"]
    for w in words:
        assert w in body["error"], body


@pytest.mark.parametrize(
    ("change", "field", "words"),
    [
        ({"camera": None}, "camera", ()),
        ({"camera": "nikon"}, "camera", ("unknown camera 'nikon'", "h20t")),
        ({"airframes": ["balloon"]}, "airframes", ("unknown airframe",)),
        ({"alt_m": -5}, "alt_m", ("greater than 0",)),
        ({"alt_m": 500}, "area", ("above the highest allowed",)),
        ({"min_px_on_person": 5}, "body", ("exactly one of alt_m or min_px_on_person",)),
        ({"alt_m": None}, "body", ("exactly one",)),
        ({"drones": 0}, "drones", ()),
        ({"overlap_pct": 100}, "overlap_pct", ()),
        ({"launches": [[95, 8]]}, "launches", ("latitude must be within",)),
        ({"launches": [[47.39, 8.54]] * 3}, "body", ("3 launch points for 2 drones",)),
        ({"airframes": ["mavic3t"] * 3}, "body", ("3 airframes for 2 drones",)),
        ({"lkp": "here"}, "lkp", ("expected [lat, lon]",)),
        ({"sweep_deg": 400}, "sweep_deg", ()),
        ({"area": {"type": "Point", "coordinates": [8, 47]}}, "area", ()),
        ({"area": BOWTIE}, "area", ("area: ",)),
        ({"colour": "red"}, "colour", ("Extra inputs",)),
    ],
)
def test_a_bad_plan_request_names_its_field(client, change, field, words):
    body = {k: v for k, v in {**GOOD_PLAN, **change}.items() if v is not None}
    refused(client.post("/api/plans", json=body), 400, field, *words)


def test_a_plan_request_that_is_not_json_is_refused(client):
    r = client.post("/api/plans", content=b"{nope", headers={"content-type": "application/json"})
    refused(r, 400, "body", "not valid JSON")


def test_a_good_plan_is_stored_and_exported(client, server):
    r = client.post("/api/plans", json={**GOOD_PLAN, "lkp": [47.3975, 8.546]})
    assert r.status_code == 201, r.text
    doc = r.json()
    assert len(doc["segments"]) == 2 and doc["lanes"] and doc["lkp"] == [47.3975, 8.546]
    with Store.open(server.db) as store:
        assert store.plans()[-1].id == doc["id"]
        assert store.operation().detail["lkp"] == [47.3975, 8.546]
    qgc = client.get(f"/api/plans/{doc['id']}/export", params={"format": "qgc"})
    assert qgc.status_code == 200 and qgc.content[:2] == b"PK"
    kml = client.get(f"/api/plans/{doc['id']}/export", params={"format": "kml"})
    assert b"<kml" in kml.content
    refused(client.get(f"/api/plans/{doc['id']}/export", params={"format": "shp"}), 400, "format")
    refused(
        client.get(f"/api/plans/{doc['id']}/export", params={"format": "kml", "firmware": "dji"}),
        400,
        "firmware",
    )
    refused(client.get("/api/plans/9999"), 404, "plan_id", "no plan 9999")
    refused(client.get("/api/plans/abc"), 400, "plan_id")


def test_area_import_refuses_what_it_cannot_read(client):
    refused(client.post("/api/areas/import", content=b""), 400, "filename")
    refused(client.post("/api/areas/import?filename=a.geojson", content=b""), 400, "body", "empty")
    refused(
        client.post("/api/areas/import?filename=a.shp", content=b"x"),
        400,
        "body",
        "unknown area format",
    )
    refused(
        client.post("/api/areas/import?filename=a.geojson", content=b"{nope"),
        400,
        "body",
        "not JSON",
    )
    big = b" " * (21 * 1024 * 1024)
    refused(client.post("/api/areas/import?filename=a.geojson", content=big), 413, "body")
    ok = client.post("/api/areas/import?filename=a.geojson", content=json.dumps(SQUARE).encode())
    assert ok.status_code == 200 and ok.json()["features"][0]["properties"]["role"] == "area"


def test_flight_requests_are_checked(client):
    refused(client.post("/api/flight", json={"plan_id": 1}), 409, None, "--sim N", "--fleet FILE")
    refused(client.post("/api/flight", json={"plan_id": 0}), 400, "plan_id")
    refused(client.post("/api/flight", json={"plan_id": 1, "on_exit": "crash"}), 400, "on_exit")
    refused(client.delete("/api/flight", params={"on_exit": "crash"}), 400, "on_exit")
    refused(client.delete("/api/flight"), 409, None, "no flight")


def test_hit_answers_are_checked_and_stored_with_the_web_identity(client, server):
    hit = make_hit(1)
    refused(client.get("/api/hits/nope"), 404, "hit_id")
    refused(client.get("/api/hits/nope/chip.png"), 404, "hit_id")
    refused(
        client.post("/api/hits/nope/ack", json={"status": "confirm", "by": "ann"}), 404, "hit_id"
    )
    url = f"/api/hits/{hit.id}/ack"
    refused(
        client.post(url, json={"status": "maybe", "by": "ann"}),
        400,
        "status",
        "unknown acknowledgement",
    )
    refused(client.post(url, json={"status": "confirm"}), 400, "by")
    refused(client.post(url, json={"status": "confirm", "by": "<script>"}), 400, "by")
    refused(
        client.post(url, json={"status": "confirm", "by": "ann", "note": "x" * 501}), 400, "note"
    )
    chip = client.get(f"/api/hits/{hit.id}/chip.png")
    assert chip.status_code == 200 and chip.content == hit.chip_png
    r = client.post(url, json={"status": "dismiss", "by": "ann", "note": "a warm rock"})
    assert r.status_code == 201, r.text
    with Store.open(server.db) as store:
        (ack,) = store.acks(hit.id)
        assert (ack.status, ack.by, ack.source, ack.note) == (
            "false_alarm", "web:ann", "web:loopback", "a warm rock",
        )  # fmt: skip
        assert store.hit(hit.id).status == "false_alarm"


def test_team_positions_are_checked(client):
    refused(client.post("/api/teams/Bravo/position", json={"lat": 91, "lon": 8}), 400, "lat")
    refused(client.post("/api/teams/Bravo/position", json={"lat": 47}), 400, "lon")
    refused(client.post("/api/teams/%3Cb%3E/position", json={"lat": 47, "lon": 8}), 400, "team")
    r = client.post("/api/teams/Bravo/position", json={"lat": 47.39, "lon": 8.54, "accuracy_m": 5})
    assert r.status_code == 201 and r.json()["team"] == "Bravo"
    assert [t["team"] for t in client.get("/api/teams").json()] == ["Bravo"]


def test_map_media_without_a_source_say_why(client):
    refused(client.get("/api/hillshade.png"), 404, None, "--dem")
    refused(client.get("/tiles/3/1/1"), 404, None, "--tiles")


# ---------------------------------------------------------------------- the token rule
def _ws_status(url: str, headers: dict[str, str] | None = None) -> int | str:
    try:
        with ws_connect(url, additional_headers=headers or {}, open_timeout=10) as ws:
            return json.loads(ws.recv(timeout=20))["type"]
    except InvalidStatus as exc:
        return exc.response.status_code


def check_token_rule(base: str, token: str) -> None:
    ws = base.replace("http://", "ws://") + "ws"
    paths = [
        "/api/config",
        "/api/state",
        "/",
        "/team",
        "/static/js/main.js",
        "/lib/leaflet/leaflet.js",
    ]
    with httpx.Client(base_url=base, timeout=30) as c:
        for p in paths:
            for headers in ({}, {"authorization": "Bearer wrong-token-of-some-length"}):
                r = c.get(p, headers=headers)
                assert r.status_code == 401, (p, r.status_code)
                assert r.json()["field"] == "token" and "token" in r.json()["error"]
                assert b"leaflet" not in r.content.lower() or p != "/lib/leaflet/leaflet.js"
            assert c.get(p, headers={"authorization": f"Bearer {token}"}).status_code == 200, p
        assert c.get("/api/config", params={"token": "nope"}).status_code == 401
        # The printed address carries the token once; the page's cookie carries it on.
        page = c.get("/", params={"token": token})
        assert page.status_code == 200 and "groundctl_token" in page.headers["set-cookie"]
        assert "httponly" in page.headers["set-cookie"].lower()
        assert c.get("/lib/leaflet/leaflet.js").status_code == 200
        c.cookies.clear()
        assert c.get("/lib/leaflet/leaflet.js").status_code == 401
    assert _ws_status(ws) == 401
    assert _ws_status(ws, {"authorization": "Bearer wrong-token-of-some-length"}) == 401
    assert _ws_status(ws, {"authorization": f"Bearer {token}"}) == "snapshot"
    assert _ws_status(ws + f"?token={token}") == "snapshot"
    assert _ws_status(base.replace("http://", "ws://") + "ws/thermal/sim1") == 401


def test_loopback_without_a_token_is_open(server):
    assert server.token is None
    with httpx.Client(base_url=server.base, timeout=30) as c:
        assert c.get("/api/config").json()["token_required"] is False
        assert c.get("/lib/leaflet/leaflet.js").status_code == 200
    assert _ws_status(server.base.replace("http://", "ws://") + "ws") == "snapshot"


def test_loopback_with_a_token_needs_it_everywhere(tmp_path):
    token = "a-token-of-the-coordinator"
    s = start_server(tmp_path, "--token", token)
    try:
        assert token not in s.log()  # a token the user gave is not printed back
        check_token_rule(s.base, token)
    finally:
        stop_server(s)


def test_binding_beyond_loopback_generates_a_token_printed_once(tmp_path):
    # The whole point of the token: the server is reachable from the network while tested.
    s = start_server(tmp_path, "--bind", "0.0.0.0:0")
    try:
        assert s.token is not None and len(s.token) >= 16
        assert s.log().count(s.token) == 1
        check_token_rule(s.base, s.token)
    finally:
        stop_server(s)


@pytest.mark.parametrize(
    ("args", "words"),
    [
        (["--bind", "nowhere"], "--bind: expected ADDR:PORT"),
        (["--token", "short"], "at least 16 characters"),
        (["--scenario", "x.yaml"], "--scenario: only with --sim N"),
        (["--sim", "2", "--scenario", "missing.yaml"], "scenario file not found"),
        (["--sim", "1", "--fleet", "f.yaml"], "not both"),
        (["--dem", "nothing.tif"], "DEM file not found"),
        (["--tiles", "maps.zip"], "no such tile file"),
        (["--tiles", "https://tiles.example/{z}/{x}.png"], "needs {z}, {x} and {y}"),
    ],
)
def test_serve_refuses_bad_options_in_one_line(run_cli, tmp_path, args, words):
    r = run_cli("serve", "--db", str(tmp_path / "x.sqlite"), *args, timeout=60)
    assert r.returncode == 2, r.stdout + r.stderr
    assert words in r.stderr and "Traceback" not in r.stderr
    assert len(r.stderr.strip().splitlines()) == 1


def test_serve_refuses_a_busy_address(run_cli, server, tmp_path):
    port = server.base.rsplit(":", 1)[1].strip("/")
    r = run_cli("serve", "--db", str(tmp_path / "x.sqlite"), "--bind", f"127.0.0.1:{port}")
    assert r.returncode == 2 and "cannot listen on 127.0.0.1" in r.stderr
