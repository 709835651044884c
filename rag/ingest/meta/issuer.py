"""Who issued the document and when: issuer, date, publish_date, document number, contact.

issuer, in order: the signature (one to three organisation lines, or `述法人:职务 姓名`, above a
date line); for news the outlet (来源:…报/网, the masthead, `…日报记者`); for a signed article
the byline (`□ 职务 姓名`, or `姓名` / `职务`); `X印发《…》` / a `…印发` line above the title;
an explainer's author line (`单位 2022年05月20日`) or 来源; the issuer line of a notice's title
(`X关于印发…`); the header's 发布机构. Joint issuers are joined with 、.

date: the signature's date (or a date standing alone where a signature goes), the header's
成文日期/发文日期; for news, articles and explainers the article's own date.
publish_date: the header's 发布日期, else the page's 发布时间/日期/更新时间 line or a site or WeChat
byline, the page's <meta PubDate>, an e-paper's edition date, or a 发布时间 line outside the
article. A `今天是…` clock is never a date.
"""

from __future__ import annotations

import re

from rag.ingest import chrome
from rag.ingest.meta.common import (
    DATE_ANY_RE,
    DATE_CN_RE,
    DATE_ISO_RE,
    DATE_LINE_RE,
    DOC_NUMBER_RE,
    HEAD_CHARS,
    iso,
    to_iso,
)
from rag.records import UNKNOWN
from rag.text import places as rg

ORG_END = r"(?:委员会|人民政府|政府|办公室|办公厅|司法厅|司法局|办事处|工作委员会|党工委|行政公署|局|厅|委|办|兵团第[一二三四五六七八九十]{1,3}师)"
_ORG_LINE = rf"[\u4e00-\u9fff、]{{2,40}}{ORG_END}(?:[ \u3000]+[\u4e00-\u9fff、]{{2,40}}{ORG_END})*"
SIGNATURE_RE = re.compile(rf"(?:^|\n)[ \t\u3000]*(?P<orgs>{_ORG_LINE}(?:[ \t\u3000]*\n[ \t\u3000]*\n?[ \t\u3000]*{_ORG_LINE}){{0,2}})"
                          r"[ \t\u3000]*\n\s*(?P<date>\d{4}\s*年\s*\d{1,2}\s*月\s*\d{1,2}\s*日)[ \t\u3000]*(?=\n|$)")
SPEAKER_RE = re.compile(r"(?:^|\n)\s*(?:述法人|述职人|报告人|汇报人)\s*[::]\s*(?P<who>[^\n]{2,40}?)\s*\n\s*"
                        r"(?P<date>\d{4}\s*年\s*\d{1,2}\s*月\s*\d{1,2}\s*日)")
