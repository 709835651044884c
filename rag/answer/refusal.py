"""The refusal gate: a stage of its own, before any answer is composed or generated.

It decides whether the documents cover the question at all. Each rule is a small named check
over the `Evidence`; they run in order and the first that objects refuses, with its reason.
A rule may also accept outright (the document's own metadata answers a 文号 question), which
ends the checks. The rules, in order:

- `no_hits`: nothing was retrieved;
- `unknown_place`: the question names a place no document covers;
- `year_outside`: a year outside the documents' periods and text;
- `unknown_body`: a named office (区教育局) no document mentions;
- `metadata_absent`: a metadata field (联系人, 文号…) the documents lack (accepts when present);
- `unit_absent`: a number asked in a unit (多少人) the evidence never gives;
- `share_absent`, `money_absent`: a share or an amount of money the evidence never gives;
- `procedure_absent`: a procedure (怎么补办) whose action no document mentions;
- `low_coverage`: too little of the question's content (IDF-weighted) in the best evidence;
- `rate_absent`: a named rate (审核率) the evidence never names;
- `low_similarity`: the best dense similarity is below the threshold, unless every content word
  stands in one retrieved section (exact evidence beats the small model's score).

A refusal says what is not covered and what the collection does cover (`refusal_text`).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Callable, Sequence

from rag.answer.asked import (
    ASKED_MONEY_RE,
    ASKED_RATE_RE,
    ASKED_SHARE_RE,
    ASKED_UNIT_RE,
    META_LABELS,
    META_PATTERNS,
    MONEY_RE,
    PCT_RE,
    how_to_action,
    named_bodies,
    unit_pattern,
)
from rag.answer.evidence import Evidence, coverage, has_all
from rag.index.catalog import EXACT
from rag.messages import REFUSAL, REFUSAL_MORE
from rag.records import UNKNOWN

ACCEPT = "\x00accept"  # a rule's verdict that ends the checks without refusing
TOP = 5  # the rules read the best five focused hits


@dataclass
class Refusal:
    rule: str  # the name of the rule that refused
    reason: str  # what is not covered, for the user


@dataclass
class GateSettings:
    coverage_threshold: float = 0.15  # answer.refusal_threshold
    dense_threshold: float = 0.875  # answer.refusal_dense (0 = off)


def _focus_docs(ev: Evidence) -> set[str]:
    a = ev.analysis
    if a.doc_match:
        return {d for d, s in a.doc_match.items() if s == EXACT} or set(a.doc_match)
    return {h.chunk.doc_id for h in ev.hits[:TOP]}


def _docs_label(doc_ids, docs) -> str:
    names = [f"《{docs[d].meta.title}》" for d in sorted(doc_ids) if d in docs and docs[d].meta.title != UNKNOWN]
    return "、".join(names[:3]) or "文件"


def _year_covered(year: int, doc_id: str, ev: Evidence) -> bool:
    m = ev.docs[doc_id].meta
    if m.period != UNKNOWN:
        years = [int(y) for y in re.findall(r"\d{4}", m.period)]
        if years and min(years) <= year <= max(years):
            return True
    doc = ev.ctx.document(doc_id)
    return bool(doc and str(year) in doc.text)


# ---------------------------------------------------------------- the rules

def no_hits(ev: Evidence, g: GateSettings) -> str:
    return "" if ev.hits else "没有检索到相关内容"


def unknown_place(ev: Evidence, g: GateSettings) -> str:
    a = ev.analysis
    if a.unknown_places and not a.doc_match:
        return f"现有文件不涉及{'、'.join(a.unknown_places)}"
    return ""


def year_outside(ev: Evidence, g: GateSettings) -> str:
    focus_docs = _focus_docs(ev)
    for year in ev.analysis.years:
        if not any(_year_covered(year, d, ev) for d in focus_docs if d in ev.docs):
            return f"现有{_docs_label(focus_docs, ev.docs)}不涉及{year}年"
    return ""


def unknown_body(ev: Evidence, g: GateSettings) -> str:
    for body in named_bodies(ev.analysis.normalized):
        if not ev.ctx.mentions(body) and not any(body in h.chunk.text for h in ev.hits):
            return f"现有文件没有提到“{body}”"
    return ""


def metadata_absent(ev: Evidence, g: GateSettings) -> str:
    name = ev.field_name
    if not name:
        return ""
    focus_docs = _focus_docs(ev)
    if any(getattr(ev.docs[d].meta, name) != UNKNOWN for d in focus_docs if d in ev.docs):
        return ACCEPT  # the document's metadata answers it
    if not any(re.search(META_PATTERNS[name], h.chunk.text) for h in ev.hits[:TOP]):
        return f"{_docs_label(focus_docs, ev.docs)}中没有{META_LABELS[name]}"
    return ""


def unit_absent(ev: Evidence, g: GateSettings) -> str:
    unit = ASKED_UNIT_RE.search(ev.analysis.normalized)
    if unit and not any(re.search(unit_pattern(unit.group(1)), h.chunk.text) for h in ev.hits[:TOP]):
        return f"现有文件中没有以“{unit.group(1)}”计的这个数字"
    return ""


def share_absent(ev: Evidence, g: GateSettings) -> str:
    if ASKED_SHARE_RE.search(ev.analysis.normalized) and not any(PCT_RE.search(h.chunk.text) for h in ev.hits[:TOP]):
        return "现有文件中没有这个比例"
    return ""


def money_absent(ev: Evidence, g: GateSettings) -> str:
    if ASKED_MONEY_RE.search(ev.analysis.normalized) and not any(MONEY_RE.search(h.chunk.text) for h in ev.hits[:TOP]):
        return "现有文件中没有这项费用的金额"
    return ""


def procedure_absent(ev: Evidence, g: GateSettings) -> str:
    action = how_to_action(ev.analysis.normalized, ev.ctx.words)
    if action and not ev.ctx.mentions(action):
        return f"现有文件没有讲怎么“{action}”"
    return ""


def low_coverage(ev: Evidence, g: GateSettings) -> str:
    words, top = ev.words, ev.hits[:TOP]
    if not words:
        return ""
    best = max(coverage(words, ev.weights, h.chunk.text + " " + h.chunk.section) for h in top)
    if best < g.coverage_threshold:
        missing = [w for w in words if not any(w in h.chunk.text for h in top)]
        topic = "、".join(missing[:3]) or "、".join(words[:3])
        return f"现有文件中没有关于“{topic}”的内容"
    return ""


def rate_absent(ev: Evidence, g: GateSettings) -> str:
    rate = ASKED_RATE_RE.search(ev.analysis.normalized)
    if rate and not any(rate.group(1) in h.chunk.text for h in ev.hits[:TOP]):
        return f"现有文件中没有“{rate.group(1)}”这个指标"
    return ""


def low_similarity(ev: Evidence, g: GateSettings) -> str:
    """The small embedding model scores short questions about rare terms low (营业执照归哪个部门管?
    0.87), so when all of the question's content words (two or more) stand in one retrieved
    section, that exact evidence overrides this rule."""
    dense, top = ev.result.dense, ev.hits[:TOP]
    if not dense or g.dense_threshold <= 0:
        return ""
    if len(ev.words) >= 2 and any(has_all(ev.words, h.chunk.text) for h in top):
        return ""
    best = max((dense.get(h.chunk.id, 0.0) for h in top), default=0.0)
    return "检索到的段落与问题的相关度太低" if best < g.dense_threshold else ""


Rule = Callable[[Evidence, GateSettings], str]
RULES: tuple[Rule, ...] = (no_hits, unknown_place, year_outside, unknown_body, metadata_absent, unit_absent,
                           share_absent, money_absent, procedure_absent, low_coverage, rate_absent, low_similarity)


class RefusalGate:
    """Runs the rules in order; `check` returns the first refusal, or None to answer."""

    def __init__(self, refusal_threshold: float = 0.15, refusal_dense: float = 0.875,
                 rules: Sequence[Rule] = RULES):
        self.settings = GateSettings(refusal_threshold, refusal_dense)
        self.rules = tuple(rules)

    def check(self, ev: Evidence) -> Refusal | None:
        for rule in self.rules:
            verdict = rule(ev, self.settings)
            if verdict == ACCEPT:
                return None
            if verdict:
                return Refusal(rule.__name__, verdict)
        return None


def refusal_text(reason: str, docs) -> str:
    """The refusal sentence: why, and what the collection covers (the first eight documents)."""
    docs = list(docs)
    covered = ";".join(
        f"{d.meta.region}《{d.meta.title}》" if d.meta.region != UNKNOWN else f"《{d.meta.title}》" for d in docs[:8]
    )
    more = REFUSAL_MORE.format(n=len(docs)) if len(docs) > 8 else ""
    return REFUSAL.format(reason=reason, covered=covered, more=more)
