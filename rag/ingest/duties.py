"""Who does what by when: responsibility notes, deadlines and quantitative targets.

A plan says who leads (牵头) and who supports (配合/参与/负责/落实…) each measure in one of
these forms, all found by `find_duties`:

- a parenthesised note closing the measure: `(区发改局、区市场监管局牵头,各有关部门配合)`,
  `(省市场监管局、省应急厅按职责分工负责)`, `(接诉即办工作专班负责,各社区居委会落实)`,
  `(责任单位:市编办,各县区人民政府)`;
- a square-bracket note: `[牵头单位:旗委编办;责任单位:旗直各部门、各苏木乡镇人民政府]`;
- labelled lines after the measure (or on its line): `牵头单位:县委编办` / `责任单位:…` /
  `配合单位:` / `参与单位:` / `牵头部门:` / `配合部门:`;
- table rows (`序号 | 工作任务 | 牵头单位 | 责任单位 | 完成时限`, from HTML tables, Tab- or
  `|`-separated text, or one cell per line): the task cell is the measure;
- prose: `由…牵头,…配合`, `此项工作由…负责`, `…负责,…按职责落实`, `明确由…负责、…配合`.

Units are split on 、 , ; 及 和 与 and spaces, but only where both sides are units (县住房和城乡建设局
and 县文化和旅游局 stay whole); collective names (`各乡镇(街道)`, `各县(市)人民政府`) stay as
written; a trailing `等部门`/`等有关单位` goes. When a note names only 责任单位 (or only "X负责"),
those units lead. Every Duty's note points back into the text: `text[d.start:d.end] == d.note`.

To add a form: a pattern here and a test in tests/test_duties.py with the fixture line that
shows it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from rag.records import Duty

# A parenthesised note that names a responsibility. Brackets of either width.
NOTE_RE = re.compile(r"[(\uff08](?P<body>[^()\uff08\uff09\n]{2,120}?(?:牵头|负责|配合|参与|协助|落实)[^()\uff08\uff09\n]{0,60}?)[)\uff09]")
# (责任单位:…) and [牵头单位:…;责任单位:…] notes (brackets inside are allowed in the square form)
LABELLED_NOTE_RE = re.compile(
    r"[(\uff08](?P<pbody>(?:牵头|责任|配合|参与|主责)(?:单位|部门)[::][^()\uff08\uff09\n]{2,160})[)\uff09]"
    r"|[\[【](?P<sbody>(?:牵头|责任|配合|参与|主责)(?:单位|部门)[::][^\[\]【】\n]{2,240})[\]】]")
_LEAD_KW = "牵头"
_SUPPORT_VERBS = r"(?:共同)?(?:配合|负责|参与|协助|落实|协同)$"
# what may close a supporting clause: qualifiers, the verb, its object (按职责分工分别负责, 负责具体落实, 配合实施)
_TAIL_RE = re.compile(r"(?:(?:按照?职责分工|按照?职责|按要求|分工|分别|具体|共同|积极|要)*"
                      r"(?:配合|负责|参与|协助|落实|协同|做好)(?:实施|落实|推进|具体落实|组织实施)?)$")
_SPLIT_RE = re.compile(r"[、,,;;]\s*")
_ETC_RE = re.compile(r"等(?:有关|相关)?(?:部门|单位)$")
_ETC_ANY_RE = re.compile(r"等(?:有关|相关|其他)?(?:部门|单位|机构)(?:和单位)?$")
# Something that looks like a body: ends like an office, bureau, committee, town, department...
_BODY_RE = re.compile(r"(?:局|办|委|部|室|院|厅|处|科|股|中心|分局|政府|乡镇|街道|部门|单位|组|会|所|队|站|馆|社|行|法院|检察院)$")
_UNIT_RE = re.compile(r"(?:局|办|委|部|室|院|厅|处|科|股|中心|分局|政府|乡镇|街道|部门|单位|组|会|所|队|站|馆|社|行|法院|检察院|"
                      r"专班|海关|镇街|镇乡|镇|机关|机构|科室|村|社区|大队|支队)$")
_JOIN_RE = re.compile(r"以及|和|及|与")
_LABEL_RE = re.compile(r"(?P<label>牵头(?:责任)?(?:单位|部门)|主责(?:单位|部门)|责任(?:单位|部门)|配合(?:单位|部门)|"
                       r"参与(?:单位|部门)|参加(?:单位|部门)|协办(?:单位|部门)|协助(?:单位|部门)|协同(?:单位|部门))\s*[::]\s*")
# a collective written with 、 inside it: "县各委、办、局" is one unit, not three
_COLLECTIVE_RE = re.compile(r"委、办、局(?:、(?:中心|公司|直属单位))*")
# "区政府办公室(牵头)、区司法局": the unit marked as leading a list of responsible units
_LEAD_MARK_RE = re.compile(r"[((]牵头(?:单位)?[))]$")
# "由…牵头", "此项工作由…牵头": what precedes the lead units in prose
_BY_LEAD_RE = re.compile(r"^(?:此项工作|该项工作|本项工作|这项工作)?由")

DEADLINE_RE = re.compile(
    r"(?:(?:到|至|在)?\d{4}年(?:年底|底|年末|末|上半年|下半年|\d{1,2}月(?:底|末|中旬|上旬|下旬)?(?:\d{1,2}日)?)?(?:前|以前|之前))"
    r"|(?:(?:到|至)\d{4}年(?:年底|底)?)"
    r"|(?:(?:每年|今年|明年|当年)(?:年底|底|\d{1,2}月(?:底|末|中旬|上旬|下旬)?(?:\d{1,2}日)?)(?:前|以前|之前))"
)
TARGET_RE = re.compile(
    r"[^,。;:、\n()]{0,30}?(?:达到|达|不低于|不少于|不超过|超过|高于|低于|提高到|提升到|控制在|保持在|覆盖率)?"
    r"\s*\d+(?:\.\d+)?\s*%(?:以上|以下|左右)?"
)


_ITEM_LABEL_RE = re.compile(r"^(?:\d{1,3}[)\uff09.、]|[(\uff08]\d{1,3}[)\uff09])")


def _bodies(part: str) -> list[str]:
    out = []
    part = _COLLECTIVE_RE.sub(lambda m: m.group(0).replace("、", "\x00"), part)
    for item in _SPLIT_RE.split(part):
        item = item.strip(" ,,、;;")
        item = _ETC_RE.sub("", item).strip()
        if item:
            out.extend(u.replace("\x00", "、") for u in _split_joined(item))
    return out


def _split_joined(item: str) -> list[str]:
    """'州公安局和州交通运输局' → two units; '县住房和城乡建设局' stays one (县住房 is no unit);
    '县政府办 县司法局' (a table cell) → two."""
    parts = [p for p in item.split(" ") if p]
    if len(parts) > 1 and all(_UNIT_RE.search(p) for p in parts):
        return [u for p in parts for u in _split_joined(p)]
    for m in _JOIN_RE.finditer(item):
        left, right = item[: m.start()], item[m.end():]
        if _UNIT_RE.search(left) and len(left) >= 2 and _UNIT_RE.search(right) and len(right) >= 2 and not left.endswith("各"):
            return [left] + _split_joined(right)
    return [item]


def _strip_tail(clause: str) -> str:
    clause = clause.strip(" ,\uff0c、;\uff1b。")
    prev = None
    while prev != clause:
        prev = clause
        clause = _TAIL_RE.sub("", clause).strip()
        clause = _ETC_ANY_RE.sub("", clause).strip()
    return clause


def _units(part: str) -> list[str]:
    """Units of a list written with 、 , ; 及 和 and spaces, each clause's verb dropped."""
    out = []
    for clause in re.split(r"[,,;;]\s*", part):
        clause = _strip_tail(clause)
        if clause:
            out.extend(_bodies(clause))
    return [u for u in out if u]


