"""Follow-up questions: a question that leans on the previous turn becomes a standalone one.

Without a language model, `condense_without_llm` rewrites by slots: the previous question's
place, year or aspect is replaced by what the follow-up says. With one, `condense_question`
asks the model to rewrite it (prompt `condense_question`), falling back to the rule when the
model fails. `Followup` is the stage the pipeline calls.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Callable

from rag.answer.citecheck import strip_citations
from rag.answer.evidence import QUESTION_WORDS
from rag.answer.prompts import render
from rag.errors import LLMError
from rag.models.generate import Generator, Messages, check_messages
from rag.text import places as rg

_MARKER_RE = re.compile(r"^(?:那么|那|还有|另外|再问一下|再问|然后|而|其中|这项任务|这项工作|这项|这个|该项|它)\s*")
_REFERS_RE = re.compile(r"^(?:那么?)?(?:这项任务|这项工作|这项|这个|这些|该项|该|此项|它|其)")  # points back at the topic
_TAIL_RE = re.compile(r"(?:的)?(?:呢|怎么样|如何|情况如何|情况呢)?[?？。!！\s]*$")
_YEAR_RE = re.compile(r"(?:19|20)\d{2}年(?:度)?")
# a question's ask: what it wants to know about its topic ("由哪个单位牵头", "哪年前", "多少件")
_ASK_RE = re.compile(
    r"(?:是|由|归|在|要|要求|应当|将)?(?:哪个|哪些|哪家|什么)(?:部门|单位|机构)?(?:牵头|负责|配合)?(?:的)?"
    r"|(?:在|要在|要求)?(?:哪年|哪一年|什么时候|何时|几月)(?:年?底)?(?:前|之前|以前)?(?:完成|实现|建成)?"
    r"|(?:一共|共|总共)?(?:有)?多少(?:件|次|名|人|个|项|条|家)?|几(?:个|次|名|项|件|条)"
    r"|(?:有|包括)哪些|是什么|叫什么|是谁|由谁|谁"
)
# words that only say which aspect of a topic is asked, not what the topic is
_ASPECT_WORDS = set("牵头 配合 负责 责任 单位 部门 配合单位 牵头单位 责任单位 时候 期限 完成 要求 多少 哪些 哪个 联系 "
                    "找谁 印发 实施 落款 日期 文号 联系人 电话 几 其中 任务 工作 这项 这个 那 呢".split())


SHORT = 9  # Chinese characters up to which an unmarked question with a topic is still taken as a follow-up
def _places(text: str) -> list[tuple[str, int, int]]:
    """(name as written, start, end) of the places a question names: gazetteer places and
    township-level names (`rag.text.places.township_names`)."""
    found = [(text[s:e], s, e) for _, s, e in rg.find_regions(text)] + rg.township_names(text)
    return sorted(found, key=lambda x: x[1])


def _swap(prev: str, places: list[str], years: list[str]) -> str:
    """`prev` with its places (or years) replaced by the follow-up's; prefixed when it has none."""
    out = prev
    if places:
        spans = _places(out)
        if spans:
            _, s, _ = spans[0]
            e = spans[-1][2]
            out = out[:s] + "、".join(places) + out[e:]
        else:
            out = "、".join(places) + out
    if years:
        ys = list(_YEAR_RE.finditer(out))
        if ys:
            out = out[: ys[0].start()] + "、".join(years) + out[ys[-1].end():]
        else:
            spans = _places(out)
            at = spans[-1][2] if spans else 0
            out = out[:at] + "、".join(years) + out[at:]
    return out


_ASPECT_END_RE = re.compile(r"(?:的)?(?:配合单位|牵头单位|责任单位|配合部门|牵头部门|联系人|联系方式|期限|时间)$")


def _topic(prev: str) -> str:
    """What the previous question asked about: the question without its ask, its end and a
    trailing aspect noun ("…的配合单位")."""
    m = None
    for m in _ASK_RE.finditer(prev):
        pass
    head = prev[: m.start()] + prev[m.end():] if m and m.start() > 0 else prev  # the ask cut out
    return _ASPECT_END_RE.sub("", _TAIL_RE.sub("", head))


