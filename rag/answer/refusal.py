"""The refusal gate: a stage of its own, before any answer is composed or generated.

It decides whether the documents cover the question at all. Each rule is a small named check
over the `Evidence`; they run in order and the first that objects refuses, with its reason.
A rule may also accept outright (the document's own metadata answers a 文号 question), which
ends the checks. The rules, in order:

- `no_hits`: nothing was retrieved;
- `unknown_place`: the question names a place no document covers;
- `document_absent`: a document the question names by title that the collection only cites;
- `quoted_absent`: a term the question quotes (“两法衔接”) that no document of the place it names
  (or of a place above it) contains;
- `final_absent`: the final version (正式印发…) of a document the collection holds only as a draft;
- `year_outside`: a year outside the documents' periods and text;
- `unknown_body`: a named office (区教育局) no document mentions;
- `metadata_absent`: a metadata field (联系人, 文号…) the documents lack (accepts when present);
- `unit_absent`: a number asked in a unit (多少人) the evidence never gives;
- `share_absent`, `money_absent`: a share or an amount of money the evidence never gives;
- `procedure_absent`: a procedure (怎么补办) whose action no document mentions;
- `materials_absent`: the papers an errand needs (要准备哪些材料) that no sentence on it lists;
- `body_absent`: a who-question (哪个部门牵头) whose evidence names no responsible body;
- `low_coverage`: too little of the question's content (IDF-weighted) in the best evidence;
- `rate_absent`: a named rate (审核率) the evidence never names;
- `rank_absent`: a ranking (排名第几, 名次) the evidence never gives;
- `low_similarity`: the best dense similarity is below the threshold, unless every content word
  stands in one retrieved section (exact evidence beats the small model's score).

A refusal says what is not covered and what the collection does cover (`refusal_text`).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from rag.answer.asked import (
    ASKED_FUNDING_RE,
    ASKED_MONEY_RE,
    ASKED_RATE_RE,
    ASKED_SHARE_RE,
    ASKED_UNIT_RE,
    FUNDING_RE,
    META_LABELS,
    META_PATTERNS,
    MONEY_RE,
    PCT_RE,
    SPAN_UNITS,
    count_clauses,
    counted_thing,
    how_to_action,
    named_bodies,
    unit_pattern,
)
from rag.answer.evidence import Evidence, coverage, has_all, sentences
from rag.index.catalog import EXACT
from rag.messages import REFUSAL, REFUSAL_MORE
from rag.records import UNKNOWN, Document
from rag.text import places as rg
from rag.text.bodies import other_names
from rag.text.tokenize import bigram_tokens

COUNT_COVERAGE = 0.3  # share of the question's content a sentence giving the asked count must hold
HEAD_CHARS = 400  # where a document's own title stands
ACCEPT = "\x00accept"  # a rule's verdict that ends the checks without refusing
TOP = 5  # the rules read the best five focused hits


@dataclass
class Refusal:
    rule: str  # the name of the rule that refused
    reason: str  # what is not covered, for the user


@dataclass
class GateSettings:
    coverage_threshold: float = 0.15  # answer.refusal_threshold
    dense_threshold: float = 0.875  # answer.refusal_dense (0 = off)


def _focus_docs(ev: Evidence) -> set[str]:
    a = ev.analysis
    if a.doc_match:
        return {d for d, s in a.doc_match.items() if s == EXACT} or set(a.doc_match)
    return {h.chunk.doc_id for h in ev.hits[:TOP]}


def _docs_label(doc_ids, docs) -> str:
    names = [f"《{docs[d].meta.title}》" for d in sorted(doc_ids) if d in docs and docs[d].meta.title != UNKNOWN]
    return "、".join(names[:3]) or "文件"


# ---------------------------------------------------------------- the rules

def no_hits(ev: Evidence, g: GateSettings) -> str:
    return "" if ev.hits else "没有检索到相关内容"


def unknown_place(ev: Evidence, g: GateSettings) -> str:
    """No document is about or mentions the place the question names (or, of several, the
    most specific one: a township named under its county)."""
    a = ev.analysis
    specific = [p for p in a.unknown_places if any(p.endswith(s) for s in ("街道", "镇", "乡", "苏木"))]
    if a.unknown_places and (not a.doc_match or specific):
        return f"现有文件不涉及{'、'.join(specific or a.unknown_places)}"
    return ""


def filter_contradicts(ev: Evidence, g: GateSettings) -> str:
    """The region or document chosen as the scope holds nothing of the place the question
    names: said, not answered from the chosen scope as if it were that place."""
    allowed = ev.result.filtered_docs
    if allowed is None:
        return ""
    for place, docs in ev.analysis.place_docs.items():
        if docs and not docs & allowed:
            return f"问题问的是{place},而所选的查找范围里没有{place}的文件(请清除或更换地区、文件的选择)"
    return ""


def only_inside(ev: Evidence, g: GateSettings) -> str:
    """The question is about a place whose own documents are not in the collection, only those
    of places inside it: a county's plan does not say what its city decided."""
    a = ev.analysis
    if a.inside_only and len(a.inside_only) == len(a.place_docs):
        place = a.inside_only[0]
        inner = sorted({ev.docs[d].meta.region for d in a.place_docs.get(place, ()) if d in ev.docs} - {UNKNOWN})
        return f"现有文件中没有{place}本级的文件(只有其下辖{'、'.join(inner[:3]) or '地方'}的文件)"
    return ""


