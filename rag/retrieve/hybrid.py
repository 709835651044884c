"""Hybrid retrieval: lexical (BM25 over our tokens) ∥ dense (FAISS) → fusion → quoted figures →
region awareness → optional cross-encoder reranking.

`HybridRetriever` is a llama-index `BaseRetriever` and its `_retrieve` is the real path: it
gives the fused candidates as `NodeWithScore` (text, offsets and chunk metadata on the node).
The post-retrieval steps are node postprocessors (`FigureMatch`, `RegionTiers`, `PlaceInterleave`,
`CrossEncoderRerank`), applied in order by `search`, exactly as a llama-index query engine
applies its postprocessors. `search` is what the pipeline calls: it analyses the question
(places, type, filters) into a `ScopedQuery`, retrieves, postprocesses and returns the top k
as `Hit`s with the analysis. Both searches go through the index's search backend (`rag.index.backend`:
local FAISS + BM25 arrays, or Milvus), the one interface; explicit `region`/`doc` filters are
passed to it as allowed documents (chunk-id selectors locally, a `doc_id in [...]` expression
in Milvus), so filtering is exact, not a post-hoc cut.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from llama_index.core.retrievers import BaseRetriever
from llama_index.core.schema import NodeWithScore, QueryBundle, TextNode

from rag.config import RetrievalConfig
from rag.errors import ConfigError
from rag.index.reader import Index
from rag.models.embed import embed_query
from rag.records import Chunk, Hit
from rag.retrieve.figures import FigureMatch
from rag.retrieve.fusion import FUSIONS, rrf, weighted
from rag.retrieve.places import PlaceInterleave, RegionTiers
from rag.retrieve.query import Analysis, analyse, resolve_filters
from rag.retrieve.rerank import CrossEncoderRerank

MODES = ("dense", "lexical", "hybrid")
QUERY_CACHE_SIZE = 2048  # question embeddings kept per retriever
_executor = None
_executor_lock = threading.Lock()


def _pool():
    """Threads for the lexical search of remote engines (created on first use)."""
    global _executor
    if _executor is None:
        with _executor_lock:
            if _executor is None:
                from concurrent.futures import ThreadPoolExecutor

                _executor = ThreadPoolExecutor(max_workers=8, thread_name_prefix="rag-lexical")
    return _executor


@dataclass
class ScopedQuery(QueryBundle):
    """A llama-index query bundle that carries what the question analysis found and the
    filter, so that the retriever and its postprocessors need not analyse it again."""

    analysis: Analysis | None = None
    allowed_docs: set[str] | None = None  # doc ids the filters allow (None: no filter)
    candidates: int = 50  # per retriever, before fusion
    timings: dict[str, float] = field(default_factory=dict)
    dense: dict[int, float] = field(default_factory=dict)  # chunk id → cosine similarity (filled by _retrieve)
    chunks: dict[int, Chunk] = field(default_factory=dict)  # chunk id → chunk of every candidate (filled by _retrieve)


@dataclass
class SearchResult:
    hits: list[Hit]
    analysis: Analysis
    filtered_docs: set[str] | None = None
    timings: dict[str, float] = field(default_factory=dict)
    dense: dict[int, float] = field(default_factory=dict)  # chunk id → cosine similarity to the question


RARE_FIGURE_SHARE = 0.02  # a quoted figure in at most this share of the chunks lifts them (FigureMatch)


def chunk_node(c: Chunk, title: str, score: float) -> NodeWithScore:
    """A chunk as a llama-index node: its text, its offsets in the document, and its ids."""
    return NodeWithScore(
        node=TextNode(id_=c.chunk_id, text=c.text, start_char_idx=c.start, end_char_idx=c.end,
                      metadata={"vid": c.id, "doc_id": c.doc_id, "title": title, "section": c.section}),
        score=score,
    )


class HybridRetriever(BaseRetriever):
    def __init__(self, index: Index, embed_model, cfg: RetrievalConfig | None = None, reranker=None,
                 max_question_chars: int = 2000, **overrides: Any):
        super().__init__()
        self.index = index
        self.embed_model = embed_model
        self.cfg = cfg or RetrievalConfig()
        for key in overrides:  # per-run variants (eval: mode, region_aware…)
            if not hasattr(self.cfg, key):
                raise ConfigError(f"unknown retrieval setting {key!r}")
        if overrides:
            from dataclasses import replace

            self.cfg = replace(self.cfg, **overrides)
        if self.cfg.mode not in MODES:
            raise ConfigError(f"unknown retrieval mode {self.cfg.mode!r} (known: {', '.join(MODES)})")
        if self.cfg.fusion not in FUSIONS:
            raise ConfigError(f"unknown fusion {self.cfg.fusion!r} (known: {', '.join(FUSIONS)})")
        self.reranker = reranker
        self.max_question_chars = max_question_chars
        self._qcache: dict[str, np.ndarray] = {}
        self._qlock = threading.Lock()

    # -- the pipeline's entry point
    def scoped(self, question: str, k: int | None = None, region: str | None = None,
               doc: str | None = None, doc_ids: set[str] | None = None) -> ScopedQuery:
        """The question analysed (normalised, places, type) with its filters resolved;
        `doc_ids` (a set of doc ids, e.g. from a metadata filter) narrows them further."""
        k = k or self.cfg.top_k
        docs = self.index.documents()
        analysis = analyse(question, docs, self.max_question_chars, mentions=self.mentions)
        allowed_docs = resolve_filters(docs, region, doc)
        if doc_ids is not None:
            allowed_docs = set(doc_ids) if allowed_docs is None else allowed_docs & set(doc_ids)
        return ScopedQuery(query_str=analysis.normalized, analysis=analysis, allowed_docs=allowed_docs,
                           candidates=max(self.cfg.candidates, k))

    def mentions(self, name: str) -> bool:
        """Whether some chunk's text names `name`: as a word of its own, or (a name jieba
        splits) with every character pair of it."""
        tokens = self.index.tokenizer.tokens(name, bigrams=True)
        df = self.index.backend.doc_freq(tokens)
        if df.get(name):
            return True
        pairs = [t for t in tokens if t.startswith("#")]
        return bool(pairs) and all(df.get(t) for t in pairs)

    def rare_figure(self, figure: str) -> bool:
        """Few passages state `figure` (its tokens in at most 2% of the chunks): 99% picks one
        passage out, 100% does not."""
        tokens = self.index.tokenizer.tokens(figure)
        if not tokens:
            return False
        df = self.index.backend.doc_freq(tokens)
        return 0 < min(df.get(t, 0) for t in tokens) <= max(1, RARE_FIGURE_SHARE * self.index.backend.count())

    def postprocessors(self, filtered: bool) -> list:
        """The post-retrieval steps this configuration uses (region steps only without filters)."""
        steps: list = [FigureMatch(is_rare=self.rare_figure)]
        if self.cfg.region_aware and not filtered:
            steps += [RegionTiers(boost=self.cfg.region_boost), PlaceInterleave()]
        if self.reranker is not None:
            steps.append(CrossEncoderRerank(reranker=self.reranker, top_n=self.cfg.rerank_candidates))
        return steps

    def search(self, question: str, k: int | None = None, region: str | None = None, doc: str | None = None,
               doc_ids: set[str] | None = None) -> SearchResult:
        k = k or self.cfg.top_k
        query = self.scoped(question, k, region, doc, doc_ids)
        if query.allowed_docs is not None and not query.allowed_docs:  # the filters leave no document
            return SearchResult([], query.analysis, query.allowed_docs, query.timings)
        nodes = self.retrieve(query)
        for step in self.postprocessors(filtered=query.allowed_docs is not None):
            nodes = step.postprocess_nodes(nodes, query)
        metas = self.index.metas()
        hits = []
        for rank, n in enumerate(nodes[:k], 1):
            c = query.chunks[n.node.metadata["vid"]]
            hits.append(Hit(chunk=c, score=n.score, rank=rank, title=n.node.metadata["title"], meta=metas.get(c.doc_id)))
        return SearchResult(hits, query.analysis, query.allowed_docs, query.timings, query.dense)

    def _query_vector(self, text: str) -> np.ndarray:
        """The question's embedding; repeated questions come from a small cache (the model
        costs ~27 ms a question on 2 cores, a lookup nothing)."""
        vec = self._qcache.get(text)
        if vec is None:
            vec = np.asarray(embed_query(self.embed_model, text), dtype=np.float32)
            with self._qlock:
                if len(self._qcache) >= QUERY_CACHE_SIZE:
                    self._qcache.pop(next(iter(self._qcache)))  # oldest first (insertion order)
                self._qcache[text] = vec
        return vec

    # -- llama-index interface: the fused candidates
    def _retrieve(self, query_bundle: QueryBundle) -> list[NodeWithScore]:
        q = query_bundle if isinstance(query_bundle, ScopedQuery) else self.scoped(query_bundle.query_str)
        n = q.candidates
        backend = self.index.backend  # the one search interface (rag.index.backend): local or milvus
        rankings, scored, weights = [], [], []
        def dense():
            t = time.perf_counter()
            res = backend.search_dense(self._query_vector(q.query_str), n, q.allowed_docs)
            q.timings["dense_ms"] = (time.perf_counter() - t) * 1000
            return res

        def lexical():
            t = time.perf_counter()
            tokens = self.index.tokenizer.tokens(q.query_str, bigrams=backend.bigrams)
            res = backend.search_lexical(tokens, n, q.allowed_docs)
            q.timings["lexical_ms"] = (time.perf_counter() - t) * 1000
            return res

        both = self.cfg.mode == "hybrid"
        lex_future = None
        if both and getattr(backend, "remote", False):
            # a search engine behind a network call: its lexical search runs while the question
            # is embedded (the model releases the GIL), instead of after it
            lex_future = _pool().submit(lexical)
        if self.cfg.mode in ("dense", "hybrid"):
            res = dense()
            rankings.append([cid for cid, _ in res])
            scored.append(res)
            q.dense = dict(res)
            weights.append(self.cfg.dense_weight)
        if self.cfg.mode in ("lexical", "hybrid"):
            res = lex_future.result() if lex_future is not None else lexical()
            rankings.append([cid for cid, _ in res])
            scored.append(res)
            weights.append(self.cfg.lexical_weight)
        fused = weighted(scored, weights) if self.cfg.fusion == "weighted" else rrf(rankings, weights, self.cfg.rrf_k)
        if not fused:
            return []
        top = max(fused.values())
        q.chunks = {c.id: c for c in self.index.chunks(list(fused))}
        titles = self.index.titles()
        ranked = sorted(q.chunks, key=lambda cid: (-fused[cid], cid))
        return [chunk_node(q.chunks[cid], titles.get(q.chunks[cid].doc_id, q.chunks[cid].doc_id), fused[cid] / top)
                for cid in ranked]