_TRAILING_PAREN_RE = re.compile(r"[((〔][^()()〔〕]{1,8}[))〕]$")


def _valid(units: list[str]) -> bool:
    """Every item looks like a unit (各乡镇(街道) too: a collective with its bracketed gloss)."""
    return bool(units) and all(_UNIT_RE.search(_TRAILING_PAREN_RE.sub("", u)) and len(u) <= 40
                               and not re.search(r"[《》“”\"]", u) for u in units)


def parse_note(body: str) -> tuple[list[str], list[str]] | None:
    """'区发改局、区市场监管局牵头,各有关部门配合' → (['区发改局', '区市场监管局'], ['各有关部门']).
    None when the parentheses do not hold a responsibility note."""
    body = body.strip()
    if _LABEL_RE.match(body):
        return parse_labelled(body)
    if _LEAD_KW in body:
        lead_part, _, rest = body.partition(_LEAD_KW)
        lead = _bodies(_BY_LEAD_RE.sub("", lead_part.strip()))
        rest = rest.strip(" ,,、;;")
        support_part = re.sub(_SUPPORT_VERBS, "", rest).strip()
        support = _bodies(support_part)
        if lead and all(_BODY_RE.search(b) for b in lead + support):
            return lead, support
        support = _units(rest)  # several clauses, qualifiers (按职责分工负责, 负责具体落实)
        if _valid(lead) and (_valid(support) or not support):
            return lead, support
        return None
    m = re.search(_SUPPORT_VERBS, body)
    if m:
        lead = _bodies(body[: m.start()])
        if lead and all(_BODY_RE.search(b) for b in lead):
            return lead, []
    # X负责,Y落实 / X按职责分工负责
    m = re.search(r"负责[,,、]", body)
    if m:
        lead, support = _units(body[: m.start()]), _units(body[m.end():])
        if _valid(lead) and _valid(support):
            return lead, support
        return None
    lead = _units(body)
    if _valid(lead) and _TAIL_RE.search(body.strip(" 。")):
        return lead, []
    return None


