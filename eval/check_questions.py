#!/usr/bin/env python3
"""Validate eval question sets (questions.jsonl, questions_ext.jsonl) against the corpus.

Standalone on purpose (only needs opencc): it does not import the `rag`
package, so it checks the question set independently of the pipeline's own
cleaning code.  Usable from tests:

    from eval.check_questions import validate
    errors, warnings, report = validate()                       # questions.jsonl over data/docs
    errors, warnings, report = validate(ROOT / "eval/questions_ext.jsonl",
                                        [ROOT / "data/docs", ROOT / "tests/fixtures/docs"])
    assert not errors

Run:  python eval/check_questions.py [--questions PATH] [--docs DIR ...] [-v]
      python eval/check_questions.py --questions eval/questions_ext.jsonl \
          --docs data/docs --docs tests/fixtures/docs
Exit status 1 when any error is found.

Documents are read from every --docs folder (.txt, .md, .html/.htm); a document's id
is the first three characters of its file name ("000", "a01", "b07").  Bytes are
decoded as UTF-8; otherwise as GB18030 or Big5, whichever decodes strictly and reads
as Chinese text (Big5 bytes often also "decode" as GB18030, into nonsense).  HTML is
reduced to text: scripts and styles dropped, block tags (p, div, br, li, tr, td, th,
h1-h6, title, table) become line breaks, other tags are removed, entities unescaped.

The split rule (required key `split` in a file where any question has one, or whose
name contains "_ext"):
  * fixture documents (ids a01..a18, b01..b19) with an even number are TEST, odd DEV;
  * an original document ("000".."004") counts as TEST when the question's id number
    is even, DEV when it is odd;
  * a question is "test" when any of its documents is TEST, else "dev";
  * an unanswerable question (doc null) is "test" when its id number is even;
  * the held-out families (documents h01..h60, questions q601..q799, q801..q899 and q901..q999) are DEV:
    each is measured once before anything is changed for it, then used to fix what failed.
"""
from __future__ import annotations

import argparse
import collections
import html
import json
import re
import sys
import unicodedata
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_QUESTIONS = ROOT / "eval" / "questions.jsonl"
DEFAULT_DOCS = ROOT / "data" / "docs"
DOC_SUFFIXES = (".txt", ".md", ".html", ".htm")

TYPES = (
    "fact", "department", "deadline", "target", "metadata",
    "comparison", "traditional", "colloquial", "unanswerable",
)
SPLITS = ("dev", "test")
REQUIRED = ("id", "type", "question", "gold_quotes", "answer_facts", "answerable", "doc")
OPTIONAL = ("gold_all", "gold_docs_min", "note", "split", "history")

# Latin pinyin glosses such as (qū) or (huì ) -- possibly with a trailing space.
_GLOSS = re.compile(r"[\(（][a-zāáǎàēéěèīíǐìōóǒòūúǔùǖǘǚǜüńňǹḿ\s]+[\)）]\s?")
# A comma directly before another punctuation mark is scraping noise (",," ",。" ",、" ",;").
_DOUBLE = re.compile(r",(?=[,。、;:!?])")
_WS = re.compile(r"\s+")
_QID = re.compile(r"^q(\d+)$")
_FIXTURE_ID = re.compile(r"^[a-z](\d{2})$")
_ORIGINAL_ID = re.compile(r"^\d{3}$")
# Lines that look like page chrome or header tables: a gold quote found only on such
# lines is suspicious (the cleaner is expected to drop them).
_CHROME_LINE = re.compile(
    r"索\s*引\s*号|发布时间|发布日期|更新时间|浏览次数|浏览量|阅读次数|点击率|访问次数|ICP备|网站标识码|"
    r"公网安备|当前位置|您当前的位置|您所在的位置|上一篇|下一篇|主办单位|版权所有|字号[:：]|字体[:：]|"
    r"【打印|打印本页|关闭窗口|扫一扫|^\s*来源[:：]|文章来源|信息来源|发文字号|成文日期|主题分类")
# Place names that make a question "name a region" (checked on the t2s-converted question).
_REGION = re.compile(
    r"宁夏|萍乡|利通|陕西|五原|吴忠|江西|内蒙古|巴彦淖尔|静海|天津|万州|重庆|岳阳|湖南|昌吉|新疆|"
    r"科右前旗|科尔沁|兴安|锡林郭勒|锡盟|义乌|金华|浙江|西平|驻马店|河南|中阳|吕梁|山西|永泰|福州|福建|"
    r"广西|黔南|贵州|张掖|甘肃|南陵|芜湖|安徽|四川|延寿|哈尔滨|黑龙江|密云|鼓楼|北京|新罗|龙岩|东城|"
    r"武清|四平|吉林|东港|丹东|辽宁|霍山|六安|阳朔|白沙|桂林|宁安|牡丹江|威县|邢台|河北|互助|海东|青海|"
    r"楚雄|云南|丹江|雷山|黔东南|胜利路|永川|稠城|宜昌|湖北|固始|信阳|嘉定|上海|沧州|寿光|潍坊|山东")

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