def mentioned_place_absent(ev: Evidence, g: GateSettings) -> str:
    """A place no document is about but some text mentions: the evidence must name it."""
    for place in ev.analysis.mentioned_places:
        names = rg.get(place).names if rg.get(place) else (place,)
        if not any(n in h.chunk.text for n in names for h in ev.hits[:TOP]):
            return f"现有文件中没有关于{place}的这项内容"
    return ""


_KINDS = [  # (words that name a kind of document in a question, its doc types, title words)
    (r"工作要点|要点", ("work_points",), ("要点", "工作计划", "工作安排")),
    (r"年度报告|情况报告|工作报告|情况的报告|工作总结|述法报告", ("annual_report",), ("报告", "总结", "述法")),
    (r"实施方案", ("implementation_plan",), ("实施方案",)),
    (r"规划|纲要", ("plan",), ("规划", "纲要")),
    (r"实施意见", ("implementation_opinion",), ("实施意见",)),
    (r"行动方案|工作方案", ("implementation_plan", "work_points"), ("方案",)),
]


_DOING_RE = re.compile(r"制定|起草|编制|报送|提交|上报|印发|出台|修订|启动|撰写|形成|按照|依据|根据|落实")


def _named_document(q: str, places: list[str], years: list[int]):
    """The kind of document the question names as its subject (a place's or a year's 工作要点,
    年度报告, 实施方案…), with its phrase; None when a kind word is only something done
    (制定…实施方案, 报送…情况报告) or inside a 《title》 (checked apart)."""
    unquoted = re.sub(r"《[^》]*》", "", q)
    for k in _KINDS:
        for m in re.finditer(k[0], unquoted):
            clause = re.split(r"[,，。;；?？!！、]", unquoted[: m.start()])[-1]
            if _DOING_RE.search(clause):
                continue
            if any(p in clause for p in places) or any(str(y) in clause for y in years):
                return k, m.group(0)
    return None


_CITING_RE = re.compile(r"落实|根据|依据|按照|贯彻|对照|参照|遵照|依照")
_ISSUING_RE = re.compile(r"印发|制定|发布|出台|转发|现将|编制|起草|审议通过")


def _issued_in(title: str, head: str) -> bool:
    """`title` stands in a document's head as that document ("关于印发《X》的通知", "现将《X》印发"),
    not only cited by it ("为全面落实《…关于印发<X>的通知》要求"): the verb before it (before the
    outermost 《 it is nested in) is not one of citing."""
    for m in re.finditer(re.escape(title), head):
        clause_start = max(head.rfind(c, 0, m.start()) for c in "。;\n") + 1
        clause = head[clause_start:m.start()]
        depth, anchor = 0, len(clause)
        for i in range(len(clause) - 1, -1, -1):  # the outermost unclosed 《 (or <) before the title
            ch = clause[i]
            if ch in "》>":
                depth += 1
            elif ch in "《<":
                if depth == 0:
                    anchor = i
                else:
                    depth -= 1
        before = clause[:anchor]
        while re.search(r"《[^《》]*》|<[^<>]*>", before):  # verbs inside other titles say nothing
            before = re.sub(r"《[^《》]*》|<[^<>]*>", lambda t: " " * len(t.group(0)), before)
        verbs = [(v.start(), "cite") for v in _CITING_RE.finditer(before)] + [
            (v.start(), "issue") for v in _ISSUING_RE.finditer(before)]
        if not verbs or max(verbs)[1] == "issue":
            return True
    return False


