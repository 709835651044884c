"""Fusing the lexical and the dense ranking into one.

- `rrf` (the default, `retrieval.fusion = "rrf"`): weighted reciprocal rank fusion, robust to
  the two retrievers' different score scales; measured on the evaluation set, k = 10 with the
  dense side at weight 0.35 beat the textbook k = 60 with equal weights (the small bundled
  model is weaker than BM25 on this corpus).
- `weighted`: min-max normalised scores, weighted (kept for measurement).
"""

from __future__ import annotations

import numpy as np

FUSIONS = ("rrf", "weighted")


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