def parse_labelled(body: str) -> tuple[list[str], list[str]] | None:
    """'牵头单位:旗委编办;责任单位:旗直各部门、各苏木乡镇人民政府' → lead, support. Only 责任单位
    (no 牵头) → those units lead."""
    segs = list(_LABEL_RE.finditer(body))
    if not segs or segs[0].start() != body.find(segs[0].group(0)):
        return None
    lead: list[str] = []
    resp: list[str] = []
    support: list[str] = []
    for m, nxt in zip(segs, segs[1:] + [None]):
        value = body[m.end(): nxt.start() if nxt else len(body)].strip(" ;;。,,")
        units = _units(value)
        if not units:
            continue
        if not _valid(units):
            return None
        label = m.group("label")
        marked = [u for u in units if _LEAD_MARK_RE.search(u)]
        if marked and not label.startswith(("牵头", "主责")):  # 责任单位:X(牵头),Y、Z
            lead += [_LEAD_MARK_RE.sub("", u) for u in marked]
            support += [u for u in units if u not in marked]
        elif label.startswith(("牵头", "主责")):
            lead += [_LEAD_MARK_RE.sub("", u) for u in units]
        elif label.startswith("责任"):
            resp += units
        else:
            support += units
    if lead:
        return lead, resp + support
    if resp:
        return resp, support
    return None


@dataclass
class _Note:
    start: int
    end: int
    lead: list[str]
    support: list[str]
    kind: str  # paren | label | table | prose
    measure: tuple[int, int] | None = None  # a fixed measure span (tables, prose)
    extra_deadline_text: str = ""


def find_deadlines(text: str) -> list[str]:
    seen: list[str] = []
    for m in DEADLINE_RE.finditer(text):
        d = m.group(0).removeprefix("在")
        if d not in seen:
            seen.append(d)
    return seen


def find_targets(text: str) -> list[str]:
    seen: list[str] = []
    for m in TARGET_RE.finditer(text):
        t = _ITEM_LABEL_RE.sub("", m.group(0).strip())
        if t and t not in seen:
            seen.append(t)
    return seen


