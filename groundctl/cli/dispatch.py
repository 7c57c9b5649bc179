"""`groundctl dispatch`: the command centre's view of hits, and its answers to them.

    groundctl dispatch listen --mqtt mqtts://broker:8883 --operation ridge \\
        --username centre --ca-file ca.pem --operator "desk 1"

prints every hit as it arrives (once per revision; repeats are dropped by message id),
saves its thermal chip and links to it, shows acknowledgements from every desk, and reads
answers from the keyboard:  `<row or hit id> <received|dispatched|found|false> [note]`.
`--ack HIT=STATUS[:note]` sends answers without listening (for scripts).
"""

from __future__ import annotations

import asyncio
import base64
import getpass
import os
import socket
import sys
import threading
from datetime import datetime
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.table import Table

from groundctl.cli import app
from groundctl.cli.context import cli_context
from groundctl.config import read_user_file, validate
from groundctl.dispatch.aio import cancel_and_wait
from groundctl.dispatch.config import DispatchConfig, MqttConfig, dispatch_config
from groundctl.dispatch.mqtt import ListenerEvent, MqttListener
from groundctl.errors import ConfigError, DispatchError
from groundctl.store import ACK_STATUSES

dispatch_app = typer.Typer(help="Hits to the command centre: listen and acknowledge.")
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
COLUMNS = (
    ("#", 4),
    ("time UTC", 8),
    ("operation", 12),
    ("hit", 14),
    ("class", 8),
    ("conf", 5),
    ("lat", 11),
    ("lon", 12),
    ("±m", 5),
    ("uav", 4),
    ("rev", 3),
    ("status", 15),
    ("chip", 40),
)


def parse_status(text: str) -> str:
    status = STATUS_ALIASES.get(text.strip().lower())
    if status is None:
        raise DispatchError(
            f"unknown acknowledgement '{text}'; use one of: {', '.join(ACK_STATUSES)} "
            "(or r, d, f, x)"
        )
    return status


def parse_ack_option(text: str) -> tuple[str, str, str]:
    """`HIT=STATUS[:note]` -> (hit id, status, note)."""
    hit_id, sep, rest = text.partition("=")
    if not sep or not hit_id:
        raise DispatchError(f"--ack {text!r}: expected HIT_ID=STATUS[:note], e.g. hit-12=found")
    status, _, note = rest.partition(":")
    return hit_id.strip(), parse_status(status), note.strip()


def _row_table() -> Table:
    table = Table(box=None, show_header=False, pad_edge=False, padding=(0, 1))
    for _, width in COLUMNS:
        table.add_column(width=width, no_wrap=True, overflow="ellipsis")
    return table


def _header() -> Table:
    table = _row_table()
    table.add_row(*(f"[bold]{name}[/bold]" for name, _ in COLUMNS))
    return table


def _time(doc: dict[str, Any]) -> str:
    text = str(doc.get("time", ""))
    try:
        return datetime.fromisoformat(text.replace("Z", "+00:00")).strftime("%H:%M:%S")
    except ValueError:
        return text[:8]


def save_chip(doc: dict[str, Any], chips_dir: Path) -> str:
    """Write the hit's chip next to the operator and return a link to show."""
    if doc.get("chip_url"):
        url = str(doc["chip_url"])
        return f"[link={url}]{url}[/link]"
    data = doc.get("chip_png_base64")
    if not data:
        return "-"
    path = (
        chips_dir / str(doc.get("operation", "_")) / f"{doc.get('id')}-r{doc.get('revision')}.png"
    )
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(base64.b64decode(data))
    uri = path.resolve().as_uri()
    return f"[link={uri}]{path}[/link]"


class ListenView:
    """What the operator sees: one row per hit revision, one line per ack or status change."""

    def __init__(self, console: Console, chips_dir: Path) -> None:
        self.console = console
        self.chips_dir = chips_dir
        self.rows: list[str] = []  # row number - 1 -> hit id

    def hit(self, event: ListenerEvent, status: str | None) -> None:
        doc = event.payload
        hit_id = str(doc.get("id"))
        if hit_id not in self.rows:
            self.rows.append(hit_id)
        number = self.rows.index(hit_id) + 1
        table = _row_table()
        table.add_row(
            str(number),
            _time(doc),
            str(doc.get("operation", event.operation)),
            hit_id,
            str(doc.get("class")),
            f"{float(doc.get('confidence', 0)):.0%}",
            f"{float(doc.get('lat', 0)):.7f}",
            f"{float(doc.get('lon', 0)):.7f}",
            f"{float(doc.get('uncertainty_m', 0)):.0f}",
            str(doc.get("vehicle", "-")),
            str(doc.get("revision", "")),
            status or ("update" if event.update else "new"),
            save_chip(doc, self.chips_dir),
        )
        self.console.print(table)

    def ack(self, event: ListenerEvent) -> None:
        ack = event.ack
        assert ack is not None
        note = f" — {ack.note}" if ack.note else ""
        self.console.print(
            f"  [cyan]ack[/cyan] {ack.hit_id}: [bold]{ack.status}[/bold] by {ack.by}{note}"
        )

    def other(self, event: ListenerEvent) -> None:
        if event.kind == "status":
            state = event.payload.get("state")
            colour = "green" if state == "online" else "red"
            self.console.print(
                f"  station {event.payload.get('station')} ({event.operation}): "
                f"[{colour}]{state}[/{colour}]"
            )
        elif event.kind == "connected":
            self.console.print(f"[green]connected[/green] to {event.payload.get('url')}")
        elif event.kind == "disconnected":
            self.console.print(
                f"[yellow]broker connection lost[/yellow]: {event.payload.get('error')}; reconnecting"
            )
        elif event.kind == "progress":
            covered = event.payload.get("covered_pct")
            if covered is not None:
                self.console.print(
                    f"  progress ({event.operation}): {float(covered):.0f} % covered"
                )