def document_absent(ev: Evidence, g: GateSettings) -> str:
    """The question names a document (a place's 工作要点, 年度报告, 实施方案 … of a year) that
    the collection does not hold: a document of another year or kind does not answer it. A
    《title》 the question quotes must be a document's own title or stand in its text."""
    q = ev.analysis.normalized
    a = ev.analysis
    for title in re.findall(r"《([^》]{4,60})》", q):
        if not re.search(r"方案|规划|纲要|意见|要点|报告|计划|办法|规定", title):
            continue
        seen = {h.chunk.doc_id for h in ev.hits[:TOP]}
        if not any(title in (ev.docs[d].meta.title if d in ev.docs else "") or
                   _issued_in(title, (ev.ctx.document(d) or Document("", "", "")).text[:HEAD_CHARS]) for d in seen):
            return f"现有文件中没有《{title}》"
    named = [p for p in a.places + a.mentioned_places
             if any(n in q for n in (rg.get(p).names if rg.get(p) else (p,)))]
    surface = [next((n for n in (rg.get(p).names if rg.get(p) else (p,)) if n in q), p) for p in named]
    found = _named_document(q, surface, a.years)
    if not named or found is None:
        return ""
    kind, what = found
    docs = set().union(*(a.place_docs.get(p, set()) for p in named))
    years = a.years
    def fits(doc_id: str) -> bool:
        m = ev.docs[doc_id].meta
        if m.doc_type not in kind[1] and not any(w in m.title for w in kind[2]):
            return False
        if not years:
            return True
        span = [int(y) for y in re.findall(r"\d{4}", m.period if m.period != UNKNOWN else "")]
        title_years = [int(y) for y in re.findall(r"(?:19|20)\d{2}", m.title)]
        return any((span and min(span) <= y <= max(span)) or y in title_years for y in years)

    if not any(fits(d) for d in docs if d in ev.docs):
        when = "、".join(f"{y}年" for y in years)
        return f"现有文件中没有{named[-1]}{when}的{what}"
    return ""


_FINAL_ASKED_RE = re.compile(r"正式(?:印发|发布|出台|施行|实施|版)|最终(?:版|稿|印发|发布|出台|定稿)|定稿|正式文件")


QUOTED_RE = re.compile(r"[“「『\"]([^”」』\"]{2,24})[”」』\"]")
SCOPE_LIMIT = 50  # a place with more documents than this is not read whole for a quoted term


def quoted_absent(ev: Evidence, g: GateSettings) -> str:
    """A term the question quotes (陕西的“两法衔接”平台 → 那宁夏呢?) is the thing asked about: when
    the question names a place, some document of that place, or of a place above it (whose plan
    binds it), must contain the term; the same words elsewhere in the corpus are another place's.
    A place with up to SCOPE_LIMIT documents has them read; a larger one is judged by its best
    hits, where lexical search puts a chunk holding so rare a phrase."""
    a = ev.analysis
    if not a.place_docs:
        return ""
    # a term the collection writes somewhere (its words and character pairs are indexed), not the
    # user's own label ("五办" for 马上办、网上办…, which no document writes)
    terms = []
    for t in QUOTED_RE.findall(a.normalized):
        pairs = bigram_tokens(t)
        tokens = pairs + ev.ctx.words(t)
        df = ev.ctx.doc_freq(tokens) if pairs else {}
        if pairs and all(df.get(x) for x in tokens):
            terms.append(re.sub(r"\s+", "", t))
    if not terms:
        return ""
    for place, own in a.place_docs.items():
        region = rg.get(place)
        above = [r.name for r in rg.chain(region)[1:]] if region else []
        scope = set(own) | {d for name in above for d, st in ev.ctx.docs_of_place(name).items() if st == EXACT}
        if not scope:
            continue
        if len(scope) <= SCOPE_LIMIT:
            texts = [re.sub(r"\s+", "", doc.text) for doc in (ev.ctx.document(d) for d in sorted(scope)) if doc is not None]
        else:
            texts = [re.sub(r"\s+", "", h.chunk.text) for h in ev.hits if h.chunk.doc_id in scope]
        for term in terms:
            if texts and not any(term in t for t in texts):
                return f"{place}的文件中没有提到“{term}”"
    return ""


def final_absent(ev: Evidence, g: GateSettings) -> str:
    """The final version of a document (哪天正式印发的, 最终版) when the collection holds it only as
    a draft (征求意见稿): the draft does not say when or how it was finally issued."""
    if not _FINAL_ASKED_RE.search(ev.analysis.normalized):
        return ""
    focus = [d for d in _focus_docs(ev) if d in ev.docs]
    if focus and all(getattr(ev.docs[d].meta, "draft", False) for d in focus):
        return f"现有的{_docs_label(focus, ev.docs)}是征求意见稿,没有正式印发的版本"
    return ""


