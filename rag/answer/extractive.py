"""Answering: the offline extractive answerer (default) and the LLM answerer.

The extractive answerer needs no language model. From the retrieved sections it selects the
sentences or list items that answer the question, keeps them verbatim, and cites each one:
- 哪个部门牵头/负责 → the lead and supporting bodies from the responsibility note first;
- 什么时候/哪年 → the deadline first;  多少/比例 → the figure first;
- 文号/联系人/谁印发 → the document's metadata, cited where it stands in the text;
- comparisons across regions → one cited line per region.

Before answering, a refusal gate decides whether the documents cover the question at all:
a place no document covers, a year outside the documents, a metadata field the document lacks,
an amount (多少钱), a named rate (审核率) or a procedure (怎么补办) the documents never state, too little of the
question's content found in the best evidence (IDF-weighted keyword coverage below
`answer.refusal_threshold`), or a best dense similarity below `answer.refusal_dense` (unless
every content word stands in one retrieved section). A refusal says what is not covered and what is.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Iterator

from rag.config import Config
from rag.index.lexical import tokenize
from rag.records import UNKNOWN, Answer, Chunk, Citation, Hit
from rag.retrieve.query import EXACT, Analysis
from rag.text import places as rg

if TYPE_CHECKING:  # pragma: no cover
    from rag.pipeline import Pipeline
    from rag.retrieve.hybrid import SearchResult

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
REFUSAL_PREFIX = "资料中没有"
_SENT_RE = re.compile(r"[^。!?;\n]+[。!?;]?")
_NUMBER_RE = re.compile(r"\d+(?:\.\d+)?\s*(?:%|万|亿|个|项|件|次|人|名|家|余|户|场|期|批|所|条|天|年|小时|学时|部|套|支)")
_PCT_RE = re.compile(r"\d+(?:\.\d+)?%")


# ---------------------------------------------------------------- evidence

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
        if merged and re.match(r"^[(\uff08][^()]*(?:牵头|负责|配合)[^()]*[)\uff09][。;]?$", s.text):
            p = merged[-1]
            merged[-1] = Sentence(p.chunk, p.hit, p.start, s.end, c.text[p.start - c.start:s.end - c.start])
        else:
            merged.append(s)
    return merged


class Weights:
    """IDF weights of question keywords from the lexical index's document frequencies."""

    def __init__(self, lexical_index):
        self.lex = lexical_index

    def idf(self, tokens: list[str]) -> dict[str, float]:
        df = self.lex.doc_freq(tokens)
        n = max(len(self.lex), 1)
        return {t: math.log((n - df.get(t, 0) + 0.5) / (df.get(t, 0) + 0.5) + 1.0) for t in tokens}


def keywords(normalized_question: str, place_names: list[str]) -> list[str]:
    """Content words of a question: jieba words without question words, places and stop words."""
    q = normalized_question
    for name in sorted(place_names, key=len, reverse=True):
        q = q.replace(name, " ")
    words = []
    for t in tokenize(q, bigrams=False):
        if t in QUESTION_WORDS or t.isdigit() or re.fullmatch(r"\d{4}年?", t):
            continue
        if t not in words:
            words.append(t)
    return words


def coverage(words: list[str], weights: dict[str, float], text: str) -> float:
    total = sum(weights.get(w, 1.0) for w in words)
    if total == 0:
        return 0.0
    return sum(weights.get(w, 1.0) for w in words if w in text) / total


def focus(hits: list[Hit], a: Analysis) -> list[Hit]:
    """When the question names places, keep the hits of the documents about exactly those
    places if there are any (宁夏 → 宁夏's own plan, not 利通区's)."""
    if not a.doc_match:
        return hits
    exact = [h for h in hits if a.doc_match.get(h.chunk.doc_id) == EXACT]
    if exact:
        return exact
    inside = [h for h in hits if h.chunk.doc_id in a.doc_match]
    return inside or hits


def llm_hits(result: "SearchResult", max_sources: int = 5) -> list[Hit]:
    """The sections an LLM answers from: the focused hits, best first."""
    return focus(result.hits, result.analysis)[:max_sources]


