"""Exact figures, as a llama-index node postprocessor over the fused candidates.

A question that quotes a figure ("网上可办率达到99%的是哪个城市…", "培训了140名…的是哪个街道")
is about the passage that states that figure. When documents of many places state the same
indicator with other values (98%, 95%…), their passages are as close to the question for the
embedding model and BM25 as the one it quotes, and in a growing corpus they crowd it out.
`FigureMatch` lifts the candidates whose text holds a quoted figure, exactly (not 199% for 99%),
by `boost` — less than a region tier (`RegionTiers`, +1 or +2), so a place the question names
still comes first. Only rare figures count (`is_rare`: a figure most passages state, such as
100%, says little about which one is meant).
"""

from __future__ import annotations

import re
from collections.abc import Callable

from llama_index.core.postprocessor.types import BaseNodePostprocessor
from llama_index.core.schema import NodeWithScore, QueryBundle

FIGURE_RE = re.compile(r"(?<![\d.])\d+(?:\.\d+)?\s*(?:%|‰|万元|亿元|万|亿|元|个|项|件|次|人次|人|名|家|户|场|条|天|小时|学时|所|批|期)")


def figures(question: str) -> list[str]:
    """The figures a question quotes, with their unit ("99%", "140名"); never a bare year."""
    return list(dict.fromkeys(re.sub(r"\s+", "", m.group(0)) for m in FIGURE_RE.finditer(question)))


def states(text: str, figure: str) -> bool:
    """`text` states `figure` exactly: no digit or decimal point right before it."""
    return re.search(rf"(?<![\d.]){re.escape(figure)}", re.sub(r"(?<=\d)\s+(?=\D)", "", text)) is not None


class FigureMatch(BaseNodePostprocessor):
    boost: float = 0.3
    is_rare: Callable[[str], bool] | None = None  # figure → few passages state it

    @classmethod
    def class_name(cls) -> str:
        return "FigureMatch"

    def _postprocess_nodes(self, nodes: list[NodeWithScore], query_bundle: QueryBundle | None = None) -> list[NodeWithScore]:
        a = getattr(query_bundle, "analysis", None)
        wanted = figures(a.normalized) if a is not None else []
        if self.is_rare is not None:
            wanted = [f for f in wanted if self.is_rare(f)]
        if not wanted:
            return nodes
        for n in nodes:
            if any(states(n.node.get_content(), f) for f in wanted):
                n.score += self.boost
        return sorted(nodes, key=lambda n: (-n.score, n.node.metadata["vid"]))
