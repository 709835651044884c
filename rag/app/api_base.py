"""What the API's routes share (`rag.app.api`): errors in OpenAI's and Dify's shapes, the
mapping of pipeline errors to HTTP statuses, the concurrency gate, the size-limited body reader
and the [api] settings check.
"""

from __future__ import annotations

import asyncio
import json
import logging
from dataclasses import dataclass

from rag.app.status import user_message
from rag.config import Config
from rag.errors import (
    ConfigError,
    FilterError,
    IndexProblem,
    ModelError,
    QuestionError,
    UnsafeLaunch,
    is_expected,
    public_message,
)

log = logging.getLogger("rag.api")

DIFY_BAD_HEADER, DIFY_BAD_KEY, DIFY_NO_KNOWLEDGE = 1001, 1002, 2001


@dataclass
class ApiError(Exception):
    """An API call that fails with `status`; rendered in OpenAI's or Dify's error shape."""

    status: int
    message: str
    code: str | None = None
    type: str = "invalid_request_error"
    param: str | None = None
    dify_code: int | None = None
    retry_after: int | None = None

    def __str__(self) -> str:
        return self.message

    def _headers(self) -> dict[str, str]:
        return {"Retry-After": str(self.retry_after)} if self.retry_after else {}

    def openai(self):
        from starlette.responses import JSONResponse

        body = {"error": {"message": self.message, "type": self.type, "param": self.param, "code": self.code}}
        return JSONResponse(body, status_code=self.status, headers=self._headers())

    def dify(self):
        from starlette.responses import JSONResponse

        body = {"error_code": self.dify_code or self.status, "error_msg": self.message}
        return JSONResponse(body, status_code=self.status, headers=self._headers())


def too_long(message: str, param: str | None = None, code: str = "request_too_large") -> ApiError:
    return ApiError(413, message, code, param=param)


def api_error(e: BaseException) -> ApiError:
    """The API error for an exception raised while answering (faults are logged once, with a
    traceback; bad input and a missing index are normal and are not)."""
    if isinstance(e, ApiError):
        return e
    if not is_expected(e):
        log.error("API request failed", exc_info=e)
    if isinstance(e, QuestionError):
        return ApiError(400, public_message(e), "invalid_question", param="messages")
    if isinstance(e, FilterError):
        return ApiError(400, user_message(e), "invalid_filter")
    if isinstance(e, IndexProblem):
        return ApiError(503, public_message(e), "index_unavailable", "server_error", retry_after=30)
    if isinstance(e, ModelError):
        return ApiError(503, public_message(e), "model_unavailable", "server_error", retry_after=30)
    return ApiError(500, public_message(e), "internal_error", "server_error")


class Gate:
    """At most `running` API requests answered at once and `waiting` waiting for a turn; one
    more is refused at once (429) rather than queued without end. Used in the server's loop."""

    def __init__(self, running: int, waiting: int):
        self.running, self.waiting = running, waiting
        self.active = self.queued = 0
        self._sem: asyncio.Semaphore | None = None

    async def enter(self) -> None:
        if self.active + self.queued >= self.running + self.waiting:
            raise ApiError(429, f"the service is busy ({self.active} requests being answered); try again shortly",
                           "rate_limit_exceeded", "requests", retry_after=1)
        if self._sem is None:
            self._sem = asyncio.Semaphore(self.running)
        self.queued += 1
        try:
            await self._sem.acquire()
        finally:
            self.queued -= 1
        self.active += 1

    def leave(self) -> None:
        self.active -= 1
        self._sem.release()  # type: ignore[union-attr]


class Slot:
    """One turn of the gate, released exactly once (a stream releases it when it ends)."""

    def __init__(self, gate: Gate):
        self.gate, self.held = gate, True

    def release(self) -> None:
        if self.held:
            self.held = False
            self.gate.leave()


def parse_knowledge_ids(value: str) -> list[tuple[str, str | None]]:
    """[api] knowledge_ids: "id" (this app's index) or "id=path" (another index), comma separated."""
    out: list[tuple[str, str | None]] = []
    for entry in [e.strip() for e in (value or "").split(",") if e.strip()]:
        kid, sep, path = (x.strip() for x in entry.partition("="))
        if not kid or (sep and not path) or any(c.isspace() for c in kid):
            raise ConfigError(f"[api] knowledge_ids: {entry!r} is not \"id\" or \"id=index folder\"")
        if kid in dict(out):
            raise ConfigError(f"[api] knowledge_ids: {kid!r} is named twice")
        out.append((kid, path or None))
    if not out:
        raise ConfigError("[api] knowledge_ids names no knowledge base (the default is \"default\")")
    return out


def check_api_config(cfg: Config) -> None:
    """UnsafeLaunch/ConfigError for [api] settings the server cannot run with."""
    a = cfg.api
    for name in ("concurrency", "max_chars", "max_messages", "max_body"):
        if int(getattr(a, name)) < 1:
            raise UnsafeLaunch(f"[api] {name} must be at least 1, got {getattr(a, name)}")
    if int(a.queue) < 0:
        raise UnsafeLaunch(f"[api] queue must be 0 or more, got {a.queue}")
    if a.model and (any(c.isspace() for c in a.model) or "/" in a.model):
        raise ConfigError(f"[api] model {a.model!r}: no spaces or \"/\" (\"/\" separates a knowledge id)")
    parse_knowledge_ids(a.knowledge_ids)


async def read_json(request, limit: int) -> object:
    """The request's JSON body, read up to `limit` bytes (413 beyond, 400 when not JSON)."""
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > limit:
        raise too_long(f"the request body is larger than {limit} bytes")
    body = bytearray()
    async for piece in request.stream():
        body += piece
        if len(body) > limit:
            raise too_long(f"the request body is larger than {limit} bytes")
    if not body.strip():
        raise ApiError(400, "the request body must be a JSON object", "invalid_json")
    try:
        return json.loads(bytes(body))
    except (ValueError, UnicodeDecodeError):
        raise ApiError(400, "the request body is not valid JSON", "invalid_json") from None
