"""The generative answerer: a language model writes the answer from numbered sources.

The sources are the best focused hits, fenced as <source n=…> blocks (their text escaped so it
cannot open or close a fence; the system prompt says sources are data, not instructions);
templates are in `prompts/`. The refusal gate has run before; the citation check runs after
(`rag.answer.citecheck`): unsupported sentences are dropped and markers renumbered.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Iterator, Sequence

from rag.answer.citecheck import strip_citations
from rag.answer.context import Draft, Source
from rag.answer.evidence import Evidence
from rag.answer.prompts import render
from rag.messages import LLM_REFUSAL
from rag.models.generate import Generator, Messages, check_messages
from rag.records import Citation, Hit

MAX_HISTORY_MESSAGES = 6  # earlier turns given to the answer prompt (user + assistant messages)


_FENCE_TAG = re.compile(r"<(\s*/?\s*source)", re.IGNORECASE)
_ATTR_ESCAPES = str.maketrans({'"': "＂", "<": "＜", ">": "＞", "\n": " ", "\r": " "})


def escape_source_text(text: str) -> str:
    """Make `text` unable to open or close a <source> fence (its '<' becomes '＜')."""
    return _FENCE_TAG.sub(r"＜\1", text)


def format_sources(sources: Sequence[Source]) -> str:
    """The numbered sources, each fenced as <source n=".." title=".." section="..">…</source>."""
    blocks = []
    for s in sources:
        title = str(s.title).translate(_ATTR_ESCAPES)
        section = str(s.section).translate(_ATTR_ESCAPES)
        body = escape_source_text(str(s.text).strip())
        blocks.append(f'<source n="{int(s.n)}" title="{title}" section="{section}">\n{body}\n</source>')
    return "\n\n".join(blocks)


def build_answer_messages(
    question: str,
    sources: Sequence[Source],
    history: Messages | None = None,
    prompts_dir: str | Path | None = None,
) -> list[tuple[str, str]]:
    """System prompt, the last turns of `history` ((role, content) pairs; markers stripped from
    earlier answers because their numbers refer to other sources), then the sources and question."""
    messages = [("system", render("answer_system", prompts_dir=prompts_dir))]
    for role, content in check_messages(history or [])[-MAX_HISTORY_MESSAGES:]:
        if role == "system":
            continue
        messages.append((role, strip_citations(content) if role == "assistant" else content))
    user = render(
        "answer_user", prompts_dir=prompts_dir, sources=format_sources(sources), question=question.strip()
    )
    messages.append(("user", user))
    return messages


def generate_answer(
    gen: Generator,
    question: str,
    sources: Sequence[Source],
    history: Messages | None = None,
    prompts_dir: str | Path | None = None,
) -> Iterator[str]:
    """Stream the answer to `question` from `sources`. Without sources the model is not asked:
    the refusal sentence is yielded."""
    if not sources:
        yield LLM_REFUSAL
        return
    yield from gen.stream_chat(build_answer_messages(question, sources, history, prompts_dir))


def llm_hits(ev: Evidence, max_sources: int = 5) -> list[Hit]:
    """The sections an LLM answers from: the focused hits, best first."""
    return ev.hits[:max_sources]


def as_sources(hits: list[Hit]) -> list[Source]:
    """`hits` numbered from 1 as the LLM prompt's sources."""
    return [Source(n=i, title=h.title, section=h.chunk.section, text=h.chunk.text) for i, h in enumerate(hits, 1)]


class LLMAnswerer:
    """Generation over the numbered focused hits; yields the text as it comes, then a Draft
    whose sources are the hits given (the citation check decides what stays)."""

    def __init__(self, generator: Generator, max_sources: int = 5):
        self.gen = generator
        self.max_sources = max_sources
        self.name = getattr(generator, "name", "llm")

    def stream(self, ev: Evidence, history: list[tuple[str, str]]) -> Iterator[str | Draft]:
        hits = llm_hits(ev, self.max_sources)
        parts = []
        for delta in generate_answer(self.gen, ev.standalone, as_sources(hits), history=history):
            parts.append(delta)
            yield delta
        sources = [Citation(n=i, doc_id=h.chunk.doc_id, title=h.title, section=h.chunk.section, text=h.chunk.text,
                            start=h.chunk.start, end=h.chunk.end, page=h.chunk.page) for i, h in enumerate(hits, 1)]
        yield Draft(ev.question, "".join(parts).strip(), sources, quoted=False, notice=ev.notice, hits=ev.result.hits)
