"""`groundctl dispatch flush` (send what an operation's outbox still holds) and
`groundctl dispatch keygen` (a key a desk signs its acknowledgements with).

    groundctl dispatch flush --db ridge.sqlite            # the sinks `fly` used
    groundctl dispatch flush --db ridge.sqlite --dispatch-config fleet.yaml --timeout 120

`fly` keeps every hit in the operation database and queues it per sink; when a receiver
was down for the whole flight the rest waits there. `flush` sends it with the dispatch
configuration the flight used (remembered in the database, without a literal password;
relative paths are relative to where `fly` ran) or the one given, and exits 0 only when
nothing is left undelivered (1 otherwise, with what is left per sink).
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from pathlib import Path
from typing import Annotated

import typer

from groundctl.cli import output
from groundctl.cli.context import cli_context
from groundctl.cli.dispatch import dispatch_app
from groundctl.config import read_user_file
from groundctl.dispatch.acksig import new_key_file
from groundctl.dispatch.aio import cancel_and_wait
from groundctl.dispatch.config import DispatchConfig, dispatch_config, load_dispatch_config
from groundctl.dispatch.dispatcher import Dispatcher
from groundctl.dispatch.ids import check_identifier
from groundctl.errors import ConfigError, DispatchError
from groundctl.store import Store


def _config(store: Store, given: Path | None, user_file: Path | None) -> tuple[DispatchConfig, str]:
    if given is not None:
        return load_dispatch_config(given), str(given)
    op = store.operation()
    remembered = op.detail.get("dispatch") if op is not None else None
    if remembered:
        return dispatch_config(remembered, f"{store.path} (dispatch of the last run)"), "database"
    if user_file is not None and user_file.exists():
        doc = read_user_file(user_file)
        if doc.get("dispatch"):
            return dispatch_config(doc["dispatch"], str(user_file)), str(user_file)
    raise ConfigError(
        str(store.path),
        None,
        "no dispatch configuration remembered in this database; give --dispatch-config FILE "
        "(a YAML with a dispatch: section, e.g. the fleet file)",
    )


async def _flush(dispatcher: Dispatcher, timeout_s: float) -> None:
    task = asyncio.create_task(dispatcher.run())
    total = dispatcher.pending()
    try:
        deadline = time.monotonic() + timeout_s
        with output.progress("sending", total=total, unit="messages") as advance:
            done = 0
            while dispatcher.undelivered() and time.monotonic() < deadline and not task.done():
                await asyncio.sleep(0.2)
                now_done = total - dispatcher.pending()
                advance(max(0, now_done - done))
                done = max(done, now_done)
        if task.done():
            task.result()  # a refused login, an untrusted certificate: DispatchError
    finally:
        await cancel_and_wait(task)
        with contextlib.suppress(Exception):
            await dispatcher.close()


@dispatch_app.command("flush")
def flush(
    ctx: typer.Context,
    db: Annotated[Path, typer.Option("--db", help="The operation database `fly` wrote.")],
    dispatch_config_file: Annotated[
        Path | None,
        typer.Option(
            "--dispatch-config",
            help="YAML with a dispatch: section; default: the one the last run used.",
        ),
    ] = None,
    timeout: Annotated[
        float, typer.Option(min=1.0, max=86400.0, help="Give up after this many seconds.")
    ] = 60.0,
    json_: Annotated[
        bool,
        typer.Option(
            "--json",
            help="Print {schema: groundctl.dispatch-flush/1, operation, delivered: {sink: n}, "
            "left: {sink: n}, unconfigured: {sink: n}}.",
        ),
    ] = False,
) -> None:
    """Send what the operation's outbox still holds; exit 1 if anything is left."""
    if not db.is_file():
        raise ConfigError("--db", str(db), "no such operation database (the file `fly` wrote)")
    with Store.open(db) as store:
        op = store.operation()
        if op is None:
            raise ConfigError("--db", str(db), "not the database of an operation")
        cfg, source = _config(store, dispatch_config_file, cli_context(ctx).user_file)
        dispatcher = Dispatcher(store, cfg, op.name)
        queued = {
            m.sink for m in store.outbox() if m.state == "pending"
        }  # sinks with something left, configured or not
        unconfigured = {
            s: store.pending_count(s) for s in sorted(queued - set(dispatcher.sink_names))
        }
        before = {s: store.pending_count(s) for s in dispatcher.sink_names}
        if any(before.values()):
            asyncio.run(_flush(dispatcher, timeout))
        left = {s: store.pending_count(s) for s in dispatcher.sink_names}
    delivered = {s: max(0, before[s] - left[s]) for s in before}
    if json_:
        output.emit_json(
            "dispatch-flush",
            {
                "operation": op.name,
                "config": source,
                "delivered": delivered,
                "left": {s: n for s, n in left.items() if n},
                "unconfigured": unconfigured,
            },
        )
    else:
        table = output.Table(
            f"{op.name}: outbox of {db}",
            [
                output.Column("sink", key=True),
                output.Column("delivered", priority=1, justify="right"),
                output.Column("left", key=True, justify="right"),
            ],
        )
        for sink in before:
            table.add_row(sink, delivered[sink], left[sink])
        for sink, n in unconfigured.items():
            table.add_row(f"{sink} (not configured)", 0, n)
        output.print_tables([table])
    if any(left.values()) or unconfigured:
        raise typer.Exit(1)


@dispatch_app.command("keygen")
def keygen(
    path: Annotated[Path, typer.Argument(help="Key file to write (never overwritten).")],
    desk: Annotated[
        str, typer.Option(help="The desk's name (its --operator), for the advice printed.")
    ] = "desk-1",
) -> None:
    """Write a new random key a desk signs its acknowledgements with (mode 0600)."""
    check_identifier(desk, "--desk")
    output.check_output_path(path, "keygen")
    try:
        new_key_file(path)
    except FileExistsError:
        raise DispatchError(
            f"{path} exists; a key is never overwritten (desks may already use it)"
        ) from None
    except OSError as exc:
        raise DispatchError(f"{path}: cannot write the key: {exc.strerror or exc}") from None
    print(
        f"{path}: new acknowledgement key.\n"
        f"  the desk:    groundctl dispatch listen --operator {desk} --ack-key {path} ...\n"
        f"  the station: dispatch: {{ack_keys: {{{desk}: {path}}}}}  (in the fleet file)"
    )
