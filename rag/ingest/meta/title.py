"""The document's own title, and whether it is a draft.

Candidates, in order of trust:
1. the title lines at the top of the clean text (a title written over two or three lines is
   joined: an issuer line followed by 关于…, a line with an open 《 or (, a `(2021—2025年)` line,
   a news headline and its subtitle);
2. the header's 标题/名称 row, the page's h1, <meta name="ArticleTitle"> and <title> (its
   `_栏目_网站` tail cut).
A notice that issues or asks for comments on a document (`…关于印发《X》的通知`,
`关于公开征求《X(征求意见稿)》意见的公告`, `X印发《Y》`) is unwrapped to X; the sentence that
issues it (`现将《X》印发给你们`, `《X》已经…同意,现印发给你们`) names X in full when the
page title uses a short form. A 《…》 the document only cites never becomes its title.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from rag.ingest import chrome
from rag.ingest.meta.common import DATE_LINE_RE
from rag.records import UNKNOWN

DRAFT_RE = re.compile(r"[((〔\[]?\s*(?:征求意见稿|征求意见版|草案|送审稿|讨论稿|修订稿|代拟稿)\s*[))〕\]]?")
_DRAFT_MARK_RE = re.compile(r"征求意见稿|草案|送审稿|讨论稿|代拟稿")
_DOCNUM_PREFIX_RE = re.compile(r"^[\u4e00-\u9fff]{1,12}〔\d{4}〕\s*\d{1,4}\s*号\s*")
_WRAPPERS = [
    # …关于印发《X》的通知 / 关于转发〈X〉的通知
    re.compile(r"(?:关于)?(?:印发|转发|公布|发布|下发|批转|颁布)(?:了)?[《〈](?P<t>.+)[》〉](?:的)?(?:通知|通告|公告|决定|函)?$"),
    # 关于印发X的通知 (no book marks)
    re.compile(r"关于(?:印发|转发|公布|发布|下发|批转)(?P<t>.{4,}?)的(?:通知|通告|公告)$"),
    # 关于(公开)征求《X》(修改)意见的通知/公告
    re.compile(r"(?:关于)?(?:公开)?征求[《〈](?P<t>.+?)[》〉](?:的)?(?:修改|社会各界|社会公众|公众)?意见(?:建议)?(?:的)?(?:通知|公告|函)?$"),
]
_ISSUANCE_RES = [
    re.compile(r"现将[^《》。\n]{0,30}[《〈](?P<t>[^《》〈〉\n]{4,90})[》〉][^。\n]{0,16}?(?:印发|转发|下发)给你们"),
    re.compile(r"[《〈](?P<t>[^《》〈〉\n]{4,90})[》〉][^。\n]{0,6}已经[^。\n]{1,40}?(?:同意|通过)[^。\n]{0,12}?现(?:予)?(?:印发|转发)"),
]
_ORG_END_RE = re.compile(r"(?:委员会|人民政府|政府|办事处|党委|党工委|县委|市委|区委|州委|旗委|盟委|省委|办公室|办公厅|司法局|司法厅|局|厅|委)$")
_TITLE_END_RE = re.compile(r"(?:通知|通告|公告|决定|报告|方案|规划|纲要|意见|要点|计划|安排|总结|情况|解读|函|办法|规定|细则)$")
_REPORT_REST_RE = re.compile(r"^\d{4}\s*年度?[^。,;:]{2,40}(?:报告|总结|要点|计划|安排|方案|规划|意见|情况)$")
_SPAN_LINE_RE = re.compile(r"^[((]\s*\d{4}\s*[-—–~至]*\s*\d{4}\s*年?\s*[))]$")
_INTRO_RE = re.compile(r"^(?P<orgs>[\u4e00-\u9fff、 ]{4,60}?)(?:联合)?印发$")  # 中共四川省委 四川省人民政府印发
_NOT_TITLE_RE = re.compile(
    r"^(?:[□■●◆]|本报讯|记者|通讯员|\(此件|(?:各|区|县|市|省|州)[^:]{0,40}[::]$)|[::]$|^(?:联系人|联系电话|电话|地址|邮编|附件|传真|手机|邮箱)"
    # the red header of an official document (勐腊县人民政府文件): who issues it, not its title
    r"|^[\u4e00-\u9fff]{2,30}(?:人民政府|政府|办公室|办公厅|委员会|党委|局|厅)文件$")
_LABEL_COLON_RE = re.compile(r"^[^::]{1,8}[::]")
_SITE_TAIL_RE = re.compile(r"\s*(?:[_|]|--| - |—{2})\s*.*$")
BOOK_TITLE_RE = re.compile(r"[《〈]([^《》〈〉\n]{4,80}?)[》〉]")
PLAN_WORDS = "实施方案|规划|纲要|实施意见|工作要点|行动计划|报告"


@dataclass
class TitleInfo:
    title: str = UNKNOWN
    raw: str = ""  # the line(s) the title came from, before unwrapping
    wrapped: bool = False  # a notice issuing / asking comments on the titled document
    draft: bool = False
    line_index: int = -1  # first line of the title in the clean text (-1: not from the text)
    issuer_line: str = ""  # an issuer written above 关于… in the title lines


def _is_title_line(line: str) -> bool:
    if not (4 <= len(line) <= 120) or re.search(r"[。;;]", line) or line.count(",") > 1:
        return False
    if _NOT_TITLE_RE.search(line) or DATE_LINE_RE.match(line) or chrome.PROVENANCE_RE.search(line):
        return False
    if re.fullmatch(r"[\u4e00-\u9fff]{1,12}〔\d{4}〕\s*\d{1,4}\s*号", line):
        return False
    m = _LABEL_COLON_RE.match(line)
    if m and not re.search(r"[\u4e00-\u9fff]{6,}", line[m.end():]):
        return False
    return True


def _balanced(s: str) -> bool:
    return s.count("《") == s.count("》") and s.count("(") <= s.count(")") and s.count("〈") == s.count("〉")


def _joins(a: str, b: str, news: bool) -> str | None:
    """How title line `a` continues with line `b` ('' or ' '), or None when it does not."""
    if not _is_title_line(b) and not _SPAN_LINE_RE.match(b):
        return None
    if re.match(r"[\u4e00-\u9fff]{1,5}\s*[::]", b):
        return None  # "地点:…", "主持人:…": a field of the page, not the title going on
    if _ORG_END_RE.search(a) and (b.startswith(("关于", "印发")) or _ORG_END_RE.search(b) or _REPORT_REST_RE.match(b)):
        return " " if _ORG_END_RE.search(b) and not b.startswith("关于") else ""
    if not _balanced(a) or _SPAN_LINE_RE.match(b):
        return ""
    if a.endswith(("关于", "印发", "的", "和", "及", "、")) or (
            a.startswith("关于") and not _TITLE_END_RE.search(a) and not _TITLE_END_RE.search(a.rstrip("》〉)"))):
        return ""
    if news and len(b) <= 30 and not re.search(r"\d{4}[-年]", b):
        return " "
    return None


# a person's post under a byline (江西省萍乡市委副书记、市长): no title
_RANK_LINE_RE = re.compile(r"(?:书记|市长|县长|区长|旗长|州长|省长|镇长|乡长|主任|主席|厅长|局长|部长|处长|所长)$")
# what makes a title line a document's own title rather than a column name (法治政府建设年度报告)
_STRONG_RE = re.compile(r"关于|印发|《|\d{4}\s*年|[省市县区州盟旗镇乡]|街道|人民政府|党委|委员会")


def _text_title(lines: list[str], news: bool) -> tuple[str, int, str]:
    """(title, index of its first line, issuer line) from the top of the clean text: the first
    title-like line (joined with the lines that continue it) that names a place, a year, an
    issuer or a wrapped document; else the first title-like line."""
    end = chrome.body_start(lines)
    found: list[tuple[str, int, str]] = []
    i = 0
    while i < min(end, len(lines), 12):
        line = lines[i]
        if len(line) < 6 or not _is_title_line(line) or _RANK_LINE_RE.search(line):
            i += 1
            continue
        if _INTRO_RE.match(line) and i + 1 < len(lines) and _is_title_line(lines[i + 1]):
            i += 1
            continue  # 中共四川省委 四川省人民政府印发 / (the title on the next line)
        title, j, issuer = line, i, ""
        while j + 1 < len(lines) and j - i < 3:
            sep = _joins(title, lines[j + 1], news)
            if sep is None:
                break
            if not issuer and _ORG_END_RE.search(title) and (lines[j + 1].startswith(("关于", "印发"))
                                                             or _REPORT_REST_RE.match(lines[j + 1])):
                issuer = title
            title = title + sep + lines[j + 1]
            j += 1
        found.append((title, i, issuer))
        if _STRONG_RE.search(title):
            return title, i, issuer
        i = j + 1
    return found[0] if found else (UNKNOWN, -1, "")


def unwrap(title: str) -> tuple[str, bool]:
    """'…关于印发《X》的通知' → ('X', True); a title that wraps nothing comes back as is."""
    t = _DOCNUM_PREFIX_RE.sub("", title.strip())
    if t.startswith("《") and t.endswith("》") and t.count("《") == 1:
        t = t[1:-1]
    for rx in _WRAPPERS:
        m = rx.search(t)
        if m and len(m.group("t")) >= 4:
            inner = m.group("t").strip()
            if inner.count("《") == inner.count("》") and inner.count("〈") == inner.count("〉"):
                return inner, True
    return t, False


def clean_title(t: str) -> str:
    t = DRAFT_RE.sub("", t)
    t = re.sub(r"[《》〈〉]", "", t)
    t = re.sub(r"^【[^】]{1,8}】", "", t)
    return re.sub(r"\s+", " ", t).strip(" :")


def _page_title(hints: dict) -> str:
    t = hints.get("article_title") or hints.get("h1") or ""
    if not t and hints.get("html_title"):
        t = _SITE_TAIL_RE.sub("", hints["html_title"])
    return t.strip()


def issued_title(text: str) -> str:
    """The document a notice issues, as its issuing sentence names it (现将《X》印发给你们)."""
    head = text[:2000]
    for rx in _ISSUANCE_RES:
        m = rx.search(head)
        if m:
            return m.group("t").strip()
    return ""


def plan_titles(text: str) -> list[str]:
    """Plan-like 《titles》 in order; notice wrappers (关于…的通知) are skipped."""
    out = []
    for m in BOOK_TITLE_RE.finditer(text):
        t = m.group(1).strip()
        if re.search(PLAN_WORDS, t) and not re.search(r"关于|通知$|的通知", t):
            out.append(t)
    return out


def extract_title(lines: list[str], header: dict, hints: dict, news: bool) -> TitleInfo:
    info = TitleInfo()
    text_title, idx, issuer = _text_title(lines, news)
    candidates = [(text_title, idx)] if text_title != UNKNOWN else []
    for t in (header.get("title", ""), _page_title(hints)):
        if t:
            candidates.append((t, -1))
    if not candidates:
        return info
    raw, idx = candidates[0]
    wrapped_title = None
    for cand, cidx in candidates:
        inner, wrapped = unwrap(cand)
        if wrapped:
            wrapped_title, raw, idx = inner, cand, cidx
            break
    info.raw, info.line_index, info.issuer_line = raw, idx, issuer
    info.draft = bool(_DRAFT_MARK_RE.search(raw)) or "征求" in raw and bool(re.search(r"征求[《〈]", raw))
    if wrapped_title is not None and _FORWARD_RE.search(raw):
        # 关于转发《渭南市…方案》的通知: the forwarded plan is another body's; the document's own
        # plan, when it follows the notice, stands on a line of its own
        own = _own_plan_line(lines, clean_title(wrapped_title))
        info.title, info.wrapped = (clean_title(own), True) if own else (clean_title(raw), False)
        return info
    if wrapped_title is not None:
        info.title, info.wrapped = clean_title(wrapped_title), True
        return info
    if not news:
        issued = issued_title("\n".join(lines))
        if issued:
            info.title, info.wrapped = clean_title(issued), True
            info.draft = info.draft or bool(_DRAFT_MARK_RE.search(issued))
            return info
    formal = _formal_title_below(lines, idx) if not news and "关于" not in raw else ""
    if formal:  # a repost's headline above the document's own 关于…的报告 line
        info.title, info.line_index = clean_title(formal), lines.index(formal)
        return info
    info.title = clean_title(unwrap(raw)[0])
    return info


_FORMAL_RE = re.compile(r"^[\u4e00-\u9fff()()]{2,40}关于[\u4e00-\u9fff\d()()—\-]{2,60}的(?:报告|情况报告|工作报告)$")


def _formal_title_below(lines: list[str], idx: int) -> str:
    """A report's formal title line (宜宾市翠屏区人民政府关于2023年度…的报告) standing a few lines
    below a headline (a WeChat or news repost puts its own headline first), before the body."""
    if idx < 0:
        return ""
    for line in lines[idx + 1: idx + 12]:
        t = line.strip()
        if _FORMAL_RE.match(t):
            return t
        if len(t) > 60 and chrome.is_prose(t):  # the body has begun
            return ""
    return ""


_FORWARD_RE = re.compile(r"(?:转发|批转)[《〈]")


def _own_plan_line(lines: list[str], forwarded: str) -> str:
    """A plan title standing alone on a line (富平县法治政府建设实施方案(2021—2025年)), other than
    the forwarded one."""
    for line in lines:
        t = line.strip()
        if (4 <= len(t) <= 60 and re.search(PLAN_WORDS, t) and not re.search(r"[《》。,;:,;:]|^关于", t)
                and clean_title(t) != forwarded):
            return t
    return ""


def draft_after_title(lines: list[str], title: str) -> bool:
    """A `(征求意见稿)` line under the document's own title line, or a title line carrying it."""
    key = re.sub(r"\s+", "", title)[:12]
    for i, line in enumerate(lines):
        if key and key in re.sub(r"\s+", "", line) and len(line) <= 90 and not re.search("[。;]", line):
            if _DRAFT_MARK_RE.search(line):
                return True
            nxt = lines[i + 1] if i + 1 < len(lines) else ""
            if DRAFT_RE.fullmatch(nxt.strip()):
                return True
    return False
