"""Offline map backgrounds (local MBTiles / PMTiles tiles, a DEM's hillshade) and ground teams
reporting over Cursor-on-Target and MQTT, against the real `groundctl serve`."""

from __future__ import annotations

import asyncio
import socket
import sqlite3
import time
from concurrent.futures import ThreadPoolExecutor

import aiomqtt
import cv2
import httpx
import numpy as np
import pytest
import yaml

from groundctl.web.teams import parse_cot
from missions.terrain import write_dem


def png(value: int) -> bytes:
    ok, buf = cv2.imencode(".png", np.full((256, 256, 3), value, np.uint8))
    assert ok
    return buf.tobytes()


def make_mbtiles(path, tiles: dict[tuple[int, int, int], bytes]) -> None:
    db = sqlite3.connect(path)
    db.executescript(
        "CREATE TABLE metadata (name TEXT, value TEXT);"
        "CREATE TABLE tiles (zoom_level INTEGER, tile_column INTEGER, tile_row INTEGER,"
        " tile_data BLOB);"
    )
    db.executemany("INSERT INTO metadata VALUES (?, ?)", [("name", "test"), ("format", "png")])
    db.executemany(
        "INSERT INTO tiles VALUES (?, ?, ?, ?)",
        [(z, x, (1 << z) - 1 - y, data) for (z, x, y), data in tiles.items()],
    )
    db.commit()
    db.close()


def make_pmtiles(path, tiles: dict[tuple[int, int, int], bytes]) -> None:
    from pmtiles.tile import Compression, TileType, zxy_to_tileid
    from pmtiles.writer import write

    with write(str(path)) as w:
        for (z, x, y), data in sorted(tiles.items(), key=lambda t: zxy_to_tileid(*t[0])):
            w.write_tile(zxy_to_tileid(z, x, y), data)
        w.finalize(
            {
                "tile_type": TileType.PNG, "tile_compression": Compression.NONE,
                "min_lon_e7": 80000000, "min_lat_e7": 460000000, "max_lon_e7": 90000000,
                "max_lat_e7": 480000000, "center_zoom": 3, "center_lon_e7": 85000000,
                "center_lat_e7": 470000000,
            },
            {"name": "test"},
        )  # fmt: skip


@pytest.mark.parametrize("kind", ["mbtiles", "pmtiles"])
def test_a_local_tile_file_is_served_as_xyz_tiles(tmp_path, serve, kind):
    tiles = {(3, 4, 2): png(200), (4, 8, 5): png(90)}
    path = tmp_path / f"map.{kind}"
    (make_mbtiles if kind == "mbtiles" else make_pmtiles)(path, tiles)
    s = serve("--tiles", str(path))
    with httpx.Client(base_url=s.base, timeout=30) as c:
        assert c.get("/api/config").json()["background"] == {
            "kind": "local", "url": "tiles/{z}/{x}/{y}", "attribution": "",
        }  # fmt: skip
        for (z, x, y), data in tiles.items():
            r = c.get(f"/tiles/{z}/{x}/{y}")
            assert r.status_code == 200 and r.content == data
            assert r.headers["content-type"] == "image/png"
        assert c.get("/tiles/3/1/1").status_code == 204  # not in the file
        r = c.get("/tiles/3/9/1")
        assert r.status_code == 400 and r.json()["field"] == "z/x/y"


def test_the_dem_is_drawn_as_a_hillshade_where_it_lies(tmp_path, serve):
    # A ridge running north-south in a 0.01° square.
    cols = np.arange(100)
    z = np.tile(500 + 80 * np.exp(-(((cols - 50) / 12.0) ** 2)), (100, 1))
    write_dem(tmp_path / "dem.tif", z, west_lon=8.54, north_lat=47.40, step_deg=1e-4)
    s = serve("--dem", str(tmp_path / "dem.tif"))
    with httpx.Client(base_url=s.base, timeout=60) as c:
        shade = c.get("/api/config").json()["hillshade"]
        (south, west), (north, east) = shade["bounds"]
        assert south == pytest.approx(47.39, abs=1e-6) and north == pytest.approx(47.40, abs=1e-6)
        assert west == pytest.approx(8.54, abs=1e-6) and east == pytest.approx(8.55, abs=1e-6)
        r = c.get("/api/hillshade.png")
        assert r.status_code == 200
    img = cv2.imdecode(np.frombuffer(r.content, np.uint8), cv2.IMREAD_UNCHANGED)
    alpha = img[:, :, 3].astype(int)
    row = alpha[50]
    # Lit from the north-west: the ridge's east flank is in shadow (darker veil) and its
    # west flank lit, flat ground in between.
    assert row[65] > row[5] + 40 and row[35] < row[5]


def test_cot_positions_of_ground_units_become_teams(tmp_path, serve):
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    s = serve("--cot-listen", f"udp://127.0.0.1:{port}")
    event = (
        b'<?xml version="1.0"?><event version="2.0" uid="team-7" type="a-f-G-U-C" how="h-g-i-g-o"'
        b' time="2025-01-01T00:00:00Z" start="2025-01-01T00:00:00Z" stale="2025-01-01T00:05:00Z">'
        b'<point lat="47.3961" lon="8.5452" hae="480" ce="6" le="9"/>'
        b'<detail><contact callsign="Charlie"/></detail></event>'
    )
    assert parse_cot(event) == ("Charlie", 47.3961, 8.5452, 6.0)
    assert parse_cot(event.replace(b"a-f-G-U-C", b"a-f-A-M-H-Q")) is None  # a drone, no team
    assert parse_cot(b"<event><point lat='x'/></event>") is None
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as tx:
        tx.sendto(b"not xml at all", ("127.0.0.1", port))
        tx.sendto(event, ("127.0.0.1", port))
    with httpx.Client(base_url=s.base, timeout=30) as c:
        deadline = time.monotonic() + 10
        while not (teams := c.get("/api/teams").json()) and time.monotonic() < deadline:
            time.sleep(0.1)
    assert [(t["team"], t["lat"], t["lon"], t["accuracy_m"], t["source"]) for t in teams] == [
        ("Charlie", 47.3961, 8.5452, 6.0, "cot")
    ]


def test_mqtt_positions_of_ground_teams_become_teams(tmp_path, serve, broker):
    dispatch = tmp_path / "dispatch.yaml"
    dispatch.write_text(yaml.safe_dump({"dispatch": {"mqtt": {"url": broker.url}}}))
    s = serve("--operation", "ridge", "--dispatch-config", str(dispatch))
    host, port = broker.url.removeprefix("mqtt://").split(":")

    async def publish() -> None:
        async with aiomqtt.Client(host, int(port), identifier="team-delta") as client:
            await client.publish("groundctl/ridge/teams/Delta/position", b"{broken", qos=1)
            await client.publish(
                "groundctl/ridge/teams/Delta/position",
                b'{"lat": 47.3958, "lon": 8.5461, "accuracy_m": 12}',
                qos=1,
            )

    with httpx.Client(base_url=s.base, timeout=30) as c:
        deadline = time.monotonic() + 20
        teams = []
        while not teams and time.monotonic() < deadline:
            # (in a thread of its own: a sync Playwright of another test may hold this one's loop)
            with ThreadPoolExecutor(1) as pool:
                pool.submit(asyncio.run, publish()).result()  # again until subscribed
            time.sleep(0.5)
            teams = c.get("/api/teams").json()
    assert [(t["team"], t["lat"], t["lon"], t["source"]) for t in teams] == [
        ("Delta", 47.3958, 8.5461, "mqtt")
    ]