# --------------------------------------------------------------------------- reading

_COMMON = ("法治", "政府", "建设", "建設", "年度", "工作")


def decode_bytes(data: bytes) -> str:
    """UTF-8, else GB18030 or Big5 (whichever decodes strictly and reads as Chinese)."""
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        pass
    candidates = []
    for enc in ("gb18030", "big5"):
        try:
            candidates.append(data.decode(enc))
        except UnicodeDecodeError:
            continue
    if not candidates:
        return data.decode("gb18030", errors="replace")
    # GB18030 "decodes" most Big5 files too, into nonsense: keep the reading with more
    # common words (ties go to GB18030, the first candidate).
    return max(candidates, key=lambda t: sum(t.count(w) for w in _COMMON))


_BLOCK_TAG = re.compile(r"(?i)<\s*(br|/?p|/?div|/?li|/?tr|/?td|/?th|/?h[1-6]|/?title|/?table|/?ul|/?ol)\b[^>]*>")


def html_to_text(text: str) -> str:
    text = re.sub(r"(?is)<(script|style)\b.*?</\1\s*>", "\n", text)
    text = re.sub(r"(?s)<!--.*?-->", "", text)
    text = _BLOCK_TAG.sub("\n", text)
    text = re.sub(r"(?s)<[^>]+>", "", text)
    return html.unescape(text)


def read_doc(path: Path) -> str:
    text = decode_bytes(Path(path).read_bytes())
    if path.suffix.lower() in (".html", ".htm"):
        text = html_to_text(text)
    return text


def _as_dirs(docs_dirs) -> list[Path]:
    if docs_dirs is None:
        return [DEFAULT_DOCS]
    if isinstance(docs_dirs, (str, Path)):
        return [Path(docs_dirs)]
    return [Path(d) for d in docs_dirs]


def load_raw(docs_dirs=None) -> tuple[dict[str, str], list[str]]:
    """{prefix: raw decoded text} over all folders, plus errors (duplicate prefixes)."""
    raw, where, errors = {}, {}, []
    for folder in _as_dirs(docs_dirs):
        if not folder.is_dir():
            errors.append(f"docs folder not found: {folder}")
            continue
        for path in sorted(folder.iterdir()):
            if path.suffix.lower() not in DOC_SUFFIXES or not path.is_file():
                continue
            prefix = path.name[:3]
            if prefix in raw:
                errors.append(f"duplicate document prefix {prefix!r}: {where[prefix]} and {path}")
                continue
            raw[prefix] = read_doc(path)
            where[prefix] = path
    return raw, errors


def load_corpus(docs_dir=DEFAULT_DOCS) -> dict[str, str]:
    """{prefix ("000", "a01"): normalised text}"""
    raw, _ = load_raw(docs_dir)
    return {p: normalize(t) for p, t in raw.items()}


def _segments_of(text: str) -> tuple[list[str], list[str], list[bool]]:
    text = _GLOSS.sub("", text)
    lines, segs, chrome = [], [], []
    for line in text.splitlines():
        if not line.strip():
            continue
        lines.append(normalize(line))
        chrome.append(bool(_CHROME_LINE.search(_t2s(line))))
        segs.extend(normalize(seg) for seg in line.split())
    return lines, segs, chrome


def load_segments(docs_dir=DEFAULT_DOCS) -> dict[str, tuple[list[str], list[str]]]:
    """{prefix: (normalised lines, normalised whitespace-separated segments)}.
    A gold quote must sit inside one line (never span a line break, hence never a
    heading line plus its body) and inside one whitespace-separated segment (in 001
    the headings are inline, separated from the body by a space)."""
    raw, _ = load_raw(docs_dir)
    return {p: _segments_of(t)[:2] for p, t in raw.items()}


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


def expected_split(q: dict) -> str | None:
    """The split the rule in the module docstring assigns, or None if it cannot tell."""
    m = _QID.match(str(q.get("id", "")))
    if not m:
        return None
    n = int(m.group(1))
    if 601 <= n <= 799 or 801 <= n <= 899 or 901 <= n <= 999:  # the held-out families (h01..h60), used for fixing after one measurement
        return "dev"
    even_id = int(m.group(1)) % 2 == 0
    docs = _docs_of(q)
    if not docs:
        return "test" if even_id else "dev"
    for d in docs:
        fm = _FIXTURE_ID.match(d)
        if fm and not d.startswith("h") and int(fm.group(1)) % 2 == 0:
            return "test"
        if _ORIGINAL_ID.match(d) and even_id:
            return "test"
    return "dev"


def names_region(question: str) -> bool:
    return bool(_REGION.search(_t2s(question).replace("陜", "陕")))


# --------------------------------------------------------------------------- checks

