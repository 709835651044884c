"""👍/👎 on answers, and 👎 answers turned into draft evaluation cases.

    <data_dir>/feedback/feedback.jsonl     one line per rating
    <data_dir>/feedback/eval_drafts.jsonl  draft questions for eval/questions.jsonl

A feedback line holds only FEEDBACK_KEYS: no user name, address or session id is stored.

A draft is in the format of `eval/questions.jsonl` (see eval/README.md) with `gold_quotes` and
`answer_facts` left empty for a maintainer to fill in: `rag.evaluation.dataset.load_questions` rejects
an answerable question without gold quotes, so a draft must be completed (quotes copied from
the source, facts, `doc` checked) before it is moved into the question set.
"""

from __future__ import annotations

import json
import os
import secrets
import threading
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Iterable

FEEDBACK_KEYS = ("timestamp", "rating", "question", "answer", "citations", "index_version")
CITATION_KEYS = ("doc_id", "section", "start", "end")
RATINGS = ("up", "down")
EXCERPT_CHARS = 160

_write_lock = threading.Lock()  # appends from concurrent sessions must not interleave


def _now() -> datetime:
    return datetime.now(timezone.utc)


def _citation(c: Any) -> dict:
    get = c.get if isinstance(c, dict) else (lambda k: getattr(c, k, None))
    return {k: get(k) for k in CITATION_KEYS}


def feedback_record(rating: str, question: str, answer: str, citations: Iterable[Any],
                    index_version: str | None, now: datetime | None = None) -> dict:
    """One feedback line: only FEEDBACK_KEYS, citations reduced to CITATION_KEYS."""
    if rating not in RATINGS:
        raise ValueError(f"rating must be one of {RATINGS}, got {rating!r}")
    return {
        "timestamp": (now or _now()).isoformat(timespec="seconds"),
        "rating": rating,
        "question": str(question),
        "answer": str(answer),
        "citations": [_citation(c) for c in citations],
        "index_version": index_version,
    }


def doc_prefix(doc_id: str) -> str:
    """"002_69635302dccd73c9" → "002" (how eval/questions.jsonl names documents)."""
    return doc_id.split("_", 1)[0] if doc_id else doc_id


def excerpt(text: str, n: int = EXCERPT_CHARS) -> str:
    one_line = " ".join(str(text).split())
    return one_line if len(one_line) <= n else one_line[: n - 1] + "…"


def eval_draft(question: str, answer: str, citations: Iterable[Any], now: datetime | None = None,
               qtype: str | None = None) -> dict:
    """A draft evaluation case from a 👎 answer (gold_quotes/answer_facts to be filled in)."""
    if qtype is None:
        from rag.retrieve.query import question_type

        qtype = question_type(question)
    docs: list[str] = []
    for c in citations:
        p = doc_prefix(_citation(c)["doc_id"] or "")
        if p and p not in docs:
            docs.append(p)
    now = now or _now()
    return {
        "id": f"draft-{now.strftime('%Y%m%dT%H%M%S')}-{secrets.token_hex(2)}",
        "type": qtype,
        "question": str(question),
        "gold_quotes": [],
        "answer_facts": [],
        "answerable": True,
        "doc": docs[0] if len(docs) == 1 else (docs or None),
        "note": f"from 👎 feedback: {excerpt(answer)}",
    }


def append_jsonl(path: Path, obj: dict) -> None:
    """Append one JSON line (created with its folder when missing), one write per line."""
    path = Path(path)
    line = (json.dumps(obj, ensure_ascii=False) + "\n").encode("utf-8")
    with _write_lock:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
        try:
            os.write(fd, line)
        finally:
            os.close(fd)


class FeedbackLog:
    """Where the app writes ratings and drafts (`<data_dir>/feedback/`)."""

    def __init__(self, data_dir: str | os.PathLike):
        self.dir = Path(data_dir) / "feedback"
        self.feedback_path = self.dir / "feedback.jsonl"
        self.drafts_path = self.dir / "eval_drafts.jsonl"

    def rate(self, rating: str, question: str, answer: str, citations: Iterable[Any],
             index_version: str | None) -> dict:
        rec = feedback_record(rating, question, answer, citations, index_version)
        append_jsonl(self.feedback_path, rec)
        return rec

    def draft(self, question: str, answer: str, citations: Iterable[Any]) -> dict:
        rec = eval_draft(question, answer, citations)
        append_jsonl(self.drafts_path, rec)
        return rec