def as_sources(hits: list[Hit]) -> list:
    """`hits` numbered from 1 as the LLM prompt's sources."""
    from rag.models.generate import Source

    return [Source(n=i, title=h.title, section=h.chunk.section, text=h.chunk.text) for i, h in enumerate(hits, 1)]


def has_all(words: list[str], text: str) -> bool:
    """Every one of `words` stands in `text`."""
    return all(w in text for w in words)


# ---------------------------------------------------------------- the extractive answerer

@dataclass
class Draft:
    lines: list[str] = field(default_factory=list)
    cited: list[tuple[str, int, int, Chunk, str]] = field(default_factory=list)  # (text, start, end, chunk, title)

    def cite(self, text: str, start: int, end: int, chunk: Chunk, title: str) -> int:
        for i, (t, s, e, c, _) in enumerate(self.cited, 1):
            if c.doc_id == chunk.doc_id and s == start and e == end:
                return i
        self.cited.append((text, start, end, chunk, title))
        return len(self.cited)


def _place_label(meta) -> str:
    r = rg.get(meta.region) if meta and meta.region != UNKNOWN else None
    return r.short if r else (meta.title if meta else "")


class ExtractiveAnswerer:
    name = "extractive"

    def __init__(self, refusal_threshold: float = 0.15, max_chars: int = 600, max_citations: int = 4,
                 refusal_dense: float = 0.875):
        self.refusal_threshold = refusal_threshold
        self.refusal_dense = refusal_dense
        self.max_chars = max_chars
        self.max_citations = max_citations

    # -- follow-ups without an LLM: carry the previous question's place and topic
    def condense(self, question: str, history: list[tuple[str, str]], pipeline: "Pipeline") -> str:
        return condense_without_llm(question, history)

    def stream(self, question: str, standalone: str, result: "SearchResult", pipeline: "Pipeline",
               history: list[tuple[str, str]]) -> Iterator[str | Answer]:
        answer = self.answer(question, standalone, result, pipeline)
        for piece in _pieces(answer.text):
            yield piece
        yield answer

    # -- the decision and the composition
    def answer(self, question: str, standalone: str, result: "SearchResult", pipeline: "Pipeline") -> Answer:
        a = result.analysis
        notice = "问题过长,已截取前 %d 个字" % pipeline.cfg.question.max_chars if a.truncated else ""
        docs = {d.doc_id: d for d in pipeline.index.documents()}
        hits = focus(result.hits, a)
        words = keywords(a.normalized, a.places + [rg.get(p).short for p in a.places if rg.get(p)])
        weights = Weights(pipeline.index.lexical).idf(words) if words else {}
        field_name = _metadata_field(a.normalized)
        reason = self._refusal_reason(a, hits, docs, words, weights, pipeline, result, field_name)
        if reason:
            return Answer(question, refusal_text(reason, docs.values()), [], True, notice, result.hits)
        draft = Draft()
        qtype = a.qtype
        if field_name and self._metadata(field_name, hits, docs, pipeline, draft):
            pass
        elif (qtype == "comparison" or len(a.place_docs) >= 2) and self._comparison(
                a, standalone, hits, words, weights, docs, pipeline, draft):
            pass
        elif qtype == "department" and any(h.chunk.duties for h in hits[:5]):
            self._department(a, hits, words, weights, draft)
        else:
            self._facts(a, hits, words, weights, draft, qtype, docs, pipeline)
        if not draft.lines:
            return Answer(question, refusal_text("检索到的段落中找不到回答这个问题的内容", docs.values()), [], True,
                          notice, result.hits)
        text = "\n".join(draft.lines)
        citations = [
            Citation(n=i, doc_id=c.doc_id, title=title, section=c.section, text=t, start=s, end=e, page=c.page)
            for i, (t, s, e, c, title) in enumerate(draft.cited, 1)
        ]
        return Answer(question, text, citations, False, notice, result.hits)

    def _refusal_reason(self, a: Analysis, hits: list[Hit], docs, words, weights, pipeline, result,
                        field_name: str) -> str:
        if not hits:
            return "没有检索到相关内容"
        if a.unknown_places and not a.doc_match:
            return f"现有文件不涉及{'、'.join(a.unknown_places)}"
        focus_docs = {h.chunk.doc_id for h in hits[:5]}
        if a.doc_match:
            focus_docs = {d for d, s in a.doc_match.items() if s == EXACT} or set(a.doc_match)
        for year in a.years:
            if not any(_year_covered(year, docs[d], pipeline) for d in focus_docs if d in docs):
                return f"现有{_docs_label(focus_docs, docs)}不涉及{year}年"
        for body in _named_bodies(a.normalized):
            if not pipeline.index.lexical.doc_freq([body]).get(body) and not any(body in h.chunk.text for h in hits):
                return f"现有文件没有提到“{body}”"
        if field_name:
            if any(getattr(docs[d].meta, field_name) != UNKNOWN for d in focus_docs if d in docs):
                return ""  # the document's metadata answers it
            if not any(re.search(_META_PATTERNS[field_name], h.chunk.text) for h in hits[:5]):
                return f"{_docs_label(focus_docs, docs)}中没有{META_LABELS[field_name]}"
        unit = _ASKED_UNIT_RE.search(a.normalized)
        if unit and not any(re.search(rf"{_NUMERAL}\s*(?:余|多)?{unit.group(1)}", h.chunk.text) for h in hits[:5]):
            return f"现有文件中没有以“{unit.group(1)}”计的这个数字"
        if _ASKED_SHARE_RE.search(a.normalized) and not any(_PCT_RE.search(h.chunk.text) for h in hits[:5]):
            return "现有文件中没有这个比例"
        if _ASKED_MONEY_RE.search(a.normalized) and not any(_MONEY_RE.search(h.chunk.text) for h in hits[:5]):
            return "现有文件中没有这项费用的金额"
        action = _how_to_action(a.normalized)
        if action and not pipeline.index.lexical.doc_freq([action]).get(action):
            return f"现有文件没有讲怎么“{action}”"
        if words:
            best = max(coverage(words, weights, h.chunk.text + " " + h.chunk.section) for h in hits[:5])
            if best < self.refusal_threshold:
                missing = [w for w in words if not any(w in h.chunk.text for h in hits[:5])]
                topic = "、".join(missing[:3]) or "、".join(words[:3])
                return f"现有文件中没有关于“{topic}”的内容"
        rate = _ASKED_RATE_RE.search(a.normalized)
        if rate and not any(rate.group(1) in h.chunk.text for h in hits[:5]):
            return f"现有文件中没有“{rate.group(1)}”这个指标"
        if result.dense and self.refusal_dense > 0 and not self._every_word_in_one_hit(words, hits[:5]):
            best_dense = max((result.dense.get(h.chunk.id, 0.0) for h in hits[:5]), default=0.0)
            if best_dense < self.refusal_dense:
                return "检索到的段落与问题的相关度太低"
        return ""

    @staticmethod
    def _every_word_in_one_hit(words: list[str], hits: list[Hit]) -> bool:
        """All of the question's content words (two or more) stand in one retrieved section's text.
        The small embedding model scores short questions about rare terms low (营业执照归哪个部门管?
        0.87), so such exact evidence overrides the dense-similarity gate."""
        return len(words) >= 2 and any(has_all(words, h.chunk.text) for h in hits)

    # -- composition by question type
    def _rank_sentences(self, hits: list[Hit], words, weights, qtype: str, limit: int = 6) -> list[Sentence]:
        out = []
        for h in hits[:limit]:
            for s in sentences(h):
                if _is_heading(s):
                    continue
                cov = coverage(words, weights, s.text) if words else 0.0
                bonus = 0.0
                if qtype == "deadline" and re.search(r"\d{4}年", s.text):
                    bonus += 0.25
                if qtype == "target" and (_PCT_RE.search(s.text) or _NUMBER_RE.search(s.text)):
                    bonus += 0.25
                path_cov = coverage(words, weights, h.chunk.section) if words else 0.0
                s.score = cov + 0.3 * path_cov + bonus + 0.15 / h.rank
                out.append(s)
        out.sort(key=lambda s: -s.score)
        return out

    def _facts(self, a: Analysis, hits, words, weights, draft: Draft, qtype: str, docs, pipeline) -> None:
        ranked = self._rank_sentences(hits, words, weights, qtype)
        if not ranked:
            return
        best = ranked[0]
        chosen = [best]
        same = [s for s in sentences(best.hit) if not _is_heading(s)]
        idx = next((i for i, s in enumerate(same) if s.start == best.start), len(same))
        # a short lead-in ("二是开展…活动。", "…存在一些不足,") is completed by what follows it
        nxt = idx + 1
        while nxt < len(same) and sum(len(s.text) for s in chosen) < 60:
            chosen.append(same[nxt])
            nxt += 1
        if re.search(r"[,:]$", chosen[-1].text) and nxt >= len(same):
            chosen += self._items_below(best.hit, pipeline)
        for s in ranked[1:]:
            if len(chosen) >= 3:
                break
            if s.score >= 0.75 * best.score and s.chunk.id == best.chunk.id and all(s.start != c.start for c in chosen):
                chosen.append(s)
        chosen.sort(key=lambda s: (s.chunk.doc_id, s.start))
        lead = ""
        if qtype == "deadline":
            from rag.ingest.duties import find_deadlines

            dl = find_deadlines(best.text) or re.findall(r"\d{4}年(?:\d{1,2}月)?(?:底|年底)?", best.text)
            lead = f"时间:{dl[0]}。" if dl else ""
        elif qtype == "target":
            m = _PCT_RE.search(best.text) or _NUMBER_RE.search(best.text)
            lead = f"数字:{m.group(0)}。" if m else ""
        if _WHICH_SOURCE_RE.search(a.normalized):
            meta = docs[best.chunk.doc_id].meta if best.chunk.doc_id in docs else None
            if meta is not None:
                lead = f"出自{_place_label(meta)}《{meta.title}》。" + lead
        body = []
        for s in chosen:
            n = draft.cite(s.text, s.start, s.end, s.chunk, s.hit.title)
            body.append(f"{_strip_label(s.text)}[{n}]")
        draft.lines.append(lead + _join(body, self.max_chars))

    @staticmethod
    def _items_below(hit: Hit, pipeline, limit: int = 4) -> list[Sentence]:
        """The first sentence of each item under a lead-in chunk ("存在一些不足," → 一是… 二是…)."""
        c = hit.chunk
        out = []
        for other in pipeline.index.store.doc_chunks(c.doc_id):
            if other.start < c.end or other.section_path[: len(c.section_path)] != c.section_path:
                continue
            if len(out) >= limit or other.section_path == c.section_path:
                break
            first = sentences(Hit(other, hit.score, hit.rank, hit.title, hit.meta))[:1]
            out += first
        return out

    def _department(self, a: Analysis, hits, words, weights, draft: Draft) -> None:
        """The lead and supporting bodies of the measure that best matches, then the measure. When
        another measure with other lead bodies holds every content word in the sentence its note
        closes (食品药品安全 is in 综合执法 and in "全过程保障食品药品安全(区综治办牵头…)"), it is
        named too, so the citizen sees both offices."""
        from rag.ingest.duties import measure_title

        candidates = []
        for h in hits[:5]:
            for d in h.chunk.duties:
                text = d.measure + d.note
                cov = coverage(words, weights, text) if words else 0.0
                candidates.append((cov + 0.1 / h.rank, cov, h, d))
        candidates.sort(key=lambda c: -c[0])
        _, _, h, d = candidates[0]
        n = self._cite_duty(h, d, draft)
        lead = f"牵头单位:{'、'.join(d.lead)}"
        if d.support:
            lead += f";配合单位:{'、'.join(d.support)}"
        draft.lines.append(f"{lead}[{n}]。")
        # quote the measure's most relevant sentence, unless it only repeats the measure's title
        sents = [s for s in sentences(h) if s.start >= d.measure_start and s.end <= d.end + 1 and not _is_heading(s)]
        top = max(sents, key=lambda s: coverage(words, weights, s.text) if words else 0.0) if sents else None
        title = measure_title(d.measure)
        deadline = f"(期限:{'、'.join(d.deadlines)})" if d.deadlines else ""
        detail = _strip_label(top.text) if top is not None else ""
        if _bare(detail) in ("", _bare(title)):
            draft.lines.append(f"对应措施:{title}{deadline}[{n}]。")
        elif title.endswith("…") and _bare(detail).startswith(_bare(title[:-1])):  # the title is the sentence, cut
            draft.lines.append(f"对应措施{deadline}:{_clip(detail, 160)}[{n}]")
        else:
            draft.lines.append(f"对应措施:{title}{deadline}。{_clip(detail, 160)}[{n}]")
        if not words:
            return
        other = next((c for c in candidates[1:] if set(c[3].lead) != set(d.lead)
                      and has_all(words, _note_sentence(c[2], c[3]))), None)
        if other is not None:
            _, _, h2, d2 = other
            m = self._cite_duty(h2, d2, draft)
            draft.lines.append(f"另一项相关措施“{measure_title(d2.measure)}”由{'、'.join(d2.lead)}牵头[{m}]。")

    @staticmethod
    def _cite_duty(h: Hit, d, draft: Draft) -> int:
        """Cite a measure together with its responsibility note."""
        return draft.cite(h.chunk.text[d.measure_start - h.chunk.start: d.end - h.chunk.start], d.measure_start, d.end,
                          h.chunk, h.title)

    def _metadata(self, field_name: str, hits, docs, pipeline, draft: Draft) -> bool:
        """Answer from the document's metadata, citing the line of the text where it stands."""
        record = next((docs[h.chunk.doc_id] for h in hits[:5] if h.chunk.doc_id in docs
                       and getattr(docs[h.chunk.doc_id].meta, field_name) != UNKNOWN), None)
        if record is None:
            return False
        value = getattr(record.meta, field_name)
        document = pipeline.index.document(record.doc_id)
        if document is None:
            return False
        pos = -1
        for needle in _meta_needles(field_name, value, record.meta):
            pos = document.text.find(needle) if needle else -1
            if pos >= 0:
                break
        if pos < 0:
            return False
        line_start = document.text.rfind("\n", 0, pos) + 1
        line_end = document.text.find("\n", pos)
        line_end = len(document.text) if line_end < 0 else line_end
        line = document.text[line_start:line_end]
        chunk = next((c for c in pipeline.index.store.doc_chunks(record.doc_id) if c.start <= pos < c.end), None)
        if chunk is None:
            return False
        n = draft.cite(line, line_start, line_end, chunk, record.meta.title)
        draft.lines.append(f"{META_LABELS[field_name]}:{_meta_display(field_name, value)}[{n}]。")
        draft.lines.append(f"《{record.meta.title}》:{_clip(line, 160)}[{n}]")
        return True

    def _comparison(self, a: Analysis, standalone: str, hits, words, weights, docs, pipeline, draft: Draft) -> bool:
        """One cited line per place named in the question (or per document among the hits)."""
        groups: list[set[str]] = list(a.place_docs.values())
        if len(groups) < 2:
            groups = [{d} for d in dict.fromkeys(h.chunk.doc_id for h in hits)]
        if len(groups) < 2:
            return False
        for doc_ids in groups[:4]:
            doc_hits = [h for h in hits if h.chunk.doc_id in doc_ids]
            if not doc_hits:  # the place's documents did not make the shared top-k: ask them directly
                for d in sorted(doc_ids):
                    doc_hits += pipeline.retriever.search(standalone, 3, doc=d).hits
            ranked = self._rank_sentences(doc_hits, words, weights, a.qtype, limit=3)
            if not ranked:
                continue
            s = ranked[0]
            n = draft.cite(s.text, s.start, s.end, s.chunk, s.hit.title)
            draft.lines.append(f"{_place_label(docs[s.chunk.doc_id].meta)}:{_clip(_strip_label(s.text), 200)}[{n}]")
        return len(draft.lines) >= 2


