"""The FastAPI app of `groundctl serve`: page, libraries, API, websockets, media."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

from fastapi import FastAPI, Request, WebSocket
from fastapi.responses import FileResponse, JSONResponse, Response, StreamingResponse
from fastapi.staticfiles import StaticFiles
from starlette.websockets import WebSocketDisconnect

from groundctl.web import errors, thermal_view
from groundctl.web.api import router
from groundctl.web.auth import COOKIE, TokenMiddleware
from groundctl.web.errors import bad, not_found
from groundctl.web.ops import Ops
from groundctl.web.settings import ServeOptions

# What the page loads from the npm packages installed by `make` (package.json).
LIBRARIES = {
    "leaflet": "leaflet/dist",
    "geoman": "@geoman-io/leaflet-geoman-free/dist",
}
MAX_BODY_BYTES = 25 * 1024 * 1024


def create_app(opts: ServeOptions, ops: Ops) -> Any:
    """The ASGI app: FastAPI behind the token rule. `ops` is built (and its configuration
    checked) before anything listens; it starts and stops with the app."""

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        app.state.ops = ops
        await ops.start()
        try:
            yield
        finally:
            await ops.close()

    app = FastAPI(
        title="groundctl", lifespan=lifespan, docs_url=None, redoc_url=None, openapi_url=None
    )
    errors.install(app)
    app.include_router(router)
    static = Path(__file__).parent / "static"

    @app.middleware("http")
    async def limits(request: Request, call_next):  # type: ignore[no-untyped-def]
        size = request.headers.get("content-length")
        if size is not None and (not size.isdigit() or int(size) > MAX_BODY_BYTES):
            return errors.body(413, "body", "body: larger than 25 MB")
        response = await call_next(request)
        response.headers["x-content-type-options"] = "nosniff"
        response.headers["referrer-policy"] = "no-referrer"
        return response

    def page(name: str, request: Request) -> Response:
        response = FileResponse(static / name, headers={"cache-control": "no-store"})
        token = request.query_params.get("token")
        if opts.token is not None and token is not None:
            # The address printed at start carries the token once; from here on the cookie
            # does (images, websockets and libraries cannot send a header).
            response.set_cookie(COOKIE, token, httponly=True, samesite="strict")
        return response

    @app.get("/", include_in_schema=False)
    async def index(request: Request) -> Response:
        return page("index.html", request)

    @app.get("/favicon.ico", include_in_schema=False)
    async def favicon() -> Response:
        return Response(status_code=204)

    @app.get("/team", include_in_schema=False)
    async def team(request: Request) -> Response:
        return page("team.html", request)

    app.mount("/static", StaticFiles(directory=static), name="static")
    for name, sub in LIBRARIES.items():
        folder = opts.node_modules / sub
        if folder.is_dir():
            app.mount(f"/lib/{name}", StaticFiles(directory=folder), name=f"lib-{name}")
        else:
            missing = f"{folder} is missing: run `make` (npm ci) in the groundctl source tree"

            @app.get(f"/lib/{name}/{{path:path}}", include_in_schema=False)
            async def _missing(path: str, why: str = missing) -> JSONResponse:
                return errors.body(503, None, why)

    @app.get("/tiles/{z}/{x}/{y}", include_in_schema=False)
    async def tile(request: Request, z: int, x: int, y: int) -> Response:
        o: Ops = request.app.state.ops
        src = o.background.source
        if src is None:
            raise not_found(None, "no local tile file: set web.tiles or --tiles FILE")
        if not (0 <= z <= 24 and 0 <= x < (1 << z) and 0 <= y < (1 << z)):
            raise bad("z/x/y", f"{z}/{x}/{y} is not a tile of the XYZ scheme")
        data = await asyncio.to_thread(src.tile, z, x, y)
        if data is None:
            return Response(status_code=204)
        return Response(
            data, media_type=src.media_type(), headers={"cache-control": "max-age=3600"}
        )

    @app.websocket("/ws")
    async def ws(websocket: WebSocket) -> None:
        o: Ops = websocket.app.state.ops
        await websocket.accept()
        await o.hub.serve(websocket, lambda: asyncio.to_thread(o.watcher.snapshot))

    @app.websocket("/ws/thermal/{vehicle}")
    async def ws_thermal(websocket: WebSocket, vehicle: str) -> None:
        o: Ops = websocket.app.state.ops
        await websocket.accept()
        sysid = o.vehicle_sysid(vehicle)
        if sysid is None:
            await websocket.send_json(
                {"type": "error", "error": f"vehicle: no live camera of {vehicle!r} here "
                 "(the thermal view shows drones flown by this server)", "field": "vehicle"}
            )  # fmt: skip
            await websocket.close(code=1008)
            return
        seq = 0
        try:
            while True:
                seq, result = await o.frames.next(sysid, seq)
                if result is None:
                    await websocket.send_json({"type": "waiting"})
                    continue
                jpg = await asyncio.to_thread(thermal_view.render, result, vehicle)
                await websocket.send_json(thermal_view.meta(result, seq))
                await websocket.send_bytes(jpg)
                await asyncio.sleep(0.15)  # at most ~6 frames a second per viewer
        except (WebSocketDisconnect, RuntimeError, OSError):
            pass

    @app.get("/api/vehicles/{vehicle}/thermal.mjpeg")
    async def mjpeg(request: Request, vehicle: str) -> StreamingResponse:
        o: Ops = request.app.state.ops
        sysid = o.vehicle_sysid(vehicle)
        if sysid is None:
            raise not_found("vehicle", f"vehicle: no live camera of {vehicle!r} here")

        async def parts() -> AsyncIterator[bytes]:
            seq = 0
            while not await request.is_disconnected():
                seq, result = await o.frames.next(sysid, seq)
                if result is None:
                    continue
                jpg = await asyncio.to_thread(thermal_view.render, result, vehicle)
                yield b"--frame\r\nContent-Type: image/jpeg\r\nContent-Length: "
                yield f"{len(jpg)}\r\n\r\n".encode() + jpg + b"\r\n"
                await asyncio.sleep(0.15)

        return StreamingResponse(parts(), media_type="multipart/x-mixed-replace; boundary=frame")

    return TokenMiddleware(app, opts.token)
