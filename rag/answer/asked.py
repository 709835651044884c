"""What a question asks for, read from its wording: a metadata field (文号, 联系人, 印发单位…),
a number in a unit (多少人), a share (多少比例), an amount of money (多少钱), a named rate
(审核率达到多少), a procedure (怎么补办), a named office (区教育局), or which source said it.
The refusal gate checks the evidence holds what is asked; the answerers use it to choose.
"""

from __future__ import annotations

import re
from typing import Callable

# a figure with its unit (not a year: "2022年" dates, it counts nothing)
NUMBER_RE = re.compile(r"(?<!\d)(?!(?:19|20)\d{2}\s*年)\d+(?:\.\d+)?\s*(?:%|万|亿|个|项|件|次|人|名|家|余|户|场|期|批|所|条|天|年|小时|学时|部|套|支|起|宗)")
PCT_RE = re.compile(r"\d+(?:\.\d+)?%")

META_FIELDS = [
    ("contact", r"联系人|联系电话|电话|邮箱|联系方式|找谁反映|打哪个电话|找谁联系|联系谁|跟谁联系|和谁联系"),
    ("doc_number", r"文号|发文字号|字号"),
    ("issuer", r"谁印发|谁发布|哪个机关|哪个机构|什么机构|发文机关|印发单位|发布单位|哪个单位印发|由谁印发|由谁发布|谁发的|哪个部门印发|哪个部门发布|"
               r"作者|署名|谁写的|哪两个部门|哪些部门印发|哪两个机关|联合印发|哪个单位发的|哪个部门发的|谁制定|由谁制定|"
               r"哪个部门制定|哪个单位制定|哪个单位起草|谁起草|印发的"),
    ("date", r"哪天|日期|哪一天|什么时间发布|何时印发|什么时候印发|什么时候发布|哪家报纸|发表|落款"),
    ("recipient", r"报给谁|报送给|报送(?:了)?哪|呈报|主送|向谁报告|报告给谁|报给了"),
    ("period", r"哪几年|哪一年的工作|时间跨度|规划期|实施期|管哪|覆盖哪|起止"),
]
_WEAK_ISSUER_RE = re.compile(r"印发的")  # "哪天印发的" asks when, not who
# "要在哪天前报送…", "截止到哪一天": a deadline of a task, not the document's date
# "打算什么时候印发实施": a plan for the future (a text's 计划2022年印发), not a date already written
_DEADLINE_ASKED_RE = re.compile(r"(?:哪天|哪一天|什么日期|几月几日|几号)(?:之前|以前|前)|截止|截至|最晚"
                                r"|(?:打算|计划|准备|预计|拟)(?:在|于)?(?:什么时候|何时|哪年|哪一年|哪天)")
# what a field looks like in the text, when the metadata could not say
META_PATTERNS = {
    "contact": r"联系人|电话[::]|\d{7,}|@",
    "doc_number": r"〔\d{4}〕\d+号",
    "date": r"\d{4}年\d{1,2}月\d{1,2}日|\d{4}-\d{2}-\d{2}|\d{1,2}月\d{1,2}日",
    "issuer": r"印发|署名|作者",
    "period": r"\d{4}\s*[-—–至]\s*\d{4}年",
    "recipient": r"(?:^|\n)[\u4e00-\u9fff、]{2,40}(?:人民政府|委员会|党委|局|厅|办公室|政府):",
}
META_LABELS = {"contact": "联系人", "doc_number": "文号", "date": "日期", "issuer": "印发单位(作者)", "period": "时间范围",
               "recipient": "报送(主送)单位"}


# the units a count asked in one unit may be given in ("几个工作人员" is answered by "2人")
UNIT_EQUIVALENTS = {
    "个": "个|人|名|位|家|项|件|所|条|次|支|批|场|户|期",
    "人": "人|名|位", "名": "人|名|位", "位": "人|名|位",
    "项": "项|件|个|条", "件": "件|项|个|起|宗", "条": "条|项|个", "起": "起|件|宗", "宗": "宗|件|起",
    "次": "次|场|期|轮", "场": "场|次|期", "期": "期|次|场",
    "个月": "个月", "个工作日": "个工作日",  # spans of time asked as such ("几个月内")
    "家": "家|个|所|户", "所": "所|个|家", "户": "户|家|个",
}


