"""`groundctl dispatch`: the command centre's view of hits, and its answers to them.

    groundctl dispatch listen --mqtt mqtts://broker:8883 --operation ridge \\
        --username centre --ca-file ca.pem --operator desk-1 --ack-key desk-1.key

prints every hit as it arrives (once per revision; repeats are dropped by message id),
saves its thermal chip under `--chips` and links to it, shows acknowledgements from every
desk, and reads answers from the keyboard: `<row or hit id> <received|dispatched|found|false>
[note]`. `--ack HIT=STATUS[:note]` sends answers without listening (for scripts). With
`--ack-key`, answers are signed, so a ground station that lists this desk's key under
`dispatch.ack_keys` acts on them (a "found" or "false alarm" ends an overwatch).

Everything in a received message is checked (`groundctl.dispatch.inbound`) before it is
shown or used: a chip is written only as `<chips>/<operation>/<hit id>-r<revision>.png`
with both names strict identifiers, and never outside `--chips`.
`groundctl dispatch flush` and `keygen` live in `dispatch_flush.py`.
"""

from __future__ import annotations

import asyncio
import getpass
import os
import socket
import sys
import threading
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.text import Text

from groundctl.cli import app
from groundctl.cli.context import cli_context
from groundctl.cli.dispatch_view import ListenView
from groundctl.cli.output import check_output_path, safe_text
from groundctl.config import read_user_file, validate
from groundctl.dispatch.acksig import load_key, load_keys, signer
from groundctl.dispatch.aio import cancel_and_wait
from groundctl.dispatch.config import DispatchConfig, MqttConfig, dispatch_config
from groundctl.dispatch.ids import check_identifier
from groundctl.dispatch.listener import BrokerUnreachable, MqttListener
from groundctl.errors import ConfigError, DispatchError
from groundctl.store import ACK_STATUSES

dispatch_app = typer.Typer(help="Hits to the command centre: listen, acknowledge, resend.")
app.add_typer(dispatch_app, name="dispatch")

STATUS_ALIASES = {
    "r": "received",
    "received": "received",
    "d": "team_dispatched",
    "dispatched": "team_dispatched",
    "team_dispatched": "team_dispatched",
    "team": "team_dispatched",
    "f": "found",
    "found": "found",
    "x": "false_alarm",
    "false": "false_alarm",
    "false_alarm": "false_alarm",
}


def parse_status_word(text: str) -> str:
    status = STATUS_ALIASES.get(text.strip().lower())
    if status is None:
        raise DispatchError(
            f"unknown acknowledgement '{safe_text(text, 40)}'; use one of: "
            f"{', '.join(ACK_STATUSES)} (or r, d, f, x)"
        )
    return status


def parse_ack_option(text: str) -> tuple[str, str, str]:
    """`HIT=STATUS[:note]` -> (hit id, status, note)."""
    hit_id, sep, rest = text.partition("=")
    if not sep or not hit_id:
        raise DispatchError(f"--ack {text!r}: expected HIT_ID=STATUS[:note], e.g. hit-12=found")
    status, _, note = rest.partition(":")
    check_identifier(hit_id.strip(), "--ack: hit id")
    return hit_id.strip(), parse_status_word(status), note.strip()


def mqtt_options(
    ctx: typer.Context,
    url: str | None,
    username: str | None,
    password: str | None,
    ca_file: Path | None,
    cert_file: Path | None,
    key_file: Path | None,
    tls_insecure: bool,
    client_id: str | None,
) -> tuple[MqttConfig, DispatchConfig]:
    user_file = cli_context(ctx).user_file
    base = DispatchConfig()
    if user_file is not None:
        doc = read_user_file(user_file)
        base = dispatch_config(doc.get("dispatch"), str(user_file))
    fields: dict[str, Any] = base.mqtt.model_dump(exclude_none=True) if base.mqtt else {}
    given = {
        "url": url,
        "username": username,
        "password": password,
        "ca_file": ca_file,
        "cert_file": cert_file,
        "key_file": key_file,
        "client_id": client_id,
    }
    fields.update({k: v for k, v in given.items() if v is not None})
    if password is not None:
        fields.pop("password_env", None)
    if tls_insecure:
        fields["tls_insecure"] = True
    if "url" not in fields:
        raise ConfigError(
            "groundctl dispatch listen",
            "--mqtt",
            "no broker given; pass --mqtt mqtt://host:1883 or set dispatch.mqtt.url in the config file",
        )
    return validate(MqttConfig, fields, "command line", "dispatch.mqtt"), base


