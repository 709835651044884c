"""OpenAI's chat completions over the pipeline (`POST /v1/chat/completions`, `GET /v1/models`).

Request: `model` (one of `/v1/models`: the configured answerer, `rag-<answer.backend>` unless
`[api] model` names it, and `<model>/<knowledge id>`), `messages` (the last must be the user's
question; earlier user → assistant pairs are the conversation, of which the last
`HISTORY_TURNS` are given to the follow-up rewriter and the answerer, as in the page; system and
developer messages are not read: the answerer has its own instructions), `stream`,
`stream_options.include_usage`, and two extras: `region` and `doc`, the page's scope filters.
Sampling parameters (temperature, max_tokens…) are accepted and ignored; `n` must be 1.

Response: the answer text as `choices[0].message.content` (exactly `python -m rag ask`'s), plus
on the choice `citations: [{n, doc_id, title, section, start, end, quote[, page]}]` and
`refused`. `usage` counts characters, not tokens. Streaming sends the answer as
`chat.completion.chunk` deltas, the citations and `refused` on the chunk with `finish_reason`,
then `data: [DONE]`. With the extractive answerer the deltas are streamed as composed (its text
is final); with an LLM answerer the stream starts once the answer has passed the citation check,
so that no sentence the check removes is ever shown.
"""

from __future__ import annotations

import json
import secrets
import time
from dataclasses import dataclass

from starlette.requests import Request

from rag.app.api_base import ApiError, Slot, api_error, read_json, too_long
from rag.app.service import HISTORY_TURNS
from rag.records import Answer, Citation

ROLES = {"system", "developer", "user", "assistant", "tool", "function"}
PIECE = 12  # characters per streamed delta of an answer that is already complete


@dataclass
class ChatRequest:
    model: str
    question: str
    history: list[tuple[str, str]]
    stream: bool = False
    include_usage: bool = False
    region: str | None = None
    doc: str | None = None
    prompt_chars: int = 0


def _text(message: dict, i: int) -> str:
    content = message.get("content")
    if content is None:
        return ""
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        parts = []
        for part in content:
            if isinstance(part, dict) and part.get("type") in ("text", "input_text") and isinstance(part.get("text"), str):
                parts.append(part["text"])
            elif not (isinstance(part, dict) and isinstance(part.get("type"), str)):
                raise ApiError(400, f"messages[{i}].content has a part that is not a content part",
                               "invalid_messages", param=f"messages[{i}].content")
        return "\n".join(parts)  # images, audio, files: not read
    raise ApiError(400, f"messages[{i}].content must be a string or a list of content parts", "invalid_messages",
                   param=f"messages[{i}].content")


def _optional_str(body: dict, name: str) -> str | None:
    value = body.get(name)
    if value is not None and not isinstance(value, str):
        raise ApiError(400, f"{name} must be a string", "invalid_request", param=name)
    return (value or "").strip() or None


def parse_chat(body: object, api) -> ChatRequest:
    """A checked chat request (ApiError 400/404/413 otherwise)."""
    limits, max_question = api.cfg.api, int(api.cfg.question.max_chars)
    if not isinstance(body, dict):
        raise ApiError(400, "the request body must be a JSON object", "invalid_json")
    model = body.get("model")
    if not isinstance(model, str) or not model:
        raise ApiError(400, "you must provide a model parameter", "invalid_request", param="model")
    if model not in api.models:
        raise ApiError(404, f"the model `{model[:100]}` does not exist; available: {', '.join(api.listed)}",
                       "model_not_found", param="model")
    messages = body.get("messages")
    if not isinstance(messages, list) or not messages:
        raise ApiError(400, "messages must be a non-empty list", "invalid_messages", param="messages")
    if len(messages) > int(limits.max_messages):
        raise too_long(f"too many messages: {len(messages)} (at most {limits.max_messages})", "messages")
    turns: list[tuple[str, str]] = []
    chars = 0
    for i, m in enumerate(messages):
        if not isinstance(m, dict) or m.get("role") not in ROLES:
            raise ApiError(400, f"messages[{i}] must be an object with a role ({', '.join(sorted(ROLES))})",
                           "invalid_messages", param=f"messages[{i}]")
        text = _text(m, i)
        chars += len(text)
        if chars > int(limits.max_chars):
            raise too_long(f"the messages are longer than {limits.max_chars} characters together", "messages")
        turns.append((m["role"], text))
    role, question = turns[-1]
    if role != "user":
        raise ApiError(400, "the last message must be the user's question", "invalid_messages", param="messages")
    if len(question) > max_question:
        raise too_long(f"the question is longer than {max_question} characters", "messages", "question_too_long")
    if body.get("n") not in (None, 1):
        raise ApiError(400, "n must be 1", "invalid_request", param="n")
    stream = body.get("stream", False)
    options = body.get("stream_options") or {}
    if not isinstance(stream, bool) or not isinstance(options, dict):
        raise ApiError(400, "stream must be true or false, stream_options an object", "invalid_request", param="stream")
    return ChatRequest(model=model, question=question, history=history(turns[:-1]), stream=stream,
                       include_usage=bool(options.get("include_usage")), region=_optional_str(body, "region"),
                       doc=_optional_str(body, "doc"), prompt_chars=chars)


def history(turns: list[tuple[str, str]], max_turns: int = HISTORY_TURNS) -> list[tuple[str, str]]:
    """The last `max_turns` user → assistant pairs of the conversation, oldest first."""
    talk = [(r, t) for r, t in turns if r in ("user", "assistant")]
    pairs = [(talk[i][1], talk[i + 1][1]) for i in range(len(talk) - 1)
             if talk[i][0] == "user" and talk[i + 1][0] == "assistant"]
    return [x for q, a in pairs[-max_turns:] for x in (("user", q), ("assistant", a))]