# "15个工作日", "3个月": a span of time, not a count of things (unless a span is what is asked)
_NOT_A_COUNT = r"(?!工作日|自然日|月|小时|星期|季度|百分点|学时)"


def unit_pattern(unit: str) -> str:
    """A regex of a number in `unit` or a unit it may be given in."""
    return rf"{NUMERAL}\s*(?:余|多)?(?:{UNIT_EQUIVALENTS.get(unit, re.escape(unit))}){_NOT_A_COUNT}"


_CLAUSE_END_RE = re.compile(r"[,,;;。::]")  # not 、: "受理行政复议、行政诉讼案件37件" is one clause
BARE_VERB_CHARS = 3  # a clause led by no more than this before its number (受理196件) counts the clause before's thing
# what a count counts is named by a noun like these (案件, 人员, 建议…), not by a verb (参加, 完成)
_COUNTED_NOUN_RE = re.compile(r"(?:案件|案|事项|项目|人员|人|申请|问题|机构|单位|部门|村|社区|企业|文件|制度|清单|建议|提案|诉讼|"
                              r"复议|投诉|举报|纠纷|合同|会议|培训|活动|网格员|律师|顾问|工作站|中心|平台|窗口|场所|批次|户)$")
SPAN_UNITS = ("天", "个月", "个工作日", "小时")  # a span of time asked (多少天内): days, no thing counted


def count_clauses(text: str, pattern: re.Pattern) -> list[tuple[re.Match, str]]:
    """Each number `pattern` finds in `text`, with the clause that says what it counts: its own
    clause ("全年办理行政处罚案件37宗"), or with the clause before when only a bare verb leads
    it ("…收到行政复议申请218件,受理196件" → 196件 counts 行政复议申请 too; "无一宗…" does not)."""
    bounds = [0] + [b.end() for b in _CLAUSE_END_RE.finditer(text)] + [len(text) + 1]
    out = []
    for m in pattern.finditer(text):
        if text[max(0, m.start() - 2):m.start()].endswith(("无", "没有", "未")):
            continue  # "无一起行政复议被纠错": none, not a count of anything
        i = max(k for k, b in enumerate(bounds) if b <= m.start())
        lead = text[bounds[i]:m.start()]
        start = bounds[i - 1] if i and len(lead) <= BARE_VERB_CHARS and not re.match(r"无|未|没", lead) else bounds[i]
        out.append((m, text[start:bounds[i + 1]]))
    return out


def counted_thing(after_unit: str, before_unit: str = "") -> str:
    """What a count question counts: the noun right after 多少件/几个 ("多少件行政复议案件?" →
    行政复议案件), else the one it stands before ("…一审案件中涉企案件有多少件?" → 涉企案件:
    after the last 中/的/年/, before it); empty when neither is there."""
    m = re.match(r"[\u4e00-\u9fff]{2,12}?(?=[是的呢吗啊了,,。??!!]|$|有|分别|各)", after_unit.lstrip("的"))
    if m:
        return m.group(0) if _COUNTED_NOUN_RE.search(m.group(0)) else ""  # "多少人参加了…": no noun named
    b = re.search(r"(?:^|[中的年里内,,、])([\u4e00-\u9fff]{2,8}?)(?:一共|共|总共|总计|合计)?(?:有|是|为|达)?$",
                  before_unit)
    return b.group(1) if b and _COUNTED_NOUN_RE.search(b.group(1)) else ""


def field_words(q: str, field_name: str) -> str:
    """`q` without the words that name the metadata fields it asks for (发文字号, 联系人…):
    they say what is asked, not what the document is about."""
    names = set(metadata_fields(q)) | ({field_name} if field_name else set())
    for name, pattern in META_FIELDS:
        if name in names:
            q = re.sub(pattern, " ", q)
    return q


