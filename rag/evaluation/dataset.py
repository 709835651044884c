"""The question set: `Question` records loaded and validated from JSONL (one error names the
line), their hash, and the normalised matching of gold quotes and answer facts."""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Sequence

from rag.text.normalize import normalize_for_match

REQUIRED_KEYS = ("id", "type", "question", "gold_quotes", "answer_facts", "answerable", "doc")
OPTIONAL_KEYS = ("gold_all", "gold_docs_min", "note", "split", "history")
SPLITS = ("dev", "test")  # dev: for choosing thresholds and rules; test: reports only, never tunes


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
    split: str = "dev"
    history: list[str] = field(default_factory=list)  # earlier user turns of a dialogue, oldest first

    @property
    def docs(self) -> list[str]:
        return [] if self.doc is None else [self.doc] if isinstance(self.doc, str) else list(self.doc)


def load_questions(*paths: str | Path) -> list[Question]:
    """Read one or more questions.jsonl files (ids unique across them); any problem raises
    ValueError naming the file and line."""
    questions: list[Question] = []
    seen: set[str] = set()
    for path in paths:
        questions += _load_file(Path(path), seen)
    return questions


def _load_file(path: Path, seen: set[str]) -> list[Question]:
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except FileNotFoundError:
        raise FileNotFoundError(f"questions file not found: {path}") from None
    questions: list[Question] = []
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
        split = obj.get("split", "dev")
        if split not in SPLITS:
            raise ValueError(f"{where}: split must be one of {', '.join(SPLITS)}")
        history = obj.get("history", [])
        if not isinstance(history, list) or not all(isinstance(x, str) and x.strip() for x in history):
            raise ValueError(f"{where}: history must be a list of non-empty strings")
        docs_min = obj.get("gold_docs_min", 0) or 0
        if not isinstance(docs_min, int) or isinstance(docs_min, bool) or docs_min < 0:
            raise ValueError(f"{where}: gold_docs_min must be a non-negative integer")
        questions.append(Question(
            id=obj["id"], type=str(obj["type"]), question=obj["question"],
            gold_quotes=list(obj["gold_quotes"]), answer_facts=list(obj["answer_facts"]),
            answerable=obj["answerable"], doc=obj["doc"], gold_all=bool(obj.get("gold_all", False)),
            gold_docs_min=docs_min, note=str(obj.get("note", "")), split=split, history=list(history),
        ))
    if not questions:
        raise ValueError(f"{path}: no questions")
    return questions


def questions_hash(questions: Sequence[Question]) -> str:
    """Hash of the question set's content (not of the file's formatting)."""
    rows = []
    for q in questions:  # keys at their defaults are left out: an old set keeps its hash
        d = asdict(q)
        if d["split"] == "dev":
            del d["split"]
        if not d["history"]:
            del d["history"]
        rows.append(d)
    data = json.dumps(rows, ensure_ascii=False, sort_keys=True)
    return hashlib.sha256(data.encode("utf-8")).hexdigest()[:16]


def dict_hash(d: dict | None) -> str | None:
    if d is None:
        return None
    data = json.dumps(d, ensure_ascii=False, sort_keys=True, default=str)
    return hashlib.sha256(data.encode("utf-8")).hexdigest()[:16]


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
