"""HTML for the web app: answers with their sources, the 找部门 table, documents by section.

Everything a user or a document supplied is escaped here (`esc`), so a question such as
`<script>…</script>` shows as text. Highlights (`<mark>`) are placed by offsets into the
document's clean text, never by searching for strings, so they mark exactly the cited sentence.

The functions are pure (text and offsets in, HTML out), except the few `*_for_*` helpers that
read a document from an `Index`. Chat messages must not contain a line break: the chatbot runs
Markdown over them, and a blank line would end the HTML block, so `\n` becomes `<br>`.
"""

from __future__ import annotations

import html
import re
from dataclasses import dataclass
from typing import Iterable, Sequence

from rag.records import PATH_SEP, UNKNOWN, Answer, Citation, Section

PASSAGE_MAX = 900  # longest source passage shown under an answer (characters)
PASSAGE_CONTEXT = 220  # context kept on each side of a citation when a section is longer

LEVELS = {"province": "省级", "city": "市级", "county": "县级", "township": "乡镇(街道)级"}
DOC_TYPES = {
    "implementation_plan": "实施方案",
    "plan": "规划",
    "implementation_opinion": "实施意见",
    "work_points": "工作要点",
    "annual_report": "年度报告",
    "policy_explainer": "政策解读",
    "news_report": "新闻报道",
    "article": "署名文章",
    "notice": "通知",
}

DOC_COLUMNS = ["标题", "地区", "级别", "时期", "类型", "发布机关", "日期", "文号"]
DUTY_COLUMNS = ["措施", "牵头单位", "配合单位", "期限", "文件", "章节"]


def esc(text: object) -> str:
    """HTML-escaped text (quotes too, so it is also safe inside attributes)."""
    return html.escape("" if text is None else str(text), quote=True)


def text_html(text: str) -> str:
    """Escaped text with line breaks as <br> (no raw newline is left)."""
    return esc(text).replace("\r\n", "\n").replace("\n", "<br>")


def show(value: str | None) -> str:
    """A metadata value for people: "unknown"/empty → "—"."""
    return "—" if not value or value == UNKNOWN else value


# ------------------------------------------------------------------ highlighting

def merge_spans(spans: Iterable[tuple[int, int]], lo: int, hi: int) -> list[tuple[int, int]]:
    """Spans clipped to [lo, hi), empty ones dropped, overlapping or touching ones merged."""
    clipped = sorted((max(s, lo), min(e, hi)) for s, e in spans)
    out: list[tuple[int, int]] = []
    for s, e in clipped:
        if e <= s:
            continue
        if out and s <= out[-1][1]:
            out[-1] = (out[-1][0], max(out[-1][1], e))
        else:
            out.append((s, e))
    return out


def highlight(text: str, spans: Iterable[tuple[int, int]], offset: int = 0, tag: str = "mark",
              cls: str = "") -> str:
    """`text` as escaped HTML with `<mark>` around each span.

    `offset` is where `text` starts in the document, and spans are document offsets, so a
    citation's (start, end) can be passed as they are. Parts of spans outside `text` are
    ignored."""
    local = []
    for s, e in merge_spans(((s - offset, e - offset) for s, e in spans), 0, len(text)):
        while s < e and text[s].isspace():  # a mark never starts or ends with a line break
            s += 1
        while e > s and text[e - 1].isspace():
            e -= 1
        if e > s:
            local.append((s, e))
    attr = f' class="{esc(cls)}"' if cls else ""
    parts: list[str] = []
    pos = 0
    for s, e in local:
        parts.append(text_html(text[pos:s]))
        parts.append(f"<{tag}{attr}>{text_html(text[s:e])}</{tag}>")
        pos = e
    parts.append(text_html(text[pos:]))
    return "".join(parts)


# ------------------------------------------------------------------ source passages

def section_at(sections: Sequence[Section], pos: int) -> Section | None:
    """The section whose own text [start, end) contains `pos` (the deepest if several)."""
    best = None
    for s in sections:
        if s.start <= pos < s.end and (best is None or s.level >= best.level):
            best = s
    return best


def _cut_back(text: str, pos: int, limit: int) -> int:
    """A start at most `limit` characters before `pos`, moved to a line or sentence start."""
    lo = max(0, pos - limit)
    if lo == 0:
        return 0
    window = text[lo:pos]
    m = max(window.rfind("\n"), window.rfind("。"), window.rfind(";"))
    return lo + m + 1 if m >= 0 else lo