def citation_json(c: Citation) -> dict:
    d = {"n": c.n, "doc_id": c.doc_id, "title": c.title, "section": c.section, "start": c.start, "end": c.end,
         "quote": c.text}
    if c.page is not None:
        d["page"] = c.page
    return d


class Reply:
    """The fields every object of one reply shares (id, created, model, fingerprint)."""

    def __init__(self, req: ChatRequest, version: str | None):
        self.req = req
        self.base = {"id": f"chatcmpl-{secrets.token_hex(12)}", "created": int(time.time()), "model": req.model,
                     "system_fingerprint": f"index-{version}" if version else None}

    def usage(self, answer: Answer) -> dict:
        n = len(answer.text)
        return {"prompt_tokens": self.req.prompt_chars, "completion_tokens": n, "total_tokens": self.req.prompt_chars + n}

    def completion(self, answer: Answer) -> dict:
        choice = {"index": 0, "message": {"role": "assistant", "content": answer.text, "refusal": None},
                  "finish_reason": "stop", "logprobs": None,
                  "citations": [citation_json(c) for c in answer.citations], "refused": answer.refused}
        return {**self.base, "object": "chat.completion", "choices": [choice], "usage": self.usage(answer)}

    def chunk(self, delta: dict, final: Answer | None = None) -> bytes:
        choice = {"index": 0, "delta": delta, "finish_reason": "stop" if final else None, "logprobs": None}
        if final is not None:
            choice.update(citations=[citation_json(c) for c in final.citations], refused=final.refused)
        obj = {**self.base, "object": "chat.completion.chunk", "choices": [choice]}
        if self.req.include_usage:
            obj["usage"] = None
        return sse(obj)

    def usage_chunk(self, answer: Answer) -> bytes:
        return sse({**self.base, "object": "chat.completion.chunk", "choices": [], "usage": self.usage(answer)})


def sse(obj) -> bytes:
    return f"data: {json.dumps(obj, ensure_ascii=False)}\n\n".encode()


DONE = b"data: [DONE]\n\n"


def _next(it):
    return next(it, None)


async def _events(reply: Reply, events, first):
    """The server-sent events of one answer: role, text deltas, the final chunk, [DONE]."""
    from starlette.concurrency import run_in_threadpool

    try:
        yield reply.chunk({"role": "assistant", "content": ""})
        streamed, item = "", first
        while not isinstance(item, Answer):
            if item is None:
                raise RuntimeError("the answerer produced no final answer")
            if item:
                streamed += item
                yield reply.chunk({"content": item})
            item = await run_in_threadpool(_next, events)
        if not item.text.startswith(streamed):  # cannot happen for quoted answers; never show a changed text
            raise RuntimeError("the streamed text is not the checked answer")
        if item.text[len(streamed):]:
            yield reply.chunk({"content": item.text[len(streamed):]})
        yield reply.chunk({}, final=item)
        if reply.req.include_usage:
            yield reply.usage_chunk(item)
    except Exception as e:  # after the first byte the status is sent: the error is an event
        err = api_error(e)
        yield sse({"error": {"message": err.message, "type": err.type, "param": err.param, "code": err.code}})
    finally:
        try:
            events.close()
        except (AttributeError, ValueError):  # a plain iterator, or a step still running in its thread
            pass
    yield DONE


def _sse_response(content, slot: Slot):
    from starlette.responses import StreamingResponse

    class SSEResponse(StreamingResponse):
        async def __call__(self, scope, receive, send):
            try:
                await super().__call__(scope, receive, send)
            finally:  # also when the client went away before or while it streamed
                try:
                    await self.body_iterator.aclose()  # type: ignore[attr-defined]
                finally:
                    slot.release()

    return SSEResponse(content, media_type="text/event-stream",
                       headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"})


def _pieces(answer: Answer):
    yield from (answer.text[i:i + PIECE] for i in range(0, len(answer.text), PIECE))
    yield answer


async def _stream(api, svc, req: ChatRequest):
    """The streaming reply; the question's errors (bad question, no index) are found before the
    first byte, so that they keep their HTTP status."""
    from starlette.concurrency import run_in_threadpool

    await api.gate.enter()
    slot = Slot(api.gate)
    try:
        snap = await run_in_threadpool(lambda: svc.current().snapshot())
        if api.cfg.answer.backend == "extractive":
            events = snap.ask_stream(req.question, req.region, req.doc, req.history)
        else:
            events = _pieces(await run_in_threadpool(snap.ask, req.question, req.region, req.doc, req.history))
        first = await run_in_threadpool(_next, events)
    except BaseException:
        slot.release()
        raise
    return _sse_response(_events(Reply(req, snap.index.version), events, first), slot)


def _answer(svc, req: ChatRequest) -> tuple[Answer, str]:
    snap = svc.current().snapshot()
    return snap.ask(req.question, req.region, req.doc, req.history), snap.index.version


def chat_route(api):
    from starlette.responses import JSONResponse

    async def chat_completions(request: Request):
        try:
            api.authorize_openai(request)
            req = parse_chat(await read_json(request, int(api.cfg.api.max_body)), api)
            svc = api.models[req.model]
            if req.stream:
                return await _stream(api, svc, req)
            answer, version = await api.run(_answer, svc, req)
            return JSONResponse(Reply(req, version).completion(answer))
        except Exception as e:
            return api_error(e).openai()

    return chat_completions


def models_route(api):
    from starlette.responses import JSONResponse

    created = int(time.time())

    async def list_models(request: Request):
        try:
            api.authorize_openai(request)
        except ApiError as e:
            return e.openai()
        return JSONResponse({"object": "list", "data": [{"id": m, "object": "model", "created": created,
                                                         "owned_by": "rag"} for m in api.listed]})

    return list_models
