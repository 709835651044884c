"""HTML for the web app: answers with their sources, the 找部门 table, documents by section.

Everything a user or a document supplied is escaped here (`esc`), so a question such as
`<script>…</script>` shows as text. Highlights (`<mark>`) are placed by offsets into the
document's clean text, never by searching for strings, so they mark exactly the cited sentence.

The functions are pure (text and offsets in, HTML out), except the few `*_for_*` helpers that
read a document from an `Index`. Chat messages must not contain a line break: the chatbot runs
Markdown over them, and a blank line would end the HTML block, so `\n` becomes `<br>`. The
chatbot also sanitises its messages (no `data-*` attributes, no handlers): what the page's script
(`rag.app.script`) needs is in classes, `title`s and `#doc=…` links.

Personal data: `mask_personal` hides mobile numbers and e-mail addresses (office landlines and
names stay). It keeps the text's length, so a document is masked once, before any offset is
used, and highlights still fall on the cited characters. Every view here masks by default
(`mask=True`, from `[app] mask_personal`).
"""

from __future__ import annotations

import html
import re
from dataclasses import dataclass
from datetime import date
from typing import Iterable, Sequence
from urllib.parse import quote, unquote

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


# ------------------------------------------------------------------ personal data

_EMAIL = re.compile(r"(?<![A-Za-z0-9._%+-])([A-Za-z0-9][A-Za-z0-9._%+-]*)@([A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,})")
_MOBILE = re.compile(r"(?<![0-9])((?:\+|00)86[ -]?)?(1[3-9][0-9])([ -]?)([0-9]{4})([ -]?)([0-9]{4})(?![0-9])")
OFFICIAL_MAIL_DOMAINS = (".gov.cn",)  # an office's address, like a landline: kept


def mask_personal(text: str) -> str:
    """`text` with mobile numbers (1[3-9] and 9 more digits, with or without spaces or hyphens,
    with or without +86) shown as 180****5505, and e-mail addresses as 1**********@163.com
    (addresses under .gov.cn are an office's and stay). Landlines (0953-2121660, 2121660) and
    names are kept. The result has the same length as `text`, character for character outside
    the masked digits and letters, so offsets into it are offsets into `text`."""
    if not text or ("@" not in text and not any(ch in text for ch in "3456789")):
        return text

    def mail(m: re.Match) -> str:
        local, domain = m.group(1), m.group(2)
        if ("." + domain.lower()).endswith(OFFICIAL_MAIL_DOMAINS):
            return m.group(0)
        return local[0] + "*" * (len(local) - 1) + "@" + domain

    def mobile(m: re.Match) -> str:
        prefix, head, s1, _, s2, tail = m.groups()
        return f"{prefix or ''}{head}{s1}****{s2}{tail}"

    return _MOBILE.sub(mobile, _EMAIL.sub(mail, text))


def shown(text: str, mask: bool = True) -> str:
    """Text as a view shows it: masked unless masking is off."""
    return mask_personal(text) if mask else text


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
    """Escaped answer text; the [n] markers of known citations become superscripts that open
    their source (the page's script does that on click or Enter)."""
    known = set(known)

    def sup(m: re.Match) -> str:
        n = int(m.group(1))
        if n not in known:
            return m.group(0)
        return f'<sup class="rag-ref" role="button" tabindex="0" title="查看来源 {n}">[{n}]</sup>'

    return _MARKER.sub(sup, text_html(text))


def citation_label(c: Citation) -> str:
    page = f" · 第{c.page}页" if c.page else ""
    return f"{c.title}{PATH_SEP}{c.section}{page}" if c.section else f"{c.title}{page}"


def doc_link(doc_id: str, start: int | None = None, end: int | None = None) -> str:
    """The page's address of a document at a passage: `#doc=<id>&at=<start>-<end>`."""
    at = "" if start is None else f"&at={int(start)}-{int(end if end is not None else start)}"
    return f"#doc={quote(doc_id, safe='')}{at}"


def parse_doc_link(value: str) -> tuple[str, int | None, int | None] | None:
    """(doc_id, start, end) of a `doc_link` (or its part after `#`); None when malformed."""
    if not isinstance(value, str) or len(value) > 600:
        return None
    m = re.fullmatch(r"#?doc=([^&#]{1,400})(?:&at=(\d{1,9})(?:-(\d{1,9}))?)?", value.strip())
    if not m:
        return None
    start = int(m.group(2)) if m.group(2) else None
    end = int(m.group(3)) if m.group(3) else start
    if start is not None and end < start:
        return None
    return unquote(m.group(1)), start, end