def _mqtt_config(
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
    listener: MqttListener,
    console: Console,
    chips_dir: Path,
    count: int | None,
    interactive: bool,
) -> None:
    view = ListenView(console, chips_dir)
    console.print(_header())
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
                ack = await listener.ack(
                    hit_id, parse_status(parts[1]), note=parts[2].strip() if len(parts) > 2 else ""
                )
            except DispatchError as exc:
                console.print(f"  [red]{exc}[/red]")
                continue
            console.print(f"  [cyan]sent[/cyan] {ack.hit_id}: {ack.status}")

    answering = asyncio.create_task(answer())
    seen_hits = 0
    try:
        async for event in listener.events():
            if event.kind == "hit":
                view.hit(event, listener.status.get(str(event.payload.get("id"))))
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
        str | None, typer.Option(help="Name shown with your acknowledgements.")
    ] = None,
    ack: Annotated[
        list[str] | None,
        typer.Option("--ack", help="Send HIT=STATUS[:note] and exit (repeatable)."),
    ] = None,
    count: Annotated[int | None, typer.Option(help="Exit after this many hits.")] = None,
    chips: Annotated[Path, typer.Option(help="Where to save hit chips.")] = Path("chips"),
    receipt: Annotated[
        bool, typer.Option(help="Acknowledge each new hit as 'received' automatically.")
    ] = True,
) -> None:
    """Print hits as they arrive and send acknowledgements (received, team dispatched, found,
    false alarm): type `<row> <status> \\[note]`, e.g. `3 dispatched team Bravo`."""
    cfg, base = _mqtt_config(
        ctx, mqtt, username, password, ca_file, cert_file, key_file, tls_insecure, client_id
    )
    who = operator or f"{getpass.getuser()}@{socket.gethostname()}"
    session = cfg.client_id or f"groundctl-cc-{socket.gethostname()}-{getpass.getuser()}"
    listener = MqttListener(
        cfg,
        operation=operation,
        prefix=prefix or base.prefix,
        # --ack must not take over the operator's listening session (same id kicks it off)
        client_id=(f"{session}-ack-{os.getpid()}" if ack else session)[:64],
        operator=who,
        auto_receipt=receipt and not ack,
        persistent=not ack,
    )
    console = Console(highlight=False)
    if ack:
        answers = [parse_ack_option(a) for a in ack]
        if operation == "+":
            raise DispatchError("--ack needs --operation NAME (the operation the hits belong to)")
        asyncio.run(_send_acks(listener, answers, console))
        return
    interactive = (
        sys.stdin is not None
        and not sys.stdin.closed
        and os.environ.get("GROUNDCTL_NO_STDIN") != "1"
    )
    asyncio.run(_listen(listener, console, chips, count, interactive))


async def _send_acks(
    listener: MqttListener, answers: list[tuple[str, str, str]], console: Console
) -> None:
    for hit_id, status, note in answers:
        await listener.ack(hit_id, status, note=note)  # queued until connected

    async def connection() -> None:
        async for event in listener.events(subscribe=False):
            if event.kind == "disconnected":
                console.print(f"[yellow]{event.payload.get('error')}[/yellow]; retrying")

    task = asyncio.create_task(connection())
    flushed = asyncio.create_task(listener.flush(timeout_s=60))
    try:
        await asyncio.wait({task, flushed}, return_when=asyncio.FIRST_COMPLETED)
        if task.done():
            task.result()  # a refused login etc. ends the connection with a DispatchError
        try:
            flushed.result()
        except TimeoutError:
            raise DispatchError(
                f"the broker {listener.cfg.url} did not accept the acknowledgements within 60 s"
            ) from None
    finally:
        await cancel_and_wait(flushed)
        await cancel_and_wait(task)
    for hit_id, status, _ in answers:
        console.print(f"sent {hit_id}: {status}")
