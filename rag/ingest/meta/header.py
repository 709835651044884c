"""Information-disclosure headers (索引号, 主题分类, 发文字号, 成文日期, 发布机构, 发布日期, 标题…).

Government sites put a label/value block above the article. It comes in several shapes:

- cells of a table row, rendered as `label | value | label | value` (HTML tables, Tab- or
  `|`-separated text): `索 引 号 | 1134…/2024-00012 | 主题分类 | 政府法制 |` (a15, b05, a01);
- bracketed labels, one or several on a line: `[ 索引号 ] 11500101…/2023-00127` (a02),
  `【发布单位】…【发布日期】2023-03-29 【信息分类】政府法制 【文号】` (h08);
- `label:value` pairs on a line: `发布机构:上海市嘉定区人民政府 发布日期:2022-03-30` (b17);
- a bullet list with the value on the next, indented line: `• 信息索引号:` / `    3307…` (a07, b19),
  where an empty label never takes the next label as its value.

`read_header(lines)` returns the fields it found (canonical keys, see `FIELDS`) and the indices
of the lines that belong to the header, which the cleaner drops from the body text. Labels may
be spaced out (`索 引 号`, `名  称`).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

# canonical key → the labels sites use for it
FIELDS: dict[str, tuple[str, ...]] = {
    "index_no": ("信息索引号", "索引号"),
    "topic": ("主题分类", "所属主题", "主题类别"),
    "doc_number": ("发文字号", "发文文号", "文号"),
    "date": ("成文日期", "发文日期", "生成日期", "成文时间", "印发日期"),
    "org": ("发布机构", "发文机构", "发文机关", "制发机构", "发文单位", "发布单位", "公开主体"),
    "publish_date": ("发布日期", "发布时间", "公开日期", "公开时间"),
    "title": ("文件名称", "信息名称", "标题", "名称"),
    "interpreter": ("解读机关", "解读单位", "解读部门", "解读机构"),  # a 政策解读 page's own author
}
# labels that give a field only when the block has no label of its own for it (b05 has both
# 信息分类 and 主题分类, and the topic is the latter; a gkmlpt page's bare 分类 is its topic)
FALLBACK: dict[str, str] = {"信息分类": "topic", "分类": "topic"}
# labels of the same blocks whose values we do not keep
OTHER_LABELS = (
    "文件有效性", "是否有效", "组配分类", "信息分类", "体裁分类", "主题词", "关键词", "分类", "有效性", "时效性", "生效时间", "废止时间", "生效日期",
    "废止日期", "有效时间", "公开方式", "公开对象", "公开范围", "公开部门", "公开类别", "发文类型", "内容概述", "内容分类",
    "浏览次数", "信息来源", "来源", "归档时间", "状态", "文种", "统一编号", "登记号",
)
# labels that may start a `label:value` line of the header (a bare 发布日期/来源 line is provenance
# of the page, kept or dropped by the chrome rules, not a header table)
_LEAD_EXCLUDED = {"发布日期", "发布时间", "公开日期", "公开时间", "信息来源", "来源", "浏览次数"}

_LABEL_KEY: dict[str, str] = {lab: key for key, labs in FIELDS.items() for lab in labs}
_ALL_LABELS = sorted(list(_LABEL_KEY) + list(OTHER_LABELS), key=len, reverse=True)


def _spaced(label: str) -> str:
    return r"\s*".join(map(re.escape, label))


_LABEL_ALT = "|".join(_spaced(lab) for lab in _ALL_LABELS)
LABEL_RE = re.compile(rf"(?P<label>{_LABEL_ALT})")
_CELL_LABEL_RE = re.compile(rf"^(?:{_LABEL_ALT})\s*[::]?$")
_BRACKET_RE = re.compile(rf"^[\[【]\s*(?P<label>{_LABEL_ALT})\s*[\]】]\s*(?P<value>.*)$")
_BRACKET_ANY_RE = re.compile(rf"[\[【]\s*(?P<label>{_LABEL_ALT})\s*[\]】]")
_PAIR_RE = re.compile(rf"(?P<label>{_LABEL_ALT})\s*[::]")
_BULLET_RE = re.compile(rf"^(?:[•·●▪◆■\-*]\s*)?(?P<label>{_LABEL_ALT})\s*[::]\s*(?P<value>.*)$")
# what a value on the line after its label looks like, by field (text values need an indent)
_VALUE_SHAPES = {
    "index_no": re.compile(r"^[0-9A-Za-z][0-9A-Za-z/\-_.]{5,}$"),
    "doc_number": re.compile(r"〔\d{4}〕|\[\d{4}\]|\d{4}.{0,2}\d+号$"),
    "date": re.compile(r"^\d{4}\s*[-/.年]\s*\d{1,2}"),
    "publish_date": re.compile(r"^\d{4}\s*[-/.年]\s*\d{1,2}"),
}


@dataclass
class Header:
    fields: dict[str, str] = field(default_factory=dict)
    lines: set[int] = field(default_factory=set)  # indices of the header's lines

    fallback: dict[str, str] = field(default_factory=dict)  # FALLBACK fields, used if nothing better

    def put(self, label: str, value: str) -> None:
        label = re.sub(r"\s+", "", label).rstrip("::")
        key = _LABEL_KEY.get(label)
        value = value.strip().strip("|").strip()
        if key and value and key not in self.fields:
            self.fields[key] = value
        elif label in FALLBACK and value:
            self.fallback.setdefault(FALLBACK[label], value)

    def finish(self) -> "Header":
        for key, value in self.fallback.items():
            self.fields.setdefault(key, value)
        return self


def _label_of(text: str) -> str | None:
    m = _CELL_LABEL_RE.match(text.strip())
    return re.sub(r"[\s::]", "", text) if m else None


def _cells_row(line: str, h: Header) -> bool:
    """`label | value | label | value`: every non-empty cell is a label or the value after one."""
    if "|" not in line:
        return False
    cells = [c.strip() for c in line.split("|")]
    pairs: list[tuple[str, str]] = []
    i = 0
    seen_label = False
    while i < len(cells):
        c = cells[i]
        if not c:
            i += 1
            continue
        label = _label_of(c)
        if label is None:
            return False
        seen_label = True
        value = ""
        if i + 1 < len(cells) and _label_of(cells[i + 1]) is None:
            value = cells[i + 1]
            i += 1
        pairs.append((label, value))
        i += 1
    if not seen_label:
        return False
    for label, value in pairs:
        h.put(label, value)
    return True


def _pairs_line(line: str, h: Header) -> bool:
    """`发布机构:… 发布日期:…`: the whole line is label/value pairs led by a header label."""
    line = re.sub(r"^[•·●▪◆■\-*]\s*", "", line)  # "• 索 引 号:…      发文机关:…", a bulleted pair of pairs
    ms = list(_PAIR_RE.finditer(line))
    if not ms or ms[0].start() != 0 or re.sub(r"\s+", "", ms[0].group("label")) in _LEAD_EXCLUDED:
        return False
    for m, nxt in zip(ms, ms[1:] + [None]):
        h.put(m.group("label"), line[m.end(): nxt.start() if nxt else len(line)])
    return True


_BARE_BULLET_RE = re.compile(r"^[•·●▪◆■]\s*(?P<value>[^\s::]{2,40})$")
_INDEX_NO_RE = re.compile(r"^[0-9A-Z]{9,20}/\d{4}-\d{3,6}$")
# a gkmlpt page's header without its labels (they are in the page's style): the values in their order
_BARE_ORDER = ("index_no", "topic", "genre", "org", "date", "publish_date")


def _bare_bullets(lines: list[str], i: int, h: Header) -> int:
    """A block of bulleted values without labels whose first one is an 索引号
    (115002240085301286/2024-00006): read in the order such pages give them; returns the
    index after the block, or `i` when there is none."""
    j = i
    values = []
    while j < len(lines) and (m := _BARE_BULLET_RE.match(lines[j])):
        values.append(m.group("value"))
        j += 1
    if len(values) != len(_BARE_ORDER) or not _INDEX_NO_RE.match(values[0]) \
            or not all(_VALUE_SHAPES["date"].match(v) for v in values[4:]):
        return i
    labels = {"index_no": "索引号", "topic": "主题分类", "org": "发布机构", "date": "成文日期", "publish_date": "发布日期"}
    for key, value in zip(_BARE_ORDER, values):
        if key in labels:
            h.put(labels[key], value)
    h.lines.update(range(i, j))
    return j


def read_header(lines: list[str], indents: list[int] | None = None, head_end: int | None = None) -> Header:
    """Header fields of a document given as lines (normalised, stripped). `indents` are the
    lines' leading whitespace in the raw text (a value on the line after its label is indented);
    `head_end` is the index of the first body line: the `label:value` and bullet shapes are only
    read above it (a table row of header labels is read anywhere)."""
    h = Header()
    n = len(lines)
    head_end = n if head_end is None else head_end
    indents = indents or [0] * n
    i = 0
    while i < n:
        line = lines[i]
        if not line:
            i += 1
            continue
        if _cells_row(line, h):
            h.lines.add(i)
            i += 1
            continue
        if i >= head_end:
            i += 1
            continue
        after = _bare_bullets(lines, i, h)
        if after != i:
            i = after
            continue
        m = _BRACKET_RE.match(line)
        if m:
            ms = list(_BRACKET_ANY_RE.finditer(line))
            for b, nxt in zip(ms, ms[1:] + [None]):
                h.put(b.group("label"), line[b.end(): nxt.start() if nxt else len(line)])
            h.lines.add(i)
            i += 1
            continue
        m = _BULLET_RE.match(line)
        if m and (line[0] in "•·●▪◆■-*" or not m.group("value").strip()) and not _pairs_value_has_label(m.group("value")):
            label, value = m.group("label"), m.group("value").strip()
            h.lines.add(i)
            if not value:  # the value, if any, is on the next non-empty line
                j = i + 1
                while j < n and not lines[j]:
                    j += 1
                if j < n and _BULLET_RE.match(lines[j]) is None and _is_value(label, lines[j], indents[j] > indents[i]):
                    value = lines[j]
                    h.lines.update(range(i + 1, j + 1))
                    i = j
            h.put(label, value)
            i += 1
            continue
        if _pairs_line(line, h):
            h.lines.add(i)
        i += 1
    return h.finish()


def _pairs_value_has_label(value: str) -> bool:
    return bool(_PAIR_RE.search(value))


def _is_value(label: str, line: str, indented: bool) -> bool:
    key = _LABEL_KEY.get(re.sub(r"\s+", "", label))
    if indented:
        return True
    shape = _VALUE_SHAPES.get(key or "")
    return bool(shape and shape.search(line))
