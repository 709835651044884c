"""The API beside the web page, on the same port and pipeline: OpenAI's chat completions and
Dify's External Knowledge API.

- `GET /v1/models`, `POST /v1/chat/completions` (shapes in `rag.app.api_chat`): the cited answer
  is the assistant message, its citations are structured data on the choice, a refusal is a
  normal answer flagged `refused`; `stream: true` sends server-sent events ending with
  `data: [DONE]`. Errors are OpenAI's `{"error": {message, type, param, code}}`.
- `POST /retrieval` (`rag.app.api_retrieval`): Dify's external knowledge base; errors are
  `{"error_code", "error_msg"}` (1001 malformed Authorization header and 1002 wrong key: 403;
  2001 unknown knowledge id: 404; otherwise the HTTP status).

`ApiServer(service, cfg)` holds the routes; `build_app` makes one on the app's own `Service`
(`demo.rag_api`) and `launch_kwargs(cfg, demo)` puts its routes on Gradio's FastAPI app. Keys:
`rag.app.access`. Every limit is enforced here, before any work: the body (`[api] max_body`
bytes) and the messages (`max_messages`, `max_chars`) → 413, the question
(`[question] max_chars`) → 413, answers at once (`concurrency`) and waiting (`queue`) → 429.
"""

from __future__ import annotations

from pathlib import Path

from rag.app.access import ApiKeys, bearer_token
from rag.app.api_base import (
    DIFY_BAD_HEADER,
    DIFY_BAD_KEY,
    ApiError,
    Gate,
    check_api_config,
    parse_knowledge_ids,
)
from rag.app.service import Service
from rag.config import Config
from rag.errors import IndexProblem

__all__ = ["ApiError", "ApiServer", "check_api_config", "open_knowledge_bases"]


def open_knowledge_bases(svc: Service, cfg: Config) -> dict[str, Service]:
    """knowledge id → the service answering from it (the app's own one, or one per other index,
    sharing the app's embedding model when it is open)."""
    from rag.pipeline import Pipeline

    bases: dict[str, Service] = {}
    for kid, path in parse_knowledge_ids(cfg.api.knowledge_ids):
        if path is None:
            bases[kid] = svc
            continue
        index_dir = Path(cfg.resolve(path))
        main = getattr(svc, "_pipeline", None)
        try:
            source = Pipeline.from_config(cfg, index_dir, embed_model=main.embedding if main is not None else None)
        except IndexProblem as e:  # reported on each call; opened again once it is built
            source = e
        bases[kid] = Service(source, cfg, index_dir=index_dir, feedback=svc.feedback)
    return bases


class ApiServer:
    """The API routes over `svc` (see the module docstring)."""

    def __init__(self, svc: Service, cfg: Config, keys: ApiKeys | None = None):
        check_api_config(cfg)
        self.svc, self.cfg = svc, cfg
        self.keys = keys if keys is not None else ApiKeys.from_config(cfg)
        self.gate = Gate(int(cfg.api.concurrency), int(cfg.api.queue))
        self.knowledge = open_knowledge_bases(svc, cfg)
        self.model = cfg.api.model or f"rag-{cfg.answer.backend}"
        kids = list(self.knowledge)
        # the model id answers from the first knowledge base; "<model>/<id>" from any of them
        self.models = {self.model: self.knowledge[kids[0]], **{f"{self.model}/{k}": self.knowledge[k] for k in kids}}
        self.listed = [self.model] + [f"{self.model}/{k}" for k in kids[1:]]  # what /v1/models shows
        self.router = self._router()

    @property
    def routes(self) -> list:
        return self.router.routes

    def _router(self):
        from fastapi import APIRouter

        from rag.app import api_chat, api_retrieval

        router = APIRouter()
        router.add_api_route("/v1/models", api_chat.models_route(self), methods=["GET"], include_in_schema=False)
        router.add_api_route("/v1/chat/completions", api_chat.chat_route(self), methods=["POST"],
                             include_in_schema=False)
        router.add_api_route("/retrieval", api_retrieval.retrieval_route(self), methods=["POST"],
                             include_in_schema=False)
        return router

    # -- access
    def _closed_message(self) -> str:
        return ("the API accepts no calls: no API keys are configured on this server "
                "(set RAG_API_KEYS, or [api] keys / keys_file)")

    def authorize_openai(self, request) -> None:
        """401 (OpenAI's invalid_api_key) unless the request carries an accepted key."""
        token = bearer_token(request.headers.get("authorization"))
        if self.keys.allows(token):
            return
        if not self.keys.configured:
            raise ApiError(401, self._closed_message(), "invalid_api_key")
        message = ("you did not provide an API key: send \"Authorization: Bearer KEY\"" if token is None
                   else "incorrect API key provided")
        raise ApiError(401, message, "invalid_api_key")

    def authorize_dify(self, request) -> None:
        """403 with error 1001 (no or malformed Bearer header) or 1002 (a key not accepted)."""
        if self.keys.open:
            return
        token = bearer_token(request.headers.get("authorization"))
        if token is None:
            raise ApiError(403, "Invalid Authorization header format. Expected 'Bearer <api-key>' format.",
                           dify_code=DIFY_BAD_HEADER)
        if not self.keys.allows(token):
            message = "Authorization failed" + ("" if self.keys.configured else f": {self._closed_message()}")
            raise ApiError(403, message, dify_code=DIFY_BAD_KEY)

    # -- answering
    async def run(self, work, *args):
        """`work(*args)` in a worker thread, within the gate."""
        from starlette.concurrency import run_in_threadpool

        await self.gate.enter()
        try:
            return await run_in_threadpool(work, *args)
        finally:
            self.gate.leave()
