"""The `dispatch:` section of an operation / fleet YAML file.

    dispatch:
      prefix: groundctl                # MQTT topic prefix
      retry: {initial_s: 1, max_s: 60} # backoff of every sink, doubled per failure, capped
      mqtt:
        url: mqtts://broker.example.org:8883
        username: station-3
        password_env: GROUNDCTL_MQTT_PASSWORD   # or password: ... (not recommended)
        ca_file: /etc/groundctl/ca.pem          # client cert optional: cert_file, key_file
        reannounce_s: 300                       # re-send hits nobody acknowledged
      cot:
        - url: udp://239.2.3.1:6969             # TAK SA multicast
        - url: tls://takserver.example.org:8089
          ca_file: ca.pem
          cert_file: station.pem
          key_file: station.key
      geojson_file: out/hits.geojson
      webhooks:
        - url: https://cad.example.org/hooks/groundctl
          headers: {Authorization: "Bearer ..."}
      ack_keys:                                 # desks whose acks may end an overwatch
        desk-1: /etc/groundctl/ack-keys/desk-1.key   # (see groundctl.dispatch.acksig)
      sign_acks_as: {desk: web-1, key_file: web-1.key}  # this process's own answers

Without a `dispatch:` section the store (and the web map / terminal) is all there is.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Literal
from urllib.parse import urlsplit

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from groundctl import config as gconfig
from groundctl.dispatch.ids import IDENTIFIER_HELP, is_identifier
from groundctl.errors import ConfigError


def check_output_file(path: Path) -> None:
    """A file sinks may write: not a folder, in a folder that exists or can be made."""
    try:
        if path.is_dir():
            raise ValueError(f"{path} is a folder; give a file name, e.g. {path / 'hits.geojson'}")
        parent = path.parent
        while not parent.exists() and parent != parent.parent:
            parent = parent.parent
        if not parent.is_dir():
            raise ValueError(f"{path}: {parent} is not a folder")
    except OSError as exc:  # a name too long, a loop of links
        raise ValueError(f"{path}: {exc.strerror or exc}") from None


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


def _check_url(url: str, schemes: tuple[str, ...], example: str) -> str:
    parts = urlsplit(url)
    if parts.scheme not in schemes:
        raise ValueError(
            f"scheme must be one of {', '.join(s + '://' for s in schemes)} (got {url!r}; "
            f"e.g. {example})"
        )
    if not parts.hostname:
        raise ValueError(f"no host in {url!r} (e.g. {example})")
    try:
        parts.port  # noqa: B018 - raises on a malformed port
    except ValueError:
        raise ValueError(f"bad port in {url!r}") from None
    return url


class RetryConfig(_Strict):
    initial_s: float = Field(default=1.0, gt=0, le=600)
    max_s: float = Field(default=60.0, gt=0, le=3600)
    factor: float = Field(default=2.0, ge=1.0, le=10.0)

    def delay_s(self, attempt: int) -> float:
        """Backoff before retry number `attempt` (0-based), capped at `max_s`."""
        return min(self.max_s, self.initial_s * self.factor ** min(attempt, 60))


class MqttConfig(_Strict):
    url: str
    username: str | None = None
    password: str | None = None
    password_env: str | None = None  # name of an environment variable holding the password
    ca_file: Path | None = None
    cert_file: Path | None = None
    key_file: Path | None = None
    tls_insecure: bool = False  # skip the host name check (self-signed field brokers)
    client_id: str | None = None
    keepalive_s: int = Field(default=30, ge=5, le=3600)
    state_interval_s: float = Field(default=1.0, ge=0.0, le=3600)
    reannounce_s: float = Field(default=300.0, ge=0.0)  # 0: never re-send unacknowledged hits
    chip: Literal["base64", "url", "none"] = "base64"
    chip_url: str | None = None  # with chip: url, e.g. http://station:8080/chips/{hit_id}.png

    @field_validator("url")
    @classmethod
    def _url(cls, v: str) -> str:
        return _check_url(v, ("mqtt", "mqtts", "tcp", "ssl"), "mqtt://127.0.0.1:1883")

    @model_validator(mode="after")
    def _consistent(self) -> MqttConfig:
        if self.chip == "url" and not self.chip_url:
            raise ValueError(
                "chip: url needs chip_url, e.g. http://station:8080/chips/{hit_id}.png"
            )
        if (self.cert_file is None) != (self.key_file is None):
            raise ValueError("a client certificate needs both cert_file and key_file")
        if self.password is not None and self.password_env is not None:
            raise ValueError("give password or password_env, not both")
        return self

    @property
    def tls(self) -> bool:
        return urlsplit(self.url).scheme in ("mqtts", "ssl") or self.ca_file is not None

    @property
    def host(self) -> str:
        return urlsplit(self.url).hostname or ""

    @property
    def port(self) -> int:
        return urlsplit(self.url).port or (8883 if self.tls else 1883)

    def resolved_password(self) -> str | None:
        if self.password_env is None:
            return self.password
        value = os.environ.get(self.password_env)
        if value is None:
            raise ConfigError(
                "dispatch.mqtt",
                "password_env",
                f"environment variable {self.password_env} is not set",
            )
        return value


class CotConfig(_Strict):
    url: str  # udp://239.2.3.1:6969 (multicast or unicast), tcp://host:8087, tls://host:8089
    name: str | None = None
    interface: str | None = None  # local address to send multicast from
    ttl: int = Field(default=1, ge=1, le=255)
    ca_file: Path | None = None
    cert_file: Path | None = None
    key_file: Path | None = None
    tls_insecure: bool = False
    hit_stale_s: float = Field(default=3600.0, gt=0)
    vehicle_stale_s: float = Field(default=30.0, gt=0)
    vehicle_interval_s: float = Field(default=2.0, ge=0)
    # Re-send every hit this often (TAK replaces the marker by uid): keeps markers fresh and
    # repairs lost datagrams or writes lost with a dying TCP connection. 0: never.
    refresh_s: float = Field(default=120.0, ge=0)

    @field_validator("url")
    @classmethod
    def _url(cls, v: str) -> str:
        return _check_url(v, ("udp", "tcp", "tls", "ssl"), "udp://239.2.3.1:6969")

    @property
    def sink_name(self) -> str:
        return self.name or f"cot:{self.url}"


class WebhookConfig(_Strict):
    url: str
    name: str | None = None
    headers: dict[str, str] = Field(default_factory=dict)
    timeout_s: float = Field(default=10.0, gt=0, le=300)
    ca_file: Path | None = None

    @field_validator("url")
    @classmethod
    def _url(cls, v: str) -> str:
        return _check_url(v, ("http", "https"), "https://cad.example.org/hooks/groundctl")

    @property
    def sink_name(self) -> str:
        return self.name or f"webhook:{self.url}"


class AckSigner(_Strict):
    """This process's own desk key: acknowledgements it publishes are signed with it."""

    desk: str
    key_file: Path

    @field_validator("desk")
    @classmethod
    def _desk(cls, v: str) -> str:
        if not is_identifier(v):
            raise ValueError(f"desk name {v!r} is not an identifier ({IDENTIFIER_HELP})")
        return v


