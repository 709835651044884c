"""The pipeline, top to bottom: it only wires the stages together.

    question ─ query.analyse ─ retrieve.HybridRetriever ─ answer.<Answerer> ─ Answer
    files ─ build.IndexBuilder (load → clean → meta → outline → chunk → embed → store)

CLI, app and evaluation all go through `Pipeline`; none holds logic of its own. Models are
created here, once, from the configuration (or passed in), never at import time.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Iterator

from rag.config import Config
from rag.index.lexical import tokenize
from rag.index.reader import Index
from rag.index.store import IndexError_, read_manifest
from rag.records import Answer, Duty
from rag.retrieve.hybrid import HybridRetriever, SearchResult
from rag.retrieve.query import resolve_filters


@dataclass
class DutyRow:
    """One measure with who leads it, who supports it and by when (the 找部门 table)."""

    doc_id: str
    title: str
    region: str
    section: str
    measure: str  # the measure's own title (its first sentence)
    lead: list[str]
    support: list[str]
    deadlines: list[str]
    targets: list[str]
    note: str
    start: int  # offsets of the note in the document text
    end: int
    measure_start: int
    chunk_id: str = ""
    score: float = 0.0

    def to_dict(self) -> dict:
        return dict(self.__dict__)


@dataclass
class Pipeline:
    cfg: Config
    index: Index
    embed_model: object = None
    answerer: object = None
    reranker: object = None
    _retriever: HybridRetriever | None = field(default=None, repr=False)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)
    _tried: tuple = field(default=("", None), repr=False)  # (manifest version last opened, its error)

    @classmethod
    def from_config(cls, cfg: Config, index_dir: str | Path | None = None, embed_model=None) -> "Pipeline":
        """Open the index (checked against the configuration) and create the models it needs."""
        index = Index.open(index_dir or cfg.resolve(cfg.index.dir), cfg)
        return cls(cfg=cfg, index=index, embed_model=embed_model)

    # -- stages, created on first use
    @property
    def embedding(self):
        if self.embed_model is None:
            from rag.models.embed import make_embedding

            self.embed_model = make_embedding(self.cfg.embedding)
        return self.embed_model

    @property
    def retriever(self) -> HybridRetriever:
        if self._retriever is None:
            if self.reranker is None and self.cfg.retrieval.rerank_model:
                from rag.models.rerank import make_reranker

                self.reranker = make_reranker(self.cfg.retrieval.rerank_model)
            self._retriever = HybridRetriever(self.index, self.embedding, self.cfg.retrieval, self.reranker,
                                              max_question_chars=self.cfg.question.max_chars)
        return self._retriever

    def _answerer(self):
        if self.answerer is None:
            from rag.answer.extractive import make_answerer

            self.answerer = make_answerer(self.cfg)
        return self.answerer

    # -- questions
    def search(self, question: str, k: int | None = None, region: str | None = None, doc: str | None = None) -> SearchResult:
        return self.retriever.search(question, k, region=region, doc=doc)

    def ask(self, question: str, region: str | None = None, doc: str | None = None,
            history: list[tuple[str, str]] | None = None) -> Answer:
        answer = None
        for event in self.ask_stream(question, region, doc, history):
            if isinstance(event, Answer):
                answer = event
        return answer

    def snapshot(self) -> "Pipeline":
        """This pipeline fixed to the index version it serves now: what one question uses from
        start to end, so that a rebuild swapped in meanwhile (`reload_if_changed` in another
        thread) cannot mix two versions' chunks, offsets and documents in one answer."""
        answerer = self._answerer()
        with self._lock:
            index = self.index
            retriever = self.retriever  # created for `index` if a reload reset it
        return replace(self, index=index, answerer=answerer, _retriever=retriever)

    def ask_stream(self, question: str, region: str | None = None, doc: str | None = None,
                   history: list[tuple[str, str]] | None = None) -> Iterator[str | Answer]:
        """Text deltas as they are produced, then the final, checked `Answer`."""
        pipe = self.snapshot()
        answerer = pipe.answerer
        standalone = answerer.condense(question, history or [], pipe) if history else question
        result = pipe.search(standalone, pipe.cfg.retrieval.top_k, region=region, doc=doc)
        yield from answerer.stream(question, standalone, result, pipe, history or [])

    # -- who does what
    def departments(self, query: str | None = None, k: int = 20, region: str | None = None,
                    doc: str | None = None) -> list[DutyRow]:
        """Measures with their lead and supporting bodies; with `query`, the ones matching it
        best (hybrid retrieval limited to chunks that carry responsibility notes)."""
        return self.snapshot()._departments(query, k, region, doc)

    def _departments(self, query: str | None, k: int, region: str | None, doc: str | None) -> list[DutyRow]:
        docs = {d.doc_id: d for d in self.index.documents()}
        allowed_docs = resolve_filters(list(docs.values()), region, doc)
        rows: list[DutyRow] = []
        if query:
            result = self.retriever.search(query, k=max(k, 10), region=region, doc=doc)
            hits = [(h.chunk, h.score) for h in result.hits if h.chunk.duties]
            extra = self.retriever.search(query, k=self.cfg.retrieval.candidates, region=region, doc=doc)
            seen = {c.id for c, _ in hits}
            hits += [(h.chunk, h.score) for h in extra.hits if h.chunk.duties and h.chunk.id not in seen]
            # keep the measures that share a word with the query (the best one always stays)
            words = [w for w in tokenize(result.analysis.normalized, bigrams=False) if len(w) >= 2]
            words = [w for w in words if not any(w != o and w in o for o in words)]  # 行政复议, not 行政
            chunks = [hc for i, hc in enumerate(hits) if i == 0 or any(w in hc[0].text for w in words)]
        else:
            chunks = [(c, 0.0) for c in self.index.store.iter_chunks() if c.duties
                      and (allowed_docs is None or c.doc_id in allowed_docs)]
        for c, score in chunks:
            meta = docs[c.doc_id].meta if c.doc_id in docs else None
            for d in c.duties:
                rows.append(self._row(c, d, meta, score))
        return rows[:k] if query else rows

    @staticmethod
    def _row(chunk, duty: Duty, meta, score: float) -> DutyRow:
        from rag.ingest.duties import measure_title

        return DutyRow(
            doc_id=chunk.doc_id, title=meta.title if meta else chunk.doc_id, region=meta.region if meta else "",
            section=chunk.section, measure=measure_title(duty.measure), lead=duty.lead, support=duty.support,
            deadlines=duty.deadlines, targets=duty.targets, note=duty.note, start=duty.start, end=duty.end,
            measure_start=duty.measure_start, chunk_id=chunk.chunk_id, score=round(float(score), 4),
        )

    # -- index versions
    def reload_if_changed(self) -> bool:
        """Switch to a newer index version if one was built meanwhile (running questions keep
        the version they started with: see `snapshot`). A new version that cannot be opened
        raises its IndexError_ each time, without being opened again, until another build."""
        manifest = read_manifest(self.index.dir)
        if manifest is None or manifest["version"] == self.index.version:
            return False
        with self._lock:
            version, error = self._tried
            if manifest["version"] == self.index.version:  # another thread was first
                return False
            if manifest["version"] == version:  # tried already (damaged, or served by its fallback)
                if error is not None:
                    raise type(error)(str(error))  # a fresh one: re-raising would grow its traceback
                return False
            try:
                fresh = Index.open(self.index.dir, self.cfg)
            except IndexError_ as e:
                self._tried = (manifest["version"], e)
                raise
            self._tried = (manifest["version"], None)
            self.index = fresh
            self._retriever = None
        return True
