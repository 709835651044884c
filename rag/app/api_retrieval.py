"""Dify's External Knowledge API: `POST /retrieval` over the pipeline's retriever.

Request: `knowledge_id` (one of `[api] knowledge_ids`; else 404 with error 2001), `query`,
`retrieval_setting {top_k, score_threshold}` (top_k capped at `MAX_TOP_K`; missing: the
configured top_k and 0), optional `metadata_condition {logical_operator: and|or, conditions:
[{name, comparison_operator, value}]}` over the document fields `FIELDS` (a list of names matches
when any of them does; "unknown" metadata counts as empty). Operators: is, is not, =, ≠,
contains, not contains, start with, end with, in, not in, empty, not empty (null, not null),
before, after, >, <, ≥, ≤ (also != >= <=). before/after and the order operators compare dates
when both sides hold one: a field's date is the span it names ("2021" = the whole year, a period
"2021-2025" = 2021-01-01…2025-12-31), a value is an ISO date (2021, 2021-11, 2021-11-27,
2021-11-27T08:00:00Z, 2021年11月27日) or a Unix timestamp (as Dify sends dates); "before X" holds
when the whole span ends before X begins, "after X" when it begins after X ends. Otherwise they
compare numbers. Filtering restricts retrieval to the matching documents (exact, not a cut of
the results).

Response: `{"records": [{content, score, title, metadata}]}`, best first. `content` is the
chunk's text (document offsets `start`/`end` in `metadata`), `metadata` always an object:
doc_id, chunk_id, section, start, end, region, province, city, level, period, doc_type, issuer,
date, doc_number (and page for PDFs). `score` (0-1) is the IDF-weighted share of the question's
content words found in the passage (with its title and section path), the measure the refusal
gate uses, made non-increasing down the ranking so that a threshold keeps a prefix of it; a
question without content words gets the fused retrieval score relative to the best hit.
"""

from __future__ import annotations

import calendar
import re
from dataclasses import dataclass
from datetime import UTC, date, datetime

from starlette.requests import Request

from rag.app.api_base import DIFY_NO_KNOWLEDGE, ApiError, api_error, read_json, too_long
from rag.records import UNKNOWN

MAX_TOP_K = 50
FIELDS = ("doc_id", "title", "issuer", "region", "level", "province", "city", "period", "doc_type", "date",
          "doc_number")
ALIASES = {"!=": "≠", "==": "=", ">=": "≥", "<=": "≤", "null": "empty", "not null": "not empty",
           "starts with": "start with", "ends with": "end with"}
NEGATED = {"is not": "is", "≠": "=", "not contains": "contains", "not in": "in", "not empty": "empty"}
POSITIVE = {"is", "=", "contains", "start with", "end with", "in", "empty", "before", "after", ">", "<", "≥", "≤"}
_DATE_RE = re.compile(r"(?<!\d)(19\d\d|20\d\d)(?:\s*[-/.年]\s*(\d{1,2})(?!\d)(?:\s*[-/.月]\s*(\d{1,2})(?!\d))?)?")
_NUMBER_RE = re.compile(r"\s*-?\d+(?:\.\d+)?\s*")


@dataclass
class Condition:
    names: list[str]
    op: str  # a positive operator
    negate: bool
    value: object


@dataclass
class RetrievalRequest:
    knowledge_id: str
    query: str
    top_k: int
    threshold: float
    logic: str = "and"
    conditions: list[Condition] | None = None


def _bad(message: str) -> ApiError:
    return ApiError(400, message, "invalid_request")


def _number(x) -> bool:
    return isinstance(x, (int, float)) and not isinstance(x, bool)


def parse_condition(item: object, i: int) -> Condition:
    where = f"metadata_condition.conditions[{i}]"
    if not isinstance(item, dict):
        raise _bad(f"{where} must be an object")
    names = item.get("name")
    names = [names] if isinstance(names, str) else names
    if not isinstance(names, list) or not names or not all(isinstance(n, str) for n in names):
        raise _bad(f"{where}.name must be a field name or a list of them")
    unknown = [n for n in names if n not in FIELDS]
    if unknown:
        raise _bad(f"{where}.name: no metadata field {unknown[0]!r}; the fields are {', '.join(FIELDS)}")
    op = item.get("comparison_operator")
    op = ALIASES.get(op.strip().lower(), op.strip().lower()) if isinstance(op, str) else op
    if op not in POSITIVE and op not in NEGATED:
        known = sorted(POSITIVE | set(NEGATED))
        raise _bad(f"{where}.comparison_operator {op!r} is not supported; use one of {', '.join(known)}")
    value = item.get("value")
    if op not in ("empty", "not empty"):
        values = value if isinstance(value, list) else [value]
        if value is None or value == [] or not all(isinstance(v, str) or _number(v) for v in values):
            raise _bad(f"{where}.value must be a string, a number or a list of them for {op!r}")
    return Condition(names, NEGATED.get(op, op), op in NEGATED, value)


