"""Dispatch: hits, drone positions and progress to the command centre, nothing lost.

A hit goes to the operation database first (`groundctl.store`), with one outbox row per
sink, in one transaction; each sink then sends from its outbox, retries with a capped
exponential backoff until the receiver acknowledges (MQTT PUBACK, HTTP 2xx, a TCP write),
and resumes after a restart of the ground station. Messages carry `message_id =
<hit id>:<revision>`, so receivers drop repeats but take updates.

Sinks (configured in the `dispatch:` section of the operation / fleet YAML, see
`groundctl.dispatch.config`): MQTT (`mqtt.MqttSink`), Cursor-on-Target for TAK
(`sinks.CotSink`), a GeoJSON file and HTTP webhooks. The command centre's side is
`listener.MqttListener` (used by `groundctl dispatch listen`).

Whatever arrives from the network is hostile until `inbound` has checked it; identifiers
follow `ids.IDENTIFIER` and paths built from them stay under their folder (`ids.confined`).
An acknowledgement steers the fleet only when signed with a desk key the station lists
under `ack_keys` (`acksig`); every other one is stored as unauthorised. What a run could not
deliver: `Dispatcher.undelivered()`, sent later by `Dispatcher.flush_command()`
(`groundctl dispatch flush --db FILE`).
"""

from groundctl.dispatch.config import (
    CotConfig,
    DispatchConfig,
    MqttConfig,
    RetryConfig,
    WebhookConfig,
    dispatch_config,
    load_dispatch_config,
)
from groundctl.dispatch.dispatcher import Dispatcher
from groundctl.dispatch.listener import BrokerUnreachable, ListenerEvent, MqttListener
from groundctl.dispatch.messages import Topics
from groundctl.dispatch.mqtt import MqttSink

__all__ = [
    "BrokerUnreachable",
    "CotConfig",
    "DispatchConfig",
    "Dispatcher",
    "ListenerEvent",
    "MqttConfig",
    "MqttListener",
    "MqttSink",
    "RetryConfig",
    "Topics",
    "WebhookConfig",
    "dispatch_config",
    "load_dispatch_config",
]
