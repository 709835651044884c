"""Evaluation runner: retrieval and answer metrics over eval/questions.jsonl, reports, baseline.

A *system* is any object with `name: str` and `search(question, k) -> list[Hit]`, and optionally
`ask(question) -> Answer`. A system without `ask` (or whose `ask` is None) has no answer metrics:
they are absent (None in Python, null in JSON, "—" in reports), never zero.

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
- fully_right: answerable → all facts found and not refused; unanswerable → refused;
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

A call that raises is recorded as an error on that question (empty hits / no answer, counted as
a miss) and counted in `errors`; `evaluate_and_report` then exits with status 1.
"""

from __future__ import annotations

import hashlib
import json
import math
import subprocess
import time
from dataclasses import asdict, dataclass, field
from datetime import datetime
from functools import lru_cache
from pathlib import Path
from typing import Any, Callable, Iterable, Sequence

from rag.records import Answer, Citation, Hit
from rag.text.normalize import normalize_for_match

PRIMARY_METRIC = "mrr@10"
SUMMARY_METRICS = ("hit@1", "hit@3", "hit@5", "mrr@10", "fact_recall", "fully_right", "refusal_acc",
                   "missed_refusals", "false_refusals", "citation_precision", "search_p50_ms",
                   "ask_p50_ms")
REGRESSION_DROP = 0.02  # a rate metric that gets worse by more than this is a regression
TYPE_ORDER = ("fact", "department", "deadline", "target", "metadata", "comparison",
              "traditional", "colloquial", "unanswerable")
OVERALL = "overall"
TOP_SHOWN = 5  # retrieved chunks kept per question in the records
SNIPPET = 120  # characters of chunk text kept in the records


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


# ------------------------------------------------------------------------------ questions

REQUIRED_KEYS = ("id", "type", "question", "gold_quotes", "answer_facts", "answerable", "doc")
OPTIONAL_KEYS = ("gold_all", "gold_docs_min", "note")


@dataclass
class Question:
    id: str
    type: str
    question: str
    gold_quotes: list[str]
    answer_facts: list[str]
    answerable: bool
    doc: str | list[str] | None = None
    gold_all: bool = False
    gold_docs_min: int = 0
    note: str = ""


def load_questions(path: str | Path) -> list[Question]:
    """Read a questions.jsonl file; any problem raises ValueError naming the file and line."""
    path = Path(path)
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except FileNotFoundError:
        raise FileNotFoundError(f"questions file not found: {path}") from None
    questions: list[Question] = []
    seen: set[str] = set()
    for n, line in enumerate(lines, 1):
        if not line.strip():
            continue
        where = f"{path}, line {n}"
        try:
            obj = json.loads(line)
        except json.JSONDecodeError as e:
            raise ValueError(f"{where}: invalid JSON ({e.msg} at column {e.colno})") from None
        if not isinstance(obj, dict):
            raise ValueError(f"{where}: expected a JSON object")
        missing = [k for k in REQUIRED_KEYS if k not in obj]
        if missing:
            raise ValueError(f"{where}: missing keys {', '.join(missing)}")
        unknown = [k for k in obj if k not in REQUIRED_KEYS + OPTIONAL_KEYS]
        if unknown:
            raise ValueError(f"{where}: unknown keys {', '.join(unknown)} "
                             f"(known: {', '.join(REQUIRED_KEYS + OPTIONAL_KEYS)})")
        where = f"{where} ({obj['id']})"
        if not isinstance(obj["id"], str) or not obj["id"]:
            raise ValueError(f"{where}: id must be a non-empty string")
        if obj["id"] in seen:
            raise ValueError(f"{where}: duplicate id")
        seen.add(obj["id"])
        if not isinstance(obj["question"], str) or not obj["question"].strip():
            raise ValueError(f"{where}: question must be a non-empty string")
        for key in ("gold_quotes", "answer_facts"):
            if not isinstance(obj[key], list) or not all(isinstance(x, str) for x in obj[key]):
                raise ValueError(f"{where}: {key} must be a list of strings")
        if not isinstance(obj["answerable"], bool):
            raise ValueError(f"{where}: answerable must be true or false")
        if obj["answerable"] and not obj["gold_quotes"]:
            raise ValueError(f"{where}: an answerable question needs gold_quotes")
        docs_min = obj.get("gold_docs_min", 0) or 0
        if not isinstance(docs_min, int) or isinstance(docs_min, bool) or docs_min < 0:
            raise ValueError(f"{where}: gold_docs_min must be a non-negative integer")
        questions.append(Question(
            id=obj["id"], type=str(obj["type"]), question=obj["question"],
            gold_quotes=list(obj["gold_quotes"]), answer_facts=list(obj["answer_facts"]),
            answerable=obj["answerable"], doc=obj["doc"], gold_all=bool(obj.get("gold_all", False)),
            gold_docs_min=docs_min, note=str(obj.get("note", "")),
        ))
    if not questions:
        raise ValueError(f"{path}: no questions")
    return questions