_FIGURE_ASKED_RE = re.compile(r"多少|几[个项件次名人家条]?|率|比例|数量")


def year_outside(ev: Evidence, g: GateSettings) -> str:
    """A year no focus document covers: outside a plan's span and not in its text; for a figure
    asked of a year, an annual report covers only its own year (its text names other years in
    passing, its figures are its year's). A year a follow-up only carried over from the previous
    turn does not refuse: the answer says which year its document is of."""
    focus_docs = _focus_docs(ev)
    figure = bool(_FIGURE_ASKED_RE.search(ev.analysis.normalized))
    inherited = ev.inherited_years  # carried over by a follow-up: the answer says its own year instead
    for year in ev.analysis.years:
        if year in inherited:
            continue
        ok = [d for d in focus_docs if d in ev.docs and ev.year_covered(year, d)]
        if figure and ok and all(ev.docs[d].meta.doc_type == "annual_report" for d in ok):
            ok = [d for d in ok if ev.report_of_year(year, d)]
        if not ok:
            return f"现有{_docs_label(focus_docs, ev.docs)}不涉及{year}年"
    return ""


def unknown_body(ev: Evidence, g: GateSettings) -> str:
    """A named office (区教育局) no document mentions, under either of its names."""
    for body in named_bodies(ev.analysis.normalized):
        names = [body, *other_names(body)]  # 市场监管局 is 市场监督管理局
        if not any(ev.ctx.mentions(n) or any(n in h.chunk.text for h in ev.hits) for n in names):
            return f"现有文件没有提到“{body}”"
    return ""


# (the kind of contact asked for, how a question asks it, what the text must show)
_CONTACT_KINDS = [
    ("电子邮箱", r"邮箱|电子邮件|邮件地址|email|e-mail", r"@"),
    ("传真", r"传真", r"传真"),
]


def metadata_absent(ev: Evidence, g: GateSettings) -> str:
    name = ev.field_name
    if not name:
        return ""
    focus_docs = _focus_docs(ev)
    kind = next((k for k, asked, _ in _CONTACT_KINDS if re.search(asked, ev.analysis.normalized)), None)
    if name == "contact" and kind is not None:  # an e-mail address is not answered by a phone number
        given = next(given for k, _, given in _CONTACT_KINDS if k == kind)
        values = [getattr(ev.docs[d].meta, name, UNKNOWN) for d in focus_docs if d in ev.docs]
        if not any(re.search(given, v) for v in values) and not any(re.search(given, h.chunk.text)
                                                                   for h in ev.hits[:TOP]):
            return f"{_docs_label(focus_docs, ev.docs)}中没有{kind}"
    if any(getattr(ev.docs[d].meta, name, UNKNOWN) != UNKNOWN for d in focus_docs if d in ev.docs):
        return ACCEPT  # the document's metadata answers it
    if not any(re.search(META_PATTERNS[name], h.chunk.text) for h in ev.hits[:TOP]):
        return f"{_docs_label(focus_docs, ev.docs)}中没有{META_LABELS[name]}"
    return ""


COUNTED_COVERAGE = 0.5  # share of what the question counts (多少件“行政复议案件”) the number's clause must name


def unit_absent(ev: Evidence, g: GateSettings) -> str:
    """A count asked in a unit (多少件, 几个…): some sentence must give a number in that unit
    (or one it may be given in) and say what is counted: most of the question's content in the
    sentence, and what the question counts named before the number, in its clause ("办理行政
    处罚案件37宗" does not count 行政复议案件)."""
    unit = ASKED_UNIT_RE.search(ev.analysis.normalized)
    if not unit:
        return ""
    pattern = re.compile(unit_pattern(unit.group(1)))
    words = [w for w in ev.words if ev.ctx.mentions(w)]  # colloquial words (案子) no text has do not count
    # a span of time (多少天内, 几个工作日) counts days, not a thing named after it
    span = unit.group(1) in SPAN_UNITS or unit.group(1) in ("学时", "分")  # hours of training, marks: no thing
    q = ev.analysis.normalized
    thing = "" if span else counted_thing(q[unit.end():], q[:unit.start()])
    counted = [w for w in words if thing and w in thing]

    def counts(text: str) -> bool:
        if words and coverage(words, ev.weights, text) < COUNT_COVERAGE:
            return False
        return any(not counted or coverage(counted, ev.weights, clause) >= COUNTED_COVERAGE
                   for _, clause in count_clauses(text, pattern))

    if not any(counts(s.text) for h in ev.hits[:TOP] for s in sentences(h)):
        if counted:
            return f"现有文件中没有“{thing}”的数量(以“{unit.group(1)}”计)"
        return f"现有文件中没有以“{unit.group(1)}”计的这个数字"
    return ""


