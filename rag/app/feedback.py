"""👍/👎 on answers, and 👎 answers turned into draft evaluation cases.

    <data_dir>/feedback/feedback.jsonl     one line per rating
    <data_dir>/feedback/eval_drafts.jsonl  draft questions for eval/questions.jsonl

A feedback line holds only FEEDBACK_KEYS: no user name, address or session id is stored.
Every limit is the server's: a line's question and answer are cut to `line_chars`, a file stops
growing at `max_bytes` (a refusal, logged once), one turn is recorded once per rating, and a
session may rate `per_minute` times a minute (`FeedbackRefused` says which limit was hit).

A draft is in the format of `eval/questions.jsonl` (see eval/README.md) with `gold_quotes` and
`answer_facts` left empty for a maintainer to fill in: `rag.evaluation.dataset.load_questions` rejects
an answerable question without gold quotes, so a draft must be completed (quotes copied from
the source, facts, `doc` checked) before it is moved into the question set.
"""

from __future__ import annotations

import json
import logging
import os
import secrets
import threading
import time
from collections import OrderedDict, deque
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
                    index_version: str | None, now: datetime | None = None, line_chars: int = 4000,
                    max_citations: int = 10) -> dict:
    """One feedback line: only FEEDBACK_KEYS, citations reduced to CITATION_KEYS, question and
    answer cut to `line_chars`."""
    if rating not in RATINGS:
        raise ValueError(f"rating must be one of {RATINGS}, got {rating!r}")
    return {
        "timestamp": (now or _now()).isoformat(timespec="seconds"),
        "rating": rating,
        "question": str(question)[:line_chars],
        "answer": str(answer)[:line_chars],
        "citations": [_citation(c) for c in list(citations)[:max_citations]],
        "index_version": None if index_version is None else str(index_version)[:100],
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


def _digest(*parts: Any) -> str:
    import hashlib

    return hashlib.sha256(repr(parts).encode("utf-8", "replace")).hexdigest()[:32]


class FeedbackRefused(Exception):
    """A rating or draft that a limit keeps out; the message is for the user (Chinese)."""


def append_jsonl(path: Path, obj: dict, max_bytes: int | None = None) -> None:
    """Append one JSON line (created with its folder when missing), one write per line; with
    `max_bytes`, FeedbackRefused when the file would grow beyond it."""
    path = Path(path)
    line = (json.dumps(obj, ensure_ascii=False) + "\n").encode("utf-8")
    with _write_lock:
        path.parent.mkdir(parents=True, exist_ok=True)
        if max_bytes is not None:
            size = path.stat().st_size if path.exists() else 0
            if size + len(line) > max_bytes:
                raise FeedbackRefused("反馈记录已满,暂时无法记录,请联系管理员。")
        fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
        try:
            os.write(fd, line)
        finally:
            os.close(fd)


class FeedbackLog:
    """Where the app writes ratings and drafts (`<data_dir>/feedback/`), within its limits."""

    def __init__(self, data_dir: str | os.PathLike, max_mb: float = 20.0, per_minute: int = 10,
                 line_chars: int = 4000, sessions: int = 10_000):
        self.dir = Path(data_dir) / "feedback"
        self.feedback_path = self.dir / "feedback.jsonl"
        self.drafts_path = self.dir / "eval_drafts.jsonl"
        self.max_bytes = int(max_mb * 1024 * 1024)
        self.per_minute = per_minute
        self.line_chars = line_chars
        self._seen: OrderedDict[str, None] = OrderedDict()  # (turn, rating) keys already written
        self._recent: OrderedDict[str, deque] = OrderedDict()  # session → times of its last ratings
        self._sessions = sessions
        self._lock = threading.Lock()
        self._full_logged = False

    def _admit(self, session: str | None, key: str) -> None:
        """FeedbackRefused for a repeat of the same rating of one turn, or a session over its rate."""
        now = time.monotonic()
        with self._lock:
            if key in self._seen:
                raise FeedbackRefused("这条回答的评价已经记录过了。")
            times = self._recent.setdefault(session or "", deque())
            self._recent.move_to_end(session or "")
            while times and now - times[0] > 60:
                times.popleft()
            if len(times) >= self.per_minute:
                raise FeedbackRefused("评价太频繁了,请稍后再试。")
            times.append(now)
            self._seen[key] = None
            while len(self._seen) > 100_000:
                self._seen.popitem(last=False)
            while len(self._recent) > self._sessions:
                self._recent.popitem(last=False)

    def _write(self, path: Path, rec: dict) -> None:
        try:
            append_jsonl(path, rec, self.max_bytes)
        except FeedbackRefused:
            if not self._full_logged:
                logging.getLogger("rag.web").warning("%s reached %d bytes: feedback is not recorded", path,
                                                     self.max_bytes)
                self._full_logged = True
            raise

    def rate(self, rating: str, question: str, answer: str, citations: Iterable[Any],
             index_version: str | None, session: str | None = None, turn_key: str | None = None) -> dict:
        rec = feedback_record(rating, question, answer, citations, index_version, line_chars=self.line_chars)
        self._admit(session, f"{turn_key or _digest(question, answer, index_version)}:{rating}")
        self._write(self.feedback_path, rec)
        return rec

    def draft(self, question: str, answer: str, citations: Iterable[Any], session: str | None = None,
              turn_key: str | None = None) -> dict:
        rec = eval_draft(str(question)[:self.line_chars], answer, list(citations)[:10])
        self._admit(session, f"{turn_key or _digest(question, answer)}:draft")
        self._write(self.drafts_path, rec)
        return rec