def questions_hash(questions: Sequence[Question]) -> str:
    """Hash of the question set's content (not of the file's formatting)."""
    data = json.dumps([asdict(q) for q in questions], ensure_ascii=False, sort_keys=True)
    return hashlib.sha256(data.encode("utf-8")).hexdigest()[:16]


def dict_hash(d: dict | None) -> str | None:
    if d is None:
        return None
    data = json.dumps(d, ensure_ascii=False, sort_keys=True, default=str)
    return hashlib.sha256(data.encode("utf-8")).hexdigest()[:16]


# ------------------------------------------------------------------------------ matching

@lru_cache(maxsize=50_000)
def _norm(text: str) -> str:
    return normalize_for_match(text or "")


def contains(text: str, phrase: str) -> bool:
    """`phrase` occurs in `text` once both are normalised (an empty phrase never matches)."""
    p = _norm(phrase)
    return bool(p) and p in _norm(text)


def fact_found(text: str, fact: str) -> bool:
    """A fact `a|b` is found when any alternative occurs in the text."""
    return any(contains(text, alt) for alt in fact.split("|") if alt.strip())


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


# ------------------------------------------------------------------------------ records

@dataclass
class RetrievalRecord:
    rank: int | None  # where the gold criterion is met (1-based), None if not within the list
    hit_at_1: bool
    hit_at_3: bool
    hit_at_5: bool
    rr: float  # 1/rank within the top 10, else 0
    matched_quotes: list[str]
    missing_quotes: list[str]
    gold_docs: list[str]  # distinct doc_ids of retrieved chunks that contain a gold quote


@dataclass
class AnswerRecord:
    text: str
    refused: bool
    facts_found: list[str]
    facts_missing: list[str]
    fact_recall: float | None  # None for unanswerable questions
    fully_right: bool
    refusal_ok: bool  # refused == not answerable
    citations: list[dict]  # Citation.to_dict() plus "supported": bool | None (None: not judged)
    notice: str = ""


@dataclass
class QuestionRecord:
    id: str
    type: str
    question: str
    answerable: bool
    search_ms: float | None
    top: list[dict]  # the first TOP_SHOWN hits: rank, chunk_id, doc_id, score, gold, text
    retrieval: RetrievalRecord | None  # None for unanswerable questions
    ask_ms: float | None = None
    answer: AnswerRecord | None = None  # None when the system cannot ask
    error: str | None = None


@dataclass
class EvalResult:
    timestamp: str  # ISO, local time with offset
    k: int
    questions: list[Question]
    questions_hash: str
    systems: list[str]  # in the order given; the first one is the main system
    main: str
    can_ask: dict[str, bool]
    records: dict[str, list[QuestionRecord]]
    tables: dict[str, dict[str, Any]]  # system → {"overall": row, "by_type": {type: row}}
    questions_path: str = ""
    manifest: dict | None = None
    config: dict | None = None
    deltas: list["Delta"] | None = None
    threshold_failures: list[str] = field(default_factory=list)
    report_paths: "ReportPaths | None" = None  # set by write_reports
    primary_metric: str = PRIMARY_METRIC

    def metric(self, name: str, system: str | None = None, scope: str = OVERALL) -> float | None:
        table = self.tables[system or self.main]
        row = table["overall"] if scope == OVERALL else table["by_type"].get(scope, {})
        return row.get(name)

    def errors(self, system: str) -> list[QuestionRecord]:
        return [r for r in self.records[system] if r.error]


def _can_ask(system: Any) -> bool:
    return callable(getattr(system, "ask", None))


def _hit_row(rank: int, hit: Hit, gold: bool) -> dict:
    c = hit.chunk
    return {"rank": rank, "chunk_id": c.chunk_id, "doc_id": c.doc_id,
            "score": round(float(hit.score), 6), "gold": gold, "text": c.text[:SNIPPET]}


def _evaluate_one(system: Any, q: Question, k: int, ask: bool) -> QuestionRecord:
    errors: list[str] = []
    t0 = time.perf_counter()
    try:
        hits = list(system.search(q.question, k))[:k]
    except Exception as e:  # noqa: BLE001 - recorded, reported, and turned into exit status 1
        hits = []
        errors.append(f"search: {type(e).__name__}: {e}")
    search_ms = round((time.perf_counter() - t0) * 1000.0, 3)

    rank, matched, gold_docs, flags = gold_rank(q, hits)
    top = [_hit_row(i, h, f) for i, (h, f) in enumerate(zip(hits, flags), 1)][:TOP_SHOWN]
    retrieval = None
    if q.answerable:
        retrieval = RetrievalRecord(
            rank=rank,
            hit_at_1=rank is not None and rank <= 1,
            hit_at_3=rank is not None and rank <= 3,
            hit_at_5=rank is not None and rank <= 5,
            rr=1.0 / rank if rank is not None and rank <= 10 else 0.0,
            matched_quotes=matched,
            missing_quotes=[x for x in q.gold_quotes if x not in matched],
            gold_docs=gold_docs,
        )
    rec = QuestionRecord(id=q.id, type=q.type, question=q.question, answerable=q.answerable,
                         search_ms=search_ms, top=top, retrieval=retrieval)
    if ask:
        t0 = time.perf_counter()
        answer: Answer | None
        try:
            answer = system.ask(q.question)
        except Exception as e:  # noqa: BLE001
            answer = None
            errors.append(f"ask: {type(e).__name__}: {e}")
        rec.ask_ms = round((time.perf_counter() - t0) * 1000.0, 3)
        gold_pool = [h for h, f in zip(hits, flags) if f]
        rec.answer = _answer_record(q, answer, gold_pool)
    rec.error = "; ".join(errors) or None
    return rec