def parse_retrieval(body: object, cfg) -> RetrievalRequest:
    """A checked /retrieval request (ApiError 400/413 otherwise)."""
    if not isinstance(body, dict):
        raise _bad("the request body must be a JSON object")
    kid, query = body.get("knowledge_id"), body.get("query")
    if not isinstance(kid, str) or not kid.strip():
        raise _bad("knowledge_id is required (a string)")
    if not isinstance(query, str):
        raise _bad("query is required (a string)")
    if len(query) > int(cfg.question.max_chars):
        raise too_long(f"the query is longer than {cfg.question.max_chars} characters", "query", "question_too_long")
    setting = body.get("retrieval_setting") or {}
    if not isinstance(setting, dict):
        raise _bad("retrieval_setting must be an object")
    top_k = setting.get("top_k")
    top_k = int(cfg.retrieval.top_k) if top_k is None else top_k
    if not isinstance(top_k, int) or isinstance(top_k, bool) or top_k < 1:
        raise _bad("retrieval_setting.top_k must be a whole number of at least 1")
    threshold = setting.get("score_threshold")
    threshold = 0.0 if threshold is None else threshold
    if not _number(threshold) or not 0 <= threshold <= 1:
        raise _bad("retrieval_setting.score_threshold must be a number from 0 to 1")
    req = RetrievalRequest(kid.strip(), query, min(top_k, MAX_TOP_K), float(threshold))
    mc = body.get("metadata_condition")
    if mc is not None:
        if not isinstance(mc, dict):
            raise _bad("metadata_condition must be an object")
        logic = mc.get("logical_operator") or "and"
        if not isinstance(logic, str) or logic.lower() not in ("and", "or"):
            raise _bad("metadata_condition.logical_operator must be \"and\" or \"or\"")
        items = mc.get("conditions") or []
        if not isinstance(items, list):
            raise _bad("metadata_condition.conditions must be a list")
        req.logic = logic.lower()
        req.conditions = [parse_condition(c, i) for i, c in enumerate(items)] or None
    return req


# ---------------------------------------------------------------- the filter

def date_span(value) -> tuple[date, date] | None:
    """The days a value names: a year, month or day (or several: their whole span), a
    timestamp in seconds or milliseconds, or None."""
    if isinstance(value, bool):
        return None
    if _number(value) or (isinstance(value, str) and _NUMBER_RE.fullmatch(value)):
        x = float(value)
        if x == int(x) and 1900 <= x <= 2100:
            return date(int(x), 1, 1), date(int(x), 12, 31)
        try:
            d = datetime.fromtimestamp(x / 1000 if abs(x) >= 1e11 else x, tz=UTC).date()
        except (OverflowError, OSError, ValueError):
            return None
        return d, d
    if not isinstance(value, str):
        return None
    spans = []
    for m in _DATE_RE.finditer(value):
        y = int(m.group(1))
        mo = int(m.group(2)) if m.group(2) and 1 <= int(m.group(2)) <= 12 else None
        if mo is None:
            spans.append((date(y, 1, 1), date(y, 12, 31)))
            continue
        last = calendar.monthrange(y, mo)[1]
        d = int(m.group(3)) if m.group(3) and 1 <= int(m.group(3)) <= last else None
        spans.append((date(y, mo, d), date(y, mo, d)) if d else (date(y, mo, 1), date(y, mo, last)))
    return (min(s[0] for s in spans), max(s[1] for s in spans)) if spans else None


def _as_float(x) -> float | None:
    if _number(x):
        return float(x)
    return float(x) if isinstance(x, str) and _NUMBER_RE.fullmatch(x) else None


