"""MQTT connections shared by the station's sink and the command centre's listener: one
place that builds an aiomqtt client from `MqttConfig` and turns connection failures into
errors a user can act on (`DispatchError`) or transient ones (`SinkDown`, retried)."""

from __future__ import annotations

import asyncio
import contextlib
import ssl

import aiomqtt

from groundctl.dispatch.config import MqttConfig
from groundctl.dispatch.cot import tls_context
from groundctl.dispatch.outbox import SinkDown
from groundctl.errors import DispatchError

_AUTH_CODES = {
    4,
    5,
    134,
    135,
}  # MQTT 3.1.1 and MQTT 5 "bad user name or password" / "not authorised"


def _rc_value(exc: aiomqtt.MqttCodeError) -> int:
    rc = exc.rc
    return int(getattr(rc, "value", rc) or 0)


def client_for(
    cfg: MqttConfig,
    *,
    client_id: str | None,
    clean_session: bool,
    will: aiomqtt.Will | None = None,
    timeout_s: float = 15.0,
) -> aiomqtt.Client:
    ctx: ssl.SSLContext | None = None
    if cfg.tls:
        ctx = tls_context(cfg.ca_file, cfg.cert_file, cfg.key_file, cfg.tls_insecure)
    client = aiomqtt.Client(
        cfg.host,
        cfg.port,
        username=cfg.username,
        password=cfg.resolved_password(),
        identifier=client_id,
        clean_session=clean_session,
        will=will,
        keepalive=cfg.keepalive_s,
        timeout=timeout_s,
        tls_context=ctx,
        tls_insecure=cfg.tls_insecure if ctx is not None else None,
        max_inflight_messages=50,
    )
    # A full outbox batch is in flight at once by design; aiomqtt would warn past 10.
    client.pending_calls_threshold = 1000
    return client


async def connect(client: aiomqtt.Client, cfg: MqttConfig) -> None:
    """Enter the client's context, turning refusals a user must fix into DispatchError and
    transient ones (broker down, network) into SinkDown."""
    try:
        await client.__aenter__()
    except aiomqtt.MqttCodeError as exc:
        if _rc_value(exc) in _AUTH_CODES:
            who = f"user '{cfg.username}'" if cfg.username else "an anonymous client"
            raise DispatchError(
                f"MQTT broker {cfg.url} refused the login of {who}: bad user name or password "
                f"or not authorised ({exc}); check dispatch.mqtt username / password"
            ) from None
        raise SinkDown(f"MQTT broker {cfg.url} refused the connection: {exc}") from None
    except aiomqtt.MqttError as exc:
        text = str(exc)
        if "CERTIFICATE_VERIFY_FAILED" in text or "certificate verify failed" in text:
            raise DispatchError(
                f"MQTT broker {cfg.url}: its TLS certificate is not trusted ({text}); check "
                "dispatch.mqtt ca_file (or tls_insecure for a host name mismatch)"
            ) from None
        raise SinkDown(f"MQTT broker {cfg.url} unreachable: {text}") from None


async def disconnect(client: aiomqtt.Client) -> None:
    with contextlib.suppress(Exception):
        await asyncio.wait_for(client.__aexit__(None, None, None), timeout=5)
    # aiomqtt keeps the reason of an unexpected disconnection in a future nobody reads
    # after the context is left; read it so asyncio does not log it as lost.
    fut = getattr(client, "_disconnected", None)
    if isinstance(fut, asyncio.Future) and fut.done() and not fut.cancelled():
        fut.exception()
