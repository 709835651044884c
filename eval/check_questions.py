#!/usr/bin/env python3
"""Validate eval/questions.jsonl against the corpus in data/docs.

Standalone on purpose (only needs opencc): it does not import the `rag`
package, so it checks the question set independently of the pipeline's own
cleaning code.  Usable from tests:

    from eval.check_questions import validate
    errors, warnings, report = validate()
    assert not errors

Run:  python eval/check_questions.py [--questions PATH] [--docs DIR] [-v]
Exit status 1 when any error is found.
"""
from __future__ import annotations

import argparse
import collections
import json
import re
import sys
import unicodedata
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_QUESTIONS = ROOT / "eval" / "questions.jsonl"
DEFAULT_DOCS = ROOT / "data" / "docs"

TYPES = (
    "fact", "department", "deadline", "target", "metadata",
    "comparison", "traditional", "colloquial", "unanswerable",
)
REQUIRED = ("id", "type", "question", "gold_quotes", "answer_facts", "answerable", "doc")
OPTIONAL = ("gold_all", "gold_docs_min", "note")

# Latin pinyin glosses such as (qū) or (huì ) -- possibly with a trailing space.
_GLOSS = re.compile(r"[\(（][a-zāáǎàēéěèīíǐìōóǒòūúǔùǖǘǚǜüńňǹḿ\s]+[\)）]\s?")
# A comma directly before another punctuation mark is scraping noise (",," ",。" ",、" ",;").
_DOUBLE = re.compile(r",(?=[,。、;:!?])")
_WS = re.compile(r"\s+")

_cc = None


def _t2s(text: str) -> str:
    global _cc
    if _cc is None:
        import opencc  # imported lazily so `import check_questions` is cheap

        _cc = opencc.OpenCC("t2s")
    return _cc.convert(text)


def _is_han(ch: str) -> bool:
    return unicodedata.name(ch, "").startswith("CJK UNIFIED IDEOGRAPH")


def normalize(text: str) -> str:
    """Gloss removal, t2s, 陜->陕, width folding (NFKC, non-Han only),
    whitespace removal, doubled punctuation collapse."""
    text = _GLOSS.sub("", text)
    text = _t2s(text).replace("陜", "陕")
    text = "".join(ch if _is_han(ch) else unicodedata.normalize("NFKC", ch) for ch in text)
    text = _WS.sub("", text)
    text = _DOUBLE.sub("", text)
    return text


def load_corpus(docs_dir: Path = DEFAULT_DOCS) -> dict[str, str]:
    """{prefix ("000"): normalised text}"""
    corpus = {}
    for path in sorted(Path(docs_dir).glob("*.txt")):
        corpus[path.name[:3]] = normalize(path.read_text(encoding="utf-8"))
    return corpus


def load_segments(docs_dir: Path = DEFAULT_DOCS) -> dict[str, tuple[list[str], list[str]]]:
    """{prefix: (normalised lines, normalised whitespace-separated segments)}.
    A gold quote must sit inside one line (never span a line break, hence never a
    heading line plus its body) and inside one whitespace-separated segment (in 001
    the headings are inline, separated from the body by a space)."""
    out = {}
    for path in sorted(Path(docs_dir).glob("*.txt")):
        raw = _GLOSS.sub("", path.read_text(encoding="utf-8"))
        lines = [normalize(line) for line in raw.splitlines() if line.strip()]
        segs = [normalize(seg) for line in raw.splitlines() for seg in line.split()]
        out[path.name[:3]] = (lines, segs)
    return out


def load_questions(path: Path = DEFAULT_QUESTIONS) -> tuple[list[dict], list[str]]:
    questions, errors = [], []
    for n, line in enumerate(Path(path).read_text(encoding="utf-8").splitlines(), 1):
        if not line.strip():
            continue
        try:
            obj = json.loads(line)
        except json.JSONDecodeError as exc:
            errors.append(f"line {n}: invalid JSON ({exc})")
            continue
        if not isinstance(obj, dict):
            errors.append(f"line {n}: not a JSON object")
            continue
        obj["_line"] = n
        questions.append(obj)
    return questions, errors


def _docs_of(q: dict) -> list[str]:
    d = q.get("doc")
    if d is None:
        return []
    return [d] if isinstance(d, str) else list(d)


