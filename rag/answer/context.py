"""What the answer stage reads and what it produces.

The answer stage never sees the pipeline, the index or the retriever: the pipeline gives it an
`AnswerContext` fixed to one index version (document metadata, document frequencies, a
document's text and chunks, the index's tokenizer, and a search limited to one document),
and the answerers return a `Draft` that the citation check turns into the final `Answer`.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Callable, Mapping

from rag.records import Chunk, Citation, Document, Hit

if TYPE_CHECKING:  # pragma: no cover
    from rag.index.store import DocRecord
    from rag.retrieve.hybrid import SearchResult


@dataclass
class AnswerContext:
    documents: Mapping[str, "DocRecord"]  # doc_id → record (metadata, counts)
    document: Callable[[str], Document | None]  # the whole clean text of a document
    doc_chunks: Callable[[str], list[Chunk]]  # a document's chunks, in text order
    doc_freq: Callable[[list[str]], dict[str, int]]  # how many chunks contain each token
    n_chunks: int  # chunks in the index (for IDF)
    words: Callable[[str], list[str]]  # content words of a text, with the index's own tokenizer
    search_doc: Callable[[str, int, str], "SearchResult"]  # (question, k, doc_id): hits in that document only
    max_question_chars: int = 2000
    version: str = ""  # the index version all of the above read
    # place name → {doc_id: EXACT | INSIDE}: the documents of a place and of the places inside it
    docs_of_place: Callable[[str], Mapping[str, int]] = lambda name: {}

    def idf(self, tokens: list[str]) -> dict[str, float]:
        """IDF weight of each token over the index's chunks (BM25's idf)."""
        df = self.doc_freq(tokens)
        n = max(self.n_chunks, 1)
        return {t: math.log((n - df.get(t, 0) + 0.5) / (df.get(t, 0) + 0.5) + 1.0) for t in tokens}

    def mentions(self, word: str) -> bool:
        """Whether any chunk of the index contains `word` as a token."""
        return bool(self.doc_freq([word]).get(word))


@dataclass
class Draft:
    """An answerer's result before the citation check.

    `text` carries [n] markers that refer to `sources` (numbered from 1). With `quoted`, every
    source is a verbatim sentence of a document and the text only quotes it (the extractive
    answerer), so the check verifies the quotes; otherwise (generated text) every sentence must
    be supported by the sources it cites. A non-empty `refusal` is the reason the answerer
    could not answer."""

    question: str
    text: str = ""
    sources: list[Citation] = field(default_factory=list)
    quoted: bool = True
    refusal: str = ""
    notice: str = ""
    hits: list[Hit] = field(default_factory=list)


@dataclass
class Source:
    """A numbered section given to a language model as one <source> of its prompt."""

    """A numbered source as the LLM sees it."""

    n: int
    title: str
    section: str
    text: str
