"""The evidence one question is answered from, gathered once for the gate and the answerers.

`Evidence.gather` takes the retrieval result and the answer context and works out what every
later stage needs: the hits focused on the places the question names, the question's content
words and their IDF weights, and which metadata field (if any) it asks for. `sentences` cuts a
hit's chunk into sentences with document offsets, `coverage` measures how much of the
question's content a text holds.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Callable

from rag.answer.asked import field_words, metadata_field
from rag.answer.context import AnswerContext
from rag.index.catalog import EXACT
from rag.messages import TRUNCATED
from rag.records import UNKNOWN, Chunk, Hit
from rag.retrieve.query import years_in
from rag.text import places as rg
from rag.text.everyday import documentary

if TYPE_CHECKING:  # pragma: no cover
    from rag.retrieve.hybrid import SearchResult
    from rag.retrieve.query import Analysis

# Words that say what kind of question it is, not what it is about.
QUESTION_WORDS = frozenset(
    """哪个 哪些 哪年 哪一年 哪天 哪里 哪儿 哪家 哪份 哪几 哪几个 哪几年 哪项 哪方面 哪位 哪篇 什么 啥 有啥 叫啥 多少 几 几个
    几年 一年 谁 是否 有没有 没有 能不能 不能 可以 可不可以 是不是 不是 怎么 怎么样 如何 为什么 咋 咋办 吗 呢 啊 吧 了
    要求 规定 提出 明确 提到 写 写的 说 说法 讲 讲的 方案 实施 实施方案 文件 份文件 里 中 关于 情况 主要 内容 具体
    时候 什么时候 何时 期限 之前 以前 年前 前 完成 实现 达到 比例 牵头 负责 配合 部门 单位 找 管 归 办 由 哪个部门
    以后 现在 听说 真的 我 我们 我家 他们 他 她 一下 知道 请问 到底 需要 目前 今后 五年 年度 报告 期间 提供 做 做了
    哪些地方 分别 各自 都 比较 对比 两地 相同 不同 区别 共同 共同点 同点 表述 那个 这个 这份 这篇 篇文章 文章 那篇
    打算 之间 遇到 整个 上来 一共 总共 名字 叫 市里 县里 区里 省里 老有 政府 法治 法治政府 建设 工作 省 市 县 区
    地方 城市 哪个城市 哪个地方""".split()
)
_SENT_RE = re.compile(r"[^。!?;\n]+[。!?;]?")
_NOTE_ONLY_RE = re.compile(r"^[(\uff08][^()]*(?:牵头|负责|配合)[^()]*[)\uff09][。;]?$")


@dataclass
class Sentence:
    chunk: Chunk
    hit: Hit
    start: int  # offsets in the document text
    end: int
    text: str
    score: float = 0.0


def sentences(hit: Hit) -> list[Sentence]:
    """The sentences/items of a hit's chunk with document offsets (terminal punctuation kept;
    a responsibility note stays with its measure)."""
    c = hit.chunk
    out = []
    for m in _SENT_RE.finditer(c.text):
        s, e = m.start(), m.end()
        while s < e and c.text[s].isspace():
            s += 1
        while e > s and c.text[e - 1].isspace():
            e -= 1
        if e - s < 4:
            continue
        out.append(Sentence(c, hit, c.start + s, c.start + e, c.text[s:e]))
    # a note "(区财政局牵头,…)" opening the next sentence belongs to the previous one
    merged: list[Sentence] = []
    for s in out:
        if merged and _NOTE_ONLY_RE.match(s.text):
            p = merged[-1]
            merged[-1] = Sentence(p.chunk, p.hit, p.start, s.end, c.text[p.start - c.start:s.end - c.start])
        else:
            merged.append(s)
    return merged


def keywords(normalized_question: str, place_names: list[str], words: Callable[[str], list[str]]) -> list[str]:
    """Content words of a question: its words without question words, places and stop words."""
    q = normalized_question
    for name in sorted(place_names, key=len, reverse=True):
        q = q.replace(name, " ")
    out = []
    for t in words(q):
        if t in QUESTION_WORDS or t.isdigit() or re.fullmatch(r"\d{4}年?", t):
            continue
        if t not in out:
            out.append(t)
    return out


def coverage(words: list[str], weights: dict[str, float], text: str) -> float:
    """IDF-weighted share of `words` that stand in `text`."""
    total = sum(weights.get(w, 1.0) for w in words)
    if total == 0:
        return 0.0
    return sum(weights.get(w, 1.0) for w in words if w in text) / total


def has_all(words: list[str], text: str) -> bool:
    """Every one of `words` stands in `text`."""
    return all(w in text for w in words)


def focus(hits: list[Hit], a: "Analysis") -> list[Hit]:
    """When the question names places, keep the hits of the documents about exactly those
    places if there are any (宁夏 → 宁夏's own plan, not 利通区's)."""
    if not a.doc_match:
        return hits
    exact = [h for h in hits if a.doc_match.get(h.chunk.doc_id) == EXACT]
    if exact:
        return exact
    inside = [h for h in hits if h.chunk.doc_id in a.doc_match]
    return inside or hits


@dataclass
class Evidence:
    """Everything the gate and the answerers read for one question (see the module docstring)."""

    question: str  # as asked
    standalone: str  # the question after follow-up rewriting (what was searched)
    result: "SearchResult"
    ctx: AnswerContext
    hits: list[Hit] = field(default_factory=list)  # focused on the named places, best first
    words: list[str] = field(default_factory=list)  # content words of the question
    weights: dict[str, float] = field(default_factory=dict)  # their IDF weights
    field_name: str = ""  # the metadata field asked for (contact, doc_number, issuer, date, period)
    notice: str = ""

    @property
    def analysis(self) -> "Analysis":
        return self.result.analysis

    @property
    def docs(self):
        return self.ctx.documents

    @property
    def inherited_years(self) -> list[int]:
        """Years the follow-up rewriting carried over from the previous turn ("东城街道呢?" after
        "…丹江镇2023年…"): the user asked about the other place, not necessarily that year."""
        own = set(years_in(self.question))
        return [y for y in self.analysis.years if y not in own] if self.standalone != self.question else []

    def report_of_year(self, year: int, doc_id: str) -> bool:
        """An annual report is of its own year only (its period or title names it)."""
        m = self.docs[doc_id].meta
        return str(year) in m.period or str(year) in m.title

    def year_covered(self, year: int, doc_id: str) -> bool:
        """A document covers a year: within its period, or the year stands in its text."""
        m = self.docs[doc_id].meta
        if m.period != UNKNOWN:
            years = [int(y) for y in re.findall(r"\d{4}", m.period)]
            if years and min(years) <= year <= max(years):
                return True
        doc = self.ctx.document(doc_id)
        return bool(doc and str(year) in doc.text)

    @classmethod
    def gather(cls, question: str, standalone: str, result: "SearchResult", ctx: AnswerContext) -> "Evidence":
        a = result.analysis
        field_name = metadata_field(a.normalized)
        places = a.places + a.mentioned_places + [rg.get(p).short for p in a.places if rg.get(p)]
        words = keywords(field_words(a.normalized, field_name), places, ctx.words)
        words = list(dict.fromkeys(d for d in (documentary(w, ctx.mentions) for w in words) if d))
        return cls(
            question=question, standalone=standalone, result=result, ctx=ctx,
            hits=focus(result.hits, a), words=words, weights=ctx.idf(words) if words else {},
            field_name=field_name,
            notice=TRUNCATED.format(n=ctx.max_question_chars) if a.truncated else "",
        )