# ---------------------------------------------------------------- helpers

_META_FIELDS = [
    ("contact", r"联系人|联系电话|电话|邮箱|联系方式|找谁反映|打哪个电话"),
    ("doc_number", r"文号|发文字号|字号"),
    ("issuer", r"谁印发|谁发布|哪个机关|发文机关|印发单位|发布单位|哪个单位印发|由谁印发|由谁发布|谁发的|哪个部门印发|哪个部门发布|"
               r"作者|署名|谁写的|哪两个部门印发|哪些部门印发|印发的"),
    ("date", r"哪天|日期|哪一天|什么时间发布|何时印发|什么时候印发|什么时候发布|哪家报纸|发表"),
    ("period", r"哪几年|哪一年的工作|时间跨度|规划期|实施期|管哪|覆盖哪|起止"),
]
# what a field looks like in the text, when the metadata could not say
_META_PATTERNS = {
    "contact": r"联系人|电话[::]|\d{7,}|@",
    "doc_number": r"〔\d{4}〕\d+号",
    "date": r"\d{4}年\d{1,2}月\d{1,2}日|\d{4}-\d{2}-\d{2}",
    "issuer": r"印发|署名|作者",
    "period": r"\d{4}\s*[-—–至]\s*\d{4}年",
}


META_LABELS = {"contact": "联系人", "doc_number": "文号", "date": "日期", "issuer": "印发单位(作者)", "period": "时间范围"}


