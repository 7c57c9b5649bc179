"""Generated garbage thrown at everything that reads or builds a dispatch message (#18).

Each parser must return a clean value or raise `DispatchError` (which the caller logs and
drops); nothing else may escape. What they return must hold its promises: identifiers that
are safe as file names, finite coordinates in range, signatures that only a key-holder makes.
"""

from __future__ import annotations

import contextlib
import json
import math
import os
import xml.etree.ElementTree as ET

import aiomqtt
from fuzzkit import HOSTILE_NUMBER, HOSTILE_STRINGS, HOSTILE_TEXT, JSON, budget, hostile_doc
from hypothesis import assume, given
from hypothesis import strategies as st
from rich.console import Console

from groundctl.cli.dispatch import parse_ack_option, parse_status_word
from groundctl.cli.dispatch_view import ListenView, save_chip
from groundctl.dispatch.acksig import sign, verify
from groundctl.dispatch.config import MqttConfig, dispatch_config
from groundctl.dispatch.cot import hit_event, vehicle_event
from groundctl.dispatch.ids import IDENTIFIER, confined
from groundctl.dispatch.inbound import parse_ack, parse_hit
from groundctl.dispatch.listener import MqttListener
from groundctl.dispatch.messages import Topics, dumps, hit_feature, hit_payload
from groundctl.errors import DispatchError, GroundctlError
from groundctl.store import Store, StoreError
from thermal.hit import Hit

ACK_KEYS = ["ack_id", "hit_id", "status", "ts", "message_id", "by", "note", "key", "sig"]
HIT_KEYS = [
    "id", "operation", "revision", "message_id", "class", "confidence", "lat", "lon",
    "uncertainty_m", "time", "vehicle", "chip_png_base64", "chip_url",
]  # fmt: skip
KEY = b"k" * 40
PAYLOAD = st.one_of(
    st.binary(max_size=200),
    JSON.map(lambda v: json.dumps(v).encode()),
    hostile_doc(ACK_KEYS).map(lambda d: json.dumps(d).encode()),
    hostile_doc(HIT_KEYS).map(lambda d: json.dumps(d).encode()),
)
TOPIC = st.one_of(
    st.text(max_size=60),
    st.lists(HOSTILE_TEXT | st.text(max_size=8), min_size=1, max_size=6).map("/".join),
    st.tuples(HOSTILE_TEXT, HOSTILE_TEXT).map(lambda p: f"groundctl/{p[0]}/hits/{p[1]}"),
    st.tuples(HOSTILE_TEXT, HOSTILE_TEXT).map(lambda p: f"groundctl/{p[0]}/hits/{p[1]}/ack"),
)


@budget(300)
@given(payload=PAYLOAD, topic_hit=st.none() | HOSTILE_TEXT, operation=st.none() | HOSTILE_TEXT)
def test_parse_ack_returns_a_clean_ack_or_says_why(payload, topic_hit, operation):
    try:
        ack = parse_ack(
            payload, "t", operation=operation, keys={"desk-1": KEY}, topic_hit=topic_hit
        )
    except DispatchError:
        return
    assert IDENTIFIER.fullmatch(ack.hit_id)
    assert math.isfinite(ack.ts)
    # authorised only if desk-1's key really signed exactly this for this operation
    assert ack.authorised == (
        verify(json.loads(payload), operation or "", {"desk-1": KEY}) == "desk-1"
    )
    assert not ack.authorised  # nobody here had the key


@budget(100)
@given(doc=hostile_doc(ACK_KEYS[:7]), operation=HOSTILE_TEXT, other=HOSTILE_TEXT)
def test_a_signature_holds_only_for_its_own_fields(doc, operation, other):
    signed = sign(doc, operation, "desk-1", KEY)
    try:
        json.dumps(signed, allow_nan=True)
    except (TypeError, ValueError):
        return
    assert verify(signed, operation, {"desk-1": KEY}) == "desk-1"
    assert verify(signed, operation, {"desk-1": b"x" * 40}) is None
    if other != operation:
        assert verify(signed, other, {"desk-1": KEY}) is None
    for field in ("hit_id", "status", "ack_id"):
        tampered = {**signed, field: f"{signed.get(field)}-x"}
        assert verify(tampered, operation, {"desk-1": KEY}) is None


@budget(300)
@given(doc=hostile_doc(HIT_KEYS), topic_operation=HOSTILE_TEXT | st.text(max_size=10))
def test_parse_hit_returns_safe_fields_or_says_why(doc, topic_operation):
    try:
        hit = parse_hit(doc, topic_operation)
    except DispatchError:
        return
    assert IDENTIFIER.fullmatch(hit["id"]) and IDENTIFIER.fullmatch(hit["operation"])
    assert -90 <= hit["lat"] <= 90 and -180 <= hit["lon"] <= 180
    assert 0 <= hit["confidence"] <= 1 and math.isfinite(hit["uncertainty_m"])
    assert isinstance(hit["revision"], int) and hit["revision"] >= 0