def rewrite(question: str, prev: str, words=None) -> str:
    """The follow-up `question` as a standalone question, given the previous standalone one."""
    q = question.strip()
    core = _TAIL_RE.sub("", _MARKER_RE.sub("", q))
    places = [name for name, _, _ in _places(core)]
    years = _YEAR_RE.findall(core)
    rest = core
    for name in places + years:
        rest = rest.replace(name, "")
    rest = re.sub(r"[的,,、\s]", "", rest)
    content = [w for w in (words(rest) if words else [rest]) if w and w not in _ASPECT_WORDS and w not in QUESTION_WORDS]
    asks = bool(_ASK_RE.search(core))
    marked = bool(_MARKER_RE.match(q)) or q.rstrip("?？ ").endswith("呢")
    if not rest:  # "那宁夏呢?", "2020年呢?", "那嘉定区2021年呢?": the same question about another place or year
        return _swap(prev, places, years) if places or years else prev
    if not content:  # "牵头的是谁?", "那配合单位有哪些?": another aspect of the same topic
        return _swap(_topic(prev), places, years) + core + ("?" if not core.endswith("?") else "")
    if not marked and (places or len(re.sub(r"[^\u4e00-\u9fff]", "", q)) > SHORT):
        return question  # names its own place or topic: a question of its own
    if not asks:  # "那市县两级政府执法队伍整合呢?": the same ask about another topic
        frame = [m.group(0) for m in _ASK_RE.finditer(prev)]
        place = "、".join(places) or "、".join(n for n, _, _ in _places(prev))
        return place + core + "".join(frame[-1:]) + "?"
    if len(re.sub(r"[^\u4e00-\u9fff]", "", rest)) > 2 * SHORT and len(content) >= 3 and not _REFERS_RE.match(q):
        # a whole question of its own after 那/还有, asked in the same place ("那乡镇(街道)履行职责
        # 事项清单要什么时候前编制完成?"): the previous place and year, not the previous topic
        context = ("" if places else "".join(n for n, _, _ in _places(prev))) + (
            "" if years else "".join(_YEAR_RE.findall(prev)))
        return context + core + ("?" if not core.endswith("?") else "")
    return _swap(_topic(prev), places, years) + core + ("?" if not core.endswith("?") else "")


# at the start of the question or after 那/a comma: "应该报告…" and "因此…" are no demonstratives
_DEMONSTRATIVE_RE = re.compile(r"(?:^|(?<=[那,,\s]))(?:这个|这份|这部|该|那个|那份|此)(方案|规划|纲要|要点|意见|办法|报告|文件|清单|制度)")
_TITLE_RE = re.compile(r"《([^《》]{4,60})》")


def _named_referent(question: str, answer: str) -> str:
    """"这个方案打算什么时候印发实施?" after an answer that names 《四平市法治政府建设实施方案(2021—
    2025年)》: the demonstrative replaced by the document the answer named (its first title
    ending in that kind); the question as is when the answer names none."""
    m = _DEMONSTRATIVE_RE.search(question)
    if not m:
        return question
    kind = m.group(1)
    # the title without its period "(2021—2025年)": the years are the document's name, not asked
    names = [re.sub(r"[((][^()()]*[))]$", "", t) for t in _TITLE_RE.findall(strip_citations(answer))]
    title = next((t for t in names if t.endswith(kind)), "")
    return question[:m.start()] + f"《{title}》" + question[m.end():] if title else question


def condense_without_llm(question: str, history: list[tuple[str, str]],
                         words: Callable[[str], list[str]] | None = None) -> str:
    """The follow-up as a standalone question, by slots and without a model: the same question
    about another place or year ("那宁夏呢?", "2020年呢?"), another aspect of the same topic
    ("牵头的是谁?", "配合单位有哪些?"), or the same ask about another topic ("那…呢?"). Earlier
    follow-ups are rewritten first, so that a chain of them keeps its topic. A question that
    stands on its own is returned as is. `words` is the index's tokenizer (content words)."""
    prev = [c.strip() for role, c in history if role == "user" and c.strip()]
    if not prev:
        return question
    answers = [c for role, c in history if role == "assistant"]
    if answers and history[-1][0] == "assistant":
        named = _named_referent(question, answers[-1])
        if named != question:
            return named  # names its document now: a question of its own
    standalone = prev[0]
    for turn in prev[1:]:
        standalone = rewrite(turn, standalone, words)
    return rewrite(question, standalone, words)


def format_history(history: Messages) -> str:
    names = {"user": "用户", "assistant": "助手"}
    lines = []
    for role, content in check_messages(history):
        if role == "system":
            continue
        text = " ".join(strip_citations(content).split())
        lines.append(f"{names[role]}:{text}")
    return "\n".join(lines)


_LABEL = re.compile(r"^(?:独立问题|改写后的问题|改写|问题)\s*[:：]\s*")
_QUOTES = "\"'“”‘’「」『』"


def condense_question(
    gen: Generator,
    history: Messages,
    question: str,
    prompts_dir: str | Path | None = None,
) -> str:
    """Rewrite a follow-up into a standalone question using `history` ((role, content) pairs).
    Without history the question is returned as is; an empty rewrite falls back to it too."""
    question = question.strip()
    if not any(role != "system" for role, _ in check_messages(history)):
        return question
    prompt = render(
        "condense_question", prompts_dir=prompts_dir, history=format_history(history), question=question
    )
    reply = gen.complete([("user", prompt)])
    for line in reply.splitlines():
        line = _LABEL.sub("", line.strip()).strip(_QUOTES + " \t")
        if line:
            return line
    return question




class Followup:
    """Rewrites a follow-up into a standalone question (with `generator`, by the model)."""

    def __init__(self, generator: Generator | None = None):
        self.gen = generator

    def __call__(self, question: str, history: list[tuple[str, str]],
                 words: Callable[[str], list[str]] | None = None) -> str:
        if not history:
            return question
        if self.gen is None:
            return condense_without_llm(question, history, words)
        try:
            return condense_question(self.gen, history, question)
        except LLMError:
            return condense_without_llm(question, history, words)