def _meta_needles(field_name: str, value: str, meta) -> list[str]:
    if field_name == "date":
        y, m, d = (value.split("-") + ["", ""])[:3]
        out = [value]
        if m and d:
            out += [f"{int(y)}年{int(m)}月{int(d)}日", f"{y}年{m}月{d}日"]
        return out
    if field_name == "period":
        return [meta.title, value.split("-")[0]]
    return [value.split(",")[0].split("(")[0].split("、")[0]]


def _meta_display(field_name: str, value: str) -> str:
    if field_name == "date" and re.fullmatch(r"\d{4}-\d{2}-\d{2}", value):
        y, m, d = value.split("-")
        return f"{int(y)}年{int(m)}月{int(d)}日"
    if field_name == "period" and re.fullmatch(r"\d{4}-\d{4}", value):
        return f"{value}年"
    return value


def _metadata_field(q: str) -> str:
    if re.search(r"牵头|配合|负责", q):  # who carries out a measure, not who issued the document
        return ""
    for name, pattern in _META_FIELDS:
        if re.search(pattern, q):
            return name
    return ""


def _year_covered(year: int, record, pipeline) -> bool:
    m = record.meta
    if m.period != UNKNOWN:
        years = [int(y) for y in re.findall(r"\d{4}", m.period)]
        if years and min(years) <= year <= max(years):
            return True
    doc = pipeline.index.document(record.doc_id)
    return bool(doc and str(year) in doc.text)


