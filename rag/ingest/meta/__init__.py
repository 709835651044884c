"""Document metadata that reads the page: title, type, period, issuer, dates, numbers, place.

    extract_meta(text, normalized=None, header=None, hints=None) -> DocMeta

`text` is the clean document text, `normalized` the text before chrome removal (signatures,
bylines and the page's date lines live there), `header` the information-disclosure fields the
cleaner read (`rag.ingest.meta.header`), `hints` what the loader saw outside the article
(HTML <title>, h1, <meta>, the whole page's text). Every extractor returns "unknown" when it
cannot tell (draft: False); none raises on odd input. The pieces:

- `title`  the document's own title, notices unwrapped, drafts marked;
- `kind`   doc_type and period;
- `issuer` issuer, date, publish_date, document number, contact;
- `place`  region, level, province, city, county;
- `header` the header block reader (used by the cleaner).
"""

from __future__ import annotations

import re

from rag.ingest import chrome
from rag.ingest.meta import issuer as iss
from rag.ingest.meta import place as pl
from rag.ingest.meta.common import HEAD_CHARS, arabic_dates
from rag.ingest.meta.header import read_header
from rag.ingest.meta.kind import DOC_TYPES, NEWS_RE, extract_doc_type, extract_period
from rag.ingest.meta.title import draft_after_title, extract_title, plan_titles
from rag.records import UNKNOWN, DocMeta

__all__ = ["DOC_TYPES", "extract_meta", "page_header", "plan_titles"]


def page_header(hints: dict) -> dict[str, str]:
    """Header fields of the whole page (tables outside the article element)."""
    page = hints.get("page_text") if hints else None
    if not page:
        return {}
    from rag.ingest.clean import _tabs_to_cells
    from rag.text.normalize import normalize

    lines = [ln.strip() for ln in normalize(_tabs_to_cells(page)).split("\n")]
    return read_header(lines, None, chrome.body_start(lines)).fields


def _head_lines(lines: list[str]) -> list[str]:
    end = chrome.body_start(lines)
    return [ln for ln in lines[: end + 1] if ln]


def extract_meta(text: str, normalized: str | None = None, header: dict | None = None,
                 hints: dict | None = None) -> DocMeta:
    """Metadata of one document (see the module docstring)."""
    normalized = arabic_dates(text if normalized is None else normalized)  # 二〇二四年一月十八日 too
    hints = hints or {}
    try:
        header = {**page_header(hints), **(header or {})}
        return _extract(text, normalized, header, hints)
    except Exception:  # heuristics must never stop ingestion; what we could not tell stays unknown
        return DocMeta()