def _stdin_lines(loop: asyncio.AbstractEventLoop, queue: asyncio.Queue[str | None]) -> None:
    for line in sys.stdin:
        loop.call_soon_threadsafe(queue.put_nowait, line)
    loop.call_soon_threadsafe(queue.put_nowait, None)


async def _listen(
    listener: MqttListener, view: ListenView, count: int | None, interactive: bool
) -> None:
    console = view.console
    view.header()
    commands: asyncio.Queue[str | None] = asyncio.Queue()
    if interactive:
        threading.Thread(
            target=_stdin_lines, args=(asyncio.get_running_loop(), commands), daemon=True
        ).start()

    async def answer() -> None:
        while (line := await commands.get()) is not None:
            parts = line.split(maxsplit=2)
            if not parts:
                continue
            if len(parts) < 2:
                console.print("  usage: <row or hit id> <received|dispatched|found|false> [note]")
                continue
            target = parts[0]
            hit_id = (
                view.rows[int(target) - 1]
                if target.isdigit() and 0 < int(target) <= len(view.rows)
                else target
            )
            try:
                note = parts[2].strip() if len(parts) > 2 else ""
                ack = await listener.ack(hit_id, parse_status_word(parts[1]), note=note)
            except DispatchError as exc:
                console.print(Text(f"  {exc}", style="red"))
                continue
            console.print(Text(f"  sent {ack.hit_id}: {ack.status}", style="cyan"))

    answering = asyncio.create_task(answer())
    seen_hits = 0
    try:
        async for event in listener.events():
            if event.kind == "hit":
                view.hit(event, listener.status.get(str(event.payload["id"])))
                if not event.update:
                    seen_hits += 1
            elif event.kind == "ack":
                view.ack(event)
            else:
                view.other(event)
            if count is not None and seen_hits >= count:
                await listener.flush()
                return
    finally:
        answering.cancel()