def _docs_label(doc_ids, docs) -> str:
    names = [f"《{docs[d].meta.title}》" for d in sorted(doc_ids) if d in docs and docs[d].meta.title != UNKNOWN]
    return "、".join(names[:3]) or "文件"


def refusal_text(reason: str, docs) -> str:
    docs = list(docs)
    covered = ";".join(
        f"{d.meta.region}《{d.meta.title}》" if d.meta.region != UNKNOWN else f"《{d.meta.title}》" for d in docs[:8]
    )
    more = f"等 {len(docs)} 份文件" if len(docs) > 8 else ""
    return f"{REFUSAL_PREFIX}能回答这个问题的内容:{reason}。现有资料涵盖:{covered}{more}。"


_ASKED_UNIT_RE = re.compile(r"(?<!哪)(?:多少|几)(个|件|项|次|人|名|家|分|学时|小时|天|条|户|所|批|场|期|万)")
_ASKED_MONEY_RE = re.compile(r"多少钱|几块钱|收费多少|收多少费|收不收费|费用是多少|多少费用|花多少")
_MONEY_RE = re.compile(r"\d+(?:\.\d+)?\s*(?:万|亿)?元")
_HOW_TO_RE = re.compile(r"(?:怎么|怎样|如何)(?:才能|去|来)?")


