"""The coordinator's page in headless Chromium, driven like a person would: draw an area with
a no-fly hole by mouse, plan it, fly it with simulated drones whose thermal cameras see a
scenario world, watch the drones and the swept ground, confirm the person found, check the
answer in the operation database and at the MQTT broker, open a second browser, open the
live thermal view. A screenshot of each step goes to tests/artifacts/."""

from __future__ import annotations

import asyncio
import json
from concurrent.futures import ThreadPoolExecutor

import aiomqtt
import pytest
import yaml
from pyproj import Geod

from groundctl.store import Store
from tests.live.livefix import PERSON, write_scenario

pytest.importorskip("sim.world")
pytestmark = pytest.mark.slow

# A strip through the scenario's person, with a no-fly square east of them.
AREA = [(47.39750, 8.54560), (47.39750, 8.54690), (47.39708, 8.54690), (47.39708, 8.54560)]
HOLE = [(47.39742, 8.54648), (47.39742, 8.54664), (47.39726, 8.54664), (47.39726, 8.54648)]


def click_at(page, lat: float, lon: float) -> None:
    x, y = page.evaluate(
        "([la, lo]) => { const p = gc.map.latLngToContainerPoint([la, lo]);"
        " const r = gc.map.getContainer().getBoundingClientRect(); return [r.left + p.x, r.top + p.y]; }",
        [lat, lon],
    )
    page.mouse.move(x, y, steps=4)  # a hand moves there: the draw tool snaps on the way
    page.mouse.click(x, y)
    page.wait_for_timeout(150)


def draw_polygon(page, button: str, ring: list[tuple[float, float]]) -> None:
    page.click(button)
    for lat, lon in ring:
        click_at(page, lat, lon)
    click_at(page, *ring[0])  # closing on the first vertex ends the polygon


def drone_positions(page) -> dict[int, list[float]]:
    return page.evaluate(
        "Object.fromEntries([...gc.fleet.drones].filter(([k, d]) => d.placed)"
        ".map(([k, d]) => [k, [d.marker.getLatLng().lat, d.marker.getLatLng().lng]]))"
    )


async def retained_ack(url: str, topic: str, wait_s: float = 10.0) -> dict | None:
    host, port = url.removeprefix("mqtt://").split(":")
    async with aiomqtt.Client(host, int(port), identifier="web-test-centre") as client:
        await client.subscribe(topic, qos=1)
        try:
            async with asyncio.timeout(wait_s):
                async for msg in client.messages:
                    return json.loads(msg.payload)
        except TimeoutError:
            return None
    return None


