"""Evaluation metrics, computed apart from running and reporting.

Matching: both sides go through `rag.text.normalize.normalize_for_match` (t2s, width, doubled punctuation,
no whitespace), then plain substring search.

Retrieval (answerable questions only; the rank is the 1-based position in the list `search` returned):
- default: the gold criterion is met at the first chunk containing any gold quote;
- `gold_all`: at the rank where the union of the top chunks covers every quote;
- `gold_docs_min: N`: at the rank where chunks containing a gold quote come from N distinct doc_ids;
- both flags: at the later of the two ranks.
hit@k = criterion met within the top k; mrr@10 = mean of 1/rank (0 when not met in the top 10).
The primary metric is mrr@10.

Answers (systems with `ask`):
- fact_recall: mean over answerable questions of the share of answer_facts found in the answer
  text (a fact `a|b` counts when any alternative is found); a refused answer keeps whatever it says;
- fully_right: answerable → all facts found, not refused, and at most MAX_ANSWER_CHARS (400)
  characters without the [n] markers; unanswerable → refused;
- refusal_acc: share of all questions where refused == not answerable;
- missed_refusals / missed_refusal_rate: unanswerable questions answered (count, share of unanswerable);
- false_refusals / false_refusal_rate: answerable questions refused (count, share of answerable);
- citation_precision: over the citations of answerable, not refused answers (pooled), the share that
  are supported. A citation is supported when its text contains a gold quote or an answer fact, or
  when its doc_id and [start, end) range overlap a chunk that contains a gold quote — any chunk among
  the answer's own hits and the system's search hits for that question. The overlap rule is lenient
  on purpose (another sentence of a gold chunk counts): citation text is one sentence or item, and
  a gold quote may sit in the neighbouring sentence;
- cited_answers: share of answerable, not refused answers with at least one citation.

Latency: every `search` and `ask` call is timed with time.perf_counter; p50/p95 in ms (linear
interpolation, like numpy's default).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Iterable, Sequence

from rag.evaluation.dataset import Question, _norm, contains, fact_found
from rag.records import Citation, Hit

if TYPE_CHECKING:  # pragma: no cover
    from rag.evaluation.results import QuestionRecord

PRIMARY_METRIC = "mrr@10"
SUMMARY_METRICS = ("hit@1", "hit@3", "hit@5", "mrr@10", "fact_recall", "fully_right", "refusal_acc",
                   "missed_refusals", "false_refusals", "citation_precision", "search_p50_ms",
                   "ask_p50_ms")
REGRESSION_DROP = 0.02  # a rate metric that gets worse by more than this is a regression
TYPE_ORDER = ("fact", "department", "deadline", "target", "metadata", "comparison",
              "traditional", "colloquial", "unanswerable")
OVERALL = "overall"


@dataclass(frozen=True)
class Metric:
    name: str
    group: str  # retrieval | answer | latency
    higher_is_better: bool = True
    kind: str = "rate"  # rate (0..1) | count | ms


METRICS: tuple[Metric, ...] = (
    Metric("hit@1", "retrieval"),
    Metric("hit@3", "retrieval"),
    Metric("hit@5", "retrieval"),
    Metric("mrr@10", "retrieval"),
    Metric("fact_recall", "answer"),
    Metric("fully_right", "answer"),
    Metric("refusal_acc", "answer"),
    Metric("missed_refusals", "answer", False, "count"),
    Metric("missed_refusal_rate", "answer", False),
    Metric("false_refusals", "answer", False, "count"),
    Metric("false_refusal_rate", "answer", False),
    Metric("citation_precision", "answer"),
    Metric("cited_answers", "answer"),
    Metric("search_p50_ms", "latency", False, "ms"),
    Metric("search_p95_ms", "latency", False, "ms"),
    Metric("ask_p50_ms", "latency", False, "ms"),
    Metric("ask_p95_ms", "latency", False, "ms"),
)
METRIC_BY_NAME = {m.name: m for m in METRICS}
GROUPS = ("retrieval", "answer", "latency")


def gold_rank(q: Question, hits: Sequence[Hit]) -> tuple[int | None, list[str], list[str], list[bool]]:
    """(rank at which the gold criterion is met or None, quotes matched in the list,
    distinct doc_ids of gold chunks, per-hit "contains a gold quote" flags)."""
    quotes = [_norm(x) for x in q.gold_quotes]
    covered: set[int] = set()
    docs: list[str] = []
    flags: list[bool] = []
    rank_any = rank_all = rank_docs = None
    for i, hit in enumerate(hits, 1):
        t = _norm(hit.chunk.text)
        matched = {j for j, quote in enumerate(quotes) if quote and quote in t}
        flags.append(bool(matched))
        if matched:
            covered |= matched
            if hit.chunk.doc_id not in docs:
                docs.append(hit.chunk.doc_id)
            if rank_any is None:
                rank_any = i
        if rank_all is None and quotes and len(covered) == len(quotes):
            rank_all = i
        if rank_docs is None and docs and len(docs) >= q.gold_docs_min:
            rank_docs = i
    if q.gold_all or q.gold_docs_min > 1:
        ranks = ([rank_all] if q.gold_all else []) + ([rank_docs] if q.gold_docs_min > 1 else [])
        rank = None if None in ranks else max(ranks)
    else:
        rank = rank_any
    matched_quotes = [q.gold_quotes[j] for j in sorted(covered)]
    return rank, matched_quotes, docs, flags


def _is_gold(q: Question, hit: Hit) -> bool:
    return any(contains(hit.chunk.text, quote) for quote in q.gold_quotes)


def _overlaps(c: Citation, hit: Hit) -> bool:
    ch = hit.chunk
    return c.doc_id == ch.doc_id and c.start < ch.end and ch.start < c.end


def citation_supported(c: Citation, q: Question, gold_hits: Sequence[Hit]) -> bool:
    """Supported: the citation text contains a gold quote or an answer fact, or the citation's
    range overlaps a chunk (in `gold_hits`) that contains a gold quote."""
    if any(contains(c.text, quote) for quote in q.gold_quotes):
        return True
    if any(fact_found(c.text, fact) for fact in q.answer_facts):
        return True
    return any(_overlaps(c, h) for h in gold_hits)


def percentile(values: Sequence[float], p: float) -> float | None:
    """Linear-interpolated percentile (numpy's default); None for no values."""
    xs = sorted(values)
    if not xs:
        return None
    pos = (len(xs) - 1) * p / 100.0
    lo, hi = math.floor(pos), math.ceil(pos)
    return xs[lo] + (xs[hi] - xs[lo]) * (pos - lo)


def _mean(values: Iterable[float]) -> float | None:
    xs = list(values)
    return sum(xs) / len(xs) if xs else None


def _share(num: int, den: int) -> float | None:
    return num / den if den else None


MAX_ANSWER_CHARS = 400  # a fully right answer is also short


def answer_length(text: str) -> int:
    """Characters of an answer without its [n] citation markers."""
    import re

    return len(re.sub(r"\[\d+\]", "", text or ""))


def refusal_rules(records: Sequence["QuestionRecord"]) -> dict[str, dict[str, int]]:
    """Per refusing check: how many refusals it made, how many were wrong (the question was
    answerable) and right (it was not)."""
    out: dict[str, dict[str, int]] = {}
    for r in records:
        a = r.answer
        if a is None or not a.refused:
            continue
        row = out.setdefault(a.refusal_rule or "unknown", {"refusals": 0, "wrong": 0, "right": 0})
        row["refusals"] += 1
        row["wrong" if r.answerable else "right"] += 1
    return dict(sorted(out.items(), key=lambda kv: -kv[1]["refusals"]))


def aggregate(records: Sequence[QuestionRecord], can_ask: bool) -> dict[str, Any]:
    """One table row: counts and every metric over `records` (None where undefined)."""
    ans = [r for r in records if r.answerable]
    unans = [r for r in records if not r.answerable]
    row: dict[str, Any] = {"n": len(records), "n_answerable": len(ans), "n_unanswerable": len(unans),
                           "errors": sum(1 for r in records if r.error)}
    rets = [r.retrieval for r in ans if r.retrieval is not None]
    row["hit@1"] = _mean(float(x.hit_at_1) for x in rets)
    row["hit@3"] = _mean(float(x.hit_at_3) for x in rets)
    row["hit@5"] = _mean(float(x.hit_at_5) for x in rets)
    row["mrr@10"] = _mean(x.rr for x in rets)
    if can_ask:
        answered = [r for r in records if r.answer is not None]
        a_ans = [r.answer for r in ans if r.answer is not None]
        a_unans = [r.answer for r in unans if r.answer is not None]
        row["fact_recall"] = _mean(a.fact_recall for a in a_ans if a.fact_recall is not None)
        row["fully_right"] = _mean(float(r.answer.fully_right) for r in answered)
        row["refusal_acc"] = _mean(float(r.answer.refusal_ok) for r in answered)
        missed = sum(1 for a in a_unans if not a.refused)
        false = sum(1 for a in a_ans if a.refused)
        row["missed_refusals"] = missed if a_unans else None
        row["missed_refusal_rate"] = _share(missed, len(a_unans))
        row["false_refusals"] = false if a_ans else None
        row["false_refusal_rate"] = _share(false, len(a_ans))
        judged = [a for a in a_ans if not a.refused]
        cites = [c for a in judged for c in a.citations]
        row["citation_precision"] = _share(sum(1 for c in cites if c["supported"]), len(cites))
        row["cited_answers"] = _share(sum(1 for a in judged if a.citations), len(judged))
        ask_ms = [r.ask_ms for r in records if r.ask_ms is not None]
        row["ask_p50_ms"] = percentile(ask_ms, 50)
        row["ask_p95_ms"] = percentile(ask_ms, 95)
    else:
        for m in METRICS:
            if m.group == "answer" or m.name.startswith("ask_"):
                row[m.name] = None
    search_ms = [r.search_ms for r in records if r.search_ms is not None]
    row["search_p50_ms"] = percentile(search_ms, 50)
    row["search_p95_ms"] = percentile(search_ms, 95)
    return row


def ordered_types(types: Iterable[str]) -> list[str]:
    present = set(types)
    return [t for t in TYPE_ORDER if t in present] + sorted(present - set(TYPE_ORDER))


def fmt(value: Any, metric: str | None = None) -> str:
    if value is None:
        return "—"
    m = METRIC_BY_NAME.get(metric or "")
    if m is not None and m.kind == "ms":
        return f"{value:.1f}"
    if isinstance(value, int) or (m is not None and m.kind == "count"):
        return str(int(value))
    return f"{value:.3f}"