def _cut_forward(text: str, pos: int, limit: int) -> int:
    hi = min(len(text), pos + limit)
    if hi == len(text):
        return hi
    window = text[pos:hi]
    m = max(window.rfind("\n"), window.rfind("。"), window.rfind(";"))
    return pos + m + 1 if m >= 0 else hi


def full_end(sections: Sequence[Section], sec: Section) -> int:
    """Where `sec` ends with all its subsections (sections whose path starts with its path)."""
    n = len(sec.path)
    return max((s.end for s in sections if s.path[:n] == sec.path and s.start >= sec.start), default=sec.end)


def passage_bounds(text: str, sections: Sequence[Section], start: int, end: int,
                   max_chars: int = PASSAGE_MAX, context: int = PASSAGE_CONTEXT) -> tuple[int, int]:
    """The source passage to show around [start, end): the smallest section that encloses the
    citation and says more than the citation itself (its own text, else with its
    subsections, else its parent…), when that is at most `max_chars` long; otherwise the citation with up to `context` characters on
    each side, cut at sentence or line ends."""
    start = max(0, min(start, len(text)))
    end = max(start, min(end, len(text)))
    want = min(max_chars, max(2 * (end - start), 80))
    enclosing = sorted(((s, full_end(sections, s)) for s in sections if s.start <= start),
                       key=lambda x: (-len(x[0].path), -x[0].start))
    for sec, sec_end in enclosing:
        for lo, hi in ((sec.start, sec.end), (sec.start, sec_end)):  # its own text, then with subsections
            if end > hi:
                continue
            if hi - lo > max_chars:
                return _cut_back(text, start, context), _cut_forward(text, end, context)
            if hi - lo >= want:
                return lo, hi
    return _cut_back(text, start, context), _cut_forward(text, end, context)


@dataclass
class Passage:
    """A piece of a document with spans to highlight (document offsets)."""

    doc_id: str
    title: str
    section: str
    start: int
    end: int
    html: str  # escaped text of [start, end) with the spans marked


def passage(text: str, sections: Sequence[Section], spans: Sequence[tuple[int, int]], *,
            doc_id: str = "", title: str = "", section: str = "", soft: Sequence[tuple[int, int]] = ()) -> Passage:
    """The passage around the first span, with every span marked; `soft` spans (e.g. the
    measure a responsibility note closes) get a lighter `<span class="rag-soft">`."""
    s0, e0 = spans[0] if spans else (0, 0)
    lo, hi = passage_bounds(text, sections, s0, e0)
    if soft:
        lo = min(lo, max(0, min(s for s, _ in soft)))
    piece = text[lo:hi]
    if soft:
        # soft spans first (plain segments), then marks inside them
        body = _nested(piece, lo, soft, spans)
    else:
        body = highlight(piece, spans, offset=lo)
    if lo > 0 and text[lo - 1] != "\n":
        body = "…" + body
    if hi < len(text) and text[hi - 1] != "\n" and text[hi] != "\n":
        body = body + "…"
    return Passage(doc_id, title, section, lo, hi, body)


def _nested(piece: str, offset: int, soft: Sequence[tuple[int, int]], marks: Sequence[tuple[int, int]]) -> str:
    soft_local = merge_spans(((s - offset, e - offset) for s, e in soft), 0, len(piece))
    out, pos = [], 0
    for s, e in soft_local:
        out.append(highlight(piece[pos:s], marks, offset=offset + pos))
        out.append('<span class="rag-soft">' + highlight(piece[s:e], marks, offset=offset + s) + "</span>")
        pos = e
    out.append(highlight(piece[pos:], marks, offset=offset + pos))
    return "".join(out)


# ------------------------------------------------------------------ answers

_MARKER = re.compile(r"\[(\d{1,2})\]")


def answer_text_html(text: str, known: Iterable[int] = ()) -> str:
    """Escaped answer text; the [n] markers of known citations become superscripts."""
    known = set(known)

    def sup(m: re.Match) -> str:
        n = int(m.group(1))
        return f'<sup class="rag-ref">[{n}]</sup>' if n in known else m.group(0)

    return _MARKER.sub(sup, text_html(text))