def open_doc_html(doc_id: str, start: int, end: int) -> str:
    return f'<a class="rag-open-doc" href="{esc(doc_link(doc_id, start, end))}">在文件中查看 ›</a>'


def source_html(c: Citation, p: Passage | None, mask: bool = True) -> str:
    """One citation as a collapsed <details>: title › section, then the passage with the cited
    sentence marked (or only the cited text when the document cannot be read), and a link that
    opens the document at that place in the 文件 tab."""
    body = p.html if p is not None else f"<mark>{text_html(shown(c.text, mask))}</mark>"
    section = f'<span class="rag-src-sec">{esc(c.section)}</span>' if c.section else ""
    page = f'<span class="rag-src-page">第{esc(c.page)}页</span>' if c.page else ""
    link = open_doc_html(c.doc_id, c.start, c.end) if p is not None else ""
    return (f'<details class="rag-src"><summary><span class="rag-src-n">[{c.n}]</span>'
            f'<span class="rag-src-title">{esc(c.title)}</span>{section}{page}</summary>'
            f'<div class="rag-passage rag-content">{body}</div>{link}</details>')


@dataclass
class Scope:
    """What a cited document is, for the scope line under an answer."""

    doc_id: str
    title: str
    place: str  # "宁夏回族自治区吴忠市利通区", "" when unknown
    period: str  # "2016—2020年", "" when unknown
    draft: bool  # a 征求意见稿, not the adopted text
    ended: bool  # the period ended before this year
    sections: tuple[str, ...] = ()  # the cited sections (short)


def is_draft(meta) -> bool:
    """A draft for comments (征求意见稿), as ingest read it (DocMeta.draft: the title, the page's
    header or the text's head says so)."""
    return bool(getattr(meta, "draft", False))


def place_label(meta) -> str:
    """Province, city, county, region of a document, without repeats ("" when unknown)."""
    names: list[str] = []
    for name in (getattr(meta, "province", UNKNOWN), getattr(meta, "city", UNKNOWN), getattr(meta, "county", UNKNOWN),
                 getattr(meta, "region", UNKNOWN)):
        if name and name != UNKNOWN and name not in names and not any(name in n for n in names):
            names.append(name)
    return "".join(names)


def period_label(meta) -> str:
    period = getattr(meta, "period", UNKNOWN) or UNKNOWN
    if period == UNKNOWN:
        return ""
    if getattr(meta, "doc_type", "") == "annual_report" and re.fullmatch(r"\d{4}", period):
        return f"{period}年度"
    return period.replace("-", "—") + ("年" if re.search(r"\d$", period) else "")


def period_ended(meta, today: date | None = None) -> bool:
    m = re.search(r"(\d{4})\D*$", getattr(meta, "period", "") or "")
    return bool(m) and "-" in (getattr(meta, "period", "") or "") and int(m.group(1)) < (today or date.today()).year


def doc_scope(doc_id: str, meta, sections: Sequence[str] = ()) -> Scope:
    title = meta.title if getattr(meta, "title", UNKNOWN) != UNKNOWN else doc_id
    return Scope(doc_id, title, place_label(meta), period_label(meta), is_draft(meta), period_ended(meta),
                 tuple(sections))


def scope_html(scopes: Sequence[Scope], filters: str = "") -> str:
    """One line per cited document: 《title》 · place · period · 征求意见稿 · sections; and the
    question's scope filter when one was set."""
    lines = []
    for sc in scopes:
        bits = [f'<span class="rag-scope-title">《{esc(sc.title)}》</span>']
        if sc.draft:
            bits.append('<span class="rag-badge rag-badge-draft" title="这是征求意见稿,不是正式印发的文件">征求意见稿</span>')
        if sc.place:
            bits.append(f'<span class="rag-scope-place">{esc(sc.place)}</span>')
        if sc.period:
            ended = '<span class="rag-badge rag-badge-old" title="文件所定的实施时期已经结束">实施期已结束</span>' if sc.ended else ""
            bits.append(f'<span class="rag-scope-period">{esc(sc.period)}</span>{ended}')
        if sc.sections:
            bits.append(f'<span class="rag-scope-sec">章节:{esc(";".join(sc.sections))}</span>')
        lines.append('<div class="rag-scope-line"><span class="rag-scope-k">依据</span>' + " · ".join(bits) + "</div>")
    if filters:
        lines.append(f'<div class="rag-scope-line rag-scope-filter"><span class="rag-scope-k">范围</span>'
                     f'只在{esc(filters)}中查找</div>')
    return f'<div class="rag-scope">{"".join(lines)}</div>' if lines else ""


