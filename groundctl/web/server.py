"""Running the app: bind (refusing a busy address with one line), announce, serve."""

from __future__ import annotations

import asyncio
import logging
import socket
from collections.abc import Callable

import uvicorn

from groundctl.errors import ConfigError
from groundctl.web.app import create_app
from groundctl.web.ops import Ops
from groundctl.web.settings import ServeOptions


def bind_socket(host: str, port: int) -> socket.socket:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))
    except OSError as exc:
        sock.close()
        raise ConfigError(
            "--bind",
            None,
            f"cannot listen on {host}:{port}: {exc.strerror or exc}; give another "
            "ADDR:PORT (port 0 takes any free one)",
        ) from None
    sock.listen(128)
    sock.set_inheritable(True)
    return sock


def url_of(host: str, port: int) -> str:
    shown = "127.0.0.1" if host in ("0.0.0.0", "") else host
    if ":" in shown:
        shown = f"[{shown}]"
    return f"http://{shown}:{port}/"


async def serve(opts: ServeOptions, announce: Callable[[str, int], None]) -> None:
    ops = Ops(opts)  # a bad tile file, DEM or database stops here, before listening
    try:
        sock = bind_socket(opts.host, opts.port)
    except BaseException:
        ops.reader.close()
        ops.store.close()
        raise
    port = sock.getsockname()[1]
    cfg = uvicorn.Config(
        create_app(opts, ops),
        log_level="warning",
        access_log=False,
        lifespan="on",
        ws="auto",
        proxy_headers=False,
        server_header=False,
        ws_ping_interval=20,
        timeout_graceful_shutdown=10,
    )
    server = uvicorn.Server(cfg)
    task = asyncio.create_task(server.serve(sockets=[sock]))
    while not server.started:
        if task.done():
            task.result()
            return
        await asyncio.sleep(0.05)
    announce(url_of(opts.host, port), port)
    await task


def quiet_logs() -> None:
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