def _order(field: str, op: str, value) -> bool:
    a, b = date_span(field), date_span(value)
    if a and b:
        return {"before": a[1] < b[0], "<": a[1] < b[0], "after": a[0] > b[1], ">": a[0] > b[1],
                "≤": a[0] <= b[1], "≥": a[1] >= b[0]}[op]
    x, y = _as_float(field), _as_float(value)
    if x is None or y is None:
        return False
    return {"before": x < y, "<": x < y, "after": x > y, ">": x > y, "≤": x <= y, "≥": x >= y}[op]


def _same(field: str, value) -> bool:
    x, y = _as_float(field), _as_float(value)
    if x is not None and y is not None:
        return x == y
    return field.casefold() == str(value).strip().casefold()


def _holds(op: str, field: str, value) -> bool:
    """Whether the positive operator `op` holds for one field's text ("" when unknown)."""
    if op == "empty":
        return field == ""
    if op == "in":
        values = value if isinstance(value, list) else re.split(r"\s*[,,、;;]\s*", str(value).strip())
        return any(_same(field, v) for v in values if str(v).strip())
    if isinstance(value, list):  # a list for a one-value operator: any of them
        return any(_holds(op, field, v) for v in value)
    text, v = field.casefold(), str(value).strip().casefold()
    if op in ("is", "="):
        return _same(field, value)
    if op == "contains":
        return v in text
    if op == "start with":
        return text.startswith(v)
    if op == "end with":
        return text.endswith(v)
    return _order(field, op, value)


def doc_fields(rec) -> dict[str, str]:
    """A document's filterable fields, "" for what its metadata does not know."""
    meta = rec.meta.to_dict()
    fields = {name: ("" if meta.get(name, UNKNOWN) == UNKNOWN else str(meta[name])) for name in FIELDS if name != "doc_id"}
    return {"doc_id": rec.doc_id, **fields}


def matching_docs(docs, req: RetrievalRequest) -> set[str] | None:
    """Doc ids the metadata condition allows (None: no condition)."""
    if not req.conditions:
        return None
    combine = all if req.logic == "and" else any
    out = set()
    for rec in docs:
        f = doc_fields(rec)
        if combine(any(_holds(c.op, f[n], c.value) for n in c.names) != c.negate for c in req.conditions):
            out.add(rec.doc_id)
    return out


# ---------------------------------------------------------------- the records

def scores(result, snap, query: str) -> list[float]:
    """0-1 relevance of each hit (see the module docstring), non-increasing down the ranking."""
    from rag.answer.evidence import Evidence, coverage

    hits = result.hits
    ev = Evidence.gather(query, query, result, snap.context())
    if ev.words:
        raw = [coverage(ev.words, ev.weights, f"{h.title}\n{h.chunk.section}\n{h.chunk.text}") for h in hits]
    else:
        top = max((h.score for h in hits), default=0.0) or 1.0
        raw = [min(1.0, max(0.0, h.score / top)) for h in hits]
    out, last = [], 1.0
    for r in raw:
        last = min(last, r)
        out.append(round(last, 4))
    return out


def records(svc, req: RetrievalRequest) -> list[dict]:
    snap = svc.current().snapshot()
    docs = {d.doc_id: d for d in snap.index.documents()}
    allowed = matching_docs(docs.values(), req)
    if allowed is not None and not allowed:
        return []
    result = snap.search(req.query, req.top_k, doc_ids=allowed)
    out = []
    for hit, score in zip(result.hits, scores(result, snap, req.query)):
        if score < req.threshold:
            break  # the scores do not increase: nothing after passes either
        c = hit.chunk
        fields = doc_fields(docs[c.doc_id]) if c.doc_id in docs else {"doc_id": c.doc_id}
        meta = {"doc_id": c.doc_id, "chunk_id": c.chunk_id, "section": c.section, "start": c.start, "end": c.end,
                **{k: v for k, v in fields.items() if k not in ("doc_id", "title")}}
        if c.page is not None:
            meta["page"] = c.page
        out.append({"content": c.text, "score": score, "title": hit.title, "metadata": meta})
    return out


def retrieval_route(api):
    from starlette.responses import JSONResponse

    async def retrieval(request: Request):
        try:
            api.authorize_dify(request)
            req = parse_retrieval(await read_json(request, int(api.cfg.api.max_body)), api.cfg)
            svc = api.knowledge.get(req.knowledge_id)
            if svc is None:
                raise ApiError(404, "The knowledge does not exist", "knowledge_not_found", dify_code=DIFY_NO_KNOWLEDGE)
            return JSONResponse({"records": await api.run(records, svc, req)})
        except Exception as e:
            return api_error(e).dify()

    return retrieval
