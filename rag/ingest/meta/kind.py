"""What kind of document it is (doc_type) and its period.

doc_type, in this order:
- policy_explainer: the title explains a document (政策解读, 一图读懂, 图解, 答记者问);
- article: a signed article or speech (a `□ 职务 姓名` or `姓名 / 职务` byline, `(作者系…)`, 稿件来源);
- news_report: a news story (记者, 通讯员, 本报讯, 客户端讯, 新华社) — unless the page republishes a
  document in full (`全文如下`), which is then typed as that document;
- from the title's head noun (the last type word outside 《》): 实施意见 → implementation_opinion,
  工作要点/工作计划/工作安排 → work_points, 规划/纲要 → plan, 方案/行动计划 → implementation_plan,
  报告/总结/述法/…工作情况 → annual_report, 通知/公告 → notice;
- else the text's own signs (a report's 开展情况/存在的问题/下一步, a plan's 《…》 and outline).

period: a plan's own span from its title (2021-2025); a report's or work points' year from its
title (or, for a report, the year the text opens with); never from a document the text cites.
"""

from __future__ import annotations

import re

from rag.ingest.meta.common import HEAD_CHARS
from rag.records import UNKNOWN

DOC_TYPES = ("implementation_plan", "plan", "implementation_opinion", "work_points", "annual_report",
             "policy_explainer", "news_report", "article", "notice")

# a Q&A page on a policy (…政策问答, …百问百答), not an event with a quiz (开展法治知识问答活动)
EXPLAINER_RE = re.compile(r"政策解读|一图读懂|图解|图说|答记者问|解读|政策问答|百问百答|(?:问答|答问)$")
# 姓名 / 职务 on two lines (the mayor's article in the corpus)
BYLINE_RE = re.compile(r"(?:^|\n)([\u4e00-\u9fff]{2,4})\n([\u4e00-\u9fff、]{4,40}(?:书记|市长|县长|区长|省长|主任|主席|厅长|局长|部长))")
SIGNED_RE = re.compile(r"(?:^|\n)\s*[□■]\s*(?P<who>[^\n]{4,60}?)\s*(?:\n|$)")
NEWS_RE = re.compile(r"记者|通讯员|本报讯|本网讯|客户端讯|新华社|电讯|电\s*[(\(]记者")
REPUBLISHED_RE = re.compile(r"全文如下|全文刊发|原文如下|全文见")
_HEAD_NOUNS = [
    ("implementation_opinion", r"实施意见|指导意见|意见"),
    ("work_points", r"工作要点|要点|工作计划|工作安排|年度计划|工作任务"),
    ("plan", r"规划|纲要"),
    ("implementation_plan", r"实施方案|工作方案|行动方案|方案|行动计划"),
    ("annual_report", r"年度报告|情况报告|工作报告|述法报告|述职报告|的报告|报告|工作总结|总结|工作情况|建设情况"),
    ("notice", r"通知|通告|公告|决定|函"),
]
PERIOD_RE = re.compile(r"(\d{4})\s*(?:[-—–~〜至到]+\s*)?(?:年\s*[-—–至到]\s*)?(\d{4})\s*年?")
YEAR_RE = re.compile(r"(\d{4})\s*年")


def _head_noun(title: str) -> str | None:
    t = re.sub(r"《[^》]*》|〈[^〉]*〉", "", title) or title
    t = re.sub(r"[((][^()()]*[))]", "", t)  # (2021—2025年), (征求意见稿)
    best = None
    for kind, pat in _HEAD_NOUNS:
        for m in re.finditer(pat, t):
            key = (m.end(), len(m.group(0)))
            if best is None or key > best[0]:
                best = (key, kind)
    return best[1] if best else None


def is_article(head: str) -> bool:
    if BYLINE_RE.search(head) or "稿件来源" in head or re.search(r"[((]作者系", head):
        return True
    m = SIGNED_RE.search(head)
    return bool(m and not NEWS_RE.search(m.group("who")))


def is_news(head: str, text: str) -> bool:
    return bool(NEWS_RE.search(head)) and not REPUBLISHED_RE.search(text[:3000])


# a record of a meeting or a standing committee's opinion on a report: neither plan nor report
RECORD_RE = re.compile(r"(?:会议纪要|纪要|审议意见)(?:[((]摘要[))])?$")


def extract_doc_type(text: str, title: str, normalized: str = "") -> str:
    head = text[:HEAD_CHARS]
    if title != UNKNOWN and EXPLAINER_RE.search(title):
        return "policy_explainer"
    if title != UNKNOWN and RECORD_RE.search(title):
        return "notice"
    if is_article(head) or re.search(r"[((]作者系", text[-400:]):
        return "article"
    if is_news(text[:2000], text):
        return "news_report"
    kind = _head_noun(title) if title != UNKNOWN else None
    if kind:
        return kind
    return _from_text(text)


def _from_text(text: str) -> str:
    """The corpus's original heuristics, for documents whose title does not say."""
    head = text[:HEAD_CHARS]
    if re.search(r"报道", text[:2000]):
        return "news_report"
    if re.search(r"年度报告|工作报告|情况的报告", head) or (
        re.match(r"\s*\d{4}年", text)
        and len(re.findall(r"开展情况|存在的问题|工作计划|下一步|取得.{0,4}成效", text)) >= 2
    ):
        return "annual_report"
    from rag.ingest.meta.title import plan_titles

    outline = len(re.findall(r"(?:^|\n)[一二三四五六七八九十]+、", text))
    if plan_titles(head) and outline >= 2:
        return "implementation_plan"
    if re.search(r"通知|通告|公告", head):
        return "notice"
    return UNKNOWN


def extract_period(title: str, doc_type: str, text: str) -> str:
    if doc_type in ("policy_explainer", "article", "notice") or title == UNKNOWN:
        return UNKNOWN
    own = re.sub(r"《[^》]*》|〈[^〉]*〉", "", title)
    m = PERIOD_RE.search(own)
    if m and int(m.group(1)) < int(m.group(2)) <= int(m.group(1)) + 10:
        return f"{m.group(1)}-{m.group(2)}"
    if doc_type == "news_report":
        return UNKNOWN
    m = YEAR_RE.search(own)
    if m and 1990 <= int(m.group(1)) <= 2100:
        return m.group(1)
    if doc_type == "annual_report":
        m = re.match(r"\s*(\d{4})年", text)
        if m:
            return m.group(1)
    return UNKNOWN
