"""Region awareness, as llama-index node postprocessors over the fused candidates.

- `RegionTiers`: documents about a place named in the question rank first, in tiers: the
  place's own documents (+2 × boost), then documents of places inside it (+1 × boost), then
  the rest; with boost ≥ 1 a tier is strictly above the next (fused scores are 0..1).
- `PlaceInterleave`: a question naming several places (宁夏和陕西…) gets each place's best hit
  in the first ranks, in the order of those hits, before the rest by score.
Both read the question's `Analysis` from the `ScopedQuery` they are given.
"""

from __future__ import annotations

from llama_index.core.postprocessor.types import BaseNodePostprocessor
from llama_index.core.schema import NodeWithScore, QueryBundle

from rag.index.catalog import EXACT


def _order(nodes: list[NodeWithScore]) -> list[NodeWithScore]:
    """Best score first; ties by chunk id (what the fused ranking uses)."""
    return sorted(nodes, key=lambda n: (-n.score, n.node.metadata["vid"]))


class RegionTiers(BaseNodePostprocessor):
    boost: float = 1.0

    @classmethod
    def class_name(cls) -> str:
        return "RegionTiers"

    def _postprocess_nodes(self, nodes: list[NodeWithScore], query_bundle: QueryBundle | None = None) -> list[NodeWithScore]:
        a = getattr(query_bundle, "analysis", None)
        if a is None or not a.doc_match:
            return nodes
        for n in nodes:
            strength = a.doc_match.get(n.node.metadata["doc_id"], 0)
            if strength:
                n.score += self.boost * (2.0 if strength == EXACT else 1.0)
        return _order(nodes)


class PlaceInterleave(BaseNodePostprocessor):
    @classmethod
    def class_name(cls) -> str:
        return "PlaceInterleave"

    def _postprocess_nodes(self, nodes: list[NodeWithScore], query_bundle: QueryBundle | None = None) -> list[NodeWithScore]:
        a = getattr(query_bundle, "analysis", None)
        if a is None or len(a.place_docs) < 2:
            return nodes
        firsts: list[int] = []
        for docs in a.place_docs.values():
            best = next((i for i, n in enumerate(nodes) if n.node.metadata["doc_id"] in docs), None)
            if best is not None and best not in firsts:
                firsts.append(best)
        firsts.sort()
        return [nodes[i] for i in firsts] + [n for i, n in enumerate(nodes) if i not in set(firsts)]