def validate(questions_path: Path = DEFAULT_QUESTIONS, docs_dir: Path = DEFAULT_DOCS):
    corpus = load_corpus(docs_dir)
    segments = load_segments(docs_dir)
    questions, errors = load_questions(questions_path)
    warnings: list[str] = []
    quote_counts: list[tuple[str, str, dict[str, int]]] = []
    seen: set[str] = set()

    for q in questions:
        where = f"{q.get('id', '?')} (line {q['_line']})"
        missing = [k for k in REQUIRED if k not in q]
        if missing:
            errors.append(f"{where}: missing keys {missing}")
            continue
        extra = [k for k in q if k not in REQUIRED + OPTIONAL + ("_line",)]
        if extra:
            errors.append(f"{where}: unknown keys {extra}")
        if q["id"] in seen:
            errors.append(f"{where}: duplicate id")
        seen.add(q["id"])
        if q["type"] not in TYPES:
            errors.append(f"{where}: bad type {q['type']!r}")
        if not isinstance(q["question"], str) or not q["question"].strip():
            errors.append(f"{where}: empty question")
        if not isinstance(q["gold_quotes"], list) or not isinstance(q["answer_facts"], list):
            errors.append(f"{where}: gold_quotes/answer_facts must be lists")
            continue
        if not isinstance(q["answerable"], bool):
            errors.append(f"{where}: answerable must be a boolean")
            continue

        docs = _docs_of(q)
        for d in docs:
            if d not in corpus:
                errors.append(f"{where}: unknown doc {d!r}")
        docs = [d for d in docs if d in corpus]

        if not q["answerable"]:
            if q["gold_quotes"] or q["answer_facts"]:
                errors.append(f"{where}: unanswerable question must have empty quotes/facts")
            if q["doc"] is not None:
                errors.append(f"{where}: unanswerable question must have doc null")
            if q["type"] != "unanswerable":
                errors.append(f"{where}: answerable=false but type {q['type']!r}")
            continue

        if q["type"] == "unanswerable":
            errors.append(f"{where}: type unanswerable but answerable=true")
        if not docs:
            errors.append(f"{where}: answerable question needs doc")
            continue
        if q["type"] == "comparison" and len(docs) < 2:
            errors.append(f"{where}: comparison question should name >= 2 docs")
        if not q["gold_quotes"]:
            errors.append(f"{where}: no gold_quotes")
        if not q["answer_facts"]:
            errors.append(f"{where}: no answer_facts")
        if len(q["gold_quotes"]) > 3:
            warnings.append(f"{where}: more than 3 gold_quotes")

        quote_docs: set[str] = set()
        for quote in q["gold_quotes"]:
            nq = normalize(quote)
            if not 6 <= len(nq) <= 25:
                warnings.append(f"{where}: quote length {len(nq)} outside 6-25: {quote}")
            counts = {d: t.count(nq) for d, t in corpus.items() if nq and nq in t}
            quote_counts.append((q["id"], quote, counts))
            if not counts:
                errors.append(f"{where}: gold_quote not in corpus: {quote}")
                continue
            in_named = [d for d in docs if d in counts]
            for d in in_named:
                lines, segs = segments[d]
                if not any(nq in line for line in lines):
                    errors.append(f"{where}: gold_quote spans a line break in {d}: {quote}")
                elif not any(nq in seg for seg in segs):
                    errors.append(f"{where}: gold_quote spans a space (inline heading?) in {d}: {quote}")
            if not in_named:
                errors.append(f"{where}: gold_quote not in named doc(s) {docs}: {quote}")
            quote_docs.update(in_named)
        if q.get("gold_docs_min") and len(quote_docs) < q["gold_docs_min"]:
            errors.append(f"{where}: quotes reach only {len(quote_docs)} docs < gold_docs_min")

        text = "".join(corpus[d] for d in docs)
        for fact in q["answer_facts"]:
            alts = [a for a in str(fact).split("|") if a]
            if not any(normalize(a) in text for a in alts):
                errors.append(f"{where}: answer_fact not in doc(s) {docs}: {fact}")

    by_type = collections.Counter(q.get("type") for q in questions)
    by_doc: collections.Counter = collections.Counter()
    for q in questions:
        ds = _docs_of(q)
        if not ds:
            by_doc["none"] += 1
        for d in ds:
            by_doc[d] += 1
    no_region = sum(1 for q in questions if not re.search(
        r"宁夏|寧夏|萍乡|萍鄉|利通|陕西|陝西|陜西|五原|吴忠|江西|内蒙古|巴彦淖尔", q.get("question", ""))
        and q.get("answerable"))
    report = {
        "total": len(questions),
        "by_type": dict(sorted(by_type.items())),
        "by_doc": dict(sorted(by_doc.items())),
        "unanswerable_share": round(sum(1 for q in questions if q.get("answerable") is False)
                                    / max(1, len(questions)), 3),
        "answerable_without_region": no_region,
        "quote_counts": quote_counts,
    }
    return errors, warnings, report


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--questions", type=Path, default=DEFAULT_QUESTIONS)
    ap.add_argument("--docs", type=Path, default=DEFAULT_DOCS)
    ap.add_argument("-v", "--verbose", action="store_true", help="print every quote's counts")
    args = ap.parse_args(argv)

    errors, warnings, report = validate(args.questions, args.docs)
    print(f"questions: {report['total']}")
    print("by type:  " + ", ".join(f"{k}={v}" for k, v in report["by_type"].items()))
    print("by doc:   " + ", ".join(f"{k}={v}" for k, v in report["by_doc"].items())
          + "   (a cross-document question counts once per doc)")
    print(f"unanswerable share: {report['unanswerable_share']:.1%}")
    print(f"answerable questions naming no region: {report['answerable_without_region']}")

    print("\ngold_quote occurrences (doc:count); 001 holds its article twice, so 2 there is one place:")
    generic = 0
    for qid, quote, counts in report["quote_counts"]:
        places = sum(c if d != "001" else (c + 1) // 2 for d, c in counts.items())
        flag = "  <-- generic" if places > 1 else ""
        generic += bool(flag)
        if args.verbose or flag:
            shown = " ".join(f"{d}:{c}" for d, c in sorted(counts.items())) or "-"
            print(f"  {qid}  {quote}  [{shown}]{flag}")
    print(f"  {len(report['quote_counts'])} quotes, {generic} occurring in more than one place")

    for w in warnings:
        print("WARNING", w)
    for e in errors:
        print("ERROR", e)
    print("\nOK" if not errors else f"\n{len(errors)} error(s)")
    return 1 if errors else 0


if __name__ == "__main__":
    sys.exit(main())
