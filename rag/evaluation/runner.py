"""Running an evaluation: every system on every question, timed; then the tables, the
comparison with the baseline, thresholds and reports (`evaluate_and_report`).

A *system* is any object with `name: str` and `search(question, k) -> list[Hit]`, and optionally
`ask(question) -> Answer`. A system without `ask` (or whose `ask` is None) has no answer metrics:
they are absent (None in Python, null in JSON, "—" in reports), never zero. A call that raises is
recorded as an error on that question (empty hits / no answer, counted as a miss) and counted in
`errors`; `evaluate_and_report` then exits with status 1. Metric definitions: `metrics.py`.
"""

from __future__ import annotations

import time
from datetime import datetime
from pathlib import Path
from typing import Any, Callable, Sequence

from rag.evaluation.baseline import (
    check_thresholds,
    compare,
    parse_threshold,
    write_baseline,
)
from rag.evaluation.dataset import (
    SPLITS,
    Question,
    fact_found,
    load_questions,
    questions_hash,
)
from rag.evaluation.metrics import (
    MAX_ANSWER_CHARS,
    _is_gold,
    aggregate,
    answer_length,
    citation_supported,
    gold_rank,
    ordered_types,
    refusal_rules,
)
from rag.evaluation.report import format_summary, write_reports
from rag.evaluation.results import (
    AnswerRecord,
    EvalResult,
    QuestionRecord,
    RetrievalRecord,
)
from rag.records import Answer, Hit

TOP_SHOWN = 5  # retrieved chunks kept per question in the records
SNIPPET = 120  # characters of chunk text kept in the records


def _can_ask(system: Any) -> bool:
    return callable(getattr(system, "ask", None))


def _hit_row(rank: int, hit: Hit, gold: bool) -> dict:
    c = hit.chunk
    return {"rank": rank, "chunk_id": c.chunk_id, "doc_id": c.doc_id,
            "score": round(float(hit.score), 6), "gold": gold, "text": c.text[:SNIPPET]}


def _history(system: Any, q: Question, ask: bool) -> list[tuple[str, str]]:
    """A dialogue's earlier turns as (role, content) pairs, with the system's own answers."""
    history: list[tuple[str, str]] = []
    for turn in q.history:
        answer = system.ask(turn, history=list(history)) if ask else None
        history += [("user", turn), ("assistant", answer.text if answer is not None else "")]
    return history


def _evaluate_one(system: Any, q: Question, k: int, ask: bool) -> QuestionRecord:
    errors: list[str] = []
    history: list[tuple[str, str]] = []
    if q.history:
        try:
            history = _history(system, q, ask)
        except Exception as e:  # noqa: BLE001
            errors.append(f"history: {type(e).__name__}: {e}")
    t0 = time.perf_counter()
    try:
        if history and getattr(system, "follows_up", False):
            hits = list(system.search(q.question, k, history=history))[:k]
        else:
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
                         search_ms=search_ms, top=top, retrieval=retrieval, split=q.split,
                         dialogue=bool(q.history))
    if ask:
        t0 = time.perf_counter()
        answer: Answer | None
        try:
            answer = system.ask(q.question, history=history) if history else system.ask(q.question)
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
        fully = not refused and not missing and answer_length(text) <= MAX_ANSWER_CHARS
    else:
        fact_recall = None
        fully = refused
    return AnswerRecord(text=text, refused=refused, facts_found=found, facts_missing=missing,
                        fact_recall=fact_recall, fully_right=fully,
                        refusal_ok=refused == (not q.answerable), citations=citations,
                        notice=answer.notice or "", refusal_rule=answer.refusal_rule if refused else "")


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
    splits = [s for s in SPLITS if any(q.split == s for q in questions)]
    for name in names:
        recs = records[name]
        tables[name] = {
            "overall": aggregate(recs, can_ask[name]),
            "by_type": {t: aggregate([r for r in recs if r.type == t], can_ask[name]) for t in types},
            "by_split": {s: aggregate([r for r in recs if r.split == s], can_ask[name]) for s in splits}
            if len(splits) > 1 else {},
            "by_rule": refusal_rules(recs) if can_ask[name] else {},
        }
    return EvalResult(timestamp=timestamp, k=k, questions=list(questions),
                      questions_hash=questions_hash(questions), systems=names, main=names[0],
                      can_ask=can_ask, records=records, tables=tables)


save_baseline = write_baseline  # public name; evaluate_and_report has a flag of the same name


def evaluate_and_report(
    questions_path: str | Path | Sequence[str | Path],
    systems: Sequence[Any],
    out_dir: str | Path,
    baseline_path: str | Path | None,
    manifest: dict | None,
    config: dict | None,
    save_baseline: bool = False,
    fail_under: Sequence[str] = (),
    k: int = 10,
    progress: Callable[[str], None] | None = None,
    tag: str = "",
) -> tuple[EvalResult, str, int]:
    """Load questions, run every system, compare with the baseline, check thresholds, write the
    reports and (if asked) the new baseline. Returns (result, summary text, exit status):
    0 = fine (regressions alone are only reported), 1 = a threshold failed or a system raised.
    Thresholds are validated before anything runs (ValueError for an unknown metric)."""
    specs = list(fail_under or ())
    for spec in specs:
        parse_threshold(spec)
    paths = [questions_path] if isinstance(questions_path, (str, Path)) else list(questions_path)
    questions = load_questions(*paths)
    result = run(questions, systems, k=k, progress=progress)
    result.questions_path = ", ".join(str(p) for p in paths)
    result.tag = tag
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
