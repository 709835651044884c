"""Document metadata by heuristics: title, issuer, region and level, period, type, date, number.

Every extractor returns "unknown" when it cannot tell; none raises on odd input.
`normalized` is the text before chrome removal (signatures, dates and bylines live there);
`text` is the clean document text.
"""

from __future__ import annotations

import re
from collections import Counter

from rag.records import UNKNOWN, DocMeta
from rag.text import places as rg

HEAD_CHARS = 700  # where titles, numbers and signatures of a document sit

PLAN_WORDS = "实施方案|规划|纲要|实施意见|工作要点|行动计划|报告"
# 《…》 or 〈…〉 naming a plan; the notice title that wraps it (关于印发…的通知) is not a plan title.
BOOK_TITLE_RE = re.compile(r"[《〈]([^《》〈〉\n]{4,80}?)[》〉]")
DOC_NUMBER_RE = re.compile(r"(?:^|\n)([\u4e00-\u9fff]{1,10}〔\d{4}〕\d{1,4}号)")
PERIOD_RE = re.compile(r"(\d{4})\s*(?:[-—–~〜至到]+\s*)?(?:年\s*[-—–至到]\s*)?(\d{4})年")
DATE_CN_RE = re.compile(r"(\d{4})\s*年\s*(\d{1,2})\s*月\s*(\d{1,2})\s*日")
DATE_ISO_RE = re.compile(r"(\d{4})-(\d{1,2})-(\d{1,2})")
ORG_END = r"(?:委员会|人民政府|政府|办公室|办公厅|司法厅|司法局|局|厅|委|办)"
SIGNATURE_RE = re.compile(rf"(?:^|\n)\s*([\u4e00-\u9fff、]{{4,40}}{ORG_END})\s*\n\s*(\d{{4}}年\d{{1,2}}月\d{{1,2}}日)")
ISSUED_BY_RE = re.compile(rf"([\u4e00-\u9fff、]{{2,60}}?{ORG_END})(?:联合)?印发了?[《〈]")
BYLINE_RE = re.compile(r"(?:^|\n)([\u4e00-\u9fff]{2,4})\n([\u4e00-\u9fff、]{4,40}(?:书记|市长|县长|区长|省长|主任|主席|厅长|局长|部长))")
CONTACT_RE = re.compile(r"联系人[::]\s*([\u4e00-\u9fff]{2,4})")
PHONE_RE = re.compile(r"(?:联系)?电话[::]\s*([\d\- ]{5,40}\d)")
EMAIL_RE = re.compile(r"[\w.+-]+@[\w-]+(?:\.[\w-]+)+")

DOC_TYPES = ("implementation_plan", "annual_report", "news_report", "article", "notice")


def _iso(y: str, m: str, d: str) -> str:
    return f"{int(y):04d}-{int(m):02d}-{int(d):02d}"


def plan_titles(text: str) -> list[str]:
    """Plan-like 《titles》 in order; notice wrappers (关于…的通知) are skipped."""
    out = []
    for m in BOOK_TITLE_RE.finditer(text):
        t = m.group(1).strip()
        if re.search(PLAN_WORDS, t) and not re.search(r"关于|通知$|的通知", t):
            out.append(t)
    return out


def extract_title(text: str, doc_type: str, region: str, year: str) -> str:
    head = text[:HEAD_CHARS]
    titles = plan_titles(head)
    if titles and doc_type in ("implementation_plan", "news_report", "notice"):
        return titles[0]
    for line in head.split("\n")[:6]:
        line = line.strip()
        if 6 <= len(line) <= 40 and not re.search(r"[。,;:]|\d{4}-\d|来源|日期|^[一二三四五六七八九十]+、|^[(]", line):
            return line
    if doc_type == "annual_report" and region != UNKNOWN:
        return f"{region}{year + '年' if year != UNKNOWN else ''}法治政府建设年度报告"
    return titles[0] if titles else UNKNOWN


def extract_doc_type(text: str) -> str:
    head = text[:HEAD_CHARS]
    if BYLINE_RE.search(head) or re.search(r"稿件来源|来源[::]\s*\S*(?:日报|报)", head):
        return "article"
    if re.search(r"记者|新华社|通讯员|报道", text[:2000]):
        return "news_report"
    if re.search(r"年度报告|工作报告|情况的报告", head) or (
        re.match(r"\s*\d{4}年", text)
        and len(re.findall(r"开展情况|存在的问题|工作计划|下一步|取得.{0,4}成效", text)) >= 2
    ):
        return "annual_report"
    outline = len(re.findall(r"(?:^|\n)[一二三四五六七八九十]+、", text))
    if plan_titles(head) and outline >= 2:
        return "implementation_plan"
    if re.search(r"通知|通告|公告", head):
        return "notice"
    return UNKNOWN