def followups_html(questions: Sequence[str]) -> str:
    """Suggested next questions (the page's script puts one in the box and sends it)."""
    if not questions:
        return ""
    buttons = "".join(f'<button class="rag-follow" type="button" title="提问:{esc(q)}">{esc(q)}</button>'
                      for q in questions)
    return f'<div class="rag-follow-list"><span class="rag-follow-k">接着问</span>{buttons}</div>'


def answer_html(answer: Answer, passages: dict[int, Passage] | None = None, scopes: Sequence[Scope] = (),
                followups: Sequence[str] = (), filters: str = "", warning: str = "", mask: bool = True) -> str:
    """The chat message for a final answer: notices, the text, the scope line (which documents,
    places and periods it rests on), its sources, then suggested follow-ups (one line of HTML)."""
    passages = passages or {}
    cls = "rag-answer rag-refused" if answer.refused else "rag-answer"
    parts = []
    if answer.notice:
        parts.append(f'<div class="rag-notice">{text_html(answer.notice)}</div>')
    if warning:
        parts.append(f'<div class="rag-notice rag-notice-scope">{text_html(warning)}</div>')
    known = (c.n for c in answer.citations)
    parts.append(f'<div class="{cls} rag-content">{answer_text_html(shown(answer.text, mask), known)}</div>')
    parts.append(scope_html(scopes, filters))
    if answer.citations:
        parts.append('<div class="rag-sources"><div class="rag-sources-head">来源(点击展开原文)</div>'
                     + "".join(source_html(c, passages.get(c.n), mask) for c in answer.citations) + "</div>")
    parts.append(followups_html(followups))
    parts.append('<div class="rag-tools"><button class="rag-copy" type="button" title="复制回答和出处">复制回答</button></div>')
    return "".join(parts)


def pending_html(text: str, mask: bool = True) -> str:
    """A message while the answer streams in."""
    if not text:
        return '<div class="rag-pending">正在检索相关文件…</div>'
    return f'<div class="rag-answer rag-streaming rag-content">{text_html(shown(text, mask))}</div>'


def stopped_html(text: str = "") -> str:
    """What is left of an answer stopped by the user."""
    body = f'<div class="rag-answer rag-content">{text_html(text)}</div>' if text else ""
    return body + '<div class="rag-notice">已停止回答。可以点“重新回答”再试,或换个问法。</div>'


def error_html(message: str) -> str:
    return f'<div class="rag-error">{text_html(message)}</div>'


def question_html(question: str, mask: bool = True) -> str:
    return text_html(shown(question, mask))


def passages_for_answer(index, answer: Answer, mask: bool = True) -> dict[int, Passage]:
    """The source passage of each citation, read from the index (documents read once). A
    citation whose text is not the document's at its offsets (a conversation restored after
    the index changed) gets none: its own text is shown instead."""
    out: dict[int, Passage] = {}
    cache: dict[str, tuple] = {}
    for c in answer.citations:
        if c.doc_id not in cache:
            doc = index.document(c.doc_id)
            cache[c.doc_id] = (doc, shown(doc.text, mask) if doc else "", index.sections(c.doc_id) if doc else [])
        doc, text, sections = cache[c.doc_id]
        if doc is None or not (0 <= c.start < c.end <= len(doc.text)) or doc.text[c.start:c.end] != c.text:
            continue
        out[c.n] = passage(text, sections, [(c.start, c.end)], doc_id=c.doc_id, title=c.title, section=c.section)
    return out


def scopes_for_answer(index, answer: Answer) -> list[Scope]:
    """The scope of each document the answer cites, in citation order."""
    order: dict[str, list[str]] = {}
    for c in answer.citations:
        secs = order.setdefault(c.doc_id, [])
        short = short_section(c.section)
        if c.section and short not in secs:
            secs.append(short)
    out = []
    for doc_id, secs in order.items():
        doc = index.document(doc_id)
        if doc is None:
            continue
        out.append(doc_scope(doc_id, doc.meta, secs[:3]))
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