def _paren_notes(text: str, start: int, end: int) -> list[_Note]:
    out = []
    for m in NOTE_RE.finditer(text, start, end):
        parsed = parse_note(m.group("body"))
        if parsed is not None:
            out.append(_Note(m.start(), m.end(), parsed[0], parsed[1], "paren"))
    for m in LABELLED_NOTE_RE.finditer(text, start, end):
        if any(n.start < m.end() and m.start() < n.end for n in out):
            continue
        parsed = parse_labelled(m.group("pbody") or m.group("sbody"))
        if parsed is not None:
            out.append(_Note(m.start(), m.end(), parsed[0], parsed[1], "paren"))
    return out


def _lines(text: str, start: int, end: int):
    pos = start
    while pos < end:
        nl = text.find("\n", pos, end)
        stop = end if nl < 0 else nl
        yield pos, stop
        pos = stop + 1


def _label_notes(text: str, start: int, end: int) -> list[_Note]:
    """`牵头单位:…` / `责任单位:…` lines (a block of consecutive label lines is one note)."""
    out = []
    spans = list(_lines(text, start, end))
    i = 0
    while i < len(spans):
        a, b = spans[i]
        line = text[a:b]
        m = None
        for cand in _LABEL_RE.finditer(line):
            if cand.start() == 0 or line[cand.start() - 1] in "。;; \u3000":
                m = cand
                break
        if m is None:
            i += 1
            continue
        note_start = a + m.start()
        note_end = b
        j = i
        while j + 1 < len(spans) and _LABEL_RE.match(text[spans[j + 1][0]:spans[j + 1][1]]):
            j += 1
            note_end = spans[j][1]
        while note_end > note_start and text[note_end - 1] in " \t\u3000。":
            note_end -= 1
        body = text[note_start:note_end]
        parsed = parse_labelled(re.sub(r"\s*\n\s*", ";", body))
        if parsed is not None:
            out.append(_Note(note_start, note_end, parsed[0], parsed[1], "label"))
        i = j + 1
    return out


_COL_LEAD = re.compile(r"^(?:牵头(?:责任)?(?:单位|部门)?|主责(?:单位|部门))$")
_COL_RESP = re.compile(r"^(?:责任(?:单位|部门|主体)|落实单位|实施单位)$")
_COL_SUPP = re.compile(r"^(?:配合|参与|协办|协助)(?:单位|部门)$")
_COL_TASK = re.compile(r"(?:任务|措施|事项|内容|目标)")
_COL_TIME = re.compile(r"(?:时限|时间|进度|期限)")
CELL_SEP = " | "
_CELL_LABELS_RE = re.compile(r"^\s*牵头(?:单位)?\s*[::]\s*(?P<lead>[^;;]+?)\s*(?:[;;]\s*配合(?:单位)?\s*[::]\s*(?P<supp>[^;;]+?))?\s*[;;]?\s*$")
_LEAD_MARKS = ("★", "●", "▲")  # a matrix's lead unit
_SUPPORT_MARKS = ("○", "☆", "△", "√", "✓")  # and its supporting ones
_GROUP_ROW_RE = re.compile(r"^(?:[一二三四五六七八九十]+、|[(\uff08][一二三四五六七八九十]+[)\uff09])[^。;;|]{2,30}$")
# a document's own convention for lists of responsible units: the first one leads
FIRST_LEADS_RE = re.compile(r"(?:排在第一位|排在首位|列在首位|列第一位|排名第一|排序第一|第一个|首个|首位)的?(?:单位|部门)?"
                            r"(?:为|是)牵头(?:单位|部门)")


def _cells(text: str, a: int, b: int) -> list[tuple[int, int]]:
    """(start, end) of each cell of the row text[a:b] (cells separated by '|'; an empty cell,
    "★ | | ○", keeps its place)."""
    while a < b and text[a] in " |":  # a row's own border: "| a | b |"
        a += 1
    while b > a and text[b - 1] in " |":
        b -= 1
    out = []
    pos = a
    for m in re.finditer(r"\s*\|\s*", text[a:b]):
        out.append((pos, a + m.start()))
        pos = a + m.end()
    out.append((pos, b))
    return [(s, max(s, e)) for s, e in out]