def _answer_record(q: Question, answer: Answer | None, gold_pool: list[Hit]) -> AnswerRecord:
    if answer is None:  # the call failed: judged as an empty, not refused answer
        answer = Answer(question=q.question, text="", refused=False)
    text = answer.text or ""
    found = [f for f in q.answer_facts if fact_found(text, f)]
    missing = [f for f in q.answer_facts if f not in found]
    refused = bool(answer.refused)
    judge = q.answerable and not refused
    if judge:
        gold_pool = gold_pool + [h for h in answer.hits if _is_gold(q, h)]
    citations = []
    for c in answer.citations:
        d = c.to_dict()
        d["supported"] = citation_supported(c, q, gold_pool) if judge else None
        citations.append(d)
    if q.answerable:
        fact_recall = len(found) / len(q.answer_facts) if q.answer_facts else None
        fully = not refused and not missing
    else:
        fact_recall = None
        fully = refused
    return AnswerRecord(text=text, refused=refused, facts_found=found, facts_missing=missing,
                        fact_recall=fact_recall, fully_right=fully,
                        refusal_ok=refused == (not q.answerable), citations=citations,
                        notice=answer.notice or "")


# ------------------------------------------------------------------------------ aggregation

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


def run(questions: Sequence[Question], systems: Sequence[Any], k: int = 10,
        progress: Callable[[str], None] | None = None) -> EvalResult:
    """Ask every system every question. The first system is the main one.
    `k` is the search depth; hit@1/3/5 and mrr@10 look at most at the top k."""
    if not systems:
        raise ValueError("no systems to evaluate")
    if k < 1:
        raise ValueError(f"k must be at least 1, got {k}")
    names = [str(getattr(s, "name", "") or "") for s in systems]
    if "" in names or len(set(names)) != len(names):
        raise ValueError(f"every system needs a distinct non-empty name, got {names}")
    if not all(callable(getattr(s, "search", None)) for s in systems):
        raise ValueError("every system needs a search(question, k) method")
    timestamp = datetime.now().astimezone().isoformat(timespec="seconds")
    records: dict[str, list[QuestionRecord]] = {}
    can_ask: dict[str, bool] = {}
    for system, name in zip(systems, names):
        ask = can_ask[name] = _can_ask(system)
        recs = []
        for i, q in enumerate(questions, 1):
            recs.append(_evaluate_one(system, q, k, ask))
            if progress:
                progress(f"{name}: {i}/{len(questions)} {q.id}")
        records[name] = recs
    tables = {}
    types = ordered_types(q.type for q in questions)
    for name in names:
        recs = records[name]
        tables[name] = {
            "overall": aggregate(recs, can_ask[name]),
            "by_type": {t: aggregate([r for r in recs if r.type == t], can_ask[name]) for t in types},
        }
    return EvalResult(timestamp=timestamp, k=k, questions=list(questions),
                      questions_hash=questions_hash(questions), systems=names, main=names[0],
                      can_ask=can_ask, records=records, tables=tables)


# ------------------------------------------------------------------------------ formatting

def fmt(value: Any, metric: str | None = None) -> str:
    if value is None:
        return "—"
    m = METRIC_BY_NAME.get(metric or "")
    if m is not None and m.kind == "ms":
        return f"{value:.1f}"
    if isinstance(value, int) or (m is not None and m.kind == "count"):
        return str(int(value))
    return f"{value:.3f}"


def _table(header: list[str], rows: list[list[str]], left: int = 1) -> str:
    """Plain-text table: the first `left` columns left-aligned, the others right-aligned."""
    widths = [max(len(r[i]) for r in [header] + rows) for i in range(len(header))]

    def line(cells):
        return "  ".join(c.ljust(w) if i < left else c.rjust(w) for i, (c, w) in enumerate(zip(cells, widths))).rstrip()

    return "\n".join([line(header)] + [line(r) for r in rows])


