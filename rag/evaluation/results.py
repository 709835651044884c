"""What an evaluation run records: per question and system, and the whole result."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from rag.evaluation.dataset import Question
from rag.evaluation.metrics import OVERALL, PRIMARY_METRIC

if TYPE_CHECKING:  # pragma: no cover
    from rag.evaluation.baseline import Delta
    from rag.evaluation.report import ReportPaths


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
    refusal_rule: str = ""  # the check that refused ("" when answered)


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
    split: str = "dev"
    dialogue: bool = False  # asked as the last turn of a dialogue
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
    tag: str = ""  # the suite run's name (five, full), in report file names
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