def duty_cards(rows: Sequence[dict], query: str = "") -> str:
    """The 找部门 results as a table whose rows open their source (stacked cards on phones)."""
    if not rows:
        return ""
    head = "".join(f"<th scope=\"col\">{esc(c)}</th>" for c in DUTY_COLUMNS)
    body = []
    for i, row in enumerate(duty_table(rows)):
        cells = "".join(f'<td data-label="{esc(label)}" class="rag-col-{j}">{esc(value)}</td>'
                        for j, (label, value) in enumerate(zip(DUTY_COLUMNS, row)))
        body.append(f'<tr class="rag-row" data-i="{i}" tabindex="0" role="button" '
                    f'title="查看原文:{esc(row[0][:40])}">{cells}</tr>')
    return (f'<div class="rag-table-wrap"><table class="rag-cards rag-duty-table"><caption>找到 {len(rows)} 条分工'
            f'{"(" + esc(query) + ")" if query else ""},点击一行查看原文</caption><thead><tr>{head}</tr></thead>'
            f'<tbody>{"".join(body)}</tbody></table></div>')


def duty_source_html(index, row, mask: bool = True) -> str:
    """The passage a responsibility note closes: the measure lightly shaded, the note marked."""
    doc = index.document(row.doc_id)
    if doc is None:
        return error_html("这份文件已不在索引中(索引可能已更新),请重新搜索。")
    sections = index.sections(row.doc_id)
    p = passage(shown(doc.text, mask), sections, [(row.start, row.end)], soft=[(row.measure_start, row.end)])
    lead = "、".join(row.lead) or "—"
    support = "、".join(row.support) or "—"
    facts = [("牵头单位", lead), ("配合单位", support)]
    if row.deadlines:
        facts.append(("期限", "、".join(row.deadlines)))
    if row.targets:
        facts.append(("指标", "、".join(row.targets)))
    sc = doc_scope(row.doc_id, doc.meta)
    dl = "".join(f"<dt>{esc(k)}</dt><dd>{esc(v)}</dd>" for k, v in facts)
    return (f'<div class="rag-duty"><div class="rag-duty-head"><div class="rag-duty-measure">{esc(row.measure)}</div>'
            f'<div class="rag-duty-where">{esc(row.title)}{esc(PATH_SEP + row.section) if row.section else ""}</div></div>'
            f'{scope_html([sc])}<dl class="rag-facts">{dl}</dl><div class="rag-passage rag-content">{p.html}</div>'
            f'{open_doc_html(row.doc_id, row.start, row.end)}</div>')


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


def document_cards(docs) -> str:
    """The indexed documents as a table whose rows open the document (cards on phones)."""
    if not docs:
        return '<div class="rag-empty">还没有收录文件。</div>'
    head = "".join(f"<th scope=\"col\">{esc(c)}</th>" for c in DOC_COLUMNS)
    body = []
    for i, (d, row) in enumerate(zip(docs, document_rows(docs))):
        badge = ('<span class="rag-badge rag-badge-draft">征求意见稿</span>'
                 if is_draft(d.meta) else "")
        cells = [f'<td data-label="{esc(DOC_COLUMNS[0])}" class="rag-col-0"><span class="rag-doc-name">{esc(row[0])}</span>{badge}</td>']
        cells += [f'<td data-label="{esc(label)}" class="rag-col-{j}">{esc(value)}</td>'
                  for j, (label, value) in enumerate(zip(DOC_COLUMNS, row)) if j > 0]
        body.append(f'<tr class="rag-row" data-i="{i}" data-key="{esc(d.doc_id)}" tabindex="0" role="button" '
                    f'title="阅读全文:{esc(row[0])}">{"".join(cells)}</tr>')
    return (f'<div class="rag-table-wrap"><table class="rag-cards rag-docs-table"><caption>已收录 {len(docs)} 份文件,'
            f'点击一行阅读全文</caption><thead><tr>{head}</tr></thead><tbody>{"".join(body)}</tbody></table></div>')


def _own_span(text: str, lo: int, hi: int) -> tuple[int, int]:
    """[lo, hi) without leading and trailing whitespace."""
    while lo < hi and text[lo].isspace():
        lo += 1
    while hi > lo and text[hi - 1].isspace():
        hi -= 1
    return lo, hi


