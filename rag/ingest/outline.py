"""The document's own outline: 一、 / (一) / 1. / (1) / 1) / 一是 → a flat list of sections.

Sections partition the text in document order: each one owns the text from its heading to the
next heading (of any level). The first section (level 0, empty path) is the preamble before the
first heading. Paths carry the headings from the top down, so
`二、主要目标任务… › (一)依法全面履行政府职能 › 1.深化行政审批制度改革 › 5)`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from rag.records import Section

CN_NUM = "一二三四五六七八九十"
CN_DIGITS = {c: i + 1 for i, c in enumerate(CN_NUM)}

# (level, pattern at the start of a paragraph). The group "n" is the item number.
LEVELS: list[tuple[int, re.Pattern]] = [
    (1, re.compile(rf"(?P<n>[{CN_NUM}]{{1,3}})、")),
    (1, re.compile(rf"第(?P<n>[{CN_NUM}]{{1,3}})(?:章|部分)\s*(?=\S)")),  # 第一章 发展基础 (chapters)
    (1, re.compile(rf"问(?P<n>[{CN_NUM}]{{1,3}})[::]")),  # 问一:… (an explainer's questions)
    (1, re.compile(r"(?P<n>0[1-9])\s+(?=\S)")),  # 01 制定依据 (blocks of a 一图读懂 graphic)
    (2, re.compile(rf"[(\uff08]?(?P<n>[{CN_NUM}]{{1,3}})[)\uff09]")),  # (一) and 一)
    (3, re.compile(r"(?P<n>\d{1,3})(?:[.\uff0e](?!\d)|、)")),
    (4, re.compile(r"[(\uff08](?P<n>\d{1,3})[)\uff09]")),
    (5, re.compile(r"(?P<n>\d{1,3})[)\uff09]")),
]
ITEM_LEVEL = 6  # 一是 / 二是 enumerations inside a paragraph
RESUME = 99  # marker: text after an enumeration's paragraph returns to the enclosing section
# Labelled blocks that open a list of their own ("效果指标:" in implementation plans).
LABEL_HEADING_RE = re.compile(r"(?P<label>效果指标|工作目标|主要指标|考核指标|预期目标)[::]?$")
HEADING_MAX = 40  # a heading line longer than this keeps only its first sentence
LEAD_MAX = 16  # "强化组织领导。" opening a paragraph acts as a heading (article style)
_SENT_END = "。;!?"
ENUM_RE = re.compile(rf"(?:(?<=^)|(?<=[。;,:!?\s]))(?P<n>[{CN_NUM}])是(?=[^,。;]{{2}})")


def cn_to_int(s: str) -> int:
    """一 → 1, 十二 → 12, 二十 → 20 (enough for outline numbers)."""
    if len(s) == 1:
        return CN_DIGITS.get(s, 0)
    if s.startswith("十"):
        return 10 + cn_to_int(s[1:])
    if s.endswith("十"):
        return cn_to_int(s[:-1]) * 10
    if "十" in s:
        a, b = s.split("十", 1)
        return cn_to_int(a) * 10 + cn_to_int(b)
    return 0


@dataclass
class _Heading:
    level: int
    label: str  # "一、", "(一)", "1.", "(1)", "1)", "一是", or a label word
    title: str  # the heading as shown in a path
    start: int  # where the heading begins in the text
    body_start: int  # where the text after the heading begins


def _heading_title(label: str, rest: str) -> tuple[str, int]:
    """Title for a heading line whose label is `label` and remaining text `rest`: its first
    sentence when more text follows it on the line, else the whole line when short. Returns
    (title, length of rest it consumed); ("", 0) for a long paragraph that merely has a label."""
    line = rest.split("\n", 1)[0]
    m = re.search(f"[{_SENT_END}]", line)
    if m and line[m.end():].strip():  # "1.推行电子证照。2022年年底前,…": the first sentence
        if m.start() + len(label) <= HEADING_MAX:
            return label + line[: m.start()], m.end()
        return "", 0
    if len(label) + len(line) <= HEADING_MAX:
        return label + line.rstrip("。"), len(line)
    return "", 0


def _line_heading(text: str, pos: int, line: str, level_seen: set[int]) -> _Heading | None:
    for level, pat in LEVELS:
        m = pat.match(line)
        if not m:
            continue
        label = m.group(0)
        rest = line[m.end():]
        if not rest.strip():
            return None
        if level in (3, 5) and rest[:1].isdigit():
            return None
        if level <= 3:
            title, used = _heading_title(label, rest)
            if not title:  # long paragraph with a label: the label names it
                title, used = label.rstrip("、."), 0
            return _Heading(level, label, title, pos, pos + m.end() + used)
        return _Heading(level, label, label, pos, pos + m.end())
    m = LABEL_HEADING_RE.match(line)
    if m:
        return _Heading(3, m.group("label"), m.group("label"), pos, pos + len(line))
    return None


def _lead_heading(line: str, pos: int) -> _Heading | None:
    """Article style: a paragraph opening with a short sentence that acts as its heading."""
    m = re.match(rf"[^{_SENT_END}\n]{{3,{LEAD_MAX - 1}}}。", line)
    if m and ENUM_RE.match(line):  # 一是…。二是…: an enumeration, found as such
        return None
    if m and len(line) > len(m.group(0)) + 30 and not re.search(r"\d{4}年|《", m.group(0)):
        return _Heading(3, "", m.group(0).rstrip("。"), pos, pos + m.end())
    return None


def _enumerations(text: str, start: int, end: int) -> list[_Heading]:
    """一是…二是…三是… inside one paragraph, kept only when numbered in sequence from 一."""
    found: list[_Heading] = []
    expect = 1
    for m in ENUM_RE.finditer(text, start, end):
        n = CN_DIGITS[m.group("n")]
        if n != expect:
            continue
        label = m.group(0)
        found.append(_Heading(ITEM_LEVEL, label, label, m.start(), m.end()))
        expect += 1
    return found if len(found) >= 2 else []


def _inline_level1(line: str, pos: int, expect: int) -> list[tuple[int, str]]:
    """Level-1 headings glued inside a long paragraph after a full stop (`…。 二、…`),
    accepted only in numbering sequence."""
    out = []
    for m in re.finditer(rf"(?<=[。!?])\s*(?P<n>[{CN_NUM}]{{1,3}})、", line):
        if cn_to_int(m.group("n")) == expect:
            out.append((pos + m.start("n"), m.group("n") + "、"))
            expect += 1
    return out


def parse_outline(text: str) -> list[Section]:
    """Flat list of sections in document order, partitioning `text`."""
    heads: list[_Heading] = []
    pos = 0
    level_seen: set[int] = set()
    next_l1 = 1
    has_outline = any(pat.match(ln) for ln in text.split("\n") for lv, pat in LEVELS if lv <= 2)
    for line in text.split("\n"):
        h = _line_heading(text, pos, line, level_seen)
        if h is None and has_outline:
            h = _lead_heading(line, pos)
        if h is not None:
            heads.append(h)
            level_seen.add(h.level)
            if h.level == 1:
                next_l1 = cn_to_int(h.label.rstrip("、")) + 1
        if len(line) > 200:
            for start, label in _inline_level1(line, pos, next_l1):
                rest = text[start + len(label): pos + len(line)]
                title, used = _heading_title(label, rest)
                heads.append(_Heading(1, label, title or label, start, start + len(label) + used))
                next_l1 += 1
        body_from = heads[-1].body_start if heads and heads[-1].start >= pos else pos
        items = _enumerations(text, body_from, pos + len(line))
        if items:
            heads.extend(items)
            # the enumeration ends with its paragraph; what follows belongs to the parent again
            end = pos + len(line) + 1
            if end < len(text):
                heads.append(_Heading(RESUME, "", "", end, end))
        pos += len(line) + 1
    heads.sort(key=lambda h: h.start)
    return _to_sections(text, heads)


def _to_sections(text: str, heads: list[_Heading]) -> list[Section]:
    sections: list[Section] = []
    first = heads[0].start if heads else len(text)
    if first > 0 or not heads:
        sections.append(Section(path=(), level=0, heading="", start=0, end=first, body_start=0))
    stack: list[_Heading] = []
    for i, h in enumerate(heads):
        end = heads[i + 1].start if i + 1 < len(heads) else len(text)
        if h.level == RESUME:
            while stack and stack[-1].level == ITEM_LEVEL:
                stack.pop()
            if end > h.start:
                parent = stack[-1].level if stack else 0
                path = tuple(s.title for s in stack)
                sections.append(Section(path, parent, "", h.start, end, h.start))
            continue
        while stack and stack[-1].level >= h.level:
            stack.pop()
        stack.append(h)
        sections.append(
            Section(
                path=tuple(s.title for s in stack),
                level=h.level,
                heading=text[h.start:h.body_start].strip(),
                start=h.start,
                end=end,
                body_start=h.body_start,
            )
        )
    return sections