ISSUED_BY_RE = re.compile(rf"([\u4e00-\u9fff、]{{2,60}}?{ORG_END})(?:联合)?印发了?[《〈]")
INTRO_RE = re.compile(r"(?:^|\n)\s*(?P<orgs>[\u4e00-\u9fff、 ]{4,60}?)(?:联合)?印发\s*(?:\n|$)")
BYLINE_RE = re.compile(r"(?:^|\n)([\u4e00-\u9fff]{2,4})\n([\u4e00-\u9fff、]{4,40}(?:书记|市长|县长|区长|省长|主任|主席|厅长|局长|部长))")
SIGNED_RE = re.compile(r"(?:^|\n)\s*[□■]\s*(?P<who>[^\n]{4,60}?)\s*(?=\n|$)")
_MEDIA = r"(?:日报|晚报|报|网|电视台|广播电视台|客户端|新闻网|融媒体中心|融媒中心|新闻中心|传媒中心)"
OUTLET_RE = re.compile(rf"来源\s*[::]\s*(?P<o>[\u4e00-\u9fffA-Za-z·]{{2,16}}?{_MEDIA})(?:\s|$|[|,]|(?=发布|时间|日期))")
MASTHEAD_RE = re.compile(r"(?:^|\n)\s*(?P<o>[\u4e00-\u9fff]{2,10}?(?:日报|晚报|报))\s*(?:数字报|电子报|数字版)")
REPORTER_RE = re.compile(rf"(?P<o>[\u4e00-\u9fff]{{2,10}}?{_MEDIA})(?:全媒体?|融媒体?)?记者")
SOURCE_RE = re.compile(r"(?:信息)?来源\s*[::]\s*(?P<o>[\u4e00-\u9fff]{2,30}?)(?=\s|$|[|,]|发布|时间|日期|阅读|浏览|点击|作者)")
CONTACT_RE = re.compile(r"联\s*系\s*人\s*[::]\s*(?P<names>[\u4e00-\u9fff]{2,4}(?:[ 、,\u3000]+(?!联系|电话|手机|传真|邮箱)[\u4e00-\u9fff]{2,4})*)")
PHONE_RE = re.compile(r"(?:联系)?电话[::]\s*([\d\- ]{5,40}\d)")
MOBILE_RE = re.compile(r"手机(?:号码)?[::]\s*(\d[\d\- ]{9,20}\d)")
FAX_RE = re.compile(r"传真[::]\s*(\d[\d\- ]{5,20}\d)")
EMAIL_RE = re.compile(r"[\w.+-]+@[\w-]+(?:\.[\w-]+)+")
_LEAD_TIME_RE = re.compile(r"^(?:近日|日前|近期|此前|目前|今年|最近)[,]?")
_PUBLISH_LABEL_RE = re.compile(r"(?:发布|发表|更新|公开)(?:时间|日期)|(?:^|[\s|])(?:时间|日期)\s*[::]")
_NO_DATE_RE = re.compile(r"今天是|欢迎|星期.{0,6}农历")
_EDITION_RE = re.compile(r"^\S{0,12}?(\d{4}\s*年\s*\d{1,2}\s*月\s*\d{1,2}\s*日)\s*星期[一二三四五六日天]$")


def _join_orgs(block: str) -> str:
    parts = [p for p in re.split(r"[ \t\u3000]*\n\s*|[ \t\u3000]{1,}", block.strip()) if p]
    return "、".join(parts)


def signature(normalized: str, start: int = 0) -> tuple[str, str]:
    """(issuer, ISO date) of the first signature after `start`; unknown parts are "unknown"."""
    cands = []
    m = SIGNATURE_RE.search(normalized, start)
    if m:
        cands.append((m.start(), _join_orgs(m.group("orgs")), iso(*DATE_CN_RE.search(m.group("date")).groups())))
    m = SPEAKER_RE.search(normalized, start)
    if m:
        cands.append((m.start(), m.group("who").strip(), iso(*DATE_CN_RE.search(m.group("date")).groups())))
    if not cands:
        return UNKNOWN, UNKNOWN
    _, who, date = min(cands)
    return who, date


# a report given at a meeting: its 题注 (——2022年4月26日在…会议上) and the speaker's line
# (蜀山区人民政府副区长 陈明远); the body says 受区人民政府委托 when the speaker reports for it
SPEECH_NOTE_RE = re.compile(r"(?m)^[—\-]{1,2}\s*(?P<date>\d{4}年\d{1,2}月\d{1,2}日)在[^\n]{2,80}?(?:会议|大会)上\s*$")
SPEECH_BY_RE = re.compile(rf"(?m)^(?P<org>[\u4e00-\u9fff]{{2,30}}?{ORG_END})(?P<post>[\u4e00-\u9fff]{{1,10}})\s+[\u4e00-\u9fff]{{2,4}}$")


def speech_note(normalized_head: str) -> tuple[str, str]:
    """(issuer, ISO date) of a report given at a meeting: the date of its 题注, and the body the
    speaker reports for (the organisation of the speaker's line when the text says 受…委托)."""
    m = SPEECH_NOTE_RE.search(normalized_head)
    if m is None:
        return UNKNOWN, UNKNOWN
    date = iso(*DATE_CN_RE.search(m.group("date")).groups())
    by = SPEECH_BY_RE.search(normalized_head, m.end())
    org = by.group("org") if by and "委托" in normalized_head[by.end(): by.end() + 200] else UNKNOWN
    return org, date