def citation_label(c: Citation) -> str:
    page = f" · 第{c.page}页" if c.page else ""
    return f"{c.title}{PATH_SEP}{c.section}{page}" if c.section else f"{c.title}{page}"


def source_html(c: Citation, p: Passage | None) -> str:
    """One citation as a collapsed <details>: title › section, then the passage with the cited
    sentence marked (or only the cited text when the document cannot be read)."""
    body = p.html if p is not None else f"<mark>{text_html(c.text)}</mark>"
    section = f'<span class="rag-src-sec">{esc(c.section)}</span>' if c.section else ""
    page = f'<span class="rag-src-page">第{esc(c.page)}页</span>' if c.page else ""
    return (f'<details class="rag-src" data-n="{c.n}"><summary><span class="rag-src-n">[{c.n}]</span>'
            f'<span class="rag-src-title">{esc(c.title)}</span>{section}{page}</summary>'
            f'<div class="rag-passage">{body}</div></details>')


def answer_html(answer: Answer, passages: dict[int, Passage] | None = None) -> str:
    """The chat message for a final answer: text, notice, then its sources (one line of HTML)."""
    passages = passages or {}
    cls = "rag-answer rag-refused" if answer.refused else "rag-answer"
    parts = []
    if answer.notice:
        parts.append(f'<div class="rag-notice">{text_html(answer.notice)}</div>')
    parts.append(f'<div class="{cls}">{answer_text_html(answer.text, (c.n for c in answer.citations))}</div>')
    if answer.citations:
        parts.append('<div class="rag-sources"><div class="rag-sources-head">来源(点击展开原文)</div>'
                     + "".join(source_html(c, passages.get(c.n)) for c in answer.citations) + "</div>")
    return "".join(parts)


def pending_html(text: str) -> str:
    """A message while the answer streams in."""
    if not text:
        return '<div class="rag-pending">正在检索相关文件…</div>'
    return f'<div class="rag-answer rag-streaming">{text_html(text)}</div>'


def error_html(message: str) -> str:
    return f'<div class="rag-error">{text_html(message)}</div>'


def question_html(question: str) -> str:
    return text_html(question)


def passages_for_answer(index, answer: Answer) -> dict[int, Passage]:
    """The source passage of each citation, read from the index (documents read once)."""
    out: dict[int, Passage] = {}
    cache: dict[str, tuple] = {}
    for c in answer.citations:
        if c.doc_id not in cache:
            doc = index.document(c.doc_id)
            cache[c.doc_id] = (doc, index.sections(c.doc_id) if doc else [])
        doc, sections = cache[c.doc_id]
        if doc is None or not (0 <= c.start < c.end <= len(doc.text)):
            continue
        out[c.n] = passage(doc.text, sections, [(c.start, c.end)], doc_id=c.doc_id, title=c.title, section=c.section)
    return out


# ------------------------------------------------------------------ 找部门

def duty_table(rows: Sequence[dict]) -> list[list[str]]:
    """Rows of the 找部门 table (DutyRow.to_dict() dicts) in DUTY_COLUMNS order."""
    return [[r["measure"], "、".join(r["lead"]) or "—", "、".join(r["support"]) or "—",
             "、".join(r["deadlines"]) or "—", r["title"], short_section(r["section"])] for r in rows]


def short_section(section: str, keep: int = 2) -> str:
    """The last `keep` levels of a section path ("…" marks the ones left out)."""
    if not section:
        return "(开头)"
    parts = section.split(PATH_SEP)
    return PATH_SEP.join(parts if len(parts) <= keep else ["…"] + parts[-keep:])


def duty_source_html(index, row) -> str:
    """The passage a responsibility note closes: the measure lightly shaded, the note marked."""
    doc = index.document(row.doc_id)
    if doc is None:
        return error_html("这份文件已不在索引中(索引可能已更新),请重新搜索。")
    sections = index.sections(row.doc_id)
    p = passage(doc.text, sections, [(row.start, row.end)], soft=[(row.measure_start, row.end)])
    lead = "、".join(row.lead) or "—"
    support = "、".join(row.support) or "—"
    facts = [("牵头单位", lead), ("配合单位", support)]
    if row.deadlines:
        facts.append(("期限", "、".join(row.deadlines)))
    if row.targets:
        facts.append(("指标", "、".join(row.targets)))
    dl = "".join(f"<dt>{esc(k)}</dt><dd>{esc(v)}</dd>" for k, v in facts)
    return (f'<div class="rag-duty"><div class="rag-duty-head"><div class="rag-duty-measure">{esc(row.measure)}</div>'
            f'<div class="rag-duty-where">{esc(row.title)}{esc(PATH_SEP + row.section) if row.section else ""}</div></div>'
            f'<dl class="rag-facts">{dl}</dl><div class="rag-passage">{p.html}</div></div>')


