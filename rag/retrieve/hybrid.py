"""Hybrid retrieval: lexical (BM25 over jieba words + bigrams) ∥ dense (FAISS) → fusion →
region awareness → optional cross-encoder reranking → section context.

- Fusion is reciprocal rank fusion by default (`fusion = "rrf"`): robust to the two score
  scales; "weighted" fuses min-max normalised scores instead (kept for measurement).
- Region awareness: documents about a place named in the question rank first (exact region
  before places inside it); explicit `region`/`doc` filters restrict both retrievers by chunk
  id (FAISS id selectors; BM25 masks), so filtering is exact, not a post-hoc cut.
- `HybridRetriever` is a llama-index `BaseRetriever`: `retrieve("…")` gives NodeWithScore.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
from llama_index.core.retrievers import BaseRetriever
from llama_index.core.schema import NodeWithScore, QueryBundle, TextNode

from rag.config import RetrievalConfig
from rag.index.reader import Index
from rag.models.embed import embed_query
from rag.records import Chunk, Hit
from rag.retrieve.query import EXACT, Analysis, analyse, resolve_filters

MODES = ("dense", "lexical", "hybrid")
SHORT_CHUNK = 80  # a hit shorter than this brings its neighbours as context


@dataclass
class SearchResult:
    hits: list[Hit]
    analysis: Analysis
    filtered_docs: set[str] | None = None
    timings: dict[str, float] = field(default_factory=dict)
    dense: dict[int, float] = field(default_factory=dict)  # chunk id → cosine similarity to the question


def rrf(rankings: list[list[int]], weights: list[float], k: int) -> dict[int, float]:
    scores: dict[int, float] = {}
    for ranking, w in zip(rankings, weights):
        for rank, cid in enumerate(ranking):
            scores[cid] = scores.get(cid, 0.0) + w / (k + rank + 1)
    return scores


def weighted(scored: list[list[tuple[int, float]]], weights: list[float]) -> dict[int, float]:
    scores: dict[int, float] = {}
    for results, w in zip(scored, weights):
        if not results:
            continue
        vals = np.array([s for _, s in results], dtype=np.float64)
        lo, hi = vals.min(), vals.max()
        span = hi - lo if hi > lo else 1.0
        for cid, s in results:
            scores[cid] = scores.get(cid, 0.0) + w * ((s - lo) / span if hi > lo else 1.0)
    return scores


def interleave_places(ranked: list[int], chunks: dict[int, Chunk], place_docs: dict[str, set[str]]) -> list[int]:
    """A question naming several places (宁夏和陕西…) gets each place's best hit in the first
    ranks, in the order of those hits, before the rest by score."""
    firsts = []
    for docs in place_docs.values():
        best = next((cid for cid in ranked if chunks[cid].doc_id in docs), None)
        if best is not None and best not in firsts:
            firsts.append(best)
    firsts.sort(key=ranked.index)
    return firsts + [cid for cid in ranked if cid not in firsts]


class HybridRetriever(BaseRetriever):
    def __init__(self, index: Index, embed_model, cfg: RetrievalConfig | None = None, reranker=None,
                 max_question_chars: int = 2000, **overrides: Any):
        super().__init__()
        self.index = index
        self.embed_model = embed_model
        self.cfg = cfg or RetrievalConfig()
        for key, value in overrides.items():  # per-run variants (eval: mode, region_aware…)
            if not hasattr(self.cfg, key):
                raise ValueError(f"unknown retrieval setting {key!r}")
        if overrides:
            from dataclasses import replace

            self.cfg = replace(self.cfg, **overrides)
        if self.cfg.mode not in MODES:
            raise ValueError(f"unknown retrieval mode {self.cfg.mode!r} (known: {', '.join(MODES)})")
        self.reranker = reranker
        self.max_question_chars = max_question_chars

    # -- main entry point
    def search(self, question: str, k: int | None = None, region: str | None = None, doc: str | None = None) -> SearchResult:
        import time

        k = k or self.cfg.top_k
        docs = self.index.documents()
        analysis = analyse(question, docs, self.max_question_chars)
        allowed_docs = resolve_filters(docs, region, doc)
        allowed_ids = None
        if allowed_docs is not None:
            allowed_ids = np.asarray(self.index.store.chunk_ids(sorted(allowed_docs)), dtype=np.int64)
        timings: dict[str, float] = {}
        n = max(self.cfg.candidates, k)
        rankings, scored, weights = [], [], []
        dense_scores: dict[int, float] = {}
        if self.cfg.mode in ("dense", "hybrid"):
            t = time.perf_counter()
            qvec = embed_query(self.embed_model, analysis.normalized)
            ids, scores = self.index.vectors.search(qvec, n, allowed_ids)
            timings["dense_ms"] = (time.perf_counter() - t) * 1000
            rankings.append([int(i) for i in ids])
            scored.append([(int(i), float(s)) for i, s in zip(ids, scores)])
            dense_scores = dict(scored[-1])
            weights.append(self.cfg.dense_weight)
        if self.cfg.mode in ("lexical", "hybrid"):
            t = time.perf_counter()
            res = self.index.lexical.search(analysis.normalized, n, allowed_ids)
            timings["lexical_ms"] = (time.perf_counter() - t) * 1000
            rankings.append([cid for cid, _ in res])
            scored.append(res)
            weights.append(self.cfg.lexical_weight)
        if self.cfg.fusion == "weighted":
            fused = weighted(scored, weights)
        else:
            fused = rrf(rankings, weights, self.cfg.rrf_k)
        if not fused:
            return SearchResult([], analysis, allowed_docs, timings, dense_scores)
        top = max(fused.values())
        scores = {cid: s / top for cid, s in fused.items()}  # best = 1.0
        chunks = {c.id: c for c in self.index.chunks(list(scores))}
        if self.cfg.region_aware and analysis.doc_match and allowed_docs is None:
            for cid, c in chunks.items():
                strength = analysis.doc_match.get(c.doc_id, 0)
                if strength:
                    # tiers: the named place's own documents, then places inside it, then the rest
                    scores[cid] += self.cfg.region_boost * (2.0 if strength == EXACT else 1.0)
        ranked = sorted(chunks, key=lambda cid: (-scores[cid], cid))
        if self.cfg.region_aware and allowed_docs is None and len(analysis.place_docs) >= 2:
            ranked = interleave_places(ranked, chunks, analysis.place_docs)
        if self.reranker is not None:
            t = time.perf_counter()
            head = ranked[: self.cfg.rerank_candidates]
            rr = self.reranker.rerank(analysis.normalized, [chunks[c].text for c in head])
            order = sorted(range(len(head)), key=lambda i: -rr[i])
            for i in order:
                scores[head[i]] = float(rr[i])
            ranked = [head[i] for i in order] + ranked[len(head):]
            timings["rerank_ms"] = (time.perf_counter() - t) * 1000
        titles = self.index.titles()
        metas = self.index.metas()
        hits = []
        for rank, cid in enumerate(ranked[:k], 1):
            c = chunks[cid]
            hits.append(Hit(chunk=c, score=scores[cid], rank=rank, title=titles.get(c.doc_id, c.doc_id),
                            meta=metas.get(c.doc_id)))
        return SearchResult(hits, analysis, allowed_docs, timings, dense_scores)

    def context(self, hit: Hit) -> list[Chunk]:
        """The neighbouring chunks of a short hit under the same parent heading, in order."""
        c = hit.chunk
        if len(c.text) >= SHORT_CHUNK or not self.cfg.context:
            return []
        siblings = self.index.store.doc_chunks(c.doc_id)
        pos = next((i for i, s in enumerate(siblings) if s.id == c.id), None)
        if pos is None:
            return []
        parent = c.section_path[:-1]
        out = []
        for j in (pos - 1, pos + 1):
            if 0 <= j < len(siblings) and siblings[j].section_path[: len(parent)] == parent:
                out.append(siblings[j])
        return out

    # -- llama-index interface
    def _retrieve(self, query_bundle: QueryBundle) -> list[NodeWithScore]:
        result = self.search(query_bundle.query_str)
        return [
            NodeWithScore(
                node=TextNode(id_=h.chunk.chunk_id, text=h.chunk.text, start_char_idx=h.chunk.start,
                              end_char_idx=h.chunk.end,
                              metadata={"vid": h.chunk.id, "doc_id": h.chunk.doc_id, "title": h.title,
                                        "section": h.chunk.section}),
                score=h.score,
            )
            for h in result.hits
        ]