def _how_to_action(normalized: str) -> str:
    """The action a how-to question asks about, the word right after 怎么/如何 ("怎么补办" → 补办;
    not "怎样的执法模式"). One the corpus never mentions means the procedure is not covered."""
    m = _HOW_TO_RE.search(normalized)
    if not m:
        return ""
    rest = normalized[m.end():]
    words = tokenize(rest, bigrams=False)
    first = words[0] if words else ""
    return first if len(first) >= 2 and rest.startswith(first) and re.fullmatch(r"[\u4e00-\u9fff]+", first) else ""

# "审核率达到多少": the rate asked for must be named in the evidence, not just any percentage
_ASKED_RATE_RE = re.compile(r"((?:(?![的之是和与])[\u4e00-\u9fff]){1,2}率)(?:要|应|须|应当|需)?(?:达到|达|为|是|提高到|不低于)?(?:多少|几)")
_ASKED_SHARE_RE = re.compile(r"多少比例|比例是多少|比例多少|百分之多少|百分比|比例为多少|占比多少")
_NUMERAL = r"(?:\d+(?:\.\d+)?|[一二两三四五六七八九十百千万]+)"
_WHICH_SOURCE_RE = re.compile(r"哪个地方|哪个城市|哪篇|哪个文件|哪份文件|哪个省|哪里的|哪个县|哪个地区|谁的方案")
# every start position (lookahead), so "利通区方案中区教育局" yields "区教育局"
_BODY_RE = re.compile(r"(?=((?:区|市|县|省)[\u4e00-\u9fff]{1,8}?(?:局|办公室|委员会|厅))(?![\u4e00-\u9fff]?(?:长|级)))")