def extract_region(text: str, title: str) -> rg.Region | None:
    """The most specific known region the document is about: named in its title if possible,
    else the most frequent one in the text (ties → the more specific)."""
    order = {rg.COUNTY: 0, rg.CITY: 1, rg.PROVINCE: 2}
    in_title = [r for r, _, _ in rg.find_regions(title)] if title != UNKNOWN else []
    if in_title:
        return min(in_title, key=lambda r: order[r.level])
    counts = Counter(r.name for r, _, _ in rg.find_regions(text))
    # "自治区"/"全县" style self-references count for the document's own region
    if not counts:
        return None
    best = max(counts.items(), key=lambda kv: (kv[1], -order[rg.get(kv[0]).level]))
    return rg.get(best[0])


def extract_period(text: str, title: str, doc_type: str) -> str:
    for source in (title, text[:HEAD_CHARS]):
        if source == UNKNOWN:
            continue
        m = PERIOD_RE.search(source)
        if m and int(m.group(1)) < int(m.group(2)) <= int(m.group(1)) + 10:
            return f"{m.group(1)}-{m.group(2)}"
    if doc_type == "annual_report":
        m = re.match(r"\s*(\d{4})年", text)
        if m:
            return m.group(1)
    return UNKNOWN


def extract_number(normalized: str) -> str:
    m = DOC_NUMBER_RE.search(normalized[:HEAD_CHARS])
    return m.group(1) if m else UNKNOWN


def extract_issuer_and_date(normalized: str, doc_type: str, region: rg.Region | None,
                            head: str = "") -> tuple[str, str]:
    """`head` is the start of the clean text, where a byline or date line may have moved to
    when a repeated body was dropped."""
    issuer, date = UNKNOWN, UNKNOWN
    sig = SIGNATURE_RE.search(normalized)
    if sig:
        issuer = sig.group(1)
        date = _iso(*DATE_CN_RE.search(sig.group(2)).groups())
    if issuer == UNKNOWN:
        m = ISSUED_BY_RE.search(normalized[:HEAD_CHARS])
        if m:
            issuer = re.sub(r"^(?:近日|日前|近期|此前|目前|今年|最近)[,]?", "", m.group(1))
    if issuer == UNKNOWN:
        m = BYLINE_RE.search(head) or BYLINE_RE.search(normalized[:HEAD_CHARS])
        if m:
            issuer = f"{m.group(1)}({m.group(2)})"
    if issuer == UNKNOWN and doc_type == "annual_report" and region is not None:
        kind = {rg.COUNTY: "县", rg.CITY: "市", rg.PROVINCE: "省"}[region.level]
        if re.search(f"{kind}政府", normalized[:HEAD_CHARS]):
            issuer = f"{region.name}人民政府"
    if date == UNKNOWN:
        m = re.search(r"发布(?:日期|时间)[::]\s*(\d{4})\s*年\s*(\d{1,2})\s*月\s*(\d{1,2})\s*日", normalized)
        m = m or DATE_ISO_RE.search(head) or DATE_ISO_RE.search(normalized[:HEAD_CHARS])
        if m:
            date = _iso(*m.groups())
    return issuer, date


def extract_contact(normalized: str) -> str:
    m = CONTACT_RE.search(normalized)
    if not m:
        return UNKNOWN
    parts = [m.group(1)]
    after = normalized[m.end(): m.end() + 200]
    phone = PHONE_RE.search(after)
    if phone:
        parts.append("电话 " + re.sub(r"\s+", " / ", phone.group(1).strip()))
    email = EMAIL_RE.search(after)
    if email:
        parts.append("邮箱 " + email.group(0))
    return ",".join(parts)


def extract_meta(text: str, normalized: str | None = None) -> DocMeta:
    """Metadata of one document from its clean text (and its pre-chrome normalised text)."""
    normalized = text if normalized is None else normalized
    try:
        doc_type = extract_doc_type(text)
        prelim_title = (plan_titles(text[:HEAD_CHARS]) or [UNKNOWN])[0]
        region = extract_region(text, prelim_title)
        year = re.match(r"\s*(\d{4})年", text)
        title = extract_title(text, doc_type, region.name if region else UNKNOWN, year.group(1) if year else UNKNOWN)
        if region is None:
            region = extract_region(text, title)
        period = extract_period(text, title, doc_type)
        issuer, date = extract_issuer_and_date(normalized, doc_type, region, text[:HEAD_CHARS])
        meta = DocMeta(
            title=title,
            issuer=issuer,
            period=period,
            doc_type=doc_type,
            date=date,
            doc_number=extract_number(normalized),
            contact=extract_contact(normalized),
        )
        if region is not None:
            ancestors = rg.chain(region)
            meta.region = region.name
            meta.level = region.level
            meta.province = ancestors[-1].name
            meta.city = next((r.name for r in ancestors if r.level == rg.CITY), UNKNOWN)
        return meta
    except Exception:  # heuristics must never stop ingestion; what we could not tell stays unknown
        return DocMeta()