def lone_date(normalized: str, start: int) -> str:
    """A date standing alone on its line after the head (where a signature's date goes)."""
    for line in normalized[start:].split("\n"):
        m = DATE_LINE_RE.match(line)
        if m:
            return iso(*m.groups())
    return UNKNOWN


def outlet(normalized_head: str) -> str:
    for rx in (OUTLET_RE, MASTHEAD_RE, REPORTER_RE):
        m = rx.search(normalized_head)
        if m:
            return m.group("o")
    return UNKNOWN


def signed_by(head: str) -> str:
    m = SIGNED_RE.search(head)
    if m and not re.search(r"记者|通讯员", m.group("who")):
        return re.sub(r"\s+", " ", m.group("who").strip())
    return UNKNOWN


def legacy_byline(head: str, normalized_head: str) -> str:
    m = BYLINE_RE.search(head) or BYLINE_RE.search(normalized_head)
    return f"{m.group(1)}({m.group(2)})" if m else UNKNOWN


def intro_issuer(normalized_head: str) -> str:
    """`中共四川省委 四川省人民政府印发` above a title, or `X印发了《…》` in the first lines."""
    m = INTRO_RE.search(normalized_head)
    if m:
        return _join_orgs(m.group("orgs"))
    m = ISSUED_BY_RE.search(normalized_head)
    if m:
        return _LEAD_TIME_RE.sub("", m.group(1))
    return UNKNOWN


def byline_date(lines: list[str]) -> tuple[str, str]:
    """An author line under the title: (unit, ISO date)."""
    for line in lines:
        m = re.match(r"^(?P<who>[\u4e00-\u9fff、]{2,30})\s+(?P<date>\d{4}年\d{1,2}月\d{1,2}日)$", line.strip())
        if m:
            return m.group("who"), iso(*DATE_CN_RE.search(m.group("date")).groups())
    return UNKNOWN, UNKNOWN


def source_unit(head_lines: list[str]) -> str:
    for line in head_lines:
        m = SOURCE_RE.search(line)
        if m and chrome.PROVENANCE_RE.search(line):
            return m.group("o")
    return UNKNOWN


_PUBLISH_VALUE_RE = re.compile(r"(?:发布|发表|更新|公开)(?:时间|日期)\s*[::]\s*(\S.*)")


def publish_date(head_lines: list[str], header: dict, hints: dict) -> str:
    """The site's publication date (see the module docstring)."""
    if header.get("publish_date"):
        d = to_iso(header["publish_date"])
        if d != UNKNOWN:
            return d
    for line in head_lines:
        if _NO_DATE_RE.search(line):
            continue
        if chrome.PROVENANCE_RE.search(line) or _PUBLISH_LABEL_RE.search(line):
            m = _PUBLISH_VALUE_RE.search(line) or DATE_ANY_RE.search(line)
            d = to_iso(m.group(1) if m.re is not DATE_ANY_RE else m.group(0)) if m else UNKNOWN
            if d != UNKNOWN:
                return d
        rule = chrome.match(line)
        if rule is not None and rule.name in ("url_byline", "wechat_byline"):
            d = to_iso(line)
            if d != UNKNOWN:
                return d
    if hints.get("pub_date"):
        d = to_iso(hints["pub_date"])
        if d != UNKNOWN:
            return d
    pages = [head_lines] + ([hints["page_text"].split("\n")] if hints.get("page_text") else [])
    for lines in pages:
        for line in lines:
            m = _EDITION_RE.match(line.strip())
            if m and not _NO_DATE_RE.search(line):
                return to_iso(m.group(1))
    # a 发布时间 line the page keeps outside the article element
    for line in (hints.get("page_text") or "").split("\n")[:80]:
        m = _PUBLISH_VALUE_RE.search(line)
        if m and not _NO_DATE_RE.search(line):
            d = to_iso(m.group(1))
            if d != UNKNOWN:
                return d
    return UNKNOWN


