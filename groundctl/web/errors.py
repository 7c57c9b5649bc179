"""Bad input gets the CLI's one-line error as JSON: `{"error": "...", "field": "..."}` (4xx)."""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from groundctl.errors import ConfigError, GroundctlError
from missions.errors import MissionError
from sim.errors import SimError
from thermal.errors import ThermalError

USER_ERRORS = (GroundctlError, MissionError, ThermalError, SimError)


class WebError(Exception):
    """A request the server refuses: HTTP status, the field at fault, one line of why."""

    def __init__(self, status: int, field: str | None, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.field = field
        self.message = message


def bad(field: str, message: str) -> WebError:
    return WebError(400, field, f"{field}: {message}")


def not_found(field: str, message: str) -> WebError:
    return WebError(404, field, message)


def conflict(field: str | None, message: str) -> WebError:
    return WebError(409, field, message)


def user_error(exc: BaseException, field: str) -> WebError:
    """A domain error (the same text the CLI prints) as a 400 naming `field`."""
    if isinstance(exc, ConfigError) and exc.key:
        field = exc.key
    return WebError(400, field, str(exc))


def _loc(loc: tuple[Any, ...]) -> str:
    parts = [str(p) for p in loc if p not in ("body", "query", "path")]
    return ".".join(parts) or "body"


def body(status: int, field: str | None, message: str) -> JSONResponse:
    return JSONResponse({"error": message, "field": field}, status_code=status)


def install(app: FastAPI) -> None:
    @app.exception_handler(WebError)
    async def _web(_: Request, exc: WebError) -> JSONResponse:
        return body(exc.status, exc.field, exc.message)

    @app.exception_handler(RequestValidationError)
    async def _validation(_: Request, exc: RequestValidationError) -> JSONResponse:
        err = exc.errors()[0]
        field = _loc(tuple(err.get("loc", ())))
        msg = str(err.get("msg", "invalid")).removeprefix("Value error, ")
        if err.get("type") == "json_invalid":
            return body(400, "body", "body: not valid JSON")
        return body(400, field, f"{field}: {msg}")

    @app.exception_handler(StarletteHTTPException)
    async def _http(_: Request, exc: StarletteHTTPException) -> JSONResponse:
        return body(exc.status_code, None, str(exc.detail))

    for kind in USER_ERRORS:

        @app.exception_handler(kind)
        async def _user(_: Request, exc: Exception) -> JSONResponse:
            return body(400, getattr(exc, "key", None), str(exc))
