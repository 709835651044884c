"""Who does what by when: responsibility notes, deadlines and quantitative targets.

Plans close each measure with a note such as `(区发改局、区市场监管局牵头,各有关部门配合)`.
We extract the lead bodies (before 牵头) and the supporting bodies (after it, up to
配合/负责/参与), split on 、 and commas; collective names such as 各乡镇 and 各有关部门 are
kept as written.
"""

from __future__ import annotations

import re

from rag.records import Duty

# A parenthesised note that names a responsibility. Brackets of either width.
NOTE_RE = re.compile(r"[(\uff08](?P<body>[^()\uff08\uff09\n]{2,120}?(?:牵头|负责|配合|参与|协助|落实)[^()\uff08\uff09\n]{0,60}?)[)\uff09]")
_LEAD_KW = "牵头"
_SUPPORT_VERBS = r"(?:共同)?(?:配合|负责|参与|协助|落实|协同)$"
_SPLIT_RE = re.compile(r"[、,,;;]\s*")
_ETC_RE = re.compile(r"等(?:有关|相关)?(?:部门|单位)$")
# Something that looks like a body: ends like an office, bureau, committee, town, department...
_BODY_RE = re.compile(r"(?:局|办|委|部|室|院|厅|处|中心|分局|政府|乡镇|街道|部门|单位|组|会|所|队|站|馆|社|行|法院|检察院)$")

DEADLINE_RE = re.compile(
    r"(?:(?:到|至|在)?\d{4}年(?:年底|底|年末|末|上半年|下半年|\d{1,2}月(?:底|末|中旬|上旬|下旬)?(?:\d{1,2}日)?)?(?:前|以前|之前))"
    r"|(?:(?:到|至)\d{4}年(?:年底|底)?)"
)
TARGET_RE = re.compile(
    r"[^,。;:、\n()]{0,30}?(?:达到|达|不低于|不少于|不超过|超过|高于|低于|提高到|提升到|控制在|保持在|覆盖率)?"
    r"\s*\d+(?:\.\d+)?\s*%(?:以上|以下|左右)?"
)


_ITEM_LABEL_RE = re.compile(r"^(?:\d{1,3}[)\uff09.、]|[(\uff08]\d{1,3}[)\uff09])")


def _bodies(part: str) -> list[str]:
    out = []
    for item in _SPLIT_RE.split(part):
        item = item.strip(" ,,、;;")
        item = _ETC_RE.sub("", item).strip()
        if item:
            out.append(item)
    return out


def parse_note(body: str) -> tuple[list[str], list[str]] | None:
    """'区发改局、区市场监管局牵头,各有关部门配合' → (['区发改局', '区市场监管局'], ['各有关部门']).
    None when the parentheses do not hold a responsibility note."""
    body = body.strip()
    if _LEAD_KW in body:
        lead_part, _, rest = body.partition(_LEAD_KW)
        support_part = re.sub(_SUPPORT_VERBS, "", rest.strip(" ,,、;;")).strip()
        lead, support = _bodies(lead_part), _bodies(support_part)
    else:
        m = re.search(_SUPPORT_VERBS, body)
        if not m:
            return None
        lead, support = _bodies(body[: m.start()]), []
    if not lead or not all(_BODY_RE.search(b) for b in lead + support):
        return None
    return lead, support


def find_deadlines(text: str) -> list[str]:
    seen: list[str] = []
    for m in DEADLINE_RE.finditer(text):
        d = m.group(0)
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


def find_duties(text: str, start: int = 0, end: int | None = None, boundaries: list[int] = ()) -> list[Duty]:
    """Responsibility notes in text[start:end]. The measure a note closes runs from the
    previous note, or from the latest boundary (a section start) before it, to the note."""
    end = len(text) if end is None else end
    duties: list[Duty] = []
    prev = start
    for m in NOTE_RE.finditer(text, start, end):
        parsed = parse_note(m.group("body"))
        if parsed is None:
            continue
        lead, support = parsed
        m_start = max([prev] + [b for b in boundaries if b <= m.start()])
        while m_start < m.start() and text[m_start].isspace():
            m_start += 1
        measure = text[m_start:m.start()].strip()
        duties.append(
            Duty(
                lead=lead,
                support=support,
                note=m.group(0),
                start=m.start(),
                end=m.end(),
                measure=measure,
                measure_start=m_start,
                deadlines=find_deadlines(measure),
                targets=find_targets(measure),
            )
        )
        prev = m.end()
    return duties


def measure_title(measure: str, limit: int = 40) -> str:
    """The first sentence of a measure (its own title in plans: '深化商事制度改革')."""
    m = re.match(r"^(?:\d{1,3}[)\uff09.、]|[(\uff08]\d{1,3}[)\uff09])?\s*([^。;]{2,%d})[。;]" % limit, measure)
    if m:
        return m.group(1)
    measure = _ITEM_LABEL_RE.sub("", measure).strip()
    return measure[:limit] + ("…" if len(measure) > limit else "")