def _named_bodies(q: str) -> list[str]:
    """Government bodies a question names (区教育局), to check the documents mention them."""
    out = []
    for m in _BODY_RE.finditer(q):
        name = m.group(1)
        if len(name) >= 3 and not re.search(r"[哪谁什么怎]|建设|工作|方案|完成", name):
            if not any(name.endswith(o) or o.endswith(name) for o in out):
                out.append(name)
    return out


_HEADING_LABEL_RE = re.compile(r"^(?:[一二三四五六七八九十]+、|[(\uff08][一二三四五六七八九十\d]+[)\uff09]|\d+[.、])")


def _is_heading(s: Sentence) -> bool:
    """A heading line of the outline ("二、…存在的问题和困难"), not an answer."""
    local = s.start - s.chunk.start
    line_end = s.chunk.text.find("\n", local)
    whole_line = (local == 0 or s.chunk.text[local - 1] == "\n") and line_end == local + len(s.text)
    return whole_line and len(s.text) <= 40 and not re.search(r"[。;!?]$", s.text) and bool(
        _HEADING_LABEL_RE.match(s.text))


def _strip_label(text: str) -> str:
    return re.sub(r"^(?:\d{1,3}[.)\uff09、]|[(\uff08][\d一二三四五六七八九十]{1,3}[)\uff09])\s*", "", text)


def _note_sentence(h: Hit, d) -> str:
    """The sentence a responsibility note closes: what that office leads, in the document's words."""
    before = h.chunk.text[max(d.measure_start, h.chunk.start) - h.chunk.start: d.start - h.chunk.start]
    return re.split(r"[。;;!?]", before.rstrip("。;;!? "))[-1]


def _bare(text: str) -> str:
    """Text without punctuation or spaces, to tell whether two phrasings say the same."""
    return re.sub(r"[\s\W_]+", "", text)


def _clip(text: str, n: int) -> str:
    return text if len(text) <= n else text[: n - 1] + "…"


def _join(parts: list[str], limit: int) -> str:
    out, size = [], 0
    for p in parts:
        if out and size + len(p) > limit:
            break
        out.append(p)
        size += len(p)
    return "".join(out)


def _pieces(text: str, size: int = 12) -> Iterator[str]:
    for i in range(0, len(text), size):
        yield text[i:i + size]