def doc_number(normalized: str, header: dict, head_end_pos: int) -> str:
    if header.get("doc_number") and re.search(r"\d", header["doc_number"]):
        return re.sub(r"\s+", "", header["doc_number"])
    m = DOC_NUMBER_RE.search(normalized[: max(HEAD_CHARS, head_end_pos + 200)])
    return re.sub(r"\s+", "", m.group(1)) if m else UNKNOWN


def contact(normalized: str) -> str:
    m = CONTACT_RE.search(normalized)
    if not m:
        return UNKNOWN
    names = [n for n in re.split(r"[ 、,\u3000]+", m.group("names")) if n]
    parts = ["、".join(names)]
    after = normalized[m.end(): m.end() + 200]
    phones = []
    phone = PHONE_RE.search(after)
    if phone:
        phones.append(re.sub(r"\s+", " / ", phone.group(1).strip()))
    mobile = MOBILE_RE.search(after)
    if mobile and mobile.group(1).strip() not in " ".join(phones):
        phones.append(mobile.group(1).strip())
    if phones:
        parts.append("电话 " + " / ".join(phones))
    fax = FAX_RE.search(after)
    if fax:
        parts.append("传真 " + fax.group(1).strip())
    email = EMAIL_RE.search(after) or EMAIL_RE.search(normalized[max(0, m.start() - 400): m.start()])
    if email:
        parts.append("邮箱 " + email.group(0))
    return ",".join(parts)


def synthesized_issuer(normalized_head: str, doc_type: str, region: str, level: str) -> str:
    """A report without a signature that speaks of its own 县政府/市政府: the region's 人民政府."""
    if doc_type != "annual_report" or region == UNKNOWN:
        return UNKNOWN
    kind = {rg.COUNTY: "县", rg.CITY: "市", rg.PROVINCE: "省"}.get(level)
    if kind and re.search(f"{kind}政府", normalized_head):
        return f"{region}人民政府"
    return UNKNOWN


# 时间/会议时间 on a line of its own (a page's 发布时间 is its publish date, not the event's)
PRINT_RUN_RE = re.compile(r"(?m)^\s*(?P<org>[\u4e00-\u9fff()()]{2,30}?)\s+(\d{4})\s*年\s*(\d{1,2})\s*月\s*(\d{1,2})\s*日\s*印发\s*$")


def print_run(normalized: str) -> tuple[str, str]:
    """(issuer, ISO date) of a 版记's last line (…办公室 2024年3月27日印发): a 纪要 or a notice
    without a signature names its issuer and date there only."""
    m = None
    for m in PRINT_RUN_RE.finditer(normalized):
        pass
    return (m.group("org"), iso(m.group(2), m.group(3), m.group(4))) if m else (UNKNOWN, UNKNOWN)


EVENT_DATE_RE = re.compile(r"(?m)^\s*(?:时间|召开时间|会议时间|举办时间)\s*[::]\s*(\d{4})\s*年\s*(\d{1,2})\s*月\s*(\d{1,2})\s*日")


def event_date(normalized_head: str) -> str:
    """The date an event page gives its event on a field line of its own (时间:2024年3月28日上午10:00)."""
    m = EVENT_DATE_RE.search(normalized_head)
    return iso(*m.groups()) if m else UNKNOWN


def article_date(head_lines: list[str], head: str, normalized_head: str) -> str:
    """The date of a news story or signed article: its dateline or the page's date."""
    for line in head_lines:
        if _NO_DATE_RE.search(line):
            continue
        if chrome.PROVENANCE_RE.search(line) or DATE_ISO_RE.search(line):
            d = to_iso(line)
            if d != UNKNOWN:
                return d
    m = DATE_ISO_RE.search(head) or DATE_ISO_RE.search(normalized_head)
    return iso(*m.groups()) if m else UNKNOWN
