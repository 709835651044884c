"""The pipeline, top to bottom: it only wires the stages together.

    question ─ followup ─ retrieve.HybridRetriever ─ answer.Evidence ─ refusal gate
             ─ extractive | generative answerer ─ citation check ─ Answer
    files ─ index.IndexBuilder (load → clean → meta → outline → chunk → embed → store)

CLI, app and evaluation all go through `Pipeline`; none holds logic of its own. Models are
created here, once, from the configuration (or passed in), never at import time. Every
question runs on one `snapshot` of the pipeline, fixed to one index version.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Iterator

from rag.answer.citecheck import CitationCheck
from rag.answer.context import AnswerContext, Draft
from rag.answer.evidence import Evidence
from rag.answer.followup import Followup
from rag.answer.refusal import RefusalGate, refusal_text
from rag.config import Config
from rag.departments import DutyRow, find_duties
from rag.errors import ConfigError, IndexProblem
from rag.index.layout import read_manifest
from rag.index.reader import Index
from rag.records import Answer, Citation
from rag.retrieve.hybrid import HybridRetriever, SearchResult

ANSWERERS = ("extractive", "transformers", "openai")


def make_answer_stages(cfg: Config):
    """(answerer, follow-up rewriter) for `answer.backend`; an LLM backend is built here."""
    backend = cfg.answer.backend
    if backend == "extractive":
        from rag.answer.extractive import ExtractiveAnswerer

        return ExtractiveAnswerer(cfg.answer.max_chars), Followup()
    if backend in ("transformers", "openai"):
        from rag.answer.generative import LLMAnswerer
        from rag.models.generate import make_llm

        gen = make_llm(backend, cfg.llm)
        return LLMAnswerer(gen), Followup(gen)
    raise ConfigError(f"unknown answer backend {backend!r} (known: {', '.join(ANSWERERS)})")


@dataclass
class Pipeline:
    cfg: Config
    index: Index
    embed_model: object = None
    answerer: object = None  # ExtractiveAnswerer | LLMAnswerer (anything with stream(evidence, history))
    followup: Followup | None = None
    reranker: object = None
    gate: RefusalGate | None = None
    citecheck: CitationCheck | None = None
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

    def _stages(self) -> None:
        if self.answerer is None or self.followup is None:
            answerer, followup = make_answer_stages(self.cfg)
            self.answerer = self.answerer or answerer
            self.followup = self.followup or followup
        if self.gate is None:
            self.gate = RefusalGate(self.cfg.answer.refusal_threshold, self.cfg.answer.refusal_dense)
        if self.citecheck is None:
            self.citecheck = CitationCheck(self.cfg.answer.support_threshold)

    def snapshot(self) -> "Pipeline":
        """This pipeline fixed to the index version it serves now: what one question uses from
        start to end, so that a rebuild swapped in meanwhile (`reload_if_changed` in another
        thread) cannot mix two versions' chunks, offsets and documents in one answer."""
        self._stages()
        with self._lock:
            index = self.index
            retriever = self.retriever  # created for `index` if a reload reset it
        return replace(self, index=index, _retriever=retriever)

    def context(self) -> AnswerContext:
        """What the answer stage may read of this pipeline's index version."""
        index, retriever = self.index, self.retriever
        catalog = index.documents()  # a DocList: its place map is built once per index version
        by_place = catalog.by_place()
        return AnswerContext(
            documents={d.doc_id: d for d in catalog},
            docs_of_place=lambda name: by_place.get(name, {}),
            document=index.document,
            doc_chunks=index.store.doc_chunks,
            doc_freq=index.backend.doc_freq,
            n_chunks=index.backend.count(),
            words=index.tokenizer.words,
            search_doc=lambda question, k, doc_id: retriever.search(question, k, doc=doc_id),
            max_question_chars=self.cfg.question.max_chars,
            version=index.version,
        )

    # -- questions
    def search(self, question: str, k: int | None = None, region: str | None = None, doc: str | None = None,
               doc_ids: set[str] | None = None) -> SearchResult:
        """The top k hits; `doc_ids` restricts retrieval to those documents (exactly, by chunk id)."""
        return self.retriever.search(question, k, region=region, doc=doc, doc_ids=doc_ids)

    def ask(self, question: str, region: str | None = None, doc: str | None = None,
            history: list[tuple[str, str]] | None = None) -> Answer:
        answer = None
        for event in self.ask_stream(question, region, doc, history):
            if isinstance(event, Answer):
                answer = event
        return answer

    def ask_stream(self, question: str, region: str | None = None, doc: str | None = None,
                   history: list[tuple[str, str]] | None = None) -> Iterator[str | Answer]:
        """Text deltas as they are produced, then the final, checked `Answer`."""
        pipe = self.snapshot()
        history = history or []
        evidence = pipe.evidence(question, region, doc, history)
        ctx, result = evidence.ctx, evidence.result
        refusal = pipe.gate.check(evidence)
        if refusal is not None:
            text = refusal_text(refusal.reason, ctx.documents.values())
            yield text
            yield Answer(question, text, [], True, evidence.notice, result.hits, refusal_rule=refusal.rule)
            return
        draft = None
        for event in pipe.answerer.stream(evidence, history):
            if isinstance(event, Draft):
                draft = event
            else:
                yield event
        yield pipe.citecheck.finish(draft, ctx)

    def evidence(self, question: str, region: str | None = None, doc: str | None = None,
                 history: list[tuple[str, str]] | None = None) -> Evidence:
        """Follow-up rewriting, retrieval and the evidence gathered from it (call on a snapshot)."""
        self._stages()
        standalone = self.followup(question, history or [], self.index.tokenizer.words)
        result = self.search(standalone, self.cfg.retrieval.top_k, region=region, doc=doc)
        return Evidence.gather(question, standalone, result, self.context())

    # -- who does what
    def departments(self, query: str | None = None, k: int = 20, region: str | None = None,
                    doc: str | None = None) -> list[DutyRow]:
        """Measures with their lead and supporting bodies; with `query`, the ones matching it
        best (see `rag.departments`)."""
        pipe = self.snapshot()
        return find_duties(pipe.index, pipe.retriever, query, k, region, doc, pipe.cfg.retrieval.candidates)

    # -- index versions
    def reload_if_changed(self) -> bool:
        """Switch to a newer index version if one was built meanwhile (running questions keep
        the version they started with: see `snapshot`). A new version that cannot be opened
        raises its IndexProblem each time, without being opened again, until another build."""
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
            except IndexProblem as e:
                self._tried = (manifest["version"], e)
                raise
            self._tried = (manifest["version"], None)
            self.index = fresh
            self._retriever = None
        return True


def as_query_engine(pipeline: Pipeline, region: str | None = None, doc: str | None = None):
    """The pipeline as a llama-index query engine: `query(str)` gives a `Response` whose text is
    the cited answer and whose source nodes are the citations (text and offsets)."""
    from llama_index.core.base.response.schema import Response
    from llama_index.core.query_engine import CustomQueryEngine
    from llama_index.core.schema import NodeWithScore, TextNode

    def node(c: Citation) -> NodeWithScore:
        return NodeWithScore(node=TextNode(id_=f"{c.doc_id}@{c.start}", text=c.text, start_char_idx=c.start,
                                           end_char_idx=c.end, metadata={"n": c.n, "doc_id": c.doc_id,
                                                                         "title": c.title, "section": c.section}),
                             score=1.0)

    class PipelineQueryEngine(CustomQueryEngine):
        def custom_query(self, query_str: str) -> Response:
            a = pipeline.ask(query_str, region, doc)
            return Response(response=a.text, source_nodes=[node(c) for c in a.citations],
                            metadata={"refused": a.refused, "notice": a.notice})

    return PipelineQueryEngine()
