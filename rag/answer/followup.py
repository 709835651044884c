"""Follow-up questions: a question that leans on the previous turn becomes a standalone one.

Without a language model, `condense_without_llm` carries the previous question along when a
follow-up names no place of its own and reads as a continuation. With one, `condense_question`
asks the model to rewrite it (prompt `condense_question`), falling back to the rule when the
model fails. `Followup` is the stage the pipeline calls.
"""

from __future__ import annotations

import re
from pathlib import Path

from rag.answer.citecheck import strip_citations
from rag.answer.prompts import render
from rag.errors import LLMError
from rag.models.generate import Generator, Messages, check_messages
from rag.text import places as rg

_FOLLOWUP_RE = re.compile(r"^(?:那|那么|那这|这|这个|这项|该|它|其|此|还有|另外|再问|然后|而)")


def condense_without_llm(question: str, history: list[tuple[str, str]]) -> str:
    """A follow-up like "那牵头部门是谁?" becomes "<previous question> 那牵头部门是谁?" when it
    names no place of its own and reads as a continuation (or is very short)."""
    prev = next((c for role, c in reversed(history) if role == "user" and c.strip()), "")
    if not prev:
        return question
    names_place = bool(rg.find_regions(question))
    short = len(re.sub(r"[^\u3400-\u9fffA-Za-z0-9]", "", question)) <= 8
    if names_place or not (_FOLLOWUP_RE.match(question.strip()) or short):
        return question
    return f"{prev.strip()} {question.strip()}"


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

    def __call__(self, question: str, history: list[tuple[str, str]]) -> str:
        if not history:
            return question
        if self.gen is None:
            return condense_without_llm(question, history)
        try:
            return condense_question(self.gen, history, question)
        except LLMError:
            return condense_without_llm(question, history)