def _table_notes(text: str, start: int, end: int) -> list[_Note]:
    out = []
    header: dict[str, list[int]] | None = None
    matrix: tuple[list[int], list[str], int, int] | None = None  # unit columns, their units, width, task column
    ncols = 0
    for a, b in _lines(text, start, end):
        if CELL_SEP not in text[a:b]:
            # a group row ("一、深入推进政府职能转变", one cell across the table) keeps the header
            if not (header and _GROUP_ROW_RE.match(text[a:b].strip())):
                header = None
            continue
        cells = _cells(text, a, b)
        names = [re.sub(r"\s+", "", text[s:e]) for s, e in cells]
        units_cols = [k for k, n in enumerate(names) if len(_units(n)) == 1 and _valid(_units(n)) and not _COL_TASK.search(n)]
        if (len(units_cols) >= 2 and not names[0].isdigit() and any(_COL_TASK.search(n) and len(n) <= 8 for n in names)
                and not any(_COL_LEAD.match(n) or _COL_RESP.match(n) for n in names)):
            task_k = next(k for k, n in enumerate(names) if _COL_TASK.search(n) and len(n) <= 8)
            matrix = (units_cols, [names[k] for k in units_cols], len(cells), task_k)  # a ★/○ matrix: a column per unit
            header = None
            continue
        if matrix and len(cells) == matrix[2] and any(text[cells[k][0]:cells[k][1]].strip() in _LEAD_MARKS for k in matrix[0]):
            marks = {u: text[cells[k][0]:cells[k][1]].strip() for k, u in zip(matrix[0], matrix[1])}
            lead = [u for u, mk in marks.items() if mk in _LEAD_MARKS]
            support = [u for u, mk in marks.items() if mk in _SUPPORT_MARKS]
            task_col = matrix[3]
            when = " ".join(text[s:e] for s, e in cells if re.search(r"\d{4}年", text[s:e]))
            out.append(_Note(cells[matrix[0][0]][0], cells[matrix[0][-1]][1], lead, support, "table", cells[task_col], when))
            continue
        if any(_COL_LEAD.match(n) or _COL_RESP.match(n) for n in names):
            matrix = None
            header = {"lead": [], "resp": [], "supp": [], "task": [], "time": []}
            for k, n in enumerate(names):
                if _COL_LEAD.match(n):
                    header["lead"].append(k)
                elif _COL_RESP.match(n):
                    header["resp"].append(k)
                elif _COL_SUPP.match(n):
                    header["supp"].append(k)
                elif _COL_TIME.search(n):
                    header["time"].append(k)
                elif _COL_TASK.search(n):
                    header["task"].append(k)
            ncols = len(cells)
            continue
        if header is None or len(cells) != ncols:
            continue
        lead_cols = header["lead"] or header["resp"]
        supp_cols = (header["resp"] if header["lead"] else []) + header["supp"]
        labelled = [_CELL_LABELS_RE.match(text[cells[k][0]:cells[k][1]]) for k in lead_cols]
        if labelled and all(labelled):  # a cell "牵头:县委依法治县办;配合:县委组织部"
            lead = [u for m in labelled for u in _units(m.group("lead"))]
            support = [u for m in labelled if m.group("supp") for u in _units(m.group("supp"))]
        else:
            lead = [u for k in lead_cols for u in _units(text[cells[k][0]:cells[k][1]])]
            support = [u for k in supp_cols for u in _units(text[cells[k][0]:cells[k][1]])]
        marked = [u for u in lead if _LEAD_MARK_RE.search(u)]
        if marked and not header["lead"]:  # 责任单位 "县委编办(牵头)、县司法局": the marked one leads
            support = [u for u in lead if u not in marked] + support
            lead = [_LEAD_MARK_RE.sub("", u) for u in marked]
        if not _valid(lead) or (support and not _valid(support)):
            continue
        unit_cols = sorted(lead_cols + supp_cols)
        task_col = header["task"][0] if header["task"] else max(
            (k for k in range(ncols) if k not in unit_cols and k not in header["time"]),
            key=lambda k: cells[k][1] - cells[k][0], default=None)
        measure = cells[task_col] if task_col is not None else None
        when = " ".join(text[cells[k][0]:cells[k][1]] for k in header["time"])
        out.append(_Note(cells[unit_cols[0]][0], cells[unit_cols[-1]][1], lead, support, "table", measure, when))
    return out