_BARE_LABEL_RE = re.compile(r"^(?:[((]?\d{1,3}[))]|\d{1,3}[.、]|[((][一二三四五六七八九十]{1,3}[))])$")


def document_html(doc, sections: Sequence[Section], meta_rows: Sequence[tuple[str, str]] = (),
                  target: tuple[int, int] | None = None, mask: bool = True, draft: bool | None = None) -> str:
    """A document's clean text by section: an outline with links, then each section with its
    heading (h3–h6 by level), its own text and a link back to the outline. With `target`
    (document offsets), that passage is marked (`mark.rag-target`) and its section highlighted
    (`.rag-doc-target`), for the page to scroll to."""
    text = shown(doc.text, mask)
    secs = sorted(sections, key=lambda s: s.start)
    spans = [target] if target else []
    target_sec = None
    if target:
        target_sec = section_at(secs, target[0])
    toc, body = [], []
    back = '<a class="rag-totop" href="#rag-toc" title="回到目录">↑ 目录</a>'

    def own_html(lo: int, hi: int) -> str:
        lo, hi = _own_span(text, lo, hi)
        return highlight(text[lo:hi], spans, offset=lo, cls="rag-target") if spans else text_html(text[lo:hi])

    for i, s in enumerate(secs):
        anchor = f"rag-sec-{i}"
        hit = " rag-doc-target" if s is target_sec else ""
        if s.heading and _BARE_LABEL_RE.match(s.heading):  # "1)建立清单…": the item number stays with its text
            lo, hi = _own_span(text, s.start, s.end)
            body.append(f'<section id="{anchor}" class="rag-doc-sec rag-doc-l{min(s.level, 4)}{hit}">'
                        f'<div class="rag-doc-text rag-content">{own_html(lo, hi)}</div></section>')
        elif s.heading:
            heading = esc(shown(s.heading, mask))
            if s.level <= 2:
                toc.append(f'<li class="rag-toc-l{min(s.level, 4)}"><a href="#{anchor}">{heading}</a></li>')
            h = min(2 + s.level, 6)
            lo = s.body_start if s.body_start > s.start else s.start + len(s.heading)
            tools = back if s.level <= 2 else ""
            body.append(f'<section id="{anchor}" class="rag-doc-sec rag-doc-l{min(s.level, 4)}{hit}">'
                        f'<h{h}>{heading}{tools}</h{h}><div class="rag-doc-text rag-content">{own_html(lo, s.end)}</div></section>')
        else:
            lo, hi = _own_span(text, s.start, s.end)
            if hi > lo:
                body.append(f'<section id="{anchor}" class="rag-doc-sec rag-doc-l0{hit}">'
                            f'<div class="rag-doc-text rag-content">{own_html(lo, hi)}</div></section>')
    if not secs and text:
        body.append(f'<section class="rag-doc-sec"><div class="rag-doc-text rag-content">{own_html(0, len(text))}</div></section>')
    meta = "".join(f'<dt>{esc(k)}</dt><dd class="rag-content">{esc(shown(v, mask))}</dd>' for k, v in meta_rows)
    title = doc.meta.title if doc.meta.title != UNKNOWN else "(未命名文件)"
    if draft is None:
        draft = is_draft(doc.meta)
    badge = ('<div class="rag-doc-draft">这是<strong>征求意见稿</strong>,不是正式印发的文件;'
             '正式文件的内容可能不同。</div>' if draft else "")
    toc_html = (f'<nav class="rag-toc" id="rag-toc"><div class="rag-toc-head">目录</div><ul>{"".join(toc)}</ul></nav>'
                if toc else "")
    bar = (f'<div class="rag-doc-bar"><span class="rag-doc-bar-title">{esc(title)}</span>'
           f'{back if toc else ""}</div>')
    return (f'<article class="rag-doc">{bar}<h2 class="rag-doc-title">{esc(title)}</h2>{badge}'
            f'<dl class="rag-facts">{meta}</dl>{toc_html}<div class="rag-doc-body">{"".join(body)}</div></article>')


def document_meta_rows(d) -> list[tuple[str, str]]:
    """(label, value) pairs of a DocRecord's metadata for the document view (the internal
    document id is not shown)."""
    m = d.meta
    rows = [("地区", show(place_label(m) or m.region)), ("省份", show(m.province))]
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
    return rows