def format_summary(result: EvalResult, deltas: Sequence["Delta"] | None = None) -> str:
    """Compact terminal summary: metrics as rows, systems as columns (overall), then deltas."""
    n = len(result.questions)
    n_ans = sum(q.answerable for q in result.questions)
    lines = [f"{n} questions ({n_ans} answerable), k={result.k}, main system: {result.main}, "
             f"primary metric: {result.primary_metric}"]
    rows = []
    for m in SUMMARY_METRICS:
        values = [result.tables[s]["overall"].get(m) for s in result.systems]
        if all(v is None for v in values):
            continue
        label = m + (" *" if m == result.primary_metric else "")
        rows.append([label] + [fmt(v, m) for v in values])
    lines.append(_table(["metric"] + result.systems, rows))
    for s in result.systems:
        errs = result.errors(s)
        if errs:
            lines.append(f"WARNING: system {s} raised on {len(errs)} question(s), "
                         f"first: {errs[0].id}: {errs[0].error}")
    if deltas is not None:
        lines.append("")
        lines.append(format_deltas(deltas))
    return "\n".join(lines)


# ------------------------------------------------------------------------------ baseline

@dataclass
class Delta:
    scope: str  # "overall" or a question type
    metric: str
    baseline: float | None
    current: float | None
    diff: float | None  # current - baseline (None when either is absent)
    regression: bool  # worse by more than REGRESSION_DROP (direction per metric)

    @property
    def arrow(self) -> str:
        if self.diff is None:
            return "?"
        return "▲" if self.diff > 0 else "▼" if self.diff < 0 else "="


class Deltas(list):
    """A list of Delta with the notes of the comparison (baseline made from another question
    set or index, another system name, …)."""

    def __init__(self, items: Iterable[Delta] = (), notes: Iterable[str] = (), source: str = ""):
        super().__init__(items)
        self.notes = list(notes)
        self.source = source

    @property
    def regressions(self) -> list[Delta]:
        return [d for d in self if d.regression]


def _compared_metrics() -> list[str]:
    """Quality metrics (rates) are compared; counts and latency (machine-dependent) are not."""
    return [m.name for m in METRICS if m.kind == "rate"]


def baseline_dict(result: EvalResult, manifest: dict | None = None) -> dict:
    manifest = manifest if manifest is not None else result.manifest
    table = result.tables[result.main]
    return {
        "schema": 1,
        "kind": "baseline",
        "created": result.timestamp,
        "system": result.main,
        "git_commit": git_commit()[0],
        "k": result.k,
        "questions_hash": result.questions_hash,
        "manifest_hash": dict_hash(manifest),
        "manifest": manifest,
        "tables": {"overall": table["overall"], "by_type": table["by_type"]},
    }


def write_baseline(result: EvalResult, path: str | Path, manifest: dict | None = None) -> Path:
    """Write the main system's tables (overall and per type) as the new baseline."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(baseline_dict(result, manifest), ensure_ascii=False, indent=1) + "\n",
                    encoding="utf-8")
    return path


save_baseline = write_baseline  # public name; evaluate_and_report has a flag of the same name


def _load_baseline(path: Path, main: str) -> tuple[dict, dict, list[str]]:
    """(baseline metadata, {"overall", "by_type"} table, notes). Accepts a baseline file or a
    full JSON report (then the main system's table, or the report's main system)."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise FileNotFoundError(f"baseline not found: {path}") from None
    except (json.JSONDecodeError, UnicodeDecodeError) as e:
        raise ValueError(f"{path}: baseline is not valid JSON ({e})") from None
    notes: list[str] = []
    tables = data.get("tables") if isinstance(data, dict) else None
    if not isinstance(tables, dict):
        raise ValueError(f"{path}: not a baseline or report (no 'tables')")
    if "overall" in tables:
        table, system = tables, data.get("system", "?")
    else:
        system = main if main in tables else data.get("main_system", "")
        if system not in tables:
            raise ValueError(f"{path}: report has no table for system {main!r}")
        table = tables[system]
    if system != main:
        notes.append(f"baseline is for system {system!r}, comparing with {main!r}")
    return data, table, notes


def compare(result: EvalResult, baseline_path: str | Path, manifest: dict | None = None) -> Deltas:
    """The main system's overall and per-type rate metrics against a baseline."""
    path = Path(baseline_path)
    data, table, notes = _load_baseline(path, result.main)
    if data.get("questions_hash") and data["questions_hash"] != result.questions_hash:
        notes.append(f"question set differs from the baseline's "
                     f"({data['questions_hash']} -> {result.questions_hash}): deltas mix both")
    manifest = manifest if manifest is not None else result.manifest
    base_manifest_hash = data.get("manifest_hash")
    cur_manifest_hash = dict_hash(manifest)
    if base_manifest_hash and cur_manifest_hash and base_manifest_hash != cur_manifest_hash:
        keys = _differing_keys(data.get("manifest") or {}, manifest or {})
        notes.append("index manifest differs from the baseline's"
                     + (f" (keys: {', '.join(keys)})" if keys else ""))
    if data.get("k") not in (None, result.k):
        notes.append(f"baseline used k={data['k']}, this run k={result.k}")
    deltas = []
    cur = result.tables[result.main]
    scopes = [(OVERALL, table.get("overall", {}), cur["overall"])]
    for t, row in cur["by_type"].items():
        scopes.append((t, table.get("by_type", {}).get(t, {}), row))
    for scope, base_row, cur_row in scopes:
        for m in _compared_metrics():
            b, c = base_row.get(m), cur_row.get(m)
            if b is None and c is None:
                continue
            diff = round(c - b, 6) if b is not None and c is not None else None
            worse = None if diff is None else (-diff if METRIC_BY_NAME[m].higher_is_better else diff)
            deltas.append(Delta(scope, m, b, c, diff, worse is not None and worse > REGRESSION_DROP))
    created = data.get("created", "?")
    return Deltas(deltas, notes, source=f"{path} ({data.get('system', result.main)}, {created})")