def share_absent(ev: Evidence, g: GateSettings) -> str:
    if ASKED_SHARE_RE.search(ev.analysis.normalized) and not any(PCT_RE.search(h.chunk.text) for h in ev.hits[:TOP]):
        return "现有文件中没有这个比例"
    return ""


def money_absent(ev: Evidence, g: GateSettings) -> str:
    q = ev.analysis.normalized
    if ASKED_MONEY_RE.search(q) and not any(MONEY_RE.search(h.chunk.text) for h in ev.hits[:TOP]):
        return "现有文件中没有这项费用的金额"
    if ASKED_FUNDING_RE.search(q) and not any(FUNDING_RE.search(h.chunk.text) for h in ev.hits[:TOP]):
        return "现有文件中没有这项经费的来源或数额"
    return ""


CITIZEN_RE = re.compile(r"我|个人|群众|企业|市民|材料|手续|流程|需要|去哪")


def procedure_absent(ev: Evidence, g: GateSettings) -> str:
    """A how-to question (怎么注册): its action must be in the documents, and in one sentence
    with what it is done to (社会组织)."""
    action = how_to_action(ev.analysis.normalized, ev.ctx.words)
    if not action:
        return ""
    objects = [w for w in ev.words if w != action and action not in w]
    q = ev.analysis.normalized
    # how it is done, not how to do it: "…是怎么…的", or a place's plan asked about ("宁夏打算怎么
    # 解决…") rather than a citizen's errand (社会组织怎么注册, 我在…怎么申请)
    descriptive = (re.search(r"是(?:怎么|怎样|如何).*的|怎么样|怎样的", q)
                   or (ev.analysis.places and not CITIZEN_RE.search(q)))
    if not ev.ctx.mentions(action) or (objects and not descriptive and not any(
            action in s.text and any(o in s.text for o in objects) for h in ev.hits[:TOP] for s in sentences(h))):
        return f"现有文件没有讲怎么“{action}”"
    return ""


# share of the question's content a responsibility note or a sentence naming a body must hold
# (chosen on the dev split: answerable who-questions reach 0.43 or more; the unanswerable ones 0.15
# or less; the margin is left to the answerable side)
BODY_COVERAGE = 0.2


ASKED_MATERIALS_RE = re.compile(r"(?:准备|提交|提供|带|携带|需要|要)(?:哪些|什么|啥|些什么)(?:材料|证件|资料|手续|证明)"
                                r"|(?:材料|证件|手续)(?:有哪些|是什么|有什么)")
MATERIALS_RE = re.compile(r"材料|证件|资料|手续|证明|身份证|申请表")


def materials_absent(ev: Evidence, g: GateSettings) -> str:
    """An errand's papers (办…需要准备哪些材料): a sentence about the errand must list them."""
    if not ASKED_MATERIALS_RE.search(ev.analysis.normalized):
        return ""
    words = [w for w in ev.words if not MATERIALS_RE.search(w)]
    if any(MATERIALS_RE.search(s.text) and (not words or coverage(words, ev.weights, s.text) >= BODY_COVERAGE)
           for h in ev.hits[:TOP] for s in sentences(h)):
        return ""
    return "现有文件没有列出办理这件事需要的材料"


# a body named in a sentence: an office by its suffix, a government or committee of a place, or
# a responsibility verb (牵头, 负责…); "法治政府" and "马上办" name nobody
BODY_RE = re.compile(r"[\u4e00-\u9fff](?:局|委员会|办公室|厅|司法所|法院|检察院|中心|管委会|分局|部门|单位|机关)"
                     r"|(?:省|市|州|盟|县|区|旗|镇|乡|街道)(?:委|政府|人民政府|党委|党工委|办事处)"
                     r"|牵头|负责|主管|承办|受理|配合")