# prose: 由X牵头, Y配合 / 由X负责 / X负责, Y落实
_CLAUSE = r"[^,。;,;:\n“”《》]{2,80}?"
_BY_RE = re.compile(rf"由(?P<lead>{_CLAUSE})(?P<verb>牵头(?:负责)?|负责(?:组织实施|具体实施)?)(?=[,、,;;。]|$)")
_SUBJECT_RE = re.compile(rf"(?:^|(?<=[。;;]))(?P<lead>{_CLAUSE})(?P<verb>牵头|负责(?:组织实施)?)(?=[,,;;。]|$)")
_SUPPORT_CLAUSE_RE = re.compile(rf"[,、,]\s*(?P<units>{_CLAUSE})(?P<verb>(?:等(?:有关|相关)?(?:部门|单位))?"
                                r"(?:按照?职责分工|按照?职责|按要求|分工|分别|具体|共同|积极)*"
                                r"(?:配合|参与|协助|落实|负责|协同)(?:实施|落实|推进|具体落实)?)(?=[,、,;;。]|$)")
_DO_CLAUSE_RE = re.compile(rf"[,,]\s*(?P<units>{_CLAUSE})做好")


def _prose_notes(text: str, start: int, end: int) -> list[_Note]:
    out = []
    for a, b in _lines(text, start, end):
        line = text[a:b]
        prev_end = 0
        found: list[tuple[int, int, list[str], list[str]]] = []
        for rx in (_BY_RE, _SUBJECT_RE):
            for m in rx.finditer(line):
                lead = _units(m.group("lead"))
                if rx is _SUBJECT_RE:
                    if "由" in m.group("lead"):
                        continue  # 此项工作由X牵头: the 由 form
                    lead_text = re.sub(r"^(?:\d{1,3}[.、)]|[(（][一二三四五六七八九十\d]{1,3}[)）]|[一二三四五六七八九十]是)", "",
                                       m.group("lead")).strip()
                    lead = _units(lead_text)
                if not _valid(lead) or any(len(u) > 30 for u in lead):
                    continue
                stop = m.end()
                support: list[str] = []
                while True:
                    s = _SUPPORT_CLAUSE_RE.match(line, stop)
                    if not s:
                        break
                    units = _units(s.group("units"))
                    if not _valid(units):
                        break
                    support += units
                    stop = s.end()
                if rx is _SUBJECT_RE and not support:
                    d = _DO_CLAUSE_RE.match(line, stop)
                    if d and _valid(_units(d.group("units"))):
                        support = _units(d.group("units"))
                        stop = d.end("units")
                    elif not (stop >= len(line) or line[stop] in "。;;,,"):
                        continue  # "X负责统筹协调…" is a task, not a note ("X负责,借助…" is one)
                if rx is _BY_RE:
                    note_start = m.start()
                else:
                    off = m.group("lead").find(lead[0])
                    note_start = m.start("lead") + max(off, 0)
                found.append((note_start, stop, lead, support))
        found.sort()
        for s, e, lead, support in found:
            if s < prev_end:
                continue
            sent_end = e
            while sent_end < len(line) and line[sent_end] not in "。;;":
                sent_end += 1
            if sent_end < len(line):
                sent_end += 1
            out.append(_Note(a + s, a + e, lead, support, "prose", (a + prev_end, a + sent_end)))
            prev_end = e
    return out