def validate(questions_path: Path = DEFAULT_QUESTIONS, docs_dir=DEFAULT_DOCS,
             require_split: bool | None = None):
    raw, errors = load_raw(docs_dir)
    corpus = {p: normalize(t) for p, t in raw.items()}
    segments = {p: _segments_of(t) for p, t in raw.items()}
    questions, q_errors = load_questions(questions_path)
    errors.extend(q_errors)
    warnings: list[str] = []
    quote_counts: list[tuple[str, str, dict[str, int]]] = []
    seen: set[str] = set()
    if require_split is None:
        require_split = "_ext" in Path(questions_path).name or any("split" in q for q in questions)

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
        if not _QID.match(str(q["id"])):
            errors.append(f"{where}: id must look like q123")
        if q["type"] not in TYPES:
            errors.append(f"{where}: bad type {q['type']!r}")
        if not isinstance(q["question"], str) or not q["question"].strip():
            errors.append(f"{where}: empty question")

        if "history" in q:
            h = q["history"]
            if not isinstance(h, list) or not h or not all(isinstance(t, str) and t.strip() for t in h):
                errors.append(f"{where}: history must be a non-empty list of non-empty strings")
        if "split" in q or require_split:
            if q.get("split") not in SPLITS:
                errors.append(f"{where}: split must be one of {SPLITS}, got {q.get('split')!r}")
            else:
                want = expected_split(q)
                if want and q["split"] != want:
                    errors.append(f"{where}: split {q['split']!r} breaks the split rule (expected {want!r})")

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
                lines, segs, chrome = segments[d]
                hits = [i for i, line in enumerate(lines) if nq in line]
                if not hits:
                    errors.append(f"{where}: gold_quote spans a line break in {d}: {quote}")
                elif not any(nq in seg for seg in segs):
                    errors.append(f"{where}: gold_quote spans a space (inline heading?) in {d}: {quote}")
                elif all(chrome[i] for i in hits):
                    warnings.append(f"{where}: gold_quote occurs only on chrome/header-like lines in {d}: {quote}")
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

    def share(qs):
        return round(sum(1 for q in qs if q.get("answerable") is False) / max(1, len(qs)), 3)

    by_type = collections.Counter(q.get("type") for q in questions)
    by_doc: collections.Counter = collections.Counter()
    for q in questions:
        ds = _docs_of(q)
        if not ds:
            by_doc["none"] += 1
        for d in ds:
            by_doc[d] += 1
    by_split: dict[str, list[dict]] = collections.defaultdict(list)
    for q in questions:
        by_split[q.get("split", "-")].append(q)
    no_region = sum(1 for q in questions if q.get("answerable") and not names_region(q.get("question", "")))
    report = {
        "total": len(questions),
        "by_type": dict(sorted(by_type.items())),
        "by_doc": dict(sorted(by_doc.items())),
        "unanswerable_share": share(questions),
        "answerable_without_region": no_region,
        "dialogues": sum(1 for q in questions if q.get("history")),
        "by_split": {s: len(qs) for s, qs in sorted(by_split.items())},
        "by_split_type": {s: dict(sorted(collections.Counter(q.get("type") for q in qs).items()))
                          for s, qs in sorted(by_split.items())},
        "unanswerable_share_by_split": {s: share(qs) for s, qs in sorted(by_split.items())},
        "dialogues_by_split": {s: sum(1 for q in qs if q.get("history")) for s, qs in sorted(by_split.items())},
        "quote_counts": quote_counts,
    }
    return errors, warnings, report


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--questions", type=Path, default=DEFAULT_QUESTIONS)
    ap.add_argument("--docs", type=Path, action="append",
                    help="a documents folder; repeat for several (default: data/docs)")
    ap.add_argument("-v", "--verbose", action="store_true", help="print every quote's counts")
    args = ap.parse_args(argv)

    errors, warnings, report = validate(args.questions, args.docs or [DEFAULT_DOCS])
    print(f"questions: {report['total']}   dialogues (with history): {report['dialogues']}")
    print("by type:  " + ", ".join(f"{k}={v}" for k, v in report["by_type"].items()))
    print("by doc:   " + ", ".join(f"{k}={v}" for k, v in report["by_doc"].items())
          + "   (a cross-document question counts once per doc)")
    print(f"unanswerable share: {report['unanswerable_share']:.1%}")
    print(f"answerable questions naming no region: {report['answerable_without_region']}")
    if list(report["by_split"]) != ["-"]:
        total = max(1, report["total"])
        for s, n in report["by_split"].items():
            print(f"split {s}: {n} ({n / total:.1%}), unanswerable share "
                  f"{report['unanswerable_share_by_split'][s]:.1%}, dialogues {report['dialogues_by_split'][s]}")
            print("    by type: " + ", ".join(f"{k}={v}" for k, v in report["by_split_type"][s].items()))

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