def body_absent(ev: Evidence, g: GateSettings) -> str:
    """A who-question (由哪个部门牵头, 归谁管): a measure's responsibility note or a sentence about
    the topic must name a body; a sentence naming nobody does not answer who."""
    if ev.analysis.qtype != "department":
        return ""
    words, top = ev.words, ev.hits[:TOP]
    if not words:
        return ""
    for h in top:
        if h.chunk.duties and max(coverage(words, ev.weights, f"{d.measure}{d.note}")
                                  for d in h.chunk.duties) >= BODY_COVERAGE:
            return ""
        if any(BODY_RE.search(s.text) and coverage(words, ev.weights, s.text) >= BODY_COVERAGE
               for s in sentences(h)):
            return ""
    return "现有文件没有写明这项工作由哪个部门负责"


def low_coverage(ev: Evidence, g: GateSettings) -> str:
    words, top = ev.words, ev.hits[:TOP]
    if not words:
        return ""
    best = max(coverage(words, ev.weights, h.chunk.text + " " + h.chunk.section) for h in top)
    if best < g.coverage_threshold:
        missing = [w for w in words if not any(w in h.chunk.text for h in top)]
        topic = "、".join(missing[:3]) or "、".join(words[:3])
        return f"现有文件中没有关于“{topic}”的内容"
    return ""


def rate_absent(ev: Evidence, g: GateSettings) -> str:
    rate = ASKED_RATE_RE.search(ev.analysis.normalized)
    # the rate as named, or with a few words inside it (列席率 = 列席会议率)
    named = re.compile(re.escape(rate.group(1)[:-1]) + r"[\u4e00-\u9fff]{0,4}率") if rate else None
    if rate and not any(named.search(h.chunk.text) for h in ev.hits[:TOP]):
        return f"现有文件中没有“{rate.group(1)}”这个指标"
    return ""


ASKED_RANK_RE = re.compile(r"排名|名次|第几名|排第几|排在第|名列")
RANK_RE = re.compile(r"排名|名次|第[一二三四五六七八九十\d]+名|位列|名列|排在第|排第[一二三四五六七八九十\d]|居[全首]")


def rank_absent(ev: Evidence, g: GateSettings) -> str:
    """A ranking asked (考核排名第一的是哪个部门): some evidence must state a rank."""
    if ASKED_RANK_RE.search(ev.analysis.normalized) and not any(RANK_RE.search(h.chunk.text) for h in ev.hits[:TOP]):
        return "现有文件中没有这项排名"
    return ""


def low_similarity(ev: Evidence, g: GateSettings) -> str:
    """The small embedding model scores short questions about rare terms low (营业执照归哪个部门管?
    0.87), so when all of the question's content words (two or more) stand in one retrieved
    section, that exact evidence overrides this rule."""
    dense, top = ev.result.dense, ev.hits[:TOP]
    if not dense or g.dense_threshold <= 0:
        return ""
    if len(ev.words) >= 2 and any(has_all(ev.words, h.chunk.text) for h in top):
        return ""
    best = max((dense.get(h.chunk.id, 0.0) for h in top), default=0.0)
    return "检索到的段落与问题的相关度太低" if best < g.dense_threshold else ""


Rule = Callable[[Evidence, GateSettings], str]
RULES: tuple[Rule, ...] = (no_hits, unknown_place, filter_contradicts, only_inside, mentioned_place_absent,
                           document_absent, quoted_absent, final_absent, year_outside, unknown_body, metadata_absent,
                           unit_absent, share_absent, money_absent, procedure_absent, materials_absent,
                           body_absent, low_coverage, rate_absent, rank_absent, low_similarity)


class RefusalGate:
    """Runs the rules in order; `check` returns the first refusal, or None to answer."""

    def __init__(self, refusal_threshold: float = 0.15, refusal_dense: float = 0.875,
                 rules: Sequence[Rule] = RULES):
        self.settings = GateSettings(refusal_threshold, refusal_dense)
        self.rules = tuple(rules)

    def check(self, ev: Evidence) -> Refusal | None:
        for rule in self.rules:
            verdict = rule(ev, self.settings)
            if verdict == ACCEPT:
                return None
            if verdict:
                return Refusal(rule.__name__, verdict)
        return None


def refusal_text(reason: str, docs) -> str:
    """The refusal sentence: why, and what the collection covers (the first eight documents)."""
    docs = list(docs)
    covered = ";".join(
        f"{d.meta.region}《{d.meta.title}》" if d.meta.region != UNKNOWN else f"《{d.meta.title}》" for d in docs[:8]
    )
    more = REFUSAL_MORE.format(n=len(docs)) if len(docs) > 8 else ""
    return REFUSAL.format(reason=reason, covered=covered, more=more)