def metadata_fields(q: str) -> list[str]:
    """The document metadata fields a question asks for, in the order it asks them ("文号和落款
    日期" → doc_number, date); none for who carries out a measure (牵头, 配合, 负责)."""
    if re.search(r"牵头|配合|负责", q):  # who carries out a measure, not who issued the document
        return []
    found = []
    for name, pattern in META_FIELDS:
        m = re.search(pattern, q)
        if m is None:
            continue
        if name == "issuer" and _WEAK_ISSUER_RE.fullmatch(m.group(0)) and re.search(META_FIELDS[3][1], q):
            continue
        if name == "date" and _DEADLINE_ASKED_RE.search(q):
            continue
        found.append((m.start(), name))
    return [name for _, name in sorted(found)]


def metadata_field(q: str) -> str:
    """The first metadata field a question asks for ("" when it asks none)."""
    fields = metadata_fields(q)
    return fields[0] if fields else ""


ASKED_UNIT_RE = re.compile(r"(?<!哪)(?:多少|几)(个工作日|个月|个|件|项|次|人|名|家|分|学时|小时|天|条|户|所|批|场|期|万|起|宗)")
ASKED_MONEY_RE = re.compile(r"多少钱|几块钱|收费多少|收多少费|收不收费|费用是多少|多少费用|花多少"
                            r"|(?:资金|金额|补偿款|补偿金|补偿|补助金|补助|奖励金|罚款)(?:总额|总计|共计|数额)?(?:是|有|为|达到|共)?多少"
                            r"(?!人|件|起|次|家|个|项|名|户|宗)")
MONEY_RE = re.compile(r"\d+(?:\.\d+)?\s*(?:万|亿)?元")
# where the money for something comes from, or how much is set aside for it
ASKED_FUNDING_RE = re.compile(r"经费|费用从|从哪里列支|列支|预算多少|资金来源|财政保障")
FUNDING_RE = re.compile(r"经费|列支|列入.{0,6}预算|财政保障|专项资金|\d+(?:\.\d+)?\s*(?:万|亿)?元")
HOW_TO_RE = re.compile(r"(?:怎么|怎样|如何)(?:才能|去|来)?")


def how_to_action(normalized: str, words: Callable[[str], list[str]]) -> str:
    """The action a how-to question asks about, the word right after 怎么/如何 ("怎么补办" → 补办;
    not "怎样的执法模式"). One the corpus never mentions means the procedure is not covered."""
    m = HOW_TO_RE.search(normalized)
    if not m:
        return ""
    rest = normalized[m.end():]
    found = words(rest)
    first = found[0] if found else ""
    return first if len(first) >= 2 and rest.startswith(first) and re.fullmatch(r"[\u4e00-\u9fff]+", first) else ""


# "审核率达到多少": the rate asked for must be named in the evidence, not just any percentage
ASKED_RATE_RE = re.compile(r"((?:(?![的之是和与])[\u4e00-\u9fff]){1,2}率)(?:要|应|须|应当|需)?(?:达到|达|为|是|提高到|不低于)?(?:多少|几)")
ASKED_SHARE_RE = re.compile(r"多少比例|比例是多少|比例多少|百分之多少|百分比|比例为多少|占比多少")
NUMERAL = r"(?:\d+(?:\.\d+)?|[一二两三四五六七八九十百千万]+)"
WHICH_SOURCE_RE = re.compile(r"哪个地方|哪个城市|哪篇|哪个文件|哪份文件|哪个省|哪里的|哪个县|哪个地区|谁的方案")
# every start position (lookahead), so "利通区方案中区教育局" yields "区教育局"
BODY_RE = re.compile(r"(?=((?:区|市|县|省)[\u4e00-\u9fff]{1,8}?(?:局|办公室|委员会|厅))(?![\u4e00-\u9fff]?(?:长|级)))")


def named_bodies(q: str) -> list[str]:
    """Government bodies a question names (区教育局), to check the documents mention them."""
    out = []
    for m in BODY_RE.finditer(q):
        name = m.group(1)
        # a phrase, not a name: a question word, a particle or a verb of the question inside
        if len(name) >= 3 and not re.search(r"[哪谁什么怎了的和与及把被让向]|建设|工作|方案|完成|组建|设立|成立|指导", name):
            if not any(name.endswith(o) or o.endswith(name) for o in out):
                out.append(name)
    return out