@budget(300)
@given(topic=TOPIC, payload=PAYLOAD, retain=st.booleans())
def test_listener_turns_any_message_into_an_event_or_drops_it(topic, payload, retain):
    assume(topic and "+" not in topic and "#" not in topic)  # a broker delivers no other
    listener = MqttListener(MqttConfig(url="mqtt://127.0.0.1:1"), auto_receipt=False)
    message = aiomqtt.Message(topic, payload, 1, retain, 1, None)
    event = listener._checked_event(message)
    if event is not None and event.kind == "hit":
        assert IDENTIFIER.fullmatch(event.payload["id"])


@budget(200)
@given(topic=TOPIC, prefix=st.sampled_from(["groundctl", "a/b", "x"]))
def test_topic_kinds_never_fail(topic, prefix):
    kind, operation = Topics(prefix, "+").kind_of(topic)
    assert kind in {"hit", "ack", "vehicle", "progress", "status", "unknown"}
    assert isinstance(operation, str)


@budget(150)
@given(doc=hostile_doc(HIT_KEYS), chip=st.binary(max_size=64) | st.just(b"\x89PNG\r\n\x1a\nxx"))
def test_listen_view_shows_any_checked_hit_and_writes_only_under_its_folder(
    tmp_path_factory, doc, chip
):
    import base64

    root = tmp_path_factory.mktemp("view")
    chips = root / "chips"
    chips.mkdir()
    doc = {**doc, "chip_png_base64": base64.b64encode(chip).decode()}
    try:
        hit = parse_hit(doc, "ridge")
    except DispatchError:
        return
    con = Console(file=open(os.devnull, "w"), width=80, force_terminal=True)  # noqa: SIM115
    from groundctl.dispatch.listener import ListenerEvent

    for terminal in (True, False):
        ListenView(con, chips, terminal=terminal).hit(ListenerEvent("hit", "ridge", "t", hit), None)
    written = [p for p in root.rglob("*") if p.is_file()]
    assert all(p.resolve().is_relative_to(chips.resolve()) for p in written)
    with_chip = {**hit, "chip_png_base64": base64.b64encode(chip).decode()}
    with contextlib.suppress(DispatchError):
        save_chip(with_chip, chips)


@budget(200)
@given(parts=st.lists(HOSTILE_TEXT | st.text(max_size=12), min_size=1, max_size=3))
def test_confined_paths_never_leave_their_root(tmp_path_factory, parts):
    root = tmp_path_factory.mktemp("root")
    try:
        path = confined(root, *parts)
    except (DispatchError, ValueError, OSError):
        return
    assert path.is_relative_to(root.resolve()) and path != root.resolve()


def hostile_hit() -> st.SearchStrategy[Hit]:
    """A hit as a buggy or hostile pipeline might hand it over."""
    number = HOSTILE_NUMBER.map(float)
    return st.builds(
        Hit,
        id=HOSTILE_TEXT | st.text(max_size=20),
        target_class=HOSTILE_TEXT,
        confidence=number,
        lat=number | st.floats(-90, 90),
        lon=number | st.floats(-180, 180),
        uncertainty_m=number,
        first_seen=number | st.floats(0, 2e9),
        last_seen=number | st.floats(0, 2e9),
        sightings=st.just(()),
        vehicle_ids=st.lists(st.integers(-1, 300), max_size=3).map(tuple),
        chip_png=st.none() | st.binary(max_size=32),
        temp_c=st.none() | number,
    )


@budget(200)
@given(hit=hostile_hit(), operation=HOSTILE_TEXT)
def test_outgoing_hit_messages_are_strict_json_and_well_formed_cot(
    tmp_path_factory, hit, operation
):
    """The store refuses a hit no receiver could take; what it keeps goes out as strict JSON
    (no NaN) and well-formed CoT XML, whatever the operation is called."""
    with Store.open(tmp_path_factory.mktemp("op") / "op.sqlite", operation="ridge") as store:
        try:
            store.upsert_hit(hit)
        except StoreError:
            return
        stored = store.hit(hit.id)
    assert stored is not None
    json.loads(dumps(hit_payload(stored, operation)))
    json.dumps(hit_feature(stored, operation), allow_nan=False)
    ET.fromstring(hit_event(stored, operation, 1.7e9, 60.0))


@budget(100)
@given(lat=HOSTILE_NUMBER, lon=HOSTILE_NUMBER, sysid=st.integers(-5, 300), op=HOSTILE_TEXT)
def test_outgoing_positions_are_well_formed_cot(lat, lon, sysid, op):
    with contextlib.suppress(DispatchError):
        ET.fromstring(vehicle_event(op, sysid, float(lat), float(lon), 1.7e9, 30.0))


@budget(200)
@given(text=st.text(max_size=60) | HOSTILE_TEXT)
def test_cli_answer_parsers(text):
    for parser in (parse_ack_option, parse_status_word):
        with contextlib.suppress(DispatchError):
            parser(text)


@budget(150)
@given(doc=JSON | hostile_doc(["mqtt", "cot", "geojson_file", "webhooks", "ack_keys", "prefix"]))
def test_dispatch_config_validates_anything(doc):
    with contextlib.suppress(GroundctlError):
        dispatch_config(doc, "fuzz.yaml")


def test_the_hostile_values_include_what_the_issue_reported():
    """The examples of #18 item 2 are among the generated values, by construction."""
    assert {"../../x", "/tmp/pwn"} <= set(HOSTILE_STRINGS)