_FOLLOWUP_RE = re.compile(r"^(?:那|那么|那这|这|这个|这项|该|它|其|此|还有|另外|再问|然后|而)")


def condense_without_llm(question: str, history: list[tuple[str, str]]) -> str:
    """A follow-up like "那牵头部门是谁?" becomes "<previous question> 那牵头部门是谁?" when it
    names no place of its own and reads as a continuation (or is very short)."""
    prev = next((c for role, c in reversed(history) if role == "user" and c.strip()), "")
    if not prev:
        return question
    names_place = bool(rg.find_regions(question))
    short = len(re.sub(r"[^\u3400-\u9fffA-Za-z0-9]", "", question)) <= 8
    if names_place or not (_FOLLOWUP_RE.match(question.strip()) or short):
        return question
    return f"{prev.strip()} {question.strip()}"


# ---------------------------------------------------------------- the LLM answerer

class LLMAnswerer:
    """Generation with a language model over the numbered retrieved sections; the refusal gate
    of the extractive answerer runs first, and citations are checked after generation."""

    def __init__(self, generator, gate: ExtractiveAnswerer, support_threshold: float = 0.3, max_sources: int = 5):
        self.gen = generator
        self.gate = gate
        self.support_threshold = support_threshold
        self.max_sources = max_sources
        self.name = getattr(generator, "name", "llm")

    def condense(self, question: str, history: list[tuple[str, str]], pipeline: "Pipeline") -> str:
        from rag.models.generate import LLMError, condense_question

        try:
            return condense_question(self.gen, history, question)
        except LLMError:
            return condense_without_llm(question, history)

    def stream(self, question: str, standalone: str, result: "SearchResult", pipeline: "Pipeline",
               history: list[tuple[str, str]]) -> Iterator[str | Answer]:
        from rag.answer.citecheck import check_citations
        from rag.models.generate import generate_answer

        gate = self.gate.answer(question, standalone, result, pipeline)
        if gate.refused:
            yield gate.text
            yield gate
            return
        hits = llm_hits(result, self.max_sources)
        sources = as_sources(hits)
        parts = []
        for delta in generate_answer(self.gen, standalone, sources, history=history):
            parts.append(delta)
            yield delta
        raw = "".join(parts).strip()
        checked = check_citations(raw, sources, self.support_threshold)
        if checked.refusal or raw.startswith(REFUSAL_PREFIX):
            docs = pipeline.index.documents()
            yield Answer(question, refusal_text("模型判断检索到的段落不能回答这个问题", docs), [], True, gate.notice, result.hits)
            return
        renumber = {old: new for new, old in enumerate(checked.used, 1)}
        text = re.sub(r"\[(\d+)\]", lambda m: f"[{renumber[int(m.group(1))]}]" if int(m.group(1)) in renumber else "",
                      checked.text)
        citations = []
        for old in checked.used:
            h = hits[old - 1]
            citations.append(Citation(n=renumber[old], doc_id=h.chunk.doc_id, title=h.title, section=h.chunk.section,
                                      text=h.chunk.text, start=h.chunk.start, end=h.chunk.end, page=h.chunk.page))
        if not text.strip():
            docs = pipeline.index.documents()
            yield Answer(question, refusal_text("生成的回答没有得到来源支持", docs), [], True, gate.notice, result.hits)
            return
        yield Answer(question, text, citations, False, gate.notice, result.hits)


ANSWERERS = ("extractive", "transformers", "openai")


def make_answerer(cfg: Config):
    gate = ExtractiveAnswerer(cfg.answer.refusal_threshold, cfg.answer.max_chars, cfg.answer.max_citations,
                              cfg.answer.refusal_dense)
    backend = cfg.answer.backend
    if backend == "extractive":
        return gate
    if backend in ("transformers", "openai"):
        from rag.models.generate import make_llm

        return LLMAnswerer(make_llm(backend, cfg.llm), gate, cfg.answer.support_threshold)
    raise ValueError(f"unknown answer backend {backend!r} (known: {', '.join(ANSWERERS)})")