def _extract(text: str, normalized: str, header: dict, hints: dict) -> DocMeta:
    lines = text.split("\n")
    norm_lines = [ln.strip() for ln in normalized.split("\n")]
    head = text[:HEAD_CHARS]
    norm_head_lines = _head_lines(norm_lines)
    norm_head = "\n".join(norm_head_lines)
    body_at = normalized.find(norm_head_lines[-1]) if norm_head_lines else 0
    news_like = bool(NEWS_RE.search(text[:2000]))

    tinfo = extract_title(lines, header, hints, news_like)
    title = tinfo.title
    doc_type = extract_doc_type(text, title, normalized)
    # an HTML page whose article element holds only the story: its byline (记者 … 通讯员 …) and
    # source line stand outside it, in the page's own text
    page_head = "\n".join((hints.get("page_text") or "").split("\n")[:40])
    if doc_type == UNKNOWN and page_head and NEWS_RE.search(page_head) and title != UNKNOWN:
        doc_type = "news_report"
    if title == UNKNOWN and doc_type in ("implementation_plan", "news_report", "notice"):
        title = (plan_titles(head) or [UNKNOWN])[0]  # a story about a plan that has no headline
        if doc_type == UNKNOWN or title != UNKNOWN:
            doc_type = extract_doc_type(text, title, normalized) if doc_type == UNKNOWN else doc_type

    # issuer and date
    issuer, date = iss.signature(normalized, max(0, body_at))
    if issuer == UNKNOWN and date == UNKNOWN:  # a report given at a meeting carries no signature
        issuer, date = iss.speech_note(normalized[:HEAD_CHARS + 400])
    if issuer == UNKNOWN and date == UNKNOWN and doc_type == "notice":  # a 纪要: its 版记's 印发 line
        issuer, date = iss.print_run(normalized)
    if doc_type == "news_report":
        who = iss.outlet(norm_head + "\n" + head)
        if who == UNKNOWN and issuer == UNKNOWN:
            who = iss.source_unit(norm_head_lines)  # a government's own news office (来源:…新闻办公室)
        if who == UNKNOWN and issuer == UNKNOWN and page_head:
            who = iss.outlet(page_head)  # the source line outside the article element
        if who != UNKNOWN:
            issuer = who
    if issuer == UNKNOWN and doc_type == "article":
        issuer = iss.signed_by(head)
        if issuer == UNKNOWN:
            issuer = iss.legacy_byline(head, normalized[:HEAD_CHARS])
    if doc_type == "policy_explainer" and header.get("interpreter"):
        issuer = header["interpreter"].strip()  # the 解读机关, not the body that issued the explained text
    if issuer == UNKNOWN and doc_type == "policy_explainer":
        issuer = iss.byline_date(norm_head_lines)[0]
        if issuer == UNKNOWN:
            issuer = iss.source_unit(norm_head_lines)
    if issuer == UNKNOWN:
        issuer = iss.intro_issuer(normalized[:HEAD_CHARS])
    if issuer == UNKNOWN and doc_type != "article":
        issuer = iss.legacy_byline(head, normalized[:HEAD_CHARS])
    if issuer == UNKNOWN and tinfo.issuer_line:
        issuer = tinfo.issuer_line
    if issuer == UNKNOWN and tinfo.wrapped:
        m = re.match(r"^(?P<org>.{2,60}?)(?:关于)?(?:印发|征求|公开征求)", re.sub(r"^[\u4e00-\u9fff]{1,12}〔\d{4}〕\s*\d{1,4}\s*号", "",
                                                                           tinfo.raw))
        if m and re.search(iss.ORG_END + r"$", m.group("org").replace("关于", "")):
            issuer = iss._join_orgs(m.group("org").replace("关于", ""))
    if issuer == UNKNOWN and header.get("org"):
        issuer = header["org"]

    if date == UNKNOWN:
        date = iss.lone_date(normalized, max(0, body_at)) if doc_type not in ("news_report", "article") else UNKNOWN
    if date == UNKNOWN and header.get("date"):
        date = iss.to_iso(header["date"])
    publish = iss.publish_date(norm_head_lines, header, hints)
    if date == UNKNOWN and doc_type == "news_report":
        date = iss.event_date(normalized[:HEAD_CHARS + 400])  # a press conference's 时间:…, not the page's date
    if date == UNKNOWN and doc_type in ("news_report", "article", "policy_explainer"):
        if doc_type == "policy_explainer":
            date = iss.byline_date(norm_head_lines)[1]
        if date == UNKNOWN:
            date = iss.article_date(_head_lines(lines), head, normalized[:HEAD_CHARS])
        if date == UNKNOWN and page_head:
            date = iss.article_date(page_head.split("\n"), page_head, page_head)
        if date == UNKNOWN:
            date = publish

    # place: the title, the issuer, the header's 发布机构, then the text
    res = pl.resolve([title, issuer, header.get("org", "")], normalized, pl.self_level(text))
    if issuer == UNKNOWN:
        issuer = iss.synthesized_issuer(normalized[:HEAD_CHARS], doc_type, res.region, res.level)
    elif res.region != UNKNOWN and re.fullmatch(r"[\u4e00-\u9fff]{2,10}(?:局|委|办|中心|办公室)", issuer) \
            and not re.match(r"[省市县区州盟旗镇乡]|国家|中央|国务院|全国|中共", issuer) and not pl.find_places(issuer):
        issuer = res.region + issuer  # "文章来源:司法局" on 陇西县's site is 陇西县司法局

    if title == UNKNOWN and doc_type == "annual_report" and res.region != UNKNOWN:
        year = re.match(r"\s*(\d{4})年", text)
        title = f"{res.region}{year.group(1) + '年' if year else ''}法治政府建设年度报告"

    draft = tinfo.draft or (title != UNKNOWN and draft_after_title(lines[:60] + norm_lines[:80], title))
    meta = DocMeta(
        title=title,
        issuer=issuer,
        period=extract_period(title, doc_type, text),
        doc_type=doc_type,
        date=date,
        doc_number=iss.doc_number(normalized, header, max(0, body_at)),
        contact=iss.contact(normalized),
        county=res.county,
        draft=bool(draft),
        publish_date=publish,
        index_no=header.get("index_no", UNKNOWN).strip() or UNKNOWN,
        topic=header.get("topic", UNKNOWN).strip() or UNKNOWN,
    )
    meta.region, meta.level, meta.province, meta.city = res.region, res.level, res.province, res.city
    return meta
