"""`python -m rag eval`: the systems under evaluation, built from one index and configuration.

- ours            hybrid retrieval (lexical + dense, RRF) with region awareness + the answerer
- hybrid-noregion the same retrieval without region awareness
- dense / dense-noregion, lexical / bm25 (lexical without region awareness)
- naive           llama-index SentenceSplitter(512) + the same embedding + top-k dense
All share the index's documents and the configured embedding model, so differences come from
the pipeline alone. Only `ours` answers (answer metrics for the others are absent).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from llama_index.core.bridge.pydantic import PrivateAttr
from llama_index.core.embeddings import BaseEmbedding

VARIANTS = {  # name → retrieval overrides
    "hybrid-noregion": {"mode": "hybrid", "region_aware": False},
    "dense": {"mode": "dense", "region_aware": True},
    "dense-noregion": {"mode": "dense", "region_aware": False},
    "lexical": {"mode": "lexical", "region_aware": True},
    "bm25": {"mode": "lexical", "region_aware": False},
}
ALL_SYSTEMS = ["ours", "naive", "bm25", "dense", "dense-noregion", "lexical", "hybrid-noregion"]


class CachedEmbedding(BaseEmbedding):
    """Wraps an embedding model; passage vectors go through the index's embedding cache so the
    naive reference is embedded once, not on every evaluation run."""

    _inner: Any = PrivateAttr()
    _cache: Any = PrivateAttr()
    _model_id: str = PrivateAttr()

    def __init__(self, inner: BaseEmbedding, cache, model_id: str):
        super().__init__(model_name=f"cached:{model_id}", embed_batch_size=inner.embed_batch_size)
        self._inner, self._cache, self._model_id = inner, cache, model_id

    def _get_query_embedding(self, query: str) -> list[float]:
        return self._inner.get_query_embedding(query)

    def _get_text_embedding(self, text: str) -> list[float]:
        return self._get_text_embeddings([text])[0]

    def _get_text_embeddings(self, texts: list[str]) -> list[list[float]]:
        import numpy as np

        from rag.index.embcache import text_hash

        hashes = [text_hash("naive\n" + t) for t in texts]
        found = self._cache.get_many(self._model_id, hashes)
        missing = [i for i, h in enumerate(hashes) if h not in found]
        if missing:
            vecs = np.asarray(self._inner.get_text_embedding_batch([texts[i] for i in missing]), dtype=np.float32)
            self._cache.put_many(self._model_id, [hashes[i] for i in missing], vecs)
            found.update({hashes[i]: v for i, v in zip(missing, vecs)})
        return [found[h].tolist() for h in hashes]

    async def _aget_query_embedding(self, query: str) -> list[float]:
        return self._get_query_embedding(query)

    async def _aget_text_embedding(self, text: str) -> list[float]:
        return self._get_text_embedding(text)


@dataclass
class OursSystem:
    pipeline: Any
    name: str = "ours"
    follows_up: bool = True  # a dialogue's last question is searched as the pipeline rewrites it

    def search(self, question: str, k: int, history: list[tuple[str, str]] | None = None):
        if history:
            pipe = self.pipeline.snapshot()
            question = pipe.followup(question, history, pipe.index.tokenizer.words)
        return self.pipeline.search(question, k).hits

    def ask(self, question: str, history: list[tuple[str, str]] | None = None):
        return self.pipeline.ask(question, history=history)


@dataclass
class RetrievalVariant:
    name: str
    retriever: Any

    def search(self, question: str, k: int):
        return self.retriever.search(question, k).hits


def build_systems(pipeline, names: list[str], answers: bool = True, progress=None) -> list[Any]:
    from rag.index.embcache import EmbeddingCache
    from rag.models.embed import embedding_id
    from rag.retrieve.hybrid import HybridRetriever

    systems: list[Any] = []
    for name in names:
        if name == "ours":
            ours = OursSystem(pipeline)
            if not answers:
                ours = RetrievalVariant("ours", pipeline.retriever)
            systems.append(ours)
        elif name in VARIANTS:
            r = HybridRetriever(pipeline.index, pipeline.embedding, pipeline.cfg.retrieval, **VARIANTS[name])
            systems.append(RetrievalVariant(name, r))
        elif name == "naive":
            from rag.evaluation.naive import NaivePipeline
            from rag.index.layout import IndexLayout

            if progress:
                progress("building the naive reference (embeddings are cached after the first run)")
            docs = [pipeline.index.document(d.doc_id) for d in pipeline.index.documents()]
            cache = EmbeddingCache(IndexLayout(pipeline.index.dir).embeddings_cache)
            embed = CachedEmbedding(pipeline.embedding, cache, embedding_id(pipeline.cfg.embedding))
            systems.append(NaivePipeline(docs, embed))
        else:
            known = ", ".join(["ours", "naive", *VARIANTS])
            raise ValueError(f"unknown pipeline {name!r} (known: {known})")
    return systems
