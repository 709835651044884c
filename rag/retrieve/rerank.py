"""Optional cross-encoder reranking of the head of the ranking, as a node postprocessor."""

from __future__ import annotations

import time
from typing import Any

from llama_index.core.bridge.pydantic import Field
from llama_index.core.postprocessor.types import BaseNodePostprocessor
from llama_index.core.schema import NodeWithScore, QueryBundle


class CrossEncoderRerank(BaseNodePostprocessor):
    """Re-scores the first `top_n` nodes with `reranker.rerank(question, texts)` (our
    `rag.models.rerank.CrossEncoderReranker`); the rest keep their order below them."""

    reranker: Any = Field(exclude=True)
    top_n: int = 20

    @classmethod
    def class_name(cls) -> str:
        return "CrossEncoderRerank"

    def _postprocess_nodes(self, nodes: list[NodeWithScore], query_bundle: QueryBundle | None = None) -> list[NodeWithScore]:
        if not nodes or query_bundle is None:
            return nodes
        t = time.perf_counter()
        head = nodes[: self.top_n]
        scores = self.reranker.rerank(query_bundle.query_str, [n.node.get_content() for n in head])
        order = sorted(range(len(head)), key=lambda i: -scores[i])
        for i in order:
            head[i].score = float(scores[i])
        timings = getattr(query_bundle, "timings", None)
        if timings is not None:
            timings["rerank_ms"] = (time.perf_counter() - t) * 1000
        return [head[i] for i in order] + nodes[len(head):]