class DispatchConfig(_Strict):
    prefix: str = "groundctl"
    station: str | None = None  # this ground station's name in status messages
    retry: RetryConfig = RetryConfig()
    mqtt: MqttConfig | None = None
    cot: list[CotConfig] = Field(default_factory=list)
    geojson_file: Path | None = None
    webhooks: list[WebhookConfig] = Field(default_factory=list)
    # Desk name -> key file: acknowledgements signed with one of these keys are authorised
    # (may end an overwatch); every other acknowledgement is kept but not acted upon.
    ack_keys: dict[str, Path] = Field(default_factory=dict)
    # Sign the acknowledgements this process publishes (a web map, a console) as this desk.
    sign_acks_as: AckSigner | None = None

    @field_validator("ack_keys")
    @classmethod
    def _ack_keys(cls, v: dict[str, Path]) -> dict[str, Path]:
        for name in v:
            if not is_identifier(name):
                raise ValueError(f"desk name {name!r} is not an identifier ({IDENTIFIER_HELP})")
        return v

    @field_validator("geojson_file")
    @classmethod
    def _geojson_file(cls, v: Path | None) -> Path | None:
        if v is not None:
            check_output_file(v)
        return v

    @field_validator("prefix")
    @classmethod
    def _prefix(cls, v: str) -> str:
        v = v.strip("/")
        if not v or any(c in v for c in "+#\0"):
            raise ValueError("prefix must be a non-empty MQTT topic without + or #")
        return v

    @model_validator(mode="after")
    def _unique_names(self) -> DispatchConfig:
        names = [c.sink_name for c in self.cot] + [w.sink_name for w in self.webhooks]
        dupes = {n for n in names if names.count(n) > 1}
        if dupes:
            raise ValueError(f"two sinks share the name {sorted(dupes)[0]!r}; give each a name")
        return self


def dispatch_config(data: Any, source: str, key: str = "dispatch") -> DispatchConfig:
    """Validate a `dispatch:` mapping; errors name `source` and the key."""
    if data is None:
        return DispatchConfig()
    if isinstance(data, Mapping):
        # Validate each sub-section against its own model, so that an unknown key is
        # reported with the keys that section does know.
        data = dict(data)
        sections = (("mqtt", MqttConfig), ("retry", RetryConfig), ("sign_acks_as", AckSigner))
        for name, model in sections:
            if isinstance(data.get(name), Mapping):
                data[name] = gconfig.validate(model, data[name], source, f"{key}.{name}")
        for name, model in (("cot", CotConfig), ("webhooks", WebhookConfig)):
            if isinstance(data.get(name), list):
                data[name] = [
                    gconfig.validate(model, item, source, f"{key}.{name}.{i}")
                    for i, item in enumerate(data[name])
                ]
    return gconfig.validate(DispatchConfig, data, source, key)


def load_dispatch_config(path: Path) -> DispatchConfig:
    """The `dispatch:` section of an operation / fleet YAML file (empty config if absent)."""
    doc = gconfig.read_yaml(path)
    if doc is None:
        return DispatchConfig()
    if not isinstance(doc, dict):
        raise ConfigError(str(path), None, "expected a mapping with a dispatch: section")
    return dispatch_config(doc.get("dispatch"), str(path))