# ------------------------------------------------------------------ documents

def document_rows(docs) -> list[list[str]]:
    """Rows of the documents table (DocRecord objects) in DOC_COLUMNS order."""
    rows = []
    for d in docs:
        m = d.meta
        region = m.region if m.province in (UNKNOWN, m.region) else f"{m.province} · {m.region}"
        rows.append([show(m.title), show(region), LEVELS.get(m.level, show(m.level)), show(m.period),
                     DOC_TYPES.get(m.doc_type, show(m.doc_type)), show(m.issuer), show(m.date), show(m.doc_number)])
    return rows


def document_html(doc, sections: Sequence[Section], meta_rows: Sequence[tuple[str, str]] = ()) -> str:
    """A document's clean text by section: an outline with links, then each section with its
    heading (h3–h6 by level) and its own text."""
    text = doc.text
    secs = sorted(sections, key=lambda s: s.start)
    toc, body = [], []
    for i, s in enumerate(secs):
        anchor = f"rag-sec-{i}"
        if s.heading:
            if s.level <= 2:
                toc.append(f'<li class="rag-toc-l{min(s.level, 4)}"><a href="#{anchor}">{esc(s.heading)}</a></li>')
            h = min(2 + s.level, 6)
            own = text[s.body_start if s.body_start > s.start else s.start + len(s.heading):s.end]
            body.append(f'<section id="{anchor}" class="rag-doc-sec rag-doc-l{min(s.level, 4)}">'
                        f'<h{h}>{esc(s.heading)}</h{h}><div class="rag-doc-text">{text_html(own.strip())}</div></section>')
        else:
            own = text[s.start:s.end].strip()
            if own:
                body.append(f'<section id="{anchor}" class="rag-doc-sec rag-doc-l0">'
                            f'<div class="rag-doc-text">{text_html(own)}</div></section>')
    if not secs and text:
        body.append(f'<section class="rag-doc-sec"><div class="rag-doc-text">{text_html(text)}</div></section>')
    meta = "".join(f"<dt>{esc(k)}</dt><dd>{esc(v)}</dd>" for k, v in meta_rows)
    title = doc.meta.title if doc.meta.title != UNKNOWN else doc.doc_id
    toc_html = f'<nav class="rag-toc"><div class="rag-toc-head">目录</div><ul>{"".join(toc)}</ul></nav>' if toc else ""
    return (f'<article class="rag-doc"><h2 class="rag-doc-title">{esc(title)}</h2>'
            f'<dl class="rag-facts">{meta}</dl>{toc_html}<div class="rag-doc-body">{"".join(body)}</div></article>')


def document_meta_rows(d) -> list[tuple[str, str]]:
    """(label, value) pairs of a DocRecord's metadata for the document view."""
    m = d.meta
    rows = [("地区", show(m.region)), ("省份", show(m.province))]
    if m.city not in (UNKNOWN, m.region, m.province):
        rows.append(("所属市", m.city))
    if m.county != UNKNOWN:
        rows.append(("所属区县", m.county))
    rows += [("级别", LEVELS.get(m.level, show(m.level))),
             ("时期", show(m.period)), ("类型", DOC_TYPES.get(m.doc_type, show(m.doc_type))),
             ("发布机关", show(m.issuer)), ("日期", show(m.date)), ("文号", show(m.doc_number))]
    for label, value in (("发布日期", m.publish_date), ("索引号", m.index_no), ("主题分类", m.topic)):
        if value != UNKNOWN:
            rows.append((label, value))
    if m.draft:
        rows.append(("稿别", "征求意见稿"))
    if m.contact != UNKNOWN:
        rows.append(("联系方式", m.contact))
    rows.append(("文件编号", d.doc_id))
    return rows