def _differing_keys(a: dict, b: dict) -> list[str]:
    keys = sorted(set(a) | set(b))
    return [k for k in keys if json.dumps(a.get(k), sort_keys=True, default=str)
            != json.dumps(b.get(k), sort_keys=True, default=str)]


def format_deltas(deltas: Sequence[Delta], min_change: float = 0.005) -> str:
    """Overall: every metric. Per type: only changes of at least `min_change` and regressions."""
    source = getattr(deltas, "source", "")
    lines = [f"vs baseline {source}".rstrip()]
    for note in getattr(deltas, "notes", []):
        lines.append(f"NOTE: {note}")
    rows, hidden = [], 0
    for d in deltas:
        shown = d.scope == OVERALL or d.regression or d.diff is None or abs(d.diff) >= min_change
        if not shown:
            hidden += 1
            continue
        change = "n/a" if d.diff is None else "= 0.000" if d.diff == 0 else f"{d.arrow} {d.diff:+.3f}"
        rows.append([d.scope, d.metric, fmt(d.baseline), fmt(d.current), change,
                     "REGRESSION" if d.regression else ""])
    if rows:
        lines.append(_table(["scope", "metric", "base", "now", "change", ""], rows, left=2))
    if hidden:
        lines.append(f"({hidden} per-type values that changed by less than {min_change} are not shown)")
    regs = [d for d in deltas if d.regression]
    lines.append(f"{len(regs)} regression(s) (worse by more than {REGRESSION_DROP})"
                 if regs else "no regressions")
    return "\n".join(lines)


# ------------------------------------------------------------------------------ thresholds

def parse_threshold(spec: str) -> tuple[str, str, float]:
    """"hit@5=0.8" → ("hit@5", ">=", 0.8). `=` means "no worse than": >= for metrics where
    higher is better, <= for the others (refusal rates, counts, latency); `>=`/`<=` are explicit."""
    for op in (">=", "<=", "="):
        if op in spec:
            name, _, value = spec.partition(op)
            break
    else:
        raise ValueError(f"bad threshold {spec!r}: expected METRIC=VALUE, e.g. hit@5=0.8")
    name = name.strip()
    if name not in METRIC_BY_NAME:
        raise ValueError(f"unknown metric {name!r} in threshold {spec!r}; known: "
                         f"{', '.join(METRIC_BY_NAME)}")
    try:
        number = float(value)
    except ValueError:
        raise ValueError(f"bad threshold {spec!r}: {value.strip()!r} is not a number") from None
    if op == "=":
        op = ">=" if METRIC_BY_NAME[name].higher_is_better else "<="
    return name, op, number


def check_thresholds(result: EvalResult, specs: Iterable[str]) -> list[str]:
    """Failures (one line each) of the main system's overall metrics against METRIC=VALUE specs.
    An absent metric fails (it cannot be checked)."""
    parsed = [(spec, *parse_threshold(spec)) for spec in specs]
    failures = []
    for spec, name, op, limit in parsed:
        value = result.metric(name)
        if value is None:
            failures.append(f"{name} is absent for system {result.main} (threshold {spec})")
        elif (op == ">=" and value < limit) or (op == "<=" and value > limit):
            failures.append(f"{name} = {fmt(value, name)}, required {op} {limit:g} (system {result.main})")
    return failures


# ------------------------------------------------------------------------------ reports

@dataclass
class ReportPaths:
    json: Path
    md: Path
    png: Path | None  # None when matplotlib is not installed


def git_commit() -> tuple[str | None, bool | None]:
    """(HEAD commit, working tree dirty) of the project, or (None, None) outside git."""
    from rag.config import ROOT

    try:
        head = subprocess.run(["git", "rev-parse", "HEAD"], cwd=ROOT, capture_output=True,
                              text=True, timeout=10)
        if head.returncode != 0:
            return None, None
        status = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"], cwd=ROOT,
                                capture_output=True, text=True, timeout=10)
        return head.stdout.strip(), bool(status.stdout.strip()) if status.returncode == 0 else None
    except (OSError, subprocess.SubprocessError):
        return None, None