@pytest.mark.timeout(240)
def test_draw_plan_fly_confirm_share_and_watch(tmp_path, serve, broker, chromium, artifacts):
    scenario = write_scenario(
        tmp_path,
        targets=[
            {"id": "walker", "class": "person", "posture": "standing",
             "lat": PERSON[0], "lon": PERSON[1]},
        ],
        area=[list(p) for p in AREA],
    )  # fmt: skip
    dispatch = tmp_path / "dispatch.yaml"
    dispatch.write_text(yaml.safe_dump({"dispatch": {"mqtt": {"url": broker.url}}}))
    server = serve(
        "--operation", "webtest", "--sim", "1", "--scenario", str(scenario),
        "--speedup", "5", "--dispatch-config", str(dispatch),
    )  # fmt: skip
    ctx = chromium.new_context(viewport={"width": 1400, "height": 900})
    page = ctx.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.goto(server.url)
    page.wait_for_function("window.gc && gc.readyAt !== null")
    page.fill("#who", "tester")
    page.dispatch_event("#who", "change")
    page.evaluate("gc.map.fitBounds([[47.39690, 8.54520], [47.39765, 8.54720]])")
    page.wait_for_timeout(300)

    # 1. Draw the area and a no-fly hole inside it, by mouse.
    draw_polygon(page, "#draw-area", AREA)
    draw_polygon(page, "#draw-hole", HOLE)
    assert page.evaluate("gc.editor.layers('area').length") == 1
    assert page.evaluate("gc.editor.layers('nofly').length") == 1
    page.screenshot(path=artifacts / "01-drawn.png")

    # 2. Plan it: segments and lanes on the map, the summary beside.
    page.fill("input[name=alt_m]", "40")
    page.fill("input[name=turn_margin_m]", "20")
    page.fill("input[name=hole_margin_m]", "6")
    page.click("#plan-btn")
    page.wait_for_selector("#segments tbody tr", timeout=60_000)
    plan = page.evaluate("gc.plan.plan")
    assert len(plan["holes"]) == 1 and len(plan["segments"]) == 1
    assert page.locator("path.lane").count() >= 2
    assert page.locator("path.segment").count() >= 1
    page.screenshot(path=artifacts / "02-planned.png")

    # 3. Fly it with the simulated drone: the marker moves, the swept ground grows.
    page.click("#tabs button[data-tab=fleet]")
    page.wait_for_function("!document.getElementById('fly-btn').disabled")
    page.click("#fly-btn")
    page.wait_for_function(
        "gc.fleet.drones.size >= 1 && [...gc.fleet.drones.values()].some(d => d.state.in_air)",
        timeout=90_000,
    )
    first = drone_positions(page)
    page.wait_for_function("gc.fleet.sweptPct > 0", timeout=90_000)
    moved = drone_positions(page)
    sysid = next(iter(first))
    assert abs(moved[sysid][0] - first[sysid][0]) + abs(moved[sysid][1] - first[sysid][1]) > 1e-4
    swept_then = page.evaluate("gc.fleet.sweptPct")
    page.screenshot(path=artifacts / "03-flying.png")

    # 4. The person appears as a hit, with its thermal chip.
    page.wait_for_function(
        "[...gc.hits.hits.values()].some(e => e.hit.target_class === 'person' && e.hit.has_chip)",
        timeout=120_000,
    )
    hit_id = page.evaluate(
        "[...gc.hits.hits.values()].find(e => e.hit.target_class === 'person').hit.id"
    )
    page.click("#tabs button[data-tab=hits]")
    page.click(f"#hits tr[data-id='{hit_id}']")
    page.wait_for_function(
        "(() => { const i = document.querySelector('.hit-popup img.chip'); return i && i.complete && i.naturalWidth > 0; })()"
    )
    page.screenshot(path=artifacts / "04-hit.png")

    # 5. Confirm it: stored with the coordinator's identity, at the broker, on the page.
    page.click(".hit-popup button[data-ack=confirm]")
    page.wait_for_function(
        f"gc.hits.hits.get('{hit_id}').hit.status === 'team_dispatched'", timeout=20_000
    )
    with Store.open(server.db) as store:
        acks = [a for a in store.acks(hit_id) if a.status == "team_dispatched"]
    assert acks and acks[0].by == "web:tester" and acks[0].source == "web:loopback"
    # Playwright's sync API holds this thread's event loop: ask the broker from another one.
    with ThreadPoolExecutor(1) as pool:
        topic = f"groundctl/webtest/hits/{hit_id}/ack"
        sent = pool.submit(asyncio.run, retained_ack(broker.url, topic)).result()
    assert sent is not None and sent["status"] == "team_dispatched" and sent["by"] == "web:tester"
    assert sent["ack_id"] == acks[0].ack_id
    assert page.evaluate("gc.fleet.sweptPct") >= swept_then
    # The person is a confirmed find: a drone keeps them in view, and the page says which.
    page.wait_for_function(f"gc.hits.overwatch['{hit_id}'] !== undefined", timeout=60_000)
    assert "watched by sim1" in page.inner_text(f"#hits tr[data-id='{hit_id}']")
    page.screenshot(path=artifacts / "05-confirmed.png")

    # A ground team's phone shares its location; the map guides the team to the find.
    phone_at = (47.39690, 8.54540)
    phone = chromium.new_context(
        geolocation={"latitude": phone_at[0], "longitude": phone_at[1], "accuracy": 8},
        permissions=["geolocation"],
    ).new_page()
    phone.goto(server.base + "team")
    phone.fill("#team-name", "Bravo")
    phone.click("#share")
    phone.wait_for_selector("#team-legs td:has-text('m')")
    page.click("#tabs button[data-tab=teams]")
    page.wait_for_selector(".team[data-team='Bravo'] li.leg", timeout=20_000)
    leg, hit = page.evaluate(
        f"[gc.lastTeams.find(t => t.team === 'Bravo').to[0], gc.hits.hits.get('{hit_id}').hit]"
    )
    az, _, dist = Geod(ellps="WGS84").inv(phone_at[1], phone_at[0], hit["lon"], hit["lat"])
    assert leg["hit_id"] == hit_id  # (the hit's position may be refined in between: ±3 m)
    assert abs(leg["distance_m"] - dist) < 3.0 and abs(leg["bearing_deg"] - az % 360) < 3.0
    assert f"bearing {round(leg['bearing_deg'])}°" in page.inner_text(".team[data-team='Bravo']")
    phone.screenshot(path=artifacts / "05b-team-phone.png")
    phone.context.close()

    # 6. A second browser sees the same operation, from the database.
    other = chromium.new_context(viewport={"width": 1400, "height": 900}).new_page()
    other.goto(server.url)
    other.wait_for_function("window.gc && gc.readyAt !== null")
    other.wait_for_function(
        f"gc.hits.hits.has('{hit_id}') && gc.hits.hits.get('{hit_id}').hit.status === 'team_dispatched'"
    )
    assert other.evaluate("gc.hits.hits.size") == page.evaluate("gc.hits.hits.size")
    assert other.evaluate("gc.fleet.drones.size") >= 1
    assert other.evaluate("gc.plan.plan.id") == plan["id"]
    other.wait_for_function("gc.fleet.sweptPct > 0")
    other.click("#tabs button[data-tab=hits]")
    assert "confirmed" in other.inner_text(f"#hits tr[data-id='{hit_id}']")
    other.screenshot(path=artifacts / "06-second-browser.png")

    # 7. The live thermal view of the drone: annotated frames arrive.
    page.click("#tabs button[data-tab=fleet]")
    page.click("#vehicles button.watch")
    page.wait_for_function("gc.thermal.frames >= 3", timeout=60_000)
    assert page.evaluate("document.getElementById('thermal-img').naturalWidth") == 640
    page.screenshot(path=artifacts / "07-thermal.png")

    page.click("#stop-btn")
    page.wait_for_function(
        "gc.fleet.flight && ['stopped', 'complete'].includes(gc.fleet.flight.status)",
        timeout=60_000,
    )
    assert not errors, errors