_GROUP_HEAD_RE = re.compile(r"^(?P<units>[\u4e00-\u9fff、()()]{2,60})[::]\s*$")
_GROUP_ITEM_RE = re.compile(r"^\d{1,3}[.、.]")
_GROUP_END_RE = re.compile(r"^(?:[一二三四五六七八九十]+、|[((][一二三四五六七八九十]+[))])")
_SUPPORT_ONLY_RE = re.compile(r"^[((][^()()]{2,80}(?:配合|协助|协同|参与)[))]$")


def _grouped_under_units(text: str, start: int, end: int, notes: list[_Note]) -> list[_Note]:
    """Tasks listed under the unit that leads them ("县司法局:" then 1.… 2.…, a document that
    says so): each numbered item leads with the units of its heading; a note of its own that only
    names supporters ("(县财政局配合)") gives the support. Other notes are kept as they are."""
    spans = list(_lines(text, start, end))
    out = list(notes)
    group: list[str] | None = None
    for a, b in spans:
        line = text[a:b].strip()
        m = _GROUP_HEAD_RE.match(line)
        if m and _valid(units := _units(m.group("units"))):
            group = units
            continue
        if group is None:
            continue
        if not _GROUP_ITEM_RE.match(line):
            if _GROUP_END_RE.match(line):  # a heading of the outline ends the group
                group = None
            continue
        own = [n for n in out if a <= n.start < b]
        if own and all(_SUPPORT_ONLY_RE.match(text[n.start:n.end]) and _LEAD_KW not in text[n.start:n.end] for n in own):
            for n in own:
                n.support, n.lead = n.lead + n.support, list(group)
        elif not own:
            out.append(_Note(b, b, list(group), [], "group", (a, b)))
    out.sort(key=lambda n: n.start)
    return out


def find_duties(text: str, start: int = 0, end: int | None = None, boundaries: list[int] = ()) -> list[Duty]:
    """Responsibility notes in text[start:end], in every form (see the module docstring). The
    measure a note closes runs from the previous note, or from the latest boundary (a section
    start) before it, to the note; a table row's measure is its task cell, a prose note's the
    sentence it stands in."""
    end = len(text) if end is None else end
    notes = _paren_notes(text, start, end)
    taken = [(n.start, n.end) for n in notes]

    def free(n: _Note) -> bool:
        return not any(a < n.end and n.start < b for a, b in taken)

    for finder in (_label_notes, _table_notes, _prose_notes):
        for n in finder(text, start, end):
            if free(n):
                notes.append(n)
                taken.append((n.start, n.end))
    notes.sort(key=lambda n: n.start)
    notes = _grouped_under_units(text, start, end, notes)
    first_leads = FIRST_LEADS_RE.search(text) is not None
    duties: list[Duty] = []
    prev = start
    for n in notes:
        if first_leads and not n.support and len(n.lead) > 1 and _LEAD_KW not in text[n.start:n.end]:
            n.lead, n.support = n.lead[:1], n.lead[1:]  # "(责任单位:县司法局、县政府办)" under that rule
        if n.measure is not None:
            m_start, m_end = n.measure
        else:
            m_start = max([prev] + [b for b in boundaries if b <= n.start])
            m_end = n.start
        while m_start < m_end and text[m_start].isspace():
            m_start += 1
        measure = text[m_start:m_end].strip()
        duties.append(
            Duty(
                lead=n.lead,
                support=n.support,
                note=text[n.start:n.end],
                start=n.start,
                end=n.end,
                measure=measure,
                measure_start=m_start,
                deadlines=find_deadlines(measure + (" " + n.extra_deadline_text if n.extra_deadline_text else "")),
                targets=find_targets(measure),
            )
        )
        prev = max(prev, n.end)
    return duties


def measure_title(measure: str, limit: int = 40) -> str:
    """The first sentence of a measure (its own title in plans: '深化商事制度改革')."""
    m = re.match(r"^(?:\d{1,3}[)\uff09.、]|[(\uff08]\d{1,3}[)\uff09])?\s*([^。;]{2,%d})[。;]" % limit, measure)
    if m:
        return m.group(1)
    measure = _ITEM_LABEL_RE.sub("", measure).strip()
    return measure[:limit] + ("…" if len(measure) > limit else "")