def _delta_dict(d: Delta) -> dict:
    return asdict(d)


def report_dict(result: EvalResult, manifest: dict | None = None, config: dict | None = None) -> dict:
    commit, dirty = git_commit()
    types = ordered_types(q.type for q in result.questions)
    deltas = result.deltas
    return {
        "schema": 1,
        "kind": "report",
        "timestamp": result.timestamp,
        "git_commit": commit,
        "git_dirty": dirty,
        "k": result.k,
        "primary_metric": result.primary_metric,
        "main_system": result.main,
        "systems": result.systems,
        "can_ask": result.can_ask,
        "questions": {
            "path": result.questions_path,
            "hash": result.questions_hash,
            "count": len(result.questions),
            "answerable": sum(q.answerable for q in result.questions),
            "by_type": {t: sum(q.type == t for q in result.questions) for t in types},
        },
        "metrics": {g: [m.name for m in METRICS if m.group == g] for g in GROUPS},
        "tables": result.tables,
        "records": {s: [asdict(r) for r in recs] for s, recs in result.records.items()},
        "baseline": None if deltas is None else {
            "source": getattr(deltas, "source", ""),
            "notes": list(getattr(deltas, "notes", [])),
            "deltas": [_delta_dict(d) for d in deltas],
            "regressions": [f"{d.scope} {d.metric}" for d in deltas if d.regression],
        },
        "threshold_failures": result.threshold_failures,
        "manifest": manifest if manifest is not None else result.manifest,
        "manifest_hash": dict_hash(manifest if manifest is not None else result.manifest),
        "config": config if config is not None else result.config,
    }


def _md_cell(text: Any) -> str:
    return str(text).replace("|", "\\|").replace("\n", " ")


def _md_table(header: list[str], rows: list[list[str]]) -> str:
    out = ["| " + " | ".join(header) + " |",
           "|" + "|".join(["---"] + ["---:"] * (len(header) - 1)) + "|"]
    out += ["| " + " | ".join(_md_cell(c) for c in r) + " |" for r in rows]
    return "\n".join(out)


def _group_table(result: EvalResult, group: str) -> tuple[str, list[str]]:
    """Rows = question types + overall; columns = metric × system (systems side by side).
    Systems whose whole group is absent are left out (returned as the second value)."""
    metrics = [m.name for m in METRICS if m.group == group]
    systems, absent = [], []
    for s in result.systems:
        t = result.tables[s]
        rows = [t["overall"]] + list(t["by_type"].values())
        (systems if any(r.get(m) is not None for r in rows for m in metrics) else absent).append(s)
    if not systems:
        return "", absent
    metrics = [m for m in metrics
               if any(result.tables[s]["overall"].get(m) is not None for s in systems)]
    n_key = "n_answerable" if group == "retrieval" else "n"
    header = ["type", "n"] + [f"{m} {s}" if len(systems) > 1 else m for m in metrics for s in systems]
    rows = []
    main_table = result.tables[result.main]
    scopes = list(main_table["by_type"]) + [OVERALL]
    for scope in scopes:
        cells, any_value = [], False
        for m in metrics:
            for s in systems:
                t = result.tables[s]
                row = t["overall"] if scope == OVERALL else t["by_type"].get(scope, {})
                v = row.get(m)
                any_value |= v is not None
                cells.append(fmt(v, m))
        if not any_value:
            continue
        row0 = main_table["overall"] if scope == OVERALL else main_table["by_type"][scope]
        label = f"**{scope}**" if scope == OVERALL else scope
        rows.append([label, str(row0.get(n_key, ""))] + cells)
    return _md_table(header, rows), absent


def _short(text: str, n: int = 80) -> str:
    text = " ".join(text.split())
    return text if len(text) <= n else text[: n - 1] + "…"


def _expected_retrieval(q: Question) -> str:
    quotes = " / ".join(f"「{x}」" for x in q.gold_quotes)
    cond = []
    if q.gold_all:
        cond.append("all quotes")
    if q.gold_docs_min > 1:
        cond.append(f"from ≥{q.gold_docs_min} docs")
    return quotes + (f" ({', '.join(cond)})" if cond else "")


def _first_hit(rec: QuestionRecord) -> str:
    if not rec.top:
        return "nothing retrieved"
    h = rec.top[0]
    return f"{h['chunk_id']} 「{_short(h['text'], 60)}」"