@dispatch_app.command("listen")
def listen(
    ctx: typer.Context,
    mqtt: Annotated[
        str | None,
        typer.Option("--mqtt", help="Broker URL, mqtt://host:1883 or mqtts://host:8883."),
    ] = None,
    operation: Annotated[
        str, typer.Option(help="Operation to follow; default: every operation.")
    ] = "+",
    prefix: Annotated[
        str | None, typer.Option(help="Topic prefix (default from config, else groundctl).")
    ] = None,
    username: Annotated[str | None, typer.Option(help="Broker user name.")] = None,
    password: Annotated[
        str | None,
        typer.Option(
            envvar="GROUNDCTL_MQTT_PASSWORD", help="Broker password (or $GROUNDCTL_MQTT_PASSWORD)."
        ),
    ] = None,
    ca_file: Annotated[
        Path | None, typer.Option(help="CA certificate of the broker (TLS).")
    ] = None,
    cert_file: Annotated[Path | None, typer.Option(help="Client certificate (TLS).")] = None,
    key_file: Annotated[Path | None, typer.Option(help="Client key (TLS).")] = None,
    tls_insecure: Annotated[
        bool, typer.Option(help="Do not check the broker's host name.")
    ] = False,
    client_id: Annotated[
        str | None, typer.Option(help="MQTT client id; keep it stable to get hits sent while away.")
    ] = None,
    operator: Annotated[
        str | None,
        typer.Option(help="Your desk's name: shown with your acknowledgements, names your key."),
    ] = None,
    ack_key: Annotated[
        Path | None,
        typer.Option(
            "--ack-key",
            envvar="GROUNDCTL_ACK_KEY",
            help="Sign acknowledgements with this key file (see `dispatch keygen`); stations "
            "that list it under dispatch.ack_keys as --operator act on them. Default: "
            "dispatch.sign_acks_as in the config file.",
        ),
    ] = None,
    ack: Annotated[
        list[str] | None,
        typer.Option("--ack", help="Send HIT=STATUS[:note] and exit (repeatable)."),
    ] = None,
    count: Annotated[int | None, typer.Option(help="Exit after this many hits.", min=1)] = None,
    chips: Annotated[Path, typer.Option(help="Where to save hit chips.")] = Path("chips"),
    receipt: Annotated[
        bool, typer.Option(help="Acknowledge each new hit as 'received' automatically.")
    ] = True,
    give_up_after: Annotated[
        float | None,
        typer.Option(
            "--give-up-after",
            min=1.0,
            max=86400.0,
            help="Stop (exit 1) when the broker cannot be reached for this many seconds "
            "[default: 30 with --ack; listening keeps trying].",
        ),
    ] = None,
) -> None:
    """Print hits as they arrive and send acknowledgements (received, team dispatched, found,
    false alarm): type `<row> <status> \\[note]`, e.g. `3 dispatched team Bravo`."""
    cfg, base = mqtt_options(
        ctx, mqtt, username, password, ca_file, cert_file, key_file, tls_insecure, client_id
    )
    if operation != "+":
        check_identifier(operation, "--operation")
    answers = [parse_ack_option(a) for a in ack or []]
    if answers and operation == "+":
        raise DispatchError("--ack needs --operation NAME (the operation the hits belong to)")
    own = signer(base) if ack_key is None and operator is None else None
    who = operator or (own[0] if own else f"{getpass.getuser()}@{socket.gethostname()}")
    key = own
    if ack_key is not None:
        check_identifier(who, "--operator (the name of your key)")
        key = (who, load_key(ack_key, "--ack-key"))
    if not answers:
        check_output_path(chips, "--chips", kind="folder")
    session = cfg.client_id or f"groundctl-cc-{socket.gethostname()}-{getpass.getuser()}"
    listener = MqttListener(
        cfg,
        operation=operation,
        prefix=prefix or base.prefix,
        # --ack must not take over the operator's listening session (same id kicks it off)
        client_id=(f"{session}-ack-{os.getpid()}" if answers else session)[:64],
        operator=who,
        auto_receipt=receipt and not answers,
        persistent=not answers,
        key=key,
        trusted_keys=load_keys(base.ack_keys),
        give_up_s=give_up_after or (30.0 if answers else None),
    )
    console = Console(highlight=False)
    if answers:
        try:
            asyncio.run(_send_acks(listener, answers, console))
        except BrokerUnreachable as exc:
            print(f"groundctl: error: {exc}", file=sys.stderr)
            raise typer.Exit(1) from None
        return
    interactive = (
        sys.stdin is not None
        and not sys.stdin.closed
        and os.environ.get("GROUNDCTL_NO_STDIN") != "1"
    )
    try:
        asyncio.run(_listen(listener, ListenView(console, chips), count, interactive))
    except BrokerUnreachable as exc:
        print(f"groundctl: error: {exc}", file=sys.stderr)
        raise typer.Exit(1) from None


async def _send_acks(
    listener: MqttListener, answers: list[tuple[str, str, str]], console: Console
) -> None:
    for hit_id, status, note in answers:
        await listener.ack(hit_id, status, note=note)  # queued until connected

    async def connection() -> None:
        async for event in listener.events(subscribe=False):
            if event.kind == "disconnected":
                retry = event.payload.get("retry_s")
                later = f"; retrying in {retry:.0f} s" if retry else "; retrying"
                print(f"{safe_text(event.payload.get('error'))}{later}", file=sys.stderr)

    assert listener.give_up_s is not None
    task = asyncio.create_task(connection())
    flushed = asyncio.create_task(listener.flush(timeout_s=listener.give_up_s + 30))
    try:
        await asyncio.wait({task, flushed}, return_when=asyncio.FIRST_COMPLETED)
        if task.done():
            try:
                task.result()  # a refused login ends the connection with a DispatchError
            except BrokerUnreachable as exc:
                raise BrokerUnreachable(f"{exc}; the acknowledgements were not sent") from None
        try:
            flushed.result()
        except TimeoutError:
            raise BrokerUnreachable(
                f"the broker {listener.cfg.url} did not accept the acknowledgements in time"
            ) from None
    finally:
        await cancel_and_wait(flushed)
        await cancel_and_wait(task)
    for hit_id, status, _ in answers:
        console.print(f"sent {hit_id}: {status}")
