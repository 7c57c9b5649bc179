"""Who may acknowledge a hit: acknowledgements signed with a desk's key (HMAC-SHA256).

MQTT does not tell a subscriber who published a message (the broker knows the user name,
the ground station does not), so anyone allowed to publish on the broker could answer
"false alarm" for a person being watched. An acknowledgement therefore carries the name of
its author's key and an HMAC-SHA256 over its fields and the operation:

    {"ack_id": ..., "hit_id": ..., "status": "false_alarm", ..., "key": "desk-1",
     "sig": "hmac-sha256:5c1f..."}

The ground station lists the keys it trusts under `dispatch.ack_keys` (name -> key file);
an ack whose signature checks out against one of them is stored as authorised with
identity `key:<name>`, anything else as unauthorised (identity `""`): it is kept and shown,
never acted upon. A key file holds one line of at least 32 random characters;
`groundctl dispatch keygen FILE` writes one. The ack id is in the signed fields and the
store keeps the first ack of an id, so replaying a signed ack changes nothing, and one
signed for another hit, status or operation does not verify.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import os
import secrets
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from groundctl.errors import ConfigError

SIG_SCHEME = "hmac-sha256:"
MIN_KEY_CHARS = 32
SIGNED_FIELDS = ("ack_id", "hit_id", "message_id", "status", "by", "note", "ts")


def load_key(path: Path, source: str = "ack key") -> bytes:
    """The secret in a key file (its first line, stripped); ConfigError if unusable."""
    try:
        text = Path(path).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(source, str(path), f"cannot read the key file: {exc}") from None
    secret = (text.strip().splitlines() or [""])[0].strip()
    if len(secret) < MIN_KEY_CHARS:
        raise ConfigError(
            source,
            str(path),
            f"a key needs at least {MIN_KEY_CHARS} characters (got {len(secret)}); "
            "make one with `groundctl dispatch keygen FILE`",
        )
    return secret.encode("utf-8")


def load_keys(files: Mapping[str, Path], source: str = "dispatch.ack_keys") -> dict[str, bytes]:
    return {name: load_key(path, f"{source}.{name}") for name, path in files.items()}


def signer(cfg: Any) -> tuple[str, bytes] | None:
    """(desk, key) a process signs its own acknowledgements with, from a `DispatchConfig`'s
    `sign_acks_as` (None when it has none): pass it to `MqttListener(key=...)`."""
    own = getattr(cfg, "sign_acks_as", None)
    if own is None:
        return None
    return own.desk, load_key(own.key_file, "dispatch.sign_acks_as")


def new_key_file(path: Path) -> None:
    """Write a fresh random key (64 hex characters) readable by its owner only; an existing
    file is never overwritten (it may be the key every desk already has)."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as fh:
        fh.write(secrets.token_hex(32) + "\n")


def signed_bytes(doc: Mapping[str, Any], operation: str) -> bytes:
    """The exact bytes a signature covers: the signed fields and the operation, as canonical
    JSON (sorted keys, no spaces)."""
    content = {k: doc.get(k) for k in SIGNED_FIELDS}
    content["operation"] = operation
    content["key"] = doc.get("key")
    return json.dumps(content, sort_keys=True, separators=(",", ":"), ensure_ascii=True).encode()


def sign(doc: Mapping[str, Any], operation: str, key_name: str, key: bytes) -> dict[str, Any]:
    """`doc` with `key` and `sig` added."""
    out = {**doc, "key": key_name}
    digest = hmac.new(key, signed_bytes(out, operation), hashlib.sha256).hexdigest()
    out["sig"] = SIG_SCHEME + digest
    return out


def verify(doc: Mapping[str, Any], operation: str, keys: Mapping[str, bytes]) -> str | None:
    """The name of the trusted key that signed `doc` for `operation`, or None (unsigned,
    unknown key, or a signature that does not match)."""
    name, sig = doc.get("key"), doc.get("sig")
    if not isinstance(name, str) or not isinstance(sig, str) or not sig.startswith(SIG_SCHEME):
        return None
    key = keys.get(name)
    if key is None:
        return None
    expected = hmac.new(key, signed_bytes(doc, operation), hashlib.sha256).hexdigest()
    return name if hmac.compare_digest(expected, sig[len(SIG_SCHEME) :]) else None