def failed_questions_md(result: EvalResult, system: str | None = None) -> str:
    system = system or result.main
    qs = {q.id: q for q in result.questions}
    recs = result.records[system]
    out = [f"## Failed questions ({system})", ""]
    misses = [r for r in recs if r.retrieval is not None and not r.retrieval.hit_at_5]
    out.append(f"### Retrieval: gold not in the top 5 ({len(misses)})")
    out.append("")
    for r in misses:
        q = qs[r.id]
        where = (f"criterion met at rank {r.retrieval.rank}" if r.retrieval.rank
                 else f"not met in the top {result.k}")
        found = (f"; quotes found: {' / '.join(r.retrieval.matched_quotes)}"
                 if r.retrieval.matched_quotes and r.retrieval.rank is None else "")
        out.append(f"- **{r.id}** ({r.type}) {r.question}  \n"
                   f"  expected: {_expected_retrieval(q)} · {where}{found}  \n"
                   f"  first: {_first_hit(r)}" + (f"  \n  error: {r.error}" if r.error else ""))
    if not misses:
        out.append("none")
    if result.can_ask.get(system):
        wrong = [r for r in recs if r.answer is not None and not r.answer.fully_right]
        out += ["", f"### Answers not fully right ({len(wrong)})", ""]
        for r in wrong:
            q, a = qs[r.id], r.answer
            if not q.answerable:
                expected = "a refusal (the documents do not answer this)"
            else:
                expected = "facts " + ", ".join(f"「{f}」" for f in q.answer_facts)
            problem = ("refused" if a.refused and q.answerable
                       else "answered instead of refusing" if not q.answerable
                       else "missing " + ", ".join(f"「{f}」" for f in a.facts_missing))
            out.append(f"- **{r.id}** ({r.type}) {r.question}  \n"
                       f"  expected: {expected} · {problem}  \n"
                       f"  answer: 「{_short(a.text, 100)}」 · first hit: {_first_hit(r)}"
                       + (f"  \n  error: {r.error}" if r.error else ""))
        if not wrong:
            out.append("none")
    return "\n".join(out)


def report_markdown(result: EvalResult, report: dict) -> str:
    qinfo = report["questions"]
    lines = [
        f"# Evaluation {result.timestamp}",
        "",
        f"- questions: {qinfo['count']} ({qinfo['answerable']} answerable), hash `{qinfo['hash']}`"
        + (f", file `{qinfo['path']}`" if qinfo["path"] else ""),
        "- by type: " + ", ".join(f"{t} {n}" for t, n in qinfo["by_type"].items()),
        f"- systems: {', '.join(result.systems)} (main: **{result.main}**); search depth k={result.k}",
        f"- primary metric: **{result.primary_metric}**",
        f"- git commit: `{report['git_commit'] or 'unknown'}`" + (" (dirty)" if report["git_dirty"] else ""),
        f"- index manifest hash: `{report['manifest_hash'] or 'none'}`",
        "",
        "Absent metrics (a system that cannot answer) are shown as —. "
        "Retrieval metrics count answerable questions only.",
        "",
        "## Overall",
        "",
    ]
    rows = []
    for m in METRICS:
        values = [result.tables[s]["overall"].get(m.name) for s in result.systems]
        if all(v is None for v in values):
            continue
        label = f"**{m.name}**" if m.name == result.primary_metric else m.name
        rows.append([label] + [fmt(v, m.name) for v in values])
    lines += [_md_table(["metric"] + result.systems, rows), ""]
    for group in GROUPS:
        table, absent = _group_table(result, group)
        lines += [f"## {group.capitalize()}", ""]
        if table:
            lines += [table, ""]
        if absent:
            lines += [f"No {group} metrics for: {', '.join(absent)}.", ""]
    if result.deltas is not None:
        lines += ["## Baseline", "", "```", format_deltas(result.deltas), "```", ""]
    if result.threshold_failures:
        lines += ["## Threshold failures", ""] + [f"- {f}" for f in result.threshold_failures] + [""]
    for s in result.systems:
        errs = result.errors(s)
        if errs:
            lines += [f"## Errors ({s})", ""] + [f"- {r.id}: {r.error}" for r in errs] + [""]
    lines += [failed_questions_md(result), ""]
    return "\n".join(lines)


def _ascii(text: str) -> str:
    return text.encode("ascii", "replace").decode("ascii")


