"""Errors as the API answers them: `{"error": {"code", "message"}}`, one sentence, never a stack trace.

Routes raise `ApiError`; `install_error_handlers` gives it, validation errors, Starlette's own
404/405, ingest's refusals and anything unexpected that shape; `error_responses` documents it in OpenAPI.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

import psycopg
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from psycopg_pool import PoolTimeout
from starlette.exceptions import HTTPException as StarletteHTTPException

from api.schemas import NO_NUL, NOT_BLANK, ErrorDetail, ErrorResponse
from core.errors import VideoNotFound
from db.database import DatabaseUnavailable
from db.objects import BucketMissing, StoreUnavailable
from gpu_jobs.ingest import IngestError, UploadTooLarge

log = logging.getLogger(__name__)


class ApiError(Exception):
    """An error answered as `{"error": {"code", "message"}}` with this status."""

    def __init__(self, status: int, code: str, message: str, headers: Mapping[str, str] | None = None) -> None:
        super().__init__(message)
        self.status, self.code, self.message, self.headers = status, code, message, dict(headers or {})


class InsecureBind(RuntimeError):
    """Serving without a token anywhere but this machine."""


class UploadIncomplete(ValueError):
    """The multipart body ended early or is malformed."""


class MissingFileField(UploadIncomplete):
    """A well-formed multipart body without the `file` field."""


class BodyRefused(StarletteHTTPException):
    """A request body refused while it streams in (raised from the guard's `receive`).

    A Starlette HTTPException, because FastAPI turns anything else raised while it reads a
    body into a 400; the handler answers it in the error shape and closes the connection.
    """

    code = "error"

    def __init__(self, status: int, message: str) -> None:
        super().__init__(status, message, headers={"Connection": "close"})


class BodyTooLarge(BodyRefused):
    code = "body_too_large"

    def __init__(self, message: str) -> None:
        super().__init__(413, message)


class BodyIdle(BodyRefused):
    code = "request_timeout"

    def __init__(self, idle_s: float) -> None:
        super().__init__(408, f"No byte of the request body arrived for {idle_s:g} s; send the request again.")


def error_responses(*codes: int) -> dict[int | str, dict[str, Any]]:
    """OpenAPI entries for error responses, all in the ErrorResponse shape."""
    return {code: {"model": ErrorResponse} for code in codes}


_STATUS_CODES = {400: "bad_request", 401: "unauthorized", 403: "forbidden", 404: "not_found",
                 405: "method_not_allowed", 406: "not_acceptable", 408: "request_timeout", 409: "conflict",
                 413: "upload_too_large", 415: "unsupported_media_type", 422: "invalid_request",
                 429: "too_many_uploads", 500: "internal_error", 503: "unavailable"}


def error_response(status: int, code: str, message: str, headers: Mapping[str, str] | None = None) -> JSONResponse:
    body = ErrorResponse(error=ErrorDetail(code=code, message=message)).model_dump()
    return JSONResponse(body, status_code=status, headers=dict(headers or {}))


# the regular expressions people should not have to read
_PATTERN_WORDS = {NOT_BLANK: "Must not be blank or contain NUL characters",
                  NO_NUL: "Must not contain NUL characters"}


def _validation_message(errors: list[Mapping[str, Any]]) -> str:
    """The first validation error as one sentence, e.g. "query.limit: Input should be ... 500."."""
    if not errors:
        return "The request is not valid."
    first = errors[0]
    where = ".".join(str(part) for part in first.get("loc", ()))
    text = str(first.get("msg", "is not valid")).rstrip(".")
    if first.get("type") == "string_pattern_mismatch":
        text = _PATTERN_WORDS.get(first.get("ctx", {}).get("pattern"), text)
    more = f" ({len(errors) - 1} more problems)" if len(errors) > 1 else ""
    return f"{where}: {text}{more}." if where else f"{text}{more}."


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0].strip() if text else type(exc).__name__


def install_error_handlers(api: FastAPI) -> None:
    """Answer every error raised while serving `api` in the ErrorResponse shape."""

    @api.exception_handler(ApiError)
    async def _api_error(request: Request, exc: ApiError) -> JSONResponse:
        return error_response(exc.status, exc.code, exc.message, exc.headers)

    @api.exception_handler(RequestValidationError)
    async def _invalid(request: Request, exc: RequestValidationError) -> JSONResponse:
        return error_response(422, "invalid_request", _validation_message(list(exc.errors())))

    @api.exception_handler(StarletteHTTPException)
    async def _http(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        # Starlette's own 404 (unknown path) and 405 (wrong method) land here
        code = getattr(exc, "code", None) or _STATUS_CODES.get(exc.status_code, "error")
        message = exc.detail if isinstance(exc.detail, str) else "The request failed."
        if exc.status_code == 404:
            message = "No such route; the API's routes are listed at /docs."
        return error_response(exc.status_code, code, message.rstrip(".") + ".", exc.headers)

    @api.exception_handler(VideoNotFound)
    async def _no_video(request: Request, exc: VideoNotFound) -> JSONResponse:
        # a video deleted between the route's check and the service's own lookup
        return error_response(404, "not_found", f"No video with id {exc.ref}; GET /v1/videos lists them.")

    @api.exception_handler(UploadTooLarge)
    async def _too_large(request: Request, exc: UploadTooLarge) -> JSONResponse:
        return error_response(413, "upload_too_large", str(exc))

    @api.exception_handler(IngestError)
    async def _rejected(request: Request, exc: IngestError) -> JSONResponse:
        return error_response(422, "invalid_video", str(exc))

    @api.exception_handler(DatabaseUnavailable)
    @api.exception_handler(psycopg.OperationalError)  # a connection lost mid-request
    @api.exception_handler(PoolTimeout)  # no connection within the pool's wait (SENTINEL_API_DB_TIMEOUT_S)
    async def _no_database(request: Request, exc: Exception) -> JSONResponse:
        # DatabaseUnavailable's own advice is for whoever runs the server; the client gets psycopg's reason
        reason = _first_line(exc.__cause__ if isinstance(exc, DatabaseUnavailable) and exc.__cause__ else exc)
        log.warning("database unavailable on %s %s: %s", request.method, request.url.path, _first_line(exc))
        return error_response(503, "unavailable", f"The database is unreachable ({reason.rstrip('.')}); "
                                                  "try again shortly.", {"Retry-After": "5"})

    @api.exception_handler(StoreUnavailable)
    @api.exception_handler(BucketMissing)
    async def _no_store(request: Request, exc: Exception) -> JSONResponse:
        log.warning("object store unavailable on %s %s: %s", request.method, request.url.path, _first_line(exc))
        text = _first_line(exc).rstrip(".")
        transient = isinstance(exc, StoreUnavailable)  # a missing bucket waits for someone to create it
        message = text[:1].upper() + text[1:] + ("; try again shortly." if transient else ".")
        return error_response(503, "unavailable", message, {"Retry-After": "5"} if transient else None)

    @api.exception_handler(Exception)
    async def _unexpected(request: Request, exc: Exception) -> JSONResponse:
        # the traceback goes to the server log only
        log.exception("unhandled error on %s %s", request.method, request.url.path)
        return error_response(500, "internal_error", "Something went wrong on the server; it has been logged.")