def write_chart(result: EvalResult, path: str | Path) -> Path:
    """Grouped bars per question type: hit@5, mrr@10 and (when any system answers) fact_recall;
    one colour per system. ASCII labels only, so no CJK font is needed."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    metrics = ["hit@5", "mrr@10"]
    if any(result.tables[s]["overall"].get("fact_recall") is not None for s in result.systems):
        metrics.append("fact_recall")
    scopes = list(result.tables[result.main]["by_type"]) + [OVERALL]
    fig = Figure(figsize=(max(8.0, 1.1 * len(scopes) + 2) + 1.8, 3.2 * len(metrics)))
    FigureCanvasAgg(fig)
    colors = [f"C{i % 10}" for i in range(len(result.systems))]
    width = 0.8 / len(result.systems)
    for mi, m in enumerate(metrics):
        ax = fig.add_subplot(len(metrics), 1, mi + 1)
        shown = [sc for sc in scopes if any(
            (result.tables[s]["overall"] if sc == OVERALL else result.tables[s]["by_type"].get(sc, {})).get(m)
            is not None for s in result.systems)]
        missing: list[str] = []
        for si, s in enumerate(result.systems):
            xs, ys = [], []
            for xi, sc in enumerate(shown):
                row = result.tables[s]["overall"] if sc == OVERALL else result.tables[s]["by_type"].get(sc, {})
                v = row.get(m)
                if v is not None:  # absent values get no bar (not a zero bar)
                    xs.append(xi - 0.4 + width * (si + 0.5))
                    ys.append(v)
            if ys:
                ax.bar(xs, ys, width=width, color=colors[si], label=_ascii(s))
            else:
                missing.append(_ascii(s))
        ax.set_xticks(range(len(shown)))
        ax.set_xticklabels([_ascii(sc) for sc in shown], rotation=20, ha="right", fontsize=8)
        ax.set_ylim(0, 1.05)
        ax.set_ylabel(m)
        ax.grid(axis="y", alpha=0.3)
        if mi == 0:
            ax.set_title(_ascii(f"evaluation {result.timestamp} (primary: {result.primary_metric})"))
        if mi == 0 or missing:
            ax.legend(fontsize=8, loc="upper left", bbox_to_anchor=(1.0, 1.0))
        if missing:
            ax.text(0.01, 0.95, "absent for: " + ", ".join(missing), transform=ax.transAxes,
                    fontsize=8, va="top")
    fig.tight_layout()
    path = Path(path)
    fig.savefig(path, format="png", dpi=100)
    return path


def _stem(result: EvalResult, out_dir: Path) -> str:
    try:
        ts = datetime.fromisoformat(result.timestamp).strftime("%Y%m%d-%H%M%S")
    except ValueError:
        ts = time.strftime("%Y%m%d-%H%M%S")
    stem, n = ts, 2
    while any((out_dir / f"{stem}{ext}").exists() for ext in (".json", ".md", ".png")):
        stem, n = f"{ts}-{n}", n + 1
    return stem


def write_reports(result: EvalResult, out_dir: str | Path, manifest: dict | None = None,
                  config: dict | None = None) -> ReportPaths:
    """<timestamp>.json (everything), <timestamp>.md (readable tables and failed questions) and
    <timestamp>.png (chart) in out_dir."""
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    if manifest is not None:
        result.manifest = manifest
    if config is not None:
        result.config = config
    stem = _stem(result, out_dir)
    report = report_dict(result, manifest, config)
    json_path = out_dir / f"{stem}.json"
    json_path.write_text(json.dumps(report, ensure_ascii=False, indent=1, default=str) + "\n",
                         encoding="utf-8")
    md_path = out_dir / f"{stem}.md"
    md_path.write_text(report_markdown(result, report), encoding="utf-8")
    try:
        png_path: Path | None = write_chart(result, out_dir / f"{stem}.png")
    except ImportError:
        png_path = None
    result.report_paths = ReportPaths(json=json_path, md=md_path, png=png_path)
    return result.report_paths


# ------------------------------------------------------------------------------ whole run

def evaluate_and_report(
    questions_path: str | Path,
    systems: Sequence[Any],
    out_dir: str | Path,
    baseline_path: str | Path | None,
    manifest: dict | None,
    config: dict | None,
    save_baseline: bool = False,
    fail_under: Sequence[str] = (),
    k: int = 10,
    progress: Callable[[str], None] | None = None,
) -> tuple[EvalResult, str, int]:
    """Load questions, run every system, compare with the baseline, check thresholds, write the
    reports and (if asked) the new baseline. Returns (result, summary text, exit status):
    0 = fine (regressions alone are only reported), 1 = a threshold failed or a system raised.
    Thresholds are validated before anything runs (ValueError for an unknown metric)."""
    specs = list(fail_under or ())
    for spec in specs:
        parse_threshold(spec)
    questions = load_questions(questions_path)
    result = run(questions, systems, k=k, progress=progress)
    result.questions_path = str(questions_path)
    result.manifest, result.config = manifest, config
    notes = []
    bpath = Path(baseline_path) if baseline_path else None
    if bpath is not None and bpath.exists():
        result.deltas = compare(result, bpath, manifest)
    elif bpath is not None and not save_baseline:
        notes.append(f"no baseline at {bpath} (save one with save_baseline / --save-baseline)")
    result.threshold_failures = check_thresholds(result, specs)
    paths = write_reports(result, out_dir, manifest, config)
    if save_baseline:
        if bpath is None:
            raise ValueError("save_baseline needs a baseline_path")
        write_baseline(result, bpath, manifest)
        notes.append(f"baseline saved to {bpath}")
    lines = [format_summary(result, result.deltas)]
    lines += notes
    for f in result.threshold_failures:
        lines.append(f"FAIL: {f}")
    lines.append(f"reports: {paths.json}, {paths.md}" + (f", {paths.png}" if paths.png else ""))
    errors = any(result.errors(s) for s in result.systems)
    code = 1 if result.threshold_failures or errors else 0
    return result, "\n".join(lines), code
